"""What an issuing application's printer driver sends for one card: the print
document a spooled job carries (raw, on a queue whose real backend is CUPS'
``socket``). Built from the protocols' constants only; the tests, the demo,
the campaigns and the benchmarks print these through cupsd."""

from __future__ import annotations

from drivers.protocols import evolis as ev
from drivers.protocols import magicard as mc


def card_document(family: str, panels: tuple[str, ...] = ("k", "o")) -> bytes:
    """One card of ``family``'s print sequence, a panel per letter of ``panels``
    (Evolis: insert, download and print each panel, eject; Magicard: a
    streamed job with a header and one segment per panel)."""
    if family == "magicard":
        body = b"".join(b"A1" * 32 + mc.FS + p.upper().encode() + mc.COLON for p in panels)
        return (mc.JOB_PREAMBLE + b"JOB," + mc.REJECT_ON.encode() + b"," + mc.FS + b"J"
                + mc.COLON + body + mc.ETX)
    if family != "evolis":
        raise ValueError(f"no card document for family {family!r}")

    def cmd(text: str) -> bytes:
        return ev.ESC + text.encode() + ev.CR
    steps = [cmd("Pr;ymcko"), cmd(ev.INSERT)]
    for p in panels:
        steps += [cmd(f"{ev.DOWNLOAD};{p};2;" + "B" * 64), cmd(f"{ev.PRINT_PANEL};{p}")]
    return b"".join([*steps, cmd(ev.EJECT)])
