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
(:mod:`.writer`, :mod:`.store`, :mod:`.chain`, :mod:`.verify`), the uplink's
outbox (:mod:`.outbox`), the fault and outage log (:mod:`.faultlog`), the job
log (:mod:`.joblog`), the stock forecast (:mod:`.stock`) and the day's
figures (:mod:`.daily`) live in the same SQLite file, written in the same
transactions. Names below are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Balances": "balances", "read_balances": "balances",
    "IdempotencyConflict": "errors", "InvalidTransfer": "errors",
    "JobRuleViolation": "errors", "LedgerBroken": "errors", "LedgerMissing": "errors",
    "LedgerRefused": "errors", "NegativeBalance": "errors", "NotALedger": "errors",
    "SerialOverlap": "errors", "StorageError": "errors",
    "Entry": "model", "Transfer": "model",
    "open_reader": "store",
    "VerifyReport": "verify", "verify": "verify",
    "Ledger": "writer",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        if name == "model":
            return importlib.import_module(f"{__name__}.model")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
    from station_agent.ledger.verify import VerifyReport, verify
    from station_agent.ledger.writer import Ledger
