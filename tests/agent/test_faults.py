"""Fault board: hysteresis, flap detection, listener order, restore after restart."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from station_agent.faults.board import Fault, FaultBoard
from station_agent.faults.hysteresis import CLEAR, RAISE, Debounce, FlapDetector


def test_debounce_needs_runs_of_observations() -> None:
    d = Debounce(raise_after=3, clear_after=2)
    assert [d.observe(b) for b in (True, True, False, True, True, True)] == [
        None, None, None, None, None, RAISE]
    assert [d.observe(b) for b in (False, True, False, False)] == [None, None, None, CLEAR]


def test_a_single_bad_poll_raises_nothing() -> None:
    changes: list[Fault] = []
    board = FaultBoard(changes.append, raise_after=2, clear_after=2)
    for bad in (False, True, False, False, True, False):
        board.observe("evolis-1", "ribbon_out", bad)
    assert changes == []


def test_raise_and_clear_after_the_configured_runs() -> None:
    changes: list[Fault] = []
    board = FaultBoard(changes.append, raise_after=2, clear_after=3)
    board.observe("p", "cover_open", True, "cover sensor open")
    assert not board.is_active("p", "cover_open")
    board.observe("p", "cover_open", True)
    assert board.is_active("p", "cover_open")
    assert changes[-1].message.startswith("cover sensor open; close the printer cover")
    for _ in range(2):
        board.observe("p", "cover_open", False)
    assert board.is_active("p", "cover_open")
    board.observe("p", "cover_open", False)
    assert not board.is_active("p", "cover_open")
    assert [(f.code, f.cleared_at is None) for f in changes] == [
        ("cover_open", True), ("cover_open", False)]


def test_flapping_is_one_fault_marked_flapping_not_a_storm() -> None:
    changes: list[Fault] = []
    board = FaultBoard(changes.append, raise_after=1, clear_after=1)
    for i in range(40):
        board.observe("network", "server_unreachable", i % 2 == 0)
    raises = [f for f in changes if f.cleared_at is None and not f.flapping]
    assert len(raises) <= 5 and board.is_active("network", "server_unreachable")
    assert board.active()[0].flapping
    assert "flapping" in board.active()[0].message
    # Settles (good for a while): flapping stops and the fault clears.
    for _ in range(30):
        board.observe("network", "server_unreachable", False)
    assert not board.is_active("network", "server_unreachable")
    assert changes[-1].cleared_at is not None


def test_flap_percent_matches_nagios_weights() -> None:
    f = FlapDetector()
    for i in range(21):
        f.observe(i % 2 == 0)
    assert abs(f.percent() - 100.0) < 1e-9   # every possible change happened
    g = FlapDetector()
    for bad in [False] * 20 + [True]:
        g.observe(bad)
    assert abs(g.percent() - 6.0) < 1e-9     # one change, the newest: weight 1.2 / 20


def test_restored_fault_clears_when_observed_good() -> None:
    board = FaultBoard(raise_after=2, clear_after=2)
    board.restore([Fault("p", "ribbon_out", "error", "m", "2026-01-01T00:00:00Z")])
    assert board.is_active("p", "ribbon_out")
    board.observe("p", "ribbon_out", False)
    board.observe("p", "ribbon_out", False)
    assert not board.is_active("p", "ribbon_out")


@given(st.lists(st.booleans(), max_size=200), st.integers(1, 4), st.integers(1, 4))
def test_changes_alternate_and_end_in_the_boards_state(obs: list[bool], ra: int,
                                                        ca: int) -> None:
    changes: list[Fault] = []
    board = FaultBoard(changes.append, raise_after=ra, clear_after=ca)
    for bad in obs:
        board.observe("s", "c", bad)
    for before, after in itertools.pairwise(changes):
        if before.cleared_at is not None:
            assert after.cleared_at is None             # a clear is followed by a raise
        elif after.cleared_at is None:
            assert after.raised_at == before.raised_at  # or an update of the same fault
    assert not changes or changes[0].cleared_at is None
    assert board.is_active("s", "c") == bool(changes and changes[-1].cleared_at is None)


def test_a_fault_raised_by_an_event_clears_when_polls_see_it_gone() -> None:
    """A job raises card_jam directly; the poller never saw it bad, yet its good
    polls must clear it (with the usual hysteresis)."""
    board = FaultBoard(raise_after=2, clear_after=2)
    board.raise_fault("p", "card_jam", "job J1: jam")
    board.observe("p", "card_jam", False)
    assert board.is_active("p", "card_jam")
    board.observe("p", "card_jam", False)
    assert not board.is_active("p", "card_jam")
    # And one cleared directly is not re-raised by a poll's stale state.
    board.raise_fault("p", "cover_open")
    board.clear_fault("p", "cover_open")
    board.observe("p", "cover_open", True)
    assert not board.is_active("p", "cover_open")
