"""A scripted operator for simulated printers: what a person at the station does
when a job stops (clears a jam, reloads the ribbon or the feeder, closes the
cover, presses OK), and the comparison of the ledger with the simulator's
truth. Used by the tests, the benchmarks and ``station-agent demo``."""

from __future__ import annotations

import random
import time

from drivers.printers import Panel
from simulators.printers.model import PrinterModel
from station_agent.issuing.driven import NOT_STARTED, PENDING, STUCK, CardIssuer, IssueResult
from station_agent.ledger import Balances, Ledger

PANELS = (Panel("K", b"\x00\xff" * 8), Panel("O", b"\x01"))


def attend(issuer: CardIssuer, model: PrinterModel, result: IssueResult,
           rng: random.Random) -> None:
    """Fix what stopped ``result``, as the scenario says an operator would."""
    if result.outcome == STUCK:
        if result.fault == "card_jam":
            removed = rng.random() < 0.8
            model.operator_resolve_jam(removed=removed)
            issuer.resolve(result.job_id, removed=removed)
        else:
            model.operator_close_cover()
            model.cool_down()
            model.empty_reject_box()
            issuer.retry_stuck()
    elif result.outcome in (NOT_STARTED, PENDING):
        fault = result.fault
        if fault == "feeder_empty":
            model.refill(cards=50)
        elif fault == "ribbon_out":
            model.change_ribbon(500)
        elif fault == "head_overheat":
            model.cool_down()
        elif fault == "cover_open":
            model.operator_close_cover()
        elif fault == "reject_box_full":
            model.empty_reject_box()
        elif fault in ("printer_offline", "printer_protocol_error"):
            time.sleep(0.05)
            issuer.printer.link.retry_now()
        model.clear()  # the operator presses the printer's OK button


def service_printer(model: PrinterModel) -> list[str]:
    """Walk up to a printer that stopped outside any job the agent drives (a
    spooled job): take a card still inside out by hand (kept as spoiled), reload
    blanks and ribbon when low, close the cover, let the head cool, empty the
    reject box, press OK. Returns what was done, for a log line."""
    done = []
    with model.lock:
        if model.position is not None:
            model.operator_resolve_jam(removed=True)
            done.append("took out the card inside")
        if model.cover_open:
            model.operator_close_cover()
            done.append("closed the cover")
        if model.feeder < 5:
            model.refill(cards=50)
            done.append("loaded blanks")
        if model.ribbon < 50:
            model.change_ribbon(500)
            done.append("replaced the ribbon")
        model.cool_down()
        model.empty_reject_box()
        model.errors.clear()
        model.clear()
    return done


def run_jobs(issuer: CardIssuer, model: PrinterModel, jobs: int, rng: random.Random,
             prefix: str = "job", max_attempts: int = 200) -> list[IssueResult]:
    """Issue ``jobs`` cards, attending to every stop; returns every attempt's result."""
    results = []
    for n in range(jobs):
        job = f"{prefix}-{n}"
        for _ in range(max_attempts):
            r = issuer.issue(job, PANELS)
            results.append(r)
            attend(issuer, model, r, rng)
            if r.outcome not in (NOT_STARTED, PENDING):
                break
        else:
            raise AssertionError(f"{job} never started: last result {r}")
    for _ in range(max_attempts):
        if issuer.recover() is None:
            break
        time.sleep(0.05)
        issuer.printer.link.retry_now()
    return results


def mismatches(balances: Balances, models: list[PrinterModel], received: int) -> list[str]:
    """How the ledger differs from the printers' ground truth (empty: it does not).

    Cards taken from feeders = picks; in output hoppers = issued; in reject
    boxes plus those the operator removed after jams = spoiled and held;
    missing after jams = lost; nothing left inside a printer.
    """
    picked = sum(m.truth.picked for m in models)
    expect = {
        "in_printer": 0,
        "issued": sum(m.truth.issued for m in models),
        "spoiled_held": sum(m.truth.rejected + m.truth.removed_by_operator for m in models),
        "lost": sum(m.truth.missing for m in models),
        "stock": received - picked,
    }
    b = balances.as_dict()
    return [f"{k}: ledger {b[k]}, printers {v}" for k, v in expect.items() if b[k] != v]


def assert_ledger_matches(ledger: Ledger, model: PrinterModel, received: int) -> None:
    """The ledger's accounts equal the simulator's ground truth."""
    wrong = mismatches(ledger.balances(), [model], received)
    assert not wrong, f"{wrong}; truth {model.truth}"
