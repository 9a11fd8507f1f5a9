"""``station-agent run``: the station daemon (systemd ``Type=notify``).

Takes the daemon lock of the state directory (a second daemon refuses to
start), starts the :class:`~station_agent.daemon.station.Station`, tells systemd
``READY=1`` once the API serves, pings the watchdog at half of
``$WATCHDOG_USEC``, and on SIGTERM/SIGINT lets in-flight requests and jobs
finish, stops the devices, closes the ledger and exits 0.

On SIGHUP (``systemctl reload``) it reads ``station.toml`` again: a file that
does not validate is refused with its one-line error in the log and the daemon
runs on with the config it has; a valid one replaces the station (printers,
readers, network, uplink, notifications, console) after the jobs in flight
finish, in the same process and on the same state directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from station_agent import clock, logs
from station_agent.config import Config, load_config
from station_agent.daemon import sdnotify
from station_agent.errors import OperationFailed, StationAgentError
from station_agent.ledger.store import translate

if TYPE_CHECKING:
    from station_agent.daemon.station import Station

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


def _status_line(config: Config) -> str:
    return (f"STATUS=serving {len(config.printers)} printer(s), {len(config.readers)} "
            "reader(s)")


def _reload(config: Config, station: Station, state_dir: Path, log: Any
            ) -> tuple[Config, Station]:
    """SIGHUP: the station on the re-read config, or the running one when the
    file is broken (see the module docstring)."""
    from station_agent.daemon.station import Station

    try:
        new = load_config(config.path)
        if new.state_dir is not None and config.state_dir is not None \
                and new.state_dir != config.state_dir:
            raise OperationFailed(f"[station] state_dir changed to {new.state_dir}: a reload "
                                  "keeps the state directory; restart the daemon to move it")
    except StationAgentError as exc:
        log.error("reload refused: keeping the running config", file=str(config.path),
                  error=str(exc))
        sdnotify.notify(f"STATUS=reload refused ({str(exc)[:200]}); running on the "
                        "previous config")
        return config, station
    sdnotify.notify("RELOADING=1")
    log.info("reloading", file=str(config.path))
    station.stop()
    try:
        replacement = Station(new, state_dir).start()
    except Exception as exc:   # e.g. a device the new config names cannot be opened
        log.error("reload failed: back on the previous config", error=str(exc))
        replacement, new = Station(config, state_dir).start(), config
    sdnotify.notify(f"READY=1\n{_status_line(new)}")
    log.info("reloaded", printers=[p.id for p in new.printers],
             readers=[r.id for r in new.readers])
    return new, replacement


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
    stop, reload = threading.Event(), threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    def on_hangup(_signum: int, _frame: FrameType | None) -> None:
        reload.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    old[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hangup)
    station = None
    try:
        station = Station(config, state_dir).start()
        sdnotify.notify(f"READY=1\n{_status_line(config)}\nMAINPID={os.getpid()}")
        log.info("ready", state_dir=str(state_dir), socket=str(station.api.path)
                 if station.api else None)
        ping = sdnotify.watchdog_interval()
        while not stop.wait(min(ping, 1.0) if ping else 0.5):
            if ping:
                sdnotify.notify("WATCHDOG=1")
            if reload.is_set():
                reload.clear()
                config, station = _reload(config, station, state_dir, log)
        sdnotify.notify("STOPPING=1")
        return 0
    finally:
        if station is not None:
            station.stop()
        for s, handler in old.items():
            signal.signal(s, handler)
        lock.release()
        log.info("stopped")
