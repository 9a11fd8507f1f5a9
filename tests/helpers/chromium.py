"""Debian's headless Chromium for the tests that render a page: found or the test
skipped (failed under CI, where ./scripts/dev test installs it), run offline."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers.tools import need_tool


def chromium() -> str:
    """The chromium executable; skips the test when missing (fails it under CI)."""
    return need_tool("chromium", "apt-get install chromium")


def headless(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on ``page`` with ``args`` (e.g. ``--dump-dom`` or
    ``--print-to-pdf=F``), no network, its profile under ``profile``."""
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
                           *args, page.as_uri()], capture_output=True, text=True, timeout=120)
