"""``diag``'s checks judged one by one, with in-process inputs (fast); the whole
command against real devices is in test_diag.py."""

from __future__ import annotations

import sqlite3
import threading
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from station_agent.diag import devices, links, local
from station_agent.diag.model import FAIL, PASS, WARN, Check, Diagnosis, passed
from station_agent.diag.runner import Group, run_groups
from station_agent.ledger import Ledger, model
from station_agent.ledger.store import ledger_path
from station_agent.network.probe import ProbeResult


def _facts(conditions: tuple[str, ...] = (), card_at: str | None = None, cards: int = 10,
           noted: int | None = 10, ribbon: int | None = 500) -> dict[str, Any]:
    return {"reachable": True, "error": None, "fault": None,
            "identity": {"family": "evolis", "model": "Primacy", "serial": "EV1",
                         "firmware": "1.0"},
            "status": {"conditions": list(conditions), "card_at": card_at, "busy": False,
                       "raw": "x"},
            "counters": {"cards": cards, "panels": None, "cleanings": None,
                         "ribbon_remaining": ribbon},
            "noted_counter": noted}


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


# --- the runner -------------------------------------------------------------------

def test_a_hanging_group_fails_at_its_own_timeout_and_the_others_still_report() -> None:
    never = threading.Event()
    checks = run_groups([
        Group("first", lambda: [passed("first", "fine")], 5),
        Group("hangs", lambda: [passed("hangs", "never")] if never.wait(30) else [], 0.2,
              "unplug it"),
        Group("crashes", lambda: [1 / 0], 5),  # type: ignore[list-item]
        Group("last", lambda: [passed("last", "fine")], 5),
    ])
    never.set()
    assert [c.name for c in checks] == ["first", "hangs", "crashes", "last"]
    hung = checks[1]
    assert (hung.status, hung.detail, hung.hint) == (FAIL, "no result within 0.2 s", "unplug it")
    assert checks[2].status == FAIL and "ZeroDivisionError" in checks[2].detail
    assert checks[0].status == checks[3].status == PASS
    assert checks[0].ms is not None


def test_check_status_is_one_of_three_and_ok_means_no_failure() -> None:
    with pytest.raises(ValueError, match="pass, warn, fail"):
        Check("x", "ok", "")
    mixed = Diagnosis((Check("a", PASS, ""), Check("b", WARN, "", "h")), None, None, 1.0)
    assert mixed.ok and mixed.as_dict()["summary"] == {"pass": 1, "warn": 1, "fail": 0}
    assert not Diagnosis((Check("a", FAIL, "", "h"),), None, None, 1.0).ok


# --- printers ------------------------------------------------------------------------

@pytest.mark.parametrize(("facts", "name", "status", "words"), [
    (_facts(), "printer:p1:state", PASS, "ready"),
    (_facts(("card_jam",)), "printer:p1:state", FAIL, "card_jam"),
    (_facts(card_at="print"), "printer:p1:state", WARN, "a card is inside"),
    (_facts(("ribbon_out",)), "printer:p1:supplies", FAIL, "ribbon out"),
    (_facts(("feeder_empty",)), "printer:p1:supplies", FAIL, "feeder empty"),
    (_facts(ribbon=40), "printer:p1:supplies", WARN, "40 panels left"),
    (_facts(cards=10, noted=10), "printer:p1:counters", PASS, "equals"),
    (_facts(cards=13, noted=10), "printer:p1:counters", WARN, "3 ahead"),
    (_facts(cards=2, noted=10), "printer:p1:counters", FAIL, "behind"),
    (_facts(noted=None), "printer:p1:counters", PASS, "no pick"),
])
def test_printer_checks_from_facts(facts: dict[str, Any], name: str, status: str,
                                   words: str) -> None:
    checks = _by_name(devices.printer_checks("p1", "serial:///dev/ttyS0", facts))
    assert checks["printer:p1"].status == PASS
    assert checks[name].status == status, checks[name]
    assert words in checks[name].detail
    assert (checks[name].hint != "") == (status != PASS)


def test_a_jam_and_a_ribbon_out_are_reported_separately() -> None:
    checks = _by_name(devices.printer_checks("p1", "u", _facts(("card_jam", "ribbon_out"))))
    assert checks["printer:p1:state"].status == FAIL
    assert "ribbon_out" not in checks["printer:p1:state"].detail
    assert "printer clear --printer p1" in checks["printer:p1:state"].hint
    assert checks["printer:p1:supplies"].status == FAIL


def test_an_unreachable_printer_is_one_failed_check_with_the_fix() -> None:
    facts = {"identity": None, "error": "no answer within 1 s", "fault": "printer_offline"}
    [check] = devices.printer_checks("p1", "socket://10.0.0.9:9100", facts)
    assert check.status == FAIL and "socket://10.0.0.9:9100" in check.detail
    assert "power and cable" in check.hint
    facts["fault"] = "printer_protocol_error"
    [check] = devices.printer_checks("p1", "u", facts)
    assert "baudrate" in check.hint


# --- the machine ----------------------------------------------------------------------

def _ledger_with_entries(state: Path) -> None:
    with Ledger(state) as ledger:
        ledger.record(model.receive("B1", 100))
        ledger.record(model.pick("j1", device="p1"))


def test_clock_before_the_last_entry_or_never_set_fails(tmp_path: Path) -> None:
    _ledger_with_entries(tmp_path)
    now = datetime.now(UTC)
    assert local.clock_check(tmp_path, now).status == PASS
    late = local.clock_check(tmp_path, now - timedelta(hours=2))
    assert late.status == FAIL and "behind the last ledger entry" in late.detail
    assert "timedatectl" in late.hint
    assert local.clock_check(tmp_path, datetime(1970, 1, 1, tzinfo=UTC)).status == FAIL


def test_ledger_check_passes_then_fails_after_tampering(tmp_path: Path) -> None:
    _ledger_with_entries(tmp_path)
    ok = local.ledger_check(tmp_path)
    assert ok.status == PASS and "2 entries" in ok.detail
    conn = sqlite3.connect(ledger_path(tmp_path), isolation_level=None)
    conn.execute("DROP TRIGGER entries_no_update")   # what a tamperer would do
    conn.execute("UPDATE entries SET count = 99 WHERE seq = 1")
    conn.close()
    broken = local.ledger_check(tmp_path)
    assert broken.status == FAIL and "entry 1" in broken.detail
    assert local.ledger_check(tmp_path / "none").status == WARN


Usage = namedtuple("Usage", "total used free")


def test_state_dir_free_space_thresholds(tmp_path: Path, mocker: Any) -> None:
    assert local.state_dir_check(tmp_path).status == PASS
    mib = 2**20
    mocker.patch("station_agent.diag.local.shutil.disk_usage",
                 return_value=Usage(1000 * mib, 900 * mib, 100 * mib))
    assert local.state_dir_check(tmp_path).status == WARN
    mocker.patch("station_agent.diag.local.shutil.disk_usage",
                 return_value=Usage(1000 * mib, 995 * mib, 5 * mib))
    full = local.state_dir_check(tmp_path)
    assert full.status == FAIL and "5 MiB free" in full.detail
    missing = local.state_dir_check(tmp_path / "nope")
    assert missing.status == FAIL and "does not exist" in missing.detail


def test_faults_and_stock_checks() -> None:
    assert local.faults_check([]).status == PASS
    warn = {"source": "network", "code": "server_slow", "severity": "warning"}
    err = {"source": "p1", "code": "card_jam", "severity": "error"}
    assert local.faults_check([warn]).status == WARN
    both = local.faults_check([warn, err])
    assert both.status == FAIL and "p1:card_jam" in both.detail and "jammed" in both.hint
    assert local.stock_check({"stock": 0}, 100).status == FAIL
    assert local.stock_check({"stock": 80, "days_left": 30.0, "rate_per_day": 2}, 100).status \
        == WARN
    assert local.stock_check({"stock": 900, "days_left": 3.0, "rate_per_day": 300}, 100).status \
        == WARN
    assert local.stock_check({"stock": 900, "days_left": 30.0, "rate_per_day": 30}, 100).status \
        == PASS


# --- links -------------------------------------------------------------------------------

def test_a_failed_phase_fails_and_the_later_ones_are_not_tried() -> None:
    r = ProbeResult("https://server.example/health", 0.0, failed="dns",
                    detail="server.example does not resolve", ms={"link": 0.1})
    checks = _by_name(links.phase_checks(r, True, "server.example", 443))
    assert checks["network:link"].status == PASS
    assert checks["network:dns"].status == FAIL and "DNS" in checks["network:dns"].hint
    assert [checks[f"network:{p}"].status for p in ("connect", "tls", "http")] == [WARN] * 3


def test_every_phase_has_its_latency_and_slow_warns() -> None:
    r = ProbeResult("http://s/h", 0.0, status=200, slow=True, detail="first byte after 900 ms",
                    ms={"link": 0.1, "dns": 1.5, "connect": 2.25, "http": 900.0})
    checks = links.phase_checks(r, False, "s", 80)
    assert [c.name for c in checks] == ["network:link", "network:dns", "network:connect",
                                        "network:http"]
    assert "(2.2 ms)" in checks[2].detail or "(2.3 ms)" in checks[2].detail
    assert checks[3].status == WARN and "900 ms" in checks[3].detail


UplinkCfg = namedtuple("UplinkCfg", "mqtt_url cafile username password_file")


def test_uplink_backlog_age() -> None:
    cfg = UplinkCfg("mqtt://central:1883", None, None, None)
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    up = {"connected": True, "sent": 5}
    fresh = {"backlog": 3, "oldest_unsent": "2026-11-24T11:58:00Z"}
    old = {"backlog": 3000, "oldest_unsent": "2026-11-24T09:00:00Z"}
    c = _by_name(links.uplink_checks(cfg, "s1", fresh, up, 1.0, now))
    assert c["uplink"].status == PASS and c["uplink:backlog"].status == PASS
    c = _by_name(links.uplink_checks(cfg, "s1", old, {"connected": False, "state":
                                                     "connecting", "error": "refused"}, 1.0, now))
    assert c["uplink"].status == FAIL and "refused" in c["uplink"].detail
    assert c["uplink:backlog"].status == WARN and "3.0 h old" in c["uplink:backlog"].detail
    none = links.uplink_checks(UplinkCfg(None, None, None, None), "s1", fresh, None, 1.0, now)
    assert [x.status for x in none] == [WARN]
