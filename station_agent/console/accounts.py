"""Staff accounts of the office console: ``station-agent console user add NAME``.

One line per account in ``console-users`` in the state directory, mode 0600::

    siti:scrypt:16384:8:1:<salt, base64>:<hash, base64>

scrypt (RFC 7914, in the standard library's :mod:`hashlib`) is a salted, slow,
memory-hard password hash: a stolen file costs an attacker about 16 MiB and
tens of milliseconds per guess per account. The file is refused when group or
others may read it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from station_agent.errors import BadInput, OperationFailed

FILE_NAME = "console-users"
#: scrypt cost: N (CPU/memory), r (block size), p (parallelism); 16 MiB per hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
_NAME = re.compile(r"^[a-z][a-z0-9._-]{0,31}$")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class Account:
    """One staff account (the hash stays in the file)."""

    name: str


def check_name(name: str) -> str:
    """``name`` if it is a valid account name, else :class:`BadInput`."""
    if not _NAME.match(name):
        raise BadInput(f"account name {name[:40]!r}: use 1 to 32 lower-case letters, digits, "
                       ". _ or -, starting with a letter (e.g. siti or budi.s)")
    return name


def _hash(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p,
                          maxmem=128 * r * n * 2, dklen=32)


def hash_password(password: str) -> str:
    """The stored form of ``password`` (a fresh random salt)."""
    salt = secrets.token_bytes(16)
    digest = _hash(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}:{b64(salt).decode()}:{b64(digest).decode()}"


#: A hash to check against when the account does not exist, so that a wrong
#: name takes as long as a wrong password (no account enumeration by timing).
_DUMMY = "scrypt:16384:8:1:AAAAAAAAAAAAAAAAAAAAAA==:" + "A" * 43 + "="


def password_matches(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant time in the comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split(":")
        if scheme != "scrypt":
            return False
        got = _hash(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


class Accounts:
    """The accounts file of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / FILE_NAME

    def _read(self) -> dict[str, str]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise OperationFailed(
                f"{self.path} may be read by group or others (mode {stat.S_IMODE(st.st_mode):o})"
                f": run chmod 600 {self.path}; the console refuses logins until then")
        users: dict[str, str] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            name, sep, stored = line.partition(":")
            if sep and _NAME.match(name):
                users[name] = stored
        return users

    def _write(self, users: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(f"{n}:{h}\n" for n, h in sorted(users.items())))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def names(self) -> list[str]:
        """Every account's name, sorted."""
        return sorted(self._read())

    def add(self, name: str, password: str, *, replace: bool = False) -> Account:
        """Store ``name`` with ``password``; :class:`BadInput` when it exists (unless
        ``replace``) or the password is too short."""
        check_name(name)
        if len(password) < MIN_PASSWORD:
            raise BadInput(f"the password is too short: use at least {MIN_PASSWORD} characters")
        users = self._read()
        if name in users and not replace:
            raise BadInput(f"account {name!r} already exists: use 'console user passwd "
                           f"{name}' to change its password")
        users[name] = hash_password(password)
        self._write(users)
        return Account(name)

    def remove(self, name: str) -> None:
        """Delete ``name``; :class:`BadInput` when there is no such account."""
        users = self._read()
        if users.pop(name, None) is None:
            raise BadInput(f"no account {name[:40]!r} (accounts: {', '.join(users) or 'none'})")
        self._write(users)

    def check(self, name: str, password: str) -> Account | None:
        """The account when ``password`` is right, else None (same cost either way);
        :class:`OperationFailed` when the file is unsafe."""
        users = self._read()
        stored = users.get(name)
        ok = password_matches(stored or _DUMMY, password)
        return Account(name) if ok and stored is not None else None
