"""Serial ports and serial-like streams through pyserial's ``serial_for_url``.

``serial:///dev/ttyUSB0?baudrate=115200`` opens a local port; ``socket://``,
``rfc2217://`` and ``loop://`` are handed to pyserial unchanged, and
``tcp://host:port`` is an alias of ``socket://``.
"""

from __future__ import annotations

import contextlib
import select
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import serial

from drivers.transports.base import Transport, TransportError, TransportGone

_INT_OPTIONS = {"baudrate", "bytesize"}
_FLOAT_OPTIONS = {"stopbits"}
_BOOL_OPTIONS = {"rtscts", "xonxoff", "dsrdtr", "exclusive"}
_TEXT_OPTIONS = {"parity"}


def serial_target(url: str) -> tuple[str, dict[str, Any]]:
    """The pyserial port name and keyword options for ``url``."""
    parts = urlsplit(url)
    if parts.scheme == "tcp":
        return f"socket://{parts.netloc}", {}
    if parts.scheme != "serial":
        return url, {}
    if not parts.path:
        raise TransportError(f"{url}: no device path; write serial:///dev/ttyUSB0")
    opts: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        try:
            if key in _INT_OPTIONS:
                opts[key] = int(value)
            elif key in _FLOAT_OPTIONS:
                opts[key] = float(value)
            elif key in _BOOL_OPTIONS:
                opts[key] = value.lower() in ("1", "true", "yes", "on")
            elif key in _TEXT_OPTIONS:
                opts[key] = value.upper()[:1]
            else:
                raise TransportError(
                    f"{url}: unknown serial option {key!r}; known: "
                    + ", ".join(sorted(_INT_OPTIONS | _FLOAT_OPTIONS | _BOOL_OPTIONS
                                       | _TEXT_OPTIONS)))
        except ValueError:
            raise TransportError(f"{url}: option {key}={value!r} is not a number") from None
    return parts.path, opts


class SerialTransport(Transport):
    """A pyserial port (local device, TCP socket, RFC 2217, loopback)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._target, self._options = serial_target(url)
        self._port: Any = None
        self._fd: int | None = None

    def open(self) -> None:
        if self._port is not None:
            return
        try:
            port = serial.serial_for_url(self._target, timeout=0, write_timeout=5,
                                         **self._options)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportGone(f"{self.url}: cannot open ({exc}); check the cable, the "
                                "power and the device path") from exc
        self._port = port
        try:
            self._fd = port.fileno()
        except (AttributeError, NotImplementedError, serial.SerialException):
            self._fd = None

    def close(self) -> None:
        port, self._port, self._fd = self._port, None, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def _require(self) -> Any:
        if self._port is None:
            raise TransportGone(f"{self.url}: not open")
        return self._port

    def write(self, data: bytes) -> None:
        port = self._require()
        try:
            port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise TransportGone(f"{self.url}: write failed ({exc})") from exc

    def read(self, size: int, timeout: float) -> bytes:
        port = self._require()
        try:
            if self._fd is not None:
                ready, _, _ = select.select([self._fd], [], [], max(timeout, 0.0))
                if not ready:
                    return b""
                data: bytes = port.read(size)
                if not data:
                    raise TransportGone(f"{self.url}: the device closed the connection")
                return data
            port.timeout = max(timeout, 0.0)
            first: bytes = port.read(1)
            if not first:
                return b""
            port.timeout = 0
            rest: bytes = port.read(min(size - 1, max(port.in_waiting, 0))) if size > 1 else b""
            return first + rest
        except (serial.SerialException, OSError) as exc:
            raise TransportGone(f"{self.url}: read failed ({exc})") from exc
