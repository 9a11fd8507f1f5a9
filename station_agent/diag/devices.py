"""Checks of the devices: each printer (reachable and who it is, state,
supplies, counters against the ledger), the PC/SC service and each reader.

A printer is asked once for its *facts* (:func:`printer_facts`), by the
daemon when it runs (it owns the port) or directly when it does not; the
checks are then made from the facts alone (:func:`printer_checks`), so both
paths judge the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from station_agent.diag.model import Check, failed, passed, warned
from station_agent.faults.codes import CODES

#: Ribbon panels left below which the supplies check warns (a YMCKO card uses 5).
RIBBON_WARN_PANELS = 100
#: Printer conditions that are about supplies, not the printer's state.
SUPPLY_CONDITIONS = ("ribbon_out", "feeder_empty")
_REACH_HINTS = {
    "printer_offline": "check the printer's power and cable, and the URL in station.toml",
    "printer_protocol_error": "the device answers but not in this protocol: check [[printer]] "
                              "family and the serial settings in the URL (baudrate)",
    "printer_replaced": "reconnect the configured printer, or update station.toml for the new "
                        "one",
}


def _hint(code: str) -> str:
    return CODES.get(code, ("", "see `station-agent faults`"))[1]


def printer_facts(printer: Any, noted_counter: int | None) -> dict[str, Any]:
    """Everything the printer checks need, from one conversation with ``printer``
    (JSON-ready: the daemon sends it over the local API)."""
    from drivers.printers import PrinterError

    facts: dict[str, Any] = {"reachable": False, "error": None, "fault": None,
                             "identity": None, "status": None, "counters": None,
                             "noted_counter": noted_counter}
    try:
        identity = dataclasses.asdict(printer.identity())
        facts["reachable"], facts["identity"] = True, identity
        s = printer.status()
        facts["status"] = {"conditions": list(s.conditions), "card_at": s.card_at,
                           "busy": s.busy, "raw": s.raw}
        facts["counters"] = dataclasses.asdict(printer.counters())
    except PrinterError as exc:
        facts["error"], facts["fault"] = exc.message, exc.code
    return facts


def printer_checks(pid: str, url: str, facts: dict[str, Any]) -> list[Check]:
    """The checks ``printer:<id>`` (reachable, identity), ``:state``, ``:supplies``
    and ``:counters`` judged from :func:`printer_facts`."""
    base = f"printer:{pid}"
    if facts.get("busy_job"):
        return [passed(base, f"busy with a card job (waited {facts['busy_job']:g} s); last poll: "
                             f"{'online' if facts.get('online') else 'offline'} (run diag "
                             "again when it is idle for the full check)")]
    if facts["identity"] is None:
        code = facts["fault"] or "printer_offline"
        return [failed(base, f"not reachable at {url}: {facts['error']}",
                       _REACH_HINTS.get(code, _hint(code)))]
    ident = facts["identity"]
    checks = [passed(base, f"{ident['family']} {ident['model']}, serial {ident['serial']}, "
                           f"firmware {ident['firmware']} at {url}")]
    status, counters = facts["status"], facts["counters"]
    if status is None or counters is None:
        code = facts["fault"] or "printer_protocol_error"
        checks.append(failed(f"{base}:state", f"answered who it is, then: {facts['error']}",
                             _REACH_HINTS.get(code, _hint(code))))
        return checks
    checks.append(_state_check(f"{base}:state", pid, status))
    checks.append(_supplies_check(f"{base}:supplies", status, counters))
    checks.append(_counters_check(f"{base}:counters", counters["cards"],
                                  facts["noted_counter"]))
    return checks


def _state_check(name: str, pid: str, status: dict[str, Any]) -> Check:
    conditions = [c for c in status["conditions"] if c not in SUPPLY_CONDITIONS]
    if conditions:
        return failed(name, f"{', '.join(conditions)} (the printer says {status['raw']!r})",
                      _hint(conditions[0]) + f"; then `station-agent printer clear --printer "
                                             f"{pid}`")
    if status["card_at"]:
        return warned(name, f"a card is inside, at {status['card_at']}",
                      "if no job is running, take the card out (it is recorded when its job "
                      f"is resolved), then `station-agent printer clear --printer {pid}`")
    if status["busy"]:
        return passed(name, "busy (printing)")
    return passed(name, "ready")


def _supplies_check(name: str, status: dict[str, Any], counters: dict[str, Any]) -> Check:
    ribbon = counters.get("ribbon_remaining")
    left = "ribbon level unknown" if ribbon is None else f"ribbon {ribbon:,} panels left"
    if "ribbon_out" in status["conditions"]:
        return failed(name, "ribbon out", _hint("ribbon_out"))
    if "feeder_empty" in status["conditions"]:
        return failed(name, f"feeder empty; {left}", _hint("feeder_empty"))
    if ribbon is not None and ribbon < RIBBON_WARN_PANELS:
        return warned(name, f"{left}; blanks in the feeder",
                      "have a new ribbon at hand: it runs out within about "
                      f"{max(1, ribbon // 5)} cards")
    return passed(name, f"{left}; blanks in the feeder")


def _counters_check(name: str, cards: int, noted: int | None) -> Check:
    if noted is None:
        return passed(name, f"printer counter {cards:,}; the agent has recorded no pick on this "
                            "printer yet")
    if cards == noted:
        return passed(name, f"printer counter {cards:,} equals the ledger's last recorded pick")
    if cards > noted:
        return warned(name, f"printer counter {cards:,} is {cards - noted:,} ahead of the "
                            f"ledger ({noted:,}): cards picked outside the agent",
                      "the daemon writes them off as unreported_pick at its next "
                      "reconciliation; find out which program used the printer")
    return failed(name, f"printer counter {cards:,} is behind the ledger's {noted:,}: not the "
                        "printer the ledger knows (replaced or reset)",
                  _REACH_HINTS["printer_replaced"])


def pcsc_check(needed: bool) -> tuple[Check, list[str] | None]:
    """The PC/SC service and the readers it lists (None when the service is not
    available). ``needed``: a pcsc:// reader is configured, so a missing
    service or an empty list fails."""
    from drivers.readers.base import ReaderError
    from drivers.readers.pcsc import list_readers

    try:
        names = list_readers()
    except ReaderError as exc:
        if not needed:
            return passed("pcsc", f"not used by this station ({exc.message})"), None
        return failed("pcsc", exc.message, _hint("pcsc_service_down")), None
    if needed and not names:
        return failed("pcsc", "the service runs but lists no reader",
                      _hint("reader_missing")), names
    listed = "; ".join(names) if names else "none"
    return passed("pcsc", f"the service answers; {len(names)} reader(s): {listed}"), names


def reader_check(rid: str, url: str, policy: Any, names: list[str] | None,
                 daemon_device: dict[str, Any] | None) -> Check:
    """One configured reader: present, and the chip check when a card is in its field.
    ``names`` are the PC/SC readers (None: the service is down)."""
    from drivers.readers.base import ReaderError
    from drivers.readers.pcsc import PcscReader, parse_pcsc_url

    name = f"reader:{rid}"
    if url.startswith("sim://"):
        if daemon_device is None:
            return passed(name, "a simulated reader, inside the daemon only (nothing to check "
                                "while the daemon is down)")
        online = daemon_device.get("online")
        if online is False:
            return failed(name, f"a simulated reader inside the daemon: offline "
                                f"({daemon_device.get('error')})", _hint("reader_missing"))
        return passed(name, "a simulated reader inside the daemon: "
                            + ("online" if online else "not polled yet"))
    if names is None:
        return failed(name, "not checked: the PC/SC service is down", _hint("pcsc_service_down"))
    want = parse_pcsc_url(url)
    matching = [n for n in names if want in n]
    if not matching:
        return failed(name, f"no reader whose name contains {want!r} (PC/SC lists: "
                            f"{'; '.join(names) or 'none'})", _hint("reader_missing"))
    try:
        with PcscReader(url, policy) as reader:
            if not reader.card_present():
                return passed(name, f"{matching[0]}: ready, no card in the field (chip check "
                                    "not run)")
            verdict = reader.check(timeout=1.0)
    except ReaderError as exc:
        return failed(name, f"{matching[0]}: {exc.message}", _hint(exc.code))
    seen = f"ATR {verdict.atr}, UID {verdict.uid or verdict.uid_note or 'unknown'}"
    if verdict.ok:
        return passed(name, f"{matching[0]}: card present, {seen}, chip OK")
    return warned(name, f"{matching[0]}: card present, {seen}, chip check FAILED: "
                        f"{verdict.reason}",
                  "one dead chip is spoiled by the agent; if every blank fails, check the "
                  "reader's position at the encoder and the blank batch")
