"""What the central loader accepts from the broker: each message checked on its own.

:func:`read` turns one MQTT message (topic and payload) into an
:class:`Event`, a :class:`StatusUpdate`, a :class:`FaultsUpdate` or a
:class:`Refusal` naming what was wrong. Nothing here raises on bad input:
a payload may be anything at all (garbage, a forged station id, a tampered
entry), and the loader must keep running.

An event is accepted only when it is exactly what a station sends
(:mod:`station_agent.uplink.messages`): the topic's station id equals the
payload's, ``event_id`` is ``<ledger_id>:<seq>``, a ledger entry is a
well-formed transfer (:func:`station_agent.ledger.model.validate`, which
also refuses a NIK in any free text) whose hash recomputes from its fields
and equals ``chain_head``. A status, a fault list or a fault event with
anything that looks like a NIK (16 digits) is refused: the central database
keeps no personal data either. Whether the entry links to its neighbours in the
chain is decided against the database (:mod:`station_agent.central.store`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import orjson

from station_agent.faults.codes import CRITICAL, ERROR, INFO, WARNING
from station_agent.ledger.chain import entry_hash, genesis_hash, hashed_values
from station_agent.ledger.errors import InvalidTransfer
from station_agent.ledger.model import ENTRY_COLUMNS, Entry, validate
from station_agent.ledger.outbox import FAULT_CLEARED, FAULT_RAISED, FAULT_UPDATED, LEDGER_ENTRY

#: Station and ledger ids: what the config and the ledger allow.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CODE = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")
#: A citizen's ID number (NIK): 16 digits on their own.
_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
#: Fields that hold hashes (hex digits may run 16 long by chance).
_HASH_KEYS = frozenset({"hash", "prev_hash", "chain_head", "head_hash"})
#: The largest message considered at all (a station's entry is well under 2 KB).
MAX_PAYLOAD = 64 * 1024
#: Event numbers and entry numbers fit PostgreSQL's bigint.
_MAX_SEQ = 2**62
#: The outbox's event types (what a station sends).
FAULT_TYPES = (FAULT_RAISED, FAULT_UPDATED, FAULT_CLEARED)
_ENTRY_KEYS = frozenset(ENTRY_COLUMNS)
#: The fields every entry's hash covers, in order.
_HASHED = attrgetter(*ENTRY_COLUMNS[:14])
_EVENT_KEYS = {"v", "event_id", "station_id", "ledger_id", "seq", "type", "ts", "chain_head",
               "event"}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A message that is not applied: the station it came from (by topic) and why."""

    station_id: str
    reason: str
    event_id: str | None = None
    #: A chain break found in the message itself: its stream, entry number,
    #: the hash its content gives and the hash it states.
    ledger_id: str | None = None
    entry_seq: int | None = None
    expected: str | None = None
    got: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A well-formed event of one station's stream (``ledger_id``)."""

    event_id: str
    station_id: str
    ledger_id: str
    seq: int
    type: str
    ts: datetime
    #: SHA-256 of the payload as received (a redelivery has the same bytes).
    digest: str
    #: The document as stored (JSONB): the payload's text.
    doc: str
    entry: Entry | None = None
    fault: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A station's retained status: online or not, office and region, its figures."""

    station_id: str
    ts: datetime
    online: bool
    office: str | None
    region: str | None
    doc: str


@dataclass(frozen=True, slots=True)
class FaultsUpdate:
    """A station's retained list of active faults."""

    station_id: str
    ts: datetime
    doc: str


Message = Event | StatusUpdate | FaultsUpdate | Refusal


def topic_station(topic: str, prefix: str) -> tuple[str, str] | None:
    """``(station_id, leaf)`` of ``<prefix>/<station>/<leaf>``, or None."""
    head = prefix + "/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head):].split("/")
    if len(parts) != 2 or not _ID.match(parts[0]):
        return None
    return parts[0], parts[1]


def read(topic: str, payload: bytes, prefix: str = "stations") -> Message:
    """Check one message; never raises."""
    where = topic_station(topic, prefix)
    if where is None:
        return Refusal("?", "topic is not <prefix>/<station id>/<events|status|faults>")
    station, leaf = where
    if len(payload) > MAX_PAYLOAD:
        return Refusal(station, f"payload larger than {MAX_PAYLOAD} bytes")
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        return Refusal(station, "payload is not UTF-8 text")
    try:
        # RFC 8259 JSON: no NaN or Infinity, no lone surrogates, numbers a
        # double holds (a larger integer becomes a float, refused where a
        # whole number is expected).
        doc = orjson.loads(payload)
    except (orjson.JSONDecodeError, RecursionError):
        return Refusal(station, "payload is not JSON")
    if not isinstance(doc, dict):
        return Refusal(station, "payload is not a JSON object")
    if doc.get("station_id") != station:
        return Refusal(station, "payload names another station than its topic")
    try:
        if leaf == "events":
            return _event(station, doc, text, payload)
        if leaf == "status":
            return _status(station, doc)
        if leaf == "faults":
            return _faults(station, doc)
    except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
        return Refusal(station, f"malformed {leaf} message ({type(exc).__name__})")
    return Refusal(station, "unknown topic (expected events, status or faults)")


def carries_nik(value: object, depth: int = 0) -> bool:
    """True when any text or number in ``value`` (outside hash fields) looks like
    a NIK: such a document is refused, never stored or logged."""
    if isinstance(value, str):
        return _NIK.search(value) is not None
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 10**15 <= abs(value) < 10**16
    if depth > 32:
        return False
    if isinstance(value, dict):
        return any(carries_nik(k, depth + 1) or (k not in _HASH_KEYS
                                                 and carries_nik(v, depth + 1))
                   for k, v in value.items())
    if isinstance(value, list):
        return any(carries_nik(v, depth + 1) for v in value)
    return False



def _canonical(doc: dict[str, Any]) -> str:
    """The document in one canonical text (keys sorted): refuses what PostgreSQL
    cannot hold (NUL characters, lone surrogates, infinite numbers) with
    :class:`ValueError`."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    if "\\u0000" in text:
        raise ValueError("a NUL character")
    text.encode()
    return text


def _stored(text: str, doc: dict[str, Any]) -> str:
    """What is stored of a message (as JSONB): its own text, which is UTF-8 and
    valid JSON; with an escape sequence (which may name a NUL or a lone
    surrogate, which PostgreSQL refuses) its canonical text instead."""
    return _canonical(doc) if "\\u" in text else text


def same_document(a: str, b: str) -> bool:
    """Whether two JSON texts hold the same document (another serialisation of
    one event is a redelivery, not a tampered copy)."""
    if a == b:
        return True
    try:
        return bool(_canonical(json.loads(a)) == _canonical(json.loads(b)))
    except (ValueError, RecursionError):
        return False


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    if ts.tzinfo is None:
        return None
    ts = ts.astimezone(UTC)
    return ts if 2000 <= ts.year <= 2200 else None


def _seq(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < _MAX_SEQ:
        return None
    return value


def _event(station: str, doc: dict[str, Any], text: str, payload: bytes) -> Message:
    if doc.keys() != _EVENT_KEYS:
        return Refusal(station, "event does not have exactly the fields of an event message")
    ledger_id, seq, type_ = doc["ledger_id"], _seq(doc["seq"]), doc["type"]
    if doc["v"] != 1:
        return Refusal(station, "event of an unknown message version")
    if not isinstance(ledger_id, str) or not _ID.match(ledger_id) or seq is None:
        return Refusal(station, "event without a valid ledger id and event number")
    if doc["event_id"] != f"{ledger_id}:{seq}":
        return Refusal(station, "event id is not <ledger id>:<event number>")
    ts = _when(doc["ts"])
    if ts is None:
        return Refusal(station, "event time is not an ISO 8601 time with its zone", doc["event_id"])
    body = doc["event"]
    if not isinstance(body, dict) or not isinstance(doc["chain_head"], str) \
            or not _HEX64.match(doc["chain_head"]):
        return Refusal(station, "event without a body or a chain head", doc["event_id"])
    stored = _stored(text, doc)
    digest = hashlib.sha256(payload).hexdigest()
    common = (doc["event_id"], station, ledger_id, seq)
    if type_ == LEDGER_ENTRY:
        entry = _entry(body, ledger_id, doc["ts"])
        if isinstance(entry, str):
            return Refusal(station, entry, doc["event_id"])
        if not isinstance(entry, Entry):
            got, expected = entry
            return Refusal(station, "chain: the entry's hash does not match its content",
                           doc["event_id"], ledger_id, body["seq"], expected, got)
        if entry.hash != doc["chain_head"]:
            return Refusal(station, "a ledger entry's chain head is not its hash", doc["event_id"])
        return Event(*common, type_, ts, digest, stored, entry=entry)
    if type_ in FAULT_TYPES:
        if carries_nik(body):
            return Refusal(station, "personal data (a NIK) in a fault event", doc["event_id"])
        fault = _fault(body)
        if fault is None:
            return Refusal(station, "malformed fault event", doc["event_id"])
        return Event(*common, type_, ts, digest, stored, fault=fault)
    return Refusal(station, "event of an unknown type", doc["event_id"])


def _entry(body: dict[str, Any], ledger_id: str,
           ts_text: str) -> Entry | str | tuple[str, str]:
    """The entry of a ``ledger_entry`` event, why it is refused, or (for an
    entry whose hash does not recompute) the stated and the computed hash.
    ``ts_text`` is the event's time, already checked (an entry stamped with
    the same text is not parsed again)."""
    if body.keys() != _ENTRY_KEYS:
        return "ledger entry does not have exactly the entry's fields"
    entry = Entry(**body)
    if _seq(entry.seq) is None or not isinstance(entry.prev_hash, str) \
            or not isinstance(entry.hash, str) or not _HEX64.match(entry.prev_hash) \
            or not _HEX64.match(entry.hash) or (entry.ts != ts_text and _when(entry.ts) is None):
        return "ledger entry without a valid number, time or hashes"
    # (validate() checks every other field's type: text or nothing, a whole count.)
    if type(entry.kind) is not str or type(entry.src) is not str \
            or type(entry.dst) is not str:
        return "ledger entry with a field of the wrong type"
    try:
        validate(entry.transfer)
    except InvalidTransfer as exc:
        del exc  # its text may quote the hostile value: not kept
        return "ledger entry is not a valid transfer"
    if entry.seq == 1 and entry.prev_hash != genesis_hash(ledger_id):
        return "chain: entry 1 does not start from its ledger's genesis hash"
    computed = computed_hash(entry)
    if computed != entry.hash:
        return entry.hash, computed
    return entry


def computed_hash(entry: Entry) -> str:
    """The hash ``entry``'s fields give, as the station hashed them (a category
    written before schema 5 may be left out of its hash: that form is taken
    when it is the one that matches)."""
    values = _HASHED(entry)
    got = entry_hash(hashed_values(values, entry.category, entry.actor, entry.item,
                                   seq=entry.seq))
    if got != entry.hash and entry.category is not None and entry.actor is None \
            and entry.item is None and entry_hash(values) == entry.hash:
        return entry.hash
    return got


def _fault(body: dict[str, Any]) -> dict[str, Any] | None:
    code, source, severity = body.get("code"), body.get("source"), body.get("severity")
    if not (isinstance(code, str) and _CODE.match(code)):
        return None
    if not (isinstance(source, str) and 0 < len(source) <= 128):
        return None
    if severity not in (INFO, WARNING, ERROR, CRITICAL):
        return None
    return {"code": code, "source": source, "severity": severity}


def _status(station: str, doc: dict[str, Any]) -> Message:
    if carries_nik(doc):
        return Refusal(station, "personal data (a NIK) in a status message")
    ts = _when(doc.get("ts"))
    online = doc.get("online")
    if ts is None or not isinstance(online, bool):
        return Refusal(station, "status without a time or an online flag")
    office, region = doc.get("office"), doc.get("region")
    for value in (office, region):
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 120
                                  or any(ord(c) < 32 or ord(c) == 127 for c in value)):
            return Refusal(station, "status with an office or region that is not a short name")
    return StatusUpdate(station, ts, online, office, region, _canonical(doc))


def _faults(station: str, doc: dict[str, Any]) -> Message:
    if carries_nik(doc):
        return Refusal(station, "personal data (a NIK) in a faults message")
    ts = _when(doc.get("ts"))
    if ts is None or not isinstance(doc.get("faults"), list):
        return Refusal(station, "faults message without a time or a list of faults")
    return FaultsUpdate(station, ts, _canonical(doc))
