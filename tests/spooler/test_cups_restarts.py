"""Crashes around the spooler path: the daemon stopped mid-queue, the backend
killed mid-job and CUPS retrying the job, cupsd restarted mid-queue. No job
is lost or counted twice, and nothing is printed twice."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.cupsd import unavailable
from tests.spooler.test_cups_faults import assert_ledger_is_truth, service
from tests.spooler.test_cups_path import Station

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))


@pytest.fixture
def station() -> Iterator[Station]:
    base = Path(tempfile.mkdtemp(prefix="station-spool-"))
    os.chmod(base, 0o755)
    st = Station(base, print_ms=150)
    try:
        st.install_and_wrap()
        assert st.cli("blanks", "receive", "--batch", "B1", "--count", "1000").code == 0
        yield st
    finally:
        st.close()
        subprocess.run(["rm", "-rf", str(base)], check=False)


def settle_by_truth(st: Station) -> None:
    """The operator settles open cards as they really went (the model's ground truth)."""
    for d in json.loads(st.cli("jobs", "--open", "--json").out)["jobs"]:
        for card in d["card_jobs"]:
            if card["outcome"] is not None:
                continue
            b, t = st.balances(), st.sim.model.truth
            outcome = ("issued" if b["issued"] < t.issued else
                       "spoiled" if b["spoiled_held"] < t.rejected + t.removed_by_operator
                       else "lost")
            r = st.cli("jobs", "resolve", card["card_job"], "--outcome", outcome,
                       *(("--category", "jam") if outcome == "spoiled" else ()))
            assert r.code == 0, r.err


def _backend_pids(st: Station) -> list[int]:
    out = subprocess.run(["pgrep", "-f", str(st.cupsd.backends / "station")],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_the_daemon_stopped_while_50_jobs_print(station: Station) -> None:
    st = station
    st.start_agent()
    for i in range(50):
        st.cupsd.submit("ektp", st.doc)
        if i == 10:
            st.stop_agent()
        if i == 35:
            st.start_agent()
    st.cupsd.wait_idle("ektp", timeout=180)
    if st.agent is None:
        st.start_agent()
    docs = st.wait_ingested(50, timeout=60)
    assert len(docs) == 50 and len({d["job_id"] for d in docs}) == 50
    t = st.sim.model.truth
    assert t.picked == 50 == t.issued          # nothing printed twice
    b = assert_ledger_is_truth(st)
    assert b["issued"] == 50


def test_the_backend_killed_mid_job_and_cups_retrying_it(station: Station) -> None:
    st = station
    st.start_agent()
    _kill_backend_mid_job(st)
    # cupsd takes a backend killed with SIGKILL for one it stopped itself (the job
    # ends "completed"); the operator has CUPS print the job again (same job UUID).
    st.cupsd.run_tool("lp", "-i", "1", "-H", "restart")
    deadline = time.monotonic() + 60
    while True:   # until the second attempt (the restarted job) is ingested
        st.cupsd.wait_idle("ektp", timeout=60)
        docs = st.wait_ingested(1, timeout=60)
        if docs[0]["detail"] and json.loads(docs[0]["detail"])["attempt"] == 2:
            break
        assert time.monotonic() < deadline, (docs, st.cupsd.run_tool(
            "lpstat", "-W", "all", "-o", check=False).stdout)
        time.sleep(0.3)
    assert len(docs) == 1, docs
    settle_by_truth(st)
    assert_ledger_is_truth(st)


def test_a_backend_killed_with_no_retry_is_settled_by_the_next_reading(
        station: Station) -> None:
    st = station
    st.start_agent()
    _kill_backend_mid_job(st)
    st.cupsd.submit("ektp", st.doc)          # the next reading of the counter
    st.cupsd.wait_idle("ektp", timeout=60)
    docs = st.wait_ingested(2, timeout=60)
    assert any(d["open"] for d in docs), docs   # the killed job's cards, for the operator
    settle_by_truth(st)
    assert_ledger_is_truth(st)


def test_cupsd_restarted_mid_queue(station: Station) -> None:
    st = station
    st.start_agent()
    for _ in range(8):
        st.cupsd.submit("ektp", st.doc)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and st.sim.model.truth.picked < 3:
        time.sleep(0.02)
    st.cupsd.restart()
    st.cupsd.run_tool("cupsenable", "ektp", check=False)
    st.cupsd.wait_idle("ektp", timeout=120)
    if st.sim.model.position is not None or st.sim.model.errors:
        service(st.sim.model)
    st.cupsd.submit("ektp", st.doc)
    st.cupsd.wait_idle("ektp", timeout=60)
    docs = st.wait_ingested(9, timeout=60)
    assert len({d["job_id"] for d in docs}) == len(docs) >= 9
    settle_by_truth(st)
    b = assert_ledger_is_truth(st)
    assert b["issued"] >= 9


def _kill_backend_mid_job(st: Station) -> None:
    """Print three cards, SIGKILL the backend (and the real backend under it) once
    two are picked, let cupsd finish with the job; the operator then fixes the
    printer if the killed job left it stopped."""
    st.cupsd.submit("ektp", st.doc, copies=3)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and st.sim.model.truth.picked < 2:
        time.sleep(0.02)
    pids = _backend_pids(st)
    assert pids, "the backend was not running"
    for pid in pids:
        for child in _children(pid):
            _kill(child)
        _kill(pid)
    st.cupsd.wait_idle("ektp", timeout=60)
    time.sleep(0.5)
    if st.sim.model.position is not None or st.sim.model.errors:
        service(st.sim.model)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):   # it may have ended already
        os.kill(pid, signal.SIGKILL)


