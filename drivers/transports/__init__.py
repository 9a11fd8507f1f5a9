"""Byte transports under every printer driver: serial (and rfc2217:// through
pyserial), TCP (``socket://``, a plain socket), USB bulk (pyusb), USB
printer-class character devices, and in-process simulators.
:func:`open_transport` picks one from a device URL;
:class:`~drivers.transports.link.Link` adds reconnect with backoff on top.
"""

from drivers.transports.base import (
    Transport,
    TransportError,
    TransportGone,
    WrongDevice,
)
from drivers.transports.urls import open_transport, parse_url

__all__ = ["Transport", "TransportError", "TransportGone", "WrongDevice", "open_transport",
           "parse_url"]
