"""The console's Supplies page over HTTP to a real daemon: office staff record
a ribbon delivery, put a unit in a printer, write one off and mark one used
up; each entry names the account; a second sending of the same form is a
replay; a refusal says why in Indonesian and changes nothing."""

from __future__ import annotations

import json
import re

from tests.conftest import run_cli
from tests.console.conftest import Browser, ConsoleDaemon

STATION = ('timezone = "Asia/Makassar"\n\n'
           '[[printer]]\nid = "p1"\nurl = "sim://evolis?cards=20"\n\n'
           '[[supply]]\nkind = "ribbon-ymcko"\nrated_yield = 500\nlow_threshold = 2\n')
KIND = "ribbon-ymcko"


def _kind(d: ConsoleDaemon) -> dict[str, int]:
    k = d.cli("supplies", "--json")["kinds"][0]
    return {a: k[a] for a in ("stock", "installed", "finished", "written_off")}


def _page(b: Browser) -> tuple[str, str]:
    page = b.get("/supplies")
    assert page.status == 200, page.body[:300]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.body)
    idem = re.search(r'name="idem" value="([^"]+)"', page.body)
    assert csrf and idem
    return csrf.group(1), idem.group(1)


def _last_entry(d: ConsoleDaemon) -> dict[str, object]:
    out = run_cli("--config", str(d.config), "ledger", "export", "--format", "jsonl").out
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_supplies_recorded_through_the_console(console_daemon) -> None:  # type: ignore[no-untyped-def]
    d: ConsoleDaemon = console_daemon(STATION)
    b = d.browser()
    assert b.get("/supplies").status == 303                     # no session: to the login
    b.login()
    page = b.get("/supplies")
    assert page.status == 200, d.logs()[-3000:]
    assert "<h1>Bahan habis pakai</h1>" in page.body and f'data-kind="{KIND}"' in page.body
    csrf, idem = _page(b)

    # A delivery of three ribbons.
    r = b.post("/supplies/receive", {"csrf": csrf, "kind": KIND, "count": "3",
                                     "batch": "RB-1"})
    assert r.status == 303, r.body
    assert _kind(d) == {"stock": 3, "installed": 0, "finished": 0, "written_off": 0}
    entry = _last_entry(d)
    assert (entry["kind"], entry["item"], entry["count"], entry["actor"]) == (
        "supply_receive", KIND, 3, "siti")

    # One into p1; the same form sent again (a double click) is a replay.
    form = {"csrf": csrf, "idem": idem, "kind": KIND, "printer": "p1", "serial": "RB-1-001"}
    first = b.post("/supplies/install", form)
    assert first.status == 303 and "again=0" in first.headers["location"], first.body
    again = b.post("/supplies/install", form)
    assert again.status == 303 and "again=1" in again.headers["location"]
    assert _kind(d) == {"stock": 2, "installed": 1, "finished": 0, "written_off": 0}
    assert "Sudah tercatat" in b.get(again.headers["location"]).body
    assert _last_entry(d)["actor"] == "siti"

    # Refused: more than the stock; a count that is not a number; an unknown kind;
    # a post without the CSRF token. Each says why and changes nothing.
    csrf, idem = _page(b)
    before = _kind(d)
    too_many = b.post("/supplies/write-off", {"csrf": csrf, "idem": idem, "kind": KIND,
                                              "printer": "", "count": "5", "reason": "rusak"})
    assert too_many.status == 409 and "ditolak" in too_many.body, too_many.body[-800:]
    bad_count = b.post("/supplies/receive", {"csrf": csrf, "kind": KIND, "count": "tiga",
                                             "batch": "RB-2"})
    assert bad_count.status == 400 and "Jumlah: isi bilangan bulat unit." in bad_count.body
    unknown = b.post("/supplies/receive", {"csrf": csrf, "kind": "toner", "count": "1",
                                           "batch": "RB-3"})
    assert unknown.status == 400 and "toner" in unknown.body
    no_token = b.post("/supplies/receive", {"kind": KIND, "count": "1", "batch": "RB-4"})
    assert no_token.status == 403
    assert _kind(d) == before

    # One written off from stock with a reason, then the unit in p1 used up.
    r = b.post("/supplies/write-off", {"csrf": csrf, "idem": idem, "kind": KIND,
                                       "printer": "", "count": "1",
                                       "reason": "pita sobek saat dibuka"})
    assert r.status == 303, r.body
    assert _last_entry(d)["reason"] == "pita sobek saat dibuka"
    csrf, idem = _page(b)
    r = b.post("/supplies/finish", {"csrf": csrf, "idem": idem, "kind": KIND, "printer": "p1"})
    assert r.status == 303, r.body
    assert _kind(d) == {"stock": 1, "installed": 0, "finished": 1, "written_off": 1}
    assert run_cli("--config", str(d.config), "ledger", "verify").code == 0


def test_no_supply_configured_says_how(console_daemon) -> None:  # type: ignore[no-untyped-def]
    d: ConsoleDaemon = console_daemon()
    b = d.browser()
    b.login()
    page = b.get("/supplies")
    assert page.status == 200 and "[[supply]]" in page.body and "<form" not in page.body.split(
        "<main>", 1)[1].split("</main>")[0]
