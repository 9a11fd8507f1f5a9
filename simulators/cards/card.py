"""Simulated contactless chips: ATR, UID and a tiny ISO 7816-4 file system.

A :class:`SimCard` answers what a PC/SC reader sends it through vpcd: power
on/off, reset, "get ATR", and command APDUs — the reader pseudo-APDU GET DATA
(``FF CA 00 00 00`` UID, ``FF CA 01 00 00`` ATS), SELECT (master file, an EF
by id), READ BINARY and GET CHALLENGE. Profiles (:data:`PROFILES`):

* ``ektp`` — e-KTP-like ISO 14443 Type A chip, the public e-KTP ATR, a fixed
  7-byte NXP-style UID (0x04...).
* ``typeb`` — Type B: the ATR's historical bytes carry the ATQB application
  data, which differs per card; the UID (PUPI) is 4 random bytes per power-up;
  no ATS (GET DATA P1=01 answers 6A81).
* ``random`` — Type A with a random 4-byte UID (0x08...) on every power-up.
* ``dead`` — mute: it never answers the field, so the reader sees no card.
* ``flaky`` — drops out of the field for an instant on ``fail_k`` of every
  ``fail_n`` APDUs (the reader reports "transaction failed" or an empty
  response; the card is back at once) and answers the rest correctly.
* ``pulled`` — is pulled out of the field for good while answering its
  ``pull_after``-th APDU.

(A card that stays in the field and never answers is not simulated: vpcd
has no timeout for it, so pcscd would wait forever; real readers time out.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import reduce

PROFILES = ("ektp", "typeb", "random", "dead", "flaky", "pulled")

#: Public e-KTP ATR (PC/SC contactless form: 3B 8n 80 01 + historical + TCK).
EKTP_ATR = bytes.fromhex("3B8B800165 4B5450304432654B54504C".replace(" ", ""))
EKTP_ATS = bytes.fromhex("0C788077029000000000000000")

#: FCI of the master file: file id 3F00, life cycle "operational, activated".
_FCI_MF = bytes.fromhex("6F0783023F008A0105")

SW_OK = b"\x90\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_NOT_SUPPORTED = b"\x6a\x81"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_WRONG_P1P2 = b"\x6b\x00"
SW_NO_EF = b"\x69\x86"
SW_INS_UNKNOWN = b"\x6d\x00"
SW_CLA_UNKNOWN = b"\x6e\x00"

#: The tiny file system under the master file 3F00: EF id -> contents.
FILES = {
    0x011C: bytes.fromhex("3112300F060A04007F0007020204020202010202010D"),  # EF.CardAccess-like
    0x2F01: EKTP_ATR,                                                        # EF.ATR
}


def contactless_atr(historical: bytes) -> bytes:
    """The ATR a PC/SC reader builds for a contactless card: ``3B 8n 80 01`` +
    historical bytes + TCK (the XOR of every byte after TS)."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    return b"\x3b" + body + bytes([reduce(lambda a, b: a ^ b, body, 0)])


@dataclass
class SimCard:
    """One simulated chip; see the module docstring for the profiles."""

    profile: str = "ektp"
    seed: int = 0
    fail_k: int = 1
    fail_n: int = 3
    pull_after: int = 1
    rng: random.Random = field(init=False)
    uid: bytes = field(init=False, default=b"")
    apdus: int = field(init=False, default=0)
    powered: bool = field(init=False, default=False)
    #: Pulled out of the field for good (the ``pulled`` profile).
    gone: bool = field(init=False, default=False)
    _selected: int | None = field(init=False, default=None)
    _app_data: bytes = field(init=False, default=b"")

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown card profile {self.profile!r}: use one of "
                             f"{', '.join(PROFILES)}")
        self.rng = random.Random(self.seed)
        self._app_data = self.rng.randbytes(4)
        self.uid = b"\x04" + self.rng.randbytes(6)
        self._power_up_uid()

    def _power_up_uid(self) -> None:
        if self.profile == "random":
            self.uid = b"\x08" + self.rng.randbytes(3)
        elif self.profile == "typeb":
            self.uid = self.rng.randbytes(4)

    # -- what vpcd asks -----------------------------------------------------------

    @property
    def mute(self) -> bool:
        """A dead chip: it never answers, so no reader ever detects it."""
        return self.profile == "dead"

    @property
    def atr(self) -> bytes:
        """The ATR (as a PC/SC reader builds it for this chip)."""
        if self.profile == "typeb":
            # ATQB application data (4), protocol info (3), MBLI nibble.
            return contactless_atr(self._app_data + bytes.fromhex("008171") + b"\x00")
        return EKTP_ATR

    def power_on(self) -> None:
        if not self.powered:
            self.powered = True
            self._selected = None
            self._power_up_uid()

    def power_off(self) -> None:
        self.powered = False

    def reset(self) -> None:
        self.power_off()
        self.power_on()

    def answer(self, apdu: bytes) -> bytes | None:
        """The response APDU, or ``None``: the card leaves the field now without
        answering (for good when :attr:`gone`, else it comes straight back)."""
        self.apdus += 1
        if self.profile == "flaky" and (self.apdus - 1) % self.fail_n < self.fail_k:
            return None
        if self.profile == "pulled" and self.apdus >= self.pull_after:
            self.gone = True
            return None
        return self.respond(apdu)

    # -- ISO 7816-4 -------------------------------------------------------------------

    def respond(self, apdu: bytes) -> bytes:
        """The correct answer to ``apdu``."""
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
        body = apdu[4:]
        if cla == 0xFF and ins == 0xCA:
            return self._get_data(p1, body)
        if cla & 0xF0 not in (0x00, 0x80):
            return SW_CLA_UNKNOWN
        if ins == 0xA4:
            return self._select(p1, p2, body)
        if ins == 0xB0:
            return self._read_binary((p1 << 8) | p2, body)
        if ins == 0x84:
            n = body[0] if body else 8
            return self.rng.randbytes(n or 8) + SW_OK
        return SW_INS_UNKNOWN

    def _get_data(self, p1: int, body: bytes) -> bytes:
        le = body[0] if len(body) == 1 else 0
        if p1 == 0x00:
            data = self.uid
        elif p1 == 0x01 and self.profile != "typeb":
            data = EKTP_ATS
        else:
            return SW_NOT_SUPPORTED
        if le and le < len(data):
            return b"\x6c" + bytes([len(data)])
        return data + SW_OK

    def _select(self, p1: int, p2: int, body: bytes) -> bytes:
        if not body or len(body) < 1 + body[0]:
            return SW_WRONG_LENGTH
        fid = body[1:1 + body[0]]
        if p1 == 0x00 and fid in (b"", b"\x3f\x00"):
            self._selected = None
            return SW_OK if p2 & 0x0C == 0x0C else _FCI_MF + SW_OK
        if p1 in (0x00, 0x02) and len(fid) == 2 and int.from_bytes(fid, "big") in FILES:
            self._selected = int.from_bytes(fid, "big")
            return SW_OK
        if p1 in (0x00, 0x01, 0x02, 0x04, 0x08):
            return SW_FILE_NOT_FOUND
        return SW_WRONG_P1P2

    def _read_binary(self, offset: int, body: bytes) -> bytes:
        if self._selected is None:
            return SW_NO_EF
        data = FILES[self._selected]
        le = body[0] if body else 0
        chunk = data[offset:offset + (le or 256)]
        if offset > len(data):
            return SW_WRONG_P1P2
        return chunk + SW_OK
