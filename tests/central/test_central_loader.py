"""`station-agent central run` between a real mosquitto and a real PostgreSQL: events
from real station daemons exactly once, balances equal to each station's own
`blanks --json`, and the faults: loader kill -9 mid-batch, two loaders with one
killed, PostgreSQL and broker restarts, a station returning with a 3-day backlog,
tampered and forged messages, 10,000 hostile payloads."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulators.fleet_events import StationStream, working_day
from station_agent.ledger.model import HELD_ACCOUNTS
from tests.central.conftest import connect, db_counts, station
from tests.conftest import cli_env
from tests.helpers.waiting import wait_until
from tests.uplink.conftest import record_receives

DAY = datetime(2026, 11, 23, tzinfo=UTC)


class Publisher:
    """A load generator: publishes (topic, payload) pairs at QoS 1 on the broker."""

    def __init__(self, broker: Any, client_id: str = "test-publisher") -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv311)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, msgs: list[tuple[str, bytes]], qos: int = 1) -> None:
        infos = [self.client.publish(t, p, qos=qos) for t, p in msgs]
        for info in infos:
            info.wait_for_publish(60)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def loaded(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def station_blanks(conn: Any, station_id: str) -> dict[str, int]:
    rows = conn.execute("SELECT account, count FROM station_balances WHERE station_id = %s "
                        "AND item = '' AND account <> 'external'", (station_id,)).fetchall()
    return {a: int(n) for a, n in rows}


def drained(d: Any) -> bool:
    up = d.call("status")["uplink"]
    return bool(up["connected"] and up["backlog"] == 0)


def assert_exactly_once(conn: Any, streams: list[StationStream]) -> None:
    for s in streams:
        row = conn.execute("SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM "
                           "events WHERE ledger_id = %s", (s.ledger_id,)).fetchone()
        assert row == (s.event_seq, s.event_seq, 1, s.event_seq), (s.station_id, row)
        got = dict(conn.execute("SELECT account, count FROM balances WHERE ledger_id = %s "
                                "AND item = '' AND count <> 0", (s.ledger_id,)).fetchall())
        assert got == {k: v for k, v in s.balances.items() if v}
    assert conn.execute("SELECT count(*) FROM chain_breaks").fetchone()[0] == 0
    assert conn.execute("SELECT coalesce(sum(missing), 0) FROM streams").fetchone()[0] == 0


def test_real_stations_reach_the_database_exactly_once_and_balances_match(
        daemons: Any, brokers: Any, postgres: Any, loaders: Any) -> None:
    broker = brokers()
    loader = loaders(broker.url, postgres.url)
    offices = [("kupang-01", "Disdukcapil Kota Kupang", "Nusa Tenggara Timur"),
               ("kupang-02", "Disdukcapil Kota Kupang", "Nusa Tenggara Timur"),
               ("sorong-01", "Disdukcapil Kabupaten Sorong", "Papua Barat Daya")]
    ds = [station(daemons, sid, off, reg, broker.url).start() for sid, off, reg in offices]
    for i, d in enumerate(ds):
        record_receives(d.state / "agent.sock", 40 + 10 * i, threads=2, prefix=f"B{i}-")
        with d.client() as c:
            c.call("write_off", count=3, reason="rusak dalam pengiriman", idem_id=f"wo-{i}")
    for d in ds:
        wait_until(lambda d=d: drained(d), 60, f"{d.config} to drain")
    conn = connect(postgres)
    for (sid, off, reg), d in zip(offices, ds, strict=True):
        verify = d.cli("ledger", "verify", "--json")
        last_seq = d.call("status")["uplink"]["last_seq"]
        wait_until(lambda sid=sid, n=last_seq: conn.execute(
            "SELECT count(*) FROM events WHERE station_id = %s", (sid,)).fetchone()[0] == n,
            60, f"{sid}'s {last_seq} events")
        assert conn.execute("SELECT count(*) FROM entries WHERE station_id = %s",
                            (sid,)).fetchone()[0] == verify["entries"]
        blanks = d.cli("blanks", "--json")
        mine = station_blanks(conn, sid)
        assert {k: blanks[k] for k in HELD_ACCOUNTS if blanks[k]} == {
            k: v for k, v in mine.items() if v}
        wait_until(lambda sid=sid: conn.execute(
            "SELECT office FROM stations WHERE station_id = %s", (sid,)).fetchone()[0], 20,
            "the status with the office")
        assert conn.execute("SELECT office, region FROM stations WHERE station_id = %s",
                            (sid,)).fetchone() == (off, reg)
    stock = dict(conn.execute("SELECT office, count FROM office_balances WHERE item = '' AND "
                              "account = 'stock'").fetchall())
    assert stock == {"Disdukcapil Kota Kupang": 37 + 47, "Disdukcapil Kabupaten Sorong": 57}
    assert conn.execute("SELECT count(*) FROM chain_breaks").fetchone()[0] == 0
    assert conn.execute("SELECT sum(missing) FROM streams").fetchone()[0] == 0
    # Redelivery of everything (a recorder-style replay) changes nothing.
    before = db_counts(conn)
    replay = [(f"stations/{r[0]}/events", r[1].encode()) for r in conn.execute(
        "SELECT station_id, doc::text FROM events").fetchall()]
    # (JSONB normalises spacing: the replay is the same document, so the same digest.)
    pub = Publisher(broker)
    pub.publish(replay)
    pub.stop()
    wait_until(lambda: dict(conn.execute("SELECT outcome, count FROM intake").fetchall())
               .get("duplicate", 0) >= len(replay), 60, "the replay to be seen")
    assert db_counts(conn) == before
    assert loader.running()


def test_real_station_offline_three_days_drains_its_backlog_exactly_once(
        daemons: Any, brokers: Any, postgres: Any, loaders: Any, tmp_path: Any) -> None:
    broker = brokers()
    loaders(broker.url, postgres.url, "l1", "--no-share")
    broker.stop()   # the loader's durable session is kept while the broker is down
    skew = tmp_path / "skew"
    skew.write_text(str(-3 * 86_400))
    d = station(daemons, "pulau-01", "Disdukcapil Kabupaten Rote Ndao",
                "Nusa Tenggara Timur", broker.url)
    d.start(env={**cli_env(), "STATION_AGENT_CLOCK_SKEW_FILE": str(skew)})
    for day in (3, 2, 1):
        # The station's clock three, two, one day(s) back: each day's work queued.
        skew.write_text(str(-day * 86_400))
        time.sleep(1.2)
        record_receives(d.state / "agent.sock", 150, threads=2, prefix=f"D{day}-")
    skew.write_text("0")
    time.sleep(1.2)
    assert not d.call("status")["uplink"]["connected"]
    broker.start()
    wait_until(lambda: drained(d), 120, "the station's backlog to drain")
    last_seq = d.call("status")["uplink"]["last_seq"]
    conn = connect(postgres)
    wait_until(lambda: loaded(conn) == last_seq, 120, f"{last_seq} events")
    row = conn.execute("SELECT count(DISTINCT seq), min(seq), max(seq), min(ts), max(ts) "
                       "FROM events WHERE station_id = 'pulau-01'").fetchone()
    assert row[:3] == (last_seq, 1, last_seq)
    assert row[4] - row[3] > timedelta(days=2)
    assert conn.execute("SELECT count(*) FROM chain_breaks").fetchone()[0] == 0
    assert conn.execute("SELECT missing FROM streams").fetchone()[0] == 0
    blanks = d.cli("blanks", "--json")
    assert {k: blanks[k] for k in HELD_ACCOUNTS if blanks[k]} == {
        k: v for k, v in station_blanks(conn, "pulau-01").items() if v}


def _publish_day(broker: Any, n: int, cards: int, seed: int) -> tuple[list[StationStream],
                                                                       list[Any]]:
    streams = [StationStream(f"gen-{seed}-{i:03d}", f"Office {i % 7}", f"Region {i % 3}")
               for i in range(n)]
    msgs = [s.receive(DAY, 5000)[0] for s in streams]
    msgs += [s.status(DAY) for s in streams]
    msgs += working_day(streams, DAY, cards, random.Random(seed))
    return streams, msgs


def test_loader_killed_mid_batch_and_restarted_loses_and_doubles_nothing(
        brokers: Any, postgres: Any, loaders: Any) -> None:
    broker = brokers()
    loader = loaders(broker.url, postgres.url, "l1", "--batch", "200")
    streams, msgs = _publish_day(broker, 30, 40, seed=1)
    pub = Publisher(broker)
    threading.Thread(target=pub.publish, args=(msgs,), daemon=True).start()
    conn = connect(postgres)
    for kill in range(4):
        wait_until(lambda: loaded(conn) > 0, 60, "loading to start", every=0.02)
        time.sleep(random.Random(kill).uniform(0.05, 0.4))
        loader.kill()
        loader.start()
    total = sum(s.event_seq for s in streams)
    wait_until(lambda: loaded(conn) == total, 120, f"all {total} events")
    time.sleep(1)
    assert loaded(conn) == total
    assert_exactly_once(conn, streams)
    pub.stop()


def test_two_loaders_share_the_load_and_one_killed_loses_nothing(
        brokers: Any, postgres: Any, loaders: Any) -> None:
    broker = brokers()
    a = loaders(broker.url, postgres.url, "la", "--batch", "100")
    b = loaders(broker.url, postgres.url, "lb", "--batch", "100")
    streams, msgs = _publish_day(broker, 20, 60, seed=2)
    pub = Publisher(broker)
    pub.publish(msgs[: len(msgs) // 2])
    conn = connect(postgres)
    wait_until(lambda: loaded(conn) > 500, 60, "loading to start", every=0.02)
    b.kill()
    pub.publish(msgs[len(msgs) // 2:])
    total = sum(s.event_seq for s in streams)
    # The killed loader's unacknowledged share waits in its durable session.
    b.start()
    wait_until(lambda: loaded(conn) == total, 120, f"all {total} events")
    assert_exactly_once(conn, streams)
    logs = a.text() + b.text()
    assert "loader started" in a.text() and "loader started" in b.text()
    assert "Traceback" not in logs
    pub.stop()


def test_postgres_and_broker_restarted_mid_load(brokers: Any, postgres: Any,
                                                loaders: Any) -> None:
    broker = brokers()
    # mosquitto 2.0 forgets shared subscriptions when it restarts (see the test
    # below): one loader with a plain durable subscription, as docs/CENTRAL.md says.
    loader = loaders(broker.url, postgres.url, "l1", "--batch", "100", "--no-share")
    streams, msgs = _publish_day(broker, 20, 50, seed=3)
    pub = Publisher(broker)
    third = len(msgs) // 3
    pub.publish(msgs[:third])
    conn = connect(postgres)
    wait_until(lambda: loaded(conn) > 100, 60, "loading to start", every=0.02)
    conn.close()
    postgres.restart()
    pub.publish(msgs[third:2 * third])
    conn = connect(postgres)
    wait_until(lambda: loaded(conn) >= 2 * third - 2 * len(streams), 120, "loading to resume")
    pub.stop()
    broker.restart()
    pub = Publisher(broker, "test-publisher-2")
    pub.publish(msgs[2 * third:])
    total = sum(s.event_seq for s in streams)
    wait_until(lambda: loaded(conn) == total, 120, f"all {total} events")
    assert_exactly_once(conn, streams)
    assert "batch not committed; retrying" in loader.text()
    assert loader.running()
    pub.stop()


def test_shared_loaders_resubscribe_after_a_broker_restart(brokers: Any, postgres: Any,
                                                           loaders: Any) -> None:
    """A shared subscription is made again on reconnection, and events published
    once the loaders are back are loaded (what mosquitto 2.0 loses is only what
    arrives while no loader is subscribed: its persistence keeps no shared
    subscription, docs/CENTRAL.md)."""
    broker = brokers()
    a = loaders(broker.url, postgres.url, "la")
    b = loaders(broker.url, postgres.url, "lb")
    s = StationStream("ulang-01", "Office", "Region")
    pub = Publisher(broker)
    pub.publish(s.receive(DAY, 100))
    conn = connect(postgres)
    wait_until(lambda: loaded(conn) == 1, 30, "the first event")
    pub.stop()
    broker.restart()
    for ld in (a, b):
        wait_until(lambda ld=ld: ld.text().count("connected to the broker") >= 2, 30,
                   "the loaders to reconnect")
    time.sleep(0.5)
    pub = Publisher(broker, "test-publisher-2")
    pub.publish([m for _ in range(30) for m in s.card(DAY)])
    wait_until(lambda: loaded(conn) == s.event_seq, 60, "the events after the restart")
    assert_exactly_once(conn, [s])
    pub.stop()


def test_station_returning_with_a_three_day_backlog(brokers: Any, postgres: Any,
                                                     loaders: Any) -> None:
    broker = brokers()
    loaders(broker.url, postgres.url, "l1")
    s = StationStream("desa-01", "Disdukcapil Kabupaten Alor", "Nusa Tenggara Timur")
    online = [*s.receive(DAY, 2000), *[m for _ in range(20) for m in s.card(DAY)]]
    pub = Publisher(broker)
    pub.publish(online)
    conn = connect(postgres)
    wait_until(lambda: loaded(conn) == s.event_seq, 60, "the first day")
    # Three days offline: the station keeps working and queues everything.
    backlog: list[Any] = [s.fault(DAY + timedelta(days=1), "server_unreachable")]
    for day in range(1, 4):
        backlog += working_day([s], DAY + timedelta(days=day), 150, random.Random(day))
    backlog.append(s.fault(DAY + timedelta(days=3, hours=9), "server_unreachable", True))
    pub.publish(backlog)
    wait_until(lambda: loaded(conn) == s.event_seq, 120, "the backlog")
    assert_exactly_once(conn, [s])
    assert conn.execute("SELECT count(*) FROM fault_events WHERE code = 'server_unreachable'"
                        ).fetchone()[0] == 2
    pub.stop()


def test_tampered_event_and_forged_station_are_reported_not_applied(
        brokers: Any, postgres: Any, loaders: Any) -> None:
    broker = brokers()
    loader = loaders(broker.url, postgres.url, "l1")
    s = StationStream("jujur-01", "Office", "Region")
    pub = Publisher(broker)
    genuine = s.receive(DAY, 100) + s.card(DAY)
    pub.publish(genuine)
    conn = connect(postgres)
    wait_until(lambda: loaded(conn) == 3, 30, "the genuine events")
    before = db_counts(conn), station_blanks(conn, "jujur-01")
    doc = json.loads(genuine[0][1])
    doc["event"]["count"] = 100_000
    # Another station publishes jujur-01's next event as its own message.
    forged = s.card(DAY)[0][1]
    pub.publish([(genuine[0][0], json.dumps(doc).encode()),
                 ("stations/lain-02/events", forged)])
    wait_until(lambda: conn.execute("SELECT coalesce(sum(count), 0) FROM refusals"
                                    ).fetchone()[0] == 2, 30, "both refusals")
    after = db_counts(conn)
    assert after["chain_breaks"] == before[0]["chain_breaks"] + 1
    assert {k: v for k, v in after.items() if k != "chain_breaks"} == {
        k: v for k, v in before[0].items() if k != "chain_breaks"}
    assert station_blanks(conn, "jujur-01") == before[1]
    row = conn.execute("SELECT station_id, entry_seq, problem FROM chain_breaks").fetchone()
    assert row[:2] == ("jujur-01", 1)
    refusals = dict(conn.execute("SELECT station_id, reason FROM refusals").fetchall())
    assert refusals["lain-02"] == "payload names another station than its topic"
    wait_until(lambda: "chain break at station jujur-01" in loader.text(), 10,
               "the loader to log the break")
    pub.stop()


# -- 10,000 hostile payloads -------------------------------------------------------

_GOOD = StationStream("korban-01", "Office", "Region")
_GOOD_MSGS = _GOOD.receive(DAY, 10) + _GOOD.card(DAY)
_GOOD_DOCS = [json.loads(p) for _, p in _GOOD_MSGS]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12)


@st.composite
def hostile(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "mutate", "drop", "text"]))
    if kind == "bytes":
        return bytes(draw(st.binary(max_size=300)))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    doc = json.loads(json.dumps(draw(st.sampled_from(_GOOD_DOCS))))
    if kind == "drop":
        doc.pop(draw(st.sampled_from(sorted(doc))))
        return json.dumps(doc).encode()
    where = doc["event"] if draw(st.booleans()) else doc
    key = draw(st.sampled_from(sorted(where)))
    value = draw(json_values)
    if where.get(key) == value:
        value = [value]
    where[key] = value
    return json.dumps(doc).encode()


def test_ten_thousand_hostile_payloads_change_nothing_and_the_loader_runs(
        brokers: Any, postgres: Any, loaders: Any) -> None:
    broker = brokers()
    loader = loaders(broker.url, postgres.url, "l1")
    pub = Publisher(broker)
    pub.publish(_GOOD_MSGS)
    conn = connect(postgres)
    wait_until(lambda: loaded(conn) == len(_GOOD_MSGS), 30, "the genuine events")
    before = db_counts(conn), station_blanks(conn, "korban-01")
    intake_before = dict(conn.execute("SELECT outcome, count FROM intake").fetchall())
    sent: list[int] = [0]

    @settings(max_examples=10_000, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(payload=hostile())
    def send(payload: bytes) -> None:
        pub.client.publish("stations/korban-01/events", payload, qos=0)
        sent[0] += 1

    send()
    assert sent[0] == 10_000

    def seen() -> int:
        now = dict(conn.execute("SELECT outcome, count FROM intake").fetchall())
        return sum(now.values()) - sum(intake_before.values())

    wait_until(lambda: seen() >= sent[0], 120, "every hostile payload to be handled")
    after = db_counts(conn)
    # Tampered entries are reported as chain breaks; no data row changed.
    assert {k: v for k, v in after.items() if k != "chain_breaks"} == {
        k: v for k, v in before[0].items() if k != "chain_breaks"}
    assert station_blanks(conn, "korban-01") == before[1]
    assert dict(conn.execute("SELECT outcome, count FROM intake").fetchall()).get(
        "applied") == intake_before.get("applied")
    assert loader.running()
    # Still loading: a genuine new event after the storm is applied.
    pub.publish(_GOOD.card(DAY))
    wait_until(lambda: loaded(conn) == len(_GOOD_MSGS) + 2, 30, "a genuine event after")
    pub.stop()
