"""The job log: card jobs as the operator sees them (``station-agent jobs``).

One row per job, whatever its source: ``driven`` (the agent drove the
printer), ``spooler`` (a CUPS job through the ``station`` backend; one job may
print several cards, each its own ledger job ``<job>/<attempt>.<n>``) or
``reported`` (the issuing application reported each step through the API).
The rows live in the state database beside the ledger but outside its hash
chain: the ledger's entries are the blanks' truth, this is their context.
Functions take a connection inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

DRIVEN, SPOOLER, REPORTED = "driven", "spooler", "reported"
SOURCES: Final = (DRIVEN, SPOOLER, REPORTED)
_COLUMNS = ("job_id", "source", "printer", "queue", "cards", "picked", "attempts", "state",
            "created_at", "ended_at", "counter_verified", "detail")


def note(conn: sqlite3.Connection, job_id: str, source: str, *, printer: str | None,
         queue: str | None = None, cards: int = 1, state: str = "started",
         created_at: str) -> None:
    """Insert the job if it is new (a replayed job keeps its first row)."""
    conn.execute(
        "INSERT INTO job_log (job_id, source, printer, queue, cards, state, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (job_id, source, printer, queue, cards, state, created_at))


def update(conn: sqlite3.Connection, job_id: str, **fields: Any) -> None:
    """Set some columns of a job's row."""
    bad = set(fields) - set(_COLUMNS)
    if bad:
        raise ValueError(f"unknown job log columns {sorted(bad)}")
    sets = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE job_log SET {sets} WHERE job_id = ?", (*fields.values(), job_id))


def get(conn: sqlite3.Connection, job_id: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM job_log WHERE job_id = ?",
                       (job_id,)).fetchone()
    return None if row is None else dict(zip(_COLUMNS, row, strict=True))


def _card_rows(conn: sqlite3.Connection, where: str, args: tuple[Any, ...]
               ) -> list[tuple[Any, ...]]:
    """Ledger jobs (cards) with their pick's device and time, outcome, category, void."""
    return conn.execute(
        "SELECT j.job_id, p.device, p.ts, j.outcome, o.category, o.reason, j.void_seq, "
        "v.category FROM jobs j JOIN entries p ON p.seq = j.pick_seq "
        "LEFT JOIN entries o ON o.seq = j.outcome_seq "
        "LEFT JOIN entries v ON v.seq = j.void_seq " + where, args).fetchall()


def _card(r: tuple[Any, ...]) -> dict[str, Any]:
    outcome = {"complete": "issued", "reject": "spoiled", "write_off": "lost"}.get(r[3])
    if r[6] is not None:
        outcome = "voided"
    return {"card_job": r[0], "outcome": outcome, "category": r[7] or r[4],
            "reason": r[5]}


def listing(conn: sqlite3.Connection, *, day_start: str | None = None,
            day_end: str | None = None, open_only: bool = False) -> list[dict[str, Any]]:
    """Every job (from the job log, and ledger jobs it does not know as ``reported``),
    oldest first, with its cards' outcomes."""
    logged = {r[0]: dict(zip(_COLUMNS, r, strict=True)) for r in conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM job_log").fetchall()}
    cards: dict[str, list[dict[str, Any]]] = {}
    started: dict[str, tuple[str, str | None]] = {}
    for r in _card_rows(conn, "ORDER BY j.pick_seq", ()):
        parent = r[0].split("/", 1)[0] if r[0].split("/", 1)[0] in logged else r[0]
        cards.setdefault(parent, []).append(_card(r))
        started.setdefault(parent, (r[2], r[1]))
    out: list[dict[str, Any]] = []
    for job_id in {*logged, *cards}:
        row = logged.get(job_id)
        ts, device = started.get(job_id, ("", None))
        doc: dict[str, Any] = {
            "job_id": job_id,
            "source": row["source"] if row else REPORTED,
            "printer": row["printer"] if row else device,
            "queue": row["queue"] if row else None,
            "created_at": row["created_at"] if row else ts,
            "ended_at": row["ended_at"] if row else None,
            "cards": len(cards.get(job_id, [])),
            "counter_verified": (None if row is None or row["counter_verified"] is None
                                 else bool(row["counter_verified"])),
            "detail": row["detail"] if row else "",
        }
        card_list = cards.get(job_id, [])
        doc["open"] = any(c["outcome"] is None for c in card_list) or (
            row is not None and row["state"] in _UNFINISHED
            and (row["source"] == SPOOLER or not card_list))
        doc["state"] = _state(row, card_list)
        doc["outcome"] = _outcome(card_list)
        cats = sorted({c["category"] for c in card_list if c["category"]})
        doc["category"] = cats[0] if len(cats) == 1 else (cats or None)
        doc["card_jobs"] = card_list
        out.append(doc)
    out.sort(key=lambda d: (d["created_at"] or "", d["job_id"]))
    if day_start is not None and day_end is not None:
        out = [d for d in out if day_start <= (d["created_at"] or "") < day_end]
    if open_only:
        out = [d for d in out if d["open"]]
    return out


#: Job log states of a job whose cards are not all known yet.
_UNFINISHED = ("started", "printing", "awaiting_counter")


def _state(row: dict[str, Any] | None, cards: list[dict[str, Any]]) -> str:
    """``open`` while a card's fate is unknown; a spooled job's own state (printing,
    completed, failed ...); ``done`` for a driven or reported job whose cards are
    settled."""
    if any(c["outcome"] is None for c in cards):
        return "open"
    if row is None or (row["source"] != SPOOLER and cards):
        return "done"
    return str(row["state"])


def _outcome(cards: list[dict[str, Any]]) -> str | None:
    outcomes = {c["outcome"] for c in cards}
    if not cards or None in outcomes:
        return None
    return str(outcomes.pop()) if len(outcomes) == 1 else "mixed"


def for_day(conn: sqlite3.Connection, date: str | None, open_only: bool) -> list[dict[str, Any]]:
    """:func:`listing` of one of the office's days (``YYYY-MM-DD``, midnight to
    midnight in this process's time zone, the office's), or of all days."""
    if date is None:
        return listing(conn, open_only=open_only)
    import datetime as dt

    from station_agent.ledger.daily import ts_text

    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise ValueError(f"date {date[:20]!r} is not a date: use YYYY-MM-DD") from None
    start = dt.datetime.combine(day, dt.time(0)).astimezone()
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0)).astimezone()
    return listing(conn, day_start=ts_text(start), day_end=ts_text(end), open_only=open_only)
