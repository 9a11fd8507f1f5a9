"""IPP ``printer-state-reasons`` and the agent's fault codes (DESIGN §4, §8).

Pure tables and functions, shared by the backend (which reports what it read
from a printer it can talk to) and the daemon (which reads cupsd's view of
every configured queue).
"""

from __future__ import annotations

import re
from typing import Final

#: Standard reason keywords and the fault each raises.
REASON_FAULTS: Final = {
    "media-empty": "feeder_empty",
    "media-needed": "feeder_empty",
    "media-jam": "card_jam",
    "door-open": "cover_open",
    "cover-open": "cover_open",
    "interlock-open": "cover_open",
    "marker-supply-empty": "ribbon_out",
    "marker-supply-low": "ribbon_low",
    "marker-waste-full": "reject_box_full",
    "output-area-full": "output_full",
    "input-tray-missing": "feeder_missing",
    "offline": "printer_offline",
    "connecting-to-device": "printer_offline",
    "shutdown": "printer_offline",
    "timed-out": "printer_offline",
}
#: Reasons that say nothing is wrong, or that CUPS itself keeps for its own use.
_IGNORED: Final = frozenset({"none", "paused", "moving-to-paused", "spool-area-full"})
_SUFFIX = re.compile(r"-(report|warning|error)$")
_SAFE = re.compile(r"[^a-z0-9]+")

#: The printer conditions drivers report, as reason keywords (for CUPS' view).
CONDITION_REASONS: Final = {
    "card_jam": "media-jam-error",
    "feeder_empty": "media-empty-error",
    "ribbon_out": "marker-supply-empty-error",
    "cover_open": "cover-open-error",
    "reject_box_full": "marker-waste-full-error",
    "head_overheat": "com.station-agent-head-overheat-error",
}


def severity_suffix(reason: str) -> str:
    """``report``, ``warning``, ``error`` or ``""`` (none given)."""
    m = _SUFFIX.search(reason)
    return m.group(1) if m else ""


def base_keyword(reason: str) -> str:
    """``media-jam-error`` -> ``media-jam``."""
    return _SUFFIX.sub("", reason)


def fault_for(reason: str) -> str | None:
    """The fault code a reason keyword raises, or None (``-report`` reasons, ``none``).

    Unknown (vendor) keywords become ``printer_reason_<keyword>`` so that
    nothing a printer says is dropped."""
    if severity_suffix(reason) == "report":
        return None
    base = base_keyword(reason.strip().lstrip("+-"))
    if base in _IGNORED or base.startswith("cups-"):
        return None
    if base in REASON_FAULTS:
        return REASON_FAULTS[base]
    return "printer_reason_" + _SAFE.sub("_", base.lower()).strip("_")[:48]


def faults_for(reasons: list[str]) -> dict[str, str]:
    """Fault code -> the reason keyword that raised it, for a list of reasons."""
    out: dict[str, str] = {}
    for r in reasons:
        code = fault_for(r)
        if code is not None:
            out.setdefault(code, r)
    return out


def spoil_category(reasons: list[str]) -> str:
    """The spoil category of a card that failed while the printer said ``reasons``:
    ``jam`` for a media jam (the card is removed by hand), else ``print_defect``."""
    bases = {base_keyword(r) for r in reasons}
    return "jam" if "media-jam" in bases else "print_defect"
