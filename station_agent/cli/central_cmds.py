"""``central run`` and ``central report``: the central ledger (DESIGN §11, docs/CENTRAL.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from station_agent.cli.broker_args import add_broker_arguments, broker_of
from station_agent.cli.output import emit_json


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``central``."""
    p = sub.add_parser(
        "central", help="the central ledger: load every station's events into PostgreSQL, "
                        "the national view",
        description="The central side a ministry or a province runs: `central run` loads "
                    "every station's events from the broker into PostgreSQL exactly once and "
                    "checks each station's hash chain; `central report` shows every office's "
                    "stock, days left and run-out date and splits a delivery by need.")
    csub = p.add_subparsers(dest="central_cmd", metavar="COMMAND", required=True)

    r = csub.add_parser(
        "run", help="load events from the broker into PostgreSQL (runs until stopped)",
        description="Subscribe to every station's events (an MQTT 5 shared subscription with "
                    "a durable session) and load them into PostgreSQL, acknowledging each "
                    "message only after its batch is committed. Several loaders may run at "
                    "once with the same --group and different --name.")
    add_broker_arguments(r, "broker user name (e.g. central)")
    r.add_argument("--db", required=True, metavar="URL",
                   help="postgresql://[user@]host[:port]/database (password in ~/.pgpass)")
    r.add_argument("--prefix", default="stations", help="topic prefix (default: stations)")
    r.add_argument("--group", default="central",
                   help="shared subscription group of the loaders (default: central)")
    r.add_argument("--name", default=None,
                   help="this loader's durable session name, unique per loader "
                        "(default: central-loader-<host name>)")
    r.add_argument("--no-share", action="store_true",
                   help="a plain durable subscription instead of a shared one: for a single "
                        "loader on a broker that forgets shared subscriptions when it restarts "
                        "(mosquitto 2.0; see docs/CENTRAL.md)")
    r.add_argument("--batch", type=int, default=8000, metavar="N",
                   help="messages per transaction at most (default 8000; the broker may "
                        "send four batches ahead)")
    r.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    r.set_defaults(func=cmd_run, needs_state=False)

    rep = csub.add_parser(
        "report", help="the national view: offices by run-out date, allocation by need",
        description="Every office's stations (online, last seen), stock, blanks in printers, "
                    "issued and spoiled today and over 30 days, days left and run-out date at "
                    "the trailing rate, server outages and chain status, sorted by run-out "
                    "date, with a national total. --allocate N splits N blanks by need.")
    rep.add_argument("--db", required=True, metavar="URL",
                     help="postgresql://[user@]host[:port]/database")
    rep.add_argument("--format", choices=("text", "html", "csv", "json"), default="text")
    rep.add_argument("--json", action="store_true", help="same as --format json")
    rep.add_argument("--region", metavar="R", help="only this region")
    rep.add_argument("--office", metavar="O", help="only this office")
    rep.add_argument("--allocate", type=int, metavar="N",
                     help="split N blanks among the offices by need")
    rep.add_argument("--lot", type=int, default=500, metavar="N",
                     help="blanks per pickup lot (default 500)")
    rep.add_argument("--horizon", type=int, default=30, metavar="DAYS",
                     help="days of cover to aim for (default 30)")
    rep.add_argument("--timezone", default="Asia/Jakarta", metavar="ZONE",
                     help="whose calendar day is \"today\" (default Asia/Jakarta)")
    rep.add_argument("--lang", choices=("id", "en"), default="id",
                     help="language of the text and HTML report (default id)")
    rep.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    rep.set_defaults(func=cmd_report, needs_state=False)


def cmd_run(args: argparse.Namespace, _state: Path | None) -> int:
    """``central run``: until SIGTERM or SIGINT."""
    import signal
    import socket
    import threading

    from station_agent import logs
    from station_agent.central.loader import Loader, Settings
    from station_agent.errors import BadInput

    if not 1 <= args.batch <= 100_000:
        raise BadInput("--batch: expected a number of messages from 1 to 100000")
    broker = broker_of(args)
    name = args.name or f"central-loader-{socket.gethostname()}"
    logs.configure(args.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    loader = Loader(broker, Settings(args.db, group=args.group, name=name, prefix=args.prefix,
                                     batch=args.batch, shared=not args.no_share)).start()
    loader.run(stop)
    return 0


def cmd_report(args: argparse.Namespace, _state: Path | None) -> int:
    """``central report``."""
    from station_agent.central import schema
    from station_agent.central.loader import connect_db
    from station_agent.central.national import national_view
    from station_agent.central.render import render
    from station_agent.errors import BadInput

    if args.allocate is not None and args.allocate < 0:
        raise BadInput("--allocate: expected a number of blanks >= 0")
    if args.lot < 1:
        raise BadInput("--lot: expected a number of blanks >= 1")
    if args.horizon < 1:
        raise BadInput("--horizon: expected a number of days >= 1")
    fmt = "json" if args.json else args.format
    with connect_db(args.db) as conn:
        schema.require_current(conn)
        view = national_view(conn, region=args.region, office=args.office,
                             allocate=args.allocate, lot=args.lot, horizon=args.horizon,
                             timezone=args.timezone)
    if fmt == "json":
        if args.output:
            import json

            Path(args.output).write_text(json.dumps(view.as_dict(), ensure_ascii=False,
                                                    indent=2) + "\n", encoding="utf-8")
        else:
            emit_json(view.as_dict())
        return 0
    text = render(view, fmt, args.lang)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
