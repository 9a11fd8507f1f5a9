"""Reader benchmarks through a private pcscd + vpcd, baselines in the same run.

Same JSON lines as :mod:`bench.ledger`. Skipped (one JSON line saying why)
when a private pcscd cannot run here.

* ``reader.apdu_rtt`` — µs per chip-check APDU (SELECT MF) through the
  adapter's ``transmit`` (retry classification, response checks); baseline:
  a bare ``SCardTransmit`` loop on the same connection to the same simulated
  card. ``ratio`` = baseline_time / adapter_time. Target ≥ 0.7.
* ``reader.verdict_ms`` — card arriving at the station (inserted into the
  vpcd slot) to verdict, p50 and p99; baseline: the same card already in the
  field (pure check time).
"""

from __future__ import annotations

import json
import statistics
import time

from bench.ledger import emit
from simulators.cards import SimCard, VpcdSlot
from simulators.cards.pcscd import READER_NAMES, Pcscd, unavailable


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(apdus: int = 3000, arrivals: int = 60) -> None:
    why = unavailable()
    if why is not None:
        print(json.dumps({"metric": "reader.*", "skipped": why}), flush=True)
        return
    from smartcard import scard

    from drivers.readers.base import SELECT_MF
    from drivers.readers.pcsc import PcscReader

    with Pcscd() as daemon, VpcdSlot(port=daemon.port) as slot, \
            PcscReader(f"pcsc://{READER_NAMES[0]}") as reader:
        slot.insert(SimCard("ektp"))
        if not reader.wait_card(5):
            raise RuntimeError("the simulated card never appeared")
        name = reader.name()
        card, proto = reader.connect(name)
        apdu = list(SELECT_MF)
        ours, bare = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(apdus):
                hr, _resp = scard.SCardTransmit(card, proto, apdu)
                if hr != scard.SCARD_S_SUCCESS:
                    raise RuntimeError(f"baseline transmit failed: {hr:#x}")
            bare.append((time.perf_counter() - t0) / apdus * 1e6)
            t0 = time.perf_counter()
            for _ in range(apdus):
                reader.transmit(card, proto, SELECT_MF)
            ours.append((time.perf_counter() - t0) / apdus * 1e6)
        scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD)
        o, b = statistics.median(ours), statistics.median(bare)
        emit("reader.apdu_rtt", o, "us/apdu", b, b / o, apdus=apdus, target_ratio=0.7)

        in_field = []
        for _ in range(arrivals):
            t0 = time.perf_counter()
            if not reader.check(timeout=3):
                raise RuntimeError("check failed with the card in the field")
            in_field.append((time.perf_counter() - t0) * 1e3)
        arriving = []
        for n in range(arrivals):
            slot.remove()
            deadline = time.monotonic() + 3
            while reader.card_present() and time.monotonic() < deadline:
                time.sleep(0.02)
            t0 = time.perf_counter()
            slot.insert(SimCard("ektp", seed=n))
            v = reader.check(timeout=3)
            if not v:
                raise RuntimeError(f"arrival {n}: {v.reason}")
            arriving.append((time.perf_counter() - t0) * 1e3)
        p50, p99 = _percentile(arriving, 0.5), _percentile(arriving, 0.99)
        b50 = _percentile(in_field, 0.5)
        emit("reader.verdict_ms", p50, "ms", b50, b50 / p50, p99=round(p99, 3),
             baseline_p99=round(_percentile(in_field, 0.99), 3), arrivals=arrivals,
             note="p50/p99 card arrival to verdict; baseline = card already in the field")


if __name__ == "__main__":
    main()
