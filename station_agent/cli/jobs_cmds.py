"""``jobs``, ``jobs void``, ``jobs resolve`` and ``faults clear`` (DESIGN §5).

Through the daemon when it runs (it owns the ledger and the fault board);
without one, reads and writes go to the state directory directly, as the
``blanks`` commands do (a fault can only be cleared by a running daemon).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from station_agent.cli.output import emit_json
from station_agent.cli.remote import from_daemon
from station_agent.errors import BadInput
from station_agent.issuing import settle
from station_agent.ledger import Ledger, joblog, model, open_reader


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``jobs`` with its subcommands."""
    j = sub.add_parser("jobs", help="card jobs: source, printer or queue, cards, outcome",
                       description="Card jobs (driven, spooler or reported) with their "
                                   "printer or queue, cards, state, outcome and spoil "
                                   "category.")
    j.add_argument("--json", action="store_true", help="print one JSON document")
    j.add_argument("--open", action="store_true", help="only jobs not settled yet")
    j.add_argument("--date", help="only jobs started on this day (YYYY-MM-DD, UTC)")
    j.set_defaults(func=cmd_jobs)
    js = j.add_subparsers(dest="jobs_cmd", metavar="ACTION")
    v = js.add_parser("void", help="a card that printed, then failed: issued -> spoiled",
                      description="Void an issued card (its chip could not be written, it "
                                  "failed a quality check): it moves from issued to spoiled "
                                  "(held), with a spoil category. At most once per card.")
    v.add_argument("job", metavar="JOB", help="the job id (or a card job id)")
    v.add_argument("--category", required=True, choices=model.CATEGORIES,
                   help="spoil category")
    v.add_argument("--reason", help="a short note (required for category other)")
    v.add_argument("--json", action="store_true", help="print one JSON document")
    v.set_defaults(func=cmd_void)
    r = js.add_parser("resolve", help="settle an open job: issued, spoiled or lost",
                      description="Settle a job whose cards' fate the agent does not know: "
                                  "every open card of the job becomes issued, spoiled (with a "
                                  "category) or lost.")
    r.add_argument("job", metavar="JOB", help="the job id (or a card job id)")
    r.add_argument("--outcome", required=True, choices=settle.OUTCOMES, help="what became of "
                                                                             "the cards")
    r.add_argument("--category", choices=model.CATEGORIES, help="spoil category (spoiled)")
    r.add_argument("--reason", help="a short note")
    r.add_argument("--json", action="store_true", help="print one JSON document")
    r.set_defaults(func=cmd_resolve)


def cmd_jobs(args: argparse.Namespace, state_dir: Path) -> int:
    """``jobs [--json] [--open] [--date D]``."""
    doc = from_daemon(state_dir, "jobs", open=args.open or None, date=args.date)
    if doc is None:
        conn = open_reader(state_dir)
        try:
            doc = {"jobs": joblog.for_day(conn, args.date, args.open)}
        except ValueError as exc:
            raise BadInput(f"jobs: {exc}") from None
        finally:
            conn.close()
    if args.json:
        emit_json(doc)
        return 0
    jobs = doc["jobs"]
    if not jobs:
        print("no jobs" + (" open" if args.open else ""))
    for d in jobs:
        where = (d["queue"] and f"queue {d['queue']}") or d["printer"] or "-"
        cat = d["category"] if isinstance(d["category"], str) else ",".join(d["category"] or [])
        verified = "" if d["counter_verified"] is not False else "  (counter-unverified)"
        print(f"{d['created_at'][:19]:<19}  {d['job_id']:<40}  {d['source']:<8}  {where:<14}  "
              f"{d['cards']} card(s)  {d['state']:<10}  {d['outcome'] or '-'}"
              f"{'  ' + cat if cat else ''}{verified}")
    return 0


def _write(args: argparse.Namespace, state_dir: Path, op: str, params: dict[str, Any],
           offline: Any) -> int:
    doc = from_daemon(state_dir, op, **params)
    if doc is None:
        with Ledger(state_dir, create=False) as ledger:
            doc = offline(ledger)
    if args.json:
        emit_json(doc)
    else:
        e = doc["entry"]
        cards = doc.get("resolved") or [e["job_id"]]
        if doc.get("replay"):
            print(f"{e['kind']} of {', '.join(cards)} was already recorded (entry {e['seq']}); "
                  "nothing changed")
            return 0
        print(f"{e['kind']} recorded for {', '.join(cards)}"
              + (f" ({e['category']})" if e.get("category") else "")
              + f"; spoiled held now {doc['balances']['spoiled_held']:,}")
    return 0


def _entry_doc(ledger: Ledger, transfers: list[model.Transfer]) -> dict[str, Any]:
    entries = [ledger.record(t) for t in transfers]
    return {"entry": entries[-1].as_dict(), "replay": entries[-1].replay,
            "balances": ledger.balances().as_dict(),
            "resolved": [t.job_id for t in transfers]}


def cmd_void(args: argparse.Namespace, state_dir: Path) -> int:
    """``jobs void JOB --category C [--reason T]``."""
    return _write(args, state_dir, "void",
                  {"job_id": args.job, "category": args.category, "reason": args.reason},
                  lambda led: _entry_doc(led, [settle.void_transfer(
                      led, args.job, args.category, args.reason)]))


def cmd_resolve(args: argparse.Namespace, state_dir: Path) -> int:
    """``jobs resolve JOB --outcome issued|spoiled|lost [--category C] [--reason T]``."""
    return _write(args, state_dir, "resolve",
                  {"job_id": args.job, "outcome": args.outcome, "category": args.category,
                   "reason": args.reason},
                  lambda led: _entry_doc(led, settle.resolve_transfers(
                      led, args.job, args.outcome, args.category, args.reason)))
