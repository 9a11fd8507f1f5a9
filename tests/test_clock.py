"""The agent's wall clock (station_agent/clock.py) and what a clock step does to
the ledger: entry times never run backwards."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from station_agent import clock
from station_agent.ledger import Ledger, model


@pytest.fixture
def skew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``skew(seconds)`` steps the agent's clock (as a campaign does)."""
    path = tmp_path / "skew"
    path.write_text("0")
    monkeypatch.setenv(clock.SKEW_ENV, str(path))

    def step(seconds: float) -> None:
        path.write_text(str(seconds))
        clock._skew["read_at"] = -1e9    # skip the once-a-second cache
    yield step
    clock._skew.update(value=0.0, read_at=-1e9)


def test_no_skew_file_is_the_system_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(clock.SKEW_ENV, raising=False)
    assert abs(clock.time_s() - time.time()) < 1
    assert clock.now().tzinfo is not None


def test_the_skew_file_steps_the_clock(skew) -> None:  # type: ignore[no-untyped-def]
    skew(-7200)
    assert abs(clock.time_s() - (time.time() - 7200)) < 1
    skew(86400)
    assert abs(clock.time_s() - (time.time() + 86400)) < 1
    skew("garbage")   # an unreadable skew is no skew
    assert abs(clock.time_s() - time.time()) < 1


def test_entry_times_never_run_backwards_when_the_clock_is_set_back(
        skew, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with Ledger(tmp_path / "state") as ledger:
        ledger.record(model.receive("B-1", 10))
        skew(3600)                                     # an hour ahead...
        ahead = ledger.record(model.pick("j1", device="p1"))
        skew(-3600)                                    # ...then two hours back
        back = [ledger.record(model.pick(f"j{i}", device="p1")) for i in range(2, 5)]
        skew(0)
        assert all(e.ts == ahead.ts for e in back)     # held at the last time
        times = ledger.read(lambda c: [r[0] for r in c.execute(
            "SELECT ts FROM entries ORDER BY seq")])
    assert times == sorted(times)
