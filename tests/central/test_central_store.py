"""The loader's database side on a real PostgreSQL: exactly once, chain checks in any
arrival order, gaps, refusals, balances equal to the sum of each station's entries."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulators.fleet_events import StationStream, working_day
from simulators.postgres import Postgres
from station_agent.central import intake, schema, store
from station_agent.errors import OperationFailed
from tests.central.conftest import connect, db_counts

DAY = datetime(2026, 11, 23, tzinfo=UTC)


def day_of(streams: list[StationStream], cards: int = 20, seed: int = 1) -> list[Any]:
    msgs = [s.receive(DAY, 400)[0] for s in streams]
    msgs += [s.status(DAY) for s in streams]
    msgs += working_day(streams, DAY, cards, random.Random(seed), spoil_rate=0.1)
    return msgs


def read_all(msgs: list[tuple[str, bytes]]) -> list[intake.Message]:
    return [intake.read(t, p) for t, p in msgs]


def load(conn: Any, msgs: list[intake.Message], size: int = 50) -> list[store.Outcome]:
    return [store.apply(conn, msgs[i:i + size]) for i in range(0, len(msgs), size)]


def balances(conn: Any, ledger_id: str) -> dict[str, int]:
    rows = conn.execute("SELECT account, count FROM balances WHERE ledger_id = %s AND "
                        "item = '' AND count <> 0", (ledger_id,)).fetchall()
    return dict(rows)


def summed(conn: Any, ledger_id: str) -> dict[str, int]:
    """The balances recomputed from the stream's entries (what they must equal)."""
    rows = conn.execute(
        "SELECT account, sum(d) FROM (SELECT dst AS account, count AS d FROM entries "
        "WHERE ledger_id = %(l)s AND item IS NULL UNION ALL SELECT src, -count FROM entries "
        "WHERE ledger_id = %(l)s AND item IS NULL) x GROUP BY 1 HAVING sum(d) <> 0",
        {"l": ledger_id}).fetchall()
    return {a: int(n) for a, n in rows}


@pytest.fixture
def db(postgres: Postgres) -> Any:
    conn = connect(postgres)
    schema.migrate(conn)
    yield conn
    conn.close()


def test_migrations_apply_once_and_a_newer_database_is_refused(postgres: Postgres) -> None:
    conn = connect(postgres)
    assert schema.migrate(conn) == [m[0] for m in schema.MIGRATIONS]
    assert schema.migrate(conn) == []
    assert schema.current(conn) == schema.VERSION
    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (schema.VERSION + 1,))
    before = db_counts(conn)
    with pytest.raises(OperationFailed, match="newer than this station-agent"):
        schema.migrate(conn)
    assert db_counts(conn) == before
    conn.close()


def test_each_event_once_in_any_order_with_repeats_and_balances_match(db: Any) -> None:
    streams = [StationStream(f"st-{i}", f"Office {i % 2}", "NTT") for i in range(4)]
    msgs = read_all(day_of(streams))
    rng = random.Random(7)
    # Every message three times, shuffled: out of order, redelivered, in batches.
    mixed = msgs * 3
    rng.shuffle(mixed)
    outs = load(db, mixed, 37)
    events = sum(1 for m in msgs if isinstance(m, intake.Event))
    assert sum(o.applied for o in outs) == events
    assert sum(o.duplicates for o in outs) == 2 * events
    assert not any(o.breaks or o.refused for o in outs)
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == events
    for s in streams:
        got = balances(db, s.ledger_id)
        assert got == {k: v for k, v in s.balances.items() if v}
        assert got == summed(db, s.ledger_id)
        st_row = db.execute("SELECT max_seq, missing, gaps, head_seq, head_hash FROM streams "
                            "WHERE ledger_id = %s", (s.ledger_id,)).fetchone()
        assert st_row == (s.event_seq, 0, [], s.entry_seq, s.head)
    offices = dict(db.execute("SELECT office, count FROM office_balances WHERE item = '' AND "
                              "account = 'stock'").fetchall())
    assert offices == {f"Office {k}": sum(s.balances["stock"] for s in streams[k::2])
                       for k in (0, 1)}


def test_gaps_open_and_close_when_the_missing_events_arrive(db: Any) -> None:
    s = StationStream("st-gap", "Office", "NTT")
    msgs = read_all(s.receive(DAY, 50) + [m for _ in range(5) for m in s.card(DAY)])
    held = msgs[3:6]
    store.apply(db, msgs[:3] + msgs[6:])
    row = db.execute("SELECT max_seq, gaps, missing FROM streams").fetchone()
    assert row == (11, [[4, 6]], 3)
    store.apply(db, [held[1]])
    assert db.execute("SELECT gaps, missing FROM streams").fetchone() == ([[4, 4], [6, 6]], 2)
    store.apply(db, [held[0], held[2]])
    assert db.execute("SELECT gaps, missing FROM streams").fetchone() == ([], 0)
    assert balances(db, s.ledger_id) == summed(db, s.ledger_id) == {
        k: v for k, v in s.balances.items() if v}


def tamper(topic_payload: tuple[str, bytes], **changes: Any) -> tuple[str, bytes]:
    topic, payload = topic_payload
    doc = json.loads(payload)
    for key, value in changes.items():
        if key.startswith("event."):
            doc["event"][key[6:]] = value
        else:
            doc[key] = value
    return topic, json.dumps(doc).encode()


def test_tampered_entry_is_reported_with_both_hashes_and_not_applied(db: Any) -> None:
    s = StationStream("st-t", "Office", "NTT")
    first = s.receive(DAY, 100)
    cards = [m for _ in range(3) for m in s.card(DAY)]
    store.apply(db, read_all(first + cards))
    before = db_counts(db), balances(db, s.ledger_id)
    # The same event id with a changed count: a tampered copy of a loaded event.
    forged = tamper(first[0], **{"event.count": 1000})
    out = store.apply(db, read_all([forged]))
    assert out.applied == 0 and out.refused_count == 1
    assert out.breaks and out.breaks[0].entry_seq == 1
    # A new event whose count was changed after hashing: its hash does not match.
    nxt = s.receive(DAY, 10)[0]
    bad = tamper(nxt, **{"event.count": 11})
    out = store.apply(db, read_all([bad]))
    assert out.applied == 0
    b = out.breaks[0]
    assert (b.station_id, b.entry_seq) == ("st-t", s.entry_seq)
    assert b.got == json.loads(nxt[1])["event"]["hash"] and b.expected not in (None, b.got)
    after = db_counts(db)
    assert {k: v for k, v in after.items() if k != "chain_breaks"} == {
        k: v for k, v in before[0].items() if k != "chain_breaks"}
    assert after["chain_breaks"] == 2
    assert balances(db, s.ledger_id) == before[1]
    # The genuine event still loads.
    assert store.apply(db, read_all([nxt])).applied == 1
    assert balances(db, s.ledger_id) == {k: v for k, v in s.balances.items() if v}
    # An entry re-hashed by a forger: its own hash matches, its link does not.
    h_prev = "0" * 64
    relinked = StationStream("st-t", "Office", "NTT", ledger_id=s.ledger_id)
    relinked.entry_seq, relinked.event_seq, relinked.head = s.entry_seq, s.event_seq, h_prev
    out = store.apply(db, read_all(relinked.receive(DAY, 5)))
    assert out.applied == 0 and out.breaks[0].problem.startswith("prev_hash")
    assert out.breaks[0].expected == s.head and out.breaks[0].got == h_prev
    assert balances(db, s.ledger_id) == {k: v for k, v in s.balances.items() if v}
    rows = db.execute("SELECT station_id, entry_seq, problem, expected, got FROM chain_breaks "
                      "ORDER BY id").fetchall()
    assert [r[1] for r in rows] == [1, s.entry_seq, s.entry_seq + 1]


def reserialised(topic_payload: tuple[str, bytes]) -> tuple[str, bytes]:
    """The same document in another form: keys reversed, spaces, escaped text."""
    topic, payload = topic_payload
    doc = json.loads(payload)
    doc = dict(reversed(list(doc.items())))
    return topic, json.dumps(doc, indent=1, ensure_ascii=True).encode()


def test_another_serialisation_of_a_loaded_event_is_a_redelivery(db: Any) -> None:
    s = StationStream("st-r", "Office", "NTT")
    msgs = s.receive(DAY, 100) + [m for _ in range(2) for m in s.card(DAY)]
    store.apply(db, read_all(msgs))
    before = db_counts(db)
    # Against the database, and within one batch.
    out = store.apply(db, read_all([reserialised(m) for m in msgs]))
    assert (out.applied, out.duplicates, out.refused_count, out.breaks) == (0, len(msgs), 0, [])
    extra = s.card(DAY)
    out = store.apply(db, read_all(extra + [reserialised(m) for m in extra]))
    assert (out.applied, out.duplicates, out.refused_count) == (len(extra), len(extra), 0)
    assert db_counts(db)["events"] == before["events"] + len(extra)
    # A changed document in another serialisation is still a tampered copy.
    topic, payload = reserialised(msgs[0])
    forged = (topic, payload.replace(b'"count": 100', b'"count": 101'))
    assert forged[1] != payload
    out = store.apply(db, read_all([forged]))
    assert out.applied == 0 and out.refused_count == 1
    assert balances(db, s.ledger_id) == summed(db, s.ledger_id)


def test_escaped_text_is_stored_and_what_postgresql_cannot_hold_is_refused(db: Any) -> None:
    s = StationStream("st-e", "Office", "NTT")
    store.apply(db, read_all(s.receive(DAY, 10)))

    def fault_with(message: str) -> tuple[str, bytes]:
        topic, payload = s.fault(DAY, "printer_offline")
        return topic, payload.replace(b'"message":"probe"', b'"message":' + message.encode())

    # Escaped text (a station's json.dumps escapes non-ASCII) is stored as text.
    ok = read_all([fault_with('"kartu rusak \\u00e9"')])
    assert all(isinstance(m, intake.Event) for m in ok), ok
    assert store.apply(db, ok).applied == 1
    rows = db.execute("SELECT doc->'event'->>'message' FROM events WHERE type = "
                      "'fault_raised'").fetchall()
    assert [r[0] for r in rows] == ["kartu rusak \u00e9"]
    # A NUL character, a lone surrogate, a number no double holds: refused
    # before the database sees them (PostgreSQL would refuse the first two and
    # with them the whole batch).
    for bad, why in (('"a\\u0000b"', "malformed"), ('"\\ud800"', "not JSON"),
                     ("1e999", "not JSON")):
        msg = intake.read(*fault_with(bad))
        assert isinstance(msg, intake.Refusal) and why in msg.reason, (bad, msg)
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 2


def test_forged_station_id_and_foreign_ledger_are_refused_and_counted(db: Any) -> None:
    a = StationStream("st-a", "Office A", "NTT")
    b = StationStream("st-b", "Office B", "NTT")
    store.apply(db, read_all(a.receive(DAY, 10) + b.receive(DAY, 10)))
    before = db_counts(db)
    topic, payload = a.receive(DAY, 5)[0]
    # st-b publishes an event that names st-a in its payload.
    out = store.apply(db, [intake.read(topic.replace("st-a", "st-b"), payload)])
    # st-b claims st-a's ledger (payload and topic agree on st-b).
    claim = tamper((topic.replace("st-a", "st-b"), payload), station_id="st-b")
    out2 = store.apply(db, read_all([claim]))
    assert out.refused == {("st-b", "payload names another station than its topic"): 1}
    assert out2.refused == {("st-b", "ledger id belongs to another station"): 1}
    assert db_counts(db) == before
    assert dict(db.execute("SELECT reason, count FROM refusals").fetchall()) == {
        "payload names another station than its topic": 1,
        "ledger id belongs to another station": 1}


def test_personal_data_in_status_or_fault_messages_is_refused(db: Any) -> None:
    s = StationStream("st-p", "Office", "NTT")
    topic, payload = s.status(DAY)
    doc = json.loads(payload)
    doc["note"] = "pemohon 5301234567890123"
    fault_topic, fault_payload = s.fault(DAY)
    fdoc = json.loads(fault_payload)
    fdoc["event"]["message"] = "kartu 5301234567890123 macet"
    out = store.apply(db, read_all([(topic, json.dumps(doc).encode()),
                                    (fault_topic, json.dumps(fdoc).encode()),
                                    ("stations/st-p/faults",
                                     json.dumps({"v": 1, "station_id": "st-p",
                                                 "ts": "2026-11-23T00:00:00Z",
                                                 "faults": [{"n": 5301234567890123}]}).encode())]))
    assert out.refused_count == 3 and out.applied == 0
    assert db_counts(db) == {k: 0 for k in db_counts(db)}
    # Hash fields are hex: digits may run 16 long there without being a NIK.
    assert not intake.carries_nik({"hash": "1234567890123456" + "a" * 48})
    assert intake.carries_nik({"reason": "NIK 1234567890123456"})


def test_a_rebuilt_station_starts_a_new_flagged_stream(db: Any) -> None:
    old = StationStream("st-r", "Office", "NTT")
    store.apply(db, read_all(old.receive(DAY, 30) + old.card(DAY)))
    new = StationStream("st-r", "Office", "NTT")
    out = store.apply(db, read_all(new.receive(DAY, 7)))
    assert out.new_streams == [("st-r", new.ledger_id, True)]
    rows = dict(db.execute("SELECT ledger_id, flagged FROM streams").fetchall())
    assert rows == {old.ledger_id: False, new.ledger_id: True}
    assert db.execute("SELECT ledger_id FROM stations").fetchone()[0] == new.ledger_id
    assert dict(db.execute("SELECT account, count FROM station_balances WHERE count <> 0"
                           ).fetchall()) == {"external": -7, "stock": 7}


def test_status_keeps_the_newest_and_carries_office_and_region(db: Any) -> None:
    s = StationStream("st-s", "Disdukcapil Kota Kupang", "Nusa Tenggara Timur")
    late, early = s.status(DAY + timedelta(minutes=5)), s.status(DAY, online=False)
    store.apply(db, read_all([late]))
    store.apply(db, read_all([early]))
    row = db.execute("SELECT office, region, online, status_at FROM stations").fetchone()
    assert row[:3] == ("Disdukcapil Kota Kupang", "Nusa Tenggara Timur", True)
    assert row[3] == DAY + timedelta(minutes=5)


# -- property: any arrival order, any batching, any repeats ------------------------

_STREAMS = [StationStream(f"p-{i}", "Office", "NTT") for i in range(3)]
_MSGS = read_all(day_of(_STREAMS, cards=8))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(order=st.permutations(range(len(_MSGS))), size=st.integers(1, 60),
       repeats=st.lists(st.integers(0, len(_MSGS) - 1), max_size=40))
def test_property_balances_equal_the_sum_of_entries_whatever_the_order(
        db: Any, order: list[int], size: int, repeats: list[int]) -> None:
    db.execute("TRUNCATE events, entries, fault_events, streams, stations, "
               "chain_breaks, refusals, intake")
    batch = [_MSGS[i] for i in order] + [_MSGS[i] for i in repeats]
    load(db, batch, size)
    for s in _STREAMS:
        assert balances(db, s.ledger_id) == summed(db, s.ledger_id) == {
            k: v for k, v in s.balances.items() if v}
    assert db.execute("SELECT count(*) FROM chain_breaks").fetchone()[0] == 0
    assert db.execute("SELECT sum(missing) FROM streams").fetchone()[0] == 0
