"""Central ledger benchmark: stations' events from a real mosquitto into a real PostgreSQL.

* ``central.ingest`` - events/s that the loaders (``station-agent central
  run`` processes, one per core as docs/CENTRAL.md recommends, chain checks
  and all) move from the broker into PostgreSQL: 4,000 simulated stations
  publish a working day (16 cards each, ~64,000 cards: a pick and a
  completion or reject per card, plus each station's delivery) on their own
  topics while the loaders are away; the broker queues them in the loaders'
  durable sessions; the clock runs from when every loader runs until the
  last event is committed. Baseline: a bare ``COPY`` of the same rows into a
  copy of the same ``events`` table, in the same run (no MQTT, no checks, no
  entries or balances), median of 3. Target ratio >= 0.3. Both start from a
  checkpoint. ``central.ingest_one_loader``: the same with one loader process.
* ``central.receive`` - QoS 1 messages/s the loader's MQTT client
  (:class:`~station_agent.uplink.buffered.BufferedClient`) receives and
  acknowledges; baseline: paho's own client draining the same messages.
* ``central.lag_p99`` - at a steady national rate (~10 events/s), the time
  from a station's publish to its event's commit, p99 (also p50, max).
* ``central.catch_up`` - 500 stations each returning with a 3-day backlog,
  all publishing at once to a running loader: seconds until the last event is
  loaded (baseline: the same events' ingest time at the ``central.ingest``
  rate, i.e. what the backlog costs at full speed).

PostgreSQL runs with ``fsync = off`` here (a private throw-away server): the
figures compare the loader with a bare COPY on the same server and are not
a durability claim; docs/CENTRAL.md sizes a production server.

Run alone: ``python -m bench.central [--stations N] [--cards N]``.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.ledger import emit
from simulators.fleet_events import StationStream, working_day
from simulators.mosquitto import Mosquitto, find_binary
from simulators.postgres import Postgres, find_bindir

DAY = datetime(2026, 11, 23, tzinfo=UTC)


def _publisher(broker: Mosquitto, client_id: str) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                    protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(500)
    c.max_queued_messages_set(0)
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def publish(broker: Mosquitto, msgs: list[tuple[str, bytes]], client_id: str) -> None:
    c = _publisher(broker, client_id)
    try:
        # In chunks: paho holds at most 65,535 unacknowledged messages (their ids).
        for i in range(0, len(msgs), 20_000):
            infos = [c.publish(t, p, qos=1) for t, p in msgs[i:i + 20_000]]
            for info in infos:
                info.wait_for_publish(300)
    finally:
        c.disconnect()
        c.loop_stop()


class LoaderProcess:
    def __init__(self, broker: Mosquitto, db_url: str, root: Path, name: str,
                 batch: int = 8000, prefix: str = "stations", group: str = "central") -> None:
        self.cmd = [sys.executable, "-m", "station_agent", "central", "run", "--broker",
                    broker.url, "--db", db_url, "--name", name, "--batch", str(batch),
                    "--prefix", prefix, "--group", group,
                    "--log-level", "info"]
        self.log = root / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        seen = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=out)
        # Started = connected to PostgreSQL (migrated) and to the broker (this
        # run's log lines only).
        deadline = time.monotonic() + 30
        while b"connected to the broker" not in self.log.read_bytes()[seen:]:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the loader did not start: {self.log.read_text()}")
            time.sleep(0.01)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)
            self.proc = None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (/proc/PID/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(pg: Postgres) -> list[int]:
    """The postmaster and every process it started (backends, writers,
    autovacuum), as they are now: call it again after connections are made."""
    root = pg.pid()
    if root is None:
        return []
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return [root] + [pid for pid, parent in parents.items() if parent == root]


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def count(conn: Any, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def applied(conn: Any) -> int:
    """Events applied so far: the loaders' own counter (one row; counting the
    events table every poll would cost PostgreSQL more CPU than the poll is
    worth, taken from the loaders being measured)."""
    row = conn.execute("SELECT count FROM intake WHERE outcome = 'applied'").fetchone()
    return int(row[0]) if row else 0


def wait_rows(conn: Any, n: int, timeout: float = 1800) -> float:
    """Seconds until ``n`` events are applied (polled every 20 ms)."""
    t0 = time.monotonic()
    while applied(conn) < n:
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"not all {n} events loaded in {timeout:g} s")
        time.sleep(0.02)
    return time.monotonic() - t0


def bare_copy(conn: Any) -> float:
    """Rows/s of a bare COPY of the loaded events into a copy of the table."""
    conn.execute("CREATE TABLE IF NOT EXISTS events_copy (LIKE events INCLUDING ALL)")
    conn.execute("TRUNCATE events_copy")
    cols = "event_id, ledger_id, station_id, seq, type, ts, digest, doc"
    buf = io.BytesIO()
    with conn.cursor().copy(f"COPY (SELECT {cols} FROM events) TO STDOUT") as cp:
        for chunk in cp:
            buf.write(chunk)
    n = count(conn, "events")
    data = buf.getvalue()
    t0 = time.perf_counter()
    with conn.transaction(), conn.cursor().copy(f"COPY events_copy ({cols}) FROM STDIN") as cp:
        for i in range(0, len(data), 1 << 20):
            cp.write(data[i:i + (1 << 20)])
    return float(n) / (time.perf_counter() - t0)


def insert_methods(conn: Any, n: int = 20_000) -> tuple[float, float]:
    """Rows/s of the same ``n`` event rows written by ``executemany`` (psycopg's
    pipeline mode) and by ``COPY``, each in one transaction into a fresh copy of
    the table: why the loader writes with COPY."""
    cols = "event_id, ledger_id, station_id, seq, type, ts, digest, doc"
    # The document as text, as the loader has it.
    rows = conn.execute(f"SELECT {cols.replace('doc', 'doc::text')} FROM events LIMIT %s",
                        (n,)).fetchall()
    rates = []
    for method in ("executemany", "copy"):
        conn.execute("TRUNCATE events_copy")
        t0 = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            if method == "executemany":
                cur.executemany(f"INSERT INTO events_copy ({cols}) VALUES "
                                "(%s, %s, %s, %s, %s, %s, %s, %s)", rows)
            else:
                with cur.copy(f"COPY events_copy ({cols}) FROM STDIN") as cp:
                    for row in rows:
                        cp.write_row(row)
        rates.append(len(rows) / (time.perf_counter() - t0))
    return rates[0], rates[1]


def ingest(broker: Mosquitto, pg: Postgres, conn: Any, loaders: list[LoaderProcess],
           msgs: list[tuple[str, bytes]]) -> dict[str, Any]:
    """Publish ``msgs`` while the loaders are away (their durable sessions
    queue them), start the loaders, time until every event is applied; then
    the baseline: a bare COPY of the loaded rows into a copy of the table
    (median of 3)."""
    # The loaders' sessions first, so the broker queues the day for them.
    for ld in loaders:
        ld.start()
    for ld in loaders:
        ld.stop()
    t_pub = time.monotonic()
    publish(broker, msgs, "bench-day")
    pub_s = time.monotonic() - t_pub
    # Both the ingest and the baseline start from written-out buffers.
    conn.execute("CHECKPOINT")
    t_start = time.monotonic()
    for ld in loaders:
        ld.start()
    # From when every loader runs (started up, connected to PostgreSQL and the
    # broker) to the last event committed; what the first ones loaded while the
    # others started is not counted.
    t0 = time.monotonic()
    early = applied(conn)
    loader_pids = [ld.proc.pid for ld in loaders if ld.proc is not None]
    cpu0 = cpu_seconds(loader_pids), cpu_seconds(server_pids(pg)), machine_busy()
    wait_rows(conn, len(msgs))
    load_s = time.monotonic() - t0
    cpu1 = cpu_seconds(loader_pids), cpu_seconds(server_pids(pg)), machine_busy()
    rate = (len(msgs) - early) / load_s
    conn.execute("CHECKPOINT")
    copies = sorted(bare_copy(conn) for _ in range(3))
    busy = (cpu1[2][0] - cpu0[2][0]) / (cpu1[2][1] - cpu0[2][1])
    cards = sum(1 for _, p in msgs if b'"kind":"pick"' in p)
    return {"rate": rate, "baseline": copies[1], "ratio": rate / copies[1],
            "events": len(msgs), "cards": cards, "loaders": len(loaders),
            "publish_s": round(pub_s, 1), "load_s": round(load_s, 1),
            "loaded_before_all_started": early, "loader_startup_s": round(t0 - t_start, 2),
            "chain_breaks": count(conn, "chain_breaks"),
            "loader_cpu_us_per_event": round((cpu1[0] - cpu0[0]) / (len(msgs) - early) * 1e6),
            "postgres_cpu_s": round(cpu1[1] - cpu0[1], 1), "machine_busy": round(busy, 2),
            "cores": os.cpu_count(), "copy_runs": [round(c) for c in copies],
            "target": ">= 0.3",
            "baseline_is": "bare COPY of the same rows into the same table, median of 3"}


def day_of_fleet(n: int, cards: int, seed: int) -> tuple[list[StationStream],
                                                         list[tuple[str, bytes]]]:
    streams = [StationStream(f"st-{i:04d}", f"Office {i // 4}", f"Region {i % 38}")
               for i in range(n)]
    msgs = [s.receive(DAY, 2000)[0] for s in streams]
    msgs += working_day(streams, DAY, cards, random.Random(seed))
    return streams, msgs


def drain(broker: Mosquitto, cls: type, name: str, n: int) -> float:
    """Messages/s a durable MQTT 5 session of ``cls`` (paho's client or a
    subclass) receives and acknowledges (one by one, manual) until ``n``."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    got = [0]
    done = threading.Event()
    c = cls(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5,
            manual_ack=True)

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        client.ack(msg.mid, msg.qos)
        got[0] += 1
        if got[0] >= n:
            done.set()

    c.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 20_000
    t0 = time.monotonic()
    c.connect(broker.host, broker.port, clean_start=False, properties=props)
    c.loop_start()
    if n:
        done.wait(600)
    else:
        c.subscribe("rx/#", qos=1)
        time.sleep(0.5)
    rate = got[0] / (time.monotonic() - t0)
    c.disconnect()
    c.loop_stop()
    return rate


def receive_rates(broker: Mosquitto, msgs: list[tuple[str, bytes]]) -> tuple[float, float]:
    """The same messages drained by paho's client and by the loader's
    :class:`BufferedClient`, each from its own durable session."""
    import paho.mqtt.client as mqtt

    from station_agent.uplink.buffered import BufferedClient

    for cls, name in ((mqtt.Client, "rx-paho"), (BufferedClient, "rx-buffered")):
        drain(broker, cls, name, 0)   # the session and its subscription
    publish(broker, [("rx/" + t.split("/", 1)[1], p) for t, p in msgs], "bench-rx")
    return (drain(broker, BufferedClient, "rx-buffered", len(msgs)),
            drain(broker, mqtt.Client, "rx-paho", len(msgs)))


def lag(broker: Mosquitto, conn: Any, seconds: float, rate: float) -> list[float]:
    """Publish ``rate`` events/s for ``seconds`` from 40 stations; each event's
    publish-to-commit time (ms), from the commit's ``received_at``."""
    streams = [StationStream(f"lag-{i:02d}", "Office L", "Region L") for i in range(40)]
    for s in streams:
        s.receive(DAY, 10_000)  # not published: the lag events are cards
    c = _publisher(broker, "bench-lag")
    sent: dict[str, float] = {}
    t0 = time.time()
    k = 0
    pending = []
    while time.time() - t0 < seconds:
        s = streams[k % len(streams)]
        for topic, payload in s.card(DAY)[:1]:
            eid = f"{s.ledger_id}:{s.event_seq - 1}"
            sent[eid] = time.time()
            pending.append(c.publish(topic, payload, qos=1))
        k += 1
        time.sleep(max(0.0, t0 + k / rate - time.time()))
    for info in pending:
        info.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()
    deadline = time.monotonic() + 60
    rows: list[tuple[str, datetime]] = []
    while time.monotonic() < deadline:
        rows = conn.execute("SELECT event_id, received_at FROM events WHERE station_id LIKE "
                            "'lag-%%'").fetchall()
        if len(rows) >= len(sent):
            break
        time.sleep(0.1)
    return [(at.timestamp() - sent[eid]) * 1000 for eid, at in rows if eid in sent]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.central")
    ap.add_argument("--stations", type=int, default=4000)
    ap.add_argument("--cards", type=int, default=16, help="cards per station in the day")
    ap.add_argument("--returning", type=int, default=500)
    ap.add_argument("--lag-seconds", type=float, default=30.0)
    ap.add_argument("--loaders", type=int, default=os.cpu_count() or 1,
                    help="loader processes (shared subscription; default one per core)")
    ap.add_argument("--batch", type=int, default=8000,
                    help="each loader's --batch (default: central run's)")
    args = ap.parse_args(argv)
    if find_binary() is None or find_bindir() is None:
        print('{"metric": "central.ingest", "skipped": "mosquitto or PostgreSQL is not '
              'installed"}')
        return
    import psycopg

    with tempfile.TemporaryDirectory(prefix="bench-central-") as tmp:
        root = Path(tmp)
        broker = Mosquitto(root / "broker", persistence=False).start()
        try:
            pg = Postgres(root / "pg").start()
        except BaseException:
            broker.stop()
            raise
        loaders: list[LoaderProcess] = []
        try:
            _streams, day = day_of_fleet(args.stations, args.cards, seed=1)
            # One loader per core (the shared subscription splits the events):
            # the deployment docs/CENTRAL.md recommends.
            conn = psycopg.connect(pg.url, autocommit=True)
            main = [LoaderProcess(broker, pg.url, root, f"bench-loader-{i}", args.batch)
                    for i in range(args.loaders)]
            loaders += main
            figures = ingest(broker, pg, conn, main, day)
            rate = figures.pop("rate")
            emit("central.ingest", rate, "events/s", figures.pop("baseline"),
                 figures.pop("ratio"), stations=args.stations, batch=args.batch, **figures)

            # Then one loader process, in a database and under a topic prefix
            # of its own: what one process does.
            with psycopg.connect(pg.url, autocommit=True) as admin:
                admin.execute("CREATE DATABASE one")
            one_url = pg.url.rsplit("/", 1)[0] + "/one"
            with psycopg.connect(one_url, autocommit=True) as one:
                single = [LoaderProcess(broker, one_url, root, "bench-single", args.batch,
                                        prefix="single", group="single")]
                loaders += single
                figures = ingest(broker, pg, one, single,
                                 [("single/" + t.split("/", 1)[1], p) for t, p in day])
                emit("central.ingest_one_loader", figures.pop("rate"), "events/s",
                     figures.pop("baseline"), figures.pop("ratio"), **figures)
                single[0].stop()

            many, copy = insert_methods(conn)
            emit("central.insert_method", many, "rows/s", copy, many / copy, rows=20_000,
                 method="executemany (pipeline)", baseline_is="COPY with write_row, same rows")

            ours, paho = receive_rates(broker, day)
            emit("central.receive", ours, "messages/s", paho, ours / paho, messages=len(day),
                 baseline_is="paho's own client, same messages, same broker",
                 acknowledged="one by one, manual")

            lags = sorted(lag(broker, conn, args.lag_seconds, 10.0))
            p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
            emit("central.lag_p99", p99, "ms", statistics.median(lags),
                 p99 / statistics.median(lags), p50_ms=round(statistics.median(lags), 1),
                 max_ms=round(lags[-1], 1), events=len(lags), rate_per_s=10,
                 baseline_is="p50 of the same run")

            back = [StationStream(f"back-{i:03d}", f"Office B{i // 4}", "Region B")
                    for i in range(args.returning)]
            backlog: list[tuple[str, bytes]] = []
            for d in range(3):
                backlog += working_day(back, DAY + timedelta(days=d), args.cards,
                                       random.Random(d))
            before = applied(conn)
            published: list[float] = []

            def send_backlog() -> None:
                t = time.monotonic()
                publish(broker, backlog, "bench-backlog")
                published.append(time.monotonic() - t)

            sender = threading.Thread(target=send_backlog, daemon=True)
            sender.start()
            catch = wait_rows(conn, before + len(backlog))
            sender.join(60)
            # The stations publish while the loaders run, on the same cores:
            # the backlog cannot load faster than it is published.
            emit("central.catch_up", catch, "s", len(backlog) / rate, catch * rate
                 / len(backlog), stations=args.returning, events=len(backlog),
                 publish_s=round(published[0], 1) if published else None,
                 baseline_is="the backlog at the central.ingest rate")
            conn.close()
            if os.environ.get("BENCH_CENTRAL_LOG"):
                print(loaders[0].log.read_text()[-3000:])
        finally:
            for ld in loaders:
                ld.stop()
            broker.stop()
            pg.stop()


if __name__ == "__main__":
    main()
