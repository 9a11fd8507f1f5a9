"""The devices a daemon drives: one :class:`PrinterUnit` per printer it speaks to,
one :class:`ReaderUnit` per reader, each with its poller.

A poll publishes what it saw as conditions (with hysteresis on the fault
board); a printer unit also runs counter reconciliation and, after a
restart, settles what the previous run left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from drivers.printers import Counters, PrinterError, open_printer
from drivers.readers import ReaderError, open_reader
from station_agent.config import PrinterConfig, ReaderConfig
from station_agent.daemon.pollers import Poller
from station_agent.faults.codes import PRINTER_CONDITIONS, READER_CONDITIONS
from station_agent.faults.reporter import FaultSink
from station_agent.issuing.chipcheck import ChipChecker
from station_agent.issuing.driven import CardIssuer
from station_agent.ledger import Ledger

#: Seconds between counter reconciliations of an idle printer.
RECONCILE_S = 30.0
#: Polls between reads of an idle printer's counters (cards, ribbon left).
COUNTERS_EVERY = 10

OnError = Callable[[BaseException], None]


class PrinterUnit:
    """One configured printer: driver, issuer and poller. The issuer's lock
    (``issuer.lock``) is held by a job, a poll, ``diag`` and an operator settling
    a stuck card."""

    def __init__(self, cfg: PrinterConfig, ledger: Ledger, faults: FaultSink,
                 chip_check: ChipChecker | None, open_jobs: Callable[[str], list[str]],
                 on_error: OnError,
                 on_counters: Callable[[str, Counters, tuple[str, ...]], None] | None = None
                 ) -> None:
        self.cfg, self.id, self.faults, self.open_jobs = cfg, cfg.id, faults, open_jobs
        self.on_counters = on_counters
        #: The printer's counters as last read (None before the first read).
        self.counters: Counters | None = None
        self.printer = open_printer(cfg.url, cfg.family, timeout=2.0)
        self.issuer = CardIssuer(self.printer, ledger, cfg.id, faults=faults,
                                 chip_check=chip_check)
        self.recovered = False
        self.online: bool | None = None
        self.conditions: tuple[str, ...] = ()
        self.card_at: str | None = None
        self.last_error = ""
        self.polls = 0
        self._last_reconcile = 0.0
        self.poller = Poller(f"poll-{cfg.id}", cfg.poll_interval, self.poll, on_error)

    def _observe(self, code: str, bad: bool, detail: str = "") -> None:
        if not bad and code in self.issuer.stuck.values():
            return   # a card still stuck keeps its fault until the job is resolved
        self.faults.observe(self.id, code, bad, detail)

    def poll(self) -> None:
        """One status poll (skipped while a job runs: the job reports its own faults)."""
        if not self.issuer.lock.acquire(blocking=False):
            return
        try:
            self.polls += 1
            try:
                if not self.recovered:
                    self.recover_after_restart()
                status = self.printer.status()
            except PrinterError as exc:
                self.online = exc.code not in ("printer_offline", "printer_replaced")
                self.last_error = exc.message
                if exc.code in PRINTER_CONDITIONS:
                    self._observe(exc.code, True, exc.message)
                return
            self.online, self.last_error = True, ""
            changed = status.conditions != self.conditions
            self.conditions, self.card_at = status.conditions, status.card_at
            for code in PRINTER_CONDITIONS:
                self._observe(code, code in status.conditions, f"printer reports {status.raw}")
            if changed or (self.polls - 1) % COUNTERS_EVERY == 0:
                # Also whenever the printer's conditions change: a ribbon that ended
                # and one put in between two regular reads are both seen.
                self.read_counters()
            now = time.monotonic()
            if now - self._last_reconcile >= RECONCILE_S:
                self._last_reconcile = now
                self.issuer.reconcile(self.printer.card_count())
        finally:
            self.issuer.lock.release()

    def read_counters(self) -> None:
        """Read the printer's counters (with the issuer's lock held) and pass them on."""
        try:
            self.counters = self.printer.counters()
        except PrinterError as exc:
            self.last_error = exc.message
            return
        if self.on_counters is not None:
            self.on_counters(self.id, self.counters, self.conditions)

    def recover_after_restart(self) -> None:
        """Settle what the previous run left (see :meth:`CardIssuer.recover_after_restart`)."""
        self.issuer.recover_after_restart(self.open_jobs(self.id))
        self._last_reconcile = time.monotonic()
        self.recovered = True

    def close(self) -> None:
        self.printer.close()

    def as_dict(self) -> dict[str, Any]:
        """The device's entry in the status document."""
        return {"id": self.id, "kind": "printer", "url": self.cfg.url,
                "family": self.printer.family, "online": self.online,
                "conditions": list(self.conditions), "card_at": self.card_at,
                "stuck_jobs": sorted(self.issuer.stuck), "error": self.last_error or None,
                "ribbon_left": None if self.counters is None else self.counters.ribbon_remaining}


class ReaderUnit:
    """One configured reader: adapter, chip checker and poller."""

    def __init__(self, cfg: ReaderConfig, faults: FaultSink, interval: float,
                 on_error: OnError) -> None:
        self.cfg, self.id, self.faults = cfg, cfg.id, faults
        self.reader = open_reader(cfg.url, cfg.policy())
        self.checker = ChipChecker(self.reader, faults, cfg.id)
        self.online: bool | None = None
        self.last_error = ""
        self.poller = Poller(f"poll-{cfg.id}", interval, self.poll, on_error)

    def poll(self) -> None:
        """Is the reader there (and the PC/SC service up)?"""
        try:
            self.reader.name()
        except ReaderError as exc:
            self.online, self.last_error = False, exc.message
            for code in READER_CONDITIONS:
                self.faults.observe(self.id, code, code == exc.code, exc.message)
            return
        self.online, self.last_error = True, ""
        for code in READER_CONDITIONS:
            self.faults.observe(self.id, code, False)

    def close(self) -> None:
        self.reader.close()

    def as_dict(self) -> dict[str, Any]:
        """The device's entry in the status document."""
        return {"id": self.id, "kind": "reader", "url": self.cfg.url,
                "printer": self.cfg.printer, "online": self.online,
                "error": self.last_error or None}
