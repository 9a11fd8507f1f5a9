"""A real daemon serving the office console on a free port, a staff account,
and a small HTTP client that keeps cookies (the browser tests use Chromium)."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.agent.conftest import Daemon, daemons  # noqa: F401 (the daemon fixture)
from tests.conftest import REPO, cli_env

USER, PASSWORD = "siti", "rahasia-123"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str
    cookies: list[str] = field(default_factory=list)


class Browser:
    """An HTTP client with a cookie jar, talking to one console."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.jar: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            h = {"Host": f"{self.host}:{self.port}"}
            if self.jar:
                h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
            h.update(headers or {})
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            cookies = resp.headers.get_all("Set-Cookie") or []
            for c in cookies:
                name, _, rest = c.partition("=")
                value = rest.split(";", 1)[0]
                if "Max-Age=0" in c:
                    self.jar.pop(name, None)
                else:
                    self.jar[name] = value
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, text,
                         cookies)
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, form: dict[str, str], headers: dict[str, str] | None = None
             ) -> Reply:
        h = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, urlencode(form).encode(), h)

    def login(self, user: str = USER, password: str = PASSWORD) -> Reply:
        page = self.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.body)
        assert token, page.body
        return self.post("/login", {"login_token": token.group(1), "user": user,
                                    "password": password})

    def csrf(self, path: str = "/blanks") -> str:
        page = self.get(path)
        m = re.search(r'name="csrf" value="([^"]+)"', page.body)
        assert m, (page.status, page.body[:500])
        return m.group(1)


def add_account(config: Path, user: str = USER, password: str = PASSWORD) -> None:
    res = subprocess.run([sys.executable, "-m", "station_agent", "--config", str(config),
                          "console", "user", "add", user, "--password-stdin"],
                         input=password + "\n", text=True, capture_output=True, cwd=REPO,
                         env=cli_env(), timeout=60)
    assert res.returncode == 0, res.stderr


class ConsoleDaemon(Daemon):
    """A daemon whose console serves on a free port."""

    @property
    def url(self) -> str:
        return (self.state / "console-url").read_text().strip()

    def browser(self) -> Browser:
        return Browser(self.url)


@pytest.fixture
def console_daemon(request: pytest.FixtureRequest) -> Any:
    """``console_daemon(body="", web="")`` -> a started :class:`ConsoleDaemon` with the
    account siti (stopped after the test, as every daemon of ``daemons``)."""
    make_daemon = request.getfixturevalue("daemons")

    def make(body: str = "", web: str = "") -> ConsoleDaemon:
        d = make_daemon(body + f'\n[web]\nlisten = "127.0.0.1:0"\n{web}', cls=ConsoleDaemon)
        add_account(d.config)
        d.start()
        return d  # type: ignore[no-any-return]

    return make
