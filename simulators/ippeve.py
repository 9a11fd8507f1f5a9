"""``ippeveprinter`` (CUPS' IPP Everywhere printer, cups-ipp-utils): a real IPP
printer nobody here wrote, on a free loopback port.

Debian 12's build refuses to start without DNS-SD ("Unable to initialize
DNS-SD") even with ``-r off``, so when no avahi-daemon answers, this starts a
private D-Bus bus (its own socket in a temporary directory, given to both
through ``DBUS_SYSTEM_BUS_ADDRESS``) and an avahi-daemon on it restricted to
loopback; all three are stopped by :meth:`IppEvePrinter.stop`. (avahi-daemon
writes its pid file under /run/avahi-daemon; it is refused, and this class
uses the machine's avahi instead, when a system avahi-daemon runs.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from simulators.processes import terminate

_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_type="method_call"/>
    <allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
"""
_AVAHI_CONF = ("[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=lo\nenable-dbus=yes\n"
               "[wide-area]\nenable-wide-area=no\n[publish]\npublish-hinfo=no\n"
               "publish-workstation=no\n")


def unavailable() -> str | None:
    """Why ippeveprinter cannot run here, or None."""
    for tool in ("ippeveprinter", "dbus-daemon", "avahi-daemon"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            return f"{tool} is not installed (apt-get install cups-ipp-utils avahi-daemon dbus)"
    return None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _system_avahi_running() -> bool:
    try:
        pid = int(Path("/run/avahi-daemon/pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


class IppEvePrinter:
    """One ippeveprinter named ``name`` (with its private bus and avahi if needed)."""

    def __init__(self, name: str = "CardPrinter", attributes: str | None = None) -> None:
        """``attributes``: an ippeveprinter attributes file's text (``ATTR type name
        value`` lines), e.g. ``marker-*`` supplies a card printer reports."""
        self.name = name
        self.attributes = attributes
        self.root = Path(tempfile.mkdtemp(prefix="station-ippeve-"))
        os.chmod(self.root, 0o755)
        self.port = _free_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = dict(os.environ)

    @property
    def uri(self) -> str:
        return f"ipp://127.0.0.1:{self.port}/ipp/print"

    def start(self, timeout: float = 20.0) -> IppEvePrinter:
        """Start (the bus and avahi if needed, then the printer); on failure
        everything started is stopped before the error is raised."""
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> IppEvePrinter:
        if not _system_avahi_running():
            sock = self.root / "bus.sock"
            (self.root / "bus.conf").write_text(_BUS_CONF.format(socket=sock))
            (self.root / "avahi.conf").write_text(_AVAHI_CONF)
            self.env["DBUS_SYSTEM_BUS_ADDRESS"] = f"unix:path={sock}"
            self._spawn(["dbus-daemon", "--nofork", f"--config-file={self.root / 'bus.conf'}"],
                        "dbus")
            self._wait(lambda: sock.exists(), timeout, "the private D-Bus bus")
            self._spawn(["avahi-daemon", "-f", str(self.root / "avahi.conf"), "--no-chroot",
                         "--no-drop-root", "--no-rlimits"], "avahi")
            self._wait(lambda: "Server startup complete" in self._log("avahi"), timeout,
                       "avahi-daemon")
        spool = self.root / "spool"
        spool.mkdir()
        # ippeveprinter takes the legacy options (formats, make, model) or an
        # attributes file, not both.
        formats = "application/octet-stream,application/vnd.cups-raw"
        if self.attributes:
            (self.root / "attributes.conf").write_text(
                f"ATTR mimeMediaType document-format-supported {formats}\n"
                'ATTR text printer-make-and-model "Station IPP Card Printer"\n'
                + self.attributes)
            describe = ["-a", str(self.root / "attributes.conf")]
        else:
            describe = ["-f", formats, "-M", "Station", "-m", "IPP Card Printer"]
        # -c: "print" each job by running true on it (done at once); -k keeps it.
        self._spawn(["ippeveprinter", *describe, "-r", "off", "-p", str(self.port),
                     "-d", str(spool), "-k", "-c", shutil.which("true") or "/bin/true",
                     self.name], "ippeve")
        self._wait(self._answers, timeout, "ippeveprinter")
        return self

    def _spawn(self, argv: list[str], name: str) -> None:
        log = (self.root / f"{name}.log").open("wb")
        try:
            self.procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                               stderr=subprocess.STDOUT, env=self.env))
        finally:
            log.close()

    def _log(self, name: str) -> str:
        try:
            return (self.root / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1):
                return True
        except OSError as exc:
            return getattr(exc, "code", None) is not None   # an HTTP error is an answer

    def _wait(self, ready: object, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    logs = " | ".join(self._log(n)[-300:] for n in ("dbus", "avahi", "ippeve"))
                    raise RuntimeError(f"{what}: a process exited {p.returncode}: {logs}")
            if ready():  # type: ignore[operator]
                return
            time.sleep(0.1)
        raise RuntimeError(f"{what} did not start within {timeout} s")

    def jobs_received(self) -> int:
        """Documents the printer has kept (``-k``) in its spool."""
        return sum(1 for p in (self.root / "spool").rglob("*") if p.is_file())

    def stop(self) -> None:
        for p in reversed(self.procs):
            terminate(p)
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)
