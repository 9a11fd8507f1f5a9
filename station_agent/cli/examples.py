"""One or more examples for every command's ``--help``, kept in one table.

Keys are command paths (``""`` is ``station-agent`` itself). Each example is
one command line a user can paste; text after ``  #`` explains it. A test
parses every example with the real parser, so none goes stale.
"""

from __future__ import annotations

import argparse

EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        "station-agent demo                          # a simulated station day, no hardware",
        "station-agent --state-dir /tmp/day blanks   # balances of that day's ledger",
        "station-agent diag                          # every technician check",
    ),
    "demo": (
        "station-agent --state-dir /tmp/day demo --seed 7   # keep the state for report/diag",
        "station-agent demo --jobs 60 --no-broker",
    ),
    "run": (
        "station-agent --config /etc/station-agent/station.toml run --check-config",
        "station-agent run --config /etc/station-agent/station.toml   # options after it too",
        "station-agent run --log-level debug         # as systemd runs it, more verbose",
    ),
    "status": (
        "station-agent status",
        "station-agent --state-dir /var/lib/station-agent status --json",
    ),
    "faults": (
        "station-agent faults",
        "station-agent faults --history --json       # cleared faults too",
    ),
    "faults clear": (
        "station-agent faults clear evolis-1 unreported_pick   # after finding who used it",
    ),
    "jobs": (
        "station-agent jobs --open                   # jobs waiting for a decision",
        "station-agent jobs --date 2026-11-27 --json",
    ),
    "jobs void": (
        "station-agent jobs void cups:ektp:42:6f1c2d3e4a5b --category chip_failed",
        "station-agent jobs void job-7 --category other --reason 'smudged photo'",
    ),
    "jobs resolve": (
        "station-agent jobs resolve cups:ektp:42:6f1c2d3e4a5b --outcome spoiled "
        "--category jam",
        "station-agent jobs resolve job-7 --outcome issued",
    ),
    "cups": (
        "station-agent cups status",
    ),
    "cups install-backend": (
        "station-agent --config /etc/station-agent/station.toml cups install-backend   # as root",
    ),
    "cups wrap": (
        "station-agent cups wrap ektp --printer fargo-1   # as root: account every job of ektp",
    ),
    "cups unwrap": (
        "station-agent cups unwrap ektp            # as root",
    ),
    "cups status": (
        "station-agent cups status --json",
    ),
    "blanks": (
        "station-agent blanks",
        "station-agent blanks --json",
    ),
    "blanks receive": (
        "station-agent blanks receive --batch KTP-2026-11-A --count 500 "
        "--first-serial KTP0001200",
    ),
    "blanks dispose": (
        "station-agent blanks dispose --count 12 --reference BA/2026/11/07",
    ),
    "blanks adjust": (
        'station-agent blanks adjust --count -3 --reason "physical count 2026-11-24"',
    ),
    "blanks write-off": (
        'station-agent blanks write-off --count 1 --reason "dropped behind the counter"',
    ),
    "ledger": (
        "station-agent ledger verify",
        "station-agent ledger export --format csv --output ledger.csv",
    ),
    "ledger verify": (
        "station-agent ledger verify --json          # exit 1 if the chain is broken",
    ),
    "ledger backup": (
        "station-agent ledger backup /media/usb/ledger-2026-11-28.db   # verified before done",
        "station-agent ledger backup /var/backups/ledger.db --force   # replace last night's",
    ),
    "console": (
        "station-agent console                       # where the office console is",
        "station-agent console user add siti         # asks for her password twice",
    ),
    "console user": (
        "station-agent console user add siti",
        "station-agent console user list",
    ),
    "console user add": (
        "station-agent console user add siti         # asks for the password twice",
        "station-agent console user add budi --password-stdin   # from a script, one line",
    ),
    "console user passwd": (
        "station-agent console user passwd siti",
    ),
    "console user remove": (
        "station-agent console user remove budi      # left the office",
    ),
    "console user list": (
        "station-agent console user list --json",
    ),
    "supplies": (
        "station-agent supplies                      # stock, units in printers, yields",
        "station-agent supplies --json",
    ),
    "supplies receive": (
        "station-agent supplies receive --kind ribbon-ymcko --count 10 --batch RB-2026-11",
    ),
    "supplies install": (
        "station-agent supplies install --kind ribbon-ymcko --printer evolis-1 --serial R0042",
    ),
    "supplies finish": (
        "station-agent supplies finish --printer evolis-1 --kind ribbon-ymcko",
    ),
    "supplies write-off": (
        'station-agent supplies write-off --kind ribbon-ymcko --count 1 --reason "torn in '
        'transport"',
    ),
    "notify": (
        "station-agent notify                        # what was told, what waits and why",
        "station-agent notify --json",
    ),
    "notify test": (
        "station-agent notify test                   # one test message on every channel",
    ),
    "ledger export": (
        "station-agent ledger export --format csv --output ledger.csv",
        "station-agent ledger export --format jsonl",
    ),
    "printer": (
        "station-agent printer info --printer evolis-1",
        "station-agent printer status --url serial:///dev/ttyUSB0?baudrate=115200 "
        "--family evolis",
    ),
    "printer info": (
        "station-agent printer info --url usb://0f49:0a00",
        "station-agent printer info --printer evolis-1 --json",
    ),
    "printer counters": (
        "station-agent printer counters --printer magicard-1",
    ),
    "printer status": (
        "station-agent printer status --url socket://10.0.0.21:9100 --family evolis",
    ),
    "printer clear": (
        "station-agent printer clear --printer evolis-1   # after removing a jammed card",
    ),
    "reader": (
        "station-agent reader scan",
    ),
    "reader scan": (
        "station-agent reader scan --json",
        "station-agent reader scan --reader encoder-1   # with the config's chip policy",
    ),
    "sim": (
        "station-agent sim printer --family evolis --pty",
        "station-agent sim server --mode flapping",
    ),
    "sim printer": (
        "station-agent sim printer --family evolis --pty --control   # prints /dev/pts/N",
        "station-agent sim printer --family magicard --tcp 9100",
    ),
    "sim card": (
        "station-agent sim card --profile ektp --port 35963   # a card for pcscd's vpcd",
    ),
    "sim server": (
        "station-agent sim server --port 8080 --mode slow --slow-ms 3000",
    ),
    "fleet": (
        "station-agent fleet --broker mqtt://127.0.0.1:1883",
        "station-agent fleet --broker mqtts://broker.example:8883 "
        "--cafile /etc/station-agent/ca.pem --watch",
    ),
    "central": (
        "station-agent central run --broker mqtt://127.0.0.1:1883 "
        "--db postgresql://central@127.0.0.1/central",
        "station-agent central report --db postgresql://central@db.example/central",
    ),
    "central run": (
        "station-agent central run --broker mqtts://broker.example:8883 --username central "
        "--password-file /etc/station-agent/central.password "
        "--db postgresql://central@db.example/central --name loader-jkt-1",
        "station-agent central run --broker mqtt://127.0.0.1:1883 --no-share "
        "--db postgresql://central@127.0.0.1/central   # one loader on mosquitto",
    ),
    "central report": (
        "station-agent central report --db postgresql://central@db.example/central",
        "station-agent central report --db postgresql://central@db.example/central "
        "--region \"Nusa Tenggara Timur\" --format html --output ntt.html",
        "station-agent central report --db postgresql://central@db.example/central "
        "--allocate 120000 --lot 500 --horizon 30 --json",
    ),
    "report": (
        "station-agent report",
        "station-agent report --date 2026-11-23 --format html --lang id "
        "--output ba-2026-11-23.html",
        "station-agent report --format csv --output today.csv",
        "station-agent report --month 2026-11 --format html --output rekap-2026-11.html",
    ),
    "diag": (
        "station-agent diag",
        "station-agent --config station.toml diag --json --timeout 10",
    ),
    "completion": (
        "station-agent completion bash > /etc/bash_completion.d/station-agent",
        'eval "$(station-agent completion bash)"     # in the current shell only',
    ),
}


def epilog(path: str) -> str | None:
    """The ``--help`` epilog of the command at ``path``."""
    lines = EXAMPLES.get(path)
    if not lines:
        return None
    head = "example:" if len(lines) == 1 else "examples:"
    return "\n".join([head, *(f"  {line}" for line in lines)])


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser`` (empty for a leaf)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def walk(parser: argparse.ArgumentParser,
         path: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    """Every (path, parser) in the command tree, the root first."""
    found = [(path, parser)]
    for name, sub in subparsers(parser).items():
        found += walk(sub, f"{path} {name}".strip())
    return found


def attach(parser: argparse.ArgumentParser) -> None:
    """Give every command in the tree its examples."""
    for path, p in walk(parser):
        p.epilog = epilog(path)
