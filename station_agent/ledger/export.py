"""``ledger export``: the full log as CSV or JSON lines, streamed."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from typing import TextIO

from station_agent.ledger.model import ENTRY_COLUMNS
from station_agent.ledger.store import end_read

FORMATS = ("csv", "jsonl")
_FETCH = 10_000


def iter_rows(conn: sqlite3.Connection) -> Iterator[tuple[object, ...]]:
    """Every entry in order, as a tuple in :data:`ENTRY_COLUMNS` order."""
    cur = conn.execute(f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries ORDER BY seq")
    while rows := cur.fetchmany(_FETCH):
        yield from rows


def export(conn: sqlite3.Connection, out: TextIO, fmt: str) -> int:
    """Write every entry to ``out`` in ``fmt`` (csv or jsonl); return the count.

    Runs in one read transaction, so the export is a consistent snapshot.
    CSV has a header row; empty cells are absent values.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    n = 0
    conn.execute("BEGIN")
    try:
        if fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(ENTRY_COLUMNS)
            for row in iter_rows(conn):
                writer.writerow(row)
                n += 1
        else:
            for row in iter_rows(conn):
                out.write(json.dumps(dict(zip(ENTRY_COLUMNS, row, strict=True)),
                                     ensure_ascii=False))
                out.write("\n")
                n += 1
    finally:
        end_read(conn)
    return n
