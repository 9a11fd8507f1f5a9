"""Evolis-style ESC command protocol: framing, commands, codes and status bits.

Facts from ``shared/reference/printers.md``. Assumptions (documented in
``docs/PRINTERS.md``): the status-word query is ``Rst`` answering four
comma-separated 8-digit hex words ``config,info,warning,error``; the cover
sensor ``Rse;o`` reads ``5,00 Volts`` closed and ``0,00 Volts`` open; action
commands answer ``OK`` or ``ERR;<nack code>`` in text mode.
"""

from typing import Final

ESC: Final = b"\x1b"
CR: Final = b"\r"
NUL: Final = b"\x00"
ACK: Final = b"\x06"
NACK: Final = b"\x15"
#: Replies end in CR or NUL (USB/parallel readers stop at either).
TERMINATORS: Final = (CR, NUL)

USB_VENDOR_ID: Final = 0x0F49
USB_PRODUCT_ID_ZENIUS: Final = 0x0A00

# Identity
FIRMWARE: Final = "Rfv"
SERIAL: Final = "Rsn"
MODEL: Final = "Rtp"
# Counters
COUNT_CARDS: Final = "Rco;c"
COUNT_PANELS: Final = "Rco;p"
COUNT_CLEANINGS: Final = "Rco;n"
RIBBON_REMAINING: Final = "Rrt;count"
# Queries
CARD_POSITION: Final = "Rlr;p"
FEEDER_SENSOR: Final = "Rse;f"
COVER_SENSOR: Final = "Rse;o"
STATUS_WORDS: Final = "Rst"
# Card moves
INSERT: Final = "Si"
INSERT_CONTACTLESS: Final = "Sic"
INSERT_CONTACT: Final = "Sis"
EJECT: Final = "Se"
EJECT_REJECT: Final = "Ser"
# Control
CLEAR_STATUS: Final = "Scs"
SOFT_RESET: Final = "Srs"
HOST_ERRORS: Final = "Pem;2"
RIBBON_TYPE: Final = "Pr"
# Printing: Db;<panel>;<levels>;<data>, Sp;<panel>, Ssd;<panel>
DOWNLOAD: Final = "Db"
DOWNLOAD_COMPRESSED: Final = "Dbc"
PRINT_PANEL: Final = "Sp"
PRINT_NO_DOWNLOAD: Final = "Ssd"

OK: Final = "OK"
ERR_PREFIX: Final = "ERR;"

# Card position answers (Rlr;p)
POS_NONE: Final = "OK"
POS_PRINT: Final = "CARD"
POS_CONTACT: Final = "SMART CARD"
POS_CONTACTLESS: Final = "CONTACTLESS CARD"

# Sensor answers
VOLTS_HIGH: Final = "5,00 Volts"
VOLTS_LOW: Final = "0,00 Volts"

# NACK codes
NACK_COMMAND: Final = "1"
NACK_PARAMETER: Final = "2"
NACK_MECHANICAL: Final = "T"
NACK_COVER: Final = "C"
NACK_FEEDER: Final = "F"
NACK_RIBBON: Final = "R"
NACK_MAG_CHECKSUM: Final = "K"
NACK_MAG_DATA: Final = "D"
NACK_MAG_WRITE: Final = "W"

# Status words: warning bits
WARN_FEEDER_EMPTY: Final = 0x01000000
WARN_COVER_OPEN: Final = 0x00020000
WARN_NO_RIBBON: Final = 0x00010000
WARN_RIBBON_ENDED: Final = 0x00080000
WARN_REJECT_FULL: Final = 0x08000000
WARN_HEAD_COOLING: Final = 0x00200000
WARN_HOPPER_FULL: Final = 0x00100000
# error bits
ERR_MECHANICAL: Final = 0x01000000
ERR_FEED: Final = 0x08000000
ERR_RIBBON: Final = 0x04000000
ERR_COVER_DURING_JOB: Final = 0x02000000
ERR_HEAD_TEMP: Final = 0x20000000
ERR_REJECT_FULL: Final = 0x00800000
# info bits
INFO_RIBBON_LOW: Final = 0x00080000
INFO_CARD_CONTACTLESS: Final = 0x08000000
INFO_CARD_CONTACT: Final = 0x04000000
INFO_CARD_PRINT: Final = 0x02000000
INFO_BUSY: Final = 0x00000001
