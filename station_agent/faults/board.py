"""The in-memory board that tracks active faults (codes: :mod:`.codes`).

A fault is raised by ``source`` (a device id, ``network``, ``storage``,
``ledger``) with a stable snake_case ``code``; raising an active fault again
only refreshes it, clearing one that is not active does nothing, and every
raise/clear is kept in the history.

Events (a job failed on a jam) raise and clear directly. Conditions that are
polled (a printer's status words, the server's reachability) go through
:meth:`FaultBoard.observe`, which applies hysteresis (``raise_after`` bad
polls in a row to raise, ``clear_after`` good ones to clear) and flap
detection: a condition that keeps changing is raised once, marked
``flapping``, and stays raised until it settles.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from station_agent.clock import now_utc
from station_agent.events import (
    CONDITION,
    FAULT_CHANGED,
    FAULT_CLEARED,
    FAULT_RAISED,
    Bus,
    Event,
)
from station_agent.faults.codes import CODES, ERROR, describe
from station_agent.faults.hysteresis import CLEAR, RAISE, Debounce, FlapDetector


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault (active while ``cleared_at`` is None)."""

    source: str
    code: str
    severity: str
    message: str
    raised_at: str
    cleared_at: str | None = None
    flapping: bool = False

    def as_dict(self) -> dict[str, object]:
        """The contract's JSON form (DESIGN §4), plus ``flapping``."""
        return {"source": self.source, "code": self.code, "severity": self.severity,
                "message": self.message, "raised_at": self.raised_at,
                "cleared_at": self.cleared_at, "flapping": self.flapping}


@dataclass
class _Tracker:
    debounce: Debounce
    flap: FlapDetector
    detail: str = ""


class FaultBoard:
    """Active faults and their history; thread-safe. ``listener`` sees every change
    (a raise, a clear, a fault starting or stopping to flap), in order."""

    def __init__(self, listener: Callable[[Fault], None] | None = None, *,
                 raise_after: int = 1, clear_after: int = 1,
                 flap_high: float = 50.0, flap_low: float = 25.0,
                 history_limit: int = 1000) -> None:
        self._active: dict[tuple[str, str], Fault] = {}
        self.history: deque[Fault] = deque(maxlen=history_limit)
        self.listener = listener
        self.raise_after, self.clear_after = raise_after, clear_after
        self.flap_high, self.flap_low = flap_high, flap_low
        self._trackers: dict[tuple[str, str], _Tracker] = {}
        # Re-entrant: a listener may read the board; held while notifying so
        # listeners see changes in the order they happened.
        self._lock = threading.RLock()

    def attach(self, bus: Bus) -> None:
        """Take conditions and faults from ``bus`` and publish every change on it
        (as :data:`~station_agent.events.FAULT_CHANGED`, after the ``listener``)."""
        bus.subscribe(self._on_event, CONDITION, FAULT_RAISED, FAULT_CLEARED)
        listener = self.listener

        def changed(fault: Fault) -> None:
            if listener is not None:
                listener(fault)
            bus.emit(fault.source, FAULT_CHANGED, fault=fault)

        self.listener = changed

    def _on_event(self, event: Event) -> None:
        code = event["code"]
        if event.kind == CONDITION:
            self.observe(event.source, code, event["bad"], event.get("detail", ""),
                         raise_after=event.get("raise_after"),
                         clear_after=event.get("clear_after"))
        elif event.kind == FAULT_RAISED:
            self.raise_fault(event.source, code, event.get("detail", ""),
                             event.get("severity"))
        else:
            self.clear_fault(event.source, code)

    def restore(self, faults: list[Fault]) -> None:
        """Faults still active from before a restart: they stay raised until
        observed good (``clear_after`` times) or cleared."""
        with self._lock:
            for f in faults:
                self._active[(f.source, f.code)] = f

    def _tracker(self, source: str, code: str, raise_after: int | None,
                 clear_after: int | None) -> _Tracker:
        key = (source, code)
        t = self._trackers.get(key)
        if t is None:
            t = _Tracker(Debounce(raise_after or self.raise_after,
                                  clear_after or self.clear_after),
                         FlapDetector(self.flap_high, self.flap_low))
            self._trackers[key] = t
        return t

    def observe(self, source: str, code: str, bad: bool, detail: str = "", *,
                raise_after: int | None = None, clear_after: int | None = None) -> None:
        """One poll's verdict on condition ``code`` of ``source``: raise or clear
        with hysteresis and flap detection (see the module docstring)."""
        with self._lock:
            t = self._tracker(source, code, raise_after, clear_after)
            if bad and detail:
                t.detail = detail
            # Events raise and clear directly (a job that hit a jam): the polled
            # state starts from what the board shows.
            t.debounce.active = (source, code) in self._active
            change = t.debounce.observe(bad)
            flap = t.flap.observe(bad)
            if flap is True:
                self._set_flapping(source, code, True, t)
            elif t.flap.flapping:
                return  # keep the one flapping fault as it is until it settles
            elif flap is False:
                if t.debounce.active or bad:
                    self._set_flapping(source, code, False, t)
                else:
                    self.clear_fault(source, code)
            elif change == RAISE:
                self.raise_fault(source, code, t.detail)
            elif change == CLEAR:
                self.clear_fault(source, code)

    def _set_flapping(self, source: str, code: str, flapping: bool, t: _Tracker) -> None:
        key = (source, code)
        current = self._active.get(key)
        if current is None:
            self.raise_fault(source, code, t.detail, flapping=flapping)
            return
        _severity, hint = CODES.get(code, (ERROR, "see the technician's guide"))
        what = f"{t.detail}; " if t.detail else ""
        message = (f"flapping (keeps failing and recovering): {what}{hint}" if flapping
                   else f"{what}{hint}")
        updated = replace(current, flapping=flapping, message=message)
        self._active[key] = updated
        self.history.append(updated)
        if self.listener:
            self.listener(updated)

    def raise_fault(self, source: str, code: str, detail: str = "",
                    severity: str | None = None, *, flapping: bool = False) -> Fault:
        """Raise (or refresh) ``code`` on ``source``; ``detail`` says what happened."""
        default_sev, hint = describe(code)
        message = f"{detail}; {hint}" if detail else hint
        if flapping:
            message = f"flapping (keeps failing and recovering): {message}"
        with self._lock:
            key = (source, code)
            current = self._active.get(key)
            if current is not None:
                return current
            fault = Fault(source, code, severity or default_sev, message, now_utc(),
                          flapping=flapping)
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
