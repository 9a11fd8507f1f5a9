"""10,000 generated requests at the console's routes, against a real station
(in-process, its real ledger): every one answered, none with a server error, and
nothing recorded by a request that did not pass every check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station_agent.config import parse_config
from station_agent.console.accounts import Accounts
from station_agent.console.app import Console
from station_agent.console.http import Request
from station_agent.console.sessions import Session
from station_agent.daemon.console import StationBackend
from station_agent.daemon.station import Station
from station_agent.ledger import model, open_reader, verify

ROUTES = ["/", "/live/today", "/jobs", "/blanks", "/reports", "/reports/daily", "/login",
          "/logout", "/metrics", "/lang", "/static/console.css", "/static/../station.toml",
          "/blanks/receive", "/blanks/dispose", "/blanks/adjust", "/jobs/void",
          "/jobs/resolve", "//", "/%00", "/blanks/receive/", "/supplies", "/supplies/receive",
          "/supplies/install", "/supplies/finish", "/supplies/write-off"]
FIELDS = ["csrf", "batch", "count", "first_serial", "reference", "reason", "idem", "job_id",
          "category", "outcome", "user", "password", "login_token", "date", "format", "to",
          "back", "kind", "printer", "serial"]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Console, Station,
                                                                       Session]]:
    root = tmp_path_factory.mktemp("fuzz")
    cfg = parse_config({"station": {"id": "fuzz-01", "timezone": "Asia/Makassar"},
                        "supply": [{"kind": "ribbon-ymcko", "rated_yield": 500}]},
                       root / "station.toml")
    station = Station(cfg, root / "state", serve_api=False)
    station.ledger.record(model.receive("B-1", 1000))
    station.ledger.record(model.pick("job-1"))
    station.ledger.record(model.complete("job-1"))
    accounts = Accounts(root / "state")
    accounts.add("siti", "rahasia-123")
    con = Console(StationBackend(station), accounts,
                  allowed_hosts=cfg.web.allowed_hosts(), session_minutes=30)
    session = con.sessions.create("siti")
    try:
        yield con, station, session
    finally:
        station.stop()


def _form(fields: dict[str, str]) -> bytes:
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items()).encode()


values = st.one_of(st.text(max_size=40), st.sampled_from(
    ["1", "-3", "+5", "0", "999999999999", "1.000", "issued", "spoiled", "lost", "jam",
     "other", "job-1", "B-1", "2026-11-28", "html", "csv", "en", "id", "/", "//evil",
     "ribbon-ymcko", "p1",
     "<script>alert(1)</script>", "5371010101900001"]))


@st.composite
def requests(draw: Any, csrf: str, token: str) -> Request:
    method = draw(st.sampled_from(["GET", "POST", "POST", "HEAD", "PUT", "DELETE"]))
    path = draw(st.one_of(st.sampled_from(ROUTES), st.text(max_size=30).map(lambda t: "/" + t)))
    fields = draw(st.dictionaries(st.sampled_from(FIELDS), values, max_size=6))
    if draw(st.booleans()):
        fields["csrf"] = csrf          # sometimes the right token
    raw = draw(st.one_of(st.just(_form(fields)), st.binary(max_size=200)))
    host = draw(st.sampled_from(["127.0.0.1:8470", "localhost", "evil.example", "",
                                 "[::1]:8470", "127.0.0.1:8470:1", "LOCALHOST:1"]))
    cookie = draw(st.sampled_from([f"sa_session={token}", "", "sa_session=forged",
                                   f"sa_session={token}; sa_lang=en", "garbage;;=;",
                                   "sa_lang=xx"]))
    headers = {"host": host, "cookie": cookie,
               "content-type": draw(st.sampled_from(
                   ["application/x-www-form-urlencoded", "text/plain", "",
                    "application/x-www-form-urlencoded; charset=latin-1"]))}
    if draw(st.booleans()):
        headers["origin"] = draw(st.sampled_from(["http://127.0.0.1:8470", "null",
                                                  "http://evil.example", "garbage"]))
    query = _form(draw(st.dictionaries(st.sampled_from(FIELDS), values, max_size=3))).decode()
    return Request(method, path, query, headers, raw, "10.0.0.9")


def test_generated_requests_never_fail_the_server(console: tuple[Console, Station, Session]
                                                   ) -> None:
    con, station, session = console
    seen: dict[int, int] = {}

    @settings(max_examples=10_000, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(req=requests(session.csrf, session.token))
    def one(req: Request) -> None:
        before = station.ledger.balances().entries
        resp = con.handle(req)
        seen[resp.status] = seen.get(resp.status, 0) + 1
        assert resp.status < 500, (req, resp.status, resp.body[:300])
        after = station.ledger.balances().entries
        if after != before:
            # Only a post that passed every check may write, and it answers 303.
            assert req.method == "POST" and resp.status == 303, (req, resp.status)
            assert req.headers["cookie"].startswith(f"sa_session={session.token}")
            assert re.search(rf"csrf={re.escape(quote(session.csrf))}", req.body.decode(
                "utf-8", "replace")), req

    one()
    assert sum(seen.values()) >= 10_000
    # The generator reached the pages and the refusals alike.
    assert {200, 303, 400, 403, 404, 421}.issubset(seen), seen
    reader = open_reader(station.state_dir)
    try:
        assert verify(reader).ok
    finally:
        reader.close()


def test_a_session_expires() -> None:
    from station_agent.console.sessions import Sessions

    sessions = Sessions(minutes=1)
    now = [1000.0]
    sessions._now = lambda: now[0]   # a controllable clock
    s = sessions.create("siti")
    now[0] += 59
    assert sessions.get(s.token) is s           # used: renewed for another minute
    now[0] += 61
    assert sessions.get(s.token) is None        # idle longer than its lifetime
    assert sessions.get(s.token) is None
