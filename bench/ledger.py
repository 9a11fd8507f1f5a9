"""Ledger benchmarks, each with a baseline measured in the same run.

Prints one JSON object per line: ``{"metric", "value", "unit", "baseline",
"ratio", ...}``; ``ratio`` is 1.0 when the project is exactly as fast as the
baseline, higher is better.

* ``ledger.single_commit`` — acknowledged transfers/s one at a time; baseline:
  bare sqlite3 single-row WAL+FULL commits/s on the same disk.
* ``ledger.burst`` — acknowledged transfers/s from 8 producer threads, each
  recording bursts of 16 transfers (``record_many``; every transfer is judged
  on its own and acknowledged only after its commit), group commit merging
  the producers; baseline: the same bare single-row commits/s (what the
  producers would get without group commit).
* ``ledger.burst_one_at_a_time`` — the same 8 producers with one transfer in
  flight each (``record``); baseline: one thread committing batches of 8,
  which is the ceiling for 8 blocking producers (no commit can hold more
  than 8 of their transfers).
* ``ledger.balance_query_1m`` — ms to read balances with 1,000,000 entries;
  baseline: the same read at 1,000 entries.
* ``ledger.verify`` — entries/s verified; baseline: reading every row and
  hashing it with SHA-256, nothing else (the floor of any verifier).

Disk timings on shared machines are noisy: the commit metrics run
baseline and project interleaved, three rounds, and report medians.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from station_agent.ledger import Ledger, model, open_reader, read_balances, verify


def emit(metric: str, value: float, unit: str, baseline: float, ratio: float,
         **extra: object) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 3), "unit": unit,
                      "baseline": round(baseline, 3), "ratio": round(ratio, 3), **extra}),
          flush=True)


def bare_commits_per_s(d: Path, n: int) -> float:
    path = d / f"bare-{time.monotonic_ns()}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    row = "x" * 200
    t0 = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (?)", (row,))
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - t0)
    conn.close()
    return rate


def single_per_s(d: Path, n: int) -> float:
    state = d / f"single-{time.monotonic_ns()}"
    with Ledger(state) as led:
        led.record(model.receive("bench", n + 10))
        t0 = time.perf_counter()
        for i in range(n):
            led.record(model.pick(f"s{i}"))
        return n / (time.perf_counter() - t0)


def batch_ceiling_per_s(d: Path, batch: int, commits: int) -> float:
    """One thread committing ``batch`` transfers per transaction: the most
    ``batch`` blocking producers could ever get."""
    state = d / f"ceiling-{time.monotonic_ns()}"
    with Ledger(state) as led:
        led.record(model.receive("bench", batch * commits + 10))
        t0 = time.perf_counter()
        for i in range(commits):
            led.record_many([model.pick(f"c{i}-{k}") for k in range(batch)])
        return batch * commits / (time.perf_counter() - t0)


def burst_per_s(d: Path, producers: int, per_producer: int,
                burst: int = 1) -> tuple[float, float]:
    """Transfers/s and mean transfers per commit; each producer records
    ``burst`` transfers per call (``record`` when 1, else ``record_many``)."""
    state = d / f"burst-{time.monotonic_ns()}"
    with Ledger(state) as led:
        led.record(model.receive("bench", producers * per_producer + 10))
        commits = [0]
        original = led._commit  # counting transactions for the report

        def counting(batch: list) -> None:  # type: ignore[type-arg]
            commits[0] += 1
            original(batch)

        led._commit = counting  # type: ignore[method-assign]
        start = threading.Barrier(producers + 1)

        def produce(k: int) -> None:
            start.wait()
            if burst == 1:
                for i in range(per_producer):
                    led.record(model.pick(f"b{k}-{i}"))
                return
            for i in range(0, per_producer, burst):
                picks = [model.pick(f"b{k}-{j}")
                         for j in range(i, min(per_producer, i + burst))]
                for result in led.record_many(picks):
                    if not isinstance(result, model.Entry):
                        raise SystemExit(f"bench transfer refused: {result}")

        threads = [threading.Thread(target=produce, args=(k,)) for k in range(producers)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        total = producers * per_producer
        return total / elapsed, total / max(commits[0], 1)


def build(state: Path, entries: int) -> None:
    """A ledger of ``entries`` entries: one delivery, then pick/complete pairs."""
    jobs = (entries - 1) // 2
    with Ledger(state) as led:
        led.record(model.receive("bench", jobs + 10))
        chunk = 20_000
        for start in range(0, jobs, chunk // 2):
            ts: list[model.Transfer] = []
            for i in range(start, min(jobs, start + chunk // 2)):
                ts += [model.pick(f"j{i}"), model.complete(f"j{i}")]
            led.record_many(ts)


def balance_read_ms(state: Path, reads: int = 2000) -> float:
    conn = open_reader(state)
    try:
        samples = []
        for _ in range(reads):
            t0 = time.perf_counter()
            read_balances(conn)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples) * 1000
    finally:
        conn.close()


def bare_hash_rows_per_s(state: Path) -> float:
    conn = open_reader(state)
    try:
        t0 = time.perf_counter()
        n = 0
        cur = conn.execute("SELECT * FROM entries ORDER BY seq")
        sha = hashlib.sha256
        while rows := cur.fetchmany(20_000):
            for row in rows:
                sha(repr(row).encode()).hexdigest()
            n += len(rows)
        return n / (time.perf_counter() - t0)
    finally:
        conn.close()


def verify_per_s(state: Path) -> tuple[float, int]:
    conn = open_reader(state)
    try:
        t0 = time.perf_counter()
        report = verify(conn)
        elapsed = time.perf_counter() - t0
        assert report.ok, report.problems
        return report.entries / elapsed, report.entries
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR"),
                    help="directory on the disk to measure (default: a temp dir)")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--commits", type=int, default=2000)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="station-agent-bench-", dir=args.dir))
    try:
        bare, ours = [], []
        for _ in range(5):    # the bare baseline alone swings by a third between rounds
            bare.append(bare_commits_per_s(d, args.commits))
            ours.append(single_per_s(d, args.commits))
        b, o = statistics.median(bare), statistics.median(ours)
        emit("ledger.single_commit", o, "transfers/s", b, o / b, target_ratio=0.6,
             rounds=len(ours), ratio_range=[round(min(ours) / max(bare), 3),
                                            round(max(ours) / min(bare), 3)])

        bursts, sizes, bare2 = [], [], []
        for _ in range(3):
            bare2.append(bare_commits_per_s(d, args.commits))
            rate, size = burst_per_s(d, 8, args.commits, burst=16)
            bursts.append(rate)
            sizes.append(size)
        b2, o2 = statistics.median(bare2), statistics.median(bursts)
        emit("ledger.burst", o2, "transfers/s", b2, o2 / b2, producers=8, burst=16,
             mean_batch=round(statistics.median(sizes), 2), target=20_000)

        ones, sizes, ceilings = [], [], []
        for _ in range(3):
            ceilings.append(batch_ceiling_per_s(d, 8, args.commits // 4))
            rate, size = burst_per_s(d, 8, args.commits // 2)
            ones.append(rate)
            sizes.append(size)
        c, o3 = statistics.median(ceilings), statistics.median(ones)
        emit("ledger.burst_one_at_a_time", o3, "transfers/s", c, o3 / c, producers=8,
             mean_batch=round(statistics.median(sizes), 2))

        small = d / "small"
        build(small, 1_000)
        big = d / "big"
        t0 = time.perf_counter()
        build(big, args.entries)
        build_s = time.perf_counter() - t0
        small_ms, big_ms = balance_read_ms(small), balance_read_ms(big)
        emit("ledger.balance_query_1m", big_ms, "ms", small_ms, small_ms / big_ms,
             entries=args.entries, baseline_entries=1_000, target_ms=2.0,
             build_entries_per_s=round(args.entries / build_s))

        floor = bare_hash_rows_per_s(big)
        rate, n = verify_per_s(big)
        emit("ledger.verify", rate, "entries/s", floor, rate / floor, entries=n,
             target=200_000)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
