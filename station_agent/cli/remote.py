"""The CLI's way to the running daemon: the library's :class:`~station_agent.api.client.Client`.

Commands that read ask the daemon when one serves the state directory and
read the state directory themselves otherwise; commands that write go
through the daemon whenever one runs (DESIGN §2: the CLI never writes the
database behind the agent's back). Error replies surface as the client's
typed errors, which carry the CLI's exit code (2 bad input, 1 failed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from station_agent.api.client import Client, DaemonNotRunning


def from_daemon(state_dir: Path, op: str, **params: Any) -> Any:
    """The daemon's answer to ``op`` (unset parameters left out), or None when no
    daemon serves ``state_dir``."""
    try:
        client = Client(state_dir, check_version=False)
    except DaemonNotRunning:
        return None
    with client:
        return client.call(op, **params)
