"""``station-agent demo``: a simulated station day, ending with the balances.

Until the printer, reader and server simulators exist, the day is driven by
seeded in-process "printers" that report to the real ledger exactly as
drivers will: two deliveries, two printers working concurrently (group
commit), chip failures and print defects rejected to custody, a card lost
in a jam, drivers re-sending reports (idempotent replays), an over-draw the
ledger refuses, a hand-back of spoiled blanks, a stock correction after a
physical count, and finally ``ledger verify`` and the reconciliation.
The same seed gives the same day.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from station_agent.cli.output import balances_text
from station_agent.ledger import Ledger, LedgerRefused, model, open_reader, verify

_OUTCOMES = (
    # (outcome, reason, weight)
    ("complete", None, 930),
    ("reject", "chip_failed", 35),
    ("reject", "print_defect", 25),
    ("write_off", "card_lost_in_jam", 5),
)


def _say(msg: str) -> None:
    print(msg, flush=True)


def _printer_day(ledger: Ledger, device: str, jobs: list[str], seed: int,
                 tally: dict[str, int], lock: threading.Lock) -> None:
    rng = random.Random(f"{seed}:{device}")
    kinds = [o for o in _OUTCOMES]
    weights = [w for *_, w in _OUTCOMES]
    for job in jobs:
        ledger.record(model.pick(job, device=device))
        kind, reason, _ = rng.choices(kinds, weights)[0]
        if kind == "complete":
            t = model.complete(job, device=device)
        elif kind == "reject":
            assert reason is not None
            t = model.reject(job, reason, device=device)
        else:
            assert reason is not None
            t = model.write_off_job(job, reason, device=device)
        ledger.record(t)
        # Drivers re-send a report when an acknowledgement is lost; the ledger
        # must return the original entry and change nothing.
        replay = rng.random() < 0.05
        if replay:
            assert ledger.record(t).replay
        with lock:
            key = reason or kind
            tally[key] = tally.get(key, 0) + 1
            tally["replayed"] = tally.get("replayed", 0) + int(replay)


def run_demo(*, state_dir: str | None, seed: int, jobs: int, keep: bool) -> int:
    """Run the demo day; return the exit code (0 when the ledger verifies)."""
    temp = state_dir is None
    where = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="station-agent-demo-"))
    _say(f"station-agent demo: a simulated station day (seed {seed}), state in {where}")
    started = time.monotonic()
    try:
        with Ledger(where, station_id="demo-kupang-01") as ledger:
            first = 1 + 10_000 * (seed % 1000)
            for batch, count, serial in (("KTP-2026-11-A", 300, first),
                                         ("KTP-2026-11-B", 250, first + 300)):
                e = ledger.record(model.receive(batch, count, first_serial=f"KTP{serial:07d}"))
                _say(f"  delivery {batch}: {count} blanks, serials from KTP{serial:07d} "
                     f"(entry {e.seq})")
            again = ledger.record(model.receive("KTP-2026-11-A", 300,
                                                first_serial=f"KTP{first:07d}"))
            _say(f"  delivery KTP-2026-11-A entered twice: already entry {again.seq}, "
                 "nothing changed")

            jobs = max(0, min(jobs, 540))
            names = [f"job-{seed}-{i:05d}" for i in range(jobs)]
            tally: dict[str, int] = {}
            lock = threading.Lock()
            printers = {"evolis-1": names[0::2], "magicard-1": names[1::2]}
            _say(f"  printing {jobs} cards on {', '.join(printers)} ...")
            threads = [threading.Thread(target=_printer_day,
                                        args=(ledger, dev, js, seed, tally, lock))
                       for dev, js in printers.items()]
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                time.sleep(0.25)
                b = ledger.balances()
                _say(f"    issued {b.issued:4d}  spoiled {b.spoiled_held:3d}  "
                     f"lost {b.lost:2d}  stock {b.stock:4d}")
            for t in threads:
                t.join()
            _say(f"  day's outcomes: {dict(sorted(tally.items()))}")

            b = ledger.balances()
            try:
                ledger.record(model.write_off_stock(b.stock + 10, "demo: too many",
                                                    f"demo-overdraw-{seed}"))
            except LedgerRefused as exc:
                _say(f"  refused as it must be: {exc}")

            if b.spoiled_held:
                e = ledger.record(model.dispose(b.spoiled_held, f"BA-{seed}/HANDBACK-01"))
                _say(f"  {e.count} spoiled blanks handed back under BA-{seed}/HANDBACK-01 "
                     f"(entry {e.seq})")
            if ledger.balances().stock >= 2:
                e = ledger.adjust(-2, "physical count found 2 blanks fewer",
                                  f"demo-count-{seed}")
                _say(f"  physical count: stock corrected by -2 (entry {e.seq})")
            final = ledger.balances()

        conn = open_reader(where)
        try:
            report = verify(conn)
        finally:
            conn.close()
        _say("")
        _say(balances_text(final, str(where)))
        _say("")
        balanced = final.accounted == final.received + final.adjusted
        _say(f"reconciliation: received {final.received} + adjusted {final.adjusted:+d} = "
             f"{final.received + final.adjusted}; accounted for {final.accounted} -> "
             f"{'exact' if balanced else 'MISMATCH'}")
        if report.ok:
            _say(f"ledger verify: OK, {report.entries} entries, chain head "
                 f"{report.entries}:{(report.chain_head or '')[:16]}")
        else:
            _say(f"ledger verify: BROKEN at entry {report.first_break}: {report.problems}")
        _say(f"done in {time.monotonic() - started:.1f} s")
        return 0 if report.ok and balanced else 1
    finally:
        if temp and not keep:
            shutil.rmtree(where, ignore_errors=True)
        elif temp:
            print(f"state kept in {where}", file=sys.stderr)
