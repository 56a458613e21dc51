"""MAVLink 2 signing keys kept in files that only their owner can read (as ssh insists).

A key file holds one of (checked in this order):

1. 64 hexadecimal digits (surrounding whitespace ignored): the 32-byte key itself;
2. exactly 32 bytes that are not printable text: the raw key (what :func:`new_key_file`
   would write with ``fmt="raw"``);
3. otherwise UTF-8 text, a *passphrase*: its first line, without the line end, hashed with
   SHA-256. This is what MAVProxy's ``signing setup PASSPHRASE`` and QGroundControl's signing
   key field do, so the same passphrase typed there gives the same key.

The file must be a regular file owned by the current user with no permission bits for group or
others (``chmod 600``); anything else is refused with a clear error naming the file, before a
single byte is read. Both the link layer (``connect(..., signing_key_file=...)``) and the
simulator (``sim --signing-key-file``) read keys through here.

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> p = new_key_file(os.path.join(d, "fleet.key"))
>>> len(read_key_file(p))
32
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import read_reason

KEY_LEN = 32
_HEX_KEY = re.compile(rb"\s*([0-9a-fA-F]{64})\s*")
_PRINTABLE = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


def passphrase_key(passphrase: str) -> bytes:
    """The 32-byte key MAVProxy and QGroundControl derive from a passphrase (SHA-256)."""
    if not passphrase:
        raise BadInputError(_("the signing passphrase is empty"))
    return hashlib.sha256(passphrase.encode("utf-8")).digest()


def parse_key(data: bytes, where: str | None = None) -> bytes:
    """The 32-byte key held by a key file's content (see the module documentation)."""
    m = _HEX_KEY.fullmatch(data)
    if m:
        return bytes.fromhex(m.group(1).decode("ascii"))
    if len(data) == KEY_LEN and not all(b in _PRINTABLE for b in data):
        return bytes(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError(
            _(
                "not a signing key: expected 64 hex digits, 32 raw bytes or a text passphrase "
                "({n} bytes of binary data found)"
            ).format(n=len(data)),
            where=where,
        ) from None
    lines = text.splitlines()
    line = lines[0] if lines else ""
    if not line.strip():
        raise BadInputError(_("the signing key file is empty"), where=where)
    return passphrase_key(line)


def check_private(path: Path) -> None:
    """Refuse a key file that is not a regular file of ours, or that others may read or write."""
    where = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise BadInputError(_("signing key file not found"), where=where) from None
    except OSError as exc:
        raise BadInputError(
            _("cannot read the signing key file: {err}").format(err=read_reason(exc)), where=where
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise BadInputError(_("the signing key file is not a regular file"), where=where)
    if os.name != "posix":
        return
    if st.st_uid != os.getuid():
        raise BadInputError(
            _("the signing key file belongs to another user (uid {uid})").format(uid=st.st_uid),
            where=where,
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise BadInputError(
            _(
                "the signing key file is accessible by others (mode {mode:04o}); "
                "it must be readable by its owner only: chmod 600 {path}"
            ).format(mode=mode, path=path),
            where=where,
        )


#: the largest key file read: 64 hex digits, 32 bytes or a passphrase's line
MAX_KEY_FILE_BYTES = 64 * 1024


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """The 32-byte signing key in ``path`` (owner-only permissions required)."""
    p = Path(path).expanduser()
    check_private(p)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise BadInputError(
            _("cannot read the signing key file: {err}").format(err=read_reason(exc)), where=str(p)
        ) from None
    if len(data) > MAX_KEY_FILE_BYTES:  # a 10 GB file chosen by mistake had been read whole
        raise BadInputError(
            _(
                "the signing key file has {size:,} bytes, too many for a key (at most {limit:,})"
            ).format(size=p.stat().st_size, limit=MAX_KEY_FILE_BYTES),
            where=str(p),
        )
    return parse_key(data, where=str(p))


def write_key_file(path: str | os.PathLike[str], key: bytes, *, fmt: str = "hex") -> Path:
    """Write ``key`` to a new file created with mode 0600 (never overwrites an existing one)."""
    if len(key) != KEY_LEN:
        raise BadInputError(_("a MAVLink signing key has 32 bytes, got {n}").format(n=len(key)))
    p = Path(path).expanduser()
    data = key if fmt == "raw" else key.hex().encode("ascii") + b"\n"
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BadInputError(_("the signing key file already exists"), where=str(p)) from None
    except OSError as exc:
        raise BadInputError(
            _("cannot write the signing key file: {err}").format(err=exc.strerror), where=str(p)
        ) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return p


def new_key_file(path: str | os.PathLike[str], *, fmt: str = "hex") -> Path:
    """Create ``path`` holding a fresh random key (mode 0600)."""
    return write_key_file(path, os.urandom(KEY_LEN), fmt=fmt)


__all__ = [
    "KEY_LEN",
    "check_private",
    "new_key_file",
    "parse_key",
    "passphrase_key",
    "read_key_file",
    "write_key_file",
]
