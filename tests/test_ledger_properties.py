"""Stateful property test: the ledger against a tiny reference model.

Random sequences of receive / pick / complete / reject / write-off / dispose /
adjust, replays of earlier ids (same and different content), malformed and
state-refused operations, single and batched. After every step the balances
equal the model's, and a refused operation changed nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from refmodel import RefLedger

from station_agent.ledger import Ledger, LedgerRefused, model, open_reader, verify
from station_agent.ledger.model import Transfer

JOBS = st.sampled_from([f"job-{i}" for i in range(12)])
IDS = st.sampled_from([f"id-{i}" for i in range(10)])
BATCHES = st.sampled_from(["B1", "B2", "B3", "B4"])
SERIALS = st.one_of(st.none(), st.sampled_from(["KTP0001", "KTP0040", "KTP0100", "X9", "ABC"]))
REASONS = st.sampled_from(["chip_failed", "print_defect", "count", "lost in jam"])


@st.composite
def transfers(draw: st.DrawFn) -> Transfer:
    kind = draw(st.sampled_from(["receive", "pick", "complete", "reject", "write_off_job",
                                 "write_off_stock", "dispose", "adjust"]))
    if kind == "receive":
        return model.receive(draw(BATCHES), draw(st.integers(1, 60)),
                             first_serial=draw(SERIALS))
    if kind == "pick":
        return model.pick(draw(JOBS), device=draw(st.sampled_from([None, "evolis-1"])))
    if kind == "complete":
        return model.complete(draw(JOBS))
    if kind == "reject":
        return model.reject(draw(JOBS), draw(REASONS))
    if kind == "write_off_job":
        return model.write_off_job(draw(JOBS), draw(REASONS))
    if kind == "write_off_stock":
        return model.write_off_stock(draw(st.integers(1, 40)), draw(REASONS), draw(IDS))
    if kind == "dispose":
        return model.dispose(draw(st.integers(1, 15)), draw(st.sampled_from(["BA-1", "BA-2"])))
    delta = draw(st.integers(-30, 30).filter(bool))
    return model.adjust(delta, draw(REASONS), draw(IDS))


MALFORMED = st.sampled_from([
    Transfer("receive", "external", "stock", 0, "m1", batch_id="B9"),
    Transfer("receive", "external", "stock", -4, "m2", batch_id="B9"),
    Transfer("pick", "stock", "issued", 1, "m3", job_id="j"),
    Transfer("reject", "in_printer", "spoiled_held", 1, "m4", job_id="job-1", reason=""),
    Transfer("reject", "in_printer", "spoiled_held", 1, "m5", job_id="job-1", reason="a\nb"),
    Transfer("write_off", "stock", "lost", 1, "m6"),
    Transfer("dispose", "spoiled_held", "spoiled_disposed", 1, "m7"),
    Transfer("teleport", "stock", "issued", 1, "m8"),
    Transfer("pick", "stock", "in_printer", 2, "m9", job_id="job-2"),
    Transfer("receive", "external", "stock", 5, " padded ", batch_id="B9"),
])


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="ledger-prop-"))
        self.ledger = Ledger(self.dir)
        self.ref = RefLedger()
        self.history: list[Transfer] = []

    def teardown(self) -> None:
        self.ledger.close()
        conn = open_reader(self.dir)
        try:
            report = verify(conn)
        finally:
            conn.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        assert report.ok, report.problems
        assert report.entries == self.ref.entries

    def _snapshot(self) -> tuple[object, ...]:
        b = self.ledger.balances()
        return (b.as_dict(),)

    def _check_one(self, t: Transfer, verdict: str, result: object) -> None:
        if verdict == "refused":
            assert isinstance(result, LedgerRefused), (t, result)
        elif verdict == "replay":
            assert not isinstance(result, Exception), (t, result)
            assert result.replay, t  # type: ignore[attr-defined]
        else:
            assert not isinstance(result, Exception), (t, result)
            assert not result.replay, t  # type: ignore[attr-defined]
            assert result.seq == self.ref.entries  # type: ignore[attr-defined]

    def _record(self, t: Transfer) -> None:
        before = self._snapshot()
        try:
            result: object = self.ledger.record(t)
        except LedgerRefused as exc:
            result = exc
        verdict = self.ref.apply(t)
        self._check_one(t, verdict, result)
        if verdict != "new":
            assert self._snapshot() == before, f"{verdict} {t} changed the ledger"
        self.history.append(t)

    @rule(t=transfers())
    def record(self, t: Transfer) -> None:
        self._record(t)

    @precondition(lambda self: bool(self.history))
    @rule(data=st.data())
    def replay_earlier(self, data: st.DataObject) -> None:
        self._record(data.draw(st.sampled_from(self.history)))

    @rule(t=MALFORMED)
    def malformed(self, t: Transfer) -> None:
        self._record(t)

    @rule(ts=st.lists(transfers(), min_size=2, max_size=8))
    def batch(self, ts: list[Transfer]) -> None:
        """record_many: judged one by one, exactly like separate records."""
        results = self.ledger.record_many(ts)
        for t, result in zip(ts, results, strict=True):
            self._check_one(t, self.ref.apply(t), result)
            self.history.append(t)

    @rule(job=JOBS)
    def outcome_before_pick_in_one_batch(self, job: str) -> None:
        """A batch holding an outcome before its own pick must refuse the outcome."""
        ts = [model.complete(job), model.pick(job)]
        for t, result in zip(ts, self.ledger.record_many(ts), strict=True):
            self._check_one(t, self.ref.apply(t), result)
            self.history.append(t)

    @invariant()
    def balances_match_model(self) -> None:
        b = self.ledger.balances()
        for account in model.HELD_ACCOUNTS:
            assert getattr(b, account) == self.ref.balances[account], account
            assert getattr(b, account) >= 0
        assert b.received == self.ref.received
        assert b.adjusted == self.ref.adjusted
        assert b.entries == self.ref.entries
        assert b.accounted == b.received + b.adjusted


LedgerMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerMachine = LedgerMachine.TestCase
