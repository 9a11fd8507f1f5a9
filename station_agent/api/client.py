"""A client of the local API (the CLI uses it when a daemon is running)."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from station_agent.api.protocol import ApiError
from station_agent.api.server import SOCKET_NAME
from station_agent.api.sockpath import short_path
from station_agent.errors import BadInput, OperationFailed


class ApiClient:
    """One connection to the daemon's socket; :meth:`call` sends one request and
    returns its result, raising :class:`ApiError` on an error reply."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
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


def raise_for_cli(exc: ApiError) -> None:
    """Turn an API error reply into the CLI's error (exit 2 or 1)."""
    if exc.code in ("bad_request", "unknown_op", "refused"):
        raise BadInput(exc.message) from None
    raise OperationFailed(exc.message) from None


def pid_of_daemon(state_dir: Path) -> int | None:
    """The pid written by a running daemon, if any (informational)."""
    with contextlib.suppress(OSError, ValueError):
        return int((Path(state_dir) / "daemon.pid").read_text().strip())
    return None
