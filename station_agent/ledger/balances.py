"""Reading the maintained balances: one small query, whatever the log's length."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass

from station_agent.ledger import model
from station_agent.ledger.store import read_state


@dataclass(frozen=True, slots=True)
class Balances:
    """Blank balances per account and per-kind totals, as of one snapshot.

    The first eight fields are the DESIGN §5 contract of ``blanks --json``;
    ``adjusted`` is the net (signed) sum of all adjustments.
    """

    stock: int
    in_printer: int
    issued: int
    spoiled_held: int
    spoiled_disposed: int
    lost: int
    received: int
    adjusted: int
    picked: int
    completed: int
    rejected: int
    disposed: int
    written_off: int
    entries: int
    chain_head: str

    def as_dict(self) -> dict[str, object]:
        """The balances as a JSON-ready dict."""
        return asdict(self)

    @property
    def accounted(self) -> int:
        """Blanks the office is answerable for: every held account summed."""
        return (self.stock + self.in_printer + self.issued + self.spoiled_held
                + self.spoiled_disposed + self.lost)


def read_balances(conn: sqlite3.Connection) -> Balances:
    """Read the stored balances, totals and chain head."""
    st = read_state(conn)
    acc, tot = st.balances, st.totals
    return Balances(
        stock=acc[model.STOCK],
        in_printer=acc[model.IN_PRINTER],
        issued=acc[model.ISSUED],
        spoiled_held=acc[model.SPOILED_HELD],
        spoiled_disposed=acc[model.SPOILED_DISPOSED],
        lost=acc[model.LOST],
        received=tot[model.RECEIVE],
        adjusted=tot[model.ADJUST],
        picked=tot[model.PICK],
        completed=tot[model.COMPLETE],
        rejected=tot[model.REJECT],
        disposed=tot[model.DISPOSE],
        written_off=tot[model.WRITE_OFF],
        entries=st.head_seq,
        chain_head=st.head_hash,
    )
