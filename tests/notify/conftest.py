"""Real peers on loopback for the notification channels: an SMTP server
(aiosmtpd, STARTTLS and AUTH), an HTTPS server for the webhook, a hook program;
each can go down and come back on the same address."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import sys
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.agent.conftest import daemons  # noqa: F401  (the daemon fixture, shared)
from tests.uplink.conftest import TlsFiles, make_tls


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpPeer:
    """aiosmtpd on 127.0.0.1: STARTTLS required, AUTH LOGIN/PLAIN for station:pw."""

    def __init__(self, tls: TlsFiles, port: int) -> None:
        self.tls, self.port = tls, port
        self.messages: list[Message] = []
        self.controller: Any = None

    def start(self) -> SmtpPeer:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        peer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                peer.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                          auth_data: Any) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and \
                (auth_data.login, auth_data.password) == (b"station", b"pw-rahasia")
            return AuthResult(success=ok, handled=False)   # a refusal answers 535

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.tls.certfile, self.tls.keyfile)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     tls_context=ctx, require_starttls=True,
                                     authenticator=authenticator, auth_required=True)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def ids(self) -> list[str]:
        return [str(m["X-Notification-Id"]) for m in self.messages]


class WebhookPeer:
    """An HTTPS server recording each POST (headers and JSON body)."""

    def __init__(self, tls: TlsFiles, port: int) -> None:
        self.tls, self.port = tls, port
        self.posts: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.httpd: ThreadingHTTPServer | None = None

    def start(self) -> WebhookPeer:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                peer.posts.append(({k.lower(): v for k, v in self.headers.items()},
                                   json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.tls.certfile, self.tls.keyfile)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def ids(self) -> list[str]:
        return [h["x-notification-id"] for h, _ in self.posts]


class HookPeer:
    """A hook program that appends its environment to a file, or fails while
    ``down`` exists."""

    def __init__(self, root: Path) -> None:
        self.program, self.out, self.down = root / "hook.py", root / "hook.jsonl", root / "down"
        self.program.write_text(
            f"#!{sys.executable}\n"
            "import json, os, sys\n"
            f"if os.path.exists({str(self.down)!r}):\n"
            "    print('the pager gateway is down', file=sys.stderr); sys.exit(3)\n"
            f"with open({str(self.out)!r}, 'a') as f:\n"
            "    f.write(json.dumps(dict(os.environ)) + '\\n')\n")
        self.program.chmod(0o755)

    def calls(self) -> list[dict[str, str]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def ids(self) -> list[str]:
        return [c["NOTIFY_ID"] for c in self.calls()]


class Peers:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tls = make_tls(root / "tls")
        self.smtp = SmtpPeer(self.tls, free_port())
        self.webhook = WebhookPeer(self.tls, free_port())
        self.hook = HookPeer(root)
        self.secret = root / "webhook.secret"
        self.secret.write_text("s3cret-token\n")
        self.creds = root / "smtp.credentials"
        self.creds.write_text("station:pw-rahasia\n")
        for f in (self.secret, self.creds):
            os.chmod(f, stat.S_IRUSR | stat.S_IWUSR)

    def config(self, **extra: str) -> str:
        body = (f'command = ["{self.hook.program}"]\n'
                f'webhook_url = "https://127.0.0.1:{self.webhook.port}/hook"\n'
                f'webhook_secret_file = "{self.secret}"\n'
                f'smtp_url = "smtp://127.0.0.1:{self.smtp.port}"\n'
                'smtp_from = "ktp-kupang@example.go.id"\n'
                'smtp_to = ["kepala@example.go.id"]\n'
                f'smtp_credentials_file = "{self.creds}"\n'
                f'cafile = "{self.tls.cafile}"\n'
                "retry_seconds = 0.5\n")
        return "\n[notify]\n" + body + "".join(f"{k} = {v}\n" for k, v in extra.items())

    def up(self) -> None:
        self.smtp.start()
        self.webhook.start()
        self.hook.down.unlink(missing_ok=True)

    def down(self) -> None:
        self.smtp.stop()
        self.webhook.stop()
        self.hook.down.touch()

    def stop(self) -> None:
        self.smtp.stop()
        self.webhook.stop()


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Peers]:
    root = tmp_path / "peers"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    p = Peers(root)
    try:
        yield p
    finally:
        p.stop()
