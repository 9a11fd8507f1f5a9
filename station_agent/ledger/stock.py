"""Stock forecast: the trailing pick rate and the days of blanks left."""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from station_agent import clock
from station_agent.ledger import model
from station_agent.ledger.daily import first_seq_since

#: Days the rate is averaged over (DESIGN: trailing 7-day rate).
WINDOW_DAYS = 7


@dataclass(frozen=True, slots=True)
class Forecast:
    """``rate`` blanks used per day (picks, whatever their outcome), ``days_left``
    of stock at that rate (None when nothing was used in the window)."""

    stock: int
    rate: float
    days_left: float | None

    def as_dict(self) -> dict[str, object]:
        return {"stock": self.stock, "rate_per_day": round(self.rate, 1),
                "days_left": None if self.days_left is None else round(self.days_left, 1)}

    def describe(self) -> str:
        if self.days_left is None:
            return f"{self.stock:,} blanks left (none used in the last {WINDOW_DAYS} days)"
        return (f"{self.stock:,} blanks left, about {self.days_left:.1f} days at "
                f"{self.rate:.0f} a day")


def forecast(conn: sqlite3.Connection, stock: int, now: datetime | None = None) -> Forecast:
    """The forecast from the ledger's picks (and stock write-offs) in the window.

    The rate divides by the whole window, or by the ledger's age when it is
    younger, counted in whole days (rounded up): an office prints in one shift
    a day, so a young ledger's first hours are that day's use, not a 24-hour
    pace (300 cards in a morning are 300 a day, not 1,200).
    """
    now = now or clock.now()
    since = now - timedelta(days=WINDOW_DAYS)
    since_text = since.isoformat(timespec="seconds").replace("+00:00", "Z")
    first = first_seq_since(conn, since_text)
    used = conn.execute(
        "SELECT COALESCE(SUM(count), 0) FROM entries WHERE seq >= ? AND "
        "(kind = ? OR (kind = ? AND src = ?))",
        (first, model.PICK, model.WRITE_OFF, model.STOCK)).fetchone()[0]
    if not used:
        return Forecast(stock, 0.0, None)
    rate = used / rate_days(conn, now)
    return Forecast(stock, rate, stock / rate if rate > 0 else math.inf)


def rate_days(conn: sqlite3.Connection, now: datetime) -> float:
    """The days a trailing rate divides by: the window, or the ledger's age in whole
    days (rounded up) when it is younger (see :func:`forecast`)."""
    since = now - timedelta(days=WINDOW_DAYS)
    row = conn.execute("SELECT ts FROM entries ORDER BY seq LIMIT 1").fetchone()
    start = since
    if row is not None:
        born = datetime.fromisoformat(str(row[0]).replace("Z", "+00:00"))
        start = max(since, born)
    if start <= since:
        return float(WINDOW_DAYS)
    return max(1.0, math.ceil((now - start).total_seconds() / 86400 - 1e-9))
