"""The ledger's SQLite file: schema, opening, durability settings, errors.

Durability rules (``shared/reference/durability.md``):

* WAL with ``synchronous=FULL``: a committed transaction survives power loss.
  Both are set explicitly and read back; a mismatch refuses to open.
* One writer at a time. Inside a process the :class:`~station_agent.ledger.Ledger`
  owns one writer connection; across processes every write transaction (and
  the checkpoint that may follow it) runs under an exclusive ``flock`` on
  ``ledger.lock``, so two connections never write or checkpoint at once
  (SQLite 3.7.0-3.51.2 can corrupt a WAL database when they do).
* Readers open the file read-only and cannot checkpoint.

The file is recognised by its SQLite ``application_id``; anything else is
refused, never overwritten or "repaired".
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from station_agent import clock
from station_agent.ledger import model
from station_agent.ledger.chain import CHAIN_VERSION, genesis_hash
from station_agent.ledger.errors import LedgerMissing, NotALedger, StorageError

LEDGER_FILE: Final = "ledger.db"
LOCK_FILE: Final = "ledger.lock"
#: ``PRAGMA application_id``: ASCII "SAGL" (station-agent ledger).
APPLICATION_ID: Final = 0x5341474C
SCHEMA_VERSION: Final = 8
_SQLITE_MAGIC = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS = 30_000

#: Integer columns of the ``state`` row: every account, then ``total_<kind>``.
STATE_COUNTERS: Final = (*model.ACCOUNTS, *(f"total_{k}" for k in model.KINDS))
#: Reads the whole ``state`` row: counters, then head seq and hash.
STATE_SELECT: Final = f"SELECT {', '.join(STATE_COUNTERS)}, head_seq, head_hash FROM state"
#: The same, plus the time stamp of the head entry (NULL before the first entry):
#: what a commit needs, in one statement.
_STATE_AND_HEAD_TS = (f"SELECT {', '.join(STATE_COUNTERS)}, head_seq, head_hash, "
                      "(SELECT ts FROM entries WHERE seq = state.head_seq) FROM state")

# The transfer kinds of schema 1; later kinds get their total column by migration.
_V1_KINDS: Final = ("receive", "pick", "complete", "reject", "dispose", "write_off", "adjust")

SCHEMA: Final = (
    """CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
    # The append-only, hash-chained log. seq is the entry number.
    """CREATE TABLE entries (
        seq          INTEGER PRIMARY KEY,
        ts           TEXT NOT NULL,
        kind         TEXT NOT NULL,
        src          TEXT NOT NULL,
        dst          TEXT NOT NULL,
        count        INTEGER NOT NULL,
        idem_id      TEXT NOT NULL UNIQUE,
        batch_id     TEXT,
        job_id       TEXT,
        device       TEXT,
        first_serial TEXT,
        reason       TEXT,
        reference    TEXT,
        prev_hash    TEXT NOT NULL,
        hash         TEXT NOT NULL
    )""",
    """CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
       BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
    """CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
       BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
    # The maintained state, one row: account balances, signed per-kind totals
    # and the chain head, all updated in the same transaction as every append
    # (one page to write per commit). Balances are read in O(1) whatever the
    # length of the log; deleting or appending entries without also rewriting
    # the head is detected by `ledger verify`.
    f"""CREATE TABLE state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        {", ".join(f"{a} INTEGER NOT NULL" for a in model.ACCOUNTS)},
        {", ".join(f"total_{k} INTEGER NOT NULL" for k in _V1_KINDS)},
        head_seq  INTEGER NOT NULL,
        head_hash TEXT NOT NULL
    )""",
    # Index of jobs: one pick, at most one outcome.
    """CREATE TABLE jobs (
        job_id      TEXT PRIMARY KEY,
        pick_seq    INTEGER NOT NULL,
        outcome     TEXT,
        outcome_seq INTEGER
    ) WITHOUT ROWID""",
    # Index of delivered serial ranges, for the overlap check.
    """CREATE TABLE serial_ranges (
        prefix TEXT NOT NULL,
        first  INTEGER NOT NULL,
        last   INTEGER NOT NULL,
        width  INTEGER NOT NULL,
        seq    INTEGER NOT NULL
    )""",
    "CREATE INDEX serial_ranges_by_prefix ON serial_ranges (prefix, first)",
)

#: Tables added after version 1: the agent's side records, outside the
#: hash chain (they do not move blanks). ``MIGRATIONS[v]`` brings version v
#: to v + 1; a new ledger gets them all.
MIGRATIONS: Final = {
    1: (
        # Fault history (DESIGN §4): one row per raise; cleared_at set on clear.
        """CREATE TABLE faults (
            id         INTEGER PRIMARY KEY,
            source     TEXT NOT NULL,
            code       TEXT NOT NULL,
            severity   TEXT NOT NULL,
            message    TEXT NOT NULL,
            raised_at  TEXT NOT NULL,
            cleared_at TEXT,
            flapping   INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX faults_active ON faults (source, code) WHERE cleared_at IS NULL",
        # Server outages: from the first failed probe to the first good one.
        """CREATE TABLE outages (
            id         INTEGER PRIMARY KEY,
            phase      TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at   TEXT,
            detail     TEXT NOT NULL DEFAULT ''
        )""",
    ),
    2: (
        # The uplink's outbox (station_agent.ledger.outbox): one row per event
        # to send upstream, written in the transaction of the event itself.
        # seq is the per-station event number the receiver checks for gaps;
        # AUTOINCREMENT so it never goes back, even after sent rows are pruned.
        """CREATE TABLE outbox (
            seq        INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            entry_seq  INTEGER,
            chain_head TEXT NOT NULL,
            body       TEXT,
            sent_at    TEXT
        )""",
        "CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL",
        # A ledger that predates the uplink sends its whole history.
        "INSERT INTO outbox (created_at, entry_seq, chain_head) "
        "SELECT ts, seq, hash FROM entries ORDER BY seq",
    ),
    3: (
        # The partial index on unsent outbox rows cost every commit (and every
        # acknowledgement) one more page written and fsynced. The queries walk
        # the outbox in seq order instead: sent rows below the oldest unsent one
        # are pruned to KEEP_SENT, so the walk to it is short.
        "DROP INDEX IF EXISTS outbox_unsent",
    ),
    4: (
        # Spoil categories (DESIGN §3) and the void transfer.
        "ALTER TABLE entries ADD COLUMN category TEXT",
        "ALTER TABLE state ADD COLUMN total_void INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN void_seq INTEGER",
        # Rejects recorded before categories existed get the category their
        # reason means (model.category_for, registered as a SQL function while
        # migrating). Their hash does not cover it: the chain's
        # categories_from is the first entry whose hash does.
        "DROP TRIGGER entries_no_update",
        "UPDATE entries SET category = legacy_category(reason) WHERE kind = 'reject'",
        """CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
           BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END""",
        "INSERT INTO meta (key, value) SELECT 'categories_from', head_seq + 1 FROM state",
        # Card jobs as the operator sees them (station-agent jobs): where each
        # came from, its printer or queue, how many cards; outside the chain
        # (the ledger's entries are the blanks' truth, this is their context).
        # A spooler job that failed before any pick lives only here.
        """CREATE TABLE job_log (
            job_id      TEXT PRIMARY KEY,
            source      TEXT NOT NULL,
            printer     TEXT,
            queue       TEXT,
            cards       INTEGER NOT NULL,
            picked      INTEGER NOT NULL DEFAULT 0,
            attempts    INTEGER NOT NULL DEFAULT 0,
            state       TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            ended_at    TEXT,
            counter_verified INTEGER,
            detail      TEXT NOT NULL DEFAULT ''
        ) WITHOUT ROWID""",
        "CREATE INDEX job_log_by_time ON job_log (created_at)",
    ),
    5: (
        # The staff account that made an entry (the office console's login).
        "ALTER TABLE entries ADD COLUMN actor TEXT",
    ),
    6: (
        # Notifications waiting for (or delivered to) each channel ([notify]):
        # one row per notification and channel, its id the deduplication key.
        """CREATE TABLE notifications (
            id          TEXT NOT NULL,
            channel     TEXT NOT NULL,
            code        TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            doc         TEXT NOT NULL,
            attempts    INTEGER NOT NULL DEFAULT 0,
            next_at     TEXT NOT NULL,
            sent_at     TEXT,
            last_error  TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (id, channel)
        ) WITHOUT ROWID""",
        "CREATE INDEX notifications_due ON notifications (channel, sent_at, next_at)",
        "CREATE INDEX notifications_by_code ON notifications (code, created_at)",
        # Outbox events ever acknowledged, kept by mark_sent (not on the commit
        # path): the backlog is the newest event number minus this, one row
        # read instead of counting a million unsent rows (a station without
        # an uplink).
        "ALTER TABLE state ADD COLUMN outbox_sent INTEGER NOT NULL DEFAULT 0",
        """UPDATE state SET outbox_sent =
               COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)
               - (SELECT count(*) FROM outbox WHERE sent_at IS NULL)""",
    ),
    7: (
        # Supplies (DESIGN §10): a supply transfer's supply kind, hashed when set.
        "ALTER TABLE entries ADD COLUMN item TEXT",
        # Their balances per supply kind and account (``external`` included,
        # minus all that came in), maintained with every supply entry as the
        # state row is with every blank's.
        """CREATE TABLE supply_balances (
            item    TEXT NOT NULL,
            account TEXT NOT NULL,
            balance INTEGER NOT NULL,
            PRIMARY KEY (item, account)
        ) WITHOUT ROWID""",
        # The unit of each kind in each printer: one row per install, closed by
        # its finish or write-off; at most one open per kind and printer.
        """CREATE TABLE supply_units (
            install_seq INTEGER PRIMARY KEY,
            item        TEXT NOT NULL,
            device      TEXT NOT NULL,
            end_seq     INTEGER
        )""",
        "CREATE UNIQUE INDEX supply_units_open ON supply_units (item, device) "
        "WHERE end_seq IS NULL",
        # Supply entries by number: reports sum a period's (or everything before
        # it) without reading the blanks' entries. Partial: a blank's entry
        # writes no index row.
        "CREATE INDEX entries_supply ON entries (seq) WHERE item IS NOT NULL",
    ),
}


def ledger_path(state_dir: Path) -> Path:
    """Where the ledger of ``state_dir`` lives."""
    return state_dir / LEDGER_FILE


# --- errors -------------------------------------------------------------------

def translate(exc: BaseException, path: Path, doing: str) -> StorageError:
    """Turn an sqlite3 or OS error into a one-line :class:`StorageError`."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    err = getattr(exc, "errno", None)
    where = str(path)
    if name.startswith("SQLITE_IOERR") and _nearly_full(path):
        # SQLite reports a failed write of its WAL index (-shm) on a full
        # file system as a generic I/O error; the free space tells the truth.
        name = "SQLITE_FULL"
    if name == "SQLITE_FULL" or err == errno.ENOSPC:
        return StorageError(
            f"disk full while {doing} {where}: nothing was recorded; free space on that "
            "file system and try again"
        )
    if name.startswith("SQLITE_READONLY") or err == errno.EROFS:
        return StorageError(
            f"{where} is read-only while {doing} it: nothing was recorded; remount the file "
            "system read-write or point --state-dir at a writable directory"
        )
    if err in (errno.EACCES, errno.EPERM) or name == "SQLITE_PERM":
        return StorageError(
            f"permission denied while {doing} {where}: run as the station-agent user or fix "
            "the directory's owner and mode"
        )
    if name == "SQLITE_NOTADB":
        return NotALedger(
            f"{where} is not a station-agent ledger (not an SQLite database): point "
            "--state-dir at the station's state directory, or move this file away"
        )
    if name.startswith("SQLITE_CORRUPT"):
        return StorageError(
            f"{where} is corrupt ({exc}): nothing was changed; keep the file for inspection, "
            "run `station-agent ledger verify` and restore the ledger from a backup"
        )
    if name == "SQLITE_BUSY" or name.startswith("SQLITE_BUSY"):
        return StorageError(
            f"{where} stayed locked by another process while {doing} it: check for a stuck "
            "station-agent process and try again"
        )
    if name.startswith("SQLITE_IOERR") or err == errno.EIO:
        return StorageError(
            f"disk I/O error while {doing} {where}: nothing was recorded; check the disk "
            "(`dmesg`, SMART) and the file system, then try again"
        )
    return StorageError(f"storage error while {doing} {where}: {exc}")


def _nearly_full(path: Path, margin: int = 256 * 1024) -> bool:
    """True when the file system holding ``path`` has less than ``margin`` bytes free."""
    for p in (path, *path.parents):
        try:
            st = os.statvfs(p)
        except OSError:
            continue
        return st.f_bavail * st.f_frsize < margin
    return False


# --- locking ------------------------------------------------------------------

class WriteLock:
    """The cross-process writer lock (``flock`` on ``ledger.lock``)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o660)
        except OSError as exc:
            raise translate(exc, self.path, "opening the lock file") from exc

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the duration of the block."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Release the file descriptor."""
        os.close(self._fd)


# --- opening ------------------------------------------------------------------

def _check_magic(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise translate(exc, path, "reading") from exc
    if head and head != _SQLITE_MAGIC:
        raise NotALedger(
            f"{path} is not a station-agent ledger (not an SQLite database): point "
            "--state-dir at the station's state directory, or move this file away"
        )


def _check_identity(conn: sqlite3.Connection, path: Path) -> bool:
    """True when the file is one of our ledgers, False when it is a blank database."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id == APPLICATION_ID:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if not 1 <= version <= SCHEMA_VERSION:
            raise NotALedger(
                f"{path} is a station-agent ledger of schema version {version}, this program "
                f"reads versions 1 to {SCHEMA_VERSION}: use the matching station-agent release"
            )
        return True
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id == 0 and tables == 0:
        return False
    raise NotALedger(
        f"{path} is an SQLite database but not a station-agent ledger: point --state-dir at "
        "the station's state directory, or move this file away"
    )


def _set_durability(conn: sqlite3.Connection, path: Path) -> None:
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    conn.execute("PRAGMA synchronous=FULL")
    sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    if str(mode).lower() != "wal" or sync != 2:
        raise StorageError(
            f"{path}: SQLite refused WAL with synchronous=FULL (got journal_mode={mode}, "
            f"synchronous={sync}); the ledger would not survive power loss, so it is not opened"
        )


def _initialise(conn: sqlite3.Connection, station_id: str | None) -> None:
    ledger_id = str(uuid.uuid4())
    _register_functions(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for stmt in SCHEMA:
            conn.execute(stmt)
        for version in sorted(MIGRATIONS):
            for stmt in MIGRATIONS[version]:
                conn.execute(stmt)
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("ledger_id", ledger_id), ("created_at", clock.now_utc("microseconds")),
             ("chain", CHAIN_VERSION), ("station_id", station_id or ""),
             ("categories_from", "1")],
        )
        zeros = ", ".join("0" for _ in STATE_COUNTERS)
        conn.execute(f"INSERT INTO state (id, {', '.join(STATE_COUNTERS)}, head_seq, head_hash) "
                     f"VALUES (1, {zeros}, 0, ?)", (genesis_hash(ledger_id),))
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _register_functions(conn: sqlite3.Connection) -> None:
    """SQL functions the migrations use (one source of truth with the model)."""
    conn.create_function("legacy_category", 1, model.category_for, deterministic=True)


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring an older ledger to :data:`SCHEMA_VERSION`, one version per transaction."""
    _register_functions(conn)
    while True:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in MIGRATIONS[version]:
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version={version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def schema_version(conn: sqlite3.Connection) -> int:
    """The ledger file's schema version (a reader may meet an older file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def open_writer(state_dir: Path, lock: WriteLock, *, create: bool,
                station_id: str | None = None) -> sqlite3.Connection:
    """Open (and with ``create``, initialise) the ledger for writing."""
    path = ledger_path(state_dir)
    if path.exists():
        _check_magic(path)
    elif not create:
        raise LedgerMissing(
            f"no ledger at {path}: record a delivery first (`station-agent blanks receive`) "
            "or point --state-dir at the station's state directory"
        )
    conn: sqlite3.Connection | None = None
    try:
        with lock.held():
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            is_ledger = _check_identity(conn, path)
            if not is_ledger and not create:
                raise LedgerMissing(f"{path} is an empty database, not a ledger yet: record a "
                                    "delivery first (`station-agent blanks receive`)")
            _set_durability(conn, path)
            if not is_ledger:
                _initialise(conn, station_id)
            else:
                _migrate(conn)
        return conn
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise translate(exc, path, "opening") from exc
    except BaseException:
        if conn is not None:
            conn.close()
        raise


def open_reader(state_dir: Path) -> sqlite3.Connection:
    """Open the ledger read-only (it cannot write or checkpoint).

    A ledger of an older schema is first brought up to date, once, by a
    writer (readers expect the current tables); a user who may not write it
    is told to let the daemon (or its owner) do that."""
    conn = _open_reader(state_dir)
    try:
        current = schema_version(conn) >= SCHEMA_VERSION
    except sqlite3.Error as exc:
        conn.close()
        raise translate(exc, ledger_path(state_dir), "reading") from exc
    if current:
        return conn
    conn.close()
    if not os.access(ledger_path(state_dir), os.W_OK):
        raise StorageError(
            f"{ledger_path(state_dir)} is a ledger of an older schema and this user may not "
            "upgrade it: start the daemon (it upgrades the ledger) or run this as its owner")
    lock = WriteLock(state_dir)
    try:
        open_writer(state_dir, lock, create=False).close()
    finally:
        lock.close()
    return _open_reader(state_dir)


def _open_reader(state_dir: Path) -> sqlite3.Connection:
    path = ledger_path(state_dir)
    if not path.exists():
        raise LedgerMissing(
            f"no ledger at {path}: record a delivery first (`station-agent blanks receive`) "
            "or point --state-dir at the station's state directory"
        )
    _check_magic(path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise translate(exc, path, "reading") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        if not _check_identity(conn, path):
            raise LedgerMissing(f"{path} is an empty database, not a ledger yet: record a "
                                "delivery first (`station-agent blanks receive`)")
        return conn
    except sqlite3.Error as exc:
        conn.close()
        raise translate(exc, path, "reading") from exc
    except BaseException:
        conn.close()
        raise


@dataclass(slots=True)
class State:
    """The maintained ``state`` row: balances, signed per-kind totals, chain head."""

    balances: dict[str, int]
    totals: dict[str, int]
    head_seq: int
    head_hash: str


def read_state(conn: sqlite3.Connection) -> State:
    """Read the ``state`` row (one statement, so one consistent snapshot)."""
    return _state(conn.execute(STATE_SELECT).fetchone())


def read_state_and_head_ts(conn: sqlite3.Connection) -> tuple[State, str | None]:
    """The ``state`` row and the time stamp of its head entry (None before the
    first entry), in one statement: what every commit reads first."""
    row = conn.execute(_STATE_AND_HEAD_TS).fetchone()
    return _state(row and row[:-1]), (None if row is None or row[-1] is None else str(row[-1]))


def _state(row: tuple[Any, ...] | None) -> State:
    if row is None:
        raise StorageError("the ledger's state record is missing: run `station-agent ledger "
                           "verify` and restore the ledger from a backup")
    n = len(model.ACCOUNTS)
    return State(
        balances=dict(zip(model.ACCOUNTS, row[:n], strict=True)),
        totals=dict(zip(model.KINDS, row[n:n + len(model.KINDS)], strict=True)),
        head_seq=row[-2],
        head_hash=row[-1],
    )


_STATE_UPDATE = (f"UPDATE state SET {', '.join(f'{c} = ?' for c in STATE_COUNTERS)}, "
                 "head_seq = ?, head_hash = ? WHERE id = 1")


def write_state(conn: sqlite3.Connection, state: State) -> None:
    """Store ``state`` (inside the caller's write transaction)."""
    conn.execute(_STATE_UPDATE, (
        *(state.balances[a] for a in model.ACCOUNTS),
        *(state.totals[k] for k in model.KINDS),
        state.head_seq, state.head_hash,
    ))


def end_read(conn: sqlite3.Connection) -> None:
    """End a read transaction; quietly, since an error being raised says more."""
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def job_record(conn: sqlite3.Connection, job_id: str) -> tuple[int, str | None] | None:
    """``(pick entry, outcome kind or None while open)`` of ``job_id``, or None
    when the ledger has no such job."""
    row = conn.execute("SELECT pick_seq, outcome FROM jobs WHERE job_id = ?",
                       (job_id,)).fetchone()
    return None if row is None else (int(row[0]), row[1])


def noted_counter(conn: sqlite3.Connection, device: str) -> int | None:
    """The printer counter (``counter=N``) noted by ``device``'s latest pick or
    unreported-pick write-off, or None when the ledger noted none."""
    row = conn.execute("SELECT reference FROM entries WHERE device = ? AND reference LIKE "
                       "'counter=%' ORDER BY seq DESC LIMIT 1", (device,)).fetchone()
    if row is None:
        return None
    value = str(row[0]).removeprefix("counter=")
    return int(value) if value.isdigit() else None


def categories_from(meta: dict[str, str]) -> int:
    """The first entry whose hash covers its category (see :mod:`.chain`)."""
    value = meta.get("categories_from", "1")
    return int(value) if value.isdigit() else 1


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    """The ledger's metadata (``ledger_id``, ``created_at``, ``station_id`` ...)."""
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def supply_balances(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Every supply kind's balances (``{item: {account: units}}``, ``external``
    included), as maintained with each supply entry."""
    out: dict[str, dict[str, int]] = {}
    for item, account, balance in conn.execute(
            "SELECT item, account, balance FROM supply_balances ORDER BY item, account"):
        out.setdefault(item, {})[account] = int(balance)
    return out


def open_unit(conn: sqlite3.Connection, item: str, device: str) -> int | None:
    """The install entry of the unit of ``item`` now in printer ``device``, or None."""
    row = conn.execute("SELECT install_seq FROM supply_units WHERE item = ? AND device = ? "
                       "AND end_seq IS NULL", (item, device)).fetchone()
    return None if row is None else int(row[0])
