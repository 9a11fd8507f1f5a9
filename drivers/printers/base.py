"""The narrow interface every card-printer driver implements.

A driver speaks one protocol family over any byte transport (through a
:class:`~drivers.transports.link.Link`, which reconnects by itself). Every
call has an explicit timeout. Failures are :class:`PrinterError` carrying a
DESIGN §4 fault code, so the agent never needs to know the wire protocol.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from drivers.transports.base import Transport, TransportError, TransportGone, WrongDevice
from drivers.transports.link import Link

T = TypeVar("T")

# Fault codes (DESIGN §4) a printer driver reports.
CARD_JAM: Final = "card_jam"
FEEDER_EMPTY: Final = "feeder_empty"
RIBBON_OUT: Final = "ribbon_out"
COVER_OPEN: Final = "cover_open"
REJECT_BOX_FULL: Final = "reject_box_full"
HEAD_OVERHEAT: Final = "head_overheat"
PRINTER_OFFLINE: Final = "printer_offline"
#: Garbage, truncated or missing replies (an extension of DESIGN §4).
PROTOCOL_ERROR: Final = "printer_protocol_error"
#: The printer that answered is not the one configured (another serial number).
PRINTER_REPLACED: Final = "printer_replaced"
#: The family cannot do what was asked (e.g. park a card at an encoder).
UNSUPPORTED: Final = "printer_unsupported"

# Where a card can be inside the printer.
AT_PRINT: Final = "print"
AT_CONTACTLESS: Final = "contactless"
AT_CONTACT: Final = "contact"


class PrinterError(Exception):
    """A printer operation failed; ``code`` is a DESIGN §4 fault code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ProtocolError(PrinterError):
    """The reply was garbage, truncated, or did not come in time."""

    def __init__(self, message: str) -> None:
        super().__init__(PROTOCOL_ERROR, message)


class PrinterOffline(PrinterError):
    """The printer cannot be reached (unplugged, off, another device answering)."""

    def __init__(self, message: str, code: str = PRINTER_OFFLINE) -> None:
        super().__init__(code, message)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the printer is (``printer info``)."""

    family: str
    model: str
    serial: str
    firmware: str


@dataclass(frozen=True, slots=True)
class Counters:
    """Lifetime counters (``printer counters``); ``cards`` counts cards picked."""

    cards: int
    panels: int | None = None
    cleanings: int | None = None
    ribbon_remaining: int | None = None


@dataclass(frozen=True, slots=True)
class Status:
    """What the printer says about itself now.

    ``conditions`` are fault codes, most serious first; ``card_at`` is where a
    card sits inside (``None``: no card); ``raw`` is the printer's own words.
    """

    conditions: tuple[str, ...]
    card_at: str | None
    busy: bool
    raw: str

    @property
    def ready(self) -> bool:
        """No fault, not busy, no card inside: a new card can be picked."""
        return not self.conditions and not self.busy and self.card_at is None


@dataclass(frozen=True, slots=True)
class Panel:
    """One ribbon panel to print: ``colour`` is Y, M, C, K or O; ``data`` its dots."""

    colour: str
    data: bytes


class Printer(abc.ABC):
    """A card printer of one protocol family behind a reconnecting link."""

    family: str = ""
    #: Can the family park a card at the contactless/contact encoder station?
    can_park: bool = False

    def __init__(self, link: Link, *, timeout: float = 2.0, retries: int = 2) -> None:
        self.link = link
        self.timeout = timeout
        self.retries = retries
        self.expected_serial: str | None = None
        self._stale = False  # a reply was missed or cut short: resync before the next
        self._lock = threading.RLock()
        link.on_connect = self._on_connect

    @property
    def url(self) -> str:
        return self.link.url

    # -- the interface -------------------------------------------------------

    @abc.abstractmethod
    def identity(self) -> Identity:
        """Model, serial number and firmware."""

    @abc.abstractmethod
    def status(self) -> Status:
        """Conditions, card position and busy flag (one poll)."""

    @abc.abstractmethod
    def counters(self) -> Counters:
        """Lifetime counters; ``cards`` is the number of cards ever picked."""

    @staticmethod
    def _optional(read: Callable[[], int]) -> int | None:
        """An optional counter: None (unknown) when this firmware refuses or garbles
        the query, instead of failing the whole read. An offline printer still fails."""
        try:
            return read()
        except ProtocolError:
            return None

    def card_count(self) -> int:
        """The lifetime picked-card counter alone (one query where the family allows)."""
        return self.counters().cards

    @abc.abstractmethod
    def feed(self, station: str = AT_PRINT) -> None:
        """Pick a blank from the feeder and move it to ``station``."""

    @abc.abstractmethod
    def print_panel(self, panel: Panel) -> None:
        """Download and print one panel on the card inside."""

    @abc.abstractmethod
    def eject(self) -> None:
        """Eject the card to the output hopper."""

    @abc.abstractmethod
    def reject(self) -> None:
        """Send the card inside to the reject box."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Clear the printer's error state (what an operator's "OK" button does)."""

    # -- shared plumbing -----------------------------------------------------

    @abc.abstractmethod
    def _read_serial(self, t: Transport) -> str:
        """Read the serial number over ``t`` (used when (re)connecting)."""

    def _on_connect(self, t: Transport) -> None:
        """Check a (re)connected printer is the one we had, then prepare it."""
        serial = self._read_serial(t)
        if self.expected_serial is not None and serial != self.expected_serial:
            # A late answer to a command that timed out before the reconnect can
            # look like a serial number: wait for a quiet line and ask once more
            # before calling the printer replaced.
            self._stale = True
            serial = self._read_serial(t)
        if self.expected_serial is None:
            self.expected_serial = serial
        elif serial != self.expected_serial:
            raise WrongDevice(
                f"{self.url}: a different printer answered (serial {serial}, expected "
                f"{self.expected_serial}); reconnect the right printer or change the config")
        self._prepare(t)

    def _retrying(self, ask: Callable[[Transport], str]) -> str:
        """A read-only exchange, repeated on a garbage or missing reply (it changes nothing)."""
        last: ProtocolError | None = None
        for _ in range(self.retries + 1):
            try:
                reply: str = self._with_transport(ask)
                return reply
            except ProtocolError as exc:
                last = exc
        assert last is not None
        raise last

    def _resync(self, t: Transport) -> None:
        """Before a command: drop stale input; after a missed reply, wait until the
        line has been quiet for one timeout, so a late answer to an earlier
        command is never taken for the answer to the next one."""
        if self._stale:
            while t.read(4096, self.timeout):
                pass
            self._stale = False
        else:
            t.discard_input()

    def _prepare(self, t: Transport) -> None:  # noqa: B027 - optional hook
        """Family-specific set-up after each connection (default: nothing)."""

    def _with_transport(self, fn: Callable[[Transport], T]) -> T:
        """Run ``fn(transport)`` on the link, turning transport failures into
        :class:`PrinterOffline`."""
        with self._lock:
            try:
                return self.link.call(fn)
            except TransportGone as exc:
                raise PrinterOffline(f"printer offline: {exc}") from exc
            except WrongDevice as exc:
                raise PrinterOffline(str(exc), PRINTER_REPLACED) from exc
            except TransportError as exc:
                self.link.failed(exc)
                raise PrinterOffline(str(exc)) from exc

    def close(self) -> None:
        """Release the transport."""
        self.link.close()

    def __enter__(self) -> Printer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def most_serious(conditions: set[str]) -> tuple[str, ...]:
    """Order fault codes so that the one an operator must act on first comes first."""
    order = (CARD_JAM, COVER_OPEN, HEAD_OVERHEAT, REJECT_BOX_FULL, RIBBON_OUT, FEEDER_EMPTY,
             PROTOCOL_ERROR)
    return tuple(sorted(conditions, key=lambda c: order.index(c) if c in order else len(order)))
