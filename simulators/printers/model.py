"""The mechanics of a desktop card printer, independent of any wire protocol.

A feeder with N blanks, a ribbon with N panels, an output hopper, a reject
box with a capacity, a cover, a print head that can overheat, lifetime
counters that only go up, and the position of the card inside. Faults are
scheduled per card number (the k-th card picked in the simulator's life) by
:class:`Plan`, or injected at any time (``open_cover``, ``vanish`` ...).

The model also keeps the *ground truth* a test compares the agent's ledger
with: cards taken from the feeder, cards in the output hopper, cards in the
reject box, cards an operator removed after a jam, cards that went missing.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# Stations a card can be at inside the printer.
PRINT = "print"
CONTACTLESS = "contactless"
CONTACT = "contact"
STATIONS = (PRINT, CONTACTLESS, CONTACT)

# Error conditions of the model (protocol modules map them to their wire codes).
JAM = "jam"
FEEDER_EMPTY = "feeder_empty"
RIBBON_OUT = "ribbon_out"
COVER_OPEN = "cover_open"
COVER_OPENED_DURING_JOB = "cover_opened_during_job"
REJECT_FULL = "reject_full"
OVERHEAT = "overheat"
CARD_PRESENT = "card_present"
NO_CARD = "no_card"

#: Events a plan can schedule at a card number.
PLAN_EVENTS = ("jam", "cover_open", "overheat", "false_ribbon_end", "vanish", "garbage",
               "truncate", "slow")


class MechanicalError(Exception):
    """A card move or print the printer refused or failed; ``condition`` says why."""

    def __init__(self, condition: str) -> None:
        super().__init__(condition)
        self.condition = condition


@dataclass(slots=True)
class Planned:
    """One scheduled fault: ``event`` happens to card number ``card``."""

    card: int
    event: str
    arg: float = 0.0


@dataclass
class Plan:
    """Faults scheduled by card number, from options or a scenario script."""

    events: list[Planned] = field(default_factory=list)

    def at(self, card: int, event: str) -> Planned | None:
        for p in self.events:
            if p.card == card and p.event == event:
                return p
        return None

    @classmethod
    def parse_script(cls, text: str, origin: str = "scenario") -> Plan:
        """Parse a scenario script: one ``card K EVENT [ARG]`` per line, ``#`` comments.

        ``card 5 jam`` / ``card 9 vanish 1.5`` (seconds) / ``card 3 slow 200`` (ms).
        """
        events: list[Planned] = []
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) not in (3, 4) or parts[0] != "card" or not parts[1].isdigit():
                raise ValueError(f"{origin} line {n}: expected `card K EVENT [ARG]`, got {raw!r}")
            if parts[2] not in PLAN_EVENTS:
                raise ValueError(f"{origin} line {n}: unknown event {parts[2]!r}; "
                                 f"known: {', '.join(PLAN_EVENTS)}")
            try:
                arg = float(parts[3]) if len(parts) == 4 else 0.0
            except ValueError:
                raise ValueError(f"{origin} line {n}: {parts[3]!r} is not a number") from None
            events.append(Planned(int(parts[1]), parts[2], arg))
        return cls(events)

    @classmethod
    def from_cards(cls, event: str, cards: Iterable[int], arg: float = 0.0) -> Plan:
        return cls([Planned(k, event, arg) for k in cards])

    def extend(self, other: Plan) -> None:
        self.events.extend(other.events)


@dataclass
class GroundTruth:
    """What physically happened, for comparison with the ledger."""

    picked: int = 0
    issued: int = 0          # cards in the output hopper
    rejected: int = 0        # cards in the reject box
    removed_by_operator: int = 0
    missing: int = 0
    #: Cards picked with each ribbon taken out so far (one entry per ribbon change).
    ribbon_yields: list[int] = field(default_factory=list)


class PrinterModel:
    """The mechanics; thread-safe (a pty server and a test may touch it at once)."""

    def __init__(self, *, cards: int = 100, ribbon: int = 1000, reject_capacity: int = 50,
                 hopper_capacity: int = 1000, serial: str = "SIM00001",
                 model: str = "Simulated", firmware: str = "1.0.0",
                 plan: Plan | None = None, print_delay: float = 0.0,
                 seed: int | None = None) -> None:
        self.lock = threading.RLock()
        self.feeder = cards
        self.ribbon = ribbon
        self.reject_capacity = reject_capacity
        self.hopper_capacity = hopper_capacity
        self.serial, self.model, self.firmware = serial, model, firmware
        self.plan = plan or Plan()
        self.print_delay = print_delay
        self.rng = random.Random(seed)
        self.cover_open = False
        self.head_hot = False
        self._position: str | None = None
        #: Called as ``listener(card_number, position)`` whenever the card moves
        #: (position ``None``: it left the printer). A card simulator uses this to
        #: put the matching chip in front of the reader at the encoder station.
        self.position_listeners: list[Callable[[int, str | None], None]] = []
        self.errors: set[str] = set()
        self.busy = False
        self.false_ribbon_end = False
        # Lifetime counters: only ever go up.
        self.cards_counter = 0
        self._ribbon_since = 0   # the card counter when the ribbon in it was put in
        self.panels_counter = 0
        self.cleanings_counter = 0
        self.hopper = 0
        self.reject_box = 0
        self.truth = GroundTruth()
        #: Where each card (by number) ended: issued, rejected, removed, missing;
        #: kept only when :meth:`track_fates` was called (a campaign's ground truth),
        #: so a simulated printer that runs for a long time does not grow.
        self.fates: dict[int, str] | None = None
        self.downloaded: dict[str, bytes] = {}
        self.vanished_until = 0.0
        self._fired_events: set[tuple[int, str]] = set()

    # -- observation -----------------------------------------------------------

    @property
    def position(self) -> str | None:
        """Where the card inside is (``None``: no card)."""
        return self._position

    @position.setter
    def position(self, where: str | None) -> None:
        if where == self._position:
            return
        self._position = where
        for listener in self.position_listeners:
            listener(self.cards_counter, where)

    @property
    def card_number(self) -> int:
        """Number of the card currently or last picked (1-based lifetime count)."""
        return self.cards_counter

    def planned(self, event: str) -> Planned | None:
        return self.plan.at(self.cards_counter, event)

    def is_vanished(self) -> bool:
        return time.monotonic() < self.vanished_until

    # -- card moves ------------------------------------------------------------

    def _refuse_if_errors(self) -> None:
        if self.errors:
            raise MechanicalError(sorted(self.errors)[0])
        if self.cover_open:
            raise MechanicalError(COVER_OPEN)

    def pick(self, station: str = PRINT) -> None:
        """Take a blank from the feeder to ``station``."""
        with self.lock:
            self._refuse_if_errors()
            if self.position is not None:
                raise MechanicalError(CARD_PRESENT)
            if self.feeder <= 0:
                self.errors.add(FEEDER_EMPTY)
                raise MechanicalError(FEEDER_EMPTY)
            self.feeder -= 1
            self.cards_counter += 1
            self.truth.picked += 1
            self.position = station
            vanish = self.planned("vanish")
            if vanish is not None:
                self.vanished_until = time.monotonic() + (vanish.arg or 1.0)

    def move_to(self, station: str) -> None:
        with self.lock:
            self._refuse_if_errors()
            if self.position is None:
                raise MechanicalError(NO_CARD)
            self.position = station

    def print_panel(self, panel: str) -> None:
        """Print one panel on the card at the print position."""
        with self.lock:
            self._refuse_if_errors()
            if self.position is None:
                raise MechanicalError(NO_CARD)
            self.position = PRINT
            if self.planned("cover_open") and not self.fire_once("cover_open"):
                self.cover_open = True
                self.errors.add(COVER_OPENED_DURING_JOB)
                raise MechanicalError(COVER_OPENED_DURING_JOB)
            if self.planned("overheat") and not self.fire_once("overheat"):
                self.head_hot = True
                self.errors.add(OVERHEAT)
                raise MechanicalError(OVERHEAT)
            if self.planned("jam") and not self.fire_once("jam"):
                self.errors.add(JAM)
                raise MechanicalError(JAM)
            if self.planned("false_ribbon_end") and not self.fire_once("false_ribbon_end"):
                self.false_ribbon_end = True
                self.errors.add(RIBBON_OUT)
                raise MechanicalError(RIBBON_OUT)
            if self.ribbon <= 0:
                self.errors.add(RIBBON_OUT)
                raise MechanicalError(RIBBON_OUT)
            self.ribbon -= 1
            self.panels_counter += 1
        if self.print_delay:
            time.sleep(self.print_delay)

    def track_fates(self) -> None:
        """Start recording in :attr:`fates` where each card from now on ends."""
        with self.lock:
            if self.fates is None:
                self.fates = {}

    def _fate(self, fate: str) -> None:
        if self.fates is not None:
            self.fates[self.cards_counter] = fate

    def fire_once(self, event: str) -> bool:
        """True if ``event`` already happened to the current card (events fire once)."""
        key = (self.cards_counter, event)
        if key in self._fired_events:
            return True
        self._fired_events.add(key)
        return False

    def eject(self) -> None:
        """Card to the output hopper (issued)."""
        with self.lock:
            self._refuse_if_errors()
            if self.position is None:
                raise MechanicalError(NO_CARD)
            self.position = None
            self.hopper += 1
            self.truth.issued += 1
            self._fate("issued")

    def reject(self) -> None:
        """Card to the reject box (spoiled, kept)."""
        with self.lock:
            if self.cover_open:
                raise MechanicalError(COVER_OPEN)
            if JAM in self.errors:
                raise MechanicalError(JAM)
            if self.position is None:
                raise MechanicalError(NO_CARD)
            if self.reject_box >= self.reject_capacity:
                self.errors.add(REJECT_FULL)
                raise MechanicalError(REJECT_FULL)
            self.position = None
            self.reject_box += 1
            self.truth.rejected += 1
            self._fate("rejected")

    def clear(self) -> None:
        """Clear the error state (``Scs`` / ``CLR``): everything but a jammed card,
        an open cover, a hot head and an empty feeder, which need the operator."""
        with self.lock:
            self.errors.discard(COVER_OPENED_DURING_JOB)
            if self.false_ribbon_end:
                self.false_ribbon_end = False
                self.errors.discard(RIBBON_OUT)
            if self.ribbon > 0:
                self.errors.discard(RIBBON_OUT)
            if self.feeder > 0:
                self.errors.discard(FEEDER_EMPTY)
            if self.reject_box < self.reject_capacity:
                self.errors.discard(REJECT_FULL)
            if not self.head_hot:
                self.errors.discard(OVERHEAT)

    # -- operator actions ----------------------------------------------------

    def operator_resolve_jam(self, *, removed: bool = True) -> None:
        """The operator opens the printer and clears the jam: the card is taken
        out (``removed``) or is nowhere to be found (``removed=False``)."""
        with self.lock:
            if self.position is not None:
                self.position = None
                if removed:
                    self.truth.removed_by_operator += 1
                else:
                    self.truth.missing += 1
                self._fate("removed" if removed else "missing")
            self.errors.discard(JAM)

    def operator_close_cover(self) -> None:
        with self.lock:
            self.cover_open = False

    def operator_open_cover(self) -> None:
        with self.lock:
            self.cover_open = True

    def cool_down(self) -> None:
        with self.lock:
            self.head_hot = False
            self.errors.discard(OVERHEAT)

    def change_ribbon(self, prints: int) -> None:
        """The operator takes the ribbon out and puts a new one in with ``prints`` left;
        the cards picked with the old one are its yield (:attr:`GroundTruth.ribbon_yields`)."""
        with self.lock:
            self.truth.ribbon_yields.append(self.cards_counter - self._ribbon_since)
            self._ribbon_since = self.cards_counter
            self.ribbon = prints
            self.false_ribbon_end = False
            if prints > 0:
                self.errors.discard(RIBBON_OUT)

    def refill(self, cards: int = 0, ribbon: int = 0) -> None:
        with self.lock:
            self.feeder += cards
            self.ribbon += ribbon
            if cards:
                self.errors.discard(FEEDER_EMPTY)

    def empty_reject_box(self) -> None:
        with self.lock:
            self.reject_box = 0
            self.errors.discard(REJECT_FULL)
