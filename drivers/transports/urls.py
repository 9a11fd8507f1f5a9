"""Device URLs (DESIGN §6) to transports."""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, urlsplit

from drivers.transports.base import Transport, TransportError

#: URL schemes and what opens them.
SCHEMES = ("serial", "socket", "tcp", "rfc2217", "loop", "usb", "lp", "sim")


def parse_url(url: str) -> SplitResult:
    """Split ``url``, refusing schemes no transport serves."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise TransportError(
            f"unsupported device URL {url!r}: use one of "
            "serial:///dev/ttyUSB0?baudrate=115200, socket://host:port, rfc2217://host:port, "
            "usb://VID:PID[?serial=S], lp:///dev/usb/lp0, sim://evolis?...")
    return parts


def open_transport(url: str, *, usb_backend: Any = None) -> Transport:
    """A transport for ``url`` (not yet opened)."""
    scheme = parse_url(url).scheme
    if scheme == "usb":
        from drivers.transports.usb import UsbTransport

        return UsbTransport(url, backend=usb_backend)
    if scheme == "lp":
        from drivers.transports.lp import LpTransport

        return LpTransport(url)
    if scheme in ("socket", "tcp"):
        from drivers.transports.tcp import TcpTransport

        return TcpTransport(url)
    if scheme == "sim":
        from drivers.transports.sim import SimTransport

        return SimTransport(url)
    from drivers.transports.serial import SerialTransport

    return SerialTransport(url)
