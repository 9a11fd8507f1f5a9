"""A real pcscd with the vpcd driver for the reader tests, and card slots.

One pcscd per test session (pcscd's client socket is fixed, so only one can
run on a machine), on free ports, stopped at the end. The tests skip only when
pcscd or vpcd cannot be installed here; under CI (``CI=true``) they fail
instead, because CI installs both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from simulators.cards import VpcdSlot
from simulators.cards.pcscd import Pcscd, unavailable


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    why = unavailable()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PC/SC tests cannot run: {why}")
        pytest.skip(f"PC/SC tests need a private pcscd with vpcd: {why}")
    daemon = Pcscd().start()
    yield daemon
    daemon.close()


@pytest.fixture
def running_pcscd(pcscd: Pcscd) -> Pcscd:
    """The session pcscd, restarted first if a previous test stopped it."""
    if pcscd.proc is None or pcscd.proc.poll() is not None:
        pcscd.kill()
        pcscd.start()
    return pcscd


@pytest.fixture
def slots(running_pcscd: Pcscd) -> Iterator[tuple[VpcdSlot, VpcdSlot]]:
    """The two vpcd slots ("Virtual PCD 00 00" and "... 00 01"), empty, stopped after."""
    a = VpcdSlot(port=running_pcscd.port).start()
    b = VpcdSlot(port=running_pcscd.port + 1).start()
    yield a, b
    a.stop()
    b.stop()
