"""Record a fixed set of transfers from several threads, then exit.

Usage: python -m helpers.burst STATE_DIR PREFIX THREADS CYCLES

Each thread t runs CYCLES cycles: receive 2 blanks (batch PREFIX-t-i), pick
and complete one job, pick and reject another. The same PREFIX in two
processes means the same ids: the ledger must record each once.
Prints ``new=N replay=M`` when done.
"""

from __future__ import annotations

import sys
import threading

from station_agent.ledger import Ledger, model


def transfers(prefix: str, thread: int, cycles: int) -> list[model.Transfer]:
    out: list[model.Transfer] = []
    for i in range(cycles):
        tag = f"{prefix}-{thread}-{i}"
        out += [
            model.receive(f"b-{tag}", 2),
            model.pick(f"j-{tag}-a"),
            model.complete(f"j-{tag}-a"),
            model.pick(f"j-{tag}-b"),
            model.reject(f"j-{tag}-b", "print_defect"),
        ]
    return out


def main() -> None:
    state_dir, prefix, threads, cycles = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        int(sys.argv[4])
    counts = {"new": 0, "replay": 0}
    lock = threading.Lock()

    def run(n: int) -> None:
        for t in transfers(prefix, n, cycles):
            e = ledger.record(t)
            with lock:
                counts["replay" if e.replay else "new"] += 1

    with Ledger(state_dir) as ledger:
        workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    print(f"new={counts['new']} replay={counts['replay']}")


if __name__ == "__main__":
    main()
