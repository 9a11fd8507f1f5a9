"""Device URLs (DESIGN §6) to transports, through :data:`drivers.registry.TRANSPORTS`."""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, urlsplit

from drivers.registry import TRANSPORTS
from drivers.transports.base import Transport, TransportError

_EXAMPLES = ("serial:///dev/ttyUSB0?baudrate=115200, socket://host:port, rfc2217://host:port, "
             "usb://VID:PID[?serial=S], lp:///dev/usb/lp0, sim://evolis?...")


def parse_url(url: str) -> SplitResult:
    """Split ``url``, refusing schemes no transport serves."""
    parts = urlsplit(url)
    if not parts.scheme or parts.scheme not in TRANSPORTS:
        raise TransportError(f"unsupported device URL {url!r}: use one of {_EXAMPLES}")
    return parts


def open_transport(url: str, *, usb_backend: Any = None) -> Transport:
    """A transport for ``url`` (not yet opened)."""
    scheme = parse_url(url).scheme
    cls = TRANSPORTS.get(scheme)
    if scheme == "usb":
        return cls(url, backend=usb_backend)  # type: ignore[no-any-return]
    return cls(url)  # type: ignore[no-any-return]
