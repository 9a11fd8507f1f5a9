"""Seeded whole-station campaigns: the promise "exact, through anything", checked.

``python -m simulators.station.campaign --seed S --cards N [--faults all]`` runs a
whole station the way it runs in an office, every part real except the
devices, which are simulators speaking their real protocols:

* the daemon (``station-agent run``) as its own process, killed with SIGKILL
  at random moments (often in the middle of a card) and restarted;
* an Evolis-family and a Magicard-family printer on ptys, with faults planned
  from the seed on random cards: jams, cover opened, head overheat, false
  ribbon end, the device vanishing, line noise, truncated and slow replies,
  plus a feeder, ribbon and reject box that run out;
* the Evolis's encoder as a virtual reader of a private pcscd (vpcd), with
  dead and flaky chips, when pcscd and vpcd are installed;
* the central-server simulator with outages (refused, black-holed, HTTP 500);
* mosquitto as the uplink broker, restarted now and then, and a central
  consumer with a durable session;
* the issuing application replaying jobs it already sent, deliveries sent
  twice, and a conflicting delivery;
* the state directory's file system filling up (a small tmpfs the campaign
  mounts when it runs as root, filled with a ballast file) until the operator
  frees space;
* the daemon's wall clock stepped back and forward while it runs (the
  agent's clock skew file, see station_agent/clock.py);
* a spooler station beside the driven printers (when CUPS is installed and the
  campaign runs as root): a third printer on a TCP port behind a private
  cupsd whose queue is wrapped by the ``station`` backend, a share of the
  cards printed through it with ``lp`` (jams and dropped connections
  planned), cupsd restarted mid-job, the daemon killed while they print.

A scripted operator attends to every stop as a person would (clears the
jam and says whether the card was found, reloads, closes the cover, settles
a job the agent lost track of by looking where its card went).

At the end: the ledger equals the printers' ground truth for every account,
``ledger verify`` passes, every event reached the central consumer exactly
once after dedup (no gap in the event numbers, every ledger entry), and no
fault is left raised that should have cleared. A failing seed prints the one
command that reproduces it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simulators.station.agent_process import AgentProcess, agent_env
from station_agent.clock import SKEW_ENV

FAULT_KINDS = ("printer", "chips", "kill", "replay", "outage", "broker", "disk", "clock",
               "spooler")
#: The spooled printer's id and CUPS queue.
SPOOL_PRINTER, SPOOL_QUEUE = "evolis-net", "ektp"
#: Size of the state directory's tmpfs in a campaign with disk-full episodes.
STATE_FS_MB = 48
STATION_ID = "campaign-01"
#: Faults the station keeps until an operator acknowledges them (not a failure).
ACKNOWLEDGE = ("unreported_pick",)


@dataclass
class Plan:
    """What the seed decided: the jobs at which each event happens."""

    kills: set[int] = field(default_factory=set)
    outages: dict[int, tuple[int, str]] = field(default_factory=dict)  # start -> (jobs, mode)
    broker_restarts: set[int] = field(default_factory=set)
    replays: set[int] = field(default_factory=set)
    disk_full: set[int] = field(default_factory=set)
    clock_steps: dict[int, float] = field(default_factory=dict)   # job -> skew, seconds
    printer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    spooled: set[int] = field(default_factory=set)          # jobs printed through CUPS
    cupsd_restarts: set[int] = field(default_factory=set)
    dead_rate: float = 0.0
    flaky_rate: float = 0.0


def make_plan(seed: int, cards: int, faults: tuple[str, ...]) -> Plan:
    """The campaign's events, from the seed alone."""
    rng = random.Random(seed)
    plan = Plan()
    share = cards // 2 + 1

    def some(per: int, low: int = 1, high: int | None = None) -> list[int]:
        top = high if high is not None else share
        return sorted(rng.sample(range(low, top + 1), k=min(top - low + 1,
                                                           max(1, cards // per))))

    for family in ("evolis", "magicard"):
        opts: dict[str, Any] = {"cards": rng.randint(share // 3, share),
                                "seed": rng.randrange(1 << 30),
                                "ribbon": 2 * rng.randint(share // 3, share),
                                "reject_capacity": rng.randint(4, 12)}
        if "printer" in faults:
            for key, per in (("jam_at", 60), ("cover_open_at", 90), ("overheat_at", 90),
                             ("false_ribbon_end_at", 120), ("vanish_at", 150),
                             ("garbage_at", 50), ("truncate_at", 50), ("slow_at", 80)):
                opts[key] = some(per)
            opts["vanish_s"] = 0.6
        plan.printer_options[family] = opts
    if "chips" in faults:
        plan.dead_rate, plan.flaky_rate = 0.03, 0.05
    jobs = range(5, max(6, cards - 5))
    if "kill" in faults:
        plan.kills = set(rng.sample(jobs, k=min(len(jobs), max(1, cards // 60))))
    if "outage" in faults:
        for start in rng.sample(jobs, k=min(len(jobs), max(1, cards // 150))):
            plan.outages[start] = (rng.randint(5, 25), rng.choice(["refuse", "blackhole",
                                                                   "http500"]))
    if "broker" in faults:
        plan.broker_restarts = set(rng.sample(jobs, k=min(len(jobs), max(1, cards // 120))))
    if "replay" in faults:
        plan.replays = set(rng.sample(jobs, k=min(len(jobs), max(2, cards // 40))))
    if "disk" in faults:
        # Early enough that the ledger outgrows what SQLite already allocated.
        early = range(5, max(6, cards * 6 // 10))
        plan.disk_full = set(rng.sample(early, k=min(len(early), max(1, cards // 200))))
    if "spooler" in faults:
        plan.spooled = {n for n in range(cards) if rng.random() < 0.3}
        spool: dict[str, Any] = {"cards": cards + 40, "seed": rng.randrange(1 << 30)}
        if "printer" in faults:
            spool["jam_at"] = some(50, high=max(2, cards // 3))
            spool["vanish_at"] = some(120, high=max(2, cards // 3))
            spool["vanish_s"] = 0.6
        plan.printer_options["spool"] = spool
        spooled = sorted(plan.spooled)
        if spooled:
            plan.cupsd_restarts = set(rng.sample(spooled, k=min(len(spooled),
                                                                 max(1, cards // 100))))
    if "clock" in faults and len(jobs) >= 2:
        back, ahead = sorted(rng.sample(jobs, k=2))
        plan.clock_steps[back] = -rng.choice([600, 7200, 90000])     # set back
        plan.clock_steps[ahead] = rng.choice([0, 3600])               # put right, or ahead
    return plan


@dataclass
class Outcome:
    """What a campaign did and found; ``mismatches`` empty means it passed."""

    seed: int
    cards: int
    faults: list[str]
    reader: str = ""
    disk: str = "not planned"
    kills: int = 0
    outages: int = 0
    broker_restarts: int = 0
    replays: int = 0
    clock_steps: int = 0
    disk_full_episodes: int = 0
    disk_full_seen: int = 0
    spooler: str = "not planned"
    spooled_jobs: int = 0
    cupsd_restarts: int = 0
    jams: int = 0
    operator_actions: int = 0
    unresolved_settled: int = 0
    entries: int = 0
    events: int = 0
    duplicates_dropped: int = 0
    seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def reproduce(self) -> str:
        return (f"python -m simulators.station.campaign --seed {self.seed} --cards {self.cards} "
                f"--faults {','.join(self.faults)}")


class Campaign:
    """One seeded campaign in its own directory; :meth:`run` returns the outcome."""

    def __init__(self, seed: int, cards: int, faults: tuple[str, ...], root: Path) -> None:
        self.seed, self.cards, self.faults, self.root = seed, cards, faults, root
        self.rng = random.Random(f"operator:{seed}")
        self.plan = make_plan(seed, cards, faults)
        self.out = Outcome(seed, cards, list(faults))
        self.received = 0
        self.sims: dict[str, Any] = {}
        self.servers: list[Any] = []
        self.models: dict[str, Any] = {}
        self.encoder: Any = None
        self.pcscd: Any = None
        self.server: Any = None
        self.broker: Any = None
        self.central: Any = None
        self.daemon: AgentProcess | None = None
        self.mounted: Path | None = None
        self.skew = root / "clock-skew"
        self.disk_full_tries = 0
        self.done: dict[str, str] = {}   # job -> outcome
        self.cupsd: Any = None
        self.spool_doc = root / "card.prn"
        self.delivered: list[int] = []   # ledger entry numbers the central side received

    def _on_event(self, event: dict[str, Any]) -> None:
        """The central consumer's sink: each new (deduplicated) event."""
        if event.get("type") == "ledger_entry":
            self.delivered.append(int(event["event"]["seq"]))

    # -- set-up ----------------------------------------------------------------------

    def _printers(self) -> None:
        from simulators.printers import build_simulator
        from simulators.printers.serve import PtyServer

        for family, pid in (("evolis", "evolis-1"), ("magicard", "magicard-1")):
            sim = build_simulator(family, **self.plan.printer_options[family])
            server = PtyServer(sim, link=self.root / f"{pid}.tty").start()
            sim.model.track_fates()
            self.sims[pid], self.models[pid] = sim, sim.model
            self.servers.append(server)

    def _reader(self) -> str:
        from simulators.cards import VpcdSlot
        from simulators.cards.pcscd import READER_NAMES, Pcscd, unavailable
        from simulators.cards.sequence import CardSequence

        why = unavailable()
        if why is not None:
            self.out.reader = f"none ({why})"
            return ""
        self.pcscd = Pcscd().start()
        self.encoder = VpcdSlot(port=self.pcscd.port).start()
        CardSequence(self.encoder, dead_rate=self.plan.dead_rate,
                     flaky_rate=self.plan.flaky_rate, seed=self.seed).attach(
            self.models["evolis-1"])
        self.out.reader = "pcscd + vpcd"
        return (f'\n[[reader]]\nid = "encoder-1"\nurl = "pcsc://{READER_NAMES[0]}"\n'
                'printer = "evolis-1"\nchip_retries = 2\n')

    def _uplink(self) -> str:
        from simulators.mosquitto import Mosquitto
        from station_agent.fleet.consumer import FleetConsumer
        from station_agent.uplink.broker import parse_broker

        self.broker = Mosquitto(self.root / "broker").start()
        self.central = FleetConsumer(parse_broker(self.broker.url),
                                     session=f"campaign-central-{self.seed}",
                                     sink=self._on_event).start()
        return (f'\n[uplink]\nmqtt_url = "{self.broker.url}"\nreconnect_max = 1\n'
                "status_interval = 5\n")

    def _spooler(self) -> str:
        """The spooled printer behind a private cupsd (config text), or "" when
        CUPS cannot run here."""
        from simulators.cupsd import Cupsd, unavailable
        from simulators.printers import build_simulator
        from simulators.printers.documents import card_document
        from simulators.printers.serve import TcpServer

        why = unavailable()
        if why is not None:
            self.out.spooler = f"not covered: {why}"
            self.plan.spooled, self.plan.cupsd_restarts = set(), set()
            return ""
        os.chmod(self.root, 0o755)   # CUPS' backend (as lp) reaches its journal
        sim = build_simulator("evolis", **self.plan.printer_options["spool"])
        sim.model.track_fates()
        server = TcpServer(sim).start()
        self.servers.append(server)
        self.sims[SPOOL_PRINTER], self.models[SPOOL_PRINTER] = sim, sim.model
        self.cupsd = Cupsd(self.root / "cups").start()
        self.cupsd.add_queue(SPOOL_QUEUE, f"socket://127.0.0.1:{server.port}")
        self.spool_doc.write_bytes(card_document("evolis"))
        os.chmod(self.spool_doc, 0o644)
        self.out.spooler = "private cupsd, queue wrapped over CUPS' socket backend"
        return (f'\n[[printer]]\nid = "{SPOOL_PRINTER}"\nqueue = "{SPOOL_QUEUE}"\n'
                f'family = "evolis"\nurl = "{server.url}"\n'
                f'\n[cups]\nserver = "{self.cupsd.server}"\n'
                f'backend_dir = "{self.cupsd.backends}"\n')

    def setup(self) -> None:
        from simulators.server import ServerSim

        self._printers()
        reader = self._reader()
        self.server = ServerSim(slow_ms=400).start()
        uplink = self._uplink()
        spooler = self._spooler() if "spooler" in self.faults else ""
        state = self.root / "state"
        state.mkdir()
        if self.plan.disk_full:
            self._mount_state(state)
        os.chmod(state, 0o711)
        config = self.root / "station.toml"
        config.write_text(
            f'[station]\nid = "{STATION_ID}"\nstate_dir = "{state}"\n\n'
            '[web]\nlisten = "127.0.0.1:0"\n\n'
            f'[[printer]]\nid = "evolis-1"\nurl = "serial://{self.root / "evolis-1.tty"}"\n'
            'family = "evolis"\npoll_interval = 0.2\n\n'
            f'[[printer]]\nid = "magicard-1"\nurl = "serial://{self.root / "magicard-1.tty"}"\n'
            'family = "magicard"\npoll_interval = 0.2\n'
            + reader +
            f'\n[network]\nprobe_url = "{self.server.url}/health"\ninterval = 0.3\n'
            "fail_after = 2\nclear_after = 2\nslow_ms = 300\ntimeout = 1\n"
            "\n[faults]\nraise_after = 1\nclear_after = 1\n\n[stock]\nlow_threshold = 5\n"
            + uplink + spooler)
        os.chmod(config, 0o644)
        if self.cupsd is not None:
            from station_agent.spooler.cups import Cups
            from station_agent.spooler.install import install_backend, wrap

            install_backend(config, self.cupsd.backends, state)
            wrap(Cups(self.cupsd.server), SPOOL_QUEUE)
        self.daemon = AgentProcess(config, state, self.root / "daemon.log")
        self.skew.write_text("0\n")

    def _mount_state(self, state: Path) -> None:
        """A small file system of its own for the state directory, to fill up."""
        if os.geteuid() != 0:
            self.out.disk = "not covered: mounting a tmpfs needs root"
            self.plan.disk_full = set()
            return
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={STATE_FS_MB}m,mode=0755",
                              "tmpfs", str(state)], capture_output=True, text=True)
        if res.returncode != 0:
            self.out.disk = f"not covered: mount failed ({res.stderr.strip()[:80]})"
            self.plan.disk_full = set()
            return
        self.mounted = state
        self.out.disk = f"tmpfs of {STATE_FS_MB} MiB"

    def _fill_disk(self) -> None:
        self.out.disk_full_episodes += 1
        chunk = b"\0" * (1 << 16)
        # Unbuffered: closing must not try to flush what did not fit.
        with (self.root / "state" / "ballast").open("wb", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
            except OSError:
                pass

    def _free_disk(self) -> None:
        ballast = self.root / "state" / "ballast"
        if ballast.exists():
            ballast.unlink()

    def teardown(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
        if self.central is not None:
            self.central.stop()
        for part in (self.broker, self.server, self.encoder):
            if part is not None:
                part.stop()
        for server in self.servers:
            server.stop()
        if self.cupsd is not None:
            self.cupsd.stop()
        if self.pcscd is not None:
            self.pcscd.close()
        if self.mounted is not None:
            # Keep a copy for a post-mortem (--keep) before the tmpfs goes away.
            shutil.copytree(self.mounted, self.root / "state-saved", dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("agent.sock", "ballast"))
            subprocess.run(["umount", "-l", str(self.mounted)], capture_output=True)

    # -- the day -----------------------------------------------------------------------

    def receive(self, batch: str, count: int) -> None:
        from station_agent.api.protocol import ApiError

        assert self.daemon is not None
        try:
            doc = self.daemon.call("receive", batch_id=batch, count=count)
        except ApiError as exc:
            if "disk full" not in exc.message:
                raise
            self._free_disk()   # the operator frees space and records the delivery again
            doc = self.daemon.call("receive", batch_id=batch, count=count)
        if not doc["replay"]:
            self.received += count

    def _restart(self) -> None:
        assert self.daemon is not None
        self.daemon.kill()
        self.out.kills += 1
        try:
            self.daemon.start(self._env())
        except RuntimeError:
            if not (self.root / "state" / "ballast").exists():
                raise
            self._free_disk()    # it could not open its ledger on a full disk
            self.daemon.start(self._env())

    def _env(self) -> dict[str, str]:
        env = agent_env()
        if self.plan.clock_steps:
            env[SKEW_ENV] = str(self.skew)
        return env

    def _write(self, op: str, **params: Any) -> Any:
        """An operator's request that records something: on a full disk the
        operator frees space and asks again."""
        from station_agent.api.protocol import ApiError

        assert self.daemon is not None
        try:
            return self.daemon.call(op, **params)
        except ApiError as exc:
            if "disk full" not in exc.message:
                raise
            self._free_disk()
            return self.daemon.call(op, **params)

    def _issue(self, job: str, printer: str, kill_after: float | None) -> dict[str, Any] | None:
        """One ``issue`` call; with ``kill_after`` the daemon is killed that many
        seconds into it (None comes back when the call died with the daemon)."""
        from station_agent.api.protocol import ApiError

        assert self.daemon is not None
        killer = None
        if kill_after is not None:
            killer = threading.Timer(kill_after, self.daemon.kill)
            killer.start()
        try:
            result: dict[str, Any] = self.daemon.call("issue", job_id=job, printer=printer,
                                                      panels=2)
            return result
        except ApiError as exc:
            if killer is None and "disk full" in exc.message:
                return {"job_id": job, "outcome": "not_started", "fault": "disk_full"}
            if killer is None:
                raise
            return None
        except OSError:
            if killer is None:
                raise
            return None
        finally:
            if killer is not None:
                killer.join()

    def _fate_of(self, job: str) -> str:
        """Where the card of ``job`` went, as the operator finds it (the printer's
        counter at its pick names the card)."""
        from station_agent.ledger.store import open_reader

        conn = open_reader(self.root / "state")
        try:
            device, ref = conn.execute(
                "SELECT device, reference FROM entries WHERE job_id = ? AND kind = 'pick'",
                (job,)).fetchone()
        finally:
            conn.close()
        fate = (self.models[device].fates or {}).get(int(str(ref).removeprefix("counter=")))
        assert fate is not None, f"the simulator has no fate for the card of {job}"
        return {"issued": "issued", "rejected": "spoiled", "removed": "spoiled",
                "missing": "lost"}[fate]

    def _settle_unresolved(self) -> None:
        assert self.daemon is not None
        for dev in self.daemon.call("status")["devices"]:
            for job in dev.get("stuck_jobs") or []:
                self._write("resolve", job_id=job, outcome=self._fate_of(job))
                self.out.unresolved_settled += 1

    def _attend(self, printer: str, res: dict[str, Any]) -> None:
        """The operator fixes what stopped the job."""
        assert self.daemon is not None
        model, fault, outcome = self.models[printer], res.get("fault"), res["outcome"]
        self.out.operator_actions += 1
        if fault == "job_unresolved":
            self._settle_unresolved()
            return
        if fault == "disk_full":
            # The technician sees disk_full, and after a while frees space.
            self.out.disk_full_seen += 1
            self.disk_full_tries += 1
            if self.disk_full_tries >= 3:
                self._free_disk()
                self.disk_full_tries = 0
            return
        if outcome == "stuck" and fault == "card_jam":
            self.out.jams += 1
            removed = self.rng.random() < 0.8
            model.operator_resolve_jam(removed=removed)
            self._write("resolve", job_id=res["job_id"], outcome="spoiled" if removed else "lost")
            return
        if fault == "feeder_empty":
            model.refill(cards=self.rng.randint(20, 60))
        elif fault == "ribbon_out":
            model.change_ribbon(self.rng.randint(100, 300))
        elif fault in ("cover_open", "head_overheat", "reject_box_full"):
            model.operator_close_cover()
            model.cool_down()
            model.empty_reject_box()
        elif fault in ("printer_offline", "printer_protocol_error"):
            time.sleep(0.3)
        model.clear()

    def _spool_job(self, n: int) -> None:
        """The issuing application prints job ``n`` through CUPS; cupsd may be
        restarted and the daemon killed meanwhile; the operator walks up when
        the printer stopped."""
        from simulators.station.operator import service_printer

        assert self.cupsd is not None
        model = self.models[SPOOL_PRINTER]
        self.cupsd.submit(SPOOL_QUEUE, self.spool_doc, title=f"applicant {n}")
        self.out.spooled_jobs += 1
        if n in self.plan.cupsd_restarts:
            time.sleep(self.rng.uniform(0.02, 0.3))
            self.cupsd.restart()
            self.out.cupsd_restarts += 1
        if n in self.plan.kills:
            time.sleep(self.rng.uniform(0.0, 0.1))
            self._restart()
        for _ in range(3):
            self.cupsd.run_tool("cupsenable", SPOOL_QUEUE, check=False)
            try:
                self.cupsd.wait_idle(SPOOL_QUEUE, timeout=40)
                break
            except TimeoutError:
                service_printer(model)   # a stopped printer holds the queue
        if model.position is not None or model.errors or model.cover_open \
                or model.is_vanished() or model.feeder < 5:
            time.sleep(0.7 if model.is_vanished() else 0)
            if service_printer(model):
                self.out.operator_actions += 1

    def _settle_spooled(self) -> None:
        """Print one last clean job (a counter reading for any job still waiting
        for one), wait until the journal is ingested, and settle spooled cards
        left open as the printer's ground truth says they went."""
        from simulators.station.operator import service_printer

        assert self.cupsd is not None and self.daemon is not None
        service_printer(self.models[SPOOL_PRINTER])
        self.cupsd.run_tool("cupsenable", SPOOL_QUEUE, check=False)
        self.cupsd.submit(SPOOL_QUEUE, self.spool_doc, title="last")
        self.cupsd.wait_idle(SPOOL_QUEUE, timeout=60)
        journal = self.root / "state" / "spool-journal"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(journal.glob("*.json")):
            time.sleep(0.2)
        for j in self.daemon.call("jobs", open=True)["jobs"]:
            for card in j["card_jobs"]:
                if card["outcome"] is None:
                    self._write("resolve", job_id=card["card_job"],
                                outcome=self._spooled_fate())
                    self.out.unresolved_settled += 1

    def _spooled_fate(self) -> str:
        """The next open spooled card's fate: what the printer's truth has more of
        than the ledger recorded for it."""
        from station_agent.ledger.store import open_reader

        conn = open_reader(self.root / "state")
        try:
            rows = dict(conn.execute(
                "SELECT kind, count(*) FROM entries WHERE device = ? GROUP BY kind",
                (SPOOL_PRINTER,)).fetchall())
        finally:
            conn.close()
        t = self.models[SPOOL_PRINTER].truth
        if rows.get("complete", 0) < t.issued:
            return "issued"
        if rows.get("reject", 0) < t.rejected + t.removed_by_operator:
            return "spoiled"
        return "lost"

    def _job(self, n: int) -> None:
        """Issue job ``n`` until it has an outcome (whatever happens on the way)."""
        if n in self.plan.spooled and self.cupsd is not None:
            self._spool_job(n)
            return
        job = f"c{self.seed}-{n:06d}"
        printer = self.rng.choice(["evolis-1", "magicard-1"])
        kill_after = self.rng.uniform(0.0, 0.08) if n in self.plan.kills else None
        for _attempt in range(300):
            res = self._issue(job, printer, kill_after)
            if kill_after is not None:
                self._restart()
                kill_after = None
                continue
            assert res is not None
            if res["outcome"] in ("complete", "reject", "write_off"):
                self.done[job] = res["outcome"]
                return
            self._attend(printer, res)
            if res["outcome"] == "stuck" and res.get("fault") == "card_jam":
                self.done[job] = "resolved"
                return
        raise RuntimeError(f"job {job} never settled: last answer {res}, printer "
                           f"{printer}: {self.models[printer].errors or 'no error'}, card at "
                           f"{self.models[printer].position}")

    def _replay(self) -> None:
        """The application sends again what it already sent."""
        from station_agent.api.protocol import ApiError

        assert self.daemon is not None
        self.out.replays += 1
        before = self.daemon.call("blanks")
        picked = sum(m.truth.picked for m in self.models.values())
        finished = [j for j, o in self.done.items() if o in ("complete", "reject")]
        for job in self.rng.sample(finished, k=min(3, len(finished))):
            again = self.daemon.call("issue", job_id=job, printer="evolis-1")
            if again["reason"] != "replay" or again["outcome"] != self.done[job]:
                self.out.mismatches.append(f"replayed job {job}: {again}")
        self.receive("KTP-A", self.cards // 2 + 60)          # the same delivery again
        try:
            self.daemon.call("receive", batch_id="KTP-A", count=1)
            self.out.mismatches.append("a conflicting delivery was accepted")
        except ApiError:
            pass
        if self.daemon.call("blanks") != before:
            self.out.mismatches.append("a replay changed the balances")
        if sum(m.truth.picked for m in self.models.values()) != picked:
            self.out.mismatches.append("a replay fed a card")

    def _events(self, n: int, outage_end: dict[int, str]) -> None:
        if n in outage_end:
            self.server.set_mode("ok")
        if n in self.plan.outages:
            length, mode = self.plan.outages[n]
            self.server.set_mode(mode)
            outage_end[n + length] = mode
            self.out.outages += 1
        if n in self.plan.broker_restarts:
            self.broker.stop()
            time.sleep(self.rng.uniform(0.1, 1.5))
            self.broker.start()
            self.out.broker_restarts += 1
        if n in self.plan.replays:
            self._replay()
        if n in self.plan.disk_full:
            self._fill_disk()
        if n in self.plan.clock_steps:
            self.skew.write_text(f"{self.plan.clock_steps[n]}\n")
            self.out.clock_steps += 1

    def run(self) -> Outcome:
        started = time.monotonic()
        try:
            self.setup()
            assert self.daemon is not None
            self.daemon.start(self._env())
            self.receive("KTP-A", self.cards // 2 + 60)
            outage_end: dict[int, str] = {}
            for n in range(self.cards):
                if n == self.cards // 2:
                    self.receive("KTP-B", self.cards - self.cards // 2 + 60)
                self._events(n, outage_end)
                self._job(n)
            self.server.set_mode("ok")
            self._settle()
            self._check()
        finally:
            self.teardown()
            self.out.seconds = round(time.monotonic() - started, 1)
        return self.out

    # -- the end -----------------------------------------------------------------------

    def _settle(self) -> None:
        """Let the station see everything repaired; then stop it cleanly."""
        assert self.daemon is not None
        for model in self.models.values():
            model.operator_close_cover()
            model.cool_down()
            model.empty_reject_box()
            model.refill(cards=5, ribbon=50)
            model.clear()
        self._free_disk()
        self._settle_unresolved()
        if self.cupsd is not None:
            self._settle_spooled()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st = self.daemon.call("status")
            active = {f["code"] for f in st["faults"]} - set(ACKNOWLEDGE)
            if not active and st["uplink"]["connected"] and not st["uplink"]["backlog"]:
                break
            time.sleep(0.25)
        for f in st["faults"]:
            if f["code"] not in ACKNOWLEDGE:
                self.out.mismatches.append(f"fault left raised: {f['source']}:{f['code']} "
                                           f"({f['message']})")
        if self.daemon.stop() != 0:
            self.out.mismatches.append("the daemon did not stop cleanly")
        time.sleep(0.5)   # the last retained status reaches the consumer

    def _check(self) -> None:
        from simulators.station.operator import mismatches
        from station_agent.ledger import open_reader, verify
        from station_agent.ledger.balances import read_balances

        conn = open_reader(self.root / "state")
        try:
            balances = read_balances(conn)
            report = verify(conn)
            last_seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'"
                                    ).fetchone()[0]
            times = [r[0] for r in conn.execute("SELECT ts FROM entries ORDER BY seq")]
        finally:
            conn.close()
        self.out.entries = balances.entries
        wrong = mismatches(balances, list(self.models.values()), self.received)
        self.out.mismatches += wrong
        if wrong:
            self.out.mismatches += self._cards_astray()
        if not report.ok:
            self.out.mismatches.append(f"ledger verify: first break {report.first_break}, "
                                       f"{report.problems[:2]}")
        if times != sorted(times):
            self.out.mismatches.append("entry times run backwards")
        self._check_delivery(last_seq, balances.entries)

    def _cards_astray(self) -> list[str]:
        """Each card whose ledger outcome differs from where the simulator put it
        (the pick's counter reading names the card), with the job's entries."""
        from station_agent.ledger.store import open_reader

        want = {"issued": {"complete"}, "rejected": {"reject", "void"},
                "removed": {"reject", "void"}, "missing": {"write_off"}}
        conn = open_reader(self.root / "state")
        try:
            rows = conn.execute("SELECT job_id, kind, device, reference, reason, category "
                                "FROM entries WHERE job_id IS NOT NULL ORDER BY seq").fetchall()
        finally:
            conn.close()
        jobs: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            jobs.setdefault(row[0], []).append(row[1:])
        astray = []
        for job, entries in jobs.items():
            picks = [e for e in entries if e[0] == "pick"]
            if len(picks) != 1 or not str(picks[0][2] or "").startswith("counter="):
                astray.append(f"card of {job}: picks {picks}")
                continue
            device, ref = picks[0][1], int(str(picks[0][2]).removeprefix("counter="))
            fate = (self.models[device].fates or {}).get(ref)
            kinds = {e[0] for e in entries} - {"pick"}
            if fate is None or not kinds & want[fate]:
                astray.append(f"card of {job} on {device} (counter {ref}): printer says "
                              f"{fate}, ledger {entries}")
        return astray

    def _check_delivery(self, last_seq: int, entries: int) -> None:
        deadline = time.monotonic() + 20
        while True:
            view = self.central.view.station(STATION_ID)
            if view.seqs.low >= last_seq or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.out.events = view.events
        self.out.duplicates_dropped = view.duplicates
        if view.seqs.first != 1 or view.seqs.low != last_seq or view.seqs.above:
            self.out.mismatches.append(
                f"upstream: events 1..{last_seq} expected, got first {view.seqs.first}, "
                f"complete to {view.seqs.low}, gaps {view.seqs.gaps()[:3]}")
        if view.events != last_seq:
            self.out.mismatches.append(f"upstream: {view.events} unique events, "
                                       f"{last_seq} sent")
        if view.replaced_ledgers:
            self.out.mismatches.append("upstream saw a second ledger")
        delivered = self.delivered
        if sorted(delivered) != list(range(1, entries + 1)):
            self.out.mismatches.append(f"upstream: ledger entries delivered "
                                       f"{len(delivered)} of {entries}")


def run_campaign(seed: int, cards: int, faults: tuple[str, ...] = FAULT_KINDS,
                 keep: Path | None = None) -> Outcome:
    """Run one campaign in a fresh directory (kept with ``keep``)."""
    root = keep or Path(tempfile.mkdtemp(prefix="sa-camp-"))
    root.mkdir(parents=True, exist_ok=True)
    campaign = Campaign(seed, cards, faults, root)
    try:
        return campaign.run()
    except Exception as exc:   # a crash of the campaign is a failed campaign
        campaign.out.mismatches.append(f"campaign crashed: {type(exc).__name__}: {exc}")
        return campaign.out
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def summary(out: Outcome) -> str:
    """One line: what the campaign did and whether it passed."""
    return (f"seed {out.seed}: {out.cards} cards, {out.kills} kills, {out.outages} outages, "
            f"{out.broker_restarts} broker restarts, {out.replays} replays, {out.jams} jams, "
            f"{out.disk_full_episodes} disk-full episodes ({out.disk_full_seen} jobs held), "
            f"{out.clock_steps} clock steps, {out.spooled_jobs} spooled jobs "
            f"({out.cupsd_restarts} cupsd restarts), "
            f"{out.unresolved_settled} jobs settled by the operator, reader {out.reader}; "
            f"{out.entries} entries, {out.events} events delivered "
            f"({out.duplicates_dropped} duplicates dropped); {out.seconds} s: "
            f"{'OK' if out.ok else 'FAILED'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m simulators.station.campaign",
                                 description="One seeded whole-station campaign (see the "
                                             "module docstring); exit 1 on any mismatch.")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--cards", type=int, default=200)
    ap.add_argument("--faults", default="all",
                    help=f"all, none, or a comma list of {', '.join(FAULT_KINDS)}")
    ap.add_argument("--keep", type=Path, help="keep the campaign's files in this directory")
    ap.add_argument("--json", action="store_true", help="print the outcome as JSON")
    args = ap.parse_args(argv)
    faults = FAULT_KINDS if args.faults == "all" else () if args.faults == "none" else tuple(
        f for f in args.faults.split(",") if f)
    unknown = set(faults) - set(FAULT_KINDS)
    if unknown:
        ap.error(f"unknown fault kinds {sorted(unknown)}: use {', '.join(FAULT_KINDS)}")
    out = run_campaign(args.seed, args.cards, faults, args.keep)
    if args.json:   # one line, the reproducing command inside
        print(json.dumps(asdict(out) | {"ok": out.ok, "reproduce": out.reproduce()}))
        return 0 if out.ok else 1
    print(summary(out))
    for m in out.mismatches:
        print(f"  mismatch: {m}")
    if not out.ok:
        print(f"reproduce: {out.reproduce()}")
    return 0 if out.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
