"""The monthly recapitulation: a generated office month (deliveries, spoils of every
cause, voids, disposals, write-offs, corrections, a mid-month restart) equals the
sum of its days' reports, its closing balances are the next month's opening, and
the HTML is one self-contained page that Chromium prints."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from station_agent import clock
from station_agent.config import SupplyConfig
from station_agent.ledger import Ledger, model, open_reader, supplies
from station_agent.report.model import build_report
from station_agent.report.month import build_month, month_bounds
from station_agent.report.month_render import render_month
from tests.conftest import run_cli
from tests.helpers.chromium import headless

TZ = "Asia/Makassar"
KINDS = (SupplyConfig("ribbon-ymcko", rated_yield=200, part="ribbon"),
         SupplyConfig("film-clear", rated_yield=400, part="film"))


@pytest.fixture
def office_tz() -> Iterator[None]:
    before = os.environ.get("TZ")
    clock.use_timezone(TZ)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
        clock.uncompress()


def _at(day: date, hour: int, minute: int = 0) -> None:
    """Step the agent's clock to local ``day`` ``hour``:``minute``."""
    clock.compress(datetime(day.year, day.month, day.day, hour, minute).astimezone(), 1.0)


def _office_months(state: Path, seed: int = 7) -> None:
    """Two office months (October and November 2026) of a busy station."""
    rng = random.Random(seed)
    led = Ledger(state, station_id="kpg-01")
    serial = 1
    job = 0
    day = date(2026, 10, 1)
    try:
        while day < date(2026, 12, 1):
            if day == date(2026, 11, 14):      # the daemon restarts mid-month
                led.close()
                led = Ledger(state, station_id="kpg-01")
            if day.weekday() < 5:
                if day.day in (1, 15) or rng.random() < 0.05:
                    _at(day, 7, 45)
                    count = rng.choice((500, 1000))
                    led.record(model.receive(f"KTP-{day.isoformat()}", count,
                                             first_serial=f"KTP{serial:07d}"))
                    serial += count
                if day.day == 2 or rng.random() < 0.04:
                    _at(day, 7, 50)
                    for kind in ("ribbon-ymcko", "film-clear"):
                        led.record(model.supply_receive(kind, rng.randint(3, 6),
                                                        f"SUP-{day.isoformat()}"))
                for k in range(rng.randint(20, 60)):
                    _at(day, 8 + k // 8, (k % 8) * 7)
                    job += 1
                    jid = f"j{job}"
                    printer = rng.choice(("evolis-1", "magicard-1"))
                    if rng.random() < 0.03 or job < 3:   # a ribbon or film change
                        kind = rng.choice(("ribbon-ymcko", "film-clear"))
                        stock = led.read(supplies.balances).get(kind, {}).get("supply_stock", 0)
                        if stock:
                            for t in led.read(lambda c, k=kind, p=printer, j=jid:
                                              supplies.install_transfers(c, k, p, f"in-{j}")):
                                led.record(t)
                    led.record(model.pick(jid, device=printer))
                    roll = rng.random()
                    if roll < 0.05:
                        led.record(model.reject(jid, category=rng.choice(model.CATEGORIES),
                                                reason="cek"))
                    elif roll < 0.06:
                        led.record(model.write_off_job(jid, "hilang saat macet"))
                    else:
                        led.record(model.complete(jid))
                        if roll > 0.99:
                            led.record(model.void(jid, model.CHIP_FAILED, "chip gagal ditulis"))
                _at(day, 16, 30)
                held = led.balances().spoiled_held
                if day.weekday() == 4 and held:
                    led.record(model.dispose(held, f"BA-{day.isoformat()}"))
                if rng.random() < 0.1:
                    led.record(model.adjust(rng.choice((-2, -1, 1, 3)), "hitung fisik",
                                            f"adj-{day.isoformat()}"))
                if rng.random() < 0.05:
                    led.record(model.write_off_stock(1, "rusak air", f"wo-{day.isoformat()}"))
                ribbons = led.read(supplies.balances).get("ribbon-ymcko", {})
                if rng.random() < 0.2 and ribbons.get("supply_stock"):
                    led.record(model.supply_write_off("ribbon-ymcko", 1, "sobek",
                                                      f"swo-{day.isoformat()}"))
            day += timedelta(days=1)
    finally:
        led.close()
        clock.uncompress()


def test_a_month_is_the_sum_of_its_days(tmp_path: Path, office_tz: None) -> None:
    state = tmp_path / "state"
    _office_months(state)
    conn = open_reader(state)
    try:
        now = datetime(2026, 12, 2, 9, 0).astimezone()
        oct_, nov = (build_month(conn, 2026, m, station_id="kpg-01", now=now,
                                 supply_kinds=KINDS) for m in (10, 11))
        for rep in (oct_, nov):
            first, nxt = month_bounds(rep.month.year, rep.month.month)
            days = []
            d = first
            while d < nxt:
                days.append(build_report(conn, d, station_id="kpg-01", now=now,
                                         supply_kinds=KINDS))
                d += timedelta(days=1)
            # Supplies: the month's stock, movements and yields are its days'.
            assert [p.kind for p in rep.supplies] == ["ribbon-ymcko", "film-clear"]
            for i, p in enumerate(rep.supplies):
                assert p.opening == days[0].supplies[i].opening
                assert p.closing == days[-1].supplies[i].closing
                for key in p.moved:
                    assert p.moved[key] == sum(x.supplies[i].moved[key] for x in days), key
                assert p.yields == [y for x in days for y in x.supplies[i].yields]
                assert sum(int(str(d["count"])) for d in p.deliveries) == p.moved["received"]
                held = sum(p.closing.values()) - sum(p.opening.values())
                assert held == p.moved["received"]
            assert sum(p.moved["finished"] for p in rep.supplies) > 0
            assert all(y["yield_percent"] is not None for p in rep.supplies
                       for y in p.yields if y["ended_by"] == "supply_finish")
            assert rep.opening == days[0].opening and rep.closing == days[-1].closing
            for key in rep.moved:
                assert rep.moved[key] == sum(x.moved[key] for x in days), key
            for cat in model.CATEGORIES:
                assert rep.spoiled_by_category[cat] == sum(
                    x.spoiled_by_category[cat] for x in days), cat
            assert rep.stock_identity_ok and rep.station_identity_ok and rep.complete
            assert len(rep.deliveries) == sum(1 for x in days if x.moved["received"])
            assert sum(d["count"] for d in rep.deliveries) == rep.moved["received"]
            assert sum(d["count"] for d in rep.disposals) == rep.moved["disposed"]
            assert sum(d["count"] for d in rep.corrections) == rep.moved["adjusted"]
            assert sum(d["count"] for d in rep.write_offs) == rep.moved["lost"]
            assert sum(v["issued"] for v in rep.printers.values()) >= 0
            assert sum(v["picked"] for v in rep.printers.values()) == rep.moved["picked"]
        assert oct_.closing == nov.opening
        assert [p.closing for p in oct_.supplies] == [p.opening for p in nov.supplies]
        assert any(p.moved["written_off"] for p in oct_.supplies + nov.supplies)
        assert sum(nov.spoiled_by_category.values()) > 0
        assert nov.moved["voided"] >= 0 and nov.disposals and nov.deliveries
        assert nov.deliveries[0]["serials"].startswith("KTP")
    finally:
        conn.close()


def test_month_formats_and_the_cli(tmp_path: Path, office_tz: None) -> None:
    state = tmp_path / "state"
    _office_months(state, seed=3)
    csv_text = run_cli("--state-dir", str(state), "report", "--month", "2026-10", "--format",
                       "csv").out
    rows = [line.split(",", 2) for line in csv_text.splitlines()]
    assert rows[0] == ["section", "item", "value"]
    sections = {r[0] for r in rows[1:]}
    assert {"opening", "closing", "moved", "spoiled_by_category", "delivery", "disposal",
            "identity", "ledger", "supply_opening", "supply_received", "supply_finished",
            "supply_closing", "supply_yield"} <= sections
    doc = run_cli("--state-dir", str(state), "report", "--month", "2026-10", "--json")
    assert doc.code == 0, doc.err
    text = run_cli("--state-dir", str(state), "report", "--month", "2026-10").out
    assert "Rekapitulasi bulanan blangko" in text and "1 Oktober 2026 - 31 Oktober 2026" in text
    assert "seimbang" in text
    assert "ribbon-ymcko" in text and "film-clear" in text
    en = run_cli("--state-dir", str(state), "report", "--month", "2026-10", "--lang", "en").out
    assert "Monthly recapitulation of blank cards" in en and "October 1, 2026" in en
    for bad in ("2026-13", "26-10", "2026/10"):
        r = run_cli("--state-dir", str(state), "report", "--month", bad)
        assert r.code == 2 and "expected YYYY-MM" in r.err and len(r.err.splitlines()) == 1
    both = run_cli("--state-dir", str(state), "report", "--month", "2026-10", "--date",
                   "2026-10-02")
    assert both.code == 2


def test_month_html_is_self_contained_and_prints_in_chromium(tmp_path: Path,
                                                            office_tz: None) -> None:
    state = tmp_path / "state"
    _office_months(state, seed=5)
    conn = open_reader(state)
    try:
        rep = build_month(conn, 2026, 11, station_id="kpg-01", office="Disdukcapil Kota Kupang",
                          region="Nusa Tenggara Timur",
                          now=datetime(2026, 12, 2).astimezone())
    finally:
        conn.close()
    page = render_month(rep, "html", "id")
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "Disdukcapil Kota Kupang" in page and "NIP" in page and "@page" in page
    html = tmp_path / "month.html"
    html.write_text(page, encoding="utf-8")
    pdf = tmp_path / "month.pdf"
    res = headless(html, tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert res.returncode == 0 and pdf.is_file(), res.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page") >= 2  # an A4 page set
