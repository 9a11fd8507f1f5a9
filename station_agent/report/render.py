"""The reconciliation as text, CSV or one self-contained HTML page, in English or Indonesian.

HTML: inline CSS (A4 print rules) and an inline SVG chart; no JavaScript, no
fetches, so it opens and prints the same on an office PC without a network.
"""

from __future__ import annotations

import csv
import html
import io
from datetime import datetime

from station_agent.i18n import N_, speaker
from station_agent.report.model import DayReport

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
    return {k: sp.gettext(v) for k, v in LABELS.items()}


ACCOUNTS = ("stock", "in_printer", "issued", "spoiled_held", "spoiled_disposed", "lost")
MOVES = (("received", "received"), ("adjusted", "adjusted"), ("picked", "picked"),
         ("issued", "issued_day"), ("spoiled", "spoiled"), ("disposed", "disposed"),
         ("lost", "lost_day"), ("lost_from_stock", "lost_from_stock"),
         ("lost_in_printer", "lost_in_printer"))


def _identity(r: DayReport, t: dict[str, str]) -> str:
    m = r.moved
    return t["identity_line"].format(o=r.opening["stock"], r=m["received"],
                                     a=f"{m['adjusted']:+d}", p=m["picked"],
                                     w=m["lost_from_stock"], c=r.closing["stock"])


def _forecast_lines(r: DayReport, t: dict[str, str]) -> list[tuple[str, str]]:
    if r.days_left is None:
        return [(t["rate"], t["none_used"]),
                (t["request"].format(d=r.cover_days), f"{r.request_quantity:,} {t['blanks']}")]
    return [(t["rate"], f"{r.rate_per_day:.1f} {t['per_day']}"),
            (t["days_left"], f"{r.days_left:.1f}"),
            (t["runout"], r.runout_date.isoformat() if r.runout_date else "-"),
            (t["request"].format(d=r.cover_days), f"{r.request_quantity:,} {t['blanks']}")]


def _when(ts: str | None, r: DayReport) -> str | None:
    """A stored UTC time as the office's local time without seconds: ``HH:MM`` on
    the report's day, ``YYYY-MM-DD HH:MM`` on another."""
    if ts is None:
        return None
    local = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone()
    return f"{local:%H:%M}" if local.date() == r.day else f"{local:%Y-%m-%d %H:%M}"


def render_text(r: DayReport, lang: str = "en") -> str:
    """A plain-text page for a terminal or a printer."""
    t = labels(lang)
    out = [f"{t['title']} - {t['station']} {r.station_id} - {t['date']} {r.day.isoformat()}",
           "", f"{t['balances']}:", f"  {t['account']:<26}{t['opening']:>10}{t['closing']:>10}"]
    for a in ACCOUNTS:
        out.append(f"  {t[a]:<26}{r.opening[a]:>10,}{r.closing[a]:>10,}")
    out += ["", f"{t['movements']}:"]
    for key, label in MOVES:
        value = r.moved[key]
        out.append(f"  {t[label]:<34}{value:>+10,}" if key == "adjusted"
                   else f"  {t[label]:<34}{value:>10,}")
    out += ["", f"{t['by_category']}:"]
    for cat, n in r.spoiled_by_category.items():
        out.append(f"  {t['cat_' + cat]:<34}{n:>10,}")
    if r.moved.get("voided"):
        out.append(f"  {t['voided']:<34}{r.moved['voided']:>10,}")
    ok = r.stock_identity_ok and r.station_identity_ok
    out += ["", f"{t['identity']}: {_identity(r, t)} -> "
                f"{t['balanced'] if ok else t['not_balanced']}", "", f"{t['faults']}:"]
    if not r.faults:
        out.append(f"  {t['no_faults']}")
    for f in r.faults:
        out.append(f"  {f.source:<12} {f.code:<22} {f.severity:<9} {_when(f.raised_at, r)} -> "
                   f"{_when(f.cleared_at, r) or t['still_active']} ({f.minutes:g} min)")
    for src, minutes in sorted(r.downtime_minutes.items()):
        out.append(f"  {t['downtime']}: {src} {minutes:g} min")
    out.append(f"  {t['network']}: {len(r.network_outages)} {t['outages']}, "
               f"{r.network_down_minutes:g} {t['down_minutes']}")
    busy = [(h, n) for h, n in enumerate(r.per_hour) if n]
    out += ["", f"{t['per_hour']}: " + (", ".join(f"{h:02d}h {n}" for h, n in busy) or "-"),
            "", f"{t['forecast']}:"]
    out += [f"  {k}: {v}" for k, v in _forecast_lines(r, t)]
    out += ["", f"{t['chain']}: {r.chain_head[:24]}... ({r.entries:,} {t['entries']})"]
    return "\n".join(out)


def render_csv(r: DayReport) -> str:
    """``section,item,value`` rows (one header row); machine-readable, language-neutral."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "item", "value"])
    w.writerow(["report", "station_id", r.station_id])
    w.writerow(["report", "date", r.day.isoformat()])
    for a in ACCOUNTS:
        w.writerow(["opening", a, r.opening[a]])
    for a in ACCOUNTS:
        w.writerow(["closing", a, r.closing[a]])
    for key, _label in MOVES:
        w.writerow(["moved", key, r.moved[key]])
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
    w.writerow(["ledger", "chain_head", r.chain_head])
    w.writerow(["ledger", "entries", r.entries])
    return buf.getvalue()


_CSS = """
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


def _chart(r: DayReport, t: dict[str, str]) -> str:
    """An inline SVG: daily issued/spoiled bars and the closing-stock line."""
    w, h, pad = 640, 200, 30
    n = len(r.history) or 1
    top = max([d.issued + d.spoiled for d in r.history] + [1])
    stock_top = max([d.closing_stock for d in r.history] + [1])
    bw = (w - 2 * pad) / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h + 30}" '
             f'role="img" aria-label="{html.escape(t["history"].format(n=n))}">',
             f'<line x1="{pad}" y1="{h}" x2="{w - pad}" y2="{h}" stroke="#999"/>']
    points = []
    for i, d in enumerate(r.history):
        x = pad + i * bw
        hi = (h - pad) * d.issued / top
        hs = (h - pad) * d.spoiled / top
        parts.append(f'<rect x="{x + 2:.1f}" y="{h - hi:.1f}" width="{bw - 4:.1f}" '
                     f'height="{hi:.1f}" fill="#3a7bd5"><title>{d.day} {t["issued_day"]} '
                     f'{d.issued}</title></rect>')
        parts.append(f'<rect x="{x + 2:.1f}" y="{h - hi - hs:.1f}" width="{bw - 4:.1f}" '
                     f'height="{hs:.1f}" fill="#d9534f"><title>{d.day} {t["spoiled"]} '
                     f'{d.spoiled}</title></rect>')
        points.append(f"{x + bw / 2:.1f},{h - (h - pad) * d.closing_stock / stock_top:.1f}")
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{h + 14}" font-size="9" '
                     f'text-anchor="middle">{d.day.strftime("%d/%m")}</text>')
    parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#2b8a3e" '
                 'stroke-width="2"/>')
    # The stock line has its own scale, on the right; the bars' is on the left.
    parts.append(f'<line x1="{w - pad}" y1="{pad}" x2="{w - pad}" y2="{h}" stroke="#2b8a3e"/>'
                 f'<text x="{w - pad + 3}" y="{pad + 4}" font-size="9" fill="#2b8a3e">'
                 f'{stock_top:,}</text><text x="{w - pad + 3}" y="{h}" font-size="9" '
                 'fill="#2b8a3e">0</text>'
                 f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h}" stroke="#999"/>'
                 f'<text x="{pad - 3}" y="{pad + 4}" font-size="9" text-anchor="end">{top:,}'
                 f'</text><text x="{pad - 3}" y="{h}" font-size="9" text-anchor="end">0</text>')
    parts.append(f'<text x="{pad}" y="{h + 28}" font-size="9"><tspan fill="#3a7bd5">&#9632; '
                 f'{html.escape(t["issued_day"])}</tspan>  <tspan fill="#d9534f">&#9632; '
                 f'{html.escape(t["spoiled"])}</tspan>  <tspan fill="#2b8a3e">&#9472; '
                 f'{html.escape(t["stock"])} (max {stock_top:,})</tspan></text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(r: DayReport, lang: str = "en") -> str:
    """One self-contained page (see the module docstring)."""
    t = labels(lang)
    e = html.escape
    ok = r.stock_identity_ok and r.station_identity_ok
    rows = "".join(f"<tr><td>{e(t[a])}</td><td class=n>{r.opening[a]:,}</td>"
                   f"<td class=n>{r.closing[a]:,}</td></tr>" for a in ACCOUNTS)
    moves = "".join(f"<tr><td>{e(t[label])}</td><td class=n>"
                    f"{r.moved[key]:+,}</td></tr>" if key == "adjusted" else
                    f"<tr><td>{e(t[label])}</td><td class=n>{r.moved[key]:,}</td></tr>"
                    for key, label in MOVES)
    cats = "".join(f"<tr><td>{e(t['cat_' + c])}</td><td class=n>{n:,}</td></tr>"
                   for c, n in r.spoiled_by_category.items())
    if r.moved.get("voided"):
        cats += f"<tr><td>{e(t['voided'])}</td><td class=n>{r.moved['voided']:,}</td></tr>"
    if r.faults:
        faults = (f"<table><tr><th>{e(t['source'])}</th><th>{e(t['code'])}</th>"
                  f"<th>{e(t['severity'])}</th><th>{e(t['raised'])}</th>"
                  f"<th>{e(t['cleared'])}</th><th class=n>{e(t['minutes'])}</th></tr>"
                  + "".join(f"<tr><td class=nw>{e(f.source)}</td><td class=nw>{e(f.code)}</td>"
                            f"<td>{e(f.severity)}</td><td class=nw>{e(_when(f.raised_at, r) or '')}"
                            f"</td><td class=nw>{e(_when(f.cleared_at, r) or t['still_active'])}"
                            f"</td><td class=n>{f.minutes:g}</td></tr>" for f in r.faults)
                  + "</table>")
    else:
        faults = f"<p>{e(t['no_faults'])}</p>"
    down = "".join(f"<li>{e(t['downtime'])}: {e(src)} {m:g} min</li>"
                   for src, m in sorted(r.downtime_minutes.items()))
    net = (f"<li>{e(t['network'])}: {len(r.network_outages)} {e(t['outages'])}, "
           f"{r.network_down_minutes:g} {e(t['down_minutes'])}</li>")
    hours = "".join(f"<td class=n>{n}</td>" for n in r.per_hour)
    heads = "".join(f"<th class=n>{h:02d}</th>" for h in range(24))
    fc = "".join(f"<tr><td>{e(k)}</td><td class=n>{e(v)}</td></tr>"
                 for k, v in _forecast_lines(r, t))
    verdict = (f'<span class="ok">{e(t["balanced"])}</span>' if ok
               else f'<span class="bad">{e(t["not_balanced"])}</span>')
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{e(t['title'])} {e(r.station_id)} {r.day.isoformat()}</title>
<style>{_CSS}</style></head><body>
<h1>{e(t['title'])}</h1>
<p class="meta">{e(t['station'])} <b>{e(r.station_id)}</b> &middot; {e(t['date'])}
<b>{r.day.isoformat()}</b> &middot; {e(t['generated'])} {e(r.generated_at)}</p>
<h2>{e(t['balances'])}</h2>
<table><tr><th>{e(t['account'])}</th><th class=n>{e(t['opening'])}</th>
<th class=n>{e(t['closing'])}</th></tr>{rows}</table>
<h2>{e(t['movements'])}</h2><table>{moves}</table>
<h2>{e(t['by_category'])}</h2><table>{cats}</table>
<p><b>{e(t['identity'])}:</b> {e(_identity(r, t))} &rarr; {verdict}</p>
<h2>{e(t['faults'])}</h2>{faults}<ul>{down}{net}</ul>
<h2>{e(t['per_hour'])}</h2><table class=hours><tr>{heads}</tr><tr>{hours}</tr></table>
<h2>{e(t['forecast'])}</h2><table>{fc}</table>
<h2>{e(t['history'].format(n=len(r.history)))}</h2>{_chart(r, t)}
<p class="meta">{e(t['chain'])}: {e(r.chain_head)} ({r.entries:,} {e(t['entries'])})</p>
<div class="sign"><div>{e(t['signatures'].split(' / ')[0])}</div>
<div>{e(t['signatures'].split(' / ')[1])}</div></div>
</body></html>
"""


def render(r: DayReport, fmt: str, lang: str) -> str:
    """``fmt`` is text, csv or html."""
    if fmt == "csv":
        return render_csv(r)
    if fmt == "html":
        return render_html(r, lang)
    return render_text(r, lang)

