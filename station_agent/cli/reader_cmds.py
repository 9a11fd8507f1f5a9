"""``reader scan``: every PC/SC reader, its card, ATR, UID and chip verdict (DESIGN §5).

Exit 0 when the scan ran (even with every reader empty), 1 when PC/SC itself
is unavailable.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from station_agent.cli.output import emit_json
from station_agent.errors import BadInput, OperationFailed


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``reader`` and its subcommands."""
    reader = sub.add_parser("reader", help="smart-card readers: scan for cards and check chips",
                            description="Smart-card readers through PC/SC.")
    rsub = reader.add_subparsers(dest="reader_cmd", metavar="ACTION", required=True)
    p = rsub.add_parser("scan", help="every reader: card present, ATR, UID, chip verdict",
                        description="List every PC/SC reader; for each card present show its "
                                    "ATR, UID (when the card gives one) and whether its chip "
                                    "passes the check.")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--url", help="only readers whose name contains this (pcsc://NAME)")
    which.add_argument("--reader", metavar="ID",
                       help="the [[reader]] with this id in station.toml: its URL and its "
                            "chip policy (chip_atr, chip_select_sw, chip_retries)")
    p.add_argument("--atr", action="append", metavar="HEX",
                   help="expected ATR prefix, ? for any nibble (repeatable; default "
                        "3B8?8001: any contactless chip)")
    p.add_argument("--select-sw", action="append", metavar="SW",
                   help="status word expected from SELECT MF (repeatable; default 9000)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_scan, needs_state=False)


def _configured(args: argparse.Namespace) -> tuple[str, Any]:
    """The URL and chip policy of ``--reader ID`` from station.toml."""
    from station_agent.config import load_config
    from station_agent.paths import config_path

    path, _named = config_path(args.config)
    cfg = load_config(path)
    for r in cfg.readers:
        if r.id == args.reader:
            return r.url, r.policy()
    known = ", ".join(r.id for r in cfg.readers) or "none"
    raise BadInput(f"{path.name}: no [[reader]] with id {args.reader!r} (configured: {known}); "
                   "use one of those ids or --url")


def _policy(args: argparse.Namespace, base: Any = None) -> Any:
    from dataclasses import replace

    from drivers.readers.base import ChipPolicy

    try:
        kw: dict[str, Any] = {}
        if args.atr:
            kw["atr_patterns"] = tuple(args.atr)
        if args.select_sw:
            kw["expected_sw"] = tuple(args.select_sw)
        return replace(base, **kw) if base is not None else ChipPolicy(**kw)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def cmd_scan(args: argparse.Namespace, _state: Path | None) -> int:
    """``reader scan``."""
    from drivers.readers.base import ReaderError
    from drivers.readers.pcsc import PcscReader, list_readers, parse_pcsc_url

    url, base = _configured(args) if args.reader else (args.url, None)
    policy = _policy(args, base)
    want = ""
    if url:
        try:
            want = parse_pcsc_url(url)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    try:
        names = [n for n in list_readers() if want in n]
    except ReaderError as exc:
        raise OperationFailed(exc.message) from None
    results: list[dict[str, Any]] = []
    for name in names:
        reader = PcscReader(f"pcsc://{name}", policy)
        try:
            if reader.card_present():
                doc = reader.check(timeout=0.5).as_dict()
            else:
                doc = {"reader": name, "card_present": False}
        except ReaderError as exc:
            doc = {"reader": name, "card_present": None, "error": exc.message, "fault": exc.code}
        finally:
            reader.close()
        results.append(doc)
    if args.json:
        emit_json({"readers": results})
        return 0
    if not results:
        print("no readers" + (f" matching {want!r}" if want else ""))
    for doc in results:
        print(_line(doc))
    return 0


def _line(doc: dict[str, Any]) -> str:
    name = doc["reader"]
    if doc.get("error"):
        return f"{name}: {doc['error']}"
    if not doc["card_present"]:
        return f"{name}: no card"
    uid = doc["uid"] or doc["uid_note"]
    verdict = "chip OK" if doc["chip_ok"] else f"chip FAILED: {doc['reason']}"
    if doc["atr"] is None:
        return f"{name}: card present; {verdict}"
    return f"{name}: ATR {doc['atr']}  UID {uid}  {verdict}"
