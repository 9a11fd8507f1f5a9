"""A tiny reference model of the ledger's rules, for property tests.

Written from DESIGN §3 independently of the implementation: plain dicts and
sets, no SQL, no hashing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from station_agent.ledger import model
from station_agent.ledger.model import Transfer


@dataclass
class RefLedger:
    balances: dict[str, int] = field(default_factory=lambda: dict.fromkeys(model.ACCOUNTS, 0))
    received: int = 0
    adjusted: int = 0
    entries: int = 0
    by_id: dict[str, tuple[object, ...]] = field(default_factory=dict)
    jobs: dict[str, str | None] = field(default_factory=dict)  # job -> outcome or None
    serials: list[tuple[str, int, int]] = field(default_factory=list)

    def apply(self, t: Transfer) -> str:
        """Apply ``t``; return "new", "replay" or "refused" (then nothing changed)."""
        try:
            model.validate(t)
        except Exception:
            return "refused"
        if t.idem_id in self.by_id:
            return "replay" if self.by_id[t.idem_id] == t.content() else "refused"
        if t.src != model.EXTERNAL and self.balances[t.src] < t.count:
            return "refused"
        if t.job_id is not None:
            if t.kind == model.PICK and t.job_id in self.jobs:
                return "refused"
            if t.kind != model.PICK and (t.job_id not in self.jobs
                                          or self.jobs[t.job_id] is not None):
                return "refused"
        if t.first_serial is not None:
            digits = len(t.first_serial) - len(t.first_serial.rstrip("0123456789"))
            if digits == 0:
                return "refused"
            prefix = t.first_serial[:-digits]
            first = int(t.first_serial[-digits:])
            last = first + t.count - 1
            for p, a, b in self.serials:
                if p == prefix and first <= b and a <= last:
                    return "refused"
            self.serials.append((prefix, first, last))
        if t.job_id is not None:
            self.jobs[t.job_id] = None if t.kind == model.PICK else t.kind
        self.balances[t.src] -= t.count
        self.balances[t.dst] += t.count
        if t.kind == model.RECEIVE:
            self.received += t.count
        if t.kind == model.ADJUST:
            self.adjusted += t.count if t.dst == model.STOCK else -t.count
        self.by_id[t.idem_id] = t.content()
        self.entries += 1
        return "new"
