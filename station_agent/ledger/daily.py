"""Figures of one day (or any period) from the ledger: how many blanks each
kind of transfer moved.

Entries are appended in time order, so the first entry of a period is found
by a binary search on the entry number (O(log n)) and only the period's
entries are summed, however long the log.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, time

from station_agent import clock
from station_agent.ledger import model


def ts_text(moment: datetime) -> str:
    """An aware ``moment`` as the ledger writes timestamps (UTC, ``Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def first_seq_since(conn: sqlite3.Connection, since: str) -> int:
    """The first entry at or after ``since`` (a binary search on the entry number,
    since entries are appended in time order; a clock set back can blur the edge
    by a few entries)."""
    hi = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()[0] + 1
    lo = 1
    while lo < hi:
        mid = (lo + hi) // 2
        row = conn.execute("SELECT ts FROM entries WHERE seq = ?", (mid,)).fetchone()
        if row is not None and str(row[0]) < since:
            lo = mid + 1
        else:
            hi = mid
    return lo


def totals_since(conn: sqlite3.Connection, since: str) -> dict[str, int]:
    """Blanks moved per transfer kind by the entries at or after ``since``."""
    first = first_seq_since(conn, since)
    rows = conn.execute("SELECT kind, COALESCE(SUM(count), 0) FROM entries WHERE seq >= ? "
                        "GROUP BY kind", (first,)).fetchall()
    out = dict.fromkeys(model.KINDS, 0)
    out.update({str(k): int(n) for k, n in rows})
    return out


def local_midnight(now: datetime | None = None) -> datetime:
    """The start of the station's local day (the office's calendar day)."""
    local = (now or clock.local_now()).astimezone()
    return datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)


def today(conn: sqlite3.Connection, now: datetime | None = None) -> dict[str, object]:
    """Today's figures (local day): picked, issued, spoiled, lost."""
    start = local_midnight(now)
    t = totals_since(conn, ts_text(start))
    return {"date": start.date().isoformat(), "picked": t[model.PICK],
            "issued": t[model.COMPLETE], "spoiled": t[model.REJECT],
            "voided": t[model.VOID], "lost": t[model.WRITE_OFF],
            "received": t[model.RECEIVE], "disposed": t[model.DISPOSE]}

