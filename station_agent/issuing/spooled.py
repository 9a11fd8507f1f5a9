"""The spooler as a job source: journal records to ledger transfers, and
cupsd's view of every configured queue to faults (DESIGN §8).

:meth:`SpoolerSource.ingest` reads the journal the ``station`` backend writes
(:mod:`.journal`) and turns each finished attempt into ledger transfers:

- cards picked: the printer's counter delta when it was read before and
  after (``counter_verified``), else the job's copies x ``cards_per_copy``
  when the real backend succeeded and none when it failed;
- each card is its own ledger job ``<job>/<attempt>.<n>``: pick, then
  complete; the last card of a failed attempt is rejected (category
  ``jam`` for a media jam, ``print_defect`` otherwise) when the printer shows
  it failed, or left open (``job_unresolved``) when nothing says what became
  of it; an attempt CUPS started again after the backend died leaves the
  cards its counter moved open for the operator;
- a printer that answered exit 0 but reports a jam or a card still inside
  after the job: the printer wins over the exit code;
- picks on the counter between jobs that no job explains are written off as
  ``unreported_pick``, as for driven printers.

Ingestion is idempotent (deterministic idempotency ids, job log upserts):
records are deleted only after the ledger holds them, and a record read
again after a crash changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from station_agent import clock
from station_agent.config import Config, PrinterConfig
from station_agent.faults.codes import INFO
from station_agent.faults.reporter import FaultSink
from station_agent.ledger import Ledger, LedgerRefused, joblog, model
from station_agent.spooler import journal
from station_agent.spooler.cups import Cups, CupsError, Queue
from station_agent.spooler.reasons import REASON_FAULTS, faults_for, spoil_category

#: Source of spooler-wide faults.
SPOOLER = "spooler"
#: Seconds after which an attempt with no end is checked against cupsd.
STALE_S = 5.0
_JAM_LIKE = ("media-jam", "cover-open", "door-open", "marker-supply-empty",
             "com.station-agent-head-overheat")


@dataclass
class _Plan:
    """What one attempt did to the blanks."""

    picked: int
    verified: bool
    completes: int
    last: str   # "complete", "reject", "open" (the last card's fate), or "" if none picked
    category: str | None
    state: str


def _failed_reasons(reasons: list[str]) -> list[str]:
    return [r for r in reasons if not r.endswith("-report") and
            any(r.startswith(k) for k in _JAM_LIKE)]


def plan_attempt(start: journal.StartRecord, end: journal.EndRecord | None,
                 next_before: int | None) -> _Plan:
    """Decide the transfers of one attempt (pure; see the module docstring).

    ``next_before`` is the printer's counter at the next reading after this
    attempt (the next attempt or job on the same printer), for an attempt
    whose own reading after the job is missing."""
    if end is None:
        # CUPS ran the job again: this attempt's backend died mid-job.
        if start.counter_before is not None and next_before is not None \
                and next_before >= start.counter_before:
            n = next_before - start.counter_before
            return _Plan(n, True, 0, "open" if n else "", None, "interrupted")
        return _Plan(0, False, 0, "", None, "interrupted")
    after = end.counter_after if end.counter_after is not None else next_before
    verified = (start.counter_before is not None and after is not None
                and after >= start.counter_before)
    failed_by_printer = end.card_inside or bool(_failed_reasons(end.reasons))
    if verified:
        assert start.counter_before is not None and after is not None
        n = after - start.counter_before
    else:
        # Without a counter, an exit code of 0 is the only evidence, unless the
        # real backend reported an error (CUPS' ipp backend exits 0 after the
        # printer refused the document): then nothing is known to be printed.
        printed = end.exit_code == 0 and not failed_by_printer and not end.errors
        n = start.cards if printed else 0
    if n == 0:
        ok = end.exit_code == 0 and not failed_by_printer and (verified or not end.errors)
        return _Plan(0, verified, 0, "", None, "completed" if ok else "failed")
    if end.exit_code == 0 and not failed_by_printer:
        return _Plan(n, verified, n, "complete", None, "completed")
    if failed_by_printer:
        return _Plan(n, verified, n - 1, "reject", spoil_category(end.reasons), "failed")
    return _Plan(n, verified, n - 1, "open", None, "unresolved")


class SpoolerSource:
    """Spooled card jobs of the configured queues, and their queues' state."""

    def __init__(self, config: Config, state_dir: Path, ledger: Ledger, board: FaultSink,
                 *, on_error: Callable[[str], None] | None = None) -> None:
        self.config, self.ledger, self.board = config, ledger, board
        self.directory = journal.journal_dir(state_dir)
        self.printers = {p.id: p for p in config.printers if p.queue}
        self.cups = Cups(config.cups_server, timeout=3.0)
        self.queues: dict[str, Queue | None] = {}
        self._vendor_codes: dict[str, set[str]] = {}
        self.on_error = on_error or (lambda _msg: None)
        self._reported: set[str] = set()

    # -- the journal ----------------------------------------------------------------

    def ingest(self) -> int:
        """Ingest every finished attempt in the journal, oldest first; returns how many."""
        jobs, problems = journal.read_attempts(self.directory)
        for p in problems:
            if p not in self._reported:
                self._reported.add(p)
                self.on_error(f"spooler journal: {p}")
        flat: list[tuple[journal.Attempt, journal.Attempt | None]] = []
        for attempts in jobs.values():
            for i, att in enumerate(attempts):
                flat.append((att, attempts[i + 1] if i + 1 < len(attempts) else None))
        flat.sort(key=lambda pair: (pair[0].start.at, pair[0].start.job, pair[0].start.attempt))
        done = 0
        # A printer with an attempt still unsettled holds back its later attempts:
        # their first counter reading may be what settles it.
        held: set[str] = set()
        for idx, (att, retry) in enumerate(flat):
            s, e = att.start, att.end
            if s.printer is not None and s.printer in held:
                self._note_started(s)
                continue
            next_before: int | None = None
            if e is None and retry is not None:
                next_before = retry.start.counter_before
            elif e is None:
                # No end and no retry. CUPS prints one job of a queue at a time,
                # so a later attempt on the same printer means this backend died;
                # so does cupsd calling the job over (a backend killed with SIGKILL
                # is "completed" to cupsd). The next reading says what it took.
                next_before = self._next_reading(flat[idx + 1:], s)
                if next_before is None:
                    ended = self._ended_in_cups(s)
                    if not ended or s.counter_before is not None:
                        self._hold(s, held, "awaiting_counter" if ended else "printing")
                        continue
            elif e.counter_after is None and s.counter_before is not None and s.printer:
                # The printer did not answer after the job (it dropped the
                # connection): the next reading on the same printer says how
                # many cards this job took. Wait for one.
                next_before = self._next_reading(flat[idx + 1:], s)
                if next_before is None:
                    self._hold(s, held, "awaiting_counter")
                    continue
            self._apply(att, next_before)
            journal.remove(att.files)
            done += 1
        return done

    def _hold(self, s: journal.StartRecord, held: set[str], state: str) -> None:
        self._note_started(s, state=state)
        if s.printer is not None:
            held.add(s.printer)

    @staticmethod
    def _next_reading(later: list[tuple[journal.Attempt, journal.Attempt | None]],
                      s: journal.StartRecord) -> int | None:
        """The printer's counter at the first later attempt on the same printer."""
        return next((a.start.counter_before for a, _ in later
                     if a.start.printer == s.printer and s.printer is not None
                     and a.start.counter_before is not None), None)

    def _ended_in_cups(self, s: journal.StartRecord) -> bool:
        """Whether cupsd says the job of an attempt with no end is over (its backend
        died) - asked only once the attempt is older than :data:`STALE_S`."""
        try:
            started = datetime.fromisoformat(s.at.replace("Z", "+00:00"))
        except ValueError:
            return False
        if (clock.wall_now() - started).total_seconds() < STALE_S:
            return False
        try:
            state, uuid = self.cups.job_state(s.cups_job)
        except CupsError:
            return False
        if state is None or not uuid.startswith(s.job.rsplit(":", 1)[-1]):
            return True   # cupsd no longer has this job (its number went to another)
        return state not in ("pending", "held", "processing", "stopped")

    def _note_started(self, s: journal.StartRecord, state: str = "printing") -> None:
        def note(c: Any) -> None:
            joblog.note(c, s.job, joblog.SPOOLER, printer=s.printer, queue=s.queue,
                        cards=s.cards, state=state, created_at=s.at)
            if state != "printing":
                joblog.update(c, s.job, state=state)
        self.ledger.write(note)

    def _apply(self, att: journal.Attempt, next_before: int | None) -> None:
        s, e = att.start, att.end
        self._note_started(s)
        row = self.ledger.read(lambda c: joblog.get(c, s.job)) or {}
        device = s.printer or SPOOLER
        plan = plan_attempt(s, e, next_before)
        if plan.verified and s.printer is not None and s.counter_before is not None:
            self._write_off_unexplained(s.printer, s.counter_before)
        fault_detail = ""
        for k in range(1, plan.picked + 1):
            card = f"{s.job}/{s.attempt}.{k}"
            ref = f"counter={s.counter_before + k}" if plan.verified and \
                s.counter_before is not None else None
            self._record(model.pick(card, device=device, reference=ref))
            if k <= plan.completes:
                self._record(model.complete(card, device=device))
            elif plan.last == "reject":
                self._record(model.reject(card, _reason_text(e), category=plan.category,
                                          device=device))
            else:
                fault_detail = (f"job {s.job}: {plan.picked - plan.completes} card(s) with no "
                                "known fate")
        if fault_detail:
            self.board.raise_fault(s.printer or SPOOLER, "job_unresolved", fault_detail)
        if row.get("attempts", 0) < s.attempt:
            detail = {"exit": e.exit_code if e else None,
                      "reasons": e.reasons if e else [], "attempt": s.attempt}
            picked = int(row.get("picked", 0)) + plan.picked
            self.ledger.write(lambda c: joblog.update(
                c, s.job, picked=picked, attempts=s.attempt, cards=max(picked, s.cards),
                state=plan.state, ended_at=e.at if e else None,
                counter_verified=int(plan.verified),
                detail=json.dumps(detail, separators=(",", ":"))))

    def _record(self, t: model.Transfer) -> None:
        try:
            self.ledger.record(t)
        except LedgerRefused as exc:
            # A refusal is the ledger's rule holding (e.g. stock at zero): the
            # job stays visible in the job log; say why once.
            self.on_error(f"spooler job not recorded: {exc}")

    def _write_off_unexplained(self, printer: str, counter_before: int) -> None:
        noted = self.ledger.device_counter(printer)
        if noted is None or counter_before <= noted:
            return
        n = counter_before - noted
        self._record(model.write_off_stock(
            n, "unreported_pick", f"unreported:{printer}:{noted}-{counter_before}",
            device=printer, reference=f"counter={counter_before}"))
        self.board.raise_fault(printer, "unreported_pick",
                               f"the printer's counter shows {n} card(s) picked that no job "
                               f"reported (counter {noted} -> {counter_before})")

    # -- queue state over IPP --------------------------------------------------------

    def poll_queues(self) -> None:
        """Read every configured queue from cupsd and observe its faults."""
        if not self.printers:
            return
        try:
            queues = {q.name: q for q in self.cups.queues()}
        except CupsError as exc:
            self.board.observe(SPOOLER, "spooler_down", True, str(exc))
            for pid in self.printers:
                self.queues[pid] = None
            return
        self.board.observe(SPOOLER, "spooler_down", False)
        for pid, pc in self.printers.items():
            self._observe_queue(pid, pc, queues.get(pc.queue or ""))

    def _observe_queue(self, pid: str, pc: PrinterConfig, q: Queue | None) -> None:
        self.queues[pid] = q
        if q is None:
            self.board.observe(pid, "queue_missing", True,
                               f"CUPS has no queue {pc.queue!r}: add it (lpadmin) or fix "
                               "[[printer]] queue")
            return
        self.board.observe(pid, "queue_missing", False)
        faults = faults_for(q.reasons)
        for code in sorted({*REASON_FAULTS.values()}):
            self.board.observe(pid, code, code in faults,
                               f"CUPS reports {faults.get(code, '')} on queue {q.name}")
        vendor = {c for c in faults if c.startswith("printer_reason_")}
        for code in vendor | self._vendor_codes.get(pid, set()):
            if code in vendor and not self.board.is_active(pid, code):
                self.board.raise_fault(pid, code, f"CUPS reports {faults[code]} on queue "
                                                  f"{q.name}", severity=INFO)
            elif code not in vendor:
                self.board.clear_fault(pid, code)
        self._vendor_codes[pid] = vendor
        stopped = q.state == "stopped"
        self.board.observe(pid, "queue_stopped", stopped,
                           f"queue {q.name} is stopped" + (f": {q.message}" if q.message
                                                           else ""))

    def queue_info(self, pid: str) -> dict[str, Any] | None:
        q = self.queues.get(pid)
        return None if q is None else q.as_dict()


def _reason_text(e: journal.EndRecord | None) -> str | None:
    if e is None:
        return None
    bad = _failed_reasons(e.reasons)
    return ("printer reported " + ", ".join(bad))[:200] if bad else (
        "card left inside the printer" if e.card_inside else None)
