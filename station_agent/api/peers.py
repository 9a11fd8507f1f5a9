"""Who is on the other end of the local API socket, and whether they may talk.

The socket file is mode 0660 and belongs to the API group, so the kernel
already keeps everyone else out at ``connect()``. The daemon checks again on
every connection with the peer's credentials from the kernel
(``SO_PEERCRED``: pid, uid, gid, which the peer cannot forge), so a socket
whose mode someone loosened still refuses strangers, and every connection
is logged with who made it.

Allowed: root, the daemon's own user, and members of the API group (as
primary group or a supplementary one, read from ``/proc/<pid>/status``).
"""

from __future__ import annotations

import grp
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

_UCRED = struct.Struct("3i")   # struct ucred: pid_t pid; uid_t uid; gid_t gid


@dataclass(frozen=True, slots=True)
class Peer:
    """A connected process as the kernel saw it at ``connect()``."""

    pid: int
    uid: int
    gid: int
    groups: frozenset[int] = frozenset()


def peer_of(sock: socket.socket, proc: Path = Path("/proc")) -> Peer:
    """The credentials of ``sock``'s peer, with its supplementary groups when
    ``/proc`` shows them (a process that already exited shows none)."""
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                  _UCRED.size))
    return Peer(pid, uid, gid, supplementary_groups(pid, proc))


def supplementary_groups(pid: int, proc: Path = Path("/proc")) -> frozenset[int]:
    """The ``Groups:`` line of ``/proc/<pid>/status`` (empty when unreadable)."""
    try:
        for line in (proc / str(pid) / "status").read_text().splitlines():
            if line.startswith("Groups:"):
                return frozenset(int(g) for g in line.split()[1:] if g.isdigit())
    except OSError:
        pass
    return frozenset()


def group_id(name: str) -> int:
    """The id of group ``name``; KeyError when there is none."""
    return grp.getgrnam(name).gr_gid


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Root, the daemon's user (``own_uid``) and members of group ``gid``."""

    own_uid: int
    gid: int

    @classmethod
    def for_daemon(cls, group: str | None) -> AccessPolicy:
        """The policy for this process: ``group`` by name, else its own group."""
        return cls(os.getuid(), group_id(group) if group else os.getgid())

    def refusal(self, peer: Peer) -> str | None:
        """None when ``peer`` may use the API, else the one-line reason with the fix."""
        if peer.uid in (0, self.own_uid):
            return None
        if peer.gid == self.gid or self.gid in peer.groups:
            return None
        name = group_name(self.gid)
        return (f"permission denied: uid {peer.uid} is not in group {name!r}; add the user "
                f"to it (usermod -a -G {name} USER, then log in again)")
