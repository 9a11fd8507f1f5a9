"""Stopping a child process the way systemd does: SIGTERM, a grace period, then
SIGKILL. Shared by everything that runs one (the daemon, mosquitto, the
simulators the tests start), so none of them can be left behind."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def terminate(proc: subprocess.Popen[Any], timeout: float = 10.0) -> Any:
    """SIGTERM ``proc`` if it still runs, wait up to ``timeout`` seconds, SIGKILL it
    if it has not stopped; return its remaining stderr (None when not piped).
    ``proc.returncode`` holds its exit code afterwards."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
    return err
