"""Printing for the CLI: one JSON document for ``--json``, plain tables otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping

# typing is imported for the type checker only: this module is on the CLI's
# start-up path (docs/PERFORMANCE.md, cli.status_latency).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from station_agent.ledger import Balances, Entry


def emit_json(doc: object) -> None:
    """Print exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False))
    sys.stdout.write("\n")


def table(rows: Iterable[tuple[str, object]], *, indent: int = 2, right: bool = True) -> str:
    """Two aligned columns: names left, values right-aligned (or left with ``right=False``)."""
    rows = list(rows)
    if not rows:
        return ""
    width = max(len(k) for k, _ in rows)
    vwidth = max(len(_fmt(v)) for _, v in rows) if right else 0
    return "\n".join(f"{' ' * indent}{k:<{width}}  {_fmt(v):>{vwidth}}".rstrip()
                     for k, v in rows)


def _fmt(v: object) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def account_rows(b: Mapping[str, object], accounts: Iterable[str]) -> list[tuple[str, object]]:
    """``(label, count)`` for each of ``accounts`` (``in stock``, ``spoiled, in custody``)."""
    from station_agent.ledger.model import ACCOUNT_LABELS

    return [(ACCOUNT_LABELS[a], b[a]) for a in accounts]


def plural(n: int, one: str, many: str) -> str:
    """``1 entry``, ``2 entries``, ``12,000 entries``."""
    return f"{n:,} {one if n == 1 else many}"


def local_time(ts: str | None, *, zone: bool = True) -> str:
    """A stored UTC time (``2026-11-28T18:37:13.46Z``) as the office reads it:
    ``2026-11-29 02:37 WITA`` in the process's time zone (the station's, set by
    the CLI from the state directory); ``-`` for none, the text itself when it
    is not a time."""
    if not ts:
        return "-"
    from datetime import datetime

    try:
        local = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return ts
    return local.strftime("%Y-%m-%d %H:%M %Z" if zone else "%Y-%m-%d %H:%M").strip()


def balances_text(b: Balances, where: str) -> str:
    """The human view of ``blanks``."""
    lines = [
        f"Blank balances at {where} (entry {b.entries:,})",
        table(account_rows(b.as_dict(), ("stock", "in_printer", "issued", "spoiled_held",
                                         "spoiled_disposed", "lost"))),
        "",
        table([
            ("received", b.received),
            ("corrections", f"{b.adjusted:+,}"),
            ("accounted for", b.accounted),
        ]),
        f"  chain head {b.entries}:{b.chain_head[:16]}",
    ]
    return "\n".join(lines)


def entry_text(e: Entry) -> str:
    """One line describing a recorded (or replayed) entry."""
    what = f"{e.kind} of {e.count:,} blank(s) {e.src} -> {e.dst}"
    extra = ", ".join(
        f"{k} {v}" for k, v in (("batch", e.batch_id), ("job", e.job_id),
                                ("first serial", e.first_serial), ("reason", e.reason),
                                ("reference", e.reference))
        if v is not None
    )
    if extra:
        what += f" ({extra})"
    if e.replay:
        return f"already recorded as entry {e.seq}: {what}; nothing changed"
    return f"recorded entry {e.seq}: {what} [id {e.idem_id}]"
