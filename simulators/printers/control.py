"""Operator and fault commands for a running printer simulator, one per line
(``station-agent sim printer --control`` reads them on stdin):

``cover-open`` / ``cover-close``      the operator opens / closes the cover
``overheat`` / ``cool``               the head overheats / cools down
``ribbon-out``                        the ribbon runs out (0 panels left)
``feeder-empty``                      the last blank is gone
``reject-full``                       the reject box is full
``jam``                               a card jams at the print station
``resolve-jam [removed|missing]``     the operator clears the jam
``refill CARDS [PANELS]``             blanks (and ribbon panels) loaded
``ribbon-change PRINTS``              the ribbon is replaced by one with PRINTS left
``empty-reject``                      the reject box is emptied
``vanish SECONDS``                    the device disappears for a while
``truth``                             report the ground truth

Each returns a one-line answer; an unknown or malformed command is refused
with a message and changes nothing.
"""

from __future__ import annotations

import time

from simulators.printers import model as m

COMMANDS = ("cover-open", "cover-close", "overheat", "cool", "ribbon-out", "feeder-empty",
            "reject-full", "jam", "resolve-jam", "refill", "ribbon-change", "empty-reject",
            "vanish", "truth")


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: expected a number, got {text!r}") from None
    if value < 0 or value > 1e6:
        raise ValueError(f"{what}: expected 0 to 1000000, got {text!r}")
    return value


def apply(model: m.PrinterModel, line: str) -> str:
    """Apply one command; ValueError for a bad one."""
    parts = line.split()
    if not parts:
        raise ValueError("empty command")
    cmd, args = parts[0], parts[1:]
    if cmd not in COMMANDS:
        raise ValueError(f"unknown command {cmd[:40]!r}; known: {', '.join(COMMANDS)}")
    with model.lock:
        if cmd == "cover-open":
            model.operator_open_cover()
        elif cmd == "cover-close":
            model.operator_close_cover()
        elif cmd == "overheat":
            model.head_hot = True
            model.errors.add(m.OVERHEAT)
        elif cmd == "cool":
            model.cool_down()
        elif cmd == "ribbon-out":
            model.ribbon = 0
            model.errors.add(m.RIBBON_OUT)
        elif cmd == "feeder-empty":
            model.feeder = 0
            model.errors.add(m.FEEDER_EMPTY)
        elif cmd == "reject-full":
            model.reject_box = model.reject_capacity
            model.errors.add(m.REJECT_FULL)
        elif cmd == "jam":
            model.errors.add(m.JAM)
        elif cmd == "resolve-jam":
            how = args[0] if args else "removed"
            if how not in ("removed", "missing"):
                raise ValueError("resolve-jam: expected removed or missing")
            model.operator_resolve_jam(removed=how == "removed")
        elif cmd == "refill":
            if not args:
                raise ValueError("refill: expected CARDS [PANELS]")
            model.refill(cards=int(_number(args[0], "cards")),
                         ribbon=int(_number(args[1], "panels")) if len(args) > 1 else 0)
            if model.ribbon > 0:
                model.errors.discard(m.RIBBON_OUT)
        elif cmd == "ribbon-change":
            if not args:
                raise ValueError("ribbon-change: expected PRINTS")
            model.change_ribbon(int(_number(args[0], "prints")))
        elif cmd == "empty-reject":
            model.empty_reject_box()
        elif cmd == "vanish":
            seconds = _number(args[0], "seconds") if args else 1.0
            model.vanished_until = time.monotonic() + seconds
        t = model.truth
        return (f"ok {cmd}: feeder {model.feeder}, ribbon {model.ribbon}, picked {t.picked}, "
                f"issued {t.issued}, rejected {t.rejected}, "
                f"removed by operator {t.removed_by_operator}, missing {t.missing}, "
                f"ribbon yields {','.join(map(str, t.ribbon_yields)) or '-'}")
