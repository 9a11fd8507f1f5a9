"""Put a simulated printer on a real pty or a TCP port.

:class:`PtyServer` opens a pseudo-terminal in raw mode and serves the
simulator on its master side; clients open the slave path (or the stable
``link`` symlink, which is what a udev ``/dev/serial/by-id/...`` name is to
a real printer). When the simulated device "vanishes" the pty is closed (the
client's reads fail as on an unplugged USB-serial adapter) and a new one is
opened when it comes back, with the symlink pointing at it.

:class:`TcpServer` listens on a loopback port; a vanished device closes its
connections and stops listening until it comes back on the same port.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
import tty
from pathlib import Path
from typing import Any, Self


class _Server:
    def __init__(self, simulator: Any) -> None:
        self.simulator = simulator
        self.model = simulator.model
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> _Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        raise NotImplementedError

    def _answer(self, data: bytes, send: Any) -> None:
        for payload, delay in self.simulator.receive(data):
            if delay:
                time.sleep(delay)
            if payload:
                send(payload)

    def _wait_until_back(self) -> None:
        while self.model.is_vanished() and not self._stop.is_set():
            time.sleep(0.01)


class PtyServer(_Server):
    """The simulator on a pty; ``path`` is the current slave, ``link`` a stable symlink."""

    def __init__(self, simulator: Any, link: str | Path | None = None) -> None:
        super().__init__(simulator)
        self.link = Path(link) if link else None
        self._master = -1
        self._slave = -1
        self.path = ""
        self._open_pty()

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.path)
            tmp.replace(self.link)

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    @property
    def url(self) -> str:
        """``serial://`` URL of the stable name (the symlink if any, else the pty)."""
        return f"serial://{self.link or self.path}"

    def _send(self, payload: bytes) -> None:
        view = memoryview(payload)
        while view:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                select.select([], [self._master], [], 0.1)
                continue
            except OSError:
                return
            view = view[n:]

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self.model.is_vanished():
                    self._close_pty()
                    self._wait_until_back()
                    if self._stop.is_set():
                        break
                    self._open_pty()
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    continue
                try:
                    data = os.read(self._master, 65536)
                except OSError:
                    # No client has the slave open: wait a little and go on.
                    time.sleep(0.01)
                    continue
                if data:
                    self._answer(data, self._send)
        finally:
            self._close_pty()


class TcpServer(_Server):
    """The simulator on ``host:port`` (port 0 picks a free one; see ``port``)."""

    def __init__(self, simulator: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(simulator)
        self.host = host
        self._listener: socket.socket | None = None
        self._listen(port)
        assert self._listener is not None
        self.port: int = self._listener.getsockname()[1]

    def _listen(self, port: int) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, port))
        s.listen(4)
        self._listener = s

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def _run(self) -> None:
        clients: list[socket.socket] = []
        try:
            while not self._stop.is_set():
                if self.model.is_vanished():
                    for c in clients:
                        c.close()
                    clients.clear()
                    if self._listener is not None:
                        self._listener.close()
                        self._listener = None
                    self._wait_until_back()
                    if self._stop.is_set():
                        break
                    self._listen(self.port)
                assert self._listener is not None
                ready, _, _ = select.select([self._listener, *clients], [], [], 0.05)
                for s in ready:
                    if s is self._listener:
                        conn, _ = s.accept()
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        clients.append(conn)
                        continue
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        s.close()
                        clients.remove(s)
                        continue
                    try:
                        self._answer(data, s.sendall)
                    except OSError:
                        # The host went away mid-reply (a killed backend): as a
                        # printer does, drop that connection and serve the next.
                        s.close()
                        clients.remove(s)
        finally:
            for c in clients:
                c.close()
            if self._listener is not None:
                self._listener.close()
