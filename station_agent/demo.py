"""``station-agent demo``: a compressed station day on the real agent, no hardware.

The whole station runs in this process exactly as the daemon runs it
(:class:`~station_agent.station.Station`: ledger, fault board, pollers,
network watch, uplink, local API), against simulators that speak the
devices' protocols:

* two card printers of different families (Evolis-style ESC, Magicard-style
  framed) on in-process transports, with a jam and a ribbon running out;
* a contactless encoder on the Evolis whose chips follow the blanks, a few
  of them dead: a virtual reader of a private pcscd (the vpcd driver, read
  through PC/SC like a real one) when pcscd and vpcd are installed and no
  other pcscd runs, else an in-process reader;
* the central-server simulator, taken down once for a few seconds (an
  outage the network watch names and records);
* a private mosquitto when one can be started, carrying every event upstream.

A simulated operator attends to every stop (clears the jam, replaces the
ribbon). At the end the ledger is compared with the printers' own ground
truth, the reconciliation report is printed and saved as HTML, and the exit
status is 1 if the ledger does not equal the truth.
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

STATION_ID = "demo-kupang-01"
PANELS_PER_CARD = 2


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


def _config(state: Path, server_url: str, broker_url: str | None, cards: int, seed: int,
            reader_url: str) -> Any:
    from station_agent.config import parse_config

    rng = random.Random(seed)
    half = cards // 2
    # print_ms paces the day so a person can watch it (about 20 s).
    evolis = (f"sim://evolis?cards={half + 40}&ribbon=5000&seed={seed}&print_ms=40"
              f"&jam_at={rng.randint(half // 3, half // 2)}")
    # The Magicard's ribbon runs out two-thirds into its share of the day.
    magicard = (f"sim://magicard?cards={half + 40}&ribbon={PANELS_PER_CARD * (2 * half // 3)}"
                f"&seed={seed + 1}&print_ms=40")
    data: dict[str, Any] = {
        "station": {"id": STATION_ID, "state_dir": str(state)},
        "printer": [{"id": "evolis-1", "url": evolis, "poll_interval": 0.5},
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
    }
    if broker_url:
        data["uplink"] = {"mqtt_url": broker_url, "reconnect_max": 1.0, "status_interval": 5}
    return parse_config(data, state / "station.toml")


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
    from simulators.operator import PANELS, attend
    from station_agent.issuing import NOT_STARTED, PENDING

    rng = random.Random(f"{seed}:{unit.id}")
    model = _model(unit)
    try:
        for job in jobs:
            for _attempt in range(200):
                with unit.job_lock:
                    result = unit.issuer.issue(job, PANELS)
                    if result.fault:
                        day.note(f"{unit.id}: {result.fault} on {job} -> operator attends")
                    attend(unit.issuer, model, result, rng)
                if result.outcome not in (NOT_STARTED, PENDING):
                    break
                time.sleep(0.05)
            with day.lock:
                day.done += 1
        with unit.job_lock:
            for _ in range(100):
                if unit.issuer.recover() is None:
                    break
                time.sleep(0.05)
    except Exception as exc:   # reported, and the demo fails
        day.errors.append(f"{unit.id}: {exc}")


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
    return [
        f"station {STATION_ID} - simulated day, {time.monotonic() - started:5.1f} s",
        f"  cards      {day.done:4d}/{day.cards}  issued {b.issued:4d}  spoiled "
        f"{b.spoiled_held:3d}  lost {b.lost}  in printer {b.in_printer}",
        f"  stock      {b.stock:4d}",
        f"  faults     {faults}",
        f"  network    {net['state']}{' (outage)' if net['in_outage'] else ''}",
        f"  uplink     {uplink}",
    ]


def run_demo(*, state_dir: str | None, seed: int, jobs: int, broker: bool = True) -> int:
    """Run the demo day; return the exit code (0 when the ledger equals the truth)."""
    from simulators.mosquitto import Mosquitto, find_binary
    from simulators.operator import mismatches
    from simulators.server import ServerSim
    from station_agent import logs
    from station_agent.ledger import model, open_reader, verify
    from station_agent.report.model import build_report
    from station_agent.report.render import render_html, render_text
    from station_agent.station import Station

    temp = state_dir is None
    where = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="station-agent-demo-"))
    where.mkdir(parents=True, exist_ok=True)
    live = sys.stdout.isatty()
    log_file = (where / "demo.log").open("a", encoding="utf-8")
    logs.configure("info", json=True, stream=log_file)
    cards = max(10, min(jobs, 2000))
    say = print
    say(f"station-agent demo: a simulated station day (seed {seed}, {cards} cards), "
        f"state in {where}", flush=True)
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
    station = None
    day = _Day(cards)
    try:
        cfg = _config(where, f"{server.url}/health", mq.url if mq else None, cards, seed,
                      encoder.url)
        station = Station(cfg, where)
        _attach_chips(station, seed, encoder.slot)
        station.start()
        received = 0
        for batch, count in (("KTP-2026-11-A", cards // 2 + 60), ("KTP-2026-11-B", cards // 2)):
            station.ledger.record(model.receive(batch, count))
            received += count
            day.note(f"delivery {batch}: {count} blanks")
        names = [f"job-{seed}-{i:05d}" for i in range(cards)]
        units = list(station.printers.values())
        threads = [threading.Thread(target=_printer_day,
                                    args=(station, u, names[k::2], day, seed), daemon=True)
                   for k, u in enumerate(units)]
        threads.append(threading.Thread(target=_outage, args=(server, day, 0.4, 3.0),
                                        daemon=True))
        for t in threads:
            t.start()
        shown, last_plain = 0, 0.0
        while any(t.is_alive() for t in threads):
            time.sleep(0.25)
            if live:
                lines = _panel(station, day, started) + ["  events:"] + \
                    [f"    {e}" for e in day.events[-6:]]
                sys.stdout.write("\x1b[2J\x1b[H" + "\n".join(lines) + "\n")
                sys.stdout.flush()
            else:
                for e in day.events[shown:]:
                    say(f"  {e}", flush=True)
                shown = len(day.events)
                if time.monotonic() - last_plain >= 2.0:
                    last_plain = time.monotonic()
                    say("  " + " | ".join(s.strip() for s in _panel(station, day, started)[1:]),
                        flush=True)
        # Let the watch see the server back and the uplink drain.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            st = station.status()
            if not st["network"]["in_outage"] and st["uplink"].get("backlog", 0) in (0, None):
                break
            time.sleep(0.2)
        for e in day.events[shown:]:
            say(f"  {e}")
        final = station.ledger.balances()
        models = [_model(u) for u in units]
        wrong = mismatches(final, models, received) + day.errors
    finally:
        if station is not None:
            station.stop()
        encoder.stop()
        server.stop()
        if mq is not None:
            mq.stop()

    conn = open_reader(where)
    try:
        check = verify(conn)
        report = build_report(conn, date.today(), station_id=STATION_ID)
    finally:
        conn.close()
    html_path = where / f"report-{report.day.isoformat()}.html"
    html_path.write_text(render_html(report), encoding="utf-8")
    say("")
    say(render_text(report))
    say("")
    say(f"ledger verify: {'OK' if check.ok else 'BROKEN at entry ' + str(check.first_break)}, "
        f"{check.entries} entries")
    if wrong:
        say("ledger does NOT equal the simulators' ground truth: " + "; ".join(wrong))
    else:
        say(f"ledger equals the simulators' ground truth: {final.issued} issued, "
            f"{final.spoiled_held} spoiled and held, {final.lost} lost, {final.stock} in stock")
    say(f"HTML report: {html_path}")
    say(f"done in {time.monotonic() - started:.1f} s")
    if temp:
        say(f"state kept in {where}: try `station-agent --state-dir {where} blanks` or "
            "`... report --lang id`")
    log_file.close()
    return 0 if check.ok and not wrong else 1
