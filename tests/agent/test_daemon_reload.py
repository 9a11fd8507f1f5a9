"""SIGHUP (``systemctl reload``): a broken station.toml is refused and the daemon
runs on with the old one; a valid one is applied (printers, readers,
notifications, console) in the same process, the ledger untouched."""

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


def test_sighup_applies_reader_and_notify_changes(daemons, running_pcscd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A reader and a notification channel added to station.toml work after a
    reload: the reader is polled on pcscd, the hook is called."""
    import stat
    import sys

    from simulators.cards import VpcdSlot
    from simulators.cards.pcscd import READER_NAMES

    calls = tmp_path / "calls"
    hook = tmp_path / "hook"
    hook.write_text(f"#!{sys.executable}\nimport os\n"
                    f"with open({str(calls)!r}, 'a') as f:\n"
                    "    f.write(os.environ['NOTIFY_CODE'] + '\\n')\n")
    hook.chmod(stat.S_IRWXU)
    slot = VpcdSlot(port=running_pcscd.port).start()
    try:
        d = daemons('\n[[printer]]\nid = "p1"\nurl = "sim://evolis?cards=20"\n').start()
        pid = d.proc.pid
        status = d.cli("status", "--json")
        assert [x["id"] for x in status["devices"]] == ["p1"]
        assert status["notify"]["channels"] == []

        d.config.write_text(d.config.read_text()
                            + f'\n[[reader]]\nid = "encoder-1"\nurl = "pcsc://{READER_NAMES[0]}"'
                            '\nprinter = "p1"\n'
                            f'\n[notify]\ncommand = ["{hook}"]\ndaily_at = "00:00"\n')
        os.kill(pid, signal.SIGHUP)
        _wait_log(d, '"reloaded"')
        d.wait_ready()
        status = d.cli("status", "--json")
        assert status["daemon"]["pid"] == pid
        assert [x["id"] for x in status["devices"]] == ["p1", "encoder-1"]
        assert status["notify"]["channels"] == ["command"]

        # The new reader is polled and found on pcscd.
        deadline = time.monotonic() + 30
        while True:
            reader = next(x for x in d.cli("status", "--json")["devices"]
                          if x["id"] == "encoder-1")
            if reader["online"]:
                break
            assert time.monotonic() < deadline, reader
            time.sleep(0.3)
        # The new channel delivers (the day's summary is due from 00:00).
        deadline = time.monotonic() + 30
        while not (calls.exists() and "daily_summary" in calls.read_text()):
            assert time.monotonic() < deadline, "the hook added by the reload was not called"
            time.sleep(0.3)
        assert d.stop() == 0
    finally:
        slot.stop()
