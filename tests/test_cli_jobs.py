"""``jobs``, ``jobs void``, ``jobs resolve`` and ``faults clear``: JSON contracts and
refusals (one line, exit 2, nothing changed), with and without a daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from station_agent.ledger import Ledger, joblog, model
from tests.conftest import run_cli

JOB_KEYS = {"job_id", "source", "printer", "queue", "created_at", "ended_at", "cards",
            "counter_verified", "detail", "open", "state", "outcome", "category", "card_jobs"}


@pytest.fixture
def filled(state_dir: Path) -> Path:
    with Ledger(state_dir) as led:
        led.record(model.receive("B1", 20))
        for job, source in (("drv-1", joblog.DRIVEN), ("rep-1", joblog.REPORTED)):
            led.write(lambda c, j=job, s=source: joblog.note(
                c, j, s, printer="p1", created_at="2026-11-27T01:00:00Z"))
            led.record(model.pick(job, device="p1"))
            led.record(model.complete(job, device="p1"))
        # A spooled job of two cards, the second left open.
        led.write(lambda c: joblog.note(c, "cups:q:3:abc", joblog.SPOOLER, printer="p1",
                                        queue="q", cards=2,
                                        created_at="2026-11-27T02:00:00Z"))
        led.write(lambda c: joblog.update(c, "cups:q:3:abc", state="unresolved",
                                          counter_verified=1, picked=2, attempts=1))
        for k in (1, 2):
            led.record(model.pick(f"cups:q:3:abc/1.{k}", device="p1"))
        led.record(model.complete("cups:q:3:abc/1.1", device="p1"))
        led.record(model.pick("stuck-1", device="p1"))
    return state_dir


def cli(state: Path, *args: str) -> tuple[int, str, str]:
    r = run_cli("--state-dir", str(state), *args)
    return r.code, r.out, r.err


def test_jobs_lists_every_source_with_its_cards(filled: Path) -> None:
    code, out, _ = cli(filled, "jobs", "--json")
    assert code == 0
    jobs = {d["job_id"]: d for d in json.loads(out)["jobs"]}
    assert set(jobs) == {"drv-1", "rep-1", "cups:q:3:abc", "stuck-1"}
    assert all(set(d) == JOB_KEYS for d in jobs.values())
    assert jobs["drv-1"]["source"] == "driven" and jobs["drv-1"]["outcome"] == "issued"
    spool = jobs["cups:q:3:abc"]
    assert (spool["source"], spool["queue"], spool["cards"], spool["open"],
            spool["counter_verified"]) == ("spooler", "q", 2, True, True)
    assert jobs["stuck-1"]["source"] == "reported" and jobs["stuck-1"]["state"] == "open"
    code, out, _ = cli(filled, "jobs", "--open", "--json")
    assert {d["job_id"] for d in json.loads(out)["jobs"]} == {"cups:q:3:abc", "stuck-1"}
    code, out, _ = cli(filled, "jobs", "--date", "2026-11-27", "--json")
    assert {d["job_id"] for d in json.loads(out)["jobs"]} == {"drv-1", "rep-1", "cups:q:3:abc"}
    code, out, _ = cli(filled, "jobs")
    assert code == 0 and "cups:q:3:abc" in out and "spooler" in out


def test_resolve_and_void_move_the_cards(filled: Path) -> None:
    code, out, err = cli(filled, "jobs", "resolve", "cups:q:3:abc", "--outcome", "spoiled",
                         "--category", "jam", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["resolved"] == ["cups:q:3:abc/1.2"] and doc["entry"]["category"] == "jam"
    code, out, err = cli(filled, "jobs", "void", "drv-1", "--category", "chip_failed",
                         "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["entry"]["kind"], doc["entry"]["src"], doc["entry"]["dst"]) == (
        "void", "issued", "spoiled_held")
    assert doc["balances"]["spoiled_held"] == 2 and doc["balances"]["issued"] == 2
    # The spooled job's one issued card is voided by the job's id.
    code, out, err = cli(filled, "jobs", "void", "cups:q:3:abc", "--category", "damaged",
                         "--json")
    assert code == 0, err
    assert json.loads(out)["entry"]["job_id"] == "cups:q:3:abc/1.1"


@pytest.mark.parametrize(("args", "says"), [
    (("jobs", "void", "nope", "--category", "jam"), "not in the ledger"),
    (("jobs", "void", "stuck-1", "--category", "jam"), "still open"),
    (("jobs", "void", "drv-1", "--category", "smudge"), "invalid choice"),
    (("jobs", "void", "drv-1", "--category", "other"), "reason is required"),
    (("jobs", "resolve", "drv-1", "--outcome", "lost"), "already settled"),
    (("jobs", "resolve", "ghost", "--outcome", "lost"), "no open job"),
    (("jobs", "resolve", "stuck-1", "--outcome", "issued", "--category", "jam"),
     "belongs to outcome spoiled"),
    (("jobs", "--date", "27-11-2026"), "YYYY-MM-DD"),
    (("faults", "clear", "p1", "unreported_pick"), "daemon"),
])
def test_bad_input_is_refused_in_one_line_and_changes_nothing(
        filled: Path, args: tuple[str, ...], says: str) -> None:
    before = cli(filled, "ledger", "export", "--format", "jsonl")[1]
    code, _out, err = cli(filled, *args)
    assert code in (1, 2) and says in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert cli(filled, "ledger", "export", "--format", "jsonl")[1] == before


def test_a_day_of_jobs_is_the_offices_day(state_dir: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Kupang (UTC+8): a job at 17:00 UTC on the 27th is on the 28th there, and
    the console's "today" (the office's date) lists it."""
    import time

    monkeypatch.setenv("TZ", "Asia/Makassar")
    time.tzset()
    try:
        with Ledger(state_dir) as led:
            for job, at in (("late", "2026-11-27T17:00:00Z"), ("early", "2026-11-27T15:59:59Z"),
                            ("next", "2026-11-28T16:00:00Z")):
                led.write(lambda c, j=job, t=at: joblog.note(c, j, joblog.DRIVEN, printer="p1",
                                                             created_at=t))
            day = led.read(lambda c: joblog.for_day(c, "2026-11-28", False))
            before = led.read(lambda c: joblog.for_day(c, "2026-11-27", False))
        assert [d["job_id"] for d in day] == ["late"]
        assert [d["job_id"] for d in before] == ["early"]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
