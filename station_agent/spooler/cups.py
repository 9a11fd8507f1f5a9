"""Talking to cupsd: IPP requests over HTTP on its domain socket or TCP port.

Queue state for the daemon (``printer-state``, ``printer-state-reasons``,
``marker-*``), the queue list and jobs for ``cups status``, and the device
URI for ``cups wrap``. Administrative requests over the domain socket carry
``Authorization: PeerCred <user>`` as libcups does; cupsd checks the peer's
credentials itself.
"""

from __future__ import annotations

import http.client
import os
import pwd
import socket
from dataclasses import dataclass, field
from typing import Any, Final

from station_agent.spooler import ipp

#: Where cupsd listens when nothing says otherwise.
DEFAULT_SERVER: Final = "/run/cups/cups.sock"
PRINTER_ATTRS: Final = (
    "printer-name", "printer-state", "printer-state-reasons", "printer-state-message",
    "printer-is-accepting-jobs", "device-uri", "marker-names", "marker-types",
    "marker-levels", "marker-low-levels", "queued-job-count",
)
STATES: Final = {3: "idle", 4: "processing", 5: "stopped"}
JOB_STATES: Final = {3: "pending", 4: "held", 5: "processing", 6: "stopped", 7: "canceled",
                     8: "aborted", 9: "completed"}


class CupsError(Exception):
    """cupsd could not be reached, or refused a request (one-line message)."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except OSError:
            s.close()
            raise
        self.sock = s


@dataclass
class Queue:
    """One CUPS queue as cupsd reports it."""

    name: str
    state: str
    reasons: list[str]
    message: str
    accepting: bool
    device_uri: str | None
    markers: list[dict[str, Any]] = field(default_factory=list)
    queued: int = 0

    @property
    def wrapped(self) -> bool:
        return bool(self.device_uri and self.device_uri.startswith("station:"))

    def as_dict(self) -> dict[str, Any]:
        return {"queue": self.name, "state": self.state, "reasons": self.reasons,
                "message": self.message, "accepting": self.accepting,
                "device_uri": _redact(self.device_uri), "wrapped": self.wrapped,
                "markers": self.markers, "queued_jobs": self.queued}


def _redact(uri: str | None) -> str | None:
    """A device URI without credentials (``ipp://user:pw@host`` -> ``ipp://host``)."""
    if uri is None or "@" not in uri:
        return uri
    head, _, rest = uri.partition("://")
    return f"{head}://{rest.rsplit('@', 1)[1]}"


class Cups:
    """A client of one cupsd (``server``: a socket path or ``host:port``)."""

    def __init__(self, server: str | None = None, *, timeout: float = 5.0) -> None:
        self.server = server or os.environ.get("CUPS_SERVER") or DEFAULT_SERVER
        self.timeout = timeout
        self._rid = 0

    def _connection(self) -> http.client.HTTPConnection:
        if self.server.startswith("/"):
            return _UnixConnection(self.server, self.timeout)
        host, _, port = self.server.rpartition(":")
        if not host or not port.isdigit():
            return http.client.HTTPConnection(self.server, 631, timeout=self.timeout)
        return http.client.HTTPConnection(host, int(port), timeout=self.timeout)

    def request(self, req: ipp.Request, path: str = "/", *, admin: bool = False) -> ipp.Response:
        """Send ``req``; :class:`CupsError` if cupsd is unreachable or answers an error."""
        self._rid += 1
        req.request_id = self._rid
        headers = {"Content-Type": "application/ipp"}
        if admin and self.server.startswith("/"):
            headers["Authorization"] = "PeerCred " + pwd.getpwuid(os.geteuid()).pw_name
        conn = self._connection()
        try:
            conn.request("POST", path, body=req.encode(), headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise CupsError(f"cupsd at {self.server} does not answer ({exc}): start CUPS "
                            "(systemctl start cups) or set [cups] server") from None
        finally:
            conn.close()
        if resp.status == 401 or resp.status == 403:
            raise CupsError(f"cupsd at {self.server} refused this user the request: run it "
                            "as root or as a member of CUPS' SystemGroup (lpadmin)")
        if resp.status != 200:
            raise CupsError(f"cupsd at {self.server} answered HTTP {resp.status}")
        try:
            out = ipp.decode(body)
        except ipp.IppError as exc:
            raise CupsError(f"cupsd at {self.server}: {exc}") from None
        return out

    def _uri(self, queue: str) -> str:
        return f"ipp://localhost/printers/{queue}"

    def queue(self, name: str) -> Queue:
        """One queue's state; :class:`CupsError` naming the known queues if there is none."""
        req = ipp.Request(ipp.GET_PRINTER_ATTRIBUTES)
        req.op(ipp.URI, "printer-uri", self._uri(name))
        req.op(ipp.KEYWORD, "requested-attributes", *PRINTER_ATTRS)
        resp = self.request(req, admin=True)
        if not resp.ok:
            known = ", ".join(q.name for q in self.queues()) or "none"
            raise CupsError(f"CUPS has no queue {name!r} (queues: {known}); check the name "
                            "with `station-agent cups status`")
        return _queue(resp.first("printer"))

    def queues(self) -> list[Queue]:
        """Every queue of this cupsd."""
        req = ipp.Request(ipp.CUPS_GET_PRINTERS)
        req.op(ipp.KEYWORD, "requested-attributes", *PRINTER_ATTRS)
        resp = self.request(req, admin=True)
        if not resp.ok and resp.status != 0x0406:   # not-found: no queues at all
            raise CupsError(f"cupsd at {self.server}: {resp.message() or hex(resp.status)}")
        return [_queue(g) for g in resp.all("printer")]

    def jobs(self, queue: str, which: str = "not-completed") -> list[dict[str, Any]]:
        """Jobs of ``queue`` (id, state, reasons; never titles or user names)."""
        req = ipp.Request(ipp.GET_JOBS)
        req.op(ipp.URI, "printer-uri", self._uri(queue))
        req.op(ipp.KEYWORD, "which-jobs", which)
        req.op(ipp.KEYWORD, "requested-attributes", "job-id", "job-state",
               "job-state-reasons", "job-uuid")
        resp = self.request(req)
        if not resp.ok:
            raise CupsError(f"cupsd at {self.server}: jobs of {queue!r}: "
                            f"{resp.message() or hex(resp.status)}")
        out = []
        for g in resp.all("job"):
            state = g.get("job-state", [0])[0]
            out.append({"job_id": g.get("job-id", [None])[0],
                        "state": JOB_STATES.get(state if isinstance(state, int) else 0,
                                                str(state)),
                        "reasons": [str(r) for r in g.get("job-state-reasons", []) if r]})
        return out

    def job_state(self, cups_job: int) -> tuple[str | None, str]:
        """The state of CUPS job ``cups_job`` (``processing``, ``completed`` ...) and
        its UUID (hex digits only), or (None, "") when cupsd no longer knows it."""
        req = ipp.Request(ipp.GET_JOB_ATTRIBUTES)
        req.op(ipp.URI, "job-uri", f"ipp://localhost/jobs/{cups_job}")
        req.op(ipp.KEYWORD, "requested-attributes", "job-state", "job-uuid")
        resp = self.request(req)
        if not resp.ok:
            return None, ""
        job = resp.first("job")
        state = job.get("job-state", [0])[0]
        uuid = str(job.get("job-uuid", [""])[0] or "").removeprefix("urn:uuid:")
        return (JOB_STATES.get(state if isinstance(state, int) else 0),
                uuid.replace("-", "").lower())

    def set_device_uri(self, queue: str, uri: str) -> None:
        """Change ``queue``'s device URI (CUPS-Add-Modify-Printer)."""
        req = ipp.Request(ipp.CUPS_ADD_MODIFY_PRINTER)
        req.op(ipp.URI, "printer-uri", self._uri(queue))
        req.printer(ipp.URI, "device-uri", uri)
        resp = self.request(req, "/admin/", admin=True)
        if not resp.ok:
            raise CupsError(f"cupsd refused to change the device of {queue!r}: "
                            f"{resp.message() or hex(resp.status)}")


def _queue(g: dict[str, list[ipp.Value]]) -> Queue:
    def one(name: str, default: Any = None) -> Any:
        values = g.get(name)
        return values[0] if values else default

    names = [str(v) for v in g.get("marker-names", [])]
    types = [str(v) for v in g.get("marker-types", [])]
    levels = g.get("marker-levels", [])
    lows = g.get("marker-low-levels", [])
    markers = [{"name": n, "type": types[i] if i < len(types) else None,
                "level": levels[i] if i < len(levels) else None,
                "low_level": lows[i] if i < len(lows) else None}
               for i, n in enumerate(names)]
    state = one("printer-state", 0)
    return Queue(
        name=str(one("printer-name", "")),
        state=STATES.get(state if isinstance(state, int) else 0, "unknown"),
        reasons=[str(r) for r in g.get("printer-state-reasons", []) if r and r != "none"],
        message=str(one("printer-state-message", "") or ""),
        accepting=bool(one("printer-is-accepting-jobs", True)),
        device_uri=one("device-uri"),
        markers=markers,
        queued=int(one("queued-job-count", 0) or 0),
    )
