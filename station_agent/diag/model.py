"""What one diagnostic check found (the ``diag --json`` contract, DESIGN §5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PASS, WARN, FAIL = "pass", "warn", "fail"
STATUSES = (PASS, WARN, FAIL)


@dataclass(frozen=True, slots=True)
class Check:
    """One check: ``status`` is pass, warn or fail; ``detail`` what was found;
    ``hint`` what a technician can do about it (empty when nothing is needed)."""

    name: str
    status: str
    detail: str
    hint: str = ""
    ms: float | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.name}: status {self.status!r} is not one of "
                             f"{', '.join(STATUSES)}")

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "status": self.status,
                               "detail": self.detail, "hint": self.hint}
        if self.ms is not None:
            doc["ms"] = round(self.ms, 1)
        return doc


def passed(name: str, detail: str) -> Check:
    return Check(name, PASS, detail)


def warned(name: str, detail: str, hint: str) -> Check:
    return Check(name, WARN, detail, hint)


def failed(name: str, detail: str, hint: str) -> Check:
    return Check(name, FAIL, detail, hint)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Every check of one run; ``ok`` unless one failed."""

    checks: tuple[Check, ...]
    station_id: str | None
    state_dir: str | None
    elapsed_ms: float

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def count(self, status: str) -> int:
        return sum(1 for c in self.checks if c.status == status)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.as_dict() for c in self.checks],
                "station_id": self.station_id, "state_dir": self.state_dir,
                "summary": {s: self.count(s) for s in STATUSES},
                "elapsed_ms": round(self.elapsed_ms, 1)}
