"""``station-agent reader scan`` and ``station-agent sim card`` as separate processes,
against the real pcscd + vpcd; also with vsmartcard's own card emulator (vicc)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from typing import Any

import pytest

from simulators.cards import SimCard, VpcdSlot
from simulators.cards.pcscd import READER_NAMES, Pcscd
from tests.conftest import cli_env, first_line, run_cli, spawn, terminate


def _scan(*args: str, wait_for: str | None = None) -> dict[str, Any]:
    """``reader scan --json``; with ``wait_for``, until that reader shows a card."""
    deadline = time.monotonic() + 10
    while True:
        res = run_cli("reader", "scan", "--json", *args)
        assert res.code == 0, res.err
        doc: dict[str, Any] = json.loads(res.out)
        by_name = {r["reader"]: r for r in doc["readers"]}
        if wait_for is None or by_name.get(wait_for, {}).get("card_present"):
            return by_name
        assert time.monotonic() < deadline, f"no card seen in {wait_for}: {doc}"
        time.sleep(0.2)


def test_scan_shows_the_card_and_the_empty_slot(slots: tuple[VpcdSlot, VpcdSlot]) -> None:
    card = SimCard("ektp", seed=3)
    slots[0].insert(card)
    readers = _scan(wait_for=READER_NAMES[0])
    r0, r1 = readers[READER_NAMES[0]], readers[READER_NAMES[1]]
    assert r0["atr"] == card.atr.hex().upper() and r0["uid"] == card.uid.hex().upper()
    assert r0["chip_ok"] is True
    assert r1 == {"reader": READER_NAMES[1], "card_present": False}
    text = run_cli("reader", "scan", "--url", f"pcsc://{READER_NAMES[1]}")
    assert text.code == 0 and text.out.strip() == f"{READER_NAMES[1]}: no card"


def test_scan_uses_the_configured_chip_policy(slots: tuple[VpcdSlot, VpcdSlot],
                                              tmp_path: Any) -> None:
    """``--reader ID`` takes the reader's URL and chip_* keys from station.toml."""
    slots[0].insert(SimCard("ektp", seed=4))
    slots[1].insert(SimCard("typeb", seed=4))
    _scan(wait_for=READER_NAMES[1])
    config = tmp_path / "station.toml"
    config.write_text(f"""[station]
id = "s1"
[[reader]]
id = "encoder-1"
url = "pcsc://{READER_NAMES[1]}"
chip_atr = ["3B8F8001"]
""")
    res = run_cli("--config", str(config), "reader", "scan", "--json", "--reader", "encoder-1")
    assert res.code == 0, res.err
    (only,) = json.loads(res.out)["readers"]
    assert only["reader"] == READER_NAMES[1]
    assert only["chip_ok"] is False and "ATR" in only["reason"]
    # The same card passes under the default policy (any contactless chip).
    assert _scan("--url", f"pcsc://{READER_NAMES[1]}")[READER_NAMES[1]]["chip_ok"] is True
    res = run_cli("--config", str(config), "reader", "scan", "--reader", "encoder-9")
    assert res.code == 2 and "no [[reader]] with id 'encoder-9' (configured: encoder-1)" in res.err


def test_scan_exits_1_when_pcsc_is_unavailable(tmp_path: Any) -> None:
    env = cli_env(PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"))
    res = run_cli("reader", "scan", env=env)
    assert res.code == 1
    assert "PC/SC service is not available" in res.err and res.err.count("\n") == 1


def test_sim_card_standalone_is_seen_by_scan(running_pcscd: Pcscd) -> None:
    proc = spawn([sys.executable, "-m", "station_agent", "sim", "card", "--profile", "typeb",
                  "--port", str(running_pcscd.port + 1)])
    try:
        assert first_line(proc) == f"vpcd://127.0.0.1:{running_pcscd.port + 1}"
        r1 = _scan(wait_for=READER_NAMES[1])[READER_NAMES[1]]
        assert r1["atr"].startswith("3B888001") and r1["chip_ok"] is True
    finally:
        err = terminate(proc)
    assert proc.returncode == 0 and "APDUs answered" in err


def test_scan_works_with_vsmartcards_own_emulator(running_pcscd: Pcscd) -> None:
    vicc = shutil.which("vicc")
    if vicc is None:
        if os.environ.get("CI"):
            pytest.fail("vicc is not installed (apt-get install vsmartcard-vpicc "
                        "python3-virtualsmartcard python3-pycryptodome)")
        pytest.skip("vsmartcard's vicc is not installed")
    # vicc runs under the test interpreter, which has pycryptodome (a test extra).
    env = dict(os.environ, PYTHONPATH="/usr/lib/python3/site-packages/virtualsmartcard")
    proc = spawn([sys.executable, vicc, "--type", "iso7816", "--hostname", "127.0.0.1", "--port",
                  str(running_pcscd.port)], env=env)
    try:
        r0 = _scan(wait_for=READER_NAMES[0])[READER_NAMES[0]]
        assert r0["atr"] and "error" not in r0
        # vicc's ISO 7816 card is a contact card: the ATR is not a contactless chip's.
        assert r0["chip_ok"] is False and "does not match" in r0["reason"]
        loose = _scan("--atr", r0["atr"][:4], wait_for=READER_NAMES[0])[READER_NAMES[0]]
        assert loose["select_sw"] is not None
    finally:
        terminate(proc)
