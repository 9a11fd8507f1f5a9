"""The local API's wire format: JSON lines (docs/API.md).

A request is one line holding a JSON object::

    {"id": 7, "op": "receive", "params": {"batch_id": "B-1", "count": 500}}

``id`` (a whole number or a string of at most 64 characters) is echoed in the
one reply::

    {"id": 7, "ok": true, "result": {...}}
    {"id": 7, "ok": false, "error": {"code": "bad_request", "message": "..."}}

Error codes: ``bad_request`` (not JSON, not an object, a missing or wrong
field: the connection stays usable), ``unknown_op``, ``refused`` (the ledger
refused: a count would go negative, an id replayed with other content, ...),
``failed`` (the operation could not be done: storage, a device), ``busy``.
A rejected request writes nothing.

This module only parses and checks; transport is in :mod:`.server`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

# typing is imported for the type checker only: this module is on the CLI's
# start-up path (docs/PERFORMANCE.md, cli.status_latency).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

#: Longest request line accepted (bytes, without the newline).
MAX_LINE: Final = 64 * 1024
MAX_ID_LEN: Final = 64

BAD_REQUEST, UNKNOWN_OP, REFUSED, FAILED, BUSY, FORBIDDEN = (
    "bad_request", "unknown_op", "refused", "failed", "busy", "forbidden")

#: Version of this wire format: ``ping`` answers it, the client checks it. Raised
#: only by a change an older client cannot follow (new operations and new
#: fields in answers keep it).
PROTOCOL_VERSION: Final = 1

#: An operation's parameters: name -> (type, required).
ParamSpec = Mapping[str, tuple[type, bool]]


class ApiError(Exception):
    """A request that gets an error reply (``code``, one-line ``message``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Request:
    """A checked request (a plain class: this module is on the CLI's start-up
    path, where the import cost of dataclasses shows)."""

    __slots__ = ("id", "op", "params")

    def __init__(self, id: int | str, op: str, params: dict[str, Any]) -> None:
        self.id, self.op, self.params = id, op, params

    def __repr__(self) -> str:
        return f"Request(id={self.id!r}, op={self.op!r}, params={self.params!r})"


def _request_id(doc: dict[str, Any]) -> int | str | None:
    """The id, if it is a usable one (so even a refusal can echo it)."""
    rid = doc.get("id")
    if isinstance(rid, bool):
        return None
    if isinstance(rid, int) and -(2**63) <= rid < 2**63:
        return rid
    if isinstance(rid, str) and 0 < len(rid) <= MAX_ID_LEN:
        return rid
    return None


def parse(line: bytes, ops: Mapping[str, ParamSpec]) -> Request:
    """Check one request line against ``ops`` (operation -> its parameters);
    :class:`ApiError` (``.request_id`` set when known)."""
    if len(line) > MAX_LINE:
        raise ApiError(BAD_REQUEST, f"request longer than {MAX_LINE} bytes; send one JSON "
                                    "object per line")
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError):
        raise ApiError(BAD_REQUEST, "not valid JSON; send one JSON object per line") from None
    if not isinstance(doc, dict):
        raise ApiError(BAD_REQUEST, "a request must be a JSON object with id and op")
    rid = _request_id(doc)
    try:
        if rid is None:
            raise ApiError(BAD_REQUEST, "id: expected a whole number or a string of 1-"
                                        f"{MAX_ID_LEN} characters")
        for key in doc:
            if key not in ("id", "op", "params"):
                raise ApiError(BAD_REQUEST, f"unknown field {key!r}; a request has id, op "
                                            "and params")
        op = doc.get("op")
        if not isinstance(op, str):
            raise ApiError(BAD_REQUEST, "op: expected the name of an operation such as "
                                        '"status"')
        if op not in ops:
            raise ApiError(UNKNOWN_OP, f"unknown op {op[:40]!r}; known: "
                                       f"{', '.join(sorted(ops))}")
        params = doc.get("params", {})
        if not isinstance(params, dict):
            raise ApiError(BAD_REQUEST, "params: expected a JSON object")
        return Request(rid, op, _check_params(op, ops[op], params))
    except ApiError as exc:
        exc.request_id = rid  # type: ignore[attr-defined]
        raise


def _check_params(op: str, spec: ParamSpec, params: dict[str, Any]) -> dict[str, Any]:
    for key in params:
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise ApiError(BAD_REQUEST, f"{op}: unknown parameter {str(key)[:40]!r} "
                                        f"(known: {known})")
    out: dict[str, Any] = {}
    for key, (kind, required) in spec.items():
        if key not in params:
            if required:
                raise ApiError(BAD_REQUEST, f"{op}: parameter {key} is missing")
            continue
        value = params[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ApiError(BAD_REQUEST, f"{op}: {key} must be a whole number")
        if kind is str and not isinstance(value, str):
            raise ApiError(BAD_REQUEST, f"{op}: {key} must be a string")
        if kind is bool and not isinstance(value, bool):
            raise ApiError(BAD_REQUEST, f"{op}: {key} must be true or false")
        out[key] = value
    return out


def reply_ok(rid: int | str, result: Any) -> bytes:
    """The success reply line."""
    return _line({"id": rid, "ok": True, "result": result})


def reply_error(rid: int | str | None, code: str, message: str) -> bytes:
    """The error reply line (``id`` null when the request had no usable id)."""
    return _line({"id": rid, "ok": False, "error": {"code": code, "message": message}})


def event_line(event: dict[str, Any]) -> bytes:
    """A line of the live event stream (after ``subscribe``)."""
    return _line({"event": event})


def _line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
