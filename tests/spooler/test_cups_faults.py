"""Printer faults on the spooler path, both protocol families, against ground truth.

Each case prints through a private cupsd and CUPS' socket backend to a
simulator with one injected fault, lets a scripted operator fix the printer
(a card stuck inside is taken out by hand, ribbon and blanks refilled, the
cover closed) and settle jobs left open the way the card really went, prints
once more, and then compares every ledger account with what the simulator's
model says physically happened.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.cupsd import unavailable
from simulators.printers.model import PrinterModel
from simulators.station.operator import service_printer
from station_agent.ledger import open_reader, verify
from tests.spooler.test_cups_path import Station

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))


def service(model: PrinterModel) -> None:
    """The operator fixes the printer (a card inside is taken out by hand)."""
    service_printer(model)


def settle_open_jobs(st: Station) -> int:
    """Open jobs are settled as the cards really went: taken out by hand -> spoiled."""
    jobs = json.loads(st.cli("jobs", "--open", "--json").out)["jobs"]
    n = 0
    for d in jobs:
        if any(c["outcome"] is None for c in d["card_jobs"]):
            r = st.cli("jobs", "resolve", d["job_id"], "--outcome", "spoiled",
                       "--category", "jam", "--json")
            assert r.code == 0, r.err
            n += 1
    return n


def assert_ledger_is_truth(st: Station) -> dict[str, int]:
    t = st.sim.model.truth
    b = st.balances()
    assert b["in_printer"] == 0, b
    picked = b["issued"] + b["spoiled_held"] + b["spoiled_disposed"] + b["lost"]
    assert (picked, b["issued"], b["spoiled_held"], b["lost"]) == (
        t.picked, t.issued, t.rejected + t.removed_by_operator, t.missing), (b, t)
    conn = open_reader(st.state)
    try:
        assert verify(conn).ok
    finally:
        conn.close()
    return b


@pytest.fixture
def make_station() -> Iterator[Any]:
    made: list[tuple[Station, Path]] = []

    def make(family: str, **sim: Any) -> Station:
        base = Path(tempfile.mkdtemp(prefix="station-spool-"))
        os.chmod(base, 0o755)
        st = Station(base, family=family, **sim)
        made.append((st, base))
        st.install_and_wrap()
        assert st.cli("blanks", "receive", "--batch", "B1", "--count", "1000").code == 0
        st.start_agent()
        return st
    yield make
    for st, base in made:
        st.close()
        subprocess.run(["rm", "-rf", str(base)], check=False)


FAULTS = ("jam", "ribbon_out", "feeder_empty", "cover_open", "dropped_connection")


def _inject(st: Station, fault: str) -> None:
    m = st.sim.model
    if fault == "jam":
        m.plan.events.append(_planned(m.cards_counter + 1, "jam"))
    elif fault == "ribbon_out":
        m.ribbon = 1          # the next card's second panel finds no ribbon
    elif fault == "feeder_empty":
        m.feeder = 0
    elif fault == "cover_open":
        m.operator_open_cover()
    elif fault == "dropped_connection":
        m.plan.events.append(_planned(m.cards_counter + 1, "vanish", 1.0))


def _planned(card: int, event: str, arg: float = 0.0) -> Any:
    from simulators.printers.model import Planned

    return Planned(card, event, arg)


@pytest.mark.parametrize("family", ["evolis", "magicard"])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_mid_queue_is_accounted_as_the_card_really_went(
        make_station: Any, family: str, fault: str) -> None:
    st = make_station(family)
    st.cupsd.submit("ektp", st.doc)
    st.cupsd.wait_idle("ektp")
    _inject(st, fault)
    st.cupsd.submit("ektp", st.doc)
    st.cupsd.wait_idle("ektp")
    time.sleep(1.2 if fault == "dropped_connection" else 0)   # the printer comes back
    service(st.sim.model)
    st.cupsd.run_tool("cupsenable", "ektp", check=False)
    st.cupsd.submit("ektp", st.doc)
    st.cupsd.wait_idle("ektp")
    st.wait_ingested(3)
    settle_open_jobs(st)
    b = assert_ledger_is_truth(st)
    assert b["issued"] >= 2


def test_many_jobs_with_random_faults_over_both_families(make_station: Any) -> None:
    """Jobs (some with copies) with random faults on both families; after the
    operator's rounds the ledger equals the ground truth account by account."""
    rng = random.Random(int(os.environ.get("SPOOL_SEED", "16")))
    total = int(os.environ.get("SPOOL_JOBS", "500"))
    stations = [make_station("evolis"), make_station("magicard")]
    submitted = 0
    while submitted < total:
        for st in stations:
            if rng.random() < 0.15:
                _inject(st, rng.choice(FAULTS))
            st.cupsd.submit("ektp", st.doc, copies=rng.choice((1, 1, 1, 2)))
            submitted += 1
            st.cupsd.wait_idle("ektp")
            if st.sim.model.errors or st.sim.model.cover_open or st.sim.model.position \
                    or st.sim.model.feeder == 0 or st.sim.model.is_vanished():
                time.sleep(1.1 if st.sim.model.is_vanished() else 0)
                service(st.sim.model)
            st.cupsd.run_tool("cupsenable", "ektp", check=False)
    for st in stations:
        # One clean job at the end gives every dropped connection its next reading.
        st.cupsd.submit("ektp", st.doc)
        st.cupsd.wait_idle("ektp")
        jobs = len(json.loads(st.cli("jobs", "--json").out)["jobs"])
        st.wait_ingested(jobs, timeout=60)
        settle_open_jobs(st)
        assert_ledger_is_truth(st)
