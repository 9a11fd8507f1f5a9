"""Daemon benchmarks: the daemon runs as a subprocess (``station-agent run``), as
on a workstation. Same JSON lines as :mod:`bench.ledger`.

* ``agent.fault_latency_p99`` — ms from a fault injected into a printer
  simulator on a pty (``cover-open`` on its control stdin) to the fault being
  visible through the local API, p99 over the injections; the printer is
  polled every 200 ms with ``raise_after = 1``. Baseline: the poll interval;
  ``ratio`` = poll_interval / p99 (target >= 0.8: seen within about one poll).
* ``agent.rss_10k_jobs`` — the daemon's RSS after 10,000 issued cards (API
  ``issue`` on an in-process simulated printer); baseline: RSS of a bare
  interpreter importing the same dependencies; ``ratio`` = baseline / daemon
  (target >= 0.75). ``growth_kib_10k_to_50k``: RSS growth from 10k to 50k jobs
  (a leak would show here).
* ``agent.idle_cpu`` — % of one core used by the daemon over 60 s with two
  printers (Evolis and Magicard simulators on ptys) and one reader polled every
  second; baseline: the same daemon with no device configured; ``ratio`` =
  target (1 %) / measured.
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
from simulators.processes import terminate
from simulators.station.agent_process import AgentProcess, agent_env

REPO = Path(__file__).resolve().parent.parent
_TICK = os.sysconf("SC_CLK_TCK")


class _Daemon(AgentProcess):
    """The daemon for one benchmark, with one API connection held open."""

    def __init__(self, root: Path, body: str) -> None:
        super().__init__(root / "station.toml", root / "state")
        self.config.write_text(f'[station]\nid = "bench"\nstate_dir = "{self.state}"\n'
                               f"[stock]\nlow_threshold = 0\n"
                               f'[web]\nlisten = "127.0.0.1:0"\n{body}')
        self.start()
        self.api = self.client(60)

    def rss_kib(self) -> int:
        assert self.proc is not None
        return _rss_kib(self.proc.pid)

    def cpu_s(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK

    def stop(self, timeout: float = 30.0) -> int:
        self.api.close()
        return super().stop(timeout)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class _SimPrinter:
    def __init__(self, family: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "station_agent", "sim", "printer", "--family", family,
             "--pty", "--control"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=agent_env(), cwd=REPO)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.tty = self.proc.stdout.readline().strip()
        self.proc.stderr.readline()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        self.proc.stderr.readline()

    def stop(self) -> None:
        terminate(self.proc)


def fault_latency(root: Path, injections: int) -> None:
    poll = 0.2
    sim = _SimPrinter("evolis")
    d = _Daemon(root, f'[[printer]]\nid = "p1"\nurl = "serial://{sim.tty}"\n'
                      f'family = "evolis"\npoll_interval = {poll}\n'
                      "[faults]\nraise_after = 1\nclear_after = 1\n")
    latencies: list[float] = []
    try:
        def active() -> bool:
            return any(f["code"] == "cover_open" for f in d.api.call("faults")["active"])

        for i in range(injections):
            time.sleep(0.05 + (i % 7) * 0.023)     # spread the injections over the poll phase
            t0 = time.perf_counter()
            sim.send("cover-open")
            while not active():
                time.sleep(0.002)
            latencies.append((time.perf_counter() - t0) * 1000)
            sim.send("cover-close")
            while active():
                time.sleep(0.005)
    finally:
        d.stop()
        sim.stop()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    emit("agent.fault_latency_p99", p99, "ms", poll * 1000, poll * 1000 / p99,
         p50_ms=round(statistics.median(latencies), 1), injections=len(latencies),
         poll_interval_ms=poll * 1000, raise_after=1)


def _baseline_rss() -> int:
    code = ("import serial, usb.core, smartcard.scard, structlog, sqlite3, json, ssl, socket,"
            " threading, tomllib; import time; print(open('/proc/self/status').read())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=agent_env()).stdout
    return next(int(line.split()[1]) for line in out.splitlines()
                if line.startswith("VmRSS:"))


def rss(root: Path, first: int, total: int) -> None:
    d = _Daemon(root, '[[printer]]\nid = "p1"\n'
                      'url = "sim://evolis?cards=1000000&ribbon=10000000"\n'
                      "poll_interval = 1.0\n")
    try:
        d.api.call("receive", batch_id="B1", count=total + 10)
        t0 = time.perf_counter()
        at_first = 0
        for i in range(total):
            r = d.api.call("issue", job_id=f"job-{i}")
            if r["outcome"] != "complete":
                raise RuntimeError(f"job {i}: {r}")
            if i + 1 == first:
                at_first = d.rss_kib()
                rate = first / (time.perf_counter() - t0)
        at_total = d.rss_kib()
    finally:
        d.stop()
    base = _baseline_rss()
    emit("agent.rss_10k_jobs", at_first / 1024, "MiB", base / 1024, base / at_first,
         jobs=first, jobs_per_s=round(rate), rss_at_total_mib=round(at_total / 1024, 1),
         total_jobs=total, growth_kib_10k_to_50k=at_total - at_first)


def idle_cpu(root: Path, seconds: float) -> None:
    """Both daemons (with devices, and the baseline without) run and are measured
    over the same window: the machine is nearly idle, and it halves the time."""
    from simulators.cards.pcscd import unavailable

    sims = [_SimPrinter("evolis"), _SimPrinter("magicard")]
    pcscd: Any = None
    reader_url = "sim://Simulated Reader"
    if unavailable() is None:
        from simulators.cards import SimCard, VpcdSlot
        from simulators.cards.pcscd import READER_NAMES, Pcscd

        pcscd = Pcscd().start()
        slot = VpcdSlot(port=pcscd.port).start()
        slot.insert(SimCard("ektp"))
        reader_url = f"pcsc://{READER_NAMES[0]}"
    body = (f'[[printer]]\nid = "evolis-1"\nurl = "serial://{sims[0].tty}"\nfamily = "evolis"\n'
            f'[[printer]]\nid = "magicard-1"\nurl = "serial://{sims[1].tty}"\n'
            'family = "magicard"\n'
            f'[[reader]]\nid = "encoder-1"\nurl = "{reader_url}"\nprinter = "evolis-1"\n')
    daemons: list[_Daemon] = []
    try:
        for where, config in ((root / "devices", body), (root / "none", "")):
            where.mkdir(parents=True)
            daemons.append(_Daemon(where, config))
        time.sleep(3)          # connected, first polls done
        c0, t0 = [d.cpu_s() for d in daemons], time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        busy, bare = ((d.cpu_s() - c) / elapsed * 100 for d, c in zip(daemons, c0, strict=True))
    finally:
        for d in daemons:
            d.stop()
        for s in sims:
            s.stop()
        if pcscd is not None:
            slot.stop()
            pcscd.close()
    emit("agent.idle_cpu", busy, "% of one core", bare, 1.0 / max(busy, 1e-6),
         seconds=seconds, printers=2, readers=1, reader=reader_url.split(":")[0],
         target_pct=1.0, baseline_is="same daemon, no devices, same window")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.agent")
    ap.add_argument("--injections", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--total-jobs", type=int, default=50_000)
    ap.add_argument("--idle-seconds", type=float, default=60.0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sa-bench-") as tmp:
        root = Path(tmp)
        (root / "lat").mkdir()
        fault_latency(root / "lat", args.injections)
        (root / "rss").mkdir()
        rss(root / "rss", args.jobs, args.total_jobs)
        idle_cpu(root / "idle", args.idle_seconds)


if __name__ == "__main__":
    main()
