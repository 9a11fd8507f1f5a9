"""The relay: outbox -> MQTT broker, at least once, in order, never blocking the ledger.

One thread owns one paho-mqtt client and drives its socket itself (paho's
external-loop API: ``loop_read``/``loop_write``/``loop_misc`` around a
``select`` that also watches a wake-up pipe), so publishing, acknowledging
and reconnecting happen in one place with no locks shared with paho:

1. read unsent events from the outbox in ``seq`` order (its own read-only
   connection, so it never waits on the writer);
2. publish them at QoS 1, at most ``window`` unacknowledged at a time;
3. when a PUBACK arrives, remember the event; every few milliseconds mark the
   acknowledged ones sent in one write transaction;
4. when the connection drops, reconnect with exponential backoff and jitter
   (thousands of stations must not reconnect in step); paho re-sends the
   unacknowledged publishes of the window with the DUP flag.

What the broker has not acknowledged stays unsent in the outbox, so a
restart of the agent (even kill -9) or of the broker re-sends it: delivery
is at least once, and receivers deduplicate by ``event_id``. Ledger writes
only add outbox rows; they never wait for the relay, and a relay that
cannot mark rows sent (disk full) keeps going and marks them later.

The station's status (retained, with a retained offline Last Will) and its
active faults (retained) are published on connect, on change and every
``status_interval`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from station_agent import logs
from station_agent.clock import now_utc
from station_agent.ledger import Ledger
from station_agent.ledger import outbox as ob
from station_agent.ledger.errors import StorageError
from station_agent.ledger.store import open_reader
from station_agent.uplink import messages
from station_agent.uplink.broker import (
    Broker,
    SocketErrors,
    explain,
    explain_refusal,
    make_client,
    no_connack,
)

#: Acknowledged events are marked sent at least this often (seconds) ...
ACK_FLUSH_S = 0.05
#: ... or as soon as this many are waiting.
ACK_FLUSH_N = 512
#: Events read from the outbox per query.
READ_CHUNK = 1000


@dataclass(frozen=True)
class RelaySettings:
    """How the relay behaves (``[uplink]`` keys of the same names)."""

    window: int = 64               # unacknowledged events at most
    keepalive: int = 30            # MQTT keepalive, seconds
    reconnect_min: float = 0.5     # first retry delay, seconds (doubles up to ...)
    reconnect_max: float = 30.0    # ... this
    status_interval: float = 30.0  # heartbeat status, seconds
    connect_timeout: float = 5.0   # TCP + TLS + CONNACK, seconds
    prefix: str = messages.DEFAULT_PREFIX
    client_id: str | None = None   # default "station-agent-<station id>"


class Relay:
    """Publishes a ledger's outbox to a broker (see the module docstring).

    ``status_fn`` returns the station's status fields for the retained status
    message; ``faults_fn`` the active faults; ``on_link`` is called with
    ``(ok, error)`` after every connection attempt and every disconnection.
    """

    def __init__(self, ledger: Ledger, broker: Broker, station_id: str,
                 settings: RelaySettings | None = None, *,
                 status_fn: Callable[[], dict[str, Any]] | None = None,
                 faults_fn: Callable[[], list[dict[str, Any]]] | None = None,
                 on_link: Callable[[bool, str], None] | None = None) -> None:
        self.ledger, self.broker, self.station_id = ledger, broker, station_id
        self.settings = s = settings or RelaySettings()
        self.topics = messages.Topics(s.prefix, station_id)
        self.status_fn, self.faults_fn, self.on_link = status_fn, faults_fn, on_link
        self.ledger_id = ledger.meta["ledger_id"]
        self.log = logs.get("uplink", station=station_id, broker=broker.where)
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)
        self._client: Any = None
        self._reader: sqlite3.Connection | None = None
        # State of the link (read by info() from other threads; plain values).
        self.connected = False
        self.error: str | None = None
        self._socket_errors = SocketErrors()
        self.connected_since: str | None = None
        self.last_ack_at: str | None = None
        self.sent = 0                       # events acknowledged in this run
        self.attempts = 0                   # failed connection attempts in a row
        # Relay-thread-only state.
        self._connack: str | None = None    # "ok" or the refusal reason
        self._inflight: dict[int, int] = {}  # paho mid -> outbox seq
        self._control_mids: set[int] = set()
        self._buffer: deque[ob.OutboxEvent] = deque()
        self._cursor = 0                    # highest seq handed to paho
        self._acked: list[int] = []
        self._acked_since = 0.0
        self._status_at = -1e9              # monotonic time of the last status
        self._status_dirty = True
        self._faults_dirty = True

    # -- control (any thread) ----------------------------------------------------

    def start(self) -> Relay:
        self._thread.start()
        return self

    def wake(self, *, status: bool = False, faults: bool = False) -> None:
        """New outbox rows (or a status/fault change): look now, not at the next tick."""
        if status:
            self._status_dirty = True
        if faults:
            self._faults_dirty = True
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def stop(self, timeout: float = 10.0) -> None:
        """Publish the offline status, mark what was acknowledged, disconnect."""
        self._stop.set()
        self.wake()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def info(self) -> dict[str, Any]:
        """The link and the backlog, for ``status`` and ``diag``."""
        try:
            backlog = self.ledger.read(ob.backlog).as_dict()
        except StorageError:
            backlog = {"backlog": None, "oldest_unsent": None, "last_seq": None}
        state = ("connected" if self.connected else
                 "stopped" if self._stop.is_set() else
                 "connecting" if self.error is None else "disconnected")
        return {"mqtt_url": self.broker.url, "state": state, "connected": self.connected,
                "connected_since": self.connected_since, "error": self.error,
                "sent": self.sent, "last_ack_at": self.last_ack_at,
                "window": self.settings.window, **backlog}

    # -- the relay thread ----------------------------------------------------------

    def _run(self) -> None:
        try:
            self._reader = open_reader(self.ledger.state_dir)
            while not self._stop.is_set():
                if not self.connected:
                    if not self._connect():
                        self._stop.wait(self._backoff())
                    continue
                self._pump()
        except Exception as exc:   # the relay must never take the daemon down
            self.log.exception("uplink relay stopped by an unexpected error", exc_info=exc)
        finally:
            self._shutdown()

    def _backoff(self) -> float:
        s = self.settings
        delay = min(s.reconnect_max, s.reconnect_min * 2 ** min(self.attempts - 1, 16))
        return float(delay * random.uniform(0.8, 1.2))

    def _new_client(self) -> Any:
        s = self.settings
        will = messages.status_message(self.station_id, False, now_utc(), "connection lost")
        client = make_client(self.broker, s.client_id or f"station-agent-{self.station_id}",
                             will=(self.topics.status, will), max_inflight=s.window + 8,
                             connect_timeout=s.connect_timeout)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        return client

    def _connect(self) -> bool:
        s = self.settings
        self._connack = None
        self._socket_errors.last = None
        try:
            if self._client is None:
                self._client = self._new_client()
            # Listen to paho's log only while connecting (with a listener, paho
            # formats a line for every packet).
            self._client.on_log = self._socket_errors.note
            self._client.connect(self.broker.host, self.broker.port, keepalive=s.keepalive)
            deadline = time.monotonic() + s.connect_timeout
            while self._connack is None and time.monotonic() < deadline \
                    and not self._stop.is_set():
                if self._client.loop(timeout=0.05) != 0:
                    break
        except Exception as exc:
            return self._failed(explain(self.broker, exc))
        finally:
            if self._client is not None:
                self._client.on_log = None
        if self._connack != "ok":
            with contextlib.suppress(Exception):
                self._client.disconnect()
            if self._stop.is_set():
                return False
            return self._failed(
                explain_refusal(self.broker, self._connack) if self._connack else
                no_connack(self.broker, s.connect_timeout, self._socket_errors.last))
        self.attempts, self.error = 0, None
        self.connected, self.connected_since = True, now_utc()
        self._status_dirty = self._faults_dirty = True
        self.log.info("uplink connected", backlog=self._backlog_count())
        if self.on_link:
            self.on_link(True, "")
        return True

    def _failed(self, message: str) -> bool:
        self.attempts += 1
        if message != self.error:
            self.log.warning("uplink not connected", error=message, attempt=self.attempts)
        self.error = message
        if self.on_link:
            self.on_link(False, message)
        return False

    def _pump(self) -> None:
        """One round: fill the window, publish status/faults, do socket I/O, mark acks."""
        client = self._client
        self._fill_window()
        if self._faults_dirty:
            self._publish_faults()
        since = time.monotonic() - self._status_at
        if since >= self.settings.status_interval or (self._status_dirty and since >= 1.0):
            self._publish_status()
            since = 0.0
        timeout = self.settings.status_interval - since
        if self._status_dirty:
            timeout = min(timeout, 1.0 - since)
        if self._acked:
            timeout = min(timeout, self._acked_since + ACK_FLUSH_S - time.monotonic())
        sock = client.socket()
        if sock is None:
            self._lost("the connection closed")
            return
        pending = sock.pending() if hasattr(sock, "pending") else 0
        try:
            rl, wl, _ = select.select([sock, self._wake_r],
                                      [sock] if client.want_write() else [], [],
                                      0.0 if pending else min(1.0, max(0.0, timeout)))
        except (OSError, ValueError):
            self._lost("the connection closed")
            return
        if self._wake_r in rl:
            with contextlib.suppress(BlockingIOError, OSError):
                os.read(self._wake_r, 4096)
        rc = 0
        if sock in rl or pending:
            rc = client.loop_read()
        if rc == 0 and sock in wl:
            rc = client.loop_write()
        if rc == 0:
            rc = client.loop_misc()
        if self._acked and (len(self._acked) >= ACK_FLUSH_N
                            or time.monotonic() - self._acked_since >= ACK_FLUSH_S):
            self._flush_acks()
        if rc != 0 or client.socket() is None:
            self._lost("the connection dropped")

    def _fill_window(self) -> None:
        window = self.settings.window
        while len(self._inflight) < window:
            if not self._buffer:
                assert self._reader is not None
                try:
                    self._buffer.extend(ob.pending(self._reader, self._cursor, READ_CHUNK))
                except sqlite3.Error as exc:
                    self.log.error("outbox not readable", error=str(exc))
                    return
                if not self._buffer:
                    return
            ev = self._buffer.popleft()
            payload = messages.event_message(ev, self.station_id, self.ledger_id)
            info = self._client.publish(self.topics.events, payload, qos=1)
            self._inflight[info.mid] = ev.seq
            self._cursor = ev.seq

    def _publish_status(self, online: bool = True, reason: str | None = None) -> None:
        fields: dict[str, Any] = {}
        if online and self.status_fn is not None:
            try:
                fields = self.status_fn()
            except Exception as exc:
                self.log.warning("status not available", error=str(exc))
        if self._reader is not None:
            with contextlib.suppress(sqlite3.Error):
                fields.update(ob.backlog(self._reader).as_dict())
        payload = messages.status_message(self.station_id, online, now_utc(), reason, **fields)
        info = self._client.publish(self.topics.status, payload, qos=1, retain=True)
        self._control_mids.add(info.mid)
        self._status_dirty = False
        self._status_at = time.monotonic()

    def _publish_faults(self) -> None:
        faults: list[dict[str, Any]] = []
        if self.faults_fn is not None:
            try:
                faults = self.faults_fn()
            except Exception as exc:
                self.log.warning("faults not available", error=str(exc))
                return
        payload = messages.faults_message(self.station_id, now_utc(), faults)
        info = self._client.publish(self.topics.faults, payload, qos=1, retain=True)
        self._control_mids.add(info.mid)
        self._faults_dirty = False

    def _flush_acks(self) -> None:
        acked, at = self._acked, now_utc()
        try:
            self.ledger.write(lambda conn: ob.mark_sent(conn, acked, at))
        except StorageError as exc:
            # Not marked = sent again later (a duplicate the receiver drops).
            self.log.error("acknowledged events not marked sent; they will be sent again",
                           error=str(exc), count=len(acked))
            self._acked_since = time.monotonic()
            return
        self.sent += len(acked)
        self.last_ack_at = at
        self._acked = []

    def _lost(self, why: str) -> None:
        if not self.connected:
            return
        self.connected = False
        self.attempts = 0
        if self._acked:
            self._flush_acks()
        message = f"lost the connection to broker {self.broker.where} ({why}); reconnecting"
        self._failed(message)

    # -- paho callbacks (run in the relay thread, inside loop_read) -----------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        self._connack = "ok" if not reason.is_failure else str(reason)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any,
                    properties: Any) -> None:
        seq = self._inflight.pop(mid, None)
        if seq is None:
            self._control_mids.discard(mid)
            return
        if not self._acked:
            self._acked_since = time.monotonic()
        self._acked.append(seq)

    # -- shutdown ----------------------------------------------------------------------

    def _shutdown(self) -> None:
        client = self._client
        try:
            if client is not None and self.connected:
                # Explicit offline (a clean DISCONNECT suppresses the Last Will),
                # then give the broker a moment to acknowledge what is in flight.
                self._publish_status(online=False, reason="shutdown")
                deadline = time.monotonic() + 2.0
                while (self._control_mids or self._inflight) and time.monotonic() < deadline:
                    if client.loop(timeout=0.05) != 0:
                        break
                if self._acked:
                    self._flush_acks()
                client.disconnect()
                client.loop_write()   # sends DISCONNECT; paho then closes the socket
            elif self._acked:
                self._flush_acks()
        except Exception as exc:
            self.log.warning("uplink shutdown incomplete", error=str(exc))
        finally:
            self.connected = False
            if self._reader is not None:
                self._reader.close()

    def _backlog_count(self) -> int | None:
        try:
            return ob.backlog(self._reader).count if self._reader is not None else None
        except sqlite3.Error:
            return None
