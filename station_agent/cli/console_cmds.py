"""``console``: the office console's staff accounts and where it is (DESIGN §9)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from station_agent.cli.output import emit_json
from station_agent.errors import BadInput


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``console`` with its subcommands."""
    c = sub.add_parser("console", help="the office console: staff accounts, its address",
                       description="The office web console served by the daemon "
                                   "([web] listen). Every write in it needs a staff account.")
    c.add_argument("--json", action="store_true", help="print one JSON document")
    c.set_defaults(func=cmd_where)
    csub = c.add_subparsers(dest="console_cmd", metavar="ACTION")
    u = csub.add_parser("user", help="staff accounts: add, passwd, remove, list",
                        description="Staff accounts of the console, kept as salted scrypt "
                                    "hashes in console-users (mode 600) in the state "
                                    "directory.")
    usub = u.add_subparsers(dest="user_cmd", metavar="ACTION", required=True)
    for name, helptext in (("add", "add an account (asks for its password)"),
                           ("passwd", "change an account's password")):
        p = usub.add_parser(name, help=helptext, description=helptext.capitalize() + ".")
        p.add_argument("name", metavar="NAME", help="account name, e.g. siti")
        p.add_argument("--password-stdin", action="store_true",
                       help="read the password from standard input (for scripts)")
        p.set_defaults(func=cmd_user_set, replace=name == "passwd")
    p = usub.add_parser("remove", help="delete an account", description="Delete an account.")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_user_remove)
    p = usub.add_parser("list", help="the accounts", description="List the accounts.")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_user_list)


def _password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise BadInput("the two passwords differ: nothing was changed; try again")
    return first


def cmd_user_set(args: argparse.Namespace, state_dir: Path) -> int:
    """``console user add|passwd NAME``."""
    from station_agent.console.accounts import Accounts, check_name

    accounts = Accounts(state_dir)
    check_name(args.name)
    if args.replace and args.name not in accounts.names():
        raise BadInput(f"no account {args.name!r}: add it with 'console user add {args.name}'")
    accounts.add(args.name, _password(args.password_stdin), replace=args.replace)
    print(f"account {args.name} {'updated' if args.replace else 'added'} ({accounts.path})")
    return 0


def cmd_user_remove(args: argparse.Namespace, state_dir: Path) -> int:
    """``console user remove NAME``."""
    from station_agent.console.accounts import Accounts

    Accounts(state_dir).remove(args.name)
    print(f"account {args.name} removed")
    return 0


def cmd_user_list(args: argparse.Namespace, state_dir: Path) -> int:
    """``console user list``."""
    from station_agent.console.accounts import Accounts

    names = Accounts(state_dir).names()
    if args.json:
        emit_json({"accounts": names})
    else:
        print("\n".join(names) if names else "no accounts yet: add one with "
                                             "'station-agent console user add NAME'")
    return 0


def cmd_where(args: argparse.Namespace, state_dir: Path) -> int:
    """``console``: the URL the running daemon serves the console on."""
    from station_agent.daemon.console import URL_FILE

    try:
        url: str | None = (state_dir / URL_FILE).read_text().strip() or None
    except OSError:
        url = None
    if args.json:
        emit_json({"url": url})
    elif url:
        print(url)
    else:
        print("the console is not being served (no daemon running, or [web] enabled = false "
              "or its address taken: see `station-agent faults`)")
    return 0 if url else 1
