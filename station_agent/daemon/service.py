"""``station-agent run``: the station daemon (systemd ``Type=notify``).

Takes the daemon lock of the state directory (a second daemon refuses to
start), starts the :class:`~station_agent.daemon.station.Station`, tells systemd
``READY=1`` once the API serves, pings the watchdog at half of
``$WATCHDOG_USEC``, and on SIGTERM/SIGINT lets in-flight requests and jobs
finish, stops the devices, closes the ledger and exits 0.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from station_agent import clock, logs
from station_agent.config import Config
from station_agent.daemon import sdnotify
from station_agent.errors import OperationFailed
from station_agent.ledger.store import translate

LOCK_NAME = "daemon.lock"
PID_NAME = "daemon.pid"


class DaemonLock:
    """An exclusive ``flock`` on ``daemon.lock``, held for the daemon's life (the
    kernel drops it when the process dies, even by kill -9)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o660)
        except OSError as exc:
            raise translate(exc, self.path, "opening the daemon lock") from exc
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            pid = _read_pid(state_dir)
            who = f" (pid {pid})" if pid else ""
            raise OperationFailed(
                f"another station-agent daemon{who} is already running on {state_dir}; stop "
                "it first (systemctl stop station-agent) or use another --state-dir") from None
        self.pid_path = state_dir / PID_NAME
        self.pid_path.write_text(f"{os.getpid()}\n")

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.pid_path.unlink()
        os.close(self.fd)


def _read_pid(state_dir: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int((state_dir / PID_NAME).read_text().strip())
    return None


def run(config: Config, state_dir: Path, *, log_level: str = "info") -> int:
    """Run until SIGTERM/SIGINT; the exit code."""
    from station_agent.daemon.station import Station

    logs.configure(log_level)
    log = logs.get("daemon", station=config.station_id)
    if clock.skew_file():
        log.warning("the wall clock is shifted by a simulation's skew file; never set "
                    f"{clock.SKEW_ENV} in production", file=clock.skew_file())
    lock = DaemonLock(state_dir)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    station = None
    try:
        station = Station(config, state_dir).start()
        sdnotify.notify(f"READY=1\nSTATUS=serving {len(config.printers)} printer(s), "
                        f"{len(config.readers)} reader(s)\nMAINPID={os.getpid()}")
        log.info("ready", state_dir=str(state_dir), socket=str(station.api.path)
                 if station.api else None)
        ping = sdnotify.watchdog_interval()
        while not stop.wait(ping if ping else 1.0):
            if ping:
                sdnotify.notify("WATCHDOG=1")
        sdnotify.notify("STOPPING=1")
        return 0
    finally:
        if station is not None:
            station.stop()
        for s, handler in old.items():
            signal.signal(s, handler)
        lock.release()
        log.info("stopped")
