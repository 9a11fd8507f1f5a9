"""The operator-facing language: every marked message has an Indonesian
translation with the same placeholders, the compiled catalogue is the .po's,
and numbers and dates come out in the office's formats."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from station_agent.i18n import Speaker
from tests.conftest import REPO

LOCALE = REPO / "station_agent" / "i18n" / "locale"
PO = LOCALE / "id" / "LC_MESSAGES" / "station-agent.po"
MO = PO.with_suffix(".mo")


def _extracted(tmp_path: Path) -> set[str]:
    pot = tmp_path / "now.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    "babel.cfg", "-k", "N_", "-k", "_refused:2", "--no-location",
                    "--omit-header", "-o", str(pot), "."], cwd=REPO, check=True,
                   capture_output=True, timeout=120)
    with pot.open("rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}


def test_every_marked_message_is_translated(tmp_path: Path) -> None:
    with PO.open("rb") as f:
        catalog = read_po(f)
    translated = {(m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}
    missing = sorted(_extracted(tmp_path) - set(translated))
    assert not missing, f"run ./scripts/dev i18n and translate: {missing}"
    for msgid, m in translated.items():
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(strings), f"untranslated: {msgid!r}"
        want = sorted(re.findall(r"\{(\w+)\}", msgid))
        for s in strings:
            assert sorted(re.findall(r"\{(\w+)\}", s)) == want, (msgid, s)
        assert not m.fuzzy, f"fuzzy: {msgid!r}"


def test_the_compiled_catalogue_is_the_po() -> None:
    def norm(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    with PO.open("rb") as f:
        po = {norm(m.id): norm(m.string) for m in read_po(f) if m.id}
    with MO.open("rb") as f:
        mo = {norm(m.id): norm(m.string) for m in read_mo(io.BytesIO(f.read())) if m.id}
    assert mo == po, "run ./scripts/dev i18n (pybabel compile) after editing the .po"


def test_office_formats() -> None:
    sp = Speaker("id", "Asia/Makassar")
    assert sp.number(12000) == "12.000"
    assert sp.number(3.25, 1) == "3,2" or sp.number(3.25, 1) == "3,3"
    assert sp.date("2026-11-27") == "27 November 2026"
    assert sp.date("2026-08-17") == "17 Agustus 2026"
    # 23:30 UTC on the 26th is the 27th in Kupang (WITA, UTC+8), at 07.30.
    assert sp.datetime("2026-11-26T23:30:00Z") == "27 November 2026 07.30"
    assert sp.gettext("Today") == "Hari ini"
    en = Speaker("en", "Asia/Makassar")
    assert en.number(12000) == "12,000" and en.date("2026-11-27") == "November 27, 2026"
    assert en.gettext("Today") == "Today"
