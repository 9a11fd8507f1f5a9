"""Logging through structlog: JSON lines when stderr is not a terminal (journald,
files), readable console lines when a person watches; ISO UTC timestamps."""

from __future__ import annotations

import logging
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
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )


def get(name: str, **context: object) -> Any:
    """A bound logger for one component."""
    return structlog.get_logger(name).bind(component=name, **context)
