"""Uplink benchmark: draining a backlog to a real mosquitto.

* ``uplink.drain`` - events/s the relay drains from a 100,000-event outbox
  to a private mosquitto on loopback at QoS 1 (read from SQLite, JSON
  envelope, publish, PUBACK, mark sent in SQLite). Baseline: a bare
  paho-mqtt publish loop in the same run, same broker, same QoS, same
  in-flight window and same message size, with no storage at all: the
  ceiling of any relay built on paho. ``ratio`` = drain / baseline
  (target >= 0.5). Rounds alternate baseline and drain; medians are reported.

Run alone: ``python -m bench.uplink [--events N] [--window W] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.ledger import emit
from simulators.mosquitto import Mosquitto, find_binary
from station_agent.ledger import Ledger, model
from station_agent.ledger import outbox as ob
from station_agent.uplink import messages
from station_agent.uplink.broker import make_client, parse_broker
from station_agent.uplink.relay import Relay, RelaySettings


def build_backlog(state_dir: Path, n: int) -> tuple[Ledger, int]:
    """A ledger whose outbox holds ``n`` unsent events; returns it and the mean message size."""
    led = Ledger(state_dir, station_id="bench-01")
    led.record(model.receive("B1", n))
    chunk = 10_000
    for start in range(1, n, chunk):
        led.record_many([model.pick(f"job-{i:07d}", device="evolis-1")
                         for i in range(start, min(n, start + chunk))])
    sample = led.read(lambda c: ob.pending(c, 0, 200))
    size = sum(len(messages.event_message(e, "bench-01", led.meta["ledger_id"]))
               for e in sample) // len(sample)
    return led, size


def drain(broker_url: str, state_dir: Path, n: int, window: int) -> tuple[float, int]:
    """Events/s draining ``n`` events; and the message size."""
    led, size = build_backlog(state_dir, n)
    try:
        relay = Relay(led, parse_broker(broker_url), "bench-01",
                      RelaySettings(window=window, status_interval=3600))
        t0 = time.perf_counter()
        relay.start()
        while relay.sent < n:
            time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        relay.stop()
        left = led.read(ob.backlog).count
        assert left == 0, f"{left} events not marked sent"
        return n / elapsed, size
    finally:
        led.close()


def bare_publish(broker_url: str, n: int, window: int, size: int) -> float:
    """Events/s of a bare paho loop: QoS 1, at most ``window`` unacknowledged."""
    broker = parse_broker(broker_url)
    client = make_client(broker, "bench-bare", max_inflight=window)
    slots = threading.Semaphore(window)
    done = threading.Event()
    acked = [0]

    def on_publish(*_a: object) -> None:
        acked[0] += 1
        slots.release()
        if acked[0] == n:
            done.set()

    client.on_publish = on_publish
    client.connect(broker.host, broker.port)
    client.loop_start()
    payload = b"x" * size
    t0 = time.perf_counter()
    for _ in range(n):
        slots.acquire()
        client.publish("stations/bench-01/events", payload, qos=1)
    done.wait()
    elapsed = time.perf_counter() - t0
    client.disconnect()
    client.loop_stop()
    return n / elapsed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.uplink")
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    if find_binary() is None:
        print('{"metric": "uplink.drain", "skipped": "mosquitto is not installed"}')
        return
    with tempfile.TemporaryDirectory(prefix="bench-uplink-") as tmp:
        root = Path(tmp)
        broker = Mosquitto(root / "broker", persistence=False).start()
        try:
            bases, drains, size = [], [], 0
            for r in range(args.rounds):
                rate, size = drain(broker.url, root / f"state-{r}", args.events, args.window)
                drains.append(rate)
                bases.append(bare_publish(broker.url, args.events, args.window, size))
        finally:
            broker.stop()
    value, base = statistics.median(drains), statistics.median(bases)
    emit("uplink.drain", value, "events/s", base, value / base, events=args.events,
         window=args.window, message_bytes=size, rounds=args.rounds, target=">= 0.5")


if __name__ == "__main__":
    main()
