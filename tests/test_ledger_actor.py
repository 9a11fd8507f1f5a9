"""The staff account that made an entry (schema 6): stored, hash-covered, upgraded."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from station_agent.ledger import Ledger, model, open_reader
from station_agent.ledger.store import SCHEMA_VERSION, ledger_path
from station_agent.ledger.verification import verify
from tests.helpers.legacy import downgrade_to_v5


def _verify(state_dir: Path) -> tuple[bool, int | None]:
    conn = open_reader(state_dir)
    try:
        report = verify(conn)
    finally:
        conn.close()
    return report.ok, report.first_break


def test_an_entry_names_its_account_and_the_hash_covers_it(state_dir: Path) -> None:
    with Ledger(state_dir) as led:
        led.record(model.receive("B1", 10))
        e = led.record(replace(model.adjust(-2, "counted", "adj-1"), actor="siti"))
        assert e.actor == "siti"
        # The same correction by another account is the same correction: a replay.
        again = led.record(replace(e.transfer, actor="budi"))
        assert again.replay and again.seq == e.seq and again.actor == "siti"
    assert _verify(state_dir) == (True, None)
    raw = sqlite3.connect(ledger_path(state_dir))
    raw.execute("DROP TRIGGER entries_no_update")
    raw.execute("UPDATE entries SET actor = 'budi' WHERE seq = 2")
    raw.commit()
    raw.close()
    assert _verify(state_dir) == (False, 2)


def test_a_schema_5_ledger_is_upgraded_and_keeps_its_chain(state_dir: Path) -> None:
    with Ledger(state_dir) as led:
        led.record(model.receive("B1", 10))
        led.record(model.pick("j1"))
    downgrade_to_v5(state_dir)
    with Ledger(state_dir) as led:
        led.record(replace(model.complete("j1"), actor="siti"))
        assert led.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION
    assert _verify(state_dir) == (True, None)


def test_an_account_name_with_a_nik_is_refused(state_dir: Path) -> None:
    import pytest

    from station_agent.ledger import InvalidTransfer

    with Ledger(state_dir) as led, pytest.raises(InvalidTransfer, match="account"):
        led.record(replace(model.receive("B1", 10), actor="5371010101900001"))
