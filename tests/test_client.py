"""The typed client's errors and answers, against a stand-in daemon on a real Unix
socket (the real daemon: tests/test_python_doc.py and the agent tests)."""

from __future__ import annotations

import json
import socket
import socketserver
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import station_agent
from station_agent.api.sockpath import SOCKET_NAME


class _Daemon(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    answers: dict[str, Any]


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            req = json.loads(line)
            answer = self.server.answers.get(req["op"])  # type: ignore[attr-defined]
            if isinstance(answer, tuple):   # (code, message): an error reply
                reply = {"id": req["id"], "ok": False,
                         "error": {"code": answer[0], "message": answer[1]}}
            else:
                reply = {"id": req["id"], "ok": True, "result": answer}
            self.wfile.write(json.dumps(reply).encode() + b"\n")


@pytest.fixture
def fake() -> Iterator[tuple[Path, dict[str, Any]]]:
    with tempfile.TemporaryDirectory(prefix="sa-cl-") as d:
        answers: dict[str, Any] = {"ping": {"pong": True, "protocol": 1, "version": "x"}}
        server = _Daemon(str(Path(d) / SOCKET_NAME), _Handler)
        server.answers = answers
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Path(d), answers
        finally:
            server.shutdown()
            server.server_close()


def test_no_daemon_is_an_error_that_says_so(tmp_path: Path) -> None:
    with pytest.raises(station_agent.DaemonNotRunning, match="no station daemon serves"):
        station_agent.Client(tmp_path)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / SOCKET_NAME))   # a socket file left by a killed daemon
    stale.close()
    with pytest.raises(station_agent.DaemonNotRunning):
        station_agent.Client(tmp_path)


def test_another_protocol_version_is_refused(fake: tuple[Path, dict[str, Any]]) -> None:
    state, answers = fake
    answers["ping"] = {"pong": True, "protocol": 99}
    with pytest.raises(station_agent.ProtocolMismatch, match="speaks API protocol 99"):
        station_agent.Client(state)
    station_agent.Client(state, check_version=False).close()


@pytest.mark.parametrize(("code", "error", "exit_code"), [
    ("refused", station_agent.Refused, 2), ("bad_request", station_agent.BadRequest, 2),
    ("unknown_op", station_agent.UnknownOperation, 2), ("busy", station_agent.Busy, 1),
    ("forbidden", station_agent.Forbidden, 1), ("failed", station_agent.RequestFailed, 1)])
def test_each_error_code_is_its_own_class(fake: tuple[Path, dict[str, Any]], code: str,
                                          error: type[Exception], exit_code: int) -> None:
    state, answers = fake
    answers["complete"] = (code, f"{code}: what went wrong and what to do")
    with station_agent.Client(state) as agent, pytest.raises(error) as raised:
        agent.complete("job-1")
    assert isinstance(raised.value, station_agent.ClientError)
    assert raised.value.code == code and raised.value.exit_code == exit_code  # type: ignore[attr-defined]
    assert str(raised.value) == f"{code}: what went wrong and what to do"


def test_answers_come_back_as_the_library_types(fake: tuple[Path, dict[str, Any]]) -> None:
    state, answers = fake
    entry = {"seq": 3, "ts": "2026-11-28T01:00:00.000001Z", "kind": "receive", "src": "external",
             "dst": "stock", "count": 500, "idem_id": "receive:B1", "batch_id": "B1",
             "job_id": None, "device": None, "first_serial": None, "reason": None,
             "reference": None, "prev_hash": "a" * 64, "hash": "b" * 64, "category": None,
             "a_field_from_a_newer_daemon": 1}
    balances = {"stock": 500, "in_printer": 0, "issued": 0, "spoiled_held": 0,
                "spoiled_disposed": 0, "lost": 0, "received": 500, "adjusted": 0, "picked": 0,
                "completed": 0, "rejected": 0, "disposed": 0, "written_off": 0, "entries": 3,
                "chain_head": "b" * 64, "voided": 0}
    answers.update(receive={"entry": entry, "replay": True, "balances": balances},
                   blanks=balances,
                   faults={"active": [{"source": "evolis-1", "code": "card_jam",
                                       "severity": "error", "message": "m",
                                       "raised_at": "2026-11-28T01:00:00Z",
                                       "cleared_at": None, "flapping": False}]})
    with station_agent.Client(state) as agent:
        rec = agent.receive("B1", 500)
        assert isinstance(rec, station_agent.Recorded) and rec.replay
        assert isinstance(rec.entry, station_agent.Entry) and rec.entry.seq == 3
        assert rec.balances == agent.blanks() and agent.blanks().stock == 500
        (fault,) = agent.faults()
        assert isinstance(fault, station_agent.Fault) and fault.code == "card_jam"
        assert agent.ping()["version"] == "x"
