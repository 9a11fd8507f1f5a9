"""``station-agent printer ...`` and ``station-agent sim printer`` as a user runs them:
separate processes, simulators on a real pty or TCP port."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.printers import Panel, PrinterError, open_printer
from simulators.printers import build_simulator
from simulators.printers.serve import PtyServer, TcpServer
from tests.conftest import first_line, run_cli, spawn, terminate


@pytest.fixture
def evolis_pty(tmp_path: Path) -> Iterator[PtyServer]:
    server = PtyServer(build_simulator("evolis", serial="EV-CLI-1"), link=tmp_path / "ev").start()
    yield server
    server.stop()


def _json(*args: str) -> dict[str, object]:
    res = run_cli(*args, "--json")
    assert res.code == 0, res.err
    doc: dict[str, object] = json.loads(res.out)
    return doc


def test_info_counters_status_over_a_pty(evolis_pty: PtyServer) -> None:
    url = evolis_pty.url
    info = _json("printer", "info", "--url", url, "--family", "evolis")
    assert info == {"url": url, "family": "evolis", "model": "Primacy", "serial": "EV-CLI-1",
                    "firmware": "1.7.21"}
    with open_printer(url, "evolis", timeout=1) as p:  # issue two cards first
        for _ in range(2):
            p.feed()
            p.print_panel(Panel("K", b"\x01"))
            p.eject()
    counters = _json("printer", "counters", "--url", url, "--family", "evolis")
    assert counters["cards"] == evolis_pty.model.truth.picked == 2
    assert counters["panels"] == 2
    status = _json("printer", "status", "--url", url, "--family", "evolis")
    assert status["ready"] is True and status["conditions"] == []


def test_status_shows_a_fault_and_clear_clears_it(evolis_pty: PtyServer) -> None:
    url = evolis_pty.url
    evolis_pty.model.operator_open_cover()
    res = run_cli("printer", "status", "--url", url, "--family", "evolis")
    assert res.code == 0, res.err
    assert "cover_open" in res.out and "False" in res.out
    evolis_pty.model.operator_close_cover()
    cleared = _json("printer", "clear", "--url", url, "--family", "evolis")
    assert cleared["cleared"] is True and cleared["ready"] is True


def test_magicard_over_tcp_and_printer_id_from_config(tmp_path: Path) -> None:
    with TcpServer(build_simulator("magicard", serial="MC-CLI-7")) as server:
        cfg = tmp_path / "station.toml"
        cfg.write_text(f'[station]\nid = "t-1"\n\n[[printer]]\nid = "mc-1"\n'
                       f'url = "{server.url}"\nfamily = "magicard"\n')
        info = _json("--config", str(cfg), "printer", "info", "--printer", "mc-1")
        assert (info["family"], info["serial"], info["model"]) == ("magicard", "MC-CLI-7",
                                                                   "Rio Pro")
        res = run_cli("--config", str(cfg), "printer", "info", "--printer", "nope")
        assert res.code == 2
        assert "no [[printer]] with id 'nope'" in res.err and "mc-1" in res.err


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--url", "COM3"], 2, "unsupported device URL 'COM3'"),
    (["--url", "socket://127.0.0.1:9"], 2, "cannot tell the protocol family"),
    (["--url", "serial:///dev/no-such-tty", "--family", "evolis"], 1, "printer_offline"),
    (["--url", "sim://evolis?garbage_rate=1"], 1, "printer_protocol_error"),
    (["--url", "sim://evolis", "--timeout", "0"], 2, "expected seconds"),
])
def test_errors_are_one_line_with_the_right_exit_code(args: list[str], code: int,
                                                       words: str) -> None:
    res = run_cli("printer", "info", *args)
    assert res.code == code
    assert words in res.err
    assert res.err.count("\n") == 1 and res.out == ""


def _start_sim(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = spawn([sys.executable, "-m", "station_agent", "sim", "printer", *args])
    return proc, first_line(proc)


def _stop_sim(proc: subprocess.Popen[str]) -> str:
    err = terminate(proc)
    assert proc.returncode == 0, err
    return err


def test_sim_printer_on_a_pty_prints_the_path_alone_on_its_line() -> None:
    proc, line = _start_sim("--family", "evolis", "--pty", "--cards", "3", "--serial", "S-1")
    try:
        assert line.startswith("/dev/pts/")
        info = _json("printer", "info", "--url", f"serial://{line}", "--family", "evolis")
        assert info["serial"] == "S-1"
    finally:
        err = _stop_sim(proc)
    assert "stopped: picked 0" in err


def test_sim_printer_on_tcp_with_a_fault_option() -> None:
    proc, url = _start_sim("--family", "magicard", "--tcp", "0", "--cover-open-at", "1")
    try:
        assert url.startswith("socket://127.0.0.1:")
        with open_printer(url, "magicard", timeout=1) as p:
            p.feed()
            with pytest.raises(PrinterError) as info:  # the cover opens while printing
                p.print_panel(Panel("K", b"\x01"))
            assert info.value.code == "cover_open"
    finally:
        err = _stop_sim(proc)
    assert "stopped: picked 1" in err


def test_sim_printer_refuses_a_bad_fault_option() -> None:
    res = run_cli("sim", "printer", "--family", "evolis", "--pty", "--jam-at", "three")
    assert res.code == 2
    assert "jam_at='three'" in res.err and res.err.count("\n") == 1


@pytest.mark.parametrize("family", ["evolis", "magicard"])
def test_optional_counters_a_firmware_refuses_are_unknown_not_a_failure(family: str) -> None:
    server = TcpServer(build_simulator(family, minimal=1)).start()
    try:
        counters = _json("printer", "counters", "--url", server.url, "--family", family)
        assert counters["cards"] == 0
        assert counters["cleanings"] is None and counters["ribbon_remaining"] is None
        assert counters["panels"] == 0
        info = _json("printer", "info", "--url", server.url, "--family", family)
        assert info["family"] == family
    finally:
        server.stop()
