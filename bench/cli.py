"""CLI start-up benchmark.

* ``cli.status_latency`` - ms for ``station-agent status --json`` as a whole
  process (interpreter start, imports, reading the state), median of
  ``--runs`` runs against a small ledger with the daemon not running.
  Baseline: ``python -c pass`` with the same interpreter in the same run.
  ``ratio`` = baseline / value; the target is value <= 300 ms.
* ``cli.help_latency`` - the same for ``station-agent --help``.

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

from bench.ledger import emit

REPO = Path(__file__).resolve().parent.parent


def _ms(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env, cwd=REPO)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


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
        base = _ms([sys.executable, "-c", "pass"], env, args.runs)
        status = _ms([*py, "--state-dir", state, "status", "--json"], env, args.runs)
        helps = _ms([*py, "--help"], env, args.runs)
    emit("cli.status_latency", status, "ms", base, base / status, runs=args.runs,
         target_ms=300)
    emit("cli.help_latency", helps, "ms", base, base / helps, runs=args.runs, target_ms=300)


if __name__ == "__main__":
    main()
