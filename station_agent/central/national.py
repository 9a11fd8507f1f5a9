"""The national view: every office's stock, use and run-out date, from the central database.

:func:`national_view` reads what the loader keeps (:mod:`.store`) and sums
it per station (its current ledger), per office and for the country: stock
and blanks in printers (the maintained balances), issued and spoiled (by
category) today (the calendar day in the view's time zone) and over the last
30 days (the 30 x 24 hours before now), the trailing use a day (cards picked
over those 30 days / 30, or / the days since the station's first entry when
that is later), days left and the run-out date, server outages (``link_down``,
``dns_failure``, ``server_unreachable`` raised), and the chain's state (breaks
reported, event numbers still missing, a rebuilt ledger). Offices are sorted
by run-out date, soonest first. With ``allocate`` it adds the split of a
delivery by need (:mod:`.allocation`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from station_agent import clock
from station_agent.central.allocation import Office, Share, allocate

if TYPE_CHECKING:
    import psycopg

#: Fault codes counted as outages of the link to the population-data server.
OUTAGE_CODES = ("link_down", "dns_failure", "server_unreachable")
#: The trailing window of the use a day.
WINDOW_DAYS = 30
#: A station not heard from for this long is shown offline whatever its status says.
STALE = timedelta(minutes=15)


@dataclass
class Figures:
    """Blanks of a station, an office or the country."""

    stock: int = 0
    in_printer: int = 0
    issued_today: int = 0
    spoiled_today: int = 0
    issued_30d: int = 0
    spoiled_30d: int = 0
    spoiled_by_category: dict[str, int] = field(default_factory=dict)
    spoiled_today_by_category: dict[str, int] = field(default_factory=dict)
    picked_30d: int = 0
    days: float = 0.0
    outages_today: int = 0
    outages_30d: int = 0

    @property
    def rate(self) -> float:
        """Blanks used a day (trailing)."""
        return self.picked_30d / self.days if self.days > 0 else 0.0

    def days_left(self) -> float | None:
        return None if self.rate <= 0 else self.stock / self.rate

    def add(self, other: Figures) -> None:
        for name in ("stock", "in_printer", "issued_today", "spoiled_today", "issued_30d",
                     "spoiled_30d", "picked_30d", "outages_today", "outages_30d"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.spoiled_by_category, other.spoiled_by_category),
                             (self.spoiled_today_by_category,
                              other.spoiled_today_by_category)):
            for cat, n in theirs.items():
                mine[cat] = mine.get(cat, 0) + n

    def as_dict(self, today: date) -> dict[str, Any]:
        left = self.days_left()
        return {"stock": self.stock, "in_printer": self.in_printer,
                "issued_today": self.issued_today, "spoiled_today": self.spoiled_today,
                "issued_30d": self.issued_30d, "spoiled_30d": self.spoiled_30d,
                "spoiled_by_category_today": dict(sorted(
                    self.spoiled_today_by_category.items())),
                "spoiled_by_category_30d": dict(sorted(self.spoiled_by_category.items())),
                "per_day": round(self.rate, 2),
                "days_left": None if left is None else round(left, 1),
                "runs_out": None if left is None else run_out(today, left).isoformat(),
                "outages_today": self.outages_today, "outages_30d": self.outages_30d}


def run_out(today: date, days_left: float) -> date:
    return today + timedelta(days=math.floor(days_left)) if days_left < 36_500 \
        else date.max


@dataclass
class StationRow:
    """One station as the central side knows it."""

    station_id: str
    office: str
    region: str
    online: bool
    last_seen: datetime | None
    figures: Figures
    chain_breaks: int
    missing: int
    ledgers: int

    @property
    def chain(self) -> str:
        if self.chain_breaks:
            return "broken"
        return "gaps" if self.missing else "ok"

    def as_dict(self, today: date) -> dict[str, Any]:
        return {"station_id": self.station_id, "online": self.online,
                "last_seen": self.last_seen.isoformat() if self.last_seen else None,
                "chain": self.chain, "chain_breaks": self.chain_breaks,
                "missing_events": self.missing, "rebuilt": self.ledgers > 1,
                **self.figures.as_dict(today)}


@dataclass
class OfficeRow:
    """An office: its stations and their sum."""

    office: str
    region: str
    stations: list[StationRow]
    figures: Figures
    share: Share | None = None

    @property
    def online(self) -> int:
        return sum(1 for s in self.stations if s.online)

    @property
    def chain(self) -> str:
        states = {s.chain for s in self.stations}
        return "broken" if "broken" in states else "gaps" if "gaps" in states else "ok"

    def as_dict(self, today: date) -> dict[str, Any]:
        doc = {"office": self.office, "region": self.region, "stations": len(self.stations),
               "online": self.online, "chain": self.chain, **self.figures.as_dict(today),
               "station_list": [s.as_dict(today) for s in self.stations]}
        if self.share is not None:
            doc["allocation"] = {"lots": self.share.lots, "blanks": self.share.blanks,
                                 "days_before": _days(self.share.days_before),
                                 "days_after": _days(self.share.days_after)}
        return doc


def _days(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 1)


@dataclass
class NationalView:
    """Offices sorted by run-out date and the national total."""

    at: datetime
    today: date
    timezone: str
    offices: list[OfficeRow]
    total: Figures
    region: str | None = None
    office: str | None = None
    allocation: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        doc = {"at": self.at.isoformat(), "today": self.today.isoformat(),
               "timezone": self.timezone, "region": self.region, "office": self.office,
               "offices": [o.as_dict(self.today) for o in self.offices],
               "total": {"offices": len(self.offices),
                         "stations": sum(len(o.stations) for o in self.offices),
                         "online": sum(o.online for o in self.offices),
                         **self.total.as_dict(self.today)}}
        if self.allocation is not None:
            doc["allocation"] = self.allocation
        return doc


_STATIONS = """
SELECT s.station_id, coalesce(s.office, '(unknown office)'), coalesce(s.region, '(unknown)'),
       coalesce(s.online, false),
       greatest(s.last_seen, (SELECT max(o.last_at) FROM streams o
                              WHERE o.station_id = s.station_id)), s.ledger_id,
       coalesce(st.missing, 0),
       (SELECT count(*) FROM streams o WHERE o.station_id = s.station_id),
       (SELECT count(*) FROM chain_breaks b WHERE b.station_id = s.station_id)
FROM stations s LEFT JOIN streams st ON st.ledger_id = s.ledger_id
WHERE (%(region)s::text IS NULL OR s.region = %(region)s)
  AND (%(office)s::text IS NULL OR s.office = %(office)s)
"""

_FLOWS = """
SELECT e.station_id, e.kind, e.category, e.ts >= %(today)s AS today, sum(e.count)
FROM entries e JOIN stations s ON s.ledger_id = e.ledger_id
WHERE e.ts >= %(since)s AND e.item IS NULL AND e.kind IN ('pick', 'complete', 'reject', 'void')
  AND e.station_id = ANY(%(ids)s)
GROUP BY 1, 2, 3, 4
"""

_FIRST = """
SELECT s.station_id, min(e.ts) FROM stations s JOIN entries e ON e.ledger_id = s.ledger_id
WHERE s.station_id = ANY(%(ids)s) GROUP BY 1
"""

_OUTAGES = """
SELECT station_id, ts >= %(today)s, count(*) FROM fault_events
WHERE type = 'fault_raised' AND code = ANY(%(codes)s) AND ts >= %(since)s
  AND station_id = ANY(%(ids)s)
GROUP BY 1, 2
"""


def national_view(conn: psycopg.Connection, *, region: str | None = None,
                  office: str | None = None, allocate: int | None = None, lot: int = 500,
                  horizon: int = 30,
                  timezone: str = "Asia/Jakarta", at: datetime | None = None) -> NationalView:
    """The view as of ``at`` (now); "today" is the calendar day in ``timezone``."""
    tz = ZoneInfo(timezone)
    now = (at or clock.now()).astimezone(tz)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    since = now - timedelta(days=WINDOW_DAYS)
    rows = conn.execute(_STATIONS, {"region": region, "office": office}).fetchall()
    stations: dict[str, StationRow] = {}
    for sid, off, reg, online, last_seen, _ledger, missing, ledgers, breaks in rows:
        fresh = last_seen is not None and now - last_seen <= STALE
        stations[sid] = StationRow(sid, off, reg, bool(online) and fresh, last_seen, Figures(),
                                   int(breaks), int(missing), int(ledgers))
    ids = sorted(stations)
    params = {"today": midnight, "since": since, "ids": ids, "codes": list(OUTAGE_CODES)}
    for sid, account, count in conn.execute(
            "SELECT station_id, account, count FROM station_balances "
            "WHERE station_id = ANY(%(ids)s) AND item = ''", params).fetchall():
        f = stations[sid].figures
        if account == "stock":
            f.stock = int(count)
        elif account == "in_printer":
            f.in_printer = int(count)
    for sid, kind, category, is_today, count in conn.execute(_FLOWS, params):
        f, n = stations[sid].figures, int(count)
        if kind == "pick":
            f.picked_30d += n
        elif kind == "complete":
            f.issued_30d += n
            f.issued_today += n if is_today else 0
        else:
            f.spoiled_30d += n
            f.spoiled_today += n if is_today else 0
            cat = category or "other"
            f.spoiled_by_category[cat] = f.spoiled_by_category.get(cat, 0) + n
            if is_today:
                f.spoiled_today_by_category[cat] = f.spoiled_today_by_category.get(cat, 0) + n
    for sid, first in conn.execute(_FIRST, params):
        start = max(first, since)
        stations[sid].figures.days = min(float(WINDOW_DAYS),
                                         max(1.0, (now - start).total_seconds() / 86_400))
    for sid, is_today, count in conn.execute(_OUTAGES, params):
        f = stations[sid].figures
        f.outages_30d += int(count)
        f.outages_today += int(count) if is_today else 0
    offices: dict[tuple[str, str], OfficeRow] = {}
    for st in sorted(stations.values(), key=lambda s: s.station_id):
        row = offices.setdefault((st.region, st.office),
                                 OfficeRow(st.office, st.region, [], Figures()))
        row.stations.append(st)
        row.figures.add(st.figures)
    # An office's use a day is the sum of its stations' (each over its own window).
    for row in offices.values():
        rate = sum(s.figures.rate for s in row.stations)
        row.figures.days = row.figures.picked_30d / rate if rate > 0 else 0.0
    total = Figures()
    for row in offices.values():
        total.add(row.figures)
    rate = sum(o.figures.rate for o in offices.values())
    total.days = total.picked_30d / rate if rate > 0 else 0.0
    ordered = sorted(offices.values(), key=lambda o: (
        o.figures.days_left() if o.figures.days_left() is not None else math.inf, o.region,
        o.office))
    view = NationalView(now, midnight.date(), timezone, ordered, total, region, office)
    if allocate is not None:
        shares = allocate_blanks(ordered, allocate, lot, horizon)
        given = sum(s.blanks for s in shares)
        view.allocation = {"requested": allocate, "lot": lot, "horizon": horizon,
                           "allocated": given, "left": allocate - given,
                           "lowest_days_before": _days(min((s.days_before for s in shares),
                                                           default=math.inf)),
                           "lowest_days_after": _days(min((s.days_after for s in shares),
                                                          default=math.inf))}
    return view


def allocate_blanks(offices: list[OfficeRow], total: int, lot: int,
                    horizon: int) -> list[Share]:
    """Split ``total`` blanks among ``offices`` by need; each office gets its share."""
    names = [f"{o.region} / {o.office}" for o in offices]
    shares = allocate([Office(n, o.figures.stock, o.figures.rate)
                       for n, o in zip(names, offices, strict=True)],
                      total, lot=lot, horizon=horizon)
    for o, share in zip(offices, shares, strict=True):
        o.share = share
    return shares
