"""Settling card jobs by hand: resolve an open job, void an issued card.

Shared by the daemon (API ops ``resolve`` and ``void``) and the CLI when no
daemon runs. A job id names one card job, or a spooled job whose cards are
``<job>/<attempt>.<n>``. Errors are :class:`BadInput` with the fix.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from station_agent.errors import BadInput
from station_agent.ledger import Ledger, model

OUTCOMES = ("issued", "spoiled", "lost")


def open_cards(ledger: Ledger, job_id: str | None = None, *,
               device: str | None = None) -> list[tuple[str, str | None]]:
    """Open card jobs, with the device that picked each: of ``job_id`` (itself, or
    the cards of a spooled job), or every one ``device`` picked."""
    where, args = ("e.device = ?", (device,)) if job_id is None else (
        "(j.job_id = ? OR substr(j.job_id, 1, ?) = ?)", (job_id, len(job_id) + 1, job_id + "/"))

    def q(c: sqlite3.Connection) -> list[Any]:
        return c.execute(
            "SELECT j.job_id, e.device FROM jobs j JOIN entries e ON e.seq = j.pick_seq "
            f"WHERE j.outcome IS NULL AND {where} ORDER BY j.pick_seq", args).fetchall()
    return [(str(r[0]), r[1]) for r in ledger.read(q)]


def resolve_transfers(ledger: Ledger, job_id: str, outcome: str, category: str | None,
                      reason: str | None) -> list[model.Transfer]:
    """The transfers that settle every open card of ``job_id`` as ``outcome``."""
    if outcome not in OUTCOMES:
        raise BadInput(f"resolve: outcome must be one of {', '.join(OUTCOMES)}, got "
                       f"{outcome[:40]!r}")
    if category is not None and outcome != "spoiled":
        raise BadInput("resolve: a category belongs to outcome spoiled")
    if category is not None and category not in model.CATEGORIES:
        raise BadInput(f"resolve: unknown category {category[:40]!r}; use one of "
                       f"{', '.join(model.CATEGORIES)}")
    cards = open_cards(ledger, job_id)
    if not cards:
        known = ledger.job(job_id)
        if known is not None and known[1] is not None:
            raise BadInput(f"job {job_id[:60]!r} is already settled ({known[1]}); nothing "
                           "to resolve")
        raise BadInput(f"no open job {job_id[:60]!r}: list open jobs with "
                       "`station-agent jobs --open`")
    out = []
    for card, device in cards:
        if outcome == "issued":
            out.append(model.complete(card, device=device))
        elif outcome == "spoiled":
            out.append(model.reject(card, reason or "resolved by operator",
                                    category=category or model.category_for(reason),
                                    device=device))
        else:
            out.append(model.write_off_job(card, reason or "lost: resolved by operator",
                                           device=device))
    return out


def void_transfer(ledger: Ledger, job_id: str, category: str,
                  reason: str | None) -> model.Transfer:
    """The void of ``job_id``'s issued card (a spooled job's only issued card)."""
    if category not in model.CATEGORIES:
        raise BadInput(f"void: unknown category {category[:40]!r}; use one of "
                       f"{', '.join(model.CATEGORIES)}")
    card = job_id
    if ledger.job(job_id) is None:
        rows = ledger.read(lambda c: c.execute(
            "SELECT job_id FROM jobs WHERE substr(job_id, 1, ?) = ? AND outcome = 'complete' "
            "AND void_seq IS NULL", (len(job_id) + 1, job_id + "/")).fetchall())
        if len(rows) > 1:
            raise BadInput(f"job {job_id[:60]!r} has {len(rows)} issued cards: void one of "
                           "them by its card job id (`station-agent jobs --json` lists them)")
        if rows:
            card = str(rows[0][0])
        else:
            # Say what became of the job's cards instead of "not in the ledger".
            cards = ledger.read(lambda c: c.execute(
                "SELECT job_id FROM jobs WHERE substr(job_id, 1, ?) = ? ORDER BY pick_seq "
                "DESC", (len(job_id) + 1, job_id + "/")).fetchall())
            if cards:
                card = str(cards[0][0])
    row = ledger.read(lambda c: c.execute(
        "SELECT e.device FROM jobs j JOIN entries e ON e.seq = j.pick_seq WHERE j.job_id = ?",
        (card,)).fetchone())
    return model.void(card, category, reason, device=row[0] if row else None)
