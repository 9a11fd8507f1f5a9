"""The office console in a real headless Chromium (Debian's chromium, driven
through chromium-driver by Selenium): log in, read today's figures against
``blanks --json``, record a delivery (of blanks, of ribbons), void a job,
resolve an open one, watch a live update, open and print the daily report;
every page fits a 1366x768 screen; Indonesian formats on the page."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.console.conftest import PASSWORD, USER, ConsoleDaemon

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")

MONTHS_ID = ("Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|"
             "November|Desember")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("chromium or chromium-driver is missing: ./scripts/dev test installs them")
        pytest.skip("needs Debian's chromium and chromium-driver (./scripts/dev setup)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1366,768",
                "--disable-dev-shm-usage", "--lang=id"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(cond: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _text(driver: Any, css: str) -> str:
    """The element's text; found again when the live refresh (every 5 s) replaced it
    between finding it and reading it."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _ in range(5):
        try:
            return str(driver.find_element(By.CSS_SELECTOR, css).text)
        except StaleElementReferenceException:
            time.sleep(0.05)
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def _find(driver: Any, css: str) -> Any:
    """The element, once the page shows it: a click on a link returns before
    the next page has loaded."""
    from selenium.webdriver.common.by import By

    return _wait(lambda: driver.find_elements(By.CSS_SELECTOR, css))[0]


def _submit(driver: Any, form_css: str, **fields: str) -> None:
    """Fill and send the form; found again when the live refresh replaced it
    while it was being filled."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for attempt in range(3):
        try:
            form = _find(driver, form_css)
            for name, value in fields.items():
                el = form.find_element(By.NAME, name)
                if el.tag_name == "select":
                    Select(el).select_by_value(value)
                else:
                    el.clear()
                    el.send_keys(value)
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            return
        except StaleElementReferenceException:
            if attempt == 2:
                raise


def _fits_the_screen(driver: Any, page: str) -> None:
    """Readable on a 1366x768 office screen: nothing wider than the window (no
    sideways scrolling)."""
    size = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    assert size[1] == 1366 and size[0] <= size[1], (page, size)


def _dotted(n: int) -> str:
    """Indonesian digit grouping (12.000), written out here, not by Babel."""
    return f"{n:,}".replace(",", ".")


def test_console_in_chromium(console_daemon, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    d: ConsoleDaemon = console_daemon(
        'timezone = "Asia/Makassar"\noffice = "Disdukcapil Kota Kupang"\n\n'
        '[[printer]]\nid = "p1"\nurl = "sim://evolis?cards=50"\n\n'
        '[[supply]]\nkind = "ribbon-ymcko"\nrated_yield = 500\nlow_threshold = 2\n')
    d.cli("blanks", "receive", "--batch", "KTP-A", "--count", "12000")
    d.cli("supplies", "receive", "--kind", "ribbon-ymcko", "--count", "2", "--batch", "RB-1")
    d.cli("supplies", "install", "--kind", "ribbon-ymcko", "--printer", "p1")
    with d.client() as api:
        assert api.call("issue", job_id="job-1", printer="p1")["outcome"] == "complete"
        assert api.call("issue", job_id="job-2", printer="p1")["outcome"] == "complete"
    base = d.url.rstrip("/")

    # Log in.
    browser.get(base + "/")
    assert browser.current_url.endswith("/login")
    _submit(browser, "#login", user=USER, password=PASSWORD)
    _wait(lambda: browser.current_url.rstrip("/") == base)
    assert _text(browser, "#user") == USER
    _fits_the_screen(browser, "today")
    # Today's stock is read without scrolling.
    assert browser.execute_script(
        "return document.querySelector('#stock').getBoundingClientRect().bottom "
        "<= window.innerHeight")

    # Today's figures against blanks --json, in Indonesian formats.
    blanks = d.cli("blanks", "--json")
    assert _text(browser, "#stock") == _dotted(blanks["stock"]) == "11.998"
    heading = _text(browser, "h1")
    assert re.fullmatch(rf"Hari ini, \d{{1,2}} ({MONTHS_ID}) \d{{4}}", heading), heading
    figures = _text(browser, "#figures")
    assert "tercetak hari ini 2" in figures and "diterima hari ini 12.000" in figures
    # Supplies: one ribbon left in stock (below 2: low), the one in p1 with its cards.
    supplies = _text(browser, "#supplies")
    assert "ribbon-ymcko" in supplies and "1 di stok" in supplies and "menipis" in supplies
    assert re.search(r"Di p1 sejak .*: 2 kartu sejauh ini", supplies), supplies

    # Live: a delivery recorded elsewhere shows without a reload.
    marker = browser.find_element(By.CSS_SELECTOR, "#live")
    d.cli("blanks", "receive", "--batch", "KTP-B", "--count", "500")
    _wait(lambda: _text(browser, "#stock") == "12.498", timeout=20)
    assert marker == browser.find_element(By.CSS_SELECTOR, "#live")   # same page, not reloaded

    # Record a delivery through the form; it is in the ledger, naming the account.
    browser.find_element(By.LINK_TEXT, "Blangko").click()
    _find(browser, "#receive")
    _fits_the_screen(browser, "blanks")
    _submit(browser, "#receive", batch="KTP-C", count="1.000", first_serial="KTP0100000")
    notice = _wait(lambda: browser.find_elements(By.ID, "notice"))
    assert "Tercatat sebagai entri" in notice[0].text
    after = d.cli("blanks", "--json")
    assert after["received"] == blanks["received"] + 500 + 1000
    export = run_cli("--config", str(d.config), "ledger", "export", "--format", "jsonl")
    last = json.loads(export.out.strip().splitlines()[-1])
    assert (last["batch_id"], last["count"], last["actor"]) == ("KTP-C", 1000, USER)
    # A refused disposal says why, in Indonesian, and changes nothing.
    _submit(browser, "#dispose", count="5", reference="BA-01/XI/2026")
    error = _wait(lambda: browser.find_elements(By.ID, "error"))
    assert "ditolak" in error[0].text and "rusak, disimpan" in error[0].text
    assert d.cli("blanks", "--json") == after

    # Void an issued job; resolve an open one (vendor software picked a card and
    # never said what became of it).
    with d.client() as api:
        api.call("pick", job_id="stuck-1", device="p1")
    browser.find_element(By.LINK_TEXT, "Pekerjaan").click()
    _find(browser, "tr[data-job='job-2'] form.void")
    _fits_the_screen(browser, "jobs")
    _submit(browser, "tr[data-job='job-2'] form.void", category="chip_failed",
            reason="chip tidak bisa ditulis")
    _wait(lambda: browser.find_elements(By.ID, "notice"))
    jobs = {j["job_id"]: j for j in d.cli("jobs", "--json")["jobs"]}
    assert jobs["job-2"]["outcome"] == "voided" and jobs["job-2"]["category"] == "chip_failed"
    assert d.cli("blanks", "--json")["spoiled_held"] == 1
    _submit(browser, "tr[data-job='stuck-1'] form.resolve", outcome="spoiled",
            category="jam", reason="kartu macet, dibuang")
    _wait(lambda: browser.find_elements(By.ID, "notice"))
    jobs = {j["job_id"]: j for j in d.cli("jobs", "--json")["jobs"]}
    assert (jobs["stuck-1"]["open"], jobs["stuck-1"]["outcome"], jobs["stuck-1"]["category"]
            ) == (False, "spoiled", "jam")
    assert d.cli("blanks", "--json")["spoiled_held"] == 2
    resolved = json.loads(run_cli("--config", str(d.config), "ledger", "export", "--format",
                                  "jsonl").out.strip().splitlines()[-1])
    assert (resolved["job_id"], resolved["actor"]) == ("stuck-1", USER)

    # Supplies: a delivery of ribbons through the form.
    browser.find_element(By.LINK_TEXT, "Bahan habis pakai").click()
    _find(browser, "#supply-receive")
    _fits_the_screen(browser, "supplies")
    _submit(browser, "#supply-receive", kind="ribbon-ymcko", count="2", batch="RB-2")
    _wait(lambda: browser.find_elements(By.ID, "notice"))
    assert d.cli("supplies", "--json")["kinds"][0]["stock"] == 3
    assert "3" in _text(browser, "tr[data-kind='ribbon-ymcko']")

    # Open the daily report and print it.
    browser.find_element(By.LINK_TEXT, "Laporan").click()
    _find(browser, "#daily button[value=html]")
    _fits_the_screen(browser, "reports")
    _find(browser, "#daily button[value=html]").click()
    _wait(lambda: "/reports/daily" in browser.current_url)
    body = _text(browser, "body")
    assert "Berita acara rekonsiliasi blangko" in body and "13.500" in body
    pdf = browser.execute_cdp_cmd("Page.printToPDF", {"paperWidth": 8.27,
                                                      "paperHeight": 11.69})
    data = base64.b64decode(pdf["data"])
    assert data.startswith(b"%PDF") and len(data) > 5000

    # The month's recapitulation from the same page.
    browser.back()
    _wait(lambda: browser.current_url.rstrip("/").endswith("/reports"))
    _find(browser, "#monthly button[value=html]").click()
    _wait(lambda: "/reports/monthly" in browser.current_url)
    month = _text(browser, "body")
    assert "Rekapitulasi bulanan blangko" in month and "KTP-C" in month and "13.500" in month

    # English on request.
    browser.get(base + "/lang?to=en&back=/")
    _wait(lambda: _text(browser, "h1").startswith("Today"))
    assert _text(browser, "#stock") == _dotted(d.cli("blanks", "--json")["stock"]).replace(
        ".", ",") == "13,497"             # 13,500 received, 3 picked
