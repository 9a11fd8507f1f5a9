"""The agent as a process of its own (``station-agent --config F run``), the way
systemd runs it: started, waited for until its local API answers, killed with
SIGKILL (a crash) or stopped with SIGTERM. Tests, campaigns and benchmarks run
the daemon through this one class."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from simulators.processes import terminate

REPO = Path(__file__).resolve().parents[2]


def agent_env(**extra: str) -> dict[str, str]:
    """This process's environment without station-agent settings, the repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_AGENT_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


class AgentProcess:
    """One daemon process for ``config``, its state in ``state``, output to ``log``."""

    def __init__(self, config: Path, state: Path, log: Path | None = None) -> None:
        self.config, self.state, self.log = config, state, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str] | None = None, wait: bool = True) -> AgentProcess:
        """Start the daemon (and wait until it answers, unless ``wait`` is False)."""
        out: Any = self.log.open("ab") if self.log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "station_agent", "--config", str(self.config), "run"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=REPO,
                env=env or agent_env())
        finally:
            if self.log:
                out.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until ``ping`` is answered; RuntimeError if the daemon exits or is too slow."""
        from station_agent.api.connection import ApiClient

        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}: {self.logs()}")
            try:
                with ApiClient(self.state / "agent.sock", 5) as c:
                    c.call("ping")
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"daemon not ready after {timeout:g} s: {self.logs()}")
            time.sleep(0.05)

    def logs(self) -> str:
        """The end of the daemon's output (empty without a log file)."""
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL: a crash, nothing cleaned up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout``; the exit code."""
        if self.proc is None:
            return 0
        terminate(self.proc, timeout)
        return self.proc.returncode

    def client(self, timeout: float = 120.0) -> Any:
        """A new connection to the local API."""
        from station_agent.api.connection import ApiClient

        return ApiClient(self.state / "agent.sock", timeout)

    def call(self, op: str, **params: Any) -> Any:
        """One request on a new connection."""
        with self.client() as c:
            return c.call(op, **params)
