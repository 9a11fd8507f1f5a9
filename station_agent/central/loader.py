"""The central loader: every station's messages from the broker into PostgreSQL.

``station-agent central run`` (docs/CENTRAL.md). One MQTT 5 client with a
durable session (a fixed client id, ``clean_start`` off, a session expiry of
:data:`SESSION_EXPIRY`), subscribed to

* ``$share/<group>/<prefix>/+/events``: a shared subscription, so several
  loaders split the events between them and the broker gives a dead loader's
  share to the others (or keeps it for its session until it returns);
* ``<prefix>/+/status`` and ``<prefix>/+/faults``, plainly: retained
  documents are not sent on shared subscriptions, and every loader applying
  them is harmless (the newest per station wins).

The subscriptions are made again on every connection. A broker must keep a
durable session's subscriptions across its own restarts: mosquitto 2.0 does
for plain subscriptions but not for shared ones (tested, docs/CENTRAL.md), so
events published after a mosquitto restart and before the loader is back are
not queued for it. ``shared=False`` (``--no-share``) subscribes plainly: for
a single loader on such a broker.

One thread does the work in turn, driving paho's network loop itself: it
takes up to ``batch`` messages (waiting at most ``wait`` seconds after the
first), checks each (:mod:`.intake`), applies them in one transaction
(:mod:`.store`) and only after the commit acknowledges them to the broker
(paho's manual acknowledgement, in the order received). The broker may send
:func:`receive_maximum` messages ahead, so the next batches are on their way
while one is applied. A crash anywhere before the acknowledgement makes the
broker deliver the messages again and the database ignores what it already
has. When PostgreSQL is unreachable the batch is kept and retried with
back-off, the broker connection kept alive meanwhile; nothing is
acknowledged, so the broker holds everything else. Several loaders (one per
core: contrib/station-agent-central@.service) use several cores.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from station_agent import logs
from station_agent.central import intake, schema, store
from station_agent.errors import BadInput, OperationFailed
from station_agent.uplink.broker import Broker, connect_blocking, make_client

if TYPE_CHECKING:
    import psycopg

#: How long the broker keeps a loader's session (and queues its share) while it is away.
SESSION_EXPIRY = 7 * 24 * 3600
#: How many unacknowledged messages the broker may send a loader at once, in
#: batches: while one batch is applied the next ones arrive (with one batch's
#: worth the broker would wait for every commit). MQTT caps it at 65,535.
IN_FLIGHT_BATCHES = 4


def receive_maximum(batch: int) -> int:
    """The MQTT 5 Receive Maximum a loader announces for batches of ``batch``."""
    return max(1, min(65_535, IN_FLIGHT_BATCHES * batch))


@dataclass(frozen=True)
class Settings:
    """How one loader runs."""

    db_url: str
    group: str = "central"
    name: str = "central-loader-1"
    prefix: str = "stations"
    batch: int = 8000
    wait: float = 0.05
    #: False: a plain durable subscription (one loader; see the module docstring).
    shared: bool = True


def connect_db(url: str) -> psycopg.Connection:
    """A connection in autocommit mode (each batch opens its own transaction);
    :class:`OperationFailed` with one line when the server cannot be reached."""
    import psycopg

    if not url.startswith(("postgresql://", "postgres://")):
        raise BadInput(f"--db {url!r}: expected postgresql://[user@]host[:port]/database "
                       "(a password goes in ~/.pgpass or PGPASSWORD, not in the URL)")
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5,
                               application_name="station-agent central")
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OperationFailed(f"PostgreSQL at {_where(url)} cannot be reached ({first}): "
                              "check that the server runs and the URL") from None


def _where(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


class Loader:
    """One loader; :meth:`start` then :meth:`run` until ``stop`` is set."""

    def __init__(self, broker: Broker, settings: Settings) -> None:
        self.broker, self.settings = broker, settings
        self.log = logs.get("central", loader=settings.name)
        #: Received and not yet taken: (packet id, QoS, topic, payload).
        self.inbox: list[tuple[int, int, str, bytes]] = []
        self._reconnect_delay = 0.5
        self.totals: dict[str, int] = {"applied": 0, "duplicate": 0, "refused": 0,
                                       "status": 0, "breaks": 0, "batches": 0}
        self.db: psycopg.Connection | None = None
        self.client: Any = None

    # -- set-up -----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Loader:
        """Migrate the database, connect to the broker and subscribe."""
        self.db = connect_db(self.settings.db_url)
        applied = schema.migrate(self.db)
        if applied:
            self.log.info("database schema migrated", versions=applied)
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        from station_agent.uplink.buffered import BufferedClient

        self.client = make_client(self.broker, self.settings.name, v5=True, manual_ack=True,
                                  client_class=BufferedClient)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_received = self._on_received
        self.client.on_disconnect = self._on_disconnect
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY
        props.ReceiveMaximum = receive_maximum(self.settings.batch)
        connect_blocking(self.client, self.broker, timeout, threaded=False,
                         clean_start=False, properties=props)
        self.log.info("loader started", broker=self.broker.where, group=self.settings.group)
        return self

    def subscriptions(self) -> list[str]:
        p, g = self.settings.prefix, self.settings.group
        events = f"$share/{g}/{p}/+/events" if self.settings.shared else f"{p}/+/events"
        return [events, f"{p}/+/status", f"{p}/+/faults"]

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        from paho.mqtt.subscribeoptions import SubscribeOptions

        client.subscribe([(t, SubscribeOptions(qos=1)) for t in self.subscriptions()])
        self.log.info("connected to the broker", session_present=bool(
            getattr(flags, "session_present", False)))

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        self.log.warning("broker connection lost; reconnecting", reason=str(reason))

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        """What paho decodes itself (a message with MQTT 5 properties)."""
        try:
            topic = msg.topic
        except UnicodeDecodeError:   # refused by intake
            topic = "?"
        self.inbox.append((msg.mid, msg.qos, topic, msg.payload))

    def _on_received(self, mid: int, qos: int, topic: bytes, payload: bytes,
                     retain: bool) -> None:
        """What the buffered client decodes itself (most messages)."""
        # A topic that is not UTF-8 (a broker should refuse it) is refused by intake.
        self.inbox.append((mid, qos, topic.decode(errors="replace"), payload))

    # -- the loop ---------------------------------------------------------------------

    def _pump(self, timeout: float, stop: threading.Event) -> None:
        """Run paho's network loop once (read, write, keep-alive): received
        messages go to :attr:`inbox`. A lost connection is made again with
        back-off (paho's ``on_connect`` subscribes again)."""
        from paho.mqtt.enums import MQTTErrorCode

        rc = self.client.loop(timeout)
        if rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
            self._reconnect_delay = 0.5
            return
        if stop.wait(self._reconnect_delay):
            return
        self._reconnect_delay = min(self._reconnect_delay * 2, 10.0)
        try:
            self.client.reconnect()
        except OSError as exc:
            self.log.warning("broker not reachable; retrying", error=str(exc)[:200])

    def _take(self, stop: threading.Event) -> list[tuple[int, int, str, bytes]]:
        """Up to ``batch`` messages: what has arrived, waiting at most ``wait``
        seconds after the first (nothing when none arrives within 0.2 s)."""
        size, inbox = self.settings.batch, self.inbox
        deadline: float | None = None
        t0 = time.monotonic()
        while len(inbox) < size and not stop.is_set():
            now = time.monotonic()
            if deadline is None and inbox:
                deadline = now + self.settings.wait
            left = (deadline if deadline is not None else t0 + 0.2) - now
            if left <= 0:
                break
            self._pump(left, stop)
        batch = inbox[:size]
        del inbox[:size]
        return batch

    def run(self, stop: threading.Event) -> None:
        """Load until ``stop`` is set; then disconnect.

        One thread does everything in turn: receive a batch, check it, apply it
        in one transaction, acknowledge it. (Several loaders use several
        cores; threads in one process would contend for Python's lock -
        measured in docs/PERFORMANCE.md.)

        A batch makes tens of thousands of short-lived objects without cycles
        (reference counting frees them): what is loaded by now is frozen out of
        the cycle collector, and it runs less often, so that it does not walk
        the modules' objects over and over."""
        import gc

        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        last_report, reported = time.monotonic(), dict(self.totals)
        try:
            while not stop.is_set():
                batch = self._take(stop)
                if batch:
                    messages = [intake.read(topic, payload, self.settings.prefix)
                                for _, _, topic, payload in batch]
                    outcome = self._load(messages, stop)
                    if outcome is None:
                        break   # stopped before it committed: the broker sends it again
                    self.client.ack_many((mid, qos) for mid, qos, _, _ in batch)
                    self._note(outcome)
                if time.monotonic() - last_report >= 10 and self.totals != reported:
                    last_report, reported = time.monotonic(), dict(self.totals)
                    self.log.info("loader totals", **self.totals, queued=len(self.inbox))
        finally:
            stop.set()
            self.close()

    def _load(self, messages: list[intake.Message],
              stop: threading.Event) -> store.Outcome | None:
        """Apply one batch, retrying with back-off until it commits (None: stopped).
        While it waits, the broker connection is kept alive (nothing is acknowledged)."""
        delay = 0.5
        while True:
            try:
                return self._apply(messages)
            except Exception as exc:  # the database went away, or a deadlock between loaders
                self.log.error("batch not committed; retrying (nothing acknowledged)",
                               error=str(exc).strip().splitlines()[0] if str(exc).strip()
                               else type(exc).__name__, messages=len(messages))
                self._drop_db()
                until = time.monotonic() + delay
                while not stop.is_set() and (left := until - time.monotonic()) > 0:
                    self._pump(min(left, 1.0), stop)
                if stop.is_set():
                    return None
                delay = min(delay * 2, 10.0)

    def _apply(self, messages: list[intake.Message]) -> store.Outcome:
        if self.db is None or self.db.closed:
            self.db = connect_db(self.settings.db_url)
        return store.apply(self.db, messages)

    def _drop_db(self) -> None:
        if self.db is not None:
            try:
                self.db.close()
            except Exception as exc:  # closing a broken connection
                self.log.debug("closing the database connection failed", error=str(exc))
        self.db = None

    def _note(self, out: store.Outcome) -> None:
        t = self.totals
        t["applied"] += out.applied
        t["duplicate"] += out.duplicates
        t["refused"] += out.refused_count
        t["status"] += out.statuses
        t["breaks"] += len(out.breaks)
        t["batches"] += 1
        for b in out.breaks:
            self.log.warning(b.line())
        for station, ledger_id, flagged in out.new_streams:
            if flagged:
                self.log.warning("station started a new ledger (its state was rebuilt): "
                                 "a new stream", station=station, ledger_id=ledger_id)
        for (station, reason), n in sorted(out.refused.items()):
            if reason != "chain break":
                self.log.warning("messages refused", station=station, reason=reason, count=n)

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop(0.1)   # send the DISCONNECT
            self.client = None
        self._drop_db()
