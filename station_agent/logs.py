"""Logging through structlog: JSON lines when stderr is not a terminal (journald,
files), readable console lines when a person watches; ISO UTC timestamps.

Under systemd, when stderr is the journal's stream (``$JOURNAL_STREAM`` names
its device and inode), each line starts with its syslog priority (``<4>`` for a
warning, sd-daemon(3)), so that ``journalctl -p warning`` shows warnings and
worse."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog


def configure(level: str = "info", stream: TextIO | None = None,
              json: bool | None = None) -> None:
    """Set up structlog for the daemon (call once, early)."""
    out = stream or sys.stderr
    as_json = not out.isatty() if json is None else json
    renderer: Any = (structlog.processors.JSONRenderer() if as_json
                     else structlog.dev.ConsoleRenderer(colors=False))
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        renderer,
    ]
    if to_journal(out):
        processors.append(_syslog_prefix)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )


def get(name: str, **context: object) -> Any:
    """A bound logger for one component."""
    return structlog.get_logger(name).bind(component=name, **context)


#: syslog priorities (sd-daemon(3) prefixes) of the log levels.
PRIORITIES = {"debug": 7, "info": 6, "warning": 4, "warn": 4, "error": 3, "exception": 3,
              "critical": 2, "fatal": 2, "msg": 6}


def to_journal(stream: TextIO) -> bool:
    """Whether ``stream`` is the journal's stream (``$JOURNAL_STREAM`` is
    ``<device>:<inode>`` of it, as systemd sets it for a service's output)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def _syslog_prefix(_logger: Any, method: str, line: str) -> str:
    return f"<{PRIORITIES.get(method, 6)}>{line}"
