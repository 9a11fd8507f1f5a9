"""Receive every station's messages from the broker and feed a :class:`FleetView`.

The MQTT side of the fleet view: one subscriber (paho's own network thread,
which also reconnects), QoS 1 on every topic. With a ``session`` name the
broker keeps a durable session for it, so events published while the
consumer is away are queued and delivered when it comes back: the way a
database loader on the central side would run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from station_agent.fleet.view import FleetView
from station_agent.uplink.broker import Broker, connect_blocking, make_client

#: Called with each new (deduplicated) event document.
Sink = Callable[[dict[str, Any]], None]


class FleetConsumer:
    """Subscribes to all stations under ``view.prefix``; thread-safe reads via :meth:`snapshot`."""

    def __init__(self, broker: Broker, view: FleetView | None = None, *,
                 session: str | None = None, sink: Sink | None = None,
                 connect_timeout: float = 5.0) -> None:
        self.broker, self.view = broker, view or FleetView()
        self.sink = sink
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.received = 0
        client_id = session or f"station-agent-fleet-{time.monotonic_ns() % 10**9}"
        self.client = make_client(broker, client_id, clean_session=session is None,
                                  connect_timeout=connect_timeout)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    def start(self, timeout: float = 10.0) -> FleetConsumer:
        """Connect (a clear :class:`OperationFailed` when that fails) and start receiving."""
        connect_blocking(self.client, self.broker, timeout)
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return self.view.as_dict()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        client.subscribe([(topic, 1) for topic in self.view.subscriptions()])

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.lock:
            self.received += 1
            event = self.view.handle(msg.topic, msg.payload)
        if event is not None and self.sink is not None:
            self.sink(event)
        self.changed.set()
