"""Magicard-style framed request driver (Rio Pro, Enduro, Tango ...).

Requests are nine ENQ bytes, SOH, ``REQ,STA,<KEY>,`` (or a simple command
such as ``RST,``) and FS ETX; replies are SOH, data, ``,`` ETX. A card is
issued as a streamed job: the header (with ``REJ ON``, so a failed card goes
to the reject output) makes the printer pick a card, each panel prints as it
arrives, ETX ends the job and ejects. Older firmware never reports job
completion, so after each step the driver asks ``PST`` (status) and the
counters tell whether a card was really picked.
"""

from __future__ import annotations

import re

from drivers.printers.base import (
    AT_PRINT,
    CARD_JAM,
    COVER_OPEN,
    FEEDER_EMPTY,
    HEAD_OVERHEAT,
    PROTOCOL_ERROR,
    REJECT_BOX_FULL,
    RIBBON_OUT,
    UNSUPPORTED,
    Counters,
    Identity,
    Panel,
    Printer,
    PrinterError,
    ProtocolError,
    Status,
    most_serious,
)
from drivers.protocols import magicard as mc
from drivers.transports.base import Transport

_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")

_ERROR_WORDS = {
    mc.E_NO_CARDS: FEEDER_EMPTY,
    mc.E_CARD_JAM: CARD_JAM,
    mc.E_RIBBON_OUT: RIBBON_OUT,
    mc.E_COVER_OPEN: COVER_OPEN,
    mc.E_REJECT_FULL: REJECT_BOX_FULL,
    mc.E_HEAD_HOT: HEAD_OVERHEAT,
}


def request_frame(body: str) -> bytes:
    """A request frame around ``body`` (``REQ,STA,TCQ,`` or ``RST,``)."""
    return mc.REQUEST_PREAMBLE + body.encode("ascii") + mc.REQUEST_TRAILER


def parse_reply(raw: bytes, what: str) -> str:
    """The data of one reply frame, or :class:`ProtocolError`."""
    if not raw:
        raise ProtocolError(f"no reply to {what} in time")
    if not raw.endswith(mc.REPLY_END):
        raise ProtocolError(f"truncated reply to {what}: {raw[:40]!r}")
    start = raw.rfind(mc.REPLY_START)
    if start < 0:
        raise ProtocolError(f"reply to {what} has no start byte: {raw[:40]!r}")
    body = raw[start + 1:-len(mc.REPLY_END)]
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError(f"garbage reply to {what}: {body[:40]!r}") from None
    if not _PRINTABLE.match(text):
        raise ProtocolError(f"garbage reply to {what}: {body[:40]!r}")
    return text


def conditions_from(text: str) -> tuple[str, ...]:
    """Fault codes from ``ERROR:<word>[;<word>]``; unknown words are a protocol error."""
    words = [w for w in text[len(mc.ERROR_PREFIX):].split(";") if w]
    if not words:
        raise ProtocolError(f"error answer without a reason: {text[:40]!r}")
    return most_serious({_ERROR_WORDS.get(w, PROTOCOL_ERROR) for w in words})


def parse_status(pst: str, cps: str) -> Status:
    """A :class:`Status` from the ``PST`` and ``CPS`` answers."""
    if cps not in (mc.POS_NONE, mc.POS_PRINT):
        raise ProtocolError(f"{mc.CARD_POSITION} answered {cps[:40]!r}")
    card_at = AT_PRINT if cps == mc.POS_PRINT else None
    if pst == mc.READY:
        return Status((), card_at, False, pst)
    if pst == mc.BUSY:
        return Status((), card_at, True, pst)
    if pst.startswith(mc.ERROR_PREFIX):
        return Status(conditions_from(pst), card_at, False, pst)
    raise ProtocolError(f"{mc.PRINTER_STATUS} answered {pst[:40]!r}")


class MagicardPrinter(Printer):
    """Driver for the Magicard framed request family."""

    family = "magicard"
    can_park = False

    # -- wire ----------------------------------------------------------------

    def _exchange(self, t: Transport, body: str) -> str:
        self._resync(t)
        t.write(request_frame(body))
        raw = t.read_until((mc.ETX,), self.timeout)
        if not raw.endswith(mc.REPLY_END):
            self._stale = True
        return parse_reply(raw, body)

    def _ask(self, key: str, *, errors_are_answers: bool = False) -> str:
        """A status key, retried on a bad reply (``PST`` answers ``ERROR:...`` as data)."""
        body = f"{mc.STATUS_PREFIX}{key},"
        reply = self._retrying(lambda t: self._exchange(t, body))
        if not reply or (reply.startswith(mc.ERROR_PREFIX) and not errors_are_answers):
            raise ProtocolError(f"the printer gave no {key} ({reply[:40]!r})")
        return reply

    def _number(self, key: str) -> int:
        text = self._ask(key)
        if not text.isdigit() or len(text) > 12:
            raise ProtocolError(f"{key} should be a number, got {text[:40]!r}")
        return int(text)

    def _command(self, name: str) -> None:
        reply: str = self._with_transport(lambda t: self._exchange(t, f"{name},"))
        if reply == mc.OK:
            return
        if reply.startswith(mc.ERROR_PREFIX):
            code = conditions_from(reply)[0]
            raise PrinterError(code, f"{name} failed: {code.replace('_', ' ')} "
                                     f"(printer said {reply})")
        raise ProtocolError(f"unexpected reply to {name}: {reply[:40]!r}")

    def _send(self, data: bytes, step: str, *, picking: bool = False) -> None:
        """Stream job bytes (no reply), then ask how the step went."""
        self._with_transport(lambda t: t.write(data))
        st = self.status()
        # PST mixes errors with warnings about the next card: an empty feeder or
        # a full reject box only fails a pick that left no card inside.
        ignore = (FEEDER_EMPTY, REJECT_BOX_FULL) if not (picking and st.card_at is None) else ()
        conditions = [c for c in st.conditions if c not in ignore]
        if conditions:
            code = conditions[0]
            raise PrinterError(code, f"{step} failed: {code.replace('_', ' ')} "
                                     f"(printer said {st.raw})")

    def _read_serial(self, t: Transport) -> str:
        reply = self._exchange(t, f"{mc.STATUS_PREFIX}{mc.SERIAL},")
        if not reply or reply.startswith(mc.ERROR_PREFIX):
            raise ProtocolError(f"no serial number ({reply[:40]!r})")
        return reply

    # -- interface -------------------------------------------------------------

    def identity(self) -> Identity:
        return Identity(self.family, self._ask(mc.MODEL), self._ask(mc.SERIAL),
                        self._ask(mc.FIRMWARE))

    def status(self) -> Status:
        return parse_status(self._ask(mc.PRINTER_STATUS, errors_are_answers=True),
                            self._ask(mc.CARD_POSITION))

    def counters(self) -> Counters:
        return Counters(cards=self._number(mc.TOTAL_CARDS),
                        panels=self._optional(lambda: self._number(mc.TOTAL_PANELS)),
                        cleanings=self._optional(lambda: self._number(mc.CLEANINGS)),
                        ribbon_remaining=self._optional(
                            lambda: self._number(mc.RIBBON_REMAINING)))

    def card_count(self) -> int:
        return self._number(mc.TOTAL_CARDS)

    def feed(self, station: str = AT_PRINT) -> None:
        if station != AT_PRINT:
            raise PrinterError(UNSUPPORTED, f"{self.family} printers cannot park a card at "
                                            f"the {station} station")
        header = f"JOB,{mc.REJECT_ON},".encode("ascii")
        self._send(mc.JOB_PREAMBLE + header + mc.FS + b"J" + mc.COLON, "picking a card",
                   picking=True)

    def print_panel(self, panel: Panel) -> None:
        colour = panel.colour.upper()
        if len(colour) != 1 or colour not in mc.PANEL_LETTERS:
            raise ValueError(f"unknown panel colour {panel.colour!r}")
        data = panel.data.hex().encode("ascii")
        self._send(data + mc.FS + colour.encode("ascii") + mc.COLON, f"printing panel {colour}")

    def eject(self) -> None:
        self._send(mc.ETX, "ejecting")
        if self.status().card_at is not None:
            raise ProtocolError("the job ended but the card is still inside")

    def reject(self) -> None:
        self._command(mc.RESET)

    def clear(self) -> None:
        self._command(mc.CLEAR)
