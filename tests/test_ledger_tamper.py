"""Tampering with the ledger file is detected by ``ledger verify``.

The tamperer here has the file and SQLite, drops the append-only triggers
and edits rows. Changing any column of any entry, deleting entries, or
editing the stored state is detected and the first broken entry named. The
only edit that passes is a consistent rewrite of the chain from the edited
entry to the head, including the head and the state row; a chain head
witnessed before the rewrite (``--expect-head``) catches that too.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from station_agent.ledger import Ledger, model, open_reader, verify
from station_agent.ledger.chain import entry_hash
from station_agent.ledger.model import ENTRY_COLUMNS
from station_agent.ledger.store import ledger_path

N_JOBS = 6


def _fill(state_dir: Path) -> int:
    with Ledger(state_dir) as led:
        led.record(model.receive("B1", 20, first_serial="KTP0001"))
        for i in range(N_JOBS):
            led.record(model.pick(f"j{i}", device="evolis-1"))
            if i % 3 == 2:
                led.record(model.reject(f"j{i}", "chip_failed"))
            else:
                led.record(model.complete(f"j{i}"))
        led.record(model.dispose(1, "BA-1"))
        led.adjust(-1, "count", "adj-1")
        return led.balances().entries


def _open_rw(state_dir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(ledger_path(state_dir), isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS entries_no_update")
    conn.execute("DROP TRIGGER IF EXISTS entries_no_delete")
    return conn


def _verify(state_dir: Path, expect: tuple[int, str] | None = None):  # type: ignore[no-untyped-def]
    conn = open_reader(state_dir)
    try:
        return verify(conn, expect=expect)
    finally:
        conn.close()


def _changed(value: object, column: str) -> object:
    if column == "seq":
        return 10_000
    if column == "count":
        return int(value) + 1  # type: ignore[call-overload]
    if value is None:
        return "x"
    return str(value)[:-1] + ("0" if str(value)[-1] != "0" else "1")


@pytest.fixture
def filled(state_dir: Path) -> tuple[Path, int]:
    return state_dir, _fill(state_dir)


def test_untouched_ledger_verifies(filled: tuple[Path, int]) -> None:
    state_dir, n = filled
    report = _verify(state_dir)
    assert report.ok and report.entries == n and report.first_break is None


def test_direct_updates_are_refused_by_the_triggers(filled: tuple[Path, int]) -> None:
    state_dir, _ = filled
    conn = sqlite3.connect(ledger_path(state_dir))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE entries SET count = 5 WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM entries WHERE seq = 2")
    conn.close()


@pytest.mark.parametrize("column", ENTRY_COLUMNS)
@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_changing_any_column_of_any_entry_is_detected(
        filled: tuple[Path, int], column: str, which: str) -> None:
    state_dir, n = filled
    seq = {"first": 1, "middle": n // 2, "last": n}[which]
    conn = _open_rw(state_dir)
    value = conn.execute(f"SELECT {column} FROM entries WHERE seq = ?", (seq,)).fetchone()[0]
    conn.execute(f"UPDATE entries SET {column} = ? WHERE seq = ?", (_changed(value, column), seq))
    conn.close()
    report = _verify(state_dir)
    assert not report.ok
    assert report.first_break == seq, report.problems


@pytest.mark.parametrize("which", ["last", "middle"])
def test_deleting_an_entry_is_detected(filled: tuple[Path, int], which: str) -> None:
    state_dir, n = filled
    seq = n if which == "last" else 4
    conn = _open_rw(state_dir)
    conn.execute("DELETE FROM entries WHERE seq = ?", (seq,))
    conn.close()
    report = _verify(state_dir)
    assert not report.ok and report.first_break == seq


def test_editing_the_stored_balances_is_detected(filled: tuple[Path, int]) -> None:
    state_dir, _ = filled
    conn = _open_rw(state_dir)
    conn.execute("UPDATE state SET stock = stock + 5, lost = lost - 5")
    conn.close()
    report = _verify(state_dir)
    assert not report.ok
    assert any("stock" in p for p in report.problems)


def test_deleting_last_entry_and_moving_the_head_still_leaves_the_state(
        filled: tuple[Path, int]) -> None:
    state_dir, n = filled
    conn = _open_rw(state_dir)
    prev = conn.execute("SELECT hash FROM entries WHERE seq = ?", (n - 1,)).fetchone()[0]
    conn.execute("DELETE FROM entries WHERE seq = ?", (n,))
    conn.execute("UPDATE state SET head_seq = ?, head_hash = ?", (n - 1, prev))
    conn.close()
    report = _verify(state_dir)
    assert not report.ok  # the state row still counts the deleted adjustment
    assert any("stock" in p or "adjust" in p for p in report.problems)


def _rewrite_from(conn: sqlite3.Connection, start: int) -> None:
    """What a tamperer must do: rehash every entry from ``start`` and fix head and state."""
    cols = ", ".join(ENTRY_COLUMNS)
    rows = conn.execute(f"SELECT {cols} FROM entries WHERE seq >= ? ORDER BY seq",
                        (start,)).fetchall()
    prev = conn.execute("SELECT hash FROM entries WHERE seq = ?", (start - 1,)).fetchone()[0]
    for row in rows:
        values = (*row[:13], prev)
        category = row[ENTRY_COLUMNS.index("category")]
        prev = entry_hash(values if category is None else (*values, category))
        conn.execute("UPDATE entries SET prev_hash = ?, hash = ? WHERE seq = ?",
                     (values[13], prev, row[0]))
    last = conn.execute("SELECT max(seq) FROM entries").fetchone()[0]
    conn.execute("UPDATE state SET head_seq = ?, head_hash = ?", (last, prev))


def test_only_a_consistent_rewrite_hides_an_edit_and_a_witness_catches_it(
        filled: tuple[Path, int]) -> None:
    state_dir, n = filled
    witnessed = (n, _verify(state_dir).chain_head or "")
    # Turn a rejected card (spoiled_held) into an issued one: change kind, route, reason.
    conn = _open_rw(state_dir)
    seq = conn.execute("SELECT seq FROM entries WHERE kind = 'reject' ORDER BY seq "
                       "LIMIT 1").fetchone()[0]
    conn.execute("UPDATE entries SET kind = 'complete', dst = 'issued', reason = NULL, "
                 "category = NULL WHERE seq = ?", (seq,))
    conn.execute("UPDATE jobs SET outcome = 'complete' WHERE outcome_seq = ?", (seq,))
    conn.execute("UPDATE state SET spoiled_held = spoiled_held - 1, issued = issued + 1, "
                 "total_reject = total_reject - 1, total_complete = total_complete + 1")

    # Rehashing only the edited entry is not enough: the next entry's prev_hash breaks.
    row = conn.execute(f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries WHERE seq = ?",
                       (seq,)).fetchone()
    conn.execute("UPDATE entries SET hash = ? WHERE seq = ?", (entry_hash(row[:14]), seq))
    assert _verify(state_dir).first_break == seq + 1

    # Rehashing the rest but not the head: the head breaks.
    conn.execute("SAVEPOINT s")
    _rewrite_from(conn, seq)
    head = conn.execute("SELECT head_hash FROM state").fetchone()[0]
    conn.execute("UPDATE state SET head_hash = ?", ("0" * 64,))
    conn.execute("RELEASE s")
    assert _verify(state_dir).first_break == n
    conn.execute("UPDATE state SET head_hash = ?", (head,))
    conn.close()

    # The full consistent rewrite passes the file-only check ...
    assert _verify(state_dir).ok
    # ... but not against the chain head witnessed before the edit.
    report = _verify(state_dir, expect=witnessed)
    assert not report.ok
    assert any("witnessed" in p for p in report.problems)


def test_cli_verify_reports_the_broken_entry(filled: tuple[Path, int], cli) -> None:  # type: ignore[no-untyped-def]
    state_dir, n = filled
    ok = cli("ledger", "verify", "--json")
    assert ok.code == 0
    doc = json.loads(ok.out)
    assert doc["ok"] is True and doc["entries"] == n and doc["first_break"] is None
    conn = _open_rw(state_dir)
    conn.execute("UPDATE entries SET count = 2 WHERE seq = 3")
    conn.close()
    broken = cli("ledger", "verify", "--json")
    assert broken.code == 1
    doc = json.loads(broken.out)
    assert doc["ok"] is False and doc["first_break"] == 3
    human = cli("ledger", "verify")
    assert human.code == 1 and "first broken entry 3" in human.out
