"""``station-agent ledger backup FILE``: a consistent copy of the state database
while the daemon runs, verified before it is called a backup.

SQLite's online backup API copies every page inside one read transaction
(one step), so the copy is the database as of one commit, whatever the daemon
writes meanwhile (WAL: readers do not block the writer, nor it them). The copy
is written beside the destination, switched to rollback journal mode so that
it is one self-contained file, synced, verified (hash chain and every balance
recomputed from the entries, :func:`~station_agent.ledger.verification.verify`)
and only then renamed over the destination. A copy that does not verify is
deleted and the command fails: a backup is never a broken file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from station_agent.errors import BadInput, OperationFailed
from station_agent.ledger.store import open_reader, translate
from station_agent.ledger.verification import VerifyReport, verify


@dataclass(frozen=True)
class Backup:
    """A verified backup: where, how big, and what it holds."""

    path: Path
    bytes: int
    report: VerifyReport

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "bytes": self.bytes, **self.report.as_dict()}


def backup(state_dir: Path, dest: Path, *, force: bool = False) -> Backup:
    """Copy ``state_dir``'s ledger to ``dest`` and verify the copy (see module doc)."""
    dest = Path(dest)
    if dest.is_dir():
        raise BadInput(f"{dest} is a directory: give the backup's file name, such as "
                       f"{dest / 'ledger-backup.db'}")
    if dest.exists() and not force:
        raise BadInput(f"{dest} already exists: choose another name, or add --force to "
                       "replace it")
    if not dest.parent.is_dir():
        raise BadInput(f"{dest.parent} does not exist: create the directory first")
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    src = open_reader(state_dir)
    try:
        _copy(src, tmp)
        report = _verify_copy(tmp)
        if not report.ok:
            raise OperationFailed(
                f"the copy did not verify ({'; '.join(report.problems[:2])}): no backup was "
                "written; run `station-agent ledger verify` on the station")
        os.replace(tmp, dest)
        _sync_dir(dest.parent)
        return Backup(dest, dest.stat().st_size, report)
    except OSError as exc:
        raise translate(exc, dest, "writing the backup") from exc
    finally:
        src.close()
        for leftover in (tmp, Path(f"{tmp}-journal")):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _copy(src: sqlite3.Connection, tmp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    os.close(fd)
    dst = sqlite3.connect(tmp, isolation_level=None)
    try:
        src.backup(dst, pages=-1)   # one step: one read transaction, one commit's state
        dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise OperationFailed(f"copying the ledger failed ({exc}): no backup was written; "
                              "check the disk and try again") from None
    finally:
        dst.close()
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())


def _verify_copy(path: Path) -> VerifyReport:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        return verify(conn)
    finally:
        conn.close()


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
