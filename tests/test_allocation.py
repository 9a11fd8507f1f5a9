"""Splitting a delivery among offices by need (station_agent.central.allocation):
properties over generated fleets, and a small case worked by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station_agent.central.allocation import Office, allocate

offices_st = st.lists(
    st.builds(Office, name=st.text("abcdefgh", min_size=1, max_size=6),
              stock=st.integers(0, 20_000), rate=st.floats(0, 800, allow_nan=False)),
    min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(offices=offices_st, total=st.integers(0, 200_000), lot=st.sampled_from([1, 100, 500]),
       horizon=st.floats(1, 120, allow_nan=False))
def test_never_more_than_the_delivery_and_only_whole_lots(offices: list[Office], total: int,
                                                           lot: int, horizon: float) -> None:
    shares = allocate(offices, total, lot=lot, horizon=horizon)
    assert sum(s.blanks for s in shares) <= total
    assert all(s.blanks == s.lots * lot and s.lots >= 0 for s in shares)
    assert [s.office for s in shares] == offices
    left = total - sum(s.blanks for s in shares)
    # It stops only when a lot no longer fits or every office has its horizon.
    assert left < lot or all(s.days_after >= horizon for s in shares)
    # Nobody above the horizon gets a lot it did not need for reaching it.
    for s in shares:
        if s.lots:
            assert s.office.cover(s.blanks - lot) < horizon


@settings(max_examples=200, deadline=None)
@given(offices=offices_st, total=st.integers(0, 100_000), more=st.integers(0, 50_000),
       lot=st.sampled_from([100, 500]))
def test_a_larger_delivery_leaves_no_office_worse_off(offices: list[Office], total: int,
                                                      more: int, lot: int) -> None:
    small = allocate(offices, total, lot=lot)
    large = allocate(offices, total + more, lot=lot)
    assert all(b.blanks >= a.blanks for a, b in zip(small, large, strict=True))


@settings(max_examples=200, deadline=None)
@given(offices=offices_st, total=st.integers(0, 100_000), lot=st.sampled_from([100, 500]))
def test_the_lowest_cover_cannot_be_raised_by_moving_a_lot(offices: list[Office], total: int,
                                                           lot: int) -> None:
    """Max-min: taking a lot from any office that got one and giving it to the office
    with the fewest days never ends with a higher minimum."""
    shares = allocate(offices, total, lot=lot, horizon=math.inf)
    lowest = min(s.days_after for s in shares)
    poorest = min(range(len(shares)), key=lambda i: shares[i].days_after)
    for i, s in enumerate(shares):
        if not s.lots or i == poorest:
            continue
        moved = [x.days_after for x in shares]
        moved[i] = s.office.cover(s.blanks - lot)
        moved[poorest] = shares[poorest].office.cover(shares[poorest].blanks + lot)
        assert min(moved) <= lowest + 1e-9


def test_a_delivery_worked_by_hand() -> None:
    kupang = Office("Kota Kupang", stock=1_000, rate=250)     # 4 days
    belu = Office("Belu", stock=3_000, rate=100)              # 30 days
    alor = Office("Alor", stock=200, rate=50)                 # 4 days, slower
    idle = Office("Sabu Raijua", stock=0, rate=0)             # no use: no need
    shares = allocate([kupang, belu, alor, idle], 4_000, lot=500, horizon=30)
    got = {s.office.name: s.lots for s in shares}
    # Both at 4 days: Kupang (the faster) to 6, Alor to 14, Kupang by 2 days a lot
    # to 14, the tie to Kupang (16), the last lot to Alor (24). Belu has its 30.
    assert got == {"Kota Kupang": 6, "Belu": 0, "Alor": 2, "Sabu Raijua": 0}
    by = {s.office.name: s for s in shares}
    assert by["Kota Kupang"].days_after == pytest.approx(16.0)
    assert by["Alor"].days_after == pytest.approx(24.0)
    assert by["Sabu Raijua"].as_dict()["days_after"] is None


@pytest.mark.parametrize("lot, total", [(0, 100), (500, -1)])
def test_nonsense_is_refused(lot: int, total: int) -> None:
    with pytest.raises(ValueError):
        allocate([Office("a", 1, 1.0)], total, lot=lot)
