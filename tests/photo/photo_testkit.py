"""Helpers of the photo tests (importable: conftest modules are not)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def run_cli(
    *args: str, timeout: float = 240.0, fsize_kib: int | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process; ``fsize_kib``: under that file size limit (``ulimit -f``:
    a write beyond it fails with EFBIG, as on a full disk; Python ignores SIGXFSZ)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def limit() -> None:
        import resource

        if fsize_kib is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_kib * 1024, fsize_kib * 1024))

    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        preexec_fn=limit if fsize_kib is not None else None,
    )


_TYPES = {"BYTE": 1, "ASCII": 2, "SHORT": 3, "LONG": 4, "RATIONAL": 5, "UNDEFINED": 7}

Entry = tuple[int, str, object]


def _payload(typ: str, value: object) -> tuple[int, int, bytes]:
    code = _TYPES[typ]
    if typ == "ASCII":
        b = str(value).encode("ascii") + b"\0"
        return code, len(b), b
    if isinstance(value, bytes):  # BYTE / UNDEFINED
        return code, len(value), value
    assert isinstance(value, tuple)
    if typ == "RATIONAL":
        return code, len(value), b"".join(struct.pack("<II", n, d) for n, d in value)
    fmt = {"BYTE": "<B", "SHORT": "<H", "LONG": "<I"}[typ]
    return code, len(value), b"".join(struct.pack(fmt, v) for v in value)


def tiff_bytes(
    ifd0: Sequence[Entry], exif: Sequence[Entry] = (), gps: Sequence[Entry] = (), blob: bytes = b""
) -> bytes:
    """A little-endian TIFF written by hand: header, ``blob`` (pixels) at byte 8, IFD0 (+ Exif
    and GPS IFDs), then the values longer than 4 bytes (so an XMP lands after the pixels).
    Entries are ``(tag, type, value)``: ASCII a str, BYTE/UNDEFINED bytes, SHORT/LONG a tuple
    of ints, RATIONAL a tuple of (numerator, denominator). With ``blob=b""`` it is the body of
    a JPEG's EXIF segment (prefix ``b"Exif\\0\\0"``)."""
    ifds = [sorted(ifd0), sorted(exif), sorted(gps)]
    if exif:
        ifds[0] = sorted([*ifds[0], (0x8769, "LONG", (0,))])
    if gps:
        ifds[0] = sorted([*ifds[0], (0x8825, "LONG", (0,))])
    sizes = [2 + 12 * len(e) + 4 if e else 0 for e in ifds]
    start = 8 + len(blob)
    offs = [start, start + sizes[0], start + sizes[0] + sizes[1]]
    data_at = start + sum(sizes)
    out = bytearray(b"II*\0" + struct.pack("<I", start) + blob)
    data = bytearray()
    for entries in ifds:
        if not entries:
            continue
        out += struct.pack("<H", len(entries))
        for tag, typ, value in entries:
            if tag == 0x8769:
                value = (offs[1],)
            elif tag == 0x8825:
                value = (offs[2],)
            code, count, b = _payload(typ, value)
            if len(b) <= 4:
                out += struct.pack("<HHI", tag, code, count) + b.ljust(4, b"\0")
            else:
                out += struct.pack("<HHII", tag, code, count, data_at + len(data))
                data += b + (b"\0" if len(b) % 2 else b"")
        out += struct.pack("<I", 0)
    return bytes(out + data)


def claim_size(jpeg: bytes, w: int, h: int) -> bytes:
    """The same JPEG with its frame header (SOF0-SOF2, not the EXIF thumbnail's) claiming
    ``w`` × ``h`` pixels."""
    b = bytearray(jpeg)
    i = 2
    while i + 4 <= len(b) and b[i] == 0xFF:
        marker, length = b[i + 1], int.from_bytes(b[i + 2 : i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            b[i + 5 : i + 9] = struct.pack(">HH", h, w)
            return bytes(b)
        i += 2 + length
    raise ValueError("no frame header")


def one_error_line(
    argv: Sequence[str], code: int, pattern: str, fsize_kib: int | None = None
) -> list[str]:
    """Run the CLI with ``argv`` (under a file size limit of ``fsize_kib``, see :func:`run_cli`):
    exit ``code``, its last stderr line one ``error:`` matching ``pattern`` and no traceback;
    returns the non-empty stderr lines."""
    import re

    proc = run_cli(*argv, timeout=60, fsize_kib=fsize_kib)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == code, proc.stderr
    assert lines and lines[-1].startswith("error: "), proc.stderr
    assert re.search(pattern, lines[-1]), lines[-1]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    return lines
