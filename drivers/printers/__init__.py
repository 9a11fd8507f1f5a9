"""Card-printer drivers, one module per protocol family, and :func:`open_printer`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from drivers.printers.base import (
    Counters,
    Identity,
    Panel,
    Printer,
    PrinterError,
    PrinterOffline,
    ProtocolError,
    Status,
)
from drivers.protocols import evolis as _ev
from drivers.protocols import magicard as _mc
from drivers.registry import PRINTER_FAMILIES
from drivers.transports import TransportError, open_transport
from drivers.transports.link import Backoff, Link

#: The families this package drives (plugins may add more: :data:`PRINTER_FAMILIES`).
FAMILIES = ("evolis", "magicard")
_USB_VENDORS = {_ev.USB_VENDOR_ID: "evolis", _mc.USB_VENDOR_ID: "magicard"}


def printer_class(family: str) -> type[Printer]:
    """The driver class of ``family`` (:class:`ValueError` naming the known ones)."""
    try:
        return PRINTER_FAMILIES.get(family)  # type: ignore[no-any-return]
    except LookupError as exc:
        raise ValueError(str(exc)) from None


def family_from_url(url: str) -> str | None:
    """The protocol family a URL implies (``sim://evolis``, a known USB vendor id)."""
    parts = urlsplit(url)
    if parts.scheme == "sim":
        return parts.netloc or None
    if parts.scheme == "usb":
        try:
            return _USB_VENDORS.get(int((parts.netloc or "x:").split(":")[0], 16))
        except ValueError:
            return None
    return None


def open_printer(url: str, family: str | None = None, *, usb_backend: Any = None,
                 timeout: float = 2.0, backoff: Backoff | None = None) -> Printer:
    """A driver for the printer at ``url``; the connection opens on first use."""
    transport = open_transport(url, usb_backend=usb_backend)  # checks the URL first
    fam = family or family_from_url(url)
    if fam is None:
        raise ValueError(f"cannot tell the protocol family of {url}: give it "
                         f"(--family {' or '.join(PRINTER_FAMILIES.names())}, or family = ... "
                         "in the config)")
    cls = printer_class(fam)
    return cls(Link(transport, backoff=backoff), timeout=timeout)


__all__ = ["FAMILIES", "PRINTER_FAMILIES", "Counters", "Identity", "Panel", "Printer",
           "PrinterError",
           "PrinterOffline", "ProtocolError", "Status", "TransportError", "family_from_url",
           "open_printer", "printer_class"]
