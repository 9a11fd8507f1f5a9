"""Printer fixtures: a simulator reachable over each transport, cleaned up after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from drivers.printers import Printer, open_printer
from drivers.protocols import evolis as ev
from drivers.protocols import magicard as mc
from simulators.printers import build_simulator
from simulators.printers.serve import PtyServer, TcpServer
from simulators.printers.usb_backend import SimUsbBackend, SimUsbDevice

#: "lp" is the printer-class character device transport, here over the pty's
#: slave path (usblp is a character device of the same read/write kind).
TRANSPORTS = ("pty", "tcp", "usb", "lp", "inprocess")
VENDORS = {"evolis": (ev.USB_VENDOR_ID, ev.USB_PRODUCT_ID_ZENIUS),
           "magicard": (mc.USB_VENDOR_ID, mc.USB_PRODUCT_ID_TANGO_2E)}


class Rig:
    """A simulator plus a driver connected to it over one transport."""

    def __init__(self, family: str, transport: str, tmp_path: Any, **options: Any) -> None:
        self.family, self.transport = family, transport
        self.sim = build_simulator(family, **options)
        self.model = self.sim.model
        self.server: Any = None
        if transport in ("pty", "lp"):
            self.server = PtyServer(self.sim, link=tmp_path / f"{family}-tty").start()
            url = self.server.url if transport == "pty" else f"lp://{self.server.link}"
        elif transport == "tcp":
            self.server = TcpServer(self.sim).start()
            url = self.server.url
        elif transport == "usb":
            vid, pid = VENDORS[family]
            backend = SimUsbBackend([SimUsbDevice(self.sim, vid, pid)])
            url = f"usb://{vid:04x}:{pid:04x}?serial={self.model.serial}"
        else:
            url = f"sim://{family}"
        if transport == "inprocess":
            from drivers.printers import printer_class
            from drivers.transports.link import Backoff, Link
            from simulators.devices import SimTransport

            self.printer: Printer = printer_class(family)(
                Link(SimTransport(url, self.sim), backoff=Backoff(0.01, 0.05)), timeout=0.3)
        else:
            from drivers.transports.link import Backoff

            self.printer = open_printer(
                url, family, timeout=0.3, backoff=Backoff(0.01, 0.05),
                usb_backend=backend if transport == "usb" else None)
        self.url = url

    def close(self) -> None:
        self.printer.close()
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def make_rig(tmp_path: Any) -> Iterator[Any]:
    rigs: list[Rig] = []

    def make(family: str, transport: str, **options: Any) -> Rig:
        rig = Rig(family, transport, tmp_path, **options)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()
