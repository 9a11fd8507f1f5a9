"""The narrow interface of a smart-card reader, and the chip-check policy.

A reader adapter answers two questions: is a card in the field, and does its
chip pass the check (:class:`ChipPolicy`: the ATR has the expected family's
structure, and the chip answers a SELECT of the master file with an expected
status word). The UID (GET DATA) is read when the card supports it; a card
that answers but does not is reported with its ATR and "UID unavailable",
not as an error.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from typing import Final

# Fault codes (DESIGN §4) a reader reports.
PCSC_SERVICE_DOWN: Final = "pcsc_service_down"
READER_MISSING: Final = "reader_missing"
CHIP_UNREADABLE: Final = "chip_unreadable"

GET_UID: Final = bytes.fromhex("FFCA000000")
SELECT_MF: Final = bytes.fromhex("00A4000C023F00")

_PATTERN = re.compile(r"^([0-9A-F?]{2})+$")


def is_contactless_atr(atr: bytes) -> bool:
    """The ATR a PC/SC reader builds for a contactless card (``3B 8n 80 01 ...``).

    GET DATA (``FF CA``) is a PC/SC part 3 pseudo-APDU for contactless cards; it
    is sent only to those (vpcd forwards it to the card itself, and some
    contact-card emulators crash on a class byte of FF)."""
    return len(atr) >= 4 and atr[0] == 0x3B and atr[1] & 0xF0 == 0x80 and atr[2:4] == b"\x80\x01"


class ReaderError(Exception):
    """A reader-level failure; ``code`` is a DESIGN §4 fault code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ChipPolicy:
    """What a good chip looks like.

    ``atr_patterns``: hex prefixes, ``?`` matching any nibble (``3B8?8001`` is
    any contactless card as a PC/SC reader presents it); the ATR must start
    with one of them. ``select_apdu`` is sent and its status word must be one of
    ``expected_sw``. ``retries``: transient transmission errors are retried this
    many times (reconnecting to the card in between) before the chip counts as
    unreadable.
    """

    atr_patterns: tuple[str, ...] = ("3B8?8001",)
    select_apdu: bytes = SELECT_MF
    expected_sw: tuple[str, ...] = ("9000",)
    retries: int = 3

    def __post_init__(self) -> None:
        for p in self.atr_patterns:
            if not _PATTERN.match(p.upper().replace(" ", "")):
                raise ValueError(f"ATR pattern {p!r}: expected hex bytes with ? for any "
                                 "nibble, such as 3B8?8001")
        for sw in self.expected_sw:
            if not re.match(r"^[0-9A-Fa-f]{4}$", sw):
                raise ValueError(f"status word {sw!r}: expected 4 hex digits such as 9000")
        if not 0 <= self.retries <= 20:
            raise ValueError(f"retries {self.retries}: expected 0 to 20")

    def atr_matches(self, atr: bytes) -> bool:
        text = atr.hex().upper()
        for p in self.atr_patterns:
            p = p.upper().replace(" ", "")
            if len(text) >= len(p) and all(c == "?" or c == t for c, t in zip(p, text,
                                                                               strict=False)):
                return True
        return False

    def sw_ok(self, sw: str) -> bool:
        return sw.upper() in {s.upper() for s in self.expected_sw}


@dataclass
class ChipVerdict:
    """The result of checking the chip in one reader."""

    reader: str
    present: bool
    atr: str | None = None          # hex
    uid: str | None = None          # hex; None when unavailable
    uid_note: str = ""              # e.g. "UID unavailable (GET DATA answered 6A81)"
    select_sw: str | None = None
    ok: bool = False
    reason: str = ""
    retries: int = 0
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok

    def as_dict(self) -> dict[str, object]:
        return {"reader": self.reader, "card_present": self.present, "atr": self.atr,
                "uid": self.uid, "uid_note": self.uid_note or None, "select_sw": self.select_sw,
                "chip_ok": self.ok if self.present else None, "reason": self.reason or None,
                "retries": self.retries}


class Reader(abc.ABC):
    """One reader slot, named by a URL such as ``pcsc://Virtual PCD 00 00``."""

    url: str = ""

    @abc.abstractmethod
    def name(self) -> str:
        """The full name of the reader the URL selects (:class:`ReaderError` if none)."""

    @abc.abstractmethod
    def card_present(self) -> bool:
        """Is a card in the field now (one poll)?"""

    @abc.abstractmethod
    def wait_card(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a card; True when one is there."""

    @abc.abstractmethod
    def check(self, timeout: float = 2.0) -> ChipVerdict:
        """Wait up to ``timeout`` for a card, then check its chip against the policy.

        Reader-level trouble (service down, reader missing) raises
        :class:`ReaderError`; a chip that fails is a verdict with ``ok=False``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the adapter holds."""

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def verdict_from(policy: ChipPolicy, reader: str, atr: bytes, uid_reply: bytes | None,
                 select_reply: bytes | None, retries: int) -> ChipVerdict:
    """Judge a chip from its ATR and its answers to GET DATA and SELECT."""
    v = ChipVerdict(reader=reader, present=True, atr=atr.hex().upper(), retries=retries)
    if uid_reply is not None and len(uid_reply) > 2 and uid_reply[-2:] == b"\x90\x00":
        v.uid = uid_reply[:-2].hex().upper()
    elif uid_reply is None or len(uid_reply) < 2:
        v.uid_note = "UID unavailable (contact card: no GET DATA)"
    else:
        v.uid_note = f"UID unavailable (GET DATA answered {uid_reply[-2:].hex().upper()})"
    if select_reply is not None and len(select_reply) >= 2:
        v.select_sw = select_reply[-2:].hex().upper()
    if not policy.atr_matches(atr):
        v.reason = (f"ATR {v.atr} does not match the expected chip family "
                    f"({', '.join(policy.atr_patterns)})")
    elif v.select_sw is None:
        v.reason = "the chip did not answer the SELECT"
    elif not policy.sw_ok(v.select_sw):
        v.reason = (f"SELECT answered {v.select_sw}, expected "
                    f"{' or '.join(policy.expected_sw)}")
    else:
        v.ok = True
    return v
