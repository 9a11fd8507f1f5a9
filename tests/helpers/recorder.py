"""A child process that records transfers and reports each acknowledgement.

Usage: python -m helpers.recorder STATE_DIR RUN THREADS [REPLAY_RUN]

Prints ``ready`` once the ledger is open, then one line per acknowledged
transfer: ``<idem_id>``. Each thread delivers a small batch, then picks
and settles jobs from it, forever (until killed). With REPLAY_RUN it first
re-sends the first transfers of that earlier run: each must come back as
the original entry or, if it was never acknowledged, be recorded now.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

from station_agent.ledger import Ledger, model
from station_agent.ledger.model import Transfer

_out = threading.Lock()


def ack(idem_id: str) -> None:
    with _out:
        sys.stdout.write(idem_id + "\n")
        sys.stdout.flush()


def work(run: str, thread: int) -> Iterator[Transfer]:
    i = 0
    while True:
        tag = f"{run}-{thread}-{i}"
        yield model.receive(f"b-{tag}", 3)
        for k in range(3):
            job = f"j-{tag}-{k}"
            yield model.pick(job, device=f"printer-{thread}")
            if k == 2:
                yield model.reject(job, "chip_failed")
            else:
                yield model.complete(job)
        i += 1


def loop(ledger: Ledger, run: str, thread: int) -> None:
    for t in work(run, thread):
        ledger.record(t)
        ack(t.idem_id)


def main() -> None:
    state_dir, run, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ledger = Ledger(state_dir)
    if len(sys.argv) > 4:
        earlier = work(sys.argv[4], 0)
        for _ in range(12):
            t = next(earlier)
            ledger.record(t)
            ack(t.idem_id)
    ack("ready")
    workers = [threading.Thread(target=loop, args=(ledger, run, n), daemon=True)
               for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
