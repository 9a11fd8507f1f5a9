"""Turn a current ledger file back into an older schema, for migration tests.

The ledger's migrations are forward-only; to test them, a ledger made by
this release is stripped of what later schemas added, which is what a file
written by an older release holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from station_agent.ledger.store import ledger_path


def downgrade_to_v4(state_dir: Path) -> None:
    """Remove schema 5 (spoil categories, void, job log) from ``state_dir``'s ledger.

    Refuses a ledger holding voids or a category a schema-4 ledger could not have.
    """
    downgrade_to_v5(state_dir)
    raw = sqlite3.connect(ledger_path(state_dir))
    try:
        assert raw.execute("SELECT count(*) FROM entries WHERE kind = 'void'").fetchone()[0] == 0
        raw.executescript(
            "DROP TABLE job_log;"
            "ALTER TABLE entries DROP COLUMN category;"
            "ALTER TABLE state DROP COLUMN total_void;"
            "ALTER TABLE jobs DROP COLUMN void_seq;"
            "DELETE FROM meta WHERE key = 'categories_from';"
            "PRAGMA user_version=4;")
    finally:
        raw.close()


def downgrade_to_v7(state_dir: Path) -> None:
    """Remove schema 8 (supplies: the entries' ``item``, supply balances and units).

    Refuses a ledger holding a supply entry (schema 7 could not)."""
    raw = sqlite3.connect(ledger_path(state_dir))
    try:
        if raw.execute("PRAGMA user_version").fetchone()[0] < 8:
            return
        assert raw.execute("SELECT count(*) FROM entries WHERE item IS NOT NULL"
                           ).fetchone()[0] == 0
        raw.executescript("DROP TABLE supply_balances; DROP TABLE supply_units;"
                          "DROP INDEX entries_supply;"
                          "ALTER TABLE entries DROP COLUMN item; PRAGMA user_version=7;")
    finally:
        raw.close()


def downgrade_to_v6(state_dir: Path) -> None:
    """Remove schemas 7 and 8 (the notification queue, the outbox's sent count)."""
    downgrade_to_v7(state_dir)
    raw = sqlite3.connect(ledger_path(state_dir))
    try:
        if raw.execute("PRAGMA user_version").fetchone()[0] < 7:
            return
        raw.executescript("DROP TABLE notifications; ALTER TABLE state DROP COLUMN outbox_sent;"
                          "PRAGMA user_version=6;")
    finally:
        raw.close()


def downgrade_to_v5(state_dir: Path) -> None:
    """Remove schemas 6 and 7 (the entries' ``actor``) from ``state_dir``'s ledger.

    Refuses a ledger holding an entry with an actor (schema 5 could not)."""
    downgrade_to_v6(state_dir)
    raw = sqlite3.connect(ledger_path(state_dir))
    try:
        if raw.execute("PRAGMA user_version").fetchone()[0] < 6:
            return
        assert raw.execute("SELECT count(*) FROM entries WHERE actor IS NOT NULL"
                           ).fetchone()[0] == 0
        raw.executescript(
            "ALTER TABLE entries DROP COLUMN actor;"
            "PRAGMA user_version=5;")
    finally:
        raw.close()
