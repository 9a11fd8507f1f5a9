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
"""

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
from station_agent.ledger.verify import VerifyReport, verify
from station_agent.ledger.writer import Ledger

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
