"""The exact blank ledger (DESIGN §3).

Blanks move only by double-entry transfers between accounts, each with an
idempotency id, appended to a hash-chained log in SQLite (WAL,
``synchronous=FULL``). Balances are maintained, invariants are asserted on
every write, and :func:`verify` recomputes everything from the log.

Typical use::

    from station_agent.ledger import Ledger, model

    with Ledger("/var/lib/station-agent") as ledger:
        ledger.record(model.receive("B-2026-11", 500, first_serial="KTP0001"))
        ledger.record(model.pick("job-1", device="evolis-1"))
        ledger.record(model.complete("job-1", device="evolis-1"))
        print(ledger.balances().stock)

This package is also the station's state database: besides the ledger
(:mod:`.writer`, :mod:`.store`, :mod:`.chain`, :mod:`.verification`), the uplink's
outbox (:mod:`.outbox`), the fault and outage log (:mod:`.faultlog`), the job
log (:mod:`.joblog`), the stock forecast (:mod:`.stock`) and the day's
figures (:mod:`.daily`) live in the same SQLite file, written in the same
transactions. Names below are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from station_agent.lazy import exports

#: Public name -> where it is defined.
_EXPORTS: dict[str, str] = {
    "Balances": "station_agent.ledger.balances:Balances",
    "read_balances": "station_agent.ledger.balances:read_balances",
    "IdempotencyConflict": "station_agent.ledger.errors:IdempotencyConflict",
    "InvalidTransfer": "station_agent.ledger.errors:InvalidTransfer",
    "JobRuleViolation": "station_agent.ledger.errors:JobRuleViolation",
    "LedgerBroken": "station_agent.ledger.errors:LedgerBroken",
    "LedgerMissing": "station_agent.ledger.errors:LedgerMissing",
    "LedgerRefused": "station_agent.ledger.errors:LedgerRefused",
    "NegativeBalance": "station_agent.ledger.errors:NegativeBalance",
    "NotALedger": "station_agent.ledger.errors:NotALedger",
    "SerialOverlap": "station_agent.ledger.errors:SerialOverlap",
    "StorageError": "station_agent.ledger.errors:StorageError",
    "Entry": "station_agent.ledger.model:Entry",
    "Transfer": "station_agent.ledger.model:Transfer",
    "open_reader": "station_agent.ledger.store:open_reader",
    "VerifyReport": "station_agent.ledger.verification:VerifyReport",
    "verify": "station_agent.ledger.verification:verify",
    "Ledger": "station_agent.ledger.writer:Ledger",
    "model": "station_agent.ledger.model",
}

__all__ = [
    "Balances",
    "Entry",
    "IdempotencyConflict",
    "InvalidTransfer",
    "JobRuleViolation",
    "Ledger",
    "LedgerBroken",
    "LedgerMissing",
    "LedgerRefused",
    "NegativeBalance",
    "NotALedger",
    "SerialOverlap",
    "StorageError",
    "Transfer",
    "VerifyReport",
    "model",
    "open_reader",
    "read_balances",
    "verify",
]


__getattr__, __dir__ = exports(__name__, _EXPORTS)


if TYPE_CHECKING:
    from station_agent.ledger import model
    from station_agent.ledger.balances import Balances, read_balances
    from station_agent.ledger.errors import (
        IdempotencyConflict,
        InvalidTransfer,
        JobRuleViolation,
        LedgerBroken,
        LedgerMissing,
        LedgerRefused,
        NegativeBalance,
        NotALedger,
        SerialOverlap,
        StorageError,
    )
    from station_agent.ledger.model import Entry, Transfer
    from station_agent.ledger.store import open_reader
    from station_agent.ledger.verification import VerifyReport, verify
    from station_agent.ledger.writer import Ledger
