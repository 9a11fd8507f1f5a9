"""Polling until something holds, for tests that watch another process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(check: Callable[[], Any], timeout: float, what: str,
               every: float = 0.2) -> Any:
    """``check()``'s first true value, polled every ``every`` s; fails the test
    naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)
