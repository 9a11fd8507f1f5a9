"""The outbox: events waiting to be sent upstream (table ``outbox``).

Store-and-forward starts here. Every event the uplink must deliver (each
ledger entry, each fault raise/clear) gets an outbox row **in the same
transaction** as the event itself, so an event is either recorded and queued
or neither: a crash can lose the send, never the event. The uplink relay
(:mod:`station_agent.uplink.relay`) reads rows in ``seq`` order, publishes
them and marks them sent when the broker acknowledges them; rows sent long
ago are pruned, unsent ones are kept however long the link is down.

``seq`` is the station's event number: 1, 2, 3 ... with no gaps, so the
receiver can tell a duplicate (seq seen before) from a loss (seq skipped).
A ledger entry's row keeps only the entry's number (the entry is the
body); other events keep their JSON body.

Every function runs on the caller's connection and, for writes, inside the
caller's write transaction (:meth:`Ledger.write` or the ledger's own commit).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from station_agent.ledger.model import ENTRY_COLUMNS, Entry

#: Event types carried by outbox rows.
LEDGER_ENTRY = "ledger_entry"
FAULT_RAISED = "fault_raised"
FAULT_UPDATED = "fault_updated"
FAULT_CLEARED = "fault_cleared"

#: Sent rows kept for inspection before they are pruned.
KEEP_SENT = 1000

_SELECT = (
    "SELECT o.seq, o.created_at, o.chain_head, o.body, "
    + ", ".join(f"e.{c}" for c in ENTRY_COLUMNS)
    + " FROM outbox o LEFT JOIN entries e ON e.seq = o.entry_seq"
)


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One queued event: ``seq`` (station event number), ``type``, when it was
    recorded, the ledger's chain head just after it, and the event itself."""

    seq: int
    type: str
    created_at: str
    chain_head: str
    event: dict[str, Any]


def has_outbox(conn: sqlite3.Connection) -> bool:
    """True when the ledger file has an outbox (schema 3 and later)."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'"
                       ).fetchone()
    return row is not None


def add_entries(conn: sqlite3.Connection, after_seq: int) -> None:
    """Queue every ledger entry numbered above ``after_seq`` (those appended
    by the current transaction), in entry order: one statement per commit."""
    conn.execute("INSERT INTO outbox (created_at, entry_seq, chain_head) "
                 "SELECT ts, seq, hash FROM entries WHERE seq > ? ORDER BY seq", (after_seq,))


def add_event(conn: sqlite3.Connection, type_: str, event: dict[str, Any],
              created_at: str) -> None:
    """Queue an event that is not a ledger entry; its chain head is the
    ledger's head at the time (read in the same transaction)."""
    body = json.dumps({"type": type_, "event": event}, separators=(",", ":"))
    conn.execute("INSERT INTO outbox (created_at, chain_head, body) "
                 "SELECT ?, head_hash, ? FROM state", (created_at, body))


def pending(conn: sqlite3.Connection, after: int, limit: int) -> list[OutboxEvent]:
    """Up to ``limit`` unsent events numbered above ``after``, oldest first."""
    rows = conn.execute(f"{_SELECT} WHERE o.seq > ? AND o.sent_at IS NULL "
                        "ORDER BY o.seq LIMIT ?", (after, limit)).fetchall()
    return [_event(r) for r in rows]


def _event(row: tuple[Any, ...]) -> OutboxEvent:
    seq, created_at, chain_head, body = row[:4]
    if body is None:
        entry = Entry(*row[4:])
        return OutboxEvent(seq, LEDGER_ENTRY, created_at, chain_head, entry.as_dict())
    doc = json.loads(body)
    return OutboxEvent(seq, doc["type"], created_at, chain_head, doc["event"])


def mark_sent(conn: sqlite3.Connection, seqs: Iterable[int], at: str) -> int:
    """Mark events acknowledged by the broker; prune sent rows beyond the
    newest :data:`KEEP_SENT`. Returns how many rows were newly marked."""
    marked = 0
    for seq in seqs:
        marked += conn.execute("UPDATE outbox SET sent_at = ? WHERE seq = ? AND sent_at IS NULL",
                               (at, seq)).rowcount
    if marked and _counts_sent(conn):
        conn.execute("UPDATE state SET outbox_sent = outbox_sent + ?", (marked,))
    # Everything below the oldest unsent row, except the newest KEEP_SENT.
    conn.execute("DELETE FROM outbox WHERE seq < ? AND sent_at IS NOT NULL",
                 (_oldest_unsent(conn) - KEEP_SENT,))
    return marked


def _oldest_unsent(conn: sqlite3.Connection) -> int:
    """The number of the oldest unsent event, or one past the newest event when all
    are sent. Walks the outbox in seq order from its start: below the oldest unsent
    row there are only the sent rows kept for inspection (:data:`KEEP_SENT`) and
    those acknowledged ahead of it, so the walk is short without an index."""
    row = conn.execute("SELECT seq FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 1"
                       ).fetchone()
    if row is not None:
        return int(row[0])
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox").fetchone()[0])


@dataclass(frozen=True, slots=True)
class Backlog:
    """Unsent events: how many, the oldest one's time, and the newest event number."""

    count: int
    oldest: str | None
    last_seq: int

    def as_dict(self) -> dict[str, Any]:
        return {"backlog": self.count, "oldest_unsent": self.oldest, "last_seq": self.last_seq}


def backlog(conn: sqlite3.Connection) -> Backlog:
    """The backlog (zero on a ledger without an outbox): the newest event number
    minus the events ever acknowledged (schema 7 keeps that count), so it costs
    a few row reads however long the link has been down."""
    if not has_outbox(conn):
        return Backlog(0, None, 0)
    first = conn.execute("SELECT seq, created_at FROM outbox WHERE sent_at IS NULL "
                         "ORDER BY seq LIMIT 1").fetchone()
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    last = int(row[0]) if row else 0
    count, oldest = 0, None
    if first is not None:
        oldest = first[1]
        if _counts_sent(conn):
            (sent,) = conn.execute("SELECT outbox_sent FROM state").fetchone()
            count = last - int(sent)
        else:   # a ledger not yet upgraded, read by an older-schema reader
            (count,) = conn.execute("SELECT count(*) FROM outbox WHERE seq >= ? AND "
                                    "sent_at IS NULL", (first[0],)).fetchone()
    return Backlog(int(count), oldest, last)


def _counts_sent(conn: sqlite3.Connection) -> bool:
    """Whether the state row keeps ``outbox_sent`` (schema 7 and later)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0]) >= 7
