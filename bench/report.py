"""Report benchmark.

* ``report.month_ms`` - ms to build the monthly recapitulation of one month on a
  ledger holding a year of a busy office's entries (8 stations x 250 cards a
  day: 2,000 picks and 2,000 completions a day, ~1.46 million entries).
  Baseline: the daily reports of every day of that month, built one after the
  other in the same run (the daily report's time x days in the month);
  ``ratio`` = baseline / value, target >= 1 (the month is not slower than its
  days). The cards go round 8 printers whose ribbons are changed every 500
  cards (finish + install, each noting the printer's counter), so both reports
  also carry their supplies sections (~4 ribbon changes a day).

Run alone: ``python -m bench.report [--cards-per-day N] [--days N]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from bench.console import build_history
from bench.ledger import emit
from station_agent import clock
from station_agent.ledger import open_reader
from station_agent.report.model import build_report
from station_agent.report.month import build_month, month_bounds


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.report")
    ap.add_argument("--cards-per-day", type=int, default=8 * 250)
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args(argv)
    entries = args.cards_per_day * 2 * args.days
    with tempfile.TemporaryDirectory(prefix="sa-bench-rep-") as d:
        state = Path(d) / "state"
        t0 = time.perf_counter()
        build_history(state, entries, days=args.days, today_jobs=0, supplies=True)
        build_s = time.perf_counter() - t0
        middle = clock.local_now().date() - timedelta(days=args.days // 2)
        year, month = middle.year, middle.month
        first, nxt = month_bounds(year, month)
        now = datetime.now().astimezone()
        conn = open_reader(state)
        try:
            months, days = [], []
            for _ in range(3):
                t = time.perf_counter()
                rep = build_month(conn, year, month, station_id="bench", now=now)
                months.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                day: date = first
                while day < nxt:
                    build_report(conn, day, station_id="bench", now=now)
                    day += timedelta(days=1)
                days.append((time.perf_counter() - t) * 1000)
        finally:
            conn.close()
        value, base = statistics.median(months), statistics.median(days)
        emit("report.month_ms", value, "ms", base, base / value, target_ratio=1.0,
             entries=entries, month=f"{year}-{month:02d}", month_entries=rep.entries,
             days_in_month=(nxt - first).days, moved_picked=rep.moved["picked"],
             ribbons_used_up=len(rep.supplies[0].yields) if rep.supplies else 0,
             build_s=round(build_s, 1))


if __name__ == "__main__":
    main()
