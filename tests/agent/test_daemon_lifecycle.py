"""Daemon lifecycle: kill -9 mid-job and restart, SIGTERM during a burst, the
systemd notify protocol, and 10,000 malformed API requests."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station_agent.api import protocol
from station_agent.daemon.ops import PARAMETERS
from station_agent.ledger import open_reader, read_balances, verify
from tests.conftest import cli_env


def _truth(printer: Any) -> dict[str, int]:
    line = printer.send("truth")
    return {k.replace(" ", "_"): int(v) for k, v in
            re.findall(r"(picked|issued|rejected|removed by operator|missing) (\d+)", line)}


def _balances(state: Path) -> Any:
    conn = open_reader(state)
    try:
        assert verify(conn).ok
        return read_balances(conn)
    finally:
        conn.close()


def _wait_recovered(d: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = d.call("status")
        dev = status["devices"][0]
        if dev["online"] and dev["card_at"] is None:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def test_kill_9_mid_job_then_restart_keeps_the_ledger_exact(daemons: Any, sims: Any) -> None:
    printer = sims("printer", "--family", "evolis", "--pty", "--control", "--print-ms", "300")
    d = daemons(f'[[printer]]\nid = "evolis-1"\nurl = "serial://{printer.where}"\n'
                'family = "evolis"\npoll_interval = 0.2\n').start()
    d.call("receive", batch_id="B1", count=100)
    for n, delay in enumerate((0.02, 0.15, 0.4, 0.8, 1.3)):
        client = d.client()
        client.sock.sendall(json.dumps({"id": 1, "op": "issue", "params": {
            "job_id": f"job-{n}", "panels": 5}}).encode() + b"\n")
        time.sleep(delay)
        d.kill()
        client.close()
        d.start()
        _wait_recovered(d)
        truth = _truth(printer)
        b = _balances(d.state)
        # Every card the printer took is accounted for exactly once, none lost; a
        # card whose fate the agent could not see stays in_printer for the operator.
        assert b.in_printer + b.issued + b.spoiled_held == truth["picked"], (b, truth)
        assert b.lost == 0 and b.issued <= truth["issued"]
        assert b.spoiled_held <= truth["rejected"]
        assert b.stock == 100 - truth["picked"]
    # The operator settles what stayed in_printer; then the ledger equals the truth.
    for job in d.call("status")["devices"][0]["stuck_jobs"]:
        d.call("resolve", job_id=job, outcome="issued")
    truth = _truth(printer)
    b = _balances(d.state)
    assert (b.in_printer, b.issued, b.spoiled_held) == (0, truth["issued"], truth["rejected"])
    assert d.stop() == 0


def test_sigterm_during_a_burst_loses_no_acknowledged_event(daemons: Any) -> None:
    d = daemons("").start()
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def producer(k: int) -> None:
        try:
            with d.client(10) as c:
                i = 0
                while not stop.is_set():
                    batch = f"B{k}-{i}"
                    c.call("receive", batch_id=batch, count=1)
                    with lock:
                        acked.append(batch)
                    i += 1
        except Exception:
            return   # the daemon went away mid-request: that one was not acknowledged

    threads = [threading.Thread(target=producer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    assert d.stop() == 0
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) > 100
    conn = open_reader(d.state)
    try:
        stored = {r[0] for r in conn.execute("SELECT batch_id FROM entries")}
    finally:
        conn.close()
    missing = [b for b in acked if b not in stored]
    assert missing == []
    assert _balances(d.state).stock == len(stored)


def test_systemd_notify_ready_watchdog_stopping(daemons: Any, tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(20)
    try:
        d = daemons("")
        d.start(env=cli_env(NOTIFY_SOCKET=str(path), WATCHDOG_USEC="300000"), wait=False)
        first = sock.recv(4096).decode()
        assert "READY=1" in first.splitlines()
        d.wait_ready()
        t0 = time.monotonic()
        pings = 0
        while pings < 3:
            if sock.recv(4096).decode() == "WATCHDOG=1":
                pings += 1
        assert time.monotonic() - t0 < 5
        assert d.stop() == 0
        messages = []
        sock.settimeout(1)
        try:
            while True:
                messages.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
        assert "STOPPING=1" in messages
    finally:
        sock.close()


_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | \
    st.text(max_size=20)
_json = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)
_ops = st.sampled_from(sorted(PARAMETERS)) | st.text(max_size=12)
_requests = st.one_of(
    st.binary(max_size=200),                                            # line noise
    _json.map(lambda v: json.dumps(v).encode()),                        # any JSON
    st.fixed_dictionaries({"id": _json, "op": _ops}).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"id": st.integers(0, 10**6), "op": _ops,     # wrong params
                           "params": st.dictionaries(st.sampled_from(
                               ["count", "batch_id", "job_id", "reason", "idem_id", "device",
                                "reference", "history", "x"]), _json, max_size=4)})
    .map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"id": st.integers(0, 99), "op": st.sampled_from(  # refused
        ["write_off", "dispose", "adjust"]), "params": st.fixed_dictionaries({
            "count": st.integers(10**6, 10**9) | st.integers(-10**9, 0), "reason": st.just("x"),
            "reference": st.just("DOC-1"), "idem_id": st.just("fuzz")})})
    .map(lambda v: json.dumps(v).encode()),
)


def _is_write(line: bytes) -> bool:
    """Whether ``line`` parses as a write the ledger may accept (skipped: this test
    is about malformed and refused requests)."""
    try:
        req = protocol.parse(line.split(b"\n")[0], PARAMETERS)
    except protocol.ApiError:
        return False
    return req.op not in ("ping", "status", "blanks", "faults", "subscribe") and not (
        req.op in ("write_off", "dispose", "adjust")
        and (req.params.get("count", 0) >= 10**6 or req.params.get("count", 1) <= 0))


def test_10000_malformed_requests_get_errors_and_change_nothing(daemons: Any) -> None:
    d = daemons("").start()
    d.call("receive", batch_id="B1", count=50)
    before = _balances(d.state)
    client = d.client(10)
    counts = {"errors": 0}

    @settings(max_examples=10_000, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_requests)
    def one(line: bytes) -> None:
        line = line.replace(b"\n", b" ")
        if not line.strip() or _is_write(line):
            return
        reply = client.send_raw(line)
        if line.strip().startswith(b"{") and b'"op": "' in line and reply.get("ok"):
            # A well-formed read (status, faults...) is fine.
            assert protocol.parse(line, PARAMETERS).op in ("ping", "status", "blanks", "faults",
                                               "subscribe")
            return
        assert reply["ok"] is False, (line, reply)
        assert reply["error"]["code"] in ("bad_request", "unknown_op", "refused")
        assert "\n" not in reply["error"]["message"]
        counts["errors"] += 1

    try:
        one()
    finally:
        client.close()
    assert counts["errors"] > 5_000
    assert d.call("ping")["pong"] is True
    after = _balances(d.state)
    assert (after.entries, after.chain_head, after.stock) == (
        before.entries, before.chain_head, before.stock)
    assert os.path.exists(d.state / "agent.sock")
    assert d.stop() == 0


def test_a_card_job_for_a_printer_not_reachable_yet_is_not_started(daemons: Any,
                                                                   tmp_path: Path) -> None:
    """Found by a campaign: an `issue` before the printer answered after a restart
    (its restart recovery could not run) came back as an internal error."""
    d = daemons(f'[[printer]]\nid = "p1"\nurl = "serial://{tmp_path}/no-such-tty"\n'
                'family = "evolis"\npoll_interval = 60\n').start()
    d.call("receive", batch_id="B-1", count=5)
    out = d.call("issue", job_id="j-1", printer="p1")
    assert (out["outcome"], out["fault"]) == ("not_started", "printer_offline")
    assert d.call("blanks")["stock"] == 5
    assert d.stop() == 0
