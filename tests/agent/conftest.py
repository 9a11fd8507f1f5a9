"""The daemon as a subprocess (``station-agent run``), simulators as subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.processes import terminate
from simulators.station.agent_process import AgentProcess
from station_agent.api.connection import ApiClient
from tests.conftest import REPO, cli_env, first_line, run_cli


class Daemon(AgentProcess):
    """``station-agent --config CONFIG run`` with its state in a short tmp dir, and
    what tests ask of it."""

    def __init__(self, config_body: str, root: Path) -> None:
        self.root = root
        super().__init__(root / "station.toml", root / "state", root / "daemon.log")
        if "[web]" not in config_body:
            # The console on a free port: tests never take the well-known one.
            config_body += '\n[web]\nlisten = "127.0.0.1:0"\n'
        self.config.write_text(f'[station]\nid = "test-01"\nstate_dir = "{self.state}"\n'
                               + config_body)

    def start(self, env: dict[str, str] | None = None, wait: bool = True) -> Daemon:
        super().start(env or cli_env(), wait)
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        try:
            super().wait_ready(timeout)
        except RuntimeError as exc:
            raise AssertionError(str(exc)) from None

    def client(self, timeout: float = 60) -> ApiClient:
        return ApiClient(self.state / "agent.sock", timeout)

    def cli(self, *args: str) -> Any:
        res = run_cli("--config", str(self.config), *args)
        assert res.code == 0, res.err
        return json.loads(res.out) if "--json" in args else res.out

    def faults(self) -> list[dict[str, Any]]:
        return self.cli("faults", "--json")["active"]  # type: ignore[no-any-return]

    def wait_fault(self, source: str, code: str, present: bool = True,
                   timeout: float = 20) -> list[dict[str, Any]]:
        """Poll ``faults --json`` (the CLI, as a technician would) until ``code`` on
        ``source`` is (or is no longer) active."""
        deadline = time.monotonic() + timeout
        while True:
            faults = self.faults()
            found = any(f["source"] == source and f["code"] == code for f in faults)
            if found == present:
                return faults
            assert time.monotonic() < deadline, (
                f"{source}:{code} {'never raised' if present else 'never cleared'}: {faults}")
            time.sleep(0.2)


@pytest.fixture
def daemons() -> Iterator[Any]:
    """``daemons(config_body, cls=Daemon)`` -> a daemon (not started); all stopped
    after. State lives in a short /tmp dir (Unix socket paths are limited)."""
    made: list[Daemon] = []
    roots: list[tempfile.TemporaryDirectory[str]] = []

    def make(config_body: str, cls: type[Daemon] = Daemon) -> Daemon:
        root = tempfile.TemporaryDirectory(prefix="sa-")
        roots.append(root)
        d = cls(config_body, Path(root.name))
        made.append(d)
        return d

    yield make
    for d in made:
        if d.proc is not None:
            d.stop()
    for r in roots:
        r.cleanup()


class Sim:
    """A simulator subprocess with a control stdin (``sim printer --control`` or
    ``sim server``); ``where`` is its first stdout line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "station_agent", "sim", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=cli_env(),
                                     cwd=REPO)
        self.where = first_line(self.proc)  # type: ignore[arg-type]
        assert self.proc.stderr is not None
        self.banner = self.proc.stderr.readline().strip()   # "simulated ... Ctrl-C to stop"

    def send(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stderr.readline().strip()

    def stop(self) -> str:
        return terminate(self.proc)


@pytest.fixture
def sims() -> Iterator[Any]:
    made: list[Sim] = []

    def make(*args: str) -> Sim:
        s = Sim(*args)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()
