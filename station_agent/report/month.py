"""The monthly recapitulation of blanks (DESIGN §10), computed from the ledger.

For one local calendar month: opening and closing balances, each delivery
(batch, count, serial range), cards issued, spoiled by cause, each disposal
(its destruction record's number and date), each write-off and correction
with its reason, the stock identity shown balanced, days with server outages
and each device's downtime, and per-printer totals. The month is built from
the same pieces as the daily report (:mod:`.model`) over the month's window,
so it equals the sum of its days (tested), and its closing balances are the
next month's opening ones.

Cost: two binary searches for the month's first and last entries, one pass
over the month's entries per section, one over the fault and outage logs.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from station_agent import clock
from station_agent.config import SupplyConfig
from station_agent.ledger import faultlog, model
from station_agent.ledger.daily import first_seq_since, ts_text
from station_agent.ledger.serials import serial_range
from station_agent.report.model import (
    DOWN_SEVERITIES,
    balances_at,
    current_balances,
    identities,
    local_start,
    movements,
    overlap_minutes,
    parse_ts,
    roll_forward,
    spoiled_by_category,
)
from station_agent.supplies.period import SupplyPeriod, supply_period


@dataclass
class MonthReport:
    """Everything the recapitulation shows; see the module docstring."""

    station_id: str
    office: str | None
    region: str | None
    month: date                       # its first day
    last_day: date
    generated_at: str
    opening: dict[str, int]
    closing: dict[str, int]
    moved: dict[str, int]
    spoiled_by_category: dict[str, int]
    deliveries: list[dict[str, Any]]
    disposals: list[dict[str, Any]]
    write_offs: list[dict[str, Any]]
    corrections: list[dict[str, Any]]
    stock_identity_ok: bool
    station_identity_ok: bool
    outage_days: list[dict[str, Any]]
    downtime_minutes: dict[str, float]
    printers: dict[str, dict[str, int]]
    chain_head: str
    entries: int
    complete: bool = True             # False while the month is not over
    notes: list[str] = field(default_factory=list)
    #: Each supply kind's stock and movements, and the units used up (DESIGN §10).
    supplies: list[SupplyPeriod] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.month.strftime("%Y-%m")

    def as_dict(self) -> dict[str, Any]:
        return {
            "station_id": self.station_id, "office": self.office, "region": self.region,
            "month": self.label, "first_day": self.month.isoformat(),
            "last_day": self.last_day.isoformat(), "complete": self.complete,
            "generated_at": self.generated_at, "opening": self.opening,
            "closing": self.closing, "moved": self.moved,
            "spoiled_by_category": self.spoiled_by_category, "deliveries": self.deliveries,
            "disposals": self.disposals, "write_offs": self.write_offs,
            "corrections": self.corrections, "stock_identity_ok": self.stock_identity_ok,
            "station_identity_ok": self.station_identity_ok,
            "outage_days": self.outage_days, "downtime_minutes": self.downtime_minutes,
            "printers": self.printers, "chain_head": self.chain_head,
            "entries": self.entries, "supplies": [p.as_dict() for p in self.supplies],
        }


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first day of the month and the first day of the next."""
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt


def _local_date(ts: str) -> str:
    return parse_ts(ts).astimezone().date().isoformat()


def _rows(conn: sqlite3.Connection, a: int, b: int, kind: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT seq, ts, count, batch_id, first_serial, reason, reference, src, dst, job_id, "
        "device FROM entries WHERE seq >= ? AND seq < ? AND kind = ? ORDER BY seq",
        (a, b, kind)).fetchall()


def build_month(conn: sqlite3.Connection, year: int, month: int, *, station_id: str,
                office: str | None = None, region: str | None = None,
                now: datetime | None = None,
                supply_kinds: tuple[SupplyConfig, ...] = ()) -> MonthReport:
    """The recapitulation of the local month ``year``-``month`` from the ledger on ``conn``."""
    now = now or clock.local_now()
    first, nxt = month_bounds(year, month)
    lo, hi = local_start(first), local_start(nxt)
    current = current_balances(conn)
    a = first_seq_since(conn, ts_text(lo))
    b = first_seq_since(conn, ts_text(hi))
    opening = balances_at(conn, lo, current)
    closing = roll_forward(conn, opening, a, b) if hi <= now else dict(current)
    moved = movements(conn, a, b)
    held = model.HELD_ACCOUNTS
    stock_ok, station_ok = identities(opening, moved, closing)

    deliveries = []
    for seq, ts, count, batch, first_serial, *_ in _rows(conn, a, b, model.RECEIVE):
        serials = None
        if first_serial:
            serials = serial_range(first_serial, count).describe()
        deliveries.append({"entry": seq, "date": _local_date(ts), "batch": batch,
                           "count": count, "serials": serials})
    disposals = [{"entry": r[0], "date": _local_date(r[1]), "count": r[2], "record": r[6]}
                 for r in _rows(conn, a, b, model.DISPOSE)]
    write_offs = [{"entry": r[0], "date": _local_date(r[1]), "count": r[2],
                   "from": r[7], "reason": r[5], "job": r[9], "device": r[10]}
                  for r in _rows(conn, a, b, model.WRITE_OFF)]
    corrections = [{"entry": r[0], "date": _local_date(r[1]),
                    "count": r[2] if r[8] == model.STOCK else -r[2], "reason": r[5]}
                   for r in _rows(conn, a, b, model.ADJUST)]

    printers: dict[str, dict[str, int]] = {}
    for device, kind, n in conn.execute(
            "SELECT device, kind, SUM(count) FROM entries WHERE seq >= ? AND seq < ? AND "
            "device IS NOT NULL AND item IS NULL GROUP BY device, kind", (a, b)):
        row = printers.setdefault(str(device), dict.fromkeys(
            ("picked", "issued", "spoiled", "lost"), 0))
        key = {model.PICK: "picked", model.COMPLETE: "issued", model.REJECT: "spoiled",
               model.VOID: "spoiled", model.WRITE_OFF: "lost"}.get(kind)
        if key:
            row[key] += int(n)

    down: dict[str, float] = {}
    for f in faultlog.fault_history(conn, limit=1_000_000):
        if f.severity not in DOWN_SEVERITIES or f.source == "network" \
                or f.raised_at >= ts_text(hi) \
                or (f.cleared_at is not None and f.cleared_at <= ts_text(lo)):
            continue
        minutes = overlap_minutes(f.raised_at, f.cleared_at, lo, hi, now)
        down[f.source] = round(down.get(f.source, 0.0) + minutes, 1)
    by_day: dict[str, dict[str, float]] = {}
    for o in faultlog.outages(conn, ts_text(lo)):
        if o.started_at >= ts_text(hi):
            continue
        day = first
        while day < nxt:
            dlo, dhi = local_start(day), local_start(day + timedelta(days=1))
            if o.started_at < ts_text(dhi) and (o.ended_at is None or o.ended_at > ts_text(dlo)):
                minutes = overlap_minutes(o.started_at, o.ended_at, dlo, dhi, now)
                d = by_day.setdefault(day.isoformat(), {"outages": 0, "minutes": 0.0})
                d["outages"] += 1
                d["minutes"] = round(d["minutes"] + minutes, 1)
            day += timedelta(days=1)
    head = conn.execute("SELECT hash FROM entries WHERE seq = ?", (b - 1,)).fetchone()
    return MonthReport(
        station_id=station_id, office=office, region=region, month=first,
        last_day=nxt - timedelta(days=1), generated_at=ts_text(now),
        opening={x: opening[x] for x in held}, closing={x: closing[x] for x in held},
        moved=moved, spoiled_by_category=spoiled_by_category(conn, a, b),
        deliveries=deliveries, disposals=disposals, write_offs=write_offs,
        corrections=corrections, stock_identity_ok=stock_ok, station_identity_ok=station_ok,
        outage_days=[{"date": k, "outages": int(v["outages"]), "minutes": v["minutes"]}
                     for k, v in sorted(by_day.items())],
        downtime_minutes=down, printers=dict(sorted(printers.items())),
        chain_head=f"{b - 1}:{head[0]}" if head else "0:", entries=b - 1,
        complete=hi <= now, supplies=supply_period(conn, a, b, supply_kinds))
