"""Supplies through the running daemon and a simulated Evolis printer on a real pty:
the printer's ribbon counter and ribbon-end status make the daemon ask for the
install (``ribbon_changed``, ``ribbon_out``), a printer printing with no ribbon
recorded raises ``supply_unrecorded``, the yields measured from the printer's
card counter equal the simulator's ground truth, refusals change nothing, and a
daemon killed during installs leaves a whole ledger."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from tests.conftest import run_cli

CONFIG = """
[[printer]]
id = "evolis-1"
url = "serial://{tty}"
family = "evolis"
poll_interval = 0.1

[faults]
raise_after = 1
clear_after = 1

[[supply]]
kind = "ribbon-ymcko"
rated_yield = 20
low_threshold = 2
fits = ["evolis"]

[[supply]]
kind = "cleaning-kit"
rated_yield = 1000
low_threshold = 0
"""
RIBBON = "ribbon-ymcko"


def _issue(d: Any, n: int, tag: str) -> None:
    for i in range(n):
        res = d.call("issue", job_id=f"{tag}-{i}", printer="evolis-1", panels=2)
        assert res["outcome"] == "complete", res


def _truth(printer: Any) -> dict[str, Any]:
    line = printer.send("truth")
    yields = re.search(r"ribbon yields ([\d,-]+)", line)
    picked = re.search(r"picked (\d+)", line)
    assert yields and picked, line
    return {"picked": int(picked.group(1)),
            "yields": [] if yields.group(1) == "-" else
            [int(x) for x in yields.group(1).split(",")]}


def _kind(d: Any, kind: str = RIBBON) -> dict[str, Any]:
    doc = d.cli("supplies", "--json")
    return next(k for k in doc["kinds"] if k["kind"] == kind)  # type: ignore[no-any-return]


def test_ribbon_changes_prompt_installs_and_yields_match_the_printer(
        daemons: Any, sims: Any) -> None:
    printer = sims("printer", "--family", "evolis", "--pty", "--control")
    d = daemons(CONFIG.format(tty=printer.where)).start()
    d.call("receive", batch_id="KTP-1", count=200)
    d.cli("supplies", "receive", "--kind", RIBBON, "--count", "3", "--batch", "RB-1")
    d.cli("supplies", "receive", "--kind", "cleaning-kit", "--count", "5", "--batch", "CK-1")
    d.wait_fault(f"supply:{RIBBON}", "supply_low", present=False)

    # Printing with no ribbon recorded in the printer.
    _issue(d, 1, "before")
    d.wait_fault("evolis-1", "supply_unrecorded")

    # The ribbon ends; the operator puts a new one in: the daemon asks for the record.
    assert printer.send("ribbon-out").startswith("ok")
    d.wait_fault("evolis-1", "ribbon_out")
    assert printer.send("ribbon-change 40").startswith("ok")
    d.wait_fault("evolis-1", "ribbon_changed")
    d.wait_fault("evolis-1", "ribbon_out", present=False)
    out = d.cli("supplies", "install", "--kind", RIBBON, "--printer", "evolis-1",
                "--serial", "R-0001")
    assert "supply install 1 ribbon-ymcko in evolis-1" in out
    faults = d.wait_fault("evolis-1", "ribbon_changed", present=False)
    assert not any(f["code"] == "supply_unrecorded" for f in faults)

    # 15 cards (2 panels each: 10 prints left), a fresh ribbon, 6 cards, another, 4 cards
    # and the last one finished.
    _issue(d, 15, "a")
    d.wait_fault("evolis-1", "ribbon_low")
    assert printer.send("ribbon-change 60").startswith("ok")
    d.wait_fault("evolis-1", "ribbon_changed")
    d.cli("supplies", "install", "--kind", RIBBON, "--printer", "evolis-1")
    d.wait_fault("evolis-1", "ribbon_low", present=False)
    _issue(d, 6, "b")
    assert printer.send("ribbon-change 500").startswith("ok")
    d.wait_fault("evolis-1", "ribbon_changed")
    d.cli("supplies", "install", "--kind", RIBBON, "--printer", "evolis-1")
    _issue(d, 4, "c")
    d.cli("supplies", "finish", "--printer", "evolis-1", "--kind", RIBBON)

    truth = _truth(printer)
    kind = _kind(d)
    measured = [(y["cards"], y["measured"]) for y in kind["yields"]]
    # The simulator's ribbons: the first (1 card, never recorded), then 15, 6; the last
    # one printed the 4 cards since the last change.
    assert truth["yields"][1:] == [15, 6]
    assert measured == [(15, "counter"), (6, "counter"), (4, "counter")]
    assert truth["picked"] == 1 + 15 + 6 + 4
    # Rated 20 at 80 %: 15 and 6 and 4 are all below 16.
    assert [y["low_yield"] for y in kind["yields"]] == [True, True, True]
    assert (kind["stock"], kind["installed"], kind["finished"]) == (0, 0, 3)
    assert kind["low"] and kind["cards_per_day"] > 0 and kind["request_quantity"] > 0
    d.wait_fault(f"supply:{RIBBON}", "supply_low")

    text = d.cli("supplies")
    assert "BELOW RATING" in text and "ribbon-ymcko (ribbon, rated 20 cards)" in text
    status = d.cli("status", "--json")
    assert status["supplies"][0]["kind"] == RIBBON
    diag = run_cli("--config", str(d.config), "diag", "--json")
    checks = {c["name"]: c for c in json.loads(diag.out)["checks"]}
    ribbon = checks[f"supply:{RIBBON}"]
    assert ribbon["status"] == "warn" and "request" in ribbon["hint"], ribbon
    assert checks["supply:cleaning-kit"]["status"] == "pass"
    assert d.stop() == 0


def test_supply_refusals_are_one_line_and_change_nothing(daemons: Any, sims: Any) -> None:
    printer = sims("printer", "--family", "evolis", "--pty", "--control")
    d = daemons(CONFIG.format(tty=printer.where)).start()
    d.cli("supplies", "receive", "--kind", RIBBON, "--count", "1", "--batch", "RB-1")
    before = d.cli("supplies", "--json")
    entries = d.cli("ledger", "verify", "--json")["entries"]
    cases = [
        (["finish", "--printer", "evolis-1", "--kind", RIBBON],
         "no ribbon-ymcko is recorded as installed in printer evolis-1"),
        (["receive", "--kind", "ribbon-xyz", "--count", "1", "--batch", "X"],
         "unknown supply kind 'ribbon-xyz': the config knows ribbon-ymcko, cleaning-kit"),
        (["write-off", "--kind", RIBBON, "--count", "5", "--reason", "lost"],
         "only 1 in stock"),
        (["receive", "--kind", RIBBON, "--count", "-2", "--batch", "X"], "--count"),
        (["install", "--kind", RIBBON, "--printer", "magicard-9"],
         "no [[printer]] with id 'magicard-9'"),
    ]
    for args, words in cases:
        res = run_cli("--config", str(d.config), "supplies", *args)
        assert res.code == 2, (args, res.code, res.err)
        assert words in res.err, (args, res.err)
        assert len(res.err.strip().splitlines()) == 1 or "usage:" in res.err, res.err
    assert d.cli("supplies", "--json") == before
    report = d.cli("ledger", "verify", "--json")
    assert report["ok"] and report["entries"] == entries
    assert d.stop() == 0


def test_a_daemon_killed_during_installs_keeps_each_install_whole(
        daemons: Any, sims: Any) -> None:
    printer = sims("printer", "--family", "evolis", "--pty", "--control")
    d = daemons(CONFIG.format(tty=printer.where)).start()
    d.call("supply_receive", kind=RIBBON, count=500, batch_id="RB-1")
    acked: list[str] = []

    def install_forever() -> None:
        n = 0
        while True:
            try:
                d.call("supply_install", kind=RIBBON, printer="evolis-1", idem_id=f"k{n}")
            except Exception:
                return
            acked.append(f"k{n}")
            n += 1

    worker = threading.Thread(target=install_forever)
    worker.start()
    while len(acked) < 5:
        worker.join(0.05)
    d.kill()
    worker.join(30)
    d.start()
    doc = d.cli("ledger", "verify", "--json")
    assert doc["ok"], doc
    kind = _kind(d)
    export = run_cli("--config", str(d.config), "ledger", "export", "--format", "jsonl")
    entries = [json.loads(line) for line in export.out.splitlines()]
    installed = {e["idem_id"] for e in entries if e["kind"] == "supply_install"}
    assert set(acked) <= installed, sorted(set(acked) - installed)
    # Every install but the first finished the unit before it, in its own transaction.
    finishes = [e for e in entries if e["kind"] == "supply_finish"]
    assert len(finishes) == len(installed) - 1
    assert {f["idem_id"] for f in finishes} == {f"{i}:finished" for i in installed
                                                 if i != "k0"}
    assert kind["installed"] == 1 and kind["finished"] == len(finishes)
    assert d.stop() == 0
