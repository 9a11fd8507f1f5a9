"""Logins of the office console: sessions, their CSRF tokens, and the throttle
on failed logins.

A session is a random 256-bit token in an ``HttpOnly; SameSite=Strict``
cookie; it lasts ``minutes`` from its last use and dies with the daemon (a
restart asks everyone to log in again: nothing secret is ever written to
disk). Each session has its own CSRF token, embedded in every form and checked
on every post.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

#: Failed logins from one address within :data:`THROTTLE_WINDOW_S` before it
#: must wait.
THROTTLE_FAILURES = 5
THROTTLE_WINDOW_S = 300.0
#: Sessions kept at most (the oldest go first): a flood of logins cannot grow memory.
MAX_SESSIONS = 1000


@dataclass
class Session:
    """One logged-in account."""

    token: str
    user: str
    csrf: str
    expires: float = field(compare=False)

    def csrf_ok(self, given: str | None) -> bool:
        """Whether ``given`` is this session's CSRF token (constant-time)."""
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


class Sessions:
    """The live sessions (thread-safe)."""

    def __init__(self, minutes: float) -> None:
        self.lifetime = minutes * 60.0
        self._now = time.monotonic
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str) -> Session:
        """A new session for ``user``."""
        s = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32),
                    self._now() + self.lifetime)
        with self._lock:
            if len(self._by_token) >= MAX_SESSIONS:
                oldest = min(self._by_token.values(), key=lambda x: x.expires)
                del self._by_token[oldest.token]
            self._by_token[s.token] = s
        return s

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token`` (its lifetime renewed), or None."""
        if not token:
            return None
        now = self._now()
        with self._lock:
            s = self._by_token.get(token)
            if s is None:
                return None
            if s.expires <= now:
                del self._by_token[token]
                return None
            s.expires = now + self.lifetime
            return s

    def expire(self, token: str) -> None:
        """End ``token``'s session now (tests use it for an expired session)."""
        with self._lock:
            s = self._by_token.get(token)
            if s is not None:
                s.expires = 0.0

    def drop(self, token: str | None) -> None:
        """Log ``token`` out."""
        if token:
            with self._lock:
                self._by_token.pop(token, None)


class LoginThrottle:
    """At most :data:`THROTTLE_FAILURES` failed logins per address per window."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, address: str) -> float:
        """Seconds ``address`` must wait before its next try (0: may try now)."""
        now = time.monotonic()
        with self._lock:
            q = self._failures.get(address)
            if not q:
                return 0.0
            while q and q[0] <= now - THROTTLE_WINDOW_S:
                q.popleft()
            if len(q) < THROTTLE_FAILURES:
                return 0.0
            return q[0] + THROTTLE_WINDOW_S - now

    def failed(self, address: str) -> None:
        """Count a failed login from ``address``."""
        with self._lock:
            if len(self._failures) > 10_000:
                self._failures.clear()   # a flood of addresses: start again
            self._failures.setdefault(address, deque(maxlen=THROTTLE_FAILURES)).append(
                time.monotonic())

    def succeeded(self, address: str) -> None:
        """Forget ``address``'s failures."""
        with self._lock:
            self._failures.pop(address, None)
