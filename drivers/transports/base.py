"""The byte-transport interface every driver speaks through."""

from __future__ import annotations

import abc
import time


class TransportError(OSError):
    """The transport failed; the message names the device and what to check."""


class TransportGone(TransportError):
    """The device vanished (unplugged, powered off, connection closed)."""


class WrongDevice(TransportError):
    """A device answered, but not the one expected (another serial number)."""


class Transport(abc.ABC):
    """A bidirectional byte stream to one device.

    ``read`` returns what is available (at most ``size`` bytes), waiting up to
    ``timeout`` seconds for the first byte; ``b""`` means nothing arrived in
    time. A vanished device raises :class:`TransportGone`.
    """

    url: str

    @abc.abstractmethod
    def open(self) -> None:
        """Open the device; raise :class:`TransportError` if it is not there."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device; safe to call twice."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Send all of ``data``."""

    @abc.abstractmethod
    def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes, waiting at most ``timeout`` s for the first one."""

    def discard_input(self) -> None:
        """Drop bytes already received (stale replies after a timeout)."""
        while self.read(4096, 0.0):
            pass

    def read_until(self, terminators: tuple[bytes, ...], timeout: float,
                   limit: int = 65536) -> bytes:
        """Read up to and including the first terminator; ``timeout`` covers the whole
        reply. Returns what arrived (possibly without a terminator) on timeout."""
        deadline = time.monotonic() + timeout
        buf = bytearray()
        while len(buf) < limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            chunk = self.read(4096, remaining)
            if not chunk:
                continue
            buf += chunk
            for t in terminators:
                i = buf.find(t)
                if i >= 0:
                    # Anything after the terminator belongs to nobody: one command at a time.
                    return bytes(buf[: i + len(t)])
        return bytes(buf)

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
