"""``printer info|counters|status|clear``: talk to one card printer (DESIGN §5).

The printer is named either by ``--url`` (any device URL, no config file
needed) or by ``--printer ID`` from ``station.toml``. Each command opens the
device once, asks, prints, and closes it again.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.registry import PRINTER_FAMILIES
from station_agent.cli.argtypes import seconds
from station_agent.cli.output import emit_json, table
from station_agent.errors import BadInput, OperationFailed


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``printer`` and its subcommands."""
    printer = sub.add_parser("printer", help="identity, counters, status of a card printer; "
                                             "clear its errors",
                             description="Talk to one card printer, named by --url (no config "
                                         "needed) or by --printer ID from station.toml.")
    psub = printer.add_subparsers(dest="printer_cmd", metavar="ACTION", required=True)
    actions: dict[str, tuple[str, Callable[[argparse.Namespace, Path | None], int]]] = {
        "info": ("model, serial number and firmware", cmd_info),
        "counters": ("lifetime counters (cards picked, panels, cleanings, ribbon left)",
                     cmd_counters),
        "status": ("conditions, card position, ready or not", cmd_status),
        "clear": ("clear the printer's error state, then show its status", cmd_clear),
    }
    for name, (helptext, func) in actions.items():
        p = psub.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:]
                            + ".")
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument("--url", help="device URL: serial:///dev/ttyUSB0?baudrate=115200, "
                                         "socket://host:port, usb://0f49:0a00, lp:///dev/usb/lp0, "
                                         "sim://evolis")
        which.add_argument("--printer", metavar="ID", help="a [[printer]] id from station.toml")
        p.add_argument("--family", choices=PRINTER_FAMILIES.names(),
                       help="protocol family (needed unless the URL or config implies it)")
        p.add_argument("--timeout", type=seconds(0.05, 120), default=2.0,
                       help="seconds to wait for each reply (default 2)")
        p.add_argument("--json", action="store_true", help="print one JSON document")
        p.set_defaults(func=func, needs_state=False)


def _target(args: argparse.Namespace) -> tuple[str, str | None]:
    """The URL and family the user named, directly or through the config."""
    if args.url:
        return args.url, args.family
    from station_agent.config import load_config
    from station_agent.paths import config_path

    path, _named = config_path(args.config)
    cfg = load_config(path).printer(args.printer)
    return cfg.url, args.family or cfg.family


def _with_printer(args: argparse.Namespace, ask: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """Open the printer, run ``ask`` on it, close it; errors as one-line CLI errors."""
    from drivers.printers import PrinterError, open_printer
    from drivers.transports import TransportError

    url, family = _target(args)
    try:
        printer = open_printer(url, family, timeout=args.timeout)
    except (ValueError, TransportError) as exc:
        raise BadInput(str(exc)) from None
    try:
        with printer:
            doc = {"url": url, "family": printer.family}
            doc.update(ask(printer))
            return doc
    except PrinterError as exc:
        # Offline and replaced-printer messages already say what to do.
        hint = ("; check --family and the URL's serial settings (baudrate)"
                if exc.code == "printer_protocol_error" else "")
        raise OperationFailed(f"{exc.message}{hint} (fault {exc.code})") from None


def _show(args: argparse.Namespace, doc: dict[str, Any], title: str) -> int:
    if args.json:
        emit_json(doc)
    else:
        rows = [(k, ", ".join(v) or "none" if isinstance(v, list) else ("-" if v is None else v))
                for k, v in doc.items() if k != "url"]
        print(f"{title} at {doc['url']}")
        print(table(rows, right=False))
    return 0


def _status_doc(printer: Any) -> dict[str, Any]:
    s = printer.status()
    return {"ready": s.ready, "conditions": list(s.conditions), "card_at": s.card_at,
            "busy": s.busy, "raw": s.raw}


def cmd_info(args: argparse.Namespace, _state: Path | None) -> int:
    """``printer info``."""
    def ask(p: Any) -> dict[str, Any]:
        ident = dataclasses.asdict(p.identity())
        ident.pop("family", None)
        return ident
    return _show(args, _with_printer(args, ask), "Printer")


def cmd_counters(args: argparse.Namespace, _state: Path | None) -> int:
    """``printer counters``."""
    return _show(args, _with_printer(args, lambda p: dataclasses.asdict(p.counters())),
                 "Counters of the printer")


def cmd_status(args: argparse.Namespace, _state: Path | None) -> int:
    """``printer status``."""
    return _show(args, _with_printer(args, _status_doc), "Status of the printer")


def cmd_clear(args: argparse.Namespace, _state: Path | None) -> int:
    """``printer clear``: clear errors, then report the status after."""
    def ask(p: Any) -> dict[str, Any]:
        p.clear()
        return {"cleared": True} | _status_doc(p)
    return _show(args, _with_printer(args, ask), "Cleared the printer")
