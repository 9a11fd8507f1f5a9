"""The daemon's uplink against a real mosquitto: store-and-forward through broker
outages, agent kill -9, broker restarts; Last Will; TLS; login."""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from station_agent.fleet.view import FleetView
from tests.agent.conftest import Daemon
from tests.conftest import run_cli, spawn, terminate
from tests.helpers.silent import SilentServer
from tests.uplink.conftest import (
    Recorder,
    event_seqs,
    make_client_cert,
    make_tls,
    record_receives,
)


def uplink_config(url: str, **extra: Any) -> str:
    lines = [f'mqtt_url = "{url}"', "reconnect_max = 1.0", "status_interval = 2"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "[uplink]\n" + "\n".join(lines) + "\n"


def uplink(d: Daemon) -> dict[str, Any]:
    return d.call("status")["uplink"]  # type: ignore[no-any-return]


def wait_drained(d: Daemon, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        up = uplink(d)
        if up["connected"] and up["backlog"] == 0:
            return up
        assert time.monotonic() < deadline, f"backlog not drained: {up}"
        time.sleep(0.2)


def ledger_entries(d: Daemon) -> int:
    res = run_cli("--state-dir", str(d.state), "ledger", "verify", "--json")
    doc = json.loads(res.out)
    assert doc["ok"], doc
    return int(doc["entries"])


def central_side_down(brokers: Any, recorders: Any) -> tuple[Any, Recorder]:
    """A broker with a durable subscriber session (as the central consumer has),
    then stopped cleanly: the session and whatever is queued for it survive."""
    broker = brokers()
    rec = recorders(broker).start()
    rec.wait_for(lambda r: r.client.is_connected(), 10, "the recorder to connect")
    rec.stop()
    broker.stop()
    return broker, rec


def assert_complete(rec: Recorder, last_seq: int, entries: int) -> FleetView:
    """Every event 1..last_seq received, every ledger entry among them, and the
    fleet view's dedup leaves each exactly once with no gap."""
    seqs = event_seqs(rec)
    assert set(seqs) == set(range(1, last_seq + 1)), (
        f"missing {sorted(set(range(1, last_seq + 1)) - set(seqs))[:20]}")
    docs = rec.docs("events")
    assert len({d["event_id"] for d in docs}) == last_seq
    entry_seqs = {d["event"]["seq"] for d in docs if d["type"] == "ledger_entry"}
    assert entry_seqs == set(range(1, entries + 1))
    view = FleetView()
    for topic, payload in rec.raw():
        view.handle(topic, payload)
    st = view.stations["test-01"]
    assert st.events == last_seq
    assert st.duplicates == len(seqs) - last_seq
    assert st.seqs.gaps() == []
    return view


def test_backlog_recorded_while_the_broker_is_down_is_delivered_gap_free(
        daemons: Any, brokers: Any, recorders: Any) -> None:
    broker, rec = central_side_down(brokers, recorders)

    d = daemons(uplink_config(broker.url)).start()
    record_receives(d.state / "agent.sock", 5000)
    up = uplink(d)
    assert not up["connected"] and up["backlog"] >= 5000, up
    assert "refused the connection" in up["error"]

    broker.start()
    rec.start()
    up = wait_drained(d)
    entries = ledger_entries(d)
    assert entries == 5000
    rec.wait_for(lambda r: len(set(event_seqs(r))) >= up["last_seq"], 60, "every event")
    assert_complete(rec, up["last_seq"], entries)
    # The outage itself is in the stream: uplink_down raised, then cleared.
    faults = [(e["type"], e["event"]["code"]) for e in rec.docs("events")
              if e["type"].startswith("fault")]
    assert ("fault_raised", "uplink_down") in faults
    assert ("fault_cleared", "uplink_down") in faults
    # Entries carry the chain: each event's chain_head is its entry's hash.
    entry_docs = sorted((e for e in rec.docs("events") if e["type"] == "ledger_entry"),
                        key=lambda e: e["seq"])
    assert all(e["chain_head"] == e["event"]["hash"] for e in entry_docs)
    assert all(b["event"]["prev_hash"] == a["event"]["hash"]
               for a, b in itertools.pairwise(entry_docs))


def test_kill_9_with_a_backlog_and_mid_drain_loses_nothing(
        daemons: Any, brokers: Any, recorders: Any) -> None:
    broker, rec = central_side_down(brokers, recorders)

    d = daemons(uplink_config(broker.url, window=16)).start()
    record_receives(d.state / "agent.sock", 3000)
    d.kill()                                  # backlog on disk, nothing sent

    broker.start()
    rec.start()
    d.start()
    rec.wait_for(lambda r: len(r.docs("events")) >= 500, 60, "draining to start")
    d.kill()                                  # in the middle of draining
    sent_before_restart = len(set(event_seqs(rec)))
    assert sent_before_restart < 3000
    d.start()
    up = wait_drained(d)
    rec.wait_for(lambda r: len(set(event_seqs(r))) >= up["last_seq"], 60, "every event")
    assert_complete(rec, up["last_seq"], ledger_entries(d))


def test_broker_restart_in_the_middle_of_draining_loses_nothing(
        daemons: Any, brokers: Any, recorders: Any) -> None:
    broker, rec = central_side_down(brokers, recorders)
    d = daemons(uplink_config(broker.url, window=32)).start()
    record_receives(d.state / "agent.sock", 5000)

    broker.start()
    rec.start()
    rec.wait_for(lambda r: len(r.docs("events")) >= 1000, 60, "draining to start")
    broker.stop()                             # clean restart: sessions are saved
    assert len(set(event_seqs(rec))) < 5000   # it really was in the middle
    broker.start()
    up = wait_drained(d)
    rec.wait_for(lambda r: len(set(event_seqs(r))) >= up["last_seq"], 60, "every event")
    view = assert_complete(rec, up["last_seq"], ledger_entries(d))
    dupes = Counter(event_seqs(rec))
    # Duplicates only as QoS 1 allows: a message at most twice per interruption.
    assert max(dupes.values()) <= 3
    assert view.stations["test-01"].events == up["last_seq"]


def test_last_will_on_kill_and_explicit_offline_on_sigterm(
        daemons: Any, brokers: Any, recorders: Any) -> None:
    broker = brokers()
    rec = recorders(broker, topics="stations/+/status", client_id="status-watch").start()
    d = daemons(uplink_config(broker.url)).start()

    def last_status(r: Recorder) -> dict[str, Any] | None:
        docs = r.docs("status")
        return docs[-1] if docs else None

    rec.wait_for(lambda r: (last_status(r) or {}).get("online") is True, 20, "online")
    online = last_status(rec)
    assert online is not None and "balances" in online and "today" in online
    d.kill()
    rec.wait_for(lambda r: (last_status(r) or {}).get("online") is False, 20, "the Last Will")
    will = last_status(rec)
    assert will is not None and will["reason"] == "connection lost"

    d.start()
    rec.wait_for(lambda r: (last_status(r) or {}).get("online") is True, 20, "online again")
    assert d.stop() == 0
    rec.wait_for(lambda r: (last_status(r) or {}).get("online") is False, 20, "offline")
    bye = last_status(rec)
    assert bye is not None and bye["reason"] == "shutdown"
    # Retained: a newcomer sees the offline status at once.
    late = Recorder(broker, topics="stations/+/status", client_id="late").start()
    try:
        late.wait_for(lambda r: bool(r.docs("status")), 10, "the retained status")
        assert late.docs("status")[-1]["reason"] == "shutdown"
    finally:
        late.stop()


def test_tls_with_a_generated_ca_and_a_wrong_ca_refused(
        daemons: Any, brokers: Any, recorders: Any, tmp_path: Path) -> None:
    tls = make_tls(tmp_path / "good")
    wrong = make_tls(tmp_path / "wrong", name="other-ca")
    broker = brokers(tls=tls)
    url = f"mqtts://localhost:{broker.port}"
    rec = recorders(broker, cafile=tls.cafile).start()

    d = daemons(uplink_config(url, cafile=str(tls.cafile))).start()
    record_receives(d.state / "agent.sock", 20)
    up = wait_drained(d, 30)
    rec.wait_for(lambda r: len(set(event_seqs(r))) >= up["last_seq"], 30, "events over TLS")
    d.stop()

    bad = daemons(uplink_config(url, cafile=str(wrong.cafile))).start()
    deadline = time.monotonic() + 20
    while not (up := uplink(bad))["error"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert not up["connected"]
    assert "certificate" in up["error"] and "not trusted" in up["error"], up["error"]
    assert "cafile" in up["error"]
    faults = bad.wait_fault("uplink", "uplink_down")
    assert any("not trusted" in f["message"] for f in faults if f["code"] == "uplink_down")
    # The fleet CLI refuses the same way, in one line.
    res = run_cli("fleet", "--broker", url, "--cafile", str(wrong.cafile))
    assert res.code == 1 and "not trusted" in res.err and len(res.err.strip().splitlines()) == 1


def wait_uplink_error(d: Daemon, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while not (up := uplink(d))["error"]:
        assert time.monotonic() < deadline, f"no uplink error within {timeout} s: {up}"
        time.sleep(0.2)
    assert not up["connected"]
    return str(up["error"])


def test_mutual_tls_with_a_client_certificate(daemons: Any, brokers: Any, recorders: Any,
                                              tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    tls = make_tls(ca_dir)
    station_cert = make_client_cert(ca_dir, "station-01")
    broker = brokers(tls=tls, require_certificate=True)
    url = f"mqtts://localhost:{broker.port}"
    rec = recorders(broker, cafile=tls.cafile,
                    cert=make_client_cert(ca_dir, "recorder")).start()

    cert, key = (str(p) for p in station_cert)
    d = daemons(uplink_config(url, cafile=str(tls.cafile), certfile=cert, keyfile=key)).start()
    record_receives(d.state / "agent.sock", 20)
    up = wait_drained(d, 30)
    rec.wait_for(lambda r: len(set(event_seqs(r))) >= up["last_seq"], 30,
                 "events over mutual TLS")
    # The fleet view logs in with a certificate the same way.
    res = run_cli("fleet", "--broker", url, "--cafile", str(tls.cafile), "--certfile", cert,
                  "--keyfile", key, "--wait", "1.5", "--json")
    assert res.code == 0, res.err
    assert [s["station_id"] for s in json.loads(res.out)["stations"]] == ["test-01"]
    d.stop()

    # No client certificate: the broker ends the connection (with TLS 1.3, after the
    # client's side of the handshake); the error names what to set.
    bare = daemons(uplink_config(url, cafile=str(tls.cafile))).start()
    err = wait_uplink_error(bare)
    assert "client certificate" in err or "by certificate" in err, err
    assert "certfile and keyfile" in err, err
    bare.stop()

    # A certificate from a CA the broker does not trust.
    other_dir = tmp_path / "other"
    make_tls(other_dir, name="other-ca")
    o_cert, o_key = (str(p) for p in make_client_cert(other_dir, "station-01", "other-ca"))
    stranger = daemons(uplink_config(url, cafile=str(tls.cafile), certfile=o_cert,
                                     keyfile=o_key)).start()
    err = wait_uplink_error(stranger)
    assert "this station's client certificate" in err and "CA the broker trusts" in err, err
    stranger.stop()


def test_client_key_must_be_private_and_match(daemons: Any, tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    make_tls(ca_dir)
    cert, key = make_client_cert(ca_dir, "station-01")
    _, other_key = make_client_cert(ca_dir, "station-02")

    def check(url: str = "mqtts://localhost:8883", **extra: Any) -> str:
        cfg = daemons(uplink_config(url, **extra))
        res = run_cli("--config", str(cfg.config), "run", "--check-config")
        assert res.code == 2, (extra, res.out, res.err)
        assert len(res.err.strip().splitlines()) == 1, res.err
        return res.err

    key.chmod(0o640)
    err = check(certfile=str(cert), keyfile=str(key))
    assert "readable by group or others (mode 0640)" in err and "chmod 600" in err
    key.chmod(0o600)
    assert "is not the key of certfile" in check(certfile=str(cert), keyfile=str(other_key))
    assert "without its key" in check(certfile=str(cert))
    assert "without its certificate" in check(keyfile=str(key))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    assert "cannot be loaded" in check(certfile=str(garbage), keyfile=str(key))
    assert "only applies to mqtts://" in check("mqtt://localhost:1883", certfile=str(cert),
                                               keyfile=str(key))
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(["openssl", "pkey", "-in", str(key), "-out", str(encrypted), "-aes256",
                    "-passout", "pass:secret"], check=True, capture_output=True)
    encrypted.chmod(0o600)
    assert "encrypted with a passphrase" in check(certfile=str(cert), keyfile=str(encrypted))


def test_login_with_a_password_file(daemons: Any, brokers: Any, recorders: Any,
                                    tmp_path: Path) -> None:
    pw_db = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pw_db), "station", "s3cret"],
                   check=True, capture_output=True)
    broker = brokers(password_file=pw_db)
    good = tmp_path / "good.pass"
    good.write_text("s3cret\n")
    good.chmod(0o600)
    d = daemons(uplink_config(broker.url, username="station", password_file=str(good)))
    d.start()
    wait_drained(d, 30)
    d.stop()

    wrong = tmp_path / "wrong.pass"
    wrong.write_text("nope\n")
    wrong.chmod(0o600)
    bad = daemons(uplink_config(broker.url, username="station", password_file=str(wrong)))
    bad.start()
    deadline = time.monotonic() + 20
    while not (up := uplink(bad))["error"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert "refused the login" in up["error"], up["error"]

    loose = tmp_path / "loose.pass"
    loose.write_text("s3cret\n")
    loose.chmod(0o644)
    cfg = daemons(uplink_config(broker.url, username="station", password_file=str(loose)))
    res = run_cli("--config", str(cfg.config), "run", "--check-config")
    assert res.code == 2
    assert "readable by group or others" in res.err and "chmod 600" in res.err
    assert len(res.err.strip().splitlines()) == 1


def test_ledger_writes_never_wait_for_a_broker_that_does_not_answer(daemons: Any) -> None:
    # A "broker" that accepts TCP connections and never says a word.
    with SilentServer() as silent:
        d = daemons(uplink_config(f"mqtt://127.0.0.1:{silent.port}")).start()
        started = time.monotonic()
        record_receives(d.state / "agent.sock", 300, threads=2)
        elapsed = time.monotonic() - started
        up = uplink(d)
        assert d.call("blanks")["stock"] == 300
        assert up["backlog"] >= 300 and not up["connected"]
        # Recording did not wait out the relay's 5 s connect timeouts.
        assert elapsed < 60, elapsed
        deadline = time.monotonic() + 20
        while not (up := uplink(d))["error"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert "no MQTT answer" in up["error"]
        assert d.stop() == 0


def test_fleet_view_cli_shows_the_station(daemons: Any, brokers: Any) -> None:
    broker = brokers()
    d = daemons(uplink_config(broker.url)).start()
    with d.client() as c:
        c.call("receive", batch_id="B1", count=40)
        c.call("pick", job_id="j1", device="p1")
        c.call("complete", job_id="j1")
        c.call("pick", job_id="j2", device="p1")
        c.call("reject", job_id="j2", reason="chip")
    wait_drained(d, 30)
    time.sleep(1.5)                      # the status is republished at most once a second
    res = run_cli("fleet", "--broker", broker.url, "--json", "--wait", "1")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    (st,) = doc["stations"]
    assert st["station_id"] == "test-01" and st["online"] is True
    assert st["stock"] == 38 and st["issued_today"] == 1 and st["spoiled_today"] == 1
    assert "station:stock_low" in st["active_faults"]
    assert st["gaps"] == [] and st["last_seen"]
    text = run_cli("fleet", "--broker", broker.url, "--wait", "1")
    assert text.code == 0 and "test-01" in text.out and "online" in text.out
    # --watch --json: one document per change, as long as it runs.
    watch = spawn([sys.executable, "-m", "station_agent", "fleet", "--broker", broker.url,
                   "--watch", "--json"])
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in watch.stdout],  # type: ignore
                     daemon=True).start()
    try:
        first = json.loads(lines.get(timeout=20))
        assert first["stations"][0]["station_id"] == "test-01"
        with d.client() as c:
            c.call("receive", batch_id="B2", count=5)
        while True:
            doc = json.loads(lines.get(timeout=20))
            if doc["stations"][0]["events"] >= 1:
                break
        assert doc["stations"][0]["gaps"] == []
    finally:
        terminate(watch)
    d.stop()
    res = run_cli("fleet", "--broker", broker.url, "--json", "--wait", "1")
    (st,) = json.loads(res.out)["stations"]
    assert st["online"] is False and st["reason"] == "shutdown"
