"""Run groups of checks at once, each group with its own timeout.

A group is a function returning its checks (a printer's reachability, state,
supplies and counters come from one conversation, so they form one group).
Every group runs in its own daemon thread; a group still running at its
deadline is reported as one failed check and left behind (the process exits
without waiting for it). Results keep the order the groups were given in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from station_agent.diag.model import Check, failed


@dataclass(frozen=True, slots=True)
class Group:
    """Checks produced together: ``name`` labels a timeout or a crash."""

    name: str
    run: Callable[[], list[Check]]
    timeout: float
    hint: str = "run the check again; if it keeps hanging, check that device or service"


def run_groups(groups: list[Group]) -> list[Check]:
    """Every group's checks, in order; see the module docstring."""
    results: list[list[Check] | None] = [None] * len(groups)
    threads: list[tuple[threading.Thread, float]] = []

    def work(i: int, g: Group) -> None:
        t0 = time.monotonic()
        try:
            checks = g.run()
        except Exception as exc:   # a check that crashes is a failed check, not a crash
            checks = [failed(g.name, f"the check itself failed: {type(exc).__name__}: {exc}",
                             "report this as a bug in station-agent, with the output of "
                             "`station-agent diag --json`")]
        ms = (time.monotonic() - t0) * 1000
        results[i] = [c if c.ms is not None else replace(c, ms=ms) for c in checks]

    start = time.monotonic()
    for i, g in enumerate(groups):
        t = threading.Thread(target=work, args=(i, g), name=f"diag-{g.name}", daemon=True)
        t.start()
        threads.append((t, start + g.timeout))
    out: list[Check] = []
    for i, (t, deadline) in enumerate(threads):
        t.join(max(0.0, deadline - time.monotonic()))
        got = results[i]
        if got is None:
            g = groups[i]
            out.append(failed(g.name, f"no result within {g.timeout:g} s", g.hint))
        else:
            out.extend(got)
    return out
