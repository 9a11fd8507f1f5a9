"""One connection to the daemon's local API (docs/API.md), and what goes wrong with one.

:class:`ApiClient` sends one JSON line and reads the reply; :func:`open_connection`
opens one to the daemon serving a state directory. Error replies become the
typed errors below (each with the CLI's exit code). The typed
:class:`~station_agent.api.client.Client` is built on this; the CLI uses it
directly (it needs no more than the raw answers, and starts faster so).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
from collections.abc import Iterator
from pathlib import Path

from station_agent.api import protocol as p
from station_agent.api.protocol import ApiError
from station_agent.api.sockpath import SOCKET_NAME, short_path
from station_agent.errors import OperationFailed, StationAgentError

# typing is imported for the type checker only: this module is on the CLI's
# start-up path (docs/PERFORMANCE.md, cli.status_latency).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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


def open_connection(state_dir: Path, timeout: float | None) -> ApiClient:
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
