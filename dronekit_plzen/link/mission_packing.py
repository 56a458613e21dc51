"""What an autopilot stores for a mission item, and the comparison that verifies an upload.

Autopilots do not store a mission item as it was sent, so a download never returns the exact
bytes of an upload. Verification compares the downloaded items with :func:`stored_form`, the
item as the firmware stores and reports it, field by field with per-field tolerances.

ArduPilot (``libraries/AP_Mission/AP_Mission.cpp``, ``mavlink_int_to_mission_cmd`` and
``mission_cmd_to_mavlink_int``; ArduCopter build):

* a command keeps a 16-bit ``p1`` and 12 bytes: NAV_WAYPOINT keeps only the delay (whole
  seconds; acceptance and pass radius and yaw are Plane-only or dropped), NAV_TAKEOFF the
  minimum pitch, LOITER_TIME the time plus the turn direction (param3 ±1) and the crosstrack
  flag (param4), DO_JUMP the target (uint16) and repeat count (int16), DO_CHANGE_SPEED the speed
  type (uint8), speed and throttle (float), DO_SET_CAM_TRIGG_DIST the distance (float) and
  "trigger now" (uint8 in param3), DO_SET_ROI the ROI mode (uint16); every other parameter
  reads back as 0, never NaN;
* the location keeps lat/lon in 1e-7 degrees and the altitude in whole centimetres, truncated
  from ``z * 100.0f``; its frame reads back as MAV_FRAME_GLOBAL, GLOBAL_RELATIVE_ALT or
  GLOBAL_TERRAIN_ALT (never the *_INT numbers), and commands without a location read back in
  MAV_FRAME_GLOBAL with x/y/z 0; autocontinue reads back as 1; seq 0 is home.

PX4 (``src/modules/mavlink/mavlink_mission.cpp``, ``parse_mavlink_mission_item`` /
``format_mavlink_mission_item``; ``mission_item_s`` in dataman):

* items in a global frame keep double lat/lon, a float altitude and only their command's fields:
  NAV_WAYPOINT hold time, acceptance radius and yaw (param4 wrapped to [0, 360), NaN kept),
  NAV_TAKEOFF the yaw only, LOITER_TIME time, heading flag, radius and exit flag, NAV_LAND the
  precision-land mode and yaw; other params read back as 0; the frame reads back as the *_INT
  variant to MISSION_REQUEST_INT (which our download uses);
* MAV_FRAME_MISSION items keep param1..7 as float (NaN kept); DO_JUMP keeps an int16 target and
  a uint16 repeat count.

The simulator implements the same rules separately (``simulators.mission_store``); tests check
the two against each other.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dronekit_plzen.mission_items import (
    FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_GLOBAL_TERRAIN_ALT,
    FRAME_MISSION,
    MissionItem,
    canonical_frame,
)

Conv = Callable[[float], float]


def _f32(x: float) -> float:
    """The value as an IEEE single (NaN and infinities kept, overflow to infinity)."""
    if math.isnan(x) or math.isinf(x):
        return x
    try:
        return float(struct.unpack("<f", struct.pack("<f", x))[0])
    except OverflowError:
        return math.copysign(math.inf, x)


def _cast(bits: int, signed: bool) -> Conv:
    """A C cast from float to an integer type (truncation, then wrap-around)."""
    mod = 1 << bits

    def conv(x: float) -> float:
        if not math.isfinite(x):
            return 0.0
        v = int(x) % mod  # int() truncates toward zero like C
        return float(v - mod if signed and v >= mod // 2 else v)

    return conv


U8, I8, U16, I16 = _cast(8, False), _cast(8, True), _cast(16, False), _cast(16, True)
F32: Conv = _f32


def _gone(_x: float) -> float:
    return 0.0


# --------------------------------------------------------------------------- ArduPilot
_AP: dict[int, tuple[Conv, Conv, Conv, Conv]] = {
    16: (U16, _gone, _gone, _gone),  # NAV_WAYPOINT
    17: (_gone, _gone, _gone, _gone),  # NAV_LOITER_UNLIM (radius: special)
    18: (_gone, _gone, _gone, _gone),  # NAV_LOITER_TURNS (special)
    19: (U16, _gone, _gone, _gone),  # NAV_LOITER_TIME (+ direction/xtrack flags)
    20: (_gone, _gone, _gone, _gone),  # NAV_RETURN_TO_LAUNCH
    21: (U16, _gone, _gone, _gone),  # NAV_LAND (+ param4 direction)
    22: (U16, _gone, _gone, _gone),  # NAV_TAKEOFF: minimum pitch
    93: (F32, I8, I8, I8),  # NAV_DELAY
    112: (F32, _gone, _gone, _gone),  # CONDITION_DELAY
    115: (F32, F32, I8, U8),  # CONDITION_YAW
    177: (U16, I16, _gone, _gone),  # DO_JUMP
    178: (U8, F32, F32, _gone),  # DO_CHANGE_SPEED
    179: (U16, _gone, _gone, _gone),  # DO_SET_HOME
    189: (_gone, _gone, _gone, _gone),  # DO_LAND_START
    195: (_gone, _gone, _gone, _gone),  # DO_SET_ROI_LOCATION
    197: (_gone, _gone, _gone, _gone),  # DO_SET_ROI_NONE
    201: (U16, _gone, _gone, _gone),  # DO_SET_ROI
    203: (U8, U8, I8, U8),  # DO_DIGICAM_CONTROL
    205: (F32, F32, F32, _gone),  # DO_MOUNT_CONTROL
    206: (F32, _gone, U8, _gone),  # DO_SET_CAM_TRIGG_DIST
    1000: (I8, I16, I8, I8),  # DO_GIMBAL_MANAGER_PITCHYAW
    2000: (U8, F32, U16, U16),  # IMAGE_START_CAPTURE
    2001: (U8, _gone, _gone, _gone),  # IMAGE_STOP_CAPTURE
}
#: AP_Mission::stored_in_location (the commands of _AP that keep x/y/z as a location)
_AP_LOCATION = frozenset({16, 17, 18, 19, 21, 22, 179, 189, 195, 201})
_AP_FRAMES = {
    FRAME_GLOBAL: FRAME_GLOBAL,
    FRAME_MISSION: FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT: FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_GLOBAL_TERRAIN_ALT: FRAME_GLOBAL_TERRAIN_ALT,
}


def _ap_alt_m(alt_m: float) -> float:
    """Altitude through Location's int32 centimetres: ``(int32)(z * 100.0f) * 0.01f``."""
    cm = _cast(24, True)(_f32(_f32(alt_m) * _f32(100.0)))
    return _f32(_f32(cm) * _f32(0.01))


def _ap_params(item: MissionItem) -> list[float]:
    c, p = item.command, [item.param1, item.param2, item.param3, item.param4]
    out = [conv(v) for conv, v in zip(_AP[c], p)]
    if c == 17:
        radius = U16(abs(p[2]))
        out[2] = -radius if p[2] < 0 else radius
    elif c == 18:
        turns = min(255, int(U16(p[0])))
        out[0] = float(turns & 0xFF)
        r = abs(p[2])
        radius = U8(r) if r <= 255 else min(255.0, U8(r * 0.1)) * 10.0
        out[2] = -radius if p[2] < 0 else radius
        out[3] = 1.0 if p[3] > 0 else 0.0
    elif c == 19:
        out[2] = -1.0 if p[2] < 0 else 1.0
        out[3] = 1.0 if p[3] > 0 else 0.0
    elif c == 21:
        out[3] = -1.0 if (not math.isnan(p[3]) and p[3] < 0) else 1.0
    return out


def _ardupilot(item: MissionItem) -> MissionItem:
    if item.command not in _AP:
        return item  # the firmware refuses it (MAV_MISSION_UNSUPPORTED): nothing to predict
    p = _ap_params(item)
    frame, lat, lon, alt = FRAME_GLOBAL, 0.0, 0.0, 0.0
    if item.command in _AP_LOCATION:
        frame = _AP_FRAMES.get(canonical_frame(item.frame), canonical_frame(item.frame))
        lat, lon = round(item.lat_deg * 1e7) / 1e7, round(item.lon_deg * 1e7) / 1e7
        alt = _ap_alt_m(item.alt_m)
    elif item.command in (203, 1000):  # x/y/z are small integers there, not a position
        lat = U8(round(item.lat_deg * 1e7)) / 1e7
        lon = U8(round(item.lon_deg * 1e7)) / 1e7 if item.command == 203 else 0.0
        alt = U8(item.alt_m) if item.command == 1000 else 0.0
    return item.with_(
        frame=frame,
        param1=p[0],
        param2=p[1],
        param3=p[2],
        param4=p[3],
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        autocontinue=True,
    )


# --------------------------------------------------------------------------- PX4
def _yaw(x: float) -> float:
    """``degrees(wrap_2pi(radians(x)))`` in float."""
    if math.isnan(x):
        return x
    rad = _f32(math.radians(x))
    rad -= 2.0 * math.pi * math.floor(rad / (2.0 * math.pi))
    return _f32(math.degrees(_f32(rad)))


def _flag(x: float) -> float:
    return 1.0 if x > 0 else 0.0


_PX4_GLOBAL: dict[int, tuple[Conv, Conv, Conv, Conv]] = {
    16: (F32, F32, _gone, _yaw),  # NAV_WAYPOINT: hold, acceptance radius, -, yaw
    17: (_gone, _gone, F32, _yaw),  # NAV_LOITER_UNLIM
    19: (F32, _flag, F32, _flag),  # NAV_LOITER_TIME
    21: (_gone, U16, _gone, _yaw),  # NAV_LAND
    22: (_gone, _gone, _gone, _yaw),  # NAV_TAKEOFF
    195: (_gone, _gone, _gone, _gone),  # DO_SET_ROI_LOCATION
    201: (F32, _gone, _gone, _gone),  # DO_SET_ROI
}


def _px4(item: MissionItem) -> MissionItem:
    frame = canonical_frame(item.frame)
    p = (item.param1, item.param2, item.param3, item.param4)
    if frame in (FRAME_GLOBAL, FRAME_GLOBAL_RELATIVE_ALT):
        convs = _PX4_GLOBAL.get(item.command)
        if convs is None:
            return item  # refused by the firmware
        q = [conv(v) for conv, v in zip(convs, p)]
        return item.with_(
            frame=frame,
            param1=q[0],
            param2=q[1],
            param3=q[2],
            param4=q[3],
            lat_deg=round(item.lat_deg * 1e7) / 1e7,
            lon_deg=round(item.lon_deg * 1e7) / 1e7,
            alt_m=_f32(item.alt_m),
        )
    if frame != FRAME_MISSION:
        return item  # refused (terrain frames and others)
    q = [_f32(v) for v in p]
    if item.command == 177:  # DO_JUMP: int16 index, uint16 repeat count
        q[0], q[1] = I16(item.param1), U16(item.param2)
    return item.with_(
        param1=q[0],
        param2=q[1],
        param3=q[2],
        param4=q[3],
        lat_deg=_f32(round(item.lat_deg * 1e7)) / 1e7,
        lon_deg=_f32(round(item.lon_deg * 1e7)) / 1e7,
        alt_m=_f32(item.alt_m),
    )


def stored_form(item: MissionItem, autopilot: str) -> MissionItem:
    """``item`` as ``autopilot`` ("ardupilot", "px4") stores it and reports it on download.

    Frames are given in their plain form (compare with :func:`~dronekit_plzen.mission_items.
    canonical_frame`). Fence (and ArduPilot's rally) items read back with autocontinue 0; other
    autopilots' items unchanged.

    >>> from dronekit_plzen.mission_items import MissionItem
    >>> wp = MissionItem(16, frame=6, param1=2.5, param2=3.0, alt_m=45.678)
    >>> back = stored_form(wp, "ardupilot")
    >>> back.frame, back.param1, back.param2, round(back.alt_m, 4)
    (3, 2.0, 0.0, 45.67)
    """
    if item.mission_type != 0:
        # read back with autocontinue 0: fence vertices on both, rally points on ArduPilot only
        # (seen on ArduCopter 4.7-dev and PX4 v1.16 SITL); their other fields as sent
        cleared = item.mission_type == 1 or (item.mission_type == 2 and autopilot == "ardupilot")
        if cleared and autopilot in ("ardupilot", "px4"):
            return item.with_(autocontinue=False)
        return item
    if autopilot == "ardupilot":
        return _ardupilot(item)
    if autopilot == "px4":
        return _px4(item)
    return item


# --------------------------------------------------------------------------- comparison
#: field → (absolute tolerance, relative tolerance) when comparing with the stored form
TOLERANCES: dict[str, tuple[float, float]] = {
    "param1": (1e-4, 1e-6),
    "param2": (1e-4, 1e-6),
    "param3": (1e-4, 1e-6),
    "param4": (1e-3, 1e-6),
    "lat_deg": (1.1e-7, 0.0),
    "lon_deg": (1.1e-7, 0.0),
    "alt_m": (2e-3, 0.0),
}


@dataclass(frozen=True)
class FieldDiff:
    """One field that differs: the value sent, the value expected back, the value stored."""

    name: str
    sent: float
    expected: float
    stored: float


@dataclass(frozen=True)
class Mismatch:
    """The first item that differs after an upload (``index`` in the uploaded list)."""

    index: int
    command: int
    diffs: tuple[FieldDiff, ...]
    sent_count: int = 0
    stored_count: int = 0

    @property
    def count_differs(self) -> bool:
        return self.sent_count != self.stored_count


def command_name(command: int) -> str:
    """``NAV_WAYPOINT`` for 16 (MAV_CMD name without its prefix), else the number."""
    from pymavlink.dialects.v20 import ardupilotmega as mav

    entry = mav.enums["MAV_CMD"].get(command)
    return entry.name.removeprefix("MAV_CMD_") if entry is not None else str(command)


def _same(a: float, b: float, tol: tuple[float, float]) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= max(tol[0], tol[1] * max(abs(a), abs(b)))


def item_diffs(sent: MissionItem, stored: MissionItem, autopilot: str) -> tuple[FieldDiff, ...]:
    """Fields of ``stored`` (downloaded) that differ from what ``sent`` should have become."""
    exp = stored_form(sent, autopilot)
    out: list[FieldDiff] = []
    if exp.command != stored.command:
        out.append(FieldDiff("command", sent.command, exp.command, stored.command))
    if canonical_frame(exp.frame) != canonical_frame(stored.frame):
        out.append(FieldDiff("frame", sent.frame, exp.frame, stored.frame))
    for name, tol in TOLERANCES.items():
        e, s = getattr(exp, name), getattr(stored, name)
        if not _same(e, s, tol):
            out.append(FieldDiff(name, getattr(sent, name), e, s))
    if exp.autocontinue != stored.autocontinue:
        out.append(
            FieldDiff(
                "autocontinue",
                float(sent.autocontinue),
                float(exp.autocontinue),
                float(stored.autocontinue),
            )
        )
    return tuple(out)


def first_mismatch(
    sent: Sequence[MissionItem], stored: Sequence[MissionItem], autopilot: str
) -> Mismatch | None:
    """The first item whose download differs from its stored form, or a count mismatch."""
    for i, (a, b) in enumerate(zip(sent, stored)):
        diffs = item_diffs(a, b, autopilot)
        if diffs:
            return Mismatch(i, a.command, diffs, len(sent), len(stored))
    if len(sent) != len(stored):
        i = min(len(sent), len(stored))
        cmd = sent[i].command if i < len(sent) else stored[i].command
        return Mismatch(i, cmd, (), len(sent), len(stored))
    return None


def _num(x: float) -> str:
    if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
        return f"{x:.1f}"
    return f"{x:.9g}"


def describe(m: Mismatch) -> str:
    """The user-facing sentence for a verification failure (one line)."""
    from dronekit_plzen.i18n import _

    if not m.diffs:
        return _(
            "verification failed: the vehicle holds {stored} items after upload, {sent} were sent"
        ).format(stored=m.stored_count, sent=m.sent_count)
    parts = []
    for d in m.diffs:
        fmt = (lambda x: str(int(x))) if d.name in ("frame", "command") else _num
        if _same(d.sent, d.expected, TOLERANCES.get(d.name, (0.0, 0.0))):
            parts.append(
                _("{field} {sent} sent, {stored} stored").format(
                    field=d.name, sent=fmt(d.sent), stored=fmt(d.stored)
                )
            )
        else:  # the firmware changes this field: say what it should have become
            parts.append(
                _("{field} {sent} sent (stored as {expected}), {stored} stored").format(
                    field=d.name,
                    sent=fmt(d.sent),
                    expected=fmt(d.expected),
                    stored=fmt(d.stored),
                )
            )
    return _("verification failed: item {i} ({cmd}) differs after upload: {what}").format(
        i=m.index, cmd=command_name(m.command), what="; ".join(parts)
    )
