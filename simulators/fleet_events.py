"""Event streams of simulated stations, as a station's uplink publishes them.

For the central ledger's tests and benchmark: thousands of stations cannot
each run a daemon, so :class:`StationStream` writes what a station's ledger
and outbox would produce - entries hash-chained from the ledger's genesis
with the ledger's own hash function, numbered events, the same message
documents (:func:`station_agent.uplink.messages.event_message`) - fast
enough to make a national working day. Real daemons feed the same loader in
the integration tests; this generator only saves their start-up.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from station_agent.ledger.chain import entry_hash, genesis_hash, hashed_values
from station_agent.ledger.model import ENTRY_COLUMNS, Entry
from station_agent.ledger.outbox import OutboxEvent
from station_agent.uplink.messages import Topics, event_message, status_message

SPOIL_CATEGORIES = ("print_defect", "chip_failed", "jam")


@dataclass
class StationStream:
    """One simulated station: its ledger's entries and its uplink's messages."""

    station_id: str
    office: str
    region: str
    ledger_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    prefix: str = "stations"
    entry_seq: int = 0
    event_seq: int = 0
    head: str = ""
    jobs: int = 0
    balances: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.head = genesis_hash(self.ledger_id)
        self.topics = Topics(self.prefix, self.station_id)

    def _entry(self, ts: datetime, kind: str, src: str, dst: str, count: int, *,
               batch_id: str | None = None, job_id: str | None = None,
               device: str | None = None, reason: str | None = None,
               category: str | None = None) -> tuple[str, bytes]:
        self.entry_seq += 1
        self.event_seq += 1
        stamp = ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        values = [self.entry_seq, stamp, kind, src, dst, count,
                  f"{kind}-{self.station_id}-{self.entry_seq}", batch_id, job_id, device, None,
                  reason, None, self.head]
        h = entry_hash(hashed_values(values, category, seq=self.entry_seq))
        entry = Entry(*values, h, category)  # type: ignore[arg-type, call-arg]
        self.head = h
        self.balances[src] = self.balances.get(src, 0) - count
        self.balances[dst] = self.balances.get(dst, 0) + count
        ev = OutboxEvent(self.event_seq, "ledger_entry", stamp, h,
                         {c: getattr(entry, c) for c in ENTRY_COLUMNS})
        return self.topics.events, event_message(ev, self.station_id, self.ledger_id)

    def receive(self, ts: datetime, count: int) -> list[tuple[str, bytes]]:
        return [self._entry(ts, "receive", "external", "stock", count,
                            batch_id=f"B-{self.station_id}-{self.entry_seq + 1}")]

    def card(self, ts: datetime, spoiled: str | None = None) -> list[tuple[str, bytes]]:
        """One card: its pick and its completion (or its reject with a category)."""
        self.jobs += 1
        job = f"job-{self.jobs}"
        out = [self._entry(ts, "pick", "stock", "in_printer", 1, job_id=job, device="p1")]
        if spoiled is None:
            out.append(self._entry(ts + timedelta(seconds=40), "complete", "in_printer",
                                   "issued", 1, job_id=job, device="p1"))
        else:
            out.append(self._entry(ts + timedelta(seconds=40), "reject", "in_printer",
                                   "spoiled_held", 1, job_id=job, device="p1",
                                   category=spoiled))
        return out

    def fault(self, ts: datetime, code: str = "server_unreachable",
              cleared: bool = False) -> tuple[str, bytes]:
        self.event_seq += 1
        stamp = ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = {"source": "network", "code": code, "severity": "error", "message": "probe",
                "raised_at": stamp, "cleared_at": stamp if cleared else None,
                "flapping": False}
        ev = OutboxEvent(self.event_seq, "fault_cleared" if cleared else "fault_raised", stamp,
                         self.head, body)
        return self.topics.events, event_message(ev, self.station_id, self.ledger_id)

    def status(self, ts: datetime, online: bool = True) -> tuple[str, bytes]:
        stamp = ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return self.topics.status, status_message(self.station_id, online, stamp,
                                                  office=self.office, region=self.region)


def working_day(streams: list[StationStream], day: datetime, cards: int,
                rng: random.Random, spoil_rate: float = 0.02) -> list[tuple[str, bytes]]:
    """A working day's events of every station, ``cards`` cards each in the office's
    hours, interleaved across stations in time order (each station's own in order)."""
    timed: list[tuple[datetime, int, tuple[str, bytes]]] = []
    for n, st in enumerate(streams):
        start = day.replace(hour=1, minute=0, second=0, microsecond=0)
        msgs: list[tuple[str, bytes]] = []
        for i in range(cards):
            spoiled = rng.choice(SPOIL_CATEGORIES) if rng.random() < spoil_rate else None
            msgs += st.card(start + timedelta(seconds=i * 28_800 // max(cards, 1)), spoiled)
        for i, m in enumerate(msgs):
            timed.append((start + timedelta(seconds=i * 28_800 // max(len(msgs), 1)), n, m))
    timed.sort(key=lambda t: (t[0], t[1]))
    return [m for _, _, m in timed]
