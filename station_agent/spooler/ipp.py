"""IPP/1.1 messages (RFC 8010): encode a request, decode a response.

Only what the agent asks cupsd: operations with operation and printer
attributes of the common value types, and answers read back as groups of
named values. Transport (HTTP over cupsd's domain socket or TCP) is in
:mod:`station_agent.spooler.cups`.

Why not pycups: it is a compiled binding of libcups (a C build with
``libcups2-dev`` on every station, ARM boards included), while the handful
of requests the agent makes are a few hundred bytes each; a small pure codec
keeps the daemon and the backend light and has no native dependency.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

# Operations (RFC 8011, CUPS extensions 0x4000+).
PRINT_JOB: Final = 0x0002
GET_JOB_ATTRIBUTES: Final = 0x0009
GET_JOBS: Final = 0x000A
GET_PRINTER_ATTRIBUTES: Final = 0x000B
CUPS_GET_PRINTERS: Final = 0x4002
CUPS_ADD_MODIFY_PRINTER: Final = 0x4003

# Delimiter tags.
_OPERATION, _JOB, _END, _PRINTER, _UNSUPPORTED = 0x01, 0x02, 0x03, 0x04, 0x05
GROUP_NAMES: Final = {_OPERATION: "operation", _JOB: "job", _PRINTER: "printer",
                      _UNSUPPORTED: "unsupported"}

# Value tags.
INTEGER, BOOLEAN, ENUM = 0x21, 0x22, 0x23
OCTETS, DATETIME, RESOLUTION, RANGE = 0x30, 0x31, 0x32, 0x33
TEXT_LANG, NAME_LANG = 0x35, 0x36
TEXT, NAME, KEYWORD, URI, URI_SCHEME, CHARSET, LANGUAGE, MIME = (
    0x41, 0x42, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49)
_OUT_OF_BAND = (0x10, 0x12, 0x13)   # unsupported, unknown, no-value

#: Status codes below this are successful.
_CLIENT_ERROR = 0x0400

Value = int | bool | str | bytes | None


class IppError(Exception):
    """A malformed IPP message or an error status."""


@dataclass
class Response:
    """A decoded IPP response: status and attribute groups in order."""

    status: int
    request_id: int
    groups: list[tuple[str, dict[str, list[Value]]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status < _CLIENT_ERROR

    def first(self, group: str) -> dict[str, list[Value]]:
        """The first group called ``group`` (``printer``, ``job`` ...), or empty."""
        return next((g for name, g in self.groups if name == group), {})

    def all(self, group: str) -> list[dict[str, list[Value]]]:
        """Every group called ``group`` (one per printer or job in a list)."""
        return [g for name, g in self.groups if name == group]

    def message(self) -> str:
        """``status-message`` from the operation group, if any."""
        values = self.first("operation").get("status-message") or [""]
        return str(values[0] or "")


@dataclass
class Request:
    """An IPP request; ``attrs`` are (group, tag, name, values) in order."""

    operation: int
    request_id: int = 1
    attrs: list[tuple[int, int, str, list[Value]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.attrs:
            self.op(CHARSET, "attributes-charset", "utf-8")
            self.op(LANGUAGE, "attributes-natural-language", "en")

    def op(self, tag: int, name: str, *values: Value) -> Request:
        """Add an operation attribute."""
        self.attrs.append((_OPERATION, tag, name, list(values)))
        return self

    def printer(self, tag: int, name: str, *values: Value) -> Request:
        """Add a printer attribute (CUPS-Add-Modify-Printer)."""
        self.attrs.append((_PRINTER, tag, name, list(values)))
        return self

    def encode(self) -> bytes:
        out = bytearray(struct.pack(">BBHI", 1, 1, self.operation, self.request_id))
        group = None
        for g, tag, name, values in self.attrs:
            if g != group:
                out.append(g)
                group = g
            for i, value in enumerate(values):
                out += _encode_value(tag, name if i == 0 else "", value)
        out.append(_END)
        return bytes(out)


def _encode_value(tag: int, name: str, value: Value) -> bytes:
    raw: bytes
    if tag in (INTEGER, ENUM):
        raw = struct.pack(">i", int(value))  # type: ignore[arg-type]
    elif tag == BOOLEAN:
        raw = b"\x01" if value else b"\x00"
    elif isinstance(value, bytes):
        raw = value
    else:
        raw = str(value).encode()
    key = name.encode()
    return struct.pack(">BH", tag, len(key)) + key + struct.pack(">H", len(raw)) + raw


def decode(data: bytes) -> Response:
    """Decode an IPP response; :class:`IppError` if it is malformed."""
    try:
        _version, status, request_id = struct.unpack_from(">HHI", data, 0)
    except struct.error:
        raise IppError(f"IPP response too short ({len(data)} bytes)") from None
    resp = Response(status, request_id)
    pos = 8
    group: dict[str, list[Value]] | None = None
    last = ""
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag == _END:
            return resp
        if tag < 0x10:   # a delimiter: a new group
            group = {}
            resp.groups.append((GROUP_NAMES.get(tag, f"group-{tag}"), group))
            continue
        if group is None:
            raise IppError("IPP response has a value outside any attribute group")
        try:
            (nlen,) = struct.unpack_from(">H", data, pos)
            pos += 2
            name = data[pos:pos + nlen].decode("utf-8", "replace")
            pos += nlen
            (vlen,) = struct.unpack_from(">H", data, pos)
        except struct.error:
            raise IppError("IPP response ends inside an attribute") from None
        pos += 2
        raw = data[pos:pos + vlen]
        if len(raw) != vlen:
            raise IppError("IPP response ends inside a value")
        pos += vlen
        value = _decode_value(tag, raw)
        if name:
            last = name
            group.setdefault(name, []).append(value)
        elif last:
            group.setdefault(last, []).append(value)
    raise IppError("IPP response has no end-of-attributes tag")


def _decode_value(tag: int, raw: bytes) -> Value:
    if tag in _OUT_OF_BAND:
        return None
    if tag in (INTEGER, ENUM) and len(raw) == 4:
        return int(struct.unpack(">i", raw)[0])
    if tag == BOOLEAN and len(raw) == 1:
        return raw != b"\x00"
    if tag in (TEXT_LANG, NAME_LANG) and len(raw) >= 4:
        try:
            (llen,) = struct.unpack_from(">H", raw, 0)
            (tlen,) = struct.unpack_from(">H", raw, 2 + llen)
        except struct.error:
            raise IppError("IPP response has a malformed text-with-language value") from None
        return raw[4 + llen:4 + llen + tlen].decode("utf-8", "replace")
    if 0x40 <= tag <= 0x5F:
        return raw.decode("utf-8", "replace")
    return raw
