"""``station-agent demo``: the whole station on simulators, reconciled against their
ground truth; the live display on a terminal; the report it leaves behind."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env, free_pcscd, run_cli


@pytest.fixture(scope="module")
def demo_day(tmp_path_factory: pytest.TempPathFactory,
             request: pytest.FixtureRequest) -> tuple[Path, str, bool]:
    """One demo day (non-tty: plain progress lines), its state kept; with PC/SC
    when pcscd and vpcd are installed (always under CI)."""
    with_pcsc = free_pcscd(request)
    # CUPS' backend (as lp) must reach the journal in the state dir: not under
    # pytest's private (0700) tmp dir.
    base = Path(tempfile.mkdtemp(prefix="station-demo-test-"))
    os.chmod(base, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    state = base / "state"
    r = run_cli("--state-dir", str(state), "demo", "--seed", "7", "--jobs", "120", timeout=180)
    assert r.code == 0, r.out[-3000:] + r.err[-2000:]
    return state, r.out, with_pcsc


def test_demo_reconciles_with_the_simulators(demo_day: tuple[Path, str, bool]) -> None:
    state, out, with_pcsc = demo_day
    if with_pcsc:   # the chips were read through pcscd + vpcd, like a real reader's
        assert "chips: PC/SC: a private pcscd with the vpcd virtual reader" in out
    else:
        assert "chips: in-process reader (no pcscd: " in out
    assert "ledger equals the simulators' ground truth" in out
    assert "ledger verify: OK" in out
    # The injected events happened and were reported.
    assert "card_jam" in out and "ribbon_out" in out and "central server goes down" in out
    assert "-> balanced" in out
    # A ribbon change: recorded by the office, the old ribbon's yield shown.
    assert "magicard-1: new ribbon recorded; the old one printed" in out
    assert "supplies and yields:" in out and "ribbon-ymcko (ribbon, rated 500 cards)" in out
    assert "BELOW RATING" in out and "(counter)" in out
    html = Path(out.split("HTML report: ")[1].split()[0])
    assert html.is_file() and html.read_text().startswith("<!DOCTYPE html>")
    # Plain progress lines (stdout is not a terminal): no screen control codes.
    assert "\x1b[" not in out and "issued" in out
    v = run_cli("--state-dir", str(state), "ledger", "verify", "--json")
    assert v.code == 0 and json.loads(v.out)["ok"] is True
    # The office day ran on the office's clock: 07:30-16:00 WITA, in a minute or so.
    assert "07:30-16:00 WITA" in out and "Cards issued per hour: 07h" in out


def test_part_of_the_day_prints_through_cupsd(demo_day: tuple[Path, str, bool]) -> None:
    from simulators.cupsd import unavailable

    state, out, _pcsc = demo_day
    if unavailable() is not None:
        assert "spooler: not shown (" in out
        return
    assert "queue ektp wrapped by the station backend" in out
    jobs = json.loads(run_cli("--state-dir", str(state), "jobs", "--json").out)["jobs"]
    spooled = [j for j in jobs if j["source"] == "spooler"]
    assert len(spooled) == 40 and all(j["counter_verified"] for j in spooled)
    assert {j["source"] for j in jobs} == {"spooler", "driven"}
    # The issuing application named each job after a citizen: nothing of it is kept.
    from simulators.station.demo import SPOOL_TITLE

    for path in state.rglob("*"):
        if path.is_file() and "cups" not in path.parts and path.name != "station.toml":
            data = path.read_bytes()
            assert b"Siti" not in data and SPOOL_TITLE.split()[-1].encode() not in data, path


def test_blanks_and_faults_json_after_the_day(demo_day: tuple[Path, str, bool]) -> None:
    state, _out, _pcsc = demo_day
    b = json.loads(run_cli("--state-dir", str(state), "blanks", "--json").out)
    for key in ("stock", "in_printer", "issued", "spoiled_held", "spoiled_disposed", "lost",
                "received", "adjusted"):
        assert isinstance(b[key], int), key
    assert b["received"] == b["stock"] + b["in_printer"] + b["issued"] + b["spoiled_held"] \
        + b["spoiled_disposed"] + b["lost"] - b["adjusted"]
    assert b["issued"] > 100
    f = json.loads(run_cli("--state-dir", str(state), "faults", "--json", "--history").out
                   )["history"]                # the API's document: active and history
    codes = {x["code"] for x in f}
    assert {"card_jam", "ribbon_out", "server_unreachable"} <= codes
    assert all(x["cleared_at"] for x in f if x["code"] in ("card_jam", "ribbon_out"))
    st = json.loads(run_cli("--state-dir", str(state), "status", "--json").out)
    assert st["balances"]["issued"] == b["issued"] and st["daemon"]["running"] is False
    for key in ("station_id", "daemon", "balances", "stock", "devices", "faults", "network",
                "uplink"):
        assert key in st, key
    assert st["station_id"] == "demo-kupang-01"
    assert st["stock"]["stock"] == b["stock"] and st["uplink"]["backlog"] == 0


def test_diag_json_after_the_day(demo_day: tuple[Path, str, bool]) -> None:
    """The demo's state with no config: the state checks run on its real ledger."""
    state, _out, _pcsc = demo_day
    r = run_cli("--state-dir", str(state), "diag", "--json")
    doc = json.loads(r.out)
    checks = {c["name"]: c for c in doc["checks"]}
    assert all(set(c) >= {"name", "status", "detail", "hint"} for c in doc["checks"])
    assert r.code == (0 if doc["ok"] else 1)
    assert checks["ledger"]["status"] == "pass"
    entries = json.loads(run_cli("--state-dir", str(state), "ledger", "verify", "--json").out)
    assert f"{entries['entries']:,} entries" in checks["ledger"]["detail"]
    assert checks["config"]["status"] == "warn"     # the demo leaves no station.toml
    assert checks["state_dir"]["status"] == "pass" and checks["clock"]["status"] == "pass"
    assert checks["stock"]["detail"].startswith(f"{_stock_of(state):,} blanks in stock")


def _day(out: str) -> str:
    """The office day the demo simulated (its report's file name says it)."""
    return out.split("HTML report: ")[1].split()[0].rsplit("report-", 1)[1][:10]


def _stock_of(state: Path) -> int:
    return int(json.loads(run_cli("--state-dir", str(state), "blanks", "--json").out)["stock"])


def test_report_csv_and_json_follow_the_contract(demo_day: tuple[Path, str, bool]) -> None:
    state, _out, _pcsc = demo_day
    r = run_cli("--state-dir", str(state), "report", "--date", _day(_out), "--format", "csv")
    assert r.code == 0, r.err
    rows = list(csv.reader(io.StringIO(r.out)))
    assert rows[0] == ["section", "item", "value"]
    got = {(s, i): v for s, i, v in rows[1:]}
    b = json.loads(run_cli("--state-dir", str(state), "blanks", "--json").out)
    for account in ("stock", "in_printer", "issued", "spoiled_held", "spoiled_disposed", "lost"):
        assert int(got[("closing", account)]) == b[account]
        assert int(got[("opening", account)]) == 0        # the demo's ledger began today
    assert int(got[("moved", "received")]) == b["received"]
    assert int(got[("moved", "picked")]) == b["picked"]
    assert got[("identity", "stock_balanced")] == "true"
    assert sum(int(got[("per_hour", f"{h:02d}")]) for h in range(24)) == b["issued"]
    assert float(got[("network", "down_minutes")]) > 0
    doc = json.loads(run_cli("--state-dir", str(state), "report", "--date", _day(_out),
                              "--json").out)
    assert doc["closing"]["issued"] == b["issued"] and doc["stock_identity_ok"] is True
    assert doc["forecast"]["request_quantity"] >= 0 and len(doc["history"]) == 14
    assert any(f["code"] == "server_unreachable" for f in doc["faults"])


def test_report_html_is_self_contained_and_speaks_indonesian(demo_day: tuple[Path, str, bool],
                                                            tmp_path: Path) -> None:
    state, _out, _pcsc = demo_day
    out = tmp_path / "ba.html"
    r = run_cli("--state-dir", str(state), "report", "--date", _day(_out), "--format", "html",
                "--lang", "id",
                "--output", str(out))
    assert r.code == 0, r.err
    page = out.read_text()
    assert "Berita acara rekonsiliasi blangko" in page and "seimbang" in page
    assert "<svg" in page and "<style>" in page
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    text = run_cli("--state-dir", str(state), "report", "--date", _day(_out), "--lang",
                   "id").out
    assert "Stok (blangko)" in text and "Persamaan stok" in text
    bad = run_cli("--state-dir", str(state), "report", "--date", "24-11-2026")
    assert bad.code == 2 and "expected YYYY-MM-DD" in bad.err


def _chromium() -> str:
    found = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                  if shutil.which(n)), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: ./scripts/dev test installs it")
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return found


def _render(chrome: str, page: Path, png: Path) -> list[str]:
    """Render ``page`` in headless Chromium (A4 at 150 dpi, no network) to ``png``;
    return the page's console messages."""
    res = subprocess.run(
        [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", f"--user-data-dir={png.parent / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--window-size=1240,1754", f"--screenshot={png}", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and png.is_file(), res.stderr[-2000:]
    return [line for line in res.stderr.splitlines()
            if ":CONSOLE" in line or "Uncaught" in line]


def _png_size(png: Path) -> tuple[int, int]:
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_report_html_renders_in_headless_chromium(demo_day: tuple[Path, str, bool],
                                                  tmp_path: Path) -> None:
    """The day's HTML report renders to a PNG with no console message; a page that
    logs an error proves the capture works, a blank page is the size baseline."""
    chrome = _chromium()
    state, _out, _pcsc = demo_day
    report = tmp_path / "report.html"
    assert run_cli("--state-dir", str(state), "report", "--date", _day(_out), "--format", "html",
                   "--output", str(report)).code == 0
    probe = tmp_path / "probe.html"
    probe.write_text('<!DOCTYPE html><p>x</p><script>console.error("probe-7f3")</script>')
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    shots = {name: tmp_path / name / "shot.png" for name in ("report", "probe", "blank")}
    for png in shots.values():
        png.parent.mkdir()
    assert any("probe-7f3" in line for line in _render(chrome, probe, shots["probe"]))
    _render(chrome, blank, shots["blank"])
    console = _render(chrome, report, shots["report"])
    assert console == [], console
    assert _png_size(shots["report"]) == (1240, 1754)
    # Text, tables and the chart make the PNG far larger than a blank page's.
    assert shots["report"].stat().st_size > 5 * shots["blank"].stat().st_size


def test_live_display_on_a_terminal(tmp_path: Path) -> None:
    """The demo on a real pseudo-terminal draws its live panel."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "station_agent", "--state-dir", str(tmp_path / "s"), "demo",
         "--jobs", "40", "--no-broker"], stdin=slave, stdout=slave, stderr=slave,
        env=cli_env(TERM="xterm"), cwd=REPO, close_fds=True)
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                screen += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(30) == 0, screen[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = screen.decode(errors="replace")
    assert "\x1b[2J" in text                       # redrawn in place
    for part in ("cards", "issued", "stock", "faults", "network", "uplink", "no broker"):
        assert part in text, part
    assert "ledger equals the simulators' ground truth" in text
