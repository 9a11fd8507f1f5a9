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
#: A compressed day (the demo): (real epoch at the anchor, simulated epoch then, rate).
_compressed: tuple[float, float, float] | None = None


def compress(start: datetime, rate: float) -> None:
    """Run this process's agent clock from ``start``, ``rate`` times faster than
    real time (the demo's office day in a minute). Only the wall clock moves
    faster; timeouts and poll intervals (``time.monotonic``) do not."""
    global _compressed
    if rate <= 0:
        raise ValueError("the clock rate must be positive")
    _compressed = (time.time(), start.timestamp(), rate)


def uncompress() -> None:
    """Back to real time."""
    global _compressed
    _compressed = None


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
    squeezed = _compressed
    if squeezed is not None:
        real0, sim0, rate = squeezed
        return sim0 + (time.time() - real0) * rate + _skew_s()
    return time.time() + _skew_s()


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.fromtimestamp(time_s(), UTC)


def now_utc(timespec: str = "seconds") -> str:
    """The agent's time as ISO 8601 UTC, e.g. ``2026-11-24T04:52:00Z`` (``timespec``
    as :meth:`datetime.isoformat`: the ledger stamps entries with microseconds)."""
    return now().isoformat(timespec=timespec).replace("+00:00", "Z")


def wall_stamp() -> str:
    """The machine's own clock as ISO 8601 UTC with microseconds.

    For the spooler journal only: its start and end records are written by the
    CUPS backend, a process outside the agent whose clock may be compressed
    (the demo) or skewed (campaigns), so both the backend and the daemon that
    judges a record's age use the wall clock."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def wall_now() -> datetime:
    """The machine's own clock, timezone-aware UTC (see :func:`wall_stamp`)."""
    return datetime.now(UTC)


def local_now() -> datetime:
    """The current time in the local timezone (for day boundaries)."""
    return now().astimezone()


#: File in the state directory naming the office's time zone (written by the
#: daemon from ``[station] timezone``), so every command on that state agrees.
TIMEZONE_FILE = "timezone"


def known_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def use_timezone(name: str) -> None:
    """This process's local time is ``name``'s (reports, day boundaries)."""
    os.environ["TZ"] = name
    time.tzset()


def station_timezone(state_dir: os.PathLike[str] | str) -> str | None:
    """The office's time zone recorded in ``state_dir``, if any and known."""
    try:
        with open(os.path.join(state_dir, TIMEZONE_FILE), encoding="ascii") as f:
            name = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name if name and known_timezone(name) else None


def record_timezone(state_dir: os.PathLike[str] | str, name: str) -> None:
    """Write ``name`` as ``state_dir``'s office time zone (atomically)."""
    path = os.path.join(state_dir, TIMEZONE_FILE)
    tmp = path + ".new"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(name + "\n")
    os.replace(tmp, path)
