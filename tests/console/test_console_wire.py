"""Hostile bytes on the console's TCP port, against a real daemon: broken
request lines, oversized or contradictory headers, bodies longer or shorter
than announced, a client that stops mid-request. Each is answered with a
4xx (or the connection is closed), never a 5xx; the daemon keeps serving and
nothing reaches the ledger. The generated requests of test_console_fuzz go
through the routes in-process; these go through the HTTP layer itself."""

from __future__ import annotations

import re
import socket
import time
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.console.conftest import ConsoleDaemon


def _exchange(host: str, port: int, raw: bytes, timeout: float = 15.0) -> bytes:
    """Send ``raw``, half-close, read the answer until the server closes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _statuses(answer: bytes) -> list[int]:
    return [int(m) for m in re.findall(rb"^HTTP/1\.[01] (\d{3}) ", answer, re.M)]


HANDWRITTEN = [
    b"\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(
        b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n",
    b"POST /blanks/receive HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /blanks/receive HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\n\r\n",
    b"POST /blanks/receive HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n"
    b"Content-Length: 3\r\n\r\nbatch=B",
    b"POST /blanks/receive HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nbatch\r\n0\r\n\r\n",
    b"POST /blanks/receive HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 400\r\n\r\nshort",
    b"GET /\xff\xfe%00%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET http://evil.example/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + b"sa_session=" + b"x" * 8000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /metrics HTTP/1.1\r\nHost: \xc3\x28\r\n\r\n",
]


def test_hostile_bytes_on_the_wire_never_fail_the_daemon(console_daemon) -> None:  # type: ignore[no-untyped-def]
    d: ConsoleDaemon = console_daemon()
    d.cli("blanks", "receive", "--batch", "B-1", "--count", "100")
    parts = urlsplit(d.url)
    host, port = parts.hostname or "127.0.0.1", int(parts.port or 80)
    before = d.cli("blanks", "--json")
    seen: dict[int, int] = {}

    def check(raw: bytes) -> None:
        for status in _statuses(_exchange(host, port, raw)):
            seen[status] = seen.get(status, 0) + 1
            assert status < 500, (raw[:200], status)

    for raw in HANDWRITTEN:
        check(raw)
    # An unknown method is the client's error, and says what is allowed.
    answer = _exchange(host, port, b"BREW / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert _statuses(answer) == [405] and b"\r\nAllow: GET, HEAD, POST\r\n" in answer

    line = st.one_of(
        st.binary(max_size=120),
        st.builds(lambda m, p, v: m + b" " + p + b" " + v,
                  st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT", b"OPTIONS", b"G\x00T"]),
                  st.sampled_from([b"/", b"/blanks/receive", b"/login", b"/metrics",
                                   b"/static/console.css", b"/../../etc/passwd", b"*", b""]),
                  st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"", b"HTTP/1.1x"])))
    header = st.one_of(
        st.binary(max_size=60),
        st.builds(lambda k, v: k + b": " + v,
                  st.sampled_from([b"Host", b"Content-Length", b"Cookie", b"Origin",
                                   b"Content-Type", b"Transfer-Encoding", b"Expect"]),
                  st.one_of(st.binary(max_size=40),
                            st.sampled_from([b"127.0.0.1", b"0", b"-1", b"12", b"100-continue",
                                             b"chunked", b"sa_session=x"]))))

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(first=line, headers=st.lists(header, max_size=6), body=st.binary(max_size=64))
    def generated(first: bytes, headers: list[bytes], body: bytes) -> None:
        check(first + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body)

    generated()
    assert 400 in seen, seen

    # A client that sends half a request and goes quiet holds one thread until the
    # read timeout, not the console: pages are served meanwhile.
    with socket.create_connection((host, port), timeout=30) as slow:
        slow.sendall(b"POST /blanks/receive HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Len")
        t0 = time.monotonic()
        page = d.browser().get("/login")
        assert page.status == 200 and time.monotonic() - t0 < 5
    assert d.browser().get("/metrics").status == 200
    assert d.proc is not None and d.proc.poll() is None
    assert d.cli("blanks", "--json") == before
