"""The central loader's paho client (:class:`BufferedClient`) against a real
mosquitto, with mosquitto_pub (not written here) publishing: every message
arrives exactly as a plain paho client receives it - sizes from empty to
several read blocks, QoS 0 and 1, retained, with and without MQTT 5
properties, over TCP and TLS; manual acknowledgement and a broker restart
behave as paho's own."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from simulators.mosquitto import Mosquitto, TlsFiles
from station_agent.uplink.buffered import READ_SIZE, BufferedClient
from tests.helpers.waiting import wait_until
from tests.uplink.conftest import make_tls

if shutil.which("mosquitto_pub") is None:   # pragma: no cover - CI installs it
    pytest.skip("mosquitto_pub is not installed (apt-get install mosquitto-clients)",
                allow_module_level=True)

Got = tuple[str, bytes, int, bool]


class Subscriber:
    """An MQTT 5 subscriber (paho's client or ours) keeping what it receives."""

    def __init__(self, cls: type[mqtt.Client], broker: Mosquitto, client_id: str,
                 tls: TlsFiles | None = None, manual_ack: bool = False,
                 raw: bool = False) -> None:
        self.got: list[Got] = []
        self.mids: list[tuple[int, int]] = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.client = cls(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                          protocol=mqtt.MQTTv5, manual_ack=manual_ack)
        if tls is not None:
            self.client.tls_set(ca_certs=str(tls.cafile))
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        if raw:   # what the lean path decodes as bytes, the rest to on_message
            self.client.on_received = self._on_received
        self.broker = broker

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        client.subscribe("t/#", qos=1)
        self.connected.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.lock:
            self.got.append((msg.topic, msg.payload, msg.qos, bool(msg.retain)))
            self.mids.append((msg.mid, msg.qos))

    def _on_received(self, mid: int, qos: int, topic: bytes, payload: bytes,
                     retain: bool) -> None:
        assert type(topic) is bytes and type(payload) is bytes
        with self.lock:
            self.got.append((topic.decode(), payload, qos, retain))
            self.mids.append((mid, qos))

    def start(self) -> Subscriber:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect("localhost" if self.broker.tls else "127.0.0.1", self.broker.port,
                            clean_start=False, properties=props)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"
        time.sleep(0.2)   # the SUBACK
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscribers() -> Iterator[Callable[..., Subscriber]]:
    made: list[Subscriber] = []

    def make(*args: Any, **kwargs: Any) -> Subscriber:
        s = Subscriber(*args, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def pub(broker: Mosquitto, topic: str, *args: str) -> None:
    cmd = ["mosquitto_pub", "-V", "mqttv5", "-h", "localhost" if broker.tls else "127.0.0.1",
           "-p", str(broker.port), "-t", topic, *args]
    if broker.tls is not None:
        cmd += ["--cafile", str(broker.tls.cafile)]
    subprocess.run(cmd, check=True, timeout=30, capture_output=True)


def publish_assortment(broker: Mosquitto, tmp: Path) -> list[bytes]:
    """What the subscribers must see: sizes around the read block, properties."""
    big = bytes(range(256)) * (READ_SIZE * 2 // 256 + 7)   # spans three blocks
    (tmp / "big").write_bytes(big)
    (tmp / "empty").write_bytes(b"")
    pub(broker, "t/a", "-q", "1", "-m", "x")
    pub(broker, "t/b", "-q", "0", "-f", str(tmp / "empty"))
    pub(broker, "t/c", "-q", "1", "-f", str(tmp / "big"))
    pub(broker, "t/d", "-q", "1", "-m", "with properties", "-D", "publish", "user-property",
        "k", "v", "-D", "publish", "message-expiry-interval", "600")
    pub(broker, "t/e", "-q", "1", "-r", "-m", "retained")
    return [b"x", b"", big, b"with properties", b"retained"]


def test_receives_exactly_what_paho_receives(brokers: Any, subscribers: Any,
                                             tmp_path: Path) -> None:
    broker = brokers()
    ours = subscribers(BufferedClient, broker, "ours").start()
    theirs = subscribers(mqtt.Client, broker, "theirs").start()
    raw = subscribers(BufferedClient, broker, "raw", raw=True).start()
    expected = publish_assortment(broker, tmp_path)
    # Many small messages in one burst (paho publishing, one connection), so
    # that several PUBLISH packets arrive in one read.
    burst = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    burst.connect("127.0.0.1", broker.port)
    burst.loop_start()
    infos = [burst.publish(f"t/n/{i % 7}", f"m{i:05d}".encode() * (i % 13), qos=i % 2)
             for i in range(2000)]
    for info in infos:
        info.wait_for_publish(30)
    burst.disconnect()
    burst.loop_stop()
    n = len(expected) + 2000
    wait_until(lambda: min(len(ours.got), len(theirs.got), len(raw.got)) >= n, 30,
               f"{n} messages at the three subscribers")
    assert ours.got == theirs.got == raw.got
    assert [p for _, p, _, _ in ours.got[:len(expected)]] == expected
    assert ours.got[3][0] == "t/d" and ours.got[4][3] is False   # live, not retained
    assert {q for _, _, q, _ in ours.got[len(expected):]} == {0, 1}
    # A late subscriber gets the retained message flagged as such.
    late = subscribers(BufferedClient, broker, "late").start()
    wait_until(lambda: ("t/e", b"retained", 1, True) in late.got, 10, "the retained message")


def test_over_tls(brokers: Any, subscribers: Any, tmp_path: Path) -> None:
    tls = make_tls(tmp_path / "tls")
    broker = brokers(tls=tls)
    ours = subscribers(BufferedClient, broker, "ours-tls", tls=tls).start()
    theirs = subscribers(mqtt.Client, broker, "theirs-tls", tls=tls).start()
    expected = publish_assortment(broker, tmp_path)
    wait_until(lambda: len(ours.got) >= len(expected) and len(theirs.got) >= len(expected),
               30, "the messages over TLS")
    assert ours.got == theirs.got
    assert [p for _, p, _, _ in ours.got] == expected


def test_unacknowledged_messages_come_again_after_a_broker_restart(
        brokers: Any, subscribers: Any) -> None:
    broker = brokers()
    ours = subscribers(BufferedClient, broker, "manual", manual_ack=True).start()
    for i in range(6):
        pub(broker, f"t/{i}", "-q", "1", "-m", f"event {i}")
    wait_until(lambda: len(ours.got) == 6, 10, "six messages")
    # The first three are committed and acknowledged: one by paho's ack, two
    # in one block.
    ours.client.ack(*ours.mids[0])
    ours.client.ack_many(ours.mids[1:3])
    time.sleep(0.3)
    first = list(ours.got)
    broker.restart()
    # paho reconnects (the read block of the old socket is dropped); the broker
    # sends the three unacknowledged ones again, and nothing else.
    wait_until(lambda: len(ours.got) >= 9, 20, "the three unacknowledged ones again")
    time.sleep(0.5)
    assert [p for _, p, _, _ in ours.got[6:]] == [p for _, p, _, _ in first[3:]]
    pub(broker, "t/after", "-q", "1", "-m", "after the restart")
    wait_until(lambda: ours.got[-1][1] == b"after the restart", 10, "a new message")
