"""Fast unit tests of the spooler path's pure parts: reasons, outcome plan, IPP codec,
journal files, job keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station_agent.issuing.spooled import plan_attempt
from station_agent.spooler import ipp, journal
from station_agent.spooler.backend import job_key
from station_agent.spooler.reasons import fault_for, faults_for, spoil_category


@pytest.mark.parametrize(("reason", "code"), [
    ("media-empty-error", "feeder_empty"), ("media-jam", "card_jam"),
    ("door-open-warning", "cover_open"), ("cover-open", "cover_open"),
    ("marker-supply-empty-error", "ribbon_out"), ("marker-supply-low-warning", "ribbon_low"),
    ("offline-report", None), ("connecting-to-device", "printer_offline"),
    ("none", None), ("cups-waiting-for-job-completed", None), ("paused", None),
    ("com.hidglobal-ribbon-type-mismatch-error",
     "printer_reason_com_hidglobal_ribbon_type_mismatch"),
])
def test_reason_keywords_map_to_fault_codes(reason: str, code: str | None) -> None:
    assert fault_for(reason) == code


def test_the_backend_reads_state_lines_as_backend7_writes_them() -> None:
    import io

    from station_agent.spooler.backend import Backend

    b = Backend(["station"], {}, io.StringIO())
    for line in ("STATE: +media-jam-error,cover-open-warning", "STATE: -cover-open-warning",
                 "STATE: +marker-supply-low-report", "PAGE: 1 2", "PAGE: 2 1",
                 "ERROR: Unable to add document to print job."):
        b._observe(line)
    assert b.state_reasons == {"media-jam-error", "marker-supply-low-report"}
    assert (b.pages, b.errors) == (3, 1)
    b._observe("STATE: none")
    assert b.state_reasons == set()


def test_unknown_keywords_are_kept_and_report_reasons_are_not_faults() -> None:
    found = faults_for(["media-low-report", "x-vendor-thing-warning", "media-jam-error"])
    assert found == {"printer_reason_x_vendor_thing": "x-vendor-thing-warning",
                     "card_jam": "media-jam-error"}
    assert spoil_category(["media-jam-error"]) == "jam"
    assert spoil_category(["marker-supply-empty-error"]) == "print_defect"


def _start(before: int | None, cards: int = 1) -> journal.StartRecord:
    return journal.StartRecord(job="cups:q:1:abc", queue="q", cups_job=1, attempt=1,
                               copies=cards, cards=cards, at="t", printer="p",
                               counter_before=before)


def _end(after: int | None, code: int = 0, reasons: list[str] | None = None,
         inside: bool = False) -> journal.EndRecord:
    return journal.EndRecord(job="cups:q:1:abc", attempt=1, exit_code=code, at="t",
                             counter_after=after, reasons=reasons or [], card_inside=inside)


def test_the_counter_decides_how_many_cards_were_picked() -> None:
    p = plan_attempt(_start(10, cards=2), _end(13), None)
    assert (p.picked, p.verified, p.completes, p.last) == (3, True, 3, "complete")


def test_without_a_counter_cards_are_copies_and_unverified() -> None:
    p = plan_attempt(_start(None, cards=2), _end(None), None)
    assert (p.picked, p.verified, p.completes) == (2, False, 2)
    failed = plan_attempt(_start(None, cards=2), _end(None, code=1), None)
    assert (failed.picked, failed.state) == (0, "failed")
    # CUPS' ipp backend exits 0 after the printer refused the document.
    refused = _end(None)
    refused.errors = 1
    assert plan_attempt(_start(None, cards=2), refused, None).state == "failed"


def test_the_printers_state_wins_over_an_exit_code_of_zero() -> None:
    p = plan_attempt(_start(5), _end(6, reasons=["media-jam-error"]), None)
    assert (p.completes, p.last, p.category) == (0, "reject", "jam")
    p = plan_attempt(_start(5, cards=3), _end(8, inside=True), None)
    assert (p.completes, p.last, p.category) == (2, "reject", "print_defect")


def test_a_failure_with_no_evidence_leaves_the_last_card_open() -> None:
    p = plan_attempt(_start(5), _end(6, code=1), None)
    assert (p.completes, p.last, p.state) == (0, "open", "unresolved")


def test_an_attempt_cups_ran_again_hands_its_picks_to_the_operator() -> None:
    p = plan_attempt(_start(5), None, 7)
    assert (p.picked, p.completes, p.last, p.state) == (2, 0, "open", "interrupted")
    assert plan_attempt(_start(5), None, None).picked == 0


def test_job_keys_are_unique_across_spool_resets_and_carry_no_options() -> None:
    a = job_key("ektp", 7, "job-uuid=urn:uuid:a477f27b-c1d6-3710-61db-bc3b21cdd505 "
                           "document-name-supplied=Siti")
    b = job_key("ektp", 7, "job-uuid=urn:uuid:0b1c27b0-c1d6-3710-61db-bc3b21cdd505")
    assert a == "cups:ektp:7:a477f27bc1d6" and a != b
    assert "Siti" not in a


def test_journal_records_round_trip_and_foreign_files_are_reported(tmp_path: Path) -> None:
    d = tmp_path / "j"
    d.mkdir()
    s = _start(3)
    journal.write_start(d, s)
    assert journal.next_attempt(d, s.job) == 2
    (d / "garbage.json").write_text("{")
    (d / "x.001.end.json").write_text("not json")
    jobs, problems = journal.read_attempts(d)
    assert jobs[s.job][0].start == s and jobs[s.job][0].end is None
    assert len(problems) == 2
    journal.write_end(d, _end(4))
    jobs, _ = journal.read_attempts(d)
    assert jobs[s.job][0].end == _end(4)
    journal.remove(jobs[s.job][0].files)
    assert sorted(os.listdir(d)) == ["garbage.json", "x.001.end.json"]


def test_ipp_requests_encode_and_responses_decode() -> None:
    req = ipp.Request(ipp.GET_PRINTER_ATTRIBUTES)
    req.op(ipp.URI, "printer-uri", "ipp://localhost/printers/q")
    req.op(ipp.KEYWORD, "requested-attributes", "printer-state", "marker-levels")
    data = req.encode()
    assert data[:4] == b"\x01\x01\x00\x0b" and data.endswith(b"\x03")
    # A response: status ok, a printer group with an enum, a 1setOf integer and text.
    resp = (b"\x01\x01\x00\x00\x00\x00\x00\x01" + b"\x04"
            + b"\x23\x00\x0dprinter-state\x00\x04\x00\x00\x00\x05"
            + b"\x21\x00\x0dmarker-levels\x00\x04\x00\x00\x00\x28"
            + b"\x21\x00\x00\x00\x04\xff\xff\xff\xff"
            + b"\x41\x00\x15printer-state-message\x00\x03jam" + b"\x03")
    r = ipp.decode(resp)
    g = r.first("printer")
    assert r.ok and g["printer-state"] == [5] and g["marker-levels"] == [40, -1]
    assert g["printer-state-message"] == ["jam"]


@given(st.binary(max_size=200))
def test_ipp_decoding_of_garbage_raises_only_ipp_errors(data: bytes) -> None:
    try:
        resp = ipp.decode(data)
    except ipp.IppError as exc:
        assert str(exc).startswith("IPP response")
    else:
        assert isinstance(resp.status, int) and all(isinstance(g, dict) for _n, g in resp.groups)
