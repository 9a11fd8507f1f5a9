"""The daemon and the CLI write nowhere but the state directory: not the working
directory, not $HOME, not $TMPDIR; a relative state_dir in the config is taken
relative to the config file, never to wherever the command runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from station_agent.api.connection import ApiClient
from tests.conftest import REPO, cli_env


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_daemon_and_cli_write_only_in_the_state_dir(tmp_path: Path) -> None:
    etc, cwd, home, tmp = (tmp_path / n for n in ("etc", "cwd", "home", "tmp"))
    for d in (etc, cwd, home, tmp):
        d.mkdir()
    config = etc / "station.toml"
    config.write_text('[station]\nid = "s1"\nstate_dir = "../state"\n\n'
                      '[web]\nlisten = "127.0.0.1:0"\n\n'
                      '[[printer]]\nid = "p1"\nurl = "sim://evolis?cards=20"\n')
    env = cli_env(HOME=str(home), TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1",
                  PYTHONPATH=str(REPO))
    state = tmp_path / "state"
    daemon = subprocess.Popen([sys.executable, "-m", "station_agent", "--config", str(config),
                               "run"], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (state / "agent.sock").exists():
            assert daemon.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.3)
        with ApiClient(state / "agent.sock", 30) as c:
            c.call("receive", batch_id="B-1", count=10)
            assert c.call("issue", job_id="j-1", printer="p1")["outcome"] == "complete"
        for args in (["status", "--json"], ["blanks"], ["faults", "--history"],
                     ["ledger", "verify"], ["diag", "--json"], ["report"]):
            res = subprocess.run([sys.executable, "-m", "station_agent", "--config",
                                  str(config), *args], cwd=cwd, env=env,
                                 capture_output=True, text=True, timeout=60)
            assert res.returncode in (0, 1), (args, res.stderr)
    finally:
        daemon.terminate()
        assert daemon.wait(30) == 0
    assert (state / "ledger.db").is_file()          # relative to the config file
    for d in (etc, cwd, home, tmp):
        written = _tree(d) - ({"station.toml"} if d == etc else set())
        assert written == set(), f"{d.name}: {sorted(written)}"
    assert set(os.listdir(tmp_path)) == {"etc", "cwd", "home", "tmp", "state"}
