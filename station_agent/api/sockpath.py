"""Unix socket paths longer than the kernel's 107-byte limit.

The socket lives in the state directory, whose path may be long (a test's
tmp dir, a deep mount). Binding or connecting through ``/proc/self/fd/N/``
of the directory opened with ``O_PATH`` keeps the address short on Linux.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_LIMIT = 100
#: The daemon's socket in its state directory.
SOCKET_NAME = "agent.sock"


@contextmanager
def short_path(path: Path) -> Iterator[str]:
    """An address for ``path`` usable by ``bind``/``connect`` while the block runs."""
    text = str(path)
    if len(text.encode()) <= _LIMIT or not Path("/proc/self/fd").is_dir():
        yield text
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)
