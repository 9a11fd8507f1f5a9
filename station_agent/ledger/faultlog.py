"""Fault and outage history in the state database (tables ``faults``, ``outages``).

Writes run inside the caller's transaction (:meth:`Ledger.write`); reads
take any connection, including a read-only one on a ledger that predates
these tables (then there is simply no history).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from station_agent.clock import now_utc
from station_agent.faults.board import Fault
from station_agent.ledger import outbox

_COLUMNS = "source, code, severity, message, raised_at, cleared_at, flapping"


def store_change(conn: sqlite3.Connection, fault: Fault) -> None:
    """Persist one change seen by a :class:`FaultBoard` listener, and queue it
    for the uplink in the same transaction."""
    if fault.cleared_at is not None:
        conn.execute("UPDATE faults SET cleared_at = ? WHERE source = ? AND code = ? "
                     "AND cleared_at IS NULL", (fault.cleared_at, fault.source, fault.code))
        outbox.add_event(conn, outbox.FAULT_CLEARED, fault.as_dict(), fault.cleared_at)
        return
    cur = conn.execute("UPDATE faults SET flapping = ?, message = ? WHERE source = ? AND "
                       "code = ? AND cleared_at IS NULL",
                       (int(fault.flapping), fault.message, fault.source, fault.code))
    kind = outbox.FAULT_UPDATED
    if cur.rowcount == 0:
        kind = outbox.FAULT_RAISED
        conn.execute(f"INSERT INTO faults ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (fault.source, fault.code, fault.severity, fault.message,
                      fault.raised_at, None, int(fault.flapping)))
    outbox.add_event(conn, kind, fault.as_dict(),
                     fault.raised_at if kind == outbox.FAULT_RAISED else now_utc())


def _has(conn: sqlite3.Connection, table: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                       (table,)).fetchone()
    return row is not None


def _fault(row: tuple[object, ...]) -> Fault:
    source, code, severity, message, raised_at, cleared_at, flapping = row
    return Fault(str(source), str(code), str(severity), str(message), str(raised_at),
                 None if cleared_at is None else str(cleared_at), bool(flapping))


def active_faults(conn: sqlite3.Connection) -> list[Fault]:
    """Faults raised and not cleared, oldest first."""
    if not _has(conn, "faults"):
        return []
    rows = conn.execute(f"SELECT {_COLUMNS} FROM faults WHERE cleared_at IS NULL "
                        "ORDER BY id").fetchall()
    return [_fault(r) for r in rows]


def fault_history(conn: sqlite3.Connection, limit: int = 1000) -> list[Fault]:
    """The latest ``limit`` faults, active or cleared, oldest first."""
    if not _has(conn, "faults"):
        return []
    rows = conn.execute(f"SELECT {_COLUMNS} FROM faults ORDER BY id DESC LIMIT ?",
                        (limit,)).fetchall()
    return [_fault(r) for r in reversed(rows)]


@dataclass(frozen=True, slots=True)
class Outage:
    """The central server unreachable (or a phase failing) from ``started_at``
    (first failed probe) to ``ended_at`` (first good probe; None while ongoing)."""

    phase: str
    started_at: str
    ended_at: str | None
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"phase": self.phase, "started_at": self.started_at,
                "ended_at": self.ended_at, "detail": self.detail}


def start_outage(conn: sqlite3.Connection, phase: str, started_at: str, detail: str) -> None:
    conn.execute("INSERT INTO outages (phase, started_at, detail) VALUES (?, ?, ?)",
                 (phase, started_at, detail))


def end_outages(conn: sqlite3.Connection, ended_at: str) -> None:
    conn.execute("UPDATE outages SET ended_at = ? WHERE ended_at IS NULL", (ended_at,))


def outages(conn: sqlite3.Connection, since: str | None = None) -> list[Outage]:
    """Outages that were ongoing at or after ``since`` (ISO time), oldest first."""
    if not _has(conn, "outages"):
        return []
    rows = conn.execute("SELECT phase, started_at, ended_at, detail FROM outages WHERE "
                        "ended_at IS NULL OR ended_at >= ? ORDER BY id",
                        (since or "",)).fetchall()
    return [Outage(str(p), str(s), None if e is None else str(e), str(d))
            for p, s, e, d in rows]
