"""A private PostgreSQL server in a directory of its own (the central ledger, locally).

Not a simulator: Debian's real PostgreSQL, made with ``initdb`` and run with
``pg_ctl`` on a free loopback port and a private socket directory, for the
tests, the benchmark and the demo of the central side without touching a
system cluster. ``initdb`` refuses to run as root, so when started by root
the server runs as an unprivileged user (``postgres`` from Debian's
package, or ``nobody``) owning the data directory.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from simulators.mosquitto import free_port


def find_bindir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl`` (the newest Debian PostgreSQL)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    which = shutil.which("pg_ctl")
    return Path(which).parent if which else None


def _run_as() -> str | None:
    """The user to run the server as when we are root (None: ourselves)."""
    if os.getuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) exists "
                       "to run PostgreSQL as")


class Postgres:
    """One server: ``start``/``stop`` (fast shutdown)/``kill`` (-9)/``restart``; ``url``."""

    def __init__(self, root: Path, *, port: int | None = None, fsync: bool = False) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
        self.bindir = bindir
        self.root = Path(root)
        self.data = self.root / "data"
        self.sockets = self.root / "run"
        self.log = self.root / "postgres.log"
        self.port = port or free_port()
        self.user = _run_as()
        self.fsync = fsync
        self._made = False

    @property
    def url(self) -> str:
        return f"postgresql://central@127.0.0.1:{self.port}/central"

    def _cmd(self, *args: str) -> list[str]:
        if self.user is None:
            return list(args)
        return ["runuser", "-u", self.user, "--", *args]

    def _init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        if self.user is not None:
            pw = pwd.getpwnam(self.user)
            # The server's user must reach its directory: let it through our own
            # private parents (e.g. a tmp dir made with mode 700), listing nothing.
            for parent in self.root.resolve().parents:
                st = parent.stat()
                if st.st_uid == os.getuid() and not st.st_mode & 0o001:
                    os.chmod(parent, (st.st_mode & 0o7777) | 0o001)
            os.chmod(self.root, 0o755)
            for p in (self.root, self.sockets):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        made = subprocess.run(self._cmd(str(self.bindir / "initdb"), "-D", str(self.data),
                                        "-U", "central", "--auth=trust", "-E", "UTF8",
                                        "--no-sync", "--locale=C"),
                              capture_output=True, text=True)
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed in {self.data} (the server's user "
                               f"{self.user or 'ourselves'} must be able to reach it): "
                               f"{made.stderr.strip()[-1000:]}")
        conf = [f"port = {self.port}", "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{self.sockets}'", "max_connections = 50",
                "shared_buffers = 128MB", f"fsync = {'on' if self.fsync else 'off'}",
                "synchronous_commit = on", "full_page_writes = off" if not self.fsync else "",
                "logging_collector = off"]
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write("\n".join(c for c in conf if c) + "\n")
        self._made = True

    def start(self, timeout: float = 30.0) -> Postgres:
        if not self._made:
            self._init()
        subprocess.run(self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                                 str(self.log), "-w", "-t", str(int(timeout)), "start"),
                       check=True, capture_output=True)
        if not self._has_db():
            subprocess.run(self._cmd(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p",
                                     str(self.port), "-U", "central", "central"),
                           check=True, capture_output=True)
        return self

    def _has_db(self) -> bool:
        out = subprocess.run(self._cmd(str(self.bindir / "psql"), "-h", "127.0.0.1", "-p",
                                       str(self.port), "-U", "central", "-d", "postgres",
                                       "-Atc", "SELECT 1 FROM pg_database WHERE "
                                       "datname = 'central'"),
                             capture_output=True, text=True)
        return out.stdout.strip() == "1"

    def pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        return None

    def running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True

    def stop(self) -> None:
        """Fast shutdown: open transactions roll back, committed ones stay."""
        if self.running():
            subprocess.run(self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                                     "fast", "-w", "stop"), capture_output=True)

    def kill(self) -> None:
        """SIGKILL the postmaster (its children exit when they notice)."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.05)
        self.stop()

    def restart(self) -> Postgres:
        self.stop()
        return self.start()
