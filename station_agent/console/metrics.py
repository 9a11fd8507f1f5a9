"""``/metrics``: the station in the Prometheus text exposition format (0.0.4).

Every family has ``# HELP`` and ``# TYPE``; label values are escaped as the
format requires (backslash, double quote, newline); a value that is unknown
(no blanks used lately, so no days-left figure; no probe yet) is left out
rather than invented. Checked in the tests with ``promtool check metrics``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from station_agent.ledger import model

PREFIX = "station_agent"


@dataclass
class Family:
    """One metric family: name, type, help and its samples (labels, value)."""

    name: str
    kind: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Family:
        self.samples.append((labels, value))
        return self

    def text(self) -> str:
        lines = [f"# HELP {self.name} {_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in self.samples:
            head = self.name
            if labels:
                head += "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"
            lines.append(f"{head} {_number(value)}")
        return "\n".join(lines)


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _seconds_since(iso: str | None, now: datetime) -> float | None:
    if not iso:
        return None
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return max(0.0, (now - at).total_seconds())


def exposition(status: Mapping[str, Any], balances: Mapping[str, Any],
               spoiled: Mapping[str, int], *, version: str, now: datetime) -> str:
    """The exposition text from the ``status`` document, the ``blanks`` balances
    (with their per-kind totals) and spoiled cards by category since the start."""
    station = str(status.get("station_id") or "")
    fams: list[Family] = [
        Family(f"{PREFIX}_info", "gauge", "The agent's version and station id (always 1).")
        .add(1, version=version, station=station),
    ]
    blanks = Family(f"{PREFIX}_blanks", "gauge", "Blanks per ledger account.")
    for account in ("stock", "in_printer", "issued", "spoiled_held", "spoiled_disposed",
                    "lost"):
        blanks.add(int(balances[account]), account=account)
    fams.append(blanks)
    fams.append(Family(f"{PREFIX}_blanks_received_total", "counter",
                       "Blanks received in deliveries.").add(int(balances["received"])))
    fams.append(Family(f"{PREFIX}_cards_picked_total", "counter",
                       "Blanks taken by printers.").add(int(balances["picked"])))
    fams.append(Family(f"{PREFIX}_cards_issued_total", "counter",
                       "Cards issued (printed, checked and ejected).")
                .add(int(balances["completed"])))
    spoil = Family(f"{PREFIX}_cards_spoiled_total", "counter",
                   "Cards spoiled (rejected, or voided after issue), by cause.")
    for category in model.CATEGORIES:
        spoil.add(int(spoiled.get(category, 0)), category=category)
    fams.append(spoil)
    fams.append(Family(f"{PREFIX}_cards_lost_total", "counter",
                       "Blanks written off as lost.").add(int(balances["lost"])))
    stock = status.get("stock") or {}
    if stock.get("days_left") is not None:
        # Prometheus' base unit for time is the second (promtool checks it):
        # days of stock left = this / 86400.
        fams.append(Family(f"{PREFIX}_stock_left_seconds", "gauge",
                           "Time until the blank stock runs out at the trailing 7-day rate "
                           "(days of stock left x 86400).")
                    .add(float(stock["days_left"]) * 86400.0))
    fams.append(Family(f"{PREFIX}_stock_use_per_day", "gauge",
                       "Blanks used per day over the trailing 7 days.")
                .add(float(stock.get("rate_per_day") or 0.0)))
    if stock.get("low_threshold") is not None:
        fams.append(Family(f"{PREFIX}_stock_low_threshold", "gauge",
                           "The stock level below which stock_low is raised.")
                    .add(int(stock["low_threshold"])))
    faults = Family(f"{PREFIX}_faults_active", "gauge", "Active faults by code and severity.")
    counts = Counter((f["code"], f["severity"]) for f in status.get("faults") or [])
    for (code, severity), n in sorted(counts.items()):
        faults.add(n, code=code, severity=severity)
    fams.append(faults)
    up = status.get("uplink") or {}
    fams.append(Family(f"{PREFIX}_uplink_backlog", "gauge",
                       "Events kept on the station, not yet acknowledged by the broker.")
                .add(int(up.get("backlog") or 0)))
    oldest = _seconds_since(up.get("oldest_unsent"), now)
    fams.append(Family(f"{PREFIX}_uplink_oldest_unsent_seconds", "gauge",
                       "Age of the oldest unsent event (0 when none).").add(oldest or 0.0))
    fams.append(Family(f"{PREFIX}_uplink_connected", "gauge",
                       "1 when the uplink is connected to its broker.")
                .add(1 if up.get("connected") else 0))
    net = status.get("network") or {}
    if net.get("probe_url"):
        last = net.get("last_probe") or {}
        if last:
            fams.append(Family(f"{PREFIX}_network_up", "gauge",
                               "1 when the last probe reached the central server.")
                        .add(0 if last.get("state") == "down" else 1))
            total_ms = sum(float(v) for v in (last.get("ms") or {}).values())
            fams.append(Family(f"{PREFIX}_network_probe_seconds", "gauge",
                               "Duration of the last probe of the central server.")
                        .add(total_ms / 1000.0))
        fams.append(Family(f"{PREFIX}_network_in_outage", "gauge",
                           "1 while the central server is counted as unreachable.")
                    .add(1 if net.get("in_outage") else 0))
    fams += _devices(status.get("devices") or [])
    fams += _supplies(status.get("supplies") or [])
    return "\n".join(f.text() for f in fams) + "\n"


def _supplies(kinds: Iterable[Mapping[str, Any]]) -> list[Family]:
    """Supply units per kind and account, and each kind's time left (DESIGN §10)."""
    units = Family(f"{PREFIX}_supply_units", "gauge",
                   "Supply units per [[supply]] kind and ledger account.")
    left = Family(f"{PREFIX}_supply_left_seconds", "gauge",
                  "Time until a supply kind's stock runs out at the trailing 7-day rate "
                  "(days left x 86400).")
    for k in kinds:
        for account in ("stock", "installed", "finished", "written_off"):
            units.add(int(k[account]), kind=str(k["kind"]), account=account)
        if k.get("days_left") is not None:
            left.add(float(k["days_left"]) * 86400.0, kind=str(k["kind"]))
    return [units, left] if left.samples else [units]


def _devices(devices: Iterable[Mapping[str, Any]]) -> list[Family]:
    """Each device up or not; each printer's reported conditions (as it reports
    them, before the faults' hysteresis), jobs it holds stuck and ribbon prints left."""
    up = Family(f"{PREFIX}_device_up", "gauge",
                "1 when a printer or reader answers, 0 when not (absent before its first "
                "poll).")
    conditions = Family(f"{PREFIX}_printer_condition", "gauge",
                        "1 for each condition a printer reports now (cover_open, "
                        "feeder_empty, ...).")
    stuck = Family(f"{PREFIX}_printer_stuck_jobs", "gauge",
                   "Jobs whose card a printer holds, waiting for the operator.")
    ribbon = Family(f"{PREFIX}_printer_ribbon_left", "gauge",
                    "Ribbon prints left as the printer reports them (absent when it does "
                    "not).")
    for d in devices:
        device = str(d["id"])
        if d.get("online") is not None:
            up.add(1 if d["online"] else 0, device=device, kind=str(d["kind"]))
        if d.get("kind") != "printer":
            continue
        for condition in d.get("conditions") or []:
            conditions.add(1, device=device, condition=str(condition))
        stuck.add(len(d.get("stuck_jobs") or []), device=device)
        if d.get("ribbon_left") is not None:
            ribbon.add(int(d["ribbon_left"]), device=device)
    return [up] + [f for f in (conditions, stuck, ribbon) if f.samples]
