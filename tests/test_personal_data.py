"""No personal data in the ledger (and so in the uplink, which carries its entries):
identifiers are opaque references, the only free text is a short reason or
document reference, and a NIK-like number is refused everywhere it could hide."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station_agent.ledger import Ledger, model
from station_agent.ledger.errors import InvalidTransfer
from station_agent.ledger.model import Entry, Transfer

#: Every text field of an entry, by what it may hold. A new text field fails
#: test_every_text_field_is_classified until it is added here (and validated).
# actor: the staff account that made an entry (a login name, never a citizen);
# item: a supply transfer's supply kind (a [[supply]] kind id from the config).
OPAQUE = ("idem_id", "batch_id", "job_id", "device", "first_serial", "actor", "item")
BOUNDED_TEXT = {"reason": 500, "reference": 500}
MACHINE = ("ts", "kind", "src", "dst", "prev_hash", "hash")   # set by the ledger itself
CLOSED = ("category",)   # one keyword of a closed list (model.CATEGORIES)

NAME = "Budi Santoso"
NIK = "5371012345678901"


def test_every_text_field_is_classified() -> None:
    text_fields = {f.name for f in dataclasses.fields(Entry) if "str" in str(f.type)}
    assert text_fields == set(OPAQUE) | set(BOUNDED_TEXT) | set(MACHINE) | set(CLOSED)


@pytest.mark.parametrize("value", [NAME, NIK, "jam " + NAME, "JAM"])
def test_a_category_is_one_of_the_closed_list_and_nothing_else(value: str) -> None:
    with pytest.raises(InvalidTransfer):
        model.validate(model.reject("J-1", category=value, device="p1"))


def _transfer_with(field_name: str, value: str) -> Transfer:
    """A transfer that may carry ``field_name``, with ``value`` in it."""
    if field_name in ("batch_id", "first_serial"):
        base = model.receive("B-1", 10, first_serial="S-1")
    elif field_name == "reference":
        base = model.dispose(1, "BA/2026/11/07")
    elif field_name == "item":
        base = model.supply_receive("ribbon-ymcko", 2, "RB-1")
    else:   # job_id, device, reason, idem_id
        base = model.reject("J-1", "chip_failed", device="p1")
    return dataclasses.replace(base, **{field_name: value})


@pytest.mark.parametrize("field_name", OPAQUE)
@pytest.mark.parametrize("value", [NAME, "Budi\u00a0Santoso", "Jl. Sudirman 1", "x" * 129])
def test_identifiers_refuse_names_and_long_text(field_name: str, value: str) -> None:
    with pytest.raises(InvalidTransfer):
        model.validate(_transfer_with(field_name, value))


@pytest.mark.parametrize("field_name", ["job_id", "reason", "reference"])
def test_a_nik_is_refused_where_a_person_could_be_named(field_name: str) -> None:
    for value in (NIK, f"job-{NIK}", f"returned by {NIK} at the counter"):
        if field_name == "job_id" and " " in value:
            continue
        with pytest.raises(InvalidTransfer, match="looks like a NIK"):
            model.validate(_transfer_with(field_name, value))


@pytest.mark.parametrize(("field_name", "limit"), BOUNDED_TEXT.items())
def test_free_text_is_bounded(field_name: str, limit: int) -> None:
    model.validate(_transfer_with(field_name, "x" * limit))
    with pytest.raises(InvalidTransfer, match=f"at most {limit}"):
        model.validate(_transfer_with(field_name, "x" * (limit + 1)))


@given(st.text(min_size=1, max_size=60))
def test_any_identifier_with_a_space_or_non_ascii_is_refused(value: str) -> None:
    transfer = _transfer_with("job_id", value)
    acceptable = value.isascii() and value.isprintable() and " " not in value and not any(
        len(run) == 16 for run in re.findall(r"[0-9]+", value))
    try:
        model.validate(transfer)
    except InvalidTransfer:
        assert not acceptable or len(value) > 128
    else:
        assert acceptable, value


def test_refused_personal_data_changes_nothing(tmp_path: Path) -> None:
    with Ledger(tmp_path) as ledger:
        ledger.record(model.receive("B-1", 10))
        before = ledger.balances()
        for bad in (model.pick(NAME, device="p1"), model.pick(NIK, device="p1"),
                    model.write_off_stock(1, f"lost by {NIK}", "w-1")):
            with pytest.raises(InvalidTransfer):
                ledger.record(bad)
        assert ledger.balances() == before


def test_the_api_refuses_a_name_as_job_id(tmp_path: Path) -> None:
    """Through the daemon's own request handler (what the issuing application calls)."""
    from station_agent.api import protocol as p
    from station_agent.config import parse_config
    from station_agent.daemon.ops import PARAMETERS
    from station_agent.daemon.station import Station

    cfg = parse_config({"station": {"id": "s1"}}, tmp_path / "station.toml")
    station = Station(cfg, tmp_path, serve_api=False)
    try:
        station.ledger.record(model.receive("B-1", 10))
        req: Any = p.parse(b'{"id": 1, "op": "pick", "params": {"job_id": "Budi Santoso", '
                           b'"device": "p1"}}', PARAMETERS)
        with pytest.raises(p.ApiError) as refused:
            station.handle(req)
        assert refused.value.code == p.REFUSED and "not an opaque reference" in \
            refused.value.message
        assert station.ledger.balances().stock == 10
    finally:
        station.stop()
