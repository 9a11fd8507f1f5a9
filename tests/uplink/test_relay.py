"""The relay in-process against a real mosquitto: window, marking, a full disk."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from station_agent.ledger import Ledger, model
from station_agent.ledger import outbox as ob
from station_agent.uplink.broker import parse_broker
from station_agent.uplink.relay import Relay, RelaySettings
from tests.uplink.conftest import event_seqs


def wait(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_window_bounds_what_is_unacknowledged(brokers: Any, recorders: Any,
                                              state_dir: Path, mocker: Any) -> None:
    broker = brokers()
    rec = recorders(broker).start()
    with Ledger(state_dir, station_id="s1") as led:
        led.record(model.receive("B1", 500))
        led.record_many([model.pick(f"j{i}") for i in range(499)])
        relay = Relay(led, parse_broker(broker.url), "s1", RelaySettings(window=7))
        seen_inflight: list[int] = []
        real = Relay._on_publish

        def on_publish(self: Relay, *a: Any) -> None:
            seen_inflight.append(len(self._inflight))
            real(self, *a)

        mocker.patch.object(Relay, "_on_publish", on_publish)
        relay.start()
        try:
            wait(lambda: led.read(ob.backlog).count == 0, 30, "the backlog to drain")
        finally:
            relay.stop()
        assert len(seen_inflight) >= 500             # one PUBACK per event at least
        assert max(seen_inflight) == 7               # the window was reached, never passed
        wait(lambda: len(set(event_seqs(rec))) >= 500, 10, "every event")
        assert event_seqs(rec)[:500] == list(range(1, 501))     # in order


def test_a_full_disk_while_marking_only_delays_the_marking(brokers: Any, recorders: Any,
                                                           state_dir: Path,
                                                           mocker: Any) -> None:
    broker = brokers()
    rec = recorders(broker).start()
    real = ob.mark_sent
    failures = {"left": 3}

    def flaky(conn: sqlite3.Connection, seqs: Any, at: str) -> int:
        if failures["left"]:
            failures["left"] -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return real(conn, seqs, at)

    mocker.patch.object(ob, "mark_sent", flaky)
    with Ledger(state_dir, station_id="s1") as led:
        led.record(model.receive("B1", 100))
        relay = Relay(led, parse_broker(broker.url), "s1").start()
        try:
            led.record_many([model.pick(f"j{i}") for i in range(99)])
            wait(lambda: led.read(ob.backlog).count == 0, 30, "the backlog to drain")
            # Recording went on while marking failed.
            led.record(model.complete("j1"))
            wait(lambda: led.read(ob.backlog).count == 0, 30, "the last event")
        finally:
            relay.stop()
        assert failures["left"] == 0
        assert relay.sent == 101
    wait(lambda: set(event_seqs(rec)) >= set(range(1, 102)), 10, "every event")


def test_stop_publishes_offline_and_marks_what_was_acknowledged(
        brokers: Any, recorders: Any, state_dir: Path) -> None:
    broker = brokers()
    rec = recorders(broker, topics="stations/s1/status", client_id="st").start()
    with Ledger(state_dir, station_id="s1") as led:
        led.record(model.receive("B1", 10))
        relay = Relay(led, parse_broker(broker.url), "s1",
                      status_fn=lambda: {"balances": led.balances().as_dict()}).start()
        wait(lambda: relay.connected, 10, "the relay to connect")
        wait(lambda: led.read(ob.backlog).count == 0, 10, "the backlog to drain")
        relay.stop()
        assert led.read(ob.backlog).count == 0
        info = relay.info()
        assert info["state"] == "stopped" and not info["connected"]
    wait(lambda: any(d["online"] is False for d in rec.docs("status")), 10, "offline")
    docs = rec.docs("status")
    assert docs[0]["online"] is True and docs[0]["balances"]["stock"] == 10
    assert docs[-1] == {**docs[-1], "online": False, "reason": "shutdown", "backlog": 0}
