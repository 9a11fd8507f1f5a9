"""``sim printer|card``: run a device simulator standalone (DESIGN §5).

The first line on stdout is where to connect, alone on its line (the pty
path such as ``/dev/pts/7``, or ``socket://127.0.0.1:PORT``), so scripts can
read it; the simulator then runs until SIGINT or SIGTERM and prints what
physically happened (cards picked, issued, rejected) on stderr when it stops.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from simulators.printers import FAMILIES
from station_agent.errors import BadInput


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sim`` and its simulators."""
    from simulators.printers import OPTIONS

    sim = sub.add_parser("sim", help="run a device simulator standalone",
                         description="Run a simulator that speaks a device's wire protocol; "
                                     "it prints where to connect.")
    ssub = sim.add_subparsers(dest="sim_cmd", metavar="DEVICE", required=True)
    p = ssub.add_parser(
        "printer", help="a card printer (Evolis or Magicard protocol) on a pty or TCP port",
        description="A simulated card printer on a pseudo-terminal (connect with "
                    "serial:///dev/pts/N) or a TCP port (socket://127.0.0.1:PORT). Fault "
                    "options take comma-separated card numbers (1 = first card picked).")
    p.add_argument("--family", required=True, choices=FAMILIES, help="protocol family")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal")
    where.add_argument("--tcp", type=_port, metavar="PORT",
                       help="serve on this TCP port (0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on with --tcp")
    p.add_argument("--link", metavar="PATH",
                   help="with --pty: keep a symlink at PATH pointing at the current pty "
                        "(like /dev/serial/by-id/...; survives vanish and return)")
    p.add_argument("--control", action="store_true",
                   help="read operator/fault commands on stdin, one per line (cover-open, "
                        "cover-close, overheat, cool, ribbon-out, feeder-empty, reject-full, "
                        "jam, resolve-jam, refill N, ribbon-change N, empty-reject, vanish S, "
                        "truth); answers "
                        "go to stderr")
    faults = p.add_argument_group("simulated printer and faults")
    for name, (_kind, default, helptext) in OPTIONS.items():
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        faults.add_argument("--" + name.replace("_", "-"), dest="opt_" + name, metavar="V",
                            help=f"{helptext} (default: {shown if shown != '' else 'none'})")
    p.set_defaults(func=cmd_sim_printer, needs_state=False)

    from simulators.cards import DEFAULT_PORT, PROFILES

    c = ssub.add_parser(
        "card", help="a contactless chip in a vpcd virtual reader slot (pcscd + vsmartcard-vpcd)",
        description="Put a simulated chip into pcscd's vpcd virtual reader: it connects to "
                    f"vpcd (port {DEFAULT_PORT} is 'Virtual PCD 00 00', {DEFAULT_PORT + 1} is "
                    "'... 00 01') and stays in the field until stopped, reconnecting when "
                    "pcscd restarts.")
    c.add_argument("--profile", default="ektp", choices=PROFILES, help="kind of chip")
    c.add_argument("--port", type=_port, default=DEFAULT_PORT, help="vpcd port")
    c.add_argument("--host", default="127.0.0.1", help="vpcd host")
    c.add_argument("--seed", type=int, default=0, help="seed of the UID and random answers")
    c.set_defaults(func=cmd_sim_card, needs_state=False)

    add_server_parser(ssub)


def add_server_parser(ssub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``sim server``."""
    s = ssub.add_parser(
        "server", help="the central server's health endpoint, with outage modes",
        description="A simulated central server answering GET /health. Switch its mode at "
                    "run time by writing one line on stdin: ok, slow [MS], http500, refuse, "
                    "blackhole, flapping.")
    s.add_argument("--port", type=_port, default=0, help="TCP port (0 = any free port)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on")
    s.add_argument("--mode", default="ok",
                   choices=("ok", "slow", "http500", "refuse", "blackhole", "flapping"))
    s.add_argument("--slow-ms", type=float, default=3000.0, help="delay of the slow mode")
    s.set_defaults(func=cmd_sim_server, needs_state=False)


def cmd_sim_server(args: argparse.Namespace, _state: Path | None) -> int:
    """Serve the central-server simulator until interrupted."""
    from simulators.server import MODES, ServerSim

    try:
        server = ServerSim(args.host, args.port, mode=args.mode, slow_ms=args.slow_ms).start()
    except OSError as exc:
        raise BadInput(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
                       "choose another --port") from None
    sys.stdout.write(server.url + "\n")
    sys.stdout.flush()
    sys.stderr.write(f"simulated central server at {server.url}, mode {server.mode}; write a "
                     f"mode on stdin to switch ({', '.join(MODES)}); Ctrl-C to stop\n")
    sys.stderr.flush()

    def control() -> None:
        for line in sys.stdin:
            parts = line.split()
            if not parts:
                continue
            try:
                if parts[0] == "slow" and len(parts) > 1:
                    server.slow_ms = float(parts[1])
                server.set_mode(parts[0])
                sys.stderr.write(f"mode {server.mode}\n")
            except (ValueError, OSError) as exc:
                sys.stderr.write(f"error: {exc}\n")
            sys.stderr.flush()

    threading.Thread(target=control, name="server-control", daemon=True).start()
    try:
        _until_signalled()
    finally:
        server.stop()
    sys.stderr.write(f"stopped: {server.requests} requests\n")
    return 0


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port 0-65535, got {text!r}")
    return int(text)


def _until_signalled() -> None:
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(0.5):
        pass


def cmd_sim_card(args: argparse.Namespace, _state: Path | None) -> int:
    """Keep a simulated chip in a vpcd slot until interrupted."""
    from simulators.cards import SimCard, VpcdSlot

    card = SimCard(args.profile, seed=args.seed)
    with VpcdSlot(args.host, args.port) as slot:
        slot.insert(card)
        sys.stdout.write(f"vpcd://{args.host}:{args.port}\n")
        sys.stdout.flush()
        atr = card.atr.hex().upper() or "none (mute)"
        sys.stderr.write(f"simulated {args.profile} chip (ATR {atr}, UID {card.uid.hex().upper()}) "
                         f"for vpcd at {args.host}:{args.port}; "
                         f"{'connected' if slot.wait_connected(2) else 'waiting for pcscd'}; "
                         "Ctrl-C to stop\n")
        sys.stderr.flush()
        _until_signalled()
    sys.stderr.write(f"stopped: {slot.apdus} APDUs answered, {slot.connects} connection(s)\n")
    return 0


def _control_loop(model: object) -> None:
    """Apply the commands arriving on stdin (``--control``)."""
    from simulators.printers import control

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = control.apply(model, line)  # type: ignore[arg-type]
        except ValueError as exc:
            answer = f"error: {exc}"
        sys.stderr.write(answer + "\n")
        sys.stderr.flush()


def cmd_sim_printer(args: argparse.Namespace, _state: Path | None) -> int:
    """Serve a simulated printer until interrupted."""
    from simulators.printers import build_simulator, parse_options
    from simulators.printers.serve import PtyServer, TcpServer

    raw = {k[4:]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None}
    try:
        sim = build_simulator(args.family, **parse_options(raw))
    except (ValueError, OSError) as exc:
        raise BadInput(f"{exc}; see `station-agent sim printer --help`") from None
    if args.link and not args.pty:
        raise BadInput("--link only goes with --pty")
    try:
        server: PtyServer | TcpServer = (PtyServer(sim, link=args.link) if args.pty
                                         else TcpServer(sim, host=args.host, port=args.tcp))
    except OSError as exc:
        raise BadInput(f"cannot serve the simulator: {exc.strerror or exc}; "
                       "choose another port or --link path") from None

    with server:
        where = server.path if isinstance(server, PtyServer) else server.url
        sys.stdout.write(where + "\n")
        sys.stdout.flush()
        sys.stderr.write(f"simulated {args.family} printer (serial {sim.model.serial}, "
                         f"{sim.model.feeder} blanks) at {server.url} "
                         f"(--family {args.family}); Ctrl-C to stop\n")
        sys.stderr.flush()
        if args.control:
            threading.Thread(target=_control_loop, args=(sim.model,), name="sim-control",
                             daemon=True).start()
        _until_signalled()
    t = sim.model.truth
    sys.stderr.write(f"stopped: picked {t.picked}, issued {t.issued}, rejected {t.rejected}, "
                     f"removed by operator {t.removed_by_operator}, missing {t.missing}\n")
    return 0
