"""USB bulk transport through pyusb (``usb://VID:PID[?serial=S&interface=N]``).

Finds the device (by serial number when given), detaches a kernel driver
bound to the interface (usblp often is), claims the interface and talks over
its first bulk OUT / bulk IN endpoint pair. ``backend`` is any pyusb backend;
the simulators provide one so the real pyusb code path runs in tests.
"""

from __future__ import annotations

import contextlib
import errno
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import usb.core
import usb.util

from drivers.transports.base import Transport, TransportError, TransportGone

_GONE = {errno.ENODEV, errno.EIO, errno.ENOENT, errno.EPIPE, errno.ENXIO}


def parse_usb_url(url: str) -> tuple[int, int, str | None, int]:
    """``(vendor, product, serial or None, interface)`` of a ``usb://`` URL."""
    parts = urlsplit(url)
    ids = parts.netloc or parts.path.lstrip("/")
    try:
        vid_s, pid_s = ids.split(":")
        vid, pid = int(vid_s, 16), int(pid_s, 16)
    except ValueError:
        raise TransportError(f"{url}: expected usb://VID:PID with hex ids, e.g. "
                             "usb://0f49:0a00") from None
    serial_no, interface = None, 0
    for key, value in parse_qsl(parts.query):
        if key == "serial":
            serial_no = value
        elif key == "interface" and value.isdigit():
            interface = int(value)
        else:
            raise TransportError(f"{url}: unknown or bad USB option {key}={value!r}; known: "
                                 "serial, interface")
    return vid, pid, serial_no, interface


class UsbTransport(Transport):
    """Bulk endpoints of one USB interface."""

    def __init__(self, url: str, backend: Any = None) -> None:
        self.url = url
        self.vid, self.pid, self.serial, self.interface = parse_usb_url(url)
        self.backend = backend
        self._dev: Any = None
        self._out: Any = None
        self._in: Any = None

    def _find(self) -> Any:
        try:
            devices = list(usb.core.find(find_all=True, idVendor=self.vid, idProduct=self.pid,
                                         backend=self.backend) or [])
        except usb.core.NoBackendError as exc:
            raise TransportError(f"{self.url}: no USB backend (install libusb-1.0-0)") from exc
        for dev in devices:
            if self.serial is None:
                return dev
            try:
                if dev.serial_number == self.serial:
                    return dev
            except (usb.core.USBError, ValueError):
                continue
        which = f" with serial {self.serial}" if self.serial else ""
        raise TransportGone(f"{self.url}: no USB device {self.vid:04x}:{self.pid:04x}{which}; "
                            "check the cable and the power")

    def open(self) -> None:
        if self._dev is not None:
            return
        dev = self._find()
        try:
            try:
                if dev.is_kernel_driver_active(self.interface):
                    dev.detach_kernel_driver(self.interface)
            except NotImplementedError:
                pass
            try:
                cfg = dev.get_active_configuration()
            except usb.core.USBError:
                dev.set_configuration()
                cfg = dev.get_active_configuration()
            intf = cfg[(self.interface, 0)]
            usb.util.claim_interface(dev, self.interface)
            self._out = usb.util.find_descriptor(
                intf, custom_match=lambda e: _is_bulk(e, usb.util.ENDPOINT_OUT))
            self._in = usb.util.find_descriptor(
                intf, custom_match=lambda e: _is_bulk(e, usb.util.ENDPOINT_IN))
            if self._out is None or self._in is None:
                raise TransportError(f"{self.url}: interface {self.interface} has no bulk "
                                     "IN/OUT endpoint pair; try ?interface=N")
        except usb.core.USBError as exc:
            usb.util.dispose_resources(dev)
            raise TransportGone(f"{self.url}: cannot claim the interface ({exc}); is "
                                "another program using the printer?") from exc
        self._dev = dev

    def close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is None:
            return
        with contextlib.suppress(usb.core.USBError):
            usb.util.release_interface(dev, self.interface)
        usb.util.dispose_resources(dev)

    def _require(self) -> Any:
        if self._dev is None:
            raise TransportGone(f"{self.url}: not open")
        return self._dev

    def _fail(self, exc: usb.core.USBError, doing: str) -> TransportError:
        if exc.errno in _GONE or exc.backend_error_code in (-4,):  # LIBUSB_ERROR_NO_DEVICE
            return TransportGone(f"{self.url}: the device is gone while {doing} ({exc})")
        return TransportError(f"{self.url}: USB error while {doing} ({exc})")

    def write(self, data: bytes) -> None:
        self._require()
        try:
            self._out.write(data, timeout=5000)
        except usb.core.USBTimeoutError as exc:
            raise TransportError(f"{self.url}: the printer did not take the data in 5 s") from exc
        except usb.core.USBError as exc:
            raise self._fail(exc, "writing") from exc

    def read(self, size: int, timeout: float) -> bytes:
        self._require()
        # libusb reads a whole packet; 0 ms would mean "wait forever".
        ms = max(1, int(timeout * 1000))
        try:
            data = self._in.read(max(size, self._in.wMaxPacketSize), timeout=ms)
        except usb.core.USBTimeoutError:
            return b""
        except usb.core.USBError as exc:
            raise self._fail(exc, "reading") from exc
        return bytes(data)


def _is_bulk(ep: Any, direction: int) -> bool:
    return bool(usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
                and usb.util.endpoint_direction(ep.bEndpointAddress) == direction)
