"""What goes on the wire: topics and message documents (docs/UPLINK.md).

Topics, under a prefix (``stations`` by default):

* ``<prefix>/<station>/events`` - every event, QoS 1, not retained;
* ``<prefix>/<station>/status`` - retained status; the Last Will is a
  retained offline status;
* ``<prefix>/<station>/faults`` - retained list of active faults.

An event message is a JSON object::

    {"v": 1, "event_id": "<ledger id>:<seq>", "station_id": "kupang-01",
     "ledger_id": "...", "seq": 42, "type": "ledger_entry", "ts": "...",
     "chain_head": "<hex>", "event": {...}}

``seq`` counts the station's events 1, 2, 3 ... without gaps; ``event_id``
is unique across stations and the same on every resend, so a receiver
deduplicates by it. For a ledger entry ``event`` is the whole entry
(including ``prev_hash`` and ``hash``) and ``chain_head`` equals its hash,
so a receiver that keeps the entries can re-check the hash chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from station_agent.ledger.outbox import OutboxEvent

VERSION = 1
DEFAULT_PREFIX = "stations"


@dataclass(frozen=True)
class Topics:
    """The three topics of one station."""

    prefix: str
    station_id: str

    @property
    def events(self) -> str:
        return f"{self.prefix}/{self.station_id}/events"

    @property
    def status(self) -> str:
        return f"{self.prefix}/{self.station_id}/status"

    @property
    def faults(self) -> str:
        return f"{self.prefix}/{self.station_id}/faults"


def _dump(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def event_message(ev: OutboxEvent, station_id: str, ledger_id: str) -> bytes:
    """The JSON message of one outbox event."""
    return _dump({"v": VERSION, "event_id": f"{ledger_id}:{ev.seq}", "station_id": station_id,
                  "ledger_id": ledger_id, "seq": ev.seq, "type": ev.type,
                  "ts": ev.created_at, "chain_head": ev.chain_head, "event": ev.event})


def status_message(station_id: str, online: bool, ts: str, reason: str | None = None,
                   **fields: Any) -> bytes:
    """A status document: ``online`` plus whatever the station reports."""
    doc: dict[str, Any] = {"v": VERSION, "station_id": station_id, "online": online,
                           "state": "online" if online else "offline", "ts": ts}
    if reason is not None:
        doc["reason"] = reason
    doc.update(fields)
    return _dump(doc)


def faults_message(station_id: str, ts: str, faults: list[dict[str, Any]]) -> bytes:
    """The retained list of active faults."""
    return _dump({"v": VERSION, "station_id": station_id, "ts": ts, "faults": faults})


def parse(payload: bytes) -> dict[str, Any] | None:
    """A message document, or None when the payload is not a JSON object."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
