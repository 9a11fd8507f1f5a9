"""A private Mosquitto broker on a free loopback port (the central side, locally).

Not a simulator of MQTT: the real broker, started with its own config file
in a directory of its own, so tests, the demo and the benchmarks run the
uplink against what stations meet in the field without touching a system
broker. Persistence is on by default (saved on a clean stop) so a broker
restart keeps durable subscribers' sessions and queued messages.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from simulators.processes import terminate

BINARY_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto")


def find_binary() -> str | None:
    """The mosquitto executable, or None when it is not installed."""
    for name in BINARY_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TlsFiles:
    """Server-side TLS material (PEM files)."""

    cafile: Path
    certfile: Path
    keyfile: Path


class Mosquitto:
    """One broker process; ``start``/``stop`` (clean, saves)/``kill`` (-9)/``restart``."""

    def __init__(self, root: Path, *, port: int | None = None, persistence: bool = True,
                 tls: TlsFiles | None = None, password_file: Path | None = None,
                 require_certificate: bool = False, acl_file: Path | None = None) -> None:
        binary = find_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed: apt-get install mosquitto")
        self.binary = binary
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.tls = tls
        self.log = self.root / "mosquitto.log"
        self.config = self.root / "mosquitto.conf"
        lines = [
            # Run as whoever started it (as root, mosquitto would otherwise switch
            # to the mosquitto user, which cannot read a private tmp dir).
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous " + ("false" if password_file else "true"),
            "max_queued_messages 0",         # durable subscribers miss nothing
            "max_inflight_messages 100",
            "log_dest file " + str(self.log),
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if password_file is not None:
            lines.append(f"password_file {password_file}")
        if acl_file is not None:
            lines.append(f"acl_file {acl_file}")
        if persistence:
            lines += ["persistence true", f"persistence_location {self.root}/",
                      "autosave_interval 1"]
        if tls is not None:
            lines += [f"cafile {tls.cafile}", f"certfile {tls.certfile}",
                      f"keyfile {tls.keyfile}"]
            if require_certificate:     # mutual TLS: clients show a cert signed by cafile
                lines += ["require_certificate true", "use_identity_as_username true"]
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Mosquitto:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.config)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: "
                                   f"{self.log_text()[-2000:]}")
            with contextlib.suppress(OSError), \
                    socket.create_connection((self.host, self.port), timeout=0.5):
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"mosquitto did not listen on port {self.port} within "
                                   f"{timeout:g} s: {self.log_text()[-2000:]}")
            time.sleep(0.02)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Clean stop (SIGTERM): persistent sessions and queues are saved."""
        if self.proc is None:
            return
        terminate(self.proc, timeout)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: whatever was not saved is gone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc = None

    def restart(self) -> Mosquitto:
        self.stop()
        return self.start()

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
