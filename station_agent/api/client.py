"""Clients of the local API (docs/API.md, docs/PYTHON.md).

:class:`Client` is the typed client an issuing application or an integrator
uses: one method per operation, answers as the library's own types
(:class:`~station_agent.ledger.Balances`, :class:`~station_agent.faults.board.Fault`,
:class:`~station_agent.events.Event`), and errors that say what went wrong
(:class:`DaemonNotRunning`, :class:`Refused` ...), never ``None``.
:class:`ApiClient` is the raw connection under it (one JSON line each way).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station_agent.api import protocol as p
from station_agent.api.protocol import ApiError
from station_agent.api.sockpath import SOCKET_NAME, short_path
from station_agent.errors import OperationFailed, StationAgentError
from station_agent.events import ENTRIES, FAULT_CHANGED, Event
from station_agent.faults.board import Fault
from station_agent.ledger.balances import Balances
from station_agent.ledger.model import Entry
from station_agent.paths import resolve_state_dir


class ApiClient:
    """One connection to the daemon's socket; :meth:`call` sends one request and
    returns its result, raising :class:`ApiError` on an error reply."""

    def __init__(self, path: Path, timeout: float | None = 30.0) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.settimeout(timeout)
        try:
            with short_path(path) as address:
                self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise
        self._ids = itertools.count(1)
        self._buf = b""
        self.pending_events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_line(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the daemon closed the connection")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        doc: dict[str, Any] = json.loads(line)
        return doc

    def send_raw(self, line: bytes) -> dict[str, Any]:
        """Send one raw line and return the next reply (events are kept aside)."""
        try:
            self.sock.sendall(line if line.endswith(b"\n") else line + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            # The daemon refused this connection and closed it; its reason (an
            # error reply) may already be waiting to be read.
            return self.next_reply()
        return self.next_reply()

    def next_reply(self) -> dict[str, Any]:
        while True:
            doc = self._read_line()
            if "event" in doc and "id" not in doc:
                self.pending_events.append(doc["event"])
                continue
            return doc

    def call(self, op: str, **params: Any) -> Any:
        rid = next(self._ids)
        req = {"id": rid, "op": op, "params": params}
        doc = self.send_raw(json.dumps(req).encode())
        if doc.get("id") is None and doc.get("ok") is False:
            # Refused before any request was read (a stranger, too many clients).
            err = doc.get("error", {})
            raise ApiError(err.get("code", "failed"), err.get("message", "unknown error"))
        if doc.get("id") != rid:
            raise ConnectionError(f"reply to request {doc.get('id')} instead of {rid}")
        if not doc.get("ok"):
            err = doc.get("error", {})
            raise ApiError(err.get("code", "failed"), err.get("message", "unknown error"))
        return doc.get("result")

    def events(self) -> Iterator[dict[str, Any]]:
        """Events after ``call("subscribe")``, as they come."""
        while True:
            while self.pending_events:
                yield self.pending_events.pop(0)
            doc = self._read_line()
            if "event" in doc:
                yield doc["event"]


def socket_path(state_dir: Path) -> Path:
    return Path(state_dir) / SOCKET_NAME


def connect(state_dir: Path, timeout: float = 30.0) -> ApiClient | None:
    """A client when a daemon serves ``state_dir``, else None."""
    path = socket_path(state_dir)
    if not path.exists():
        return None
    try:
        return ApiClient(path, timeout)
    except (ConnectionRefusedError, FileNotFoundError):
        return None   # a socket file left by a daemon that was killed
    except PermissionError:
        raise OperationFailed(f"no permission to talk to the daemon at {path}: run as a "
                              "member of the station-agent group (or root)") from None


def pid_of_daemon(state_dir: Path) -> int | None:
    """The pid written by a running daemon, if any (informational)."""
    with contextlib.suppress(OSError, ValueError):
        return int((Path(state_dir) / "daemon.pid").read_text().strip())
    return None


# -- the typed client ------------------------------------------------------------------


class ClientError(StationAgentError):
    """Base of what :class:`Client` raises."""


class DaemonNotRunning(ClientError):
    """No daemon serves the state directory (exit 1 in the CLI)."""


class ProtocolMismatch(ClientError):
    """The daemon speaks another version of the API protocol."""


class RequestFailed(ClientError):
    """The daemon answered with an error: ``code`` (docs/API.md) and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class BadRequest(RequestFailed):
    """A parameter is missing or wrong; nothing was changed."""

    exit_code = 2


class UnknownOperation(RequestFailed):
    """The daemon has no such operation (an older daemon?)."""

    exit_code = 2


class Refused(RequestFailed):
    """The ledger refused (a count would go negative, an id replayed with other
    content, a job rule); nothing was changed."""

    exit_code = 2


class Busy(RequestFailed):
    """The daemon or the printer is busy (shutting down, another job): try again."""


class Forbidden(RequestFailed):
    """This user may not talk to the daemon (not in its group)."""


_ERRORS: dict[str, type[RequestFailed]] = {
    p.BAD_REQUEST: BadRequest, p.UNKNOWN_OP: UnknownOperation, p.REFUSED: Refused,
    p.BUSY: Busy, p.FORBIDDEN: Forbidden,
}


def request_failed(exc: ApiError) -> RequestFailed:
    """The typed error for an error reply."""
    return _ERRORS.get(exc.code, RequestFailed)(exc.code, exc.message)


def _entry(doc: dict[str, Any]) -> Entry:
    known = Entry.__dataclass_fields__
    return Entry(**{k: v for k, v in doc.items() if k in known and k != "replay"})


def _balances(doc: dict[str, Any]) -> Balances:
    known = Balances.__dataclass_fields__
    return Balances(**{k: v for k, v in doc.items() if k in known})


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
        self._raw = _open(self.state_dir, timeout)
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
        self._raw = _open(state_dir, None)
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
                return Event("ledger", ENTRIES, {"entries": (entry,)}, entry.ts)
            if kind == "fault":
                fault = _fault(doc)
                return Event(fault.source, FAULT_CHANGED, {"fault": fault},
                             fault.cleared_at or fault.raised_at)

    def close(self) -> None:
        """Unsubscribe (close the connection)."""
        self._raw.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open(state_dir: Path, timeout: float | None) -> ApiClient:
    path = socket_path(state_dir)
    try:
        return ApiClient(path, timeout)
    except (ConnectionRefusedError, FileNotFoundError):
        raise DaemonNotRunning(f"no station daemon serves {state_dir}: start it (systemctl "
                               "start station-agent, or station-agent run)") from None
    except PermissionError:
        raise OperationFailed(f"no permission to talk to the daemon at {path}: run as a "
                              "member of the station-agent group (or root)") from None
    except OSError as exc:
        raise ClientError(f"cannot reach the daemon at {path}: {exc}") from None
