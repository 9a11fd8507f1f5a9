"""A real mosquitto per test (free loopback port, config in a tmp dir, stopped
afterwards), a raw subscriber that records every message, TLS material made
with openssl, and a helper that records many events through the daemon's API."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from simulators.mosquitto import Mosquitto, TlsFiles, find_binary
from station_agent.api.connection import ApiClient
from tests.agent.conftest import daemons  # noqa: F401  (the daemon fixture, shared)

if find_binary() is None:   # pragma: no cover - CI installs it (scripts/dev)
    pytest.skip("mosquitto is not installed (apt-get install mosquitto)",
                allow_module_level=True)


@pytest.fixture
def brokers() -> Iterator[Callable[..., Mosquitto]]:
    """``brokers(**options)`` -> a started :class:`Mosquitto`; all stopped after the test."""
    made: list[Mosquitto] = []
    roots: list[tempfile.TemporaryDirectory[str]] = []

    def make(start: bool = True, **options: Any) -> Mosquitto:
        root = tempfile.TemporaryDirectory(prefix="mq-")
        roots.append(root)
        b = Mosquitto(Path(root.name), **options)
        made.append(b)
        return b.start() if start else b

    yield make
    for b in made:
        b.kill()
    for r in roots:
        r.cleanup()


class Recorder:
    """A durable-session subscriber keeping every message it receives, raw."""

    def __init__(self, broker: Mosquitto, topics: str = "stations/#",
                 client_id: str = "test-recorder", cafile: Path | None = None,
                 cert: tuple[Path, Path] | None = None,
                 login: tuple[str, str] | None = None) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=False, protocol=mqtt.MQTTv311)
        if login is not None:
            self.client.username_pw_set(*login)
        if cafile is not None:
            self.client.tls_set(ca_certs=str(cafile),
                                certfile=str(cert[0]) if cert else None,
                                keyfile=str(cert[1]) if cert else None)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.topics = topics
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topics, qos=1)
        self.client.on_message = self._on_message
        self.broker = broker

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def start(self) -> Recorder:
        self.client.connect(self.broker.host, self.broker.port, keepalive=10)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def docs(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(p) for t, p, _r in self.messages if t.endswith("/" + kind)]

    def raw(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return [(t, p) for t, p, _r in self.messages]

    def wait_for(self, check: Callable[[Recorder], bool], timeout: float,
                 what: str) -> None:
        deadline = time.monotonic() + timeout
        while not check(self):
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)


@pytest.fixture
def recorders() -> Iterator[Callable[..., Recorder]]:
    made: list[Recorder] = []

    def make(broker: Mosquitto, **kw: Any) -> Recorder:
        r = Recorder(broker, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def event_seqs(rec: Recorder) -> list[int]:
    return [d["seq"] for d in rec.docs("events")]


def record_receives(sock: Path, n: int, threads: int = 4, prefix: str = "B") -> None:
    """``n`` deliveries of one blank each through the daemon's API, from ``threads`` clients."""
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            with ApiClient(sock, 60) as c:
                for i in range(k, n, threads):
                    c.call("receive", batch_id=f"{prefix}{i}", count=1)
        except BaseException as exc:
            errors.append(exc)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


def make_tls(root: Path, name: str = "ca") -> TlsFiles:
    """A CA and a server certificate for localhost/127.0.0.1 signed by it (openssl CLI)."""
    root.mkdir(parents=True, exist_ok=True)
    ca_key, ca = root / f"{name}.key", root / f"{name}.pem"
    key, csr, cert = root / "server.key", root / "server.csr", root / "server.pem"
    ext = root / "server.ext"
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", f"/CN=station-agent test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return TlsFiles(cafile=ca, certfile=cert, keyfile=key)


def make_client_cert(root: Path, cn: str, ca_name: str = "ca") -> tuple[Path, Path]:
    """A client certificate (clientAuth) for ``cn`` signed by the CA :func:`make_tls`
    made in ``root`` under ``ca_name``; ``(certfile, keyfile)``, the key mode 600."""
    ca_key, ca = root / f"{ca_name}.key", root / f"{ca_name}.pem"
    key, csr, cert = root / f"{cn}.key", root / f"{cn}.csr", root / f"{cn}.pem"
    ext = root / f"{cn}.ext"
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=clientAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for args in (["req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={cn}"],
                 ["x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                  "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext)]):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    key.chmod(0o600)
    return cert, key
