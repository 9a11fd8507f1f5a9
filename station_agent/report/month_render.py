"""The monthly recapitulation as text, CSV (stable ``section,item,value`` rows) or
one self-contained A4 HTML page set (print CSS, no JavaScript, no fetches), in
Indonesian or English with the office's number and date formats."""

from __future__ import annotations

import csv
import io
from typing import Any

from station_agent.i18n import N_, Speaker, speaker
from station_agent.report.month import MonthReport
from station_agent.report.render import (
    ACCOUNTS,
    MOVES,
    PAGE_CSS,
    TEMPLATES,
    balance_rows,
    identity_line,
    labels,
)
from station_agent.report.supplies_render import supply_context, supply_csv, supply_text

#: The recapitulation's own words (the daily report's :data:`LABELS` serve too).
MONTH_LABELS: dict[str, str] = {
    "title": N_("Monthly recapitulation of blank cards"),
    "office": N_("Office"), "region": N_("Region"), "period": N_("Period"),
    "incomplete": N_("the month is not over: figures up to now"),
    "deliveries": N_("Deliveries received"), "batch": N_("Batch"), "count": N_("Count"),
    "serials": N_("Serial numbers"), "none": N_("None."),
    "disposals": N_("Spoiled blanks destroyed"), "record": N_("Destruction record"),
    "write_offs": N_("Blanks written off as lost"), "reason": N_("Reason"),
    "corrections": N_("Count corrections"), "outage_days": N_("Days with server outages"),
    "printer_downtime": N_("Device downtime (error/critical faults), minutes"),
    "per_printer": N_("Per printer"), "printer": N_("Printer"), "col_picked": N_("Picked"),
    "col_issued": N_("Issued"), "col_spoiled": N_("Spoiled"), "col_lost": N_("Lost"),
    "movements_month": N_("Movements of the month"),
    "signed_by": N_("Signed by"), "name": N_("Name"), "staff_number": N_("Staff number (NIP)"),
    "entry": N_("Entry"), "day": N_("Date"),
}


def _words(lang: str) -> dict[str, str]:
    sp = speaker(lang)
    return {**labels(lang), **{k: sp.gettext(v) for k, v in MONTH_LABELS.items()}}


def _period(r: MonthReport, sp: Speaker) -> str:
    return f"{sp.date(r.month)} - {sp.date(r.last_day)}"


def render_month_text(r: MonthReport, lang: str = "id") -> str:
    """A plain-text page."""
    t, sp = _words(lang), speaker(lang)
    n = sp.number
    head = [f"{t['title']} - {r.label}"]
    if r.office:
        head.append(f"{t['office']}: {r.office}" + (f" ({r.region})" if r.region else ""))
    head.append(f"{t['station']}: {r.station_id} - {t['period']}: {_period(r, sp)}")
    if not r.complete:
        head.append(f"({t['incomplete']})")
    out = [*head, "", f"{t['balances']}:",
           f"  {t['account']:<26}{t['opening']:>12}{t['closing']:>12}"]
    out += [f"  {t[a]:<26}{n(r.opening[a]):>12}{n(r.closing[a]):>12}" for a in ACCOUNTS]
    out += ["", f"{t['movements_month']}:"]
    out += [f"  {t[label]:<34}{sp.signed(r.moved[k]) if k == 'adjusted' else n(r.moved[k]):>12}"
            for k, label in MOVES]
    out += ["", f"{t['by_category']}:"]
    out += [f"  {t['cat_' + c]:<34}{n(v):>12}" for c, v in r.spoiled_by_category.items()]
    ok = r.stock_identity_ok and r.station_identity_ok
    out += ["", f"{t['identity']}: {identity_line(r, t, sp)} -> "
                f"{t['balanced'] if ok else t['not_balanced']}"]
    sections: list[tuple[str, list[str]]] = [
        (t["deliveries"], [f"  {sp.date(d['date'])}  {d['batch']}  {n(d['count'])}"
                           + (f"  {d['serials']}" if d["serials"] else "")
                           for d in r.deliveries]),
        (t["disposals"], [f"  {sp.date(d['date'])}  {d['record']}  {n(d['count'])}"
                          for d in r.disposals]),
        (t["write_offs"], [f"  {sp.date(d['date'])}  {n(d['count'])}  {d['reason'] or ''}"
                           for d in r.write_offs]),
        (t["corrections"], [f"  {sp.date(d['date'])}  {sp.signed(d['count'])}  {d['reason']}"
                            for d in r.corrections]),
        (t["outage_days"], [f"  {sp.date(d['date'])}  {n(d['outages'])} {t['outages']}, "
                            f"{n(d['minutes'])} {t['down_minutes']}" for d in r.outage_days]),
        (t["printer_downtime"], [f"  {src}  {n(m)}" for src, m in
                                 sorted(r.downtime_minutes.items())]),
        (t["per_printer"], [f"  {p}  {t['col_picked']} {n(v['picked'])}, {t['col_issued']} "
                            f"{n(v['issued'])}, {t['col_spoiled']} {n(v['spoiled'])}, "
                            f"{t['col_lost']} {n(v['lost'])}" for p, v in r.printers.items()]),
    ]
    for title, lines in sections:
        out += ["", f"{title}:", *(lines or [f"  {t['none']}"])]
    out += supply_text(r.supplies, t, sp)
    out += ["", f"{t['chain']}: {r.chain_head[:24]}... ({n(r.entries)} {t['entries']})", "",
            f"{t['signed_by']}: {t['name']} ____________________  "
            f"{t['staff_number']} ____________________"]
    return "\n".join(out)


def render_month_csv(r: MonthReport) -> str:
    """``section,item,value`` rows (one header row): stable and language-neutral."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "item", "value"])
    for item, value in (("station_id", r.station_id), ("office", r.office or ""),
                        ("region", r.region or ""), ("month", r.label),
                        ("complete", str(r.complete).lower())):
        w.writerow(["report", item, value])
    w.writerows(balance_rows(r))
    w.writerow(["moved", "voided", r.moved.get("voided", 0)])
    for c, v in r.spoiled_by_category.items():
        w.writerow(["spoiled_by_category", c, v])
    w.writerow(["identity", "stock_balanced", str(r.stock_identity_ok).lower()])
    w.writerow(["identity", "station_balanced", str(r.station_identity_ok).lower()])
    for d in r.deliveries:
        w.writerow(["delivery", f"{d['date']}:{d['batch']}", d["count"]])
    for d in r.disposals:
        w.writerow(["disposal", f"{d['date']}:{d['record']}", d["count"]])
    for d in r.write_offs:
        w.writerow(["write_off", f"{d['date']}:{d['entry']}", d["count"]])
    for d in r.corrections:
        w.writerow(["correction", f"{d['date']}:{d['entry']}", d["count"]])
    for d in r.outage_days:
        w.writerow(["outage_minutes", d["date"], d["minutes"]])
    for src, m in sorted(r.downtime_minutes.items()):
        w.writerow(["downtime_minutes", src, m])
    for p, counts in r.printers.items():
        for k, total in counts.items():
            w.writerow([f"printer:{k}", p, total])
    w.writerows(supply_csv(r.supplies))
    w.writerow(["ledger", "chain_head", r.chain_head])
    w.writerow(["ledger", "entries", r.entries])
    return buf.getvalue()


def render_month_html(r: MonthReport, lang: str = "id") -> str:
    """One self-contained A4 page set from ``templates/month.html`` (every value escaped)."""
    t, sp = _words(lang), speaker(lang)
    n = sp.number
    ctx: dict[str, Any] = {
        "lang": lang, "t": t, "r": r, "css": PAGE_CSS, "period": _period(r, sp),
        "moves_title": t["movements_month"],
        "balances": [(t[a], n(r.opening[a]), n(r.closing[a])) for a in ACCOUNTS],
        "moves": [(t[label], sp.signed(r.moved[k]) if k == "adjusted" else n(r.moved[k]))
                  for k, label in MOVES],
        "categories": [(t["cat_" + c], n(v)) for c, v in r.spoiled_by_category.items()],
        "identity": identity_line(r, t, sp),
        "balanced": r.stock_identity_ok and r.station_identity_ok,
        "deliveries": [(sp.date(d["date"]), d["batch"], n(d["count"]), d["serials"] or "-")
                       for d in r.deliveries],
        "disposals": [(sp.date(d["date"]), d["record"], n(d["count"])) for d in r.disposals],
        "write_offs": [(sp.date(d["date"]), n(d["count"]), d["reason"] or "-")
                       for d in r.write_offs],
        "corrections": [(sp.date(d["date"]), sp.signed(d["count"]), d["reason"])
                        for d in r.corrections],
        "outage_days": [(sp.date(d["date"]), n(d["outages"]), n(d["minutes"]))
                        for d in r.outage_days],
        "downtime": [(src, n(m)) for src, m in sorted(r.downtime_minutes.items())],
        "printers": [(p, n(v["picked"]), n(v["issued"]), n(v["spoiled"]), n(v["lost"]))
                     for p, v in r.printers.items()],
        "entries": n(r.entries),
        **supply_context(r.supplies, t, sp),
    }
    return TEMPLATES.get_template("month.html").render(**ctx)


def render_month(r: MonthReport, fmt: str, lang: str) -> str:
    """``fmt`` is text, csv or html."""
    if fmt == "csv":
        return render_month_csv(r)
    if fmt == "html":
        return render_month_html(r, lang)
    return render_month_text(r, lang)
