"""An in-process reader with the same interface as the PC/SC adapter, for fast
unit tests: the card in its field is any object with ``atr``, ``mute`` and
``answer(apdu)`` (a :class:`simulators.cards.SimCard`), put there by the test
or by a card sequence following a simulated printer."""

from __future__ import annotations

import threading
import time
from typing import Any

from drivers.readers.base import (
    GET_UID,
    ChipPolicy,
    ChipVerdict,
    Reader,
    is_contactless_atr,
    verdict_from,
)


class FakeReader(Reader):
    """A reader slot whose card is set in-process (``insert`` / ``remove``)."""

    def __init__(self, name: str = "Fake Reader 00 00", policy: ChipPolicy | None = None) -> None:
        self.url = f"fake://{name}"
        self._name = name
        self.policy = policy or ChipPolicy()
        self._card: Any = None
        self._changed = threading.Condition()
        self.transient_errors = 0
        self.checks = 0

    def insert(self, card: Any) -> None:
        with self._changed:
            self._card = card
            card.power_on()
            self._changed.notify_all()

    def remove(self) -> None:
        with self._changed:
            self._card = None
            self._changed.notify_all()

    def name(self) -> str:
        return self._name

    def card_present(self) -> bool:
        card = self._card
        return card is not None and not card.mute and not card.gone

    def wait_card(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.card_present():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def check(self, timeout: float = 2.0) -> ChipVerdict:
        self.checks += 1
        if not self.wait_card(timeout):
            return ChipVerdict(reader=self._name, present=False,
                               reason="no chip answered in the field (dead chip or no card)")
        problems: list[str] = []
        for attempt in range(self.policy.retries + 1):
            card = self._card
            if card is None or card.gone:
                return ChipVerdict(reader=self._name, present=False, retries=attempt,
                                   reason="no chip in the field any more (the card was pulled)")
            uid = card.answer(GET_UID) if is_contactless_atr(card.atr) else b""
            select = card.answer(self.policy.select_apdu) if uid is not None else None
            if uid is not None and select is not None:
                return verdict_from(self.policy, self._name, card.atr, uid, select, attempt)
            problems.append("no valid response")
            self.transient_errors += 1
        return ChipVerdict(reader=self._name, present=True, retries=self.policy.retries,
                           reason=f"chip unreadable after {self.policy.retries + 1} attempts "
                                  f"({'; '.join(problems[-3:])})")
