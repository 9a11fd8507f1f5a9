"""``blanks`` and ``ledger`` commands (DESIGN §5)."""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from pathlib import Path
from typing import Any

from station_agent.cli.output import balances_text, emit_json, entry_text, plural
from station_agent.cli.remote import from_daemon
from station_agent.ledger import Entry, Ledger, model, open_reader, read_balances, verify
from station_agent.ledger.export import FORMATS, export
from station_agent.ledger.store import translate

_POSITIVE = re.compile(r"^\+?[0-9]+$")
_SIGNED = re.compile(r"^[+-]?[0-9]+$")
_HEAD = re.compile(r"^([0-9]+):([0-9a-fA-F]{8,64})$")


def positive_count(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    if not _POSITIVE.match(text) or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number of blanks, got {text!r}")
    if int(text) > model.MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{text} is more than {model.MAX_COUNT:,} blanks")
    return int(text)


def signed_count(text: str) -> int:
    """argparse type: a non-zero whole number with an optional sign."""
    if not _SIGNED.match(text) or int(text) == 0:
        raise argparse.ArgumentTypeError(
            f"expected a non-zero whole number such as +5 or -3, got {text!r}")
    if abs(int(text)) > model.MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{text} is more than {model.MAX_COUNT:,} blanks")
    return int(text)


def witnessed_head(text: str) -> tuple[int, str]:
    """argparse type: ``SEQ:HASH`` (hash prefix of at least 8 hex digits)."""
    m = _HEAD.match(text)
    if m is None or int(m.group(1)) < 1:
        raise argparse.ArgumentTypeError(
            f"expected ENTRY:HASH such as 1234:9f86d081884c7d65, got {text!r}")
    return int(m.group(1)), m.group(2).lower()


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``blanks`` and ``ledger`` with their subcommands."""
    blanks = sub.add_parser("blanks", help="blank balances, deliveries, disposals, corrections",
                            description="Show blank balances, or record a delivery, disposal, "
                                        "correction or write-off.")
    blanks.add_argument("--json", action="store_true", help="print one JSON document")
    blanks.set_defaults(func=cmd_balances)
    bsub = blanks.add_subparsers(dest="blanks_cmd", metavar="ACTION")

    p = bsub.add_parser("receive", help="record a delivery of blanks",
                        description="Record a delivery. The batch id is its idempotency id: "
                                    "recording the same delivery twice changes nothing.")
    p.add_argument("--batch", required=True, help="batch id on the delivery note")
    p.add_argument("--count", required=True, type=positive_count, help="blanks delivered")
    p.add_argument("--first-serial", help="serial of the first blank, e.g. KTP0001200")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_receive)

    p = bsub.add_parser("dispose", help="hand back or destroy spoiled blanks",
                        description="Move spoiled blanks from custody to disposed, under a "
                                    "document reference (its idempotency id).")
    p.add_argument("--count", required=True, type=positive_count, help="blanks disposed of")
    p.add_argument("--reference", required=True, help="hand-back or destruction document")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_dispose)

    p = bsub.add_parser("adjust", help="audited stock correction after a physical count",
                        description="Correct stock by a signed count after a physical count.")
    p.add_argument("--count", required=True, type=signed_count,
                   help="signed correction, e.g. +5 or -3 (use --count=-3 or --count -3)")
    p.add_argument("--reason", required=True, help="why (one line)")
    p.add_argument("--id", help="idempotency id (default: a new one, printed)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_adjust)

    p = bsub.add_parser("write-off", help="write blanks off from stock to lost",
                        description="Write blanks off from stock to lost, with a reason.")
    p.add_argument("--count", required=True, type=positive_count, help="blanks written off")
    p.add_argument("--reason", required=True, help="why (one line)")
    p.add_argument("--id", help="idempotency id (default: a new one, printed)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_write_off)

    ledger = sub.add_parser("ledger", help="verify or export the ledger",
                            description="Verify or export the hash-chained ledger.")
    lsub = ledger.add_subparsers(dest="ledger_cmd", metavar="ACTION", required=True)
    p = lsub.add_parser("verify", help="recompute the chain and balances",
                        description="Recompute the hash chain and every balance from the "
                                    "entries. Exit 1 when anything does not match.")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--expect-head", type=witnessed_head, metavar="ENTRY:HASH",
                   help="a chain head witnessed earlier (daily report, uplink) that must "
                        "still hold")
    p.set_defaults(func=cmd_verify)
    p = lsub.add_parser("export", help="the full log as CSV or JSON lines",
                        description="Write every entry with every field.")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--output", "-o", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_export)
    p = lsub.add_parser("backup", help="a verified copy of the state database",
                        description="Copy the state database (ledger, outbox, fault log) "
                                    "while the daemon runs, verify the copy's chain and "
                                    "balances, and only then write FILE. docs/INSTALL.md says "
                                    "how to restore it.")
    p.add_argument("file", metavar="FILE", help="the backup file to write")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_backup)


# --- reads --------------------------------------------------------------------

def cmd_balances(args: argparse.Namespace, state_dir: Path) -> int:
    """``blanks [--json]``."""
    conn = open_reader(state_dir)
    try:
        b = read_balances(conn)
    finally:
        conn.close()
    if args.json:
        emit_json(b.as_dict())
    else:
        print(balances_text(b, str(state_dir)))
    return 0


def cmd_verify(args: argparse.Namespace, state_dir: Path) -> int:
    """``ledger verify [--json]``."""
    conn = open_reader(state_dir)
    try:
        report = verify(conn, expect=args.expect_head)
    finally:
        conn.close()
    if args.json:
        emit_json(report.as_dict())
    elif report.ok:
        print(f"ledger OK: {plural(report.entries, 'entry', 'entries')}, chain and balances "
              "match")
        print(f"chain head {report.entries}:{report.chain_head} (write it on the daily report "
              "to witness it)")
    else:
        where = (f"first broken entry {report.first_break}" if report.first_break is not None
                 else "entries intact, stored state differs")
        print(f"ledger BROKEN ({where}), {plural(report.entries, 'entry', 'entries')} "
              "verified:")
        for problem in report.problems:
            print(f"  - {problem}")
        print("keep the file as evidence and restore the ledger from a backup")
    return 0 if report.ok else 1


def cmd_export(args: argparse.Namespace, state_dir: Path) -> int:
    """``ledger export --format csv|jsonl``."""
    conn = open_reader(state_dir)
    try:
        if args.output:
            out_path = Path(args.output)
            try:
                with out_path.open("w", encoding="utf-8", newline="") as out:
                    n = export(conn, out, args.format)
            except OSError as exc:
                raise translate(exc, out_path, "writing") from exc
            print(f"exported {plural(n, 'entry', 'entries')} to {out_path}", file=sys.stderr)
        else:
            export(conn, sys.stdout, args.format)
    finally:
        conn.close()
    return 0


def cmd_backup(args: argparse.Namespace, state_dir: Path) -> int:
    """``ledger backup FILE [--force]``."""
    from station_agent.ledger.backup import backup

    done = backup(state_dir, Path(args.file), force=args.force)
    if args.json:
        emit_json(done.as_dict())
    else:
        r = done.report
        print(f"backup written to {done.path} ({done.bytes:,} bytes): "
              f"{plural(r.entries, 'entry', 'entries')}, chain and balances verified")
        print(f"chain head {r.entries}:{r.chain_head}")
    return 0


# --- writes -------------------------------------------------------------------

def _through_daemon(state_dir: Path, transfer: model.Transfer) -> dict[str, Any] | None:
    """Record through the running daemon (DESIGN §2: the CLI never writes behind
    its back); None when no daemon serves ``state_dir``."""
    model.validate(transfer)   # bad input is refused here, daemon or not
    t = transfer
    params: dict[str, Any]
    if t.kind == model.RECEIVE:
        params = {"batch_id": t.batch_id, "count": t.count}
        if t.first_serial is not None:
            params["first_serial"] = t.first_serial
    elif t.kind == model.DISPOSE:
        params = {"count": t.count, "reference": t.reference, "idem_id": t.idem_id}
    elif t.kind == model.ADJUST:
        params = {"count": t.count if t.dst == model.STOCK else -t.count,
                  "reason": t.reason, "idem_id": t.idem_id}
    else:
        params = {"count": t.count, "reason": t.reason, "idem_id": t.idem_id}
    doc: dict[str, Any] | None = from_daemon(state_dir, t.kind, **params)
    return doc


def _record(args: argparse.Namespace, state_dir: Path, transfer: model.Transfer) -> int:
    doc = _through_daemon(state_dir, transfer)
    if doc is None:
        with Ledger(state_dir) as ledger:
            entry: Entry = ledger.record(transfer)
            doc = {"entry": entry.as_dict(), "replay": entry.replay,
                   "balances": ledger.balances().as_dict()}
    if args.json:
        emit_json(doc)
    else:
        entry = Entry(**doc["entry"], replay=doc["replay"])
        print(entry_text(entry))
        b = doc["balances"]
        print(f"stock now {b['stock']:,}, spoiled held {b['spoiled_held']:,}")
    return 0


def _new_id(kind: str, given: str | None) -> str:
    return given if given else f"{kind}:{uuid.uuid4()}"


def cmd_receive(args: argparse.Namespace, state_dir: Path) -> int:
    """``blanks receive --batch ID --count N [--first-serial S]``."""
    return _record(args, state_dir, model.receive(args.batch, args.count,
                                                  first_serial=args.first_serial))


def cmd_dispose(args: argparse.Namespace, state_dir: Path) -> int:
    """``blanks dispose --count N --reference DOC``."""
    return _record(args, state_dir, model.dispose(args.count, args.reference))


def cmd_adjust(args: argparse.Namespace, state_dir: Path) -> int:
    """``blanks adjust --count ±N --reason TEXT``."""
    return _record(args, state_dir,
                   model.adjust(args.count, args.reason, _new_id("adjust", args.id)))


def cmd_write_off(args: argparse.Namespace, state_dir: Path) -> int:
    """``blanks write-off --count N --reason TEXT``."""
    return _record(args, state_dir,
                   model.write_off_stock(args.count, args.reason, _new_id("write_off", args.id)))

