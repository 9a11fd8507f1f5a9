"""The local API's transport: a Unix stream socket in the state directory
(``agent.sock``, mode 0660), one thread per connection, JSON lines.

Every request gets exactly one reply, in order, on its connection; a
malformed one gets an error reply and the connection stays usable. After
``subscribe`` the connection also receives event lines (``{"event": ...}``),
queued per subscriber and written by the subscriber's own thread, so a slow
client never holds up the agent: when its queue is full it is dropped.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from station_agent.api import protocol as p
from station_agent.api.peers import AccessPolicy, group_name, peer_of
from station_agent.api.sockpath import SOCKET_NAME, short_path
from station_agent.errors import OperationFailed

MAX_CLIENTS = 64
SUBSCRIBER_QUEUE = 10_000

Handler = Callable[[p.Request], Any]


class _Connection:
    def __init__(self, server: ApiServer, sock: socket.socket) -> None:
        self.server, self.sock = server, sock
        self.send_lock = threading.Lock()
        self.events: queue.Queue[bytes | None] | None = None

    def send(self, data: bytes) -> None:
        with self.send_lock:
            self.sock.sendall(data)

    def serve(self) -> None:
        buf = b""
        discarding = False
        try:
            while not self.server.stopping.is_set():
                try:
                    chunk = self.sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buf += chunk
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        if len(buf) > p.MAX_LINE:
                            if not discarding:
                                self.send(p.reply_error(None, p.BAD_REQUEST,
                                                        f"request longer than {p.MAX_LINE} "
                                                        "bytes; send one JSON object per line"))
                            discarding, buf = True, b""
                        break
                    line, buf = buf[:nl], buf[nl + 1:]
                    if discarding:
                        discarding = False   # the rest of the over-long line
                        continue
                    if line.strip():
                        self.send(self.server.answer(line, self))
        except OSError:
            return
        finally:
            self.close()

    def subscribe(self) -> None:
        if self.events is not None:
            return
        self.events = queue.Queue(SUBSCRIBER_QUEUE)
        threading.Thread(target=self._write_events, name="api-events", daemon=True).start()
        self.server.add_subscriber(self)

    def _write_events(self) -> None:
        assert self.events is not None
        while True:
            item = self.events.get()
            if item is None:
                return
            try:
                self.send(item)
            except OSError:
                self.close()
                return

    def push(self, line: bytes) -> None:
        assert self.events is not None
        try:
            self.events.put_nowait(line)
        except queue.Full:
            self.close()

    def close(self) -> None:
        self.server.drop(self)
        if self.events is not None:
            with contextlib.suppress(queue.Full):
                self.events.put_nowait(None)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


class ApiServer:
    """Serves ``handler`` on ``state_dir/agent.sock``."""

    def __init__(self, state_dir: Path, handler: Handler, ops: Mapping[str, p.ParamSpec], *,
                 on_error: Callable[[BaseException], None] | None = None,
                 policy: AccessPolicy | None = None) -> None:
        from station_agent import logs

        self.path = Path(state_dir) / SOCKET_NAME
        self.handler, self.ops = handler, ops
        self.on_error = on_error
        self.policy = policy or AccessPolicy.for_daemon(None)
        self.log = logs.get("api")
        self.refused = 0
        self.stopping = threading.Event()
        self._clients: set[_Connection] = set()
        self._subscribers: set[_Connection] = set()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0

    def start(self) -> ApiServer:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()   # left by a killed daemon (the daemon lock says none runs)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o117)
        try:
            with short_path(self.path) as address:
                s.bind(address)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o660)
        if os.stat(self.path).st_gid != self.policy.gid:
            try:
                os.chown(self.path, -1, self.policy.gid)
            except PermissionError:
                s.close()
                name = group_name(self.policy.gid)
                raise OperationFailed(
                    f"cannot give the API socket to group {name!r}: the daemon's user is not "
                    f"in it (usermod -a -G {name} <daemon user>) or set [station] api_group "
                    "to a group it is in") from None
        s.listen(16)
        s.settimeout(0.2)
        self._sock = s
        self._thread = threading.Thread(target=self._accept, name="api", daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        assert self._sock is not None
        while not self.stopping.is_set():
            try:
                sock, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._admit(sock):
                continue
            sock.settimeout(0.5)
            conn = _Connection(self, sock)
            with self._lock:
                full = len(self._clients) >= MAX_CLIENTS
                if not full:
                    self._clients.add(conn)
            if full:
                with contextlib.suppress(OSError):
                    sock.sendall(p.reply_error(None, p.BUSY, f"more than {MAX_CLIENTS} clients "
                                                             "connected; try again later"))
                sock.close()
                continue
            threading.Thread(target=conn.serve, name="api-client", daemon=True).start()

    def _admit(self, sock: socket.socket) -> bool:
        """Check the peer's kernel credentials against the policy; log who it is."""
        peer = peer_of(sock)
        refusal = self.policy.refusal(peer)
        if refusal is None:
            self.log.info("api client", pid=peer.pid, uid=peer.uid, gid=peer.gid)
            return True
        self.refused += 1
        self.log.warning("api client refused", pid=peer.pid, uid=peer.uid, gid=peer.gid,
                         groups=sorted(peer.groups), reason=refusal)
        with contextlib.suppress(OSError):
            sock.sendall(p.reply_error(None, p.FORBIDDEN, refusal))
        sock.close()
        return False

    def answer(self, line: bytes, conn: _Connection) -> bytes:
        """The reply line to one request line."""
        try:
            req = p.parse(line, self.ops)
        except p.ApiError as exc:
            return p.reply_error(getattr(exc, "request_id", None), exc.code, exc.message)
        self.requests += 1
        try:
            if req.op == "subscribe":
                conn.subscribe()
                return p.reply_ok(req.id, {"subscribed": True})
            return p.reply_ok(req.id, self.handler(req))
        except p.ApiError as exc:
            return p.reply_error(req.id, exc.code, exc.message)
        except Exception as exc:   # a bug must not kill the connection or the daemon
            if self.on_error:
                self.on_error(exc)
            return p.reply_error(req.id, p.FAILED, f"internal error: {exc}"[:300])

    def add_subscriber(self, conn: _Connection) -> None:
        with self._lock:
            self._subscribers.add(conn)

    def drop(self, conn: _Connection) -> None:
        with self._lock:
            self._clients.discard(conn)
            self._subscribers.discard(conn)

    def publish(self, event: dict[str, Any]) -> None:
        """Send ``event`` to every subscriber (never blocks)."""
        with self._lock:
            subs = list(self._subscribers)
        if not subs:
            return
        line = p.event_line(event)
        for conn in subs:
            conn.push(line)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def stop(self) -> None:
        """Stop accepting, close every connection, remove the socket file."""
        self.stopping.set()
        if self._sock is not None:
            self._sock.close()
        if self._thread is not None:
            self._thread.join(2)
        with self._lock:
            conns = list(self._clients)
        for conn in conns:
            conn.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
