"""Simulated card printers: a mechanical model plus one protocol per family.

:func:`build_simulator` makes one from options (the same names as a
``sim://`` URL's query and the ``station-agent sim printer`` flags);
:mod:`simulators.printers.serve` puts it on a pty or a TCP port and
:mod:`simulators.printers.usb_backend` behind pyusb.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from simulators.printers.model import Plan, PrinterModel
from simulators.printers.wire import WireFaults

FAMILIES = ("evolis", "magicard")

#: Option name -> (type, default, help). Card lists are comma-separated numbers.
OPTIONS: dict[str, tuple[type, Any, str]] = {
    "cards": (int, 100, "blanks in the feeder"),
    "ribbon": (int, 1000, "ribbon panels left (ribbon out after that many)"),
    "reject_capacity": (int, 50, "cards the reject box holds"),
    "serial": (str, "", "serial number (default per family)"),
    "seed": (int, 0, "random seed for random faults"),
    "print_ms": (float, 0.0, "time to print one panel, ms"),
    "slow_ms": (float, 0.0, "delay of every reply, ms"),
    "garbage_rate": (float, 0.0, "fraction of replies replaced by line noise"),
    "truncate_rate": (float, 0.0, "fraction of replies cut short"),
    "jam_at": (list, [], "cards that jam while printing"),
    "cover_open_at": (list, [], "cards during which the cover is opened"),
    "overheat_at": (list, [], "cards during which the head overheats"),
    "false_ribbon_end_at": (list, [], "cards at which a false 'ribbon ended' is reported"),
    "vanish_at": (list, [], "cards at whose pick the device disappears"),
    "vanish_s": (float, 1.0, "how long the device stays away, s"),
    "garbage_at": (list, [], "cards during which one reply is line noise"),
    "truncate_at": (list, [], "cards during which one reply is cut short"),
    "slow_at": (list, [], "cards during which one reply is slow"),
    "term": (str, "cr", "evolis reply terminator: cr or nul"),
    "minimal": (int, 0, "1: a firmware without the optional queries (cleanings, ribbon "
                        "remaining), which it refuses"),
    "ack": (int, 0, "evolis ACK/NACK mode: 1 or 0"),
    "scenario": (str, "", "scenario script file: lines `card K EVENT [ARG]`"),
}
_PLAN_OPTIONS = {"jam_at": "jam", "cover_open_at": "cover_open", "overheat_at": "overheat",
                 "false_ribbon_end_at": "false_ribbon_end", "vanish_at": "vanish",
                 "garbage_at": "garbage", "truncate_at": "truncate", "slow_at": "slow"}
_DEFAULT_IDENTITY = {"evolis": ("Primacy", "EV0000001", "1.7.21"),
                     "magicard": ("Rio Pro", "MC0000001", "V1.2.0")}


def parse_options(raw: dict[str, str]) -> dict[str, Any]:
    """Typed options from text values; ``ValueError`` names a bad one."""
    opts = {k: (list(d) if isinstance(d, list) else d) for k, (_t, d, _h) in OPTIONS.items()}
    for key, value in raw.items():
        if key not in OPTIONS:
            raise ValueError(f"unknown simulator option {key!r}; known: {', '.join(OPTIONS)}")
        kind = OPTIONS[key][0]
        try:
            if kind is list:
                opts[key] = [int(v) for v in value.split(",") if v.strip()]
            else:
                opts[key] = kind(value)
        except ValueError:
            raise ValueError(f"simulator option {key}={value!r} is not a valid "
                             f"{'list of card numbers' if kind is list else kind.__name__}"
                             ) from None
    return opts


def build_simulator(family: str, **options: Any) -> Any:
    """A simulator of ``family`` with its own model; ``options`` as in :data:`OPTIONS`."""
    if family not in FAMILIES:
        raise ValueError(f"unknown simulated printer {family!r}: use one of {', '.join(FAMILIES)}")
    opts = parse_options({}) | options
    plan = Plan()
    for key, event in _PLAN_OPTIONS.items():
        arg = opts["vanish_s"] if event == "vanish" else 0.0
        plan.extend(Plan.from_cards(event, opts[key], arg))
    if opts["scenario"]:
        path = Path(opts["scenario"])
        plan.extend(Plan.parse_script(path.read_text(encoding="utf-8"), str(path)))
    model_name, serial, firmware = _DEFAULT_IDENTITY[family]
    model = PrinterModel(cards=opts["cards"], ribbon=opts["ribbon"],
                         reject_capacity=opts["reject_capacity"], serial=opts["serial"] or serial,
                         model=model_name, firmware=firmware, plan=plan,
                         print_delay=opts["print_ms"] / 1000.0, seed=opts["seed"])
    wire = WireFaults(slow_ms=opts["slow_ms"], garbage_rate=opts["garbage_rate"],
                      truncate_rate=opts["truncate_rate"])
    if family == "evolis":
        from simulators.printers.evolis import EvolisSimulator

        return EvolisSimulator(model, wire, term=opts["term"], ack=bool(opts["ack"]),
                               minimal=bool(opts["minimal"]))
    from simulators.printers.magicard import MagicardSimulator

    return MagicardSimulator(model, wire, minimal=bool(opts["minimal"]))


def simulator_from_url(url: str) -> Any:
    """A simulator from ``sim://<family>?<options>``."""
    parts = urlsplit(url)
    return build_simulator(parts.netloc, **parse_options(dict(parse_qsl(parts.query))))


__all__ = ["FAMILIES", "OPTIONS", "Plan", "PrinterModel", "WireFaults", "build_simulator",
           "parse_options", "simulator_from_url"]
