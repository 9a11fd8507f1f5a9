"""``station-agent supplies``: ribbons, films and cleaning kits (DESIGN §10).

Reads ask the daemon when it runs (it knows the printers' counters) and read
the ledger otherwise; writes go through the daemon whenever it runs (it notes
the printer's card counter at installs and finishes) and straight into the
ledger when none does (the yield is then counted from jobs).
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path
from typing import Any

from station_agent.cli.ledger_cmds import positive_count
from station_agent.cli.output import emit_json, local_time
from station_agent.cli.remote import from_daemon


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``supplies`` and its subcommands."""
    sp = sub.add_parser("supplies", help="ribbons, films, cleaning kits: stock, units, yields",
                        description="Show each [[supply]] kind's stock, the unit in each "
                                    "printer, finished units' yields and the forecast; or "
                                    "record a delivery, an install, a finish or a write-off.")
    sp.add_argument("--json", action="store_true", help="print one JSON document")
    sp.set_defaults(func=cmd_show)
    ss = sp.add_subparsers(dest="supplies_cmd", metavar="ACTION")

    def action(name: str, help_: str, description: str, func: Any,
               *options: tuple[str, dict[str, Any]], with_id: bool = True) -> None:
        p = ss.add_parser(name, help=help_, description=description)
        p.add_argument("--kind", required=True, help="the [[supply]] kind, e.g. ribbon-ymcko")
        for flag, kw in options:
            p.add_argument(flag, **kw)
        if with_id:
            p.add_argument("--id", help="idempotency id (default: a new one)")
        p.add_argument("--json", action="store_true", help="print one JSON document")
        p.set_defaults(func=func)

    count = ("--count", {"required": True, "type": positive_count, "help": "units"})
    printer = ("--printer", {"required": True, "help": "the [[printer]] id"})
    action("receive", "record a delivery of supplies",
           "Record a delivery of units of one kind. The batch is its idempotency id: "
           "recording it twice changes nothing.", cmd_receive, count,
           ("--batch", {"required": True, "help": "batch or delivery-note number"}),
           with_id=False)
    action("install", "record the unit put into a printer",
           "Record that a unit of KIND from stock is now in PRINTER; the unit of that kind "
           "in it before is recorded as finished.", cmd_install, printer,
           ("--serial", {"help": "the unit's serial number, if it has one"}))
    action("finish", "record that the unit in a printer is used up",
           "Record that the unit of KIND in PRINTER is used up (taken out with nothing new "
           "put in).", cmd_finish, printer)
    action("write-off", "write supplies off, with a reason",
           "Write units of KIND off from stock (or, with --printer, the unit in that "
           "printer), with a reason.", cmd_write_off, count,
           ("--reason", {"required": True, "help": "why (one line)"}),
           ("--printer", {"help": "write off the unit in this printer instead of stock"}))


def _config(args: argparse.Namespace) -> Any:
    from station_agent.config import load_config
    from station_agent.paths import config_path

    path, _named = config_path(args.config)
    return load_config(path)


# --- reading ------------------------------------------------------------------------

def cmd_show(args: argparse.Namespace, state_dir: Path) -> int:
    """``supplies [--json]``."""
    doc = from_daemon(state_dir, "supplies")
    if doc is None:
        from station_agent.ledger import open_reader
        from station_agent.supplies.outlook import supply_view

        config = _config(args)
        conn = open_reader(state_dir)
        try:
            doc = {"kinds": [k.as_dict() for k in supply_view(conn, config)]}
        finally:
            conn.close()
    if args.json:
        emit_json(doc)
    else:
        print(supplies_text(doc))
    return 0


def supplies_text(doc: dict[str, Any]) -> str:
    """The supplies document as a technician reads it."""
    if not doc["kinds"]:
        return "no supply kinds: add a [[supply]] to the config (docs/SUPPLIES.md)"
    lines = []
    for k in doc["kinds"]:
        lines.append(f"{k['kind']} ({k['part']}, rated {k['rated_yield']:,} cards): "
                     f"{k['stock']:,} in stock, {k['installed']:,} in printers, "
                     f"{k['finished']:,} used up, {k['written_off']:,} written off"
                     + ("  LOW" if k["low"] else ""))
        for u in k["in_printers"]:
            serial = f" (serial {u['serial']})" if u["serial"] else ""
            since = local_time(u["installed_at"], zone=False)
            lines.append(f"  in {u['printer']}{serial} since {since}: "
                         f"{u['cards']:,} cards so far ({u['measured']})")
        for y in k["yields"]:
            flag = "  BELOW RATING" if y["low_yield"] else ""
            how = "ended" if y["ended_by"] == "supply_finish" else "written off"
            ended = local_time(y["ended_at"])[:10]
            lines.append(f"  {how} {ended} in {y['printer']}: {y['cards']:,} "
                         f"cards, {y['yield_percent']:g} % of {y['rated_yield']:,} "
                         f"({y['measured']}){flag}")
        if k["days_left"] is None:
            lines.append(f"  forecast: no cards printed on {', '.join(k['printers']) or 'its '}"
                         "printers in the last 7 days")
        else:
            lines.append(f"  forecast: {k['cards_per_day']:,} cards a day, a unit per "
                         f"{k['unit_yield']:,} cards: {k['days_left']:g} days left, runs out "
                         f"{k['run_out']}; request {k['request_quantity']:,} for 30 days")
    return "\n".join(lines)


# --- writing ------------------------------------------------------------------------

def _write(args: argparse.Namespace, state_dir: Path, op: str, params: dict[str, Any]) -> int:
    from station_agent.ledger import Ledger, model
    from station_agent.ledger import supplies as ledger_supplies

    config = _config(args)
    config.supply(params["kind"], params.get("printer"))   # bad input refused here
    doc = from_daemon(state_dir, op, **params)
    if doc is None:
        kind, printer = params["kind"], params.get("printer") or ""
        with Ledger(state_dir) as ledger:
            if op == "supply_receive":
                transfers = [model.supply_receive(kind, params["count"], params["batch_id"])]
            elif op == "supply_install":
                transfers = ledger.read(lambda c: ledger_supplies.install_transfers(
                    c, kind, printer, params["idem_id"], serial=params.get("serial")))
            elif op == "supply_finish":
                transfers = [model.supply_finish(kind, printer, params["idem_id"])]
            else:
                transfers = [model.supply_write_off(kind, params["count"], params["reason"],
                                                    params["idem_id"], device=printer or None)]
            entries = []
            for result in ledger.record_many(transfers):
                if not isinstance(result, model.Entry):
                    raise result
                entries.append(result)
            doc = {"entries": [e.as_dict() for e in entries],
                   "replay": all(e.replay for e in entries),
                   "supplies": ledger.read(ledger_supplies.balances)}
    if args.json:
        emit_json(doc)
        return 0
    for e in doc["entries"]:
        where = f" in {e['device']}" if e["device"] else ""
        again = " (already recorded: nothing changed)" if doc["replay"] else ""
        print(f"entry {e['seq']}: {e['kind'].replace('_', ' ')} {e['count']} {e['item']}"
              f"{where}{again}")
    bal = doc["supplies"].get(params["kind"], {})
    print(f"{params['kind']}: {bal.get('supply_stock', 0):,} in stock, "
          f"{bal.get('supply_installed', 0):,} in printers")
    return 0


def _id(args: argparse.Namespace, op: str, kind: str) -> str:
    return args.id or f"{op}:{kind}:{uuid.uuid4()}"


def cmd_receive(args: argparse.Namespace, state_dir: Path) -> int:
    """``supplies receive --kind K --count N --batch ID``."""
    return _write(args, state_dir, "supply_receive",
                  {"kind": args.kind, "count": args.count, "batch_id": args.batch})


def cmd_install(args: argparse.Namespace, state_dir: Path) -> int:
    """``supplies install --kind K --printer P [--serial S]``."""
    return _write(args, state_dir, "supply_install",
                  {"kind": args.kind, "printer": args.printer, "serial": args.serial,
                   "idem_id": _id(args, "supply_install", args.kind)})


def cmd_finish(args: argparse.Namespace, state_dir: Path) -> int:
    """``supplies finish --printer P --kind K``."""
    return _write(args, state_dir, "supply_finish",
                  {"kind": args.kind, "printer": args.printer,
                   "idem_id": _id(args, "supply_finish", args.kind)})


def cmd_write_off(args: argparse.Namespace, state_dir: Path) -> int:
    """``supplies write-off --kind K --count N --reason T [--printer P]``."""
    return _write(args, state_dir, "supply_write_off",
                  {"kind": args.kind, "count": args.count, "reason": args.reason,
                   "printer": args.printer, "idem_id": _id(args, "supply_write_off", args.kind)})
