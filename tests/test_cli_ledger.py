"""The ``blanks`` and ``ledger`` commands as a user runs them (separate processes).

Every bad input gets exit code 2 (bad usage or input) or 1 (the operation or
storage failed), one line on stderr saying what to do, and changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CliResult, cli_env, run_cli

from station_agent.ledger import Ledger, model
from station_agent.ledger.store import ledger_path

CONTRACT_FIELDS = {"stock", "in_printer", "issued", "spoiled_held", "spoiled_disposed", "lost",
                   "received", "adjusted"}


def one_line_error(r: CliResult, code: int, *needles: str) -> None:
    assert r.code == code, (r.code, r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def balances(cli) -> dict[str, object]:  # type: ignore[no-untyped-def]
    r = cli("blanks", "--json")
    assert r.code == 0, r.err
    doc: dict[str, object] = json.loads(r.out)
    return doc


def test_receive_then_balances_json_has_the_contract_fields(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("blanks", "receive", "--batch", "KTP-A", "--count", "500", "--first-serial", "KTP0001",
            "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["entry"]["seq"] == 1 and doc["replay"] is False
    b = balances(cli)
    assert set(b) >= CONTRACT_FIELDS
    assert b["stock"] == 500 and b["received"] == 500 and b["adjusted"] == 0
    human = cli("blanks")
    assert human.code == 0 and "stock" in human.out and "500" in human.out


def test_same_delivery_twice_is_a_noop_and_a_different_one_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("blanks", "receive", "--batch", "A", "--count", "100").code == 0
    again = cli("blanks", "receive", "--batch", "A", "--count", "100")
    assert again.code == 0 and "already recorded as entry 1" in again.out
    clash = cli("blanks", "receive", "--batch", "A", "--count", "120")
    one_line_error(clash, 2, "batch A", "entry 1", "delivery of 100", "says 120")
    assert "receive:" not in clash.err and "idempotency" not in clash.err
    assert balances(cli)["stock"] == 100


@pytest.mark.parametrize("count", ["0", "-5", "abc", "1.5", "1e3", "", "99999999999"])
def test_bad_counts_are_refused(cli, state_dir: Path, count: str) -> None:  # type: ignore[no-untyped-def]
    r = cli("blanks", "receive", "--batch", "A", "--count", count)
    one_line_error(r, 2, "--count")
    assert not ledger_path(state_dir).exists()


def test_bad_input_changes_nothing(cli, state_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("blanks", "receive", "--batch", "A", "--count", "10",
               "--first-serial", "KTP0100").code == 0
    before = balances(cli)
    cases = [
        (("blanks", "write-off", "--count", "11", "--reason", "gone"), 2,
         "only 10 blank(s) in stock"),
        (("blanks", "dispose", "--count", "1", "--reference", "BA-1"), 2,
         "only 0 blank(s) spoiled, in custody"),
        (("blanks", "adjust", "--count", "0", "--reason", "x"), 2, "--count"),
        (("blanks", "adjust", "--count=-11", "--reason", "x"), 2, "cannot go below zero"),
        (("blanks", "adjust", "--count", "+2"), 2, "--reason"),
        (("blanks", "write-off", "--count", "1", "--reason", "two\nlines"), 2, "control character"),
        (("blanks", "write-off", "--count", "1", "--reason", "   "), 2, "reason is empty"),
        (("blanks", "receive", "--batch", "B", "--count", "5", "--first-serial", "KTP0105"), 2,
         "overlap"),
        (("blanks", "receive", "--batch", "C", "--count", "5", "--first-serial", "KTP-"), 2,
         "does not end in digits"),
        (("blanks", "teleport"), 2, "invalid choice"),
        (("frobnicate",), 2, "invalid choice"),
        (("ledger", "export", "--format", "xml"), 2, "--format"),
        (("ledger", "verify", "--expect-head", "12"), 2, "ENTRY:HASH"),
    ]
    for args, code, needle in cases:
        one_line_error(cli(*args), code, needle)
    assert balances(cli) == before


def test_adjust_and_write_off_move_stock(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("blanks", "receive", "--batch", "A", "--count", "10").code == 0
    r = cli("blanks", "adjust", "--count", "-3", "--reason", "physical count", "--id", "pc-1")
    assert r.code == 0, r.err
    assert cli("blanks", "adjust", "--count=+5", "--reason", "found a box").code == 0
    assert cli("blanks", "write-off", "--count", "2", "--reason", "water damage").code == 0
    # The same --id again is a replay, not a second correction.
    assert "already recorded" in cli("blanks", "adjust", "--count", "-3", "--reason",
                                     "physical count", "--id", "pc-1").out
    b = balances(cli)
    assert (b["stock"], b["adjusted"], b["lost"], b["received"]) == (10, 2, 2, 10)


def test_state_dir_from_environment(state_dir: Path) -> None:
    env = cli_env(STATION_AGENT_STATE=str(state_dir))
    assert run_cli("blanks", "receive", "--batch", "E", "--count", "7", env=env).code == 0
    assert ledger_path(state_dir).exists()
    r = run_cli("blanks", "--json", env=env)
    assert json.loads(r.out)["stock"] == 7


def test_state_dir_from_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "station.toml"
    target = tmp_path / "from-config"
    conf.write_text(f'[station]\nid = "t-01"\nstate_dir = "{target}"\n')
    env = cli_env(STATION_AGENT_CONFIG=str(conf))
    assert run_cli("blanks", "receive", "--batch", "E", "--count", "3", env=env).code == 0
    assert ledger_path(target).exists()
    conf.write_text("[station\n")
    one_line_error(run_cli("blanks", env=env), 2, "not valid TOML", str(conf))


def test_export_has_every_entry_with_every_field(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("blanks", "receive", "--batch", "A", "--count", "10",
               "--first-serial", "S001").code == 0
    assert cli("blanks", "write-off", "--count", "1", "--reason", "lost, \"quoted\"").code == 0
    r = cli("ledger", "export", "--format", "csv")
    assert r.code == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [row["seq"] for row in rows] == ["1", "2"]
    assert rows[1]["reason"] == 'lost, "quoted"'
    assert {"seq", "ts", "kind", "src", "dst", "count", "idem_id", "batch_id", "job_id",
            "first_serial", "reason", "reference", "prev_hash", "hash"} <= set(rows[0])
    j = cli("ledger", "export", "--format", "jsonl")
    docs = [json.loads(line) for line in j.out.splitlines()]
    assert [d["kind"] for d in docs] == ["receive", "write_off"]
    assert docs[0]["first_serial"] == "S001" and docs[1]["prev_hash"] == docs[0]["hash"]


# --- storage problems ------------------------------------------------------------

def test_reading_a_missing_ledger_says_where(cli, state_dir: Path) -> None:  # type: ignore[no-untyped-def]
    one_line_error(cli("blanks"), 1, "no ledger at", str(state_dir))
    assert not ledger_path(state_dir).exists()


def test_a_file_that_is_not_a_ledger_is_refused_and_left_alone(cli, state_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = ledger_path(state_dir)
    path.write_bytes(b"this is a spreadsheet, not a ledger\n" * 50)
    before = path.read_bytes()
    one_line_error(cli("blanks"), 1, "not a station-agent ledger", str(path))
    one_line_error(cli("blanks", "receive", "--batch", "A", "--count", "1"), 1,
                   "not a station-agent ledger")
    assert path.read_bytes() == before


def test_another_sqlite_database_is_refused_and_left_alone(cli, state_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = ledger_path(state_dir)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    one_line_error(cli("blanks", "receive", "--batch", "A", "--count", "1"), 1,
                   "not a station-agent ledger")
    assert path.read_bytes() == before


def test_a_corrupt_ledger_is_reported_not_repaired(cli, state_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("blanks", "receive", "--batch", "B0", "--count", "1").code == 0
    with Ledger(state_dir) as led:
        led.record_many([model.receive(f"X{i}", 1) for i in range(3000)])
    path = ledger_path(state_dir)
    data = bytearray(path.read_bytes())
    assert len(data) > 8 * 4096
    data[4096 * 3: 4096 * 6] = b"\xa5" * (4096 * 3)
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    r = cli("ledger", "verify")
    assert r.code == 1
    assert "corrupt" in (r.err + r.out)
    assert len(r.err.strip().splitlines()) <= 1
    assert path.read_bytes() == before


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of our own (needs root, as in CI), unmounted afterwards."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a scratch tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a scratch tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_fails_cleanly_and_records_nothing(small_fs: Path) -> None:
    state = small_fs / "state"
    env = cli_env(STATION_AGENT_STATE=str(state))
    assert run_cli("blanks", "receive", "--batch", "A", "--count", "50", env=env).code == 0
    filler = small_fs / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    failed = None
    for i in range(200):  # until the ledger itself cannot grow
        r = run_cli("blanks", "receive", "--batch", f"F{i}", "--count", "1",
                    "--first-serial", f"{'S' * 120}{i:06d}", env=env)
        if r.code != 0:
            failed = r
            break
    assert failed is not None, "the ledger never hit the full disk"
    one_line_error(failed, 1, "disk full", "nothing was recorded")
    filler.unlink()
    v = run_cli("ledger", "verify", "--json", env=env)
    doc = json.loads(v.out)
    assert v.code == 0 and doc["ok"], v.out
    b = json.loads(run_cli("blanks", "--json", env=env).out)
    assert b["stock"] == 50 + i


def test_read_only_file_system_fails_cleanly(small_fs: Path) -> None:
    state = small_fs / "state"
    env = cli_env(STATION_AGENT_STATE=str(state))
    assert run_cli("blanks", "receive", "--batch", "A", "--count", "5", env=env).code == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    try:
        r = run_cli("blanks", "receive", "--batch", "B", "--count", "5", env=env)
        one_line_error(r, 1, "read-only")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    b = json.loads(run_cli("blanks", "--json", env=env).out)
    assert b["stock"] == 5


def test_status_and_faults_show_times_in_the_offices_zone(state_dir: Path) -> None:
    """Stored times are UTC; the technician reads them as the office keeps them
    (the state directory's recorded zone, here Kupang's WITA, UTC+8)."""
    from station_agent import clock
    from station_agent.faults.board import Fault
    from station_agent.ledger import faultlog

    jam = Fault("p1", "card_jam", "error", "a card is stuck", "2026-11-27T17:05:00Z")
    with Ledger(state_dir) as led:
        led.record(model.receive("B-1", 10))
        led.write(lambda c: faultlog.store_change(c, jam))
        oldest = led.read(lambda c: c.execute("SELECT ts FROM entries").fetchone()[0])
    clock.record_timezone(state_dir, "Asia/Makassar")
    status = run_cli("--state-dir", str(state_dir), "status")
    assert status.code == 0, status.err
    from datetime import datetime, timedelta

    utc = datetime.fromisoformat(oldest.replace("Z", "+00:00"))
    wita = (utc + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert f"oldest from {wita} WITA" in status.out, status.out
    faults = run_cli("--state-dir", str(state_dir), "faults", "--history")
    assert faults.code == 0, faults.err
    assert "2026-11-28 01:05 WITA (active)" in faults.out, faults.out
