"""Chip checks in the issuing flow: the printer simulator parks each blank at its
encoder station, the card simulator puts that blank's chip in the reader's field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.printers import Printer, open_printer, printer_class
from drivers.readers.fake import FakeReader
from drivers.readers.pcsc import PcscReader
from drivers.transports.link import Link
from simulators.cards import VpcdSlot
from simulators.cards.pcscd import READER_NAMES
from simulators.cards.sequence import CardSequence
from simulators.devices import SimTransport
from simulators.printers import build_simulator
from simulators.printers.serve import PtyServer
from simulators.station.operator import PANELS
from station_agent.faults.board import FaultBoard
from station_agent.issuing.chipcheck import ChipChecker
from station_agent.issuing.driven import COMPLETE, REJECT, CardIssuer
from station_agent.ledger import Ledger, model


def _run(printer: Printer, sim: Any, reader: Any, cards: CardSequence, ledger: Ledger,
         jobs: int, timeout: float) -> list[Any]:
    faults = FaultBoard()
    checker = ChipChecker(reader, faults, "encoder-1", timeout=timeout, alarm_after=99)
    issuer = CardIssuer(printer, ledger, "evolis-1", faults=faults, chip_check=checker)
    ledger.record(model.receive("batch-1", jobs))
    return [issuer.issue(f"job-{n}", PANELS) for n in range(jobs)]


def _assert_exact(results: list[Any], sim: Any, cards: CardSequence, ledger: Ledger) -> None:
    b = ledger.balances()
    truth = sim.model.truth
    rejected = [r for r in results if r.outcome == REJECT]
    assert {r.outcome for r in results} <= {COMPLETE, REJECT}
    assert all(r.reason == "chip_failed" for r in rejected)
    assert (b.issued, b.spoiled_held, b.in_printer) == (truth.issued, truth.rejected, 0)
    assert truth.picked == len(results) == b.issued + b.spoiled_held
    assert len(rejected) == len(cards.dead_cards)  # exactly the dead chips were spoiled


def test_200_cards_with_5_percent_dead_chips_through_pcscd(
        slots: tuple[VpcdSlot, VpcdSlot], tmp_path: Path) -> None:
    sim = build_simulator("evolis", cards=250)
    cards = CardSequence(slots[0], dead_rate=0.05, seed=11).attach(sim.model)
    with PtyServer(sim, link=tmp_path / "evolis") as server, \
            open_printer(server.url, "evolis", timeout=1) as printer, \
            PcscReader(f"pcsc://{READER_NAMES[0]}") as reader, Ledger(tmp_path / "s") as ledger:
        results = _run(printer, sim, reader, cards, ledger, 200, timeout=1.5)
        _assert_exact(results, sim, cards, ledger)
        print(f"\n200 cards: {len(cards.dead_cards)} dead chips rejected, "
              f"{reader.transient_errors} transient reader errors retried")
    assert cards.dead_cards, "the seed gave no dead chip: the test would prove nothing"


def test_500_cards_with_dead_and_flaky_chips_in_process(tmp_path: Path) -> None:
    """The same flow with the in-process printer and fake reader: fast, many seeds."""
    for seed in range(3):
        sim = build_simulator("evolis", cards=600, seed=seed)
        reader = FakeReader()
        cards = CardSequence(reader, dead_rate=0.05, flaky_rate=0.1,
                             seed=seed).attach(sim.model)
        printer = printer_class("evolis")(Link(SimTransport("sim://evolis", sim)), timeout=0.3)
        with Ledger(tmp_path / f"s{seed}") as ledger:
            results = _run(printer, sim, reader, cards, ledger, 500, timeout=0.01)
            _assert_exact(results, sim, cards, ledger)
        assert reader.transient_errors > 0  # flaky chips were retried, not spoiled


def test_chip_unreadable_raised_after_failures_in_a_row_and_cleared(tmp_path: Path) -> None:
    sim = build_simulator("evolis", cards=20)
    reader = FakeReader()
    cards = CardSequence(reader, seed=1).attach(sim.model)
    for n in range(1, 4):
        cards.cards[n] = cards.card(n)
        cards.cards[n].profile = "dead"
    printer = printer_class("evolis")(Link(SimTransport("sim://evolis", sim)), timeout=0.3)
    faults = FaultBoard()
    checker = ChipChecker(reader, faults, "encoder-1", timeout=0.01, alarm_after=3)
    with Ledger(tmp_path / "s") as ledger:
        ledger.record(model.receive("b", 20))
        issuer = CardIssuer(printer, ledger, "evolis-1", faults=faults, chip_check=checker)
        outcomes = [issuer.issue(f"j{n}", PANELS).outcome for n in range(3)]
        assert outcomes == [REJECT] * 3
        assert faults.is_active("encoder-1", "chip_unreadable")
        assert issuer.issue("j3", PANELS).outcome == COMPLETE
        assert not faults.is_active("encoder-1", "chip_unreadable")


def test_a_reader_outage_blocks_issuing_instead_of_spoiling_blanks(tmp_path: Path) -> None:
    sim = build_simulator("evolis", cards=5)
    printer = printer_class("evolis")(Link(SimTransport("sim://evolis", sim)), timeout=0.3)
    reader = PcscReader("pcsc://No Such Reader Anywhere")
    faults = FaultBoard()
    with Ledger(tmp_path / "s") as ledger:
        ledger.record(model.receive("b", 5))
        issuer = CardIssuer(printer, ledger, "evolis-1", faults=faults,
                            chip_check=ChipChecker(reader, faults, "encoder-1"))
        r = issuer.issue("j1", PANELS)
        assert (r.outcome, r.fault) in {("not_started", "reader_missing"),
                                        ("not_started", "pcsc_service_down")}
        assert sim.model.truth.picked == 0 and ledger.balances().stock == 5
    reader.close()
