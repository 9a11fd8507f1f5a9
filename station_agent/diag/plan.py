"""Every check of one station, put together and run (``station-agent diag``).

The config and the state directory are resolved here, not by the CLI's
usual path, so that a broken config is a failed check, not an early exit.
When a daemon serves the state directory its view is used (device states,
network, uplink connection) and printers are asked through it (it owns
their ports); otherwise the devices are opened directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station_agent.diag import devices, links, local
from station_agent.diag.model import Check, Diagnosis, failed, warned
from station_agent.diag.runner import Group, run_groups
from station_agent.errors import StationAgentError


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds each kind of check may take (``--timeout`` sets them all)."""

    local: float = 10.0        # config, state dir, clock, faults, stock
    ledger: float = 30.0       # verify reads every entry
    printer: float = 6.0
    readers: float = 6.0
    network: float = 3.0       # the probe's own timeout per phase; the group gets 4x + 1
    uplink: float = 5.0

    @classmethod
    def all(cls, seconds: float) -> Timeouts:
        return cls(seconds, seconds, seconds, seconds, seconds, seconds)


@dataclass(slots=True)
class Setting:
    """Where the station is, as far as it could be found out."""

    config: Any = None
    config_path: Path = Path()
    named: bool = False
    config_error: str | None = None
    state_dir: Path | None = None
    state_error: str | None = None


def find_setting(config_arg: str | None, state_arg: str | None) -> Setting:
    """Resolve config and state directory as every command does, keeping errors."""
    from station_agent.config import load_config
    from station_agent.paths import config_path, resolve_state_dir

    s = Setting()
    s.config_path, s.named = config_path(config_arg)
    if s.config_path.exists() or s.named:
        try:
            s.config = load_config(s.config_path)
        except StationAgentError as exc:
            s.config_error = str(exc)
    try:
        s.state_dir = resolve_state_dir(state_arg, config_arg if s.config_error is None
                                        else None)
    except StationAgentError as exc:
        s.state_error = str(exc)
    return s


def _daemon(state_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The daemon's status (None when none runs) or why it did not answer."""
    from station_agent.api.connection import connect
    from station_agent.api.protocol import ApiError

    try:
        client = connect(state_dir, timeout=5.0)
        if client is None:
            return None, None
        with client:
            return client.call("status"), None
    except (OSError, ApiError, StationAgentError, ValueError) as exc:
        return None, f"a daemon socket is there but the daemon did not answer: {exc}"


def _ask_printer(state_dir: Path, pid: str) -> dict[str, Any]:
    from station_agent.api.connection import connect

    client = connect(state_dir, timeout=30.0)
    if client is None:
        raise ConnectionError("the daemon went away")
    with client:
        facts: dict[str, Any] = client.call("diag_printer", printer=pid)
        return facts


def _printer_direct(cfg: Any, state_dir: Path, reply_timeout: float) -> dict[str, Any]:
    from drivers.printers import PrinterError, open_printer
    from drivers.transports import TransportError
    from station_agent.ledger.store import ledger_path, noted_counter, open_reader

    noted = None
    if ledger_path(state_dir).exists():
        conn = open_reader(state_dir)
        try:
            noted = noted_counter(conn, cfg.id)
        finally:
            conn.close()
    try:
        printer = open_printer(cfg.url, cfg.family, timeout=reply_timeout)
    except (ValueError, TransportError) as exc:
        return {"identity": None, "error": str(exc), "fault": "printer_offline"}
    try:
        with printer:
            return devices.printer_facts(printer, noted)
    except PrinterError as exc:   # closing a link that broke
        return {"identity": None, "error": exc.message, "fault": exc.code}


def diagnose(setting: Setting, timeouts: Timeouts | None = None) -> Diagnosis:
    """Run every check that applies to ``setting``; see the module docstring."""
    t = timeouts or Timeouts()
    t0 = time.monotonic()
    cfg, state_dir = setting.config, setting.state_dir
    checks = [local.config_check(cfg, setting.config_path, setting.named,
                                 setting.config_error)]
    if state_dir is None:
        checks.append(failed("state_dir", setting.state_error or "unknown",
                             "give --state-dir DIR, or fix [station] state_dir"))
        return Diagnosis(tuple(checks), None, None, (time.monotonic() - t0) * 1000)
    status, daemon_error = _daemon(state_dir)
    groups = [
        Group("state_dir", lambda: [local.state_dir_check(state_dir)], t.local),
        Group("ledger", lambda: [local.ledger_check(state_dir)], t.ledger,
              "the ledger is large or its disk slow: run `station-agent ledger verify`"),
        Group("clock", lambda: [local.clock_check(state_dir)], t.local),
        Group("daemon", lambda: [local.daemon_check(status, daemon_error, cfg is not None)],
              t.local),
        Group("faults", lambda: _faults_and_stock(state_dir, status, cfg), t.local),
    ]
    if cfg is not None:
        groups += _device_groups(cfg, state_dir, status, t)
        groups.append(Group("network", lambda: links.network_checks(cfg.network, t.network),
                            4 * t.network + 1))
        groups.append(Group("uplink", lambda: _uplink(cfg, state_dir, status, t.uplink),
                            t.uplink + 2))
    checks += run_groups(groups)
    station_id = cfg.station_id if cfg is not None else None
    return Diagnosis(tuple(checks), station_id, str(state_dir),
                     (time.monotonic() - t0) * 1000)


def _faults_and_stock(state_dir: Path, status: dict[str, Any] | None, cfg: Any) -> list[Check]:
    from station_agent.snapshot import read_snapshot

    low = cfg.stock.low_threshold if cfg is not None else None
    if status is not None:
        return [local.faults_check(status["faults"]), local.stock_check(status["stock"], low),
                *_supplies(cfg, state_dir, status)]
    try:
        snap = read_snapshot(state_dir)
    except StationAgentError:
        return [warned("faults", "no ledger to read faults from", "see the ledger check")]
    return [local.faults_check(snap.faults, live=False), local.stock_check(snap.stock, low),
            *_supplies(cfg, state_dir, None)]


def _supplies(cfg: Any, state_dir: Path, status: dict[str, Any] | None) -> list[Check]:
    """The supply checks, from the daemon's status or (none running) the ledger."""
    if cfg is None or not cfg.supplies:
        return []
    kinds = (status or {}).get("supplies")
    if kinds is None:
        from station_agent.ledger.store import open_reader
        from station_agent.supplies.outlook import supply_view

        conn = open_reader(state_dir)
        try:
            kinds = [k.as_dict() for k in supply_view(conn, cfg)]
        finally:
            conn.close()
    fitting = {sc.kind: [p.id for p in cfg.printers if sc.fits_printer(p)]
               for sc in cfg.supplies if sc.consumed_per_card}
    return local.supply_checks(kinds, fitting)


def _device_groups(cfg: Any, state_dir: Path, status: dict[str, Any] | None,
                   t: Timeouts) -> list[Group]:
    from station_agent.api.protocol import ApiError

    by_id = {d["id"]: d for d in (status or {}).get("devices", [])}
    groups: list[Group] = []
    if any(pc.queue for pc in cfg.printers):
        from station_agent.diag.spool import spooler_checks

        groups.append(Group("cups", lambda: spooler_checks(cfg), t.printer,
                            "cupsd does not answer in time: restart CUPS"))
    for pc in cfg.printers:
        if pc.queue:
            continue   # printed through CUPS: the backend reads it between jobs
        def printer(pc: Any = pc) -> list[Check]:
            if status is not None:
                try:
                    facts = _ask_printer(state_dir, pc.id)
                except (OSError, ValueError, StationAgentError, ApiError) as exc:
                    return [failed(f"printer:{pc.id}", f"the daemon did not answer for it: "
                                                       f"{exc}", "see the daemon check")]
            else:
                facts = _printer_direct(pc, state_dir, reply_timeout=min(1.0, t.printer / 4))
            return devices.printer_checks(pc.id, pc.url, facts)
        groups.append(Group(f"printer:{pc.id}", printer, t.printer,
                            "the printer does not answer in time: check its cable and power"))
    needs_pcsc = any(r.url.startswith("pcsc://") for r in cfg.readers)

    def readers() -> list[Check]:
        pcsc, names = devices.pcsc_check(needs_pcsc)
        return [pcsc, *(devices.reader_check(r.id, r.url, r.policy(), names, by_id.get(r.id))
                        for r in cfg.readers)]
    groups.append(Group("pcsc", readers, t.readers,
                        "PC/SC does not answer in time: restart it (systemctl restart pcscd)"))
    return groups


def _uplink(cfg: Any, state_dir: Path, status: dict[str, Any] | None,
            timeout: float) -> list[Check]:
    from station_agent.snapshot import read_snapshot

    if status is not None:
        up = status["uplink"]
        return links.uplink_checks(cfg.uplink, cfg.station_id, up, up, timeout)
    try:
        backlog = read_snapshot(state_dir).backlog
    except StationAgentError:
        backlog = {"backlog": 0, "oldest_unsent": None}
    return links.uplink_checks(cfg.uplink, cfg.station_id, backlog, None, timeout)
