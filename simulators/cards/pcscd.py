"""Run a private pcscd with the vpcd virtual reader on free ports.

For tests, demos and benchmarks: :class:`Pcscd` writes a ``reader.conf.d``
with one vpcd entry (two slots, on ``port`` and ``port + 1``) into a temp
dir and runs ``pcscd --foreground -c DIR`` (never ``--auto-exit``: it would
quit after 60 s idle and take the virtual readers with it). pcscd's client
socket is fixed (``/run/pcscd/pcscd.comm``), so only one pcscd can run on a
machine: :func:`unavailable` says why one cannot be started here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PID_FILE = Path("/run/pcscd/pcscd.pid")
SOCKET = Path("/run/pcscd/pcscd.comm")
READER_NAMES = ("Virtual PCD 00 00", "Virtual PCD 00 01")


def running_pcscd() -> int | None:
    """The pid of a pcscd already running on this machine, if any."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(PID_FILE.read_text().strip())
        os.kill(pid, 0)
        return pid
    return None


def unavailable() -> str | None:
    """Why a private pcscd cannot be started here (``None``: it can)."""
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        return "pcscd is not installed (apt-get install pcscd)"
    if not VPCD_DRIVER.exists():
        return f"the vpcd driver {VPCD_DRIVER} is missing (apt-get install vsmartcard-vpcd)"
    pid = running_pcscd()
    if pid is not None:
        return (f"another pcscd is running (pid {pid}); stop it first "
                "(systemctl stop pcscd.socket pcscd, or kill it)")
    return None


def free_port_pair() -> int:
    """A port P such that P and P+1 are both free on loopback."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("0.0.0.0", port))
                b.bind(("0.0.0.0", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no two consecutive free TCP ports found")


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the process that started it dies,
    so a killed test run never leaves a pcscd holding the machine's only socket."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    os.setsid()


class Pcscd:
    """A private pcscd serving two vpcd slots on ``port`` and ``port + 1``."""

    def __init__(self, port: int | None = None, *, debug: bool = False) -> None:
        self.port = port or free_port_pair()
        self.debug = debug
        self.dir = Path(tempfile.mkdtemp(prefix="station-agent-pcscd-"))
        conf = self.dir / "reader.conf.d"
        conf.mkdir()
        (conf / "vpcd").write_text(
            'FRIENDLYNAME "Virtual PCD"\n'
            f"DEVICENAME   /dev/null:0x{self.port:X}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    0x{self.port:X}\n")
        self.log = self.dir / "pcscd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Pcscd:
        """Start pcscd and wait until its readers are listed."""
        why = unavailable()
        if why is not None:
            raise RuntimeError(why)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                ["pcscd", "--foreground", "-c", str(self.dir / "reader.conf.d"),
                 "--debug" if self.debug else "--error"],
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pcscd exited with {self.proc.returncode}: "
                                   f"{self.log.read_text(errors='replace')[-500:]}")
            if SOCKET.exists() and self._listening():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pcscd did not come up in {timeout} s")

    def _listening(self) -> bool:
        """Both vpcd slots listen (read from /proc, so no card 'insertion' happens)."""
        want = {f"{self.port:04X}", f"{self.port + 1:04X}"}
        found: set[str] = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError), open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if cols[3] == "0A":  # LISTEN
                        found.add(cols[1].rsplit(":", 1)[1])
        return want <= found

    def kill(self) -> None:
        """SIGKILL pcscd (a crash); its stale socket and pid file are removed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        for path in (SOCKET, PID_FILE):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def stop(self) -> None:
        """SIGTERM pcscd and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Pcscd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
