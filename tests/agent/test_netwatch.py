"""Network watch against the server simulator on loopback: every mode, the phase
named, hysteresis, outage start/end."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.server import ServerSim
from station_agent.faults.board import FaultBoard
from station_agent.network.probe import Prober, has_route
from station_agent.network.watch import NetworkWatch


@pytest.fixture
def server() -> Iterator[ServerSim]:
    sim = ServerSim(slow_ms=300).start()
    yield sim
    sim.stop()


@pytest.mark.parametrize(("mode", "phase", "fault"), [
    ("ok", None, None),
    ("slow", None, "server_slow"),
    ("http500", "http", "server_unreachable"),
    ("refuse", "connect", "server_unreachable"),
    ("blackhole", "http", "server_unreachable"),
])
def test_each_mode_names_its_phase(server: ServerSim, mode: str, phase: str | None,
                                   fault: str | None) -> None:
    server.set_mode(mode)
    r = Prober(server.url, timeout=1.0, slow_ms=150).probe()
    assert (r.failed, r.fault) == (phase, fault), r.detail


def test_dns_failure_is_named() -> None:
    r = Prober("http://no-such-host.invalid/health", timeout=3).probe()
    assert (r.failed, r.fault) == ("dns", "dns_failure")
    assert "does not resolve" in r.detail


def test_link_down_without_a_default_route(tmp_path: Path) -> None:
    v4, v6 = tmp_path / "route", tmp_path / "ipv6_route"
    v4.write_text("Iface\tDestination\tGateway\tFlags\n"
                  "eth0\t0002A8C0\t00000000\t0001\n")
    v6.write_text("")
    assert not has_route((v4, v6))
    r = Prober("http://central.example/health", route_files=(v4, v6)).probe()
    assert (r.failed, r.fault) == ("link", "link_down")
    v4.write_text("Iface\tDestination\tGateway\tFlags\neth0\t00000000\t0102A8C0\t0003\n")
    assert has_route((v4, v6))


def test_tls_failure_is_named(server: ServerSim) -> None:
    # An https probe of a plain-HTTP port: the handshake fails.
    r = Prober(f"https://127.0.0.1:{server.port}/health", timeout=2).probe()
    assert (r.failed, r.fault) == ("tls", "server_unreachable")


def test_hysteresis_and_outage_record(server: ServerSim) -> None:
    board = FaultBoard()
    outages: list[tuple[str, str, str]] = []
    watch = NetworkWatch(Prober(server.url, timeout=0.5, slow_ms=5000), board,
                         fail_after=3, clear_after=2,
                         on_outage=lambda what, phase, at, _d: outages.append((what, phase, at)))
    watch.step()
    server.set_mode("refuse")
    first = watch.step()
    watch.step()
    assert not board.active()                       # two failures: not yet
    watch.step()
    (fault,) = board.active()
    assert (fault.source, fault.code) == ("network", "server_unreachable")
    assert outages and outages[0][:2] == ("start", "connect")
    assert outages[0][2] <= fault.raised_at        # starts at the first failed probe
    server.set_mode("ok")
    watch.step()
    assert board.active()
    watch.step()
    assert not board.active()
    assert outages[-1][0] == "end" and len(outages) == 2
    assert first.failed == "connect"


def test_flapping_server_is_one_flapping_fault(server: ServerSim) -> None:
    server.set_mode("flapping")
    board = FaultBoard()
    watch = NetworkWatch(Prober(server.url, timeout=1), board, fail_after=1, clear_after=1)
    for _ in range(30):
        watch.step()
    active = board.active()
    assert [f.code for f in active] == ["server_unreachable"] and active[0].flapping


def test_refuse_really_refuses(server: ServerSim) -> None:
    server.set_mode("refuse")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    server.set_mode("ok")
    socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
