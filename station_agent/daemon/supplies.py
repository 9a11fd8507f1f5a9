"""Supplies in the running daemon (DESIGN §10): recording them, and watching for what
the office should be told.

* ``supply_low`` (source ``supply:<kind>``): the stock of a kind is at or below
  its ``low_threshold``; checked with the blanks' stock.
* ``supply_unrecorded`` (on the printer): a printer took a card while no unit
  of a ribbon or film kind that fits it is recorded in it.
* ``ribbon_changed`` (on the printer): the printer's ribbon counter went up
  (a new ribbon is in): the agent asks the operator to record the install
  rather than guess which kind and when; recording it clears the fault.
* ``ribbon_low`` (on the printer): the ribbon counter says at most
  :data:`RIBBON_LOW_PRINTS` prints are left (spooled printers: CUPS'
  ``marker-supply-low``).

Installs and finishes note the printer's card counter when the daemon can
read it (the start and end of the unit's yield).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from drivers.printers import Counters, PrinterError
from station_agent.config import Config, SupplyConfig
from station_agent.faults.reporter import FaultSink
from station_agent.ledger import Ledger, model
from station_agent.ledger import supplies as ledger_supplies
from station_agent.ledger.model import Entry
from station_agent.ledger.store import open_unit
from station_agent.supplies.outlook import supply_view

if TYPE_CHECKING:
    from station_agent.daemon.units import PrinterUnit

#: A ribbon with at most this many prints left raises ``ribbon_low``.
RIBBON_LOW_PRINTS = 20
#: Seconds an install or finish waits for its printer's running job.
PRINTER_WAIT_S = 30.0


def supply_source(kind: str) -> str:
    """The fault source of a supply kind."""
    return f"supply:{kind}"


class SupplyDesk:
    """Records supplies for the daemon's operations and raises their faults."""

    def __init__(self, config: Config, ledger: Ledger, faults: FaultSink,
                 printers: Callable[[], dict[str, PrinterUnit]],
                 markers: Callable[[str], list[dict[str, Any]]] | None = None) -> None:
        self.config, self.ledger, self.faults, self._printers = config, ledger, faults, printers
        #: A spooled printer's supply levels as CUPS reports them (``marker-*``).
        self._markers = markers or (lambda _pid: [])
        self._ribbon_left: dict[str, int] = {}
        self._ribbon_ended: dict[str, bool] = {}
        self._lock = threading.Lock()

    @property
    def sources(self) -> list[str]:
        """The fault sources of the configured kinds."""
        return [supply_source(sc.kind) for sc in self.config.supplies]

    # -- reading ----------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """Each driven printer's card counter as last known: read by its poll, or
        noted by its latest pick (whichever is newer: a counter only goes up)."""
        out = {}
        for pid, u in self._printers().items():
            known = [n for n in (None if u.counters is None else u.counters.cards,
                                 self.ledger.device_counter(pid)) if n is not None]
            if known:
                out[pid] = max(known)
        return out

    def view(self) -> dict[str, Any]:
        """``station-agent supplies --json``."""
        counters = self.counters()
        kinds = self.ledger.read(lambda c: supply_view(c, self.config, counters=counters))
        docs = []
        for k in kinds:
            doc = k.as_dict()
            for unit in doc["in_printers"]:   # type: ignore[attr-defined]
                unit["levels"] = [m for m in self._markers(unit["printer"])
                                  if marker_part(m) == k.cfg.part]
            docs.append(doc)
        return {"kinds": docs}

    # -- recording ----------------------------------------------------------------------

    def _kind(self, kind: str, printer: str | None = None) -> SupplyConfig:
        return self.config.supply(kind, printer)

    def _read_counters(self, printer: str) -> Counters | None:
        """The printer's counters now, read between jobs (None: not a driven
        printer, or not reachable: a yield is then counted from jobs)."""
        unit = self._printers().get(printer)
        if unit is None or not unit.issuer.lock.acquire(timeout=PRINTER_WAIT_S):
            return None
        try:
            return unit.printer.counters()
        except PrinterError:
            return None
        finally:
            unit.issuer.lock.release()

    def _card_counter(self, printer: str) -> int | None:
        counters = self._read_counters(printer)
        return None if counters is None else counters.cards

    def receive(self, kind: str, count: int, batch: str, actor: str | None) -> Entry:
        self._kind(kind)
        t = model.supply_receive(kind, count, batch)
        return self.ledger.record(t if actor is None else _by(t, actor))

    def install(self, kind: str, printer: str, serial: str | None, idem_id: str | None,
                actor: str | None) -> list[Entry]:
        """Record the unit now in ``printer`` (finishing the one before it)."""
        self._kind(kind, printer)
        idem = idem_id or f"supply_install:{kind}:{printer}:{uuid.uuid4()}"
        now = self._read_counters(printer)
        counter = None if now is None else now.cards
        transfers = self.ledger.read(lambda c: ledger_supplies.install_transfers(
            c, kind, printer, idem, serial=serial, counter=counter, actor=actor))
        entries = _all_or_refusal(self.ledger.record_many(transfers))
        if self.config.supply(kind).part == "ribbon":
            # The new ribbon is recorded: what the printer says of it now is the
            # baseline of the next change (not a change itself); unknown now (a
            # queue's printer), the next reading is.
            with self._lock:
                if now is not None and now.ribbon_remaining is not None:
                    self._ribbon_left[printer] = now.ribbon_remaining
                else:
                    self._ribbon_left.pop(printer, None)
                self._ribbon_ended.pop(printer, None)
            self.faults.clear_fault(printer, "ribbon_changed")
        self.check_printer(printer)
        return entries

    def finish(self, kind: str, printer: str, idem_id: str | None,
               actor: str | None) -> Entry:
        self._kind(kind, printer)
        idem = idem_id or f"supply_finish:{kind}:{printer}:{uuid.uuid4()}"
        t = model.supply_finish(kind, printer, idem, counter=self._card_counter(printer))
        return self.ledger.record(t if actor is None else _by(t, actor))

    def write_off(self, kind: str, count: int, reason: str, printer: str | None,
                  idem_id: str | None, actor: str | None) -> Entry:
        self._kind(kind, printer)
        idem = idem_id or f"supply_write_off:{kind}:{uuid.uuid4()}"
        t = model.supply_write_off(kind, count, reason, idem, device=printer)
        return self.ledger.record(t if actor is None else _by(t, actor))

    # -- watching -----------------------------------------------------------------------

    def check_stock(self) -> None:
        """``supply_low`` per configured kind (with the blanks' stock check)."""
        if not self.config.supplies:
            return
        balances = self.ledger.read(ledger_supplies.balances)
        for sc in self.config.supplies:
            stock = balances.get(sc.kind, {}).get(model.SUPPLY_STOCK, 0)
            self.faults.observe(supply_source(sc.kind), "supply_low",
                                stock < sc.low_threshold,
                                f"{stock} {sc.kind} in stock (threshold {sc.low_threshold})",
                                raise_after=1, clear_after=1)

    def on_entries(self, entries: list[Entry]) -> None:
        """After a commit: printers that took a card, or had a unit installed or
        finished, are checked for ``supply_unrecorded``."""
        printers = {e.device for e in entries if e.device is not None
                    and (e.kind == model.PICK or e.item is not None)}
        for printer in printers:
            self.check_printer(printer, printing=any(
                e.kind == model.PICK and e.device == printer for e in entries))

    def _consumed_kinds(self, printer: str) -> list[SupplyConfig]:
        pc = next((p for p in self.config.printers if p.id == printer), None)
        if pc is None:
            return []
        return [sc for sc in self.config.supplies if sc.consumed_per_card
                and sc.fits_printer(pc)]

    def check_printer(self, printer: str, *, printing: bool = False) -> None:
        """Raise ``supply_unrecorded`` when ``printer`` prints with a ribbon or film
        kind that fits it not recorded in it; clear it once every one is."""
        kinds = self._consumed_kinds(printer)
        if not kinds:
            return
        missing = self.ledger.read(lambda c: [sc.kind for sc in kinds
                                              if open_unit(c, sc.kind, printer) is None])
        if missing and printing:
            self.faults.observe(printer, "supply_unrecorded", True,
                                f"printed with no {' or '.join(missing)} recorded in it",
                                raise_after=1, clear_after=1)
        elif not missing:
            self.faults.observe(printer, "supply_unrecorded", False, raise_after=1,
                                clear_after=1)

    def on_markers(self, printer: str, markers: list[dict[str, Any]], ended: bool) -> None:
        """A spooled printer's supply levels were read from CUPS (``marker-*``): a
        ribbon level that went up, or a ribbon that had ended (``marker-supply-empty``)
        and has a level again, is a new ribbon (``ribbon_low`` comes from CUPS'
        ``marker-supply-low`` reason)."""
        levels = [int(m["level"]) for m in markers if marker_part(m) == "ribbon"
                  and isinstance(m.get("level"), int) and m["level"] >= 0]
        if levels:
            self._ribbon_reading(printer, levels[0], ended)

    def on_counters(self, printer: str, counters: Counters,
                    conditions: tuple[str, ...] = ()) -> None:
        """A driven printer's counters were read (with its conditions): notice a new
        ribbon (the counter went up, or a ribbon that had ended has prints left),
        or a low one."""
        left = counters.ribbon_remaining
        if left is None:
            return
        self._ribbon_reading(printer, left, "ribbon_out" in conditions)
        self.faults.observe(printer, "ribbon_low", 0 < left <= RIBBON_LOW_PRINTS,
                            f"{left} prints left on the ribbon", raise_after=1, clear_after=1)

    def _ribbon_reading(self, printer: str, left: int, ended: bool) -> None:
        with self._lock:
            before = self._ribbon_left.get(printer)
            was_ended = self._ribbon_ended.get(printer, False)
            self._ribbon_left[printer], self._ribbon_ended[printer] = left, ended
        ribbons = [sc for sc in self._consumed_kinds(printer) if sc.part == "ribbon"]
        if ribbons and ((before is not None and left > before)
                        or (was_ended and not ended and left > 0)):
            self.faults.raise_fault(
                printer, "ribbon_changed",
                f"the ribbon counter went from {before} to {left} left: record the "
                f"new ribbon ({' or '.join(sc.kind for sc in ribbons)})")


#: IPP ``marker-types`` (PWG 5100.x registry) per supply part.
_MARKER_TYPES = {"ink-ribbon": "ribbon", "ribbon-wax": "ribbon", "transfer-unit": "film",
                 "cleaner-unit": "cleaning"}


def marker_part(marker: dict[str, Any]) -> str | None:
    """The supply part (``ribbon``, ``film``, ``cleaning``) a CUPS marker is, by its
    registered type, else by its name (vendors vary), or None."""
    part = _MARKER_TYPES.get(str(marker.get("type") or ""))
    if part is not None:
        return part
    name = str(marker.get("name") or "").lower()
    return next((p for p, words in (("ribbon", ("ribbon",)), ("film", ("film", "transfer")),
                                    ("cleaning", ("clean",))) if any(w in name for w in words)),
                None)


def _by(t: model.Transfer, actor: str) -> model.Transfer:
    return replace(t, actor=actor)


def _all_or_refusal(results: list[Entry | Any]) -> list[Entry]:
    """The entries of a group recorded together, or the first refusal raised."""
    for r in results:
        if not isinstance(r, Entry):
            raise r
    return list(results)
