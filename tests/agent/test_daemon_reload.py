"""SIGHUP (``systemctl reload``): a broken station.toml is refused and the daemon
runs on with the old one; a valid one is applied (printers, console) in the
same process, the ledger untouched."""

from __future__ import annotations

import os
import signal
import time

from tests.conftest import run_cli


def _wait_log(d, text: str, timeout: float = 20) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        log = d.logs()
        if text in log:
            return str(log)
        assert time.monotonic() < deadline, f"{text!r} not in the log: {log[-2000:]}"
        time.sleep(0.2)


def test_sighup_keeps_the_old_config_when_the_new_is_broken(daemons) -> None:  # type: ignore[no-untyped-def]
    d = daemons('\n[[printer]]\nid = "p1"\nurl = "sim://evolis?cards=20"\n').start()
    d.cli("blanks", "receive", "--batch", "B-1", "--count", "50")
    pid = d.proc.pid
    good = d.config.read_text()
    d.config.write_text(good + '\n[[printer]]\nid = "p2"\nurl = "COM3"\n')
    os.kill(pid, signal.SIGHUP)
    log = _wait_log(d, "reload refused")
    assert '[[printer]] #2 url' in log
    assert d.proc.poll() is None
    status = d.cli("status", "--json")
    assert [x["id"] for x in status["devices"]] == ["p1"]
    assert status["daemon"]["pid"] == pid

    # A valid change is applied: a second printer, the console elsewhere.
    console_before = (d.state / "console-url").read_text()
    d.config.write_text(good.replace('listen = "127.0.0.1:0"', 'listen = "127.0.0.1:0"\n'
                                     'session_minutes = 5')
                        + '\n[[printer]]\nid = "p2"\nurl = "sim://magicard?cards=20"\n')
    os.kill(pid, signal.SIGHUP)
    _wait_log(d, '"reloaded"')
    d.wait_ready()
    status = d.cli("status", "--json")
    assert sorted(x["id"] for x in status["devices"]) == ["p1", "p2"]
    assert status["daemon"]["pid"] == pid
    assert status["balances"]["stock"] == 50
    assert (d.state / "console-url").read_text() != console_before
    with d.client() as api:
        assert api.call("issue", job_id="after-reload", printer="p2")["outcome"] == "complete"
    assert run_cli("--config", str(d.config), "ledger", "verify").code == 0


def test_logs_carry_syslog_priorities_for_the_journal(daemons, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With stderr the journal's stream ($JOURNAL_STREAM = its device:inode), each line
    starts with its priority, which journald turns into PRIORITY= (journalctl -p)."""
    from tests.conftest import cli_env

    d = daemons('\n[[printer]]\nid = "p1"\nurl = "sim://evolis?cards=20"\n')
    d.log.touch()
    st = os.stat(d.log)
    d.start(env=cli_env(JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}"))
    d.config.write_text(d.config.read_text() + "\n[bogus]\n")
    os.kill(d.proc.pid, signal.SIGHUP)
    _wait_log(d, "reload refused")
    lines = [line for line in d.log.read_text().splitlines() if line.strip()]
    assert lines and all(line[:3] in ("<6>", "<4>", "<3>", "<7>", "<2>") for line in lines)
    assert any(line.startswith("<3>") and "reload refused" in line for line in lines)
    assert any(line.startswith("<6>") and '"ready"' in line for line in lines)
