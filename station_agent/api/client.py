"""Clients of the local API (docs/API.md, docs/PYTHON.md).

:class:`Client` is the typed client an issuing application or an integrator
uses: one method per operation, answers as the library's own types
(:class:`~station_agent.ledger.Balances`, :class:`~station_agent.faults.board.Fault`,
:class:`~station_agent.events.Event`), and errors that say what went wrong
(:class:`DaemonNotRunning`, :class:`Refused` ...), never ``None``.
The raw connection under it (one JSON line each way) and the error classes
are in :mod:`station_agent.api.connection`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from station_agent.api import protocol as p
from station_agent.api.connection import (
    BadRequest,
    Busy,
    ClientError,
    DaemonNotRunning,
    Forbidden,
    ProtocolMismatch,
    Refused,
    RequestFailed,
    UnknownOperation,
    open_connection,
    request_failed,
)
from station_agent.api.protocol import ApiError
from station_agent.events import ENTRIES, FAULT_CHANGED, Event
from station_agent.faults.board import Fault
from station_agent.ledger.balances import Balances
from station_agent.ledger.model import Entry
from station_agent.paths import resolve_state_dir


def _entry(doc: dict[str, Any]) -> Entry:
    known = Entry.__dataclass_fields__
    return Entry(**{k: v for k, v in doc.items() if k in known and k != "replay"})


def _balances(doc: dict[str, Any]) -> Balances:
    known = Balances.__dataclass_fields__
    return Balances(**{k: v for k, v in doc.items() if k in known})


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _fault(doc: dict[str, Any]) -> Fault:
    known = Fault.__dataclass_fields__
    return Fault(**{k: v for k, v in doc.items() if k in known})


@dataclass(frozen=True, slots=True)
class Recorded:
    """The answer to a ledger operation: the entry (``replay``: it was already
    recorded under the same idempotency id, nothing changed) and the balances
    after it."""

    entry: Entry
    replay: bool
    balances: Balances
    #: For :meth:`Client.resolve`: every job the operator's outcome settled.
    resolved: tuple[str, ...] = ()


class Client:
    """A connection to the station daemon serving ``state_dir``.

    ``state_dir`` defaults as for the CLI (``$STATION_AGENT_STATE``, the
    config's ``[station] state_dir``, ``/var/lib/station-agent`` for root).
    Raises :class:`DaemonNotRunning` when no daemon serves it and
    :class:`ProtocolMismatch` when the daemon speaks another protocol version.
    Safe to use from one thread at a time; open one per thread.
    """

    def __init__(self, state_dir: str | Path | None = None, *, timeout: float = 30.0,
                 check_version: bool = True) -> None:
        self.state_dir = (Path(state_dir) if state_dir is not None
                          else resolve_state_dir(None))
        self.timeout = timeout
        self._raw = open_connection(self.state_dir, timeout)
        self.daemon: dict[str, Any] = {}
        if check_version:
            try:
                self.daemon = self.ping()
                theirs = int(self.daemon.get("protocol", p.PROTOCOL_VERSION))
            except BaseException:
                self._raw.close()
                raise
            if theirs != p.PROTOCOL_VERSION:
                self._raw.close()
                raise ProtocolMismatch(
                    f"the daemon at {self.state_dir} speaks API protocol {theirs}, this "
                    f"library {p.PROTOCOL_VERSION}: install the same station-agent version "
                    "for both")

    def close(self) -> None:
        """Close the connection."""
        self._raw.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, op: str, **params: Any) -> Any:
        """Any operation by name (unset parameters left out): its raw JSON result."""
        try:
            return self._raw.call(op, **{k: v for k, v in params.items() if v is not None})
        except ApiError as exc:
            raise request_failed(exc) from None
        except (OSError, ValueError) as exc:
            raise ClientError(f"the connection to the daemon at {self.state_dir} failed: "
                              f"{exc}; is it still running?") from None

    def _recorded(self, op: str, **params: Any) -> Recorded:
        doc = self.call(op, **params)
        return Recorded(_entry(doc["entry"]), bool(doc["replay"]), _balances(doc["balances"]),
                        tuple(doc.get("resolved", ())))

    # -- reading ------------------------------------------------------------------------

    def ping(self) -> dict[str, Any]:
        """The daemon's station id, pid, ``version`` and ``protocol``."""
        doc: dict[str, Any] = self.call("ping")
        return doc

    def status(self) -> dict[str, Any]:
        """The status document (docs/API.md: balances, stock, devices, faults, network,
        uplink)."""
        doc: dict[str, Any] = self.call("status")
        return doc

    def blanks(self) -> Balances:
        """The blank balances now."""
        return _balances(self.call("blanks"))

    def faults(self) -> list[Fault]:
        """The active faults."""
        return [_fault(f) for f in self.call("faults")["active"]]

    def fault_history(self) -> list[Fault]:
        """Every fault raised, cleared ones too, oldest first."""
        return [_fault(f) for f in self.call("faults", history=True)["history"]]

    def jobs(self, date: str | None = None, *, open_only: bool = False) -> list[dict[str, Any]]:
        """Card jobs of ``date`` (``YYYY-MM-DD``, the office's day; default today),
        or only those still open."""
        jobs: list[dict[str, Any]] = self.call("jobs", date=date,
                                                 open=open_only or None)["jobs"]
        return jobs

    # -- blanks in and out ------------------------------------------------------------

    def receive(self, batch_id: str, count: int, *, first_serial: str | None = None
                ) -> Recorded:
        """A delivery of ``count`` blanks (``batch_id`` is its idempotency id)."""
        return self._recorded("receive", batch_id=batch_id, count=count,
                              first_serial=first_serial)

    def dispose(self, count: int, reference: str, *, idem_id: str | None = None) -> Recorded:
        """Spoiled blanks handed back or destroyed, with the document's reference."""
        return self._recorded("dispose", count=count, reference=reference, idem_id=idem_id)

    def adjust(self, count: int, reason: str, idem_id: str) -> Recorded:
        """A stock count correction (signed ``count``)."""
        return self._recorded("adjust", count=count, reason=reason, idem_id=idem_id)

    def write_off(self, count: int, reason: str, idem_id: str) -> Recorded:
        """Blanks missing from stock, written off with a reason."""
        return self._recorded("write_off", count=count, reason=reason, idem_id=idem_id)

    # -- a job's steps, reported by the application that drives the printer ---------

    def report_pick(self, job_id: str, device: str) -> Recorded:
        """``device`` took a blank for ``job_id`` (stock -> in_printer)."""
        return self._recorded("pick", job_id=job_id, device=device)

    def complete(self, job_id: str, *, device: str | None = None) -> Recorded:
        """The card of ``job_id`` was printed and delivered (in_printer -> issued)."""
        return self._recorded("complete", job_id=job_id, device=device)

    def reject(self, job_id: str, reason: str | None = None, *, category: str | None = None,
               device: str | None = None) -> Recorded:
        """The card of ``job_id`` was spoiled and kept (in_printer -> spoiled_held);
        ``category``: chip_failed, print_defect, damaged, jam or other."""
        return self._recorded("reject", job_id=job_id, reason=reason, category=category,
                              device=device)

    def write_off_job(self, job_id: str, reason: str, *, device: str | None = None
                      ) -> Recorded:
        """The card of ``job_id`` is lost (in_printer -> lost)."""
        return self._recorded("write_off_job", job_id=job_id, reason=reason, device=device)

    def void(self, job_id: str, category: str, reason: str | None = None) -> Recorded:
        """A card recorded as issued that then failed (issued -> spoiled_held)."""
        return self._recorded("void", job_id=job_id, category=category, reason=reason)

    def resolve(self, job_id: str, outcome: str, *, category: str | None = None,
                reason: str | None = None) -> Recorded:
        """Settle a job whose card the agent could not follow: ``outcome`` issued,
        spoiled (with ``category``) or lost."""
        return self._recorded("resolve", job_id=job_id, outcome=outcome, category=category,
                              reason=reason)

    def issue(self, job_id: str, *, printer: str | None = None, panels: int = 1
              ) -> dict[str, Any]:
        """Have the daemon issue one card on a printer it drives; the answer's
        ``outcome`` is complete, reject, stuck, not_started or pending."""
        doc: dict[str, Any] = self.call("issue", job_id=job_id, printer=printer,
                                        panels=panels)
        return doc

    def clear_fault(self, source: str, code: str) -> Fault:
        """Clear a fault nothing clears by itself (``unreported_pick``)."""
        return _fault(self.call("clear_fault", source=source, code=code))

    # -- the live stream ------------------------------------------------------------------

    def events(self) -> EventStream:
        """Ledger entries and fault changes from now on, on a connection of its own
        (subscribed when this returns): see :class:`EventStream`."""
        return EventStream(self.state_dir)


class EventStream:
    r"""Iterate to get :class:`~station_agent.events.Event`\ s as they happen:
    :data:`~station_agent.events.ENTRIES` (``entries``: the recorded
    :class:`~station_agent.ledger.Entry`) and
    :data:`~station_agent.events.FAULT_CHANGED` (``fault``). Iteration blocks
    until the next event; it ends with :class:`ClientError` when the daemon
    stops. Close it (or use ``with``) when done."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._raw = open_connection(state_dir, None)
        try:
            self._raw.call("subscribe")
        except ApiError as exc:
            self._raw.close()
            raise request_failed(exc) from None
        self._docs = self._raw.events()

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Event:
        while True:
            try:
                doc = next(self._docs)
            except (OSError, ValueError) as exc:
                raise ClientError(f"the event stream from {self.state_dir} ended: {exc}"
                                  ) from None
            kind = doc.get("type")
            if kind == "ledger":
                entry = _entry(doc)
                return Event("ledger", ENTRIES, {"entries": (entry,)}, _epoch(entry.ts))
            if kind == "fault":
                fault = _fault(doc)
                return Event(fault.source, FAULT_CHANGED, {"fault": fault},
                             _epoch(fault.cleared_at or fault.raised_at))

    def close(self) -> None:
        """Unsubscribe (close the connection)."""
        self._raw.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["BadRequest", "Busy", "Client", "ClientError", "DaemonNotRunning", "EventStream",
           "Forbidden", "ProtocolMismatch", "Recorded", "Refused", "RequestFailed",
           "UnknownOperation"]
