"""Fault codes (DESIGN §4) and the in-memory board that tracks active faults.

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

from station_agent import clock
from station_agent.hysteresis import CLEAR, RAISE, Debounce, FlapDetector

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
    "link_down": (CRITICAL, "this station has no network route: check its network cable, "
                            "Wi-Fi or the office switch"),
    "dns_failure": (ERROR, "the server's name does not resolve: check the DNS settings, or "
                           "ask the network administrator"),
    "server_unreachable": (ERROR, "the central server does not answer: if other stations "
                                  "reach it, check this station's firewall/proxy; otherwise "
                                  "report the outage to the data centre"),
    "server_slow": (WARNING, "the central server answers slowly: expect delays; report it "
                             "if it lasts"),
    "stock_low": (WARNING, "request a new delivery of blanks from the provincial office now"),
    "disk_full": (CRITICAL, "free space on the state directory's disk; nothing can be recorded "
                            "until then"),
    "uplink_down": (WARNING, "events are kept on this station and sent when the broker is "
                             "back; if it lasts, check [uplink] in the config and the network "
                             "path to the broker"),
    "job_unresolved": (ERROR, "a card's fate is unknown (the agent was down, or the printer "
                              "failed mid-job): find it and resolve the job with `station-agent "
                              "jobs resolve JOB --outcome issued|spoiled|lost`"),
    "ribbon_low": (WARNING, "the ribbon is nearly finished: have a new one ready"),
    "output_full": (WARNING, "empty the printer's output hopper"),
    "feeder_missing": (ERROR, "put the card feeder (input hopper) back in the printer"),
    "queue_stopped": (ERROR, "the CUPS queue is stopped: fix the printer, then start the queue "
                             "again (cupsenable QUEUE)"),
    "queue_missing": (ERROR, "add the CUPS queue named in [[printer]] queue, or fix the name"),
    "spooler_down": (ERROR, "the print spooler (cupsd) does not answer: start it (systemctl "
                            "start cups) or check [cups] server in the config"),
}
#: A printer-state reason the agent has no code for (``printer_reason_<keyword>``).
_VENDOR_REASON = (INFO, "the printer reports a condition the agent does not know: see the "
                        "printer's display or its manual")


def describe(code: str) -> tuple[str, str]:
    """Default severity and what to do for ``code``."""
    if code in CODES:
        return CODES[code]
    if code.startswith("printer_reason_"):
        return _VENDOR_REASON
    return ERROR, "see the technician's guide"


def now_utc() -> str:
    return clock.now().isoformat(timespec="seconds").replace("+00:00", "Z")


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
