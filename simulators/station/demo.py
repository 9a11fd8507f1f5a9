"""``station-agent demo``: a compressed station day on the real agent, no hardware.

The whole station runs in this process exactly as the daemon runs it
(:class:`~station_agent.daemon.station.Station`: ledger, fault board, pollers,
network watch, uplink, local API), against simulators that speak the
devices' protocols:

* two card printers of different families (Evolis-style ESC, Magicard-style
  framed) on in-process transports, with a jam and a ribbon running out;
* a contactless encoder on the Evolis whose chips follow the blanks, a few
  of them dead: a virtual reader of a private pcscd (the vpcd driver, read
  through PC/SC like a real one) when pcscd and vpcd are installed and no
  other pcscd runs, else an in-process reader;
* a third printer on the network, printed to through the spooler the way real
  issuing applications print: a private cupsd whose queue is wrapped by the
  ``station`` backend over CUPS' own ``socket`` backend (when CUPS is
  installed and the demo runs as root; else it says why), with a jam;
* the central-server simulator, taken down once for a few seconds (an
  outage the network watch names and records);
* a private mosquitto when one can be started, carrying every event upstream.

The day runs on a compressed clock: office hours (07:30-16:00 in the office's
time zone, WITA for Kupang) pass in about a minute, so the report's cards per
hour, fault and outage minutes and stock forecast read like a real day's.

A simulated operator attends to every stop (clears the jam, replaces the
ribbon). At the end the ledger is compared with the printers' own ground
truth, the reconciliation report is printed and saved as HTML, and the exit
status is 1 if the ledger does not equal the truth.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

STATION_ID = "demo-kupang-01"
#: The ribbon kind the demo's printers take.
RIBBON = "ribbon-ymcko"
PANELS_PER_CARD = 2
#: The office: Kupang keeps WITA (UTC+8); it prints from 07:30 to 16:00.
OFFICE_TZ = "Asia/Makassar"
OFFICE_TZ_NAME = "WITA"
OFFICE_OPEN, OFFICE_CLOSE = day_time(7, 30), day_time(16, 0)
#: Wall-clock seconds the office day is compressed into.
DAY_WALL_S = 40.0
#: What the issuing application calls a spooled job: a citizen's name and NIK
#: (made up). The backend must keep neither.
SPOOL_TITLE = "KTP-el Siti Rahayu 5371014405900003"


class _Day:
    """Shared progress of the simulated day."""

    def __init__(self, cards: int) -> None:
        self.cards = cards
        self.done = 0
        self.lock = threading.Lock()
        self.events: list[str] = []
        self.errors: list[str] = []

    def note(self, text: str) -> None:
        with self.lock:
            self.events.append(f"{time.strftime('%H:%M:%S')} {text}")


class _Encoder:
    """Where the encoder's chips come from: pcscd + a vpcd slot, or in-process."""

    def __init__(self) -> None:
        self.pcscd: Any = None
        self.slot: Any = None
        self.url = "sim://Demo Encoder 1"
        self.how = "in-process reader"

    def start(self) -> _Encoder:
        from simulators.cards import VpcdSlot
        from simulators.cards.pcscd import READER_NAMES, Pcscd, unavailable

        why = unavailable()
        if why is None:
            try:
                self.pcscd = Pcscd().start()
                self.slot = VpcdSlot(port=self.pcscd.port).start()
                self.url = f"pcsc://{READER_NAMES[0]}"
                self.how = "PC/SC: a private pcscd with the vpcd virtual reader"
                return self
            except (RuntimeError, OSError) as exc:
                why = str(exc)
                self.stop()
        self.how = f"in-process reader (no pcscd: {why})"
        return self

    def stop(self) -> None:
        if self.slot is not None:
            self.slot.stop()
            self.slot = None
        if self.pcscd is not None:
            self.pcscd.close()
            self.pcscd = None


def _toml(data: dict[str, Any]) -> str:
    """The demo's config as TOML text (flat tables and arrays of tables only, whose
    values are scalars or lists of them)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v))   # a JSON string is a TOML basic string here

    out: list[str] = []
    for name, table in data.items():
        for t in table if isinstance(table, list) else [table]:
            out.append(f"[[{name}]]" if isinstance(table, list) else f"[{name}]")
            out += [f"{k} = {value(v)}" for k, v in t.items()]
            out.append("")
    return "\n".join(out)


def _config(state: Path, server_url: str, broker_url: str | None, cards: int, seed: int,
            reader_url: str, spool: _Spooler | None) -> Any:
    from station_agent.config import load_config

    rng = random.Random(seed)
    share = cards // (3 if spool else 2)
    # print_ms paces the day so a person can watch it.
    evolis = (f"sim://evolis?cards={share + 40}&ribbon=5000&seed={seed}&print_ms=40"
              f"&jam_at={rng.randint(share // 3, share // 2)}")
    # The Magicard's ribbon runs out two-thirds into its share of the day.
    magicard = (f"sim://magicard?cards={share + 40}&ribbon={PANELS_PER_CARD * (2 * share // 3)}"
                f"&seed={seed + 1}&print_ms=40")
    data: dict[str, Any] = {
        "station": {"id": STATION_ID, "state_dir": str(state), "timezone": OFFICE_TZ},
        "printer": [{"id": "evolis-1", "url": evolis, "family": "evolis", "poll_interval": 0.5},
                    {"id": "magicard-1", "url": magicard, "family": "magicard",
                     "poll_interval": 0.5}],
        # The Evolis has a contactless encoder; the Magicard prints cards whose
        # chips are encoded elsewhere.
        "reader": [{"id": "encoder-1", "url": reader_url, "printer": "evolis-1",
                    "chip_retries": 1}],
        "network": {"probe_url": server_url, "interval": 0.5, "fail_after": 2,
                    "clear_after": 2, "slow_ms": 800, "timeout": 1.0},
        "faults": {"raise_after": 1, "clear_after": 1},
        "stock": {"low_threshold": 100},
        # The office console on a free port (printed when the day starts).
        "web": {"listen": "127.0.0.1:0"},
        # Ribbons are counted too: one in each printer at the start of the day, and
        # the Magicard's replaced when it runs out (its yield against the rating).
        "supply": [{"kind": RIBBON, "rated_yield": 500, "low_threshold": 2,
                    "fits": ["evolis", "magicard"]}],
    }
    if spool is not None:
        data["printer"].append({"id": "evolis-net", "queue": "ektp", "family": "evolis",
                                "url": spool.server.url})
        data["cups"] = {"server": spool.cupsd.server, "backend_dir": str(spool.cupsd.backends)}
    if broker_url:
        data["uplink"] = {"mqtt_url": broker_url, "reconnect_max": 1.0, "status_interval": 5}
    path = state / "station.toml"
    path.write_text(_toml(data), encoding="utf-8")
    os.chmod(path, 0o644)   # the CUPS backend (as lp) reads it
    return load_config(path)


class _Spooler:
    """The spooled printer: a private cupsd, its queue wrapped by the station
    backend over CUPS' socket backend, an Evolis simulator on a TCP port."""

    def __init__(self, where: Path, cards: int, seed: int) -> None:
        from simulators.cupsd import Cupsd
        from simulators.printers import build_simulator
        from simulators.printers.serve import TcpServer

        self.sim = build_simulator("evolis", cards=cards + 40, seed=seed + 2, print_ms=40,
                                   jam_at=[max(2, cards // 2)])
        self.server = TcpServer(self.sim).start()
        self.cupsd = Cupsd(where / "cups")
        self.doc = where / "card.prn"

    @staticmethod
    def unavailable() -> str | None:
        from simulators.cupsd import unavailable

        return unavailable()

    def start(self, config: Path, state: Path) -> None:
        from station_agent.spooler.cups import Cups
        from station_agent.spooler.install import install_backend, wrap

        self.cupsd.start()
        self.cupsd.add_queue("ektp", f"socket://127.0.0.1:{self.server.port}")
        install_backend(config, self.cupsd.backends, state)
        wrap(Cups(self.cupsd.server), "ektp")
        from simulators.printers.documents import card_document

        self.doc.write_bytes(card_document("evolis"))
        os.chmod(self.doc, 0o644)

    def stop(self) -> None:
        self.server.stop()
        self.cupsd.stop()


def _model(unit: Any) -> Any:
    return unit.printer.link.device.simulator.model


def _attach_chips(station: Any, seed: int, slot: Any) -> None:
    """Chips follow each printer's blanks into its encoder (the vpcd ``slot``, or
    the in-process reader when None); about 3 % are dead."""
    from simulators.cards.sequence import CardSequence

    for ru in station.readers.values():
        target = slot
        if target is None:
            ru.reader.remove()
            target = ru.reader
        unit = station.printers[ru.cfg.printer]
        CardSequence(target, dead_rate=0.03, seed=seed + len(ru.id)).attach(_model(unit))


def _printer_day(station: Any, unit: Any, jobs: list[str], day: _Day, seed: int) -> None:
    from simulators.station.operator import PANELS, attend
    from station_agent import clock
    from station_agent.issuing.driven import NOT_STARTED, PENDING
    from station_agent.ledger import joblog

    rng = random.Random(f"{seed}:{unit.id}")
    model = _model(unit)
    try:
        for job in jobs:
            station.ledger.write(lambda c, j=job: joblog.note(
                c, j, joblog.DRIVEN, printer=unit.id,
                created_at=clock.now().isoformat(timespec="seconds").replace("+00:00", "Z")))
            for _attempt in range(200):
                with unit.issuer.lock:
                    result = unit.issuer.issue(job, PANELS)
                    if result.fault:
                        day.note(f"{unit.id}: {result.fault} on {job} -> operator attends")
                    attend(unit.issuer, model, result, rng)
                if result.fault == "ribbon_out":
                    # The operator put a new ribbon in (attend): the office records it,
                    # which ends the old one's life with its yield.
                    station.supplies.install(RIBBON, unit.id, None, f"ribbon-{job}", "demo")
                    day.note(f"{unit.id}: new ribbon recorded; the old one printed "
                             f"{_last_yield(station, unit.id)} cards")
                if result.outcome not in (NOT_STARTED, PENDING):
                    break
                time.sleep(0.05)
            with day.lock:
                day.done += 1
        with unit.issuer.lock:
            for _ in range(100):
                if unit.issuer.recover() is None:
                    break
                time.sleep(0.05)
    except Exception as exc:   # reported, and the demo fails
        day.errors.append(f"{unit.id}: {exc}")


def _last_yield(station: Any, printer: str) -> str:
    """The cards the last ribbon used up in ``printer`` printed."""
    from station_agent.ledger import supplies

    done = station.ledger.read(lambda c: supplies.units(c, item=RIBBON, device=printer))
    ended = [u for u in done if not u.installed]
    return f"{ended[-1].cards:,}" if ended else "?"


def _spool_day(station: Any, spool: _Spooler, jobs: int, day: _Day) -> None:
    """The issuing application prints through CUPS; the operator walks up when
    the agent shows that the printer stopped."""
    from simulators.station.operator import service_printer

    model = spool.sim.model
    try:
        for _ in range(jobs):
            spool.cupsd.submit("ektp", spool.doc, title=SPOOL_TITLE, user="operator1")
            spool.cupsd.wait_idle("ektp", timeout=60)
            if model.position is not None or model.errors:
                for _wait in range(40):   # the fault reaches the agent through cupsd
                    if station.board.active("evolis-net"):
                        break
                    time.sleep(0.05)
                done = service_printer(model)
                day.note(f"evolis-net (CUPS queue ektp): printer stopped -> operator "
                         f"{', '.join(done) or 'pressed OK'}")
            with day.lock:
                day.done += 1
    except Exception as exc:   # reported, and the demo fails
        day.errors.append(f"evolis-net: {exc}")


def _outage(server: Any, day: _Day, at: float, seconds: float) -> None:
    while day.done < day.cards * at and not day.errors:
        time.sleep(0.1)
    day.note(f"central server goes down for {seconds:g} s")
    server.set_mode("refuse")
    time.sleep(seconds)
    server.set_mode("ok")
    day.note("central server is back")


def _panel(station: Any, day: _Day, started: float) -> list[str]:
    b = station.ledger.balances()
    st = station.status()
    net, up = st["network"], st["uplink"]
    faults = ", ".join(f"{f['source']}:{f['code']}" for f in st["faults"]) or "none"
    uplink = ("no broker" if up["state"] == "disabled" else
              f"{up['state']}, backlog {up['backlog']}, sent {up.get('sent', 0)}")
    from station_agent import clock

    return [
        f"station {STATION_ID} - office day {clock.local_now():%Y-%m-%d %H:%M} "
        f"{OFFICE_TZ_NAME} ({time.monotonic() - started:4.1f} s)",
        f"  cards      {day.done:4d}/{day.cards}  issued {b.issued:4d}  spoiled "
        f"{b.spoiled_held:3d}  lost {b.lost}  in printer {b.in_printer}",
        f"  stock      {b.stock:4d}",
        f"  faults     {faults}",
        f"  network    {net['state']}{' (outage)' if net['in_outage'] else ''}",
        f"  uplink     {uplink}",
    ]


def _office_day(now: datetime) -> date:
    """The latest office day that is over by ``now`` (local): its entries are then
    never in the future of the machine's clock."""
    return now.date() if now.time() >= OFFICE_CLOSE else now.date() - timedelta(days=1)


def _use_office_time_zone(where: Path) -> None:
    """This process keeps the office's local time (reports, the panel), and so do
    the commands later run on the demo's state."""
    from station_agent import clock

    clock.use_timezone(OFFICE_TZ)
    clock.record_timezone(where, OFFICE_TZ)


def _unreachable_by_lp(where: Path) -> str | None:
    """Why CUPS' backend user could not reach the demo's state directory, or None."""
    for parent in where.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            return (f"{parent} is not searchable by CUPS' backend user lp: give the demo a "
                    f"--state-dir elsewhere, or chmod o+x {parent}")
    return None


def _command() -> str:
    """How to run the CLI from here (after the set-up it is not on PATH)."""
    found = shutil.which("station-agent")
    if found:
        return "station-agent"
    beside = Path(sys.executable).parent / "station-agent"
    return str(beside) if beside.exists() else f"{sys.executable} -m station_agent"


def run_demo(*, state_dir: str | None, seed: int, jobs: int, broker: bool = True) -> int:
    """Run the demo day; return the exit code (0 when the ledger equals the truth)."""
    from simulators.mosquitto import Mosquitto, find_binary
    from simulators.server import ServerSim
    from simulators.station.operator import mismatches
    from station_agent import clock, logs
    from station_agent.cli.supplies_cmds import supplies_text
    from station_agent.daemon.station import Station
    from station_agent.ledger import model, open_reader, verify
    from station_agent.report.model import build_report
    from station_agent.report.render import render_html, render_text
    from station_agent.supplies.outlook import supply_view

    temp = state_dir is None
    where = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="station-agent-demo-"))
    where.mkdir(parents=True, exist_ok=True)
    _use_office_time_zone(where)
    office_day = _office_day(clock.local_now())
    opens = datetime.combine(office_day, OFFICE_OPEN).astimezone()
    closes = datetime.combine(office_day, OFFICE_CLOSE).astimezone()
    live = sys.stdout.isatty()
    log_file = (where / "demo.log").open("a", encoding="utf-8")
    logs.configure("info", json=True, stream=log_file)
    cards = max(10, min(jobs, 2000))
    say = print
    say(f"station-agent demo: a simulated office day, {office_day} "
        f"{OFFICE_OPEN:%H:%M}-{OFFICE_CLOSE:%H:%M} {OFFICE_TZ_NAME} in about "
        f"{DAY_WALL_S:.0f} s (seed {seed}, {cards} cards), state in {where}", flush=True)
    started = time.monotonic()
    server = ServerSim().start()
    mq = None
    if broker and find_binary() is not None:
        try:
            mq = Mosquitto(where / "broker").start()
        except RuntimeError as exc:
            say(f"  (no uplink: {exc})")
    elif broker:
        say("  (no uplink: mosquitto is not installed; apt-get install mosquitto)")
    encoder = _Encoder().start()
    say(f"  chips: {encoder.how}", flush=True)
    spool: _Spooler | None = None
    why = _Spooler.unavailable() or _unreachable_by_lp(where)
    if why is None:
        os.chmod(where, 0o711)   # the CUPS backend (as lp) reaches its journal here
        spool = _Spooler(where, cards // 3, seed)
        say("  spooler: a private cupsd, queue ektp wrapped by the station backend over "
            "CUPS' socket backend", flush=True)
    else:
        say(f"  spooler: not shown ({why})", flush=True)
    station = None
    day = _Day(cards)
    units: list[Any] = []
    received = 0
    wrong: list[str] = []
    final = None
    clock.compress(opens, (closes - opens).total_seconds() / DAY_WALL_S)
    try:
        cfg = _config(where, f"{server.url}/health", mq.url if mq else None, cards, seed,
                      encoder.url, spool)
        if spool is not None:
            spool.start(cfg.path, where)
        station = Station(cfg, where)
        _attach_chips(station, seed, encoder.slot)
        for batch, count in (("KTP-2026-11-A", cards // 2 + 60), ("KTP-2026-11-B", cards // 2)):
            station.ledger.record(model.receive(batch, count))
            received += count
            day.note(f"delivery {batch}: {count} blanks")
        station.ledger.record(model.supply_receive(RIBBON, 6, "RIB-2026-11"))
        day.note(f"delivery RIB-2026-11: 6 {RIBBON}")
        for pc in cfg.printers:   # the ribbon in each printer this morning
            station.supplies.install(RIBBON, pc.id, None, f"ribbon-morning-{pc.id}", "demo")
        station.start()
        if station.console is not None:
            day.note(f"office console: {station.console.url} (add an account with "
                     f"station-agent --state-dir {where} console user add NAME)")
        names = [f"job-{seed}-{i:05d}" for i in range(cards)]
        units = list(station.printers.values())
        spooled = cards // 3 if spool is not None else 0
        driven = names[spooled:]
        threads = [threading.Thread(target=_printer_day,
                                    args=(station, u, driven[k::len(units)], day, seed),
                                    daemon=True)
                   for k, u in enumerate(units)]
        if spool is not None:
            threads.append(threading.Thread(target=_spool_day,
                                            args=(station, spool, spooled, day), daemon=True))
        threads.append(threading.Thread(target=_outage, args=(server, day, 0.4, 3.0),
                                        daemon=True))
        for t in threads:
            t.start()
        shown, last_plain = 0, 0.0

        def show(force: bool = False) -> None:
            nonlocal shown, last_plain
            if live:
                lines = _panel(station, day, started) + ["  events:"] + \
                    [f"    {e}" for e in day.events[-6:]]
                sys.stdout.write("\x1b[2J\x1b[H" + "\n".join(lines) + "\n")
                sys.stdout.flush()
                return
            for e in day.events[shown:]:
                say(f"  {e}", flush=True)
            shown = len(day.events)
            if force or time.monotonic() - last_plain >= 2.0:
                last_plain = time.monotonic()
                say("  " + " | ".join(x.strip() for x in _panel(station, day, started)[1:]),
                    flush=True)

        while any(t.is_alive() for t in threads):
            time.sleep(0.25)
            show()
        # Let the watch see the server back, the journal be ingested, the uplink drain.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            st = station.status()
            journal = where / "spool-journal"
            pending = journal.exists() and any(journal.glob("*.json"))
            if (not st["network"]["in_outage"] and not pending
                    and st["uplink"].get("backlog", 0) in (0, None)):
                break
            time.sleep(0.2)
        show(force=True)   # the panel ends on the last card
        final = station.ledger.balances()
        models = [_model(u) for u in units] + ([spool.sim.model] if spool else [])
        wrong = mismatches(final, models, received) + day.errors
        day_end = min(clock.local_now(), closes)
    finally:
        if station is not None:
            station.stop()
        clock.uncompress()
        if spool is not None:
            spool.stop()
        encoder.stop()
        server.stop()
        if mq is not None:
            mq.stop()

    conn = open_reader(where)
    try:
        check = verify(conn)
        report = build_report(conn, office_day, station_id=STATION_ID, now=day_end,
                              supply_kinds=cfg.supplies)
        ribbons = supplies_text({"kinds": [k.as_dict() for k in supply_view(
            conn, cfg, now=day_end)]})
    finally:
        conn.close()
    html_path = where / f"report-{report.day.isoformat()}.html"
    html_path.write_text(render_html(report), encoding="utf-8")
    say("")
    say(render_text(report))
    say("")
    say("supplies and yields:")
    say(ribbons)
    say("")
    say(f"ledger verify: {'OK' if check.ok else 'BROKEN at entry ' + str(check.first_break)}, "
        f"{check.entries} entries")
    assert final is not None
    if wrong:
        say("ledger does NOT equal the simulators' ground truth: " + "; ".join(wrong))
    else:
        say(f"ledger equals the simulators' ground truth: {final.issued} issued, "
            f"{final.spoiled_held} spoiled and held, {final.lost} lost, {final.stock} in stock")
    say(f"HTML report: {html_path}")
    say(f"done in {time.monotonic() - started:.1f} s")
    exe = _command()
    if temp:
        say(f"state kept in {where}: try `{exe} --state-dir {where} jobs` or "
            f"`{exe} --state-dir {where} report --date {office_day} --lang id`")
    log_file.close()
    return 0 if check.ok and not wrong else 1


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``station-agent demo`` (an entry point of ``station_agent.commands``)."""
    demo = sub.add_parser(
        "demo", help="a simulated station day on the real agent, ending with the report",
        description="Run a compressed station day with no hardware: two simulated printers "
                    "(Evolis and Magicard protocols) with a jam and a ribbon out, encoders "
                    "with a few dead chips, the central-server simulator with one outage, "
                    "and the uplink to a local mosquitto when one can be started. Ends "
                    "with the reconciliation report and the path of its HTML version; "
                    "exit 1 if the ledger does not equal the simulators' ground truth. "
                    "State goes to a new temporary directory unless --state-dir is given.")
    demo.add_argument("--seed", type=int, default=2026, help="random seed (same seed, same day)")
    demo.add_argument("--jobs", type=int, default=300, help="cards to issue in the day "
                                                           "(10 to 2000; default 300)")
    demo.add_argument("--no-broker", action="store_true",
                      help="do not start a local mosquitto for the uplink")
    demo.set_defaults(func=_cmd_demo, needs_state=False)


def _cmd_demo(args: argparse.Namespace, _state: object) -> int:
    return run_demo(state_dir=args.state_dir, seed=args.seed, jobs=args.jobs,
                    broker=not args.no_broker)
