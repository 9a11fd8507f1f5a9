"""Magicard-style framed key/value protocol: framing and keys.

Facts from ``shared/reference/printers.md``. Assumptions (documented in
``docs/PRINTERS.md``): status key ``PST`` answers ``READY``, ``BUSY`` or
``ERROR:<word>[;<word>...]`` with the words below, ``MDL`` answers the model
name, ``CPS`` the card position (``NONE`` / ``PRINT``); simple commands answer
``OK`` or ``ERROR:<word>``; a job header starts the job by picking a card,
each panel prints as it arrives, 0x03 ends the job and ejects; ``RST`` inside
a job opened with ``REJ ON`` drops the card into the reject output. Panel data
is ASCII (hex) so that it cannot contain the framing bytes.
"""

from typing import Final

ENQ: Final = b"\x05"
SOH: Final = b"\x01"
FS: Final = b"\x1c"
ETX: Final = b"\x03"
COLON: Final = b"\x3a"

REQUEST_PREAMBLE: Final = ENQ * 9 + SOH
JOB_PREAMBLE: Final = ENQ * 64 + SOH
REQUEST_TRAILER: Final = FS + ETX
#: A reply is SOH, data, then "," ETX.
REPLY_START: Final = SOH
REPLY_END: Final = b"," + ETX

USB_VENDOR_ID: Final = 0x0C1F
USB_PRODUCT_ID_TANGO_2E: Final = 0x1800

STATUS_PREFIX: Final = "REQ,STA,"
# Status keys
SERIAL: Final = "MSR"
FIRMWARE: Final = "VRS"
MODEL: Final = "MDL"
TOTAL_CARDS: Final = "TCQ"
HEAD_CARDS: Final = "TCP"
CLEANINGS: Final = "TCN"
CARDS_SINCE_CLEANING: Final = "CCQ"
TOTAL_PANELS: Final = "TPQ"
RIBBON_REMAINING: Final = "DFR"
PRINTER_STATUS: Final = "PST"
CARD_POSITION: Final = "CPS"

# Simple commands
RESET: Final = "RST"
TEST_CARD: Final = "TST"
EJECT: Final = "EJT"
CLEAR: Final = "CLR"

REJECT_ON: Final = "REJ ON"

OK: Final = "OK"
READY: Final = "READY"
BUSY: Final = "BUSY"
ERROR_PREFIX: Final = "ERROR:"

# Error words in PST / command answers
E_NO_CARDS: Final = "NO_CARDS"
E_CARD_JAM: Final = "CARD_JAM"
E_RIBBON_OUT: Final = "RIBBON_OUT"
E_COVER_OPEN: Final = "COVER_OPEN"
E_REJECT_FULL: Final = "REJECT_FULL"
E_HEAD_HOT: Final = "HEAD_HOT"
E_NO_JOB: Final = "NO_JOB"
E_BAD_COMMAND: Final = "BAD_COMMAND"

POS_NONE: Final = "NONE"
POS_PRINT: Final = "PRINT"

#: Panel colour letters.
PANEL_LETTERS: Final = "YMCKO"
