"""Splitting a delivery of blanks among offices by need (DESIGN §11): water-filling
in pickup lots.

Each office has a stock and a use rate (blanks a day at its trailing rate); its
days of cover are stock / rate (an office that used nothing lately has no
need). Lots of ``lot`` blanks go one at a time to the office with the fewest
days of cover (ties: the faster user, then the name), until every office has
at least ``horizon`` days or fewer than a lot is left. That makes the lowest
days of cover as high as whole lots allow, never hands out more than the
delivery, and, since each step depends only on what was given so far, a
larger delivery only adds lots to the same sequence: no office gets less.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Office:
    """An office's stock (blanks, all its stations) and use (blanks a day)."""

    name: str
    stock: int
    rate: float

    def cover(self, extra: int = 0) -> float:
        """Days the stock (plus ``extra``) lasts at the rate (infinite: no use)."""
        return math.inf if self.rate <= 0 else (self.stock + extra) / self.rate


@dataclass(frozen=True, slots=True)
class Share:
    """What one office gets: whole lots, and its days of cover before and after."""

    office: Office
    lots: int
    blanks: int
    days_before: float
    days_after: float

    def as_dict(self) -> dict[str, object]:
        def days(d: float) -> float | None:
            return None if math.isinf(d) else round(d, 1)
        return {"office": self.office.name, "stock": self.office.stock,
                "rate_per_day": round(self.office.rate, 1), "lots": self.lots,
                "blanks": self.blanks, "days_before": days(self.days_before),
                "days_after": days(self.days_after)}


def allocate(offices: Iterable[Office], total: int, *, lot: int = 500,
             horizon: float = 30.0) -> list[Share]:
    """Split ``total`` blanks in lots of ``lot`` (see the module docstring); one
    share per office, in the order given."""
    if lot < 1:
        raise ValueError(f"a lot must hold at least one blank, got {lot}")
    if total < 0:
        raise ValueError(f"the delivery cannot be negative, got {total}")
    offices = list(offices)
    given = [0] * len(offices)
    heap = [(o.cover(), -o.rate, o.name, i) for i, o in enumerate(offices)
            if o.cover() < horizon]
    heapq.heapify(heap)
    left = total
    while heap and left >= lot:
        _cover, _rate, _name, i = heapq.heappop(heap)
        given[i] += lot
        left -= lot
        after = offices[i].cover(given[i])
        if after < horizon:
            heapq.heappush(heap, (after, -offices[i].rate, offices[i].name, i))
    return [Share(o, g // lot, g, o.cover(), o.cover(g)) for o, g in zip(offices, given,
                                                                       strict=True)]
