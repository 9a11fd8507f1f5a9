"""station.toml validation: every key checked, errors name file, table, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from station_agent.config import Config, load_config
from station_agent.errors import BadInput

FULL = """
[station]
id = "kupang-01"
state_dir = "/var/lib/station-agent"

[[printer]]
id = "evolis-1"
url = "serial:///dev/ttyUSB0"
family = "evolis"
poll_interval = 1.0

[[printer]]
id = "magicard-1"
url = "usb://0c1f:1800"

[[reader]]
id = "encoder-1"
url = "pcsc://Virtual PCD 00 00"
printer = "evolis-1"
chip_atr = ["3B 8F 80 01", "3B8?8001"]
chip_select_sw = ["9000", "6283"]
chip_retries = 2

[network]
probe_url = "https://central.example/health"
interval = 5.0
fail_after = 3
clear_after = 2
slow_ms = 2000

[uplink]
mqtt_url = "mqtt://127.0.0.1:1883"

[stock]
low_threshold = 500
"""


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "station.toml"
    path.write_text(text)
    return load_config(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(BadInput) as info:
        _load(tmp_path, text)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_documented_example_loads(tmp_path: Path) -> None:
    cfg = _load(tmp_path, FULL)
    assert cfg.station_id == "kupang-01"
    assert [p.id for p in cfg.printers] == ["evolis-1", "magicard-1"]
    assert cfg.printer("magicard-1").family is None
    assert cfg.readers[0].printer == "evolis-1"
    policy = cfg.readers[0].policy()
    assert policy.atr_patterns == ("3B8F8001", "3B8?8001") and policy.retries == 2
    assert policy.sw_ok("6283") and not policy.sw_ok("6A82")
    assert policy.atr_matches(bytes.fromhex("3B8F8001804F0CA0000003060300030000000068"))
    assert cfg.network.fail_after == 3 and cfg.stock.low_threshold == 500


def test_minimal_config_has_defaults(tmp_path: Path) -> None:
    cfg = _load(tmp_path, '[station]\nid = "s1"\n')
    assert cfg.printers == () and cfg.network.probe_url is None
    assert cfg.network.interval == 5.0 and cfg.uplink.mqtt_url is None


@pytest.mark.parametrize(("change", "expected"), [
    (('url = "usb://0c1f:1800"', 'url = "COM3"'),
     'station.toml: [[printer]] #2 url: expected a device URL such as serial:///dev/ttyUSB0, '
     'got "COM3"'),
    (("poll_interval = 1.0", "pol_interval = 1.0"),
     "station.toml: [[printer]] #1: unknown key 'pol_interval'"),
    (('family = "evolis"', 'family = "zebra"'),
     'station.toml: [[printer]] #1 family: expected one of evolis, magicard, got "zebra"'),
    (("fail_after = 3", 'fail_after = "3"'),
     'station.toml: [network] fail_after: expected a whole number between 1 and 1,000, got "3"'),
    (("slow_ms = 2000", "slow_ms = -1"),
     "station.toml: [network] slow_ms: expected a number between 1 and 600000, got -1"),
    (('probe_url = "https://central.example/health"', 'probe_url = "central.example"'),
     "station.toml: [network] probe_url: expected a URL such as"),
    (('mqtt_url = "mqtt://127.0.0.1:1883"', 'mqtt_url = "http://broker"'),
     "station.toml: [uplink] mqtt_url: expected a URL such as mqtt://127.0.0.1:1883"),
    (('printer = "evolis-1"', 'printer = "evolis-9"'),
     'station.toml: [[reader]] #1 printer: expected the id of a [[printer]], got "evolis-9"'),
    (('printer = "evolis-1"', 'printer = "magicard-1"'),
     "station.toml: [[reader]] #1 printer: 'magicard-1' is a magicard printer, which cannot "
     "park a card at an encoder"),
    (('id = "encoder-1"', 'id = "evolis-1"'),
     "station.toml: device id 'evolis-1' is used twice"),
    (('id = "kupang-01"', 'id = "kupang 01"'),
     'station.toml: [station] id: expected a station id such as "kupang-01"'),
    (('low_threshold = 500', 'low_threshold = true'),
     "station.toml: [stock] low_threshold: expected a whole number"),
    (('chip_atr = ["3B 8F 80 01", "3B8?8001"]', 'chip_atr = "3B8F"'),
     'station.toml: [[reader]] #1 chip_atr: expected a list of ATR prefixes in hex'),
    (('chip_atr = ["3B 8F 80 01", "3B8?8001"]', 'chip_atr = ["3B8", "3B8F"]'),
     'station.toml: [[reader]] #1 chip_atr: expected a list of ATR prefixes in hex, ? for any '
     'nibble, such as "3B8?8001", got "3B8" in the list'),
    (('chip_select_sw = ["9000", "6283"]', 'chip_select_sw = [9000]'),
     'station.toml: [[reader]] #1 chip_select_sw: expected a list of status words of 4 hex '
     'digits such as "9000", got 9000 in the list'),
    (("chip_retries = 2", "chip_retries = 50"),
     "station.toml: [[reader]] #1 chip_retries: expected a whole number between 0 and 20"),
    (("[uplink]", "[upink]"), "station.toml: top level: unknown key 'upink'"),
])
def test_errors_name_file_table_key_and_expectation(tmp_path: Path, change: tuple[str, str],
                                                    expected: str) -> None:
    old, new = change
    assert old in FULL
    assert _error(tmp_path, FULL.replace(old, new, 1)).startswith(expected)


def test_missing_station_id_and_bad_toml(tmp_path: Path) -> None:
    assert "[station] id: missing" in _error(tmp_path, "[station]\n")
    assert "[station] missing" in _error(tmp_path, "[stock]\nlow_threshold = 1\n")
    assert "not valid TOML" in _error(tmp_path, "[station\n")
    assert "must be written [[printer]]" in _error(tmp_path, '[station]\nid="a"\n[printer]\n')


def test_web_defaults_and_switching_the_console_off(tmp_path: Path) -> None:
    web = _load(tmp_path, '[station]\nid = "s1"\n').web
    assert (web.enabled, web.listen, web.session_minutes) == (True, "127.0.0.1:8470", 30)
    assert {"127.0.0.1", "localhost"} <= web.allowed_hosts()
    off = _load(tmp_path, '[station]\nid = "s1"\n[web]\nenabled = false\n').web
    assert off.enabled is False
    lan = _load(tmp_path, '[station]\nid = "s1"\n[web]\nlisten = "0.0.0.0:8470"\n'
                          'hosts = ["KTP-Kupang.local"]\n').web
    assert lan.listen == "0.0.0.0:8470" and "ktp-kupang.local" in lan.allowed_hosts()
    assert "0.0.0.0" not in lan.allowed_hosts()


@pytest.mark.parametrize(("web", "expected"), [
    ('enabled = "no"', "station.toml: [web] enabled: expected true or false"),
    ('listen = "8470"', 'station.toml: [web] listen: expected host:port such as '
                        '"127.0.0.1:8470"'),
    ('listen = "127.0.0.1:99999"', "station.toml: [web] listen: expected host:port"),
    ('listen = "evil host:80"', "station.toml: [web] listen: expected host:port"),
    ('hosts = "ktp.local"', "station.toml: [web] hosts: expected a list of host names"),
    ("session_minutes = 0", "station.toml: [web] session_minutes: expected a whole number"),
    ("port = 80", "station.toml: [web]: unknown key 'port'"),
])
def test_a_broken_web_table_is_refused_in_one_line(tmp_path: Path, web: str,
                                                   expected: str) -> None:
    assert _error(tmp_path, f'[station]\nid = "s1"\n[web]\n{web}\n').startswith(expected)
