"""Entry point of ``station-agent`` (DESIGN §5).

Exit codes: 0 success, 1 a check or operation failed, 2 bad usage or bad
input. Every error is one line on stderr saying what was wrong and what to do.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from station_agent import clock
from station_agent.cli.commands import PROG, call, one_line, parse
from station_agent.errors import StationAgentError
from station_agent.paths import resolve_state_dir

__all__ = ["PROG", "main", "one_line"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = parse(sys.argv[1:] if argv is None else argv)
    state_dir: Path | None = None
    try:
        if getattr(args, "needs_state", True):
            state_dir = resolve_state_dir(args.state_dir, args.config)
            office_tz = clock.station_timezone(state_dir)
            if office_tz:
                clock.use_timezone(office_tz)   # days and hours as the office keeps them
        return call(args, state_dir)
    except StationAgentError as exc:
        sys.stderr.write(one_line(f"{PROG}: error: {exc}") + "\n")
        return exc.exit_code
    except BrokenPipeError:
        # The reader of our output went away (`| head`): not an error of ours.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except Exception as exc:
        # Anything SQLite reports that a command did not translate itself (a page
        # found corrupt halfway through a read, say). Only commands that read the
        # ledger import SQLite, so the others need not.
        sqlite3 = sys.modules.get("sqlite3")
        if sqlite3 is None or not isinstance(exc, sqlite3.Error):
            raise
        from station_agent.ledger.store import ledger_path, translate

        err = translate(exc, ledger_path(state_dir or Path(".")), "reading")
        sys.stderr.write(one_line(f"{PROG}: error: {err}") + "\n")
        return err.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
