"""The CLI's way to the running daemon: the library's connection
(:mod:`station_agent.api.connection`).

Commands that read ask the daemon when one serves the state directory and
read the state directory themselves otherwise; commands that write go
through the daemon whenever one runs (DESIGN §2: the CLI never writes the
database behind the agent's back). Error replies surface as the library's
typed errors, which carry the CLI's exit code (2 bad input, 1 failed).
"""

from __future__ import annotations

from pathlib import Path

from station_agent.api.connection import DaemonNotRunning, open_connection, request_failed
from station_agent.api.protocol import ApiError

# typing is imported for the type checker only: this module is on the CLI's
# start-up path (docs/PERFORMANCE.md, cli.status_latency).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def from_daemon(state_dir: Path, op: str, **params: Any) -> Any:
    """The daemon's answer to ``op`` (unset parameters left out), or None when no
    daemon serves ``state_dir``."""
    try:
        conn = open_connection(state_dir, 30.0)
    except DaemonNotRunning:
        return None
    with conn:
        try:
            return conn.call(op, **{k: v for k, v in params.items() if v is not None})
        except ApiError as exc:
            raise request_failed(exc) from None
