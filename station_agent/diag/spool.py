"""Technician checks of the spooler path (docs/SPOOLER.md): the ``station``
backend installed as cupsd needs it, and each configured queue - wrapped,
its state and reasons, its supply levels - read from cupsd over IPP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from station_agent.diag.model import Check, failed, passed, warned
from station_agent.spooler.cups import Cups, CupsError
from station_agent.spooler.install import check_backend
from station_agent.spooler.reasons import faults_for


def spooler_checks(cfg: Any) -> list[Check]:
    """``cups:backend`` and one ``queue:<printer id>`` per ``[[printer]] queue``."""
    queued = [p for p in cfg.printers if p.queue]
    if not queued:
        return []
    ok, detail = check_backend(Path(cfg.cups_backend_dir))
    checks = [passed("cups:backend", detail) if ok else
              failed("cups:backend", detail, "install it: station-agent cups install-backend")]
    cups = Cups(cfg.cups_server, timeout=3.0)
    try:
        queues = {q.name: q for q in cups.queues()}
    except CupsError as exc:
        return [*checks, failed("cups", str(exc), "start CUPS or fix [cups] server")]
    for pc in queued:
        name = f"queue:{pc.id}"
        q = queues.get(pc.queue)
        if q is None:
            checks.append(failed(name, f"CUPS has no queue {pc.queue!r}",
                                 "add the queue (lpadmin) or fix [[printer]] queue"))
            continue
        supplies = ", ".join(f"{m['name']} {m['level']} %" for m in q.markers) or "none reported"
        detail = (f"{q.name} {q.state}, {q.queued} job(s) queued, supplies: {supplies}"
                  + (f", reasons: {', '.join(q.reasons)}" if q.reasons else ""))
        if not q.wrapped:
            checks.append(failed(name, f"{detail}; not wrapped: its jobs are not accounted",
                                 f"station-agent cups wrap {q.name} --printer {pc.id}"))
        elif q.state == "stopped":
            checks.append(failed(name, detail + (f" ({q.message})" if q.message else ""),
                                 f"fix the printer, then cupsenable {q.name}"))
        elif faults_for(q.reasons):
            codes = ", ".join(sorted(faults_for(q.reasons)))
            checks.append(warned(name, detail, f"the printer reports {codes}: see "
                                               "`station-agent faults`"))
        else:
            checks.append(passed(name, detail))
    return checks
