"""PX4 sdlog2 logs (``.px4log``, PX4 before ULog, up to 2017) → one :class:`Track`.

sdlog2 writes the same self-describing binary records as ArduPilot's DataFlash (``0xA3 0x95``
headers, FMT records), so :func:`telemetry.dataflash.read_binary` walks them; the message names
and the clock are PX4's: no record carries a time of its own, a ``TIME`` record (``StartTime``,
µs since boot) precedes each batch; ``GPS.GPSTime`` is UTC in µs; the position is ``GPOS``
(else ``GPS``), the arming state ``STAT.ArmS`` (``ArmState`` in older versions), the battery
``BATT``, the flight mode ``STAT.MainState``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from dronekit_plzen.i18n import _
from telemetry.dataflash import DFRecords
from telemetry.tlog import LogIssue
from telemetry.track import Track, empty_columns

#: PX4's arming states ARMED and ARMED_ERROR
_ARMED_STATES = (2, 3)
#: commander main states (MainState)
_MAIN_STATES = {
    0: "MANUAL",
    1: "ALTCTL",
    2: "POSCTL",
    3: "AUTO_MISSION",
    4: "AUTO_LOITER",
    5: "AUTO_RTL",
    6: "ACRO",
    7: "OFFBOARD",
    8: "STAB",
    9: "RATTITUDE",
    10: "AUTO_TAKEOFF",
    11: "AUTO_LAND",
    12: "AUTO_FOLLOW_TARGET",
    13: "AUTO_PRECLAND",
}


def is_sdlog2(recs: DFRecords) -> bool:
    """The records are a PX4 sdlog2 log: its ``TIME`` record with ``StartTime`` is the clock."""
    fmt = recs.formats.get("TIME")
    return fmt is not None and "StartTime" in fmt.columns


def sdlog2_track(recs: DFRecords, path: Path, issues: list[LogIssue]) -> Track | None:
    """The vehicle's track of an sdlog2 log (None without samples or events); ``issues`` gets
    what the reader had to assume."""
    from telemetry.logreaders import (
        _at,
        _col,
        _ffill,
        _field,
        _num,
        _times,
        file_time_s,
        is_possible_time,
    )

    rows = recs.rows
    gps = rows.get("GPS", [])
    gt = _times(gps)
    utc = _col(gps, "GPSTime") * 1e-6
    fixed = (_col(gps, "Fix") >= 3) & is_possible_time(utc)  # not a year-3000 time either
    if fixed.any():
        offset = float(np.median(utc[fixed] - gt[fixed]))
    else:
        last = max((r[-1][0] for r in rows.values() if r), default=0.0)
        offset = file_time_s(path) - last
        issues.append(LogIssue(0, _("no GPS time in the log; times are based on the file date")))
    src = rows.get("GPOS") or gps
    t = _times(src) + offset
    cols = empty_columns(t.size)
    cols["t_s"] = t
    cols["lat_deg"] = _col(src, "Lat")
    cols["lon_deg"] = _col(src, "Lon")
    cols["alt_amsl_m"] = _col(src, "Alt")
    bad = ~(np.isfinite(cols["lat_deg"]) & ((cols["lat_deg"] != 0) | (cols["lon_deg"] != 0)))
    cols["lat_deg"][bad] = np.nan
    cols["lon_deg"][bad] = np.nan
    if t.size:
        cols["rel_alt_m"] = cols["alt_amsl_m"] - cols["alt_amsl_m"][0]
    cols["groundspeed_m_s"] = np.hypot(_col(src, "VelN"), _col(src, "VelE"))
    cols["climb_m_s"] = -_col(src, "VelD")
    cols["heading_deg"] = np.degrees(np.arctan2(_col(src, "VelE"), _col(src, "VelN"))) % 360
    bat = rows.get("BATT", [])
    if bat:
        bt = _times(bat) + offset
        cols["voltage_v"] = _ffill(bt, _col(bat, "V"), t)
        cols["current_a"] = _ffill(bt, _col(bat, "C"), t)
        cols["consumed_mah"] = _ffill(bt, _col(bat, "Discharged"), t)
        cols["battery_pct"] = _ffill(bt, _col(bat, "Remaining") * 100, t)
    events: list[tuple[Any, ...]] = []
    changes: list[tuple[float, float]] = []  # (time, armed)
    mode = None
    for tt, v in rows.get("STAT", []):
        tt += offset
        state = _num(_field(v, "ArmS", "ArmState"))
        if math.isfinite(state):
            armed = float(int(state) in _ARMED_STATES)
            if not changes or changes[-1][1] != armed:
                if changes or armed:  # the first STAT's disarmed state is no event
                    kind = "armed" if armed else "disarmed"
                    events.append((tt, kind, None, math.nan, *_at(cols, tt)))
                changes.append((tt, armed))
        num = _num(v.get("MainState"))
        if math.isfinite(num) and num != mode:
            mode = num
            name = _MAIN_STATES.get(int(num), str(int(num)))
            events.append((tt, "mode", name, num, *_at(cols, tt)))
    cols["armed"] = _steps(changes, t)
    events.sort(key=lambda e: e[0])
    sysid = _mav_sys_id(rows.get("PARM", []))
    track = Track(f"sysid-{sysid}", sysid, "px4", None, cols, events)
    return track if track.n or events else None


def _steps(changes: list[tuple[float, float]], t: np.ndarray) -> np.ndarray:
    """The armed state at each time from its changes (disarmed before the first STAT)."""
    if not changes:
        return np.zeros(t.size)
    ct = np.array([c[0] for c in changes])
    cv = np.array([c[1] for c in changes])
    idx = np.searchsorted(ct, t, side="right") - 1
    return np.where(idx >= 0, cv[np.clip(idx, 0, None)], cv[0])


def _mav_sys_id(params: list[tuple[float, dict[str, Any]]]) -> int:
    """The MAVLink system id (parameter ``MAV_SYS_ID``), 1 without one."""
    for _t, v in params:
        if v.get("Name") == "MAV_SYS_ID":
            value = float(v.get("Value") or 0)
            if math.isfinite(value) and 0 < value < 256:
                return int(value)
    return 1
