"""The ``station`` CUPS backend: accounting around the queue's real backend.

cupsd runs it for a queue whose device URI is ``station:<real-uri>``
(backend(7)): ``station JOB-ID USER TITLE COPIES OPTIONS [FILE]``. It

1. journals the attempt (:mod:`.journal`) before any byte reaches the printer,
   with the printer's card counter when the queue's ``[[printer]]`` has a
   family and an address the agent speaks;
2. runs the real backend (``$CUPS_SERVERBIN/backend/<scheme>``) with the real
   URI, the same arguments, stdin and the back (3) and side (4) channels;
   passes its stderr to CUPS line by line and keeps the ``STATE:`` and
   ``PAGE:`` lines it saw;
3. reads the counter and the printer's state again, tells CUPS about a jam
   or an empty feeder the real backend could not see, journals the end, and
   exits with the real backend's exit code.

Printing never depends on the agent: a config that cannot be read, a printer
that does not answer its counter, a journal that cannot be written - each is
logged to CUPS (``ERROR:``/``WARNING:``) and the real backend runs anyway.

Title, user and options are untrusted: only ``job-uuid`` is taken from the
options; nothing else of them is stored, logged or passed to a shell.

Installed 0700 root (:mod:`.install`) so that it can wrap ``usb``; when the
real backend does not need root it drops to cupsd's unprivileged user before
it reads anything the job brings. Imports are kept to what a job needs.
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Final, TextIO

# Imported before privileges are dropped (the unprivileged user may not be
# able to read the interpreter's library later), and only what a job needs.
from drivers.printers import open_printer
from station_agent import clock
from station_agent.config import load_config
from station_agent.paths import default_state_dir
from station_agent.spooler import journal
from station_agent.spooler.reasons import CONDITION_REASONS

#: The URI scheme of this backend.
SCHEME: Final = "station"
#: Where a config path is embedded by the installer (see :mod:`.install`).
CONFIG_ENV: Final = "STATION_AGENT_CONFIG"
#: The unprivileged user cupsd runs backends as (``User`` in cups-files.conf).
CUPS_USER: Final = "lp"
_UUID = re.compile(r"(?:^|\s)job-uuid=urn:uuid:([0-9a-fA-F-]{8,64})(?:\s|$)")
_QUEUE = re.compile(r"^[A-Za-z0-9_.@-]{1,127}$")
_STATE_LINE = re.compile(r"^STATE:\s*(.*)$")
_PAGE_LINE = re.compile(r"^PAGE:\s*(\d+)\s+(\d+)")
_ERROR_LINE = re.compile(r"^ERROR:")
OK, FAILED, STOP, RETRY = 0, 1, 4, 6


def job_key(queue: str, cups_job: int, options: str) -> str:
    """``cups:<queue>:<job-id>:<uuid12>``: unique across cupsd restarts and spool
    resets (job ids start again at 1 after a reset; the job's UUID does not
    repeat), the same for every retry of one job."""
    m = _UUID.search(options)
    tail = m.group(1).replace("-", "")[:12].lower() if m else "nouuid"
    return f"cups:{queue}:{cups_job}:{tail}"


class Backend:
    """One run of the backend (a job attempt)."""

    def __init__(self, argv: list[str], env: dict[str, str], err: TextIO) -> None:
        self.argv, self.env, self.err = argv, env, err
        self.device_uri = env.get("DEVICE_URI", "")
        self.real_uri = self.device_uri.removeprefix(SCHEME + ":")
        self.scheme = self.real_uri.split(":", 1)[0]
        self.serverbin = Path(env.get("CUPS_SERVERBIN", "/usr/lib/cups"))
        self.state_reasons: set[str] = set()
        self.pages = 0
        #: ``ERROR:`` lines of the real backend (the ipp backend can report a
        #: document the printer refused and still exit 0).
        self.errors = 0

    def say(self, level: str, text: str) -> None:
        """One status line to CUPS (``INFO``/``WARNING``/``ERROR``/``STATE`` ...)."""
        print(f"{level}: {text}", file=self.err, flush=True)

    # -- the real backend -------------------------------------------------------

    def real_backend(self) -> Path | None:
        if not re.fullmatch(r"[a-z][a-z0-9+.-]{0,31}", self.scheme) or self.scheme == SCHEME:
            return None
        path = self.serverbin / "backend" / self.scheme
        return path if path.is_file() else None

    def run_real(self, path: Path) -> int:
        """Run the real backend; pass its stderr through and keep its status lines."""
        env = dict(self.env, DEVICE_URI=self.real_uri)
        fds = tuple(fd for fd in (3, 4) if _is_open(fd))
        proc = subprocess.Popen([self.real_uri, *self.argv[1:]], executable=str(path),
                                env=env, stderr=subprocess.PIPE, pass_fds=fds)
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.err.write(line + "\n")
            self.err.flush()
            self._observe(line)
        return proc.wait()

    def _observe(self, line: str) -> None:
        m = _STATE_LINE.match(line)
        if m:
            # backend(7): "STATE: +a,b" adds, "STATE: -a,b" removes, "STATE: a,b" sets.
            text = m.group(1).strip()
            sign = text[:1] if text[:1] in "+-" else ""
            words = {w.strip() for w in text.lstrip("+-").split(",") if w.strip()}
            if sign == "+":
                self.state_reasons |= words
            elif sign == "-":
                self.state_reasons -= words
            else:
                self.state_reasons = words - {"none"}
            return
        p = _PAGE_LINE.match(line)
        if p:
            self.pages += int(p.group(2))
        elif _ERROR_LINE.match(line):
            self.errors += 1


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _drop_privileges(backend: Path) -> None:
    """Become cupsd's unprivileged user unless ``backend`` needs root (not world-executable)."""
    if os.geteuid() != 0 or not backend.stat().st_mode & 0o001:
        return
    pw = pwd.getpwnam(CUPS_USER)
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


class _Accounting:
    """The agent's side of the job: config, printer, journal (all optional)."""

    def __init__(self, b: Backend, queue: str) -> None:
        self.b = b
        self.printer_id: str | None = None
        self.url: str | None = None
        self.family: str | None = None
        self.cards_per_copy = 1
        self.directory: Path | None = None
        self._load(queue)

    def _load(self, queue: str) -> None:
        path = self.b.env.get(CONFIG_ENV)
        if not path:
            self.b.say("WARNING", "station-agent: no config path; the job is not accounted")
            return
        try:
            cfg = load_config(Path(path))
        except Exception as exc:   # printing goes on without the agent
            self.b.say("ERROR", f"station-agent: config unreadable, job not accounted: {exc}")
            return
        pc = next((p for p in cfg.printers if p.queue == queue), None)
        if pc is not None:
            self.printer_id, self.url, self.family = pc.id, pc.url or None, pc.family
            self.cards_per_copy = pc.cards_per_copy
        state_dir = cfg.state_dir or default_state_dir()
        self.directory = journal.journal_dir(state_dir)

    def counter(self) -> tuple[int | None, list[str], bool]:
        """The card counter, the printer's conditions as reasons, and whether a card
        is inside; (None, [], False) when the printer cannot be read."""
        if not self.url or not self.family:
            return None, [], False
        try:
            with open_printer(self.url, self.family, timeout=3.0) as printer:
                count = printer.card_count()
                status = printer.status()
        except Exception as exc:
            self.b.say("WARNING", f"station-agent: card counter of {self.printer_id} not "
                                  f"read: {str(exc)[:200]}")
            return None, [], False
        reasons = [CONDITION_REASONS[c] for c in status.conditions if c in CONDITION_REASONS]
        return count, reasons, status.card_at is not None

    def write(self, fn: Any, rec: Any) -> bool:
        """Journal ``rec``; False (and an ERROR line for CUPS) when it could not be."""
        if self.directory is None:
            return True
        try:
            fn(self.directory, rec)
        except OSError as exc:
            self.b.say("ERROR", f"station-agent: journal {self.directory} not written "
                                f"({exc.strerror or exc})")
            return False
        return True


def main(argv: list[str] | None = None) -> int:
    """The backend's entry point (see the module docstring)."""
    argv = list(sys.argv if argv is None else argv)
    if len(argv) == 1:
        # Discovery: answer at once.
        print(f'network {SCHEME} "Unknown" "station-agent accounting wrapper"', flush=True)
        return OK
    b = Backend(argv, dict(os.environ), sys.stderr)
    if len(argv) not in (6, 7):
        b.say("ERROR", f"usage: {SCHEME} job-id user title copies options [file]")
        return FAILED
    real = b.real_backend()
    if real is None:
        b.say("ERROR", f"station-agent: device URI {b.device_uri[:80]!r} does not wrap a "
                       "backend of this CUPS; use station:<real-uri>, e.g. "
                       "station:socket://10.0.0.5:9100")
        return STOP
    queue = b.env.get("PRINTER", "")   # set by cupsd, not by whoever printed
    if not _QUEUE.match(queue):
        _drop_privileges(real)
        b.say("ERROR", "station-agent: queue name missing or unusable; job not accounted")
        return b.run_real(real)
    # The config and the printer's counter are read before privileges are
    # dropped (the driver's imports and the config need what root may read);
    # nothing the job brings is looked at until after.
    st = _Accounting(b, queue)
    before, _, _ = st.counter()
    _drop_privileges(real)
    try:
        cups_job = int(argv[1])
        copies = max(1, int(argv[4])) if len(argv) == 7 else 1
    except ValueError:
        b.say("ERROR", "station-agent: job id or copies not a number; job not accounted")
        return b.run_real(real)
    key = job_key(queue, cups_job, argv[5])
    attempt = 1
    if st.directory is not None:
        try:
            attempt = journal.next_attempt(st.directory, key)
        except OSError:
            attempt = 1
    if not st.write(journal.write_start, journal.StartRecord(
            job=key, queue=queue, cups_job=cups_job, attempt=attempt, copies=copies,
            cards=copies * st.cards_per_copy, at=clock.wall_stamp(), printer=st.printer_id,
            counter_before=before, scheme=b.scheme)):
        # Blanks are state property: a card is not printed unrecorded. The
        # station's disk (full, read-only) is fixed, then CUPS retries the job.
        b.say("ERROR", "station-agent: the job is held until the station's state directory "
                       "can be written (free space on its disk); CUPS will retry it")
        return RETRY
    code = b.run_real(real)
    after, printer_reasons, inside = st.counter()
    # What the printer says after the job is shown by CUPS too (the real backend
    # of a raw socket cannot see a jam on the card it just sent).
    if st.url and after is not None:
        gone = [r for r in CONDITION_REASONS.values() if r not in printer_reasons]
        if printer_reasons:
            b.say("STATE", "+" + ",".join(printer_reasons))
        b.say("STATE", "-" + ",".join(gone))
    reasons = sorted(set(printer_reasons) | b.state_reasons)
    st.write(journal.write_end, journal.EndRecord(
        job=key, attempt=attempt, exit_code=code, at=clock.wall_stamp(), counter_after=after,
        reasons=reasons, card_inside=inside, pages=b.pages, errors=b.errors))
    return code


if __name__ == "__main__":
    sys.exit(main())
