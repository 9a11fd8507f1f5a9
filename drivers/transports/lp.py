"""USB printer-class character devices (``lp:///dev/usb/lp0``).

The kernel's usblp driver exposes the printer's bulk pipes as a character
device: writes go to bulk OUT, reads come from bulk IN (the printer's
replies). Reads are done non-blocking behind ``select``.
"""

from __future__ import annotations

import errno
import os
import select
from urllib.parse import urlsplit

from drivers.transports.base import Transport, TransportError, TransportGone

_GONE = {errno.ENODEV, errno.EIO, errno.ENXIO, errno.EBADF, errno.ENOENT}


class LpTransport(Transport):
    """A printer-class character device."""

    def __init__(self, url: str) -> None:
        self.url = url
        path = urlsplit(url).path
        if not path:
            raise TransportError(f"{url}: no device path; write lp:///dev/usb/lp0")
        self.path = path
        self._fd: int | None = None

    def open(self) -> None:
        if self._fd is not None:
            return
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as exc:
            raise TransportGone(f"{self.url}: cannot open {self.path} ({exc.strerror}); check "
                                "the cable and that the usblp driver is loaded") from exc

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _require(self) -> int:
        if self._fd is None:
            raise TransportGone(f"{self.url}: not open")
        return self._fd

    def write(self, data: bytes) -> None:
        fd = self._require()
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                select.select([], [fd], [], 1.0)
                continue
            except OSError as exc:
                raise TransportGone(f"{self.url}: write failed ({exc.strerror})") from exc
            view = view[n:]

    def read(self, size: int, timeout: float) -> bytes:
        fd = self._require()
        ready, _, _ = select.select([fd], [], [], max(timeout, 0.0))
        if not ready:
            return b""
        try:
            data = os.read(fd, size)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno in _GONE:
                raise TransportGone(f"{self.url}: the device is gone ({exc.strerror})") from exc
            raise TransportError(f"{self.url}: read failed ({exc.strerror})") from exc
        if not data:
            raise TransportGone(f"{self.url}: the device closed")
        return data
