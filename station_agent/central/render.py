"""The national view as text, CSV or one self-contained HTML page (``central report``).

Labels are gettext messages (Indonesian by default, English with
``lang="en"``); numbers and dates are formatted for the language (12.000,
27 November 2026). The HTML page has no external asset and every value is
escaped by Jinja2's autoescaping.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import jinja2

from station_agent.central.national import Figures, NationalView, OfficeRow, run_out
from station_agent.i18n import N_
from station_agent.i18n.speakers import Speaker, speaker

LABELS = {
    "title": N_("National view of blank stock"),
    "as_of": N_("As of"),
    "office": N_("Office"),
    "region": N_("Region"),
    "stations": N_("Stations"),
    "online": N_("online"),
    "stock": N_("Stock"),
    "in_printer": N_("In printers"),
    "issued_today": N_("Issued today"),
    "spoiled_today": N_("Spoiled today"),
    "issued_30d": N_("Issued 30 days"),
    "spoiled_30d": N_("Spoiled 30 days"),
    "per_day": N_("Per day"),
    "days_left": N_("Days left"),
    "runs_out": N_("Runs out"),
    "outages": N_("Outages 30 days"),
    "chain": N_("Chain"),
    "total": N_("National total"),
    "allocation": N_("Allocation"),
    "allocate_line": N_("{given} of {requested} blanks in lots of {lot}, aiming at {horizon} "
                        "days of cover; lowest cover {before} -> {after} days"),
    "give": N_("Give"),
    "cover_before": N_("Cover before"),
    "cover_after": N_("Cover after"),
    "no_use": N_("no use"),
    "chain_ok": N_("ok"),
    "chain_gaps": N_("events missing"),
    "chain_broken": N_("BROKEN"),
    "last_seen": N_("last seen"),
    "never": N_("never"),
    "none": N_("No station yet."),
    "spoiled_by": N_("Spoiled over 30 days by category"),
}

CSS = """
@page { size: A4 landscape; margin: 12mm; }
body { font: 10pt/1.35 "DejaVu Sans", Arial, sans-serif; color: #111; margin: 0 auto; }
h1 { font-size: 15pt; margin: 0 0 4px; } .meta { color: #444; margin: 2px 0 10px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 14px; }
th, td { border: 1px solid #bbb; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #eee; } td.n, th.n { text-align: right; white-space: nowrap; }
tr.low td { background: #fde8e8; } tr.total td { font-weight: bold; background: #f4f4f4; }
.bad { color: #a00; font-weight: bold; } small { color: #555; }
"""

_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("station_agent.central", "templates"),
                                autoescape=True, undefined=jinja2.StrictUndefined,
                                trim_blocks=True, lstrip_blocks=True)


def labels(lang: str) -> dict[str, str]:
    """:data:`LABELS` in ``lang``."""
    sp = speaker(lang)
    return {k: sp.gettext(v) for k, v in LABELS.items()}


def _days(sp: Speaker, t: dict[str, str], f: Figures, today: date) -> tuple[str, str]:
    left = f.days_left()
    if left is None:
        return t["no_use"], ""
    return sp.number(left, 1), sp.date(run_out(today, left)) if left < 36_500 else ""


def _chain(t: dict[str, str], state: str) -> str:
    return t["chain_" + state]


def _cells(sp: Speaker, t: dict[str, str], f: Figures, today: date) -> list[str]:
    days, when = _days(sp, t, f, today)
    return [sp.number(f.stock), sp.number(f.in_printer), sp.number(f.issued_today),
            sp.number(f.spoiled_today), sp.number(f.issued_30d), sp.number(f.spoiled_30d),
            sp.number(f.rate, 1), days, when, sp.number(f.outages_30d)]


def _office_rows(view: NationalView, sp: Speaker, t: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for o in view.offices:
        left = o.figures.days_left()
        rows.append({
            "office": o.office, "region": o.region, "stations": len(o.stations),
            "online": o.online, "cells": _cells(sp, t, o.figures, view.today),
            "chain": _chain(t, o.chain), "bad": o.chain != "ok",
            "low": left is not None and left < 14,
            "station_list": [{"id": s.station_id, "online": s.online,
                              "seen": sp.datetime(s.last_seen) if s.last_seen else t["never"],
                              "chain": _chain(t, s.chain)} for s in o.stations],
            "share": _share(o, sp, t)})
    return rows


def _share(o: OfficeRow, sp: Speaker, t: dict[str, str]) -> list[str] | None:
    if o.share is None:
        return None
    s = o.share

    def d(v: float) -> str:
        return t["no_use"] if v == float("inf") else sp.number(v, 1)
    return [sp.number(s.blanks), d(s.days_before), d(s.days_after)]


def render(view: NationalView, fmt: str, lang: str = "id") -> str:
    """``fmt``: text, csv or html."""
    if fmt == "csv":
        return render_csv(view)
    sp, t = speaker(lang, view.timezone), labels(lang)
    rows = _office_rows(view, sp, t)
    total = _cells(sp, t, view.total, view.today)
    alloc = None
    if view.allocation is not None:
        a = view.allocation

        def d(v: float | None) -> str:
            return t["no_use"] if v is None else sp.number(v, 1)
        alloc = t["allocate_line"].format(
            given=sp.number(a["allocated"]), requested=sp.number(a["requested"]),
            lot=sp.number(a["lot"]), horizon=a["horizon"], before=d(a["lowest_days_before"]),
            after=d(a["lowest_days_after"]))
    heads = [t[k] for k in ("stock", "in_printer", "issued_today", "spoiled_today",
                            "issued_30d", "spoiled_30d", "per_day", "days_left", "runs_out",
                            "outages")]
    scope = " / ".join(x for x in (view.region, view.office) if x)
    cats = sorted(view.total.spoiled_by_category.items())
    if fmt == "html":
        return _TEMPLATES.get_template("national.html").render(
            lang=lang, t=t, css=CSS, at=sp.datetime(view.at), scope=scope, heads=heads,
            rows=rows, total=total, alloc=alloc, allocating=view.allocation is not None,
            categories=[(c, sp.number(n)) for c, n in cats])
    out = [f"{t['title']}{' - ' + scope if scope else ''}", f"{t['as_of']} {sp.datetime(view.at)}",
           ""]
    if not rows:
        out.append(t["none"])
    for r in rows:
        out.append(f"{r['region']} / {r['office']}: {r['online']}/{r['stations']} "
                   f"{t['online']}, {t['chain']} {r['chain']}")
        out.append("  " + ", ".join(f"{h} {c}" for h, c in zip(heads, r["cells"], strict=True)
                                     if c))
        if r["share"] is not None and r["share"][0] != "0":
            out.append(f"  {t['give']} {r['share'][0]}: {t['cover_before']} {r['share'][1]} -> "
                       f"{t['cover_after']} {r['share'][2]}")
        for s in r["station_list"]:
            mark = t["online"] if s["online"] else f"{t['last_seen']} {s['seen']}"
            out.append(f"    {s['id']}: {mark}, {t['chain']} {s['chain']}")
    out.append("")
    out.append(t["total"] + ": " + ", ".join(f"{h} {c}" for h, c in zip(heads, total, strict=True)
                                              if c))
    if cats:
        out.append(f"{t['spoiled_by']}: " + ", ".join(f"{c} {sp.number(n)}" for c, n in cats))
    if alloc:
        out.append(f"{t['allocation']}: {alloc}")
    return "\n".join(out) + "\n"


def render_csv(view: NationalView) -> str:
    """One row per office and a ``TOTAL`` row; plain numbers, ISO dates."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = ["region", "office", "stations", "online", "stock", "in_printer", "issued_today",
            "spoiled_today", "issued_30d", "spoiled_30d", "per_day", "days_left", "runs_out",
            "outages_today", "outages_30d", "chain", "allocate_blanks", "days_before",
            "days_after"]
    w.writerow(cols)
    for o in view.offices:
        doc = o.as_dict(view.today)
        alloc = doc.get("allocation") or {}
        w.writerow([o.region, o.office, len(o.stations), o.online,
                    *(doc[c] for c in cols[4:15]), o.chain, alloc.get("blanks", ""),
                    alloc.get("days_before", ""), alloc.get("days_after", "")])
    total = view.as_dict()["total"]
    w.writerow(["TOTAL", "", total["stations"], total["online"],
                *(total[c] for c in cols[4:15]), "", "", "", ""])
    return buf.getvalue()
