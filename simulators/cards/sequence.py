"""One simulated chip per blank, presented as a simulated printer moves it.

:class:`CardSequence` listens to a :class:`~simulators.printers.model.PrinterModel`:
when card *k* reaches a station the reader covers (the contactless encoder
station by default) chip *k* enters the reader's field; when the card moves on
or leaves the printer, the chip leaves the field. Which chips are dead (or
flaky) comes from the seed, so a run can be replayed, and :attr:`truth` lists
the profile of every card presented.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from simulators.cards.card import SimCard

CONTACTLESS = "contactless"


class CardSequence:
    """Chips for a printer's blanks, put into ``slot`` (a VpcdSlot or a FakeReader)."""

    def __init__(self, slot: Any, *, profile: str = "ektp", dead_rate: float = 0.0,
                 flaky_rate: float = 0.0, seed: int = 0,
                 stations: tuple[str, ...] = (CONTACTLESS,)) -> None:
        self.slot = slot
        self.profile = profile
        self.dead_rate, self.flaky_rate = dead_rate, flaky_rate
        self.stations = stations
        self.rng = random.Random(seed)
        self.seed = seed
        self.cards: dict[int, SimCard] = {}
        self._in_field: int | None = None
        self._lock = threading.Lock()

    def attach(self, model: Any) -> CardSequence:
        """Follow ``model``'s card moves."""
        model.position_listeners.append(self.on_position)
        return self

    def card(self, number: int) -> SimCard:
        """The chip of blank ``number`` (made on first use, from the seed)."""
        if number not in self.cards:
            draw = self.rng.random()
            profile = ("dead" if draw < self.dead_rate else
                       "flaky" if draw < self.dead_rate + self.flaky_rate else self.profile)
            self.cards[number] = SimCard(profile, seed=self.seed * 1_000_003 + number)
        return self.cards[number]

    def on_position(self, number: int, where: str | None) -> None:
        with self._lock:
            if where in self.stations:
                if self._in_field != number:
                    self.slot.insert(self.card(number))
                    self._in_field = number
            elif self._in_field is not None:
                self.slot.remove()
                self._in_field = None

    @property
    def dead_cards(self) -> list[int]:
        return sorted(n for n, c in self.cards.items() if c.mute)
