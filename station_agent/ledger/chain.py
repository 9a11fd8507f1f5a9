"""The hash chain: how an entry's content is encoded and hashed.

Each entry stores ``prev_hash`` (the hash of the entry before it) and
``hash`` = SHA-256 over every stored field of the entry, ``prev_hash``
included. The encoding joins the fields with the unit separator (0x1F) and
writes a missing value as the record separator (0x1E); control characters
are refused in every text field (:func:`station_agent.ledger.model.validate`),
so the encoding is unambiguous and cheap enough to verify at several hundred
thousand entries per second.

Schema 5 added a spoil ``category`` to rejects and voids. Its value is
hashed as one more field after ``prev_hash`` when it is set, so every entry
without one (and every entry written before schema 5) hashes exactly as
before. Schema 6 added the ``actor`` (the staff account that made an entry). When
it is set, the category (or the missing-value mark) and the actor are hashed
after ``prev_hash``; an entry without an actor hashes as before. Schema 8
added the ``item`` of supply transfers (the supply kind): when it is set,
the category's and the actor's places (or their missing-value marks) and the
item are hashed after ``prev_hash``; a blank's entry hashes as before.

Rejects written before schema 5 were given a category by the
migration, derived from their reason; the ledger's ``categories_from`` meta
value is the first entry whose hash covers its category, and
:func:`hashed_values` leaves the category out below it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_SEP = "\x1f"
_NONE = "\x1e"

#: Encoding version, part of the genesis hash so a future change is explicit.
CHAIN_VERSION = "station-agent-ledger-chain/1"


def genesis_hash(ledger_id: str) -> str:
    """The ``prev_hash`` of entry 1: binds the chain to this ledger's id."""
    return hashlib.sha256(f"{CHAIN_VERSION}{_SEP}{ledger_id}".encode()).hexdigest()


def hashed_values(values: Sequence[object], category: str | None, actor: str | None = None,
                  item: str | None = None, *, seq: int = 0,
                  categories_from: int = 0) -> Sequence[object]:
    """What :func:`entry_hash` covers for an entry: its first 14 fields, its
    category when it has one and was written with it (``seq >= categories_from``),
    its actor when it has one (then the category's place is always there), and
    its supply kind when it has one (then the category's and actor's places are)."""
    if seq < categories_from:
        category = None
    if item is not None:
        return (*values, category, actor, item)
    if actor is not None:
        return (*values, category, actor)
    if category is None:
        return values
    return (*values, category)


def entry_hash(values: Sequence[object]) -> str:
    """Hash of an entry given its stored fields in column order, without ``hash``.

    ``values`` is ``(seq, ts, kind, src, dst, count, idem_id, batch_id, job_id,
    device, first_serial, reason, reference, prev_hash[, category])``.
    """
    text = _SEP.join([_NONE if v is None else str(v) for v in values])
    return hashlib.sha256(text.encode()).hexdigest()
