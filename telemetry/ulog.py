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

from telemetry.logreaders import LogContent, _at, _ffill
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


def _ulog_record_ok(data: bytes, q: int, st: _UlogState, *, learn: bool) -> int:
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
    elif size > 4096:
        return 0
    return 3 + size


def _ulog_chain_ok(data: bytes, q: int, st: _UlogState, depth: int = 8) -> bool:
    """``depth`` consecutive well-formed records start at ``q`` (or reach the end)."""
    n = len(data)
    for _ in range(depth):
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
        return 0, [LogIssue(0, "not a ULog file (bad magic)")], b""
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
                LogIssue(p, f"bad ULog record (type {mtype:#04x}); {q - p} bytes skipped")
            )
            p = q
            continue
        if step < 0:
            size = struct.unpack_from("<H", data, p)[0]
            issues.append(
                LogIssue(p, f"truncated ULog message at end of file ({n - p} of {size + 3} bytes)")
            )
            p = n
            break
        parts.append(data[p : p + step])
        count += 1
        p += step
    if 0 < n - p < 3:
        issues.append(LogIssue(p, f"truncated ULog message at end of file ({n - p} bytes)"))
    return count, issues, b"".join(parts)


def read_ulog(path: Path, data: bytes) -> LogContent:
    from pyulog import ULog

    count, issues, repaired = scan_ulog(data)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            ulog = ULog(io.BytesIO(repaired))
    except Exception as exc:  # pyulog raises assorted errors on damaged headers
        issues.append(LogIssue(0, f"unreadable ULog: {exc}"))
        return LogContent("ulog", [], count, 0, issues)

    def topic(name: str) -> dict[str, np.ndarray] | None:
        for d in ulog.data_list:
            if d.name == name and d.multi_id == 0:
                return {k: np.asarray(v) for k, v in d.data.items()}
        return None

    gps = topic("vehicle_gps_position") or topic("sensor_gps")
    offset = math.nan
    if gps is not None and "time_utc_usec" in gps:
        ok = gps["time_utc_usec"] > 0
        if ok.any():
            offset = float(np.median(gps["time_utc_usec"][ok] - gps["timestamp"][ok]) * 1e-6)
    if not math.isfinite(offset):
        offset = path.stat().st_mtime - ulog.last_timestamp * 1e-6
        issues.append(LogIssue(0, "no GPS time in the log; times are based on the file date"))
    gpos = topic("vehicle_global_position")
    lpos = topic("vehicle_local_position")
    if gpos is not None:
        t = gpos["timestamp"] * 1e-6 + offset
        cols = empty_columns(t.size)
        cols["lat_deg"], cols["lon_deg"] = gpos["lat"].astype(float), gpos["lon"].astype(float)
        cols["alt_amsl_m"] = gpos["alt"].astype(float)
    elif gps is not None:
        t = gps["timestamp"] * 1e-6 + offset
        cols = empty_columns(t.size)
        cols["lat_deg"] = gps["lat"] * 1e-7 if gps["lat"].dtype.kind == "i" else gps["lat"]
        cols["lon_deg"] = gps["lon"] * 1e-7 if gps["lon"].dtype.kind == "i" else gps["lon"]
        alt = gps["alt"]
        cols["alt_amsl_m"] = alt * 1e-3 if alt.dtype.kind == "i" else alt.astype(float)
    else:
        return LogContent("ulog", [], count, 0, issues)
    cols["t_s"] = t
    if gps is not None:
        gt = gps["timestamp"] * 1e-6 + offset
        if "vel_m_s" in gps:
            cols["groundspeed_m_s"] = _ffill(gt, gps["vel_m_s"].astype(float), t)
        if "vel_d_m_s" in gps:
            cols["climb_m_s"] = _ffill(gt, -gps["vel_d_m_s"].astype(float), t)
    if lpos is not None:
        lt = lpos["timestamp"] * 1e-6 + offset
        cols["rel_alt_m"] = np.interp(t, lt, -lpos["z"].astype(float))
        cols["heading_deg"] = np.degrees(_ffill(lt, lpos["heading"].astype(float), t)) % 360
    else:
        cols["rel_alt_m"] = cols["alt_amsl_m"] - cols["alt_amsl_m"][0]
    bat = topic("battery_status")
    if bat is not None:
        bt = bat["timestamp"] * 1e-6 + offset
        cols["voltage_v"] = _ffill(bt, bat["voltage_v"].astype(float), t)
        cols["current_a"] = _ffill(bt, bat["current_a"].astype(float), t)
        cols["battery_pct"] = _ffill(bt, bat["remaining"].astype(float) * 100.0, t)
        cols["consumed_mah"] = _ffill(bt, bat["discharged_mah"].astype(float), t)
    events: list[tuple[Any, ...]] = []
    status = topic("vehicle_status")
    if status is not None:
        st_t = status["timestamp"] * 1e-6 + offset
        armed = status["arming_state"] == 2  # ARMING_STATE_ARMED
        cols["armed"] = _ffill(st_t, armed.astype(float), t)
        prev_a: bool | None = None
        prev_n: int | None = None
        prev_f = 0
        fs = status.get("failsafe", np.zeros(st_t.size, dtype=int))
        for tt, a, nav, f in zip(st_t, armed, status["nav_state"], fs):
            if int(f) and not prev_f:
                events.append(
                    (float(tt), "failsafe", "vehicle_status.failsafe", 1.0, *_at(cols, tt))
                )
            prev_f = int(f)
            if prev_a is None or bool(a) != prev_a:
                if prev_a is not None or a:
                    events.append(
                        (float(tt), "armed" if a else "disarmed", None, math.nan, *_at(cols, tt))
                    )
                prev_a = bool(a)
            if prev_n is None or int(nav) != prev_n:
                events.append(
                    (
                        float(tt),
                        "mode",
                        PX4_NAV_STATES.get(int(nav), f"nav_state {int(nav)}"),
                        float(nav),
                        *_at(cols, tt),
                    )
                )
                prev_n = int(nav)
    for lm in ulog.logged_messages:
        tt = lm.timestamp * 1e-6 + offset
        events.append((tt, "statustext", lm.message, float(lm.log_level), *_at(cols, tt)))
    cam = topic("camera_capture")
    if cam is not None:
        for i in range(cam["timestamp"].size):
            events.append(
                (
                    float(cam["timestamp"][i] * 1e-6 + offset),
                    "camera",
                    None,
                    float(cam["seq"][i]),
                    float(cam["lat"][i]),
                    float(cam["lon"][i]),
                    float(cam["ground_distance"][i]),
                )
            )
    events.sort(key=lambda e: e[0])
    uuid = ulog.msg_info_dict.get("sys_uuid") or ulog.msg_info_dict.get("ver_hw", "unknown")
    track = Track(f"px4-{uuid}", None, "px4", None, cols, events)
    return LogContent("ulog", [track], count, 0, issues)
