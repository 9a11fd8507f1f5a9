"""Argument types shared by several commands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def seconds(low: float, high: float) -> Callable[[str], float]:
    """A ``type=`` for a duration in seconds between ``low`` and ``high``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected seconds between {low:g} and {high:g}, "
                                             f"got {text!r}")
        return value
    return parse
