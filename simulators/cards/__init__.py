"""Simulated contactless chips for pcscd's vpcd virtual reader.

:mod:`simulators.cards.card` is the chip (profiles, APDUs),
:mod:`simulators.cards.vpcd` puts one in a vpcd slot over vpcd's socket
protocol, and :mod:`simulators.cards.sequence` presents one card per blank as
a simulated printer moves blanks through its encoder station.
"""

from simulators.cards.card import PROFILES, SimCard
from simulators.cards.vpcd import DEFAULT_PORT, VpcdSlot

__all__ = ["DEFAULT_PORT", "PROFILES", "SimCard", "VpcdSlot"]
