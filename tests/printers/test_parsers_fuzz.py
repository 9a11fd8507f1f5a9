"""At least 10,000 random and truncated replies into each protocol parser:
a reply is either understood or a ProtocolError, never anything else."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.printers import evolis, magicard
from drivers.printers.base import ProtocolError

GOOD_EVOLIS = [b"OK\r", b"1234\r", b"00000000,02000000,00010000,01000000\r", b"\x06\x00",
               b"\x15T\r", b"CARD\x00", b"ERR;C\r"]
GOOD_MAGICARD = [b"\x01READY,\x03", b"\x01ERROR:CARD_JAM;NO_CARDS,\x03", b"\x01123,\x03",
                 b"\x01PRINT,\x03", b"\x01OK,\x03"]


def replies(good: list[bytes]) -> st.SearchStrategy[bytes]:
    whole = st.sampled_from(good)
    truncated = whole.flatmap(lambda r: st.integers(0, len(r)).map(lambda n: r[:n]))
    mutated = st.tuples(whole, st.binary(max_size=8), st.integers(0, 40)).map(
        lambda x: x[0][: x[2]] + x[1] + x[0][x[2]:])
    return st.one_of(st.binary(max_size=64), truncated, mutated)


def _evolis(raw: bytes) -> None:
    try:
        text = evolis.parse_reply(raw, "Rst")
        evolis.status_from_words(text)
    except ProtocolError:
        pass
    with contextlib.suppress(ProtocolError):
        evolis.parse_int(evolis.parse_reply(raw, "Rco;c"), "Rco;c")


def _magicard(raw: bytes) -> None:
    try:
        text = magicard.parse_reply(raw, "PST")
        magicard.parse_status(text, "NONE")
        magicard.parse_status("READY", text)
    except ProtocolError:
        pass


FUZZ = settings(max_examples=10_000, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


@FUZZ
@given(replies(GOOD_EVOLIS))
def test_evolis_parser_never_crashes(raw: bytes) -> None:
    _evolis(raw)


@FUZZ
@given(replies(GOOD_MAGICARD))
def test_magicard_parser_never_crashes(raw: bytes) -> None:
    _magicard(raw)


def test_parsers_understand_good_replies() -> None:
    st_ = evolis.status_from_words(evolis.parse_reply(GOOD_EVOLIS[2], "Rst"))
    assert st_.conditions == ("card_jam", "ribbon_out") and st_.card_at == "print"
    assert evolis.parse_reply(b"\x15T\r", "Si") == "ERR;T"
    m = magicard.parse_status(magicard.parse_reply(GOOD_MAGICARD[1], "PST"), "PRINT")
    assert m.conditions == ("card_jam", "feeder_empty") and m.card_at == "print"
