"""The console over HTTP: the standard library's threading HTTP server (small,
no dependency; one thread per connection), in a thread of the daemon.

Requests are read with limits (header size by the standard library, body by
:data:`~station_agent.console.http.MAX_BODY`, a read timeout against slow
clients) and handed to :meth:`Console.handle`; nothing here decides anything.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from station_agent.console import http

if TYPE_CHECKING:
    from station_agent.console.app import Console

#: Seconds a client may take to send its request.
READ_TIMEOUT_S = 10.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    console: Console


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "station-agent"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_S
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm
    # holds the body until the client's delayed ACK (40 ms a page on Linux).
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length_text = self.headers.get("Content-Length", "0") or "0"
        if not length_text.isdigit():
            self._send(http.text(400, "bad Content-Length"))
            return
        length = int(length_text)
        if length > http.MAX_BODY:
            self._send(http.text(413, "request too large"))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        req = http.Request(
            method=self.command, path=parts.path or "/", query=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()}, body=body,
            client=self.client_address[0] if self.client_address else "")
        resp = self.server.console.handle(req)
        if self.command == "HEAD":
            resp = http.Response(resp.status, b"", resp.content_type, resp.headers, resp.csp)
        self._send(resp)

    def _send(self, resp: http.Response) -> None:
        self.send_response(resp.status)
        for name, value in resp.all_headers():
            self.send_header(name, value)
        self.end_headers()
        if resp.body:
            self.wfile.write(resp.body)

    do_GET = do_POST = do_HEAD = _serve

    def _not_allowed(self) -> None:
        resp = http.text(405, "method not allowed")
        resp.headers.append(("Allow", "GET, HEAD, POST"))
        self._send(resp)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """The standard library's own refusals (while parsing, before a ``do_``
        method) as a client's error: an unknown method is 405 (with ``Allow``)
        rather than 501, an HTTP version other than 1.x is 400 rather than 505.
        A 5xx from the console then always means a fault of the console itself,
        which is what a monitor watching its answers needs."""
        if code == 501:
            self.close_connection = True   # its body, if any, is not read
            self._not_allowed()
            return
        if code == 505:
            code, message = 400, "HTTP version not supported: use HTTP/1.1"
        super().send_error(code, message, explain)

    def log_message(self, format: str, *args: object) -> None:
        """Access lines are not logged (the console logs what matters: logins, writes)."""


class ConsoleServer:
    """Serves a :class:`Console` on ``host:port`` (port 0: any free port)."""

    def __init__(self, console: Console, host: str, port: int) -> None:
        server = _Server6 if ":" in host else _Server
        self.httpd = server((host, port), _Handler)
        self.httpd.console = console
        self.host, self.port = host, int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where the console is (``http://127.0.0.1:8470/``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}/"

    def start(self) -> ConsoleServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="console",
                                        kwargs={"poll_interval": 0.5}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)
