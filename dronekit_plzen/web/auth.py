"""Accounts, passwords, the session secret and CSRF tokens of the web portal.

* Passwords: argon2id (``argon2-cffi``'s defaults, RFC 9106 low-memory profile: 64 MiB, 3
  passes, 4 lanes); a stored hash with older parameters is re-hashed at the next successful
  login. At most :data:`MAX_PARALLEL_HASHES` hashes are computed at once (the others wait): 40
  parallel sign-ins (the server's thread pool) had taken 40 × 64 MiB, anybody's to ask for.
* Sessions: Starlette's signed cookie (``itsdangerous``) holding only the user id, the CSRF
  token and the language. The signing secret lives in a file created ``0600`` on first run
  beside the flight database (``web-session.key``) and is never part of the repository.
* CSRF: one random token per session (synchroniser token); every form posts it back and
  :func:`check_csrf` compares in constant time.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dronekit_plzen.errors import BadInputError, StorageError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import read_reason

SECRET_FILE_NAME = "web-session.key"
MIN_PASSWORD_LEN = 10
_hasher = PasswordHasher()
#: password hashes computed at the same time (each takes the hasher's 64 MiB)
MAX_PARALLEL_HASHES = 4
_hashing = threading.BoundedSemaphore(MAX_PARALLEL_HASHES)


@dataclass(frozen=True)
class User:
    """The signed-in portal user (what the pages and the access checks need)."""

    id: int
    username: str
    role: str
    organisation: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(int(row["id"]), str(row["username"]), str(row["role"]), row["organisation"])

    @property
    def is_requester(self) -> bool:
        return self.role == "requester"

    @property
    def can_answer(self) -> bool:
        """Pilots and admins accept, refuse and close requests."""
        return self.role in ("pilot", "admin")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LEN:
        raise BadInputError(
            _("the password needs at least {n} characters").format(n=MIN_PASSWORD_LEN),
            where="password",
        )
    with _hashing:
        return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        with _hashing:
            return bool(_hasher.verify(stored_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return bool(_hasher.check_needs_rehash(stored_hash))


_dummy: list[str] = []


def dummy_verify(password: str) -> None:
    """Verify against a throw-away hash: an unknown user name answers as slowly as a known one."""
    if not _dummy:
        with _hashing:
            _dummy.append(_hasher.hash(secrets.token_hex(16)))
    verify_password(_dummy[0], password)


def load_or_create_secret(path: Path) -> bytes:
    """The session-signing secret at ``path``, created (64 random bytes, mode 0600) if absent.

    A secret readable by others is refused: anybody who can read it can forge sessions.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    except OSError as exc:
        raise StorageError(
            _("cannot create the session secret") + f": {exc}", where=str(path)
        ) from exc
    with os.fdopen(fd, "wb") as fh:
        data = secrets.token_hex(64).encode()
        fh.write(data)
    return data


def _read_secret(path: Path) -> bytes:
    if path.is_dir():
        raise BadInputError(_("this is a folder, not a session secret file"), where=str(path))
    if path.stat().st_mode & 0o077:
        raise StorageError(
            _("the session secret is readable by other users; run chmod 600 on it"),
            where=str(path),
        )
    try:
        data = path.read_bytes().strip()
    except OSError as exc:
        raise StorageError(
            _("cannot read the session secret") + f": {read_reason(exc)}", where=str(path)
        ) from None
    if len(data) < 32:
        raise StorageError(_("the session secret is too short or empty"), where=str(path))
    # the session middleware takes the secret as text: a binary file (a wrong --secret-file)
    # would fail later, inside the web stack
    if not all(0x21 <= b <= 0x7E for b in data):
        raise BadInputError(
            _("the session secret is not text (printable ASCII, as the portal writes it)"),
            where=str(path),
        )
    return data


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def check_csrf(session_token: str | None, form_token: str | None) -> bool:
    """True when the form carried this session's token."""
    if not session_token or not form_token:
        return False
    return hmac.compare_digest(session_token.encode(), form_token.encode())


class FailureWindow:
    """Failed sign-ins per key (a client address) within a sliding window, in memory.

    At most ``max_keys`` keys are kept (the least recently failing is forgotten first) and at
    most ``limit`` times per key, so a flood from many addresses costs bounded memory.
    :meth:`reserve` counts an attempt *before* its password is checked (parallel guesses from
    one address cannot all pass the limit at once); :meth:`forgive` takes it back when the
    password was right.
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._times: OrderedDict[str, deque[float]] = OrderedDict()
        self._told: dict[str, float] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._times[key]
            self._told.pop(key, None)
            return None
        return times

    def count(self, key: str) -> int:
        with self._lock:
            times = self._recent(key, self._clock())
            return len(times) if times else 0

    def reserve(self, key: str) -> bool:
        """Count one attempt of ``key``; False (nothing counted) when it is over the limit."""
        with self._lock:
            now = self._clock()
            times = self._recent(key, now)
            if times is not None and len(times) >= self.limit:
                return False
            if times is None:
                while len(self._times) >= self.max_keys:
                    old, _times = self._times.popitem(last=False)
                    self._told.pop(old, None)
                times = self._times[key] = deque(maxlen=self.limit)
            times.append(now)
            self._times.move_to_end(key)
            return True

    def forgive(self, key: str) -> None:
        """Take back the last attempt counted for ``key`` (its password was right)."""
        with self._lock:
            times = self._times.get(key)
            if times:
                times.pop()

    def tell_once_a_minute(self, key: str) -> bool:
        """True at most once a minute per key (for auditing a paused address)."""
        with self._lock:
            now = self._clock()
            if now - self._told.get(key, -1e18) < 60.0:
                return False
            if key in self._times:
                self._told[key] = now
            return True

    def __len__(self) -> int:
        return len(self._times)
