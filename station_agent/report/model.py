"""The daily reconciliation ("berita acara") of blanks, computed from the ledger.

For one local calendar day: opening and closing balances of every account,
what moved (received, picked, issued, spoiled, disposed, lost, adjusted),
the stock identity shown balanced, faults and downtime per device and for
the network, cards per hour, and the stock forecast (days left at the
trailing 7-day rate, the run-out date, the quantity to request for the days
of cover wanted). Read-only: works on a read connection while the daemon
writes.

Balances at a moment are the current balances minus everything recorded
since, so a day costs a binary search and one pass over the entries after
its start, however long the log.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from station_agent import clock
from station_agent.config import SupplyConfig
from station_agent.ledger import faultlog, model
from station_agent.ledger.balances import read_balances
from station_agent.ledger.daily import first_seq_since, ts_text
from station_agent.ledger.stock import forecast
from station_agent.supplies.period import SupplyPeriod, supply_period

#: Fault severities that count as downtime of their device.
DOWN_SEVERITIES = ("error", "critical")
#: Days shown in the history chart.
HISTORY_DAYS = 14


@dataclass(frozen=True)
class FaultSpan:
    """A fault as seen within the day: minutes it was active during the day."""

    source: str
    code: str
    severity: str
    raised_at: str
    cleared_at: str | None
    minutes: float


@dataclass(frozen=True)
class DayFigures:
    """One day's movements (for the history chart)."""

    day: date
    issued: int
    spoiled: int
    closing_stock: int


@dataclass
class DayReport:
    """Everything the reconciliation shows; see the module docstring."""

    station_id: str
    day: date
    generated_at: str
    opening: dict[str, int]
    closing: dict[str, int]
    moved: dict[str, int]             # received, adjusted, picked, issued, spoiled, ...
    stock_identity_ok: bool
    station_identity_ok: bool
    faults: list[FaultSpan]
    downtime_minutes: dict[str, float]
    network_outages: list[dict[str, Any]]
    network_down_minutes: float
    per_hour: list[int]               # cards issued in each local hour
    rate_per_day: float
    days_left: float | None
    runout_date: date | None
    cover_days: int
    request_quantity: int
    chain_head: str
    entries: int
    history: list[DayFigures] = field(default_factory=list)
    #: Cards spoiled this day by spoil category (DESIGN §3).
    spoiled_by_category: dict[str, int] = field(default_factory=dict)
    #: Each supply kind's stock and movements, and the units used up (DESIGN §10).
    supplies: list[SupplyPeriod] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "supplies": [p.as_dict() for p in self.supplies],
            "spoiled_by_category": self.spoiled_by_category,
            "station_id": self.station_id, "date": self.day.isoformat(),
            "generated_at": self.generated_at,
            "opening": self.opening, "closing": self.closing, "moved": self.moved,
            "stock_identity_ok": self.stock_identity_ok,
            "station_identity_ok": self.station_identity_ok,
            "faults": [f.__dict__ for f in self.faults],
            "downtime_minutes": self.downtime_minutes,
            "network_outages": self.network_outages,
            "network_down_minutes": self.network_down_minutes,
            "per_hour": self.per_hour,
            "forecast": {"rate_per_day": round(self.rate_per_day, 1),
                         "days_left": None if self.days_left is None
                         else round(self.days_left, 1),
                         "runout_date": self.runout_date.isoformat()
                         if self.runout_date else None,
                         "cover_days": self.cover_days,
                         "request_quantity": self.request_quantity},
            "chain_head": self.chain_head, "entries": self.entries,
            "history": [{"date": h.day.isoformat(), "issued": h.issued, "spoiled": h.spoiled,
                         "closing_stock": h.closing_stock} for h in self.history],
        }


def local_start(day: date) -> datetime:
    """The start of local ``day`` (midnight in this process's time zone)."""
    return datetime.combine(day, time(0)).astimezone()


def parse_ts(ts: str) -> datetime:
    """A stored ISO UTC time (``...Z``) as an aware datetime."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def balances_at(conn: sqlite3.Connection, moment: datetime,
                current: dict[str, int]) -> dict[str, int]:
    """Balances at ``moment``: the current ones minus everything recorded since, or
    the sum of everything recorded before, whichever reads fewer entries (a day in
    the middle of a long log costs at most half of it, not all of it)."""
    first = first_seq_since(conn, ts_text(moment))
    head = int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()[0])
    if first - 1 < head - first + 1:
        return roll_forward(conn, dict.fromkeys(current, 0), 1, first)
    out = dict(current)
    for src, dst, n in conn.execute(
            "SELECT src, dst, SUM(count) FROM entries WHERE seq >= ? AND item IS NULL "
            "GROUP BY src, dst",
            (first,)):
        out[src] += n
        out[dst] -= n
    return out


def current_balances(conn: sqlite3.Connection) -> dict[str, int]:
    """Every account's balance now, ``external`` included (minus all that came in)."""
    bal = read_balances(conn)
    current = dict.fromkeys(model.ACCOUNTS, 0)
    current.update({model.STOCK: bal.stock, model.IN_PRINTER: bal.in_printer,
                    model.ISSUED: bal.issued, model.SPOILED_HELD: bal.spoiled_held,
                    model.SPOILED_DISPOSED: bal.spoiled_disposed, model.LOST: bal.lost})
    current[model.EXTERNAL] = -sum(current[a] for a in model.HELD_ACCOUNTS)
    return current


def identities(opening: dict[str, int], moved: dict[str, int], closing: dict[str, int]
               ) -> tuple[bool, bool]:
    """Whether the stock identity (opening + received + adjusted - picked - written off
    from stock = closing) and the station's (all held blanks) balance."""
    held = model.HELD_ACCOUNTS
    stock_ok = (opening[model.STOCK] + moved["received"] + moved["adjusted"]
                - moved["picked"] - moved["lost_from_stock"] == closing[model.STOCK])
    station_ok = (sum(opening[x] for x in held) + moved["received"] + moved["adjusted"]
                  == sum(closing[x] for x in held))
    return stock_ok, station_ok


def roll_forward(conn: sqlite3.Connection, start: dict[str, int], a: int, b: int
                 ) -> dict[str, int]:
    """``start`` moved by entries ``a`` to ``b - 1``."""
    out = dict(start)
    for src, dst, n in conn.execute(
            "SELECT src, dst, SUM(count) FROM entries WHERE seq >= ? AND seq < ? "
            "AND item IS NULL GROUP BY src, dst", (a, b)):
        out[src] -= n
        out[dst] += n
    return out


def spoiled_by_category(conn: sqlite3.Connection, a: int, b: int) -> dict[str, int]:
    """Cards spoiled (rejected, or voided after issue) in entries ``a`` to ``b - 1``,
    by spoil category, every category present (zero when none)."""
    out = dict.fromkeys(model.CATEGORIES, 0)
    for cat, n in conn.execute(
            "SELECT category, SUM(count) FROM entries WHERE seq >= ? AND seq < ? AND kind IN "
            "(?, ?) GROUP BY category", (a, b, model.REJECT, model.VOID)):
        out[cat if cat in out else model.OTHER] += n
    return out


def movements(conn: sqlite3.Connection, a: int, b: int) -> dict[str, int]:
    """Blanks moved by entries ``a`` to ``b - 1``, by what the reports call them."""
    m = dict.fromkeys(("received", "adjusted", "picked", "issued", "spoiled", "voided",
                       "disposed", "lost", "lost_from_stock", "lost_in_printer"), 0)
    for kind, src, dst, n in conn.execute(
            "SELECT kind, src, dst, SUM(count) FROM entries WHERE seq >= ? AND seq < ? "
            "AND item IS NULL GROUP BY kind, src, dst", (a, b)):
        if kind == model.RECEIVE:
            m["received"] += n
        elif kind == model.ADJUST:
            m["adjusted"] += n if dst == model.STOCK else -n
        elif kind == model.PICK:
            m["picked"] += n
        elif kind == model.COMPLETE:
            m["issued"] += n
        elif kind == model.REJECT:
            m["spoiled"] += n
        elif kind == model.VOID:
            # Issued cards that failed afterwards: spoiled today, no longer issued.
            m["spoiled"] += n
            m["voided"] += n
        elif kind == model.DISPOSE:
            m["disposed"] += n
        elif kind == model.WRITE_OFF:
            m["lost"] += n
            m["lost_from_stock" if src == model.STOCK else "lost_in_printer"] += n
    return m


def overlap_minutes(start: str, end: str | None, lo: datetime, hi: datetime,
                    now: datetime) -> float:
    """Minutes of ``start``..``end`` (still open: until ``now``) inside ``lo``..``hi``."""
    s = max(parse_ts(start), lo)
    e = min(parse_ts(end) if end else now, hi)
    return max(0.0, (e - s).total_seconds() / 60)


def build_report(conn: sqlite3.Connection, day: date, *, station_id: str,
                 cover_days: int = 30, now: datetime | None = None,
                 supply_kinds: tuple[SupplyConfig, ...] = ()) -> DayReport:
    """The reconciliation of local ``day`` from the ledger on ``conn`` (supplies rated
    by ``supply_kinds``, the config's ``[[supply]]``)."""
    now = now or clock.local_now()
    lo, hi = local_start(day), local_start(day + timedelta(days=1))
    current = current_balances(conn)
    a = first_seq_since(conn, ts_text(lo))
    b = first_seq_since(conn, ts_text(hi))
    # The history's first day is read once; every later balance rolls forward.
    hist_lo = local_start(day - timedelta(days=HISTORY_DAYS - 1))
    running = balances_at(conn, hist_lo, current)
    hist_a = first_seq_since(conn, ts_text(hist_lo))
    opening = roll_forward(conn, running, hist_a, a)
    closing = roll_forward(conn, opening, a, b) if hi <= now else dict(current)
    moved = movements(conn, a, b)
    held = model.HELD_ACCOUNTS
    stock_ok, station_ok = identities(opening, moved, closing)

    spans: list[FaultSpan] = []
    down: dict[str, float] = {}
    for f in faultlog.fault_history(conn, limit=100_000):
        if f.raised_at >= ts_text(hi) or (f.cleared_at is not None
                                          and f.cleared_at <= ts_text(lo)):
            continue
        minutes = overlap_minutes(f.raised_at, f.cleared_at, lo, hi, now)
        spans.append(FaultSpan(f.source, f.code, f.severity, f.raised_at, f.cleared_at,
                               round(minutes, 1)))
        if f.severity in DOWN_SEVERITIES and f.source != "network":
            down[f.source] = round(down.get(f.source, 0.0) + minutes, 1)
    outages = []
    net_down = 0.0
    for o in faultlog.outages(conn, ts_text(lo)):
        if o.started_at >= ts_text(hi):
            continue
        minutes = overlap_minutes(o.started_at, o.ended_at, lo, hi, now)
        net_down += minutes
        outages.append({**o.as_dict(), "minutes": round(minutes, 1)})

    per_hour = [0] * 24
    for (ts,) in conn.execute("SELECT ts FROM entries WHERE seq >= ? AND seq < ? AND kind = ?",
                              (a, b, model.COMPLETE)):
        per_hour[parse_ts(ts).astimezone(lo.tzinfo).hour] += 1

    at = min(hi, now)
    fc = forecast(conn, closing[model.STOCK], now=at)
    days_left = None if fc.days_left is None or math.isinf(fc.days_left) else fc.days_left
    runout = (at + timedelta(days=days_left)).date() if days_left is not None else None
    request = max(0, math.ceil(fc.rate * cover_days - closing[model.STOCK]))
    head = conn.execute("SELECT hash FROM entries WHERE seq = ?", (b - 1,)).fetchone()

    history = []
    for k in range(HISTORY_DAYS - 1, -1, -1):
        d = day - timedelta(days=k)
        hlo, hhi = local_start(d), local_start(d + timedelta(days=1))
        ha, hb = first_seq_since(conn, ts_text(hlo)), first_seq_since(conn, ts_text(hhi))
        hm = movements(conn, ha, hb)
        running = roll_forward(conn, running, ha, hb)
        hclose = running[model.STOCK] if hhi <= now else current[model.STOCK]
        history.append(DayFigures(d, hm["issued"], hm["spoiled"], hclose))

    return DayReport(
        station_id=station_id, day=day, generated_at=ts_text(now),
        opening={x: opening[x] for x in held}, closing={x: closing[x] for x in held},
        moved=moved, stock_identity_ok=stock_ok, station_identity_ok=station_ok,
        faults=spans, downtime_minutes=down, network_outages=outages,
        network_down_minutes=round(net_down, 1), per_hour=per_hour,
        rate_per_day=fc.rate, days_left=days_left, runout_date=runout,
        cover_days=cover_days, request_quantity=request,
        chain_head=f"{b - 1}:{head[0]}" if head else "0:", entries=b - 1, history=history,
        spoiled_by_category=spoiled_by_category(conn, a, b),
        supplies=supply_period(conn, a, b, supply_kinds))
