"""Who may use the local API: the socket's group and mode, and the peer's kernel
credentials (SO_PEERCRED) checked on every connection, even when someone loosened
the socket's mode. The integration test switches users, so it needs root."""

from __future__ import annotations

import grp
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from station_agent.api.connection import connect
from station_agent.api.peers import AccessPolicy, Peer, peer_of, supplementary_groups
from tests.conftest import run_cli

NOBODY = 65534


def test_policy_allows_root_the_daemon_user_and_the_group_only() -> None:
    policy = AccessPolicy(own_uid=990, gid=990)
    assert policy.refusal(Peer(1, 0, 0)) is None
    assert policy.refusal(Peer(1, 990, 5)) is None
    assert policy.refusal(Peer(1, 1000, 990)) is None                      # primary group
    assert policy.refusal(Peer(1, 1000, 1000, frozenset({27, 990}))) is None  # supplementary
    why = policy.refusal(Peer(1, 1000, 1000, frozenset({27})))
    assert why is not None and "uid 1000 is not in group" in why and "usermod -a -G" in why


def test_peer_credentials_come_from_the_kernel() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        peer = peer_of(a)
    assert (peer.pid, peer.uid, peer.gid) == (os.getpid(), os.getuid(), os.getgid())
    assert peer.groups == frozenset(os.getgroups()) or not os.getgroups()


def test_supplementary_groups_from_proc(tmp_path: Path) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "status").write_text("Name:\tx\nGroups:\t4 24 990 \nNSpgid:\t1\n")
    assert supplementary_groups(42, tmp_path) == {4, 24, 990}
    assert supplementary_groups(43, tmp_path) == frozenset()   # gone: no groups


def test_a_group_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text('[station]\nid = "s1"\napi_group = "no-such-group-x"\n')
    res = run_cli("--config", str(config), "run", "--check-config")
    assert res.code == 2
    assert "there is no group 'no-such-group-x'" in res.err and "groupadd" in res.err


def _as_user(uid: int, gid: int, state: Path, op: str = "status") -> str:
    """Call ``op`` on the daemon's API from a forked child running as ``uid``/``gid``
    (no supplementary groups); what it got back, or the error it raised, as text."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: drop privileges, then talk like any client would
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            client = connect(state, timeout=10)
            if client is None:
                out = "no daemon"
            else:
                with client:
                    out = json.dumps(client.call(op))
        except BaseException as exc:
            out = f"{type(exc).__name__}: {exc}"
        os.write(write_end, out.encode()[:60000])
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_the_socket_belongs_to_the_group_and_strangers_are_refused(daemons: Any) -> None:
    nogroup = grp.getgrnam("nogroup").gr_gid
    d = daemons('api_group = "nogroup"\n')
    # api_group belongs in [station]: the fixture's body follows that table.
    d.start()
    for path in (d.root, d.state):   # let other users reach the socket file
        path.chmod(0o755)
    sock = d.state / "agent.sock"
    st = sock.stat()
    assert st.st_gid == nogroup and st.st_mode & 0o777 == 0o660

    member = _as_user(NOBODY, nogroup, d.state)
    assert json.loads(member)["daemon"]["running"] is True, member

    stranger = _as_user(NOBODY, 4242, d.state)   # the kernel refuses: mode 0660
    assert stranger.startswith("OperationFailed: no permission to talk to the daemon"), stranger

    sock.chmod(0o666)    # someone loosened the mode: the daemon still refuses
    stranger = _as_user(NOBODY, 4242, d.state)
    assert stranger == (f"ApiError: permission denied: uid {NOBODY} is not in group "
                        "'nogroup'; add the user to it (usermod -a -G nogroup USER, then log "
                        "in again)"), stranger
    refused = [json.loads(line) for line in d.logs().splitlines()
               if '"api client refused"' in line]
    assert refused and refused[-1]["uid"] == NOBODY and refused[-1]["gid"] == 4242
    assert any('"api client"' in line and f'"uid": {NOBODY}' in line
               for line in d.logs().splitlines())
    assert d.stop() == 0
