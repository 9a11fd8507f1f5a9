"""Reconnect with backoff, in one place for every transport.

A :class:`Link` owns the transport of one device (closing and opening it
again is what reconnecting means). When the device vanishes
(:class:`TransportGone`) the link closes it, reports the device offline and
tries to open it again on later use, waiting 0.2 s, 0.4 s ... up to 10 s
between attempts so that a missing printer costs nothing while it is away.
An ``on_connect`` hook runs on every (re)connection: drivers use it to check
that the device that came back is the same one (its serial number).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from drivers.transports.base import Transport, TransportError, TransportGone

T = TypeVar("T")


class Backoff:
    """Exponential backoff: ``initial``, doubling up to ``maximum`` seconds."""

    def __init__(self, initial: float = 0.2, maximum: float = 10.0) -> None:
        self.initial, self.maximum = initial, maximum
        self.delay = 0.0

    def reset(self) -> None:
        self.delay = 0.0

    def next(self) -> float:
        self.delay = self.initial if self.delay == 0 else min(self.delay * 2, self.maximum)
        return self.delay


class Link:
    """A transport that reconnects by itself; see the module docstring."""

    def __init__(self, transport: Transport, *, backoff: Backoff | None = None,
                 on_connect: Callable[[Transport], None] | None = None,
                 on_state: Callable[[bool, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._device = transport
        self._backoff = backoff or Backoff()
        self.on_connect = on_connect
        self.on_state = on_state
        self._clock = clock
        self._transport: Transport | None = None
        self._next_attempt = 0.0
        self.online: bool | None = None  # None: never tried
        self.last_error = ""
        self.reconnects = 0
        self.lock = threading.RLock()

    @property
    def url(self) -> str:
        return self._device.url

    @property
    def device(self) -> Transport:
        """The transport object (open or not)."""
        return self._device

    def _set_state(self, online: bool, why: str) -> None:
        changed = self.online is not online
        self.online = online
        if changed and self.on_state is not None:
            self.on_state(online, why)

    def transport(self) -> Transport:
        """The open transport, opening it if the backoff allows; else :class:`TransportGone`."""
        with self.lock:
            if self._transport is not None:
                return self._transport
            now = self._clock()
            if now < self._next_attempt:
                raise TransportGone(f"{self.last_error} (next try in "
                                    f"{self._next_attempt - now:.1f} s)")
            t = self._device
            try:
                t.open()
                if self.on_connect is not None:
                    self._transport = t
                    self.on_connect(t)
            except TransportError as exc:
                self._transport = None
                t.close()
                self._offline(str(exc))
                raise
            except BaseException:
                self._transport = None
                t.close()
                raise
            self._transport = t
            if self.online is False:
                self.reconnects += 1
            self._backoff.reset()
            self._set_state(True, "connected")
            return t

    def _offline(self, why: str) -> None:
        self.last_error = why
        self._next_attempt = self._clock() + self._backoff.next()
        self._set_state(False, why)

    def failed(self, exc: BaseException) -> None:
        """Drop the transport after ``exc``; the next use reconnects (after backoff)."""
        with self.lock:
            t, self._transport = self._transport, None
            if t is not None:
                t.close()
            self._offline(str(exc))

    def call(self, fn: Callable[[Transport], T]) -> T:
        """Run ``fn`` on the transport; a vanished device marks the link offline."""
        with self.lock:
            t = self.transport()
            try:
                return fn(t)
            except TransportGone as exc:
                self.failed(exc)
                raise

    def retry_now(self) -> None:
        """Forget the backoff wait (an operator says the device is back)."""
        with self.lock:
            self._next_attempt = 0.0

    def close(self) -> None:
        with self.lock:
            t, self._transport = self._transport, None
            if t is not None:
                t.close()
