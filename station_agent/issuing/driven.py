"""Issuing a card, step by step, with every blank accounted for.

For one card: check the printer is ready -> pick a blank (ledger ``pick``,
with the printer's lifetime counter read before and after) -> optionally
park it at the contactless station and run the chip check -> print the
panels -> eject (``complete``) or reject (``reject`` with a reason; a chip
that fails its check: reason ``chip_failed``).

The printer's counter, not the reply to a command, decides whether a card
was picked: a failure before the pick consumes nothing; a card picked
despite an error reply is recorded and then rejected. A card that cannot be
rejected (jam, cover open, reject box full) stays ``in_printer`` and the job
is *stuck* until an operator resolves it (:meth:`CardIssuer.resolve`: card
removed -> ``reject`` reason ``jam``; card gone -> ``write_off``). Counter
reconciliation (DESIGN §3): picks on the printer's counter that no job
reported become a ``write_off`` reason ``unreported_pick`` and raise that
fault. The counter after each pick is stored in the pick's entry, so
reconciliation resumes exactly after a restart.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from drivers.printers.base import (
    AT_CONTACTLESS,
    AT_PRINT,
    CARD_JAM,
    RIBBON_OUT,
    Panel,
    Printer,
    PrinterError,
)
from station_agent.faults.board import FaultBoard
from station_agent.faults.codes import PRINTER_CONDITIONS
from station_agent.faults.reporter import FaultSink
from station_agent.ledger import Ledger, LedgerRefused, model
from station_agent.ledger.errors import StorageError
from station_agent.ledger.model import Entry


class Outcome(StrEnum):
    """How a job ended (equal to its string: results are JSON in the local API)."""

    #: Printed and ejected: ``complete`` recorded.
    COMPLETE = "complete"
    #: Spoiled and in the reject box: ``reject`` recorded.
    REJECT = "reject"
    #: The card is inside and cannot be rejected (jam, cover open, box full):
    #: it stays ``in_printer`` until an operator resolves the job.
    STUCK = "stuck"
    #: Nothing was picked (the printer or the reader was not ready).
    NOT_STARTED = "not_started"
    #: The printer went offline or the disk filled mid-job: :meth:`CardIssuer.recover`
    #: settles it from the printer's counter.
    PENDING = "pending"
    #: The picked card left the printer unseen: ``write_off`` recorded.
    WRITE_OFF = "write_off"


COMPLETE, REJECT, STUCK, NOT_STARTED, PENDING, WRITE_OFF = (
    Outcome.COMPLETE, Outcome.REJECT, Outcome.STUCK, Outcome.NOT_STARTED, Outcome.PENDING,
    Outcome.WRITE_OFF)
#: Reject reason of a blank whose chip failed its check.
CHIP_FAILED = "chip_failed"
#: Reject reason of a card found inside the printer after the agent restarted.
AGENT_RESTART = "agent_restart"
#: Fault of a job the ledger could not record (its file system is full).
DISK_FULL = "disk_full"
#: Reason of a result for a job the ledger already has (nothing was fed again).
REPLAY = "replay"
#: Fault of a job whose card left the printer while the agent was down.
JOB_UNRESOLVED = "job_unresolved"



class ChipCheck(Protocol):
    """The chip check hook (:class:`~station_agent.issuing.chipcheck.ChipChecker`):
    called with the card of ``job_id`` parked at the contactless station; a
    falsy answer spoils the blank (reason ``chip_failed``)."""

    def __call__(self, job_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class InFlight:
    """A job whose pick the printer or the disk kept us from recording: its
    counter before the pick decides, once the printer answers, whether it took
    a card."""

    job_id: str
    counter_before: int
    fault: str


@dataclass(frozen=True, slots=True)
class IssueResult:
    """How one job ended: ``outcome`` is complete / reject / stuck / not_started /
    pending (the printer went offline or the disk filled mid-job: settled by
    :meth:`CardIssuer.recover`)."""

    job_id: str
    outcome: str
    reason: str | None = None
    fault: str | None = None


class CardIssuer:
    """Issues cards on one printer and keeps the ledger exact."""

    def __init__(self, printer: Printer, ledger: Ledger, device_id: str, *,
                 faults: FaultSink | None = None,
                 chip_check: ChipCheck | Callable[[str], bool] | None = None,
                 retry_false_ribbon_end: bool = True) -> None:
        self.printer = printer
        self.ledger = ledger
        self.device = device_id
        self.faults: FaultSink = faults or FaultBoard()
        self.chip_check = chip_check
        self.retry_false_ribbon_end = retry_false_ribbon_end
        #: Held for the whole of a job, and by whatever else uses the printer
        #: (status polls, ``diag``, an operator settling a stuck card).
        self.lock = threading.Lock()
        self.stuck: dict[str, str] = {}          # job -> fault code keeping its card inside
        # (job, counter before, fault): a pick the printer or the disk kept us from recording
        self._in_flight: InFlight | None = None
        # outcomes done on the printer but not yet recorded (the disk was full)
        self._unrecorded: list[tuple[model.Transfer, IssueResult]] = []
        self._settled: dict[str, IssueResult] = {}       # in-flight jobs recovery settled
        self._mark: int | None = ledger.device_counter(device_id)

    # -- faults ------------------------------------------------------------------

    def _raise(self, code: str, detail: str) -> None:
        self.faults.raise_fault(self.device, code, detail)

    def _clear_absent(self, present: Sequence[str]) -> None:
        for code in PRINTER_CONDITIONS:
            if code not in present and not (code == CARD_JAM and self.stuck):
                self.faults.clear_fault(self.device, code)

    # -- counters ----------------------------------------------------------------

    def reconcile(self, counter: int) -> int:
        """Write off picks on the printer's counter that no job reported; returns how many.

        Not while a job is in flight: its pick moved the counter, and
        :meth:`recover` records it as that job's (the poller's periodic
        reconciliation would otherwise write the same card off as well)."""
        if self._in_flight is not None:
            return 0
        if self._mark is None or counter < self._mark:
            if self._mark is not None:
                self._raise("printer_replaced", f"the card counter went back from {self._mark} "
                                                f"to {counter}")
            self._mark = counter
            return 0
        n = counter - self._mark
        if n == 0:
            return 0
        transfer = model.write_off_stock(
            n, "unreported_pick", f"unreported:{self.device}:{self._mark}-{counter}",
            device=self.device, reference=f"counter={counter}")
        try:
            self.ledger.record(transfer)
        except LedgerRefused as exc:
            self._raise("unreported_pick", f"{n} card(s) picked outside the agent could not be "
                                           f"written off: {exc}")
            return 0
        self._raise("unreported_pick", f"the printer's counter shows {n} card(s) picked that "
                                       f"no job reported (counter {self._mark} -> {counter})")
        self._mark = counter
        return n

    def _counter(self) -> int:
        return self.printer.card_count()

    # -- the workflow --------------------------------------------------------------

    def issue(self, job_id: str, panels: Sequence[Panel]) -> IssueResult:
        """Issue one card for ``job_id``; see the module docstring."""
        blocked = self.recover()
        if job_id in self._settled:
            # The job was interrupted and recovery settled its card: a reprint is
            # a new card, so it needs a new job id.
            return self._settled.pop(job_id)
        known = self.ledger.job(job_id)
        if known is not None:
            # A replayed request (the application retried after a timeout, or
            # after the agent restarted): never feed a second card for one job.
            return self._replayed(job_id, known, blocked)
        if blocked is not None:
            return IssueResult(job_id, NOT_STARTED, fault=blocked)
        reader_fault = self._reader_fault()
        if reader_fault is not None:
            return IssueResult(job_id, NOT_STARTED, fault=reader_fault)
        try:
            status = self.printer.status()
        except PrinterError as exc:
            self._raise(exc.code, exc.message)
            return IssueResult(job_id, NOT_STARTED, fault=exc.code)
        if not status.ready:
            code = status.conditions[0] if status.conditions else (
                "card_jam" if status.card_at else "printer_protocol_error")
            self._clear_absent(status.conditions)
            detail = (f"printer not ready: {status.raw}" if status.conditions else
                      "a card nobody accounted for is inside the printer" if status.card_at
                      else "the printer is busy")
            self._raise(code, detail)
            return IssueResult(job_id, NOT_STARTED, fault=code)
        self._clear_absent(())
        try:
            before = self._counter()
        except PrinterError as exc:
            self._raise(exc.code, exc.message)
            return IssueResult(job_id, NOT_STARTED, fault=exc.code)
        self.reconcile(before)

        station = AT_CONTACTLESS if (self.chip_check and self.printer.can_park) else AT_PRINT
        feed_error: PrinterError | None = None
        try:
            self.printer.feed(station)
        except PrinterError as exc:
            feed_error = exc
        try:
            after = self._counter()
        except PrinterError as exc:
            # Cannot tell whether the card was picked: settle it when the printer is back.
            self._in_flight = InFlight(job_id, before, exc.code)
            self._raise(exc.code, f"job {job_id}: {exc.message}")
            return IssueResult(job_id, PENDING, fault=exc.code)
        if after == before:
            code = feed_error.code if feed_error else "printer_protocol_error"
            self._raise(code, feed_error.message if feed_error else
                        "the printer acknowledged the pick but its counter did not move")
            return IssueResult(job_id, NOT_STARTED, fault=code)
        try:
            self._record_pick(job_id, before, after)
        except StorageError as exc:
            # The card is in the printer and the ledger cannot say so yet: hold
            # the job; recovery records the pick and rejects the card later.
            self._in_flight = InFlight(job_id, before, DISK_FULL)
            self._raise(DISK_FULL, f"job {job_id}: the pick could not be recorded: {exc}")
            return IssueResult(job_id, PENDING, fault=DISK_FULL)
        if feed_error is not None:
            return self._spoil(job_id, feed_error.code)

        if self.chip_check is not None:
            try:
                ok = bool(self.chip_check(job_id))
            except Exception as exc:  # the reader itself failed (service down, unplugged)
                code = getattr(exc, "code", None) or "chip_unreadable"
                self._raise(code, f"job {job_id}: no chip check possible: {exc}")
                return self._spoil(job_id, code)
            if not ok:
                return self._spoil(job_id, CHIP_FAILED)

        for panel in panels:
            failure = self._print_panel(panel)
            if failure is not None:
                return self._spoil(job_id, failure.code)
        try:
            self.printer.eject()
        except PrinterError as exc:
            if not self._card_inside():
                return self._complete(job_id)
            return self._spoil(job_id, exc.code)
        return self._complete(job_id)

    def _reader_fault(self) -> str | None:
        """A chip checker that can tell (``ready()``) it cannot check now blocks the
        job before a blank is picked: a reader outage must not spoil blanks."""
        ready = getattr(self.chip_check, "ready", None)
        return ready() if callable(ready) else None

    def _record_pick(self, job_id: str, before: int, after: int) -> None:
        self.ledger.record(model.pick(job_id, device=self.device,
                                      reference=f"counter={before + 1}"))
        self._mark = before + 1
        if after > before + 1:
            self.reconcile(after)

    def _print_panel(self, panel: Panel) -> PrinterError | None:
        try:
            self.printer.print_panel(panel)
            return None
        except PrinterError as exc:
            if not (exc.code == RIBBON_OUT and self.retry_false_ribbon_end):
                return exc
            failure = exc
        # Printers report "ribbon ended" with ribbon left; clear once and retry.
        try:
            if (self.printer.counters().ribbon_remaining or 0) <= 0:
                return failure
            self.printer.clear()
            self.printer.print_panel(panel)
            return None
        except PrinterError as exc:
            return exc

    def _card_inside(self) -> bool:
        try:
            return self.printer.status().card_at is not None
        except PrinterError:
            return True

    def _outcome(self, transfer: model.Transfer, result: IssueResult) -> IssueResult:
        """Record the outcome the printer already carried out; when the disk is full
        keep it for :meth:`recover` and answer PENDING (nothing is acknowledged)."""
        try:
            self.ledger.record(transfer)
        except StorageError as exc:
            self._unrecorded.append((transfer, result))
            self._raise(DISK_FULL, f"job {result.job_id}: its {transfer.kind} could not be "
                                   f"recorded: {exc}")
            return IssueResult(result.job_id, PENDING, fault=DISK_FULL)
        return result

    def _complete(self, job_id: str) -> IssueResult:
        return self._outcome(model.complete(job_id, device=self.device),
                             IssueResult(job_id, COMPLETE))

    def _spoil(self, job_id: str, reason: str) -> IssueResult:
        """Reject the card of ``job_id``; if it cannot leave, the job is stuck."""
        with contextlib.suppress(PrinterError):
            self.printer.clear()
        try:
            self.printer.reject()
        except PrinterError as exc:
            code = exc.code
            if code == "printer_protocol_error" and not self._card_inside():
                # The reply was garbage but the card left: it went to the reject box.
                return self._outcome(model.reject(job_id, reason, device=self.device),
                                     IssueResult(job_id, REJECT, reason=reason))
            self.stuck[job_id] = code
            self._raise(code, f"job {job_id}: the card is still inside the printer ({reason})")
            return IssueResult(job_id, STUCK, reason=reason, fault=code)
        if reason in PRINTER_CONDITIONS:
            self._raise(reason, f"job {job_id}: card rejected")
        return self._outcome(model.reject(job_id, reason, device=self.device),
                             IssueResult(job_id, REJECT, reason=reason))

    # -- recovery and operator actions --------------------------------------------

    def _replayed(self, job_id: str, known: tuple[int, str | None],
                  blocked: str | None) -> IssueResult:
        _pick_seq, outcome = known
        if outcome == model.COMPLETE:
            return IssueResult(job_id, COMPLETE, reason=REPLAY)
        if outcome is not None:   # reject or write_off
            return IssueResult(job_id, REJECT if outcome == model.REJECT else outcome,
                               reason=REPLAY)
        if job_id in self.stuck:
            return IssueResult(job_id, STUCK, reason=REPLAY, fault=self.stuck[job_id])
        # Picked, no outcome yet: in progress, or held until recovery can record it.
        return IssueResult(job_id, PENDING, reason=REPLAY, fault=blocked)

    def recover(self) -> str | None:
        """Settle what an outage, a full disk or a stuck card left open; returns the
        fault code that still blocks issuing, or None."""
        while self._unrecorded:
            transfer, result = self._unrecorded[0]
            try:
                self.ledger.record(transfer)
            except StorageError:
                return DISK_FULL
            self._unrecorded.pop(0)
            self._settled[result.job_id] = result
        if self._in_flight is not None:
            job_id, before, code = (self._in_flight.job_id, self._in_flight.counter_before,
                                    self._in_flight.fault)
            try:
                after = self._counter()
            except PrinterError as exc:
                return exc.code
            if after > before:
                self._in_flight = None   # (reconcile works again: picks beyond this one)
                try:
                    self._record_pick(job_id, before, after)
                except StorageError:
                    self._in_flight = InFlight(job_id, before, code)
                    return DISK_FULL
                if self._card_inside():
                    self._settled[job_id] = self._spoil(job_id, code)
                else:
                    reason = f"{code.replace('_', ' ')} mid-job; card not found"
                    self._settled[job_id] = self._outcome(
                        model.write_off_job(job_id, reason, device=self.device),
                        IssueResult(job_id, WRITE_OFF, reason=reason))
            self._in_flight = None
            self.faults.clear_fault(self.device, code)
        if not self._unrecorded:
            self.faults.clear_fault(self.device, DISK_FULL)
        if self.stuck:
            self.retry_stuck()
        if self.stuck:
            return next(iter(self.stuck.values()))
        if self._unrecorded:   # a card left that could not be recorded: no new card yet
            return DISK_FULL
        return None

    def recover_after_restart(self, open_jobs: Sequence[str]) -> list[str]:
        """Settle what a previous run of the agent left (killed, power lost).

        ``open_jobs``: this printer's jobs with a pick and no outcome, oldest
        first. A card inside is rejected (reason :data:`AGENT_RESTART`): if the
        printer's counter is past the last recorded pick it was picked and never
        recorded, so it is recorded under a ``recovered:`` job first; otherwise
        it is the newest open job's card.
        Open jobs whose card has left cannot be settled here: they are kept
        stuck (``job_unresolved``) for an operator and returned.
        """
        jobs = list(open_jobs)
        status = self.printer.status()
        counter = self._counter()
        if status.card_at is not None:
            if self._mark is not None and counter > self._mark:
                # The card inside was picked after the last recorded pick: it is
                # the last one picked; any before it nobody saw.
                self.reconcile(counter - 1)
                job = f"recovered:{self.device}:{counter}"
                self._record_pick(job, counter - 1, counter)
                self._spoil(job, AGENT_RESTART)
            elif jobs:
                self._spoil(jobs.pop(), AGENT_RESTART)
        for job in jobs:
            self.stuck[job] = JOB_UNRESOLVED
            self._raise(JOB_UNRESOLVED, f"job {job}: picked before the agent restarted, the "
                                        "card is no longer in the printer")
        self.reconcile(self._counter())
        return jobs

    def retry_stuck(self) -> None:
        """Try again to reject stuck cards (after the cover was closed, the box emptied)."""
        for job_id, code in list(self.stuck.items()):
            if code in (CARD_JAM, JOB_UNRESOLVED):
                # Only the operator can take a jammed card out, or say where a card
                # went that left while the agent was down.
                continue
            try:
                self.printer.clear()
                # Reject only a card the printer holds: some families (Magicard's
                # reset) answer OK with nothing inside, which is no rejection.
                if self.printer.status().card_at is None:
                    continue
                self.printer.reject()
            except PrinterError:
                continue
            del self.stuck[job_id]
            # The card is in the reject box now: record it, or hold the record
            # for recover() when the disk is full.
            self._outcome(model.reject(job_id, code, device=self.device),
                          IssueResult(job_id, REJECT, reason=code))
            self.faults.clear_fault(self.device, code)

    def resolve(self, job_id: str, *, removed: bool) -> None:
        """The operator dealt with the stuck card of ``job_id``: took it out
        (``removed``: kept as spoiled, reason ``jam``) or could not find it
        (written off)."""
        if removed:
            transfer = model.reject(job_id, "jam", device=self.device)
        else:
            transfer = model.write_off_job(job_id, "jam: card not found", device=self.device)
        self.settle_stuck(transfer)
        with contextlib.suppress(PrinterError):
            self.printer.clear()

    def settle_stuck(self, transfer: model.Transfer) -> Entry:
        """Record the operator's outcome (``transfer``) of a job stuck on this printer,
        then release the job and clear its fault when no other job is stuck on
        it. Called with :attr:`lock` held, or while no job runs."""
        job_id = transfer.job_id
        code = self.stuck.get(job_id or "")
        if job_id is None or code is None:
            raise KeyError(f"job {job_id} has no card stuck in {self.device}")
        entry = self.ledger.record(replace(transfer, device=self.device))
        del self.stuck[job_id]   # only once recorded: a failed record leaves it stuck
        if code not in self.stuck.values():
            self.faults.clear_fault(self.device, code)
        return entry
