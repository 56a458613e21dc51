"""Readers for autopilot logs: each turns a file into per-vehicle :class:`~telemetry.track.Track`s.

- ``.tlog`` (MAVLink with timestamps): :mod:`telemetry.tlog` + :class:`MavlinkTrackBuilder`.
- ArduPilot DataFlash ``.bin`` and text ``.log``: :mod:`telemetry.dataflash` walks and validates
  the records itself (a damaged FMT is left out, never handed on); every layout of 3.x–4.x.
- PX4 ``.ulg``: pyulog, after a structural scan of the ULog message stream.

All readers keep the good data of a damaged file and return the problems as ``LogIssue``s.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.link.state import statustext_str
from telemetry.dataflash import DFRecords, looks_like_text_log
from telemetry.tlog import LogIssue, ParseStats, iter_tlog
from telemetry.track import (
    MAVLINK_TRACK_MESSAGES,
    MavlinkTrackBuilder,
    Track,
    drop_spikes,
    empty_columns,
    tracks_from_builder,
)

GPS_EPOCH_S = 315964800  # 1980-01-06 in Unix time
#: the extensions of the formats read here
LOG_EXTENSIONS = (".tlog", ".bin", ".log", ".ulg", ".px4log")


@dataclass
class LogContent:
    kind: str
    tracks: list[Track]
    messages: int = 0
    bad_messages: int = 0
    issues: list[LogIssue] = field(default_factory=list)


def detect_kind(path: Path, head: bytes) -> str:
    """The log format from the first bytes (up to 4 KiB) and the file's extension.

    Strong signatures (the ULog magic, text FMT lines) win; then a known extension; the weak
    ones (two DataFlash header bytes, a MAVLink magic at byte 8) decide only without one.
    """
    if head.startswith(b"ULog\x01\x12\x35"):
        return "ulog"
    if looks_like_text_log(head):
        return "dataflash-log"
    ext = {
        ".tlog": "tlog",
        ".bin": "dataflash-bin",
        ".px4log": "dataflash-bin",  # PX4 sdlog2: the same binary records (telemetry.sdlog2)
        ".log": "dataflash-log",
        ".ulg": "ulog",
    }
    kind = ext.get(path.suffix.lower())
    if kind is not None:
        return kind
    if head[:2] == b"\xa3\x95":
        return "dataflash-bin"
    if len(head) > 8 and head[8] in (0xFE, 0xFD):
        return "tlog"
    return "unknown"


#: the times a flight log may hold (Unix seconds): 2000-01-01 to 2100-01-01, as deployments
FIRST_TIME_S, END_TIME_S = 946684800.0, 4102444800.0


def is_possible_time(t_s: np.ndarray) -> np.ndarray:
    """Which Unix times (seconds) a flight can have been at: in the years 2000 to 2100 (a GPS
    week of 65535, a timestamp with a flipped high bit, a clock at 0 are no times)."""
    t = np.asarray(t_s, dtype=float)
    return np.isfinite(t) & (t >= FIRST_TIME_S) & (t < END_TIME_S)


def file_time_s(path: Path) -> float:
    """The file's modification time: the time base of a log without GPS time (0 when the data
    did not come from a file)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def read_log(path: Path, data: bytes) -> LogContent:
    """Read any supported log held in memory.

    Raises :class:`BadInputError` for a file that is not a log at all (unknown format, empty,
    random bytes: not one valid record); damage inside a log is returned as issues.
    """
    refuse_lfs_pointer(path, data[:1024])
    kind = detect_kind(path, data[:4096])
    if kind == "tlog":
        content = read_tlog_content(data, path)
    elif kind == "dataflash-bin":
        content = read_dataflash(path, data, binary=True)
    elif kind == "dataflash-log":
        content = read_dataflash(path, data, binary=False)
    elif kind == "ulog":
        from telemetry.ulog import read_ulog

        content = read_ulog(path, data)
    else:
        raise BadInputError(
            _(
                "not a flight log: expected a .tlog, a DataFlash .bin/.log or a PX4 .ulg/.px4log "
                "file"
            ),
            where=str(path),
        )
    if content.messages == 0:
        sdlog2 = path.suffix.lower() == ".px4log"
        raise BadInputError(_NOT_A_LOG["px4log" if sdlog2 else kind](), where=str(path))
    _drop_impossible_times(path, content)
    if not any(track.n for track in content.tracks):  # e.g. a few heartbeats: valid, but no track
        content.issues.append(
            LogIssue(0, _("no position or height in the log: no flight can be made of it"))
        )
    for track in content.tracks:
        track.columns, n = drop_spikes(track.columns)
        if n:
            content.issues.append(
                LogIssue(
                    -1,
                    ngettext(
                        "{n} sample of {key} left out: its altitude or position jumps and comes "
                        "back faster than an aircraft flies (a damaged record)",
                        "{n} samples of {key} left out: their altitude or position jumps and "
                        "comes back faster than an aircraft flies (damaged records)",
                        n,
                    ).format(n=n, key=track.key),
                )
            )
    return content


def _year(t_s: float) -> str:
    """The year of a Unix time as a message names it (any size: -7107, 3236)."""
    return str(math.floor(1970 + t_s / 31_556_952)) if math.isfinite(t_s) else str(t_s)


#: 1900-01-01: data not read from a file is dated to end at 1970-01-01 (:func:`file_time_s`),
#: so the years before 2000 are not all impossible for a sample
_EARLIEST_SAMPLE_S = -2208988800.0


def _datable(t_s: np.ndarray) -> np.ndarray:
    """Which times can date a sample: from 1900 to 2100."""
    t = np.asarray(t_s, dtype=float)
    return np.isfinite(t) & (t >= _EARLIEST_SAMPLE_S) & (t < END_TIME_S)


def _drop_impossible_times(path: Path, content: LogContent) -> None:
    """Samples and events whose time is before 1900 or from 2100 on (a damaged timestamp the
    reader could not tell from a real one: a flipped high byte) are left out, with an issue;
    a log with samples but none at a possible time is bad input (no flight can be dated)."""
    had = any(track.n for track in content.tracks)
    first_bad = math.nan
    for track in content.tracks:
        t = track.columns["t_s"]
        ok = _datable(t)
        ev_t = np.array([float(e[0]) for e in track.events], dtype=float)
        ev_ok = _datable(ev_t)
        left = int(t.size - ok.sum() + ev_t.size - ev_ok.sum())
        if not left:
            continue
        bad_t = [*t[~ok].tolist(), *ev_t[~ev_ok].tolist()]
        first_bad = first_bad if math.isfinite(first_bad) else float(bad_t[0])
        track.columns = {k: v[ok] for k, v in track.columns.items()}
        track.events = [e for e, keep in zip(track.events, ev_ok.tolist()) if keep]
        content.issues.append(
            LogIssue(
                -1,
                _(
                    "{n} samples and events of {key} left out: their time is impossible (e.g. "
                    "the year {year}; a damaged timestamp)"
                ).format(n=left, key=track.key, year=_year(float(bad_t[0]))),
            )
        )
    if had and not any(track.n for track in content.tracks):
        raise BadInputError(
            _(
                "no time in the log is possible (e.g. the year {year}): no flight of it can be "
                "dated"
            ).format(year=_year(first_bad)),
            where=str(path),
        )


def refuse_lfs_pointer(path: Path, head: bytes) -> None:
    """A Git LFS pointer in place of the log (a clone without ``git lfs pull``): bad input."""
    from dronekit_plzen.inputs import is_lfs_pointer

    if is_lfs_pointer(head):
        raise BadInputError(
            _("this is a Git LFS pointer, not the log itself (fetch the file: git lfs pull)"),
            where=str(path),
        )


_NOT_A_LOG = {
    "tlog": lambda: _("not a MAVLink telemetry log (no valid .tlog record in it)"),
    "dataflash-bin": lambda: _("not an ArduPilot DataFlash log (no valid record in it)"),
    "dataflash-log": lambda: _("not an ArduPilot DataFlash text log (no valid record in it)"),
    "ulog": lambda: _("not a PX4 ULog file (no valid record in it)"),
    "px4log": lambda: _("not a PX4 sdlog2 log (no valid record in it)"),
}


# -- tlog ------------------------------------------------------------------------------------------
def read_tlog_content(data: bytes, path: Path | None = None) -> LogContent:
    """A ``.tlog`` → tracks. A log timed by a relative clock (not Unix time) is dated by the
    file's modification time (its last record then), and says so."""
    from telemetry.tlog import is_unix_time_us

    st = ParseStats()
    builder = MavlinkTrackBuilder()
    feed = builder.feed
    last_s = math.nan
    # the vehicle's UTC (SYSTEM_TIME, GPS time once it has a fix) less the record's stamp
    gps_less_stamp: list[float] = []
    for _off, t_s, msg in iter_tlog(data, st, wanted=_TLOG_MESSAGES):
        if msg.get_type() == "SYSTEM_TIME":
            src = msg.get_srcSystem()
            if 0 < src < 250 and msg.time_unix_usec > GPS_EPOCH_MIN_US:  # a vehicle's, a fix's
                gps_less_stamp.append(msg.time_unix_usec * 1e-6 - t_s)
            continue
        feed(msg, t_s)
        last_s = t_s
    check_tlog_clock(st, path)
    tracks = tracks_from_builder(builder)
    issues = list(st.issues)
    stalled = sorted(sysid for sysid, v in builder.states.items() if v.clock_stalled)
    if stalled:
        issues.append(
            LogIssue(
                -1,
                _(
                    "the vehicle's clock (time_boot_ms) of system {ids} stood still while "
                    "positions arrived: they are timed by the record timestamps there"
                ).format(ids=", ".join(map(str, stalled))),
            )
        )
    unix = math.isfinite(last_s) and is_unix_time_us(last_s * 1e6)
    off = float(np.median(gps_less_stamp)) if len(gps_less_stamp) >= 3 else math.nan
    if math.isfinite(off) and (not unix or abs(off) > MAX_GCS_CLOCK_ERROR_S):
        # the ground station's clock was wrong (a Raspberry Pi without a real-time clock:
        # flights dated 20 days early) or relative: the vehicle's GPS time dates the log
        _shift_tracks(tracks, off)
        issues.append(
            LogIssue(
                -1,
                _(
                    "the record timestamps (the ground station's clock) are {d} the vehicle's "
                    "GPS time (SYSTEM_TIME): the flights are dated by the vehicle's"
                ).format(d=_duration_text(off))
                if unix
                else _(
                    "timestamps are not Unix time (a relative clock); times are the vehicle's "
                    "GPS time (SYSTEM_TIME)"
                ),
            )
        )
    elif math.isfinite(last_s) and not unix:
        _shift_tracks(tracks, (file_time_s(path) if path is not None else 0.0) - last_s)
        issues.append(
            LogIssue(
                0,
                _(
                    "timestamps are not Unix time (a relative clock); times are based on the "
                    "file date"
                ),
            )
        )
    return LogContent("tlog", tracks, st.messages, st.bad_crc, issues)


#: the messages a ``.tlog`` is read for: the track's, and the vehicle's UTC
_TLOG_MESSAGES = MAVLINK_TRACK_MESSAGES | {"SYSTEM_TIME"}
#: a SYSTEM_TIME before 2010 is no GPS time (a vehicle without a fix sends its boot clock or 0)
GPS_EPOCH_MIN_US = 1_262_304_000_000_000
#: record stamps this far (s) from the vehicle's GPS time are a wrong ground-station clock (a
#: link's delay and a GPS receiver's lag are a second or two; the real logs read 1.4 s)
MAX_GCS_CLOCK_ERROR_S = 30.0


def _shift_tracks(tracks: Sequence[Any], shift_s: float) -> None:
    for track in tracks:
        track.columns["t_s"] = track.columns["t_s"] + shift_s
        track.events = [(e[0] + shift_s, *e[1:]) for e in track.events]


def _duration_text(s: float) -> str:
    """A clock's error for people: 20 d 0 h, 3 h 12 min, 45 s (early or late)."""
    a = round(abs(s))
    days, rest = divmod(a, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = (
        f"{days} d {hours} h"
        if days
        else f"{hours} h {minutes} min"
        if hours
        else f"{minutes} min {secs} s"
        if minutes
        else f"{secs} s"
    )
    return text + " " + (_("behind") if s > 0 else _("ahead"))


#: a ``.tlog`` clock that stands still for this many records in a row is damaged (a link at
#: its fastest brings a few records in a millisecond; an all-zero clock stamps them all 0)
MAX_STILL_RECORDS = 200
#: a clock that steps back at more than this share of the records (at least 100) is damaged
MAX_BACKWARD_SHARE = 0.1


def check_tlog_clock(st: ParseStats, path: Path | None) -> None:
    """Refuse a ``.tlog`` whose record timestamps do not advance as a receiver's clock does:
    standing still over many records (zeroed, or all 0xFF) or running backwards. Their
    flights would be phantoms: hundreds of 0-second "ground runs" at one instant."""
    where = str(path) if path is not None else None
    if st.still_records >= MAX_STILL_RECORDS:
        raise BadInputError(
            _(
                "the record timestamps stand still: {n} records from byte {offset} on are all "
                "stamped {us} µs (a damaged clock); the times of the flights cannot be known"
            ).format(n=st.still_records, offset=st.still_at, us=st.still_us),
            where=where,
        )
    records = st.messages + st.bad_crc
    if st.backward >= 100 and st.backward > MAX_BACKWARD_SHARE * records:
        raise BadInputError(
            _(
                "the record timestamps run backwards: {n} of {m} records are stamped earlier "
                "than the record before them, the first at byte {offset} (a damaged clock); "
                "the times of the flights cannot be known"
            ).format(n=st.backward, m=records, offset=st.backward_at),
            where=where,
        )


# -- DataFlash -------------------------------------------------------------------------------------
_EV_ARMED, _EV_DISARMED = 10, 11
#: events ArduCopter logs only while the motors are armed (AUTO_ARMED, NOT_LANDED): a log that
#: begins armed has no ARM record (logging starts at arming), and cut off in flight no disarm
_EV_WHILE_ARMED = (15, 28)
_INT_CHARS = set("bBhHiIqQ")
#: GPS − UTC in seconds from the given UTC time on (leap seconds since the GPS epoch)
_LEAP_SECONDS = ((1341100800, 16), (1435708800, 17), (1483228800, 18))


def gps_leap_s(utc_s: float) -> int:
    leap = 15
    for since, value in _LEAP_SECONDS:
        if utc_s >= since:
            leap = value
    return leap


def _num(v: Any) -> float:
    """A record value as a float (NaN when missing or not a number, e.g. damaged text)."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _field(values: dict[str, Any], *names: str) -> Any:
    """The first of ``names`` the record has (layouts renamed fields over the years)."""
    for n in names:
        if n in values:
            return values[n]
    return None


def _col(rows: list[tuple[float, dict[str, Any]]], *names: str) -> np.ndarray:
    return np.array([_num(_field(v, *names)) for _t, v in rows], dtype=float)


def _times(rows: list[tuple[float, dict[str, Any]]]) -> np.ndarray:
    return np.array([t for t, _v in rows], dtype=float)


def _instance0(rows: list[tuple[float, dict[str, Any]]]) -> list[tuple[float, dict[str, Any]]]:
    return [r for r in rows if _num(_field(r[1], "I", "Instance", "Inst") or 0) == 0]


def _degrees(a: np.ndarray) -> np.ndarray:
    """Lat/lon: degrees, or raw 1e-7 degree integers as some text exports print them."""
    fin = a[np.isfinite(a)]
    return a * 1e-7 if fin.size and np.abs(fin).max() > 360 else a


def _scaled(recs: DFRecords, name: str, column: str, values: np.ndarray) -> np.ndarray:
    """Integer battery fields were centivolts / centiamps before ArduPilot 3.3."""
    fmt = recs.formats.get(name)
    if fmt is None or column not in fmt.columns:
        return values
    ch = fmt.format[fmt.columns.index(column)]
    return values * 0.01 if ch in _INT_CHARS else values


def read_dataflash(path: Path, data: bytes, *, binary: bool) -> LogContent:
    """A DataFlash log → one :class:`Track`, for every GPS/POS/BAT/CURR/MODE layout of
    ArduPilot 3.x–4.x (``Week``/``TimeMS`` or ``GWk``/``GMS``, ``Lng`` or ``Lon``, ``RelAlt``,
    ``RAlt`` or ``RelHomeAlt``, ``BAT`` or the older ``CURR``, modes by number or by name).
    A field a layout lacks stays NaN; fields the reader does not know are ignored."""
    from telemetry.dataflash import read_binary, read_text

    recs: DFRecords = read_binary(data) if binary else read_text(data)
    kind = "dataflash-bin" if binary else "dataflash-log"
    issues = list(recs.issues)
    rows = recs.rows
    if recs.records == 0 or not recs.formats:
        return LogContent(kind, [], 0, 0, issues)
    from telemetry.sdlog2 import is_sdlog2, sdlog2_track

    if binary and is_sdlog2(recs):
        px4 = sdlog2_track(recs, path, issues)
        return LogContent("px4log", [px4] if px4 else [], recs.records, 0, issues)
    gps = _instance0(rows.get("GPS", []))
    gt = _times(gps)
    week = _col(gps, "GWk", "Week")
    tow_ms = _col(gps, "GMS", "TimeMS")
    fixed = (_col(gps, "Status") >= 3) & (week > 0) & np.isfinite(tow_ms)
    gps_s = GPS_EPOCH_S + week * 604800 + tow_ms * 1e-3
    # a week of 65535 (year 3236) or a time of week beyond a week (GMS 0xFFFFFFFF: 49 days
    # on) is no time: such records do not date the log
    possible = (tow_ms >= 0) & (tow_ms < 604_800_000) & is_possible_time(gps_s)
    if (fixed & ~possible).any():
        issues.append(
            LogIssue(
                -1,
                ngettext(
                    "{n} GPS record with an impossible time (week {week:.0f}, {ms:.0f} ms) "
                    "not used to date the log",
                    "{n} GPS records with an impossible time (e.g. week {week:.0f}, {ms:.0f} "
                    "ms) not used to date the log",
                    int((fixed & ~possible).sum()),
                ).format(
                    n=int((fixed & ~possible).sum()),
                    week=float(week[fixed & ~possible][0]),
                    ms=float(tow_ms[fixed & ~possible][0]),
                ),
            )
        )
    fixed &= possible
    if fixed.any():
        leap = gps_leap_s(float(np.median(gps_s[fixed])))
        offset = float(np.median(gps_s[fixed] - leap - gt[fixed]))
    else:
        last = max((r[-1][0] for r in rows.values() if r), default=0.0)
        offset = file_time_s(path) - (float(gt[-1]) if gt.size else last)
        issues.append(LogIssue(0, _("no GPS time in the log; times are based on the file date")))
    pos = rows.get("POS", [])
    src = pos if pos else gps
    baro = _instance0(rows.get("BARO", []))
    if baro and not _located(src):
        # no position at all (no GPS, or never a fix: indoors): the flight is still a flight,
        # its samples the barometer's height above the ground at boot, with no track
        src = baro
        issues.append(LogIssue(0, _("no GPS position in the log; heights from the barometer")))
    t = _times(src) + offset
    cols = empty_columns(t.size)
    cols["t_s"] = t
    cols["lat_deg"] = _degrees(_col(src, "Lat"))
    cols["lon_deg"] = _degrees(_col(src, "Lng", "Lon"))
    if src is baro:
        cols["rel_alt_m"] = _col(src, "Alt")
    else:
        cols["alt_amsl_m"] = _col(src, "Alt")
        # height above home: RelHomeAlt (3.6+), RelAlt (POS 3.3–3.5, GPS ≤ 3.2), RAlt (GPS 3.3)
        cols["rel_alt_m"] = _col(src, "RelHomeAlt", "RelAlt", "RAlt")
    if not np.isfinite(cols["rel_alt_m"]).any() and t.size:
        cols["rel_alt_m"] = cols["alt_amsl_m"] - cols["alt_amsl_m"][0]
    bad = ~(np.isfinite(cols["lat_deg"]) & ((cols["lat_deg"] != 0) | (cols["lon_deg"] != 0)))
    cols["lat_deg"][bad] = np.nan
    cols["lon_deg"][bad] = np.nan
    if gps:
        gta = gt + offset
        cols["groundspeed_m_s"] = _ffill(gta, _col(gps, "Spd"), t)
        cols["climb_m_s"] = _ffill(gta, -_col(gps, "VZ"), t)
        cols["heading_deg"] = _ffill(gta, _col(gps, "GCrs"), t)
    bname = "BAT" if rows.get("BAT") else "CURR"
    bat = _instance0(rows.get(bname, []))
    if bat:
        bt = _times(bat) + offset
        volt = _scaled(recs, bname, "Volt", _col(bat, "Volt"))
        curr = _scaled(recs, bname, "Curr", _col(bat, "Curr"))
        cols["voltage_v"] = _ffill(bt, volt, t)
        cols["current_a"] = _ffill(bt, curr, t)
        cols["consumed_mah"] = _ffill(bt, _col(bat, "CurrTot"), t)
        cols["battery_pct"] = _ffill(bt, _col(bat, "RemPct"), t)
    # armed state: ARM messages and EV 10/11, stepwise
    changes: list[tuple[float, bool]] = []
    for tt, v in rows.get("ARM", []):
        state = _num(v.get("ArmState"))
        if math.isfinite(state):
            changes.append((tt + offset, bool(state)))
    for tt, v in rows.get("EV", []):
        if _num(v.get("Id")) in (_EV_ARMED, _EV_DISARMED):
            changes.append((tt + offset, _num(v.get("Id")) == _EV_ARMED))
    if not changes:
        changes = _armed_without_records(rows, offset, t)
    changes.sort()
    cols["armed"] = _armed_steps(changes, t)
    msgs = rows.get("MSG", [])
    params = rows.get("PARM", [])
    events = _dataflash_events(rows, msgs, changes, cols, offset, recs.preamble)
    key = _ardupilot_key([str(v.get("Message", "")) for _t, v in msgs])
    sysid = _sysid(params)
    key = key or f"sysid-{sysid}"
    track = Track(key, sysid, "ardupilot", None, cols, events)
    return LogContent(kind, [track] if track.n or events else [], recs.records, 0, issues)


def _armed_without_records(
    rows: dict[str, list[tuple[float, dict[str, Any]]]], offset: float, t: np.ndarray
) -> list[tuple[float, bool]]:
    """Arming changes of a log with no ARM or EV 10/11 record: from STAT's ``Armed`` (Plane,
    Copter 4.x), else armed from the start when an event logged only while armed is there
    (a copter log begun at arming and cut off before the disarm: a crash, a flat battery)."""
    armed = [(tt + offset, _num(v.get("Armed"))) for tt, v in rows.get("STAT", [])]
    stat = [(tt, a == 1) for tt, a in armed if math.isfinite(a)]
    if stat:
        return [c for i, c in enumerate(stat) if (c[1] if i == 0 else c[1] != stat[i - 1][1])]
    seen = [tt + offset for tt, v in rows.get("EV", []) if _num(v.get("Id")) in _EV_WHILE_ARMED]
    if not seen:
        return []
    return [(min(seen[0], float(t[0])) if t.size else seen[0], True)]


def _located(rows: list[tuple[float, dict[str, Any]]]) -> bool:
    """Some record has a position (GPS without a fix logs 0, 0)."""
    lat, lon = _col(rows, "Lat"), _col(rows, "Lng", "Lon")
    return bool((np.isfinite(lat) & ((lat != 0) | (lon != 0))).any())


def _sysid(params: list[tuple[float, dict[str, Any]]]) -> int:
    for _t, v in params:
        if v.get("Name") == "SYSID_THISMAV":
            value = _num(v.get("Value"))
            if math.isfinite(value) and 0 < value < 256:
                return int(value)
    return 1


def _mode_name(values: dict[str, Any], table: dict[int, str]) -> tuple[str, float]:
    """MODE by number (``ModeNum``, or ``Mode`` as a number) or by name (text exports)."""
    num = _num(_field(values, "ModeNum", "Mode"))
    if math.isfinite(num):
        return table.get(int(num), str(int(num))), num
    name = str(_field(values, "Mode") or "?").strip().upper().replace(" ", "_")
    back = {v: k for k, v in table.items()}
    return name, float(back.get(name, math.nan))


def _dataflash_events(
    rows: dict[str, list[tuple[float, dict[str, Any]]]],
    msgs: list[tuple[float, dict[str, Any]]],
    changes: list[tuple[float, bool]],
    cols: dict[str, np.ndarray],
    offset: float,
    preamble: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    from pymavlink import mavutil

    firmware = " ".join([*preamble, *(str(v.get("Message", "")) for _t, v in msgs[:20])])
    table = (
        mavutil.mode_mapping_apm
        if "ArduPlane" in firmware
        else mavutil.mode_mapping_rover
        if "ArduRover" in firmware or "Rover" in firmware
        else mavutil.mode_mapping_acm
    )
    events: list[tuple[Any, ...]] = []
    for tt, a in changes:
        events.append((tt, "armed" if a else "disarmed", None, math.nan, *_at(cols, tt)))
    for t0, v in rows.get("MODE", []):
        tt = t0 + offset
        name, num = _mode_name(v, dict(table))
        events.append((tt, "mode", name, num, *_at(cols, tt)))
    for t0, v in msgs:
        tt = t0 + offset
        text = statustext_str(str(v.get("Message", "")))  # a log's words, not terminal codes
        events.append((tt, "statustext", text, math.nan, *_at(cols, tt)))
    for t0, v in rows.get("ERR", []):
        tt = t0 + offset
        sub, code = _num(v.get("Subsys")), _num(v.get("ECode"))
        text = f"subsystem {sub:g} code {code:g}"
        events.append((tt, "failsafe", text, code, *_at(cols, tt)))
    for t0, v in rows.get("CAM") or rows.get("TRIG") or []:
        lat = _num(v.get("Lat"))
        lon = _num(_field(v, "Lng", "Lon"))
        if abs(lat) > 360 or abs(lon) > 360:
            lat, lon = lat * 1e-7, lon * 1e-7
        cam_alt = _num(_field(v, "RelAlt", "Alt"))
        events.append((t0 + offset, "camera", None, _num(v.get("Img")), lat, lon, cam_alt))
    events.sort(key=lambda e: e[0])
    return events


def _ardupilot_key(texts: list[str]) -> str | None:
    """The board's identity from its MSG "<board> <uid> <uid> <uid>" line (None without one)."""
    for text in texts:
        if re.fullmatch(r"\S+ [0-9A-F]{8} [0-9A-F]{8} [0-9A-F]{8}", text):
            return "ardupilot-" + text.replace(" ", "-")
    return None


def _ffill(src_t: np.ndarray, src_v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The latest value at or before each ``t`` (the first value before it starts)."""
    if src_t.size == 0:
        return np.full(t.size, np.nan)
    order = np.argsort(src_t, kind="stable")
    st, sv = src_t[order], src_v[order]
    idx = np.clip(np.searchsorted(st, t, side="right") - 1, 0, st.size - 1)
    return sv[idx]


def _armed_steps(changes: list[tuple[float, bool]], t: np.ndarray) -> np.ndarray:
    if not changes:
        return np.zeros(t.size)
    ct = np.array([c[0] for c in changes])
    cv = np.array([c[1] for c in changes], float)
    idx = np.searchsorted(ct, t, side="right") - 1
    # before the first change the vehicle was in the opposite state (logging began armed)
    return np.where(idx >= 0, cv[np.clip(idx, 0, None)], 1.0 - cv[0])


def _at(cols: dict[str, np.ndarray], tt: float) -> tuple[float, float, float]:
    t = cols["t_s"]
    if t.size == 0:
        return math.nan, math.nan, math.nan
    i = int(np.clip(np.searchsorted(t, tt) - 1, 0, t.size - 1))
    return float(cols["lat_deg"][i]), float(cols["lon_deg"][i]), float(cols["alt_amsl_m"][i])
