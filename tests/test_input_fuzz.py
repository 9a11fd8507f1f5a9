"""Property-based tests on the input boundaries not covered next to their code:
config files, CLI arguments, and what pcscd's vpcd driver sends a card. (Printer
replies: tests/printers/test_parsers_fuzz.py; local-API requests:
tests/agent/test_daemon_lifecycle.py; uplink payloads: tests/uplink/test_fleet_view.py.)

Each input either works or is refused with the project's one-line error; never a
traceback, never a change made by a refused input."""

from __future__ import annotations

import random
import socket
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simulators.cards import SimCard, VpcdSlot
from station_agent.cli.main import main
from station_agent.config import load_config, parse_config
from station_agent.errors import StationAgentError
from station_agent.ledger import Ledger, model

# --- config files ---------------------------------------------------------------------

_KEYS = ["station", "printer", "reader", "network", "uplink", "stock", "faults", "id",
         "state_dir", "api_group", "url", "family", "poll_interval", "printer", "probe_url",
         "mqtt_url", "low_threshold", "raise_after", "chip_atr", "cafile", "password_file",
         "interval", "timeout", "slow_ms", "window"]
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                     st.floats(allow_nan=True), st.text(max_size=30),
                     st.sampled_from(["evolis", "magicard", "sim://evolis", "pcsc://Virtual",
                                      "mqtt://127.0.0.1:1", "https://c.example/h", "kupang-01",
                                      "serial:///dev/ttyS0", "nogroup", "../x"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5)), max_leaves=20)
_configs = st.dictionaries(st.sampled_from(_KEYS), _values, max_size=6)


@settings(max_examples=600, deadline=None)
@given(_configs)
def test_any_config_document_is_valid_or_one_clear_error(doc: dict[str, Any]) -> None:
    try:
        cfg = parse_config(doc, Path("/etc/station-agent/station.toml"))
    except StationAgentError as exc:
        message = str(exc)
        assert message.startswith("station.toml") and "\n" not in message, message
    else:
        assert cfg.station_id


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_any_config_file_bytes_are_read_or_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "station.toml"
    path.write_bytes(data)
    try:
        load_config(path)
    except StationAgentError as exc:
        assert "\n" not in str(exc)


# --- CLI arguments ----------------------------------------------------------------------

_WORDS = ["blanks", "receive", "dispose", "adjust", "write-off", "ledger", "verify", "export",
          "report", "faults", "status", "--json", "--history", "--batch", "--count",
          "--reference", "--reason", "--id", "--first-serial", "--format", "csv", "jsonl",
          "html", "text", "--date", "today", "2026-13-45", "--lang", "id", "xx", "--output",
          "-3", "0", "7", "1000000000000", "B-1", "Budi Santoso", "5371012345678901", "--",
          "-", "--cover-days", "--expect-head", "1:abc", "ø", ""]


@pytest.fixture(scope="module")
def fuzz_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("cli-fuzz") / "state"
    with Ledger(state) as ledger:
        ledger.record(model.receive("B-0", 100))
    return state


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=12)), min_size=1,
                     max_size=7))
@example(argv=["report", "\x1e0"])          # found in CI: a record separator split the line
@example(argv=["blanks", "\x1b[31mred"])    # a terminal escape must not reach the terminal
def test_any_arguments_work_or_fail_in_one_line(fuzz_state: Path, argv: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    if argv[0] not in ("blanks", "ledger", "report", "faults", "status"):
        argv = ["blanks", *argv]
    if "--output" in argv:   # keep any file the command writes inside the test's dir
        i = argv.index("--output")
        argv[i + 1:i + 2] = [str(fuzz_state.parent / "out.txt")]
    try:
        code = main(["--state-dir", str(fuzz_state), *argv])
    except SystemExit as exc:   # argparse: --help (0) or a usage error (2)
        code = exc.code if isinstance(exc.code, int) else 2
    err = capsys.readouterr().err
    assert code in (0, 1, 2), (argv, code, err)
    if code != 0:
        assert err.strip(), argv
        lines = [x for x in err.strip().splitlines() if not x.startswith("usage:")
                 and x.strip() and not x.startswith(" ")]
        assert len(lines) == 1, (argv, err)
    assert "Traceback" not in err
    assert "\x1b" not in err and "\x1e" not in err


# --- what vpcd sends a card ----------------------------------------------------------------

@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300))
def test_a_card_answers_any_apdu_with_a_status_word(apdu: bytes) -> None:
    card = SimCard("ektp", seed=1)
    card.power_on()
    answer = card.respond(apdu)
    assert isinstance(answer, bytes) and len(answer) >= 2


def test_a_slot_survives_garbage_frames_from_the_reader_side() -> None:
    """The slot is the client of vpcd's port: feed it garbage frames as "vpcd" and
    check it keeps answering well-formed frames after each."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    slot = VpcdSlot(port=port).start()
    slot.insert(SimCard("ektp", seed=2))
    listener.settimeout(10)
    conn, _ = listener.accept()
    conn.settimeout(5)
    rng = random.Random(5)

    def ask(payload: bytes) -> bytes:
        conn.sendall(struct.pack(">H", len(payload)) + payload)
        head = conn.recv(2, socket.MSG_WAITALL)
        (n,) = struct.unpack(">H", head)
        return conn.recv(n, socket.MSG_WAITALL)

    try:
        atr = ask(bytes([0x04]))
        assert atr[:1] == b"\x3b"
        for _ in range(300):
            junk = rng.randbytes(rng.randint(2, 40))
            answer = ask(junk)
            assert len(answer) >= 2     # a response APDU: data + SW1 SW2
        for op in (0x00, 0x01, 0x02, 0x03, 0xFF):   # control bytes, known or not
            conn.sendall(struct.pack(">H", 1) + bytes([op]))
        assert ask(bytes([0x04])) == atr          # still in step
    finally:
        conn.close()
        slot.stop()
        listener.close()
