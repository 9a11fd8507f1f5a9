"""Printer benchmarks over a real pty, each with a baseline measured in the same run.

Same JSON lines as :mod:`bench.ledger`.

* ``printer.poll_rtt`` (per family) — µs per status poll through the driver
  (``Printer.status()``: framing, resync, parsing, fault mapping, the
  reconnecting link) over a pty to the simulator; baseline: bare pyserial
  writing the very bytes the driver wrote for one poll and reading each reply
  up to its terminator (reading whatever has arrived, as a careful hand-written
  loop would), on the same pty. ``ratio`` = baseline_time /
  driver_time (1.0: the driver adds nothing). Target ≥ 0.5.
* ``printer.cards_per_hour`` (per family) — cards/hour the issuing workflow
  sustains against a zero-delay simulator over a pty, ledger included (every
  pick and completion committed durably); baseline: the same printer calls
  (status, counter, feed, counter, two panels, eject) through the driver with
  no workflow and no ledger. A real desktop printer does about 200/hour.

Both sides of each metric run interleaved, three rounds; medians reported.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import serial

from bench.ledger import emit
from drivers.printers import Panel, Printer, open_printer
from drivers.protocols import evolis as ev
from drivers.protocols import magicard as mc
from simulators.printers import build_simulator
from simulators.printers.serve import PtyServer
from station_agent.issuing.driven import COMPLETE, CardIssuer
from station_agent.ledger import Ledger, model

FAMILIES = ("evolis", "magicard")
REPLY_END = {"evolis": ev.CR, "magicard": mc.REPLY_END}
PANELS = (Panel("K", b"\x00\xff" * 64), Panel("O", b"\x01" * 16))
REAL_PRINTER_PER_HOUR = 200


def poll_bytes(printer: Printer) -> list[bytes]:
    """The writes one ``status()`` poll makes (recorded on a live driver)."""
    device = printer.link.device
    writes: list[bytes] = []
    original = device.write

    def record(data: bytes) -> None:
        writes.append(bytes(data))
        original(data)

    device.write = record  # type: ignore[method-assign]
    try:
        printer.status()
    finally:
        device.write = original  # type: ignore[method-assign]
    return writes


def driver_poll_us(printer: Printer, polls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(polls):
        printer.status()
    return (time.perf_counter() - t0) / polls * 1e6


def bare_poll_us(path: str, writes: list[bytes], end: bytes, polls: int) -> float:
    with serial.Serial(path, timeout=2) as port:
        t0 = time.perf_counter()
        for _ in range(polls):
            for data in writes:
                port.write(data)
                reply = b""
                while not reply.endswith(end):
                    chunk = port.read(max(1, port.in_waiting))
                    if not chunk:
                        raise RuntimeError("the simulator did not answer the baseline in time")
                    reply += chunk
        return (time.perf_counter() - t0) / polls * 1e6


def poll_rtt(family: str, polls: int) -> None:
    server = PtyServer(build_simulator(family)).start()
    try:
        probe = open_printer(server.url, family)
        probe.status()  # connect first: the serial-number check is not part of a poll
        writes = poll_bytes(probe)
        probe.close()
        ours, bare = [], []
        for _ in range(3):
            bare.append(bare_poll_us(server.path, writes, REPLY_END[family], polls))
            with open_printer(server.url, family) as printer:
                printer.status()  # connect (serial number check) outside the timing
                ours.append(driver_poll_us(printer, polls))
        o, b = statistics.median(ours), statistics.median(bare)
        emit("printer.poll_rtt", o, "us/poll", b, b / o, family=family, transport="pty",
             exchanges_per_poll=len(writes), polls=polls, target_ratio=0.5)
    finally:
        server.stop()


def _bare_card(printer: Printer) -> None:
    printer.status()
    printer.card_count()
    printer.feed()
    printer.card_count()
    for panel in PANELS:
        printer.print_panel(panel)
    printer.eject()


def cards_per_hour(family: str, cards: int, work: Path) -> None:
    server = PtyServer(build_simulator(family, cards=10 * cards, ribbon=100 * cards)).start()
    ours, bare = [], []
    try:
        with open_printer(server.url, family) as printer:
            for r in range(3):
                t0 = time.perf_counter()
                for _ in range(cards):
                    _bare_card(printer)
                bare.append(cards / (time.perf_counter() - t0) * 3600)

                state = work / f"{family}-{r}"
                with Ledger(state) as ledger:
                    ledger.record(model.receive(f"batch-{r}", 10 * cards))
                    issuer = CardIssuer(printer, ledger, f"{family}-1")
                    t0 = time.perf_counter()
                    for n in range(cards):
                        result = issuer.issue(f"job-{r}-{n}", PANELS)
                        if result.outcome != COMPLETE:
                            raise RuntimeError(f"card {n} not issued: {result}")
                    ours.append(cards / (time.perf_counter() - t0) * 3600)
                    if ledger.balances().issued != cards:
                        raise RuntimeError("the ledger does not show every card issued")
    finally:
        server.stop()
    o, b = statistics.median(ours), statistics.median(bare)
    emit("printer.cards_per_hour", o, "cards/h", b, o / b, family=family, transport="pty",
         cards=cards, real_printer_per_hour=REAL_PRINTER_PER_HOUR,
         times_real_printer=round(o / REAL_PRINTER_PER_HOUR))


def main(argv: Any = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.printer")
    ap.add_argument("--dir", help="directory for the ledgers (default: a temp dir)")
    ap.add_argument("--polls", type=int, default=2000)
    ap.add_argument("--cards", type=int, default=300)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="station-agent-bench-printer-", dir=args.dir))
    try:
        for family in FAMILIES:
            poll_rtt(family, args.polls)
        for family in FAMILIES:
            cards_per_hour(family, args.cards, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
