"""Office console and notification benchmarks (DESIGN §9).

* ``console.page_p99`` - ms from an HTTP request for the console's Today page
  to its complete response, p99 over ``--requests`` requests (logged in), the
  daemon serving a ledger of ``--entries`` entries (default 1,000,000) spread
  over the two years before today, then today's 250 cards (a busy office).
  Baseline: the local API's ``status`` call (Unix socket, the same daemon, the
  same run), p99 over as many calls; ``ratio`` = baseline / value. Target:
  value <= 50 ms.
* ``notify.enqueue_cost`` - ledger commits per second (``receive`` over the
  API, one client) on a daemon with ``[notify]`` configured (a command hook, a
  daily summary due, the stock below its threshold so the notifier has work)
  vs a daemon without, same run, rounds alternating; ``ratio`` = with / without.
  Target ratio >= 0.95.
* ``notify.dead_channel_cost`` - the same with every channel dead (a webhook
  server that accepts and never answers, a mail server that refuses): what a
  dead channel costs the ledger. Baseline and target as above.

Run alone: ``python -m bench.console [--entries N] [--requests N] [--commits N]``.
"""

from __future__ import annotations

import argparse
import http.client
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.ledger import emit
from simulators.station.agent_process import AgentProcess, agent_env
from station_agent import clock
from station_agent.api.connection import ApiClient
from station_agent.ledger import Ledger, model

REPO = Path(__file__).resolve().parent.parent
WEB = '[web]\nlisten = "127.0.0.1:0"\n'


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]


def _daemon(root: Path, state: Path, body: str) -> AgentProcess:
    config = root / "station.toml"
    config.write_text(f'[station]\nid = "bench-01"\nstate_dir = "{state}"\n\n{WEB}{body}')
    return AgentProcess(config, state, root / "daemon.log").start(agent_env())


class _Http:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        self.host = f"{parts.hostname}:{parts.port}"
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None
                ) -> tuple[int, str]:
        headers = {"Host": self.host,
                   "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        text = resp.read().decode()
        for c in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = c.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return resp.status, text


#: With supplies: the printers the cards are spread over, and the cards a ribbon prints.
PRINTERS = 8
RIBBON_CARDS = 500


def build_history(state: Path, entries: int, days: int = 730, today_jobs: int = 250,
                  supplies: bool = False) -> None:
    """A station's history: ``entries`` entries (a delivery, then pick/complete pairs)
    spread evenly over the ``days`` before today (the agent's clock stepped back
    for each chunk), then a busy office's day today (``today_jobs`` cards). With
    ``supplies``, the cards go round :data:`PRINTERS` printers and each printer's
    ribbon is changed every :data:`RIBBON_CARDS` cards (the install noting the
    printer's card counter, as the daemon does)."""
    jobs = (entries - 1) // 2
    chunks = 100
    start = datetime.now(UTC) - timedelta(days=days)
    try:
        with Ledger(state) as led:
            clock.compress(start, 1.0)
            led.record(model.receive("bench", jobs + today_jobs + 10))
            if supplies:
                led.record(model.supply_receive("ribbon-ymcko", jobs // RIBBON_CARDS + 100,
                                                "bench-ribbons"))
            per = max(1, jobs // chunks)
            for k, first in enumerate(range(0, jobs, per)):
                clock.compress(start + timedelta(days=days * k / chunks), 1.0)
                ts: list[model.Transfer] = []
                for i in range(first, min(jobs, first + per)):
                    if not supplies:
                        ts += [model.pick(f"j{i}"), model.complete(f"j{i}")]
                        continue
                    printer, card = f"p{i % PRINTERS}", i // PRINTERS
                    if card % RIBBON_CARDS == 0:
                        if card:
                            ts.append(model.supply_finish("ribbon-ymcko", printer,
                                                          f"f{printer}-{card}", counter=card))
                        ts.append(model.supply_install("ribbon-ymcko", printer,
                                                       f"i{printer}-{card}", counter=card))
                    ts += [model.pick(f"j{i}", device=printer,
                                      reference=f"counter={card + 1}"),
                           model.complete(f"j{i}", device=printer)]
                led.record_many(ts)
            clock.uncompress()
            for i in range(today_jobs):
                led.record_many([model.pick(f"t{i}"), model.complete(f"t{i}")])
    finally:
        clock.uncompress()


def page_p99(root: Path, entries: int, requests: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    state = root / "state"
    t0 = time.perf_counter()
    build_history(state, entries)
    build_s = time.perf_counter() - t0
    subprocess.run([sys.executable, "-m", "station_agent", "--state-dir", str(state),
                    "console", "user", "add", "bench", "--password-stdin"],
                   input="bench-password\n", text=True, check=True, capture_output=True,
                   cwd=REPO, env=agent_env())
    agent = _daemon(root, state, "")
    try:
        web = _Http((state / "console-url").read_text().strip())
        status, page = web.request("GET", "/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page)
        assert token is not None
        status, _ = web.request("POST", "/login", {"login_token": token.group(1),
                                                   "user": "bench",
                                                   "password": "bench-password"})
        assert status == 303, status
        api = ApiClient(state / "agent.sock", 60)
        pages: list[float] = []
        calls: list[float] = []
        for _ in range(10):   # warm both paths
            web.request("GET", "/")
            api.call("status")
        for _ in range(requests):   # in turn, so a slow spell weighs on both alike
            t = time.perf_counter()
            status, body = web.request("GET", "/")
            pages.append((time.perf_counter() - t) * 1000)
            assert status == 200 and 'id="stock"' in body, status
            t = time.perf_counter()
            api.call("status")
            calls.append((time.perf_counter() - t) * 1000)
        api.close()
        value, base = _p99(pages), _p99(calls)
        emit("console.page_p99", value, "ms", base, base / value, entries=entries,
             requests=requests, median_ms=round(statistics.median(pages), 2),
             baseline_median_ms=round(statistics.median(calls), 2), target_ms=50.0,
             build_s=round(build_s, 1))
    finally:
        agent.stop()


def _commits_per_s(agent: AgentProcess, n: int, tag: str) -> float:
    with ApiClient(agent.state / "agent.sock", 60) as api:
        t = time.perf_counter()
        for i in range(n):
            api.call("receive", batch_id=f"{tag}-{i}", count=1)
        return n / (time.perf_counter() - t)


def enqueue_cost(root: Path, commits: int, rounds: int = 10) -> None:
    """``notify.enqueue_cost`` and ``notify.dead_channel_cost``: commit rates of a
    daemon with a working channel and of one whose channels are dead, each
    against a daemon without ``[notify]``, rounds in rotating order."""
    for sub in ("plain", "notify", "dead"):
        (root / sub).mkdir(parents=True)
    quiet = _daemon(root / "plain", root / "plain" / "state", "[stock]\nlow_threshold = 0\n")
    hook = root / "notify" / "hook.sh"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    busy = _daemon(root / "notify", root / "notify" / "state",
                   f'[stock]\nlow_threshold = 10000000\n\n[notify]\ncommand = ["{hook}"]\n'
                   'daily_at = "00:00"\nmin_active = 0\nrate_limit_minutes = 0\n')
    # Dead channels: a webhook whose server takes the connection and never answers
    # (each try waits for the timeout), a mail server that refuses connections.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(64)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refused = s.getsockname()[1]
    dead = _daemon(root / "dead", root / "dead" / "state",
                   '[stock]\nlow_threshold = 10000000\n\n[notify]\n'
                   f'webhook_url = "http://127.0.0.1:{blackhole.getsockname()[1]}/hook"\n'
                   f'smtp_url = "smtp://127.0.0.1:{refused}"\n'
                   'smtp_from = "a@example.go.id"\nsmtp_to = ["b@example.go.id"]\n'
                   'daily_at = "00:00"\nmin_active = 0\nrate_limit_minutes = 0\n'
                   "retry_seconds = 0.1\n")
    try:
        rates: dict[str, list[float]] = {"plain": [], "notify": [], "dead": []}
        agents = [("plain", quiet), ("notify", busy), ("dead", dead)]
        for r in range(rounds):   # rotating order: a drift of the disk's speed weighs on all
            for name, agent in agents[r % 3:] + agents[:r % 3]:
                rates[name].append(_commits_per_s(agent, commits, f"r{r}"))
        wo = statistics.median(rates["plain"])
        for metric, name, agent in (("notify.enqueue_cost", "notify", busy),
                                    ("notify.dead_channel_cost", "dead", dead)):
            w = statistics.median(rates[name])
            ratios = sorted(a / b for a, b in zip(rates[name], rates["plain"], strict=True))
            with ApiClient(agent.state / "agent.sock", 60) as api:
                told = api.call("status")["notify"]
            emit(metric, w, "commits/s", wo, w / wo, target_ratio=0.95,
                 rounds=rounds, commits=commits, pair_ratios=[round(x, 3) for x in ratios],
                 channels=told["channels"], notifications_pending=told["pending"])
    finally:
        quiet.stop()
        busy.stop()
        dead.stop()
        blackhole.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.console")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--commits", type=int, default=800)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sa-bench-con-") as d:
        page_p99(Path(d) / "page", args.entries, args.requests)
    with tempfile.TemporaryDirectory(prefix="sa-bench-not-") as d:
        enqueue_cost(Path(d), args.commits)


if __name__ == "__main__":
    main()
