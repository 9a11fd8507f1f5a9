"""What a producer of faults holds: a :class:`FaultReporter` turns each report into
an :class:`~station_agent.events.Event` on the bus, and reads the board.

A printer poll, the card issuer, the chip checker, the network watch and the
spooler source report through one; the :class:`~station_agent.faults.board.FaultBoard`
subscribed to the bus applies hysteresis and keeps the active faults. A
:class:`FaultBoard` itself has the same methods, so a unit test may hand one
straight to a producer (:class:`FaultSink`).
"""

from __future__ import annotations

from typing import Protocol

from station_agent.events import CONDITION, FAULT_CLEARED, FAULT_RAISED, Bus
from station_agent.faults.board import Fault, FaultBoard


class FaultSink(Protocol):
    """Where a producer reports conditions and faults."""

    def observe(self, source: str, code: str, bad: bool, detail: str = "", *,
                raise_after: int | None = None, clear_after: int | None = None) -> None: ...

    def raise_fault(self, source: str, code: str, detail: str = "",
                    severity: str | None = None) -> object: ...

    def clear_fault(self, source: str, code: str) -> object: ...

    def is_active(self, source: str, code: str) -> bool: ...

    def active(self, source: str | None = None) -> list[Fault]: ...


class FaultReporter:
    """Reports as events on ``bus``; questions answered by ``board``."""

    def __init__(self, bus: Bus, board: FaultBoard) -> None:
        self.bus, self.board = bus, board

    def observe(self, source: str, code: str, bad: bool, detail: str = "", *,
                raise_after: int | None = None, clear_after: int | None = None) -> None:
        """One poll's verdict on condition ``code`` (the board applies hysteresis)."""
        self.bus.emit(source, CONDITION, code=code, bad=bad, detail=detail,
                      raise_after=raise_after, clear_after=clear_after)

    def raise_fault(self, source: str, code: str, detail: str = "",
                    severity: str | None = None) -> None:
        """Something that raises ``code`` at once."""
        self.bus.emit(source, FAULT_RAISED, code=code, detail=detail, severity=severity)

    def clear_fault(self, source: str, code: str) -> None:
        """Something that clears ``code`` at once."""
        self.bus.emit(source, FAULT_CLEARED, code=code)

    def is_active(self, source: str, code: str) -> bool:
        return self.board.is_active(source, code)

    def active(self, source: str | None = None) -> list[Fault]:
        return self.board.active(source)
