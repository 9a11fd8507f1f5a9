"""The station as last recorded in its state directory, read without a daemon.

``status`` and ``diag`` use it when no daemon serves the state directory:
balances, the stock forecast, active faults and the uplink backlog, all
from one read-only connection to the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the state directory says (JSON-ready parts)."""

    station_id: str | None
    balances: dict[str, Any]
    stock: dict[str, Any]
    faults: list[dict[str, Any]]
    backlog: dict[str, Any]


def read_snapshot(state_dir: Path) -> Snapshot:
    """Read the snapshot; the ledger's own errors (missing, not a ledger) propagate."""
    from station_agent.ledger import faultlog, outbox
    from station_agent.ledger.balances import read_balances
    from station_agent.ledger.stock import forecast
    from station_agent.ledger.store import open_reader, read_meta

    conn = open_reader(state_dir)
    try:
        b = read_balances(conn)
        return Snapshot(station_id=read_meta(conn).get("station_id") or None,
                        balances=b.as_dict(),
                        stock=forecast(conn, b.stock).as_dict(),
                        faults=[f.as_dict() for f in faultlog.active_faults(conn)],
                        backlog=outbox.backlog(conn).as_dict())
    finally:
        conn.close()
