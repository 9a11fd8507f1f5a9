"""The station's status as documents: the ``status`` answer (docs/API.md; the CLI's
``status --json`` with or without a daemon) and the fields of the uplink's
retained status message (docs/UPLINK.md). Built here and nowhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from station_agent.config import Config
    from station_agent.network.probe import ProbeResult
    from station_agent.snapshot import Snapshot


def network_section(probe_url: str | None, last: ProbeResult | None,
                    in_outage: bool | None) -> dict[str, Any]:
    """The server link as the last probe saw it."""
    return {"probe_url": probe_url, "state": last.state if last else "unknown",
            "in_outage": in_outage, "last_probe": last.as_dict() if last else None}


def status_document(*, station_id: str | None, daemon: dict[str, Any],
                    balances: dict[str, Any], stock: dict[str, Any],
                    low_threshold: int | None, devices: list[dict[str, Any]],
                    faults: list[dict[str, Any]], network: dict[str, Any],
                    uplink: dict[str, Any], notify: dict[str, Any] | None = None,
                    console: str | None = None,
                    supplies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``status`` document (contract: docs/API.md)."""
    return {"station_id": station_id, "daemon": daemon, "balances": balances,
            "stock": {**stock, "low_threshold": low_threshold}, "devices": devices,
            "faults": faults, "network": network, "uplink": uplink,
            "notify": notify or {"channels": [], "pending": 0, "held_back": 0},
            "console": console, "supplies": supplies or []}


def offline_status(cfg: Config | None, snap: Snapshot) -> dict[str, Any]:
    """The ``status`` document from the state directory alone (no daemon runs)."""
    devices = [] if cfg is None else [
        *({"id": p.id, "kind": "printer", "url": p.url, "family": p.family, "online": None}
          for p in cfg.printers),
        *({"id": r.id, "kind": "reader", "url": r.url, "printer": r.printer, "online": None}
          for r in cfg.readers)]
    return status_document(
        station_id=cfg.station_id if cfg else snap.station_id,
        daemon={"running": False}, balances=snap.balances, stock=snap.stock,
        low_threshold=cfg.stock.low_threshold if cfg else None, devices=devices,
        faults=snap.faults,
        network=network_section(cfg.network.probe_url if cfg else None, None, None),
        uplink={"mqtt_url": cfg.uplink.mqtt_url if cfg else None,
                "state": "stopped" if cfg and cfg.uplink.mqtt_url else "disabled",
                "connected": False, **snap.backlog})


def uplink_fields(*, started_at: str, balances: dict[str, Any], stock: dict[str, Any],
                  today: dict[str, Any], active_faults: int, devices: dict[str, bool | None],
                  last: ProbeResult | None, office: str | None = None,
                  region: str | None = None) -> dict[str, Any]:
    """The fields of the retained status message (docs/UPLINK.md); the office and
    region (``[station]``) let the central ledger sum stations per office."""
    return {"office": office, "region": region, "started_at": started_at,
            "balances": balances, "stock": stock, "today": today,
            "active_faults": active_faults, "devices": devices,
            "network": last.state if last else "unknown"}
