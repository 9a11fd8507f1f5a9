"""Entry point of ``station-agent`` (DESIGN §5).

Exit codes: 0 success, 1 a check or operation failed, 2 bad usage or bad
input. Every error is one line on stderr saying what was wrong and what to do.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from station_agent import __version__, clock
from station_agent.cli import (
    agent_cmds,
    completion,
    cups_cmds,
    diag_cmds,
    examples,
    fleet_cmds,
    jobs_cmds,
    ledger_cmds,
    printer_cmds,
    reader_cmds,
    report_cmds,
    sim_cmds,
)
from station_agent.errors import StationAgentError
from station_agent.ledger.store import ledger_path, translate
from station_agent.paths import resolve_state_dir

PROG = "station-agent"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(one_line(f"{self.prog}: error: {message} (see `{self.prog} --help`)")
                         + "\n")
        raise SystemExit(2)


def one_line(text: str) -> str:
    """``text`` safe to print as one line: control and other unprintable characters
    (which could break the line or drive a terminal) shown escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = _Parser(
        prog=PROG,
        description="Agent of an ID-card printing station: exact blank ledger, devices, "
                    "faults, uplink.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="state directory (default: $STATION_AGENT_STATE, the config's "
                             "[station] state_dir, else /var/lib/station-agent for root or "
                             "~/.local/state/station-agent)")
    parser.add_argument("--config", metavar="FILE",
                        help="station.toml (default: $STATION_AGENT_CONFIG, else "
                             "/etc/station-agent/station.toml if present)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=_Parser)

    demo = sub.add_parser(
        "demo", help="a simulated station day on the real agent, ending with the report",
        description="Run a compressed station day with no hardware: two simulated printers "
                    "(Evolis and Magicard protocols) with a jam and a ribbon out, encoders "
                    "with a few dead chips, the central-server simulator with one outage, "
                    "and the uplink to a local mosquitto when one can be started. Ends "
                    "with the reconciliation report and the path of its HTML version; "
                    "exit 1 if the ledger does not equal the simulators' ground truth. "
                    "State goes to a new temporary directory unless --state-dir is given.")
    demo.add_argument("--seed", type=int, default=2026, help="random seed (same seed, same day)")
    demo.add_argument("--jobs", type=int, default=300, help="cards to issue in the day "
                                                           "(10 to 2000; default 300)")
    demo.add_argument("--no-broker", action="store_true",
                      help="do not start a local mosquitto for the uplink")
    demo.set_defaults(func=_cmd_demo, needs_state=False)

    agent_cmds.add_parsers(sub)
    ledger_cmds.add_parsers(sub)
    printer_cmds.add_parsers(sub)
    reader_cmds.add_parsers(sub)
    sim_cmds.add_parsers(sub)
    fleet_cmds.add_parsers(sub)
    report_cmds.add_parsers(sub)
    diag_cmds.add_parsers(sub)
    jobs_cmds.add_parsers(sub)
    cups_cmds.add_parsers(sub)
    completion.add_parsers(sub)
    examples.attach(parser)
    return parser


def _cmd_demo(args: argparse.Namespace, _state: object) -> int:
    from station_agent.demo import run_demo

    return run_demo(state_dir=args.state_dir, seed=args.seed, jobs=args.jobs,
                    broker=not args.no_broker)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    state_dir: Path | None = None
    try:
        if getattr(args, "needs_state", True):
            state_dir = resolve_state_dir(args.state_dir, args.config)
            office_tz = clock.station_timezone(state_dir)
            if office_tz:
                clock.use_timezone(office_tz)   # days and hours as the office keeps them
        code: int = args.func(args, state_dir)
        return code
    except StationAgentError as exc:
        sys.stderr.write(one_line(f"{PROG}: error: {exc}") + "\n")
        return exc.exit_code
    except sqlite3.Error as exc:
        # Anything SQLite reports that a command did not translate itself
        # (a page found corrupt halfway through a read, say).
        err = translate(exc, ledger_path(state_dir or Path(".")), "reading")
        sys.stderr.write(one_line(f"{PROG}: error: {err}") + "\n")
        return err.exit_code
    except BrokenPipeError:
        # The reader of our output went away (`| head`): not an error of ours.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
