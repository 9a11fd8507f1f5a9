"""Seeded whole-station campaigns (simulators/station/campaign.py): CI runs a fixed set of
seeds with every fault kind; each must end with the ledger equal to the printers'
ground truth, the chain verified, every event delivered once and no fault left."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from simulators.station import campaign
from simulators.station.campaign import FAULT_KINDS, Outcome, make_plan
from tests.conftest import REPO, cli_env, free_pcscd

#: The seeds CI runs (each a few tens of seconds); docs/RELIABILITY.md has long runs.
CI_SEEDS = (101, 202, 303)
CI_CARDS = 80


@pytest.fixture(scope="module")
def with_pcsc(request: pytest.FixtureRequest) -> bool:
    return free_pcscd(request)


def _outcomes(kept: Path) -> str:
    """Every job's pick and outcome in a kept campaign's ledger, one line each."""
    from station_agent.ledger.store import open_reader

    # A campaign on a tmpfs of its own saves the state there before unmounting it.
    state = kept / "state-saved" if (kept / "state-saved").exists() else kept / "state"
    try:
        conn = open_reader(state)
    except Exception as exc:   # the failure report must not fail itself
        return f"(no ledger to show: {exc})"
    try:
        rows = conn.execute("SELECT seq, kind, job_id, device, reason, category, reference "
                            "FROM entries WHERE job_id IS NOT NULL ORDER BY seq").fetchall()
    finally:
        conn.close()
    return "\n".join(" ".join(str(v) for v in row) for row in rows)


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_campaign_seed_reconciles(seed: int, with_pcsc: bool) -> None:
    # A short path of its own (Unix socket paths are limited), removed after; open
    # to CUPS' backend, which runs as lp and writes its journal below it.
    kept = Path(tempfile.mkdtemp(prefix="sa-camp-")) / "run"
    kept.parent.chmod(0o755)
    try:
        _run_seed(seed, kept)
    finally:
        shutil.rmtree(kept.parent, ignore_errors=True)


def _run_seed(seed: int, kept: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "simulators.station.campaign", "--seed", str(seed),
                          "--cards", str(CI_CARDS), "--json", "--keep", str(kept)],
                         capture_output=True, text=True, timeout=600, cwd=REPO, env=cli_env())
    out = json.loads(res.stdout.splitlines()[0])
    if res.returncode != 0 or not out["ok"]:
        # Everything needed to tell what happened, untruncated: the campaign's own
        # summary and the ledger's outcomes (a rare interleaving may not come back).
        pytest.fail(f"seed {seed}: {out['mismatches']}\n{res.stdout}\n{res.stderr[-3000:]}\n"
                    + _outcomes(kept))
    assert out["mismatches"] == []
    # The seed's faults really happened (a campaign that injects nothing proves nothing).
    assert out["kills"] >= 1 and out["outages"] >= 1 and out["broker_restarts"] >= 1
    assert out["replays"] >= 2 and out["operator_actions"] >= 1 and out["clock_steps"] == 2
    if out["disk"].startswith("tmpfs"):   # root: the state directory's disk filled up
        assert out["disk_full_episodes"] >= 1
    assert out["entries"] >= 2 * CI_CARDS and out["events"] >= out["entries"]
    if with_pcsc:
        assert out["reader"] == "pcscd + vpcd"
    from simulators.cupsd import unavailable

    if unavailable() is None:   # root with CUPS (always under CI): the spooler station ran
        assert out["spooled_jobs"] >= 5 and out["cupsd_restarts"] >= 1, out["spooler"]


def test_a_plan_is_a_function_of_its_seed() -> None:
    a, b = make_plan(7, 300, FAULT_KINDS), make_plan(7, 300, FAULT_KINDS)
    assert a == b
    assert make_plan(8, 300, FAULT_KINDS) != a
    assert a.kills and a.outages and a.broker_restarts and a.replays and a.disk_full
    assert a.spooled and a.cupsd_restarts <= a.spooled
    assert sorted(a.clock_steps.values())[0] < 0     # the clock is set back at some point
    assert all(opts.get("jam_at") for opts in a.printer_options.values())
    quiet = make_plan(7, 300, ())
    assert not (quiet.kills or quiet.outages or quiet.broker_restarts or quiet.replays
                or quiet.disk_full or quiet.clock_steps or quiet.spooled)
    assert not any(opts.get("jam_at") for opts in quiet.printer_options.values())


def test_a_failing_seed_prints_the_command_that_reproduces_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def failing(seed: int, cards: int, faults: Any, keep: Any) -> Outcome:
        out = Outcome(seed, cards, list(faults))
        out.mismatches.append("issued: ledger 41, printers 42")
        return out

    monkeypatch.setattr(campaign, "run_campaign", failing)
    assert campaign.main(["--seed", "9", "--cards", "50", "--faults", "kill,outage"]) == 1
    printed = capsys.readouterr().out
    assert "mismatch: issued: ledger 41, printers 42" in printed
    assert "reproduce: python -m simulators.station.campaign --seed 9 --cards 50 --faults " \
           "kill,outage" in printed
    with pytest.raises(SystemExit):
        campaign.main(["--seed", "1", "--faults", "meteor"])
