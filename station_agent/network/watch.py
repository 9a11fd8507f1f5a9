"""The server-network watch: probe every ``interval``, raise and clear the
network faults with ``fail_after`` / ``clear_after`` hysteresis, record outages.

Each probe is one observation of every network fault code: the code the
probe points at is bad, the others good (a probe that fails at DNS says the
link is fine and says nothing good about the server, but the fault that
names the phase is the DNS one). An *outage* lasts from the first failed
probe of the run that raised a fault (not ``fail_after`` probes later) to
the first good probe of the run that cleared it, so reports say how long
the server was really unreachable. ``server_slow`` is degradation, not an
outage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from station_agent.faults.reporter import FaultSink
from station_agent.network.probe import CODES, SERVER_SLOW, Prober, ProbeResult

SOURCE = "network"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class NetworkWatch:
    """Probes ``prober`` every ``interval`` seconds on its own thread."""

    def __init__(self, prober: Prober, board: FaultSink, *, interval: float = 5.0,
                 fail_after: int = 3, clear_after: int = 2,
                 on_outage: Callable[[str, str, str, str], None] | None = None) -> None:
        self.prober, self.board = prober, board
        self.interval, self.fail_after, self.clear_after = interval, fail_after, clear_after
        #: ``on_outage("start", phase, iso_time, detail)`` / ``("end", "", iso_time, "")``.
        self.on_outage = on_outage
        self.last: ProbeResult | None = None
        self.probes = 0
        self._failing_since: float | None = None   # first failed probe of the current run
        self._good_since: float | None = None      # first good probe after failures
        self._in_outage = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> NetworkWatch:
        self._thread = threading.Thread(target=self._loop, name="network-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.prober.timeout + 2)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.step()
            self._stop.wait(self.interval)

    def step(self) -> ProbeResult:
        """Probe once and apply the result (also used directly by tests)."""
        result = self.prober.probe()
        self.apply(result)
        return result

    def apply(self, r: ProbeResult) -> None:
        self.last = r
        self.probes += 1
        down = r.failed is not None
        if down:
            self._good_since = None
            if self._failing_since is None:
                self._failing_since = r.at
        else:
            if self._good_since is None:
                self._good_since = r.at
            if not self._in_outage:
                self._failing_since = None
        fault = r.fault
        for code in CODES:
            self.board.observe(SOURCE, code, code == fault, r.detail,
                               raise_after=self.fail_after, clear_after=self.clear_after)
        outage_codes = [c for c in CODES if c != SERVER_SLOW
                        and self.board.is_active(SOURCE, c)]
        if outage_codes and not self._in_outage:
            self._in_outage = True
            phase = r.failed or outage_codes[0]
            if self.on_outage:
                self.on_outage("start", phase, iso(self._failing_since or r.at), r.detail)
        elif not outage_codes and self._in_outage:
            self._in_outage = False
            self._failing_since = None
            if self.on_outage:
                self.on_outage("end", "", iso(self._good_since or r.at), "")

    @property
    def in_outage(self) -> bool:
        return self._in_outage
