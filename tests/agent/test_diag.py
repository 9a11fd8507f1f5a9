"""``station-agent diag`` against a real station: printers of both families on ptys,
a card on pcscd+vpcd, the central-server simulator and mosquitto; the daemon as a
subprocess. The JSON contract, faults injected on the devices, the daemon down
(devices opened directly), a broken config and a printer that never answers."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.cards import SimCard, VpcdSlot
from simulators.cards.pcscd import READER_NAMES, Pcscd
from simulators.mosquitto import Mosquitto
from tests.conftest import run_cli
from tests.helpers.silent import SilentServer

CONTRACT = {"name", "status", "detail", "hint"}
EXPECTED = ["config", "state_dir", "ledger", "clock", "daemon", "faults", "stock",
            "printer:evolis-1", "printer:evolis-1:state", "printer:evolis-1:supplies",
            "printer:evolis-1:counters", "printer:magicard-1", "printer:magicard-1:state",
            "printer:magicard-1:supplies", "printer:magicard-1:counters", "pcsc",
            "reader:encoder-1", "network:link", "network:dns", "network:connect",
            "network:http", "uplink", "uplink:backlog"]


def _config(evolis: str, magicard: str, server: str, broker: str) -> str:
    return f"""
[[printer]]
id = "evolis-1"
url = "serial://{evolis}"
family = "evolis"
poll_interval = 0.2

[[printer]]
id = "magicard-1"
url = "serial://{magicard}"
family = "magicard"
poll_interval = 0.2

[[reader]]
id = "encoder-1"
url = "pcsc://{READER_NAMES[0]}"
printer = "evolis-1"

[network]
probe_url = "{server}"
interval = 0.5
timeout = 1
slow_ms = 800

[uplink]
mqtt_url = "{broker}"
reconnect_max = 1

[stock]
low_threshold = 50
"""


def _diag(config: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    res = run_cli("--config", str(config), "diag", "--json", *extra)
    assert res.err == "", res.err
    doc = json.loads(res.out)
    return res.code, doc


def _assert_contract(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert isinstance(doc["ok"], bool)
    for c in doc["checks"]:
        assert set(c) >= CONTRACT, c
        assert c["status"] in ("pass", "warn", "fail")
        assert isinstance(c["detail"], str) and c["detail"]
        assert (c["hint"] != "") == (c["status"] != "pass"), c
    assert doc["ok"] == all(c["status"] != "fail" for c in doc["checks"])
    return {c["name"]: c for c in doc["checks"]}


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    root = tempfile.TemporaryDirectory(prefix="sa-mq-")
    mq = Mosquitto(Path(root.name)).start()
    yield mq
    mq.stop()
    root.cleanup()


def test_diag_on_a_running_station_then_faults_then_daemon_down(
        daemons: Any, sims: Any, running_pcscd: Pcscd, broker: Mosquitto) -> None:
    evolis = sims("printer", "--family", "evolis", "--pty", "--control")
    magicard = sims("printer", "--family", "magicard", "--pty", "--control")
    server = sims("server")
    slot = VpcdSlot(port=running_pcscd.port).start()
    slot.insert(SimCard("ektp", seed=3))
    try:
        d = daemons(_config(evolis.where, magicard.where, f"{server.where}", broker.url))
        d.start()
        d.call("receive", batch_id="B1", count=200)
        for i in range(4):
            out = d.call("issue", job_id=f"j{i}", printer=("evolis-1", "magicard-1")[i % 2])
            assert out["outcome"] == "complete", out
        deadline = time.monotonic() + 20
        while not d.call("status")["uplink"]["connected"]:
            assert time.monotonic() < deadline, d.call("status")["uplink"]
            time.sleep(0.2)

        code, doc = _diag(d.config)
        checks = _assert_contract(doc)
        assert [c["name"] for c in doc["checks"]] == EXPECTED
        assert code == 0 and doc["ok"], [c for c in doc["checks"] if c["status"] != "pass"]
        assert "running" in checks["daemon"]["detail"]
        assert "equals the ledger" in checks["printer:evolis-1:counters"]["detail"]
        assert "equals the ledger" in checks["printer:magicard-1:counters"]["detail"]
        assert "Rio Pro" in checks["printer:magicard-1"]["detail"]
        assert "chip OK" in checks["reader:encoder-1"]["detail"]
        assert "connected" in checks["uplink"]["detail"]
        assert " ms)" in checks["network:http"]["detail"]

        # Faults on the devices and the server: diag fails and names each one.
        assert evolis.send("jam").startswith("ok")
        assert magicard.send("ribbon-out").startswith("ok")
        assert server.send("refuse") == "mode refuse"
        code, doc = _diag(d.config)
        checks = _assert_contract(doc)
        assert code == 1 and not doc["ok"]
        assert checks["printer:evolis-1:state"]["status"] == "fail"
        assert "card_jam" in checks["printer:evolis-1:state"]["detail"]
        assert "printer clear --printer evolis-1" in checks["printer:evolis-1:state"]["hint"]
        assert checks["printer:magicard-1:supplies"]["status"] == "fail"
        assert checks["network:connect"]["status"] == "fail"
        assert checks["network:http"]["status"] == "warn"   # not tried

        text = run_cli("--config", str(d.config), "diag")
        assert text.code == 1
        assert "FAIL  printer:evolis-1:state" in text.out
        assert "-> open the printer, remove the jammed card" in text.out

        # The daemon down: printers opened directly over their ptys, the broker
        # asked for a session of its own.
        assert evolis.send("resolve-jam").startswith("ok")
        assert magicard.send("refill 0 500").startswith("ok")
        assert server.send("ok") == "mode ok"
        for source, fault in (("evolis-1", "card_jam"), ("magicard-1", "ribbon_out"),
                              ("network", "server_unreachable")):
            d.wait_fault(source, fault, present=False)
        assert d.stop() == 0
        code, doc = _diag(d.config)
        checks = _assert_contract(doc)
        assert checks["daemon"]["status"] == "warn"
        assert "equals the ledger" in checks["printer:evolis-1:counters"]["detail"]
        assert "accepts this station's login" in checks["uplink"]["detail"]
        assert checks["printer:evolis-1:state"]["status"] == "pass"
        assert code == 0, [c for c in doc["checks"] if c["status"] == "fail"]
    finally:
        slot.stop()


def test_diag_reports_a_broken_config_as_a_failed_check(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text('[station]\nid = "s1"\ncolour = "blue"\n')
    code, doc = _diag(config, "--timeout", "5")
    checks = _assert_contract(doc)
    assert code == 1
    assert checks["config"]["status"] == "fail" and "colour" in checks["config"]["detail"]
    assert "--check-config" in checks["config"]["hint"]


def test_a_printer_that_never_answers_fails_within_its_timeout(tmp_path: Path) -> None:
    """A TCP peer that accepts and stays silent: diag still ends, naming the printer."""
    config = tmp_path / "station.toml"
    with SilentServer() as silent:
        config.write_text(f'[station]\nid = "s1"\nstate_dir = "{tmp_path / "state"}"\n\n'
                          f'[[printer]]\nid = "p1"\nurl = "socket://127.0.0.1:{silent.port}"\n'
                          'family = "evolis"\n')
        code, doc = _diag(config, "--timeout", "2")
    port = silent.port
    checks = _assert_contract(doc)
    assert code == 1
    assert checks["printer:p1"]["status"] == "fail"
    assert f"127.0.0.1:{port}" in checks["printer:p1"]["detail"] or \
        "no result within 2 s" in checks["printer:p1"]["detail"]
