"""Broker URLs, secrets and the [uplink] table: bad input is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from station_agent.config import parse_config
from station_agent.errors import BadInput
from station_agent.uplink.broker import parse_broker, read_secret


@pytest.mark.parametrize(("url", "host", "port", "tls"), [
    ("mqtt://127.0.0.1", "127.0.0.1", 1883, False),
    ("mqtt://broker.example:1884", "broker.example", 1884, False),
    ("mqtts://broker.example", "broker.example", 8883, True),
    ("mqtts://[::1]:9000/", "::1", 9000, True),
])
def test_good_urls(url: str, host: str, port: int, tls: bool) -> None:
    b = parse_broker(url)
    assert (b.host, b.port, b.tls) == (host, port, tls)


@pytest.mark.parametrize(("url", "words"), [
    ("http://x", "expected mqtt://"),
    ("mqtt://", "expected mqtt://"),
    ("mqtt://u:pw@host", "password in the URL is refused"),
    ("mqtt://host:99999", "port must be a number"),
    ("mqtt://host/topic", "no path or query"),
    ("mqtt://host?x=1", "no path or query"),
])
def test_bad_urls(url: str, words: str) -> None:
    with pytest.raises(BadInput, match=words):
        parse_broker(url)


def test_secrets_must_be_private(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    with pytest.raises(BadInput, match="does not exist"):
        read_secret(f, "password_file")
    f.write_text("hunter2\nignored\n")
    f.chmod(0o640)
    with pytest.raises(BadInput, match=r"mode 0640\): run `chmod 600"):
        read_secret(f, "password_file")
    f.chmod(0o600)
    assert read_secret(f, "password_file") == "hunter2"
    f.write_text("")
    with pytest.raises(BadInput, match="is empty"):
        read_secret(f, "password_file")
    with pytest.raises(BadInput, match="without a username"):
        f.write_text("x\n")
        parse_broker("mqtt://h", password_file=f)
    assert parse_broker("mqtt://station@h", password_file=f).password() == "x"


def test_cafile_only_with_tls_and_must_exist(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="only applies to mqtts"):
        parse_broker("mqtt://h", cafile=tmp_path)
    with pytest.raises(BadInput, match="does not exist"):
        parse_broker("mqtts://h", cafile=tmp_path / "nope.pem")


def cfg(tmp_path: Path, uplink: dict[str, object]) -> object:
    return parse_config({"station": {"id": "s1"}, "uplink": uplink}, tmp_path / "station.toml")


def test_uplink_table(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    c = cfg(tmp_path, {"mqtt_url": "mqtts://b:8883", "cafile": "ca.pem", "window": 8,
                       "topic_prefix": "ntt/stations", "reconnect_max": 5})
    up = c.uplink  # type: ignore[attr-defined]
    assert up.cafile == (tmp_path / "ca.pem").resolve()      # relative to the config file
    s = up.settings()
    assert (s.window, s.prefix, s.reconnect_max) == (8, "ntt/stations", 5.0)
    with pytest.raises(BadInput, match=r"station.toml: \[uplink\]: unknown key 'windw'"):
        cfg(tmp_path, {"mqtt_url": "mqtt://b", "windw": 8})
    with pytest.raises(BadInput, match=r"\[uplink\] window: expected a whole number"):
        cfg(tmp_path, {"mqtt_url": "mqtt://b", "window": 0})
    with pytest.raises(BadInput, match=r"\[uplink\] topic_prefix"):
        cfg(tmp_path, {"mqtt_url": "mqtt://b", "topic_prefix": "a/+/b"})
    with pytest.raises(BadInput, match=r"set only with mqtt_url"):
        cfg(tmp_path, {"username": "x"})
    with pytest.raises(BadInput, match=r"station.toml: CA file .* does not exist"):
        cfg(tmp_path, {"mqtt_url": "mqtts://b", "cafile": "missing.pem"})
