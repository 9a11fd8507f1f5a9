"""Checks of this machine: config, state directory, ledger, clock, daemon,
active faults and stock. Each function returns its checks; none raises."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from station_agent import clock
from station_agent.diag.model import Check, failed, passed, warned
from station_agent.errors import StationAgentError

#: Free space on the state directory's filesystem below which a check fails / warns.
FREE_FAIL_BYTES = 20 * 2**20
FREE_WARN_BYTES = 200 * 2**20
#: Seconds the clock may be behind the last ledger entry before that is a failure
#: (entries are stamped to the second).
CLOCK_SLACK_S = 5.0
#: The earliest plausible date: a clock before it was never set.
EARLIEST = datetime(2026, 1, 1, tzinfo=UTC)
#: Days of stock left below which the stock check warns.
STOCK_WARN_DAYS = 7.0


def config_check(config: Any, path: Path, named: bool, error: str | None) -> Check:
    """The config file: present and valid."""
    if error is not None:
        return failed("config", error, "fix the file, then check it with `station-agent run "
                                       "--check-config`")
    if config is None:
        what = "named" if named else "default"
        return warned("config", f"no configuration file at {path} ({what}): printers, "
                                "readers, network and uplink are not checked",
                      "write station.toml (docs/INSTALL.md) or give --config FILE")
    parts = [f"{len(config.printers)} printer(s)", f"{len(config.readers)} reader(s)",
             f"network {config.network.probe_url or 'not watched'}",
             f"uplink {config.uplink.mqtt_url or 'not configured'}"]
    return passed("config", f"{path}: station {config.station_id}, " + ", ".join(parts))


def state_dir_check(state_dir: Path) -> Check:
    """The state directory exists, a file can be written and synced in it, and
    its filesystem has room."""
    name = "state_dir"
    if not state_dir.is_dir():
        return failed(name, f"{state_dir} does not exist",
                      "give the right --state-dir, or create it for the daemon's user "
                      "(docs/INSTALL.md)")
    try:
        fd, probe = tempfile.mkstemp(prefix=".diag-", dir=state_dir)
        try:
            os.write(fd, b"station-agent diag\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        return failed(name, f"cannot write in {state_dir}: {exc.strerror or exc}",
                      "run diag as the daemon's user (or root); check the directory's owner "
                      "and mode and that its filesystem is not read-only")
    usage = shutil.disk_usage(state_dir)
    free = f"{usage.free / 2**20:,.0f} MiB free of {usage.total / 2**20:,.0f} MiB"
    if usage.free < FREE_FAIL_BYTES:
        return failed(name, f"{state_dir}: writable, only {free}",
                      "free space on that disk now: the ledger cannot record without it "
                      "(old logs, journal: journalctl --vacuum-size=50M)")
    if usage.free < FREE_WARN_BYTES:
        return warned(name, f"{state_dir}: writable, {free}",
                      "free space on that disk soon (old logs, journal)")
    return passed(name, f"{state_dir}: writable, {free}")


def _open_ledger(state_dir: Path) -> sqlite3.Connection | None:
    from station_agent.ledger.store import ledger_path, open_reader

    if not ledger_path(state_dir).exists():
        return None
    return open_reader(state_dir)


def ledger_check(state_dir: Path) -> Check:
    """``ledger verify``: the chain and every balance recomputed."""
    from station_agent.ledger.verification import verify

    try:
        conn = _open_ledger(state_dir)
    except StationAgentError as exc:
        return failed("ledger", str(exc), "copy the state directory somewhere safe and call "
                                          "support before changing anything (docs/LEDGER.md)")
    if conn is None:
        return warned("ledger", f"no ledger in {state_dir} yet",
                      "record the first delivery: station-agent blanks receive --batch ID "
                      "--count N")
    try:
        report = verify(conn)
    finally:
        conn.close()
    if report.ok:
        head = (report.chain_head or "")[:16]
        return passed("ledger", f"{report.entries:,} entries, chain and balances intact "
                                f"(head {report.entries}:{head})")
    where = (f"first break at entry {report.first_break}" if report.first_break is not None
             else "; ".join(report.problems[:2]))
    return failed("ledger", f"verification failed: {where}",
                  "stop issuing on this station, copy the state directory and call support "
                  "(docs/LEDGER.md: a broken chain means the file was changed outside the "
                  "agent)")


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def clock_check(state_dir: Path, now: datetime | None = None) -> Check:
    """The clock is set and not behind the last ledger entry."""
    now = now or clock.now()
    stamp = now.isoformat(timespec="seconds").replace("+00:00", "Z")
    if now < EARLIEST:
        return failed("clock", f"the clock says {stamp}: it was never set",
                      "set the time (timedatectl set-ntp true, or date -s), then restart "
                      "the daemon")
    last: str | None = None
    try:
        conn = _open_ledger(state_dir)
    except StationAgentError:
        conn = None   # the ledger check says why
    if conn is not None:
        try:
            row = conn.execute("SELECT ts FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
            last = str(row[0]) if row else None
        except sqlite3.Error:
            last = None
        finally:
            conn.close()
    if last is not None:
        behind = (_parse_ts(last) - now).total_seconds()
        if behind > CLOCK_SLACK_S:
            return failed("clock", f"the clock ({stamp}) is {behind:,.0f} s behind the last "
                                   f"ledger entry ({last})",
                          "set the time (timedatectl set-ntp true), then restart the daemon: "
                          "entries stamped in the past make the daily report wrong")
        return passed("clock", f"{stamp}, after the last ledger entry ({last})")
    return passed("clock", f"{stamp} (no ledger entry to compare with)")


def daemon_check(status: dict[str, Any] | None, error: str | None, configured: bool) -> Check:
    """Is the daemon serving this state directory?"""
    if error is not None:
        return failed("daemon", error, "restart it: systemctl restart station-agent")
    if status is not None:
        d = status["daemon"]
        return passed("daemon", f"running (pid {d['pid']}, since {d['started_at']})")
    if not configured:
        return passed("daemon", "not running (no configuration: nothing for it to run)")
    return warned("daemon", "not running: devices were checked directly; nothing is recorded "
                            "or watched until it runs",
                  "start it: systemctl start station-agent (logs: journalctl -u "
                  "station-agent)")


def faults_check(active: list[dict[str, Any]], live: bool = True) -> Check:
    """The agent's active faults: fail on error/critical ones, warn on the rest.
    ``live``: from the running daemon (else as the last daemon recorded them)."""
    from station_agent.faults.codes import CODES, CRITICAL, ERROR

    when = "" if live else " when the daemon last ran"
    if not active:
        return passed("faults", f"none active{when}")
    serious = [f for f in active if f["severity"] in (ERROR, CRITICAL)]
    listed = ", ".join(f"{f['source']}:{f['code']}" for f in (serious or active)[:6])
    first = (serious or active)[0]
    hint = CODES.get(first["code"], ("", "see `station-agent faults`"))[1]
    detail = f"{len(active)} active{when} ({listed})"
    if serious:
        return failed("faults", detail, f"{first['code']}: {hint}; all: station-agent faults")
    return warned("faults", detail, f"{first['code']}: {hint}; all: station-agent faults")


def stock_check(stock: dict[str, Any], low_threshold: int | None) -> Check:
    """Blanks in stock against the low threshold and the days left."""
    have = int(stock["stock"])
    days = stock.get("days_left")
    rate = stock.get("rate_per_day") or 0
    detail = f"{have:,} blanks in stock" + (
        f", about {days:g} days at {rate:g}/day" if days is not None else "")
    request = "request a delivery now (`station-agent report` says how many)"
    if have == 0:
        return failed("stock", detail, request)
    if (low_threshold is not None and have <= low_threshold) or (
            days is not None and days < STOCK_WARN_DAYS):
        limit = f" (low threshold {low_threshold:,})" if low_threshold is not None else ""
        return warned("stock", detail + limit, request)
    return passed("stock", detail)


def supply_checks(kinds: list[dict[str, Any]], fitting: dict[str, list[str]]) -> list[Check]:
    """One check per supply kind (``supplies --json`` documents): its stock against its
    threshold and the days left, a ribbon or film printer with none recorded in it
    (``fitting``: kind -> the printers it must be in), and finished units that
    printed less than their rating allows."""
    checks = []
    for k in kinds:
        name = f"supply:{k['kind']}"
        where = ", ".join(f"{u['printer']} ({u['cards']:,} cards so far)"
                          for u in k["in_printers"]) or "in no printer"
        days = k.get("days_left")
        detail = (f"{k['stock']:,} in stock" + (f", about {days:g} days" if days is not None
                                                 else "") + f"; {where}")
        missing = [p for p in fitting.get(k["kind"], [])
                   if p not in {u["printer"] for u in k["in_printers"]}]
        low_yields = [y for y in k["yields"] if y.get("low_yield")]
        if k["low"] or (days is not None and days < STOCK_WARN_DAYS):
            checks.append(warned(name, detail + f" (low threshold {k['low_threshold']:,})",
                                 f"request {max(k['request_quantity'], 1):,} unit(s) now"))
        elif missing:
            checks.append(warned(name, detail + f"; none recorded in {', '.join(missing)}",
                                 "record the unit in it with `station-agent supplies install "
                                 f"--kind {k['kind']} --printer PRINTER`"))
        elif low_yields:
            y = low_yields[-1]
            checks.append(warned(name, detail + f"; the unit used up in {y['printer']} on "
                                 f"{str(y['ended_at'])[:10]} printed {y['cards']:,} cards, "
                                 f"{y['yield_percent']:g} % of its rating",
                                 "check the print settings (temperature) and the ribbon "
                                 "batch; keep the box for a claim"))
        else:
            checks.append(passed(name, detail))
    return checks
