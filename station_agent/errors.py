"""Errors a person will read, with the exit code the CLI uses for each kind.

DESIGN §5: exit 0 = success, 1 = a check or operation failed, 2 = bad usage
or bad input. Every message is one sentence that says what was wrong and
what to do about it.
"""

from __future__ import annotations


class StationAgentError(Exception):
    """Base of every error station-agent reports to a person."""

    exit_code = 1


class BadInput(StationAgentError):
    """The request itself is wrong: fix the input and try again (exit 2)."""

    exit_code = 2


class OperationFailed(StationAgentError):
    """The request was fine but the operation could not be done (exit 1)."""

    exit_code = 1
