"""What happens at a station, as one frozen :class:`Event` type on one in-process :class:`Bus`.

Producers publish, subscribers react; neither knows the other (python-can's
``Message`` -> ``Notifier`` -> listeners). Producers: printer and reader
polls, the card issuer, the spooler job source, the network watch, the uplink
link, the stock check, the ledger's commits and the operator's requests.
Subscribers (wired in :mod:`station_agent.daemon.wiring`): the fault board
(every condition and fault gets its hysteresis there, whatever its origin),
the fault log, the ledger recorder (the log line of every entry), the API's
event stream and the relay's wake-up.

Delivery is synchronous and in order, on the publisher's thread: when
:meth:`Bus.publish` returns, every subscriber has seen the event (a fault
raised by a job is on the board, and in the state database, before the job
goes on). A subscriber that raises does not stop the others; the error goes
to the bus's ``on_error``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from station_agent.clock import time_s

# Event kinds. Payload fields are listed beside each.
#: A polled condition's verdict: ``code``, ``bad``, ``detail``, optional
#: ``raise_after``/``clear_after`` (hysteresis overrides).
CONDITION: Final = "condition"
#: Something that raises a fault at once (a job hit a jam): ``code``, ``detail``,
#: optional ``severity``.
FAULT_RAISED: Final = "fault_raised"
#: Something that clears a fault at once (the jammed job was resolved): ``code``.
FAULT_CLEARED: Final = "fault_cleared"
#: The fault board changed (raised, cleared, started or stopped flapping):
#: ``fault`` (:class:`station_agent.faults.board.Fault`).
FAULT_CHANGED: Final = "fault_changed"
#: Ledger entries committed: ``entries`` (:class:`station_agent.ledger.model.Entry`).
ENTRIES: Final = "entries"
#: A server outage started or ended: ``what`` (start/end), ``phase``, ``at``, ``detail``.
OUTAGE: Final = "outage"
#: An operator's request through the local API: ``op`` (and ``job_id`` when there is one).
OPERATOR: Final = "operator"

KINDS: Final = (CONDITION, FAULT_RAISED, FAULT_CLEARED, FAULT_CHANGED, ENTRIES, OUTAGE,
                OPERATOR)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened: who saw it (``source``: a device id, ``network``,
    ``uplink``, ``spooler``, ``station``, ``ledger``, ``operator``), what
    (``kind``, one of :data:`KINDS`), its details and when (``time``: seconds
    since the epoch on the agent's clock; :attr:`at` as ISO 8601 UTC)."""

    source: str
    kind: str
    payload: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    time: float = field(default_factory=time_s)

    def __post_init__(self) -> None:
        if not isinstance(self.payload, MappingProxyType):
            object.__setattr__(self, "payload", MappingProxyType(dict(self.payload)))

    @property
    def at(self) -> str:
        """:attr:`time` as ISO 8601 UTC, e.g. ``2026-11-28T04:30:00.123Z``."""
        return datetime.fromtimestamp(self.time, UTC).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")

    def __getitem__(self, key: str) -> Any:
        return self.payload[key]

    def get(self, key: str, default: Any = None) -> Any:
        """A payload field, or ``default``."""
        return self.payload.get(key, default)


Subscriber = Callable[[Event], None]


class Bus:
    """Subscribers by kind; :meth:`publish` calls each in subscription order."""

    def __init__(self, on_error: Callable[[Event, BaseException], None] | None = None) -> None:
        self._subscribers: list[tuple[frozenset[str] | None, Subscriber]] = []
        self._lock = threading.Lock()
        self.on_error = on_error

    def subscribe(self, fn: Subscriber, *kinds: str) -> None:
        """Call ``fn`` for every event of ``kinds`` (of every kind if none given)."""
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown event kind(s) {sorted(unknown)}: use {', '.join(KINDS)}")
        with self._lock:
            self._subscribers = [*self._subscribers, (frozenset(kinds) or None, fn)]

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to its subscribers, in order, before returning."""
        for kinds, fn in self._subscribers:   # a snapshot: subscribing copies the list
            if kinds is not None and event.kind not in kinds:
                continue
            try:
                fn(event)
            except Exception as exc:
                if self.on_error is None:
                    raise
                self.on_error(event, exc)

    def emit(self, source: str, kind: str, **payload: Any) -> Event:
        """Publish a new event now; returns it."""
        # ``payload`` is this call's own dict: read-only without a copy.
        event = Event(source, kind, MappingProxyType(payload))
        self.publish(event)
        return event
