"""The console's place in the daemon: switched off by ``[web] enabled = false``;
on a port another program holds it is a fault (``console_down``) while the
ledger and the devices go on, and a reload onto a free port brings it back."""

from __future__ import annotations

import os
import signal
import socket
import time

from tests.console.conftest import ConsoleDaemon


def test_enabled_false_serves_nothing(daemons) -> None:  # type: ignore[no-untyped-def]
    d = daemons('\n[web]\nenabled = false\n').start()
    assert d.cli("status", "--json")["console"] is None
    assert not (d.state / "console-url").exists()
    d.cli("blanks", "receive", "--batch", "B-1", "--count", "10")
    assert d.cli("blanks", "--json")["stock"] == 10


def test_a_busy_port_is_a_fault_not_a_dead_daemon(daemons) -> None:  # type: ignore[no-untyped-def]
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        d = daemons(f'\n[web]\nlisten = "127.0.0.1:{port}"\n', cls=ConsoleDaemon).start()
        faults = d.wait_fault("station", "console_down")
        message = next(f["message"] for f in faults if f["code"] == "console_down")
        assert f"127.0.0.1:{port}" in message and "[web] listen" in message
        d.cli("blanks", "receive", "--batch", "B-1", "--count", "10")   # the ledger goes on
        assert d.cli("status", "--json")["console"] is None
    finally:
        holder.close()
    # Reloaded onto a free port: served, the fault cleared.
    d.config.write_text(d.config.read_text().replace(f"127.0.0.1:{port}", "127.0.0.1:0"))
    os.kill(d.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 30
    while not (d.state / "console-url").exists():
        assert time.monotonic() < deadline, d.logs()[-2000:]
        time.sleep(0.2)
    d.wait_fault("station", "console_down", present=False)
    assert d.browser().get("/login").status == 200
    assert d.cli("blanks", "--json")["stock"] == 10
