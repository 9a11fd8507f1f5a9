"""Every benchmark on two commits in one run: ``python -m bench.compare BASE``.

Checks out ``BASE`` (a commit, tag or branch) into a temporary git worktree,
runs ``python -m bench`` there and then here (the working tree), with the
same interpreter and virtualenv, one after the other, and prints one line per
figure both runs have: the value on each, and each value's ratio to the
baseline measured beside it in the same run (so a slower spell of the machine
weighs on both). ``--rounds 2`` alternates base and head twice and keeps each
figure's median. Results also go to ``bench/results/<date>-compare-<base>.jsonl``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _bench(tree: Path, only: list[str]) -> dict[str, dict[str, object]]:
    """``python -m bench`` (or ``bench.<module>`` for each of ``only``) in ``tree``:
    metric -> its JSON object."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_AGENT_")}
    env["PYTHONPATH"] = str(tree)
    out: dict[str, dict[str, object]] = {}
    for module in [f"bench.{m}" for m in only] or ["bench"]:
        proc = subprocess.run([sys.executable, "-m", module], cwd=tree, env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{module} failed in {tree}: {proc.stderr[-2000:]}")
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                doc = json.loads(line)
                out[str(doc["metric"])] = doc
    return out


def _median(runs: list[dict[str, dict[str, object]]], metric: str, key: str) -> float | None:
    values = [float(r[metric][key]) for r in runs  # type: ignore[arg-type]
              if metric in r and isinstance(r[metric].get(key), int | float)]
    return statistics.median(values) if values else None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.compare")
    ap.add_argument("base", help="the commit to compare with (e.g. HEAD~3)")
    ap.add_argument("--rounds", type=int, default=1, help="base/head alternations")
    ap.add_argument("--only", nargs="+", default=[], metavar="MODULE",
                    help="only these benchmark modules (agent, spooler, cli ...)")
    args = ap.parse_args(argv)
    base_commit = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=REPO,
                                 capture_output=True, text=True, check=True).stdout.strip()
    head_commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                 capture_output=True, text=True, check=True).stdout.strip()
    base_runs: list[dict[str, dict[str, object]]] = []
    head_runs: list[dict[str, dict[str, object]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-base-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), base_commit],
                       cwd=REPO, check=True, capture_output=True)
        try:
            for _ in range(args.rounds):
                base_runs.append(_bench(tree, args.only))
                head_runs.append(_bench(REPO, args.only))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO,
                           check=False, capture_output=True)
    rows = []
    for metric in sorted(set(base_runs[0]) & set(head_runs[0])):
        row = {"metric": metric, "unit": head_runs[0][metric].get("unit"),
               "base_commit": base_commit, "head_commit": head_commit,
               "base_value": _median(base_runs, metric, "value"),
               "head_value": _median(head_runs, metric, "value"),
               "base_ratio": _median(base_runs, metric, "ratio"),
               "head_ratio": _median(head_runs, metric, "ratio"), "rounds": args.rounds}
        rows.append(row)
        print(json.dumps(row), flush=True)
    day = datetime.date.today().isoformat()
    part = "-".join(args.only) or "all"
    out = REPO / "bench" / "results" / f"{day}-compare-{base_commit}-{part}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
