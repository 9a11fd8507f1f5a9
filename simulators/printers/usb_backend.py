"""A pyusb backend that presents simulated printers as USB devices.

``usb.core.find(backend=SimUsbBackend([...]))`` finds them and the real pyusb
code path runs: descriptors, configuration, interface claiming, string
descriptors (the serial number), bulk transfers with timeouts. Each device
has one configuration with one vendor-specific interface and a bulk OUT
(0x01) / bulk IN (0x81) endpoint pair; a kernel driver is reported bound
until it is detached, as usblp would be. While a simulated device has
vanished it is not enumerated and transfers fail with ENODEV.
"""

from __future__ import annotations

import errno
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import usb.backend
import usb.core

_DESC_DEVICE, _DESC_CONFIG, _DESC_STRING, _DESC_INTERFACE, _DESC_ENDPOINT = 1, 2, 3, 4, 5
_GET_DESCRIPTOR = 6
_LANG_EN_US = 0x0409
_BULK = 0x02
_EP_OUT, _EP_IN = 0x01, 0x81
_PACKET = 64


@dataclass
class SimUsbDevice:
    """One simulated printer on the bus."""

    simulator: Any
    vendor_id: int
    product_id: int
    bus: int = 1
    address: int = 2
    manufacturer: str = "Simulated"
    product: str = "Card Printer"
    kernel_driver: bool = True
    pending: deque[tuple[float, bytes]] = field(default_factory=deque)
    claimed: set[int] = field(default_factory=set)
    configuration: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)

    @property
    def serial(self) -> str:
        return str(self.simulator.model.serial)

    def strings(self) -> dict[int, str]:
        return {1: self.manufacturer, 2: self.product, 3: self.serial}

    def gone(self) -> bool:
        return bool(self.simulator.model.is_vanished())


class _Handle:
    def __init__(self, dev: SimUsbDevice) -> None:
        self.dev = dev


def _no_device() -> usb.core.USBError:
    return usb.core.USBError("No such device (it may have been disconnected)",
                             error_code=-4, errno=errno.ENODEV)


class SimUsbBackend(usb.backend.IBackend):  # type: ignore[misc]
    """pyusb backend over :class:`SimUsbDevice` objects."""

    def __init__(self, devices: list[SimUsbDevice]) -> None:
        self.devices = devices

    # -- enumeration and descriptors -----------------------------------------

    def enumerate_devices(self) -> Any:
        return [d for d in self.devices if not d.gone()]

    def get_device_descriptor(self, dev: SimUsbDevice) -> Any:
        return SimpleNamespace(
            bLength=18, bDescriptorType=_DESC_DEVICE, bcdUSB=0x0200, bDeviceClass=0,
            bDeviceSubClass=0, bDeviceProtocol=0, bMaxPacketSize0=64,
            idVendor=dev.vendor_id, idProduct=dev.product_id, bcdDevice=0x0100,
            iManufacturer=1, iProduct=2, iSerialNumber=3, bNumConfigurations=1,
            address=dev.address, bus=dev.bus, port_number=1, port_numbers=(1,), speed=3)

    def get_configuration_descriptor(self, dev: SimUsbDevice, config: int) -> Any:
        if config != 0:
            raise IndexError(config)
        return SimpleNamespace(
            bLength=9, bDescriptorType=_DESC_CONFIG, wTotalLength=32, bNumInterfaces=1,
            bConfigurationValue=1, iConfiguration=0, bmAttributes=0xC0, bMaxPower=50,
            extra_descriptors=[])

    def get_interface_descriptor(self, dev: SimUsbDevice, intf: int, alt: int,
                                 config: int) -> Any:
        if (intf, alt, config) != (0, 0, 0):
            raise IndexError(intf)
        return SimpleNamespace(
            bLength=9, bDescriptorType=_DESC_INTERFACE, bInterfaceNumber=0,
            bAlternateSetting=0, bNumEndpoints=2, bInterfaceClass=0xFF,
            bInterfaceSubClass=0, bInterfaceProtocol=0, iInterface=0, extra_descriptors=[])

    def get_endpoint_descriptor(self, dev: SimUsbDevice, ep: int, intf: int, alt: int,
                                config: int) -> Any:
        if (intf, alt, config) != (0, 0, 0) or ep not in (0, 1):
            raise IndexError(ep)
        return SimpleNamespace(
            bLength=7, bDescriptorType=_DESC_ENDPOINT,
            bEndpointAddress=(_EP_OUT, _EP_IN)[ep], bmAttributes=_BULK,
            wMaxPacketSize=_PACKET, bInterval=0, bRefresh=0, bSynchAddress=0,
            extra_descriptors=[])

    # -- device handling -------------------------------------------------------

    def open_device(self, dev: SimUsbDevice) -> _Handle:
        if dev.gone():
            raise _no_device()
        return _Handle(dev)

    def close_device(self, dev_handle: _Handle) -> None:
        dev_handle.dev.claimed.clear()

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        dev_handle.dev.configuration = config_value

    def get_configuration(self, dev_handle: _Handle) -> int:
        if dev_handle.dev.configuration == 0:
            raise usb.core.USBError("not configured", error_code=-5, errno=errno.EIO)
        return dev_handle.dev.configuration

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        return None

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev = dev_handle.dev
        if dev.kernel_driver:
            raise usb.core.USBError("Resource busy", error_code=-6, errno=errno.EBUSY)
        dev.claimed.add(intf)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.dev.claimed.discard(intf)

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        return dev_handle.dev.kernel_driver

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.dev.kernel_driver = False

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.dev.kernel_driver = True

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        return None

    def reset_device(self, dev_handle: _Handle) -> None:
        return None

    # -- transfers ---------------------------------------------------------------

    def ctrl_transfer(self, dev_handle: _Handle, bmRequestType: int, bRequest: int,
                      wValue: int, wIndex: int, data: Any, timeout: int) -> int:
        """Standard GET_DESCRIPTOR for strings (what ``dev.serial_number`` asks)."""
        dev = dev_handle.dev
        if dev.gone():
            raise _no_device()
        if bmRequestType != 0x80 or bRequest != _GET_DESCRIPTOR or wValue >> 8 != _DESC_STRING:
            raise usb.core.USBError("Pipe error", error_code=-9, errno=errno.EPIPE)
        index = wValue & 0xFF
        if index == 0:
            payload = _LANG_EN_US.to_bytes(2, "little")
        else:
            text = dev.strings().get(index)
            if text is None:
                raise usb.core.USBError("Pipe error", error_code=-9, errno=errno.EPIPE)
            payload = text.encode("utf-16-le")
        desc = bytes([2 + len(payload), _DESC_STRING]) + payload
        n = min(len(desc), len(data))
        data[:n] = type(data)(data.typecode, desc[:n])
        return n

    def bulk_write(self, dev_handle: _Handle, ep: int, intf: int, data: Any,
                   timeout: int) -> int:
        dev = dev_handle.dev
        if dev.gone():
            raise _no_device()
        if intf not in dev.claimed:
            raise usb.core.USBError("interface not claimed", error_code=-6, errno=errno.EBUSY)
        payload = bytes(data)
        now = time.monotonic()
        replies = dev.simulator.receive(payload)
        with dev.cond:
            for reply, delay in replies:
                for i in range(0, len(reply), _PACKET):
                    dev.pending.append((now + delay, reply[i:i + _PACKET]))
            dev.cond.notify_all()
        return len(payload)

    def bulk_read(self, dev_handle: _Handle, ep: int, intf: int, buff: Any,
                  timeout: int) -> int:
        dev = dev_handle.dev
        deadline = time.monotonic() + (timeout / 1000.0 if timeout else 3600.0)
        with dev.cond:
            while True:
                if dev.gone():
                    raise _no_device()
                now = time.monotonic()
                if dev.pending and dev.pending[0][0] <= now:
                    _, packet = dev.pending.popleft()
                    n = min(len(packet), len(buff))
                    buff[:n] = type(buff)(buff.typecode, packet[:n])
                    return n
                if now >= deadline:
                    raise usb.core.USBTimeoutError("Operation timed out", error_code=-7,
                                                   errno=errno.ETIMEDOUT)
                wait = deadline - now
                if dev.pending:
                    wait = min(wait, dev.pending[0][0] - now)
                dev.cond.wait(min(wait, 0.05))
