"""Crash test: SIGKILL a recording process at random moments, over and over.

A child records transfers with two threads (group commit) and prints each
acknowledgement; the parent kills it with SIGKILL after a random delay, at
least 200 times. After every kill: every acknowledged transfer is in the
ledger exactly once, ``verify`` passes and ``PRAGMA integrity_check`` is ok.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO

from station_agent.ledger import open_reader, verify

KILLS = 200


def _start(state_dir: Path, run: int) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "helpers.recorder", str(state_dir), f"r{run}", "2"]
    if run > 0:
        args.append(f"r{run - 1}")
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests'}")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def test_acknowledged_transfers_survive_sigkill(state_dir: Path) -> None:
    rng = random.Random(20261124)
    acked: set[str] = set()
    killed_mid_run = 0
    for run in range(KILLS):
        proc = _start(state_dir, run)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            while line and line.strip() != "ready":
                acked.add(line.strip())
                line = proc.stdout.readline()
            assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
            time.sleep(rng.uniform(0, 0.03))
            proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == -signal.SIGKILL
        lines = [x for x in out.splitlines() if x]
        killed_mid_run += bool(lines)
        acked.update(lines)

        conn = open_reader(state_dir)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            present = _present(conn, acked)
            missing = acked - present
            assert not missing, f"run {run}: acknowledged but missing: {sorted(missing)[:5]}"
            report = verify(conn)
            assert report.ok, f"run {run}: {report.problems}"
            dup = conn.execute("SELECT count(*) - count(DISTINCT idem_id) FROM entries").fetchone()
            assert dup[0] == 0
        finally:
            conn.close()
    # The kills must have landed while the child was recording, not only before.
    assert killed_mid_run > KILLS // 2
    assert len(acked) > KILLS


def _present(conn: sqlite3.Connection, ids: set[str]) -> set[str]:
    found: set[str] = set()
    items = sorted(ids)
    for i in range(0, len(items), 500):
        part = items[i:i + 500]
        q = f"SELECT idem_id FROM entries WHERE idem_id IN ({','.join('?' * len(part))})"
        found.update(r[0] for r in conn.execute(q, part))
    return found
