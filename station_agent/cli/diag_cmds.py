"""``diag``: every technician check, each pass/warn/fail with a detail and a hint.

Exit 0 when nothing failed (warnings allowed), 1 when a check failed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from station_agent.cli.argtypes import seconds
from station_agent.cli.output import emit_json

_MARK = {"pass": "pass", "warn": "WARN", "fail": "FAIL"}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``diag``."""
    d = sub.add_parser(
        "diag", help="check the whole station: config, disk, ledger, clock, printers, "
                     "readers, network, uplink",
        description="Run every check a technician needs and print, per check, pass, warn or "
                    "fail with what was found and what to do. Checks run at once, each with "
                    "its own timeout, so a dead device cannot hang the run. With a daemon "
                    "running its view is used and printers are asked through it; without "
                    "one the devices are opened directly. Exit 1 if any check fails.")
    d.add_argument("--json", action="store_true",
                   help='print one JSON document: {"ok", "checks": [{"name", "status", '
                        '"detail", "hint"}]}')
    d.add_argument("--timeout", type=seconds(0.1, 600), metavar="S",
                   help="seconds every check may take (default: per check, a few seconds; "
                        "the ledger check 30)")
    d.set_defaults(func=cmd_diag, needs_state=False)


def cmd_diag(args: argparse.Namespace, _state: Path | None) -> int:
    """``diag [--json] [--timeout S]``."""
    from station_agent.diag.plan import Timeouts, diagnose, find_setting

    setting = find_setting(args.config, args.state_dir)
    result = diagnose(setting, Timeouts.all(args.timeout) if args.timeout else None)
    if args.json:
        emit_json(result.as_dict())
        return 0 if result.ok else 1
    where = f"station {result.station_id or '?'}, state in {result.state_dir or '?'}"
    print(f"station-agent diag: {where}")
    width = max(len(c.name) for c in result.checks)
    for c in result.checks:
        print(f"  {_MARK[c.status]}  {c.name:<{width}}  {c.detail}")
        if c.hint and c.status != "pass":
            print(f"        {'':<{width}}  -> {c.hint}")
    print(f"{result.count('pass')} passed, {result.count('warn')} warning(s), "
          f"{result.count('fail')} failed in {result.elapsed_ms / 1000:.1f} s")
    return 0 if result.ok else 1
