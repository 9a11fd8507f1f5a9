"""The fleet view: dedup by event id, gap detection, hostile payloads."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from station_agent.fleet.view import FleetView, SeqTracker


def event(seq: int, station: str = "s1", ledger: str = "L1") -> tuple[str, bytes]:
    doc = {"v": 1, "event_id": f"{ledger}:{seq}", "station_id": station, "ledger_id": ledger,
           "seq": seq, "type": "ledger_entry", "ts": f"2026-11-24T00:00:{seq % 60:02d}Z",
           "chain_head": "h", "event": {}}
    return f"stations/{station}/events", json.dumps(doc).encode()


@settings(max_examples=300)
@given(st.lists(st.integers(1, 60), max_size=200), st.randoms())
def test_tracker_counts_each_number_once_and_names_the_holes(seqs: list[int], rnd) -> None:
    t = SeqTracker()
    new = [s for s in seqs if t.add(s)]
    if not seqs:
        assert t.gaps() == []
        return
    first = seqs[0]
    # Every number is new exactly once (those below the first seen count as settled).
    assert new == list(dict.fromkeys(s for s in seqs if s >= first))
    seen = set(new)
    missing = [n for n in range(first, max(seen) + 1) if n not in seen]
    expanded = [n for a, b in t.gaps() for n in range(a, b + 1)]
    assert expanded == missing
    assert t.missing() == len(missing)


def test_duplicates_are_dropped_and_gaps_found_per_station() -> None:
    view = FleetView()
    delivered = [event(n) for n in (1, 2, 3, 3, 2, 5, 6, 9)] + [event(1, "s2")] * 3
    new = [view.handle(t, p) for t, p in delivered]
    assert [d["seq"] for d in new if d] == [1, 2, 3, 5, 6, 9, 1]
    s1 = view.stations["s1"].as_dict()
    assert (s1["events"], s1["duplicates"], s1["gaps"], s1["missing"]) == \
        (6, 2, [[4, 4], [7, 8]], 3)
    assert view.stations["s2"].as_dict()["duplicates"] == 2
    for n in (4, 7, 8):
        view.handle(*event(n))
    assert view.stations["s1"].as_dict()["gaps"] == []


def test_a_new_ledger_starts_a_new_stream() -> None:
    view = FleetView()
    for n in (1, 2, 3):
        view.handle(*event(n))
    assert view.handle(*event(1, ledger="L2")) is not None
    st1 = view.stations["s1"]
    assert st1.replaced_ledgers == 1 and st1.events == 4 and st1.seqs.gaps() == []


def test_status_and_faults_fill_the_station_row() -> None:
    view = FleetView()
    status = {"v": 1, "station_id": "s1", "online": True, "ts": "2026-11-24T01:00:00Z",
              "stock": {"stock": 420, "days_left": 3.5},
              "today": {"date": "2026-11-24", "issued": 80, "spoiled": 2}}
    faults = {"v": 1, "station_id": "s1", "ts": "2026-11-24T01:00:01Z",
              "faults": [{"source": "p1", "code": "ribbon_out"}]}
    assert view.handle("stations/s1/status", json.dumps(status).encode()) is None
    assert view.handle("stations/s1/faults", json.dumps(faults).encode()) is None
    row = view.as_dict()["stations"][0]
    assert row["online"] is True and row["stock"] == 420 and row["days_left"] == 3.5
    assert (row["issued_today"], row["spoiled_today"]) == (80, 2)
    assert row["active_faults"] == ["p1:ribbon_out"]
    assert row["last_seen"] == "2026-11-24T01:00:01Z"
    view.handle("stations/s1/status", json.dumps(
        {"station_id": "s1", "online": False, "reason": "connection lost"}).encode())
    assert view.as_dict()["stations"][0]["reason"] == "connection lost"


@settings(max_examples=2000)
@given(st.sampled_from(["stations/s1/events", "stations/s1/status", "stations/s1/faults",
                        "stations/events", "other/s1/events", "stations/s1/x/events"]),
       st.one_of(st.binary(max_size=200),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                              lambda c: st.lists(c, max_size=4)
                              | st.dictionaries(st.sampled_from(
                                  ["seq", "event_id", "ledger_id", "station_id", "online",
                                   "faults", "ts", "stock", "today", "reason"]), c,
                                  max_size=6), max_leaves=12).map(
                     lambda d: json.dumps(d).encode())))
def test_garbage_never_breaks_the_view(topic: str, payload: bytes) -> None:
    view = FleetView()
    view.handle(topic, payload)
    view.as_dict()            # still renders
    view.handle(*event(1))
    assert view.stations["s1"].events == 1
