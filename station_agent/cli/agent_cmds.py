"""``run``, ``status`` and ``faults`` (DESIGN §5).

``status`` and ``faults`` ask the running daemon through the local API; with
no daemon they read the state directory read-only (balances and the fault
history as last recorded; live device and network state unknown).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from station_agent.cli.output import account_rows, emit_json, local_time, table
from station_agent.cli.remote import from_daemon
from station_agent.errors import BadInput, OperationFailed

# typing is imported for the type checker only: this module is on the CLI's
# start-up path (docs/PERFORMANCE.md, cli.status_latency).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``run``, ``status`` and ``faults``."""
    r = sub.add_parser("run", help="the station daemon (systemd Type=notify)",
                       description="Run the station daemon: poll the configured printers and "
                                   "readers, keep the ledger and the faults, watch the server "
                                   "network, serve the local API. Stops cleanly on SIGTERM.")
    r.add_argument("--check-config", action="store_true",
                   help="only validate the configuration, print a summary and exit")
    r.add_argument("--log-level", default="info",
                   choices=("debug", "info", "warning", "error"), help="log level")
    r.set_defaults(func=cmd_run, needs_state=False)

    s = sub.add_parser("status", help="devices, active faults, balances, network, uplink",
                       description="The station at a glance (from the daemon when it runs).")
    s.add_argument("--json", action="store_true", help="print one JSON document")
    s.set_defaults(func=cmd_status)

    f = sub.add_parser("faults", help="active faults (and past ones with --history)",
                       description="Active faults, each with source, code, severity, message, "
                                   "raised_at and cleared_at.")
    f.add_argument("--history", action="store_true", help="also faults that were cleared")
    f.add_argument("--json", action="store_true", help="print one JSON document")
    f.set_defaults(func=cmd_faults)
    fs = f.add_subparsers(dest="faults_cmd", metavar="ACTION")
    c = fs.add_parser("clear", help="clear a fault that needs a person (unreported_pick ...)",
                      description="Acknowledge and clear an active fault that nothing clears "
                                  "by itself, such as unreported_pick (needs the daemon).")
    c.add_argument("source", metavar="SOURCE", help="the fault's source (a device id ...)")
    c.add_argument("code", metavar="CODE", help="the fault's code")
    c.add_argument("--json", action="store_true", help="print one JSON document")
    c.set_defaults(func=cmd_clear_fault)


def _config(args: argparse.Namespace, required: bool) -> Any:
    from station_agent.config import load_config
    from station_agent.paths import config_path

    path, named = config_path(args.config)
    if not path.exists() and not named and not required:
        return None
    if not path.exists() and not named:
        raise BadInput(f"no configuration at {path}: write one (see docs/INSTALL.md) or give "
                       "--config FILE")
    return load_config(path)


def cmd_run(args: argparse.Namespace, _state: Path | None) -> int:
    """``run [--check-config]``."""
    from station_agent.paths import resolve_state_dir

    cfg = _config(args, required=True)
    state_dir = resolve_state_dir(args.state_dir, str(cfg.path))
    if args.check_config:
        print(f"{cfg.path}: OK: station {cfg.station_id}, {len(cfg.printers)} printer(s), "
              f"{len(cfg.readers)} reader(s), network "
              f"{cfg.network.probe_url or 'not watched'}, state in {state_dir}")
        return 0
    from station_agent.daemon.service import run

    return run(cfg, state_dir, log_level=args.log_level)


def _offline_status(args: argparse.Namespace, state_dir: Path) -> dict[str, Any]:
    from station_agent.daemon.status import offline_status
    from station_agent.snapshot import read_snapshot

    return offline_status(_config(args, required=False), read_snapshot(state_dir))


def cmd_status(args: argparse.Namespace, state_dir: Path) -> int:
    """``status [--json]``."""
    doc = from_daemon(state_dir, "status") or _offline_status(args, state_dir)
    if args.json:
        emit_json(doc)
        return 0
    print(_status_text(doc, state_dir))
    return 0


def _status_text(doc: dict[str, Any], state_dir: Path) -> str:
    d = doc["daemon"]
    head = (f"station {doc['station_id'] or '?'}: daemon running (pid {d['pid']}, since "
            f"{local_time(d['started_at'])})" if d["running"] else
            f"station {doc['station_id'] or '?'}: daemon not running (state as last recorded "
            f"in {state_dir})")
    b, st = doc["balances"], doc["stock"]
    days = ("" if st["days_left"] is None else
            f", about {st['days_left']:g} days left at {st['rate_per_day']:g}/day")
    lines = [head, f"blanks: {b['stock']:,} in stock{days}",
             table(account_rows(b, ("in_printer", "issued", "spoiled_held",
                                    "spoiled_disposed", "lost")))]
    if doc["devices"]:
        lines.append("devices:")
        for dev in doc["devices"]:
            state = ("unknown" if dev["online"] is None else "online" if dev["online"]
                     else "OFFLINE")
            extra = ", ".join(dev.get("conditions") or [])
            lines.append(f"  {dev['id']:<14} {dev['kind']:<8} {state}"
                         + (f" ({extra})" if extra else ""))
    for k in doc.get("supplies") or []:
        units = ", ".join(f"{u['printer']} {u['cards']:,} cards so far" for u in k["in_printers"])
        days = "" if k["days_left"] is None else f", about {k['days_left']:g} days left"
        lines.append(f"supply {k['kind']}: {k['stock']:,} in stock{days}"
                     + (" (LOW)" if k["low"] else "") + (f"; in {units}" if units else ""))
    net = doc["network"]
    if net["probe_url"]:
        lines.append(f"network: {net['state']} ({net['probe_url']})")
    faults = doc["faults"]
    lines.append(f"faults: {len(faults)} active" if faults else "faults: none")
    for f in faults:
        lines.append(f"  {f['severity']:<8} {f['source']}: {f['code']}"
                     + (" [flapping]" if f.get("flapping") else "") + f" - {f['message']}")
    up = doc["uplink"]
    queued = f"{up['backlog']:,} event(s) not yet sent" if up.get("backlog") else "nothing queued"
    if up.get("oldest_unsent"):
        queued += f", oldest from {local_time(up['oldest_unsent'])}"
    lines.append(f"uplink: {up['mqtt_url'] or 'not configured'}"
                 + (f" - {up['state']}" if up.get("state") else "") + f"; {queued}")
    if up.get("error"):
        lines.append(f"  {up['error']}")
    told = doc.get("notify") or {}
    if told.get("channels"):
        lines.append(f"notify: {', '.join(told['channels'])}; "
                     + (f"{told['pending']:,} waiting to be delivered" if told.get("pending")
                        else "nothing waiting"))
    if doc.get("console"):
        lines.append(f"console: {doc['console']}")
    return "\n".join(lines)


def cmd_faults(args: argparse.Namespace, state_dir: Path) -> int:
    """``faults [--json] [--history]``."""
    doc = from_daemon(state_dir, "faults", history=args.history)
    if doc is None:
        from station_agent.ledger import faultlog
        from station_agent.ledger.store import open_reader

        conn = open_reader(state_dir)
        try:
            doc = {"active": [f.as_dict() for f in faultlog.active_faults(conn)]}
            if args.history:
                doc["history"] = [f.as_dict() for f in faultlog.fault_history(conn)]
        finally:
            conn.close()
    if args.json:
        emit_json(doc)   # the API's document (docs/API.md): active, and history if asked
        return 0
    faults = doc["history"] if args.history else doc["active"]
    if not faults:
        print("no faults" + (" recorded" if args.history else " active"))
    for f in faults:
        when = local_time(f["raised_at"]) + (f" -> {local_time(f['cleared_at'])}"
                                             if f["cleared_at"] else " (active)")
        print(f"{f['severity']:<8} {f['source']}: {f['code']}"
              + (" [flapping]" if f.get("flapping") else "") + f"  {when}\n  {f['message']}")
    return 0


def cmd_clear_fault(args: argparse.Namespace, state_dir: Path) -> int:
    """``faults clear SOURCE CODE``."""
    doc = from_daemon(state_dir, "clear_fault", source=args.source, code=args.code)
    if doc is None:
        raise OperationFailed("faults are cleared by the running daemon, which is not running: "
                              "start it (systemctl start station-agent) and try again")
    if args.json:
        emit_json(doc)
    else:
        print(f"cleared {doc['code']} on {doc['source']}")
    return 0
