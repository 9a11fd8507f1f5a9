"""Errors the ledger raises. Each says what was wrong and what to do.

Refusals (:class:`LedgerRefused`) are bad input: nothing was written and the
caller must change the request. Storage errors (:class:`StorageError`) mean
the ledger file or its disk is the problem; nothing was written either.
"""

from __future__ import annotations

from station_agent.errors import BadInput, OperationFailed


class LedgerRefused(BadInput):
    """The ledger refused a transfer; nothing was written.

    A refusal an office person meets also carries ``text``, its English message
    with ``{name}`` fields, and ``fields``: what the console translates and
    formats in the office's language (:mod:`station_agent.i18n`). Field values
    named ``kind`` or ``account`` are a transfer kind or an account, shown by
    their labels (:data:`station_agent.ledger.model.KIND_LABELS`,
    :data:`~station_agent.ledger.model.ACCOUNT_LABELS`).
    """

    def __init__(self, message: str, *, text: str | None = None,
                 fields: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.text = text
        self.fields = fields or {}


class InvalidTransfer(LedgerRefused):
    """The transfer is malformed (wrong route, bad count, missing reason ...)."""


class NegativeBalance(LedgerRefused):
    """The transfer would take an account below zero."""


class IdempotencyConflict(LedgerRefused):
    """The idempotency id was already used for a different transfer."""


class JobRuleViolation(LedgerRefused):
    """A job got a second pick, an outcome without a pick, or a second outcome."""


class SerialOverlap(LedgerRefused):
    """A delivery's serial range overlaps one recorded earlier."""


class StorageError(OperationFailed):
    """The ledger's file or disk failed; nothing was written."""


class NotALedger(StorageError):
    """The file exists but is not a station-agent ledger."""


class LedgerMissing(StorageError):
    """There is no ledger at the given place yet."""


class LedgerBroken(StorageError):
    """An invariant failed inside the writer: the stored state is not trustworthy."""
