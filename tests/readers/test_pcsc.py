"""The PC/SC adapter through a real pcscd + vpcd with simulated cards."""

from __future__ import annotations

import threading
import time

import pytest

from drivers.readers.base import ChipPolicy, ReaderError
from drivers.readers.pcsc import PcscReader, list_readers
from simulators.cards import SimCard, VpcdSlot
from simulators.cards.card import EKTP_ATR
from simulators.cards.pcscd import READER_NAMES, Pcscd
from station_agent.faults.board import FaultBoard
from station_agent.issuing.chipcheck import ChipChecker

SLOT0 = f"pcsc://{READER_NAMES[0]}"
SLOT1 = f"pcsc://{READER_NAMES[1]}"


def _wait_gone(reader: PcscReader, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while reader.card_present():
        assert time.monotonic() < deadline, "pcscd never noticed the card leaving"
        time.sleep(0.05)


def test_both_vpcd_readers_are_listed(slots: tuple[VpcdSlot, VpcdSlot]) -> None:
    assert set(READER_NAMES) <= set(list_readers())


@pytest.mark.parametrize("profile", ["ektp", "typeb", "random"])
def test_insert_remove_reinsert_reads_atr_and_uid(slots: tuple[VpcdSlot, VpcdSlot],
                                                  profile: str) -> None:
    slot, _ = slots
    with PcscReader(SLOT0) as reader:
        uids = []
        card = SimCard(profile, seed=7)  # the same card, taken out and put back
        for round_ in range(2):
            slot.insert(card)
            v = reader.check(timeout=3)
            assert v.ok, v.reason
            assert v.atr == card.atr.hex().upper()
            assert v.uid == card.uid.hex().upper()   # the UID of this power-up
            uids.append(v.uid)
            slot.remove()
            _wait_gone(reader)
            assert not reader.check(timeout=0.2).present, f"round {round_}: still present"
    if profile == "ektp":
        assert uids[0] == uids[1] and bytes.fromhex(v.atr) == EKTP_ATR
        assert uids[0].startswith("04") and len(uids[0]) == 14
    if profile == "random":
        assert uids[0] != uids[1] and all(u.startswith("08") for u in uids)
    if profile == "typeb":
        assert v.atr.startswith("3B888001")


def test_only_one_slot_has_a_card(slots: tuple[VpcdSlot, VpcdSlot]) -> None:
    slot0, _slot1 = slots
    slot0.insert(SimCard("ektp"))
    with PcscReader(SLOT0) as r0, PcscReader(SLOT1) as r1:
        assert r0.wait_card(3)
        assert not r1.card_present()
        v = r1.check(timeout=0.3)
        assert not v.present and not v.ok


def test_dead_and_pulled_chips_fail_without_error(slots: tuple[VpcdSlot, VpcdSlot]) -> None:
    slot, _ = slots
    with PcscReader(SLOT0) as reader:
        slot.insert(SimCard("dead"))
        v = reader.check(timeout=1)
        assert not v.ok and not v.present
        slot.insert(SimCard("pulled", pull_after=1))
        v = reader.check(timeout=2)
        assert not v.ok and "pulled" in v.reason


def test_a_card_without_get_data_reports_uid_unavailable(
        slots: tuple[VpcdSlot, VpcdSlot], monkeypatch: pytest.MonkeyPatch) -> None:
    slot, _ = slots
    card = SimCard("ektp")
    monkeypatch.setattr(card, "uid", b"")  # GET DATA then answers only 9000
    slot.insert(card)
    with PcscReader(SLOT0) as reader:
        v = reader.check(timeout=3)
    assert v.ok and v.uid is None
    assert v.uid_note == "UID unavailable (GET DATA answered 9000)"


def test_policy_rejects_an_unexpected_chip_family(slots: tuple[VpcdSlot, VpcdSlot]) -> None:
    slot, _ = slots
    slot.insert(SimCard("typeb"))
    with PcscReader(SLOT0, ChipPolicy(atr_patterns=("3B8B8001654B5450",))) as reader:
        v = reader.check(timeout=3)
    assert v.present and not v.ok and "does not match" in v.reason


def test_2000_chip_checks_in_a_row_with_transient_errors_retried(
        slots: tuple[VpcdSlot, VpcdSlot]) -> None:
    slot, _ = slots
    # The card blinks out of the field on 1 APDU in 250: each blink costs a retry.
    slot.insert(SimCard("flaky", fail_k=1, fail_n=250))
    with PcscReader(SLOT0) as reader:
        assert reader.wait_card(3)
        failed = [v.reason for v in (reader.check(timeout=2) for _ in range(2000)) if not v.ok]
        print(f"\n2000 chip checks: {len(failed)} failed, {reader.transient_errors} transient "
              f"errors retried, card reconnected {slot.connects - 1} times")
    assert failed == []
    assert reader.transient_errors >= 2000 * 2 // 250 - 1  # the blinks were really retried


def test_pcscd_killed_and_restarted_raises_then_clears_service_down(
        slots: tuple[VpcdSlot, VpcdSlot], running_pcscd: Pcscd) -> None:
    slot, _ = slots
    slot.insert(SimCard("ektp"))
    faults = FaultBoard()
    threads_before = threading.active_count()
    with PcscReader(SLOT0) as reader:
        checker = ChipChecker(reader, faults, "encoder-1")
        assert checker.ready() is None
        assert checker("j1").ok
        running_pcscd.kill()
        assert checker.ready() == "pcsc_service_down"
        assert faults.is_active("encoder-1", "pcsc_service_down")
        with pytest.raises(ReaderError) as info:
            checker("j2")
        assert info.value.code == "pcsc_service_down"
        running_pcscd.start()
        assert slot.wait_connected(5)
        assert checker.ready() is None
        assert not faults.is_active("encoder-1", "pcsc_service_down")
        v = checker("j3")
        assert v.ok, v.reason
    assert threading.active_count() == threads_before  # the adapter started no thread


def test_missing_reader_raises_and_clears_reader_missing(
        slots: tuple[VpcdSlot, VpcdSlot]) -> None:
    faults = FaultBoard()
    reader = PcscReader("pcsc://Encoder That Is Not There")
    checker = ChipChecker(reader, faults, "encoder-2")
    assert checker.ready() == "reader_missing"
    assert faults.is_active("encoder-2", "reader_missing")
    reader.substring = READER_NAMES[1]  # "plugged in": the name now matches a reader
    assert checker.ready() is None
    assert not faults.is_active("encoder-2", "reader_missing")
    reader.close()
