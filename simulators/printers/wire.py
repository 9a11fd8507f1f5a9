"""Wire-level faults a simulator applies to its replies: slow, garbage, truncated."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.printers.model import PrinterModel


@dataclass
class WireFaults:
    """How replies are spoiled.

    ``slow_ms`` delays every reply; ``garbage_rate`` / ``truncate_rate`` spoil
    that fraction of replies at random (seeded by the model's RNG). Plan events
    ``garbage``, ``truncate`` and ``slow`` spoil the first reply while card k
    is in the printer.
    """

    slow_ms: float = 0.0
    garbage_rate: float = 0.0
    truncate_rate: float = 0.0

    def apply(self, model: PrinterModel, reply: bytes) -> tuple[bytes, float]:
        delay = self.slow_ms / 1000.0
        rng = model.rng
        with model.lock:
            slow = model.planned("slow")
            if slow is not None and not model.fire_once("slow"):
                delay += (slow.arg or 3000.0) / 1000.0
            if model.planned("garbage") and not model.fire_once("garbage"):
                return garbage(model), delay
            if model.planned("truncate") and not model.fire_once("truncate"):
                return truncate(reply), delay
        if self.garbage_rate and rng.random() < self.garbage_rate:
            return garbage(model), delay
        if self.truncate_rate and rng.random() < self.truncate_rate:
            return truncate(reply), delay
        return reply, delay


def garbage(model: PrinterModel) -> bytes:
    """Line noise: random bytes, usually ending in a plausible terminator."""
    rng = model.rng
    body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 24)))
    return body + rng.choice([b"\r", b"\x00", b",\x03", b""])


def truncate(reply: bytes) -> bytes:
    """The reply cut short (its end, terminator included, never arrives)."""
    return reply[: max(0, len(reply) // 2)]
