"""``cups install-backend|wrap|unwrap|status`` (DESIGN §5, §8; docs/SPOOLER.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from station_agent.cli.output import emit_json
from station_agent.errors import BadInput, OperationFailed


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``cups`` and its subcommands."""
    c = sub.add_parser("cups", help="the print spooler path: backend, queues under accounting",
                       description="Put CUPS queues under the agent's accounting backend and "
                                   "see their state (docs/SPOOLER.md).")
    cs = c.add_subparsers(dest="cups_cmd", metavar="ACTION", required=True)
    i = cs.add_parser("install-backend", help="install the station backend into CUPS",
                      description="Write the station backend into CUPS' backend directory "
                                  "(root, 0700) for this config, and prepare its journal.")
    i.add_argument("--backend-dir", default=None,
                   help="CUPS' backend directory (default: [cups] backend_dir, else "
                        "/usr/lib/cups/backend)")
    i.set_defaults(func=cmd_install)
    w = cs.add_parser("wrap", help="send a queue's jobs through the station backend",
                      description="Rewrite QUEUE's device URI to station:<its URI>.")
    w.add_argument("queue", metavar="QUEUE", help="the CUPS queue")
    w.add_argument("--printer", required=True, help="the [[printer]] id whose queue it is")
    w.add_argument("--json", action="store_true", help="print one JSON document")
    w.set_defaults(func=cmd_wrap)
    u = cs.add_parser("unwrap", help="take a queue out of the station backend",
                      description="Restore QUEUE's real device URI.")
    u.add_argument("queue", metavar="QUEUE", help="the CUPS queue")
    u.add_argument("--json", action="store_true", help="print one JSON document")
    u.set_defaults(func=cmd_unwrap)
    s = cs.add_parser("status", help="queues: wrapped or not, state, reasons, supplies, jobs",
                      description="Every CUPS queue with its state, reasons, supply levels and "
                                  "pending or held jobs.")
    s.add_argument("--json", action="store_true", help="print one JSON document")
    s.set_defaults(func=cmd_status)


def _config(args: argparse.Namespace) -> Any:
    from station_agent.config import load_config
    from station_agent.paths import config_path

    path, _named = config_path(args.config)
    if not path.exists():
        raise BadInput(f"no configuration at {path}: give --config FILE")
    return load_config(path)


def _cups(args: argparse.Namespace) -> Any:
    from station_agent.config import load_config
    from station_agent.paths import config_path
    from station_agent.spooler.cups import Cups

    path, _named = config_path(args.config)
    server = load_config(path).cups_server if path.exists() else None
    return Cups(server)


def cmd_install(args: argparse.Namespace, state_dir: Path) -> int:
    from station_agent.spooler.install import install_backend

    cfg = _config(args)
    for line in install_backend(cfg.path, Path(args.backend_dir or cfg.cups_backend_dir),
                                state_dir):
        print(line)
    return 0


def _change(args: argparse.Namespace, fn: Any, verb: str) -> int:
    from station_agent.spooler.cups import CupsError

    try:
        old, new = fn(_cups(args), args.queue)
    except CupsError as exc:
        raise BadInput(str(exc)) if "no queue" in str(exc) else OperationFailed(str(exc)) \
            from None
    if args.json:
        emit_json({"queue": args.queue, "old_uri": old, "device_uri": new, "action": verb})
    else:
        print(f"{verb} queue {args.queue}: device URI {old} -> {new}")
    return 0


def cmd_wrap(args: argparse.Namespace, state_dir: Path) -> int:
    from station_agent.spooler.install import prepare_journal, wrap

    cfg = _config(args)
    pc = cfg.printer(args.printer)
    if pc.queue != args.queue:
        raise BadInput(f"[[printer]] {pc.id} has queue {pc.queue!r}, not {args.queue!r}: set "
                       f'queue = "{args.queue}" in its [[printer]] table first')
    code = _change(args, wrap, "wrapped")
    prepare_journal(state_dir)
    return code


def cmd_unwrap(args: argparse.Namespace, _state: Path) -> int:
    from station_agent.spooler.install import unwrap

    return _change(args, unwrap, "unwrapped")


def cmd_status(args: argparse.Namespace, _state: Path) -> int:
    from station_agent.spooler.cups import CupsError

    cups = _cups(args)
    try:
        queues = []
        for q in cups.queues():
            doc = q.as_dict()
            jobs = cups.jobs(q.name)
            doc["pending_jobs"] = sum(1 for j in jobs if j["state"] in ("pending", "processing"))
            doc["held_jobs"] = sum(1 for j in jobs if j["state"] in ("held", "stopped"))
            queues.append(doc)
    except CupsError as exc:
        raise OperationFailed(str(exc)) from None
    if args.json:
        emit_json({"server": cups.server, "queues": queues})
        return 0
    if not queues:
        print(f"no queues on {cups.server}")
    for d in queues:
        print(f"{d['queue']}: {d['state']}{' (wrapped)' if d['wrapped'] else ''}  "
              f"{d['device_uri']}")
        if d["reasons"]:
            print(f"  reasons: {', '.join(d['reasons'])}")
        for m in d["markers"]:
            print(f"  supply {m['name']}: {m['level']} %")
        print(f"  jobs: {d['pending_jobs']} pending, {d['held_jobs']} held")
    return 0
