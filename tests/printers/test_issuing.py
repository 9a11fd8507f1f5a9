"""The card-issuing workflow against simulated printers, ledger included."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from simulators.station.operator import PANELS, assert_ledger_matches, run_jobs
from station_agent.issuing.driven import COMPLETE, NOT_STARTED, REJECT, REPLAY, STUCK, CardIssuer
from station_agent.ledger import Ledger, model, verify
from station_agent.ledger.errors import StorageError
from station_agent.ledger.store import open_reader

FAMILIES = ("evolis", "magicard")


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    with Ledger(tmp_path / "state") as led:
        led.record(model.receive("batch-1", 2000))
        yield led


@pytest.mark.parametrize("family", FAMILIES)
def test_failure_before_the_pick_consumes_nothing(make_rig: Any, ledger: Ledger,
                                                  family: str) -> None:
    rig = make_rig(family, "inprocess", cards=0)
    issuer = CardIssuer(rig.printer, ledger, "p1")
    before = ledger.balances()
    r = issuer.issue("j1", PANELS)
    assert (r.outcome, r.fault) == (NOT_STARTED, "feeder_empty")
    assert ledger.balances().stock == before.stock and ledger.balances().entries == before.entries
    assert issuer.faults.is_active("p1", "feeder_empty")
    rig.model.refill(cards=1)
    assert issuer.issue("j1", PANELS).outcome == COMPLETE
    assert not issuer.faults.is_active("p1", "feeder_empty")


@pytest.mark.parametrize("family", FAMILIES)
def test_jam_leaves_card_in_printer_until_operator_resolves(make_rig: Any, ledger: Ledger,
                                                            family: str) -> None:
    rig = make_rig(family, "inprocess", jam_at=[1])
    issuer = CardIssuer(rig.printer, ledger, "p1")
    r = issuer.issue("j1", PANELS)
    assert (r.outcome, r.fault) == (STUCK, "card_jam")
    assert ledger.balances().in_printer == 1
    assert issuer.faults.is_active("p1", "card_jam")
    assert issuer.issue("j2", PANELS).outcome == NOT_STARTED
    rig.model.operator_resolve_jam(removed=False)
    issuer.resolve("j1", removed=False)
    b = ledger.balances()
    assert (b.in_printer, b.lost) == (0, 1)
    assert not issuer.faults.is_active("p1", "card_jam")
    assert issuer.issue("j2", PANELS).outcome == COMPLETE


@pytest.mark.parametrize("family", FAMILIES)
def test_chip_check_failure_rejects(make_rig: Any, ledger: Ledger, family: str) -> None:
    rig = make_rig(family, "inprocess")
    seen: list[str] = []

    def check(job: str) -> bool:
        seen.append(rig.printer.status().card_at or "")
        return False

    r = CardIssuer(rig.printer, ledger, "p1", chip_check=check).issue("j1", PANELS)
    assert (r.outcome, r.reason) == (REJECT, "chip_failed")
    assert seen == ["contactless" if family == "evolis" else "print"]
    assert ledger.balances().spoiled_held == 1 and rig.model.truth.rejected == 1


@pytest.mark.parametrize("family", FAMILIES)
def test_a_replayed_job_never_feeds_a_second_card(make_rig: Any, ledger: Ledger,
                                                  family: str) -> None:
    """The application retries a job it already sent (a timeout, an agent restart):
    the ledger's answer comes back and the printer is not touched."""
    rig = make_rig(family, "inprocess")
    verdicts = iter([True, False, True])
    issuer = CardIssuer(rig.printer, ledger, "p1", chip_check=lambda job: next(verdicts))
    assert issuer.issue("j1", PANELS).outcome == COMPLETE
    assert issuer.issue("j2", PANELS).outcome == REJECT
    before, picked = ledger.balances(), rig.model.truth.picked
    again = [issuer.issue(job, PANELS) for job in ("j1", "j2", "j1")]
    assert [(r.outcome, r.reason) for r in again] == [
        (COMPLETE, REPLAY), (REJECT, REPLAY), (COMPLETE, REPLAY)]
    assert rig.model.truth.picked == picked == 2
    assert ledger.balances() == before
    assert issuer.issue("j3", PANELS).outcome == COMPLETE   # new jobs go on as before


class _FullDisk:
    """Makes ``ledger.record`` fail as on a full disk while ``full`` is set."""

    def __init__(self, ledger: Ledger, mocker: Any) -> None:
        self.full = False
        real = ledger.record

        def record(transfer: Any) -> Any:
            if self.full:
                raise StorageError(f"disk full while writing {ledger.path}: nothing was "
                                   "recorded; free space on that file system and try again")
            return real(transfer)

        mocker.patch.object(ledger, "record", side_effect=record)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("fails", ["pick", "outcome"])
def test_a_full_disk_mid_job_holds_the_job_until_it_can_be_recorded(
        make_rig: Any, ledger: Ledger, mocker: Any, family: str, fails: str) -> None:
    rig = make_rig(family, "inprocess")
    disk = _FullDisk(ledger, mocker)
    check_calls: list[str] = []

    def check(job: str) -> bool:   # runs after the pick is recorded, before printing
        check_calls.append(job)
        disk.full = fails == "outcome" and len(check_calls) == 1
        return True

    issuer = CardIssuer(rig.printer, ledger, "p1", chip_check=check)
    disk.full = fails == "pick"
    first = issuer.issue("j1", PANELS)
    assert (first.outcome, first.fault) == ("pending", "disk_full")
    assert issuer.faults.is_active("p1", "disk_full")
    assert issuer.issue("j1", PANELS).fault == "disk_full"     # still full: still held
    disk.full = False
    settled = issuer.issue("j1", PANELS)
    # A pick that could not be recorded: the card inside is rejected once it can be.
    # An outcome that could not be recorded: it is recorded now, as it happened.
    assert settled.outcome == (REJECT if fails == "pick" else COMPLETE), settled
    assert not issuer.faults.is_active("p1", "disk_full")
    assert rig.model.truth.picked == 1
    assert_ledger_matches(ledger, rig.model, 2000)
    assert issuer.issue("j2", PANELS).outcome == COMPLETE


@pytest.mark.parametrize("family", FAMILIES)
def test_a_stuck_card_rejected_while_the_disk_is_full_is_recorded_later(
        make_rig: Any, ledger: Ledger, mocker: Any, family: str) -> None:
    """Found by campaign seed 2002: the cover opened mid-card (card stuck), the
    operator closed it while the disk was full; the card went to the reject box,
    its record failed, and the job was left open with nobody remembering it."""
    rig = make_rig(family, "inprocess", cover_open_at=[1])
    disk = _FullDisk(ledger, mocker)
    issuer = CardIssuer(rig.printer, ledger, "p1")
    first = issuer.issue("j1", PANELS)
    assert (first.outcome, first.fault) == (STUCK, "cover_open")
    rig.model.operator_close_cover()
    disk.full = True
    held = issuer.issue("j2", PANELS)        # recovery rejects j1's card, cannot record it
    assert held.fault == "disk_full" and rig.model.truth.rejected == 1
    disk.full = False
    assert issuer.issue("j1", PANELS).outcome == REJECT   # recorded now
    assert issuer.issue("j2", PANELS).outcome == COMPLETE
    assert_ledger_matches(ledger, rig.model, 2000)


@pytest.mark.parametrize("family", FAMILIES)
def test_reconciling_while_a_job_is_in_flight_does_not_count_its_card_twice(
        make_rig: Any, ledger: Ledger, family: str) -> None:
    """Found by campaign seed 8: the printer vanished right after a pick; the
    poller's reconciliation, once the printer was back, wrote the card off as an
    unreported pick, and the job's recovery then recorded the same card's pick."""
    rig = make_rig(family, "inprocess", vanish_at=[1], vanish_s=0.3)
    issuer = CardIssuer(rig.printer, ledger, "p1")
    first = issuer.issue("j1", PANELS)
    assert (first.outcome, first.fault) == ("pending", "printer_offline")
    time.sleep(0.4)
    rig.printer.link.retry_now()
    assert issuer.reconcile(rig.printer.card_count()) == 0   # what the poller does
    settled = issuer.issue("j1", PANELS)
    assert settled.outcome in (REJECT, "write_off"), settled
    assert_ledger_matches(ledger, rig.model, 2000)
    assert ledger.balances().lost == rig.model.truth.missing


def test_unreported_picks_are_written_off_once_even_after_restart(make_rig: Any,
                                                                  tmp_path: Path) -> None:
    rig = make_rig("magicard", "inprocess")
    with Ledger(tmp_path / "s") as led:
        led.record(model.receive("b", 100))
        issuer = CardIssuer(rig.printer, led, "p1")
        assert issuer.issue("j1", PANELS).outcome == COMPLETE
        # Another program prints two test cards (TST), behind the agent's back.
        rig.sim.handle("TST,")
        rig.sim.handle("TST,")
    with Ledger(tmp_path / "s") as led:  # the agent restarts
        issuer = CardIssuer(rig.printer, led, "p1")
        assert issuer.issue("j2", PANELS).outcome == COMPLETE
        b = led.balances()
        assert (b.lost, b.issued, b.stock) == (2, 2, 96)
        assert issuer.faults.is_active("p1", "unreported_pick")
        assert CardIssuer(rig.printer, led, "p1").reconcile(rig.model.cards_counter) == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_500_cards_with_random_faults_match_ground_truth(make_rig: Any, ledger: Ledger,
                                                         family: str, tmp_path: Path) -> None:
    rng = random.Random(f"500-{family}")

    def some(n: int) -> list[int]:
        return sorted(rng.sample(range(1, 500), n))

    rig = make_rig(family, "inprocess", cards=120, ribbon=400, reject_capacity=15,
                   jam_at=some(12), cover_open_at=some(10), overheat_at=some(10),
                   false_ribbon_end_at=some(10), garbage_at=some(12), truncate_at=some(12),
                   slow_at=some(4), vanish_at=some(3), vanish_s=0.05, seed=rng.randrange(999))
    issuer = CardIssuer(rig.printer, ledger, "p1")
    results = run_jobs(issuer, rig.model, 500, rng)
    assert rig.model.truth.picked >= 500
    outcomes = {r.outcome for r in results}
    assert {COMPLETE, REJECT, STUCK} <= outcomes
    assert_ledger_matches(ledger, rig.model, 2000)
    conn = open_reader(ledger.state_dir)
    try:
        assert verify(conn).ok
    finally:
        conn.close()


@pytest.mark.parametrize("family", FAMILIES)
def test_cards_over_a_real_pty_match_ground_truth(make_rig: Any, ledger: Ledger,
                                                  family: str) -> None:
    rng = random.Random(f"pty-{family}")
    rig = make_rig(family, "pty", cards=60, jam_at=[5], cover_open_at=[9], garbage_at=[12],
                   vanish_at=[20], vanish_s=0.3, seed=1)
    issuer = CardIssuer(rig.printer, ledger, "p1")
    run_jobs(issuer, rig.model, 40, rng)
    assert_ledger_matches(ledger, rig.model, 2000)


@pytest.mark.parametrize("family", FAMILIES)
def test_recovery_after_a_restart_settles_every_case(make_rig: Any, ledger: Ledger,
                                                     family: str) -> None:
    """What a killed agent leaves: a card picked but never recorded (inside), and an
    earlier job whose card left while the agent was down (only the operator knows
    where that card went: recovering later must not record it as rejected, even on a
    Magicard whose reset answers OK with no card inside)."""
    rig = make_rig(family, "inprocess")
    first = CardIssuer(rig.printer, ledger, "p1")
    assert first.issue("j1", PANELS).outcome == COMPLETE
    ledger.record(model.pick("j2", device="p1", reference="counter=2"))   # card 2 picked ...
    rig.printer.feed()                                                    # ... and gone:
    rig.printer.eject()                                                   # issued, unseen
    rig.printer.feed()               # card 3: picked, the agent died before recording it
    restarted = CardIssuer(rig.printer, ledger, "p1")
    assert restarted.recover_after_restart(["j2"]) == ["j2"]
    b = ledger.balances()
    assert (b.issued, b.spoiled_held, b.in_printer, b.lost) == (1, 1, 1, 0)
    assert restarted.faults.is_active("p1", "job_unresolved")
    assert rig.model.position is None and rig.model.truth.rejected == 1
    conn = open_reader(ledger.state_dir)
    try:
        job = conn.execute("SELECT job_id, reason FROM entries WHERE kind = 'reject'").fetchone()
    finally:
        conn.close()
    assert job == ("recovered:p1:3", "agent_restart")
    for _ in range(3):   # the issuer's retries of stuck cards before each new job
        assert restarted.recover() == "job_unresolved"
    b = ledger.balances()
    assert (b.issued, b.spoiled_held, b.in_printer) == (1, 1, 1)
    assert rig.model.truth.rejected == 1 and "j2" in restarted.stuck
