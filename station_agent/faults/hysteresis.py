"""Hysteresis and flapping detection for observed conditions.

A condition (a printer's ribbon, the server's reachability) is observed once
per poll as bad or good. :class:`Debounce` turns the observations into a
state that changes only after ``raise_after`` bad observations in a row
(raise) or ``clear_after`` good ones in a row (clear), so a single bad poll
raises nothing.

:class:`FlapDetector` is Nagios's flap detection: over the last 21
observations it counts state changes, weighting recent ones more (0.8 for
the oldest change up to 1.2 for the newest), as a percentage of the 20
possible changes. Above ``high`` percent the condition is *flapping*; it
stops flapping when the percentage falls below ``low``. While a condition
flaps the caller keeps one fault raised, marked as flapping, instead of a
storm of raises and clears.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

RAISE, CLEAR = "raise", "clear"


@dataclass
class Debounce:
    """Consecutive-observation hysteresis; :meth:`observe` returns RAISE / CLEAR
    when the debounced state changes, else None."""

    raise_after: int = 1
    clear_after: int = 1
    active: bool = False
    _bad: int = 0
    _good: int = 0

    def __post_init__(self) -> None:
        if self.raise_after < 1 or self.clear_after < 1:
            raise ValueError("raise_after and clear_after must be at least 1")

    def observe(self, bad: bool) -> str | None:
        if bad:
            self._bad, self._good = self._bad + 1, 0
            if not self.active and self._bad >= self.raise_after:
                self.active = True
                return RAISE
        else:
            self._good, self._bad = self._good + 1, 0
            if self.active and self._good >= self.clear_after:
                self.active = False
                return CLEAR
        return None

    @property
    def streak(self) -> int:
        """How many observations in a row agree with the latest one."""
        return max(self._bad, self._good)


#: Observations Nagios keeps for flap detection (20 possible changes).
WINDOW = 21


@dataclass
class FlapDetector:
    """Weighted percent state change over the last :data:`WINDOW` observations."""

    high: float = 50.0
    low: float = 25.0
    flapping: bool = False
    _seen: deque[bool] = field(default_factory=lambda: deque(maxlen=WINDOW))

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.high <= 100:
            raise ValueError("flap thresholds: expected 0 < low <= high <= 100")

    def percent(self) -> float:
        """Weighted share of the possible changes that happened, 0-100."""
        seen = list(self._seen)
        if len(seen) < 2:
            return 0.0
        possible = WINDOW - 1
        total = 0.0
        for i in range(1, len(seen)):
            if seen[i] != seen[i - 1]:
                # The oldest possible change weighs 0.8, the newest 1.2.
                position = possible - (len(seen) - 1) + (i - 1)
                total += 0.8 + 0.4 * position / (possible - 1)
        return 100.0 * total / possible

    def observe(self, bad: bool) -> bool | None:
        """Record one observation; returns True when flapping starts, False when it
        stops, None when nothing changed."""
        self._seen.append(bad)
        pct = self.percent()
        if not self.flapping and pct >= self.high:
            self.flapping = True
            return True
        if self.flapping and pct < self.low:
            self.flapping = False
            return False
        return None
