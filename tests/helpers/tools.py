"""Programs nobody here wrote that a test needs (chromium, promtool): found, or the
test skipped locally and failed under CI, where ./scripts/dev test installs them."""

from __future__ import annotations

import os
import shutil

import pytest


def need_tool(name: str, install: str) -> str:
    """The path of ``name``; ``install`` says how to get it."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: ./scripts/dev test installs it ({install})")
        pytest.skip(f"needs {name} ({install})")
    return found
