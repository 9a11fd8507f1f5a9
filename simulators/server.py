"""A central-server simulator: a health endpoint with outage modes.

Modes, switchable at run time (:meth:`ServerSim.set_mode`, or one line on
stdin of ``station-agent sim server``):

``ok``         200 with a small JSON body
``slow``       the same, after ``slow_ms``
``http500``    500 Internal Server Error
``refuse``     the port is closed: connections are refused
``blackhole``  connections are accepted and never answered
``flapping``   alternates ok and http500 every ``flap_every`` requests

Independent of the agent: plain sockets, HTTP/1.1 with ``Connection: close``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

MODES = ("ok", "slow", "http500", "refuse", "blackhole", "flapping")


class ServerSim:
    """See the module docstring. ``port=0`` picks a free port (kept across
    ``refuse``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, mode: str = "ok",
                 slow_ms: float = 3000.0, flap_every: int = 1) -> None:
        self.host, self.port = host, port
        self.slow_ms, self.flap_every = slow_ms, flap_every
        self.mode = "ok"
        self.requests = 0
        self.answered: dict[str, int] = {}
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._initial = mode
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/health"

    def start(self) -> ServerSim:
        self._listen()
        self.set_mode(self._initial)
        return self

    def _listen(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(64)
        self.port = s.getsockname()[1]
        s.settimeout(0.1)
        self._listener = s
        self._thread = threading.Thread(target=self._accept_loop, args=(s,),
                                        name="server-sim", daemon=True)
        self._thread.start()

    def _close_listener(self) -> None:
        s, self._listener = self._listener, None
        if s is not None:
            s.close()
            if self._thread is not None:
                self._thread.join(1)

    def set_mode(self, mode: str) -> None:
        """Switch to ``mode`` (takes effect for the next connection)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
        with self._lock:
            self.mode = mode
            if mode != "blackhole":
                for s in self._held:
                    s.close()
                self._held.clear()
        if mode == "refuse":
            self._close_listener()
        elif self._listener is None and not self._stop.is_set():
            self._listen()

    def stop(self) -> None:
        self._stop.set()
        self._close_listener()
        with self._lock:
            for s in self._held:
                s.close()
            self._held.clear()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stop.is_set() and self._listener is listener:
            try:
                conn, _addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="server-sim-conn",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 16384:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            with self._lock:
                self.requests += 1
                mode = self.mode
                if mode == "blackhole":
                    self._held.append(conn)
                    return
                if mode == "flapping":
                    mode = "ok" if (self.requests // self.flap_every) % 2 == 0 else "http500"
                self.answered[mode] = self.answered.get(mode, 0) + 1
            if mode == "slow":
                time.sleep(self.slow_ms / 1000)
            if mode == "http500":
                self._answer(conn, "500 Internal Server Error", b'{"status":"error"}')
            else:
                self._answer(conn, "200 OK", b'{"status":"ok"}')
        except OSError:
            pass
        finally:
            with self._lock:
                held = conn in self._held
            if not held:
                with contextlib.suppress(OSError):
                    conn.close()

    @staticmethod
    def _answer(conn: socket.socket, status: str, body: bytes) -> None:
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
