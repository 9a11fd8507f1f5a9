"""The ledger writer: validation, idempotency, job rules, group commit.

:class:`Ledger` owns the process's one writer connection. Callers in any
thread call :meth:`Ledger.record`; requests that arrive while a commit is in
flight are collected and written by the next commit in one transaction
(group commit), and every caller returns only after the transaction holding
its entry has committed with ``synchronous=FULL``. Acknowledged means durable.

Leader/follower: a caller queues its request; if no commit is in flight it
becomes the leader and commits everything queued so far, otherwise it
sleeps on its own event. A leader, once its commit is done, wakes the
owners of that commit and hands leadership to the first caller queued
meanwhile, whose requests (and everyone else's queued with them) form the
next transaction. No extra thread is needed, a lone caller pays no hand-off
cost, and each commit wakes only the threads it concerns.

Invariants (DESIGN §3) are asserted inside every write transaction before it
commits; a failure rolls back and raises :class:`LedgerBroken`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from station_agent import clock
from station_agent.ledger import model, outbox
from station_agent.ledger.balances import Balances, read_balances
from station_agent.ledger.chain import entry_hash, hashed_values
from station_agent.ledger.errors import (
    IdempotencyConflict,
    JobRuleViolation,
    LedgerBroken,
    LedgerRefused,
    NegativeBalance,
    SerialOverlap,
    StorageError,
)
from station_agent.ledger.model import Entry, Transfer
from station_agent.ledger.serials import SerialRange, serial_range
from station_agent.ledger.store import (
    State,
    WriteLock,
    job_record,
    ledger_path,
    noted_counter,
    open_unit,
    open_writer,
    read_meta,
    read_state_and_head_ts,
    translate,
    write_state,
)

T = TypeVar("T")

_ENTRY_SELECT = (
    "SELECT seq, ts, kind, src, dst, count, idem_id, batch_id, job_id, device, "
    "first_serial, reason, reference, prev_hash, hash, category, actor, item FROM entries"
)
_INSERT_ENTRY_HEAD = (
    "INSERT INTO entries (seq, ts, kind, src, dst, count, idem_id, batch_id, job_id, device, "
    "first_serial, reason, reference, prev_hash, hash, category, actor, item) VALUES "
)
_INSERT_ENTRY = _INSERT_ENTRY_HEAD + "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def _hash(values: tuple[object, ...], category: str | None, actor: str | None,
          item: str | None = None) -> str:
    """The hash of a new entry (always written with its category, actor and supply
    kind: see :mod:`.chain`)."""
    return entry_hash(hashed_values(values, category, actor, item))


class _NotFast(Exception):
    """The batch needs judging one transfer at a time."""


def _entry_from_row(row: Sequence[object]) -> Entry:
    return Entry(*row)  # type: ignore[arg-type]


@dataclass(slots=True)
class _Request:
    transfer: Transfer
    done: bool = False
    entry: Entry | None = None
    error: BaseException | None = None


@dataclass(slots=True)
class _Submission:
    """Requests of one caller, and the event that wakes it (done, or its turn to lead)."""

    requests: list[_Request]
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False


@dataclass(slots=True)
class _Batch:
    """What one write transaction works on: the state row, kept in memory."""

    state: State
    ts: str
    appended: int = 0
    #: Supply kinds moved in this transaction (their invariants are checked).
    items: set[str] = field(default_factory=set)


def _entry_time(head_ts: str | None) -> str:
    """The time stamp of the next entries: now, but never before the last entry's
    (``head_ts``).

    A clock set back (by hand, by NTP after a dead RTC battery) must not make
    entry times run backwards: reports find a day's entries by time. The
    entries keep the last time until the clock catches up; ``diag`` reports a
    clock behind the last entry."""
    now = clock.now_utc("microseconds")
    return head_ts if head_ts is not None and head_ts > now else now


class Ledger:
    """The exact blank ledger of one station (one state directory).

    Thread-safe; several processes may hold a :class:`Ledger` on the same
    state directory at once (their write transactions are serialised by a
    file lock). Use as a context manager or call :meth:`close`.
    """

    def __init__(self, state_dir: str | Path, *, create: bool = True,
                 station_id: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.path = ledger_path(self.state_dir)
        if create:
            try:
                self.state_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise translate(exc, self.state_dir, "creating") from exc
        self._lock = WriteLock(self.state_dir)
        try:
            self._conn = open_writer(self.state_dir, self._lock, create=create,
                                     station_id=station_id)
        except BaseException:
            self._lock.close()
            raise
        self.meta = read_meta(self._conn)
        self._pending: list[_Submission] = []
        # Guards _pending, _committing and _closed; commits run outside it.
        self._mutex = threading.Lock()
        self._committing = False
        # Serialises use of the writer connection (commits, reads, close).
        self._conn_lock = threading.Lock()
        self._closed = False
        #: Called with the new entries of each commit, after it is durable and
        #: before the callers are acknowledged (event stream, logs).
        self.on_commit: list[Callable[[list[Entry]], None]] = []

    # -- lifecycle -------------------------------------------------------------

    def close(self) -> None:
        """Close the writer connection (under the writer lock: closing may checkpoint)."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
        with self._conn_lock, self._lock.held():
            self._conn.close()
        self._lock.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------

    def record(self, transfer: Transfer) -> Entry:
        """Record one transfer durably and return its entry.

        Returns the original entry (``replay=True``) when the idempotency id
        was recorded before with the same content. Raises a
        :class:`LedgerRefused` subclass when the transfer is refused and a
        :class:`StorageError` when the disk fails; in both cases nothing of
        this transfer was written.
        """
        model.validate(transfer)
        req = _Request(transfer)
        self._submit([req])
        if req.error is not None:
            raise req.error
        assert req.entry is not None
        return req.entry

    def record_many(self, transfers: Iterable[Transfer]) -> list[Entry | LedgerRefused]:
        """Record many transfers in as few transactions as possible.

        Each transfer is judged on its own: the result list holds, in order,
        the entry of each accepted transfer or the refusal of each refused one.
        A storage error is raised (and nothing of the failed transaction kept).
        """
        reqs: list[_Request] = []
        results: list[Entry | LedgerRefused | None] = []
        for t in transfers:
            try:
                model.validate(t)
            except LedgerRefused as exc:
                results.append(exc)
                continue
            results.append(None)
            reqs.append(_Request(t))
        self._submit(reqs)
        it = iter(reqs)
        out: list[Entry | LedgerRefused] = []
        for r in results:
            if r is not None:
                out.append(r)
                continue
            req = next(it)
            if isinstance(req.error, LedgerRefused):
                out.append(req.error)
            elif req.error is not None:
                raise req.error
            else:
                assert req.entry is not None
                out.append(req.entry)
        return out

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in its own write transaction on the writer connection
        and commit durably: for the agent's side records (faults, outages), which
        do not move blanks and are not chained. ``fn`` must not commit."""
        with self._conn_lock:
            if self._closed:
                raise StorageError(f"the ledger at {self.path} is closed")
            conn = self._conn
            try:
                with self._lock.held():
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        result = fn(conn)
                        conn.execute("COMMIT")
                        return result
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "writing") from exc

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the writer connection (a consistent read of the
        latest committed state, without opening another connection)."""
        with self._conn_lock:
            try:
                return fn(self._conn)
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "reading") from exc

    def job(self, job_id: str) -> tuple[int, str | None] | None:
        """``(pick entry, outcome kind or None while open)`` of ``job_id``, or None."""
        return self.read(lambda conn: job_record(conn, job_id))

    def device_counter(self, device: str) -> int | None:
        """The printer counter noted (``counter=N``) by ``device``'s latest pick or
        unreported-pick write-off, or None: where counter reconciliation resumes."""
        return self.read(lambda conn: noted_counter(conn, device))

    def _submit(self, reqs: list[_Request]) -> None:
        """Queue ``reqs`` and return once a commit has settled every one of them."""
        sub = _Submission(reqs)
        with self._mutex:
            if self._closed:
                raise StorageError(f"the ledger at {self.path} is closed")
            self._pending.append(sub)
            lead = not self._committing
            self._committing = True
        while True:
            if lead:
                self._lead()
            else:
                sub.wake.wait()
            if sub.done:
                return
            # Woken without being done: the previous leader handed over to us.
            sub.wake.clear()
            lead = True

    def _lead(self) -> None:
        """Commit everything queued, wake its owners, hand over to the next in line."""
        # Give callers woken by the previous commit a moment to queue their
        # next request (it costs a lone caller one sched_yield).
        os.sched_yield()
        with self._mutex:
            batch, self._pending = self._pending, []
        reqs = [req for sub in batch for req in sub.requests]
        try:
            with self._conn_lock:
                self._commit(reqs)
        finally:
            if self.on_commit:
                entries = [r.entry for r in reqs if r.entry is not None and not r.entry.replay]
                if entries:
                    for listener in list(self.on_commit):
                        # A listener's bug must not lose the acknowledgement.
                        with contextlib.suppress(Exception):
                            listener(entries)
            for sub in batch:
                sub.done = True
                sub.wake.set()
            with self._mutex:
                if self._pending:
                    self._pending[0].wake.set()
                else:
                    self._committing = False

    #: Largest number of requests written in one transaction.
    MAX_BATCH = 10_000

    def _commit(self, batch: list[_Request]) -> None:
        for start in range(0, len(batch), self.MAX_BATCH):
            self._commit_chunk(batch[start:start + self.MAX_BATCH])

    def _commit_chunk(self, chunk: list[_Request]) -> None:
        conn = self._conn
        try:
            with self._lock.held():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    state, head_ts = read_state_and_head_ts(conn)
                    batch = _Batch(state, _entry_time(head_ts))
                    head_before = batch.state.head_seq
                    if len(chunk) < 2 or not self._apply_fast(chunk, batch):
                        for req in chunk:
                            try:
                                req.entry = self._apply(req.transfer, batch)
                            except LedgerRefused as exc:
                                req.error = exc
                    if batch.appended:
                        self._check_invariants(batch.state)
                        self._check_supplies(batch.items)
                        write_state(conn, batch.state)
                        # Queued for the uplink in the same transaction.
                        outbox.add_entries(conn, head_before)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            err = translate(exc, self.path, "writing")
            for req in chunk:
                if req.error is None:
                    req.entry, req.error = None, err
        except LedgerBroken as exc:
            for req in chunk:
                req.entry, req.error = None, exc
        except BaseException as exc:
            for req in chunk:
                req.entry, req.error = None, exc
            raise
        finally:
            for req in chunk:
                req.done = True

    #: Rows per multi-row INSERT (16 parameters each, under SQLite's 32766).
    _ROWS_PER_STATEMENT = 500

    def _apply_fast(self, chunk: list[_Request], batch: _Batch) -> bool:
        """Append a whole batch in a few multi-row statements, if nothing in it is refused.

        Every statement releases the GIL, and under many producer threads each
        release costs a thread hand-off; writing a batch in three statements
        instead of two per transfer is what makes group commit pay. Anything
        unusual (a refusal, a replay, a serial range, a job touched twice)
        makes this return False with nothing changed, and the caller judges
        the batch one transfer at a time, which gives the same entries.
        """
        st = batch.state
        balances, totals = dict(st.balances), dict(st.totals)
        seq, prev = st.head_seq, st.head_hash
        rows: list[tuple[object, ...]] = []
        picks: list[tuple[object, ...]] = []
        outcomes: list[tuple[object, ...]] = []
        settled: set[str] = set()
        for req in chunk:
            t = req.transfer
            if t.first_serial is not None or t.kind == model.VOID or t.item is not None:
                return False
            bal = balances[t.src]
            if t.src != model.EXTERNAL and bal < t.count:
                return False
            seq += 1
            values = (seq, batch.ts, t.kind, t.src, t.dst, t.count, t.idem_id, t.batch_id,
                      t.job_id, t.device, t.first_serial, t.reason, t.reference, prev)
            prev = _hash(values, t.category, t.actor)
            rows.append((*values, prev, t.category, t.actor, None))
            if t.job_id is not None:
                if t.kind == model.PICK:
                    # Picks are inserted before outcomes are applied: an outcome
                    # that came before its own pick must be judged in order.
                    if t.job_id in settled:
                        return False
                    picks.append((t.job_id, seq))
                else:
                    settled.add(t.job_id)
                    outcomes.append((t.job_id, t.kind, seq))
            balances[t.src] = bal - t.count
            balances[t.dst] += t.count
            totals[t.kind] += -t.count if (t.kind == model.ADJUST
                                           and t.dst == model.EXTERNAL) else t.count
        conn = self._conn
        conn.execute("SAVEPOINT fast")
        try:
            self._insert_rows("INSERT INTO jobs (job_id, pick_seq) VALUES ", picks)
            n = self._ROWS_PER_STATEMENT
            for i in range(0, len(outcomes), n):
                part = outcomes[i:i + n]
                cur = conn.execute(
                    "UPDATE jobs SET outcome = v.column2, outcome_seq = v.column3 FROM (VALUES "
                    + ", ".join(["(?, ?, ?)"] * len(part))
                    + ") AS v WHERE jobs.job_id = v.column1 AND jobs.outcome IS NULL",
                    [x for row in part for x in row])
                if cur.rowcount != len(part):
                    raise _NotFast
            self._insert_rows(_INSERT_ENTRY_HEAD, rows)
        except (sqlite3.IntegrityError, _NotFast):
            conn.execute("ROLLBACK TO fast")
            conn.execute("RELEASE fast")
            return False
        conn.execute("RELEASE fast")
        for req, row in zip(chunk, rows, strict=True):
            req.entry = Entry(*row)  # type: ignore[arg-type]
        st.balances, st.totals, st.head_seq, st.head_hash = balances, totals, seq, prev
        batch.appended += len(rows)
        return True

    def _insert_rows(self, head: str, rows: list[tuple[object, ...]]) -> None:
        if not rows:
            return
        marks = "(" + ", ".join(["?"] * len(rows[0])) + ")"
        n = self._ROWS_PER_STATEMENT
        for i in range(0, len(rows), n):
            part = rows[i:i + n]
            self._conn.execute(head + ", ".join([marks] * len(part)),
                               [x for row in part for x in row])

    def _apply(self, t: Transfer, batch: _Batch) -> Entry:
        """Judge ``t`` and append its entry inside the open transaction.

        Rows written earlier in the same transaction are visible to the
        queries here, so a batch is judged exactly as if its transfers came
        one by one. The common path costs one INSERT (plus one statement for
        a job): the idempotency id is checked by the UNIQUE index and only
        looked up when that index or a rule refuses.
        """
        if t.item is not None:
            return self._apply_supply(t, batch)
        conn = self._conn
        st = batch.state
        seq = st.head_seq + 1
        try:
            if t.kind == model.VOID:
                # Its job's rule says more than a balance: an issued card of a
                # completed job is always there to void.
                self._apply_job(t, seq)
            src_balance = st.balances[t.src]
            if t.src != model.EXTERNAL and src_balance < t.count:
                raise _refused(
                    NegativeBalance,
                    "{kind} of {count} blank(s) refused: only {have} blank(s) {account}; a count "
                    "cannot go below zero: check the number, or record the missing delivery "
                    "or correction first",
                    kind=t.kind, count=t.count, account=t.src, have=src_balance)
            rng = None if t.first_serial is None else serial_range(t.first_serial, t.count)
            if rng is not None:
                self._check_serials(rng, t)
            if t.job_id is not None and t.kind != model.VOID:
                self._apply_job(t, seq)
        except LedgerRefused as refusal:
            # A replay of an earlier transfer would fail the rules it already
            # changed (its job is settled, its blanks moved on): a replay wins.
            return self._replay_or_raise(t, refusal)

        entry = self._insert_entry(t, batch, seq)
        if entry.replay:
            if t.job_id is not None:
                self._undo_job(t)
            return entry
        if rng is not None:
            conn.execute("INSERT INTO serial_ranges (prefix, first, last, width, seq) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (rng.prefix, rng.first, rng.last, rng.width, seq))

        st.balances[t.src] = src_balance - t.count
        st.balances[t.dst] += t.count
        sign = -1 if (t.kind == model.ADJUST and t.dst == model.EXTERNAL) else 1
        st.totals[t.kind] += sign * t.count
        st.head_seq, st.head_hash = seq, entry.hash
        batch.appended += 1
        return entry

    def _replay_or_raise(self, t: Transfer, refusal: LedgerRefused) -> Entry:
        """The earlier entry of ``t``'s id as a replay, or ``refusal`` when the id
        is new."""
        earlier = self._find(t.idem_id)
        if earlier is None:
            raise refusal
        return self._replay(earlier, t)

    def _insert_entry(self, t: Transfer, batch: _Batch, seq: int) -> Entry:
        """Insert ``t`` as entry ``seq`` and return it, or (its id recorded before)
        the earlier entry as a replay (``replay`` set)."""
        values = (seq, batch.ts, t.kind, t.src, t.dst, t.count, t.idem_id, t.batch_id,
                  t.job_id, t.device, t.first_serial, t.reason, t.reference,
                  batch.state.head_hash)
        h = _hash(values, t.category, t.actor, t.item)
        try:
            self._conn.execute(_INSERT_ENTRY, (*values, h, t.category, t.actor, t.item))
        except sqlite3.IntegrityError:
            earlier = self._find(t.idem_id)
            if earlier is None:
                raise
            return self._replay(earlier, t)
        return Entry(*values, h, t.category, t.actor, t.item)

    def _apply_supply(self, t: Transfer, batch: _Batch) -> Entry:
        """Judge the supply transfer ``t`` and append its entry (see :meth:`_apply`)."""
        conn, st = self._conn, batch.state
        seq = st.head_seq + 1
        item, device = str(t.item), t.device
        unit = None if device is None else open_unit(conn, item, device)
        try:
            if t.kind == model.SUPPLY_INSTALL and unit is not None:
                raise _refused(
                    JobRuleViolation,
                    "printer {device} already has a {item} installed (entry {seq}): record "
                    "the new one with `station-agent supplies install`, which finishes the "
                    "old one, or finish it first", device=device, item=item, seq=unit)
            if t.src == model.SUPPLY_INSTALLED and unit is None:
                raise _refused(
                    JobRuleViolation,
                    "{kind} refused: no {item} is recorded as installed in printer {device}: "
                    "record its install first (`station-agent supplies install`)",
                    kind=t.kind, item=item, device=device)
            have = self._supply_balance(item, t.src)
            if t.src != model.EXTERNAL and have < t.count:
                raise _refused(
                    NegativeBalance,
                    "{kind} of {count} {item} refused: only {have} {account}; a count cannot "
                    "go below zero: check the number, or record the delivery first "
                    "(`station-agent supplies receive`)",
                    kind=t.kind, count=t.count, item=item, account=t.src, have=have)
        except LedgerRefused as refusal:
            return self._replay_or_raise(t, refusal)
        entry = self._insert_entry(t, batch, seq)
        if entry.replay:
            return entry
        conn.executemany(
            "INSERT INTO supply_balances (item, account, balance) VALUES (?, ?, ?) "
            "ON CONFLICT (item, account) DO UPDATE SET balance = balance + excluded.balance",
            [(item, t.src, -t.count), (item, t.dst, t.count)])
        if t.kind == model.SUPPLY_INSTALL:
            conn.execute("INSERT INTO supply_units (install_seq, item, device) VALUES (?, ?, ?)",
                         (seq, item, device))
        elif t.src == model.SUPPLY_INSTALLED:
            conn.execute("UPDATE supply_units SET end_seq = ? WHERE install_seq = ?",
                         (seq, unit))
        st.head_seq, st.head_hash = seq, entry.hash
        batch.appended += 1
        batch.items.add(item)
        return entry

    def _supply_balance(self, item: str, account: str) -> int:
        row = self._conn.execute("SELECT balance FROM supply_balances WHERE item = ? AND "
                                 "account = ?", (item, account)).fetchone()
        return 0 if row is None else int(row[0])

    def _check_supplies(self, items: set[str]) -> None:
        """Each supply kind moved: no account below zero, and its units all accounted
        for (the held accounts sum to what came in)."""
        for item in items:
            bal = dict(self._conn.execute(
                "SELECT account, balance FROM supply_balances WHERE item = ?", (item,)))
            held = [bal.get(a, 0) for a in model.SUPPLY_ACCOUNTS]
            if min(held) < 0 or sum(held) != -bal.get(model.EXTERNAL, 0):
                raise LedgerBroken(
                    f"invariant broken: supply {item} would hold {dict(bal)}; nothing was "
                    "written; run `station-agent ledger verify`")

    def _find(self, idem_id: str) -> Entry | None:
        row = self._conn.execute(f"{_ENTRY_SELECT} WHERE idem_id = ?", (idem_id,)).fetchone()
        return None if row is None else _entry_from_row(row)

    @staticmethod
    def _replay(earlier: Entry, t: Transfer) -> Entry:
        if earlier.transfer.content() == t.content():
            return replace(earlier, replay=True)
        if t.kind == model.RECEIVE and earlier.kind == model.RECEIVE:
            raise _refused(
                IdempotencyConflict,
                "batch {batch} was already recorded (entry {seq}) as a delivery of {was} "
                "blank(s); this delivery says {count}: give another delivery its own batch "
                "number, or fix the first one with a correction",
                batch=t.batch_id, seq=earlier.seq, was=earlier.count, count=t.count)
        if t.kind == model.SUPPLY_RECEIVE and earlier.kind == model.SUPPLY_RECEIVE:
            raise _refused(
                IdempotencyConflict,
                "delivery {batch} of {item} was already recorded (entry {seq}) as {was} "
                "unit(s); this delivery says {count}: give another delivery its own batch "
                "number", batch=t.batch_id, item=t.item, seq=earlier.seq, was=earlier.count,
                count=t.count)
        if t.kind == model.DISPOSE and earlier.kind == model.DISPOSE:
            raise _refused(
                IdempotencyConflict,
                "destruction record {reference} was already recorded (entry {seq}) for {was} "
                "blank(s); this one says {count}: check the record's number and count",
                reference=t.reference, seq=earlier.seq, was=earlier.count, count=t.count)
        raise _refused(
            IdempotencyConflict,
            "this request was already recorded differently (entry {seq}: {earlier}; now: "
            "{now}): repeat it exactly, or record a new one",
            seq=earlier.seq, earlier=earlier.transfer.describe(), now=t.describe())

    def _apply_job(self, t: Transfer, seq: int) -> None:
        """Record the job side of ``t`` (one pick, at most one outcome) or refuse."""
        conn = self._conn
        if t.kind == model.PICK:
            cur = conn.execute(
                "INSERT INTO jobs (job_id, pick_seq) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (t.job_id, seq))
            if cur.rowcount == 1:
                return
            (pick_seq,) = conn.execute("SELECT pick_seq FROM jobs WHERE job_id = ?",
                                       (t.job_id,)).fetchone()
            raise JobRuleViolation(
                f"job {t.job_id!r} was already picked (entry {pick_seq}): a job picks exactly "
                "one card; use a new job id for a new card"
            )
        if t.kind == model.VOID:
            self._apply_void(t, seq)
            return
        cur = conn.execute(
            "UPDATE jobs SET outcome = ?, outcome_seq = ? WHERE job_id = ? AND outcome IS NULL",
            (t.kind, seq, t.job_id))
        if cur.rowcount == 1:
            return
        row = conn.execute("SELECT outcome, outcome_seq FROM jobs WHERE job_id = ?",
                           (t.job_id,)).fetchone()
        if row is None:
            raise JobRuleViolation(
                f"job {t.job_id!r} has no pick: record the pick before its {t.kind}")
        raise JobRuleViolation(
            f"job {t.job_id!r} already has outcome {row[0]} (entry {row[1]}): a job has at "
            "most one outcome"
        )

    def _apply_void(self, t: Transfer, seq: int) -> None:
        """A void: at most one, and only of a job whose card was issued."""
        conn = self._conn
        cur = conn.execute(
            "UPDATE jobs SET void_seq = ? WHERE job_id = ? AND outcome = ? AND void_seq IS NULL",
            (seq, t.job_id, model.COMPLETE))
        if cur.rowcount == 1:
            return
        row = conn.execute("SELECT outcome, void_seq FROM jobs WHERE job_id = ?",
                           (t.job_id,)).fetchone()
        if row is None:
            raise JobRuleViolation(
                f"job {t.job_id!r} is not in the ledger: only a job whose card was issued can "
                "be voided; check the job id with `station-agent jobs`")
        if row[1] is not None:
            raise JobRuleViolation(
                f"job {t.job_id!r} was already voided (entry {row[1]}): a card is voided at "
                "most once")
        state = "still open (no outcome yet)" if row[0] is None else f"ended {row[0]}"
        raise JobRuleViolation(
            f"job {t.job_id!r} is {state}, not completed: only an issued card can be voided; "
            "settle an open job with `station-agent jobs resolve`")

    def _undo_job(self, t: Transfer) -> None:
        """Take back :meth:`_apply_job` when the entry itself turned out to be a replay."""
        if t.kind == model.PICK:
            self._conn.execute("DELETE FROM jobs WHERE job_id = ?", (t.job_id,))
        elif t.kind == model.VOID:
            self._conn.execute("UPDATE jobs SET void_seq = NULL WHERE job_id = ?", (t.job_id,))
        else:
            self._conn.execute("UPDATE jobs SET outcome = NULL, outcome_seq = NULL "
                               "WHERE job_id = ?", (t.job_id,))

    def _check_serials(self, rng: SerialRange, t: Transfer) -> None:
        row = self._conn.execute(
            "SELECT prefix, first, last, width, seq FROM serial_ranges "
            "WHERE prefix = ? AND first <= ? AND last >= ? LIMIT 1",
            (rng.prefix, rng.last, rng.first),
        ).fetchone()
        if row is not None:
            other = SerialRange(*row[:4])
            raise SerialOverlap(
                f"serials {rng.describe()} of batch {t.batch_id!r} overlap serials "
                f"{other.describe()} received in entry {row[4]}: check the first serial and "
                "the count on the delivery note"
            )

    @staticmethod
    def _check_invariants(state: State) -> None:
        held = 0
        for account in model.HELD_ACCOUNTS:
            value = state.balances[account]
            if value < 0:
                raise LedgerBroken(f"invariant broken: account {account} would be {value}; "
                                   "nothing was written; run `station-agent ledger verify`")
            held += value
        brought_in = state.totals[model.RECEIVE] + state.totals[model.ADJUST]
        if held != brought_in or state.balances[model.EXTERNAL] != -held:
            raise LedgerBroken(
                f"invariant broken: accounts hold {held} blanks but received + adjusted = "
                f"{brought_in} and external = {state.balances[model.EXTERNAL]}; nothing was "
                "written; run `station-agent ledger verify`"
            )

    # -- convenience -------------------------------------------------------------

    def adjust(self, delta: int, reason: str, idem_id: str) -> Entry:
        """Record a stock correction of ``delta`` (signed) blanks."""
        return self.record(model.adjust(delta, reason, idem_id))

    # -- reading (through the writer connection, under the commit lock) ----------

    def balances(self) -> Balances:
        """The current balances (O(1): maintained, not scanned)."""
        with self._conn_lock:
            try:
                return read_balances(self._conn)
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "reading") from exc


def _refused(cls: type[LedgerRefused], text: str, **fields: object) -> LedgerRefused:
    """A refusal of kind ``cls``: ``text`` with ``fields``, in English (see
    :class:`~station_agent.ledger.errors.LedgerRefused`)."""
    shown = dict(fields)
    if "kind" in shown:
        shown["kind"] = str(model.KIND_LABELS.get(str(shown["kind"]), shown["kind"])).capitalize()
    if "account" in shown:
        shown["account"] = model.ACCOUNT_LABELS.get(str(shown["account"]), shown["account"])
    return cls(text.format(**shown), text=text, fields=fields)
