"""Fault codes (DESIGN §4): each code's default severity and what to do about it.

Every fault the agent can raise is listed here once; a printer-state reason
CUPS reports that has no code of its own becomes ``printer_reason_<keyword>``.
"""

from __future__ import annotations

from station_agent.i18n import N_

INFO, WARNING, ERROR, CRITICAL = "info", "warning", "error", "critical"


#: Default severity and what a technician should do, per fault code.
CODES: dict[str, tuple[str, str]] = {
    "card_jam": (ERROR, N_("open the printer, remove the jammed card, then resolve the job")),
    "feeder_empty": (WARNING, N_("load blanks into the feeder")),
    "ribbon_out": (ERROR, N_("replace the ribbon, then record the new one with `station-agent "
                            "supplies install`")),
    "cover_open": (ERROR, N_("close the printer cover")),
    "reject_box_full": (ERROR, N_("empty the reject box into the spoiled-card custody bag")),
    "head_overheat": (WARNING, N_("let the print head cool down")),
    "printer_offline": (ERROR, N_("check the printer's power and cable")),
    "printer_replaced": (ERROR, N_("reconnect the configured printer or update the config")),
    "printer_protocol_error": (WARNING, N_("check the cable; if it persists, power-cycle the "
                                        "printer")),
    "printer_unsupported": (ERROR, N_("use a printer family that supports this step")),
    "unreported_pick": (ERROR, N_("another program used the printer: find out which; the cards "
                               "were written off")),
    "chip_unreadable": (WARNING, N_("several chips in a row failed their check: check the reader "
                                 "and its antenna position, then the blank batch")),
    "pcsc_service_down": (ERROR, N_("start the PC/SC service (systemctl start pcscd.socket)")),
    "reader_missing": (ERROR, N_("check the reader's USB cable and the pcsc:// name in the "
                                 "config")),
    "link_down": (CRITICAL, N_("this station has no network route: check its network cable, "
                            "Wi-Fi or the office switch")),
    "dns_failure": (ERROR, N_("the server's name does not resolve: check the DNS settings, or "
                           "ask the network administrator")),
    "server_unreachable": (ERROR, N_("the central server does not answer: if other stations "
                                  "reach it, check this station's firewall/proxy; otherwise "
                                  "report the outage to the data centre")),
    "server_slow": (WARNING, N_("the central server answers slowly: expect delays; report it "
                             "if it lasts")),
    "stock_low": (WARNING, N_("request a new delivery of blanks from the provincial office now")),
    "disk_full": (CRITICAL, N_("free space on the state directory's disk; nothing can be recorded "
                            "until then")),
    "uplink_down": (WARNING, N_("events are kept on this station and sent when the broker is "
                             "back; if it lasts, check [uplink] in the config and the network "
                             "path to the broker")),
    "job_unresolved": (ERROR, N_("a card's fate is unknown (the agent was down, or the printer "
                              "failed mid-job): find it and resolve the job with `station-agent "
                              "jobs resolve JOB --outcome issued|spoiled|lost`")),
    "ribbon_low": (WARNING, N_("the ribbon is nearly finished: have a new one ready")),
    "ribbon_changed": (WARNING, N_("the printer reports a new ribbon: record it with "
                                   "`station-agent supplies install --kind KIND --printer "
                                   "PRINTER` (this finishes the old one)")),
    "supply_low": (WARNING, N_("few units of this supply are left in stock: request more now "
                               "(`station-agent supplies` shows how many)")),
    "supply_unrecorded": (WARNING, N_("the printer prints but no ribbon or film is recorded "
                                      "in it: record the one in it with `station-agent "
                                      "supplies install`")),
    "output_full": (WARNING, N_("empty the printer's output hopper")),
    "feeder_missing": (ERROR, N_("put the card feeder (input hopper) back in the printer")),
    "queue_stopped": (ERROR, N_("the CUPS queue is stopped: fix the printer, then start the queue "
                             "again (cupsenable QUEUE)")),
    "queue_missing": (ERROR, N_("add the CUPS queue named in [[printer]] queue, or fix the name")),
    "console_down": (WARNING, N_("the office console could not start: set [web] listen to a "
                                 "free address in the config, then reload the daemon")),
    "spooler_down": (ERROR, N_("the print spooler (cupsd) does not answer: start it (systemctl "
                            "start cups) or check [cups] server in the config")),
}
#: What each fault is, in a few words an office person understands.
TITLES: dict[str, str] = {
    "card_jam": N_("Card jammed in the printer"),
    "feeder_empty": N_("Card feeder empty"),
    "ribbon_out": N_("Ribbon finished"),
    "cover_open": N_("Printer cover open"),
    "reject_box_full": N_("Reject box full"),
    "head_overheat": N_("Print head too hot"),
    "printer_offline": N_("Printer not answering"),
    "printer_replaced": N_("A different printer is connected"),
    "printer_protocol_error": N_("Printer communication errors"),
    "printer_unsupported": N_("Printer cannot do this step"),
    "unreported_pick": N_("Cards taken by another program"),
    "chip_unreadable": N_("Chips fail their check"),
    "pcsc_service_down": N_("Card reader service stopped"),
    "reader_missing": N_("Card reader missing"),
    "link_down": N_("No network"),
    "dns_failure": N_("Server name does not resolve"),
    "server_unreachable": N_("Central server unreachable"),
    "server_slow": N_("Central server slow"),
    "stock_low": N_("Blank stock low"),
    "disk_full": N_("Disk full"),
    "uplink_down": N_("Reports not reaching the centre"),
    "job_unresolved": N_("A card's fate is unknown"),
    "ribbon_low": N_("Ribbon nearly finished"),
    "ribbon_changed": N_("New ribbon not recorded"),
    "supply_low": N_("Supply stock low"),
    "supply_unrecorded": N_("Supply in the printer not recorded"),
    "output_full": N_("Output hopper full"),
    "feeder_missing": N_("Card feeder removed"),
    "queue_stopped": N_("Print queue stopped"),
    "queue_missing": N_("Print queue missing"),
    "spooler_down": N_("Print spooler not running"),
    "console_down": N_("Office console not running"),
}


def title(code: str) -> str:
    """What ``code`` is, in English (translate it where it is shown)."""
    return TITLES.get(code) or code.replace("_", " ").capitalize()


#: A printer-state reason the agent has no code for (``printer_reason_<keyword>``).
_VENDOR_REASON = (INFO, N_("the printer reports a condition the agent does not know: see the "
                        "printer's display or its manual"))


def describe(code: str) -> tuple[str, str]:
    """Default severity and what to do for ``code``."""
    if code in CODES:
        return CODES[code]
    if code.startswith("printer_reason_"):
        return _VENDOR_REASON
    return ERROR, N_("see the technician's guide")

#: Printer conditions a driver reports (``Status.conditions``, ``PrinterError.code``),
#: each the code of the fault it raises; polled with hysteresis, raised at once by a job.
PRINTER_CONDITIONS: tuple[str, ...] = (
    "card_jam", "feeder_empty", "ribbon_out", "cover_open", "reject_box_full",
    "head_overheat", "printer_protocol_error", "printer_offline", "printer_replaced")
#: Reader conditions a reader adapter reports (``ReaderError.code``).
READER_CONDITIONS: tuple[str, ...] = ("pcsc_service_down", "reader_missing")
