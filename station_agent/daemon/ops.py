"""The local API's operations: one table that both checks a request's parameters
and answers it (docs/API.md).

Each :class:`Operation` names its parameters (type, required) and its handler,
a plain function of the running :class:`~station_agent.daemon.station.Station`
and the checked parameters. The API server checks requests against
:data:`PARAMETERS`; :func:`dispatch` answers them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from drivers.printers import Panel, PrinterError
from station_agent import __version__, clock
from station_agent.api import protocol as p
from station_agent.clock import now_utc
from station_agent.errors import BadInput
from station_agent.events import OPERATOR
from station_agent.issuing import settle
from station_agent.ledger import LedgerRefused, daily, faultlog, joblog, model
from station_agent.ledger import supplies as ledger_supplies
from station_agent.ledger.model import Entry
from station_agent.ledger.stock import forecast

if TYPE_CHECKING:
    from station_agent.daemon.station import Station
    from station_agent.daemon.units import PrinterUnit

#: Seconds ``diag`` waits for a running job to finish before it takes the last poll's view.
DIAG_WAIT_S = 3.0
#: Seconds a job waits for its printer to finish the job before it.
ISSUE_WAIT_S = 120.0

_STR, _INT, _BOOL = str, int, bool
Handler = Callable[["Station", dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Operation:
    """One API operation: its parameters (``name -> (type, required)``), its handler,
    and whether it changes anything (then it is published as an operator event)."""

    params: Mapping[str, tuple[type, bool]]
    handler: Handler | None   # None: answered by the API server itself (subscribe)
    writes: bool = False


# -- handlers -----------------------------------------------------------------------

def _ping(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    return {"pong": True, "station_id": st.config.station_id, "pid": os.getpid(),
            "version": __version__, "protocol": p.PROTOCOL_VERSION}


def _status(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    return st.status()


def _blanks(st: Station, a: dict[str, Any]) -> dict[str, object]:
    return st.ledger.balances().as_dict()


def _faults(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"active": [f.as_dict() for f in st.board.active()]}
    if a.get("history"):
        doc["history"] = [f.as_dict() for f in st.ledger.read(faultlog.fault_history)]
    return doc


def _today(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    """Today's figures (the office's day), today's server outages, the run-out date."""
    b = st.ledger.balances()

    def read(conn: Any) -> dict[str, Any]:
        figures = daily.today(conn)
        since = daily.ts_text(daily.local_midnight())
        outlook = forecast(conn, b.stock)
        run_out = (None if outlook.days_left is None else
                   (clock.local_now() + timedelta(days=outlook.days_left)).date().isoformat())
        return {**figures, "stock": b.stock, "days_left": outlook.as_dict()["days_left"],
                "rate_per_day": outlook.as_dict()["rate_per_day"], "run_out": run_out,
                "low_threshold": st.config.stock.low_threshold,
                "outages": [o.as_dict() for o in faultlog.outages(conn, since)]}
    return st.ledger.read(read)


def _notify_test(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    """Queue a test notification on every channel (``station-agent notify test``)."""
    if st.notifier is None:
        raise p.ApiError(p.BAD_REQUEST, "no [notify] channel is configured: add command, "
                                        "webhook_url or smtp_url to [notify] and reload")
    doc = st.notifier.test()
    return {"id": doc["id"], "channels": [c.name for c in st.notifier.channels]}


def _jobs(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"jobs": st.ledger.read(lambda c: joblog.for_day(
            c, a.get("date"), bool(a.get("open"))))}
    except ValueError as exc:
        raise p.ApiError(p.BAD_REQUEST, f"jobs: {exc}") from None


def _clear_fault(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    source, code = a["source"], a["code"]
    if not st.board.is_active(source, code):
        raise p.ApiError(p.BAD_REQUEST, f"no active fault {code[:40]!r} on {source[:40]!r}")
    st.faults.clear_fault(source, code)
    cleared = next((f for f in reversed(st.board.history)
                    if f.source == source and f.code == code and f.cleared_at), None)
    return cleared.as_dict() if cleared else {"source": source, "code": code}


def _diag_printer(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    """The printer's facts for ``diag``, asked between jobs (a job running longer
    than :data:`DIAG_WAIT_S` gets the last poll's view instead)."""
    from station_agent.diag.devices import printer_facts

    pid = a["printer"]
    unit = st.printers.get(pid)
    if unit is None:
        raise p.ApiError(p.BAD_REQUEST, f"no printer {pid[:40]!r} in this daemon "
                                        f"(it has: {', '.join(st.printers) or 'none'})")
    t0 = time.monotonic()
    if not unit.issuer.lock.acquire(timeout=DIAG_WAIT_S):
        return {"busy_job": round(time.monotonic() - t0, 1), "online": unit.online}
    try:
        return printer_facts(unit.printer, st.ledger.device_counter(pid))
    finally:
        unit.issuer.lock.release()


def _record(st: Station, transfer: model.Transfer) -> dict[str, Any]:
    return _recorded(st, st.ledger.record(transfer))


def _recorded(st: Station, entry: Entry) -> dict[str, Any]:
    """The answer to a ledger operation: the entry and the balances after it."""
    return {"entry": entry.as_dict(), "replay": entry.replay,
            "balances": st.ledger.balances().as_dict()}


def _by(a: dict[str, Any], transfer: model.Transfer) -> model.Transfer:
    """``transfer`` made by the staff account ``a["actor"]`` (the console's login)."""
    return replace(transfer, actor=a["actor"]) if a.get("actor") else transfer


def _transfer(build: Callable[[dict[str, Any]], model.Transfer]) -> Handler:
    return lambda st, a: _record(st, _by(a, build(a)))


def _pick(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    job_id, device = a["job_id"], a["device"]
    transfer = model.pick(job_id, device=device)
    model.validate(transfer)
    st.ledger.write(lambda c: joblog.note(c, job_id, joblog.REPORTED, printer=device,
                                          created_at=now_utc()))
    return _record(st, transfer)


def _unit(st: Station, printer: str | None) -> PrinterUnit:
    if printer is None:
        if len(st.printers) != 1:
            raise p.ApiError(p.BAD_REQUEST, "issue: say which printer (printer: one of "
                                            f"{', '.join(st.printers) or 'none'})")
        return next(iter(st.printers.values()))
    unit = st.printers.get(printer)
    if unit is None:
        raise p.ApiError(p.BAD_REQUEST, f"issue: no printer {printer[:40]!r} (configured: "
                                        f"{', '.join(st.printers) or 'none'})")
    return unit


def _issue(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    job_id, panels = a["job_id"], a.get("panels", 1)
    unit = _unit(st, a.get("printer"))
    if not 1 <= panels <= 6:
        raise p.ApiError(p.BAD_REQUEST, "issue: panels must be 1 to 6")
    model.validate(model.pick(job_id, device=unit.id))   # a bad job id is refused here
    if not unit.issuer.lock.acquire(timeout=ISSUE_WAIT_S):
        raise p.ApiError(p.BUSY, f"printer {unit.id} is busy with another job")
    try:
        if not unit.recovered:
            # A job before the first poll after a restart: settle what the
            # previous run left first (a card inside, jobs left open).
            try:
                unit.recover_after_restart()
            except PrinterError as exc:   # not reachable yet: nothing was started
                st.faults.raise_fault(unit.id, exc.code, exc.message)
                return {"job_id": job_id, "printer": unit.id, "outcome": "not_started",
                        "reason": None, "fault": exc.code}
        st.ledger.write(lambda c: joblog.note(c, job_id, joblog.DRIVEN, printer=unit.id,
                                              created_at=now_utc()))
        colours = "YMCKO"
        result = unit.issuer.issue(job_id, [Panel(colours[i % 5], bytes(64))
                                            for i in range(panels)])
    finally:
        unit.issuer.lock.release()
    return {"job_id": result.job_id, "printer": unit.id, "outcome": result.outcome,
            "reason": result.reason, "fault": result.fault}


def _resolve(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    """An operator settles a job whose card the agent could not follow: one card
    job (a card stuck in a printer goes through its issuer), or every open card
    of a spooled job (see :mod:`station_agent.issuing.settle`)."""
    job_id = a["job_id"]
    try:
        transfers = [_by(a, t) for t in settle.resolve_transfers(
            st.ledger, job_id, a["outcome"], a.get("category"), a.get("reason"))]
    except BadInput as exc:
        raise p.ApiError(p.BAD_REQUEST, str(exc)) from None
    docs = []
    for t in transfers:
        unit = next((u for u in st.printers.values() if t.job_id in u.issuer.stuck), None)
        if unit is None:
            docs.append(_record(st, t))
            continue
        if not unit.issuer.lock.acquire(timeout=ISSUE_WAIT_S):
            raise p.ApiError(p.BUSY, f"printer {unit.id} is busy with another job")
        try:
            entry = unit.issuer.settle_stuck(t)
        finally:
            unit.issuer.lock.release()
        docs.append(_recorded(st, entry))
    st.clear_unresolved()
    doc = dict(docs[-1])
    doc["resolved"] = [t.job_id for t in transfers]
    return doc


def _void(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    """A card that printed and then failed: issued -> spoiled_held."""
    try:
        return _record(st, _by(a, settle.void_transfer(st.ledger, a["job_id"],
                                                       a["category"], a.get("reason"))))
    except BadInput as exc:
        raise p.ApiError(p.BAD_REQUEST, str(exc)) from None


def _supplies(st: Station, a: dict[str, Any]) -> dict[str, Any]:
    return st.supplies.view()


def _supply_answer(st: Station, entries: list[Entry]) -> dict[str, Any]:
    """The answer to a supply operation: its entries and the kinds' balances after."""
    return {"entries": [e.as_dict() for e in entries], "replay": all(e.replay for e in entries),
            "supplies": st.ledger.read(ledger_supplies.balances)}


def _supply(record: Callable[[Station, dict[str, Any]], Entry | list[Entry]]) -> Handler:
    def handle(st: Station, a: dict[str, Any]) -> dict[str, Any]:
        try:
            done = record(st, a)
        except LedgerRefused:
            raise   # a refusal, as for the blanks (the console translates its fields)
        except BadInput as exc:
            raise p.ApiError(p.BAD_REQUEST, str(exc)) from None
        return _supply_answer(st, done if isinstance(done, list) else [done])
    return handle


# -- the table ----------------------------------------------------------------------

OPERATIONS: Final[dict[str, Operation]] = {
    "ping": Operation({}, _ping),
    "status": Operation({}, _status),
    "blanks": Operation({}, _blanks),
    # A test notification on every channel ([notify]).
    "notify_test": Operation({}, _notify_test, writes=True),
    # The office's day: figures, outages, run-out date (the console's Today page).
    "today": Operation({}, _today),
    "faults": Operation({"history": (_BOOL, False)}, _faults),
    # The live event stream: answered by the API server.
    "subscribe": Operation({}, None),
    # ``station-agent diag``: one printer's facts, read by the daemon that owns its port.
    "diag_printer": Operation({"printer": (_STR, True)}, _diag_printer),
    # Ledger transfers (DESIGN §3); the CLI's blanks commands and the issuing
    # application when vendor software drives the printer and the agent observes.
    "receive": Operation({"batch_id": (_STR, True), "count": (_INT, True),
                          "first_serial": (_STR, False), "actor": (_STR, False)},
                         _transfer(lambda a: model.receive(
                             a["batch_id"], a["count"], first_serial=a.get("first_serial"))),
                         writes=True),
    "dispose": Operation({"count": (_INT, True), "reference": (_STR, True),
                          "idem_id": (_STR, False), "actor": (_STR, False)},
                         _transfer(lambda a: model.dispose(a["count"], a["reference"],
                                                           idem_id=a.get("idem_id"))),
                         writes=True),
    "adjust": Operation({"count": (_INT, True), "reason": (_STR, True),
                         "idem_id": (_STR, True), "actor": (_STR, False)},
                        _transfer(lambda a: model.adjust(a["count"], a["reason"],
                                                         a["idem_id"])), writes=True),
    "write_off": Operation({"count": (_INT, True), "reason": (_STR, True),
                            "idem_id": (_STR, True), "actor": (_STR, False)},
                           _transfer(lambda a: model.write_off_stock(
                               a["count"], a["reason"], a["idem_id"])), writes=True),
    "pick": Operation({"job_id": (_STR, True), "device": (_STR, True)}, _pick, writes=True),
    "complete": Operation({"job_id": (_STR, True), "device": (_STR, False)},
                          _transfer(lambda a: model.complete(a["job_id"],
                                                             device=a.get("device"))),
                          writes=True),
    "reject": Operation({"job_id": (_STR, True), "reason": (_STR, False),
                         "device": (_STR, False), "category": (_STR, False)},
                        _transfer(lambda a: model.reject(
                            a["job_id"], a.get("reason"), category=a.get("category"),
                            device=a.get("device"))), writes=True),
    # A card that printed, then failed (chip write, quality check): issued -> spoiled_held.
    "void": Operation({"job_id": (_STR, True), "category": (_STR, True),
                       "reason": (_STR, False), "actor": (_STR, False)}, _void, writes=True),
    # Card jobs as the operator sees them (station-agent jobs).
    "jobs": Operation({"open": (_BOOL, False), "date": (_STR, False)}, _jobs),
    "write_off_job": Operation({"job_id": (_STR, True), "reason": (_STR, True),
                                "device": (_STR, False)},
                               _transfer(lambda a: model.write_off_job(
                                   a["job_id"], a["reason"], device=a.get("device"))),
                               writes=True),
    # The agent drives a configured printer through the whole issuing flow.
    "issue": Operation({"job_id": (_STR, True), "printer": (_STR, False),
                        "panels": (_INT, False)}, _issue, writes=True),
    # An operator settles a job whose card the agent lost track of.
    "resolve": Operation({"job_id": (_STR, True), "outcome": (_STR, True),
                          "category": (_STR, False), "reason": (_STR, False),
                          "actor": (_STR, False)}, _resolve,
                         writes=True),
    # Supplies (DESIGN §10): ribbons, films, cleaning kits per [[supply]] kind.
    "supplies": Operation({}, _supplies),
    "supply_receive": Operation(
        {"kind": (_STR, True), "count": (_INT, True), "batch_id": (_STR, True),
         "actor": (_STR, False)},
        _supply(lambda st, a: st.supplies.receive(a["kind"], a["count"], a["batch_id"],
                                                  a.get("actor"))), writes=True),
    "supply_install": Operation(
        {"kind": (_STR, True), "printer": (_STR, True), "serial": (_STR, False),
         "idem_id": (_STR, False), "actor": (_STR, False)},
        _supply(lambda st, a: st.supplies.install(a["kind"], a["printer"], a.get("serial"),
                                                  a.get("idem_id"), a.get("actor"))),
        writes=True),
    "supply_finish": Operation(
        {"kind": (_STR, True), "printer": (_STR, True), "idem_id": (_STR, False),
         "actor": (_STR, False)},
        _supply(lambda st, a: st.supplies.finish(a["kind"], a["printer"], a.get("idem_id"),
                                                 a.get("actor"))), writes=True),
    "supply_write_off": Operation(
        {"kind": (_STR, True), "count": (_INT, True), "reason": (_STR, True),
         "printer": (_STR, False), "idem_id": (_STR, False), "actor": (_STR, False)},
        _supply(lambda st, a: st.supplies.write_off(a["kind"], a["count"], a["reason"],
                                                    a.get("printer"), a.get("idem_id"),
                                                    a.get("actor"))), writes=True),
    # An operator acknowledges a fault nothing clears by itself (unreported_pick).
    "clear_fault": Operation({"source": (_STR, True), "code": (_STR, True)}, _clear_fault,
                             writes=True),
}

#: What the API server checks requests against.
PARAMETERS: Final = {name: op.params for name, op in OPERATIONS.items()}


def dispatch(st: Station, op: str, params: dict[str, Any]) -> Any:
    """Answer one checked request."""
    operation = OPERATIONS.get(op)
    if operation is None or operation.handler is None:
        raise p.ApiError(p.UNKNOWN_OP, f"unknown op {op[:40]!r}")
    if operation.writes:
        st.bus.emit("operator", OPERATOR, op=op, job_id=params.get("job_id"))
    return operation.handler(st, params)


