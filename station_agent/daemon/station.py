"""One station, wired: devices and job sources -> event bus -> fault board, fault log,
ledger log, API stream, uplink -> local API.

This module only builds the parts and connects them; each part lives in its
own module. A card's pick is recorded by the issuer
(:mod:`station_agent.issuing.driven`, or :mod:`station_agent.issuing.spooled`
for spooled jobs) into the ledger (:mod:`station_agent.ledger`); a fault gets
its hysteresis on the fault board (:mod:`station_agent.faults.board`) whatever
its origin, because every producer reports through the bus
(:mod:`station_agent.events`). The daemon (:mod:`station_agent.daemon.service`)
starts and stops a :class:`Station`; tests and the demo can run one in-process.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from drivers.printers import Counters
from station_agent import clock, logs
from station_agent.api import protocol as p
from station_agent.api.peers import AccessPolicy
from station_agent.api.server import ApiServer
from station_agent.clock import now_utc
from station_agent.config import Config
from station_agent.console.server import ConsoleServer
from station_agent.daemon import listeners, ops
from station_agent.daemon.console import start_console, stop_console
from station_agent.daemon.pollers import Poller
from station_agent.daemon.status import network_section, status_document, uplink_fields
from station_agent.daemon.supplies import SupplyDesk
from station_agent.daemon.units import PrinterUnit, ReaderUnit
from station_agent.events import (
    CONDITION,
    ENTRIES,
    FAULT_CHANGED,
    OPERATOR,
    OUTAGE,
    Bus,
    Event,
)
from station_agent.faults.board import FaultBoard
from station_agent.faults.reporter import FaultReporter
from station_agent.issuing import settle
from station_agent.issuing.spooled import SPOOLER, SpoolerSource
from station_agent.ledger import Ledger, LedgerRefused, daily, faultlog, outbox
from station_agent.ledger.errors import StorageError
from station_agent.ledger.model import Entry
from station_agent.ledger.stock import forecast
from station_agent.network.probe import Prober
from station_agent.network.watch import SOURCE as NETWORK
from station_agent.network.watch import NetworkWatch
from station_agent.notify.notifier import Notifier
from station_agent.uplink.relay import Relay

#: Seconds between stock checks.
STOCK_CHECK_S = 10.0
#: Seconds between reads of the spooler journal and of cupsd's queues.
SPOOLER_POLL_S = 1.0
#: Failed connection attempts in a row before ``uplink_down`` is raised.
UPLINK_RAISE_AFTER = 3
#: Sources that are not devices.
UPLINK = "uplink"
_STATION_SOURCES = (NETWORK, UPLINK, SPOOLER, "station", "storage", "ledger")


class Station:
    """See the module docstring."""

    def __init__(self, config: Config, state_dir: Path, *, serve_api: bool = True) -> None:
        self.config, self.state_dir = config, Path(state_dir)
        self.log = logs.get("station", station=config.station_id)
        if config.timezone:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            clock.record_timezone(self.state_dir, config.timezone)
            clock.use_timezone(config.timezone)
        self.started_at = now_utc()
        self.ledger = Ledger(self.state_dir, station_id=config.station_id)
        self.bus = Bus(on_error=self._subscriber_failed)
        hysteresis = config.faults
        self.board = FaultBoard(raise_after=hysteresis.raise_after,
                                clear_after=hysteresis.clear_after,
                                flap_high=hysteresis.flap_high, flap_low=hysteresis.flap_low)
        self.board.attach(self.bus)
        self.faults = FaultReporter(self.bus, self.board)
        self.supplies: SupplyDesk = SupplyDesk(config, self.ledger, self.faults,
                                               lambda: self.printers, self._markers)
        self._restore_faults()

        # Producers: devices, job sources, the network watch, the uplink's link.
        self.readers = {r.id: ReaderUnit(r, self.faults, 1.0, self.poll_error(r.id))
                        for r in config.readers}
        self.printers: dict[str, PrinterUnit] = {}
        for pc in config.printers:
            if pc.queue is not None:
                continue   # seen through the spooler (below), not polled directly
            reader = next((u for u in self.readers.values() if u.cfg.printer == pc.id), None)
            self.printers[pc.id] = PrinterUnit(pc, self.ledger, self.faults,
                                               reader.checker if reader else None,
                                               self.open_jobs, self.poll_error(pc.id),
                                               on_counters=self._on_counters)
        for ru in self.readers.values():
            ru.poller.interval = next((u.cfg.poll_interval for u in self.printers.values()
                                       if u.id == ru.cfg.printer), 1.0)
        self.spooler = SpoolerSource(config, self.state_dir, self.ledger, self.faults,
                                     on_error=lambda msg: self.log.warning(msg))
        self.watch: NetworkWatch | None = None
        net = config.network
        if net.probe_url:
            self.watch = NetworkWatch(
                Prober(net.probe_url, timeout=net.timeout, slow_ms=net.slow_ms), self.faults,
                interval=net.interval, fail_after=net.fail_after, clear_after=net.clear_after,
                on_outage=self._on_outage)
        self.relay: Relay | None = None
        broker = config.uplink.broker()
        if broker is not None:
            self.relay = Relay(self.ledger, broker, config.station_id, config.uplink.settings(),
                               status_fn=self.uplink_status, faults_fn=self._active_faults,
                               on_link=self._on_uplink)
        self.ledger.on_commit.append(self._on_commit)
        self.pollers = [
            Poller("stock", STOCK_CHECK_S, self.check_stock, self.poll_error("station")),
            Poller("spooler", SPOOLER_POLL_S, self.poll_spooler, self.poll_error(SPOOLER)),
        ]
        self.stock_poller, self.spooler_poller = self.pollers
        self.api = ApiServer(self.state_dir, self.handle, ops.PARAMETERS,
                             on_error=self.poll_error("api"),
                             policy=AccessPolicy.for_daemon(config.api_group)) \
            if serve_api else None

        # Subscribers, in the order they see each event.
        self.bus.subscribe(listeners.fault_log(self.ledger, self.log), FAULT_CHANGED, OUTAGE)
        self.bus.subscribe(listeners.log_line(self.log), FAULT_CHANGED, ENTRIES, OUTAGE,
                           OPERATOR)
        self.bus.subscribe(listeners.stock_kick(self.stock_poller.poll_now), ENTRIES)
        if config.supplies:
            self.bus.subscribe(listeners.supply_watch(self.supplies.on_entries), ENTRIES)
        if self.api:
            self.bus.subscribe(listeners.api_stream(self.api), FAULT_CHANGED, ENTRIES)
        if self.relay:
            self.bus.subscribe(listeners.relay_wake(self.relay), FAULT_CHANGED, ENTRIES)

        self.console: ConsoleServer | None = None
        self.notifier: Notifier | None = None
        if config.notify.channels:
            self.notifier = Notifier(config, self.ledger, self._active_faults)
        self.stopping = threading.Event()
        self._inflight = 0
        self._idle = threading.Condition()

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> Station:
        for poller in self._device_pollers():
            poller.start()
        if self.watch:
            self.watch.start()
        self.stock_poller.start()
        if self.spooler.printers:
            self.spooler_poller.start()
        if self.relay:
            self.relay.start()
        if self.notifier:
            self.notifier.start()
        if self.api:
            # The console first: once the API answers, the daemon is ready, console too.
            self.console = start_console(self)
            self.api.start()
        self.log.info("station started", printers=list(self.printers),
                      readers=list(self.readers), pid=os.getpid())
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Refuse new requests, let in-flight ones (and their jobs) finish, stop
        polling, close devices and the ledger."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._inflight and time.monotonic() < deadline:
                self._idle.wait(0.1)
        for poller in self._device_pollers():
            poller.stop()
        if self.watch:
            self.watch.stop()
        for poller in self.pollers:
            poller.stop()
        stop_console(self, self.console)
        if self.notifier:
            self.notifier.stop()
        if self.api:
            self.api.stop()
        for device in self._devices():
            with contextlib.suppress(Exception):
                device.close()
        if self.relay:
            # Last: it publishes the offline status and marks what was acknowledged.
            self.relay.stop()
        self.log.info("station stopped", inflight_left=self._inflight)
        self.ledger.close()

    def poll_error(self, source: str) -> Callable[[BaseException], None]:
        def report(exc: BaseException) -> None:
            if isinstance(exc, StorageError):
                self.log.error("storage error", source=source, error=str(exc))
            else:
                self.log.exception("unexpected error", source=source, exc_info=exc)
        return report

    def _subscriber_failed(self, event: Event, exc: BaseException) -> None:
        self.poll_error(event.source)(exc)

    def _devices(self) -> list[PrinterUnit | ReaderUnit]:
        return [*self.printers.values(), *self.readers.values()]

    def _device_pollers(self) -> list[Poller]:
        return ([u.poller for u in self.readers.values()]
                + [u.poller for u in self.printers.values()])

    # -- producers that are not devices ------------------------------------------------

    def _restore_faults(self) -> None:
        active = self.ledger.read(faultlog.active_faults)
        known = {*(pc.id for pc in self.config.printers), *(r.id for r in self.config.readers),
                 *_STATION_SOURCES, *self.supplies.sources}
        gone = [replace(f, cleared_at=now_utc()) for f in active if f.source not in known]
        if gone:
            # Devices no longer configured: nothing will ever observe them again.
            def store(conn: Any) -> None:
                for f in gone:
                    faultlog.store_change(conn, f)
            self.ledger.write(store)
        self.board.restore([f for f in active if f.source in known])

    def _active_faults(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in self.board.active()]

    def _on_outage(self, what: str, phase: str, at: str, detail: str) -> None:
        self.bus.emit(NETWORK, OUTAGE, what=what, phase=phase, at=at, detail=detail)

    def _on_commit(self, entries: list[Entry]) -> None:
        self.bus.emit("ledger", ENTRIES, entries=entries)

    def _on_uplink(self, ok: bool, error: str) -> None:
        self.bus.emit(UPLINK, CONDITION, code="uplink_down", bad=not ok, detail=error,
                      raise_after=UPLINK_RAISE_AFTER, clear_after=1)

    def poll_spooler(self) -> None:
        """Ingest the spooler journal, then read the queues' state from cupsd."""
        self.spooler.ingest()
        self.spooler.poll_queues()
        for pid in self.spooler.printers:
            q = self.spooler.queue_info(pid)
            if q is not None:
                self.supplies.on_markers(pid, q["markers"],
                                         self.board.is_active(pid, "ribbon_out"))

    def _markers(self, printer: str) -> list[dict[str, Any]]:
        q = self.spooler.queue_info(printer) if printer in self.spooler.printers else None
        return [] if q is None else list(q["markers"])

    def _on_counters(self, printer: str, counters: Counters,
                     conditions: tuple[str, ...]) -> None:
        self.supplies.on_counters(printer, counters, conditions)

    def check_stock(self) -> None:
        self.supplies.check_stock()
        b = self.ledger.balances()
        if b.received == 0 and b.adjusted == 0:
            return   # no delivery recorded yet: nothing to run low on
        outlook = self.ledger.read(lambda conn: forecast(conn, b.stock))
        low = b.stock < self.config.stock.low_threshold
        self.faults.observe("station", "stock_low", low,
                            f"{outlook.describe()} (threshold {self.config.stock.low_threshold:,})",
                            raise_after=1, clear_after=1)

    def clear_unresolved(self) -> None:
        """Clear ``job_unresolved`` on every source with no open spooled card left."""
        for f in self.board.active():
            if f.code != "job_unresolved" or f.source in self.printers:
                continue
            if not settle.open_cards(self.ledger, device=f.source):
                self.faults.clear_fault(f.source, "job_unresolved")

    # -- queries ----------------------------------------------------------------------

    def open_jobs(self, device: str) -> list[str]:
        """Jobs of ``device`` with a pick and no outcome, oldest first."""
        return [job for job, _device in settle.open_cards(self.ledger, device=device)]

    def status(self) -> dict[str, Any]:
        b = self.ledger.balances()
        outlook = self.ledger.read(lambda conn: forecast(conn, b.stock))
        return status_document(
            station_id=self.config.station_id,
            daemon={"running": True, "pid": os.getpid(), "started_at": self.started_at},
            balances=b.as_dict(), stock=outlook.as_dict(),
            low_threshold=self.config.stock.low_threshold,
            devices=[u.as_dict() for u in self._devices()]
            + [self._queue_device(pid) for pid in self.spooler.printers],
            faults=self._active_faults(),
            network=network_section(self.config.network.probe_url,
                                    self.watch.last if self.watch else None,
                                    self.watch.in_outage if self.watch else False),
            uplink=self.uplink_info(),
            notify=self.notifier.info() if self.notifier else None,
            console=self.console.url if self.console else None,
            supplies=self.supplies.view()["kinds"] if self.config.supplies else None)

    def _queue_device(self, pid: str) -> dict[str, Any]:
        pc = self.spooler.printers[pid]
        q = self.spooler.queue_info(pid)
        return {"id": pid, "kind": "printer", "source": "spooler", "queue": pc.queue,
                "url": pc.url or None, "family": pc.family,
                "online": None if q is None else "offline" not in " ".join(q["reasons"]),
                "cups": q}

    def uplink_info(self) -> dict[str, Any]:
        """The uplink's link state and backlog (the outbox fills even without one)."""
        if self.relay:
            return self.relay.info()
        return {"mqtt_url": None, "state": "disabled", "connected": False,
                **self.ledger.read(outbox.backlog).as_dict()}

    def uplink_status(self) -> dict[str, Any]:
        """The fields of the retained status message (docs/UPLINK.md)."""
        b = self.ledger.balances()
        return uplink_fields(
            started_at=self.started_at, balances=b.as_dict(),
            stock=self.ledger.read(lambda conn: forecast(conn, b.stock)).as_dict(),
            today=self.ledger.read(daily.today), active_faults=len(self.board.active()),
            devices={u.id: u.online for u in self._devices()},
            last=self.watch.last if self.watch else None,
            office=self.config.office, region=self.config.region)

    # -- the API ----------------------------------------------------------------------

    def handle(self, req: p.Request) -> Any:
        """Answer one API request (see docs/API.md and :mod:`.ops`)."""
        try:
            return self.perform(req.op, req.params)
        except LedgerRefused as exc:
            raise p.ApiError(p.REFUSED, str(exc)) from None
        except StorageError as exc:
            raise p.ApiError(p.FAILED, str(exc)) from None

    def perform(self, op: str, params: dict[str, Any]) -> Any:
        """Carry out one checked operation (the API's and the console's path);
        refusals raise :class:`LedgerRefused` with their fields for translation."""
        with self._idle:
            if self.stopping.is_set():
                raise p.ApiError(p.BUSY, "the daemon is shutting down; try again when it is "
                                         "back")
            self._inflight += 1
        try:
            return ops.dispatch(self, op, params)
        finally:
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()
