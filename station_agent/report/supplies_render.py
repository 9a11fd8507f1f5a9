"""A period's supplies as the daily report and the monthly recapitulation show them:
one table of stock and movements per supply kind and one of the units used up with
their yields, in text, CSV rows and the shared HTML fragment
(``templates/supplies.html``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from station_agent.i18n import N_, Speaker
from station_agent.supplies.period import SupplyPeriod

#: The supplies sections' words, marked for the catalogues.
SUPPLY_LABELS: dict[str, str] = {
    "supplies": N_("Supplies (ribbons, films, cleaning kits)"),
    "supply_kind": N_("Kind"), "sup_opening": N_("Stock at start"),
    "sup_received": N_("Received"), "sup_installed": N_("Put in a printer"),
    "sup_finished": N_("Used up"), "sup_written_off": N_("Written off"),
    "sup_closing": N_("Stock at end"), "sup_in_printers": N_("In printers at end"),
    "yields": N_("Units used up and their yield"), "sup_printer": N_("Printer"),
    "sup_cards": N_("Cards printed"), "sup_rated": N_("Rated"),
    "below_rating": N_("below rating"), "sup_written": N_("written off"),
    "no_supplies": N_("No supplies recorded."),
}

#: (moved key, label key) of the movement columns, in order.
_MOVED = (("received", "sup_received"), ("installed", "sup_installed"),
          ("finished", "sup_finished"), ("written_off", "sup_written_off"))


def supply_rows(periods: Sequence[SupplyPeriod], sp: Speaker) -> list[list[str]]:
    """Per kind: kind, stock at start, each movement, stock at end, in printers at end."""
    n = sp.number
    return [[p.kind, n(p.opening["supply_stock"]), *(n(p.moved[k]) for k, _ in _MOVED),
             n(p.closing["supply_stock"]), n(p.closing["supply_installed"])] for p in periods]


def yield_rows(periods: Sequence[SupplyPeriod], t: dict[str, str], sp: Speaker
               ) -> list[list[str]]:
    """Per unit whose life ended: kind, printer, dates, cards, rated yield and percent."""
    rows = []
    for p in periods:
        for y in p.yields:
            if y["ended_by"] != "supply_finish":
                how = t["sup_written"]
            elif y["yield_percent"] is None:
                how = ""
            else:
                how = f"{sp.number(float(str(y['yield_percent'])))} %" + (
                    f" ({t['below_rating']})" if y["low_yield"] else "")
            rows.append([p.kind, str(y["printer"]), sp.date(_local_day(y["installed_at"])),
                         sp.date(_local_day(y["ended_at"])), sp.number(int(str(y["cards"]))),
                         "" if y["rated_yield"] is None else sp.number(int(str(y["rated_yield"]))),
                         how])
    return rows


def supply_headers(t: dict[str, str]) -> tuple[list[str], list[str]]:
    """The two tables' column titles."""
    return ([t["supply_kind"], t["sup_opening"], *(t[label] for _, label in _MOVED),
             t["sup_closing"], t["sup_in_printers"]],
            [t["supply_kind"], t["sup_printer"], t["sup_installed"], t["sup_finished"],
             t["sup_cards"], t["sup_rated"], ""])


def supply_text(periods: Sequence[SupplyPeriod], t: dict[str, str], sp: Speaker) -> list[str]:
    """The supplies sections as plain-text lines."""
    out = ["", f"{t['supplies']}:"]
    if not periods:
        return [*out, f"  {t['no_supplies']}"]
    head, _yhead = supply_headers(t)
    out.append("  " + " | ".join(head))
    out += ["  " + " | ".join(row) for row in supply_rows(periods, sp)]
    ys = yield_rows(periods, t, sp)
    if ys:
        out += ["", f"{t['yields']}:"]
        out += ["  " + " | ".join(c for c in row if c) for row in ys]
    return out


def supply_csv(periods: Sequence[SupplyPeriod]) -> list[list[Any]]:
    """``section,item,value`` rows: stock and movements per kind, each unit's yield."""
    rows: list[list[Any]] = []
    for p in periods:
        rows.append(["supply_opening", p.kind, p.opening["supply_stock"]])
        rows += [[f"supply_{k}", p.kind, p.moved[k]] for k, _ in _MOVED]
        rows.append(["supply_closing", p.kind, p.closing["supply_stock"]])
        rows.append(["supply_in_printers", p.kind, p.closing["supply_installed"]])
        for y in p.yields:
            rows.append(["supply_yield", f"{p.kind}:{y['printer']}:{y['install_entry']}",
                         y["cards"]])
    return rows


def supply_context(periods: Sequence[SupplyPeriod], t: dict[str, str], sp: Speaker
                   ) -> dict[str, Any]:
    """What ``templates/supplies.html`` needs."""
    head, yhead = supply_headers(t)
    return {"supply_head": head, "supply_rows": supply_rows(periods, sp),
            "yield_head": yhead, "yield_rows": yield_rows(periods, t, sp)}


def _local_day(ts: object) -> str:
    """The local date (``YYYY-MM-DD``) of a stored UTC time."""
    return datetime.fromisoformat(str(ts).replace("Z", "+00:00")).astimezone().date().isoformat()
