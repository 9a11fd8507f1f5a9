"""The station's configuration file, ``station.toml`` (DESIGN §6b).

:func:`load_config` reads and validates the whole file up front. Every error
is one line naming the file, the table (``[[printer]] #2``), the key and what
was expected, e.g.::

    station.toml: [[printer]] #2 url: expected a device URL such as
    serial:///dev/ttyUSB0, got "COM3"

Unknown keys are errors (they are usually typos).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from drivers.registry import PRINTER_FAMILIES, READERS, TRANSPORTS, Registry
from station_agent import clock
from station_agent.errors import BadInput
from station_agent.uplink.broker import Broker, parse_broker

if TYPE_CHECKING:
    from drivers.readers.base import ChipPolicy
    from station_agent.uplink.relay import RelaySettings

_ATR_PATTERN = re.compile(r"^(?:[0-9A-Fa-f?]{2}){1,33}$")
_SW = re.compile(r"^[0-9A-Fa-f]{4}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,120}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^\[?[0-9A-Fa-f:.]+\]?$")
_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,126}$")


@dataclass(frozen=True)
class PrinterConfig:
    """One ``[[printer]]``."""

    id: str
    url: str
    family: str | None = None
    poll_interval: float = 1.0
    #: The CUPS queue whose jobs are this printer's cards (DESIGN §8); then
    #: ``url`` is optional and used by the backend for the card counter.
    queue: str | None = None
    #: Cards one copy of a spooled job prints (when no counter says).
    cards_per_copy: int = 1


@dataclass(frozen=True)
class ReaderConfig:
    """One ``[[reader]]``."""

    id: str
    url: str
    printer: str | None = None
    #: Chip-check policy (see :class:`drivers.readers.base.ChipPolicy`).
    chip_atr: tuple[str, ...] = ("3B8?8001",)
    chip_select_sw: tuple[str, ...] = ("9000",)
    chip_retries: int = 3

    def policy(self) -> ChipPolicy:
        """The chip-check policy these keys describe."""
        from drivers.readers.base import ChipPolicy

        return ChipPolicy(atr_patterns=self.chip_atr, expected_sw=self.chip_select_sw,
                          retries=self.chip_retries)


@dataclass(frozen=True)
class NetworkConfig:
    """``[network]``: the central server the station depends on."""

    probe_url: str | None = None
    interval: float = 5.0
    fail_after: int = 3
    clear_after: int = 2
    slow_ms: float = 2000.0
    timeout: float = 10.0          # one probe gives up after this many seconds


@dataclass(frozen=True)
class FaultsConfig:
    """``[faults]``: hysteresis of polled device conditions (printers, readers)."""

    raise_after: int = 2           # bad polls in a row before a fault is raised
    clear_after: int = 2           # good polls in a row before it clears
    flap_high: float = 50.0        # % weighted state change to start flapping
    flap_low: float = 25.0         # % to stop flapping


@dataclass(frozen=True)
class UplinkConfig:
    """``[uplink]``: the MQTT broker events are forwarded to (docs/UPLINK.md)."""

    mqtt_url: str | None = None
    cafile: Path | None = None           # mqtts:// only; default: the system's CAs
    username: str | None = None
    password_file: Path | None = None    # mode must not let group/others read it
    certfile: Path | None = None         # mqtts:// client certificate (mutual TLS)
    keyfile: Path | None = None          # its private key; mode must be 600 or stricter
    client_id: str | None = None         # default "station-agent-<station id>"
    topic_prefix: str = "stations"
    window: int = 64                     # unacknowledged events at most
    keepalive: int = 30
    reconnect_max: float = 30.0
    status_interval: float = 30.0

    def broker(self) -> Broker | None:
        """The validated broker, or None when no uplink is configured."""
        if self.mqtt_url is None:
            return None
        return parse_broker(self.mqtt_url, cafile=self.cafile, username=self.username,
                            password_file=self.password_file, certfile=self.certfile,
                            keyfile=self.keyfile, what="[uplink] mqtt_url")

    def settings(self) -> RelaySettings:
        """The relay's settings."""
        from station_agent.uplink.relay import RelaySettings

        return RelaySettings(window=self.window, keepalive=self.keepalive,
                             reconnect_max=self.reconnect_max,
                             status_interval=self.status_interval, prefix=self.topic_prefix,
                             client_id=self.client_id)


@dataclass(frozen=True)
class StockConfig:
    """``[stock]``."""

    low_threshold: int = 500


#: What a supply kind is for; ribbons and films are consumed by every card printed.
SUPPLY_PARTS: tuple[str, ...] = ("ribbon", "film", "cleaning", "other")


@dataclass(frozen=True)
class SupplyConfig:
    """One ``[[supply]]``: a kind of consumable counted in whole units (DESIGN §10)."""

    #: The kind's id (``ribbon-ymcko``), the ledger's supply kind.
    kind: str
    #: Cards one unit is rated to print (the vendor's figure).
    rated_yield: int
    #: ``supply_low`` when the stock of this kind is below this many units.
    low_threshold: int = 2
    #: ``ribbon``, ``film``, ``cleaning`` or ``other`` (default: from the kind's name).
    part: str = "other"
    #: Printers it fits: printer ids, families or CUPS queues (empty: every printer).
    fits: tuple[str, ...] = ()
    #: A finished unit printing fewer than this fraction of its rated yield is flagged.
    low_yield: float = 0.8

    def fits_printer(self, printer: PrinterConfig) -> bool:
        """True when units of this kind go into ``printer``."""
        if not self.fits:
            return True
        names = {printer.id, printer.family or "", printer.queue or ""}
        return bool(names & set(self.fits))

    @property
    def consumed_per_card(self) -> bool:
        """A ribbon or film is used by every card printed; its absence is noticed."""
        return self.part in ("ribbon", "film")


@dataclass(frozen=True)
class WebConfig:
    """``[web]``: the office console and ``/metrics`` (docs/CONSOLE.md)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8470
    #: Host names the console answers to (the ``Host`` header); anything else is
    #: refused (DNS rebinding). The listen address and ``localhost`` always are.
    hosts: tuple[str, ...] = ()
    #: Minutes a login lasts without use.
    session_minutes: int = 30

    @property
    def listen(self) -> str:
        """``host:port`` as configured."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def allowed_hosts(self) -> frozenset[str]:
        """Every name the ``Host`` header may carry (without a port)."""
        names = {self.host, "localhost", "127.0.0.1", "::1", *self.hosts}
        names.discard("0.0.0.0")
        names.discard("::")
        return frozenset(n.lower() for n in names)


@dataclass(frozen=True)
class NotifyConfig:
    """``[notify]``: who is told what, and how (docs/NOTIFY.md)."""

    #: A program run with the notification in its environment (no shell): argv.
    command: tuple[str, ...] = ()
    webhook_url: str | None = None
    webhook_secret_file: Path | None = None     # owner-only; sent in webhook_secret_header
    webhook_secret_header: str = "X-Station-Agent-Secret"
    smtp_url: str | None = None                 # smtp://host:587 (STARTTLS) or smtps://host
    smtp_from: str | None = None
    smtp_to: tuple[str, ...] = ()
    smtp_credentials_file: Path | None = None   # owner-only: "user:password" on one line
    #: CA file to verify the webhook's and the mail server's TLS (default: the system's).
    cafile: Path | None = None
    warn_days: float = 7.0          # tell when stock runs out within this many days
    min_active: float = 300.0       # seconds an error/critical fault stays before it is told
    outage_minutes: float = 15.0    # a server outage longer than this is told
    daily_at: str | None = None     # "HH:MM" local time of the daily summary
    rate_limit_minutes: float = 60.0   # at most one notification per code in this window
    retry_seconds: float = 30.0     # first retry of a failed delivery; doubles up to 1 h

    @property
    def channels(self) -> tuple[str, ...]:
        """The configured channels' names."""
        return tuple(name for name, on in (("command", bool(self.command)),
                                           ("webhook", self.webhook_url is not None),
                                           ("email", self.smtp_url is not None)) if on)


@dataclass(frozen=True)
class Config:
    """A validated ``station.toml``."""

    path: Path
    station_id: str
    state_dir: Path | None = None
    api_group: str | None = None   # who may use the local API (default: the daemon's group)
    #: The office's time zone (``[station] timezone``): reports' days and hours.
    timezone: str | None = None
    #: The language of what office staff read (``[station] language``).
    language: str = "id"
    #: The office and its region, named in notifications and reports.
    office: str | None = None
    region: str | None = None
    printers: tuple[PrinterConfig, ...] = ()
    readers: tuple[ReaderConfig, ...] = ()
    network: NetworkConfig = field(default_factory=NetworkConfig)
    uplink: UplinkConfig = field(default_factory=UplinkConfig)
    stock: StockConfig = field(default_factory=StockConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    web: WebConfig = field(default_factory=WebConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    #: Consumables counted in the ledger (``[[supply]]``).
    supplies: tuple[SupplyConfig, ...] = ()
    #: cupsd's domain socket or ``host:port`` (``[cups] server``); None: the system's.
    cups_server: str | None = None
    #: CUPS' backend directory (``[cups] backend_dir``), where the backend is installed.
    cups_backend_dir: str = "/usr/lib/cups/backend"

    def supply(self, kind: str, printer: str | None = None) -> SupplyConfig:
        """The ``[[supply]]`` of ``kind`` (that fits ``printer`` when one is named);
        :class:`BadInput` naming the known ones, or what it fits."""
        sc = next((sc for sc in self.supplies if sc.kind == kind), None)
        if sc is None:
            known = ", ".join(sc.kind for sc in self.supplies) or "none: add a [[supply]]"
            raise BadInput(f"unknown supply kind {kind[:40]!r}: the config knows {known}")
        if printer is not None and not sc.fits_printer(self.printer(printer)):
            raise BadInput(f"a {kind} does not fit printer {printer} (it fits: "
                           f"{', '.join(sc.fits)}): check the kind, or add the printer to "
                           "its [[supply]] fits")
        return sc

    def printer(self, printer_id: str) -> PrinterConfig:
        """The ``[[printer]]`` called ``printer_id``; :class:`BadInput` naming the known ones."""
        for p in self.printers:
            if p.id == printer_id:
                return p
        known = ", ".join(p.id for p in self.printers) or "none"
        raise BadInput(f"{self.path.name}: no [[printer]] with id {printer_id!r} "
                       f"(configured: {known}); use one of those ids or --url")


class _Table:
    """Typed reads from one TOML table, tracking which keys were used."""

    def __init__(self, file: str, where: str, data: object) -> None:
        self.file, self.where = file, where
        if not isinstance(data, dict):
            raise BadInput(f"{file}: {where} must be a table, got {_show(data)}")
        self.data: dict[str, Any] = data

    def error(self, key: str, expected: str) -> BadInput:
        return BadInput(f"{self.file}: {self.where} {key}: expected {expected}, "
                        f"got {_show(self.data.get(key))}")

    def has(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, expected: str, *, required: bool = False,
             pattern: re.Pattern[str] | None = None) -> str | None:
        if key not in self.data:
            if required:
                raise BadInput(f"{self.file}: {self.where} {key}: missing; add "
                               f"{key} = ... ({expected})")
            return None
        value = self.data[key]
        if not isinstance(value, str) or not value or (pattern and not pattern.match(value)):
            raise self.error(key, expected)
        return value

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not low <= value <= high:
            raise self.error(key, f"a number of seconds between {low:g} and {high:g}"
                             if key in ("interval", "poll_interval", "timeout")
                             else f"a number between {low:g} and {high:g}")
        return float(value)

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(key, f"a whole number between {low} and {high:,}")
        return value

    def texts(self, key: str, default: tuple[str, ...], expected: str,
              pattern: re.Pattern[str]) -> tuple[str, ...]:
        """A non-empty list of strings, each matching ``pattern`` (spaces ignored)."""
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, list) or not value:
            raise self.error(key, f"a list of {expected}")
        out: list[str] = []
        for item in value:
            if not isinstance(item, str) or not pattern.match(item.replace(" ", "")):
                raise BadInput(f"{self.file}: {self.where} {key}: expected a list of "
                               f"{expected}, got {_show(item)} in the list")
            out.append(item.replace(" ", "").upper())
        return tuple(out)

    def only(self, keys: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in keys:
                raise BadInput(f"{self.file}: {self.where}: unknown key {key!r} (known: "
                               f"{', '.join(keys)}); fix the spelling or remove it")


def _show(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _device_url(t: _Table, key: str, example: str, schemes: Registry) -> str:
    url = t.text(key, f"a device URL such as {example}", required=True)
    assert url is not None
    scheme = urlsplit(url).scheme
    if not scheme or "://" not in url or scheme not in schemes:
        raise t.error(key, f"a device URL such as {example}")
    return url


def _network_url(t: _Table, key: str, example: str, schemes: tuple[str, ...]) -> str | None:
    url = t.text(key, f"a URL such as {example}")
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise t.error(key, f"a URL such as {example}")
    return url


def _array(file: str, data: dict[str, Any], name: str) -> list[object]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise BadInput(f"{file}: {name} must be written [[{name}]] (an array of tables)")
    return value


def parse_config(data: dict[str, Any], path: Path) -> Config:
    """Validate parsed TOML ``data`` read from ``path``."""
    file = path.name
    top = _Table(file, "top level", data)
    top.only(("station", "printer", "reader", "network", "uplink", "stock", "faults", "cups",
              "web", "notify", "supply"))
    if "station" not in data:
        raise BadInput(f"{file}: [station] missing; add [station] with id = \"<station id>\"")
    st = _Table(file, "[station]", data["station"])
    st.only(("id", "state_dir", "api_group", "timezone", "language", "office", "region"))
    station_id = st.text("id", 'a station id such as "kupang-01" (letters, digits, . _ -)',
                         required=True, pattern=_ID)
    state_dir = st.text("state_dir", 'a directory path such as "/var/lib/station-agent"')
    api_group = st.text("api_group", 'a group name such as "station-agent"', pattern=_ID)
    timezone = st.text("timezone", 'an IANA time zone such as "Asia/Makassar"')
    if timezone is not None and not clock.known_timezone(timezone):
        raise st.error("timezone", 'an IANA time zone such as "Asia/Makassar" (WITA), '
                                   '"Asia/Jakarta" (WIB) or "Asia/Jayapura" (WIT)')
    if api_group is not None:
        _check_group(file, api_group)
    language = st.text("language", '"id" (Bahasa Indonesia) or "en" (English)') or "id"
    if language not in ("id", "en"):
        raise st.error("language", '"id" (Bahasa Indonesia) or "en" (English)')
    office = st.text("office", 'the office\'s name such as "Disdukcapil Kota Kupang"',
                     pattern=_NAME)
    region = st.text("region", 'a region such as "Nusa Tenggara Timur"', pattern=_NAME)

    printers: list[PrinterConfig] = []
    for n, raw in enumerate(_array(file, data, "printer"), 1):
        t = _Table(file, f"[[printer]] #{n}", raw)
        t.only(("id", "url", "family", "poll_interval", "queue", "cards_per_copy"))
        pid = t.text("id", 'a printer id such as "evolis-1"', required=True, pattern=_ID)
        queue = t.text("queue", 'a CUPS queue name such as "ektp"', pattern=_QUEUE)
        url = (_device_url(t, "url", "serial:///dev/ttyUSB0", TRANSPORTS)
               if queue is None or t.has("url") else "")
        family = t.text("family", f"one of {', '.join(PRINTER_FAMILIES.names())}")
        if family is not None and family not in PRINTER_FAMILIES:
            raise t.error("family", f"one of {', '.join(PRINTER_FAMILIES.names())}")
        printers.append(PrinterConfig(pid, url, family,  # type: ignore[arg-type]
                                      t.number("poll_interval", 1.0, low=0.05, high=3600),
                                      queue=queue,
                                      cards_per_copy=t.integer("cards_per_copy", 1, low=1,
                                                               high=100)))

    readers: list[ReaderConfig] = []
    for n, raw in enumerate(_array(file, data, "reader"), 1):
        t = _Table(file, f"[[reader]] #{n}", raw)
        t.only(("id", "url", "printer", "chip_atr", "chip_select_sw", "chip_retries"))
        rid = t.text("id", 'a reader id such as "encoder-1"', required=True, pattern=_ID)
        url = _device_url(t, "url", '"pcsc://Virtual PCD"', READERS)
        readers.append(ReaderConfig(
            rid, url, t.text("printer", "the id of a [[printer]]"),  # type: ignore[arg-type]
            chip_atr=t.texts("chip_atr", ReaderConfig.chip_atr,
                             'ATR prefixes in hex, ? for any nibble, such as "3B8?8001"',
                             _ATR_PATTERN),
            chip_select_sw=t.texts("chip_select_sw", ReaderConfig.chip_select_sw,
                                   'status words of 4 hex digits such as "9000"', _SW),
            chip_retries=t.integer("chip_retries", 3, low=0, high=20)))

    queues = [p.queue for p in printers if p.queue is not None]
    for dup in sorted({q for q in queues if queues.count(q) > 1}):
        raise BadInput(f"{file}: queue {dup!r} belongs to two [[printer]]s; a queue's jobs "
                       "are one printer's cards")

    cu = _Table(file, "[cups]", data.get("cups", {}))
    cu.only(("server", "backend_dir"))
    cups_server = cu.text("server", 'cupsd\'s socket path or host:port, such as '
                                    '"/run/cups/cups.sock"')
    cups_backend_dir = cu.text("backend_dir", 'CUPS\' backend directory, such as '
                                              '"/usr/lib/cups/backend"') or "/usr/lib/cups/backend"

    ids = [p.id for p in printers] + [r.id for r in readers]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        raise BadInput(f"{file}: device id {dup!r} is used twice; give every printer and "
                       "reader its own id")
    for n, r in enumerate(readers, 1):
        if r.printer is not None and r.printer not in {p.id for p in printers}:
            raise BadInput(f"{file}: [[reader]] #{n} printer: expected the id of a [[printer]], "
                           f'got "{r.printer}"')
        if r.printer is not None:
            _check_can_park(file, n, next(p for p in printers if p.id == r.printer))

    net = _Table(file, "[network]", data.get("network", {}))
    net.only(("probe_url", "interval", "fail_after", "clear_after", "slow_ms", "timeout"))
    network = NetworkConfig(
        probe_url=_network_url(net, "probe_url", "https://central.example/health",
                               ("http", "https")),
        interval=net.number("interval", 5.0, low=0.1, high=3600),
        fail_after=net.integer("fail_after", 3, low=1, high=1000),
        clear_after=net.integer("clear_after", 2, low=1, high=1000),
        slow_ms=net.number("slow_ms", 2000.0, low=1, high=600_000),
        timeout=net.number("timeout", 10.0, low=0.1, high=600))
    if network.timeout * 1000 <= network.slow_ms:
        raise BadInput(f"{file}: [network] timeout: expected more than slow_ms "
                       f"({network.slow_ms:g} ms), got {network.timeout:g} s; a probe must "
                       "be allowed to be slow before it gives up")

    ft = _Table(file, "[faults]", data.get("faults", {}))
    ft.only(("raise_after", "clear_after", "flap_high", "flap_low"))
    faults = FaultsConfig(
        raise_after=ft.integer("raise_after", 2, low=1, high=1000),
        clear_after=ft.integer("clear_after", 2, low=1, high=1000),
        flap_high=ft.number("flap_high", 50.0, low=1, high=100),
        flap_low=ft.number("flap_low", 25.0, low=1, high=100))
    if faults.flap_low > faults.flap_high:
        raise BadInput(f"{file}: [faults] flap_low: expected at most flap_high "
                       f"({faults.flap_high:g}), got {faults.flap_low:g}")

    uplink = _uplink(file, path, data.get("uplink", {}))
    web = _web(file, data.get("web", {}))
    notify = _notify(file, path, data.get("notify", {}))

    sk = _Table(file, "[stock]", data.get("stock", {}))
    sk.only(("low_threshold",))
    stock = StockConfig(sk.integer("low_threshold", 500, low=0, high=10_000_000))

    supplies = _supplies(file, data, printers)

    return Config(path=path, station_id=station_id,  # type: ignore[arg-type]
                  state_dir=(path.parent / state_dir).resolve() if state_dir else None,
                  api_group=api_group, timezone=timezone, language=language,
                  office=office, region=region, web=web, notify=notify,
                  printers=tuple(printers), readers=tuple(readers),
                  network=network, uplink=uplink, stock=stock, faults=faults,
                  cups_server=cups_server, cups_backend_dir=cups_backend_dir,
                  supplies=supplies)


def _supplies(file: str, data: dict[str, Any], printers: list[PrinterConfig]
              ) -> tuple[SupplyConfig, ...]:
    names = {n for p in printers for n in (p.id, p.family, p.queue) if n}
    out: list[SupplyConfig] = []
    for n, raw in enumerate(_array(file, data, "supply"), 1):
        t = _Table(file, f"[[supply]] #{n}", raw)
        t.only(("kind", "rated_yield", "low_threshold", "part", "fits", "low_yield"))
        kind = t.text("kind", 'a supply kind such as "ribbon-ymcko" (letters, digits, . _ -)',
                      required=True, pattern=_ID)
        assert kind is not None
        default_part = next((p for p in SUPPLY_PARTS if kind.startswith(p)), "other")
        part = t.text("part", f"one of {', '.join(SUPPLY_PARTS)}") or default_part
        if part not in SUPPLY_PARTS:
            raise t.error("part", f"one of {', '.join(SUPPLY_PARTS)}")
        fits = t.data.get("fits", [])
        if not isinstance(fits, list) or not all(isinstance(f, str) for f in fits):
            raise t.error("fits", 'a list of printer ids, families or queues such as '
                                  '["evolis-1"] or ["evolis"]')
        for name in fits:
            if name not in names:
                raise t.error("fits", "printer ids, families or queues of the [[printer]]s "
                                      f"({', '.join(sorted(names)) or 'none configured'}), "
                                      f'not "{name}"')
        if kind in {sc.kind for sc in out}:
            raise BadInput(f"{file}: supply kind {kind!r} is configured twice; give each "
                           "[[supply]] its own kind")
        if not t.has("rated_yield"):
            raise t.error("rated_yield", "the cards one unit is rated to print, such as 500")
        out.append(SupplyConfig(
            kind=kind, rated_yield=t.integer("rated_yield", 0, low=1, high=1_000_000),
            low_threshold=t.integer("low_threshold", 2, low=0, high=100_000), part=part,
            fits=tuple(fits), low_yield=t.number("low_yield", 0.8, low=0.0, high=1.0)))
    return tuple(out)



def _web(file: str, raw: object) -> WebConfig:
    w = _Table(file, "[web]", raw)
    w.only(("enabled", "listen", "hosts", "session_minutes"))
    enabled = w.data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise w.error("enabled", "true or false")
    listen = w.text("listen", 'host:port such as "127.0.0.1:8470" or "0.0.0.0:8470"')
    host, port = WebConfig.host, WebConfig.port
    if listen is not None:
        head, sep, tail = listen.rpartition(":")
        head = head.strip("[]")
        if not sep or not head or not tail.isdigit() or not 0 <= int(tail) <= 65535 \
                or not _HOSTNAME.match(head):
            raise w.error("listen", 'host:port such as "127.0.0.1:8470" or "0.0.0.0:8470"')
        host, port = head, int(tail)
    hosts = w.texts("hosts", (), 'host names such as "ktp-kupang.local"', _HOSTNAME)
    return WebConfig(enabled=enabled, host=host, port=port,
                     hosts=tuple(h.lower() for h in hosts),
                     session_minutes=w.integer("session_minutes", 30, low=1, high=24 * 60))


_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}$")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def _notify(file: str, path: Path, raw: object) -> NotifyConfig:
    n = _Table(file, "[notify]", raw)
    n.only(("command", "webhook_url", "webhook_secret_file", "webhook_secret_header",
            "smtp_url", "smtp_from", "smtp_to", "smtp_credentials_file", "cafile",
            "warn_days", "min_active", "outage_minutes", "daily_at", "rate_limit_minutes",
            "retry_seconds"))
    here = path.parent

    def file_key(key: str, expected: str) -> Path | None:
        value = n.text(key, expected)
        return None if value is None else (here / value).resolve()

    command: tuple[str, ...] = ()
    if n.has("command"):
        value = n.data["command"]
        if not isinstance(value, list) or not value or not all(
                isinstance(v, str) and v and "\x00" not in v for v in value) \
                or not value[0].startswith("/"):
            raise n.error("command", 'a list: an absolute program path and its arguments, '
                                     'such as ["/usr/local/bin/notify-office"] (run without a '
                                     "shell)")
        command = tuple(value)
    smtp_to: tuple[str, ...] = ()
    if n.has("smtp_to"):
        value = n.data["smtp_to"]
        if not isinstance(value, list) or not value or not all(
                isinstance(v, str) and _EMAIL.match(v) for v in value):
            raise n.error("smtp_to", 'a list of e-mail addresses such as ["kepala@example.go.id"]')
        smtp_to = tuple(value)
    cfg = NotifyConfig(
        command=command,
        webhook_url=_network_url(n, "webhook_url", "https://ops.example/hooks/station",
                                 ("http", "https")),
        webhook_secret_file=file_key("webhook_secret_file",
                                     "the path of a file holding the webhook's secret"),
        webhook_secret_header=n.text("webhook_secret_header", "an HTTP header name",
                                     pattern=_HEADER) or "X-Station-Agent-Secret",
        smtp_url=_network_url(n, "smtp_url", "smtp://mail.example.go.id:587",
                              ("smtp", "smtps")),
        smtp_from=n.text("smtp_from", 'an e-mail address such as "ktp-kupang@example.go.id"',
                         pattern=_EMAIL),
        smtp_to=smtp_to,
        smtp_credentials_file=file_key("smtp_credentials_file",
                                       'the path of a file holding "user:password"'),
        cafile=file_key("cafile", 'the path of a PEM CA file such as "ca.pem"'),
        warn_days=n.number("warn_days", 7.0, low=0.5, high=365),
        min_active=n.number("min_active", 300.0, low=0, high=86_400),
        outage_minutes=n.number("outage_minutes", 15.0, low=0, high=10_080),
        daily_at=n.text("daily_at", 'a local time "HH:MM" such as "16:30"', pattern=_HHMM),
        rate_limit_minutes=n.number("rate_limit_minutes", 60.0, low=0, high=10_080),
        retry_seconds=n.number("retry_seconds", 30.0, low=0.1, high=3600))
    if cfg.smtp_url is not None and (cfg.smtp_from is None or not cfg.smtp_to):
        raise BadInput(f"{file}: [notify] smtp_url needs smtp_from and smtp_to; add them or "
                       "remove smtp_url")
    if cfg.smtp_url is None and (cfg.smtp_from or cfg.smtp_to or cfg.smtp_credentials_file):
        raise BadInput(f"{file}: [notify] smtp_from, smtp_to and smtp_credentials_file are "
                       "set only with smtp_url; add smtp_url or remove them")
    if cfg.webhook_url is None and cfg.webhook_secret_file is not None:
        raise BadInput(f"{file}: [notify] webhook_secret_file is set only with webhook_url")
    from station_agent.uplink.broker import check_private

    for key, secret in (("webhook_secret_file", cfg.webhook_secret_file),
                        ("smtp_credentials_file", cfg.smtp_credentials_file)):
        if secret is not None:
            try:
                check_private(secret, f"[notify] {key}")
            except BadInput as exc:
                raise BadInput(f"{file}: {exc}") from None
    return cfg


_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def _uplink(file: str, path: Path, raw: object) -> UplinkConfig:
    up = _Table(file, "[uplink]", raw)
    up.only(("mqtt_url", "cafile", "username", "password_file", "certfile", "keyfile",
             "client_id", "topic_prefix", "window", "keepalive", "reconnect_max",
             "status_interval"))
    url = _network_url(up, "mqtt_url", "mqtt://127.0.0.1:1883", ("mqtt", "mqtts"))
    here = path.parent

    def file_key(key: str, expected: str) -> Path | None:
        value = up.text(key, expected)
        return None if value is None else (here / value).resolve()

    cfg = UplinkConfig(
        mqtt_url=url,
        cafile=file_key("cafile", 'the path of a PEM CA file such as "ca.pem"'),
        username=up.text("username", "a broker user name"),
        password_file=file_key("password_file", "the path of a file holding the password"),
        certfile=file_key("certfile", 'the path of the station\'s PEM client certificate'),
        keyfile=file_key("keyfile", 'the path of the PEM private key of certfile'),
        client_id=up.text("client_id", "an MQTT client id (letters, digits, . _ -)",
                          pattern=_ID),
        topic_prefix=up.text("topic_prefix", 'topic levels such as "stations" or "ntt/stations"',
                             pattern=_TOPIC_PREFIX) or "stations",
        window=up.integer("window", 64, low=1, high=65_000),
        keepalive=up.integer("keepalive", 30, low=5, high=3600),
        reconnect_max=up.number("reconnect_max", 30.0, low=0.5, high=3600),
        status_interval=up.number("status_interval", 30.0, low=1, high=3600))
    if url is None:
        for key in ("cafile", "username", "password_file", "certfile", "keyfile"):
            if up.has(key):
                raise BadInput(f"{file}: [uplink] {key}: set only with mqtt_url; add mqtt_url "
                               "or remove it")
        return cfg
    try:
        cfg.broker()
    except BadInput as exc:
        raise BadInput(f"{file}: {exc}") from None
    return cfg


def _check_group(file: str, name: str) -> None:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        raise BadInput(f"{file}: [station] api_group: there is no group {name!r} on this "
                       f"machine; create it (groupadd --system {name}) or remove api_group"
                       ) from None


def _check_can_park(file: str, n: int, printer: PrinterConfig) -> None:
    """A reader attached to a printer checks the chip of each card the printer parks
    at its encoder: refuse a family that cannot park one (every card would fail)."""
    from drivers.printers import family_from_url, printer_class

    family = printer.family or family_from_url(printer.url)
    if family is None or printer_class(family).can_park:
        return
    raise BadInput(f"{file}: [[reader]] #{n} printer: {printer.id!r} is a {family} printer, "
                   "which cannot park a card at an encoder, so no chip could be checked: "
                   "attach the reader to a printer that can (evolis family), or remove "
                   f'printer = "{printer.id}" to use the reader on its own')


def read_toml(path: Path) -> dict[str, Any]:
    """Parse ``path`` as TOML; :class:`BadInput` when missing, unreadable or invalid."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise BadInput(f"config file {path} does not exist: give the path of the station's "
                       "station.toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not valid TOML ({exc}): fix the file") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start}): save it as UTF-8"
                       ) from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror}): fix its permissions") from exc


def load_config(path: Path) -> Config:
    """Read and validate ``station.toml`` at ``path``."""
    return parse_config(read_toml(path), path)
