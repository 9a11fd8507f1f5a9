"""Notifications from a real daemon to real peers on loopback: an SMTP server
(aiosmtpd, STARTTLS, AUTH), an HTTPS webhook, a hook program. Each channel
down then back: delivered once after it returns; nothing lost or doubled
across a kill -9."""

from __future__ import annotations

import signal
import time
from collections import Counter
from typing import Any

from tests.helpers.waiting import wait_until
from tests.notify.conftest import Peers

STATION = ('timezone = "Asia/Makassar"\noffice = "Disdukcapil Kota Kupang"\n'
           'language = "id"\n\n[stock]\nlow_threshold = 1000\n')


def _wait(cond: Any, timeout: float = 30.0, what: str = "") -> Any:
    return wait_until(cond, timeout, what)


def _all_ids(p: Peers) -> dict[str, list[str]]:
    return {"email": p.smtp.ids(), "webhook": p.webhook.ids(), "command": p.hook.ids()}


def test_stock_low_and_daily_summary_reach_every_channel(daemons, peers: Peers) -> None:  # type: ignore[no-untyped-def]
    peers.up()
    d = daemons(STATION + peers.config(daily_at='"00:00"')).start()
    d.cli("blanks", "receive", "--batch", "KTP-A", "--count", "500")
    d.wait_fault("station", "stock_low")

    def delivered() -> bool:
        ids = _all_ids(peers)
        return all(any(i.startswith("stock_low:") for i in v) and
                   any(i.startswith("daily_summary:") for i in v) for v in ids.values())
    _wait(delivered, what="stock_low and daily_summary on every channel")
    for channel, ids in _all_ids(peers).items():
        assert all(n == 1 for n in Counter(ids).values()), (channel, ids)

    mail = next(m for m in peers.smtp.messages
                if str(m["X-Notification-Id"]).startswith("stock_low:"))
    assert str(mail["Subject"]) == "[test-01] Stok blangko menipis: sisa 500"
    text = mail.get_payload(decode=True).decode()
    assert "stasiun test-01 (Disdukcapil Kota Kupang)" in text and "1.000" in text
    assert "Yang harus dilakukan: segera ajukan permintaan blangko baru" in text

    headers, doc = next(p for p in peers.webhook.posts
                        if p[1]["code"] == "stock_low")
    assert headers["x-station-agent-secret"] == "s3cret-token"
    assert (doc["station"], doc["office"], doc["lang"]) == ("test-01",
                                                            "Disdukcapil Kota Kupang", "id")
    assert doc["facts"]["stock"] == 500 and doc["facts"]["threshold"] == 1000

    env = next(c for c in peers.hook.calls() if c["NOTIFY_CODE"] == "stock_low")
    assert env["NOTIFY_STATION"] == "test-01" and env["NOTIFY_SEVERITY"] == "warning"
    assert env["NOTIFY_SUBJECT"] == str(mail["Subject"])
    # Only the notification's variables and a PATH: nothing of the daemon's environment.
    assert {k for k in env if not k.startswith("NOTIFY_")} <= {"PATH", "LANG", "LC_CTYPE"}

    status = d.cli("status", "--json")["notify"]
    assert status["channels"] == ["command", "webhook", "email"] and status["pending"] == 0


def test_channels_down_then_back_deliver_once_across_kill_9(daemons, peers: Peers) -> None:  # type: ignore[no-untyped-def]
    peers.down()
    d = daemons(STATION + peers.config(outage_minutes="0")
                + '\n[network]\nprobe_url = "http://127.0.0.1:9/health"\ninterval = 0.2\n'
                "fail_after = 1\nclear_after = 1\ntimeout = 3\nslow_ms = 1000\n").start()
    d.cli("blanks", "receive", "--batch", "KTP-A", "--count", "500")
    d.wait_fault("station", "stock_low")

    def failing() -> bool:
        rows = d.cli("notify", "--json")["notifications"]
        codes = {r["code"] for r in rows}
        return {"stock_low", "outage"} <= codes and all(
            r["attempts"] >= 1 and r["sent_at"] is None for r in rows)
    _wait(failing, what="every channel failing at least once")
    assert _all_ids(peers) == {"email": [], "webhook": [], "command": []}
    queued = {(r["id"], r["channel"]) for r in d.cli("notify", "--json")["notifications"]}

    assert d.proc is not None
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=10)
    peers.up()
    d.start()

    def all_delivered() -> bool:
        rows = d.cli("notify", "--json")["notifications"]
        return all(r["sent_at"] for r in rows) and queued <= {(r["id"], r["channel"])
                                                              for r in rows}
    _wait(all_delivered, timeout=60, what="delivery after the peers came back")
    time.sleep(3)   # a few more rounds of checks and deliveries: nothing more comes
    by_channel = _all_ids(peers)
    for channel, ids in by_channel.items():
        counts = Counter(ids)
        assert all(n == 1 for n in counts.values()), (channel, counts)
        want = {i for i, ch in queued if ch == channel}
        assert want <= set(ids), (channel, want, ids)
    assert any(i.startswith("outage:") for i in by_channel["email"])
