"""The simulators as devices the drivers can open: ``sim://`` URLs.

This module is what the simulators register into the drivers' registries
(entry points in ``pyproject.toml``; :mod:`drivers.registry`):

* the ``sim`` transport (``sim://evolis?cards=50&jam_at=3``): bytes written go
  straight into an in-process printer simulator's protocol handler; its
  replies become readable after their simulated delay. While the simulated
  device has "vanished" every call raises :class:`TransportGone`, as a pulled
  cable would;
* the ``sim`` reader (``sim://<name>``): an in-process reader with an e-KTP
  chip in its field.

The device models (:mod:`simulators.printers`, :mod:`simulators.cards`) know
nothing of the drivers; only this module joins the two.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from drivers.readers.base import ChipPolicy
from drivers.readers.fake import FakeReader
from drivers.transports.base import Transport, TransportGone
from simulators.cards import SimCard
from simulators.printers import simulator_from_url


class SimTransport(Transport):
    """A byte pipe to an in-process simulator (``simulators.printers``)."""

    def __init__(self, url: str, simulator: Any = None) -> None:
        self.url = url
        if simulator is None:
            simulator = simulator_from_url(url)
        self.simulator = simulator
        self._open = False
        self._replies: deque[tuple[float, bytes]] = deque()
        self._cond = threading.Condition()

    def _check(self) -> None:
        if not self._open:
            raise TransportGone(f"{self.url}: not open")
        if self.simulator.model.is_vanished():
            self._open = False
            raise TransportGone(f"{self.url}: the simulated device disappeared")

    def open(self) -> None:
        if self.simulator.model.is_vanished():
            raise TransportGone(f"{self.url}: the simulated device is not there")
        self._open = True

    def close(self) -> None:
        self._open = False
        with self._cond:
            self._replies.clear()

    def write(self, data: bytes) -> None:
        self._check()
        now = time.monotonic()
        replies = self.simulator.receive(data)
        with self._cond:
            for payload, delay in replies:
                self._replies.append((now + delay, payload))
            self._cond.notify_all()

    def read(self, size: int, timeout: float) -> bytes:
        self._check()
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            while True:
                now = time.monotonic()
                if self._replies and self._replies[0][0] <= now:
                    ready_at, payload = self._replies.popleft()
                    if len(payload) > size:
                        self._replies.appendleft((ready_at, payload[size:]))
                        payload = payload[:size]
                    return payload
                if now >= deadline:
                    return b""
                wait = deadline - now
                if self._replies:
                    wait = min(wait, self._replies[0][0] - now)
                self._cond.wait(wait)


def open_sim_reader(url: str, policy: ChipPolicy | None = None) -> FakeReader:
    """An in-process reader named after ``sim://<name>``, an e-KTP chip in its field."""
    reader = FakeReader(url[len("sim://"):] or "Simulated Reader", policy)
    reader.insert(SimCard("ektp"))
    return reader
