"""The shipped mosquitto ACL (contrib/mosquitto/station-agent.acl) on a real
mosquitto: a station publishes only under its own id. A real daemon logged in as
its own station reaches the central reader; the same daemon logged in as another
station, and a raw client forging another station's topic, reach nobody."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from tests.conftest import REPO
from tests.uplink.test_uplink_daemon import uplink, uplink_config, wait_drained

ACL = REPO / "contrib" / "mosquitto" / "station-agent.acl"


def _password_db(tmp_path: Path, users: dict[str, str]) -> Path:
    db = tmp_path / "passwd"
    for n, (user, password) in enumerate(users.items()):
        subprocess.run(["mosquitto_passwd", *(["-c"] if n == 0 else []), "-b", str(db), user,
                        password], check=True, capture_output=True)
    return db


def _secret(tmp_path: Path, name: str, password: str) -> str:
    f = tmp_path / f"{name}.pass"
    f.write_text(password + "\n")
    f.chmod(0o600)
    return str(f)


def test_a_station_publishes_only_under_its_own_id(daemons: Any, brokers: Any,
                                                   recorders: Any, tmp_path: Path) -> None:
    db = _password_db(tmp_path, {"test-01": "own-secret", "belu-01": "belu-secret",
                                 "central": "central-secret"})
    broker = brokers(password_file=db, acl_file=ACL)
    central = recorders(broker, login=("central", "central-secret")).start()
    time.sleep(0.5)

    # The station "test-01" logged in as itself: its events arrive.
    own = daemons(uplink_config(broker.url, username="test-01",
                                password_file=_secret(tmp_path, "own", "own-secret")))
    own.start()
    own.call("receive", batch_id="KTP-1", count=10)
    wait_drained(own, 30)
    central.wait_for(lambda r: len(r.docs("events")) >= 1, 20, "the station's events")
    own.stop()   # its last words (the offline status) are its own too
    central.wait_for(lambda r: any(b'"reason":"shutdown"' in p for _t, p in r.raw()), 20,
                     "the station's offline status")
    arrived = len(central.raw())

    # The same station id, logged in as another station: the broker refuses what
    # it publishes under test-01 (mosquitto 2.0 acknowledges a refused publish or
    # closes the connection), so nothing more arrives. Wait until the daemon has
    # tried: its events acknowledged, or an error shown in its uplink status.
    other = daemons(uplink_config(broker.url, username="belu-01",
                                  password_file=_secret(tmp_path, "belu", "belu-secret")))
    other.start()
    other.call("receive", batch_id="KTP-2", count=5)
    deadline = time.monotonic() + 20
    while not ((up := uplink(other))["error"] or (up["sent"] and not up["backlog"])):
        assert time.monotonic() < deadline, up
        time.sleep(0.2)
    time.sleep(1.0)   # what the broker would have passed on has reached the reader

    # A raw client of belu-01 forging test-01's topic, and publishing its own.
    forger = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="forger",
                         protocol=mqtt.MQTTv311)
    forger.username_pw_set("belu-01", "belu-secret")
    connected = threading.Event()
    forger.on_connect = lambda c, u, f, rc, p: connected.set()
    forger.connect(broker.host, broker.port)
    forger.loop_start()
    assert connected.wait(10)
    forger.publish("stations/belu-01/status", b'{"station_id": "belu-01"}', qos=1,
                   retain=True).wait_for_publish(10)
    central.wait_for(lambda r: any(t == "stations/belu-01/status" for t, _p in r.raw()), 20,
                     "belu-01's own status")
    forged = json.dumps({"station_id": "test-01", "seq": 999}).encode()
    forger.publish("stations/test-01/events", forged, qos=1)   # refused: the broker drops
    time.sleep(1.0)                                            # it (and the connection)
    forger.loop_stop()
    forger.disconnect()
    other.stop()

    topics = [t for t, _p in central.raw()]
    assert all(t.startswith(("stations/test-01/", "stations/belu-01/")) for t in topics)
    from_test01 = [p for t, p in central.raw() if t.startswith("stations/test-01/")]
    # Everything under test-01 came while it logged in as itself: nothing forged.
    assert len(from_test01) <= arrived
    assert all(json.loads(p).get("seq") != 999 for p in from_test01)
    assert not any(json.loads(p).get("event", {}).get("batch_id") == "KTP-2"
                   for p in from_test01 if b'"event"' in p)
