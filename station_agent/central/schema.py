"""The central database's schema, as versioned migrations shipped in the package.

:func:`migrate` brings a PostgreSQL database to :data:`VERSION` in one
transaction, under an advisory lock so that several loaders
starting at once migrate it once. Each applied version is a row of
``schema_migrations``; a database newer than this package is refused.

Tables (docs/CENTRAL.md):

* ``events``: every event accepted, once (``event_id`` is the primary key),
  with its document as the station sent it (JSONB) and the SHA-256 of the
  message's bytes, so a resend is told apart from a tampered copy under the
  same id;
* ``entries``: the ledger entries, typed, one row per (``ledger_id``,
  ``entry_seq``); ``fault_events``: fault raises, updates and clears, typed;
* ``streams``: one per station ledger (``ledger_id``), its event numbering
  (``max_seq``, open ``gaps``, the entry at its ``head``), ``flagged`` when the
  station had another ledger before (its state was rebuilt), and its
  ``balances`` per supply kind (``''`` for blanks) and account: the sum of the
  stream's entries, written in the same transaction as they are (one row
  update per stream and batch, with the stream's numbering);
* ``balances`` (a view): those balances as rows (``ledger_id``, ``item``,
  ``account``, ``count``);
* ``stations``: office, region, online and last seen (from its status; its
  streams' ``last_at`` is when its last event arrived), the retained status
  and faults documents, the stream the station uses now;
* ``chain_breaks``, ``refusals`` and ``intake``: what was reported and
  refused, counted, never the refused payload itself (it may hold anything).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from station_agent.errors import OperationFailed

if TYPE_CHECKING:
    import psycopg

#: (version, statements). Append only: an applied migration is never edited.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
CREATE TABLE stations (
    station_id   text PRIMARY KEY,
    office       text,
    region       text,
    online       boolean,
    last_seen    timestamptz,
    status_at    timestamptz,
    status       jsonb,
    faults_at    timestamptz,
    faults       jsonb,
    ledger_id    text
);
CREATE TABLE streams (
    ledger_id    text PRIMARY KEY,
    station_id   text NOT NULL,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_at      timestamptz,
    flagged      boolean NOT NULL DEFAULT false,
    events       bigint NOT NULL DEFAULT 0,
    max_seq      bigint NOT NULL DEFAULT 0,
    gaps         jsonb NOT NULL DEFAULT '[]',
    missing      bigint NOT NULL DEFAULT 0,
    head_seq     bigint NOT NULL DEFAULT 0,
    head_hash    text,
    -- {item: {account: count}} ('' for blanks): the sum of the stream's
    -- entries, written in the transaction that adds them (view balances).
    balances     jsonb NOT NULL DEFAULT '{}'
-- Every batch rewrites its streams' rows: room on each page keeps the new
-- versions there (HOT updates: no index entries, pruned without VACUUM).
) WITH (fillfactor = 30);
CREATE INDEX streams_station ON streams (station_id);
CREATE TABLE events (
    event_id     text PRIMARY KEY,
    ledger_id    text NOT NULL,
    station_id   text NOT NULL,
    seq          bigint NOT NULL,
    type         text NOT NULL,
    ts           timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    digest       text NOT NULL,
    doc          jsonb NOT NULL
);
CREATE INDEX events_stream ON events (ledger_id, seq);
CREATE TABLE entries (
    ledger_id    text NOT NULL,
    entry_seq    bigint NOT NULL,
    station_id   text NOT NULL,
    event_id     text NOT NULL,
    ts           timestamptz NOT NULL,
    kind         text NOT NULL,
    src          text NOT NULL,
    dst          text NOT NULL,
    count        bigint NOT NULL,
    item         text,
    category     text,
    device       text,
    job_id       text,
    batch_id     text,
    reason       text,
    reference    text,
    actor        text,
    prev_hash    text NOT NULL,
    hash         text NOT NULL,
    PRIMARY KEY (ledger_id, entry_seq)
);
-- Entries arrive roughly in time order: a block-range index finds a period
-- (the national view's 30 days) at next to no cost per insert.
CREATE INDEX entries_ts ON entries USING brin (ts);
CREATE TABLE fault_events (
    event_id     text PRIMARY KEY,
    station_id   text NOT NULL,
    ts           timestamptz NOT NULL,
    type         text NOT NULL,
    code         text,
    source       text,
    severity     text
);
CREATE INDEX fault_events_station_ts ON fault_events (station_id, ts);
CREATE TABLE chain_breaks (
    id           bigserial PRIMARY KEY,
    detected_at  timestamptz NOT NULL DEFAULT now(),
    station_id   text NOT NULL,
    ledger_id    text NOT NULL,
    entry_seq    bigint,
    event_id     text NOT NULL,
    problem      text NOT NULL,
    expected     text,
    got          text
);
CREATE INDEX chain_breaks_stream ON chain_breaks (ledger_id);
CREATE TABLE refusals (
    station_id   text NOT NULL,
    reason       text NOT NULL,
    count        bigint NOT NULL,
    first_at     timestamptz NOT NULL DEFAULT now(),
    last_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, reason)
);
CREATE TABLE intake (
    outcome      text PRIMARY KEY,
    count        bigint NOT NULL
);
-- Each stream's balances as rows; a station's now (its current ledger), and per office.
CREATE VIEW balances AS
    SELECT s.ledger_id, i.key AS item, a.key AS account, a.value::bigint AS count
    FROM streams s CROSS JOIN LATERAL jsonb_each(s.balances) i
    CROSS JOIN LATERAL jsonb_each_text(i.value) a;
CREATE VIEW station_balances AS
    SELECT s.station_id, s.office, s.region, b.item, b.account, b.count
    FROM stations s JOIN balances b ON b.ledger_id = s.ledger_id;
CREATE VIEW office_balances AS
    SELECT office, region, item, account, sum(count)::bigint AS count
    FROM station_balances GROUP BY office, region, item, account;
"""),
)

#: The schema version this package writes.
VERSION = MIGRATIONS[-1][0]

#: Advisory lock key: "station-agent central migrate".
_LOCK = 0x5A_C0_4E_7A


def current(conn: psycopg.Connection) -> int:
    """The database's schema version (0 when it has none yet)."""
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def require_current(conn: psycopg.Connection) -> None:
    """Refuse (one line, what to do) a database that is not at :data:`VERSION`:
    readers never migrate, the loader does."""
    have = current(conn)
    if have == VERSION:
        return
    if have == 0:
        raise OperationFailed("this database holds no central ledger yet: point `station-agent "
                              "central run` at it once (it creates the tables), or check --db")
    if have > VERSION:
        raise OperationFailed(f"the central database has schema {have}, newer than this "
                              f"station-agent ({VERSION}): upgrade station-agent on this machine")
    raise OperationFailed(f"the central database has schema {have}, older than this "
                          f"station-agent ({VERSION}): run `station-agent central run` once to "
                          "migrate it")


def migrate(conn: psycopg.Connection) -> list[int]:
    """Apply every missing migration, all in one transaction; the versions applied.

    Refuses a database written by a newer station-agent (one line, nothing changed).
    """
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                     "version integer PRIMARY KEY, applied_at timestamptz NOT NULL "
                     "DEFAULT now())")
        have = current(conn)
        if have > VERSION:
            raise OperationFailed(
                f"the central database has schema {have}, newer than this station-agent "
                f"({VERSION}): upgrade station-agent on this machine before running it")
        for version, sql in MIGRATIONS:
            if version <= have:
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
    return applied
