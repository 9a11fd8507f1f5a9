"""One station, wired: configured devices -> ledger + fault board -> local API.

:class:`Station` owns the ledger (the process's one writer), the fault board
(persisted in the state database, restored after a restart), one poller per
printer and per reader, the network watch and the local API. The daemon
(:mod:`station_agent.daemon`) starts and stops it; tests and the demo can
run it in-process.
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

from drivers.printers import Panel, PrinterError, open_printer
from station_agent import clock, daily, faultlog, joblog, logs, settle
from station_agent.api import protocol as p
from station_agent.api.peers import AccessPolicy
from station_agent.api.server import ApiServer
from station_agent.chipcheck import ChipChecker
from station_agent.config import Config, PrinterConfig, ReaderConfig
from station_agent.errors import BadInput
from station_agent.faults import Fault, FaultBoard, now_utc
from station_agent.issuing import CardIssuer
from station_agent.ledger import Ledger, LedgerRefused, model, outbox
from station_agent.ledger.errors import StorageError
from station_agent.ledger.model import Entry
from station_agent.netprobe import Prober
from station_agent.netwatch import SOURCE as NETWORK
from station_agent.netwatch import NetworkWatch
from station_agent.spooler.source import SPOOLER, SpoolerSource
from station_agent.stock import forecast
from station_agent.uplink.relay import Relay

#: Printer conditions the poller observes (with hysteresis).
PRINTER_CODES = ("card_jam", "feeder_empty", "ribbon_out", "cover_open", "reject_box_full",
                 "head_overheat", "printer_protocol_error", "printer_offline",
                 "printer_replaced")
READER_CODES = ("pcsc_service_down", "reader_missing")
#: Seconds between counter reconciliations of an idle printer.
RECONCILE_S = 30.0
#: Seconds between stock checks.
STOCK_CHECK_S = 10.0
#: Seconds ``diag`` waits for a running job to finish before it takes the last poll's view.
DIAG_WAIT_S = 3.0
#: Sources that are not devices.
UPLINK = "uplink"
_STATION_SOURCES = (NETWORK, UPLINK, SPOOLER, "station", "storage", "ledger")
#: Seconds between reads of the spooler journal and of cupsd's queues.
SPOOLER_POLL_S = 1.0
#: Failed connection attempts in a row before ``uplink_down`` is raised.
UPLINK_RAISE_AFTER = 3


class _Poller:
    """A daemon thread calling ``fn`` every ``interval`` seconds until stopped."""

    def __init__(self, name: str, interval: float, fn: Callable[[], None],
                 on_error: Callable[[BaseException], None]) -> None:
        self.interval, self.fn, self.on_error = interval, fn, on_error
        self.stop_event = threading.Event()
        self._kick = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.fn()
            except Exception as exc:   # keep polling whatever one poll did
                self.on_error(exc)
            self._kick.wait(self.interval)
            self._kick.clear()

    def poll_now(self) -> None:
        """Run the next poll now instead of at the end of the interval."""
        self._kick.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self._kick.set()
        if self.thread.is_alive():
            self.thread.join(timeout)


class PrinterUnit:
    """One configured printer: driver, issuer and poller."""

    def __init__(self, station: Station, cfg: PrinterConfig, chip_check: Any) -> None:
        self.station, self.cfg, self.id = station, cfg, cfg.id
        self.printer = open_printer(cfg.url, cfg.family, timeout=2.0)
        self.issuer = CardIssuer(self.printer, station.ledger, cfg.id, faults=station.board,
                                 chip_check=chip_check)
        self.job_lock = threading.Lock()
        self.recovered = False
        self.online: bool | None = None
        self.conditions: tuple[str, ...] = ()
        self.card_at: str | None = None
        self.last_error = ""
        self.polls = 0
        self._last_reconcile = 0.0
        self.poller = _Poller(f"poll-{cfg.id}", cfg.poll_interval, self.poll,
                              station.poll_error(cfg.id))

    def _observe(self, code: str, bad: bool, detail: str = "") -> None:
        if not bad and code in self.issuer.stuck.values():
            return   # a card still stuck keeps its fault until the job is resolved
        self.station.board.observe(self.id, code, bad, detail)

    def poll(self) -> None:
        """One status poll (skipped while a job runs: the job reports its own faults)."""
        if not self.job_lock.acquire(blocking=False):
            return
        try:
            self.polls += 1
            try:
                if not self.recovered:
                    self.recover_after_restart()
                status = self.printer.status()
            except PrinterError as exc:
                self.online = exc.code not in ("printer_offline", "printer_replaced")
                self.last_error = exc.message
                if exc.code in PRINTER_CODES:
                    self._observe(exc.code, True, exc.message)
                return
            self.online, self.last_error = True, ""
            self.conditions, self.card_at = status.conditions, status.card_at
            for code in PRINTER_CODES:
                self._observe(code, code in status.conditions, f"printer reports {status.raw}")
            now = time.monotonic()
            if now - self._last_reconcile >= RECONCILE_S:
                self._last_reconcile = now
                self.issuer.reconcile(self.printer.card_count())
        finally:
            self.job_lock.release()

    def recover_after_restart(self) -> None:
        """Settle what the previous run left (see :meth:`CardIssuer.recover_after_restart`)."""
        self.issuer.recover_after_restart(self.station.open_jobs(self.id))
        self._last_reconcile = time.monotonic()
        self.recovered = True

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": "printer", "url": self.cfg.url,
                "family": self.printer.family, "online": self.online,
                "conditions": list(self.conditions), "card_at": self.card_at,
                "stuck_jobs": sorted(self.issuer.stuck), "error": self.last_error or None}


class ReaderUnit:
    """One configured reader: adapter, chip checker and poller."""

    def __init__(self, station: Station, cfg: ReaderConfig, interval: float) -> None:
        self.station, self.cfg, self.id = station, cfg, cfg.id
        self.reader = _open_reader(cfg)
        self.checker = ChipChecker(self.reader, station.board, cfg.id)
        self.online: bool | None = None
        self.last_error = ""
        self.poller = _Poller(f"poll-{cfg.id}", interval, self.poll, station.poll_error(cfg.id))

    def poll(self) -> None:
        from drivers.readers.base import ReaderError

        try:
            self.reader.name()
        except ReaderError as exc:
            self.online, self.last_error = False, exc.message
            for code in READER_CODES:
                self.station.board.observe(self.id, code, code == exc.code, exc.message)
            return
        self.online, self.last_error = True, ""
        for code in READER_CODES:
            self.station.board.observe(self.id, code, False)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": "reader", "url": self.cfg.url,
                "printer": self.cfg.printer, "online": self.online,
                "error": self.last_error or None}


def _open_reader(cfg: ReaderConfig) -> Any:
    if cfg.url.startswith("sim://"):
        from drivers.readers.fake import FakeReader
        from simulators.cards import SimCard

        reader = FakeReader(cfg.url[len("sim://"):] or "Simulated Reader", cfg.policy())
        reader.insert(SimCard("ektp"))
        return reader
    from drivers.readers.pcsc import PcscReader

    return PcscReader(cfg.url, cfg.policy())


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
        fc = config.faults
        self.board = FaultBoard(self._on_fault, raise_after=fc.raise_after,
                                clear_after=fc.clear_after, flap_high=fc.flap_high,
                                flap_low=fc.flap_low)
        self._restore_faults()
        self.readers = {r.id: ReaderUnit(self, r, 1.0) for r in config.readers}
        self.printers: dict[str, PrinterUnit] = {}
        for pc in config.printers:
            if pc.queue is not None:
                continue   # seen through the spooler (below), not polled directly
            reader = next((u for u in self.readers.values() if u.cfg.printer == pc.id), None)
            self.printers[pc.id] = PrinterUnit(self, pc, reader.checker if reader else None)
        for ru in self.readers.values():
            ru.poller.interval = next((u.cfg.poll_interval for u in self.printers.values()
                                       if u.id == ru.cfg.printer), 1.0)
        self.watch: NetworkWatch | None = None
        net = config.network
        if net.probe_url:
            self.watch = NetworkWatch(
                Prober(net.probe_url, timeout=net.timeout, slow_ms=net.slow_ms), self.board,
                interval=net.interval, fail_after=net.fail_after, clear_after=net.clear_after,
                on_outage=self._on_outage)
        self.stock_poller = _Poller("stock", STOCK_CHECK_S, self.check_stock,
                                    self.poll_error("station"))
        self.ledger.on_commit.append(self._on_entries)
        self.spooler = SpoolerSource(config, self.state_dir, self.ledger, self.board,
                                     on_error=lambda msg: self.log.warning(msg))
        self.spooler_poller = _Poller("spooler", SPOOLER_POLL_S, self.poll_spooler,
                                      self.poll_error(SPOOLER))
        self.relay: Relay | None = None
        broker = config.uplink.broker()
        if broker is not None:
            self.relay = Relay(self.ledger, broker, config.station_id, config.uplink.settings(),
                               status_fn=self.uplink_status, faults_fn=self._active_faults,
                               on_link=self._on_uplink)
        self.api = ApiServer(self.state_dir, self.handle, on_error=self.poll_error("api"),
                             policy=AccessPolicy.for_daemon(config.api_group)) \
            if serve_api else None
        self.stopping = threading.Event()
        self._inflight = 0
        self._idle = threading.Condition()

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> Station:
        for unit in (*self.readers.values(), *self.printers.values()):
            unit.poller.thread.start()
        if self.watch:
            self.watch.start()
        self.stock_poller.thread.start()
        if self.spooler.printers:
            self.spooler_poller.thread.start()
        if self.relay:
            self.relay.start()
        if self.api:
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
        for unit in (*self.printers.values(), *self.readers.values()):
            unit.poller.stop()
        if self.watch:
            self.watch.stop()
        self.stock_poller.stop()
        self.spooler_poller.stop()
        if self.api:
            self.api.stop()
        for pu in self.printers.values():
            with contextlib.suppress(Exception):
                pu.printer.close()
        for ru in self.readers.values():
            with contextlib.suppress(Exception):
                ru.reader.close()
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

    # -- faults and events -------------------------------------------------------------

    def _restore_faults(self) -> None:
        active = self.ledger.read(faultlog.active_faults)
        known = {*(pc.id for pc in self.config.printers), *(r.id for r in self.config.readers),
                 *_STATION_SOURCES}
        gone = [replace(f, cleared_at=now_utc()) for f in active if f.source not in known]
        if gone:
            # Devices no longer configured: nothing will ever observe them again.
            self.ledger.write(lambda conn: [faultlog.store_change(conn, f) for f in gone])
        self.board.restore([f for f in active if f.source in known])

    def _on_fault(self, fault: Fault) -> None:
        try:
            self.ledger.write(lambda conn: faultlog.store_change(conn, fault))
        except StorageError as exc:
            self.log.error("fault not stored", error=str(exc), code=fault.code)
        what = ("fault cleared" if fault.cleared_at else
                "fault flapping" if fault.flapping else "fault raised")
        log = self.log.warning if fault.cleared_at is None else self.log.info
        log(what, source=fault.source, device=fault.source, code=fault.code,
            severity=fault.severity, message=fault.message)
        if self.api:
            self.api.publish({"type": "fault", **fault.as_dict()})
        if self.relay:
            self.relay.wake(status=True, faults=True)

    def _active_faults(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in self.board.active()]

    def _on_uplink(self, ok: bool, error: str) -> None:
        self.board.observe(UPLINK, "uplink_down", not ok, error,
                           raise_after=UPLINK_RAISE_AFTER, clear_after=1)

    def _on_outage(self, what: str, phase: str, at: str, detail: str) -> None:
        try:
            if what == "start":
                self.ledger.write(lambda c: faultlog.start_outage(c, phase, at, detail))
            else:
                self.ledger.write(lambda c: faultlog.end_outages(c, at))
        except StorageError as exc:
            self.log.error("outage not stored", error=str(exc))
        self.log.warning("server outage " + ("started" if what == "start" else "ended"),
                         phase=phase or None, at=at, detail=detail or None)

    def _on_entries(self, entries: list[Entry]) -> None:
        if any(e.kind in (model.RECEIVE, model.ADJUST) for e in entries):
            self.stock_poller.poll_now()   # a delivery or a count: judge the stock at once
        for e in entries:
            self.log.info("ledger " + e.kind, seq=e.seq, count=e.count, job_id=e.job_id,
                          device=e.device, src=e.src, dst=e.dst, reason=e.reason)
            if self.api:
                self.api.publish({"type": "ledger", **e.as_dict()})
        if self.relay:
            self.relay.wake(status=True)

    def poll_spooler(self) -> None:
        """Ingest the spooler journal, then read the queues' state from cupsd."""
        self.spooler.ingest()
        self.spooler.poll_queues()

    def check_stock(self) -> None:
        b = self.ledger.balances()
        if b.received == 0 and b.adjusted == 0:
            return   # no delivery recorded yet: nothing to run low on
        fc = self.ledger.read(lambda conn: forecast(conn, b.stock))
        low = b.stock < self.config.stock.low_threshold
        self.board.observe("station", "stock_low", low,
                           f"{fc.describe()} (threshold {self.config.stock.low_threshold:,})",
                           raise_after=1, clear_after=1)

    # -- queries ----------------------------------------------------------------------

    def open_jobs(self, device: str) -> list[str]:
        """Jobs of ``device`` with a pick and no outcome, oldest first."""
        rows = self.ledger.read(lambda c: c.execute(
            "SELECT jobs.job_id FROM jobs JOIN entries ON entries.seq = jobs.pick_seq "
            "WHERE jobs.outcome IS NULL AND entries.device = ? ORDER BY jobs.pick_seq",
            (device,)).fetchall())
        return [str(r[0]) for r in rows]

    def status(self) -> dict[str, Any]:
        b = self.ledger.balances()
        fc = self.ledger.read(lambda conn: forecast(conn, b.stock))
        last = self.watch.last if self.watch else None
        return {
            "station_id": self.config.station_id,
            "daemon": {"running": True, "pid": os.getpid(), "started_at": self.started_at},
            "balances": b.as_dict(),
            "stock": {**fc.as_dict(), "low_threshold": self.config.stock.low_threshold},
            "devices": [u.as_dict() for u in (*self.printers.values(),
                                              *self.readers.values())]
            + [self._queue_device(pid) for pid in self.spooler.printers],
            "faults": [f.as_dict() for f in self.board.active()],
            "network": {"probe_url": self.config.network.probe_url,
                        "state": last.state if last else "unknown",
                        "in_outage": self.watch.in_outage if self.watch else False,
                        "last_probe": last.as_dict() if last else None},
            "uplink": self.uplink_info(),
        }

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
        fc = self.ledger.read(lambda conn: forecast(conn, b.stock))
        last = self.watch.last if self.watch else None
        return {
            "started_at": self.started_at,
            "balances": b.as_dict(),
            "stock": fc.as_dict(),
            "today": self.ledger.read(daily.today),
            "active_faults": len(self.board.active()),
            "devices": {u.id: u.online for u in (*self.printers.values(),
                                                   *self.readers.values())},
            "network": last.state if last else "unknown",
        }

    # -- the API ----------------------------------------------------------------------

    def handle(self, req: p.Request) -> Any:
        """Answer one API request (see docs/API.md)."""
        with self._idle:
            if self.stopping.is_set():
                raise p.ApiError(p.BUSY, "the daemon is shutting down; try again when it is "
                                         "back")
            self._inflight += 1
        try:
            return self._dispatch(req.op, req.params)
        except LedgerRefused as exc:
            raise p.ApiError(p.REFUSED, str(exc)) from None
        except StorageError as exc:
            raise p.ApiError(p.FAILED, str(exc)) from None
        finally:
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()

    def _dispatch(self, op: str, a: dict[str, Any]) -> Any:
        if op == "ping":
            return {"pong": True, "station_id": self.config.station_id, "pid": os.getpid()}
        if op == "status":
            return self.status()
        if op == "blanks":
            return self.ledger.balances().as_dict()
        if op == "faults":
            doc: dict[str, Any] = {"active": [f.as_dict() for f in self.board.active()]}
            if a.get("history"):
                doc["history"] = [f.as_dict() for f in self.ledger.read(faultlog.fault_history)]
            return doc
        if op == "diag_printer":
            return self._diag_printer(a["printer"])
        if op == "issue":
            return self._issue(a["job_id"], a.get("printer"), a.get("panels", 1))
        if op == "resolve":
            return self._resolve(a["job_id"], a["outcome"], a.get("category"), a.get("reason"))
        if op == "jobs":
            try:
                return {"jobs": self.ledger.read(lambda c: joblog.for_day(
                    c, a.get("date"), bool(a.get("open"))))}
            except ValueError as exc:
                raise p.ApiError(p.BAD_REQUEST, f"jobs: {exc}") from None
        if op == "void":
            return self._void(a["job_id"], a["category"], a.get("reason"))
        if op == "clear_fault":
            cleared = self.board.clear_fault(a["source"], a["code"])
            if cleared is None:
                raise p.ApiError(p.BAD_REQUEST, f"no active fault {a['code'][:40]!r} on "
                                                f"{a['source'][:40]!r}")
            return cleared.as_dict()
        return self._record(self._transfer(op, a))

    def _diag_printer(self, pid: str) -> dict[str, Any]:
        """The printer's facts for ``diag``, asked between jobs (a job running
        longer than :data:`DIAG_WAIT_S` gets the last poll's view instead)."""
        from station_agent.diag.devices import printer_facts

        unit = self.printers.get(pid)
        if unit is None:
            raise p.ApiError(p.BAD_REQUEST, f"no printer {pid[:40]!r} in this daemon "
                                            f"(it has: {', '.join(self.printers) or 'none'})")
        t0 = time.monotonic()
        if not unit.job_lock.acquire(timeout=DIAG_WAIT_S):
            return {"busy_job": round(time.monotonic() - t0, 1), "online": unit.online}
        try:
            return printer_facts(unit.printer, self.ledger.device_counter(pid))
        finally:
            unit.job_lock.release()

    def _transfer(self, op: str, a: dict[str, Any]) -> model.Transfer:
        if op == "receive":
            return model.receive(a["batch_id"], a["count"], first_serial=a.get("first_serial"))
        if op == "dispose":
            return model.dispose(a["count"], a["reference"], idem_id=a.get("idem_id"))
        if op == "adjust":
            return model.adjust(a["count"], a["reason"], a["idem_id"])
        if op == "write_off":
            return model.write_off_stock(a["count"], a["reason"], a["idem_id"])
        if op == "pick":
            job_id, device = a["job_id"], a["device"]
            model.validate(model.pick(job_id, device=device))
            self.ledger.write(lambda c: joblog.note(c, job_id, joblog.REPORTED, printer=device,
                                                    created_at=now_utc()))
            return model.pick(job_id, device=device)
        if op == "complete":
            return model.complete(a["job_id"], device=a.get("device"))
        if op == "reject":
            return model.reject(a["job_id"], a.get("reason"), category=a.get("category"),
                                device=a.get("device"))
        if op == "write_off_job":
            return model.write_off_job(a["job_id"], a["reason"], device=a.get("device"))
        raise p.ApiError(p.UNKNOWN_OP, f"unknown op {op!r}")

    def _record(self, transfer: model.Transfer) -> dict[str, Any]:
        entry = self.ledger.record(transfer)
        return {"entry": entry.as_dict(), "replay": entry.replay,
                "balances": self.ledger.balances().as_dict()}

    def _unit(self, printer: str | None) -> PrinterUnit:
        if printer is None:
            if len(self.printers) != 1:
                raise p.ApiError(p.BAD_REQUEST, "issue: say which printer (printer: one of "
                                                f"{', '.join(self.printers) or 'none'})")
            return next(iter(self.printers.values()))
        unit = self.printers.get(printer)
        if unit is None:
            raise p.ApiError(p.BAD_REQUEST, f"issue: no printer {printer[:40]!r} (configured: "
                                            f"{', '.join(self.printers) or 'none'})")
        return unit

    def _issue(self, job_id: str, printer: str | None, panels: int) -> dict[str, Any]:
        unit = self._unit(printer)
        if not 1 <= panels <= 6:
            raise p.ApiError(p.BAD_REQUEST, "issue: panels must be 1 to 6")
        model.validate(model.pick(job_id, device=unit.id))   # a bad job id is refused here
        if not unit.job_lock.acquire(timeout=120):
            raise p.ApiError(p.BUSY, f"printer {unit.id} is busy with another job")
        try:
            if not unit.recovered:
                # A job before the first poll after a restart: settle what the
                # previous run left first (a card inside, jobs left open).
                try:
                    unit.recover_after_restart()
                except PrinterError as exc:   # not reachable yet: nothing was started
                    self.board.raise_fault(unit.id, exc.code, exc.message)
                    return {"job_id": job_id, "printer": unit.id, "outcome": "not_started",
                            "reason": None, "fault": exc.code}
            self.ledger.write(lambda c: joblog.note(c, job_id, joblog.DRIVEN, printer=unit.id,
                                                    created_at=now_utc()))
            colours = "YMCKO"
            result = unit.issuer.issue(job_id, [Panel(colours[i % 5], bytes(64))
                                                for i in range(panels)])
        finally:
            unit.job_lock.release()
        return {"job_id": result.job_id, "printer": unit.id, "outcome": result.outcome,
                "reason": result.reason, "fault": result.fault}

    def _resolve(self, job_id: str, outcome: str, category: str | None = None,
                 reason: str | None = None) -> dict[str, Any]:
        """An operator settles a job whose card the agent could not follow: one card
        job, or every open card of a spooled job (see :mod:`station_agent.settle`)."""
        try:
            transfers = settle.resolve_transfers(self.ledger, job_id, outcome, category, reason)
        except BadInput as exc:
            raise p.ApiError(p.BAD_REQUEST, str(exc)) from None
        docs = []
        for t in transfers:
            assert t.job_id is not None
            unit = next((u for u in self.printers.values() if t.job_id in u.issuer.stuck),
                        None)
            if unit is not None and t.device != unit.id:
                t = replace(t, device=unit.id)
            docs.append(self._record(t))
            if unit is not None:
                code = unit.issuer.stuck.pop(t.job_id)
                if code not in unit.issuer.stuck.values():
                    self.board.clear_fault(unit.id, code)
        self._clear_unresolved()
        doc = dict(docs[-1])
        doc["resolved"] = [t.job_id for t in transfers]
        return doc

    def _clear_unresolved(self) -> None:
        """Clear ``job_unresolved`` on every source with no open spooled card left."""
        for f in self.board.active():
            if f.code != "job_unresolved" or f.source in self.printers:
                continue
            if not settle.open_cards(self.ledger, device=f.source):
                self.board.clear_fault(f.source, "job_unresolved")

    def _void(self, job_id: str, category: str, reason: str | None) -> dict[str, Any]:
        """A card that printed and then failed: issued -> spoiled_held."""
        try:
            return self._record(settle.void_transfer(self.ledger, job_id, category, reason))
        except BadInput as exc:
            raise p.ApiError(p.BAD_REQUEST, str(exc)) from None
