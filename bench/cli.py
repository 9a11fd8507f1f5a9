"""CLI start-up benchmark.

* ``cli.status_latency`` - ms for ``station-agent status --json`` as a whole
  process (interpreter start, imports, asking the daemon), median of
  ``--runs`` runs with the daemon running on a small ledger. Baseline:
  ``python -c pass`` with the same interpreter in the same run; ``ratio`` =
  baseline / value; the target is value <= 2.5 x baseline (ratio >= 0.4).
* ``cli.status_offline_latency`` - the same with no daemon (the CLI reads the
  state directory itself: SQLite, the forecast).
* ``cli.import_time`` - ms that ``import station_agent`` adds to ``python -c
  pass`` (the library's lazy surface); ``cli.import_library`` - the same for
  ``Client`` and ``Ledger`` actually loaded.
* ``cli.help_latency`` - the same for ``station-agent --help``.
* ``cli.diag_latency`` - ``station-agent diag --json`` as a whole process on a
  station with two in-process simulated printers (one per family), the
  central-server simulator as probe URL and a private mosquitto as uplink
  broker (when installed), daemon not running: every check runs, printers
  opened directly. Baseline: ``status --json`` on the same state.

Run alone: ``python -m bench.cli [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ledger import emit

REPO = Path(__file__).resolve().parent.parent


def _ms(cmd: list[str], env: dict[str, str], runs: int, ok: tuple[int, ...] = (0,)) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                             cwd=REPO)
        times.append((time.perf_counter() - t0) * 1000)
        if res.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr[-500:]!r}")
    return statistics.median(times)


def _paired_ms(cmds: list[list[str]], env: dict[str, str], runs: int) -> list[float]:
    """Median ms of each command, the commands run in turn ``runs`` times (so a
    slower or faster spell of the machine weighs on all of them alike)."""
    times: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            times[i].append(_ms(cmd, env, 1))
    return [statistics.median(t) for t in times]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.cli")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_AGENT_")}
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        state = str(Path(tmp) / "state")
        py = [sys.executable, "-m", "station_agent"]
        subprocess.run([*py, "--state-dir", state, "blanks", "receive", "--batch", "B1",
                        "--count", "500"], check=True, stdout=subprocess.DEVNULL, env=env,
                       cwd=REPO)
        bare = [sys.executable, "-c", "pass"]
        base, offline, helps, imported, library = _paired_ms(
            [bare, [*py, "--state-dir", state, "status", "--json"], [*py, "--help"],
             [sys.executable, "-c", "import station_agent"],
             [sys.executable, "-c", "import station_agent as s; s.Client; s.Ledger"]],
            env, args.runs)
        dbase, status = _with_daemon(Path(tmp), state, env, lambda: _paired_ms(
            [bare, [*py, "--state-dir", state, "status", "--json"]], env, args.runs))
        config = _station(Path(tmp), state)
        try:
            diag = _ms([*py, "--config", str(config.path), "diag", "--json"], env, args.runs,
                       ok=(0, 1))
        finally:
            config.stop()
    emit("cli.status_latency", status, "ms", dbase, dbase / status, runs=args.runs,
         daemon=True, target="<= 2.5 x baseline")
    emit("cli.status_offline_latency", offline, "ms", base, base / offline, runs=args.runs,
         daemon=False, target_ms=300)
    emit("cli.import_time", imported - base, "ms", base, base / imported, runs=args.runs,
         what="import station_agent (added to python -c pass)")
    emit("cli.import_library", library - base, "ms", base, base / library, runs=args.runs,
         what="station_agent.Client and .Ledger loaded (added to python -c pass)")
    emit("cli.help_latency", helps, "ms", base, base / helps, runs=args.runs, target_ms=300)
    emit("cli.diag_latency", diag, "ms", status, status / diag, runs=args.runs,
         broker=config.broker, target="a few seconds")


def _with_daemon(root: Path, state: str, env: dict[str, str], measure: Any) -> list[float]:
    """``measure()`` while a daemon serves ``state``."""
    from simulators.station.agent_process import AgentProcess

    config = root / "daemon.toml"
    config.write_text(f'[station]\nid = "bench-01"\nstate_dir = "{state}"\n\n'
                      '[web]\nlisten = "127.0.0.1:0"\n')
    agent = AgentProcess(config, Path(state), root / "daemon.log").start(env)
    try:
        values: list[float] = measure()
        return values
    finally:
        agent.stop()


class _Station:
    """A station.toml and the simulators it points at (stopped by :meth:`stop`)."""

    def __init__(self, path: Path, server: object, broker: object | None) -> None:
        self.path, self.server, self.mq = path, server, broker
        self.broker = broker is not None

    def stop(self) -> None:
        self.server.stop()  # type: ignore[attr-defined]
        if self.mq is not None:
            self.mq.stop()  # type: ignore[attr-defined]


def _station(root: Path, state: str) -> _Station:
    from simulators.mosquitto import Mosquitto, find_binary
    from simulators.server import ServerSim

    server = ServerSim().start()
    mq = Mosquitto(root / "broker").start() if find_binary() else None
    uplink = f'\n[uplink]\nmqtt_url = "{mq.url}"\n' if mq else ""
    path = root / "station.toml"
    path.write_text(f'[station]\nid = "bench-01"\nstate_dir = "{state}"\n\n'
                    '[web]\nlisten = "127.0.0.1:0"\n\n'
                    '[[printer]]\nid = "evolis-1"\nurl = "sim://evolis"\n\n'
                    '[[printer]]\nid = "magicard-1"\nurl = "sim://magicard"\n\n'
                    f'[network]\nprobe_url = "{server.url}/health"\n' + uplink)
    return _Station(path, server, mq)


if __name__ == "__main__":
    main()
