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

from station_agent.lazy import exports

# typing is not imported at run time: this module is on the CLI's start-up path
# (docs/PERFORMANCE.md, cli.status_latency).
TYPE_CHECKING = False

__version__ = "0.1.0"

#: Public name -> where it is defined ("module:attribute", or a module).
_EXPORTS: dict[str, str] = {
    # the ledger
    "Ledger": "station_agent.ledger.writer:Ledger",
    "Balances": "station_agent.ledger.balances:Balances",
    "Entry": "station_agent.ledger.model:Entry",
    "Transfer": "station_agent.ledger.model:Transfer",
    "verify": "station_agent.ledger.verification:verify",
    "VerifyReport": "station_agent.ledger.verification:VerifyReport",
    # devices
    "open_printer": "drivers.printers:open_printer",
    "open_reader": "drivers.readers:open_reader",
    # the local API
    "Client": "station_agent.api.client:Client",
    "Recorded": "station_agent.api.client:Recorded",
    "Fault": "station_agent.faults.board:Fault",
    "Event": "station_agent.events:Event",
    # errors
    "StationAgentError": "station_agent.errors:StationAgentError",
    "BadInput": "station_agent.errors:BadInput",
    "OperationFailed": "station_agent.errors:OperationFailed",
    "LedgerRefused": "station_agent.ledger.errors:LedgerRefused",
    "NegativeBalance": "station_agent.ledger.errors:NegativeBalance",
    "IdempotencyConflict": "station_agent.ledger.errors:IdempotencyConflict",
    "InvalidTransfer": "station_agent.ledger.errors:InvalidTransfer",
    "JobRuleViolation": "station_agent.ledger.errors:JobRuleViolation",
    "SerialOverlap": "station_agent.ledger.errors:SerialOverlap",
    "StorageError": "station_agent.ledger.errors:StorageError",
    "LedgerBroken": "station_agent.ledger.errors:LedgerBroken",
    "LedgerMissing": "station_agent.ledger.errors:LedgerMissing",
    "NotALedger": "station_agent.ledger.errors:NotALedger",
    "ClientError": "station_agent.api.connection:ClientError",
    "DaemonNotRunning": "station_agent.api.connection:DaemonNotRunning",
    "ProtocolMismatch": "station_agent.api.connection:ProtocolMismatch",
    "RequestFailed": "station_agent.api.connection:RequestFailed",
    "BadRequest": "station_agent.api.connection:BadRequest",
    "UnknownOperation": "station_agent.api.connection:UnknownOperation",
    "Refused": "station_agent.api.connection:Refused",
    "Busy": "station_agent.api.connection:Busy",
    "Forbidden": "station_agent.api.connection:Forbidden",
    "PrinterError": "drivers.printers.base:PrinterError",
    "ReaderError": "drivers.readers.base:ReaderError",
    "TransportError": "drivers.transports.base:TransportError",
    "model": "station_agent.ledger.model",
    "ledger": "station_agent.ledger",
}
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


__getattr__, __dir__ = exports(__name__, _EXPORTS)


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
    from station_agent.ledger import (
        Balances,
        Entry,
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
        Transfer,
        VerifyReport,
        model,
        verify,
    )
    from station_agent.ledger.writer import Ledger
