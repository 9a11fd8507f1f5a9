"""``station-agent demo`` runs a whole simulated day and ends with exact balances."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli


def test_demo_runs_and_reconciles(tmp_path: Path) -> None:
    state = tmp_path / "demo-state"
    r = run_cli("--state-dir", str(state), "demo", "--seed", "7", "--jobs", "120", timeout=120)
    assert r.code == 0, r.err
    assert "refused as it must be" in r.out
    assert "-> exact" in r.out and "ledger verify: OK" in r.out
    # The day left a real ledger behind that the CLI can read and verify.
    v = run_cli("--state-dir", str(state), "ledger", "verify")
    assert v.code == 0 and "ledger OK" in v.out
