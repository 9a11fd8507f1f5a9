"""A TCP peer that accepts every connection and never says a word (a hung device
or a port that is not what it should be), on a free loopback port."""

from __future__ import annotations

import socket
import threading


class SilentServer:
    """``with SilentServer() as s: ... s.port``; connections are held until exit."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent", daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                continue

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for s in self.held:
            s.close()
        self.sock.close()
