"""A simulated Magicard-style printer: framed requests and streamed jobs.

Independent of the driver (it shares only ``drivers.protocols.magicard``
constants). A run of ENQ bytes then SOH opens a frame: fewer than 64 ENQs is
a request (answered), 64 or more a job (never answered, as older firmware
does). Requests may arrive between the segments of an open job. Job
segments end with FS + tag + ``:``; tag ``J`` ends the header and
picks a card, a colour letter ends a panel and prints it; ETX ends the job
and ejects the card.
"""

from __future__ import annotations

from drivers.protocols import magicard as mc
from simulators.printers import model as m
from simulators.printers.wire import WireFaults

_WORDS = {
    m.JAM: mc.E_CARD_JAM,
    m.FEEDER_EMPTY: mc.E_NO_CARDS,
    m.RIBBON_OUT: mc.E_RIBBON_OUT,
    m.COVER_OPEN: mc.E_COVER_OPEN,
    m.COVER_OPENED_DURING_JOB: mc.E_COVER_OPEN,
    m.REJECT_FULL: mc.E_REJECT_FULL,
    m.OVERHEAT: mc.E_HEAD_HOT,
    m.CARD_PRESENT: mc.E_BAD_COMMAND,
    m.NO_CARD: mc.E_NO_JOB,
}
_MAX_FRAME = 1 << 22
_ENQ, _SOH, _FS, _ETX = mc.ENQ[0], mc.SOH[0], mc.FS[0], mc.ETX[0]


class MagicardSimulator:
    """Speaks the Magicard framed protocol on behalf of a :class:`PrinterModel`."""

    family = "magicard"

    def __init__(self, model: m.PrinterModel, wire: WireFaults | None = None, *,
                 minimal: bool = False) -> None:
        self.model = model
        #: A firmware without the optional queries: it refuses them as unknown.
        self.minimal = minimal
        self.wire = wire or WireFaults()
        self._buf = bytearray()
        self._in_job = False      # inside a job frame (bytes are segments)
        self._job_open = False    # a card was picked for the open job
        self._reject_on = False
        self._job_error: str | None = None

    # -- stream ----------------------------------------------------------------

    def receive(self, data: bytes) -> list[tuple[bytes, float]]:
        """Feed bytes from the host; return the replies, each with its delay (s)."""
        self._buf += data
        out: list[tuple[bytes, float]] = []
        while self._buf:
            # Requests may come between job segments (panel data is hex, never ENQ).
            if self._in_job and self._buf[0] != _ENQ:
                if not self._job_step():
                    break
                continue
            i = 0
            while i < len(self._buf) and self._buf[i] == _ENQ:
                i += 1
            if i == len(self._buf):
                break  # only ENQs so far
            if i == 0 or self._buf[i] != _SOH:
                # Not a frame start: skip to the next ENQ (line noise).
                nxt = self._buf.find(mc.ENQ, 1)
                del self._buf[: nxt if nxt > 0 else len(self._buf)]
                continue
            if i >= 64:
                del self._buf[: i + 1]
                self._in_job = True
                continue
            end = self._buf.find(mc.REQUEST_TRAILER, i + 1)
            if end < 0:
                if len(self._buf) > _MAX_FRAME:
                    self._buf.clear()
                break
            body = bytes(self._buf[i + 1:end]).decode("latin-1")
            del self._buf[: end + len(mc.REQUEST_TRAILER)]
            reply = mc.REPLY_START + self.handle(body).encode("latin-1") + mc.REPLY_END
            out.append(self.wire.apply(self.model, reply))
        return out

    def _job_step(self) -> bool:
        """Consume one job segment or the job end; False if more bytes are needed."""
        buf = self._buf
        if buf[0] == _ETX:
            del buf[:1]
            self._end_job()
            return True
        fs = buf.find(mc.FS)
        etx = buf.find(mc.ETX)
        if 0 <= etx < (fs if fs >= 0 else len(buf)):
            del buf[:etx]  # data cut short by the job end: dropped
            return True
        if fs < 0 or fs + 2 >= len(buf):
            if len(buf) > _MAX_FRAME:
                buf.clear()
            return False
        segment = bytes(buf[:fs]).decode("latin-1")
        tag, colon = chr(buf[fs + 1]), buf[fs + 2:fs + 3]
        del buf[: fs + 3]
        if colon != mc.COLON:
            self._job_error = self._job_error or m.NO_CARD
            return True
        if tag == "J":
            self._start_job(segment)
        elif tag in mc.PANEL_LETTERS:
            self._print(tag)
        return True

    # -- job -------------------------------------------------------------------

    def _start_job(self, header: str) -> None:
        fields = [f.strip() for f in header.split(",")]
        self._reject_on = mc.REJECT_ON in fields
        self._job_error = None
        try:
            self.model.pick(m.PRINT)
            self._job_open = True
        except m.MechanicalError as exc:
            self._job_open = False
            self._job_error = exc.condition

    def _print(self, colour: str) -> None:
        if not self._job_open or self._job_error:
            return
        try:
            self.model.print_panel(colour)
        except m.MechanicalError as exc:
            self._job_error = exc.condition

    def _end_job(self) -> None:
        self._in_job = False
        if self._job_open and not self._job_error:
            try:
                self.model.eject()
                self._job_open = False
            except m.MechanicalError as exc:
                self._job_error = exc.condition

    # -- requests --------------------------------------------------------------

    def handle(self, body: str) -> str:
        """Answer one request body (``REQ,STA,TCQ,`` or ``RST,``)."""
        model = self.model
        with model.lock:
            if self._job_open and model.position is None:
                # The operator took the card out (a jam cleared): the job is over.
                self._job_open, self._in_job, self._job_error = False, False, None
            if body.startswith(mc.STATUS_PREFIX) and body.endswith(","):
                return self._status_key(body[len(mc.STATUS_PREFIX):-1])
            name = body.rstrip(",")
            if name == mc.RESET:
                return self._reset()
            if name == mc.CLEAR:
                model.clear()
                if self._job_error and self._job_error not in model.errors:
                    self._job_error = None
                return mc.OK
            if name == mc.EJECT:
                try:
                    model.eject()
                except m.MechanicalError as exc:
                    return mc.ERROR_PREFIX + _WORDS.get(exc.condition, mc.E_BAD_COMMAND)
                self._job_open = False
                return mc.OK
            if name == mc.TEST_CARD:
                return self._test_card()
        return mc.ERROR_PREFIX + mc.E_BAD_COMMAND

    def _reset(self) -> str:
        model = self.model
        model.clear()
        if model.position is not None:
            try:
                if self._reject_on:
                    model.reject()
                else:
                    model.eject()
            except m.MechanicalError as exc:
                return mc.ERROR_PREFIX + _WORDS.get(exc.condition, mc.E_BAD_COMMAND)
        self._job_open = False
        self._job_error = None
        self._in_job = False
        return mc.OK

    def _test_card(self) -> str:
        try:
            self.model.pick(m.PRINT)
            self.model.print_panel("K")
            self.model.eject()
        except m.MechanicalError as exc:
            return mc.ERROR_PREFIX + _WORDS.get(exc.condition, mc.E_BAD_COMMAND)
        return mc.OK

    def _status_key(self, key: str) -> str:
        model = self.model
        values = {
            mc.SERIAL: model.serial,
            mc.FIRMWARE: model.firmware,
            mc.MODEL: model.model,
            mc.TOTAL_CARDS: str(model.cards_counter),
            mc.HEAD_CARDS: str(model.cards_counter),
            mc.CLEANINGS: str(model.cleanings_counter),
            mc.CARDS_SINCE_CLEANING: str(model.cards_counter),
            mc.TOTAL_PANELS: str(model.panels_counter),
            mc.RIBBON_REMAINING: str(model.ribbon),
            mc.CARD_POSITION: mc.POS_PRINT if model.position else mc.POS_NONE,
        }
        if key == mc.PRINTER_STATUS:
            return self.printer_status()
        if self.minimal and key in (mc.CLEANINGS, mc.RIBBON_REMAINING):
            return mc.ERROR_PREFIX + mc.E_BAD_COMMAND
        return values.get(key, mc.ERROR_PREFIX + mc.E_BAD_COMMAND)

    def printer_status(self) -> str:
        model = self.model
        words = {_WORDS[c] for c in model.errors if c in _WORDS}
        if self._job_error:
            words.add(_WORDS.get(self._job_error, mc.E_BAD_COMMAND))
        if model.cover_open:
            words.add(mc.E_COVER_OPEN)
        if model.feeder <= 0:
            words.add(mc.E_NO_CARDS)
        if model.reject_box >= model.reject_capacity:
            words.add(mc.E_REJECT_FULL)
        if model.head_hot:
            words.add(mc.E_HEAD_HOT)
        if words:
            return mc.ERROR_PREFIX + ";".join(sorted(words))
        return mc.BUSY if self._job_open else mc.READY
