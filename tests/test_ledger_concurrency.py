"""Concurrent recorders: threads and separate processes at once; totals exact."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from conftest import REPO
from helpers.burst import transfers

from station_agent.ledger import Ledger, open_reader, verify

CYCLES = 60


def _spawn(state_dir: Path, prefix: str, threads: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests'}")
    return subprocess.Popen(
        [sys.executable, "-m", "helpers.burst", str(state_dir), prefix, str(threads),
         str(CYCLES)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_threads_and_processes_record_exact_totals(state_dir: Path) -> None:
    # Three processes with two threads each; processes "p0" and "p0again" use the
    # same ids, so every one of their transfers races against its twin.
    procs = [_spawn(state_dir, "p0", 2), _spawn(state_dir, "p1", 2), _spawn(state_dir, "p0", 2)]
    in_process_threads = 4
    with Ledger(state_dir) as ledger:
        def run(n: int) -> None:
            for t in transfers("local", n, CYCLES):
                ledger.record(t)
        workers = [threading.Thread(target=run, args=(n,)) for n in range(in_process_threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outs.append(out)

    # Distinct producers: p0 (twice, same ids), p1, local -> 2 + 2 + 4 thread streams.
    streams = 2 + 2 + in_process_threads
    cycles = streams * CYCLES
    conn = open_reader(state_dir)
    try:
        report = verify(conn)
        assert report.ok, report.problems
        assert report.entries == cycles * 5
        b = conn.execute("SELECT stock, in_printer, issued, spoiled_held, total_receive "
                         "FROM state").fetchone()
    finally:
        conn.close()
    assert b == (0, 0, cycles, cycles, 2 * cycles)
    # The twin processes recorded each id once between them.
    twins = [dict(kv.split("=") for kv in o.split()) for o in (outs[0], outs[2])]
    assert sum(int(t["new"]) for t in twins) == 2 * CYCLES * 5
    assert sum(int(t["replay"]) for t in twins) == 2 * CYCLES * 5
