"""``ledger verify``: recompute the chain and every balance from the entries.

One pass over the log, in a single read transaction (a consistent snapshot
even while a daemon writes):

* entry numbers run 1, 2, 3 ... without gaps;
* each entry's ``prev_hash`` is the previous entry's hash (entry 1: the
  genesis hash of this ledger's id) and its ``hash`` matches its content;
* each entry is a legal transfer (known kind and route, positive count) that
  keeps every account non-negative, and per job there is one pick and at
  most one outcome;
* the stored chain head names the last entry and its hash;
* balances and totals recomputed from the entries equal the stored ones;
* supplies the same way, per supply kind: legal routes, no account below
  zero, one unit per kind and printer installed at a time, finishes only of an
  installed unit, and the stored supply balances equal the entries'.

The first entry that fails is reported as ``first_break``; problems that
belong to no single entry (a tampered balance row) are listed in
``problems`` with ``first_break`` left ``None``.

A chain head witnessed elsewhere (printed on the daily report, sent over the
uplink) can be checked with ``expect``: ``(seq, hash)`` must still be the
hash of entry ``seq``. That is what detects a consistent rewrite of the
whole chain, which the file alone cannot.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from station_agent.ledger import model
from station_agent.ledger.chain import entry_hash, genesis_hash, hashed_values
from station_agent.ledger.store import (
    categories_from,
    end_read,
    read_meta,
    read_state,
    supply_balances,
)

_FETCH = 20_000


@dataclass(slots=True)
class VerifyReport:
    """Outcome of :func:`verify` (``ledger verify --json``)."""

    ok: bool
    entries: int
    first_break: int | None
    problems: list[str] = field(default_factory=list)
    chain_head: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The contract fields ``ok``, ``entries``, ``first_break``, then extras."""
        return {"ok": self.ok, "entries": self.entries, "first_break": self.first_break,
                "problems": list(self.problems), "chain_head": self.chain_head}


def verify(conn: sqlite3.Connection, *, expect: tuple[int, str] | None = None) -> VerifyReport:
    """Verify the ledger behind ``conn`` (read-only use). See the module docstring."""
    conn.execute("BEGIN")
    try:
        return _verify(conn, expect)
    finally:
        end_read(conn)


def _verify(conn: sqlite3.Connection, expect: tuple[int, str] | None) -> VerifyReport:
    problems: list[str] = []
    first_break: int | None = None

    meta = read_meta(conn)
    prev = genesis_hash(meta.get("ledger_id", ""))
    routes = {k: frozenset(v) for k, v in model.ROUTES.items()}
    balances = dict.fromkeys(model.ACCOUNTS, 0)
    totals = dict.fromkeys(model.KINDS, 0)
    held = frozenset(model.HELD_ACCOUNTS)
    jobs: dict[str, int] = {}  # job id -> 1 picked, 2 settled, 3 completed, 4 voided
    pick, outcomes, adjust_k, external = model.PICK, frozenset(model.OUTCOMES), model.ADJUST, \
        model.EXTERNAL
    complete, void = model.COMPLETE, model.VOID
    spoil_kinds, categories = frozenset(model.SPOIL_KINDS), frozenset(model.CATEGORIES)
    supplies: dict[str, dict[str, int]] = {}
    units: set[tuple[str, str]] = set()   # (item, printer) with a unit installed
    supply_kinds = frozenset(model.SUPPLY_KINDS)
    expected = 1
    witnessed: str | None = None
    witness_seq = expect[0] if expect else -1

    hashed_from = categories_from(meta)
    cur = conn.execute(
        "SELECT seq, ts, kind, src, dst, count, idem_id, batch_id, job_id, device, "
        "first_serial, reason, reference, prev_hash, hash, category, actor, item FROM entries "
        "ORDER BY seq"
    )

    def brk(seq: int, why: str) -> None:
        nonlocal first_break
        first_break = seq
        problems.append(f"entry {seq}: {why}")

    while first_break is None:
        rows = cur.fetchmany(_FETCH)
        if not rows:
            break
        for row in rows:
            seq = row[0]
            if seq != expected:
                brk(expected, f"missing (the next entry present is {seq})")
                break
            if row[13] != prev:
                brk(seq, "prev_hash does not match the hash of the entry before it")
                break
            category, actor, item = row[15], row[16], row[17]
            if item is not None:
                h = entry_hash(hashed_values(row[:14], category, actor, item))
            elif actor is None:
                h = entry_hash(row[:14] if category is None or seq < hashed_from
                               else (*row[:14], category))
            else:
                h = entry_hash(hashed_values(row[:14], category, actor, seq=seq,
                                             categories_from=hashed_from))
            if h != row[14]:
                brk(seq, "content does not match its stored hash (the entry was changed)")
                break
            kind, src, dst, count, job = row[2], row[3], row[4], row[5], row[8]
            if item is not None or kind in supply_kinds:
                why = _supply_problem(row, supplies, units, routes)
                if why is not None:
                    brk(seq, why)
                    break
                if seq == witness_seq:
                    witnessed = h
                prev = h
                expected += 1
                continue
            route = routes.get(kind)
            if route is None or (src, dst) not in route or type(count) is not int or count < 1:
                brk(seq, f"not a legal transfer ({kind} {count} {src}->{dst})")
                break
            b = balances[src] - count
            if b < 0 and src in held:
                brk(seq, f"takes {src} below zero")
                break
            balances[src] = b
            balances[dst] += count
            totals[kind] += -count if (kind == adjust_k and dst == external) else count
            if job is not None:
                state = jobs.get(job, 0)
                if kind == pick:
                    if state:
                        brk(seq, f"second pick of job {job!r}")
                        break
                    jobs[job] = 1
                elif kind in outcomes:
                    if state != 1:
                        brk(seq, f"{kind} of job {job!r} " + (
                            "without a pick" if state == 0 else "after its outcome"))
                        break
                    jobs[job] = 3 if kind == complete else 2
                elif kind == void:
                    if state != 3:
                        brk(seq, f"void of job {job!r} " + (
                            "voided before" if state == 4 else "that was not completed"))
                        break
                    jobs[job] = 4
            if (kind in spoil_kinds) != (category in categories):
                brk(seq, f"{kind} with spoil category {category!r}")
                break
            if seq == witness_seq:
                witnessed = h
            prev = h
            expected += 1

    count = expected - 1
    stored = read_state(conn)
    if first_break is None:
        if stored.head_seq > count:
            brk(count + 1, f"missing (the chain head says the log ends at entry "
                           f"{stored.head_seq})")
        elif stored.head_seq < count:
            brk(stored.head_seq + 1,
                f"not covered by the chain head (head is entry {stored.head_seq})")
        elif stored.head_hash != prev:
            brk(count, "its hash does not match the stored chain head")

    if first_break is None:
        for account in model.ACCOUNTS:
            if stored.balances[account] != balances[account]:
                problems.append(f"stored balance of {account} is {stored.balances[account]}, "
                                f"the entries give {balances[account]}")
        for kind in model.KINDS:
            if stored.totals[kind] != totals[kind]:
                problems.append(f"stored total of {kind} is {stored.totals[kind]}, "
                                f"the entries give {totals[kind]}")
        stored_supplies = supply_balances(conn)
        for item in sorted(set(stored_supplies) | set(supplies)):
            stored_bal = {a: n for a, n in stored_supplies.get(item, {}).items() if n}
            recomputed = {a: n for a, n in supplies.get(item, {}).items() if n}
            if stored_bal != recomputed:
                problems.append(f"stored balances of supply {item} are {stored_bal}, the "
                                f"entries give {recomputed}")

    if expect is not None:
        seq, want = expect
        if seq > count or (first_break is not None and seq >= first_break):
            problems.append(f"witnessed entry {seq} is not in the verified log")
        elif witnessed is None or not witnessed.startswith(want.lower()):
            problems.append(f"entry {seq} no longer has the witnessed hash {want}: the log was "
                            "rewritten after it was witnessed")
            if first_break is None:
                first_break = seq

    return VerifyReport(ok=not problems, entries=count, first_break=first_break,
                        problems=problems, chain_head=prev if first_break is None else None)


def _supply_problem(row: tuple[object, ...], supplies: dict[str, dict[str, int]],
                    units: set[tuple[str, str]],
                    routes: dict[str, frozenset[tuple[str, str]]]) -> str | None:
    """Apply one supply entry to the recomputed supply balances, or say what is wrong."""
    kind, src, dst, count, device, item = (row[2], row[3], row[4], row[5], row[9], row[17])
    route = routes.get(str(kind))
    if (item is None or kind not in model.SUPPLY_KINDS or route is None
            or (src, dst) not in route or type(count) is not int or count < 1):
        return f"not a legal supply transfer ({kind} {count} {src}->{dst} of {item})"
    bal = supplies.setdefault(str(item), dict.fromkeys((model.EXTERNAL,
                                                        *model.SUPPLY_ACCOUNTS), 0))
    if src != model.EXTERNAL and bal[str(src)] < count:
        return f"takes {src} of supply {item} below zero"
    key = (str(item), str(device))
    if kind == model.SUPPLY_INSTALL:
        if key in units:
            return f"installs a second {item} in printer {device}"
        units.add(key)
    elif src == model.SUPPLY_INSTALLED:
        if key not in units:
            return f"{kind} of a {item} not installed in printer {device}"
        units.discard(key)
    bal[str(src)] -= count
    bal[str(dst)] += count
    return None
