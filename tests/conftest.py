"""Shared fixtures: a fresh state directory per test and a CLI runner."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulators import processes
from simulators.cards import VpcdSlot
from simulators.cards.pcscd import Pcscd, unavailable
from station_agent.ledger import Ledger

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """An empty state directory under the test's tmp dir."""
    d = tmp_path / "state"
    d.mkdir()
    return d


@pytest.fixture
def ledger(state_dir: Path) -> Iterator[Ledger]:
    """A new ledger in ``state_dir``, closed after the test."""
    with Ledger(state_dir) as led:
        yield led


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: no inherited station-agent settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_AGENT_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
    """Run ``station-agent ARGS`` as a separate process, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "station_agent", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else cli_env(), cwd=REPO)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def spawn(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start a long-running process (a simulator) with piped text output."""
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env if env is not None else cli_env(), cwd=REPO)


def first_line(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    """The first stdout line of ``proc`` (where a simulator says to connect)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"{proc.args!r} printed nothing in {timeout} s"
    return proc.stdout.readline().strip()


def terminate(proc: subprocess.Popen[str]) -> str:
    """SIGTERM ``proc`` (SIGKILL if it does not stop in 10 s); returns its stderr."""
    return str(processes.terminate(proc) or "")


@pytest.fixture
def cli(state_dir: Path):  # type: ignore[no-untyped-def]
    """``cli("blanks", "--json")`` runs the CLI on the test's state directory."""
    def _run(*args: str, **kw: object) -> CliResult:
        return run_cli("--state-dir", str(state_dir), *args, **kw)  # type: ignore[arg-type]
    return _run


# --- a real pcscd with the vpcd driver, and card slots ---------------------------
# One pcscd per test session (pcscd's client socket is fixed, so only one can
# run on a machine), on free ports, stopped at the end. The tests skip only when
# pcscd or vpcd cannot be installed here; under CI (``CI=true``) they fail
# instead, because CI installs both.


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    why = unavailable()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PC/SC tests cannot run: {why}")
        pytest.skip(f"PC/SC tests need a private pcscd with vpcd: {why}")
    daemon = Pcscd().start()
    yield daemon
    daemon.close()


def free_pcscd(request: pytest.FixtureRequest) -> bool:
    """Stop the session's pcscd (only one can run per machine) so that a program
    under test (the demo, a campaign) can start its own; False when pcscd/vpcd are
    not installed here (outside CI). Tests that need it again restart it
    (``running_pcscd``)."""
    try:
        session_pcscd = request.getfixturevalue("pcscd")
    except pytest.skip.Exception:
        return False
    session_pcscd.stop()
    return unavailable() is None


@pytest.fixture
def running_pcscd(pcscd: Pcscd) -> Pcscd:
    """The session pcscd, restarted first if a previous test stopped it."""
    if pcscd.proc is None or pcscd.proc.poll() is not None:
        pcscd.kill()
        pcscd.start()
    return pcscd


@pytest.fixture
def slots(running_pcscd: Pcscd) -> Iterator[tuple[VpcdSlot, VpcdSlot]]:
    """The two vpcd slots ("Virtual PCD 00 00" and "... 00 01"), empty, stopped after."""
    a = VpcdSlot(port=running_pcscd.port).start()
    b = VpcdSlot(port=running_pcscd.port + 1).start()
    yield a, b
    a.stop()
    b.stop()
