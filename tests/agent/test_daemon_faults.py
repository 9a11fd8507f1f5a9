"""The daemon as a subprocess with a simulated printer on a pty, a simulated card
on pcscd+vpcd and the central-server simulator: each injected fault and each server
mode shows in `faults --json` within the hysteresis window, names the right phase,
and clears after."""

from __future__ import annotations

import time
from typing import Any

import pytest

from simulators.cards import SimCard, VpcdSlot
from simulators.cards.pcscd import READER_NAMES, Pcscd

PRINTER_FAULTS = [
    # (command that injects, fault code, command that repairs)
    ("cover-open", "cover_open", "cover-close"),
    ("overheat", "head_overheat", "cool"),
    ("ribbon-out", "ribbon_out", "refill 0 500"),
    ("feeder-empty", "feeder_empty", "refill 50"),
    ("reject-full", "reject_box_full", "empty-reject"),
    ("jam", "card_jam", "resolve-jam"),
    ("vanish 3", "printer_offline", None),
]

SERVER_MODES = [
    # (mode, fault code, phase named in the detail)
    ("slow", "server_slow", "first byte after"),
    ("http500", "server_unreachable", "HTTP 500"),
    ("refuse", "server_unreachable", "cannot connect"),
    ("blackhole", "server_unreachable", "no answer"),
]


def _config(tty: str, server_url: str, reader: bool) -> str:
    body = f"""
[[printer]]
id = "evolis-1"
url = "serial://{tty}"
family = "evolis"
poll_interval = 0.2

[network]
probe_url = "{server_url}"
interval = 0.2
fail_after = 2
clear_after = 2
slow_ms = 300
timeout = 1

[faults]
raise_after = 2
clear_after = 2
"""
    if reader:
        body += f"""
[[reader]]
id = "encoder-1"
url = "pcsc://{READER_NAMES[0]}"
printer = "evolis-1"
"""
    return body


def _message(faults: list[dict[str, Any]], code: str) -> str:
    return next(f["message"] for f in faults if f["code"] == code)


def test_printer_faults_server_modes_and_reader_through_the_daemon(
        daemons: Any, sims: Any, running_pcscd: Pcscd) -> None:
    printer = sims("printer", "--family", "evolis", "--pty", "--control")
    server = sims("server", "--slow-ms", "600")
    slot = VpcdSlot(port=running_pcscd.port).start()
    slot.insert(SimCard("ektp", seed=1))
    try:
        d = daemons(_config(printer.where, server.where, reader=True)).start()
        d.call("receive", batch_id="B1", count=600)
        assert d.wait_fault("station", "stock_low", present=False) is not None

        for inject, code, repair in PRINTER_FAULTS:
            assert printer.send(inject).startswith("ok"), inject
            t0 = time.monotonic()
            faults = d.wait_fault("evolis-1", code)
            raised_in = time.monotonic() - t0
            assert all(f["severity"] in ("info", "warning", "error", "critical")
                       for f in faults)
            assert _message(faults, code), code
            if repair:
                assert printer.send(repair).startswith("ok"), repair
            d.wait_fault("evolis-1", code, present=False)
            assert raised_in < 15

        for mode, code, phase_words in SERVER_MODES:
            assert server.send(mode) == f"mode {mode}"
            faults = d.wait_fault("network", code)
            assert phase_words in _message(faults, code), (mode, faults)
            assert server.send("ok") == "mode ok"
            d.wait_fault("network", code, present=False)

        # The reader: pcscd goes away and comes back.
        running_pcscd.stop()
        d.wait_fault("encoder-1", "pcsc_service_down")
        running_pcscd.start()
        slot.insert(SimCard("ektp", seed=2))
        d.wait_fault("encoder-1", "pcsc_service_down", present=False)

        history = d.cli("faults", "--json", "--history")["history"]
        cleared = {(f["source"], f["code"]) for f in history if f["cleared_at"]}
        expected = {("evolis-1", c) for _i, c, _r in PRINTER_FAULTS} | {
            ("network", c) for _m, c, _p in SERVER_MODES} | {("encoder-1", "pcsc_service_down")}
        assert expected <= cleared
        outages = [f for f in history if f["source"] == "network"
                   and f["code"] == "server_unreachable"]
        assert len(outages) == 3
        assert d.stop() == 0
    finally:
        slot.stop()


def test_flapping_server_is_reported_as_flapping(daemons: Any, sims: Any) -> None:
    printer = sims("printer", "--family", "evolis", "--pty", "--control")
    server = sims("server", "--mode", "flapping")
    d = daemons(_config(printer.where, server.where, reader=False)).start()
    faults = d.wait_fault("network", "server_unreachable", timeout=30)
    deadline = time.monotonic() + 30
    while not any(f.get("flapping") for f in faults):
        assert time.monotonic() < deadline, faults
        time.sleep(0.5)
        faults = d.faults()
    history = d.cli("faults", "--json", "--history")["history"]
    raises = [f for f in history if f["code"] == "server_unreachable"]
    assert len(raises) <= 3, "flapping must not be a storm of raise/clear"


@pytest.mark.parametrize(("body", "message"), [
    ('[[printer]]\nid = "p"\nurl = "COM3"\n',
     'station.toml: [[printer]] #1 url: expected a device URL such as serial:///dev/ttyUSB0, '
     'got "COM3"'),
    ('[network]\nintervall = 5\n', "station.toml: [network]: unknown key 'intervall'"),
    ('[network]\nslow_ms = 5000\ntimeout = 2\n', "station.toml: [network] timeout: expected "
                                                  "more than slow_ms"),
    ('[faults]\nraise_after = 0\n', "station.toml: [faults] raise_after: expected a whole "
                                    "number between 1 and 1,000, got 0"),
    ('[[reader]]\nid = "r"\nurl = "pcsc://x"\nprinter = "nope"\n',
     'station.toml: [[reader]] #1 printer: expected the id of a [[printer]], got "nope"'),
    ("[station\n", "station.toml: not valid TOML"),
])
def test_config_errors_exit_2_with_their_message(daemons: Any, body: str, message: str) -> None:
    from tests.conftest import run_cli

    d = daemons("")
    text = d.config.read_text() + body if not body.startswith("[station") else body
    d.config.write_text(text)
    for args in (("run", "--check-config"), ("run",)):
        res = run_cli("--config", str(d.config), *args)
        assert res.code == 2, (args, res.err)
        assert message in res.err and res.err.count("\n") == 1, res.err
    assert not d.state.exists() or not (d.state / "ledger.db").exists()


def test_check_config_ok_and_second_daemon_refused(daemons: Any) -> None:
    from tests.conftest import run_cli

    d = daemons('[[printer]]\nid = "p1"\nurl = "sim://evolis"\n')
    res = run_cli("--config", str(d.config), "run", "--check-config")
    assert res.code == 0 and "OK: station test-01, 1 printer(s)" in res.out
    d.start()
    again = run_cli("--config", str(d.config), "run")
    assert again.code == 1
    assert "another station-agent daemon (pid " in again.err and "already running" in again.err
    assert d.call("ping")["pong"] is True      # the first one is unharmed
    assert d.stop() == 0
