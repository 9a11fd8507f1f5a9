"""PC/SC reader adapter on pyscard's low-level ``smartcard.scard`` API.

No pyscard monitor threads (they die silently when pcscd restarts): presence
is polled with ``SCardGetStatusChange`` and an explicit timeout, and the
context is re-established after the service went away, so
``pcsc_service_down`` and ``reader_missing`` clear by themselves when pcscd
or the reader returns. ``PCSCLITE_NO_BLOCKING`` is set so a card another
process holds exclusively makes calls fail fast instead of hanging the agent.

Readers are chosen by ``pcsc://<name substring>`` (``pcsc://`` alone: the
first reader). Transient transmission failures (SCARD_E_NOT_TRANSACTED, an
unresponsive or reset card, a card that blinked out of the field, "no valid
response") are retried up to ``policy.retries`` times, reconnecting to the
card in between; only then is the chip ``chip_unreadable``.
"""

from __future__ import annotations

import os
import threading
import time
from urllib.parse import unquote, urlsplit

os.environ.setdefault("PCSCLITE_NO_BLOCKING", "1")

# libpcsclite reads PCSCLITE_NO_BLOCKING when it is used: set it before.
from smartcard import scard

from drivers.readers.base import (
    CHIP_UNREADABLE,
    GET_UID,
    PCSC_SERVICE_DOWN,
    READER_MISSING,
    ChipPolicy,
    ChipVerdict,
    Reader,
    ReaderError,
    is_contactless_atr,
    verdict_from,
)


def _u32(hr: int) -> int:
    return int(hr) & 0xFFFFFFFF


_SERVICE_GONE = {_u32(c) for c in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED,
                                   scard.SCARD_E_INVALID_HANDLE)}
_READER_GONE = {_u32(c) for c in (scard.SCARD_E_UNKNOWN_READER,
                                  scard.SCARD_E_READER_UNAVAILABLE,
                                  scard.SCARD_E_NO_READERS_AVAILABLE)}
#: Worth another try after reconnecting to the card.
TRANSIENT = {_u32(c) for c in (
    scard.SCARD_E_NOT_TRANSACTED, scard.SCARD_W_UNRESPONSIVE_CARD, scard.SCARD_F_COMM_ERROR,
    scard.SCARD_W_REMOVED_CARD, scard.SCARD_W_RESET_CARD, scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_E_NO_SMARTCARD, scard.SCARD_E_SHARING_VIOLATION, scard.SCARD_E_TIMEOUT)}
_NO_READERS = _u32(scard.SCARD_E_NO_READERS_AVAILABLE)
#: Wait after a failed exchange (pcscd polls card presence every ~400 ms).
SETTLE_S = 0.6
_PROTOCOLS = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1


def describe(hr: int) -> str:
    """``Transaction failed. (0x80100016)``"""
    return f"{scard.SCardGetErrorMessage(hr).rstrip()} (0x{_u32(hr):08X})"


class _Transient(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)


def parse_pcsc_url(url: str) -> str:
    """The reader-name substring of ``pcsc://<substring>``."""
    parts = urlsplit(url)
    if parts.scheme != "pcsc":
        raise ValueError(f"expected a reader URL such as pcsc://Virtual PCD 00 00, got {url!r}")
    return unquote(url[len("pcsc://"):])


def _reader_names(ctx: int) -> tuple[int, list[str]]:
    """``(hresult, names)``; no readers at all is success with an empty list."""
    hr, names = scard.SCardListReaders(ctx, [])
    if _u32(hr) == _NO_READERS:
        return scard.SCARD_S_SUCCESS, []
    return hr, [str(n) for n in names] if hr == scard.SCARD_S_SUCCESS else []


def list_readers() -> list[str]:
    """Every reader pcscd knows (empty list when none); :class:`ReaderError` when
    the service is not available."""
    ctx = _establish()
    try:
        hr, names = _reader_names(ctx)
        if hr != scard.SCARD_S_SUCCESS:
            raise ReaderError(PCSC_SERVICE_DOWN, f"PC/SC cannot list readers: {describe(hr)}")
        return names
    finally:
        scard.SCardReleaseContext(ctx)


def _establish() -> int:
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        raise ReaderError(PCSC_SERVICE_DOWN,
                          f"the PC/SC service is not available: {describe(hr)}; start pcscd "
                          "(systemctl start pcscd.socket) and check it is installed")
    return int(ctx)


class PcscReader(Reader):
    """One PC/SC reader, see the module docstring."""

    def __init__(self, url: str, policy: ChipPolicy | None = None) -> None:
        self.url = url
        self.substring = parse_pcsc_url(url)
        self.policy = policy or ChipPolicy()
        self._ctx: int | None = None
        self._lock = threading.RLock()
        self.transient_errors = 0   # lifetime count of retried failures
        self.checks = 0

    # -- context and reader -----------------------------------------------------------

    def _context(self) -> int:
        if self._ctx is None:
            self._ctx = _establish()
        return self._ctx

    def _lost_service(self, hr: int, what: str) -> ReaderError:
        self.close()
        return ReaderError(PCSC_SERVICE_DOWN, f"the PC/SC service went away while {what}: "
                                              f"{describe(hr)}; check pcscd is running")

    def _fail(self, hr: int, what: str) -> ReaderError:
        if _u32(hr) in _SERVICE_GONE:
            return self._lost_service(hr, what)
        if _u32(hr) in _READER_GONE:
            return ReaderError(READER_MISSING, f"reader {self.substring!r} went away while "
                                               f"{what}: {describe(hr)}; check its cable")
        return ReaderError(CHIP_UNREADABLE, f"{what}: {describe(hr)}")

    def name(self) -> str:
        with self._lock:
            hr, names = _reader_names(self._context())
            if hr != scard.SCARD_S_SUCCESS:
                raise self._fail(hr, "listing readers")
            for n in names:
                if self.substring in n:
                    return n
            known = ", ".join(names) or "none"
            raise ReaderError(READER_MISSING,
                              f"no reader matching {self.substring!r} (readers: {known}); "
                              "plug the reader in or fix the pcsc:// URL")

    def _state(self, name: str, known: int, timeout: float) -> tuple[int, bytes]:
        ctx = self._context()
        hr, states = scard.SCardGetStatusChange(ctx, int(timeout * 1000), [(name, known)])
        if _u32(hr) == _u32(scard.SCARD_E_TIMEOUT):
            return known, b""
        if hr != scard.SCARD_S_SUCCESS:
            raise self._fail(hr, "watching the reader")
        _n, event, atr = states[0]
        if event & scard.SCARD_STATE_UNKNOWN or event & scard.SCARD_STATE_UNAVAILABLE:
            raise ReaderError(READER_MISSING, f"reader {name!r} is unavailable; check its "
                                              "cable")
        return int(event), bytes(atr)

    def card_present(self) -> bool:
        with self._lock:
            event, _atr = self._state(self.name(), scard.SCARD_STATE_UNAWARE, 0)
            return bool(event & scard.SCARD_STATE_PRESENT) and not event & scard.SCARD_STATE_MUTE

    def wait_card(self, timeout: float) -> bool:
        with self._lock:
            return self._wait(self.name(), timeout)

    def _wait(self, name: str, timeout: float) -> bool:
        """:meth:`wait_card` on the reader already looked up as ``name``."""
        with self._lock:
            deadline = time.monotonic() + timeout
            event, _ = self._state(name, scard.SCARD_STATE_UNAWARE, 0)
            while True:
                if event & scard.SCARD_STATE_PRESENT and not event & scard.SCARD_STATE_MUTE:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Ask to be woken on any change; the high bits count insertions.
                event, _ = self._state(name, event & ~scard.SCARD_STATE_CHANGED, min(left, 0.5))

    # -- the card ---------------------------------------------------------------------

    def connect(self, name: str) -> tuple[int, int]:
        """A shared connection ``(card handle, protocol)`` to the card in reader
        ``name``; the caller disconnects it (``SCardDisconnect``)."""
        hr, card, proto = scard.SCardConnect(self._context(), name, scard.SCARD_SHARE_SHARED,
                                             _PROTOCOLS)
        if hr != scard.SCARD_S_SUCCESS:
            if _u32(hr) in TRANSIENT:
                raise _Transient(f"connect: {describe(hr)}")
            raise self._fail(hr, "connecting to the card")
        return int(card), int(proto)

    def transmit(self, card: int, proto: int, apdu: bytes) -> bytes:
        """One APDU; :class:`_Transient` on a failure worth retrying."""
        hr, resp = scard.SCardTransmit(card, proto, list(apdu))
        if hr != scard.SCARD_S_SUCCESS:
            if _u32(hr) in TRANSIENT:
                raise _Transient(describe(hr))
            raise self._fail(hr, "talking to the card")
        data = bytes(resp)
        if len(data) < 2:
            raise _Transient("no valid response")
        return data

    def check(self, timeout: float = 2.0) -> ChipVerdict:
        with self._lock:
            name = self.name()
            self.checks += 1
            if not self._wait(name, timeout):
                return ChipVerdict(reader=name, present=False,
                                   reason="no chip answered in the field (dead chip or no card)")
            attempts = self.policy.retries + 1
            problems: list[str] = []
            for attempt in range(attempts):
                card = None
                try:
                    card, proto = self.connect(name)
                    atr = self._atr(card)
                    uid = (self.transmit(card, proto, GET_UID) if is_contactless_atr(atr)
                           else None)
                    select = self.transmit(card, proto, self.policy.select_apdu)
                    return verdict_from(self.policy, name, atr, uid, select, attempt)
                except _Transient as exc:
                    problems.append(str(exc))
                    self.transient_errors += 1
                    if attempt + 1 < attempts and not self._settle(name, SETTLE_S):
                        return ChipVerdict(reader=name, present=False, retries=attempt + 1,
                                           reason="no chip in the field any more (a dead "
                                                  f"chip, or the card was pulled: {exc})")
                finally:
                    if card is not None:
                        scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD)
            v = ChipVerdict(reader=name, present=True, retries=self.policy.retries,
                            reason=f"chip unreadable after {attempts} attempts "
                                   f"({'; '.join(problems[-3:])})")
            v.notes = problems
            return v

    def _settle(self, name: str, timeout: float) -> bool:
        """After a failed exchange: the card may have left the field and come back
        (a contactless blink, or the next card of a printer) and pcscd notices only
        at its next presence poll. Wait for that change (half the time), then for
        a card (the other half); False if none came back."""
        event, _ = self._state(name, scard.SCARD_STATE_UNAWARE, 0)
        self._state(name, event & ~scard.SCARD_STATE_CHANGED, timeout / 2)
        return self._wait(name, timeout / 2)

    def _atr(self, card: int) -> bytes:
        hr, _reader, _state, _proto, atr = scard.SCardStatus(card)
        if hr != scard.SCARD_S_SUCCESS:
            if _u32(hr) in TRANSIENT:
                raise _Transient(f"status: {describe(hr)}")
            raise self._fail(hr, "reading the ATR")
        return bytes(atr)

    def close(self) -> None:
        with self._lock:
            ctx, self._ctx = self._ctx, None
            if ctx is not None:
                scard.SCardReleaseContext(ctx)
