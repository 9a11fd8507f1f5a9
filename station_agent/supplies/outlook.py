"""What ``station-agent supplies`` shows: each configured supply kind's units, the
yields of the units finished, and its forecast (DESIGN §10).

The forecast works as the blanks' does (the trailing 7-day rate): the cards
the printers a kind fits took in the window, divided by the cards one unit
of it yields (the mean measured yield of its last finished units, the rated
yield until there is one), give the units used a day; the stock divided by
that gives the days left, and the quantity to request covers
:data:`REQUEST_DAYS` days.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from station_agent import clock
from station_agent.config import Config, SupplyConfig
from station_agent.ledger import model
from station_agent.ledger import supplies as ledger_supplies
from station_agent.ledger.daily import ts_text
from station_agent.ledger.stock import WINDOW_DAYS, rate_days
from station_agent.ledger.supplies import Unit

#: Days of use the quantity to request covers.
REQUEST_DAYS = 30
#: Finished units whose mean yield forecasts the next ones.
YIELD_SAMPLE = 5
#: Finished units listed per kind.
LISTED = 10


@dataclass(frozen=True, slots=True)
class Yield:
    """A finished unit's yield against its rating."""

    unit: Unit
    rated: int
    low_fraction: float

    @property
    def fraction(self) -> float:
        return self.unit.cards / self.rated

    @property
    def low(self) -> bool:
        """Printed fewer cards than the configured fraction of its rating."""
        return self.fraction < self.low_fraction

    def as_dict(self) -> dict[str, object]:
        return {**self.unit.as_dict(), "rated_yield": self.rated,
                "yield_percent": round(100 * self.fraction, 1), "low_yield": self.low}


@dataclass(frozen=True, slots=True)
class KindView:
    """One supply kind now."""

    cfg: SupplyConfig
    balances: dict[str, int]
    installed: list[Unit]
    finished: list[Yield]
    printers: list[str]
    cards_per_day: float
    unit_yield: float
    yield_measured: bool
    run_out: datetime | None = field(default=None)

    @property
    def stock(self) -> int:
        return self.balances[model.SUPPLY_STOCK]

    @property
    def low(self) -> bool:
        """Below the kind's ``low_threshold`` (``supply_low``), as blanks are."""
        return self.stock < self.cfg.low_threshold

    @property
    def units_per_day(self) -> float:
        return self.cards_per_day / self.unit_yield if self.unit_yield > 0 else 0.0

    @property
    def days_left(self) -> float | None:
        """Days the stock lasts at the trailing rate (None: nothing printed lately)."""
        rate = self.units_per_day
        return None if rate <= 0 else self.stock / rate

    @property
    def request_quantity(self) -> int:
        """Units to ask for so that the stock covers :data:`REQUEST_DAYS` days."""
        return max(0, math.ceil(self.units_per_day * REQUEST_DAYS - 1e-9) - self.stock)

    def as_dict(self) -> dict[str, object]:
        days = self.days_left
        return {
            "kind": self.cfg.kind, "part": self.cfg.part, "rated_yield": self.cfg.rated_yield,
            "low_threshold": self.cfg.low_threshold, "low": self.low,
            "stock": self.stock, "installed": self.balances[model.SUPPLY_INSTALLED],
            "finished": self.balances[model.SUPPLY_FINISHED],
            "written_off": self.balances[model.SUPPLY_WRITTEN_OFF],
            "received": self.balances["received"],
            "printers": self.printers,
            "in_printers": [u.as_dict() for u in self.installed],
            "yields": [y.as_dict() for y in self.finished],
            "unit_yield": round(self.unit_yield, 1), "yield_measured": self.yield_measured,
            "cards_per_day": round(self.cards_per_day, 1),
            "units_per_day": round(self.units_per_day, 3),
            "days_left": None if days is None else round(days, 1),
            "run_out": None if self.run_out is None else self.run_out.date().isoformat(),
            "request_quantity": self.request_quantity,
        }


def _empty() -> dict[str, int]:
    return {**dict.fromkeys(model.SUPPLY_ACCOUNTS, 0), "received": 0}


def supply_view(conn: sqlite3.Connection, config: Config, *,
                counters: dict[str, int] | None = None,
                now: datetime | None = None) -> list[KindView]:
    """Every configured supply kind (then any the ledger holds that the config
    no longer names, rated 1 so that nothing divides by zero), as of ``now``."""
    now = now or clock.now()
    all_balances = ledger_supplies.balances(conn)
    kinds = list(config.supplies)
    for item in sorted(set(all_balances) - {sc.kind for sc in kinds}):
        kinds.append(SupplyConfig(kind=item, rated_yield=1))
    days = rate_days(conn, now)
    since = ts_text(now - timedelta(days=WINDOW_DAYS))
    out = []
    for sc in kinds:
        printers = [p.id for p in config.printers if sc.fits_printer(p)]
        inside = ledger_supplies.units(conn, item=sc.kind, installed=True, counters=counters)
        ended = ledger_supplies.units(conn, item=sc.kind, last_ended=LISTED)
        done = [u for u in ended if u.end_kind == model.SUPPLY_FINISH]
        sample = done[-YIELD_SAMPLE:]
        measured = sum(u.cards for u in sample) / len(sample) if sample else 0.0
        unit_yield = measured if measured > 0 else float(sc.rated_yield)
        view = KindView(sc, all_balances.get(sc.kind, _empty()), inside,
                        [Yield(u, sc.rated_yield, sc.low_yield) for u in done],
                        printers, ledger_supplies.cards_since(conn, printers, since) / days,
                        unit_yield, measured > 0)
        left = view.days_left
        out.append(view if left is None
                   else replace(view, run_out=now.astimezone() + timedelta(days=left)))
    return out
