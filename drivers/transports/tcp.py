"""TCP printers (``socket://host:port``, ``tcp://host:port``): a plain socket.

Not pyserial's ``socket://`` handler: that one sleeps 0.3 s in every close
("give the server some time" for quick reconnects), which the spooler
backend pays twice per job when it reads a networked printer's counter
around the job. A printer on port 9100 needs none of pyserial's serial-line
emulation.
"""

from __future__ import annotations

import contextlib
import select
import socket
from urllib.parse import urlsplit

from drivers.transports.base import Transport, TransportError, TransportGone

#: Seconds to wait for a TCP connection to a printer.
CONNECT_TIMEOUT = 5.0


def tcp_address(url: str) -> tuple[str, int]:
    """``(host, port)`` of a ``socket://`` or ``tcp://`` URL."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise TransportError(f"{url}: expected socket://host:port, e.g. socket://10.0.0.5:9100")
    return parts.hostname, port


class TcpTransport(Transport):
    """One TCP connection to a networked printer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.address = tcp_address(url)
        self._sock: socket.socket | None = None

    def open(self) -> None:
        if self._sock is not None:
            return
        try:
            s = socket.create_connection(self.address, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise TransportGone(f"{self.url}: cannot connect ({exc}); check the printer's "
                                "power, its network cable and its address") from exc
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        self._sock = s

    def close(self) -> None:
        s, self._sock = self._sock, None
        if s is not None:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _require(self) -> socket.socket:
        if self._sock is None:
            raise TransportGone(f"{self.url}: not open")
        return self._sock

    def write(self, data: bytes) -> None:
        s = self._require()
        view = memoryview(data)
        while view:
            try:
                n = s.send(view)
            except BlockingIOError:
                _, ready, _ = select.select([], [s], [], CONNECT_TIMEOUT)
                if not ready:
                    raise TransportGone(f"{self.url}: the printer takes no data") from None
                continue
            except OSError as exc:
                raise TransportGone(f"{self.url}: write failed ({exc})") from exc
            view = view[n:]

    def read(self, size: int, timeout: float) -> bytes:
        s = self._require()
        ready, _, _ = select.select([s], [], [], max(timeout, 0.0))
        if not ready:
            return b""
        try:
            data = s.recv(size)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise TransportGone(f"{self.url}: read failed ({exc})") from exc
        if not data:
            raise TransportGone(f"{self.url}: the printer closed the connection")
        return data
