"""Spooler path benchmark (docs/SPOOLER.md).

* ``spooler.job_overhead`` - the same jobs through a private cupsd to the same
  Evolis simulator on a TCP port, once through a queue wrapped by the
  ``station`` backend (journal records, card counter and state read before
  and after every job) and once through a queue with CUPS' bare ``socket``
  backend, in interleaved rounds. ``value`` = wrapped jobs per second,
  ``baseline`` = bare jobs per second, ``ratio`` = bare time / wrapped time
  (target >= 0.6); ``added_ms_per_job`` is the wrapper's cost per job,
  counter reads included. The simulator prints a panel in ``--print-ms``
  (default 150 ms: a two-panel card in 0.3 s, some 50 times faster than a
  real desktop printer's 16-30 s).
* ``spooler.job_overhead_instant`` - the same with a printer that prints in no
  time: the wrapper's whole cost against nothing but cupsd's own (the worst
  case for the ratio; ``added_ms_per_job`` is the figure that matters).
* ``spooler.backend_import`` - ms to start the backend's interpreter and import
  what a job needs, as the installed launcher does (``python -IS``, the
  package's paths given), median over runs; baseline ``python -IS -c pass``;
  ``modules`` is what the import loads beyond the bare interpreter.

Needs root and CUPS (cupsd, lp, lpadmin). Run alone:
``python -m bench.spooler [--jobs N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import site
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.ledger import emit
from simulators.cupsd import Cupsd, unavailable
from simulators.printers import build_simulator
from simulators.printers.documents import card_document
from simulators.printers.serve import TcpServer

REPO = Path(__file__).resolve().parent.parent


def _round(cupsd: Cupsd, queue: str, doc: Path, jobs: int) -> float:
    t0 = time.perf_counter()
    for _ in range(jobs):
        cupsd.submit(queue, doc)
    cupsd.wait_idle(queue, timeout=600)
    return time.perf_counter() - t0


def _import_ms(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-IS", "-c", code], check=True, cwd="/")
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _modules(code: str) -> int:
    out = subprocess.run([sys.executable, "-IS", "-c", f"import sys; {code}; "
                          "print(len(sys.modules))"], capture_output=True, text=True,
                         check=True, cwd="/").stdout
    return int(out.strip())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.spooler")
    ap.add_argument("--jobs", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--print-ms", type=float, default=150.0)
    args = ap.parse_args(argv)
    why = unavailable()
    if why:
        print(f"bench.spooler skipped: {why}", file=sys.stderr)
        return
    base = Path(tempfile.mkdtemp(prefix="bench-spool-"))
    os.chmod(base, 0o755)
    sim = build_simulator("evolis", cards=1_000_000)
    server = TcpServer(sim).start()
    cupsd = Cupsd(base / "cups")
    try:
        cupsd.start()
        state = base / "state"
        state.mkdir(mode=0o711)
        os.chmod(state, 0o711)
        config = base / "station.toml"
        config.write_text(
            f'[station]\nid = "bench"\nstate_dir = "{state}"\n\n'
            '[web]\nlisten = "127.0.0.1:0"\n\n'
            f'[cups]\nserver = "{cupsd.server}"\nbackend_dir = "{cupsd.backends}"\n\n'
            f'[[printer]]\nid = "ev"\nqueue = "wrapped"\nfamily = "evolis"\n'
            f'url = "{server.url}"\n')
        os.chmod(config, 0o644)
        real = f"socket://127.0.0.1:{server.port}"
        cupsd.add_queue("bare", real)
        cupsd.add_queue("wrapped", real)
        cli = [sys.executable, "-m", "station_agent", "--config", str(config)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_AGENT_")}
        subprocess.run([*cli, "cups", "install-backend"], check=True, cwd=REPO, env=env,
                       stdout=subprocess.DEVNULL)
        subprocess.run([*cli, "cups", "wrap", "wrapped", "--printer", "ev"], check=True,
                       cwd=REPO, env=env, stdout=subprocess.DEVNULL)
        doc = base / "card.prn"
        doc.write_bytes(card_document("evolis", ("y", "k")))
        os.chmod(doc, 0o644)
        _round(cupsd, "bare", doc, 3)        # warm-up: cupsd, page cache, the simulator
        _round(cupsd, "wrapped", doc, 3)
        for metric, print_ms in (("spooler.job_overhead", args.print_ms),
                                 ("spooler.job_overhead_instant", 0.0)):
            sim.model.print_delay = print_ms / 1000
            bare, wrapped = [], []
            for _ in range(args.rounds):
                bare.append(_round(cupsd, "bare", doc, args.jobs))
                wrapped.append(_round(cupsd, "wrapped", doc, args.jobs))
            tb, tw = statistics.median(bare), statistics.median(wrapped)
            emit(metric, args.jobs / tw, "jobs/s", args.jobs / tb, tb / tw,
                 target_ratio=0.6, jobs=args.jobs, rounds=args.rounds, print_ms=print_ms,
                 added_ms_per_job=round((tw - tb) / args.jobs * 1000, 1),
                 bare_ms_per_job=round(tb / args.jobs * 1000, 1),
                 wrapped_ms_per_job=round(tw / args.jobs * 1000, 1),
                 ratio_range=[round(min(bare) / max(wrapped), 3),
                              round(max(bare) / min(wrapped), 3)])
        # As the installed launcher starts it: -I -S, the package's paths given.
        paths = repr([str(REPO), *site.getsitepackages()])
        code = f"import sys; sys.path[:0] = {paths}; import station_agent.spooler.backend"
        imp = _import_ms(code, args.runs)
        bare_py = _import_ms("pass", args.runs)
        emit("spooler.backend_import", imp, "ms", bare_py, bare_py / imp,
             added_ms=round(imp - bare_py, 1), interpreter_flags="-IS",
             modules=_modules(code) - _modules("pass"))
    finally:
        server.stop()
        cupsd.cleanup()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
