"""Checks of the links: the central server, phase by phase with latency, and
the uplink (connected, and how old the oldest unsent event is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from station_agent import clock
from station_agent.diag.model import Check, failed, passed, warned
from station_agent.network.probe import CONNECT, DNS, HTTP, LINK, TLS, Prober, ProbeResult

#: Age of the oldest unsent event above which the backlog check warns.
BACKLOG_WARN_S = 600.0

_PHASE_HINTS = {
    LINK: "this station has no network route: check its cable, Wi-Fi or the office switch",
    DNS: "the server's name does not resolve: check the DNS settings (/etc/resolv.conf) or "
         "the host in [network] probe_url",
    CONNECT: "nothing accepts the connection: check the port in probe_url, this station's "
             "firewall/proxy/VPN; if other stations fail too, report the outage to the data "
             "centre",
    TLS: "check the clock (certificates depend on it), then the server's certificate and CA",
    HTTP: "the server answers with an error or not at all: report it to the data centre with "
          "this output",
}


def network_checks(cfg: Any, timeout: float) -> list[Check]:
    """``network:<phase>`` for each phase of one probe of ``[network] probe_url``."""
    if not cfg.probe_url:
        return [warned("network", "no [network] probe_url: the link to the central server is "
                                  "not watched",
                       "set [network] probe_url to the central server's health URL")]
    prober = Prober(cfg.probe_url, timeout=min(cfg.timeout, timeout), slow_ms=cfg.slow_ms)
    return phase_checks(prober.probe(), prober.tls, prober.host, prober.port)


def phase_checks(r: ProbeResult, tls: bool, host: str, port: int) -> list[Check]:
    """One check per phase of ``r`` (phases after a failed one are not tried)."""
    phases = [LINK, DNS, CONNECT, *([TLS] if tls else []), HTTP]
    done = {LINK: "a network route exists", DNS: f"{host} resolves",
            CONNECT: f"{host}:{port} accepts", TLS: "certificate verified",
            HTTP: f"HTTP {r.status}"}
    checks: list[Check] = []
    for phase in phases:
        name = f"network:{phase}"
        if r.failed == phase:
            checks.append(failed(name, r.detail, _PHASE_HINTS[phase]))
        elif r.failed is not None and phase not in r.ms:
            checks.append(warned(name, f"not tried: the {r.failed} phase failed",
                                 f"fix the {r.failed} phase first"))
        elif phase == HTTP and r.slow:
            checks.append(warned(name, f"HTTP {r.status}, {r.detail}",
                                 "the server is slow: expect delays; report it if it lasts"))
        else:
            ms = r.ms.get(phase, 0.0)
            checks.append(Check(name, "pass", f"{done[phase]} ({ms:.1f} ms)", ms=ms))
    return checks


def uplink_checks(cfg: Any, station_id: str, backlog: dict[str, Any],
                  daemon_uplink: dict[str, Any] | None, timeout: float,
                  now: datetime | None = None) -> list[Check]:
    """``uplink`` (connected, or the broker answers when the daemon is down) and
    ``uplink:backlog`` (the oldest unsent event's age)."""
    if not cfg.mqtt_url:
        return [warned("uplink", f"no [uplink] mqtt_url: events stay on this station "
                                 f"({backlog.get('backlog', 0):,} queued)",
                       "set [uplink] mqtt_url to the central broker (docs/UPLINK.md)")]
    checks = [_link_check(cfg, station_id, daemon_uplink, timeout)]
    checks.append(_backlog_check(backlog, now or clock.now()))
    return checks


def _link_check(cfg: Any, station_id: str, up: dict[str, Any] | None, timeout: float) -> Check:
    from station_agent.errors import StationAgentError
    from station_agent.uplink.broker import probe_broker

    keep = ("events are kept on this station and sent when it connects; "
            "check [uplink] and the network path to the broker")
    if up is not None:
        if up.get("connected"):
            return passed("uplink", f"connected to {cfg.mqtt_url}; {up.get('sent', 0):,} "
                                    "event(s) sent since the daemon started")
        return failed("uplink", f"{up.get('state', 'not connected')}: "
                                f"{up.get('error') or 'no connection yet'}", keep)
    try:
        broker = cfg.broker()
        ms = probe_broker(broker, f"station-agent-diag-{station_id}", timeout)
    except StationAgentError as exc:
        return failed("uplink", str(exc), keep)
    return Check("uplink", "pass", f"broker {cfg.mqtt_url} accepts this station's login "
                                   f"({ms:.0f} ms); nothing is sent while the daemon is down",
                 ms=ms)


def _backlog_check(backlog: dict[str, Any], now: datetime) -> Check:
    count, oldest = int(backlog.get("backlog") or 0), backlog.get("oldest_unsent")
    if not count:
        return passed("uplink:backlog", "nothing waiting to be sent")
    age = None
    if oldest:
        born = datetime.fromisoformat(str(oldest).replace("Z", "+00:00"))
        age = max(0.0, (now - born).total_seconds())
    detail = f"{count:,} event(s) waiting" + (
        f", the oldest {_age(age)} old ({oldest})" if age is not None else "")
    if age is not None and age > BACKLOG_WARN_S:
        return warned("uplink:backlog", detail,
                      "nothing is lost: they go out in order once the uplink connects; see "
                      "the uplink check")
    return passed("uplink:backlog", detail)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
