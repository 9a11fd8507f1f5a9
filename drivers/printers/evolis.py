"""Evolis-style ESC command driver (Primacy, Zenius, Pebble ...).

One command at a time: ``ESC`` + command + ``CR``; the reply ends in CR or
NUL. Queries are retried on a garbage or missing reply (they change
nothing); card moves and prints are not (a second ``Si`` would pick a second
card) and their failures are left to the caller, which checks the counters.
The host manages errors (``Pem;2``), so a failed card stays put until the
agent decides to reject it.
"""

from __future__ import annotations

import re

from drivers.printers.base import (
    AT_CONTACT,
    AT_CONTACTLESS,
    AT_PRINT,
    CARD_JAM,
    COVER_OPEN,
    FEEDER_EMPTY,
    HEAD_OVERHEAT,
    REJECT_BOX_FULL,
    RIBBON_OUT,
    Counters,
    Identity,
    Panel,
    Printer,
    PrinterError,
    ProtocolError,
    Status,
    most_serious,
)
from drivers.protocols import evolis as ev
from drivers.transports.base import Transport

_STATUS_WORDS = re.compile(r"^[0-9A-Fa-f]{8}(,[0-9A-Fa-f]{8}){3}$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")

_NACK_CODES = {
    ev.NACK_MECHANICAL: CARD_JAM,
    ev.NACK_COVER: COVER_OPEN,
    ev.NACK_FEEDER: FEEDER_EMPTY,
    ev.NACK_RIBBON: RIBBON_OUT,
}

_WARNINGS = (
    (ev.WARN_FEEDER_EMPTY, FEEDER_EMPTY),
    (ev.WARN_COVER_OPEN, COVER_OPEN),
    (ev.WARN_NO_RIBBON, RIBBON_OUT),
    (ev.WARN_RIBBON_ENDED, RIBBON_OUT),
    (ev.WARN_REJECT_FULL, REJECT_BOX_FULL),
    (ev.WARN_HEAD_COOLING, HEAD_OVERHEAT),
)
_ERRORS = (
    (ev.ERR_MECHANICAL, CARD_JAM),
    (ev.ERR_FEED, FEEDER_EMPTY),
    (ev.ERR_RIBBON, RIBBON_OUT),
    (ev.ERR_COVER_DURING_JOB, COVER_OPEN),
    (ev.ERR_HEAD_TEMP, HEAD_OVERHEAT),
    (ev.ERR_REJECT_FULL, REJECT_BOX_FULL),
)
_STATIONS = {AT_PRINT: ev.INSERT, AT_CONTACTLESS: ev.INSERT_CONTACTLESS,
             AT_CONTACT: ev.INSERT_CONTACT}


def parse_reply(raw: bytes, command: str) -> str:
    """The text of one reply frame, or :class:`ProtocolError`.

    ACK mode answers are turned into ``OK`` / ``ERR;<code>``.
    """
    if not raw:
        raise ProtocolError(f"no reply to {command} in time")
    if raw[-1:] not in ev.TERMINATORS:
        raise ProtocolError(f"truncated reply to {command}: {raw[:40]!r}")
    body = raw[:-1]
    if body[:1] == ev.ACK and len(body) == 1:
        return ev.OK
    if body[:1] == ev.NACK and len(body) == 2:
        code = chr(body[1])
        return ev.ERR_PREFIX + code
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError(f"garbage reply to {command}: {body[:40]!r}") from None
    if not _PRINTABLE.match(text):
        raise ProtocolError(f"garbage reply to {command}: {body[:40]!r}")
    return text


def parse_int(text: str, command: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise ProtocolError(f"{command} should answer a number, got {text[:40]!r}")
    return int(text)


def parse_status_words(text: str) -> tuple[int, int, int, int]:
    """``config, info, warning, error`` from an ``Rst`` reply."""
    if not _STATUS_WORDS.match(text):
        raise ProtocolError(f"{ev.STATUS_WORDS} should answer four hex words, got {text[:60]!r}")
    cfg, info, warn, err = (int(w, 16) for w in text.split(","))
    return cfg, info, warn, err


def status_from_words(text: str) -> Status:
    """Map the status words to fault codes (errors first) and a card position."""
    _cfg, info, warn, err = parse_status_words(text)
    errors = {code for bit, code in _ERRORS if err & bit}
    warnings = {code for bit, code in _WARNINGS if warn & bit} - errors
    card_at = None
    if info & ev.INFO_CARD_PRINT:
        card_at = AT_PRINT
    elif info & ev.INFO_CARD_CONTACTLESS:
        card_at = AT_CONTACTLESS
    elif info & ev.INFO_CARD_CONTACT:
        card_at = AT_CONTACT
    # Errors (what just failed) before warnings (what will fail next).
    return Status(most_serious(errors) + most_serious(warnings), card_at,
                  bool(info & ev.INFO_BUSY), text)


class EvolisPrinter(Printer):
    """Driver for the Evolis ESC command family."""

    family = "evolis"
    can_park = True

    # -- wire ----------------------------------------------------------------

    def _exchange(self, t: Transport, command: str) -> str:
        self._resync(t)
        t.write(ev.ESC + command.encode("latin-1") + ev.CR)
        raw = t.read_until(ev.TERMINATORS, self.timeout)
        if not raw or raw[-1:] not in ev.TERMINATORS:
            self._stale = True
        return parse_reply(raw, command)

    def _query(self, command: str) -> str:
        """A read-only command, retried on a bad reply."""
        reply = self._retrying(lambda t: self._exchange(t, command))
        if reply.startswith(ev.ERR_PREFIX):
            raise ProtocolError(f"the printer refused {command} ({reply})")
        return reply

    def _action(self, command: str) -> None:
        """A command that changes something: sent once; a refusal is mapped to a fault."""
        reply: str = self._with_transport(lambda t: self._exchange(t, command))
        if reply == ev.OK:
            return
        if reply.startswith(ev.ERR_PREFIX):
            code = reply[len(ev.ERR_PREFIX):]
            fault = _NACK_CODES.get(code)
            # The status words say more than a NACK code (a 'T' is any mechanical trouble).
            try:
                conditions = self.status().conditions
            except PrinterError:
                conditions = ()
            if conditions:
                fault = conditions[0]
            if fault is None:
                raise ProtocolError(f"the printer refused {command} (NACK {code})")
            raise PrinterError(fault, f"{command} failed: {fault.replace('_', ' ')} "
                                      f"(printer said {reply})")
        raise ProtocolError(f"unexpected reply to {command}: {reply[:40]!r}")

    def _read_serial(self, t: Transport) -> str:
        return self._checked_text(self._exchange(t, ev.SERIAL), ev.SERIAL)

    def _prepare(self, t: Transport) -> None:
        # Host error management: a failed card waits for the agent's decision.
        reply = self._exchange(t, ev.HOST_ERRORS)
        if reply != ev.OK:
            raise ProtocolError(f"{ev.HOST_ERRORS} refused ({reply[:40]!r})")

    @staticmethod
    def _checked_text(text: str, command: str) -> str:
        if not text or text == ev.OK or text.startswith(ev.ERR_PREFIX):
            raise ProtocolError(f"{command} gave no usable answer ({text[:40]!r})")
        return text

    # -- interface -------------------------------------------------------------

    def identity(self) -> Identity:
        model = self._checked_text(self._query(ev.MODEL), ev.MODEL)
        serial = self._checked_text(self._query(ev.SERIAL), ev.SERIAL)
        firmware = self._checked_text(self._query(ev.FIRMWARE), ev.FIRMWARE)
        return Identity(self.family, model, serial, firmware)

    def status(self) -> Status:
        return status_from_words(self._query(ev.STATUS_WORDS))

    def counters(self) -> Counters:
        return Counters(
            cards=parse_int(self._query(ev.COUNT_CARDS), ev.COUNT_CARDS),
            panels=self._optional(lambda: parse_int(self._query(ev.COUNT_PANELS),
                                                    ev.COUNT_PANELS)),
            cleanings=self._optional(lambda: parse_int(self._query(ev.COUNT_CLEANINGS),
                                                       ev.COUNT_CLEANINGS)),
            ribbon_remaining=self._optional(lambda: parse_int(self._query(ev.RIBBON_REMAINING),
                                                              ev.RIBBON_REMAINING)),
        )

    def card_count(self) -> int:
        return parse_int(self._query(ev.COUNT_CARDS), ev.COUNT_CARDS)

    def feed(self, station: str = AT_PRINT) -> None:
        try:
            command = _STATIONS[station]
        except KeyError:
            raise ValueError(f"unknown station {station!r}") from None
        self._action(command)

    def print_panel(self, panel: Panel) -> None:
        colour = panel.colour.lower()
        self._action(f"{ev.DOWNLOAD};{colour};2;{panel.data.hex()}")
        self._action(f"{ev.PRINT_PANEL};{colour}")

    def eject(self) -> None:
        self._action(ev.EJECT)

    def reject(self) -> None:
        self._action(ev.EJECT_REJECT)

    def clear(self) -> None:
        self._action(ev.CLEAR_STATUS)

