"""``station-agent ledger backup FILE`` while a real daemon records a burst of
entries: every copy verifies, is one commit's state, and restores."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

from station_agent.ledger import open_reader, read_balances, verify
from tests.conftest import run_cli


def _writer(d, stop: threading.Event, counts: list[int]) -> None:  # type: ignore[no-untyped-def]
    with d.client() as api:
        i = 0
        while not stop.is_set():
            api.call("receive", batch_id=f"B-{i}", count=10)
            api.call("adjust", count=-1, reason="count", idem_id=f"adj-{i}")
            i += 1
        counts.append(i)


def test_backup_during_a_burst_verifies_and_restores(daemons, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = daemons("").start()
    d.cli("blanks", "receive", "--batch", "first", "--count", "100")
    stop, counts = threading.Event(), []
    writer = threading.Thread(target=_writer, args=(d, stop, counts))
    writer.start()
    copies = []
    try:
        for n in range(4):
            dest = tmp_path / f"backup-{n}.db"
            r = run_cli("--config", str(d.config), "ledger", "backup", str(dest))
            assert r.code == 0, r.err
            assert "chain and balances verified" in r.out
            copies.append(dest)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert counts and counts[0] > 0
    sizes = []
    for dest in copies:
        conn = sqlite3.connect(f"file:{dest}?mode=ro", uri=True)
        try:
            report = verify(conn)
            b = read_balances(conn)
        finally:
            conn.close()
        assert report.ok, report.problems
        # One commit's state: entry 1 the first delivery, then deliveries of 10 and
        # corrections of -1 in turn, as many of each as entries say, no more, no less.
        burst = b.entries - 1
        assert b.received == 100 + 10 * ((burst + 1) // 2)
        assert b.adjusted == -(burst // 2)
        assert b.stock == b.received + b.adjusted
        sizes.append(report.entries)
        assert not Path(f"{dest}-wal").exists() and not Path(f"{dest}-journal").exists()
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]

    # Refuses to overwrite without --force; replaces with it.
    again = run_cli("--config", str(d.config), "ledger", "backup", str(copies[0]))
    assert again.code == 2 and "--force" in again.err and len(again.err.splitlines()) == 1
    forced = run_cli("--config", str(d.config), "ledger", "backup", str(copies[0]), "--force")
    assert forced.code == 0, forced.err

    # Restore (docs/INSTALL.md): the copy as a state directory's ledger.db.
    d.stop()
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(copies[-1], restored / "ledger.db")
    check = run_cli("--state-dir", str(restored), "ledger", "verify", "--json")
    assert check.code == 0, check.err
    conn = open_reader(restored)
    try:
        assert read_balances(conn).entries == sizes[-1]
    finally:
        conn.close()
