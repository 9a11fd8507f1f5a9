"""The notification queue in the state database (table ``notifications``; the
notifier in :mod:`station_agent.notify` fills and drains it).

One row per notification and channel. A notification's id is its
deduplication key (``stock_low:2026-11-28``, ``fault:evolis-1:card_jam:<raised
at>``): enqueuing it again changes nothing, so a trigger seen twice (after a
restart, say) is told once. A row is delivered at least once: it is marked
sent only after its channel accepted it, and retried with backoff until then.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

_COLUMNS = "id, channel, code, created_at, doc, attempts, next_at, sent_at, last_error"


@dataclass(frozen=True, slots=True)
class Queued:
    """One notification waiting for (or delivered to) one channel."""

    id: str
    channel: str
    code: str
    created_at: str
    doc: dict[str, Any]
    attempts: int
    next_at: str
    sent_at: str | None
    last_error: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "channel": self.channel, "code": self.code,
                "created_at": self.created_at, "attempts": self.attempts,
                "next_at": self.next_at, "sent_at": self.sent_at,
                "last_error": self.last_error, "subject": self.doc.get("subject")}


def _row(r: tuple[Any, ...]) -> Queued:
    return Queued(str(r[0]), str(r[1]), str(r[2]), str(r[3]), json.loads(r[4]), int(r[5]),
                  str(r[6]), None if r[7] is None else str(r[7]), str(r[8]))


def exists(conn: sqlite3.Connection, notification_id: str) -> bool:
    """Whether ``notification_id`` was ever enqueued."""
    return conn.execute("SELECT 1 FROM notifications WHERE id = ? LIMIT 1",
                        (notification_id,)).fetchone() is not None


def last_of_code(conn: sqlite3.Connection, code: str) -> str | None:
    """When a notification of ``code`` was last enqueued (ISO UTC), or None."""
    row = conn.execute("SELECT MAX(created_at) FROM notifications WHERE code = ?",
                       (code,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def enqueue(conn: sqlite3.Connection, doc: dict[str, Any], channels: tuple[str, ...],
            now: str) -> bool:
    """Queue ``doc`` (with ``id``, ``code``) for each channel; False when its id was
    queued before (nothing changes)."""
    if exists(conn, doc["id"]):
        return False
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    conn.executemany(
        "INSERT OR IGNORE INTO notifications (id, channel, code, created_at, doc, next_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(doc["id"], ch, doc["code"], now, body, now) for ch in channels])
    return True


def due(conn: sqlite3.Connection, channel: str, now: str, limit: int = 20) -> list[Queued]:
    """Undelivered rows of ``channel`` whose next try is due, oldest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM notifications WHERE channel = ? AND "
                        "sent_at IS NULL AND next_at <= ? ORDER BY created_at, id LIMIT ?",
                        (channel, now, limit)).fetchall()
    return [_row(r) for r in rows]


def mark_sent(conn: sqlite3.Connection, notification_id: str, channel: str, at: str) -> None:
    conn.execute("UPDATE notifications SET sent_at = ?, attempts = attempts + 1, "
                 "last_error = '' WHERE id = ? AND channel = ?", (at, notification_id, channel))


def mark_failed(conn: sqlite3.Connection, notification_id: str, channel: str, error: str,
                next_at: str) -> None:
    conn.execute("UPDATE notifications SET attempts = attempts + 1, last_error = ?, "
                 "next_at = ? WHERE id = ? AND channel = ?",
                 (error[:300], next_at, notification_id, channel))


def listing(conn: sqlite3.Connection, limit: int = 200) -> list[Queued]:
    """The latest rows, newest first (``station-agent notify --json``)."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM notifications ORDER BY created_at DESC, id "
                        "LIMIT ?", (limit,)).fetchall()
    return [_row(r) for r in rows]


def pending_count(conn: sqlite3.Connection) -> int:
    """Rows not delivered yet."""
    return int(conn.execute("SELECT count(*) FROM notifications WHERE sent_at IS NULL"
                            ).fetchone()[0])
