"""The Reports page's downloads from a real daemon: the CSV of a day and of a
month are the same documents ``station-agent report`` writes, offered as
attachments named for the station and the period; only a logged-in account
gets them."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.conftest import run_cli
from tests.console.conftest import ConsoleDaemon


def _rows(text: str) -> list[list[str]]:
    """The CSV's rows, without the one that says when it was generated."""
    return [r for r in csv.reader(io.StringIO(text)) if "generated" not in ",".join(r)]


def test_csv_downloads_are_the_cli_reports(console_daemon) -> None:  # type: ignore[no-untyped-def]
    d: ConsoleDaemon = console_daemon('timezone = "Asia/Makassar"\n\n'
                                      '[[printer]]\nid = "p1"\nurl = "sim://evolis?cards=20"\n')
    d.cli("blanks", "receive", "--batch", "KTP-A", "--count", "300")
    with d.client() as api:
        for i in range(3):
            api.call("issue", job_id=f"j{i}", printer="p1")
        api.call("void", job_id="j1", category="print_defect")
    today = datetime.now(ZoneInfo("Asia/Makassar")).date()
    month = f"{today:%Y-%m}"
    b = d.browser()
    assert b.get(f"/reports/daily?date={today}&format=csv").status == 303   # not logged in
    b.login()

    day = b.get(f"/reports/daily?date={today}&format=csv")
    assert day.status == 200 and day.headers["content-type"].startswith("text/csv")
    assert day.headers["content-disposition"] == (
        f'attachment; filename="rekonsiliasi-test-01-{today}.csv"')
    cli_day = run_cli("--config", str(d.config), "report", "--date", str(today),
                      "--format", "csv")
    assert cli_day.code == 0, cli_day.err
    assert _rows(day.body) == _rows(cli_day.out) and len(_rows(day.body)) > 10
    assert ["moved", "issued", "3"] in _rows(day.body)
    assert ["spoiled_by_category", "print_defect", "1"] in _rows(day.body)

    rekap = b.get(f"/reports/monthly?month={month}&format=csv")
    assert rekap.status == 200 and rekap.headers["content-type"].startswith("text/csv")
    assert rekap.headers["content-disposition"] == (
        f'attachment; filename="rekapitulasi-test-01-{month}.csv"')
    cli_month = run_cli("--config", str(d.config), "report", "--month", month,
                        "--format", "csv")
    assert cli_month.code == 0, cli_month.err
    assert _rows(rekap.body) == _rows(cli_month.out) and "KTP-A" in rekap.body
