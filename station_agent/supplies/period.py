"""A period's supplies (DESIGN §10), for the daily report and the monthly
recapitulation: each kind's stock at the start and end of the period, what
moved, each delivery, and each unit used up in it with its yield."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from station_agent.config import SupplyConfig
from station_agent.ledger import model
from station_agent.ledger import supplies as ledger_supplies


@dataclass(frozen=True, slots=True)
class SupplyPeriod:
    """One supply kind over a period: stock at its start and end, what moved, each
    delivery, and each unit whose life ended in it with its yield."""

    kind: str
    opening: dict[str, int]
    closing: dict[str, int]
    moved: dict[str, int]
    deliveries: list[dict[str, object]]
    yields: list[dict[str, object]]

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "opening": self.opening, "closing": self.closing,
                "moved": self.moved, "deliveries": self.deliveries, "yields": self.yields}


#: What a period's supply movements are called, per transfer kind.
MOVED_NAMES = {model.SUPPLY_RECEIVE: "received", model.SUPPLY_INSTALL: "installed",
               model.SUPPLY_FINISH: "finished", model.SUPPLY_WRITE_OFF: "written_off"}


def supply_period(conn: sqlite3.Connection, a: int, b: int,
                  kinds: tuple[SupplyConfig, ...] = ()) -> list[SupplyPeriod]:
    """Every supply kind the ledger held or moved by entries ``a`` to ``b - 1``
    (configured kinds first, in config order), with yields rated by ``kinds``."""
    start = ledger_supplies.balances_before(conn, a)
    rows = ledger_supplies.period_entries(conn, a, b)
    items = [sc.kind for sc in kinds]
    items += sorted(({str(r[2]) for r in rows} | set(start)) - set(items))
    rated = {sc.kind: sc for sc in kinds}
    empty = dict.fromkeys((model.EXTERNAL, *model.SUPPLY_ACCOUNTS), 0)
    out = []
    for item in items:
        opening = dict(start.get(item, empty))
        closing = dict(opening)
        moved = dict.fromkeys(MOVED_NAMES.values(), 0)
        deliveries: list[dict[str, object]] = []
        for seq, ts, it, kind, src, count, batch, _dev, _serial, _reason in rows:
            if it != item:
                continue
            dst = dict(model.ROUTES[str(kind)])[str(src)]
            closing[str(src)] -= int(count)   # type: ignore[call-overload]
            closing[dst] += int(count)        # type: ignore[call-overload]
            moved[MOVED_NAMES[str(kind)]] += int(count)   # type: ignore[call-overload]
            if kind == model.SUPPLY_RECEIVE:
                deliveries.append({"entry": seq, "date": _local_date(str(ts)), "batch": batch,
                                   "count": count})
        sc = rated.get(item)
        yields = []
        for u in ledger_supplies.units(conn, item=item, ended_in=(a, b)):
            y: dict[str, object] = {**u.as_dict(), "rated_yield": sc.rated_yield if sc else None,
                                    "yield_percent": None, "low_yield": None}
            if sc is not None and u.end_kind == model.SUPPLY_FINISH:
                y["yield_percent"] = round(100 * u.cards / sc.rated_yield, 1)
                y["low_yield"] = u.cards < sc.low_yield * sc.rated_yield
            yields.append(y)
        held = model.SUPPLY_ACCOUNTS
        out.append(SupplyPeriod(item, {k: opening[k] for k in held},
                                {k: closing[k] for k in held}, moved, deliveries, yields))
    return out


def _local_date(ts: str) -> str:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone().date().isoformat()
