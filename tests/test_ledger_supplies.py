"""Supplies in the ledger (DESIGN §10): whole units per supply kind in the same
hash-chained, idempotent, crash-safe ledger as the blanks; refusals that change
nothing; yields from counters or from jobs; the outbox; the schema upgrade."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO
from helpers.legacy import downgrade_to_v7

from station_agent.ledger import Ledger, LedgerRefused, model, open_reader, supplies, verify
from station_agent.ledger import outbox as ob
from station_agent.ledger.errors import InvalidTransfer
from station_agent.ledger.store import SCHEMA_VERSION, ledger_path

RIBBON = "ribbon-ymcko"
FILM = "film-clear"


def _state(ledger: Ledger) -> tuple[object, ...]:
    """Everything a refusal must leave alone."""
    return (ledger.balances(), ledger.read(supplies.balances),
            ledger.read(lambda c: c.execute("SELECT count(*) FROM supply_units").fetchone()))


def _install(ledger: Ledger, printer: str, idem: str, counter: int | None = None,
             item: str = RIBBON) -> list[model.Entry]:
    transfers = ledger.read(lambda c: supplies.install_transfers(c, item, printer, idem,
                                                                 counter=counter))
    out = []
    for r in ledger.record_many(transfers):
        if not isinstance(r, model.Entry):
            raise r
        out.append(r)
    return out


def test_units_move_between_their_own_accounts(ledger: Ledger) -> None:
    ledger.record(model.receive("KTP-1", 100))
    blanks = ledger.balances()
    ledger.record(model.supply_receive(RIBBON, 5, "RB-1"))
    ledger.record(model.supply_receive(FILM, 2, "F-1"))
    first = _install(ledger, "evolis-1", "i1", counter=10)
    assert [e.kind for e in first] == [model.SUPPLY_INSTALL]
    second = _install(ledger, "evolis-1", "i2", counter=510)   # the old one is finished
    assert [e.kind for e in second] == [model.SUPPLY_FINISH, model.SUPPLY_INSTALL]
    assert second[0].seq + 1 == second[1].seq
    ledger.record(model.supply_write_off(RIBBON, 1, "torn in transport", "w1"))
    bal = ledger.read(supplies.balances)
    assert bal[RIBBON] == {"supply_stock": 2, "supply_installed": 1, "supply_finished": 1,
                           "supply_written_off": 1, "received": 5}
    assert bal[FILM]["supply_stock"] == 2
    # The blanks did not move, and the invariants of both hold in verify.
    after = ledger.balances()
    assert (after.stock, after.received) == (blanks.stock, blanks.received)
    report = ledger.read(verify)
    assert report.ok, report.problems
    units = ledger.read(lambda c: supplies.units(c, item=RIBBON))
    assert [(u.device, u.cards, u.measured, u.installed) for u in units] == [
        ("evolis-1", 500, supplies.FROM_COUNTER, False), ("evolis-1", 0, supplies.FROM_JOBS, True)]


def test_a_yield_without_counters_counts_the_printers_picks(ledger: Ledger) -> None:
    ledger.record(model.receive("KTP-1", 100))
    ledger.record(model.supply_receive(RIBBON, 3, "RB-1"))
    _install(ledger, "p1", "i1")
    for n in range(7):
        ledger.record(model.pick(f"j{n}", device="p1"))
        ledger.record(model.complete(f"j{n}", device="p1"))
    ledger.record(model.pick("other", device="p2"))   # another printer's card
    ledger.record(model.supply_finish(RIBBON, "p1", "f1"))
    (unit,) = ledger.read(lambda c: supplies.units(c, item=RIBBON))
    assert (unit.cards, unit.measured, unit.end_kind) == (7, supplies.FROM_JOBS,
                                                          model.SUPPLY_FINISH)


def test_replays_change_nothing_and_a_repeated_install_never_finishes_itself(
        ledger: Ledger) -> None:
    ledger.record(model.supply_receive(RIBBON, 3, "RB-1"))
    again = ledger.record(model.supply_receive(RIBBON, 3, "RB-1"))
    assert again.replay
    _install(ledger, "p1", "i1", counter=5)
    before = _state(ledger)
    entries = _install(ledger, "p1", "i1", counter=5)   # the same request, sent again
    assert [e.replay for e in entries] == [True]
    assert _state(ledger) == before
    with pytest.raises(LedgerRefused, match=r"already recorded .* 3 unit"):
        ledger.record(model.supply_receive(RIBBON, 4, "RB-1"))


@pytest.mark.parametrize("transfer, words", [
    (lambda: model.supply_finish(RIBBON, "p3", "f1"),
     "no ribbon-ymcko is recorded as installed in printer p3"),
    (lambda: model.supply_install(RIBBON, "p2", "i9"), "only 0 in stock"),
    (lambda: model.supply_write_off(RIBBON, 9, "lost", "w9"), "only 2 in stock"),
    (lambda: model.supply_write_off(RIBBON, 1, "broken", "w8", device="p2"),
     "no ribbon-ymcko is recorded as installed in printer p2"),
    (lambda: model.supply_install(RIBBON, "p1", "i9"), "already has a ribbon-ymcko installed"),
])
def test_refusals_say_why_and_change_nothing(ledger: Ledger, transfer: object,
                                            words: str) -> None:
    ledger.record(model.supply_receive(RIBBON, 3, "RB-1"))
    ledger.record(model.supply_install(RIBBON, "p1", "i0"))
    if "only 0" in words:
        ledger.record(model.supply_write_off(RIBBON, 2, "empty the shelf", "w0"))
    before = _state(ledger)
    with pytest.raises(LedgerRefused, match=words) as err:
        ledger.record(transfer())  # type: ignore[operator]
    assert "\n" not in str(err.value)
    assert _state(ledger) == before


@pytest.mark.parametrize("bad, words", [
    (model.Transfer(model.SUPPLY_RECEIVE, model.EXTERNAL, model.SUPPLY_STOCK, 1, "x",
                    batch_id="b"), "supply kind is required"),
    (model.Transfer(model.SUPPLY_RECEIVE, model.EXTERNAL, model.SUPPLY_STOCK, -1, "x",
                    batch_id="b", item=RIBBON), "count must be between"),
    (model.Transfer(model.SUPPLY_INSTALL, model.SUPPLY_STOCK, model.SUPPLY_INSTALLED, 2, "x",
                    device="p1", item=RIBBON), "moves the one unit"),
    (model.Transfer(model.SUPPLY_INSTALL, model.SUPPLY_STOCK, model.SUPPLY_INSTALLED, 1, "x",
                    item=RIBBON), "printer is required"),
    (model.Transfer(model.SUPPLY_FINISH, model.SUPPLY_STOCK, model.SUPPLY_FINISHED, 1, "x",
                    device="p1", item=RIBBON), "cannot move supplies"),
    (model.Transfer(model.RECEIVE, model.EXTERNAL, model.STOCK, 1, "x", batch_id="b",
                    item=RIBBON), "belongs to a supply transfer"),
    (model.Transfer(model.SUPPLY_WRITE_OFF, model.SUPPLY_STOCK, model.SUPPLY_WRITTEN_OFF, 1,
                    "x", item=RIBBON), "reason is required"),
    (model.Transfer(model.SUPPLY_RECEIVE, model.EXTERNAL, model.SUPPLY_STOCK, 1, "x",
                    batch_id="b", item="ribbon ymcko"), "not an opaque reference"),
])
def test_malformed_supply_transfers_are_refused(ledger: Ledger, bad: model.Transfer,
                                                words: str) -> None:
    before = _state(ledger)
    with pytest.raises(InvalidTransfer, match=words):
        ledger.record(bad)
    assert _state(ledger) == before


def test_the_chain_covers_the_supply_kind_and_verify_recomputes_supplies(
        ledger: Ledger) -> None:
    ledger.record(model.supply_receive(RIBBON, 3, "RB-1"))
    _install(ledger, "p1", "i1")
    ledger.close()
    raw = sqlite3.connect(ledger_path(ledger.state_dir))
    raw.execute("DROP TRIGGER entries_no_update")
    raw.execute("UPDATE entries SET item = ? WHERE seq = 1", (FILM,))
    raw.commit()
    conn = open_reader(ledger.state_dir)
    try:
        report = verify(conn)
    finally:
        conn.close()
    assert not report.ok and report.first_break == 1
    raw.execute("UPDATE entries SET item = ? WHERE seq = 1", (RIBBON,))
    raw.execute("UPDATE supply_balances SET balance = 7 WHERE account = 'supply_stock'")
    raw.commit()
    raw.close()
    conn = open_reader(ledger.state_dir)
    try:
        report = verify(conn)
    finally:
        conn.close()
    assert not report.ok and report.first_break is None
    assert any("stored balances of supply ribbon-ymcko" in p for p in report.problems)


def test_supply_entries_go_to_the_outbox_with_their_kind(ledger: Ledger) -> None:
    ledger.record(model.supply_receive(RIBBON, 3, "RB-1"))
    _install(ledger, "p1", "i1", counter=3)
    events = ledger.read(lambda c: ob.pending(c, 0, 10))
    assert [(e.event["kind"], e.event["item"]) for e in events] == [
        (model.SUPPLY_RECEIVE, RIBBON), (model.SUPPLY_INSTALL, RIBBON)]
    assert events[1].event["reference"] == "counter=3"


def test_a_schema_7_ledger_is_upgraded_and_keeps_its_chain(state_dir: Path) -> None:
    with Ledger(state_dir) as led:
        led.record(model.receive("KTP-1", 10))
        led.record(model.pick("j1", device="p1"))
    downgrade_to_v7(state_dir)
    with Ledger(state_dir) as led:
        assert led.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION
        led.record(model.supply_receive(RIBBON, 2, "RB-1"))
        assert led.read(verify).ok


def _start(state_dir: Path, run: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests'}")
    return subprocess.Popen([sys.executable, "-m", "helpers.supply_recorder", str(state_dir),
                             f"r{run}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def test_installs_survive_sigkill_whole(state_dir: Path) -> None:
    """Kill -9 while installs (each with the finish of the unit before it) are being
    recorded: every acknowledged install is there, no install lost its finish or
    gained a second unit, and the chain and supply balances verify."""
    rng = random.Random(20261128)
    acked: set[str] = set()
    mid_run = 0
    for run in range(40):
        proc = _start(state_dir, run)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready", proc.stderr and proc.stderr.read()
            time.sleep(rng.uniform(0, 0.05))
            proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        lines = [x for x in out.splitlines() if x]
        mid_run += bool(lines)
        acked.update(lines)
        conn = open_reader(state_dir)
        try:
            assert verify(conn).ok
            have = {r[0] for r in conn.execute(
                "SELECT idem_id FROM entries WHERE kind = 'supply_install'")}
            assert acked <= have, sorted(acked - have)[:3]
            open_units = conn.execute("SELECT item, device, count(*) FROM supply_units WHERE "
                                      "end_seq IS NULL GROUP BY item, device").fetchall()
            assert all(n == 1 for _i, _d, n in open_units)
            bal = supplies.balances(conn)[RIBBON]
            installs = conn.execute("SELECT count(*) FROM entries WHERE kind = 'supply_install'"
                                    ).fetchone()[0]
            assert bal["supply_installed"] == len(open_units) <= 2
            assert bal["supply_finished"] == installs - len(open_units)
        finally:
            conn.close()
    assert mid_run > 10 and len(acked) > 40
