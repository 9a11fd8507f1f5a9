"""The central side's test stacks: a real PostgreSQL per test (initdb/pg_ctl in a tmp
dir, as an unprivileged user when the tests run as root), real mosquitto brokers,
loaders as `station-agent central run` processes, station daemons with their
own ids and offices."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.postgres import Postgres, find_bindir
from tests.agent.conftest import (
    Daemon,
    daemons,  # noqa: F401  (the daemon fixture, shared)
)
from tests.conftest import REPO, cli_env
from tests.helpers.waiting import wait_until
from tests.uplink.conftest import brokers  # noqa: F401  (the broker fixture, shared)

psycopg = pytest.importorskip("psycopg")

if find_bindir() is None:   # pragma: no cover - CI installs it (scripts/dev)
    pytest.skip("PostgreSQL is not installed (apt-get install postgresql)",
                allow_module_level=True)


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    """A started PostgreSQL server of this test's own; stopped and removed after."""
    root = tempfile.TemporaryDirectory(prefix="pg-")
    pg = Postgres(Path(root.name))
    try:
        yield pg.start()
    finally:
        pg.kill()
        root.cleanup()


def connect(pg: Postgres) -> Any:
    return psycopg.connect(pg.url, autocommit=True)


class Loader:
    """``station-agent central run`` as a process: ``start``, ``stop`` (SIGTERM), ``kill`` (-9)."""

    def __init__(self, broker_url: str, db_url: str, name: str, root: Path,
                 *extra: str) -> None:
        self.cmd = [sys.executable, "-m", "station_agent", "central", "run", "--broker",
                    broker_url, "--db", db_url, "--name", name, "--log-level", "debug", *extra]
        self.log = root / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Loader:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=out,
                                         stdin=subprocess.DEVNULL, env=cli_env(), cwd=REPO)
        wait_until(lambda: b"loader started" in self.log.read_bytes()
                   or (self.proc is not None and self.proc.poll() is not None), 30,
                   "the loader to start")
        assert self.proc.poll() is None, self.text()[-3000:]
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
        self.proc = None

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.terminate()
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code


@pytest.fixture
def loaders() -> Iterator[Callable[..., Loader]]:
    """``loaders(broker_url, db_url, name="l1", *extra)`` -> a started loader; all
    stopped after the test."""
    made: list[Loader] = []
    root = tempfile.TemporaryDirectory(prefix="ld-")

    def make(broker_url: str, db_url: str, name: str = "l1", *extra: str,
             start: bool = True) -> Loader:
        ld = Loader(broker_url, db_url, name, Path(root.name), *extra)
        made.append(ld)
        return ld.start() if start else ld

    yield make
    for ld in made:
        ld.kill()
    root.cleanup()


def station(make: Any, station_id: str, office: str, region: str, broker_url: str) -> Daemon:
    """A station daemon with its own id, office and region, forwarding to ``broker_url``."""
    d: Daemon = make(f'[uplink]\nmqtt_url = "{broker_url}"\nreconnect_max = 1.0\n'
                        "status_interval = 2\n")
    text = d.config.read_text()
    d.config.write_text(text.replace('id = "test-01"',
                                     f'id = "{station_id}"\noffice = "{office}"\n'
                                     f'region = "{region}"', 1))
    return d


def db_counts(conn: Any) -> dict[str, int]:
    """Row counts of the tables that hold loaded data."""
    out = {}
    for table in ("events", "entries", "fault_events", "balances", "streams", "stations",
                  "chain_breaks"):
        out[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return out
