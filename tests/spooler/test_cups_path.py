"""Card jobs through a real, private cupsd and the ``station`` backend (DESIGN §8).

cupsd runs CUPS' own ``socket`` backend under ours; jobs are submitted with
``lp``; the printer is the project's Evolis simulator on a TCP port, which
takes the raw job stream as a networked printer does. The daemon ingests the
backend's journal; the ledger is compared with the simulator's ground truth.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.cupsd import Cupsd, unavailable
from simulators.ippeve import IppEvePrinter
from simulators.ippeve import unavailable as ippeve_unavailable
from simulators.printers import build_simulator
from simulators.printers.documents import card_document
from simulators.printers.serve import TcpServer
from simulators.station.agent_process import AgentProcess
from station_agent.ledger import open_reader, verify
from station_agent.ledger.balances import read_balances
from tests.conftest import cli_env, run_cli

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))

NIK = "3171234567890123"
#: Supplies a retransfer card printer reports over IPP (ippeveprinter attributes).
RIBBON_MARKERS = """ATTR name marker-names "YMCKO ribbon","Retransfer film"
ATTR keyword marker-types ink-ribbon,transfer-unit
ATTR name marker-colors "#000000","none"
ATTR integer marker-levels 40,8
ATTR integer marker-low-levels 10,10
ATTR integer marker-high-levels 100,100
"""
NAME = "Siti Rahayu"


def card_job(family: str = "evolis") -> bytes:
    """One card as an issuing application's driver would send it."""
    return card_document(family, ("y", "k"))


class Station:
    """A private cupsd, an Evolis simulator on TCP, a config and the daemon."""

    def __init__(self, base: Path, ipp_uri: str | None = None, family: str = "evolis",
                 **sim_options: Any) -> None:
        self.base = base
        self.cupsd = Cupsd(base / "cups")
        self.server: TcpServer | None = None
        self.agent: AgentProcess | None = None
        try:
            self._set_up(ipp_uri, family, sim_options)
        except BaseException:
            self.close()
            raise

    def _set_up(self, ipp_uri: str | None, family: str, sim_options: dict[str, Any]) -> None:
        base = self.base
        self.cupsd.start()
        self.sim = build_simulator(family, **({"cards": 200} | sim_options))
        self.server = TcpServer(self.sim).start()
        self.state = base / "state"
        self.state.mkdir(mode=0o711)
        os.chmod(self.state, 0o711)
        self.config = base / "station.toml"
        self.config.write_text(
            f'[station]\nid = "spool-test"\nstate_dir = "{self.state}"\n\n'
            '[web]\nlisten = "127.0.0.1:0"\n\n'
            f'[cups]\nserver = "{self.cupsd.server}"\n'
            f'backend_dir = "{self.cupsd.backends}"\n\n'
            f'[[printer]]\nid = "ev-net"\nqueue = "ektp"\nfamily = "{family}"\n'
            f'url = "{self.server.url}"\n'
            + ('\n[[printer]]\nid = "ipp-1"\nqueue = "ektp-ipp"\ncards_per_copy = 2\n'
               '\n[[supply]]\nkind = "ribbon-ymcko"\nrated_yield = 500\nfits = ["ektp-ipp"]\n'
               if ipp_uri else ""))
        os.chmod(self.config, 0o644)
        self.cupsd.add_queue("ektp", f"socket://127.0.0.1:{self.server.port}")
        if ipp_uri:
            self.cupsd.add_queue("ektp-ipp", ipp_uri)
        self.doc = base / "card.prn"
        self.doc.write_bytes(card_job(family))
        os.chmod(self.doc, 0o644)

    def cli(self, *args: str) -> Any:
        return run_cli("--config", str(self.config), *args, env=cli_env())

    def install_and_wrap(self, queue: str = "ektp", printer: str = "ev-net") -> None:
        r = self.cli("cups", "install-backend", "--backend-dir", str(self.cupsd.backends))
        assert r.code == 0, r.err
        r = self.cli("cups", "wrap", queue, "--printer", printer)
        assert r.code == 0, r.err

    def start_agent(self) -> None:
        self.agent = AgentProcess(self.config, self.state, self.base / "agent.log").start()

    def stop_agent(self) -> None:
        if self.agent:
            self.agent.stop()
            self.agent = None

    def wait_ingested(self, jobs: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Until ``jobs`` spooler jobs are settled in the job log (journal empty)."""
        deadline = time.monotonic() + timeout
        docs: list[dict[str, Any]] = []
        journal = self.state / "spool-journal"
        while time.monotonic() < deadline:
            # The journal first: its records go only after the ledger holds
            # every card of their attempt, so the job list read after an empty
            # journal is whole (read the other way round, a job could be caught
            # between its first and its last card).
            left = [n for n in os.listdir(journal) if n.endswith(".json")] \
                if journal.exists() else []
            r = self.cli("jobs", "--json")
            if r.code == 0:
                docs = [d for d in json.loads(r.out)["jobs"] if d["source"] == "spooler"]
                if len(docs) >= jobs and not left and all(d["state"] != "printing"
                                                          for d in docs):
                    return docs
            time.sleep(0.3)
        raise AssertionError(f"not ingested: {docs} {self.cupsd.log_text()[-3000:]}")

    def balances(self) -> dict[str, int]:
        conn = open_reader(self.state)
        try:
            return read_balances(conn).as_dict()
        finally:
            conn.close()

    def close(self) -> None:
        self.stop_agent()
        if self.server is not None:
            self.server.stop()
        self.cupsd.cleanup()


@pytest.fixture
def station() -> Iterator[Station]:
    base = Path(tempfile.mkdtemp(prefix="station-spool-"))
    os.chmod(base, 0o755)
    st = Station(base)
    try:
        yield st
    finally:
        st.close()
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_jobs_through_cupsd_are_counted_by_the_printer_counter(station: Station) -> None:
    station.install_and_wrap()
    station.cli("blanks", "receive", "--batch", "B1", "--count", "100")
    station.start_agent()
    station.cupsd.submit("ektp", station.doc, title=f"{NAME} {NIK}", user="operator")
    station.cupsd.submit("ektp", station.doc, copies=2)
    station.cupsd.wait_idle("ektp")
    docs = station.wait_ingested(2)
    truth = station.sim.model.truth
    assert truth.picked == 3 and truth.issued == 3
    assert sorted(d["cards"] for d in docs) == [1, 2]
    assert [(d["counter_verified"], d["outcome"]) for d in docs] == [(True, "issued")] * 2
    assert all(d["job_id"].startswith("cups:ektp:") for d in docs)
    b = station.balances()
    assert (b["stock"], b["issued"], b["in_printer"]) == (97, 3, 0)
    # The issuing application's chip write failed afterwards: the operator voids it.
    one = next(d for d in docs if d["cards"] == 1)
    r = station.cli("jobs", "void", one["job_id"], "--category", "chip_failed", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["balances"]["spoiled_held"] == 1
    r = station.cli("jobs", "void", one["job_id"], "--category", "chip_failed")
    assert r.code == 0 and "nothing changed" in r.out, r.out   # the same void again
    r = station.cli("jobs", "void", one["job_id"], "--category", "damaged")
    assert r.code == 2 and "already" in r.err, r.err
    conn = open_reader(station.state)
    try:
        assert verify(conn).ok
    finally:
        conn.close()


def test_a_jam_overrides_the_socket_backends_success(station: Station) -> None:
    station.sim.model.plan.events.append(_planned(2, "jam"))
    station.install_and_wrap()
    station.cli("blanks", "receive", "--batch", "B1", "--count", "100")
    station.start_agent()
    station.cupsd.submit("ektp", station.doc)
    station.cupsd.wait_idle("ektp")
    station.wait_ingested(1)
    station.cupsd.submit("ektp", station.doc)
    station.cupsd.wait_idle("ektp")
    docs = station.wait_ingested(2)
    jammed = docs[-1]
    assert jammed["outcome"] == "spoiled" and jammed["category"] == "jam", jammed
    b = station.balances()
    assert (b["issued"], b["spoiled_held"], b["in_printer"]) == (1, 1, 0)
    # The jam reached CUPS (the socket backend could not see it), then the faults.
    queue = json.loads(station.cli("cups", "status", "--json").out)["queues"][0]
    assert any(r.startswith("media-jam") for r in queue["reasons"]), queue
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        faults = json.loads(station.cli("faults", "--json").out)["active"]
        if any(f["code"] == "card_jam" and f["source"] == "ev-net" for f in faults):
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"no card_jam fault: {faults}")
    # The operator clears the jam, then acknowledges the fault.
    station.sim.model.operator_resolve_jam(removed=True)
    r = station.cli("faults", "clear", "ev-net", "card_jam", "--json")
    assert r.code == 0 and json.loads(r.out)["cleared_at"], r.err
    r = station.cli("faults", "clear", "ev-net", "card_jam")
    assert r.code == 2 and "no active fault" in r.err


def test_jobs_printed_while_the_daemon_is_down_are_ingested_once(station: Station) -> None:
    station.install_and_wrap()
    station.cli("blanks", "receive", "--batch", "B1", "--count", "100")
    for _ in range(3):
        station.cupsd.submit("ektp", station.doc)
    station.cupsd.wait_idle("ektp")
    journal = sorted(os.listdir(station.state / "spool-journal"))
    assert len([n for n in journal if n.endswith(".end.json")]) == 3
    # The backend dropped to CUPS' user before it wrote anything (it wraps socket,
    # which does not need root).
    import pwd

    lp = pwd.getpwnam("lp").pw_uid
    assert {(station.state / "spool-journal" / n).stat().st_uid for n in journal} == {lp}
    station.start_agent()
    station.wait_ingested(3)
    station.stop_agent()
    station.start_agent()       # a second start must not count anything again
    docs = station.wait_ingested(3)
    assert len(docs) == 3
    b = station.balances()
    assert (b["issued"], b["stock"]) == (3, 97) == (station.sim.model.truth.issued, 97)


def test_titles_and_user_names_never_reach_the_state_dir_or_logs(station: Station) -> None:
    station.install_and_wrap()
    station.cli("blanks", "receive", "--batch", "B1", "--count", "100")
    station.start_agent()
    station.cupsd.submit("ektp", station.doc, title=f"{NAME} {NIK}", user="siti.rahayu")
    station.cupsd.wait_idle("ektp")
    station.wait_ingested(1)
    station.stop_agent()
    for path in [*station.state.rglob("*"), station.base / "agent.log"]:
        if path.is_file():
            data = path.read_bytes()
            for secret in (NIK.encode(), NAME.encode(), b"siti.rahayu", b"Rahayu"):
                assert secret not in data, f"{secret!r} found in {path}"


def test_cups_commands_refuse_bad_input_with_one_line_and_change_nothing(
        station: Station) -> None:
    r = station.cli("cups", "wrap", "nope", "--printer", "ev-net")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
    r = station.cli("cups", "wrap", "ektp", "--printer", "ghost")
    assert r.code == 2 and "ghost" in r.err
    r = station.cli("cups", "unwrap", "ektp")
    assert r.code == 2 and "not wrapped" in r.err
    station.install_and_wrap()
    r = station.cli("cups", "wrap", "ektp", "--printer", "ev-net")
    assert r.code == 2 and "already wrapped" in r.err
    status = json.loads(station.cli("cups", "status", "--json").out)
    assert status["queues"][0]["wrapped"] is True
    assert status["queues"][0]["device_uri"] == f"station:socket://127.0.0.1:{station.server.port}"
    r = station.cli("cups", "unwrap", "ektp", "--json")
    assert r.code == 0 and json.loads(r.out)["device_uri"].startswith("socket://")
    assert json.loads(station.cli("cups", "status", "--json").out)["queues"][0]["wrapped"] is False
    # Discovery answers at once with one device line.
    t0 = time.monotonic()
    out = subprocess.run([str(station.cupsd.backends / "station")], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.startswith("network station ")
    assert time.monotonic() - t0 < 10


def _planned(card: int, event: str) -> Any:
    from simulators.printers.model import Planned

    return Planned(card, event)


@pytest.mark.skipif(ippeve_unavailable() is not None, reason=str(ippeve_unavailable()))
def test_an_ipp_printer_nobody_here_wrote_is_accounted_without_counters() -> None:
    base = Path(tempfile.mkdtemp(prefix="station-spool-"))
    os.chmod(base, 0o755)
    printer = IppEvePrinter(attributes=RIBBON_MARKERS).start()
    st = Station(base, ipp_uri=printer.uri)
    try:
        st.install_and_wrap("ektp-ipp", "ipp-1")
        st.cli("blanks", "receive", "--batch", "B1", "--count", "100")
        st.start_agent()
        for args in (("receive", "--kind", "ribbon-ymcko", "--count", "2", "--batch", "R1"),
                     ("install", "--kind", "ribbon-ymcko", "--printer", "ipp-1")):
            done = st.cli("supplies", *args)
            assert done.code == 0, done.err
        # ippeveprinter takes one copy per job (copies-supported 1-1): the
        # document holds two cards (cards_per_copy = 2 for this printer).
        st.cupsd.submit("ektp-ipp", st.doc)
        st.cupsd.wait_idle("ektp-ipp")
        st.cupsd.submit("ektp-ipp", st.doc)
        st.cupsd.wait_idle("ektp-ipp")
        docs = st.wait_ingested(2)
        assert [d["cards"] for d in docs] == [2, 2]
        assert [(d["counter_verified"], d["outcome"]) for d in docs] == [(False, "issued")] * 2
        assert printer.jobs_received() >= 2
        b = st.balances()
        assert (b["issued"], b["stock"]) == (4, 96)
        # State and supply levels of the IPP printer, read back through cupsd.
        status = json.loads(st.cli("cups", "status", "--json").out)
        q = next(x for x in status["queues"] if x["queue"] == "ektp-ipp")
        assert q["wrapped"] and q["state"] in ("idle", "processing")
        assert [(m["name"], m["level"]) for m in q["markers"]] == [
            ("YMCKO ribbon", 40), ("Retransfer film", 8)], q
        device = next(d for d in json.loads(st.cli("status", "--json").out)["devices"]
                      if d["id"] == "ipp-1")
        assert device["source"] == "spooler" and device["cups"]["markers"], device
        # The ribbon in the queue's printer: its cards from the jobs, its level from CUPS.
        kind = json.loads(st.cli("supplies", "--json").out)["kinds"][0]
        (unit,) = kind["in_printers"]
        assert (unit["printer"], unit["cards"], unit["measured"]) == ("ipp-1", 4, "jobs")
        assert [(m["name"], m["level"]) for m in unit["levels"]] == [("YMCKO ribbon", 40)]
    finally:
        st.close()
        printer.stop()
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_diag_checks_the_backend_and_each_queue(station: Station) -> None:
    def checks() -> dict[str, dict[str, Any]]:
        r = station.cli("diag", "--json")
        return {c["name"]: c for c in json.loads(r.out)["checks"]}
    c = checks()
    assert c["cups:backend"]["status"] == "fail" and "install-backend" in c["cups:backend"]["hint"]
    assert c["queue:ev-net"]["status"] == "fail" and "cups wrap" in c["queue:ev-net"]["hint"]
    assert not any(n.startswith("printer:ev-net") for n in c)   # read by the backend
    station.install_and_wrap()
    c = checks()
    assert c["cups:backend"]["status"] == "pass", c["cups:backend"]
    assert c["queue:ev-net"]["status"] == "pass", c["queue:ev-net"]
    station.cupsd.run_tool("cupsdisable", "ektp")
    c = checks()
    assert c["queue:ev-net"]["status"] == "fail" and "cupsenable" in c["queue:ev-net"]["hint"]


def test_cupsd_down_is_a_fault_that_clears_when_it_is_back(station: Station) -> None:
    station.install_and_wrap()
    station.start_agent()

    def faults() -> set[tuple[str, str]]:
        doc = json.loads(station.cli("faults", "--json").out)
        return {(f["source"], f["code"]) for f in doc["active"]}

    def wait_for(pred: Any, what: str) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if pred(faults()):
                return
            time.sleep(0.3)
        raise AssertionError(f"{what}: {faults()}")

    station.cupsd.stop()
    wait_for(lambda f: ("spooler", "spooler_down") in f, "no spooler_down")
    station.cupsd.start()
    wait_for(lambda f: ("spooler", "spooler_down") not in f, "spooler_down not cleared")
    station.cupsd.run_tool("cupsdisable", "ektp")
    wait_for(lambda f: ("ev-net", "queue_stopped") in f, "no queue_stopped")
    station.cupsd.run_tool("cupsenable", "ektp")
    wait_for(lambda f: ("ev-net", "queue_stopped") not in f, "queue_stopped not cleared")
