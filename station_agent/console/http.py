"""The console's requests and responses, independent of how they travel (the
server in :mod:`.server`, or a test calling :meth:`Console.handle` directly)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

#: Largest request body the console reads (its forms are a few hundred bytes).
MAX_BODY = 64 * 1024
#: Content-Security-Policy of the console's pages: nothing but this origin's own
#: stylesheet and script; no inline code, no frames, forms post only here.
PAGE_CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
#: The printable reports are self-contained (inline style and SVG, no script).
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")


class BadRequest(Exception):
    """The request itself is malformed (an undecodable body, a garbled cookie)."""


@dataclass
class Request:
    """One HTTP request: header names in lower case, the raw body."""

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    client: str = "127.0.0.1"

    def cookies(self) -> dict[str, str]:
        """The request's cookies (malformed ones ignored)."""
        raw = self.headers.get("cookie", "")
        if not raw:
            return {}
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except CookieError:
            return {}
        return {k: m.value for k, m in jar.items()}

    def args(self) -> dict[str, str]:
        """The query string's fields (the first value of each)."""
        return _fields(self.query)

    def form(self) -> dict[str, str]:
        """The urlencoded body's fields (the first value of each); :class:`BadRequest`
        when it is not urlencoded UTF-8 text."""
        kind = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise BadRequest("expected a form (application/x-www-form-urlencoded)")
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the form is not UTF-8 text") from None
        return _fields(text)


def _fields(text: str) -> dict[str, str]:
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=64,
                          encoding="utf-8", errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the form's fields cannot be read") from None
    return {k: v[0] for k, v in parsed.items()}


@dataclass
class Response:
    """One HTTP response."""

    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    csp: str = PAGE_CSP

    def all_headers(self) -> list[tuple[str, str]]:
        """Every header to send, the security headers included."""
        base = [("Content-Type", self.content_type),
                ("Content-Length", str(len(self.body))),
                ("Content-Security-Policy", self.csp),
                ("X-Content-Type-Options", "nosniff"),
                ("X-Frame-Options", "DENY"),
                # same-origin, not no-referrer: with no-referrer Chromium sends
                # "Origin: null" on a form post, which the origin check refuses.
                ("Referrer-Policy", "same-origin"),
                ("Cache-Control", "no-store")]
        return base + self.headers


def text(status: int, message: str) -> Response:
    """A plain-text response (errors outside a page)."""
    return Response(status, (message + "\n").encode(), "text/plain; charset=utf-8")


def as_json(doc: object) -> Response:
    """A JSON response."""
    return Response(200, json.dumps(doc, ensure_ascii=False).encode(),
                    "application/json; charset=utf-8")


def redirect(location: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """303 See Other to ``location`` (after a post, so a reload does not post again)."""
    return Response(303, b"", "text/plain; charset=utf-8",
                    [("Location", location), *(headers or [])])


def cookie(name: str, value: str, *, max_age: int | None = None) -> tuple[str, str]:
    """A ``Set-Cookie`` header: HttpOnly, SameSite=Strict, the whole console."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return ("Set-Cookie", "; ".join(parts))
