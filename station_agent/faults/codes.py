"""Fault codes (DESIGN §4): each code's default severity and what to do about it.

Every fault the agent can raise is listed here once; a printer-state reason
CUPS reports that has no code of its own becomes ``printer_reason_<keyword>``.
"""

from __future__ import annotations

INFO, WARNING, ERROR, CRITICAL = "info", "warning", "error", "critical"

#: Default severity and what a technician should do, per fault code.
CODES: dict[str, tuple[str, str]] = {
    "card_jam": (ERROR, "open the printer, remove the jammed card, then resolve the job"),
    "feeder_empty": (WARNING, "load blanks into the feeder"),
    "ribbon_out": (ERROR, "replace the ribbon"),
    "cover_open": (ERROR, "close the printer cover"),
    "reject_box_full": (ERROR, "empty the reject box into the spoiled-card custody bag"),
    "head_overheat": (WARNING, "let the print head cool down"),
    "printer_offline": (ERROR, "check the printer's power and cable"),
    "printer_replaced": (ERROR, "reconnect the configured printer or update the config"),
    "printer_protocol_error": (WARNING, "check the cable; if it persists, power-cycle the "
                                        "printer"),
    "printer_unsupported": (ERROR, "use a printer family that supports this step"),
    "unreported_pick": (ERROR, "another program used the printer: find out which; the cards "
                               "were written off"),
    "chip_unreadable": (WARNING, "several chips in a row failed their check: check the reader "
                                 "and its antenna position, then the blank batch"),
    "pcsc_service_down": (ERROR, "start the PC/SC service (systemctl start pcscd.socket)"),
    "reader_missing": (ERROR, "check the reader's USB cable and the pcsc:// name in the config"),
    "link_down": (CRITICAL, "this station has no network route: check its network cable, "
                            "Wi-Fi or the office switch"),
    "dns_failure": (ERROR, "the server's name does not resolve: check the DNS settings, or "
                           "ask the network administrator"),
    "server_unreachable": (ERROR, "the central server does not answer: if other stations "
                                  "reach it, check this station's firewall/proxy; otherwise "
                                  "report the outage to the data centre"),
    "server_slow": (WARNING, "the central server answers slowly: expect delays; report it "
                             "if it lasts"),
    "stock_low": (WARNING, "request a new delivery of blanks from the provincial office now"),
    "disk_full": (CRITICAL, "free space on the state directory's disk; nothing can be recorded "
                            "until then"),
    "uplink_down": (WARNING, "events are kept on this station and sent when the broker is "
                             "back; if it lasts, check [uplink] in the config and the network "
                             "path to the broker"),
    "job_unresolved": (ERROR, "a card's fate is unknown (the agent was down, or the printer "
                              "failed mid-job): find it and resolve the job with `station-agent "
                              "jobs resolve JOB --outcome issued|spoiled|lost`"),
    "ribbon_low": (WARNING, "the ribbon is nearly finished: have a new one ready"),
    "output_full": (WARNING, "empty the printer's output hopper"),
    "feeder_missing": (ERROR, "put the card feeder (input hopper) back in the printer"),
    "queue_stopped": (ERROR, "the CUPS queue is stopped: fix the printer, then start the queue "
                             "again (cupsenable QUEUE)"),
    "queue_missing": (ERROR, "add the CUPS queue named in [[printer]] queue, or fix the name"),
    "spooler_down": (ERROR, "the print spooler (cupsd) does not answer: start it (systemctl "
                            "start cups) or check [cups] server in the config"),
}
#: A printer-state reason the agent has no code for (``printer_reason_<keyword>``).
_VENDOR_REASON = (INFO, "the printer reports a condition the agent does not know: see the "
                        "printer's display or its manual")


def describe(code: str) -> tuple[str, str]:
    """Default severity and what to do for ``code``."""
    if code in CODES:
        return CODES[code]
    if code.startswith("printer_reason_"):
        return _VENDOR_REASON
    return ERROR, "see the technician's guide"

#: Printer conditions a driver reports (``Status.conditions``, ``PrinterError.code``),
#: each the code of the fault it raises; polled with hysteresis, raised at once by a job.
PRINTER_CONDITIONS: tuple[str, ...] = (
    "card_jam", "feeder_empty", "ribbon_out", "cover_open", "reject_box_full",
    "head_overheat", "printer_protocol_error", "printer_offline", "printer_replaced")
#: Reader conditions a reader adapter reports (``ReaderError.code``).
READER_CONDITIONS: tuple[str, ...] = ("pcsc_service_down", "reader_missing")
