"""Where a notification goes: a command hook, a webhook, e-mail.

Each channel's :meth:`send` delivers one notification or raises
:class:`DeliveryFailed` with a one-line reason; every network wait has a
timeout, so a dead peer costs its own thread a few seconds, never the daemon.

- :class:`CommandHook` runs a program, like NUT's ``NOTIFYCMD``: the
  notification in environment variables (``NOTIFY_ID``, ``NOTIFY_CODE``,
  ``NOTIFY_SEVERITY``, ``NOTIFY_SUBJECT``, ``NOTIFY_MESSAGE``, ``NOTIFY_TODO``,
  ``NOTIFY_STATION``, ``NOTIFY_OFFICE``, ``NOTIFY_LANG``, ``NOTIFY_JSON``),
  never through a shell; exit status 0 is delivered.
- :class:`Webhook` POSTs the notification as JSON (TLS verified against the
  system's CAs or ``[notify] cafile``), with ``X-Notification-Id`` and the
  optional secret header; a 2xx answer is delivered.
- :class:`Email` sends a plain-text mail over SMTP with STARTTLS (``smtp://``)
  or implicit TLS (``smtps://``), the certificate verified, logging in with the
  credentials file's ``user:password`` when there is one. The Message-ID is
  derived from the notification's id, so a receiver can drop a repeat.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import subprocess
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from station_agent.config import NotifyConfig
from station_agent.errors import BadInput, OperationFailed
from station_agent.uplink.broker import read_secret

#: Seconds one delivery may take.
TIMEOUT_S = 15.0


class DeliveryFailed(OperationFailed):
    """The channel did not accept the notification (it is retried later)."""


class Channel(Protocol):
    """One way to tell someone."""

    name: str

    def send(self, doc: dict[str, Any]) -> None: ...


def _tls(cafile: Path | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile) if cafile else None)


class CommandHook:
    """A program run with the notification in its environment."""

    name = "command"

    def __init__(self, argv: tuple[str, ...]) -> None:
        self.argv = list(argv)

    def send(self, doc: dict[str, Any]) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
               "NOTIFY_ID": doc["id"], "NOTIFY_CODE": doc["code"],
               "NOTIFY_SEVERITY": doc["severity"], "NOTIFY_SUBJECT": doc["subject"],
               "NOTIFY_MESSAGE": doc["message"], "NOTIFY_TODO": doc["todo"],
               "NOTIFY_STATION": doc["station"], "NOTIFY_OFFICE": doc.get("office") or "",
               "NOTIFY_LANG": doc["lang"],
               "NOTIFY_JSON": json.dumps(doc, ensure_ascii=False)}
        try:
            res = subprocess.run(self.argv, env=env, stdin=subprocess.DEVNULL,
                                 capture_output=True, timeout=TIMEOUT_S, check=False)
        except FileNotFoundError:
            raise DeliveryFailed(f"{self.argv[0]} does not exist") from None
        except PermissionError:
            raise DeliveryFailed(f"{self.argv[0]} is not executable") from None
        except subprocess.TimeoutExpired:
            raise DeliveryFailed(f"{self.argv[0]} did not finish in {TIMEOUT_S:g} s") from None
        if res.returncode != 0:
            err = res.stderr.decode("utf-8", "replace").strip().splitlines()
            raise DeliveryFailed(f"{self.argv[0]} exited {res.returncode}"
                                 + (f": {err[-1][:200]}" if err else ""))


class Webhook:
    """A JSON POST to a URL."""

    name = "webhook"

    def __init__(self, cfg: NotifyConfig) -> None:
        assert cfg.webhook_url is not None
        self.url, self.cafile = cfg.webhook_url, cfg.cafile
        self.secret_file, self.header = cfg.webhook_secret_file, cfg.webhook_secret_header

    def send(self, doc: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "station-agent", "X-Notification-Id": doc["id"]}
        if self.secret_file is not None:
            try:
                headers[self.header] = read_secret(self.secret_file,
                                                   "[notify] webhook_secret_file")
            except BadInput as exc:
                raise DeliveryFailed(str(exc)) from None
        req = urllib.request.Request(self.url, data=json.dumps(doc, ensure_ascii=False)
                                     .encode(), headers=headers, method="POST")
        context = _tls(self.cafile) if self.url.startswith("https:") else None
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S, context=context) as resp:
                resp.read(4096)
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"{self.url} answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryFailed(f"{self.url}: {reason}") from None


class Email:
    """A plain-text mail over SMTP with TLS."""

    name = "email"

    def __init__(self, cfg: NotifyConfig) -> None:
        assert cfg.smtp_url is not None and cfg.smtp_from is not None
        parts = urlsplit(cfg.smtp_url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or ""
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.sender, self.to = cfg.smtp_from, list(cfg.smtp_to)
        self.credentials, self.cafile = cfg.smtp_credentials_file, cfg.cafile

    def message(self, doc: dict[str, Any]) -> EmailMessage:
        msg = EmailMessage()
        msg["From"], msg["To"] = self.sender, ", ".join(self.to)
        msg["Subject"] = doc["subject"]
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        safe = "".join(c if c.isalnum() or c in "-._" else "-" for c in doc["id"])[:150]
        msg["Message-ID"] = f"<{safe}@{doc['station']}.station-agent>"
        msg["X-Notification-Id"] = doc["id"]
        todo_label = "Yang harus dilakukan" if doc["lang"] == "id" else "What to do"
        msg.set_content(f"{doc['message']}\n\n{todo_label}: {doc['todo']}\n")
        return msg

    def send(self, doc: dict[str, Any]) -> None:
        context = _tls(self.cafile)
        try:
            if self.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT_S,
                                                      context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_S)
            with smtp:
                smtp.ehlo()
                if not self.implicit_tls:
                    smtp.starttls(context=context)   # refuses a server without STARTTLS
                    smtp.ehlo()
                if self.credentials is not None:
                    user, _, password = read_secret(
                        self.credentials, "[notify] smtp_credentials_file").partition(":")
                    smtp.login(user, password)
                smtp.send_message(self.message(doc))
        except BadInput as exc:
            raise DeliveryFailed(str(exc)) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(
                f"{self.host}:{self.port} refused the login of [notify] smtp_credentials_file "
                f"({exc.smtp_code}); check its user:password") from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryFailed(f"{self.host}:{self.port} offers no STARTTLS: mail is sent "
                                 "only encrypted") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"{self.host}:{self.port}: {exc}") from None


def channels(cfg: NotifyConfig) -> list[Channel]:
    """The channels ``[notify]`` configures."""
    out: list[Channel] = []
    if cfg.command:
        out.append(CommandHook(cfg.command))
    if cfg.webhook_url:
        out.append(Webhook(cfg))
    if cfg.smtp_url:
        out.append(Email(cfg))
    return out
