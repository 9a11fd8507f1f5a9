"""The event type and the bus, and the fault board as the bus's subscriber."""

from __future__ import annotations

import dataclasses
import time

import pytest

from station_agent.events import (
    CONDITION,
    ENTRIES,
    FAULT_CHANGED,
    FAULT_CLEARED,
    FAULT_RAISED,
    Bus,
    Event,
)
from station_agent.faults.board import Fault, FaultBoard
from station_agent.faults.reporter import FaultReporter


def test_an_event_is_frozen_and_its_payload_read_only() -> None:
    payload = {"code": "card_jam"}
    e = Event("evolis-1", FAULT_RAISED, payload)
    payload["code"] = "changed"           # the caller's dict is copied
    assert e["code"] == "card_jam" and e.get("missing", 7) == 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.kind = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        e.payload["code"] = "x"  # type: ignore[index]
    assert e.at.endswith("Z") and abs(e.time - time.time()) < 60


def test_subscribers_see_their_kinds_in_subscription_order() -> None:
    bus, seen = Bus(), []
    bus.subscribe(lambda e: seen.append(("all", e.kind)))
    bus.subscribe(lambda e: seen.append(("entries", e.kind)), ENTRIES)
    bus.emit("ledger", ENTRIES, entries=())
    bus.emit("evolis-1", FAULT_RAISED, code="card_jam")
    assert seen == [("all", ENTRIES), ("entries", ENTRIES), ("all", FAULT_RAISED)]


def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    errors: list[tuple[str, str]] = []
    bus, seen = Bus(on_error=lambda e, exc: errors.append((e.kind, str(exc)))), []

    def broken(_e: Event) -> None:
        raise RuntimeError("disk gone")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    event = bus.emit("ledger", ENTRIES, entries=())
    assert seen == [event] and errors == [(ENTRIES, "disk gone")]


def test_a_bus_without_an_error_handler_raises() -> None:
    bus = Bus()
    bus.subscribe(lambda e: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        bus.emit("ledger", ENTRIES, entries=())


def test_an_unknown_kind_is_refused_at_subscription() -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        Bus().subscribe(print, "fault")


def test_the_board_applies_hysteresis_to_conditions_from_the_bus() -> None:
    bus = Bus()
    board = FaultBoard(raise_after=2, clear_after=2)
    board.attach(bus)
    changes: list[Fault] = []
    bus.subscribe(lambda e: changes.append(e["fault"]), FAULT_CHANGED)
    faults = FaultReporter(bus, board)

    faults.observe("network", "server_unreachable", True, "timeout")
    assert not faults.is_active("network", "server_unreachable")   # one bad poll: not yet
    faults.observe("network", "server_unreachable", True, "timeout")
    assert faults.is_active("network", "server_unreachable")
    faults.observe("network", "server_unreachable", False)
    assert faults.is_active("network", "server_unreachable")       # one good poll: not yet
    faults.observe("network", "server_unreachable", False)
    assert not faults.is_active("network", "server_unreachable")
    assert [(f.code, f.cleared_at is not None) for f in changes] == [
        ("server_unreachable", False), ("server_unreachable", True)]


def test_events_raise_and_clear_at_once_and_overrides_apply() -> None:
    bus = Bus()
    board = FaultBoard(raise_after=3, clear_after=3)
    board.attach(bus)
    bus.emit("evolis-1", FAULT_RAISED, code="card_jam", detail="jam at the print head")
    assert board.is_active("evolis-1", "card_jam")
    assert "jam at the print head" in board.active("evolis-1")[0].message
    bus.emit("evolis-1", FAULT_CLEARED, code="card_jam")
    assert not board.is_active("evolis-1", "card_jam")
    bus.emit("uplink", CONDITION, code="uplink_down", bad=True, detail="refused",
             raise_after=1, clear_after=1)
    assert board.is_active("uplink", "uplink_down")
