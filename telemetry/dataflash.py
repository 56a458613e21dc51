"""ArduPilot DataFlash logs (binary ``.bin`` and text ``.log``) → records, with no pymavlink.

Both forms describe themselves with FMT records (type, length, name, format characters, column
names). This module walks the records itself, validating every FMT before it is used, so a
damaged format definition can never derail the reader: a bad FMT is left out (with its byte
offset or line), records of an unknown or badly defined type are skipped, and everything else is
kept. Only the message types the track builder needs are decoded into :class:`DFRecords`.

Text logs are what Mission Planner's "convert to text" and ArduPilot's own CLI dump write:
``NAME, value, value, ...`` lines (CRLF or LF), values already scaled.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from dronekit_plzen.i18n import _
from telemetry.tlog import LogIssue

#: format character → (struct code, multiplier) as ArduPilot's AP_Logger defines them
FORMAT_CHARS: dict[str, tuple[str, float | None]] = {
    "a": ("32h", None),
    "b": ("b", None),
    "B": ("B", None),
    "g": ("e", None),
    "h": ("h", None),
    "H": ("H", None),
    "i": ("i", None),
    "I": ("I", None),
    "f": ("f", None),
    "d": ("d", None),
    "n": ("4s", None),
    "N": ("16s", None),
    "Z": ("64s", None),
    "c": ("h", 0.01),
    "C": ("H", 0.01),
    "e": ("i", 0.01),
    "E": ("I", 0.01),
    "L": ("i", 1e-7),
    "M": ("B", None),
    "q": ("q", None),
    "Q": ("Q", None),
}
_STRINGS = set("nNZ")
_NAME = re.compile(r"[A-Za-z0-9_]{1,4}")
_COLUMN = re.compile(r"[!-~]{1,64}")  # printable ASCII, no spaces (SBRH has columns 1, 2, …)
_FMT_TYPE = 128
#: message types the track builder reads (others are walked over, only their time is used)
WANTED = frozenset(
    {"GPS", "GPS2", "POS", "BAT", "CURR", "EV", "ARM", "STAT", "MODE", "MSG", "ERR", "CAM"}
    | {"TRIG", "PARM", "BARO"}
    | {"GPOS", "BATT"}  # PX4 sdlog2 (telemetry.sdlog2)
)
#: a record's boot-time column, in order of preference, and its unit in seconds
_TIME_COLUMNS = (("TimeUS", 1e-6), ("TimeMS", 1e-3), ("T", 1e-3))
#: ArduCopter 3.0 / ArduPlane 2.7x logs carry no boot time in any record: their GPS ``Time``
#: (GPS time of week, ms) is the only clock, and is used only while no boot time was seen
_GPS_TOW_COLUMN = "Time"


@dataclass(frozen=True)
class DFFormat:
    """One validated FMT definition."""

    type: int
    name: str
    length: int
    format: str
    columns: tuple[str, ...]
    unpack: struct.Struct | None  #: binary layout (None in text logs)
    time_idx: int | None  #: the boot-time column, None when the record carries none
    time_scale: float
    #: ``time_idx`` is the GPS time of week of a log with no boot time (ArduCopter 3.0)
    time_is_tow: bool = False

    @property
    def colidx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.columns)}


def _time_column(name: str, fmt: str, columns: tuple[str, ...]) -> tuple[int | None, float, bool]:
    """(column index, unit in seconds, is the GPS time of week) of a record's clock."""
    cols = list(columns)
    numeric = {c for c, ch in zip(cols, fmt) if ch not in _STRINGS | {"a"}}
    if name == "TIME" and "StartTime" in numeric:  # PX4 sdlog2: the clock of the next records
        return cols.index("StartTime"), 1e-6, False
    for col, scale in _TIME_COLUMNS:
        # old GPS records: TimeMS is the GPS time of week (with Week), T the boot time
        if col == "TimeMS" and name.startswith("GPS") and "Week" in cols:
            continue
        if col in numeric:
            return cols.index(col), scale, False
    if name.startswith("GPS") and _GPS_TOW_COLUMN in numeric:
        return cols.index(_GPS_TOW_COLUMN), 1e-3, True
    return None, 1.0, False


def make_format(
    ftype: int, name: str, length: int | None, fmt: str, columns: tuple[str, ...], *, binary: bool
) -> DFFormat | None:
    """A :class:`DFFormat`, or None when the definition is inconsistent (a damaged FMT)."""
    if not _NAME.fullmatch(name) or not 0 <= ftype <= 255:
        return None
    if binary and any(c not in FORMAT_CHARS for c in fmt):
        return None
    if len(columns) != len(fmt) or not all(_COLUMN.fullmatch(c) for c in columns):
        return None
    if len(set(columns)) != len(columns):
        return None
    unpack = None
    if binary:
        unpack = struct.Struct("<" + "".join(FORMAT_CHARS[c][0] for c in fmt))
        if length != 3 + unpack.size:
            return None
    tidx, tscale, tow = _time_column(name, fmt, columns)
    return DFFormat(ftype, name, length or 0, fmt, columns, unpack, tidx, tscale, tow)


_FMT_FORMAT = make_format(
    _FMT_TYPE,
    "FMT",
    89,
    "BBnNZ",
    ("Type", "Length", "Name", "Format", "Columns"),
    binary=True,
)


@dataclass
class DFRecords:
    """The wanted messages of a DataFlash log, in file order, each with its boot time.

    ``rows[name]`` lists ``(boot_t_s, values)``; ``values`` maps column → value (numbers scaled
    by their format's multiplier, strings decoded). ``formats`` keeps each type's format
    characters (integer and float fields of the same name have different units in some
    versions, e.g. ``CURR.Volt`` in centivolts before 3.3).
    """

    rows: dict[str, list[tuple[float, dict[str, Any]]]] = field(default_factory=dict)
    formats: dict[str, DFFormat] = field(default_factory=dict)
    #: data records read (FMT records not counted)
    records: int = 0
    issues: list[LogIssue] = field(default_factory=list)
    max_issues: int = 50
    #: text lines before the first FMT of a text log (the CLI dump's banner: firmware, RAM)
    preamble: list[str] = field(default_factory=list)

    def issue(self, offset: int, message: str) -> None:
        if len(self.issues) < self.max_issues:
            self.issues.append(LogIssue(offset, message))

    def date_first_rows(self, first_clock: float) -> None:
        """Records read before the first one with a time (a NaN time) take ``first_clock``
        (0 in a log with no time at all): an ArduCopter 3.0 ``EV 10`` logged before the first
        GPS record is dated at it, not at a GPS time of week 0, days before the flight."""
        first = first_clock if math.isfinite(first_clock) else 0.0
        for rows in self.rows.values():
            for i, (t, v) in enumerate(rows):
                if t == t:
                    break
                rows[i] = (first, v)


def _decode(fmt: DFFormat, raw: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col, ch, v in zip(fmt.columns, fmt.format, raw):
        if ch in _STRINGS:
            out[col] = v.split(b"\0", 1)[0].decode("utf-8", "replace")
        else:
            mult = FORMAT_CHARS[ch][1]
            out[col] = v * mult if mult is not None else v
    return out


def _unpack_row(fmt: DFFormat, data: bytes, at: int) -> tuple[Any, ...]:
    assert fmt.unpack is not None
    if "a" not in fmt.format:
        return fmt.unpack.unpack_from(data, at)
    # 'a' is an int16[32] array: one value per column
    vals = list(fmt.unpack.unpack_from(data, at))
    out: list[Any] = []
    i = 0
    for ch in fmt.format:
        if ch == "a":
            out.append(tuple(vals[i : i + 32]))
            i += 32
        else:
            out.append(vals[i])
            i += 1
    return tuple(out)


def read_binary(data: bytes) -> DFRecords:
    """Walk a binary DataFlash log record by record (``0xA3 0x95 type`` + the FMT length).

    Garbage is skipped to the next header of a known type; a damaged FMT is left out; a record
    cut off by the end of the file is reported. Never raises on damaged input.
    """
    res = DFRecords()
    assert _FMT_FORMAT is not None
    formats: dict[int, DFFormat] = {_FMT_TYPE: _FMT_FORMAT}
    clock = first_clock = math.nan  # the records before the first time: see date_first_rows
    boot_clock = False  # a record with a boot time was read (GPS time of week no longer used)
    n, p = len(data), 0
    while p + 3 <= n:
        if data[p] != 0xA3 or data[p + 1] != 0x95 or data[p + 2] not in formats:
            q = p + 1
            while True:
                q = data.find(b"\xa3\x95", q)
                if q < 0 or (q + 2 < n and data[q + 2] in formats):
                    break
                q += 1
            q = n if q < 0 else q
            res.issue(p, _("bad DataFlash record header; {n} bytes skipped").format(n=q - p))
            p = q
            continue
        fmt = formats[data[p + 2]]
        if p + fmt.length > n:
            res.issue(
                p,
                _("truncated DataFlash record at end of file ({n} of {size} bytes)").format(
                    n=n - p, size=fmt.length
                ),
            )
            break
        raw = _unpack_row(fmt, data, p + 3)
        if fmt.type == _FMT_TYPE:
            new = _binary_fmt(raw)
            if new is None or (new.type == _FMT_TYPE and new.format != "BBnNZ"):
                res.issue(p, _("bad DataFlash FMT record; left out"))
            elif new.type != _FMT_TYPE:
                formats[new.type] = new
                res.formats[new.name] = new
        else:
            res.records += 1
            if fmt.time_idx is not None and not (fmt.time_is_tow and boot_clock):
                t = raw[fmt.time_idx] * fmt.time_scale
                clock = t if t == t else clock  # a NaN time keeps the clock
                first_clock = clock if first_clock != first_clock else first_clock
                boot_clock = boot_clock or not fmt.time_is_tow
            if fmt.name in WANTED:
                res.rows.setdefault(fmt.name, []).append((clock, _decode(fmt, raw)))
        p += fmt.length
    res.date_first_rows(first_clock)
    return res


def _binary_fmt(raw: tuple[Any, ...]) -> DFFormat | None:
    ftype, flen, name_b, fmt_b, cols_b = raw
    try:
        name = name_b.split(b"\0", 1)[0].decode("ascii")
        fmt = fmt_b.split(b"\0", 1)[0].decode("ascii")
        cols_text = cols_b.split(b"\0", 1)[0].decode("ascii")
    except UnicodeDecodeError:
        return None
    columns = tuple(cols_text.split(",")) if cols_text else ()
    return make_format(int(ftype), name, int(flen), fmt, columns, binary=True)


def looks_like_text_log(head: bytes) -> bool:
    """A text DataFlash log: an ``FMT,`` line among the first lines."""
    return any(ln.strip().startswith(b"FMT,") for ln in head.splitlines()[:50])


def read_text(data: bytes) -> DFRecords:
    """Parse a text DataFlash log (``NAME, v1, v2, …`` lines; CRLF or LF; any order of FMTs).

    A line whose type has no valid FMT, or whose field count does not match it, is skipped
    and reported with its line number (the byte offset of the line start).
    """
    res = DFRecords()
    formats: dict[str, DFFormat] = {}
    clock = first_clock = math.nan  # the records before the first time: see date_first_rows
    boot_clock = False  # a record with a boot time was read (GPS time of week no longer used)
    offset = 0
    for lineno, raw_line in enumerate(data.split(b"\n"), start=1):
        line_off = offset
        offset += len(raw_line) + 1
        text = raw_line.decode("utf-8", "replace").strip()
        if not text:
            continue
        parts = [x.strip() for x in text.split(",")]
        name = parts[0]
        if name == "FMT":
            if len(parts) > 3 and parts[3] == "FMT":
                continue  # FMT's own definition (3.0/3.1 list 4 of its 5 columns): not needed
            new = _text_fmt(parts)
            if new is None:
                res.issue(
                    line_off, _("line {lineno}: bad FMT line; left out").format(lineno=lineno)
                )
            else:
                formats[new.name] = new
                res.formats[new.name] = new
            continue
        if not formats:
            # the dump's banner before the first FMT ("ArduCopter V3.0.1", "Free RAM: 1273")
            res.preamble.append(text)
            continue
        fmt = formats.get(name)
        if fmt is None:
            if _NAME.fullmatch(name) is None:
                res.issue(
                    line_off,
                    _("line {lineno}: not a DataFlash record; skipped").format(lineno=lineno),
                )
            continue
        vals = parts[1:]
        if len(vals) > len(fmt.columns) and fmt.format and fmt.format[-1] in _STRINGS:
            # a message text with commas in it
            vals = [*vals[: len(fmt.columns) - 1], ",".join(vals[len(fmt.columns) - 1 :])]
        if len(vals) != len(fmt.columns):
            res.issue(
                line_off,
                _("line {lineno}: {name} has {n} fields, its FMT {m}; skipped").format(
                    lineno=lineno, name=name, n=len(vals), m=len(fmt.columns)
                ),
            )
            continue
        row = {c: _text_value(ch, v) for c, ch, v in zip(fmt.columns, fmt.format, vals)}
        res.records += 1
        if fmt.time_idx is not None and not (fmt.time_is_tow and boot_clock):
            t = row[fmt.columns[fmt.time_idx]]
            if isinstance(t, int | float) and t == t:
                clock = t * fmt.time_scale
                first_clock = clock if first_clock != first_clock else first_clock
                boot_clock = boot_clock or not fmt.time_is_tow
        if name in WANTED:
            res.rows.setdefault(name, []).append((clock, row))
    res.date_first_rows(first_clock)
    return res


def _text_fmt(parts: list[str]) -> DFFormat | None:
    if len(parts) < 5:
        return None
    try:
        ftype, flen = int(parts[1]), int(parts[2])
    except ValueError:
        return None
    columns = tuple(c for c in parts[5:] if c)
    return make_format(ftype, parts[3], flen, parts[4], columns, binary=False)


def _text_value(ch: str, v: str) -> Any:
    if ch in _STRINGS:
        return v
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v  # e.g. a flight mode written by name: the track builder maps it
