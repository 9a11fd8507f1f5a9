"""Registries by name: transports by URL scheme, printer drivers by protocol family,
reader adapters by URL scheme (python-can's interface registry).

Each registry holds the drivers of this package, named as ``"module:attr"`` so
nothing is imported until it is used, plus whatever other installed packages
declare in the registry's entry-point group. The simulators register the
``sim`` transport and the ``sim`` reader that way (``pyproject.toml``), so
a ``sim://`` device opens like any other while this package knows nothing of
them. A third-party driver registers the same way::

    [project.entry-points."station_agent.printers"]
    acme = "acme_station:AcmePrinter"
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Final


class Registry:
    """Names to objects (classes or factories) of one kind of driver."""

    def __init__(self, what: str, group: str, builtin: dict[str, str]) -> None:
        self.what, self.group = what, group
        self._refs: dict[str, str] = dict(builtin)
        self._loaded: dict[str, Any] = {}
        self._plugins_read = False
        self._lock = threading.Lock()

    def _read_plugins(self) -> None:
        with self._lock:
            if self._plugins_read:
                return
            # Read on the first name not built in (importlib.metadata is slow to import).
            from importlib.metadata import entry_points

            for ep in entry_points(group=self.group):
                self._refs.setdefault(ep.name, ep.value)
            self._plugins_read = True

    def register(self, name: str, target: Any) -> None:
        """Add ``name`` (an object, or ``"module:attr"`` to import on first use)."""
        if isinstance(target, str):
            self._refs[name] = target
            self._loaded.pop(name, None)
        else:
            self._loaded[name] = target

    def __contains__(self, name: object) -> bool:
        if name in self._refs or name in self._loaded:
            return True
        self._read_plugins()
        return name in self._refs

    def names(self) -> tuple[str, ...]:
        """Every name, this package's and the plugins'."""
        self._read_plugins()
        return tuple(sorted({*self._refs, *self._loaded}))

    def get(self, name: str) -> Any:
        """The object registered as ``name`` (:class:`LookupError` if none)."""
        if name in self._loaded:
            return self._loaded[name]
        if name not in self:
            raise LookupError(f"unknown {self.what} {name!r}: use one of "
                              f"{', '.join(self.names())}")
        module, _, attr = self._refs[name].partition(":")
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        self._loaded[name] = obj
        return obj


#: URL scheme -> :class:`~drivers.transports.base.Transport` class (``cls(url, **options)``).
TRANSPORTS: Final = Registry("device URL scheme", "station_agent.transports", {
    "serial": "drivers.transports.serial:SerialTransport",
    "rfc2217": "drivers.transports.serial:SerialTransport",
    "loop": "drivers.transports.serial:SerialTransport",
    "socket": "drivers.transports.tcp:TcpTransport",
    "tcp": "drivers.transports.tcp:TcpTransport",
    "usb": "drivers.transports.usb:UsbTransport",
    "lp": "drivers.transports.lp:LpTransport",
})

#: Protocol family -> :class:`~drivers.printers.base.Printer` class.
PRINTER_FAMILIES: Final = Registry("printer family", "station_agent.printers", {
    "evolis": "drivers.printers.evolis:EvolisPrinter",
    "magicard": "drivers.printers.magicard:MagicardPrinter",
})

#: Reader URL scheme -> factory ``(url, policy) -> Reader``.
READERS: Final = Registry("reader URL scheme", "station_agent.readers", {
    "pcsc": "drivers.readers.pcsc:PcscReader",
})
