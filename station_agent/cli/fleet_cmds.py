"""``fleet``: every station on a broker, as the central side sees it.

Without ``--watch`` it listens for ``--wait`` seconds (retained status and
fault lists arrive at once; events as they come), prints one view and exits.
With ``--watch`` it keeps listening: a refreshed table on a terminal, one
JSON document per line with ``--json``, else a line per change.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from station_agent import clock
from station_agent.cli.broker_args import add_broker_arguments, broker_of
from station_agent.cli.output import emit_json


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``fleet``."""
    p = sub.add_parser(
        "fleet", help="every station on the broker: online, stock, today, faults, gaps",
        description="Subscribe to every station on an MQTT broker and show, per station: "
                    "online/offline and last seen, stock and days left, issued and spoiled "
                    "today, active faults, and gaps in its event numbers (events are "
                    "deduplicated by event id).")
    add_broker_arguments(p)
    p.add_argument("--prefix", default="stations", help="topic prefix (default: stations)")
    p.add_argument("--session", metavar="NAME",
                   help="durable session name: the broker keeps events for it while away")
    p.add_argument("--wait", type=float, default=2.0, metavar="S",
                   help="seconds to listen before printing (default 2; without --watch)")
    p.add_argument("--watch", action="store_true", help="keep listening and refreshing")
    p.add_argument("--json", action="store_true", help="print JSON (one document per update "
                                                       "with --watch)")
    p.set_defaults(func=cmd_fleet, needs_state=False)


def cmd_fleet(args: argparse.Namespace, _state: Path | None) -> int:
    """``fleet``."""
    from station_agent.errors import BadInput
    from station_agent.fleet.consumer import FleetConsumer
    from station_agent.fleet.view import FleetView

    if args.wait < 0:
        raise BadInput("--wait: expected a number of seconds >= 0")
    broker = broker_of(args)
    consumer = FleetConsumer(broker, FleetView(args.prefix), session=args.session).start()
    try:
        if not args.watch:
            time.sleep(args.wait)
            doc = consumer.snapshot()
            if args.json:
                emit_json(doc)
            else:
                print(render(doc))
            return 0
        tty = sys.stdout.isatty() and not args.json
        last = ""
        while True:
            consumer.changed.wait(1.0)
            consumer.changed.clear()
            doc = consumer.snapshot()
            text = json.dumps(doc, ensure_ascii=False) if args.json else render(doc)
            if text == last and not tty:
                continue
            last = text
            if tty:
                sys.stdout.write("\x1b[H\x1b[2J" + text + "\n")
            else:
                sys.stdout.write(text + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        return 0
    finally:
        consumer.stop()


def _ago(ts: str | None) -> str:
    if not ts:
        return "never"
    from datetime import datetime

    try:
        then = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return ts
    s = max(0, int((clock.now() - then).total_seconds()))
    return f"{s}s ago" if s < 120 else f"{s // 60}m ago" if s < 7200 else f"{s // 3600}h ago"


def _cell(v: Any) -> str:
    return "-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)


def render(doc: dict[str, Any]) -> str:
    """The fleet as a table, one station per line."""
    stations = doc["stations"]
    if not stations:
        return "no stations seen on the broker yet"
    head = ("STATION", "STATE", "LAST SEEN", "STOCK", "DAYS", "ISSUED", "SPOILED", "FAULTS",
            "EVENTS", "GAPS")
    rows = [head]
    for s in stations:
        state = "online" if s["online"] else ("offline" if s["online"] is False else "?")
        gaps = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in s["gaps"]) or "none"
        rows.append((s["station_id"], state, _ago(s["last_seen"]), _cell(s["stock"]),
                     _cell(s["days_left"]), _cell(s["issued_today"]),
                     _cell(s["spoiled_today"]), ", ".join(s["active_faults"]) or "-",
                     f"{s['events']:,} (+{s['duplicates']} dup)", gaps))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)
