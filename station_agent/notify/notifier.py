"""The notifier: decides what to tell (``[notify]``) and delivers it.

A trigger thread looks at the station every :data:`CHECK_S` seconds and
enqueues (in the state database, :mod:`station_agent.ledger.notices`):

- ``stock_low`` when that fault is raised (once per raise);
- ``runout_soon`` when the stock runs out within ``warn_days`` (once a day);
- ``fault`` for a fault of severity error or critical active longer than
  ``min_active`` seconds, and ``fault_cleared`` when a fault that was told clears;
- ``outage`` when the central server has been unreachable longer than
  ``outage_minutes``;
- ``daily_summary`` at ``daily_at`` local time (once a day).

Ids make each of these once-only across restarts; a per-code window
(``rate_limit_minutes``) keeps a flapping device from flooding anyone (clearings
of what was told and the daily summary pass). One delivery thread per channel
sends what is due, marks it sent only after the channel accepted it, and
retries a failure with exponential backoff (:func:`backoff_s`): a dead channel
holds back only its own queue.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any

from station_agent import clock, logs
from station_agent.config import Config
from station_agent.faults.codes import CRITICAL, ERROR
from station_agent.i18n import speaker
from station_agent.ledger import Ledger, daily, faultlog, notices, open_reader, read_balances
from station_agent.ledger.stock import forecast
from station_agent.ledger.store import end_read
from station_agent.notify import messages
from station_agent.notify.channels import Channel, DeliveryFailed, channels

#: Seconds between looks at the station.
CHECK_S = 2.0
#: Longest wait between two tries of one notification.
MAX_BACKOFF_S = 3600.0


def backoff_s(attempts: int, first: float = 30.0) -> float:
    """Seconds before the next try after ``attempts`` failed ones: ``first``, twice
    that, four times ... at most an hour."""
    return float(min(MAX_BACKOFF_S, first * 2 ** min(30, max(0, attempts - 1))))


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


class Notifier:
    """See the module docstring."""

    def __init__(self, config: Config, ledger: Ledger,
                 active_faults: Callable[[], list[dict[str, Any]]],
                 senders: list[Channel] | None = None) -> None:
        self.cfg = config.notify
        self.ledger, self.active_faults = ledger, active_faults
        self.low_threshold = config.stock.low_threshold
        self.channels = senders if senders is not None else channels(self.cfg)
        self.station = messages.Station(config.station_id, config.office, config.region,
                                        speaker(config.language, config.timezone))
        self.log = logs.get("notify", station=config.station_id)
        self._stop = threading.Event()
        self._wake = {c.name: threading.Event() for c in self.channels}
        self._threads: list[threading.Thread] = []
        self._conn: sqlite3.Connection | None = None
        self.suppressed = 0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Notifier:
        self._threads = [threading.Thread(target=self._check_loop, name="notify-check",
                                          daemon=True)]
        self._threads += [threading.Thread(target=self._deliver_loop, args=(c,),
                                           name=f"notify-{c.name}", daemon=True)
                          for c in self.channels]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for event in self._wake.values():
            event.set()
        for t in self._threads:
            t.join(timeout=20)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- what to tell --------------------------------------------------------------------

    def _check_loop(self) -> None:
        while not self._stop.wait(CHECK_S):
            try:
                self.check()
            except Exception as exc:   # a bug must not end the notifier's thread
                self.log.exception("notification check failed", exc_info=exc)

    def check(self, now: datetime | None = None) -> list[str]:
        """Enqueue whatever is due now; the ids enqueued."""
        now = now or clock.now()
        conn = self._reader()
        conn.execute("BEGIN")   # one consistent snapshot; a WAL reader never blocks commits
        try:
            docs = self._due(conn, now)
        finally:
            end_read(conn)
        return [doc["id"] for doc in docs if self.enqueue(doc, now)]

    def _reader(self) -> sqlite3.Connection:
        """The trigger checks' own read-only connection (not the writer's: their
        reads must not queue behind, or hold up, the ledger's commits)."""
        if self._conn is None:
            self._conn = open_reader(self.ledger.state_dir)
        return self._conn

    def _due(self, conn: sqlite3.Connection, now: datetime) -> list[dict[str, Any]]:
        stamp = _ts(now)
        local_day = now.astimezone().date().isoformat()
        faults = self.active_faults()
        docs: list[dict[str, Any]] = []
        b = read_balances(conn)
        outlook = forecast(conn, b.stock, now)
        run_out = (None if outlook.days_left is None else
                   (now.astimezone() + timedelta(days=outlook.days_left)).date().isoformat())
        for f in faults:
            if f["code"] == "stock_low" and f["source"] == "station":
                docs.append(messages.stock_low(
                    self.station, raised_at=f["raised_at"], stock=b.stock,
                    threshold=self.low_threshold, days_left=outlook.days_left,
                    run_out=run_out, now=stamp))
            elif f["severity"] in (ERROR, CRITICAL) and \
                    (now - _parse(f["raised_at"])).total_seconds() >= self.cfg.min_active:
                docs.append(messages.fault(self.station, f, now=stamp))
        if outlook.days_left is not None and run_out and b.received + b.adjusted > 0 \
                and outlook.days_left <= self.cfg.warn_days:
            docs.append(messages.runout(self.station, day=local_day, stock=b.stock,
                                        days_left=outlook.days_left, run_out=run_out,
                                        rate=outlook.rate, now=stamp))
        docs += self._cleared(conn, faults, stamp)
        docs += self._outages(conn, now, stamp)
        if self.cfg.daily_at is not None:
            hh, mm = (int(x) for x in self.cfg.daily_at.split(":"))
            local = now.astimezone()
            if local.time() >= time(hh, mm):
                figures = daily.today(conn, now)
                docs.append(messages.daily(self.station, day=local_day, figures=figures,
                                           stock=b.stock, days_left=outlook.days_left,
                                           faults=len(faults), now=stamp))
        return docs

    def _cleared(self, conn: sqlite3.Connection, active: list[dict[str, Any]], stamp: str
                 ) -> list[dict[str, Any]]:
        """``fault_cleared`` for each told fault no longer active."""
        live = {(f["source"], f["code"], f["raised_at"]) for f in active}

        rows = conn.execute(
            "SELECT DISTINCT doc FROM notifications WHERE code LIKE 'fault:%' AND id NOT "
            "IN (SELECT 'fault:' || substr(id, 15) FROM notifications WHERE code LIKE "
            "'fault_cleared:%')").fetchall()
        out = []
        for facts in (json.loads(r[0])["facts"] for r in rows):
            key = (facts["source"], facts["fault"], facts["raised_at"])
            if key in live:
                continue
            f = {"source": key[0], "code": key[1], "raised_at": key[2]}
            out.append(messages.fault_cleared(self.station, f, cleared_at=stamp, now=stamp))
        return out

    def _outages(self, conn: sqlite3.Connection, now: datetime, stamp: str
                 ) -> list[dict[str, Any]]:
        out = []
        for o in faultlog.outages(conn, None):
            if o.ended_at is not None:
                continue
            minutes = (now - _parse(o.started_at)).total_seconds() / 60
            if minutes >= self.cfg.outage_minutes:
                out.append(messages.outage(self.station, started_at=o.started_at,
                                           minutes=int(minutes), now=stamp))
        return out

    def enqueue(self, doc: dict[str, Any], now: datetime | None = None) -> bool:
        """Queue ``doc`` for every channel unless it was queued before or its code is
        inside its rate-limit window; whether it was queued."""
        now = now or clock.now()
        code = doc["code"]
        key = f"{code}:{doc['facts']['fault']}" if "fault" in doc["facts"] else code
        window = timedelta(minutes=self.cfg.rate_limit_minutes)
        limited = code not in (messages.FAULT_CLEARED, messages.DAILY) and window

        def write(conn: Any) -> str:
            if notices.exists(conn, doc["id"]):
                return "known"
            last = notices.last_of_code(conn, key) if limited else None
            if last is not None and now - _parse(last) < window:
                return "limited"
            notices.enqueue(conn, {**doc, "code": key}, tuple(c.name for c in self.channels),
                            _ts(now))
            return "queued"

        result = self.ledger.write(write)
        if result == "limited":
            self.suppressed += 1
            self.log.info("notification held back (rate limit)", id=doc["id"], code=key)
        elif result == "queued":
            self.log.info("notification queued", id=doc["id"], code=key,
                          channels=[c.name for c in self.channels])
            for event in self._wake.values():
                event.set()
        return result == "queued"

    def test(self) -> dict[str, Any]:
        """Queue a test notification (never rate-limited: its id is new each time)."""
        now = clock.now()
        doc = messages.test(self.station, now=_ts(now))
        self.ledger.write(lambda conn: notices.enqueue(
            conn, doc, tuple(c.name for c in self.channels), _ts(now)))
        for event in self._wake.values():
            event.set()
        return doc

    # -- delivery ------------------------------------------------------------------------

    def _deliver_loop(self, channel: Channel) -> None:
        wake = self._wake[channel.name]
        while not self._stop.is_set():
            try:
                self.deliver(channel)
            except Exception as exc:
                self.log.exception("notification delivery failed", channel=channel.name,
                                   exc_info=exc)
            wake.wait(1.0)
            wake.clear()

    def deliver(self, channel: Channel) -> int:
        """Send what is due on ``channel``; how many were delivered."""
        sent = 0
        now = clock.now()
        for q in self.ledger.read(lambda conn: notices.due(conn, channel.name, _ts(now))):
            if self._stop.is_set():
                break
            try:
                channel.send(q.doc)
            except DeliveryFailed as exc:
                retry = _ts(clock.now() + timedelta(
                    seconds=backoff_s(q.attempts + 1, self.cfg.retry_seconds)))
                error = str(exc)
                self.ledger.write(partial(_failed, q=q, error=error, retry=retry))
                self.log.warning("notification not delivered; will retry", id=q.id,
                                 channel=channel.name, attempt=q.attempts + 1, error=error,
                                 retry_at=retry)
                break   # the channel is down: its queue waits, in order
            self.ledger.write(partial(_sent, q=q, at=_ts(clock.now())))
            self.log.info("notification delivered", id=q.id, channel=channel.name)
            sent += 1
        return sent

    def info(self) -> dict[str, Any]:
        """For ``status``: the channels and how much waits."""
        return {"channels": [c.name for c in self.channels],
                "pending": self.ledger.read(notices.pending_count),
                "held_back": self.suppressed}


def _failed(conn: Any, *, q: notices.Queued, error: str, retry: str) -> None:
    notices.mark_failed(conn, q.id, q.channel, error, retry)


def _sent(conn: Any, *, q: notices.Queued, at: str) -> None:
    notices.mark_sent(conn, q.id, q.channel, at)
