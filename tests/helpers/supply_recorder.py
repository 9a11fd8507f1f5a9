"""A child process that installs supplies over and over and reports each acknowledgement.

Usage: python -m helpers.supply_recorder STATE_DIR RUN

Prints ``ready`` once the ledger is open and stocked, then, forever (until
killed), records a new ribbon in one of two printers (finishing the one in
it, in the same transaction) and prints the install's id once it is durable.
"""

from __future__ import annotations

import sys

from station_agent.ledger import Ledger, model, supplies

ITEM = "ribbon-ymcko"


def main(state_dir: str, run: str) -> None:
    with Ledger(state_dir) as ledger:
        ledger.record(model.supply_receive(ITEM, 1000, f"batch-{run}"))
        print("ready", flush=True)
        i = 0
        while True:
            printer = f"p{i % 2}"
            idem = f"install-{run}-{i}"
            transfers = ledger.read(lambda c, p=printer, k=idem, n=i: supplies.install_transfers(
                c, ITEM, p, k, counter=n))
            for result in ledger.record_many(transfers):
                if not isinstance(result, model.Entry):
                    raise result
            print(idem, flush=True)
            i += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
