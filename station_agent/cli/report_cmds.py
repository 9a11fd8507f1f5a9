"""``report``: the daily reconciliation of blanks ("berita acara")."""

from __future__ import annotations

import argparse
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from station_agent.config import Config


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report``."""
    p = sub.add_parser(
        "report", help="daily reconciliation: balances, movements, faults, forecast",
        description="The daily reconciliation of blanks: opening stock, received, picked, "
                    "issued, spoiled (held, handed back), lost, closing stock with the "
                    "identity shown balanced; faults and downtime per device and for the "
                    "network; cards per hour; days of stock left at the trailing 7-day "
                    "rate, the run-out date and the quantity to request.")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--date", default="today", metavar="D",
                      help="the day: YYYY-MM-DD, today or yesterday (default: today, local "
                           "time)")
    when.add_argument("--month", metavar="YYYY-MM",
                      help="the monthly recapitulation of this month instead (Indonesian "
                           "unless --lang en)")
    p.add_argument("--format", choices=("text", "csv", "html"), default="text")
    p.add_argument("--lang", choices=("en", "id"), default=None,
                   help="labels for text and html: en (English) or id (Bahasa Indonesia); "
                        "default en for a day, id for a month")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--cover-days", type=int, default=30, metavar="N",
                   help="days of stock the suggested request should cover (default 30)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    p.set_defaults(func=cmd_report)


def parse_day(text: str) -> object:
    """``YYYY-MM-DD``, ``today`` or ``yesterday`` -> a date; BadInput otherwise."""
    from datetime import date, timedelta

    from station_agent.errors import BadInput

    if text == "today":
        return date.today()
    if text == "yesterday":
        return date.today() - timedelta(days=1)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--date {text!r}: expected YYYY-MM-DD, today or yesterday") from None


def cmd_report(args: argparse.Namespace, state_dir: Path) -> int:
    """``report``."""
    from station_agent.cli.output import emit_json
    from station_agent.errors import BadInput
    from station_agent.ledger.store import open_reader, read_meta
    from station_agent.report.model import build_report
    from station_agent.report.render import render

    if not 1 <= args.cover_days <= 3650:
        raise BadInput("--cover-days: expected a whole number of days from 1 to 3650")
    if args.month is not None:
        return _month(args, state_dir)
    args.lang = args.lang or "en"
    day = parse_day(args.date)
    cfg = _configured(args)
    kinds = cfg.supplies if cfg else ()
    conn = open_reader(state_dir)
    try:
        station = read_meta(conn).get("station_id") or "?"
        report = build_report(conn, day, station_id=station,  # type: ignore[arg-type]
                              cover_days=args.cover_days, supply_kinds=kinds)
    finally:
        conn.close()
    if args.json:
        emit_json(report.as_dict())
        return 0
    _put(render(report, args.format, args.lang), args.output, f"report for {day}")
    ok = report.stock_identity_ok and report.station_identity_ok
    return 0 if ok else 1


def parse_month(text: str) -> tuple[int, int]:
    """``YYYY-MM`` -> (year, month); BadInput otherwise."""
    import re

    from station_agent.errors import BadInput

    m = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise BadInput(f"--month {text[:20]!r}: expected YYYY-MM, such as 2026-11")
    return int(m.group(1)), int(m.group(2))


def _month(args: argparse.Namespace, state_dir: Path) -> int:
    """``report --month YYYY-MM``."""
    from station_agent.cli.output import emit_json
    from station_agent.ledger.store import open_reader, read_meta
    from station_agent.report.month import build_month
    from station_agent.report.month_render import render_month

    year, month = parse_month(args.month)
    # The header names the office and region, the supplies their ratings, when configured.
    cfg = _configured(args)
    conn = open_reader(state_dir)
    try:
        station = read_meta(conn).get("station_id") or "?"
        report = build_month(conn, year, month, station_id=station,
                             office=cfg.office if cfg else None,
                             region=cfg.region if cfg else None,
                             supply_kinds=cfg.supplies if cfg else ())
    finally:
        conn.close()
    if args.json:
        emit_json(report.as_dict())
        return 0
    _put(render_month(report, args.format, args.lang or "id"), args.output,
         f"recapitulation of {report.label}")
    return 0 if report.stock_identity_ok and report.station_identity_ok else 1


def _configured(args: argparse.Namespace) -> Config | None:
    """The config named with --config, or the default one when it exists; None otherwise."""
    from station_agent.config import load_config
    from station_agent.paths import config_path

    path, named = config_path(args.config)
    return load_config(path) if named or path.exists() else None


def _put(text: str, output: str | None, what: str) -> None:
    """``text`` to ``output`` (saying where it went) or to stdout."""
    from station_agent.errors import OperationFailed

    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise OperationFailed(f"cannot write {output} ({exc.strerror}): choose a "
                                  "writable path") from None
        print(f"{what} written to {Path(output).resolve()}")
    else:
        print(text, end="" if text.endswith("\n") else "\n")
