"""Putting the ``station`` backend in CUPS' path, and queues under it.

``install_backend`` writes a small launcher into CUPS' backend directory:
owned by root, mode 0700 (so cupsd runs it as root and it can wrap ``usb``;
it drops to ``lp`` itself for backends that do not need root), starting this
Python with the configuration file it was installed for. It also prepares
the journal directory, which the backend's user must be able to write.
"""

from __future__ import annotations

import grp
import os
import site
import stat
import sys
from pathlib import Path
from typing import Final

import station_agent
from station_agent.errors import BadInput, OperationFailed
from station_agent.spooler import journal
from station_agent.spooler.backend import CONFIG_ENV, CUPS_USER, SCHEME
from station_agent.spooler.cups import Cups, CupsError

DEFAULT_BACKEND_DIR: Final = Path("/usr/lib/cups/backend")
#: Mode cupsd needs to run a backend as root.
BACKEND_MODE: Final = 0o700

# -I: nothing from the environment; -S: no site (cupsd starts this for every job,
# and site's path hooks cost more than the backend's own imports). The paths
# the package and its dependencies live in are written in instead.
_LAUNCHER = """#!{python} -IS
# station-agent's CUPS accounting backend; written by `station-agent cups install-backend`.
# See docs/SPOOLER.md. Edit nothing here: install it again instead.
import os
import sys

sys.path[:0] = {paths!r}
os.environ["{env}"] = {config!r}
from station_agent.spooler.backend import main

sys.exit(main())
"""


def launcher_text(config: Path, python: str | None = None) -> str:
    """The launcher for ``config``, started by this Python with this package's paths."""
    package_root = str(Path(station_agent.__file__).resolve().parent.parent)
    paths = [package_root, *(p for p in site.getsitepackages() if p != package_root)]
    return _LAUNCHER.format(python=python or sys.executable, env=CONFIG_ENV,
                            config=str(config), paths=paths)


def install_backend(config: Path, backend_dir: Path, state_dir: Path) -> list[str]:
    """Install the launcher and prepare the journal; returns what was done, line by line."""
    if not backend_dir.is_dir():
        raise BadInput(f"{backend_dir} is not a directory: give CUPS' backend directory with "
                       "--backend-dir (cups-config --serverbin, then /backend)")
    target = backend_dir / SCHEME
    done = []
    tmp = backend_dir / f".{SCHEME}.new"
    try:
        tmp.write_text(launcher_text(config.resolve()))
        os.chmod(tmp, BACKEND_MODE)
        if os.geteuid() == 0:
            os.chown(tmp, 0, 0)
        os.replace(tmp, target)
    except PermissionError:
        raise OperationFailed(f"no permission to write {target}: run this as root") from None
    done.append(f"installed {target} (mode 0700, owner "
                f"{'root' if os.geteuid() == 0 else 'this user: cupsd will refuse it'}) for "
                f"config {config.resolve()}")
    done.extend(prepare_journal(state_dir))
    return done


def prepare_journal(state_dir: Path) -> list[str]:
    """Create the journal directory writable by CUPS' backend user (group ``lp``)."""
    d = journal.journal_dir(state_dir)
    d.mkdir(parents=True, exist_ok=True)
    out = []
    try:
        gid = grp.getgrnam(CUPS_USER).gr_gid
        os.chown(d, -1, gid)
        os.chmod(d, 0o2770)
        out.append(f"journal {d}: group {CUPS_USER}, mode 2770")
    except (KeyError, PermissionError) as exc:
        out.append(f"journal {d}: could not give group {CUPS_USER} write access ({exc}); "
                   "the backend will not be able to journal jobs")
    mode = state_dir.stat().st_mode
    if not mode & stat.S_IXOTH:
        out.append(f"warning: {state_dir} is not searchable by {CUPS_USER}: run `chmod o+x "
                   f"{state_dir}` so the backend can reach its journal")
    return out


def check_backend(backend_dir: Path) -> tuple[bool, str]:
    """Whether the backend is installed as cupsd needs it, and why not."""
    target = backend_dir / SCHEME
    try:
        st = target.stat()
    except FileNotFoundError:
        return False, f"{target} missing: run `station-agent cups install-backend`"
    if st.st_uid != 0 or stat.S_IMODE(st.st_mode) != BACKEND_MODE:
        return False, (f"{target} is owner uid {st.st_uid}, mode "
                       f"{stat.S_IMODE(st.st_mode):04o}; cupsd needs root and 0700: run "
                       "`station-agent cups install-backend` as root")
    return True, f"{target} (root, 0700)"


def wrap(cups: Cups, queue: str) -> tuple[str, str]:
    """Point ``queue`` at ``station:<its uri>``; returns (old, new)."""
    q = cups.queue(queue)
    uri = q.device_uri or ""
    if uri.startswith(SCHEME + ":"):
        raise BadInput(f"queue {queue!r} is already wrapped ({uri}); nothing to do")
    if not uri:
        raise BadInput(f"queue {queue!r} has no device URI to wrap: set one with lpadmin -v")
    new = f"{SCHEME}:{uri}"
    try:
        cups.set_device_uri(queue, new)
    except CupsError as exc:
        raise OperationFailed(str(exc)) from None
    return uri, new


def unwrap(cups: Cups, queue: str) -> tuple[str, str]:
    """Restore ``queue``'s real device URI; returns (old, new)."""
    q = cups.queue(queue)
    uri = q.device_uri or ""
    if not uri.startswith(SCHEME + ":"):
        raise BadInput(f"queue {queue!r} is not wrapped ({uri or 'no device URI'}); nothing "
                       "to do")
    real = uri[len(SCHEME) + 1:]
    try:
        cups.set_device_uri(queue, real)
    except CupsError as exc:
        raise OperationFailed(str(exc)) from None
    return uri, real
