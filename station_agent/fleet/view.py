"""The fleet view: what the central side knows about every station.

A pure model, fed one MQTT message at a time (:meth:`FleetView.handle`) by
whatever receives them (:mod:`station_agent.fleet.consumer` for the CLI; a
database loader could feed it the same way). It keeps, per station:

* the retained status (online/offline, stock, days left, today's figures)
  and when the station was last heard from;
* the retained list of active faults;
* the event stream: every event counted once (deduplicated by ``event_id``:
  QoS 1 delivers at least once), and the gaps in the station's ``seq``
  numbers, which are events that should have arrived and did not.

:meth:`FleetView.handle` returns the event when it is new and None for a
duplicate or a status/faults message, so a sink stores each event exactly
once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from station_agent.uplink import messages


class SeqTracker:
    """Which sequence numbers of one stream were seen, in O(gaps) memory.

    Everything up to ``low`` counts as settled (seen, or before the stream
    was first joined); numbers seen above ``low`` are kept until the ones
    below them arrive. A receiver that joins a live stream starts at the
    first number it sees: earlier numbers were never its to receive.
    """

    def __init__(self) -> None:
        self.first: int | None = None
        self.low = 0
        self.above: set[int] = set()
        self.high = 0

    def add(self, seq: int) -> bool:
        """Record ``seq``; False when it was seen before (a duplicate)."""
        if self.first is None:
            self.first, self.low = seq, seq - 1
        if seq <= self.low or seq in self.above:
            return False
        self.above.add(seq)
        self.high = max(self.high, seq)
        while self.low + 1 in self.above:
            self.low += 1
            self.above.discard(self.low)
        return True

    def gaps(self) -> list[tuple[int, int]]:
        """Missing ranges ``(first, last)`` between the first and the highest number seen."""
        out: list[tuple[int, int]] = []
        start = self.low + 1
        for seq in sorted(self.above):
            if seq > start:
                out.append((start, seq - 1))
            start = seq + 1
        return out

    def missing(self) -> int:
        return sum(b - a + 1 for a, b in self.gaps())


@dataclass
class StationView:
    """What the fleet knows about one station."""

    station_id: str
    online: bool | None = None
    reason: str | None = None
    last_seen: str | None = None       # station time of its latest message
    status: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    ledger_id: str | None = None
    events: int = 0                    # unique events received
    duplicates: int = 0
    seqs: SeqTracker = field(default_factory=SeqTracker)
    replaced_ledgers: int = 0          # times the station started a new ledger

    def as_dict(self) -> dict[str, Any]:
        """One row of the fleet (whatever the station sent, only well-typed values)."""
        st = self.status
        stock, today = _table(st.get("stock")), _table(st.get("today"))
        balances = _table(st.get("balances"))
        return {
            "station_id": self.station_id,
            "online": self.online,
            "reason": self.reason,
            "last_seen": self.last_seen,
            "stock": _number(stock.get("stock", balances.get("stock"))),
            "days_left": _number(stock.get("days_left")),
            "issued_today": _number(today.get("issued")),
            "spoiled_today": _number(today.get("spoiled")),
            "today": today.get("date") if isinstance(today.get("date"), str) else None,
            "active_faults": [f"{f.get('source')}:{f.get('code')}" for f in self.faults],
            "backlog": _number(st.get("backlog")),
            "events": self.events,
            "duplicates": self.duplicates,
            "last_seq": self.seqs.high or None,
            "gaps": [list(g) for g in self.seqs.gaps()],
            "missing": self.seqs.missing(),
        }


def _table(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: object) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


class FleetView:
    """Every station seen on the broker (see the module docstring)."""

    def __init__(self, prefix: str = messages.DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self.stations: dict[str, StationView] = {}
        self.malformed = 0

    def subscriptions(self) -> list[str]:
        """The topic filters to subscribe to."""
        return [f"{self.prefix}/+/{kind}" for kind in ("events", "status", "faults")]

    def station(self, station_id: str) -> StationView:
        view = self.stations.get(station_id)
        if view is None:
            view = self.stations[station_id] = StationView(station_id)
        return view

    def handle(self, topic: str, payload: bytes) -> dict[str, Any] | None:
        """Take one message; return the event document when it is a new event."""
        parts = topic.split("/")
        head = self.prefix.split("/")
        if len(parts) != len(head) + 2 or parts[:len(head)] != head:
            return None
        station_id, kind = parts[-2], parts[-1]
        doc = messages.parse(payload)
        if doc is None or doc.get("station_id", station_id) != station_id:
            self.malformed += 1
            return None
        view = self.station(station_id)
        ts = doc.get("ts")
        if isinstance(ts, str) and (view.last_seen is None or ts > view.last_seen):
            view.last_seen = ts
        if kind == "status":
            view.online = bool(doc.get("online"))
            view.reason = doc.get("reason") if isinstance(doc.get("reason"), str) else None
            view.status = doc
            return None
        if kind == "faults":
            faults = doc.get("faults")
            view.faults = [f for f in faults if isinstance(f, dict)] \
                if isinstance(faults, list) else []
            return None
        if kind != "events":
            return None
        return self._event(view, doc)

    def _event(self, view: StationView, doc: dict[str, Any]) -> dict[str, Any] | None:
        seq, ledger_id, event_id = doc.get("seq"), doc.get("ledger_id"), doc.get("event_id")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1 \
                or not isinstance(ledger_id, str) or event_id != f"{ledger_id}:{seq}":
            self.malformed += 1
            return None
        if view.ledger_id != ledger_id:
            if view.ledger_id is not None:
                view.replaced_ledgers += 1
            view.ledger_id, view.seqs = ledger_id, SeqTracker()
        if not view.seqs.add(seq):
            view.duplicates += 1
            return None
        view.events += 1
        return doc

    def as_dict(self) -> dict[str, Any]:
        return {"stations": [self.stations[k].as_dict() for k in sorted(self.stations)],
                "malformed": self.malformed}
