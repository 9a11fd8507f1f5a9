"""Debian's headless Chromium for the tests that render a page: found or the test
skipped (failed under CI, where ./scripts/dev test installs it), run offline."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str:
    """The chromium executable; skips the test when missing (fails it under CI)."""
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: ./scripts/dev test installs it")
        pytest.skip("needs chromium")
    return found


def headless(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on ``page`` with ``args`` (e.g. ``--dump-dom`` or
    ``--print-to-pdf=F``), no network, its profile under ``profile``."""
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
                           *args, page.as_uri()], capture_output=True, text=True, timeout=120)
