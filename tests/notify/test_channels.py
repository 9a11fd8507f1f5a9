"""Each channel against a real peer on loopback, on the paths the daemon test
does not take: a certificate nobody vouches for, a mail server without
STARTTLS, wrong credentials; and ``[notify]`` settings that are refused at
config load with one line naming the key."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from station_agent.config import parse_config
from station_agent.errors import BadInput
from station_agent.notify.channels import DeliveryFailed, Email, Webhook
from tests.notify.conftest import Peers, free_port
from tests.uplink.conftest import make_tls

DOC = {"id": "test:1", "code": "test", "severity": "info", "station": "kpg-01",
       "office": "Kupang", "region": None, "lang": "en", "subject": "[kpg-01] test",
       "message": "a test", "todo": "nothing", "created_at": "2026-11-28T00:00:00Z",
       "facts": {}}


def _notify(tmp: Path, **table: Any) -> Any:
    return parse_config({"station": {"id": "kpg-01"}, "notify": table},
                        tmp / "station.toml").notify


def test_a_peer_whose_certificate_nobody_vouches_for_gets_nothing(peers: Peers,
                                                                  tmp_path: Path) -> None:
    peers.up()
    stranger = make_tls(tmp_path / "other", name="other")   # a CA that did not sign the peers
    cfg = _notify(tmp_path, **{
        "webhook_url": f"https://127.0.0.1:{peers.webhook.port}/hook",
        "smtp_url": f"smtp://127.0.0.1:{peers.smtp.port}", "smtp_from": "a@example.go.id",
        "smtp_to": ["b@example.go.id"], "cafile": str(stranger.cafile)})
    with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
        Webhook(cfg).send(DOC)
    with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
        Email(cfg).send(DOC)
    assert peers.webhook.posts == [] and peers.smtp.messages == []
    # The same channels with the peers' own CA deliver (the test can tell).
    good = _notify(tmp_path, **{
        "webhook_url": f"https://127.0.0.1:{peers.webhook.port}/hook",
        "smtp_url": f"smtp://127.0.0.1:{peers.smtp.port}", "smtp_from": "a@example.go.id",
        "smtp_to": ["b@example.go.id"], "smtp_credentials_file": str(peers.creds),
        "cafile": str(peers.tls.cafile)})
    Webhook(good).send(DOC)
    Email(good).send(DOC)
    assert peers.webhook.ids() == ["test:1"] and peers.smtp.ids() == ["test:1"]


def test_mail_is_never_sent_in_clear_or_with_wrong_credentials(peers: Peers,
                                                               tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    got: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            got.append(envelope.content)
            return "250 OK"

    port = free_port()
    plain = Controller(Handler(), hostname="127.0.0.1", port=port)   # no STARTTLS offered
    plain.start()
    try:
        cfg = _notify(tmp_path, smtp_url=f"smtp://127.0.0.1:{port}",
                      smtp_from="a@example.go.id", smtp_to=["b@example.go.id"])
        with pytest.raises(DeliveryFailed, match="offers no STARTTLS"):
            Email(cfg).send(DOC)
        assert got == []
    finally:
        plain.stop()

    peers.up()
    wrong = tmp_path / "wrong.credentials"
    wrong.write_text("station:not-the-password\n")
    wrong.chmod(stat.S_IRUSR | stat.S_IWUSR)
    cfg = _notify(tmp_path, smtp_url=f"smtp://127.0.0.1:{peers.smtp.port}",
                  smtp_from="a@example.go.id", smtp_to=["b@example.go.id"],
                  smtp_credentials_file=str(wrong), cafile=str(peers.tls.cafile))
    with pytest.raises(DeliveryFailed, match=r"refused the login of \[notify\] "
                       r"smtp_credentials_file \(535\); check its user:password"):
        Email(cfg).send(DOC)
    assert peers.smtp.messages == []


def test_a_webhook_answering_an_error_is_not_delivered(tmp_path: Path) -> None:
    cfg = _notify(tmp_path, webhook_url=f"http://127.0.0.1:{free_port()}/hook")
    with pytest.raises(DeliveryFailed, match="Connection refused"):
        Webhook(cfg).send(DOC)


@pytest.mark.parametrize(("table", "message"), [
    ({"command": ["notify-office"]},
     "[notify] command: expected a list: an absolute program path"),
    ({"command": "/usr/local/bin/notify-office"},
     "[notify] command: expected a list: an absolute program path"),
    ({"smtp_url": "smtp://mail.example.go.id:587"},
     "[notify] smtp_url needs smtp_from and smtp_to"),
    ({"smtp_to": ["kepala@example.go.id"]},
     "[notify] smtp_from, smtp_to and smtp_credentials_file are set only with smtp_url"),
    ({"webhook_url": "ftp://ops.example/hook"}, "[notify] webhook_url"),
    ({"daily_at": "25:00"}, '[notify] daily_at: expected a local time "HH:MM"'),
    ({"warn_days": -1}, "[notify] warn_days"),
    ({"command": ["/bin/true"], "pager": True}, "[notify]: unknown key 'pager'"),
])
def test_a_broken_notify_table_is_refused_in_one_line(tmp_path: Path, table: dict[str, Any],
                                                      message: str) -> None:
    with pytest.raises(BadInput) as err:
        _notify(tmp_path, **table)
    text = str(err.value)
    assert text.startswith("station.toml: ") and message in text and "\n" not in text


def test_secrets_readable_by_others_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "webhook.secret"
    secret.write_text("s3cret\n")
    os.chmod(secret, 0o644)
    with pytest.raises(BadInput, match=r"\[notify\] webhook_secret_file.*chmod 600") as err:
        _notify(tmp_path, webhook_url="https://ops.example/hook",
                webhook_secret_file=str(secret))
    assert "\n" not in str(err.value)
    os.chmod(secret, 0o600)
    assert _notify(tmp_path, webhook_url="https://ops.example/hook",
                   webhook_secret_file=str(secret)).webhook_secret_file == secret
