"""Drivers by name: the registries, their entry points (the simulators' sim://),
and the openers that use them."""

from __future__ import annotations

import pytest

from drivers.printers import PRINTER_FAMILIES, open_printer, printer_class
from drivers.readers import open_reader
from drivers.registry import READERS, TRANSPORTS, Registry
from drivers.transports import TransportError, open_transport
from station_agent.config import parse_config
from station_agent.errors import BadInput


def test_builtin_names_and_plugins_are_listed_once() -> None:
    assert {"serial", "socket", "tcp", "rfc2217", "usb", "lp"} <= set(TRANSPORTS.names())
    assert "sim" in TRANSPORTS.names()           # registered by the simulators' entry point
    assert {"evolis", "magicard"} <= set(PRINTER_FAMILIES.names())
    assert {"pcsc", "sim"} <= set(READERS.names())


def test_a_plugin_name_loads_the_simulators_module() -> None:
    cls = TRANSPORTS.get("sim")
    assert cls.__module__ == "simulators.devices"
    assert open_transport("sim://evolis").__class__ is cls


def test_an_unknown_name_says_which_exist() -> None:
    with pytest.raises(LookupError, match=r"unknown printer family 'acme': use one of .*evolis"):
        PRINTER_FAMILIES.get("acme")
    with pytest.raises(ValueError, match="unknown printer family 'acme'"):
        printer_class("acme")
    with pytest.raises(TransportError, match="unsupported device URL 'gopher://x'"):
        open_transport("gopher://x")


def test_register_adds_a_driver_by_object_or_reference() -> None:
    reg = Registry("gadget", "station_agent.no-such-group", {"one": "json:dumps"})
    reg.register("two", len)
    assert reg.get("two") is len
    import json

    assert reg.get("one") is json.dumps
    assert reg.names() == ("one", "two")
    assert "three" not in reg


def test_open_printer_and_open_reader_by_url() -> None:
    printer = open_printer("sim://magicard")
    with printer:
        assert printer.family == "magicard" and printer.status().ready
    reader = open_reader("sim://Counter 2")
    assert reader.name() == "Counter 2"
    with pytest.raises(ValueError, match="unsupported reader URL 'usb://1:2'"):
        open_reader("usb://1:2")


def test_the_config_takes_its_schemes_and_families_from_the_registries(tmp_path) -> None:
    base = {"station": {"id": "s1"}}
    ok = parse_config({**base, "printer": [{"id": "p1", "url": "sim://evolis"}],
                       "reader": [{"id": "r1", "url": "sim://R"}]}, tmp_path / "s.toml")
    assert ok.printers[0].url == "sim://evolis"
    with pytest.raises(BadInput, match="url"):
        parse_config({**base, "printer": [{"id": "p1", "url": "gopher://x"}]},
                     tmp_path / "s.toml")
    with pytest.raises(BadInput, match="family"):
        parse_config({**base, "printer": [{"id": "p1", "url": "serial:///dev/ttyS0",
                                           "family": "acme"}]}, tmp_path / "s.toml")
