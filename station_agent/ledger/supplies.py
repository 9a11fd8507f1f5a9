"""Supplies in the ledger (DESIGN §10): each unit's life and yield, read from entries.

A unit's life is its install entry and the entry that ended it (a finish, or
a write-off of the unit in the printer). Its yield is the cards its printer
took while it was in: from the printer's card counter noted on both entries
(``counter=N``) when the printer reports one, otherwise from the picks the
ledger recorded on that printer meanwhile (a spooler queue, a printer that
was unreachable at the moment). Counter yields also count cards nobody
recorded (another program, a test card); pick yields count only the
agent's.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import Final

from station_agent.ledger import model
from station_agent.ledger.daily import first_seq_since
from station_agent.ledger.store import open_unit, supply_balances

#: How a yield was measured.
FROM_COUNTER: Final = "counter"
FROM_JOBS: Final = "jobs"


@dataclass(frozen=True, slots=True)
class Unit:
    """One installed unit of a supply kind: where, since when, until when, and
    the cards printed meanwhile (``cards``; for a unit still in, so far)."""

    item: str
    device: str
    serial: str | None
    install_seq: int
    installed_at: str
    install_counter: int | None
    end_seq: int | None = None
    ended_at: str | None = None
    #: ``supply_finish`` or ``supply_write_off`` (None while installed).
    end_kind: str | None = None
    end_counter: int | None = None
    cards: int = 0
    measured: str = FROM_JOBS

    @property
    def installed(self) -> bool:
        """Still in its printer."""
        return self.end_seq is None

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.item, "printer": self.device, "serial": self.serial,
                "installed_at": self.installed_at, "install_entry": self.install_seq,
                "ended_at": self.ended_at, "end_entry": self.end_seq,
                "ended_by": self.end_kind, "cards": self.cards, "measured": self.measured}


def _counter(reference: object) -> int | None:
    text = str(reference or "")
    if not text.startswith("counter="):
        return None
    value = text.removeprefix("counter=")
    return int(value) if value.isdigit() else None


def _picks(conn: sqlite3.Connection, device: str, a: int, b: int | None) -> int:
    """Cards ``device`` took in entries ``a`` to ``b`` (to the end when None)."""
    row = conn.execute(
        "SELECT COALESCE(SUM(count), 0) FROM entries WHERE kind = ? AND device = ? AND seq > ? "
        "AND seq < ?", (model.PICK, device, a, b if b is not None else 1 << 62)).fetchone()
    return int(row[0])


def units(conn: sqlite3.Connection, *, item: str | None = None, device: str | None = None,
          ended_in: tuple[int, int] | None = None, installed: bool = False,
          last_ended: int | None = None,
          counters: dict[str, int] | None = None) -> list[Unit]:
    """Every unit installed (oldest first), optionally of one supply kind or printer,
    or only those whose life ended in entries ``ended_in`` = ``(a, b)`` (a to b - 1;
    then in the order they ended), or only those still ``installed``, or the
    ``last_ended`` units whose life ended (oldest of them first).
    ``counters``: printers' card counters now, for the yield so far of a unit
    still in (otherwise it is counted from picks). A yield counted from picks
    reads the unit's printer's entries over its life, so callers ask for the
    units they show, not for every unit ever."""
    sql = ("SELECT u.install_seq, u.item, u.device, i.ts, i.first_serial, i.reference, "
           "u.end_seq, e.ts, e.kind, e.reference FROM supply_units u "
           "JOIN entries i ON i.seq = u.install_seq LEFT JOIN entries e ON e.seq = u.end_seq "
           "WHERE 1 = 1")
    args: list[object] = []
    if item is not None:
        sql += " AND u.item = ?"
        args.append(item)
    if device is not None:
        sql += " AND u.device = ?"
        args.append(device)
    order = " ORDER BY u.install_seq"
    if ended_in is not None:
        sql += " AND u.end_seq >= ? AND u.end_seq < ?"
        args.extend(ended_in)
        order = " ORDER BY u.end_seq"
    if installed:
        sql += " AND u.end_seq IS NULL"
    if last_ended is not None:
        sql += " AND u.end_seq IS NOT NULL"
        order = " ORDER BY u.end_seq DESC LIMIT ?"
        args.append(last_ended)
    rows = conn.execute(sql + order, args).fetchall()
    if last_ended is not None:
        rows.reverse()
    out = []
    for (seq, it, dev, ts, serial, ref, end_seq, end_ts, end_kind, end_ref) in rows:
        start = _counter(ref)
        end = _counter(end_ref) if end_seq is not None else (counters or {}).get(dev)
        if start is not None and end is not None and end >= start:
            cards, how = end - start, FROM_COUNTER
        else:
            cards, how = _picks(conn, dev, seq, end_seq), FROM_JOBS
        out.append(Unit(it, dev, serial, seq, ts, start, end_seq, end_ts, end_kind,
                        _counter(end_ref), cards, how))
    return out


def balances(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Every supply kind's units per account (``supply_stock`` ... ``supply_written_off``),
    every account present."""
    out = {}
    for item, bal in supply_balances(conn).items():
        out[item] = {a: bal.get(a, 0) for a in model.SUPPLY_ACCOUNTS}
        out[item]["received"] = -bal.get(model.EXTERNAL, 0)
    return out


def cards_since(conn: sqlite3.Connection, devices: list[str], since: str) -> int:
    """Cards the ``devices`` took since ``since`` (an ISO time): the use a
    supply's forecast is based on."""
    if not devices:
        return 0
    marks = ", ".join("?" for _ in devices)
    row = conn.execute(
        f"SELECT COALESCE(SUM(count), 0) FROM entries WHERE kind = ? AND seq >= ? AND "
        f"device IN ({marks})", (model.PICK, first_seq_since(conn, since), *devices)).fetchone()
    return int(row[0])


def balances_before(conn: sqlite3.Connection, seq: int) -> dict[str, dict[str, int]]:
    """Every supply kind's units per account just before entry ``seq`` (read from
    the supply entries alone, whatever the length of the blanks' log)."""
    out: dict[str, dict[str, int]] = {}
    for item, src, dst, n in conn.execute(
            "SELECT item, src, dst, SUM(count) FROM entries INDEXED BY entries_supply "
            "WHERE item IS NOT NULL AND seq < ? GROUP BY item, src, dst", (seq,)):
        bal = out.setdefault(item, dict.fromkeys((model.EXTERNAL, *model.SUPPLY_ACCOUNTS), 0))
        bal[src] -= int(n)
        bal[dst] += int(n)
    return out


def period_entries(conn: sqlite3.Connection, a: int, b: int) -> list[tuple[object, ...]]:
    """The supply entries ``a`` to ``b - 1``: ``(seq, ts, item, kind, src, count,
    batch_id, device, first_serial, reason)`` in order."""
    return conn.execute(
        "SELECT seq, ts, item, kind, src, count, batch_id, device, first_serial, reason "
        "FROM entries INDEXED BY entries_supply WHERE item IS NOT NULL AND seq >= ? AND seq < ? "
        "ORDER BY seq", (a, b)).fetchall()


def install_transfers(conn: sqlite3.Connection, item: str, device: str, idem_id: str, *,
                      serial: str | None = None, counter: int | None = None,
                      actor: str | None = None) -> list[model.Transfer]:
    """What ``supplies install`` records: the finish of the unit of ``item`` now in
    ``device`` (if one is), then the new unit's install, to be written in one
    transaction. An install recorded before under ``idem_id`` is only repeated
    (a replay), never made to finish the unit it installed."""
    transfers = []
    done = conn.execute("SELECT 1 FROM entries WHERE idem_id = ?", (idem_id,)).fetchone()
    current = None if done else open_unit(conn, item, device)
    if current is not None:
        transfers.append(model.Transfer(
            model.SUPPLY_FINISH, model.SUPPLY_INSTALLED, model.SUPPLY_FINISHED, 1,
            f"{idem_id}:finished", device=device, item=item, actor=actor,
            reference=None if counter is None else f"counter={counter}"))
    install = model.supply_install(item, device, idem_id, serial=serial, counter=counter)
    transfers.append(replace(install, actor=actor))
    return transfers
