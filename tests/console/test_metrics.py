"""``/metrics`` of a real daemon, checked by Prometheus' own ``promtool check
metrics`` and parsed: the values equal what the CLI says."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.console.conftest import ConsoleDaemon
from tests.helpers.tools import need_tool


def _promtool() -> str:
    return need_tool("promtool", "apt-get install prometheus")


def _samples(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_pass_promtool_and_match_the_ledger(console_daemon) -> None:  # type: ignore[no-untyped-def]
    promtool = _promtool()
    d: ConsoleDaemon = console_daemon(
        '\n[[printer]]\nid = "p1"\nurl = "sim://evolis?cards=30"\n'
        '\n[[printer]]\nid = "p2"\nurl = "sim://magicard?cards=0"\n'
        '\n[stock]\nlow_threshold = 5000\n'
        '\n[[supply]]\nkind = "ribbon-ymcko"\nrated_yield = 500\n')
    d.cli("blanks", "receive", "--batch", "B-1", "--count", "1200")
    d.cli("supplies", "receive", "--kind", "ribbon-ymcko", "--count", "4", "--batch", "R-1")
    d.cli("supplies", "install", "--kind", "ribbon-ymcko", "--printer", "p1")
    with d.client() as api:
        for i in range(3):
            api.call("issue", job_id=f"j{i}", printer="p1")
        api.call("void", job_id="j2", category="chip_failed")
        api.call("write_off", count=2, reason="water damage", idem_id="wo-1")
    d.wait_fault("station", "stock_low")
    d.wait_fault("p2", "feeder_empty")     # raised (and queued for the uplink) before the scrape
    reply = d.browser().get("/metrics")   # no login: a scraper reads it
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    check = subprocess.run([promtool, "check", "metrics"], input=reply.body, text=True,
                           capture_output=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    m = _samples(reply.body)
    blanks = d.cli("blanks", "--json")
    for account in ("stock", "in_printer", "issued", "spoiled_held", "spoiled_disposed",
                    "lost"):
        assert m[f'station_agent_blanks{{account="{account}"}}'] == blanks[account]
    assert m["station_agent_cards_issued_total"] == 3
    assert m['station_agent_cards_spoiled_total{category="chip_failed"}'] == 1
    assert m['station_agent_cards_spoiled_total{category="jam"}'] == 0
    assert m["station_agent_cards_lost_total"] == 2
    assert m['station_agent_faults_active{code="stock_low",severity="warning"}'] == 1
    assert m['station_agent_device_up{device="p1",kind="printer"}'] == 1
    # Each printer's state: what it reports (p2's feeder is empty), jobs stuck, ribbon left.
    devices = {x["id"]: x for x in d.cli("status", "--json")["devices"]}
    assert devices["p2"]["conditions"] == ["feeder_empty"]
    assert m['station_agent_printer_condition{device="p2",condition="feeder_empty"}'] == 1
    assert not any(k.startswith('station_agent_printer_condition{device="p1"') for k in m)
    assert m['station_agent_printer_stuck_jobs{device="p1"}'] == 0
    assert m['station_agent_printer_ribbon_left{device="p1"}'] == devices["p1"]["ribbon_left"]
    assert m['station_agent_supply_units{kind="ribbon-ymcko",account="stock"}'] == 3
    assert m['station_agent_supply_units{kind="ribbon-ymcko",account="installed"}'] == 1
    ribbon = d.cli("supplies", "--json")["kinds"][0]
    assert m['station_agent_supply_left_seconds{kind="ribbon-ymcko"}'] == pytest.approx(
        ribbon["days_left"] * 86400, rel=0.01)
    assert m["station_agent_uplink_backlog"] == d.cli("status", "--json")["uplink"]["backlog"]
    days = d.cli("status", "--json")["stock"]["days_left"]
    assert m["station_agent_stock_left_seconds"] == pytest.approx(days * 86400, rel=0.01)
    assert re.search(r'^station_agent_info\{version="[^"]+",station="test-01"\} 1$',
                     reply.body, re.M)
    # The counters only grow: a second scrape after another card.
    with d.client() as api:
        api.call("issue", job_id="j9", printer="p1")
    again = _samples(d.browser().get("/metrics").body)
    assert again["station_agent_cards_issued_total"] == 4
    assert again['station_agent_cards_spoiled_total{category="chip_failed"}'] == 1


def test_a_label_value_is_escaped() -> None:
    from datetime import UTC, datetime

    from station_agent.console.metrics import exposition

    status = {"station_id": 'a"b\\c\nd', "stock": {"days_left": None, "rate_per_day": 0.0,
                                                  "low_threshold": None},
              "faults": [], "uplink": {}, "network": {"probe_url": None}, "devices": []}
    balances = dict.fromkeys(("stock", "in_printer", "issued", "spoiled_held",
                              "spoiled_disposed", "lost", "received", "picked", "completed"),
                             0)
    text = exposition(status, balances, {}, version="1", now=datetime.now(UTC))
    assert 'station="a\\"b\\\\c\\nd"' in text
    assert "station_agent_stock_left_seconds" not in text   # unknown: left out, not invented
    promtool = shutil.which("promtool")
    if promtool:
        check = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                               capture_output=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
