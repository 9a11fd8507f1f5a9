"""The command tree of ``station-agent``: which module registers which command.

Commands are found by name, as drivers are (:mod:`drivers.registry`): this
package's own in :data:`BUILTIN`, and whatever other installed packages
declare in the ``station_agent.commands`` entry-point group (the simulators
add ``demo`` and ``sim`` that way). A command line builds only the parser of
the command it names, so ``station-agent status`` imports what ``status``
needs and nothing else; ``--help``, a mistyped command and the completion
script build the whole tree.

Every command also accepts ``--config``, ``--state-dir`` and (where it has
one) ``--json`` after its name, as users type them (``station-agent run
--config F``); given before the command they mean the same.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from station_agent import __version__

# typing is imported for the type checker only: this module is on the CLI's
# start-up path (docs/PERFORMANCE.md, cli.status_latency).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

PROG = "station-agent"
PLUGIN_GROUP = "station_agent.commands"
#: Top-level command -> the module whose ``add_parsers`` registers it.
BUILTIN: dict[str, str] = {
    "run": "station_agent.cli.agent_cmds",
    "status": "station_agent.cli.agent_cmds",
    "faults": "station_agent.cli.agent_cmds",
    "blanks": "station_agent.cli.ledger_cmds",
    "ledger": "station_agent.cli.ledger_cmds",
    "jobs": "station_agent.cli.jobs_cmds",
    "printer": "station_agent.cli.printer_cmds",
    "reader": "station_agent.cli.reader_cmds",
    "fleet": "station_agent.cli.fleet_cmds",
    "central": "station_agent.cli.central_cmds",
    "report": "station_agent.cli.report_cmds",
    "diag": "station_agent.cli.diag_cmds",
    "cups": "station_agent.cli.cups_cmds",
    "console": "station_agent.cli.console_cmds",
    "notify": "station_agent.cli.notify_cmds",
    "supplies": "station_agent.cli.supplies_cmds",
    "completion": "station_agent.cli.completion",
}
#: Options that take a value before the command (to find the command in argv).
_VALUED_GLOBALS = ("--state-dir", "--config")

if TYPE_CHECKING:
    #: A command module's ``add_parsers(sub)``: registers its commands on ``sub``
    #: (argparse's subparsers action).
    Register = Callable[[Any], None]


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that an examples epilog keeps its lines, and the
    terminal's width is read without importing shutil (start-up time)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _columns() - 2 if width is None else width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("example"):
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)


def _columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` tells it."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors, exit code 2, and :class:`HelpFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(one_line(f"{self.prog}: error: {message} (see `{self.prog} --help`)")
                         + "\n")
        raise SystemExit(2)


def one_line(text: str) -> str:
    """``text`` safe to print as one line: control and other unprintable characters
    (which could break the line or drive a terminal) shown escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def command_in(argv: Sequence[str]) -> str | None:
    """The command an argument list names (None: none, or only options)."""
    args = iter(argv)
    for arg in args:
        if arg == "--":
            return next(args, None)
        if arg in _VALUED_GLOBALS:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _plugins() -> dict[str, str]:
    # Read only when the command line needs them (importlib.metadata is slow to import).
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=PLUGIN_GROUP)
            if ep.name not in BUILTIN}


def _load(ref: str) -> Register:
    module, _, attr = ref.partition(":")
    register: Register = getattr(importlib.import_module(module), attr or "add_parsers")
    return register


def build_parser(command: str | None = None, *, examples: bool = True
                 ) -> argparse.ArgumentParser:
    """The parser of ``command`` alone, or of the whole tree (``None``, or a command
    no module registers: argparse then lists the known ones); ``examples``: each
    command's ``--help`` ends with its examples."""
    parser = Parser(
        prog=PROG,
        description="Agent of an ID-card printing station: exact blank ledger, devices, "
                    "faults, uplink.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="state directory (default: $STATION_AGENT_STATE, the config's "
                             "[station] state_dir, else /var/lib/station-agent for root or "
                             "~/.local/state/station-agent); also accepted after the command")
    parser.add_argument("--config", metavar="FILE",
                        help="station.toml (default: $STATION_AGENT_CONFIG, else "
                             "/etc/station-agent/station.toml if present); also accepted "
                             "after the command")
    parser.add_argument("--json", dest="global_json", action="store_true",
                        help="JSON output, for commands that have it (same as --json after "
                             "the command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=Parser)
    refs: dict[str, str]
    if command in BUILTIN:
        refs = {command: BUILTIN[command]}
    else:
        plugins = _plugins()
        refs = {command: plugins[command]} if command in plugins else {**BUILTIN, **plugins}
    done: set[str] = set()
    for ref in refs.values():
        if ref not in done:   # one module may register several commands
            done.add(ref)
            _load(ref if ":" in ref else ref + ":add_parsers")(sub)
    from station_agent.cli.examples import attach, walk

    for _path, p in walk(parser):
        if p is not parser:
            _accept_globals(p)
    if examples:
        attach(parser)
    return parser


def _accept_globals(p: argparse.ArgumentParser) -> None:
    """``--config`` and ``--state-dir`` after a command (unset unless given there)."""
    have = {o for a in p._actions for o in a.option_strings}
    if "--state-dir" not in have:
        p.add_argument("--state-dir", metavar="DIR", default=argparse.SUPPRESS,
                       help="state directory (as before the command)")
    if "--config" not in have:
        p.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                       help="station.toml (as before the command)")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse a command line: only the named command's parser is built."""
    wants_help = any(a in ("-h", "--help") for a in argv)
    args = build_parser(command_in(argv), examples=wants_help).parse_args(argv)
    if args.global_json and hasattr(args, "json"):
        args.json = True
    return args


def call(args: argparse.Namespace, state_dir: Any) -> int:
    """Run the parsed command."""
    code: int = args.func(args, state_dir)
    return code
