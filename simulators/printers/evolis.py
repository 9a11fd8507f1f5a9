"""A simulated Evolis-style printer: the ESC command protocol over a byte stream.

Independent of the driver (it shares only ``drivers.protocols.evolis``
constants). Replies end in CR, or NUL with ``term="nul"``; with ``ack=True``
action commands answer ACK or NACK + code instead of ``OK`` / ``ERR;code``.
"""

from __future__ import annotations

from drivers.protocols import evolis as ev
from simulators.printers import model as m
from simulators.printers.wire import WireFaults

_NACK = {
    m.JAM: ev.NACK_MECHANICAL,
    m.OVERHEAT: ev.NACK_MECHANICAL,
    m.REJECT_FULL: ev.NACK_MECHANICAL,
    m.COVER_OPEN: ev.NACK_COVER,
    m.COVER_OPENED_DURING_JOB: ev.NACK_COVER,
    m.FEEDER_EMPTY: ev.NACK_FEEDER,
    m.RIBBON_OUT: ev.NACK_RIBBON,
    m.CARD_PRESENT: ev.NACK_PARAMETER,
    m.NO_CARD: ev.NACK_PARAMETER,
}
_POSITIONS = {None: ev.POS_NONE, m.PRINT: ev.POS_PRINT, m.CONTACT: ev.POS_CONTACT,
              m.CONTACTLESS: ev.POS_CONTACTLESS}
_INSERTS = {ev.INSERT: m.PRINT, ev.INSERT_CONTACTLESS: m.CONTACTLESS,
            ev.INSERT_CONTACT: m.CONTACT}
_MAX_FRAME = 1 << 20


class EvolisSimulator:
    """Speaks the Evolis ESC protocol on behalf of a :class:`PrinterModel`."""

    family = "evolis"

    def __init__(self, model: m.PrinterModel, wire: WireFaults | None = None, *,
                 term: str = "cr", ack: bool = False, minimal: bool = False) -> None:
        self.model = model
        #: A firmware without the optional queries: it refuses them as unknown.
        self.minimal = minimal
        self.wire = wire or WireFaults()
        self.term = ev.NUL if term == "nul" else ev.CR
        self.ack = ack
        self._buf = bytearray()
        self.ribbon_type = "ymcko"

    def receive(self, data: bytes) -> list[tuple[bytes, float]]:
        """Feed bytes from the host; return the replies, each with its delay (s)."""
        self._buf += data
        out: list[tuple[bytes, float]] = []
        while True:
            start = self._buf.find(ev.ESC)
            if start < 0:
                self._buf.clear()  # noise between frames is ignored, as a printer does
                break
            end = self._buf.find(ev.CR, start)
            if end < 0:
                del self._buf[:start]
                if len(self._buf) > _MAX_FRAME:
                    self._buf.clear()
                break
            frame = bytes(self._buf[start + 1:end])
            del self._buf[:end + 1]
            reply = self.handle(frame.decode("latin-1"))
            out.append(self.wire.apply(self.model, reply + self.term))
        return out

    # -- commands --------------------------------------------------------------

    def _ok(self) -> bytes:
        return ev.ACK if self.ack else ev.OK.encode()

    def _err(self, code: str) -> bytes:
        return ev.NACK + code.encode() if self.ack else (ev.ERR_PREFIX + code).encode()

    def _do(self, action: object) -> bytes:
        try:
            action()  # type: ignore[operator]
        except m.MechanicalError as exc:
            return self._err(_NACK.get(exc.condition, ev.NACK_MECHANICAL))
        return self._ok()

    def handle(self, command: str) -> bytes:
        """Answer one command (without ESC/CR)."""
        model = self.model
        parts = command.split(";")
        name = parts[0]
        with model.lock:
            if command == ev.FIRMWARE:
                return model.firmware.encode()
            if command == ev.SERIAL:
                return model.serial.encode()
            if command == ev.MODEL:
                return model.model.encode()
            if command == ev.COUNT_CARDS:
                return str(model.cards_counter).encode()
            if command == ev.COUNT_PANELS:
                return str(model.panels_counter).encode()
            if self.minimal and command in (ev.COUNT_CLEANINGS, ev.RIBBON_REMAINING, "Rcr"):
                return self._err(ev.NACK_COMMAND)
            if command == ev.COUNT_CLEANINGS:
                return str(model.cleanings_counter).encode()
            if command in (ev.RIBBON_REMAINING, "Rcr"):
                return str(model.ribbon).encode()
            if command == ev.CARD_POSITION:
                return _POSITIONS[model.position].encode()
            if command == ev.FEEDER_SENSOR:
                return (ev.VOLTS_HIGH if model.feeder > 0 else ev.VOLTS_LOW).encode()
            if command == ev.COVER_SENSOR:
                return (ev.VOLTS_LOW if model.cover_open else ev.VOLTS_HIGH).encode()
            if command == ev.STATUS_WORDS:
                return self.status_words().encode()
            if command in _INSERTS:
                return self._do(lambda: model.pick(_INSERTS[command]))
            if command == ev.EJECT:
                return self._do(model.eject)
            if command == ev.EJECT_REJECT:
                return self._do(model.reject)
            if command in (ev.CLEAR_STATUS, ev.SOFT_RESET):
                model.clear()
                return self._ok()
            if name == "Pem" and len(parts) == 2 and parts[1] in ("0", "1", "2"):
                return self._ok()
            if name == ev.RIBBON_TYPE and len(parts) == 2 and parts[1]:
                self.ribbon_type = parts[1]
                return self._ok()
            if name in (ev.DOWNLOAD, ev.DOWNLOAD_COMPRESSED) and len(parts) == 4:
                model.downloaded[parts[1]] = parts[3].encode()
                return self._ok()
            if name == ev.PRINT_PANEL and len(parts) == 2:
                if parts[1] not in model.downloaded:
                    return self._err(ev.NACK_PARAMETER)
                return self._do(lambda: model.print_panel(parts[1]))
            if name == ev.PRINT_NO_DOWNLOAD and len(parts) == 2:
                return self._do(lambda: model.print_panel(parts[1]))
        return self._err(ev.NACK_COMMAND)

    def status_words(self) -> str:
        """``config,info,warning,error`` as the printer would report them now."""
        model = self.model
        info = warn = err = 0
        pos = model.position
        info |= {m.PRINT: ev.INFO_CARD_PRINT, m.CONTACTLESS: ev.INFO_CARD_CONTACTLESS,
                 m.CONTACT: ev.INFO_CARD_CONTACT}.get(pos or "", 0)
        if 0 < model.ribbon < 20:
            info |= ev.INFO_RIBBON_LOW
        if model.feeder <= 0:
            warn |= ev.WARN_FEEDER_EMPTY
        if model.cover_open:
            warn |= ev.WARN_COVER_OPEN
        if model.ribbon <= 0 or model.false_ribbon_end:
            warn |= ev.WARN_RIBBON_ENDED
        if model.reject_box >= model.reject_capacity:
            warn |= ev.WARN_REJECT_FULL
        if model.head_hot:
            warn |= ev.WARN_HEAD_COOLING
        errors = model.errors
        if m.JAM in errors:
            err |= ev.ERR_MECHANICAL
        if m.FEEDER_EMPTY in errors:
            err |= ev.ERR_FEED
        if m.RIBBON_OUT in errors:
            err |= ev.ERR_RIBBON
        if m.COVER_OPENED_DURING_JOB in errors:
            err |= ev.ERR_COVER_DURING_JOB
        if m.OVERHEAT in errors:
            err |= ev.ERR_HEAD_TEMP
        if m.REJECT_FULL in errors:
            err |= ev.ERR_REJECT_FULL
        return f"{0:08X},{info:08X},{warn:08X},{err:08X}"
