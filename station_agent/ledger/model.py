"""Accounts, transfer kinds and the shape of a transfer (DESIGN §3, §10).

Blanks move only by double-entry transfers between accounts. Supplies
(ribbons, retransfer films, cleaning kits) move the same way in the same
chain, as whole units between accounts of their own, per supply kind
(``item``: the ``[[supply]] kind`` of the config, e.g. ``ribbon-ymcko``). This module is
pure: it knows which transfers exist and what a well-formed one looks like;
the rules that depend on the ledger's state (balances, jobs, earlier ids)
live in :mod:`station_agent.ledger.rules`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Final

from station_agent.i18n import N_
from station_agent.ledger.errors import InvalidTransfer

# --- accounts -------------------------------------------------------------

STOCK: Final = "stock"
IN_PRINTER: Final = "in_printer"
ISSUED: Final = "issued"
SPOILED_HELD: Final = "spoiled_held"
SPOILED_DISPOSED: Final = "spoiled_disposed"
LOST: Final = "lost"
EXTERNAL: Final = "external"

#: Every account, in the order reports show them.
ACCOUNTS: Final = (STOCK, IN_PRINTER, ISSUED, SPOILED_HELD, SPOILED_DISPOSED, LOST, EXTERNAL)
#: Accounts that hold physical blanks of the office; none may go negative.
HELD_ACCOUNTS: Final = (STOCK, IN_PRINTER, ISSUED, SPOILED_HELD, SPOILED_DISPOSED, LOST)

# --- transfer kinds ---------------------------------------------------------

RECEIVE: Final = "receive"
PICK: Final = "pick"
COMPLETE: Final = "complete"
REJECT: Final = "reject"
DISPOSE: Final = "dispose"
WRITE_OFF: Final = "write_off"
ADJUST: Final = "adjust"
VOID: Final = "void"

KINDS: Final = (RECEIVE, PICK, COMPLETE, REJECT, DISPOSE, WRITE_OFF, ADJUST, VOID)

# --- supplies (DESIGN §10): their own accounts, balanced per supply kind ---------

SUPPLY_STOCK: Final = "supply_stock"
SUPPLY_INSTALLED: Final = "supply_installed"
SUPPLY_FINISHED: Final = "supply_finished"
SUPPLY_WRITTEN_OFF: Final = "supply_written_off"
#: Every supply account, in the order reports show them (``external`` is their source).
SUPPLY_ACCOUNTS: Final = (SUPPLY_STOCK, SUPPLY_INSTALLED, SUPPLY_FINISHED, SUPPLY_WRITTEN_OFF)

SUPPLY_RECEIVE: Final = "supply_receive"
SUPPLY_INSTALL: Final = "supply_install"
SUPPLY_FINISH: Final = "supply_finish"
SUPPLY_WRITE_OFF: Final = "supply_write_off"
#: Transfers of supplies; each names its supply kind (``item``).
SUPPLY_KINDS: Final = (SUPPLY_RECEIVE, SUPPLY_INSTALL, SUPPLY_FINISH, SUPPLY_WRITE_OFF)
#: Supply transfers that move the unit in one printer (they name the printer).
SUPPLY_UNIT_KINDS: Final = (SUPPLY_INSTALL, SUPPLY_FINISH)
#: Every transfer kind the ledger records.
ALL_KINDS: Final = (*KINDS, *SUPPLY_KINDS)

#: What each account holds, in words an office person reads (translated where shown).
ACCOUNT_LABELS: Final = {
    STOCK: N_("in stock"), IN_PRINTER: N_("in printers"), ISSUED: N_("issued"),
    SPOILED_HELD: N_("spoiled, in custody"), SPOILED_DISPOSED: N_("spoiled, destroyed"),
    LOST: N_("lost"), EXTERNAL: N_("outside the office"),
    SUPPLY_STOCK: N_("in stock"), SUPPLY_INSTALLED: N_("in printers"),
    SUPPLY_FINISHED: N_("used up"), SUPPLY_WRITTEN_OFF: N_("written off"),
}
#: Each transfer kind as an office person names it.
KIND_LABELS: Final = {
    RECEIVE: N_("delivery"), PICK: N_("card taken by a printer"), COMPLETE: N_("issue"),
    REJECT: N_("spoiled card"), DISPOSE: N_("disposal"), WRITE_OFF: N_("write-off"),
    ADJUST: N_("correction"), VOID: N_("void"),
    SUPPLY_RECEIVE: N_("supply delivery"), SUPPLY_INSTALL: N_("supply installed"),
    SUPPLY_FINISH: N_("supply finished"), SUPPLY_WRITE_OFF: N_("supply write-off"),
}
#: Kinds that settle a job picked earlier.
OUTCOMES: Final = (COMPLETE, REJECT, WRITE_OFF)
#: Kinds that name a job.
JOB_KINDS: Final = (PICK, COMPLETE, REJECT, VOID)

# --- spoil categories (what offices report monthly) ---------------------------

CHIP_FAILED: Final = "chip_failed"
PRINT_DEFECT: Final = "print_defect"
DAMAGED: Final = "damaged"
JAM: Final = "jam"
OTHER: Final = "other"
#: Every spoil category, in the order reports show them.
CATEGORIES: Final = (CHIP_FAILED, PRINT_DEFECT, DAMAGED, JAM, OTHER)
#: Kinds that move a card into ``spoiled_held`` and so carry a category.
SPOIL_KINDS: Final = (REJECT, VOID)

# Reasons the agent itself has written on rejects, and the category each means.
# Mechanical conditions end with the card removed by hand (DESIGN §3: ``jam``);
# conditions of the print itself spoil the print.
_REASON_CATEGORIES: Final = {
    "chip_failed": CHIP_FAILED, "chip_unreadable": CHIP_FAILED,
    "card_jam": JAM, "jam": JAM, "cover_open": JAM, "reject_box_full": JAM,
    "printer_offline": JAM, "printer_replaced": JAM, "feeder_empty": JAM,
    "ribbon_out": PRINT_DEFECT, "head_overheat": PRINT_DEFECT,
    "printer_protocol_error": PRINT_DEFECT, "print_defect": PRINT_DEFECT,
    "damaged": DAMAGED,
}

#: The (from, to) routes each kind may take.
ROUTES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    RECEIVE: ((EXTERNAL, STOCK),),
    PICK: ((STOCK, IN_PRINTER),),
    COMPLETE: ((IN_PRINTER, ISSUED),),
    REJECT: ((IN_PRINTER, SPOILED_HELD),),
    DISPOSE: ((SPOILED_HELD, SPOILED_DISPOSED),),
    WRITE_OFF: ((STOCK, LOST), (IN_PRINTER, LOST)),
    ADJUST: ((EXTERNAL, STOCK), (STOCK, EXTERNAL)),
    VOID: ((ISSUED, SPOILED_HELD),),
    SUPPLY_RECEIVE: ((EXTERNAL, SUPPLY_STOCK),),
    SUPPLY_INSTALL: ((SUPPLY_STOCK, SUPPLY_INSTALLED),),
    SUPPLY_FINISH: ((SUPPLY_INSTALLED, SUPPLY_FINISHED),),
    SUPPLY_WRITE_OFF: ((SUPPLY_STOCK, SUPPLY_WRITTEN_OFF), (SUPPLY_INSTALLED, SUPPLY_WRITTEN_OFF)),
}

#: A job moves exactly one card.
JOB_CARD_COUNT: Final = 1
#: Far above any real delivery; keeps arithmetic and typos in check.
MAX_COUNT: Final = 1_000_000_000

_MAX_ID_LEN = 128
_MAX_TEXT_LEN = 500
# Control characters are refused everywhere: they are never meant, they break
# one-line logs and CSV, and the hash encoding relies on their absence.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Identifiers are opaque references: printable ASCII, no spaces (no names).
_OPAQUE = re.compile(r"[!-~]+")
#: A run of exactly 16 digits looks like a NIK (Indonesian national ID number).
_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")


@dataclass(frozen=True, slots=True)
class Transfer:
    """A request to move ``count`` blanks from ``src`` to ``dst``.

    ``idem_id`` is the idempotency id: recording the same id again with the
    same content is a no-op that returns the original entry; with different
    content it is refused.
    """

    kind: str
    src: str
    dst: str
    count: int
    idem_id: str
    batch_id: str | None = None
    job_id: str | None = None
    device: str | None = None
    first_serial: str | None = None
    reason: str | None = None
    reference: str | None = None
    #: Spoil category (:data:`CATEGORIES`) of a reject or void; None otherwise.
    category: str | None = None
    #: The staff account that made the entry (the console's login; schema 6).
    #: Not part of :meth:`content`: the same delivery recorded again by
    #: someone else is still a replay.
    actor: str | None = None
    #: The supply kind a supply transfer moves (schema 8); None for blanks.
    item: str | None = None

    def content(self) -> tuple[object, ...]:
        """Everything that must match for a replay of ``idem_id`` to be a no-op."""
        return (
            self.kind, self.src, self.dst, self.count, self.batch_id, self.job_id,
            self.device, self.first_serial, self.reason, self.reference, self.category,
            self.item,
        )

    def describe(self) -> str:
        """A short human description, used in error messages."""
        parts = [f"{self.kind} {self.count} {self.src}->{self.dst}"]
        for name in ("item", "batch_id", "job_id", "device", "first_serial", "reason",
                     "reference", "category"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Entry:
    """One committed, hash-chained ledger entry.

    ``seq`` is the entry number (1, 2, 3 ... with no gaps). ``replay`` is not
    stored: it is True when :meth:`Ledger.record` found this entry already
    recorded under the same idempotency id and changed nothing. ``category``
    (a spoil's category) and ``actor`` (the staff account that made it) come
    and ``item`` (a supply transfer's supply kind) come last: they were added in
    schemas 5, 6 and 8, and the hash covers them when they are set (see
    :mod:`station_agent.ledger.chain`).
    """

    seq: int
    ts: str
    kind: str
    src: str
    dst: str
    count: int
    idem_id: str
    batch_id: str | None
    job_id: str | None
    device: str | None
    first_serial: str | None
    reason: str | None
    reference: str | None
    prev_hash: str
    hash: str
    category: str | None = None
    actor: str | None = None
    item: str | None = None
    replay: bool = field(default=False, compare=False)

    @property
    def transfer(self) -> Transfer:
        """The transfer this entry records."""
        return Transfer(
            self.kind, self.src, self.dst, self.count, self.idem_id, self.batch_id,
            self.job_id, self.device, self.first_serial, self.reason, self.reference,
            self.category, self.actor, self.item,
        )

    def as_dict(self) -> dict[str, object]:
        """Every stored field (not ``replay``), in column order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "replay"}


#: Stored columns of an entry, in order (also the export column order).
ENTRY_COLUMNS: Final = tuple(f.name for f in fields(Entry) if f.name != "replay")


# --- validation of a single transfer (state-independent) ---------------------

def _check_text(name: str, value: str | None, *, required: bool, max_len: int,
                opaque: bool = False, no_nik: bool = False) -> None:
    if value is None:
        if required:
            raise InvalidTransfer(f"{name} is required: give a non-empty {name}")
        return
    if not isinstance(value, str):
        raise InvalidTransfer(f"{name} must be text, got {type(value).__name__}")
    if not value.strip():
        raise InvalidTransfer(f"{name} is empty: give a non-empty {name}")
    if value != value.strip():
        raise InvalidTransfer(f"{name} {value!r} has leading or trailing spaces: remove them")
    if len(value) > max_len:
        raise InvalidTransfer(f"{name} is {len(value)} characters long: at most {max_len} allowed")
    if _CONTROL.search(value):
        raise InvalidTransfer(
            f"{name} {value!r} contains a control character (newline, tab ...): "
            "use plain one-line text"
        )
    if opaque and not _OPAQUE.fullmatch(value):
        raise InvalidTransfer(
            f"{name} {value[:40]!r} is not an opaque reference (letters, digits and "
            "punctuation, no spaces): use the issuing application's id, never a person's "
            "name or other personal data")
    if no_nik and _NIK.search(value):
        raise InvalidTransfer(
            f"{name} contains a 16-digit number, which looks like a NIK (national ID "
            "number): personal data must not enter the ledger; use the issuing "
            "application's opaque job reference")


def validate(t: Transfer) -> None:
    """Refuse a transfer that is malformed whatever the ledger holds."""
    if t.kind not in ROUTES:
        raise InvalidTransfer(
            f"unknown transfer kind {t.kind!r}: expected one of {', '.join(ALL_KINDS)}")
    if t.kind in SUPPLY_KINDS or t.item is not None:
        _validate_supply(t)
        return
    if (t.src, t.dst) not in ROUTES[t.kind]:
        allowed = " or ".join(f"{a}->{b}" for a, b in ROUTES[t.kind])
        raise InvalidTransfer(f"{t.kind} cannot move blanks {t.src}->{t.dst}: it moves {allowed}")
    if isinstance(t.count, bool) or not isinstance(t.count, int):
        raise InvalidTransfer(f"count must be a whole number, got {t.count!r}")
    if not 1 <= t.count <= MAX_COUNT:
        raise InvalidTransfer(f"count must be between 1 and {MAX_COUNT}, got {t.count}")
    _check_text("idempotency id", t.idem_id, required=True, max_len=_MAX_ID_LEN, opaque=True)
    _check_text("batch id", t.batch_id, required=t.kind == RECEIVE, max_len=_MAX_ID_LEN,
                opaque=True)
    job_required = t.kind in JOB_KINDS or (t.kind == WRITE_OFF and t.src == IN_PRINTER)
    _check_text("job id", t.job_id, required=job_required, max_len=_MAX_ID_LEN, opaque=True,
                no_nik=True)
    _check_text("device", t.device, required=False, max_len=_MAX_ID_LEN, opaque=True)
    _check_text("first serial", t.first_serial, required=False, max_len=_MAX_ID_LEN,
                opaque=True)
    _check_text("account", t.actor, required=False, max_len=_MAX_ID_LEN, opaque=True,
                no_nik=True)
    if t.kind in SPOIL_KINDS:
        if t.category not in CATEGORIES:
            raise InvalidTransfer(
                f"{t.kind} needs a spoil category: one of {', '.join(CATEGORIES)}, got "
                f"{str(t.category)[:40]!r}")
    elif t.category is not None:
        raise InvalidTransfer(
            f"a spoil category belongs to a reject or a void, not to a {t.kind}")
    # The only free text: short operator notes, still never a NIK. A spoil of
    # category ``other`` must say what it was.
    reason_required = t.kind in (WRITE_OFF, ADJUST) or t.category == OTHER
    _check_text("reason", t.reason, required=reason_required,
                max_len=_MAX_TEXT_LEN, no_nik=True)
    _check_text("reference", t.reference, required=t.kind == DISPOSE, max_len=_MAX_TEXT_LEN,
                no_nik=True)
    if t.batch_id is not None and t.kind != RECEIVE:
        raise InvalidTransfer(f"a batch id belongs to a receive, not to a {t.kind}")
    if t.first_serial is not None and t.kind != RECEIVE:
        raise InvalidTransfer(f"a first serial belongs to a receive, not to a {t.kind}")
    if t.job_id is not None and not job_required:
        raise InvalidTransfer(
            f"a job id belongs to pick, complete, reject, void or write_off from in_printer, "
            f"not to {t.kind} {t.src}->{t.dst}"
        )
    if t.job_id is not None and t.count != JOB_CARD_COUNT:
        raise InvalidTransfer(
            f"a job moves exactly one card, got count {t.count} for job {t.job_id!r}")


def _validate_supply(t: Transfer) -> None:
    if t.kind not in SUPPLY_KINDS:
        raise InvalidTransfer(f"a supply kind belongs to a supply transfer, not to a {t.kind}")
    if (t.src, t.dst) not in ROUTES[t.kind]:
        allowed = " or ".join(f"{a}->{b}" for a, b in ROUTES[t.kind])
        raise InvalidTransfer(f"{t.kind} cannot move supplies {t.src}->{t.dst}: it moves "
                              f"{allowed}")
    if isinstance(t.count, bool) or not isinstance(t.count, int):
        raise InvalidTransfer(f"count must be a whole number, got {t.count!r}")
    if not 1 <= t.count <= MAX_COUNT:
        raise InvalidTransfer(f"count must be between 1 and {MAX_COUNT}, got {t.count}")
    unit = t.kind in SUPPLY_UNIT_KINDS or t.src == SUPPLY_INSTALLED
    if unit and t.count != 1:
        raise InvalidTransfer(f"a {t.kind} moves the one unit in a printer, got count "
                              f"{t.count}")
    _check_text("idempotency id", t.idem_id, required=True, max_len=_MAX_ID_LEN, opaque=True)
    _check_text("supply kind", t.item, required=True, max_len=_MAX_ID_LEN, opaque=True)
    _check_text("batch id", t.batch_id, required=t.kind == SUPPLY_RECEIVE,
                max_len=_MAX_ID_LEN, opaque=True)
    _check_text("printer", t.device, required=unit, max_len=_MAX_ID_LEN, opaque=True)
    _check_text("serial", t.first_serial, required=False, max_len=_MAX_ID_LEN, opaque=True)
    _check_text("account", t.actor, required=False, max_len=_MAX_ID_LEN, opaque=True,
                no_nik=True)
    _check_text("reason", t.reason, required=t.kind == SUPPLY_WRITE_OFF,
                max_len=_MAX_TEXT_LEN, no_nik=True)
    _check_text("reference", t.reference, required=False, max_len=_MAX_TEXT_LEN, no_nik=True)
    if t.batch_id is not None and t.kind != SUPPLY_RECEIVE:
        raise InvalidTransfer(f"a batch id belongs to a supply delivery, not to a {t.kind}")
    if t.first_serial is not None and t.kind != SUPPLY_INSTALL:
        raise InvalidTransfer(f"a unit's serial belongs to its install, not to a {t.kind}")
    if t.job_id is not None or t.category is not None:
        raise InvalidTransfer(f"a {t.kind} has no job and no spoil category")


# --- constructors: the transfers callers actually make ----------------------

def receive(batch_id: str, count: int, *, first_serial: str | None = None,
            idem_id: str | None = None) -> Transfer:
    """A delivery of ``count`` blanks; the id defaults to ``receive:<batch>``."""
    return Transfer(RECEIVE, EXTERNAL, STOCK, count, idem_id or f"receive:{batch_id}",
                    batch_id=batch_id, first_serial=first_serial)


def pick(job_id: str, *, device: str | None = None, idem_id: str | None = None,
         reference: str | None = None) -> Transfer:
    """A printer took one blank from its feeder for ``job_id``; ``reference`` may
    note the printer's counter after the pick (``counter=N``)."""
    return Transfer(PICK, STOCK, IN_PRINTER, JOB_CARD_COUNT, idem_id or f"pick:{job_id}",
                    job_id=job_id, device=device, reference=reference)


def complete(job_id: str, *, device: str | None = None, idem_id: str | None = None) -> Transfer:
    """The card of ``job_id`` was printed, verified and ejected."""
    return Transfer(COMPLETE, IN_PRINTER, ISSUED, JOB_CARD_COUNT,
                    idem_id or f"complete:{job_id}", job_id=job_id, device=device)


def category_for(reason: str | None) -> str:
    """The spoil category a reject's ``reason`` means, for rejects recorded
    without one (before schema 5, or by an API client that gave only a
    reason): the agent's own reason codes map to their category, anything
    else is ``other`` (and the reason says what it was)."""
    if reason is None:
        return OTHER
    if reason in _REASON_CATEGORIES:
        return _REASON_CATEGORIES[reason]
    head = reason.split(":", 1)[0].strip()
    return _REASON_CATEGORIES.get(head, OTHER)


def reject(job_id: str, reason: str | None = None, *, category: str | None = None,
           device: str | None = None, idem_id: str | None = None) -> Transfer:
    """The card of ``job_id`` is spoiled and kept in custody; ``category``
    defaults to :func:`category_for` the reason."""
    return Transfer(REJECT, IN_PRINTER, SPOILED_HELD, JOB_CARD_COUNT,
                    idem_id or f"reject:{job_id}", job_id=job_id, device=device, reason=reason,
                    category=category or category_for(reason))


def void(job_id: str, category: str, reason: str | None = None, *,
         device: str | None = None, idem_id: str | None = None) -> Transfer:
    """The card of ``job_id`` printed and was issued, then failed (its chip
    could not be written, a quality check): issued -> spoiled_held."""
    return Transfer(VOID, ISSUED, SPOILED_HELD, JOB_CARD_COUNT, idem_id or f"void:{job_id}",
                    job_id=job_id, device=device, reason=reason, category=category)


def write_off_job(job_id: str, reason: str, *, device: str | None = None,
                  idem_id: str | None = None) -> Transfer:
    """The card of ``job_id`` is gone (unaccounted for)."""
    return Transfer(WRITE_OFF, IN_PRINTER, LOST, JOB_CARD_COUNT,
                    idem_id or f"write_off:{job_id}", job_id=job_id, device=device, reason=reason)


def write_off_stock(count: int, reason: str, idem_id: str, *,
                    device: str | None = None, reference: str | None = None) -> Transfer:
    """``count`` blanks left stock without a job (lost, or an unreported pick)."""
    return Transfer(WRITE_OFF, STOCK, LOST, count, idem_id, device=device, reason=reason,
                    reference=reference)


def dispose(count: int, reference: str, *, idem_id: str | None = None) -> Transfer:
    """Spoiled blanks handed back or destroyed under document ``reference``."""
    return Transfer(DISPOSE, SPOILED_HELD, SPOILED_DISPOSED, count,
                    idem_id or "dispose:" + "_".join(reference.split()), reference=reference)


def adjust(delta: int, reason: str, idem_id: str) -> Transfer:
    """A physical stock-count correction: ``delta`` > 0 adds to stock, < 0 removes."""
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise InvalidTransfer(f"an adjustment must be a non-zero whole number, got {delta!r}")
    if delta > 0:
        return Transfer(ADJUST, EXTERNAL, STOCK, delta, idem_id, reason=reason)
    return Transfer(ADJUST, STOCK, EXTERNAL, -delta, idem_id, reason=reason)


# --- supplies -------------------------------------------------------------------

def supply_receive(item: str, count: int, batch_id: str, *,
                   idem_id: str | None = None) -> Transfer:
    """A delivery of ``count`` units of supply kind ``item``; the id defaults to
    ``supply_receive:<item>:<batch>``."""
    return Transfer(SUPPLY_RECEIVE, EXTERNAL, SUPPLY_STOCK, count,
                    idem_id or f"supply_receive:{item}:{batch_id}", batch_id=batch_id, item=item)


def supply_install(item: str, device: str, idem_id: str, *, serial: str | None = None,
                   counter: int | None = None) -> Transfer:
    """One unit of ``item`` from stock into printer ``device``; ``counter`` notes the
    printer's card counter at the install (``counter=N``), the start of its yield."""
    return Transfer(SUPPLY_INSTALL, SUPPLY_STOCK, SUPPLY_INSTALLED, 1, idem_id, device=device,
                    first_serial=serial, item=item,
                    reference=None if counter is None else f"counter={counter}")


def supply_finish(item: str, device: str, idem_id: str, *,
                  counter: int | None = None) -> Transfer:
    """The unit of ``item`` in printer ``device`` is used up; ``counter`` notes the
    printer's card counter (the end of its yield)."""
    return Transfer(SUPPLY_FINISH, SUPPLY_INSTALLED, SUPPLY_FINISHED, 1, idem_id,
                    device=device, item=item,
                    reference=None if counter is None else f"counter={counter}")


def supply_write_off(item: str, count: int, reason: str, idem_id: str, *,
                     device: str | None = None) -> Transfer:
    """``count`` units of ``item`` written off from stock, or (``device`` given) the
    unit in that printer (damaged, stolen, the wrong kind)."""
    src = SUPPLY_STOCK if device is None else SUPPLY_INSTALLED
    return Transfer(SUPPLY_WRITE_OFF, src, SUPPLY_WRITTEN_OFF, count, idem_id, device=device,
                    reason=reason, item=item)
