"""The daemon's supply desk in-process (fast, beside the pty and CUPS tests): what
a spooled printer's CUPS markers and a driven printer's counters make it say."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.printers import Counters
from station_agent.config import parse_config
from station_agent.daemon.supplies import SupplyDesk, marker_part
from station_agent.events import Bus
from station_agent.faults.board import FaultBoard
from station_agent.faults.reporter import FaultReporter
from station_agent.ledger import Ledger, model

CONFIG = {
    "station": {"id": "t-01"},
    "printer": [{"id": "ev", "url": "serial:///dev/null", "family": "evolis"},
                {"id": "ipp", "queue": "ektp"}],
    "supply": [{"kind": "ribbon-ymcko", "rated_yield": 500, "fits": ["evolis", "ektp"]},
               {"kind": "film-clear", "rated_yield": 1000, "fits": ["ektp"]}],
}


@pytest.fixture
def desk(ledger: Ledger, tmp_path: Path) -> tuple[SupplyDesk, FaultBoard]:
    bus = Bus()
    board = FaultBoard(raise_after=1, clear_after=1)
    board.attach(bus)
    cfg = parse_config(CONFIG, tmp_path / "station.toml")
    return SupplyDesk(cfg, ledger, FaultReporter(bus, board), dict), board


@pytest.mark.parametrize("marker, part", [
    ({"name": "YMCKO ribbon", "type": "ink-ribbon"}, "ribbon"),
    ({"name": "Black", "type": "ribbon-wax"}, "ribbon"),
    ({"name": "Retransfer film", "type": "transfer-unit"}, "film"),
    ({"name": "Cleaning roller", "type": "other"}, "cleaning"),
    ({"name": "Vendor ribbon", "type": None}, "ribbon"),
    ({"name": "Toner", "type": "toner"}, None),
])
def test_markers_are_read_as_supply_parts(marker: dict[str, str], part: str | None) -> None:
    assert marker_part(marker) == part


def test_a_ribbon_level_going_up_asks_for_the_install(desk: tuple[SupplyDesk, FaultBoard]
                                                     ) -> None:
    d, board = desk
    ribbon = {"name": "YMCKO ribbon", "type": "ink-ribbon"}
    d.on_markers("ipp", [{**ribbon, "level": 40}], ended=False)
    d.on_markers("ipp", [{**ribbon, "level": 35}], ended=False)
    assert not board.is_active("ipp", "ribbon_changed")
    d.on_markers("ipp", [{**ribbon, "level": 100}], ended=False)
    assert board.is_active("ipp", "ribbon_changed")
    # Unknown levels (-1, -2, -3) say nothing.
    d.on_markers("ipp", [{**ribbon, "level": -3}], ended=False)


def test_an_ended_ribbon_with_a_level_again_is_a_new_one(desk: tuple[SupplyDesk, FaultBoard]
                                                        ) -> None:
    d, board = desk
    d.on_counters("ev", Counters(cards=10, ribbon_remaining=0), ("ribbon_out",))
    d.on_counters("ev", Counters(cards=10, ribbon_remaining=0), ("ribbon_out",))
    assert not board.is_active("ev", "ribbon_changed")
    d.on_counters("ev", Counters(cards=10, ribbon_remaining=0), ())   # cleared, still empty
    assert not board.is_active("ev", "ribbon_changed")
    d.on_counters("ev", Counters(cards=10, ribbon_remaining=0), ("ribbon_out",))
    d.on_counters("ev", Counters(cards=10, ribbon_remaining=15), ())
    assert board.is_active("ev", "ribbon_changed") and board.is_active("ev", "ribbon_low")


def test_installing_clears_the_prompt_and_the_unrecorded_fault(
        desk: tuple[SupplyDesk, FaultBoard], ledger: Ledger) -> None:
    d, board = desk
    ledger.record(model.receive("K", 10))
    d.receive("ribbon-ymcko", 2, "RB-1", None)
    pick = ledger.record(model.pick("j1", device="ev"))
    d.on_entries([pick])
    assert board.is_active("ev", "supply_unrecorded")
    d.on_counters("ev", Counters(cards=1, ribbon_remaining=10), ())
    d.on_counters("ev", Counters(cards=1, ribbon_remaining=400), ())
    assert board.is_active("ev", "ribbon_changed")
    d.install("ribbon-ymcko", "ev", "R-1", None, "budi")
    assert not board.is_active("ev", "ribbon_changed")
    assert not board.is_active("ev", "supply_unrecorded")
    # The queue needs both a ribbon and a film: one recorded is not enough.
    pick = ledger.record(model.pick("j2", device="ipp"))
    d.install("ribbon-ymcko", "ipp", None, None, None)
    d.on_entries([pick])
    assert board.is_active("ipp", "supply_unrecorded")
    with pytest.raises(Exception, match="does not fit printer ev"):
        d.install("film-clear", "ev", None, None, None)
