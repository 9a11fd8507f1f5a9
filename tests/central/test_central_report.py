"""`station-agent central report` against a generated national fleet loaded into a real
PostgreSQL: figures per office equal the generated stations', offices sorted by
run-out date, filters, allocation by need, CSV, and the HTML page in Chromium."""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simulators.fleet_events import StationStream
from simulators.postgres import Postgres
from station_agent.central import intake, schema, store
from tests.central.conftest import connect
from tests.conftest import run_cli
from tests.helpers.chromium import headless


@dataclass
class Generated:
    streams: list[StationStream]
    picked: dict[str, int]
    issued: dict[str, int]
    spoiled: dict[str, int]


def generate(conn: Any, now: datetime, seed: int = 11) -> Generated:
    """A fleet of 9 offices in 3 regions, 1-3 stations each, 34 days of cards at
    office-specific rates and stocks, loaded through the store."""
    rng = random.Random(seed)
    streams: list[StationStream] = []
    picked: dict[str, int] = {}
    issued: dict[str, int] = {}
    spoiled: dict[str, int] = {}
    msgs: list[tuple[str, bytes]] = []
    start = now - timedelta(days=34)
    for o in range(9):
        office, region = f"Disdukcapil {o:02d}", f"Provinsi {o % 3}"
        for k in range(1 + o % 3):
            s = StationStream(f"st-{o:02d}-{k}", office, region)
            streams.append(s)
            msgs += s.receive(start, rng.choice([300, 800, 1500, 4000]))
            per_day = 2 + (o * 3 + k) % 9
            for day in range(34):
                # Mid-day: far from the report's 30-day boundary (now - 30 days).
                ts = start + timedelta(days=day, hours=12)
                for _ in range(per_day):
                    spoil = "jam" if rng.random() < 0.05 else None
                    msgs += s.card(ts, spoil)
                    if ts >= now - timedelta(days=30):
                        picked[office] = picked.get(office, 0) + 1
                        if spoil:
                            spoiled[office] = spoiled.get(office, 0) + 1
                        else:
                            issued[office] = issued.get(office, 0) + 1
            msgs.append(s.status(now))
    parsed = [intake.read(t, p) for t, p in msgs]
    for i in range(0, len(parsed), 2000):
        store.apply(conn, parsed[i:i + 2000])
    return Generated(streams, picked, issued, spoiled)


@pytest.fixture
def fleet(postgres: Postgres) -> tuple[Postgres, Generated]:
    conn = connect(postgres)
    schema.migrate(conn)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    gen = generate(conn, now)
    conn.close()
    return postgres, gen


def report(pg: Postgres, *args: str) -> Any:
    res = run_cli("central", "report", "--db", pg.url, "--timezone", "UTC", *args, timeout=120)
    assert res.code == 0, res.err
    return res.out


def test_json_figures_equal_the_generated_fleet_and_are_sorted(
        fleet: tuple[Postgres, Generated]) -> None:
    pg, gen = fleet
    doc = json.loads(report(pg, "--format", "json"))
    offices = {o["office"]: o for o in doc["offices"]}
    assert len(offices) == 9 and doc["total"]["stations"] == len(gen.streams)
    for office, row in offices.items():
        mine = [s for s in gen.streams if s.office == office]
        assert row["stock"] == sum(s.balances.get("stock", 0) for s in mine)
        assert row["stations"] == len(mine) and row["online"] == len(mine)
        assert row["issued_30d"] == gen.issued.get(office, 0)
        assert row["spoiled_30d"] == gen.spoiled.get(office, 0)
        assert sum(row["spoiled_by_category_30d"].values()) == row["spoiled_30d"]
        assert set(row["spoiled_by_category_30d"]) <= {"jam"}
        assert sum(row["spoiled_by_category_today"].values()) == row["spoiled_today"]
        assert row["per_day"] == pytest.approx(gen.picked[office] / 30, abs=0.01)
        assert row["chain"] == "ok"
    lefts = [o["days_left"] for o in doc["offices"]]
    assert lefts == sorted(lefts)
    assert doc["total"]["stock"] == sum(s.balances.get("stock", 0) for s in gen.streams)
    assert doc["offices"][0]["runs_out"] <= doc["offices"][-1]["runs_out"]


def test_filters_by_region_and_office(fleet: tuple[Postgres, Generated]) -> None:
    pg, _ = fleet
    doc = json.loads(report(pg, "--json", "--region", "Provinsi 1"))
    assert {o["office"] for o in doc["offices"]} == {"Disdukcapil 01", "Disdukcapil 04",
                                                     "Disdukcapil 07"}
    one = json.loads(report(pg, "--json", "--office", "Disdukcapil 04"))
    assert [o["office"] for o in one["offices"]] == ["Disdukcapil 04"]
    assert one["total"]["stock"] == one["offices"][0]["stock"]


def test_allocation_by_need(fleet: tuple[Postgres, Generated]) -> None:
    pg, _ = fleet
    doc = json.loads(report(pg, "--json", "--allocate", "20000", "--lot", "500"))
    a = doc["allocation"]
    given = [o["allocation"]["blanks"] for o in doc["offices"]]
    assert sum(given) == a["allocated"] <= 20_000
    assert all(g % 500 == 0 for g in given)
    assert a["lowest_days_after"] >= a["lowest_days_before"]
    # The office that runs out first gets a share; one beyond the horizon none.
    assert given[0] > 0
    for o in doc["offices"]:
        if o["days_left"] is not None and o["days_left"] >= 30:
            assert o["allocation"]["blanks"] == 0
    more = json.loads(report(pg, "--json", "--allocate", "40000"))
    assert all(m["allocation"]["days_after"] >= o["allocation"]["days_after"] for m, o in zip(
        sorted(more["offices"], key=lambda x: x["office"]),
        sorted(doc["offices"], key=lambda x: x["office"]), strict=True))
    text = report(pg, "--allocate", "20000", "--lang", "en")
    assert "Allocation" in text and "Give" in text


def test_csv_and_text(fleet: tuple[Postgres, Generated]) -> None:
    pg, _ = fleet
    rows = list(csv.DictReader(io.StringIO(report(pg, "--format", "csv"))))
    assert rows[-1]["region"] == "TOTAL" and len(rows) == 10
    assert sum(int(r["stock"]) for r in rows[:-1]) == int(rows[-1]["stock"])
    text = report(pg)
    assert "Tampilan nasional" in text or "National view" in text
    assert "Disdukcapil 00" in text


def test_bad_input_is_one_line(postgres: Postgres) -> None:
    res = run_cli("central", "report", "--db", "mysql://x/y")
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1 and "postgresql://" in res.err
    res = run_cli("central", "report", "--db", postgres.url, "--allocate", "-5")
    assert res.code == 2 and "--allocate" in res.err
    res = run_cli("central", "report", "--db", postgres.url)
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1
    assert "no central ledger yet" in res.err and "central run" in res.err


def test_html_is_one_page_rendered_by_chromium(fleet: tuple[Postgres, Generated],
                                               tmp_path: Path) -> None:
    pg, _ = fleet
    page = report(pg, "--format", "html", "--allocate", "10000")
    assert "<script" not in page and "http://" not in page and "https://" not in page
    html = tmp_path / "national.html"
    html.write_text(page, encoding="utf-8")
    dom = headless(html, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    # The browser's own DOM: a header row, 9 offices, the total.
    table = dom.stdout.split('id="offices"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr") == 11
    pdf = tmp_path / "national.pdf"
    res = headless(html, tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert res.returncode == 0 and pdf.read_bytes().startswith(b"%PDF"), res.stderr[-2000:]
