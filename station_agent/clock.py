"""The agent's wall clock: every timestamp the agent records or compares with
comes from here. (Intervals and timeouts use ``time.monotonic``, which clock
steps do not move.)

Simulations can step this clock without touching the machine's: when
``STATION_AGENT_CLOCK_SKEW_FILE`` names a file, its content (seconds, may be
negative) is added to the system time, re-read at most once a second. The
seeded campaigns use it to jump the daemon's clock back and forth while it
runs; in production the variable is not set and the daemon warns at start
if it is.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

SKEW_ENV = "STATION_AGENT_CLOCK_SKEW_FILE"
_lock = threading.Lock()
_skew = {"value": 0.0, "read_at": -1e9}


def skew_file() -> str | None:
    """The skew file a simulation set, if any."""
    return os.environ.get(SKEW_ENV) or None


def _skew_s() -> float:
    path = skew_file()
    if path is None:
        return 0.0
    now = time.monotonic()
    with _lock:
        if now - _skew["read_at"] >= 1.0:
            try:
                with open(path, encoding="ascii") as f:
                    _skew["value"] = float(f.read().strip() or 0)
            except (OSError, ValueError):
                _skew["value"] = 0.0
            _skew["read_at"] = now
        return _skew["value"]


def time_s() -> float:
    """Seconds since the epoch, as :func:`time.time`."""
    return time.time() + _skew_s()


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.fromtimestamp(time_s(), UTC)


def local_now() -> datetime:
    """The current time in the local timezone (for day boundaries)."""
    return now().astimezone()
