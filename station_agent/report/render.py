"""The reconciliation as text, CSV or one self-contained HTML page, in English or Indonesian.

HTML: inline CSS (A4 print rules) and an inline SVG chart; no JavaScript, no
fetches, so it opens and prints the same on an office PC without a network.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import jinja2

from station_agent.i18n import N_, Speaker, speaker
from station_agent.report.model import DayReport
from station_agent.report.supplies_render import (
    SUPPLY_LABELS,
    supply_context,
    supply_csv,
    supply_text,
)

#: The report's words in English, marked for the catalogues; :func:`labels` gives
#: them in the report's language (station_agent/i18n).
LABELS: dict[str, str] = {
    "title": N_("Blank card reconciliation"),
    "station": N_("Station"),
    "date": N_("Date"),
    "generated": N_("Generated"),
    "balances": N_("Balances"),
    "account": N_("Account"),
    "opening": N_("Opening"),
    "closing": N_("Closing"),
    "stock": N_("Stock (blanks)"),
    "in_printer": N_("In a printer"),
    "issued": N_("Issued (cumulative)"),
    "spoiled_held": N_("Spoiled, held"),
    "spoiled_disposed": N_("Spoiled, handed back"),
    "lost": N_("Lost / written off"),
    "movements": N_("Movements of the day"),
    "received": N_("Received"),
    "adjusted": N_("Adjusted (count corrections)"),
    "picked": N_("Picked by printers"),
    "issued_day": N_("Issued"),
    "spoiled": N_("Spoiled"),
    "disposed": N_("Handed back"),
    "lost_day": N_("Lost / written off"),
    "lost_from_stock": N_("of which from stock"),
    "lost_in_printer": N_("of which in a printer"),
    "identity": N_("Stock identity"),
    "identity_line": N_("opening {o} + received {r} + adjusted {a} - picked {p} - written off "
                        "from stock {w} = closing {c}"),
    "balanced": N_("balanced"),
    "not_balanced": N_("NOT BALANCED: check the ledger (station-agent ledger verify)"),
    "faults": N_("Faults and downtime"),
    "no_faults": N_("No faults this day."),
    "source": N_("Source"),
    "code": N_("Fault"),
    "severity": N_("Severity"),
    "raised": N_("Raised"),
    "cleared": N_("Cleared"),
    "minutes": N_("Minutes"),
    "still_active": N_("still active"),
    "downtime": N_("Downtime (error/critical faults)"),
    "network": N_("Central server"),
    "outages": N_("outage(s)"),
    "down_minutes": N_("minutes unreachable"),
    "per_hour": N_("Cards issued per hour"),
    "forecast": N_("Stock forecast"),
    "rate": N_("Use at the trailing 7-day rate"),
    "per_day": N_("blanks/day"),
    "days_left": N_("Days of stock left"),
    "runout": N_("Stock runs out on"),
    "request": N_("Request for {d} days of cover"),
    "blanks": N_("blanks"),
    "none_used": N_("no blanks used in the last 7 days"),
    "history": N_("Last {n} days: issued, spoiled and closing stock"),
    "chain": N_("Ledger chain head (witness)"),
    "entries": N_("entries"),
    "signatures": N_("Operator / Head of office"),
    "by_category": N_("Spoiled by cause"),
    "voided": N_("of which voided after issue"),
    "cat_chip_failed": N_("Chip failed"),
    "cat_print_defect": N_("Print defect"),
    "cat_damaged": N_("Physically damaged"),
    "cat_jam": N_("Jammed, removed by hand"),
    "cat_other": N_("Other (see reasons)"),
}


def labels(lang: str) -> dict[str, str]:
    """:data:`LABELS` in ``lang`` (``id`` or ``en``)."""
    sp = speaker(lang)
    return {k: sp.gettext(v) for k, v in {**LABELS, **SUPPLY_LABELS}.items()}


ACCOUNTS = ("stock", "in_printer", "issued", "spoiled_held", "spoiled_disposed", "lost")
MOVES = (("received", "received"), ("adjusted", "adjusted"), ("picked", "picked"),
         ("issued", "issued_day"), ("spoiled", "spoiled"), ("disposed", "disposed"),
         ("lost", "lost_day"), ("lost_from_stock", "lost_from_stock"),
         ("lost_in_printer", "lost_in_printer"))


def identity_line(r: DayReport | Any, t: dict[str, str], sp: Speaker) -> str:
    """The stock identity written out with the report's figures (a day or a month)."""
    m = r.moved
    return t["identity_line"].format(o=sp.number(r.opening["stock"]),
                                     r=sp.number(m["received"]), a=sp.signed(m["adjusted"]),
                                     p=sp.number(m["picked"]), w=sp.number(m["lost_from_stock"]),
                                     c=sp.number(r.closing["stock"]))


def _forecast_lines(r: DayReport, t: dict[str, str], sp: Speaker) -> list[tuple[str, str]]:
    request = (t["request"].format(d=r.cover_days),
               f"{sp.number(r.request_quantity)} {t['blanks']}")
    if r.days_left is None:
        return [(t["rate"], t["none_used"]), request]
    return [(t["rate"], f"{sp.number(r.rate_per_day, 1)} {t['per_day']}"),
            (t["days_left"], sp.number(r.days_left, 1)),
            (t["runout"], sp.date(r.runout_date) if r.runout_date else "-"),
            request]


def _when(ts: str | None, r: DayReport, sp: Speaker) -> str | None:
    """A stored UTC time as the office's local time without seconds: the time of day
    on the report's day, date and time on another."""
    if ts is None:
        return None
    local = sp.local(ts)
    return sp.time(local) if local.date() == r.day else sp.datetime(local)


def _speaker(lang: str) -> Speaker:
    """The report's language in this process's time zone (the office's: the CLI
    and the daemon set it from the state directory)."""
    return speaker(lang)


def render_text(r: DayReport, lang: str = "en") -> str:
    """A plain-text page for a terminal or a printer."""
    t, sp = labels(lang), _speaker(lang)
    n = sp.number
    out = [f"{t['title']} - {t['station']} {r.station_id} - {t['date']} {sp.date(r.day)}",
           "", f"{t['balances']}:", f"  {t['account']:<26}{t['opening']:>10}{t['closing']:>10}"]
    for a in ACCOUNTS:
        out.append(f"  {t[a]:<26}{n(r.opening[a]):>10}{n(r.closing[a]):>10}")
    out += ["", f"{t['movements']}:"]
    for key, label in MOVES:
        value = r.moved[key]
        out.append(f"  {t[label]:<34}{sp.signed(value) if key == 'adjusted' else n(value):>10}")
    out += ["", f"{t['by_category']}:"]
    for cat, count in r.spoiled_by_category.items():
        out.append(f"  {t['cat_' + cat]:<34}{n(count):>10}")
    if r.moved.get("voided"):
        out.append(f"  {t['voided']:<34}{n(r.moved['voided']):>10}")
    ok = r.stock_identity_ok and r.station_identity_ok
    out += ["", f"{t['identity']}: {identity_line(r, t, sp)} -> "
                f"{t['balanced'] if ok else t['not_balanced']}", "", f"{t['faults']}:"]
    if not r.faults:
        out.append(f"  {t['no_faults']}")
    for f in r.faults:
        out.append(f"  {f.source:<12} {f.code:<22} {f.severity:<9} {_when(f.raised_at, r, sp)} "
                   f"-> {_when(f.cleared_at, r, sp) or t['still_active']} "
                   f"({n(f.minutes)} min)")
    for src, minutes in sorted(r.downtime_minutes.items()):
        out.append(f"  {t['downtime']}: {src} {n(minutes)} min")
    out.append(f"  {t['network']}: {n(len(r.network_outages))} {t['outages']}, "
               f"{n(r.network_down_minutes)} {t['down_minutes']}")
    busy = [(h, c) for h, c in enumerate(r.per_hour) if c]
    out += ["", f"{t['per_hour']}: " + (", ".join(f"{h:02d}h {n(c)}" for h, c in busy) or "-"),
            "", f"{t['forecast']}:"]
    out += [f"  {k}: {v}" for k, v in _forecast_lines(r, t, sp)]
    out += supply_text(r.supplies, t, sp)
    out += ["", f"{t['chain']}: {r.chain_head[:24]}... ({n(r.entries)} {t['entries']})"]
    return "\n".join(out)


def balance_rows(r: DayReport | Any) -> list[list[Any]]:
    """The ``opening``, ``closing`` and ``moved`` CSV rows of a day or a month."""
    return ([["opening", a, r.opening[a]] for a in ACCOUNTS]
            + [["closing", a, r.closing[a]] for a in ACCOUNTS]
            + [["moved", key, r.moved[key]] for key, _label in MOVES])


def render_csv(r: DayReport) -> str:
    """``section,item,value`` rows (one header row); machine-readable, language-neutral."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "item", "value"])
    w.writerow(["report", "station_id", r.station_id])
    w.writerow(["report", "date", r.day.isoformat()])
    w.writerows(balance_rows(r))
    for cat, n in r.spoiled_by_category.items():
        w.writerow(["spoiled_by_category", cat, n])
    w.writerow(["moved", "voided", r.moved.get("voided", 0)])
    w.writerow(["identity", "stock_balanced", str(r.stock_identity_ok).lower()])
    w.writerow(["identity", "station_balanced", str(r.station_identity_ok).lower()])
    for f in r.faults:
        w.writerow(["fault", f"{f.source}:{f.code}", f.minutes])
    for src, minutes in sorted(r.downtime_minutes.items()):
        w.writerow(["downtime_minutes", src, minutes])
    w.writerow(["network", "outages", len(r.network_outages)])
    w.writerow(["network", "down_minutes", r.network_down_minutes])
    for h, n in enumerate(r.per_hour):
        w.writerow(["per_hour", f"{h:02d}", n])
    w.writerow(["forecast", "rate_per_day", round(r.rate_per_day, 1)])
    w.writerow(["forecast", "days_left", "" if r.days_left is None else round(r.days_left, 1)])
    w.writerow(["forecast", "runout_date", r.runout_date.isoformat() if r.runout_date else ""])
    w.writerow(["forecast", "cover_days", r.cover_days])
    w.writerow(["forecast", "request_quantity", r.request_quantity])
    w.writerows(supply_csv(r.supplies))
    w.writerow(["ledger", "chain_head", r.chain_head])
    w.writerow(["ledger", "entries", r.entries])
    return buf.getvalue()


PAGE_CSS = """
@page { size: A4; margin: 16mm; }
body { font: 11pt/1.35 "DejaVu Sans", Arial, sans-serif; color: #111; max-width: 180mm;
       margin: 0 auto; }
h1 { font-size: 16pt; margin: 0 0 2mm; } h2 { font-size: 12pt; margin: 6mm 0 2mm;
       border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; } td, th { padding: 1mm 2mm; text-align: left; }
th { background: #eee; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr { page-break-inside: avoid; } .ok { color: #1a6b1a; font-weight: bold; }
.bad { color: #a00; font-weight: bold; } .meta { color: #555; font-size: 9pt; }
.sign { margin-top: 14mm; display: flex; justify-content: space-between; }
.sign div { width: 45%; border-top: 1px solid #333; padding-top: 1mm; font-size: 9pt; }
table.hours { table-layout: fixed; font-size: 8pt; }
td.nw { white-space: nowrap; }
table.hours td, table.hours th { padding: 1mm 0; text-align: center; }
svg { width: 100%; height: auto; } @media print { h2 { page-break-after: avoid; } }
"""


def _chart(r: DayReport, sp: Speaker) -> dict[str, Any]:
    """The inline SVG's geometry: daily issued/spoiled bars and the closing-stock line
    (the template draws it)."""
    w, h, pad = 640, 200, 30
    n = len(r.history) or 1
    top = max([d.issued + d.spoiled for d in r.history] + [1])
    stock_top = max([d.closing_stock for d in r.history] + [1])
    bw = (w - 2 * pad) / n
    bars, points = [], []
    for i, d in enumerate(r.history):
        x = pad + i * bw
        hi = (h - pad) * d.issued / top
        hs = (h - pad) * d.spoiled / top
        bars.append({"x": f"{x + 2:.1f}", "width": f"{bw - 4:.1f}",
                     "y_issued": f"{h - hi:.1f}", "h_issued": f"{hi:.1f}",
                     "y_spoiled": f"{h - hi - hs:.1f}", "h_spoiled": f"{hs:.1f}",
                     "mid": f"{x + bw / 2:.1f}", "label": d.day.strftime("%d/%m"),
                     "day": sp.date(d.day), "issued": sp.number(d.issued),
                     "spoiled": sp.number(d.spoiled)})
        points.append(f"{x + bw / 2:.1f},{h - (h - pad) * d.closing_stock / stock_top:.1f}")
    return {"w": w, "h": h, "pad": pad, "bars": bars, "points": " ".join(points),
            "top": sp.number(top), "stock_top": sp.number(stock_top)}


TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("station_agent.report", "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)


def render_html(r: DayReport, lang: str = "en", office: str | None = None) -> str:
    """One self-contained page (see the module docstring), from the Jinja2 template
    ``templates/daily.html`` (every value escaped)."""
    t, sp = labels(lang), _speaker(lang)
    n = sp.number
    moves = [(t[label], sp.signed(r.moved[key]) if key == "adjusted" else n(r.moved[key]))
             for key, label in MOVES]
    categories = [(t["cat_" + c], n(count)) for c, count in r.spoiled_by_category.items()]
    if r.moved.get("voided"):
        categories.append((t["voided"], n(r.moved["voided"])))
    return TEMPLATES.get_template("daily.html").render(
        lang=lang, t=t, r=r, css=PAGE_CSS, office=office, day=sp.date(r.day),
        generated=sp.datetime(r.generated_at),
        balances=[(t[a], n(r.opening[a]), n(r.closing[a])) for a in ACCOUNTS],
        moves=moves, moves_title=t["movements"], categories=categories,
        identity=identity_line(r, t, sp),
        balanced=r.stock_identity_ok and r.station_identity_ok,
        faults=[{"source": f.source, "code": f.code, "severity": f.severity,
                 "raised": _when(f.raised_at, r, sp) or "",
                 "cleared": _when(f.cleared_at, r, sp) or t["still_active"],
                 "minutes": n(f.minutes)} for f in r.faults],
        downtime=[(src, n(m)) for src, m in sorted(r.downtime_minutes.items())],
        outages=n(len(r.network_outages)), down_minutes=n(r.network_down_minutes),
        per_hour=[n(c) for c in r.per_hour],
        forecast=_forecast_lines(r, t, sp),
        history_title=t["history"].format(n=len(r.history)), chart=_chart(r, sp),
        entries=n(r.entries), signatures=[*t["signatures"].split(" / ", 1), ""],
        **supply_context(r.supplies, t, sp))


def render(r: DayReport, fmt: str, lang: str, office: str | None = None) -> str:
    """``fmt`` is text, csv or html."""
    if fmt == "csv":
        return render_csv(r)
    if fmt == "html":
        return render_html(r, lang, office)
    return render_text(r, lang)

