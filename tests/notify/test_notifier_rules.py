"""What the notifier tells and when (in-process, a real ledger, a recording
channel): min_active, clearing, rate limit, once-only ids across restarts,
retries with backoff, and a dead channel that holds back only its own queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from station_agent.config import parse_config
from station_agent.ledger import Ledger, model, notices
from station_agent.notify.channels import DeliveryFailed
from station_agent.notify.notifier import Notifier, backoff_s

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


class Recorder:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail, self.sent = name, fail, []  # type: ignore[var-annotated]

    def send(self, doc: dict[str, Any]) -> None:
        if self.fail:
            raise DeliveryFailed("peer down")
        self.sent.append(doc)


def _notifier(tmp: Path, faults: list[dict[str, Any]], channels: list[Recorder],
              **notify: Any) -> tuple[Notifier, Ledger]:
    cfg = parse_config({"station": {"id": "kpg-01", "office": "Kupang", "language": "en"},
                        "notify": {"command": ["/bin/true"], "min_active": 300,
                                   "rate_limit_minutes": 60, **notify}},
                       tmp / "station.toml")
    ledger = Ledger(tmp / "state", station_id="kpg-01")
    return Notifier(cfg, ledger, lambda: list(faults), senders=channels), ledger  # type: ignore[arg-type]


def _fault(code: str, source: str, at: datetime, severity: str = "error") -> dict[str, Any]:
    return {"source": source, "code": code, "severity": severity,
            "raised_at": at.isoformat().replace("+00:00", "Z"), "message": ""}


def test_a_fault_is_told_after_min_active_and_its_clearing_after(tmp_path: Path) -> None:
    faults = [_fault("card_jam", "evolis-1", T0), _fault("feeder_empty", "evolis-1", T0,
                                                         "warning")]
    rec = Recorder("command")
    n, ledger = _notifier(tmp_path, faults, [rec])
    try:
        assert n.check(T0 + timedelta(seconds=100)) == []          # not long enough yet
        told = n.check(T0 + timedelta(seconds=301))
        assert told == [f"fault:evolis-1:card_jam:{faults[0]['raised_at']}"]   # warning: no
        assert n.check(T0 + timedelta(seconds=400)) == []          # once
        n.deliver(rec)  # type: ignore[arg-type]
        assert [d["code"] for d in rec.sent] == ["fault:card_jam"]
        assert "What to do" not in rec.sent[0]["message"]
        assert rec.sent[0]["todo"].startswith("open the printer")
        faults.clear()
        cleared = n.check(T0 + timedelta(seconds=500))
        assert cleared == [f"fault_cleared:evolis-1:card_jam:{T0.isoformat()[:-6]}Z"]
        assert n.check(T0 + timedelta(seconds=600)) == []
    finally:
        ledger.close()


def test_the_rate_limit_holds_back_a_flapping_fault(tmp_path: Path) -> None:
    faults: list[dict[str, Any]] = []
    n, ledger = _notifier(tmp_path, faults, [Recorder("command")], min_active=0)
    try:
        told = []
        for k in range(5):   # raised again every 10 minutes
            at = T0 + timedelta(minutes=10 * k)
            faults[:] = [_fault("card_jam", "evolis-1", at)]
            told += n.check(at + timedelta(seconds=1))
            faults.clear()
            told += n.check(at + timedelta(minutes=5))
        raised = [i for i in told if i.startswith("fault:")]
        assert len(raised) == 1 and n.suppressed == 4
        # Only the clearing of what was told.
        assert len([i for i in told if i.startswith("fault_cleared:")]) == 1
        faults[:] = [_fault("card_jam", "evolis-1", T0 + timedelta(minutes=90))]
        assert n.check(T0 + timedelta(minutes=91)) != []          # the window has passed
    finally:
        ledger.close()


def test_ids_are_once_only_across_a_restart(tmp_path: Path) -> None:
    faults = [_fault("stock_low", "station", T0, "warning")]
    n, ledger = _notifier(tmp_path, faults, [Recorder("command")], daily_at="00:00")
    ledger.record(model.receive("B-1", 100))
    first = n.check(T0 + timedelta(seconds=5))
    assert sorted(i.split(":")[0] for i in first) == ["daily_summary", "stock_low"]
    ledger.close()
    again, ledger2 = _notifier(tmp_path, faults, [Recorder("command")], daily_at="00:00")
    try:
        assert again.check(T0 + timedelta(seconds=50)) == []
    finally:
        ledger2.close()


def test_a_dead_channel_retries_with_backoff_and_holds_back_only_itself(tmp_path: Path
                                                                       ) -> None:
    faults = [_fault("stock_low", "station", T0, "warning")]
    dead, live = Recorder("webhook", fail=True), Recorder("email")
    n, ledger = _notifier(tmp_path, faults, [dead, live], retry_seconds=60)
    try:
        ledger.record(model.receive("B-1", 100))
        assert n.check(T0) != []
        assert n.deliver(live) == 1 and n.deliver(dead) == 0  # type: ignore[arg-type]
        row = next(r for r in ledger.read(notices.listing) if r.channel == "webhook")
        assert row.attempts == 1 and row.sent_at is None and row.last_error == "peer down"
        assert n.deliver(dead) == 0                               # not due yet: not tried
        assert ledger.read(lambda c: c.execute(
            "SELECT attempts FROM notifications WHERE channel = 'webhook'").fetchone()[0]) == 1
    finally:
        ledger.close()
    assert [backoff_s(k, 30) for k in (1, 2, 3)] == [30, 60, 120]
    assert backoff_s(40, 30) == 3600


def test_a_run_out_within_warn_days_is_told_once_a_day(tmp_path: Path) -> None:
    """``runout_soon``: told when the trailing rate empties the stock within
    ``warn_days``, not before, and once per local day."""
    rec = Recorder("command")
    n, ledger = _notifier(tmp_path, [], [rec], warn_days=3)
    try:
        now = datetime.now(UTC)
        ledger.record(model.receive("B-1", 100))
        for i in range(10):                       # 10 a day: 90 left = 9 days, not told
            ledger.record(model.pick(f"j{i}"))
            ledger.record(model.complete(f"j{i}"))
        assert n.check(now) == []
        for i in range(10, 40):                   # 40 a day: 60 left = 1.5 days
            ledger.record(model.pick(f"j{i}"))
            ledger.record(model.complete(f"j{i}"))
        told = n.check(now)
        day = now.astimezone().date()
        assert told == [f"runout_soon:{day.isoformat()}"]
        assert n.check(now + timedelta(minutes=30)) == []              # once that day
        n.deliver(rec)  # type: ignore[arg-type]
        doc = rec.sent[0]
        run_out = (now.astimezone() + timedelta(days=1.5)).date()
        assert doc["facts"]["stock"] == 60 and doc["facts"]["days_left"] == 1.5
        assert doc["facts"]["run_out"] == run_out.isoformat()
        assert doc["subject"] == (f"[kpg-01] Blanks run out in 1.5 days "
                                  f"({run_out:%B} {run_out.day}, {run_out.year})")
        assert "60 blanks in stock at 40.0 a day" in doc["message"]
        assert doc["todo"]                                              # what to do
    finally:
        ledger.close()
