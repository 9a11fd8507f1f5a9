"""The office console inside the daemon: the station as the console's
:class:`~station_agent.console.app.Backend`, and the console's server started
and stopped with the station (DESIGN §9)."""

from __future__ import annotations

import contextlib
import os
import threading
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from station_agent import __version__, clock
from station_agent.console.accounts import Accounts
from station_agent.console.app import Console
from station_agent.console.metrics import exposition
from station_agent.console.server import ConsoleServer

if TYPE_CHECKING:
    from station_agent.daemon.station import Station

#: File in the state directory holding the console's URL while it serves.
URL_FILE = "console-url"


class StationBackend:
    """The console's view of a running :class:`Station`: its API operations (with
    the same in-flight accounting as API requests), reports and metrics."""

    def __init__(self, station: Station) -> None:
        self.station = station
        cfg = station.config
        self.station_id, self.office = cfg.station_id, cfg.office
        self.timezone, self.language = cfg.timezone, cfg.language
        self._spoiled: dict[str, int] = {}
        self._spoiled_upto = 0
        self._lock = threading.Lock()

    def call(self, op: str, params: dict[str, Any]) -> Any:
        return self.station.perform(op, params)

    def daily_report(self, day: date, fmt: str, lang: str) -> str:
        from station_agent.report.model import build_report
        from station_agent.report.render import render

        report = self.station.ledger.read(lambda conn: build_report(
            conn, day, station_id=self.station_id,
            supply_kinds=self.station.config.supplies))
        return render(report, fmt, lang, self.office)

    def monthly_report(self, year: int, month: int, fmt: str, lang: str) -> str:
        from station_agent.report.month import build_month
        from station_agent.report.month_render import render_month

        report = self.station.ledger.read(lambda conn: build_month(
            conn, year, month, station_id=self.station_id, office=self.office,
            region=self.station.config.region, supply_kinds=self.station.config.supplies))
        return render_month(report, fmt, lang)

    def metrics(self) -> str:
        st = self.station
        return exposition(st.status(), st.ledger.balances().as_dict(), self._spoiled_counts(),
                          version=__version__, now=clock.now())

    def _spoiled_counts(self) -> dict[str, int]:
        """Spoiled cards by category since the start: read incrementally (entries
        after the last read only), so a scrape costs the same on any ledger."""
        def read(conn: Any) -> tuple[int, list[tuple[str, int]]]:
            head = conn.execute("SELECT head_seq FROM state").fetchone()[0]
            rows = conn.execute(
                "SELECT category, SUM(count) FROM entries WHERE seq > ? AND seq <= ? AND "
                "kind IN ('reject', 'void') GROUP BY category",
                (self._spoiled_upto, head)).fetchall()
            return int(head), [(str(c), int(n)) for c, n in rows]
        with self._lock:
            head, rows = self.station.ledger.read(read)
            for category, n in rows:
                self._spoiled[category] = self._spoiled.get(category, 0) + n
            self._spoiled_upto = head
            return dict(self._spoiled)


def start_console(station: Station) -> ConsoleServer | None:
    """Serve the console on ``[web] listen``; None (and the fault ``console_down``)
    when the address cannot be had, so the ledger and the devices run anyway."""
    web = station.config.web
    url_file = Path(station.state_dir) / URL_FILE
    with contextlib.suppress(OSError):
        url_file.unlink()
    if not web.enabled:
        return None
    console = Console(StationBackend(station), Accounts(station.state_dir),
                      allowed_hosts=web.allowed_hosts(), session_minutes=web.session_minutes)
    try:
        server = ConsoleServer(console, web.host, web.port).start()
    except OSError as exc:
        detail = (f"cannot listen on {web.listen} ({exc.strerror}): another program may use "
                  "the port; set [web] listen to a free one")
        station.log.error("console not started", error=detail)
        station.faults.raise_fault("station", "console_down", detail)
        return None
    if station.faults.is_active("station", "console_down"):
        station.faults.clear_fault("station", "console_down")
    tmp = url_file.with_name(URL_FILE + ".new")
    tmp.write_text(server.url + "\n")
    os.replace(tmp, url_file)
    station.log.info("console serving", url=server.url)
    return server


def stop_console(station: Station, server: ConsoleServer | None) -> None:
    """Stop serving and forget the URL."""
    if server is not None:
        server.stop()
    with contextlib.suppress(OSError):
        (Path(station.state_dir) / URL_FILE).unlink()
