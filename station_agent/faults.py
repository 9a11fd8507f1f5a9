"""Fault codes (DESIGN §4) and the in-memory board that tracks active faults.

A fault is raised by ``source`` (a device id, ``network``, ``storage``,
``ledger``) with a stable snake_case ``code``; raising an active fault again
only refreshes it, clearing one that is not active does nothing, and every
raise/clear is kept in the history.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

INFO, WARNING, ERROR, CRITICAL = "info", "warning", "error", "critical"

#: Default severity and what a technician should do, per fault code.
CODES: dict[str, tuple[str, str]] = {
    "card_jam": (ERROR, "open the printer, remove the jammed card, then resolve the job"),
    "feeder_empty": (WARNING, "load blanks into the feeder"),
    "ribbon_out": (ERROR, "replace the ribbon"),
    "cover_open": (ERROR, "close the printer cover"),
    "reject_box_full": (ERROR, "empty the reject box into the spoiled-card custody bag"),
    "head_overheat": (WARNING, "let the print head cool down"),
    "printer_offline": (ERROR, "check the printer's power and cable"),
    "printer_replaced": (ERROR, "reconnect the configured printer or update the config"),
    "printer_protocol_error": (WARNING, "check the cable; if it persists, power-cycle the "
                                        "printer"),
    "printer_unsupported": (ERROR, "use a printer family that supports this step"),
    "unreported_pick": (ERROR, "another program used the printer: find out which; the cards "
                               "were written off"),
    "chip_unreadable": (WARNING, "several chips in a row failed their check: check the reader "
                                 "and its antenna position, then the blank batch"),
    "pcsc_service_down": (ERROR, "start the PC/SC service (systemctl start pcscd.socket)"),
    "reader_missing": (ERROR, "check the reader's USB cable and the pcsc:// name in the config"),
}


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault (active while ``cleared_at`` is None)."""

    source: str
    code: str
    severity: str
    message: str
    raised_at: str
    cleared_at: str | None = None


class FaultBoard:
    """Active faults and their history; thread-safe. ``listener`` sees every change."""

    def __init__(self, listener: Callable[[Fault], None] | None = None) -> None:
        self._active: dict[tuple[str, str], Fault] = {}
        self.history: list[Fault] = []
        self.listener = listener
        self._lock = threading.Lock()

    def raise_fault(self, source: str, code: str, detail: str = "",
                    severity: str | None = None) -> Fault:
        """Raise (or refresh) ``code`` on ``source``; ``detail`` says what happened."""
        default_sev, hint = CODES.get(code, (ERROR, "see the technician's guide"))
        message = f"{detail}; {hint}" if detail else hint
        with self._lock:
            key = (source, code)
            current = self._active.get(key)
            if current is not None:
                return current
            fault = Fault(source, code, severity or default_sev, message, now_utc())
            self._active[key] = fault
            self.history.append(fault)
        if self.listener:
            self.listener(fault)
        return fault

    def clear_fault(self, source: str, code: str) -> Fault | None:
        """Clear ``code`` on ``source`` if active."""
        with self._lock:
            fault = self._active.pop((source, code), None)
            if fault is None:
                return None
            cleared = replace(fault, cleared_at=now_utc())
            self.history.append(cleared)
        if self.listener:
            self.listener(cleared)
        return cleared

    def active(self, source: str | None = None) -> list[Fault]:
        with self._lock:
            return [f for f in self._active.values() if source is None or f.source == source]

    def is_active(self, source: str, code: str) -> bool:
        with self._lock:
            return (source, code) in self._active
