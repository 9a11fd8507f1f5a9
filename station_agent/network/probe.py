"""One probe of the central server, phase by phase (DESIGN §4).

Phases, in order: ``link`` (a network route exists), ``dns`` (the name
resolves), ``connect`` (TCP), ``tls`` (handshake, certificate verified; https
only), ``http`` (a status line arrives, 2xx/3xx; time to first byte). A probe
is one attempt with no hidden retries; the first phase that fails names the
fault: ``link_down``, ``dns_failure``, ``server_unreachable`` (connect, TLS or
HTTP). A probe that succeeds with a time to first byte above ``slow_ms`` is
``server_slow``.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from station_agent import clock

LINK, DNS, CONNECT, TLS, HTTP = "link", "dns", "connect", "tls", "http"
LINK_DOWN, DNS_FAILURE, SERVER_UNREACHABLE, SERVER_SLOW = (
    "link_down", "dns_failure", "server_unreachable", "server_slow")
#: Every fault code the network watch raises, in phase order.
CODES = (LINK_DOWN, DNS_FAILURE, SERVER_UNREACHABLE, SERVER_SLOW)
_FAULT_OF = {LINK: LINK_DOWN, DNS: DNS_FAILURE, CONNECT: SERVER_UNREACHABLE,
             TLS: SERVER_UNREACHABLE, HTTP: SERVER_UNREACHABLE}


@dataclass
class ProbeResult:
    """What one probe found. ``failed`` is the phase that failed (None if none)."""

    url: str
    at: float                                   # wall-clock time of the probe
    failed: str | None = None
    detail: str = ""
    status: int | None = None
    slow: bool = False
    ms: dict[str, float] = field(default_factory=dict)   # duration per phase that ran

    @property
    def fault(self) -> str | None:
        """The fault code this probe points at, or None when all is well."""
        if self.failed is not None:
            return _FAULT_OF[self.failed]
        return SERVER_SLOW if self.slow else None

    @property
    def state(self) -> str:
        """``ok``, ``slow`` or ``down``."""
        return "down" if self.failed else "slow" if self.slow else "ok"

    def as_dict(self) -> dict[str, object]:
        return {"url": self.url, "state": self.state, "failed_phase": self.failed,
                "fault": self.fault, "detail": self.detail, "http_status": self.status,
                "ms": {k: round(v, 1) for k, v in self.ms.items()}}


class _PhaseFailed(Exception):
    def __init__(self, phase: str, detail: str) -> None:
        super().__init__(detail)
        self.phase, self.detail = phase, detail


def has_route(route_files: tuple[Path, Path] = (Path("/proc/net/route"),
                                                Path("/proc/net/ipv6_route"))) -> bool:
    """True when the kernel has a default route (IPv4 or IPv6) over an interface
    that is up. Without procfs (not Linux) assume yes: the later phases tell."""
    v4, v6 = route_files
    if not v4.exists() and not v6.exists():
        return True
    try:
        for line in v4.read_text().splitlines()[1:]:
            cols = line.split()
            # Iface Destination Gateway Flags ...: flag 0x1 = RTF_UP
            if len(cols) > 3 and cols[1] == "00000000" and int(cols[3], 16) & 1:
                return True
        if v6.exists():
            for line in v6.read_text().splitlines():
                cols = line.split()
                if (len(cols) == 10 and cols[0] == "0" * 32 and cols[1] == "00"
                        and cols[9] != "lo" and int(cols[8], 16) & 1):
                    return True
    except (OSError, ValueError):
        return True
    return False


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _resolve(host: str, port: int, timeout: float) -> list[tuple[object, ...]]:
    """getaddrinfo with a timeout (it has none of its own): run it in a thread
    and give up waiting after ``timeout``."""
    result: list[object] = []

    def work() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            result.append(exc)

    t = threading.Thread(target=work, name="dns-probe", daemon=True)
    t.start()
    t.join(timeout)
    if not result:
        raise _PhaseFailed(DNS, f"resolving {host} took longer than {timeout:g} s")
    if isinstance(result[0], OSError):
        raise _PhaseFailed(DNS, f"{host} does not resolve: {result[0]}")
    return result[0]  # type: ignore[return-value]


class Prober:
    """Probes one URL; see the module docstring."""

    def __init__(self, url: str, *, timeout: float = 10.0, slow_ms: float = 2000.0,
                 cafile: str | None = None,
                 route_files: tuple[Path, Path] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.tls = parts.scheme == "https"
        self.timeout, self.slow_ms = timeout, slow_ms
        self.cafile = cafile
        self.route_files = route_files

    def probe(self) -> ProbeResult:
        """One attempt, phase by phase."""
        result = ProbeResult(self.url, clock.time_s())
        try:
            self._run(result)
        except _PhaseFailed as exc:
            result.failed, result.detail = exc.phase, exc.detail
        return result

    def _timed(self, result: ProbeResult, phase: str, start: float) -> None:
        result.ms[phase] = (time.monotonic() - start) * 1000

    def _run(self, r: ProbeResult) -> None:
        t0 = time.monotonic()
        if not _is_local(self.host):
            ok = has_route(self.route_files) if self.route_files else has_route()
            if not ok:
                raise _PhaseFailed(LINK, "no default route: the station is not connected")
        self._timed(r, LINK, t0)
        t0 = time.monotonic()
        infos = _resolve(self.host, self.port, self.timeout)
        self._timed(r, DNS, t0)
        t0 = time.monotonic()
        sock = self._connect(infos)
        self._timed(r, CONNECT, t0)
        try:
            if self.tls:
                t0 = time.monotonic()
                sock = self._handshake(sock)
                self._timed(r, TLS, t0)
            t0 = time.monotonic()
            r.status = self._request(sock)
            self._timed(r, HTTP, t0)
        finally:
            sock.close()
        if not 200 <= r.status < 400:
            raise _PhaseFailed(HTTP, f"the server answered HTTP {r.status}")
        r.slow = r.ms[HTTP] > self.slow_ms
        if r.slow:
            r.detail = (f"first byte after {r.ms[HTTP]:.0f} ms (slow above "
                        f"{self.slow_ms:.0f} ms)")

    def _connect(self, infos: list[tuple[object, ...]]) -> socket.socket:
        last: OSError | None = None
        for family, kind, proto, _name, addr in infos:
            s = socket.socket(family, kind, proto)  # type: ignore[arg-type]
            s.settimeout(self.timeout)
            try:
                s.connect(addr)  # type: ignore[arg-type]
                return s
            except OSError as exc:
                s.close()
                last = exc
        what = "timed out" if isinstance(last, TimeoutError) else str(last)
        raise _PhaseFailed(CONNECT, f"cannot connect to {self.host}:{self.port}: {what}")

    def _handshake(self, sock: socket.socket) -> socket.socket:
        ctx = ssl.create_default_context(cafile=self.cafile)
        try:
            return ctx.wrap_socket(sock, server_hostname=self.host)
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            raise _PhaseFailed(TLS, f"TLS with {self.host} failed: {exc}") from None

    def _request(self, sock: socket.socket) -> int:
        request = (f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                   "User-Agent: station-agent\r\nConnection: close\r\n\r\n").encode()
        try:
            sock.sendall(request)
            head = b""
            while b"\r\n" not in head and len(head) < 4096:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
        except TimeoutError:
            raise _PhaseFailed(HTTP, f"no answer from {self.host} within "
                                     f"{self.timeout:g} s") from None
        except OSError as exc:
            raise _PhaseFailed(HTTP, f"the connection to {self.host} failed: {exc}") from None
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise _PhaseFailed(HTTP, f"not an HTTP answer from {self.host}: {line[:60]!r}")
        return int(parts[1])
