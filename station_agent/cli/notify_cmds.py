"""``notify``: the notification queue, and a test notification (DESIGN §9)."""

from __future__ import annotations

import argparse
from pathlib import Path

from station_agent.cli.output import emit_json


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``notify`` with its subcommands."""
    n = sub.add_parser("notify", help="notifications: queued, delivered, a test",
                       description="The notifications [notify] queued for each channel, "
                                   "newest first, with their delivery state.")
    n.add_argument("--json", action="store_true", help="print one JSON document")
    n.set_defaults(func=cmd_list)
    nsub = n.add_subparsers(dest="notify_cmd", metavar="ACTION")
    t = nsub.add_parser("test", help="send a test notification on every channel",
                        description="Queue a test notification on every configured channel "
                                    "(through the running daemon).")
    t.add_argument("--json", action="store_true", help="print one JSON document")
    t.set_defaults(func=cmd_test)


def cmd_list(args: argparse.Namespace, state_dir: Path) -> int:
    """``notify [--json]``."""
    from station_agent.ledger import open_reader
    from station_agent.ledger.notices import listing

    conn = open_reader(state_dir)
    try:
        rows = [q.as_dict() for q in listing(conn)]
    finally:
        conn.close()
    if args.json:
        emit_json({"notifications": rows})
        return 0
    if not rows:
        print("no notifications yet")
    for r in rows:
        state = (f"sent {r['sent_at']}" if r["sent_at"] else
                 f"waiting (tries {r['attempts']}, next {r['next_at']}"
                 + (f": {r['last_error']}" if r["last_error"] else "") + ")")
        print(f"{r['created_at']}  {r['channel']:<8} {r['code']:<22} {state}\n"
              f"    {r['subject']}")
    return 0


def cmd_test(args: argparse.Namespace, state_dir: Path) -> int:
    """``notify test``."""
    from station_agent.cli.remote import from_daemon
    from station_agent.errors import OperationFailed

    doc = from_daemon(state_dir, "notify_test")
    if doc is None:
        raise OperationFailed("no daemon is running on this state directory: start it "
                              "(systemctl start station-agent) and try again")
    if args.json:
        emit_json(doc)
    else:
        print(f"test notification {doc['id']} queued for {', '.join(doc['channels'])}; "
              "see `station-agent notify`")
    return 0
