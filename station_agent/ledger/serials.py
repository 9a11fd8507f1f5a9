"""Serial-number ranges of deliveries.

A blank's serial is an optional prefix followed by digits (``KTP0001200``,
``2026-000451``, ``1200``). A delivery of ``count`` blanks starting at a
serial covers the next ``count`` numbers with the same prefix; two
deliveries whose ranges share a number under the same prefix overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from station_agent.ledger.errors import InvalidTransfer

_SERIAL = re.compile(r"^(?P<prefix>.*?)(?P<digits>[0-9]+)$")


@dataclass(frozen=True, slots=True)
class SerialRange:
    """Numbers ``first``..``last`` (inclusive) under ``prefix``."""

    prefix: str
    first: int
    last: int
    width: int

    def label(self, n: int) -> str:
        """The serial text of number ``n`` in this range."""
        return f"{self.prefix}{n:0{self.width}d}"

    def describe(self) -> str:
        """``KTP0001..KTP0500`` style text."""
        return f"{self.label(self.first)}..{self.label(self.last)}"

    def overlaps(self, other: SerialRange) -> bool:
        """True when both ranges share at least one serial."""
        return (self.prefix == other.prefix and self.first <= other.last
                and other.first <= self.last)


def serial_range(first_serial: str, count: int) -> SerialRange:
    """The range of ``count`` serials starting at ``first_serial``."""
    m = _SERIAL.match(first_serial)
    if m is None:
        raise InvalidTransfer(
            f"first serial {first_serial!r} does not end in digits: give the serial printed "
            "on the first blank of the delivery, e.g. KTP0001200"
        )
    digits = m.group("digits")
    first = int(digits)
    return SerialRange(m.group("prefix"), first, first + count - 1, len(digits))
