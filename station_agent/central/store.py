"""Apply a batch of checked messages to the central database, in one transaction.

:func:`apply` is the whole of the loader's database side. Within one
transaction it

1. locks the streams (station ledgers) the batch touches, in a fixed order,
   so two loaders working on the same station take turns;
2. drops events already loaded (same ``event_id`` and the same document: a
   redelivery - the same bytes, or the same JSON document in another
   serialisation) and refuses a different document under a loaded id (a
   tampered copy: reported, never applied);
3. checks each ledger entry against its neighbours in the chain, already in
   the database or earlier in the batch, in any arrival order: an entry whose
   ``prev_hash`` is not the hash of the entry before it, or whose hash is not
   the ``prev_hash`` of the entry after it, is a chain break, recorded with
   the station, the entry number and both hashes, and not applied;
4. tracks each stream's event numbers: a skipped range opens a gap, an event
   that arrives later closes it (``streams.gaps``, ``streams.missing``);
5. writes the new events (raw JSONB), typed entries and fault events with
   ``COPY``, and adds each entry's count to its stream's balances (written
   with the stream's numbering), so the balances always equal the sum of the
   stream's entries;
6. keeps each station's newest status and faults, and counts refusals.

The caller acknowledges the batch's messages to the broker only after this
commits; a crash in between redelivers them and step 2 makes the repeat a
no-op: each event is in the database exactly once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from station_agent.central.intake import (
    Event,
    FaultsUpdate,
    Message,
    Refusal,
    StatusUpdate,
    same_document,
)

if TYPE_CHECKING:
    import psycopg

_EVENT_COLS = ("event_id", "ledger_id", "station_id", "seq", "type", "ts", "digest", "doc")
_ENTRY_COLS = ("ledger_id", "entry_seq", "station_id", "event_id", "ts", "kind", "src", "dst",
               "count", "item", "category", "device", "job_id", "batch_id", "reason",
               "reference", "actor", "prev_hash", "hash")
_FAULT_COLS = ("event_id", "station_id", "ts", "type", "code", "source", "severity")


@dataclass
class Break:
    """A chain break: where, what, the hash expected there and the one found."""

    station_id: str
    ledger_id: str
    entry_seq: int | None
    event_id: str
    problem: str
    expected: str | None
    got: str | None

    def line(self) -> str:
        return (f"chain break at station {self.station_id} ledger {self.ledger_id} entry "
                f"{self.entry_seq}: {self.problem} (expected {self.expected}, got {self.got}); "
                f"event {self.event_id} not applied")


@dataclass
class Outcome:
    """What one batch did."""

    applied: int = 0
    duplicates: int = 0
    statuses: int = 0
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    breaks: list[Break] = field(default_factory=list)
    new_streams: list[tuple[str, str, bool]] = field(default_factory=list)

    @property
    def refused_count(self) -> int:
        return sum(self.refused.values())


@dataclass
class _Stream:
    ledger_id: str
    station_id: str
    max_seq: int
    gaps: list[list[int]]
    head_seq: int
    head_hash: str | None
    #: {item: {account: count}}, as locked, then with the batch's entries added.
    balances: dict[str, dict[str, int]]
    events: int = 0
    known: dict[int, tuple[str, str]] = field(default_factory=dict)


def apply(conn: psycopg.Connection, batch: Sequence[Message]) -> Outcome:
    """Apply ``batch`` in one transaction (see the module's description)."""
    out = Outcome()
    events: dict[str, Event] = {}
    statuses: dict[str, StatusUpdate] = {}
    faults: dict[str, FaultsUpdate] = {}
    for msg in batch:
        if isinstance(msg, Refusal):
            _refuse(out, msg.station_id, msg.reason)
            if msg.ledger_id is not None:
                out.breaks.append(Break(msg.station_id, msg.ledger_id, msg.entry_seq,
                                        msg.event_id or "?", "the entry's hash does not match "
                                        "its content", msg.expected, msg.got))
        elif isinstance(msg, Event):
            seen = events.get(msg.event_id)
            if seen is None:
                events[msg.event_id] = msg
            elif seen.digest == msg.digest or same_document(seen.doc, msg.doc):
                out.duplicates += 1
            else:
                _refuse(out, msg.station_id, "another document under an event id already "
                                             "received (tampered copy)")
        elif isinstance(msg, StatusUpdate):
            if msg.station_id not in statuses or statuses[msg.station_id].ts <= msg.ts:
                statuses[msg.station_id] = msg
            out.statuses += 1
        else:
            if msg.station_id not in faults or faults[msg.station_id].ts <= msg.ts:
                faults[msg.station_id] = msg
            out.statuses += 1
    with conn.transaction():
        streams = _lock_streams(conn, out, list(events.values()))
        mine = [e for e in events.values()
                if e.ledger_id in streams and streams[e.ledger_id].station_id == e.station_id]
        new = _new_events(conn, out, streams, mine)
        accepted = _check_chains(conn, out, streams, new)
        _track_numbers(streams, accepted)
        _write(conn, streams, accepted)
        out.applied = len(accepted)
        _write_statuses(conn, statuses, faults)
        _write_reports(conn, out)
    return out


def _rows(cols: str, rows: Sequence[Sequence[Any]]) -> tuple[str, str]:
    """A batch's rows as one query parameter: ``(sql, param)`` where ``sql`` is a
    sub-select of the named, typed columns (``"l text, n bigint"``) over a JSON
    array of arrays. One JSON text instead of one array per column: psycopg dumps
    long Python lists element by element, orjson in one go."""
    parts = [c.split() for c in cols.split(",")]
    select = ", ".join(f"(x->{i})::{t} AS {n}" if t == "jsonb" else f"(x->>{i})::{t} AS {n}"
                       for i, (n, t) in enumerate(parts))
    return f"(SELECT {select} FROM jsonb_array_elements(%s::jsonb) x)", \
        orjson.dumps(rows).decode()


def _refuse(out: Outcome, station_id: str, reason: str) -> None:
    out.refused[(station_id, reason)] += 1


def _in_gap(gaps: list[list[int]], seq: int) -> bool:
    return any(lo <= seq <= hi for lo, hi in gaps)


def _new_events(conn: psycopg.Connection, out: Outcome, streams: dict[str, _Stream],
                events: list[Event]) -> list[Event]:
    """The events not loaded before; a loaded id with another document is refused.

    A stream's loaded events are exactly 1..``max_seq`` minus its gaps (the
    streams are locked), so only an event numbered in that set is looked up."""
    new: list[Event] = []
    maybe: list[Event] = []
    for ev in events:
        st = streams[ev.ledger_id]
        (new if ev.seq > st.max_seq or _in_gap(st.gaps, ev.seq) else maybe).append(ev)
    if not maybe:
        return new
    # The stored document is fetched only when the digests differ (rare: another
    # serialisation of the same event, or a tampered copy).
    ids, param = _rows("i text, d text", [[e.event_id, e.digest] for e in maybe])
    rows = conn.execute("SELECT e.event_id, CASE WHEN e.digest <> w.d THEN e.doc::text END "
                        f"FROM events e JOIN {ids} w ON e.event_id = w.i", (param,)).fetchall()
    loaded: dict[str, str | None] = dict(rows)
    for ev in maybe:
        if ev.event_id not in loaded:
            new.append(ev)
            continue
        stored = loaded[ev.event_id]
        if stored is None or same_document(stored, ev.doc):
            out.duplicates += 1
        else:
            _refuse(out, ev.station_id, "another document under an event id already received "
                                        "(tampered copy)")
            if ev.entry is not None:
                out.breaks.append(Break(ev.station_id, ev.ledger_id, ev.entry.seq, ev.event_id,
                                        "a different document under a loaded event id",
                                        None, ev.entry.hash))
    return new


def _lock_streams(conn: psycopg.Connection, out: Outcome,
                  events: list[Event]) -> dict[str, _Stream]:
    """Create the streams seen for the first time and lock every stream of the
    batch; events claiming another station's ledger are refused."""
    claimed: dict[str, str] = {}
    for ev in events:
        claimed.setdefault(ev.ledger_id, ev.station_id)
    if not claimed:
        return {}
    ids = sorted(claimed)
    rows_sql, param = _rows("l text, s text", [[i, claimed[i]] for i in ids])
    created = conn.execute(
        "INSERT INTO streams (ledger_id, station_id, flagged) "
        "SELECT n.l, n.s, EXISTS (SELECT 1 FROM streams o WHERE o.station_id = n.s) "
        f"FROM {rows_sql} n WHERE NOT EXISTS (SELECT 1 FROM streams e WHERE e.ledger_id = n.l) "
        "ORDER BY n.l ON CONFLICT (ledger_id) DO NOTHING RETURNING ledger_id, station_id, "
        "flagged", (param,)).fetchall()
    out.new_streams.extend((r[1], r[0], bool(r[2])) for r in created)
    if created:
        # A stream seen for the first time is the one its station uses now.
        current = {r[1]: r[0] for r in sorted(created)}
        new_sql, new_param = _rows("s text, l text", sorted(current.items()))
        conn.execute("INSERT INTO stations (station_id, ledger_id) "
                     f"SELECT s, l FROM {new_sql} n ON CONFLICT (station_id) "
                     "DO UPDATE SET ledger_id = EXCLUDED.ledger_id", (new_param,))
    # Locked in ledger id order; read back as one JSON text (one parse for the
    # batch instead of one per stream and column).
    row = conn.execute(
        "WITH locked AS (SELECT ledger_id, station_id, max_seq, gaps, head_seq, head_hash, "
        f"balances FROM streams WHERE ledger_id IN (SELECT l FROM {rows_sql} n) "
        "ORDER BY ledger_id FOR UPDATE) "
        "SELECT json_agg(json_build_array(ledger_id, station_id, max_seq, gaps, head_seq, "
        "head_hash, balances))::text FROM locked", (param,)).fetchone()
    streams = {r[0]: _Stream(*r) for r in orjson.loads(row[0] if row and row[0] else "[]")}
    for ev in events:
        st = streams.get(ev.ledger_id)
        if st is not None and st.station_id != ev.station_id:
            _refuse(out, ev.station_id, "ledger id belongs to another station")
    return streams


def _check_chains(conn: psycopg.Connection, out: Outcome, streams: dict[str, _Stream],
                  events: list[Event]) -> list[Event]:
    """The events to apply: every fault event, and each entry that links to its
    known neighbours; the others are chain breaks."""
    mine = events
    needed: dict[str, set[int]] = defaultdict(set)
    for ev in mine:
        if ev.entry is not None:
            st = streams[ev.ledger_id]
            for s in (ev.entry.seq - 1, ev.entry.seq, ev.entry.seq + 1):
                # Nothing above the stream's head is loaded; the head's hash is
                # on the stream. Only entries arriving out of order need a look.
                if s < st.head_seq or (s == st.head_seq and s != ev.entry.seq - 1):
                    needed[ev.ledger_id].add(s)
                elif s == st.head_seq and st.head_hash is not None:
                    st.known.setdefault(s, (st.head_hash, ""))
    if needed:
        # Each stream's numbers as runs, looked up through the primary key.
        runs = [[ledger_id, lo, hi] for ledger_id, seqs in needed.items()
                for lo, hi in _runs(sorted(seqs))]
        runs_sql, param = _rows("l text, lo bigint, hi bigint", runs)
        rows = conn.execute(
            "SELECT e.ledger_id, e.entry_seq, e.hash, e.prev_hash "
            f"FROM {runs_sql} w, LATERAL (SELECT * FROM entries x WHERE x.ledger_id = w.l "
            "AND x.entry_seq BETWEEN w.lo AND w.hi) e", (param,)).fetchall()
        for ledger_id, seq, h, prev in rows:
            streams[ledger_id].known[seq] = (h, prev)
    accepted: list[Event] = []
    for ev in sorted(mine, key=lambda e: (e.ledger_id, e.entry.seq if e.entry else 0, e.seq)):
        entry = ev.entry
        if entry is None:
            accepted.append(ev)
            continue
        st = streams[ev.ledger_id]
        problem = _link_problem(st.known, entry.seq, entry.prev_hash, entry.hash)
        if problem is not None:
            what, expected, got = problem
            out.breaks.append(Break(ev.station_id, ev.ledger_id, entry.seq, ev.event_id, what,
                                    expected, got))
            _refuse(out, ev.station_id, "chain break")
            continue
        st.known[entry.seq] = (entry.hash, entry.prev_hash)
        accepted.append(ev)
    return accepted


def _runs(seqs: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as (first, last) runs of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    for s in seqs:
        if runs and s == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], s)
        else:
            runs.append((s, s))
    return runs


def _link_problem(known: dict[int, tuple[str, str]], seq: int, prev_hash: str,
                  hash_: str) -> tuple[str, str | None, str | None] | None:
    if seq in known:
        return ("another entry with this number is already loaded", known[seq][0], hash_)
    before = known.get(seq - 1)
    if before is not None and before[0] != prev_hash:
        return ("prev_hash is not the hash of the entry before it", before[0], prev_hash)
    after = known.get(seq + 1)
    if after is not None and after[1] != hash_:
        return ("hash is not the prev_hash of the entry after it", after[1], hash_)
    return None


def _track_numbers(streams: dict[str, _Stream], events: list[Event]) -> None:
    """Open a gap for every skipped event number, close it when the event arrives."""
    by_stream: dict[str, list[int]] = defaultdict(list)
    for ev in events:
        by_stream[ev.ledger_id].append(ev.seq)
        if ev.entry is not None:
            st = streams[ev.ledger_id]
            if ev.entry.seq > st.head_seq:
                st.head_seq, st.head_hash = ev.entry.seq, ev.entry.hash
    for ledger_id, seqs in by_stream.items():
        st = streams[ledger_id]
        st.events = len(seqs)
        for s in sorted(seqs):
            if s > st.max_seq:
                if s > st.max_seq + 1:
                    st.gaps.append([st.max_seq + 1, s - 1])
                st.max_seq = s
            else:
                st.gaps = _close(st.gaps, s)


def _close(gaps: list[list[int]], s: int) -> list[list[int]]:
    out: list[list[int]] = []
    for lo, hi in gaps:
        if lo <= s <= hi:
            if lo < s:
                out.append([lo, s - 1])
            if s < hi:
                out.append([s + 1, hi])
        else:
            out.append([lo, hi])
    return out


def _write(conn: psycopg.Connection, streams: dict[str, _Stream], events: list[Event]) -> None:
    if not events:
        return
    with conn.cursor() as cur:
        with cur.copy(f"COPY events ({', '.join(_EVENT_COLS)}) FROM STDIN") as cp:
            for ev in events:
                cp.write_row((ev.event_id, ev.ledger_id, ev.station_id, ev.seq, ev.type, ev.ts,
                              ev.digest, ev.doc))
        entries = [ev for ev in events if ev.entry is not None]
        if entries:
            with cur.copy(f"COPY entries ({', '.join(_ENTRY_COLS)}) FROM STDIN") as cp:
                for ev in entries:
                    e = ev.entry
                    assert e is not None
                    cp.write_row((ev.ledger_id, e.seq, ev.station_id, ev.event_id, e.ts, e.kind,
                                  e.src, e.dst, e.count, e.item, e.category, e.device, e.job_id,
                                  e.batch_id, e.reason, e.reference, e.actor, e.prev_hash,
                                  e.hash))
                    held = streams[ev.ledger_id].balances.setdefault(e.item or "", {})
                    held[e.src] = held.get(e.src, 0) - e.count
                    held[e.dst] = held.get(e.dst, 0) + e.count
        faults = [ev for ev in events if ev.fault is not None]
        if faults:
            with cur.copy(f"COPY fault_events ({', '.join(_FAULT_COLS)}) FROM STDIN") as cp:
                for ev in faults:
                    f = ev.fault
                    assert f is not None
                    cp.write_row((ev.event_id, ev.station_id, ev.ts, ev.type, f["code"],
                                  f["source"], f["severity"]))
        touched = sorted({ev.ledger_id for ev in events})
        sts = [streams[i] for i in touched]
        # One statement per table, whatever the number of streams in the batch.
        sql, param = _rows("l text, n bigint, m bigint, g jsonb, miss bigint, hs bigint, "
                           "hh text, b jsonb",
                           [[i, st.events, st.max_seq, st.gaps,
                             sum(hi - lo + 1 for lo, hi in st.gaps), st.head_seq, st.head_hash,
                             st.balances]
                            for i, st in zip(touched, sts, strict=True)])
        # One statement, whatever the number of streams in the batch: the
        # numbering and the balances (the streams are locked, so the new totals
        # are written as they are). A stream's last_at is its station's last
        # event (the stations row is not written).
        cur.execute(
            "UPDATE streams s SET events = s.events + u.n, max_seq = u.m, gaps = u.g, "
            "missing = u.miss, head_seq = u.hs, head_hash = u.hh, balances = u.b, "
            f"last_at = now() FROM {sql} u WHERE s.ledger_id = u.l", (param,))


def _write_statuses(conn: psycopg.Connection, statuses: dict[str, StatusUpdate],
                    faults: dict[str, FaultsUpdate]) -> None:
    with conn.cursor() as cur:
        if statuses:
            cur.executemany(
                "INSERT INTO stations AS s (station_id, office, region, online, last_seen, "
                "status_at, status) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (station_id) DO UPDATE SET office = coalesce(EXCLUDED.office, "
                "s.office), region = coalesce(EXCLUDED.region, s.region), "
                "online = EXCLUDED.online, status_at = EXCLUDED.status_at, "
                "status = EXCLUDED.status, "
                "last_seen = greatest(s.last_seen, EXCLUDED.last_seen) "
                "WHERE s.status_at IS NULL OR s.status_at <= EXCLUDED.status_at",
                [(u.station_id, u.office, u.region, u.online, u.ts, u.ts, u.doc)
                 for _, u in sorted(statuses.items())])
        if faults:
            cur.executemany(
                "INSERT INTO stations AS s (station_id, faults_at, faults) VALUES (%s, %s, %s) "
                "ON CONFLICT (station_id) DO UPDATE SET faults_at = EXCLUDED.faults_at, "
                "faults = EXCLUDED.faults "
                "WHERE s.faults_at IS NULL OR s.faults_at <= EXCLUDED.faults_at",
                [(u.station_id, u.ts, u.doc) for _, u in sorted(faults.items())])


def _write_reports(conn: psycopg.Connection, out: Outcome) -> None:
    with conn.cursor() as cur:
        if out.breaks:
            cur.executemany(
                "INSERT INTO chain_breaks (station_id, ledger_id, entry_seq, event_id, problem, "
                "expected, got) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(b.station_id, b.ledger_id, b.entry_seq, b.event_id, b.problem, b.expected,
                  b.got) for b in out.breaks])
        if out.refused:
            sql, param = _rows("s text, r text, n bigint",
                               [[*k, out.refused[k]] for k in sorted(out.refused)])
            cur.execute(
                "INSERT INTO refusals AS r (station_id, reason, count) "
                f"SELECT * FROM {sql} u ON CONFLICT (station_id, reason) DO UPDATE SET "
                "count = r.count + EXCLUDED.count, last_at = now()", (param,))
        counts = {"applied": out.applied, "duplicate": out.duplicates,
                  "refused": out.refused_count, "status": out.statuses}
        rows = sorted((k, v) for k, v in counts.items() if v)
        if rows:
            sql, param = _rows("o text, n bigint", rows)
            cur.execute(
                "INSERT INTO intake AS i (outcome, count) "
                f"SELECT * FROM {sql} u ON CONFLICT (outcome) "
                "DO UPDATE SET count = i.count + EXCLUDED.count", (param,))


def counts(conn: psycopg.Connection) -> dict[str, Any]:
    """The loader's running totals: messages applied, duplicates, refused, statuses."""
    return {k: int(v) for k, v in conn.execute("SELECT outcome, count FROM intake").fetchall()}
