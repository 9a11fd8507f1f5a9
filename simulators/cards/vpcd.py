"""A simulated card in a vpcd virtual reader slot.

pcscd's vpcd driver listens on TCP (35963 for "Virtual PCD 00 00", 35964 for
"... 00 01"); a card *is* a connection to that port: connected = card in the
field, disconnected = card removed. Every message is a 2-byte big-endian
length and a payload. vpcd always speaks first: a 1-byte payload is a control
message (0x00 power off, 0x01 power on, 0x02 reset — none answered — and
0x04 "get ATR", answered with the ATR); anything longer is a command APDU,
answered with the response APDU.

:class:`VpcdSlot` keeps one slot's card in a background thread: ``insert``
puts a :class:`~simulators.cards.card.SimCard` in the field, ``remove`` takes
it out, and when pcscd is restarted (the connection drops or is refused) it
reconnects by itself, every 0.1 s, as long as a card is inserted. A mute
(dead) chip never connects: like a real reader, vpcd then sees no card. (An
empty ATR is no substitute: here it made pcscd's next power-up block for as
long as we watched, 15 s.)
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading

from simulators.cards.card import SimCard

DEFAULT_PORT = 35963
POWER_OFF, POWER_ON, RESET, GET_ATR = 0x00, 0x01, 0x02, 0x04


class VpcdSlot:
    """One vpcd slot and the card in it (if any), served by a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.host, self.port = host, port
        self._card: SimCard | None = None
        self._wanted: SimCard | None = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.connects = 0
        self.apdus = 0
        self._thread = threading.Thread(target=self._run, name=f"vpcd-{port}", daemon=True)

    # -- control -------------------------------------------------------------------

    def start(self) -> VpcdSlot:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._changed.set()
        self._thread.join(timeout=5)
        self._drop()

    def __enter__(self) -> VpcdSlot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def insert(self, card: SimCard) -> None:
        """Put ``card`` in the field (replacing any card there)."""
        with self._lock:
            self._wanted = card
        self._changed.set()

    def remove(self) -> None:
        """Take the card out of the field."""
        with self._lock:
            self._wanted = None
        self._changed.set()

    @property
    def card(self) -> SimCard | None:
        """The card in the field now, if vpcd is connected to it."""
        return self._card if self.connected.is_set() else None

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    # -- the thread ------------------------------------------------------------------

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        self.connected.clear()
        self._card = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _connect(self, card: SimCard) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=1.0)
        except OSError:
            self._stop.wait(0.1)  # pcscd not (yet) there: try again soon
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        self._sock, self._card = sock, card
        card.power_off()
        self.connects += 1
        self.connected.set()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    wanted = self._wanted
                if wanted is not None and wanted.mute:
                    wanted = None  # a dead chip never answers the field: nothing connects
                if wanted is not self._card or (wanted is not None and self._sock is None):
                    self._drop()
                    if wanted is not None:
                        self._connect(wanted)
                    continue
                if self._sock is None:
                    self._changed.wait(0.5)
                    self._changed.clear()
                    continue
                ready, _, _ = select.select([self._sock], [], [], 0.05)
                if self._changed.is_set():
                    self._changed.clear()
                    continue
                if ready and not self._serve_one():
                    self._drop()
        finally:
            self._drop()

    def _serve_one(self) -> bool:
        """Answer one message; False when the connection is gone or the card pulled."""
        sock, card = self._sock, self._card
        assert sock is not None and card is not None
        try:
            header = _recv_exact(sock, 2)
            if header is None:
                return False
            (length,) = struct.unpack(">H", header)
            payload = _recv_exact(sock, length) if length else b""
            if payload is None:
                return False
            if len(payload) == 1:
                op = payload[0]
                if op == POWER_OFF:
                    card.power_off()
                elif op == POWER_ON:
                    card.power_on()
                elif op == RESET:
                    card.reset()
                elif op == GET_ATR:
                    _send(sock, card.atr)
                return True
            self.apdus += 1
            answer = card.answer(payload)
            if answer is None:  # out of the field mid-transaction
                if card.gone:
                    with self._lock:
                        if self._wanted is card:
                            self._wanted = None
                return False  # dropped; a card still wanted reconnects at once
            _send(sock, answer)
            return True
        except OSError:
            return False


def _quickack(sock: socket.socket) -> None:
    """Acknowledge at once (Linux resets TCP_QUICKACK after use, so set it before
    each read). vpcd writes the length and the payload of a message separately
    and, with Nagle on its side, holds the payload until our ACK of the length:
    a delayed ACK would cost ~40 ms per APDU."""
    if hasattr(socket, "TCP_QUICKACK"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack(">H", len(payload)) + payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        _quickack(sock)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf
