"""Where the broker is and how to log in: URL, TLS, credentials, one paho client.

Shared by the station's relay, the fleet view and the benchmark, so every
side connects the same way:

* ``mqtt://host[:port]`` (1883) or ``mqtts://host[:port]`` (8883). With
  ``mqtts`` the broker's certificate is always verified, against ``cafile``
  when given, else the system's trusted CAs; the host name must match.
* A username (``username`` or ``mqtt://user@host``) and a password read from
  a file that only its owner can read. A password in the URL is refused: URLs
  end up in logs and in ``ps``.
* With ``mqtts``, optionally a client certificate (``certfile``) and its
  private key (``keyfile``, unencrypted PEM that only its owner can read) for
  brokers that authenticate stations by certificate (mutual TLS). The pair is
  loaded once when the settings are read, so a key that does not match its
  certificate is a configuration error, not a connection that keeps failing.

:func:`explain` turns what goes wrong while connecting into one line naming
the broker, what failed and what to do.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from station_agent.errors import BadInput

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class Broker:
    """A validated broker address with its TLS and login settings."""

    url: str
    host: str
    port: int
    tls: bool
    cafile: Path | None = None
    username: str | None = None
    password_file: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def password(self) -> str | None:
        """The password, read now from :attr:`password_file` (checked again)."""
        if self.password_file is None:
            return None
        return read_secret(self.password_file, "password_file")


def parse_broker(url: str, *, cafile: str | Path | None = None, username: str | None = None,
                 password_file: str | Path | None = None, certfile: str | Path | None = None,
                 keyfile: str | Path | None = None, what: str = "broker URL") -> Broker:
    """Validate ``url`` and the settings around it; :class:`BadInput` naming the fix."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise BadInput(f"{what} {url!r}: expected mqtt://host[:port] or mqtts://host[:port]")
    if parts.password is not None:
        raise BadInput(f"{what}: a password in the URL is refused (URLs end up in logs); "
                       "put it in a file readable only by its owner and name it with "
                       "password_file / --password-file")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadInput(f"{what} {url!r}: expected no path or query after host:port")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise BadInput(f"{what} {url!r}: the port must be a number from 1 to 65535") from None
    user = username or (unquote(parts.username) if parts.username else None)
    tls = parts.scheme == "mqtts"
    ca = Path(cafile) if cafile else None
    if ca is not None:
        if not tls:
            raise BadInput(f"{what} {url!r}: a CA file only applies to mqtts:// URLs; use "
                           "mqtts:// or drop the CA file")
        if not ca.is_file():
            raise BadInput(f"CA file {ca} does not exist: give the PEM file of the CA that "
                           "signed the broker's certificate")
    pw = Path(password_file) if password_file else None
    if pw is not None:
        read_secret(pw, "password_file")
        if user is None:
            raise BadInput(f"{what}: a password file without a username; set the username")
    cert, key = _client_pair(url, tls, certfile, keyfile, what)
    return Broker(url, parts.hostname, port, tls, ca, user, pw, cert, key)


def _client_pair(url: str, tls: bool, certfile: str | Path | None, keyfile: str | Path | None,
                 what: str) -> tuple[Path | None, Path | None]:
    """Check a client certificate and its key: both or neither, mqtts only, the key
    private and unencrypted, the two a pair."""
    import ssl

    if certfile is None and keyfile is None:
        return None, None
    if certfile is None:
        raise BadInput(f"{what}: a client key without its certificate; set certfile too, "
                       "or neither")
    if keyfile is None:
        raise BadInput(f"{what}: a client certificate without its key; set keyfile too, "
                       "or neither")
    if not tls:
        raise BadInput(f"{what} {url!r}: a client certificate only applies to mqtts:// URLs; "
                       "use mqtts:// or drop certfile and keyfile")
    cert, key = Path(certfile), Path(keyfile)
    if not cert.is_file():
        raise BadInput(f"certfile {cert} does not exist: give the PEM file of this "
                       "station's client certificate")
    check_private(key, "keyfile", "the station's private key (PEM)")
    try:
        encrypted = b"ENCRYPTED" in key.read_bytes()[:4096]
    except OSError as exc:
        raise BadInput(f"keyfile {key} cannot be read ({exc.strerror or exc})") from None
    if encrypted:
        raise BadInput(f"keyfile {key} is encrypted with a passphrase: the daemon starts "
                       "unattended, so store the key unencrypted (`openssl pkey -in KEY "
                       "-out NEW`) with mode 600")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        # An empty password: an encrypted key fails here instead of prompting on a tty.
        ctx.load_cert_chain(str(cert), str(key), password="")
    except ssl.SSLError as exc:
        reason = (exc.reason or str(exc)).lower()
        if "mismatch" in reason:
            raise BadInput(f"keyfile {key} is not the key of certfile {cert}: give the key "
                           "the certificate was made for") from None
        raise BadInput(f"certfile {cert} / keyfile {key} cannot be loaded ({exc.reason or exc})"
                       ": give a PEM certificate and its PEM private key") from None
    except OSError as exc:
        raise BadInput(f"certfile {cert} / keyfile {key} cannot be read "
                       f"({exc.strerror or exc})") from None
    return cert, key


def check_private(path: Path, what: str, holds: str = "the secret") -> None:
    """Refuse a secret's file that is missing, not a regular file, or readable by
    group or others (one line naming the ``chmod`` that fixes it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise BadInput(f"{what} {path} does not exist: create it with {holds} and "
                       "`chmod 600` it") from None
    except OSError as exc:
        raise BadInput(f"{what} {path} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"{what} {path} is not a regular file")
    if st.st_mode & 0o077:
        raise BadInput(f"{what} {path} is readable by group or others (mode "
                       f"{stat.S_IMODE(st.st_mode):04o}): run `chmod 600 {path}` so only its "
                       "owner can read it")


def read_secret(path: Path, what: str) -> str:
    """Read a secret (first line) from ``path``, refusing files others can read."""
    check_private(path, what, "the secret on one line")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{what} {path} cannot be read ({exc})") from None
    secret = text.splitlines()[0] if text else ""
    if not secret:
        raise BadInput(f"{what} {path} is empty: put the secret on its first line")
    return secret


def make_client(broker: Broker, client_id: str, *, clean_session: bool = True,
                will: tuple[str, bytes] | None = None,
                max_inflight: int = 20, connect_timeout: float = 5.0,
                v5: bool = False, manual_ack: bool = False,
                client_class: type[mqtt.Client] | None = None) -> mqtt.Client:
    """A paho-mqtt 2.x client (MQTT 3.1.1, or 5 with ``v5``) set up for ``broker``;
    not yet connected. With MQTT 5 the session is chosen at connect time
    (``clean_start`` and a session expiry), so ``clean_session`` is not used.
    ``manual_ack``: received QoS 1 messages are acknowledged by ``client.ack``.
    ``client_class``: a subclass of paho's client to make (e.g.
    :class:`~station_agent.uplink.buffered.BufferedClient`).

    ``will`` is ``(topic, payload)`` of a retained QoS 1 Last Will. paho's
    own queue lives in memory only and is unbounded: callers keep unsent
    messages elsewhere and hand paho no more than their in-flight window.
    """
    import ssl

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    make = client_class or mqtt.Client
    if v5:
        client = make(CallbackAPIVersion.VERSION2, client_id=client_id,
                      protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    else:
        client = make(CallbackAPIVersion.VERSION2, client_id=client_id,
                      clean_session=clean_session, protocol=mqtt.MQTTv311,
                      manual_ack=manual_ack)
    client.connect_timeout = connect_timeout
    client.max_inflight_messages_set(max_inflight)
    if broker.tls:
        ctx = ssl.create_default_context(cafile=str(broker.cafile) if broker.cafile else None)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        if broker.certfile is not None and broker.keyfile is not None:
            ctx.load_cert_chain(str(broker.certfile), str(broker.keyfile), password="")
        client.tls_set_context(ctx)
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password())
    if will is not None:
        topic, payload = will
        client.will_set(topic, payload, qos=1, retain=True)
    return client


def explain(broker: Broker, exc: BaseException) -> str:
    """One line: what went wrong connecting to ``broker`` and what to do."""
    import ssl

    where = broker.where
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or str(exc)
        if "mismatch" in reason.lower():
            return (f"TLS: the certificate of broker {where} is not for {broker.host!r} "
                    f"({reason}): connect by the name in the certificate")
        return (f"TLS: the certificate of broker {where} is not trusted ({reason}): set "
                "[uplink] cafile to the CA that signed it")
    alert = tls_alert(broker, str(exc)) if isinstance(exc, ssl.SSLError) else None
    if alert is not None:
        return alert
    if isinstance(exc, ssl.SSLError):
        return (f"TLS handshake with broker {where} failed ({exc.reason or exc}): check that "
                "the port speaks TLS (mqtts://) and the CA file")
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve broker host {broker.host!r}: check the name and DNS"
    if isinstance(exc, ConnectionRefusedError):
        return f"broker {where} refused the connection: is the broker running on that port?"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer from broker {where} in time: check the network path and firewall"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"no route to broker {where}: check this station's network"
    if isinstance(exc, OSError):
        return f"connection to broker {where} failed ({exc.strerror or exc})"
    return f"connection to broker {where} failed ({exc})"


def tls_alert(broker: Broker, text: str) -> str | None:
    """One line for a TLS alert about this station's client certificate, from the text
    of the error (an exception or paho's log line), or None when it is not one.

    With TLS 1.3 the broker judges the client's certificate after the handshake has
    completed on the client's side, so the alert arrives with the first read; paho
    then only logs it and reports a lost connection."""
    low = text.lower()
    if "certificate required" in low:
        return (f"TLS: broker {broker.where} requires a client certificate: set [uplink] "
                "certfile and keyfile to this station's certificate and key")
    if broker.certfile is not None and any(
            a in low for a in ("unknown ca", "bad certificate", "certificate unknown",
                               "unsupported certificate", "certificate expired",
                               "certificate revoked")):
        return (f"TLS: broker {broker.where} refused this station's client certificate "
                f"({text.strip()}): use a certificate signed by a CA the broker trusts, "
                "valid today")
    return None


def no_connack(broker: Broker, timeout: float, last_error: str | None) -> str:
    """One line for a connection that ended, or stayed silent, before the broker's
    CONNACK; ``last_error`` is what paho logged about the socket, if anything."""
    if last_error:
        alert = tls_alert(broker, last_error)
        if alert is not None:
            return alert
        if broker.tls and any(w in last_error.lower() for w in ("eof occurred", "reset by peer",
                                                               "unexpected eof")):
            closed = (f"broker {broker.where} closed the TLS connection before its MQTT "
                      f"answer ({last_error.strip()})")
            if broker.certfile is None:
                return (f"{closed}: a broker that authenticates stations by certificate "
                        "does this; set [uplink] certfile and keyfile, or see the broker's log")
            return (f"{closed}: it may not accept this station's client certificate; use one "
                    "signed by a CA the broker trusts, valid today, or see the broker's log")
        return (f"the connection to broker {broker.where} closed before its MQTT answer "
                f"({last_error.strip()}): check that the port is an MQTT broker's and the "
                "broker's log")
    return (f"no MQTT answer (CONNACK) from broker {broker.where} within {timeout:g} s: "
            "check that the port is an MQTT broker's")


class SocketErrors:
    """Keeps the first error paho logged since :attr:`last` was reset
    (``client.on_log = errors.note``): paho reports a socket error during a read
    only as a lost connection and a log line, followed by lines about the
    connection being gone that say less."""

    def __init__(self) -> None:
        self.last: str | None = None

    def note(self, client: Any, userdata: Any, level: int, buf: str) -> None:
        import paho.mqtt.client as mqtt

        if level == mqtt.MQTT_LOG_ERR and self.last is None:
            self.last = buf.removeprefix("failed to receive on socket: ")


def explain_refusal(broker: Broker, reason: str) -> str:
    """One line for a CONNACK that refused the session."""
    low = reason.lower()
    if "authori" in low or "password" in low or "username" in low:
        return (f"broker {broker.where} refused the login ({reason}): check [uplink] "
                "username and the password in password_file")
    return f"broker {broker.where} refused the session ({reason})"


def connect_blocking(client: mqtt.Client, broker: Broker, timeout: float, *,
                     threaded: bool = True, **connect: Any) -> float:
    """Connect ``client`` and start paho's network thread; return the milliseconds
    until the broker accepted the session. A failure (no connection, no CONNACK
    within ``timeout``, a refusal) stops the thread and raises
    :class:`OperationFailed` with one line from :func:`explain`. ``connect``
    goes to paho's ``connect`` (MQTT 5: ``clean_start``, ``properties``).
    ``threaded=False``: no network thread; the caller drives paho's ``loop``.

    The client's own ``on_connect`` (if any) is called for an accepted session,
    now and on paho's later reconnects."""
    import threading
    import time

    from station_agent.errors import OperationFailed

    accepted = threading.Event()
    refusal: list[str] = []
    errors = SocketErrors()
    client.on_log = errors.note       # while connecting only: paho logs every packet
    user_cb: Any = client.on_connect

    def on_connect(c: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                   properties: Any) -> None:
        if getattr(reason, "is_failure", False):
            refusal.append(str(reason))
        elif user_cb is not None:
            user_cb(c, userdata, flags, reason, properties)
        accepted.set()

    client.on_connect = on_connect
    t0 = time.monotonic()
    try:
        client.connect(broker.host, broker.port, keepalive=30, **connect)
    except Exception as exc:
        raise OperationFailed(explain(broker, exc)) from None
    if threaded:
        client.loop_start()
        accepted.wait(timeout)
    else:
        from paho.mqtt.enums import MQTTErrorCode

        while not accepted.is_set() and time.monotonic() - t0 < timeout:
            if client.loop(0.05) not in (MQTTErrorCode.MQTT_ERR_SUCCESS,
                                         MQTTErrorCode.MQTT_ERR_AGAIN):
                break
    if accepted.is_set() and not refusal:
        client.on_log = None
        return (time.monotonic() - t0) * 1000
    client.disconnect()
    client.loop_stop()
    if refusal:
        raise OperationFailed(explain_refusal(broker, refusal[0]))
    raise OperationFailed(no_connack(broker, timeout, errors.last))


def probe_broker(broker: Broker, client_id: str, timeout: float) -> float:
    """Connect once (clean session) and disconnect; the milliseconds to CONNACK.
    :class:`OperationFailed` with one line saying why when it cannot."""
    client = make_client(broker, client_id, connect_timeout=timeout)
    ms = connect_blocking(client, broker, timeout)
    client.disconnect()
    client.loop_stop()
    return ms
