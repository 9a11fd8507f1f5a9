"""What reacts to a station's events: plain functions that build the bus's
subscribers (structlog's processors, as it were). Wired in
:class:`~station_agent.daemon.station.Station`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from station_agent.events import ENTRIES, FAULT_CHANGED, OUTAGE, Event, Subscriber
from station_agent.ledger import Ledger, faultlog, model
from station_agent.ledger.errors import StorageError

if TYPE_CHECKING:
    from station_agent.api.server import ApiServer
    from station_agent.uplink.relay import Relay


def fault_log(ledger: Ledger, log: Any) -> Subscriber:
    """Every fault change and server outage into the state database (and the outbox)."""
    def store(event: Event) -> None:
        try:
            if event.kind == FAULT_CHANGED:
                ledger.write(lambda conn: faultlog.store_change(conn, event["fault"]))
            elif event["what"] == "start":
                ledger.write(lambda c: faultlog.start_outage(c, event["phase"], event["at"],
                                                             event["detail"]))
            else:
                ledger.write(lambda c: faultlog.end_outages(c, event["at"]))
        except StorageError as exc:
            log.error("fault not stored" if event.kind == FAULT_CHANGED else
                      "outage not stored", error=str(exc))
    return store


def log_line(log: Any) -> Subscriber:
    """One log line per fault change, ledger entry, outage and operator request."""
    def write(event: Event) -> None:
        if event.kind == FAULT_CHANGED:
            f = event["fault"]
            what = ("fault cleared" if f.cleared_at else
                    "fault flapping" if f.flapping else "fault raised")
            (log.warning if f.cleared_at is None else log.info)(
                what, source=f.source, device=f.source, code=f.code, severity=f.severity,
                message=f.message)
        elif event.kind == ENTRIES:
            for e in event["entries"]:
                log.info("ledger " + e.kind, seq=e.seq, count=e.count, job_id=e.job_id,
                         device=e.device, src=e.src, dst=e.dst, reason=e.reason,
                         item=e.item)
        elif event.kind == OUTAGE:
            log.warning("server outage " + ("started" if event["what"] == "start" else "ended"),
                        phase=event["phase"] or None, at=event["at"],
                        detail=event["detail"] or None)
        else:
            log.debug("operator request", op=event["op"], job_id=event.get("job_id"))
    return write


def api_stream(api: ApiServer) -> Subscriber:
    """Fault changes and ledger entries to the API's subscribers (docs/API.md)."""
    def send(event: Event) -> None:
        if event.kind == FAULT_CHANGED:
            api.publish({"type": "fault", **event["fault"].as_dict()})
        else:
            for e in event["entries"]:
                api.publish({"type": "ledger", **e.as_dict()})
    return send


def relay_wake(relay: Relay) -> Subscriber:
    """The uplink sends new entries, status and faults without waiting for its timer."""
    def wake(event: Event) -> None:
        if event.kind == FAULT_CHANGED:
            relay.wake(status=True, faults=True)
        else:
            relay.wake(status=True)
    return wake


def stock_kick(poll_now: Any) -> Subscriber:
    """A delivery or a count correction has the stock judged at once."""
    def kick(event: Event) -> None:
        if any(e.kind in (model.RECEIVE, model.ADJUST) for e in event["entries"]):
            poll_now()
    return kick


def supply_watch(on_entries: Any) -> Subscriber:
    """Cards printed and supplies recorded are checked against the units recorded in
    each printer (``supply_unrecorded``)."""
    def check(event: Event) -> None:
        on_entries(event["entries"])
    return check
