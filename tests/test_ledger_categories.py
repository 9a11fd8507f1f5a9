"""Spoil categories and the void transfer (DESIGN §3), and the schema-5 migration."""

from __future__ import annotations

from pathlib import Path

import pytest

from station_agent.ledger import (
    InvalidTransfer,
    JobRuleViolation,
    Ledger,
    VerifyReport,
    model,
    open_reader,
)
from station_agent.ledger import verify as verify_conn
from tests.helpers.legacy import downgrade_to_v4


def verify(state_dir: Path) -> VerifyReport:
    conn = open_reader(state_dir)
    try:
        return verify_conn(conn)
    finally:
        conn.close()


def _issue(led: Ledger, job: str) -> None:
    led.record(model.pick(job, device="p1"))
    led.record(model.complete(job, device="p1"))


def test_every_reject_and_void_carries_a_category(ledger: Ledger) -> None:
    ledger.record(model.receive("B1", 10))
    ledger.record(model.pick("j1"))
    e = ledger.record(model.reject("j1", category=model.JAM))
    assert (e.kind, e.category, e.reason) == ("reject", "jam", None)
    _issue(ledger, "j2")
    v = ledger.record(model.void("j2", model.CHIP_FAILED, "chip write failed"))
    assert (v.src, v.dst, v.category) == ("issued", "spoiled_held", "chip_failed")
    b = ledger.balances()
    assert (b.issued, b.spoiled_held, b.stock) == (0, 2, 8)
    assert verify(ledger.state_dir).ok


def test_a_reject_given_only_a_reason_gets_the_category_it_means(ledger: Ledger) -> None:
    ledger.record(model.receive("B1", 10))
    for job, reason, want in (("a", "chip_failed", "chip_failed"), ("b", "card_jam", "jam"),
                              ("c", "ribbon_out", "print_defect"),
                              ("d", "jam: card removed", "jam"),
                              ("e", "smudged by the operator", "other")):
        ledger.record(model.pick(job))
        assert ledger.record(model.reject(job, reason)).category == want


@pytest.mark.parametrize(("transfer", "says"), [
    (model.Transfer("reject", "in_printer", "spoiled_held", 1, "r1", job_id="j"), "category"),
    (model.Transfer("reject", "in_printer", "spoiled_held", 1, "r1", job_id="j",
                    category="smudge"), "category"),
    (model.Transfer("reject", "in_printer", "spoiled_held", 1, "r1", job_id="j",
                    category="other"), "reason is required"),
    (model.Transfer("pick", "stock", "in_printer", 1, "p1", job_id="j", category="jam"),
     "belongs to a reject or a void"),
    (model.Transfer("void", "issued", "spoiled_held", 2, "v1", job_id="j", category="jam"),
     "exactly one card"),
    (model.Transfer("void", "issued", "spoiled_held", 1, "v1", category="jam"), "job id"),
])
def test_malformed_spoils_are_refused(ledger: Ledger, transfer: model.Transfer,
                                      says: str) -> None:
    ledger.record(model.receive("B1", 10))
    with pytest.raises(InvalidTransfer, match=says):
        ledger.record(transfer)
    assert ledger.balances().stock == 10


def test_a_void_needs_a_completed_job_and_happens_once(ledger: Ledger) -> None:
    ledger.record(model.receive("B1", 10))
    with pytest.raises(JobRuleViolation, match="not in the ledger"):
        ledger.record(model.void("nope", model.DAMAGED))
    ledger.record(model.pick("open"))
    with pytest.raises(JobRuleViolation, match="still open"):
        ledger.record(model.void("open", model.DAMAGED))
    ledger.record(model.reject("open", category=model.JAM))
    with pytest.raises(JobRuleViolation, match="ended reject"):
        ledger.record(model.void("open", model.DAMAGED))
    _issue(ledger, "done")
    first = ledger.record(model.void("done", model.DAMAGED))
    assert ledger.record(model.void("done", model.DAMAGED)).replay
    with pytest.raises(JobRuleViolation, match="already voided"):
        ledger.record(model.void("done", model.PRINT_DEFECT, idem_id="void-again"))
    b = ledger.balances()
    assert (b.issued, b.spoiled_held) == (0, 2)
    assert ledger.balances().as_dict()["stock"] == 8
    assert first.seq == ledger.read(lambda c: c.execute(
        "SELECT void_seq FROM jobs WHERE job_id = 'done'").fetchone()[0])
    assert verify(ledger.state_dir).ok


def test_a_changed_category_breaks_the_chain(state_dir: Path) -> None:
    import sqlite3

    from station_agent.ledger.store import ledger_path

    with Ledger(state_dir) as led:
        led.record(model.receive("B1", 10))
        led.record(model.pick("j1"))
        e = led.record(model.reject("j1", category=model.JAM))
    raw = sqlite3.connect(ledger_path(state_dir))
    raw.executescript("DROP TRIGGER entries_no_update;")
    raw.execute("UPDATE entries SET category = 'chip_failed' WHERE seq = ?", (e.seq,))
    raw.commit()
    raw.close()
    report = verify(state_dir)
    assert report.first_break == e.seq


def test_migration_gives_old_rejects_a_category_and_keeps_the_chain(state_dir: Path) -> None:
    with Ledger(state_dir) as led:
        led.record(model.receive("B1", 20))
        for job, reason in (("a", "chip_failed"), ("b", "card_jam"), ("c", "operator note")):
            led.record(model.pick(job))
            # What a schema-4 release wrote: a reject with a reason and no category.
            led.record(model.Transfer("reject", "in_printer", "spoiled_held", 1,
                                      f"reject:{job}", job_id=job, reason=reason,
                                      category=model.category_for(reason)))
        _issue(led, "d")
    # Hashes of those rejects must be the schema-4 ones (without the category):
    # rewrite them as an old release would have written them.
    _rehash_without_categories(state_dir)
    downgrade_to_v4(state_dir)
    assert verify(state_dir).ok

    with Ledger(state_dir) as led:
        cats = dict(led.read(lambda c: c.execute(
            "SELECT job_id, category FROM entries WHERE kind = 'reject'").fetchall()))
        assert cats == {"a": "chip_failed", "b": "jam", "c": "other"}
        assert int(led.meta.get("categories_from", "0")) > 1
        led.record(model.void("d", model.CHIP_FAILED))
        led.record(model.pick("e"))
        led.record(model.reject("e", category=model.DAMAGED))
    report = verify(state_dir)
    assert report.ok, report.problems


def _rehash_without_categories(state_dir: Path) -> None:
    import sqlite3

    from station_agent.ledger.chain import entry_hash
    from station_agent.ledger.store import ledger_path

    raw = sqlite3.connect(ledger_path(state_dir))
    raw.executescript("DROP TRIGGER entries_no_update;")
    rows = raw.execute("SELECT seq, ts, kind, src, dst, count, idem_id, batch_id, job_id, "
                       "device, first_serial, reason, reference FROM entries ORDER BY seq"
                       ).fetchall()
    prev = raw.execute("SELECT prev_hash FROM entries WHERE seq = 1").fetchone()[0]
    for row in rows:
        h = entry_hash((*row, prev))
        raw.execute("UPDATE entries SET prev_hash = ?, hash = ?, category = NULL WHERE seq = ?",
                    (prev, h, row[0]))
        prev = h
    raw.execute("UPDATE state SET head_hash = ?", (prev,))
    raw.executescript("""CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
           BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;""")
    raw.commit()
    raw.close()


def test_the_daily_report_counts_spoils_by_category(ledger: Ledger) -> None:
    from datetime import date

    from station_agent import clock
    from station_agent.report.model import build_report
    from station_agent.report.render import render

    ledger.record(model.receive("B1", 20))
    for job, cat in (("a", model.JAM), ("b", model.JAM), ("c", model.CHIP_FAILED)):
        ledger.record(model.pick(job))
        ledger.record(model.reject(job, category=cat))
    _issue(ledger, "d")
    ledger.record(model.void("d", model.PRINT_DEFECT))
    today: date = clock.local_now().date()
    r = ledger.read(lambda c: build_report(c, today, station_id="s1"))
    assert r.spoiled_by_category == {"chip_failed": 1, "print_defect": 1, "damaged": 0,
                                     "jam": 2, "other": 0}
    assert (r.moved["spoiled"], r.moved["voided"]) == (4, 1)
    assert r.stock_identity_ok and r.station_identity_ok
    text = render(r, "text", "id")
    assert "Rusak menurut penyebab" in text and "Chip gagal" in text
    assert "spoiled_by_category,jam,2" in render(r, "csv", "en")
    assert "Macet, dikeluarkan manual" in render(r, "html", "id")
