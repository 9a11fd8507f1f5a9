"""The spooler journal: what the ``station`` backend writes, what the daemon reads.

The backend never waits on the daemon: for every attempt at a job it writes
a ``start`` record before any byte goes to the printer and an ``end`` record
after the real backend exits, each a small JSON file written to a temporary
name, fsynced and renamed into the journal directory (then the directory is
fsynced), so a record is either whole or absent after a crash. The daemon
ingests records whenever it runs and deletes them once the ledger and the
job log hold what they say; ingestion is idempotent, so a record read twice
changes nothing.

A record holds only opaque ids, counters, state keywords and exit codes:
never the job's title, user name or options (they can carry a citizen's
name or NIK).

File names: ``<key>.<attempt>.<phase>.json`` where ``key`` is the job key
with unsafe characters replaced (see :func:`file_key`), ``attempt`` a
zero-padded number (CUPS retries a job by running the backend again) and
``phase`` ``start`` or ``end``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

#: Subdirectory of the state directory.
JOURNAL_DIR: Final = "spool-journal"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_NAME = re.compile(r"^(?P<key>[A-Za-z0-9_.-]+)\.(?P<attempt>\d{3})\.(?P<phase>start|end)\.json$")
#: Records larger than this are not ours.
MAX_RECORD: Final = 16 * 1024


@dataclass
class StartRecord:
    """An attempt at a job began (written before the real backend runs)."""

    job: str
    queue: str
    cups_job: int
    attempt: int
    copies: int
    cards: int
    at: str
    printer: str | None = None
    counter_before: int | None = None
    scheme: str = ""


@dataclass
class EndRecord:
    """An attempt ended: the real backend's exit code and what the printer said."""

    job: str
    attempt: int
    exit_code: int
    at: str
    counter_after: int | None = None
    #: ``printer-state-reasons`` keywords the backend reported or read after the job.
    reasons: list[str] = field(default_factory=list)
    #: A card is still inside the printer after the job (read from the printer).
    card_inside: bool = False
    pages: int = 0
    #: ``ERROR:`` lines the real backend wrote.
    errors: int = 0


def journal_dir(state_dir: Path) -> Path:
    return Path(state_dir) / JOURNAL_DIR


def file_key(job: str) -> str:
    """``job`` as a file-name part (job keys are opaque ASCII already; ``:`` is kept out)."""
    return _UNSAFE.sub("_", job)


def _write_atomic(directory: Path, name: str, doc: dict[str, Any]) -> Path:
    data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    final = directory / name
    os.replace(tmp, final)
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return final


def next_attempt(directory: Path, job: str) -> int:
    """The number of the next attempt at ``job`` (1 + the attempts journalled so far)."""
    prefix = file_key(job) + "."
    seen = [int(m["attempt"]) for n in os.listdir(directory)
            if n.startswith(prefix) and (m := _NAME.match(n)) and m["key"] == file_key(job)]
    return max(seen, default=0) + 1


def write_start(directory: Path, rec: StartRecord) -> Path:
    """Journal the start of an attempt (durable when this returns)."""
    return _write_atomic(directory, f"{file_key(rec.job)}.{rec.attempt:03d}.start.json",
                         {"v": 1, "phase": "start", **asdict(rec)})


def write_end(directory: Path, rec: EndRecord) -> Path:
    """Journal the end of an attempt (durable when this returns)."""
    return _write_atomic(directory, f"{file_key(rec.job)}.{rec.attempt:03d}.end.json",
                         {"v": 1, "phase": "end", **asdict(rec)})


@dataclass
class Attempt:
    """One attempt as the journal holds it: its start, and its end once written."""

    start: StartRecord
    end: EndRecord | None
    files: list[Path]


class BadRecord(Exception):
    """A journal file that is not a record this program wrote."""


def _load(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_RECORD:
        raise BadRecord(f"{path.name}: larger than {MAX_RECORD} bytes")
    try:
        doc = json.loads(path.read_bytes())
    except ValueError:
        raise BadRecord(f"{path.name}: not JSON") from None
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise BadRecord(f"{path.name}: not a version-1 journal record")
    doc.pop("v")
    doc.pop("phase", None)
    return doc


def read_attempts(directory: Path) -> tuple[dict[str, list[Attempt]], list[str]]:
    """Every journalled attempt, by job key in attempt order, and the problems found
    (unreadable or foreign files, which are left where they are)."""
    problems: list[str] = []
    starts: dict[tuple[str, int], tuple[StartRecord, Path]] = {}
    ends: dict[tuple[str, int], tuple[EndRecord, Path]] = {}
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return {}, []
    for name in names:
        m = _NAME.match(name)
        if m is None:
            if not name.startswith("."):
                problems.append(f"{name}: not a journal record name")
            continue
        path = directory / name
        try:
            doc = _load(path)
            if m["phase"] == "start":
                s = StartRecord(**doc)
                starts[(file_key(s.job), s.attempt)] = (s, path)
            else:
                e = EndRecord(**doc)
                ends[(file_key(e.job), e.attempt)] = (e, path)
        except (OSError, BadRecord, TypeError) as exc:
            problems.append(str(exc) if isinstance(exc, BadRecord) else f"{name}: {exc}")
    jobs: dict[str, list[Attempt]] = {}
    for key in sorted(starts, key=lambda k: (k[0], k[1])):
        s, sp = starts[key]
        e_pair = ends.get(key)
        jobs.setdefault(s.job, []).append(
            Attempt(s, e_pair[0] if e_pair else None, [sp] + ([e_pair[1]] if e_pair else [])))
    for key, (_e, path) in ends.items():
        if key not in starts:
            problems.append(f"{path.name}: an end with no start")
    return jobs, problems


def remove(paths: list[Path]) -> None:
    """Delete records the daemon has ingested (a missing one is fine)."""
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
