"""The words of each notification, in the station's language: what happened,
where (station, office), and what to do. Every notification is a JSON-ready
dict; its ``id`` is its deduplication key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from station_agent.faults.codes import describe, title
from station_agent.i18n import Speaker

STOCK_LOW, RUNOUT, FAULT, FAULT_CLEARED = "stock_low", "runout_soon", "fault", "fault_cleared"
OUTAGE, DAILY, TEST = "outage", "daily_summary", "test"


@dataclass(frozen=True)
class Station:
    """Who is speaking: the station, its office, its language and time zone."""

    id: str
    office: str | None
    region: str | None
    speaker: Speaker

    def where(self) -> str:
        sp = self.speaker
        if self.office:
            return sp.gettext("station {station} ({office})").format(station=self.id,
                                                                     office=self.office)
        return sp.gettext("station {station}").format(station=self.id)


def _doc(st: Station, nid: str, code: str, severity: str, subject: str, message: str,
         todo: str, created_at: str, **facts: Any) -> dict[str, Any]:
    return {"id": nid, "code": code, "severity": severity, "station": st.id,
            "office": st.office, "region": st.region, "lang": st.speaker.lang,
            "subject": f"[{st.id}] {subject}", "message": message, "todo": todo,
            "created_at": created_at, "facts": facts}


def stock_low(st: Station, *, raised_at: str, stock: int, threshold: int,
              days_left: float | None, run_out: str | None, now: str) -> dict[str, Any]:
    sp = st.speaker
    outlook = (sp.gettext("about {days} days left, runs out on {date}").format(
        days=sp.number(days_left, 1), date=sp.date(run_out))
        if days_left is not None and run_out else sp.gettext("no blanks used lately"))
    return _doc(st, f"{STOCK_LOW}:{raised_at}", STOCK_LOW, "warning",
                sp.gettext("Blank stock low: {stock} left").format(stock=sp.number(stock)),
                sp.gettext("{where}: {stock} blanks in stock, below the threshold of "
                           "{threshold}; {outlook}.").format(
                    where=st.where(), stock=sp.number(stock), threshold=sp.number(threshold),
                    outlook=outlook),
                sp.gettext(describe("stock_low")[1]), now, stock=stock, threshold=threshold,
                days_left=days_left, run_out=run_out)


def runout(st: Station, *, day: str, stock: int, days_left: float, run_out: str, rate: float,
           now: str) -> dict[str, Any]:
    sp = st.speaker
    return _doc(st, f"{RUNOUT}:{day}", RUNOUT, "warning",
                sp.gettext("Blanks run out in {days} days ({date})").format(
                    days=sp.number(days_left, 1), date=sp.date(run_out)),
                sp.gettext("{where}: {stock} blanks in stock at {rate} a day run out on "
                           "{date}.").format(where=st.where(), stock=sp.number(stock),
                                             rate=sp.number(rate, 1), date=sp.date(run_out)),
                sp.gettext(describe("stock_low")[1]), now, stock=stock, days_left=days_left,
                run_out=run_out, rate_per_day=rate)


def fault(st: Station, f: dict[str, Any], *, now: str) -> dict[str, Any]:
    sp = st.speaker
    name = sp.gettext(title(f["code"]))
    return _doc(st, f"{FAULT}:{f['source']}:{f['code']}:{f['raised_at']}", FAULT,
                f["severity"], f"{name} ({f['source']})",
                sp.gettext("{where}: {fault} on {source} since {since}.").format(
                    where=st.where(), fault=name, source=f["source"],
                    since=sp.datetime(f["raised_at"])),
                sp.gettext(describe(f["code"])[1]), now, source=f["source"],
                fault=f["code"], raised_at=f["raised_at"])


def fault_cleared(st: Station, f: dict[str, Any], *, cleared_at: str, now: str
                  ) -> dict[str, Any]:
    sp = st.speaker
    name = sp.gettext(title(f["code"]))
    return _doc(st, f"{FAULT_CLEARED}:{f['source']}:{f['code']}:{f['raised_at']}",
                FAULT_CLEARED, "info",
                sp.gettext("Cleared: {fault} ({source})").format(fault=name,
                                                                 source=f["source"]),
                sp.gettext("{where}: {fault} on {source} cleared at {when}.").format(
                    where=st.where(), fault=name, source=f["source"],
                    when=sp.datetime(cleared_at)),
                sp.gettext("nothing"), now, source=f["source"], fault=f["code"],
                raised_at=f["raised_at"], cleared_at=cleared_at)


def outage(st: Station, *, started_at: str, minutes: int, now: str) -> dict[str, Any]:
    sp = st.speaker
    return _doc(st, f"{OUTAGE}:{started_at}", OUTAGE, "error",
                sp.gettext("Central server unreachable for {minutes} minutes").format(
                    minutes=sp.number(minutes)),
                sp.gettext("{where}: the central server has been unreachable since "
                           "{since}.").format(where=st.where(), since=sp.datetime(started_at)),
                sp.gettext(describe("server_unreachable")[1]), now, started_at=started_at,
                minutes=minutes)


def daily(st: Station, *, day: str, figures: dict[str, Any], stock: int,
          days_left: float | None, faults: int, now: str) -> dict[str, Any]:
    sp = st.speaker
    left = (sp.gettext("about {days} days of stock left").format(days=sp.number(days_left, 1))
            if days_left is not None else sp.gettext("no blanks used lately"))
    return _doc(st, f"{DAILY}:{day}", DAILY, "info",
                sp.gettext("Daily summary {date}").format(date=sp.date(day)),
                sp.gettext("{where}, {date}: issued {issued}, spoiled {spoiled}, lost {lost}, "
                           "received {received}; {stock} blanks in stock ({left}); {faults} "
                           "active fault(s).").format(
                    where=st.where(), date=sp.date(day), issued=sp.number(figures["issued"]),
                    spoiled=sp.number(figures["spoiled"] + figures.get("voided", 0)),
                    lost=sp.number(figures["lost"]), received=sp.number(figures["received"]),
                    stock=sp.number(stock), left=left, faults=sp.number(faults)),
                sp.gettext("sign the daily reconciliation report"), now, **figures,
                stock=stock, days_left=days_left, active_faults=faults)


def test(st: Station, *, now: str) -> dict[str, Any]:
    sp = st.speaker
    return _doc(st, f"{TEST}:{now}", TEST, "info",
                sp.gettext("Test notification"),
                sp.gettext("{where}: this is a test of the notification channels.").format(
                    where=st.where()),
                sp.gettext("nothing"), now)
