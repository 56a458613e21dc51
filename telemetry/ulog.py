"""PX4 ULog (``.ulg``) → :class:`~telemetry.track.Track`, damage-tolerant.

The message stream is walked first (:func:`scan_ulog`); only well-formed records reach pyulog,
so a damaged size field can never make the parser allocate without bound.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dronekit_plzen.errors import raised_by_library
from dronekit_plzen.i18n import _
from dronekit_plzen.link.state import statustext_str
from telemetry.logreaders import LogContent, _at, _ffill, file_time_s, is_possible_time
from telemetry.tlog import LogIssue
from telemetry.track import Track, empty_columns

# -- ULog ------------------------------------------------------------------------------------------
_ULOG_TYPES = set(b"BFIMPQARDLCSO")


@dataclass
class _UlogState:
    """What the stream declared so far: subscribed message ids and their data record sizes."""

    ids: set[int] = field(default_factory=set)
    sizes: dict[int, int] = field(default_factory=dict)


#: PX4 vehicle_status.nav_state values (as of PX4 1.11–1.14)
PX4_NAV_STATES = {
    0: "MANUAL",
    1: "ALTCTL",
    2: "POSCTL",
    3: "AUTO_MISSION",
    4: "AUTO_LOITER",
    5: "AUTO_RTL",
    10: "ACRO",
    12: "DESCEND",
    13: "TERMINATION",
    14: "OFFBOARD",
    15: "STAB",
    17: "AUTO_TAKEOFF",
    18: "AUTO_LAND",
    19: "AUTO_FOLLOW_TARGET",
    20: "AUTO_PRECLAND",
    21: "ORBIT",
    22: "AUTO_VTOL_TAKEOFF",
}


#: a definition, info or parameter record longer than this is believed only when a well-formed
#: record (or the end of the file) follows it: a damaged size field must not swallow the data
#: behind it, yet PX4 writes crash dumps (``hardfault_plain``) as 17 KB info records
_ULOG_SHORT_RECORD = 4096


#: pyulog's limit: a longer record of a type it does not expect is damage to it
#: (``ULog._check_packet_corruption``)
PYULOG_MAX_RECORD = 10_000


def _ulog_record_ok(
    data: bytes, q: int, st: _UlogState, *, learn: bool, look_ahead: bool = True
) -> int:
    """Length of the well-formed record at ``q`` (0 when it is not one; -1 when cut off)."""
    n = len(data)
    if q + 3 > n:
        return -1
    size, mtype = struct.unpack_from("<HB", data, q)
    if mtype not in _ULOG_TYPES or size == 0:
        return 0
    if q + 3 + size > n:
        return -1
    if mtype == ord("D"):
        if size < 2:
            return 0
        (mid,) = struct.unpack_from("<H", data, q + 3)
        if mid not in st.ids or st.sizes.setdefault(mid, size) != size:
            return 0
    elif mtype == ord("A"):
        if size < 4:
            return 0
        if learn:
            st.ids.add(struct.unpack_from("<H", data, q + 4)[0])
    elif mtype == ord("L"):
        if size < 9 or not 0x30 <= data[q + 3] <= 0x37:
            return 0
    elif size > _ULOG_SHORT_RECORD and look_ahead and not _long_record_ok(data, q + 3 + size, st):
        return 0
    return 3 + size


def _long_record_ok(data: bytes, q: int, st: _UlogState, depth: int = 16) -> bool:
    """The records after a long one lead to a short well-formed record or the end of the file
    (consecutive long records — the three parts of a crash dump — are walked over)."""
    for _step in range(depth):
        if q == len(data):
            return True
        step = _ulog_record_ok(data, q, st, learn=False, look_ahead=False)
        if step <= 0:
            return False
        if step <= 3 + _ULOG_SHORT_RECORD:
            return True
        q += step
    return False


def _ulog_chain_ok(data: bytes, q: int, st: _UlogState, depth: int = 8) -> bool:
    """``depth`` consecutive well-formed records start at ``q`` (or reach the end)."""
    n = len(data)
    for _step in range(depth):
        if q == n:
            return True
        step = _ulog_record_ok(data, q, st, learn=False)
        if step <= 0:
            return False
        q += step
    return True


def scan_ulog(data: bytes) -> tuple[int, list[LogIssue], bytes]:
    """Walk the ULog message stream (16-byte header, then size/type records).

    Data records must name a subscribed message id and keep its size, so garbage is recognised
    even when its type byte happens to be valid. Returns (records, issues, repaired):
    ``repaired`` is the header plus every well-formed record, so the parser never sees the
    damaged bytes (a garbage size field would otherwise make it allocate without bound).
    """
    issues: list[LogIssue] = []
    n = len(data)
    if n < 16 or not data.startswith(b"ULog\x01\x12\x35"):
        return 0, [LogIssue(0, _("not a ULog file (bad magic)"))], b""
    st = _UlogState()
    parts: list[bytes] = [data[:16]]
    p, count = 16, 0
    while p + 3 <= n:
        step = _ulog_record_ok(data, p, st, learn=True)
        if step == 0:
            mtype = data[p + 2]
            q = p + 1
            while q < n and not _ulog_chain_ok(data, q, st):
                q += 1
            issues.append(
                LogIssue(
                    p,
                    _("bad ULog record (type {type:#04x}); {n} bytes skipped").format(
                        type=mtype, n=q - p
                    ),
                )
            )
            p = q
            continue
        if step < 0:
            size = struct.unpack_from("<H", data, p)[0]
            issues.append(
                LogIssue(
                    p,
                    _("truncated ULog message at end of file ({n} of {size} bytes)").format(
                        n=n - p, size=size + 3
                    ),
                )
            )
            p = n
            break
        if step - 3 > PYULOG_MAX_RECORD and data[p + 2] not in b"IM":
            # pyulog takes a longer record of a type it does not expect where it stands (a
            # sync, dropout or data record among the definitions) for damage and resyncs byte
            # by byte inside it, where a size field that runs past the end of the file sends
            # it back before where it began: it looped for ever (make fuzz, a damaged sample
            # log with an 18,767-byte sync record). Only info records (crash dumps) are that
            # long in PX4's logs; any other is walked over here and left out of what pyulog
            # reads.
            issues.append(
                LogIssue(
                    p,
                    _(
                        "ULog record of {n:,} bytes (type {type!r}) left out: longer than the "
                        "ULog parser reads ({max:,} bytes)"
                    ).format(n=step - 3, type=chr(data[p + 2]), max=PYULOG_MAX_RECORD),
                )
            )
        else:
            parts.append(data[p : p + step])
        count += 1
        p += step
    if 0 < n - p < 3:
        issues.append(
            LogIssue(p, _("truncated ULog message at end of file ({n} bytes)").format(n=n - p))
        )
    return count, issues, b"".join(parts)


def read_ulog(path: Path, data: bytes) -> LogContent:
    from pyulog import ULog

    count, issues, repaired = scan_ulog(data)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            ulog = ULog(io.BytesIO(repaired))
    except Exception as exc:  # pyulog raises assorted errors on damaged headers
        if not raised_by_library(exc):
            raise
        issues.append(LogIssue(0, _("unreadable ULog: {error}").format(error=exc)))
        return LogContent("ulog", [], count, 0, issues)

    def topic(*names: str) -> dict[str, np.ndarray] | None:
        for name in names:
            for d in ulog.data_list:
                if d.name == name and d.multi_id == 0 and "timestamp" in d.data:
                    return {k: np.asarray(v) for k, v in d.data.items()}
        return None

    # PX4 renamed topics and fields over its versions: take the first name a log has
    gps = topic("vehicle_gps_position", "sensor_gps")
    offset = math.nan
    utc = _get(gps, "time_utc_usec")
    if gps is not None and utc is not None:
        ok = is_possible_time(utc * 1e-6)  # 0 before the fix; a damaged one years off
        bad = (utc != 0) & ~ok
        if bad.any():
            issues.append(
                LogIssue(
                    -1,
                    _(
                        "{n} GPS times not in the years 2000 to 2100 (e.g. {us:.0f} µs) not "
                        "used to date the log"
                    ).format(n=int(bad.sum()), us=float(utc[bad][0])),
                )
            )
        if ok.any():
            offset = float(np.median(utc[ok] - gps["timestamp"][ok]) * 1e-6)
    gpos = topic("vehicle_global_position")
    lpos = topic("vehicle_local_position")
    src = gpos if _get(gpos, "lat") is not None else gps
    lat = _get(src, "lat", "latitude_deg", int_scale=1e-7)
    lon = _get(src, "lon", "longitude_deg", int_scale=1e-7)
    if (src is None or lat is None or lon is None) and _get(lpos, "z") is not None:
        # no GPS (indoors, a flow or vision sensor): the flight is still a flight, its height
        # from the local position, with no track
        assert lpos is not None
        src, lat = lpos, np.full(lpos["timestamp"].size, np.nan)
        lon = lat.copy()
        issues.append(LogIssue(0, _("no GPS position in the log; heights from the local position")))
    if src is None or lat is None or lon is None:
        issues.append(LogIssue(0, _("no position topic (vehicle_global_position, sensor_gps)")))
        return LogContent("ulog", [], count, 0, issues)
    if not math.isfinite(offset):
        # the end of the position topic, not pyulog's last timestamp: one damaged record of
        # any topic (a flipped high byte) made that years off, and every time with it
        offset = file_time_s(path) - _log_end_us(src["timestamp"]) * 1e-6
        issues.append(LogIssue(0, _("no GPS time in the log; times are based on the file date")))
    t = src["timestamp"] * 1e-6 + offset
    cols = empty_columns(t.size)
    cols["t_s"] = t
    cols["lat_deg"], cols["lon_deg"] = lat, lon
    alt = _get(src, "alt", "altitude_msl_m", int_scale=1e-3)
    if alt is not None:
        cols["alt_amsl_m"] = alt
    if gps is not None:
        gt = gps["timestamp"] * 1e-6 + offset
        for col, name, sign in (
            ("groundspeed_m_s", "vel_m_s", 1.0),
            ("climb_m_s", "vel_d_m_s", -1.0),
        ):
            v = _get(gps, name)
            if v is not None:
                cols[col] = _ffill(gt, sign * v, t)
    z = _get(lpos, "z")
    if lpos is not None and z is not None and z.size:
        lt = lpos["timestamp"] * 1e-6 + offset
        cols["rel_alt_m"] = np.interp(t, lt, -z)
        hdg = _get(lpos, "heading", "yaw")
        if hdg is not None:
            cols["heading_deg"] = np.degrees(_ffill(lt, hdg, t)) % 360
    elif t.size:
        cols["rel_alt_m"] = cols["alt_amsl_m"] - cols["alt_amsl_m"][0]
    bat = topic("battery_status")
    if bat is not None:
        bt = bat["timestamp"] * 1e-6 + offset
        fields: tuple[tuple[str, tuple[str, ...], float], ...] = (
            ("voltage_v", ("voltage_v", "voltage_filtered_v"), 1.0),
            ("current_a", ("current_a", "current_filtered_a"), 1.0),
            ("battery_pct", ("remaining",), 100.0),
            ("consumed_mah", ("discharged_mah",), 1.0),
        )
        for col, names, scale in fields:
            v = _get(bat, *names)
            if v is not None:
                cols[col] = _ffill(bt, v * scale, t)
    events: list[tuple[Any, ...]] = []
    status = topic("vehicle_status")
    arming, nav_state = _get(status, "arming_state"), _get(status, "nav_state")
    if status is not None and arming is not None:
        st_t = status["timestamp"] * 1e-6 + offset
        armed = arming == 2  # ARMING_STATE_ARMED in every PX4 version
        cols["armed"] = _ffill(st_t, armed.astype(float), t)
        navs = nav_state if nav_state is not None else np.full(st_t.size, np.nan)
        fs = _get(status, "failsafe")
        fs = fs if fs is not None else np.zeros(st_t.size)
        events += _status_events(st_t, armed, navs, fs, cols)
    for lm in ulog.logged_messages:
        tt = lm.timestamp * 1e-6 + offset
        text = statustext_str(str(lm.message))  # a log's words, not terminal codes
        events.append((tt, "statustext", text, float(lm.log_level), *_at(cols, tt)))
    cam = topic("camera_capture")
    if cam is not None:
        seq, clat, clon = _get(cam, "seq"), _get(cam, "lat"), _get(cam, "lon")
        dist = _get(cam, "ground_distance")
        n = cam["timestamp"].size
        nan = np.full(n, np.nan)
        for i in range(n):
            events.append(
                (
                    float(cam["timestamp"][i] * 1e-6 + offset),
                    "camera",
                    None,
                    float((seq if seq is not None else nan)[i]),
                    float((clat if clat is not None else nan)[i]),
                    float((clon if clon is not None else nan)[i]),
                    float((dist if dist is not None else nan)[i]),
                )
            )
    events.sort(key=lambda e: e[0])
    uuid = ulog.msg_info_dict.get("sys_uuid") or ulog.msg_info_dict.get("ver_hw", "unknown")
    track = Track(f"px4-{uuid}", None, "px4", None, cols, events)
    return LogContent("ulog", [track], count, 0, issues)


#: the longest a log is believed to run: timestamps further from the middle are damaged
_MAX_LOG_SPAN_US = 86400 * 1_000_000


def _log_end_us(ts: np.ndarray) -> float:
    """The last timestamp (µs since boot) of a topic, leaving out damaged ones (more than a
    day from its median)."""
    t = np.asarray(ts, dtype=float)
    t = t[np.isfinite(t)]
    if not t.size:
        return 0.0
    near = t[np.abs(t - np.median(t)) <= _MAX_LOG_SPAN_US]
    return float(near.max()) if near.size else 0.0


def _get(
    topic: dict[str, np.ndarray] | None, *names: str, int_scale: float | None = None
) -> np.ndarray | None:
    """The first of ``names`` the topic has, as floats (integers × ``int_scale`` when given:
    PX4 logged lat/lon as 1e-7 degree and alt as mm integers before 1.14)."""
    if topic is None:
        return None
    for name in names:
        v = topic.get(name)
        if v is None or v.dtype.kind not in "biuf" or v.ndim != 1:
            continue
        if int_scale is not None and v.dtype.kind in "iu":
            return v.astype(float) * int_scale
        return v.astype(float)
    return None


def _status_events(
    st_t: np.ndarray,
    armed: np.ndarray,
    navs: np.ndarray,
    fs: np.ndarray,
    cols: dict[str, np.ndarray],
) -> list[tuple[Any, ...]]:
    """Armed/disarmed, mode and failsafe events from vehicle_status changes."""
    events: list[tuple[Any, ...]] = []
    prev_a: bool | None = None
    prev_n: float | None = None
    prev_f = 0
    for tt, a, nav, f in zip(st_t, armed, navs, fs):
        if int(f) and not prev_f:
            events.append((float(tt), "failsafe", "vehicle_status.failsafe", 1.0, *_at(cols, tt)))
        prev_f = int(f)
        if prev_a is None or bool(a) != prev_a:
            if prev_a is not None or a:
                events.append(
                    (float(tt), "armed" if a else "disarmed", None, math.nan, *_at(cols, tt))
                )
            prev_a = bool(a)
        if math.isfinite(nav) and (prev_n is None or nav != prev_n):
            name = PX4_NAV_STATES.get(int(nav), f"nav_state {int(nav)}")
            events.append((float(tt), "mode", name, float(nav), *_at(cols, tt)))
            prev_n = float(nav)
    return events
