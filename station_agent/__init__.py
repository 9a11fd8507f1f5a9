"""station-agent: the agent of an ID-card printing station, as a library.

The public, stable surface (semantic versioning from 1.0; docs/PYTHON.md) is
what this module exports:

* the blank ledger: :class:`Ledger`, :class:`Balances`, :class:`Entry`,
  :class:`Transfer`, the transfer builders in :mod:`station_agent.ledger.model`
  (``from station_agent import model``), :func:`verify`;
* device openers: :func:`open_printer` (Evolis, Magicard ... by URL) and
  :func:`open_reader` (``pcsc://``);
* :class:`Client`, a typed client of a running daemon's local API, and what
  it answers (:class:`Recorded`, :class:`Fault`, :class:`Event`);
* the error classes.

Everything else (``station_agent.daemon``, ``.cli``, ``.issuing`` ...) is the
agent's own and may change between minor versions. Names are imported on first
use, so ``import station_agent`` costs almost nothing.
"""

from __future__ import annotations

import importlib

# typing is imported for the type checker only: this module is on the CLI's
# start-up path (docs/PERFORMANCE.md, cli.status_latency).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # the ledger
    "Ledger": "station_agent.ledger.writer",
    "Balances": "station_agent.ledger.balances",
    "Entry": "station_agent.ledger.model",
    "Transfer": "station_agent.ledger.model",
    "verify": "station_agent.ledger.verify",
    "VerifyReport": "station_agent.ledger.verify",
    # devices
    "open_printer": "drivers.printers",
    "open_reader": "drivers.readers",
    # the local API
    "Client": "station_agent.api.client",
    "Recorded": "station_agent.api.client",
    "Fault": "station_agent.faults.board",
    "Event": "station_agent.events",
    # errors
    "StationAgentError": "station_agent.errors",
    "BadInput": "station_agent.errors",
    "OperationFailed": "station_agent.errors",
    "LedgerRefused": "station_agent.ledger.errors",
    "NegativeBalance": "station_agent.ledger.errors",
    "IdempotencyConflict": "station_agent.ledger.errors",
    "InvalidTransfer": "station_agent.ledger.errors",
    "JobRuleViolation": "station_agent.ledger.errors",
    "SerialOverlap": "station_agent.ledger.errors",
    "StorageError": "station_agent.ledger.errors",
    "LedgerBroken": "station_agent.ledger.errors",
    "LedgerMissing": "station_agent.ledger.errors",
    "NotALedger": "station_agent.ledger.errors",
    "ClientError": "station_agent.api.connection",
    "DaemonNotRunning": "station_agent.api.connection",
    "ProtocolMismatch": "station_agent.api.connection",
    "RequestFailed": "station_agent.api.connection",
    "BadRequest": "station_agent.api.connection",
    "UnknownOperation": "station_agent.api.connection",
    "Refused": "station_agent.api.connection",
    "Busy": "station_agent.api.connection",
    "Forbidden": "station_agent.api.connection",
    "PrinterError": "drivers.printers.base",
    "ReaderError": "drivers.readers.base",
    "TransportError": "drivers.transports.base",
}
#: Public submodules.
_MODULES = {"model": "station_agent.ledger.model", "ledger": "station_agent.ledger"}

__all__ = [
    "BadInput",
    "BadRequest",
    "Balances",
    "Busy",
    "Client",
    "ClientError",
    "DaemonNotRunning",
    "Entry",
    "Event",
    "Fault",
    "Forbidden",
    "IdempotencyConflict",
    "InvalidTransfer",
    "JobRuleViolation",
    "Ledger",
    "LedgerBroken",
    "LedgerMissing",
    "LedgerRefused",
    "NegativeBalance",
    "NotALedger",
    "OperationFailed",
    "PrinterError",
    "ProtocolMismatch",
    "ReaderError",
    "Recorded",
    "Refused",
    "RequestFailed",
    "SerialOverlap",
    "StationAgentError",
    "StorageError",
    "Transfer",
    "TransportError",
    "UnknownOperation",
    "VerifyReport",
    "__version__",
    "ledger",
    "model",
    "open_printer",
    "open_reader",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'station_agent' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from drivers.printers import open_printer
    from drivers.printers.base import PrinterError
    from drivers.readers import open_reader
    from drivers.readers.base import ReaderError
    from drivers.transports.base import TransportError
    from station_agent.api.client import (
        BadRequest,
        Busy,
        Client,
        ClientError,
        DaemonNotRunning,
        Forbidden,
        ProtocolMismatch,
        Recorded,
        Refused,
        RequestFailed,
        UnknownOperation,
    )
    from station_agent.errors import BadInput, OperationFailed, StationAgentError
    from station_agent.events import Event
    from station_agent.faults.board import Fault
    from station_agent.ledger import model
    from station_agent.ledger.balances import Balances
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
    from station_agent.ledger.verify import VerifyReport, verify
    from station_agent.ledger.writer import Ledger
