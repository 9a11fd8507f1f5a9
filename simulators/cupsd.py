"""A private CUPS scheduler, as CUPS' own test suite runs one (``run-stp-tests.sh``).

Not a simulator: the real ``cupsd -f`` with its own ``cupsd.conf`` and
``cups-files.conf`` in a directory of its own (spool, cache, state, logs,
domain socket, a free loopback port), its own ServerBin whose ``backend/``
holds links to the system's real backends (``socket``, ``ipp`` ...) and
whatever backend a test installs there. Queues are added with ``lpadmin``
and jobs submitted with ``lp``, CUPS' own tools. A system cupsd is never
touched.

As root, cupsd runs backends as ``lp``; the directory is made searchable for
it, and admin requests over the domain socket are allowed to root
(``SystemGroup root``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from simulators.processes import terminate

SYSTEM_SERVERBIN = Path("/usr/lib/cups")
#: Backends of the system linked into the private ServerBin.
SYSTEM_BACKENDS = ("socket", "ipp", "lpd", "usb")
_SERVERBIN_DIRS = ("filter", "cgi-bin", "daemon", "driver", "monitor", "notifier")


def unavailable() -> str | None:
    """Why a private cupsd cannot run here, or None."""
    for tool in ("cupsd", "lpadmin", "lp", "lpstat"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            return f"{tool} is not installed (apt-get install cups cups-client)"
    if os.geteuid() != 0:
        return "a private cupsd that runs backends as lp needs root"
    return None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cupsd:
    """One private cupsd; ``socket`` is its domain socket, ``port`` its TCP port."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="station-cupsd-"))
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)   # lp must reach the spool and the backends
        self.port = _free_port()
        self.socket = str(self.root / "run" / "cups.sock")
        self.serverbin = self.root / "serverbin"
        self.backends = self.serverbin / "backend"
        self.log_dir = self.root / "log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._layout()

    def _layout(self) -> None:
        for d in ("spool", "cache", "state", "log", "run", "serverbin/backend"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        for d in _SERVERBIN_DIRS:
            link = self.serverbin / d
            if not link.exists() and (SYSTEM_SERVERBIN / d).exists():
                link.symlink_to(SYSTEM_SERVERBIN / d)
        for b in SYSTEM_BACKENDS:
            link = self.backends / b
            if not link.exists() and (SYSTEM_SERVERBIN / "backend" / b).exists():
                link.symlink_to(SYSTEM_SERVERBIN / "backend" / b)
        (self.root / "cupsd.conf").write_text(
            "LogLevel debug\n"
            f"Listen 127.0.0.1:{self.port}\n"
            f"Listen {self.socket}\n"
            "Browsing Off\nWebInterface No\nMaxLogSize 0\n"
            # Quick to give up and move on: tests stop and restart printers.
            "JobRetryInterval 1\nJobRetryLimit 3\nPreserveJobHistory Yes\n"
            "<Location />\nOrder Allow,Deny\nAllow all\n</Location>\n"
            "<Location /admin>\nAuthType Default\nRequire user @SYSTEM\nOrder Allow,Deny\n"
            "Allow all\n</Location>\n"
            "<Policy default>\n"
            "<Limit Create-Job Print-Job Print-URI Validate-Job Send-Document Hold-Job "
            "Release-Job Restart-Job Cancel-Job Cancel-My-Jobs Get-Jobs Get-Job-Attributes>\n"
            "Order Deny,Allow\n</Limit>\n"
            "<Limit CUPS-Add-Modify-Printer CUPS-Delete-Printer Pause-Printer Resume-Printer "
            "Enable-Printer Disable-Printer Purge-Jobs Set-Printer-Attributes>\n"
            "AuthType Default\nRequire user @SYSTEM\nOrder Deny,Allow\n</Limit>\n"
            "<Limit All>\nOrder Deny,Allow\n</Limit>\n</Policy>\n")
        r = self.root
        (r / "cups-files.conf").write_text(
            f"ServerRoot {r}\nRequestRoot {r}/spool\nCacheDir {r}/cache\n"
            f"StateDir {r}/state\nServerBin {self.serverbin}\nDataDir /usr/share/cups\n"
            f"AccessLog {r}/log/access_log\nErrorLog {r}/log/error_log\n"
            f"PageLog {r}/log/page_log\nSystemGroup root\nUser lp\nGroup lp\n"
            "FileDevice No\n")

    @property
    def server(self) -> str:
        """What ``[cups] server`` / ``lp -h`` take: the domain socket."""
        return self.socket

    def start(self, timeout: float = 20.0) -> Cupsd:
        cupsd = shutil.which("cupsd") or "/usr/sbin/cupsd"
        self.proc = subprocess.Popen(
            [cupsd, "-f", "-c", str(self.root / "cupsd.conf"),
             "-s", str(self.root / "cups-files.conf")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else b"").decode()
                raise RuntimeError(f"cupsd exited {self.proc.returncode}: {err.strip()}")
            # `lpstat -r` exits 0 either way: its words say whether cupsd answers.
            res = self.run_tool("lpstat", "-r", check=False)
            if "scheduler is running" in res.stdout and self._answers_ipp():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"cupsd did not answer within {timeout} s")

    def _answers_ipp(self) -> bool:
        """cupsd answers an IPP request on its domain socket (not only accepts it)."""
        from station_agent.spooler.cups import Cups, CupsError

        try:
            Cups(self.socket, timeout=2.0).queues()
        except CupsError:
            return False
        return True

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def env(self) -> dict[str, str]:
        return {**os.environ, "CUPS_SERVER": self.socket}

    def run_tool(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a CUPS client tool (``lp``, ``lpadmin`` ...) against this cupsd."""
        tool, rest = argv[0], list(argv[1:])
        for _attempt in range(20):
            res = subprocess.run([tool, "-h", self.socket, *rest], capture_output=True,
                                 text=True, timeout=30, env=self.env())
            # Right after a start or a restart cupsd may still be setting up its
            # socket ("Unable to connect to server"): ask again shortly.
            if "Unable to connect to server" not in res.stderr:
                break
            time.sleep(0.1)
        if check and res.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(rest)} exited {res.returncode}: "
                               f"{res.stderr.strip()}")
        return res

    def add_queue(self, name: str, uri: str, *, error_policy: str = "abort-job") -> None:
        """A raw queue (deprecated in CUPS 2.4, still what card printers' RAW jobs use)."""
        self.run_tool("lpadmin", "-p", name, "-v", uri, "-m", "raw", "-E",
                      "-o", f"printer-error-policy={error_policy}")

    def submit(self, queue: str, path: Path, *, copies: int = 1, title: str = "card",
               user: str | None = None) -> int:
        """``lp`` a file; returns the CUPS job id."""
        argv = ["lp", "-d", queue, "-n", str(copies), "-t", title, "-o", "raw"]
        if user:
            argv[1:1] = ["-U", user]
        out = self.run_tool(*argv, str(path)).stdout
        # "request id is Q-7 (1 file(s))"
        return int(out.split("request id is ", 1)[1].split()[0].rsplit("-", 1)[1])

    def wait_idle(self, queue: str, timeout: float = 60.0) -> None:
        """Until no job of ``queue`` is pending or processing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.run_tool("lpstat", "-o", queue, check=False).stdout
            if not out.strip():
                return
            time.sleep(0.1)
        raise TimeoutError(f"jobs of {queue} still queued after {timeout} s: {out}")

    def log_text(self) -> str:
        try:
            return (self.log_dir / "error_log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
