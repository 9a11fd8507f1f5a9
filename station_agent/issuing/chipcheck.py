"""The chip check of the issuing workflow, on any reader adapter.

:class:`ChipChecker` is the ``chip_check`` hook of
:class:`~station_agent.issuing.driven.CardIssuer`: called with the card parked in
the reader's field, it returns the reader's verdict (falsy: the blank is
rejected with reason ``chip_failed``). It keeps the reader's fault picture:
``pcsc_service_down`` / ``reader_missing`` raised when the reader cannot be
used and cleared when it is back (``ready()`` is asked before each blank is
picked, so an outage blocks issuing instead of spoiling blanks), and
``chip_unreadable`` when ``alarm_after`` chips in a row failed (a reader or
antenna problem, or a bad batch, rather than one bad blank), cleared by the
next good chip.
"""

from __future__ import annotations

from typing import Any

from station_agent.faults.codes import READER_CONDITIONS
from station_agent.faults.reporter import FaultSink


class ChipChecker:
    """Chip checks on ``reader`` for the printer ``device``'s encoder station."""

    def __init__(self, reader: Any, faults: FaultSink, source: str, *,
                 timeout: float = 2.0, alarm_after: int = 3) -> None:
        self.reader = reader
        self.faults = faults
        self.source = source
        self.timeout = timeout
        self.alarm_after = alarm_after
        self.failed_in_a_row = 0
        self.verdicts: list[Any] = []

    def ready(self) -> str | None:
        """``None`` when the reader can check a chip now, else the fault code raised."""
        from drivers.readers.base import ReaderError

        try:
            self.reader.name()
        except ReaderError as exc:
            self._reader_fault(exc)
            return exc.code
        for code in READER_CONDITIONS:
            self.faults.clear_fault(self.source, code)
        return None

    def _reader_fault(self, exc: Any) -> None:
        for code in READER_CONDITIONS:
            if code != exc.code:
                self.faults.clear_fault(self.source, code)
        self.faults.raise_fault(self.source, exc.code, exc.message)

    def __call__(self, job_id: str) -> Any:
        from drivers.readers.base import ReaderError

        try:
            verdict = self.reader.check(self.timeout)
        except ReaderError as exc:
            self._reader_fault(exc)
            raise
        self.verdicts.append(verdict)
        if verdict:
            self.failed_in_a_row = 0
            self.faults.clear_fault(self.source, "chip_unreadable")
        else:
            self.failed_in_a_row += 1
            if self.failed_in_a_row >= self.alarm_after:
                self.faults.raise_fault(self.source, "chip_unreadable",
                                        f"{self.failed_in_a_row} chips in a row failed; last: "
                                        f"job {job_id}: {verdict.reason}")
        return verdict
