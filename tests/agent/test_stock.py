"""Stock forecast: the window found by binary search equals a plain scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from station_agent.ledger import Ledger, model
from station_agent.ledger.daily import first_seq_since
from station_agent.ledger.stock import forecast


def test_forecast_counts_the_window_only(ledger: Ledger) -> None:
    ledger.record(model.receive("B1", 100))
    for i in range(10):
        ledger.record(model.pick(f"j{i}"))
        ledger.record(model.complete(f"j{i}"))
    ledger.record(model.write_off_stock(2, "dropped", "w1"))
    b = ledger.balances()
    fc = ledger.read(lambda c: forecast(c, b.stock))
    # 12 blanks used on the ledger's first day: a day's use, not a 24-hour pace.
    assert fc.stock == 88 and abs(fc.rate - 12) < 1e-6
    assert fc.days_left is not None and abs(fc.days_left - 88 / 12) < 1e-6
    # Two and a half days later the ledger is three days old: 12 over 3 days.
    soon = datetime.now(UTC) + timedelta(days=2.5)
    assert abs(ledger.read(lambda c: forecast(c, b.stock, now=soon)).rate - 4) < 1e-6
    later = datetime.now(UTC) + timedelta(days=8)
    assert ledger.read(lambda c: forecast(c, b.stock, now=later)).days_left is None


def test_first_seq_since_matches_a_scan(ledger: Ledger) -> None:
    ledger.record(model.receive("B1", 10))
    for i in range(5):
        ledger.record(model.pick(f"j{i}"))
    rows = ledger.read(lambda c: c.execute("SELECT seq, ts FROM entries").fetchall())
    for _seq, ts in rows:
        for probe in (ts, ts[:-1] + "0Z", "0000", "9999"):
            expected = min([s for s, t in rows if t >= probe], default=len(rows) + 1)
            assert ledger.read(lambda c, p=probe: first_seq_since(c, p)) == expected
