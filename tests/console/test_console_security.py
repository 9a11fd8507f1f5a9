"""The console's security over real HTTP to a real daemon (DESIGN §9): a request
that fails a check is refused and writes nothing."""

from __future__ import annotations

import json
import os
import re
import stat

from tests.conftest import run_cli
from tests.console.conftest import Browser, ConsoleDaemon

STATION = 'timezone = "Asia/Makassar"\noffice = "Disdukcapil Kota Kupang"\n'


def _entries(d: ConsoleDaemon) -> int:
    return int(d.cli("blanks", "--json")["entries"])


def _receive(b: Browser, csrf: str | None, batch: str = "B-1", **headers: str) -> int:
    form = {"batch": batch, "count": "100", "first_serial": ""}
    if csrf is not None:
        form["csrf"] = csrf
    return b.post("/blanks/receive", form, headers=headers or None).status


def test_every_refused_request_writes_nothing(console_daemon) -> None:  # type: ignore[no-untyped-def]
    d = console_daemon(STATION)
    b = d.browser()
    # No session: the pages send to the login, a post is refused.
    assert b.get("/").status == 303 and b.get("/").headers["location"] == "/login"
    assert _receive(b, "x") == 403
    assert b.login().status == 303
    token = b.csrf()
    before = _entries(d)
    # Without a CSRF token, with a wrong one, from another site.
    assert _receive(b, None) == 403
    assert _receive(b, token[:-1] + ("A" if token[-1] != "A" else "B")) == 403
    assert _receive(b, token, Origin="http://evil.example") == 403
    # Report parameters are checked before anything is read.
    assert b.get("/reports/monthly?month=2026-13").status == 400
    assert b.get("/reports/monthly?month=2026-11&format=exe").status == 400
    assert b.get("/reports/daily?date=yesterday").status == 400
    # A Host that is not the station's (DNS rebinding), even with a good session.
    assert _receive(b, token, Host="evil.example") == 421
    assert b.get("/", headers={"Host": "evil.example:80"}).status == 421
    # An expired session: the daemon forgets it after [web] session_minutes; here the
    # cookie of a session logged out stands for it (the server no longer knows it).
    other = d.browser()
    assert other.login().status == 303
    stale = dict(other.jar)
    other_token = other.csrf()
    assert other.post("/logout", {"csrf": other_token}).status == 303
    other.jar = stale
    assert _receive(other, other_token) == 403
    assert _entries(d) == before
    # The same request, done right, is recorded and names the account.
    r = b.post("/blanks/receive", {"csrf": token, "batch": "B-1", "count": "100"})
    assert r.status == 303, r.body
    assert _entries(d) == before + 1
    last = run_cli("--config", str(d.config), "ledger", "export", "--format", "jsonl")
    entry = json.loads(last.out.strip().splitlines()[-1])
    assert (entry["kind"], entry["count"], entry["actor"]) == ("receive", 100, "siti")


def test_sessions_and_cookies(console_daemon) -> None:  # type: ignore[no-untyped-def]
    d = console_daemon(web="session_minutes = 1\n")
    b = d.browser()
    r = b.login()
    session = next(c for c in r.cookies if c.startswith("sa_session="))
    assert "HttpOnly" in session and "SameSite=Strict" in session
    page = b.get("/")
    assert page.status == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    # Nothing external: every src/href is this console's own.
    for ref in re.findall(r'(?:src|href)="([^"]+)"', page.body):
        assert ref.startswith("/"), ref


def test_script_in_a_reason_shows_as_text(console_daemon) -> None:  # type: ignore[no-untyped-def]
    d = console_daemon()
    b = d.browser()
    b.login()
    token = b.csrf()
    assert b.post("/blanks/receive", {"csrf": token, "batch": "B-9", "count": "50"}).status == 303
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = b.post("/blanks/adjust", {"csrf": token, "count": "-2", "reason": evil,
                                  "idem": "t1"})
    assert r.status == 303, r.body
    # A refused form echoes the value back: escaped, never as markup.
    refused = b.post("/blanks/adjust", {"csrf": token, "count": "-900", "reason": evil,
                                        "idem": "t2"})
    assert refused.status == 409
    assert "<script>alert" not in refused.body and "<img src=x" not in refused.body
    assert "&lt;script&gt;" in refused.body
    # The batch id in a refusal message is escaped too.
    clash = b.post("/blanks/receive", {"csrf": token, "batch": "B-9", "count": "51"})
    assert clash.status == 409 and "B-9" in clash.body


def test_failed_logins_are_throttled(console_daemon) -> None:  # type: ignore[no-untyped-def]
    d = console_daemon()
    b = d.browser()
    codes = [b.login(password="wrong-password").status for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # Even the right password waits now.
    assert b.login().status == 429
    assert b.get("/").status == 303


def test_accounts_file_is_owner_only(console_daemon) -> None:  # type: ignore[no-untyped-def]
    d = console_daemon()
    users = d.state / "console-users"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    text = users.read_text()
    assert "rahasia" not in text and text.startswith("siti:scrypt:")
    os.chmod(users, 0o644)
    r = d.browser().login()
    assert r.status == 503 and "chmod 600" in r.body
    os.chmod(users, 0o600)
    assert d.browser().login().status == 303


def test_console_user_commands(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = ["--state-dir", str(tmp_path)]
    import subprocess
    import sys

    from tests.conftest import REPO, cli_env

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "station_agent", *env, "console",
                               "user", *args], input=stdin, text=True, capture_output=True,
                              cwd=REPO, env=cli_env(), timeout=60)

    assert run("add", "budi", "--password-stdin", stdin="short\n").returncode == 2
    assert run("add", "Budi!", "--password-stdin", stdin="long-enough\n").returncode == 2
    assert run("add", "budi", "--password-stdin", stdin="long-enough\n").returncode == 0
    again = run("add", "budi", "--password-stdin", stdin="long-enough\n")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert run("list").stdout.split() == ["budi"]
    assert run("passwd", "budi", "--password-stdin", stdin="another-one\n").returncode == 0
    assert run("remove", "budi").returncode == 0
    assert run("remove", "budi").returncode == 2
