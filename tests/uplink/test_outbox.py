"""The outbox is written in the transaction of the event itself, in order."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from station_agent.faults.board import Fault
from station_agent.ledger import Ledger, LedgerRefused, faultlog, model
from station_agent.ledger import outbox as ob
from station_agent.ledger.errors import StorageError
from station_agent.ledger.store import SCHEMA_VERSION, ledger_path
from tests.helpers.legacy import downgrade_to_v4


def rows(ledger: Ledger) -> list[tuple[int, int | None, str | None]]:
    return ledger.read(lambda c: c.execute(
        "SELECT seq, entry_seq, body FROM outbox ORDER BY seq").fetchall())


def test_every_entry_queues_one_event_in_entry_order(ledger: Ledger) -> None:
    ledger.record(model.receive("B1", 100))
    # record_many takes the multi-row fast path; the mixed batch the slow one.
    ledger.record_many([model.pick(f"j{i}") for i in range(50)])
    results = ledger.record_many([model.complete("j1"), model.complete("nope"),
                                  model.reject("j2", "chip")])
    assert isinstance(results[1], LedgerRefused)
    queued = rows(ledger)
    assert [r[1] for r in queued] == list(range(1, 54))
    assert [r[0] for r in queued] == list(range(1, 54))
    events = ledger.read(lambda c: ob.pending(c, 0, 1000))
    assert [e.event["seq"] for e in events] == list(range(1, 54))
    head = ledger.read(lambda c: c.execute("SELECT head_hash FROM state").fetchone()[0])
    assert events[-1].chain_head == events[-1].event["hash"] == head


def test_a_refused_or_replayed_transfer_queues_nothing(ledger: Ledger) -> None:
    ledger.record(model.receive("B1", 5, first_serial="K0001"))
    with pytest.raises(LedgerRefused):
        ledger.record(model.write_off_stock(9, "more than the stock", "w1"))
    ledger.record(model.receive("B1", 5, first_serial="K0001"))   # replay
    assert len(rows(ledger)) == 1


def test_a_failed_transaction_leaves_neither_entry_nor_event(ledger: Ledger,
                                                             state_dir: Path) -> None:
    ledger.record(model.receive("B1", 5))
    # A trigger makes the outbox insert fail inside the entry's transaction.
    raw = sqlite3.connect(ledger_path(state_dir))
    raw.execute("CREATE TRIGGER no_more BEFORE INSERT ON outbox "
                "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    raw.commit()
    raw.close()
    with pytest.raises(StorageError):
        ledger.record(model.receive("B2", 5))
    assert ledger.balances().stock == 5
    assert ledger.balances().entries == 1
    assert len(rows(ledger)) == 1


def test_fault_changes_are_queued_with_the_chain_head(ledger: Ledger) -> None:
    ledger.record(model.receive("B1", 5))
    f = Fault("p1", "cover_open", "error", "close the cover", "2026-11-24T01:00:00Z")
    ledger.write(lambda c: faultlog.store_change(c, f))
    ledger.write(lambda c: faultlog.store_change(c, Fault(**{**f.as_dict(), "flapping": True})))
    ledger.write(lambda c: faultlog.store_change(
        c, Fault(**{**f.as_dict(), "cleared_at": "2026-11-24T01:05:00Z"})))
    events = ledger.read(lambda c: ob.pending(c, 1, 10))
    assert [e.type for e in events] == [ob.FAULT_RAISED, ob.FAULT_UPDATED, ob.FAULT_CLEARED]
    assert [e.seq for e in events] == [2, 3, 4]
    assert all(e.event["code"] == "cover_open" for e in events)
    assert events[0].created_at == "2026-11-24T01:00:00Z"
    assert events[2].created_at == "2026-11-24T01:05:00Z"
    head = ledger.read(lambda c: c.execute("SELECT head_hash FROM state").fetchone()[0])
    assert all(e.chain_head == head for e in events)


def test_mark_sent_prune_and_numbers_never_reused(ledger: Ledger,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ob, "KEEP_SENT", 3)
    ledger.record(model.receive("B1", 100))
    ledger.record_many([model.pick(f"j{i}") for i in range(9)])   # events 1..10
    b = ledger.read(ob.backlog)
    assert (b.count, b.last_seq) == (10, 10) and b.oldest is not None
    marked = ledger.write(lambda c: ob.mark_sent(c, [1, 2, 3, 4, 5, 6, 8], "t"))
    assert marked == 7
    assert ledger.write(lambda c: ob.mark_sent(c, [1, 2], "t")) == 0   # already marked
    assert [e.seq for e in ledger.read(lambda c: ob.pending(c, 0, 100))] == [7, 9, 10]
    # Sent rows below the oldest unsent one, except the newest 3, are gone.
    assert [r[0] for r in rows(ledger)] == [4, 5, 6, 7, 8, 9, 10]
    ledger.write(lambda c: ob.mark_sent(c, [7, 9, 10], "t"))
    assert [r[0] for r in rows(ledger)] == [8, 9, 10]
    ledger.record(model.pick("j99"))
    assert [e.seq for e in ledger.read(lambda c: ob.pending(c, 0, 100))] == [11]
    assert ledger.read(ob.backlog).last_seq == 11


def test_a_ledger_from_before_the_outbox_queues_its_history(state_dir: Path) -> None:
    with Ledger(state_dir) as led:
        led.record(model.receive("B1", 10))
        led.record_many([model.pick(f"j{i}") for i in range(4)])
    downgrade_to_v4(state_dir)
    raw = sqlite3.connect(ledger_path(state_dir))
    raw.executescript("DROP TABLE outbox; DELETE FROM sqlite_sequence; PRAGMA user_version=2;")
    raw.close()
    with Ledger(state_dir) as led:
        assert led.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION
        assert led.read(lambda c: c.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'outbox_unsent'").fetchone()[0]) == 0
        assert [e.event["seq"] for e in led.read(lambda c: ob.pending(c, 0, 100))] == \
            [1, 2, 3, 4, 5]
        led.record(model.pick("j9"))
        assert led.read(ob.backlog).count == 6


def test_the_backlog_count_is_exact_through_sends_and_an_upgrade(state_dir: Path) -> None:
    """The backlog is the newest event number minus the events ever acknowledged
    (schema 7): it equals a count of the unsent rows, before and after a ledger of
    schema 6 is upgraded, whatever order acknowledgements come in."""
    from tests.helpers.legacy import downgrade_to_v6

    def unsent(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL"
                                ).fetchone()[0])

    with Ledger(state_dir) as led:
        led.record(model.receive("B1", 100))
        led.record_many([model.pick(f"j{i}") for i in range(30)])
        led.write(lambda c: ob.mark_sent(c, [3, 1, 7, 2, 7], "t"))
        assert led.read(ob.backlog).count == led.read(unsent) == 27
    downgrade_to_v6(state_dir)
    with Ledger(state_dir) as led:
        assert led.read(ob.backlog).count == led.read(unsent) == 27
        led.write(lambda c: ob.mark_sent(c, range(10, 20), "t"))
        led.record(model.pick("j99"))
        assert led.read(ob.backlog).count == led.read(unsent) == 18
        led.write(lambda c: ob.mark_sent(c, range(1, 40), "t"))
        assert led.read(ob.backlog).count == led.read(unsent) == 0
