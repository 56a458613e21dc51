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
    CMD_DO_SET_ROI,
    CMD_DO_SET_ROI_LOCATION,
    CMD_DO_SET_ROI_NONE,
    FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_GLOBAL_TERRAIN_ALT,
    FRAME_MISSION,
    MissionItem,
    canonical_frame,
    command_name,
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
def _flag(x: float) -> float:
    return 1.0 if x > 0 else 0.0


def _half(x: float) -> float:
    """Through ArduPilot's ``Float16_t`` (IEEE half precision)."""
    import numpy as np

    with np.errstate(over="ignore"):
        return float(np.float16(x))


def _payload_descent(x: float) -> float:
    """NAV_PAYLOAD_PLACE's maximum descent: uint16 centimetres, read back ``p1 * 0.01f``."""
    return _f32(_f32(U16(_f32(_f32(x) * _f32(100.0)))) * _f32(0.01))


def _engine_height(x: float) -> float:
    """DO_ENGINE_CONTROL's height delay: uint16 centimetres, read back ``cm * 0.01f``."""
    return _f32(_f32(U16(_f32(_f32(x) * _f32(100.0)))) * _f32(0.01))


def _clamped(lo: float, hi: float, conv: Conv) -> Conv:
    """NAV_ATTITUDE_TIME's angles: 0 outside [lo, hi], else ``conv``."""
    return lambda x: conv(x) if lo <= x <= hi else 0.0


_AP: dict[int, tuple[Conv, Conv, Conv, Conv]] = {
    16: (U16, _gone, _gone, _gone),  # NAV_WAYPOINT
    17: (_gone, _gone, _gone, _gone),  # NAV_LOITER_UNLIM (radius: special)
    18: (_gone, _gone, _gone, _gone),  # NAV_LOITER_TURNS (special)
    19: (U16, _gone, _gone, _gone),  # NAV_LOITER_TIME (+ direction/xtrack flags)
    20: (_gone, _gone, _gone, _gone),  # NAV_RETURN_TO_LAUNCH
    21: (U16, _gone, _gone, _gone),  # NAV_LAND (+ param4 direction)
    22: (U16, _gone, _gone, _gone),  # NAV_TAKEOFF: minimum pitch
    30: (U16, _gone, _gone, _gone),  # NAV_CONTINUE_AND_CHANGE_ALT: climb/descend
    31: (_gone, _gone, _gone, _flag),  # NAV_LOITER_TO_ALT (radius: special)
    82: (U16, _gone, _gone, _gone),  # NAV_SPLINE_WAYPOINT: whole-second delay
    83: (F32, F32, U8, _gone),  # NAV_ALTITUDE_WAIT
    84: (_gone, _gone, _gone, _gone),  # NAV_VTOL_TAKEOFF
    85: (U16, _gone, _gone, _gone),  # NAV_VTOL_LAND: options
    92: (U16, _gone, _gone, _gone),  # NAV_GUIDED_ENABLE
    93: (F32, I8, I8, I8),  # NAV_DELAY
    94: (_payload_descent, _gone, _gone, _gone),  # NAV_PAYLOAD_PLACE
    112: (F32, _gone, _gone, _gone),  # CONDITION_DELAY
    114: (F32, _gone, _gone, _gone),  # CONDITION_DISTANCE
    115: (F32, F32, I8, U8),  # CONDITION_YAW
    177: (U16, I16, _gone, _gone),  # DO_JUMP
    178: (U8, F32, F32, _gone),  # DO_CHANGE_SPEED
    179: (U16, _gone, _gone, _gone),  # DO_SET_HOME
    181: (U8, U8, _gone, _gone),  # DO_SET_RELAY: number, state
    182: (U8, I16, F32, _gone),  # DO_REPEAT_RELAY: number, count, cycle time
    183: (U8, U16, _gone, _gone),  # DO_SET_SERVO: channel, PWM
    184: (U8, U16, I16, F32),  # DO_REPEAT_SERVO: channel, PWM, count, cycle time
    188: (_gone, _gone, _gone, _gone),  # DO_RETURN_PATH_START
    189: (_gone, _gone, _gone, _gone),  # DO_LAND_START
    191: (_gone, _gone, _gone, _gone),  # DO_GO_AROUND
    193: (U16, _gone, _gone, _gone),  # DO_PAUSE_CONTINUE
    194: (U16, _gone, _gone, _gone),  # DO_SET_REVERSE
    195: (U16, _gone, _gone, _gone),  # DO_SET_ROI_LOCATION: gimbal device
    197: (U16, _gone, _gone, _gone),  # DO_SET_ROI_NONE: gimbal device
    201: (U16, _gone, _gone, _gone),  # DO_SET_ROI
    202: (U8, U16, U8, U16),  # DO_DIGICAM_CONFIGURE (+ x, y, z)
    203: (U8, U8, I8, U8),  # DO_DIGICAM_CONTROL
    205: (F32, F32, F32, _gone),  # DO_MOUNT_CONTROL (z reads back as 2)
    206: (F32, _gone, U8, _gone),  # DO_SET_CAM_TRIGG_DIST
    207: (U16, _gone, _gone, _gone),  # DO_FENCE_ENABLE
    208: (U16, _gone, _gone, _gone),  # DO_PARACHUTE
    210: (U16, _gone, _gone, _gone),  # DO_INVERTED_FLIGHT
    211: (U8, U8, _gone, _gone),  # DO_GRIPPER: number, action
    212: (U16, _gone, _gone, _gone),  # DO_AUTOTUNE_ENABLE
    213: (F32, F32, U8, _gone),  # NAV_SET_YAW_SPEED
    215: (U16, _gone, _gone, _gone),  # DO_SET_RESUME_REPEAT_DIST
    216: (U16, _gone, _gone, _gone),  # DO_SPRAYER
    217: (U16, F32, F32, F32),  # DO_SEND_SCRIPT_MESSAGE
    218: (U16, U8, _gone, _gone),  # DO_AUX_FUNCTION: function, switch position
    222: (U16, F32, F32, F32),  # DO_GUIDED_LIMITS
    223: (_flag, _flag, _engine_height, lambda x: float(int(U16(x)) & 1)),  # DO_ENGINE_CONTROL
    531: (U8, F32, _gone, _gone),  # SET_CAMERA_ZOOM
    532: (U8, F32, _gone, _gone),  # SET_CAMERA_FOCUS
    534: (U8, U8, U8, _gone),  # SET_CAMERA_SOURCE
    600: (U16, _gone, _gone, _gone),  # JUMP_TAG
    601: (U16, I16, _gone, _gone),  # DO_JUMP_TAG
    1000: (I8, I16, I8, I8),  # DO_GIMBAL_MANAGER_PITCHYAW
    2000: (U8, F32, U16, U16),  # IMAGE_START_CAPTURE
    2001: (U8, _gone, _gone, _gone),  # IMAGE_STOP_CAPTURE
    2500: (U8, _gone, _gone, _gone),  # VIDEO_START_CAPTURE: stream
    2501: (U8, _gone, _gone, _gone),  # VIDEO_STOP_CAPTURE: stream
    3000: (U8, _gone, _gone, _gone),  # DO_VTOL_TRANSITION: state
    42600: (U8, U8, F32, F32),  # DO_WINCH: number, action, length, rate
    42702: (U8, U8, _half, _half),  # NAV_SCRIPT_TIME (+ x, y as int16)
    42703: (  # NAV_ATTITUDE_TIME (+ x: climb rate, int16)
        lambda x: U16(min(max(x, 0.0), 65535.0)),
        _clamped(-180.0, 180.0, I16),
        _clamped(-90.0, 90.0, I8),
        _clamped(-180.0, 360.0, I16),
    ),
}
#: AP_Mission::stored_in_location (the commands of _AP that keep x/y/z as a location)
_AP_LOCATION = frozenset(
    {16, 17, 18, 19, 21, 22, 30, 31, 82, 84, 85, 92, 94, 179, 188, 189, 191, 195, 201}
)
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
        # turns in p1's low byte (0 < turns < 1: times 256, flagged), the radius in its high
        # byte (above 255 m: a tenth, flagged); p1 = MIN(255, turns) | radius << 8, so a
        # negative count (a uint16 of 65534 for -2) also fills the radius's byte
        t = _f32(p[0])
        fraction = 0 < t < 1
        low = int(U16(min(255.0, _f32(t * 256.0) if fraction else t)))
        r = abs(_f32(p[2]))
        big = r > 255
        p1 = low | (int(U8(min(255.0, r * 0.1) if big else r)) << 8)
        out[0] = (p1 & 0xFF) / 256.0 if fraction else float(p1 & 0xFF)
        radius = float((p1 >> 8) & 0xFF) * (10.0 if big else 1.0)
        out[2] = -radius if p[2] < 0 else radius
        out[3] = 1.0 if p[3] > 0 else 0.0
    elif c == 19:
        out[2] = -1.0 if p[2] < 0 else 1.0
        out[3] = 1.0 if p[3] > 0 else 0.0
    elif c == 21:
        out[3] = -1.0 if (not math.isnan(p[3]) and p[3] < 0) else 1.0
    elif c == 31:  # the radius's size in p1, its sign as loiter_ccw
        radius = U16(abs(p[1]))
        out[1] = -radius if p[1] < 0 else radius
    return out


def _ardupilot(item: MissionItem) -> MissionItem:
    if item.command not in _AP:
        return item  # the firmware refuses it (MAV_MISSION_UNSUPPORTED): nothing to predict
    p = _ap_params(item)
    frame, lat, lon, alt = FRAME_GLOBAL, 0.0, 0.0, 0.0
    if item.command in _AP_LOCATION:
        frame = _AP_FRAMES.get(canonical_frame(item.frame), canonical_frame(item.frame))
        x, y = item.wire_xy()
        lat, lon = x / 1e7, y / 1e7
        alt = _ap_alt_m(item.alt_m)
    elif item.command in (202, 203, 1000):  # x/y/z are small integers there, not a position
        x, y = item.wire_xy()
        lat = U8(x) / 1e7
        lon = U8(y) / 1e7 if item.command != 1000 else 0.0
        alt = {202: _f32(item.alt_m), 1000: U8(item.alt_m)}.get(item.command, 0.0)
    elif item.command == 205:
        alt = 2.0  # MAV_MOUNT_MODE_MAVLINK_TARGETING, whatever was sent
    elif item.command == 42702:  # arguments 3 and 4 in x/y as int16
        x, y = item.wire_xy()
        lat, lon = I16(x) / 1e7, I16(y) / 1e7
    elif item.command == 42703:  # the climb rate in x as int16
        lat = I16(item.wire_xy()[0]) / 1e7  # y unused
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


_PX4_GLOBAL: dict[int, tuple[Conv, Conv, Conv, Conv]] = {
    16: (F32, F32, _gone, _yaw),  # NAV_WAYPOINT: hold, acceptance radius, -, yaw
    17: (_gone, _gone, F32, _yaw),  # NAV_LOITER_UNLIM
    19: (F32, _flag, F32, _flag),  # NAV_LOITER_TIME
    21: (_gone, U16, _gone, _yaw),  # NAV_LAND
    22: (_gone, _gone, _gone, _yaw),  # NAV_TAKEOFF
    31: (_flag, F32, _gone, _flag),  # NAV_LOITER_TO_ALT: heading flag, radius, -, exit flag
    80: (_gone, _gone, _gone, _gone),  # NAV_ROI: stored and reported as DO_SET_ROI
    84: (_gone, _gone, _gone, _yaw),  # NAV_VTOL_TAKEOFF
    85: (_gone, _gone, _gone, _yaw),  # NAV_VTOL_LAND
    195: (_gone, _gone, _gone, _gone),  # DO_SET_ROI_LOCATION
    201: (_gone, _gone, _gone, _gone),  # DO_SET_ROI (its mode is kept but not reported)
}
#: PX4 ``parse_mavlink_mission_item``: the commands it takes only in MAV_FRAME_MISSION
#: (they carry no position; in a global frame PX4 refuses them as MAV_MISSION_UNSUPPORTED)
PX4_MISSION_FRAME_ONLY = frozenset(
    {
        20,
        93,
        112,
        114,
        177,
        178,
        179,
        187,
        189,
        196,
        197,
        200,
        203,
        204,
        205,
        206,
        211,
        214,
        260,
        530,
        532,
        534,
        1000,
        1001,
        2000,
        2001,
        2003,
        2500,
        2501,
        3000,
        42600,
    }
)


#: the NAV commands PX4 flies to the position of (``MissionBlock::item_contains_position``; a
#: take-off, once climbed, becomes a waypoint at its own position): latitude = longitude = 0,
#: ArduPilot's "where the aircraft is" (``ModeAuto::loc_from_cmd``, ``do_land``), is 0°N 0°E there
PX4_FLIES_TO = frozenset({16, 17, 19, 21, 22, 31, 84, 85})

#: the NAV commands of :data:`PX4_FLIES_TO` whose altitude 0 at latitude = longitude = 0 keeps
#: the aircraft's altitude on ArduPilot (a take-off climbs, a landing descends whatever it says)
_KEEPS_ALTITUDE = frozenset({16, 17, 19, 31})


def here_positions(items: Sequence[MissionItem]) -> dict[int, tuple[float, float] | None]:
    """Where ArduPilot flies each NAV item at latitude = longitude = 0 ("here", as Mission
    Planner writes a take-off or a landing), by index: where the aircraft is when the item
    starts, the place the safety guard's walk of the mission has it too. ``None`` is the launch
    point (before any positioned item and after an RTL), otherwise the last positioned NAV
    item's place (DO_JUMPs not followed: the item before one in the list).

    >>> from dronekit_plzen.mission_items import MissionItem
    >>> wp = MissionItem(command=16, frame=3, lat_deg=49.75, lon_deg=13.38, alt_m=20)
    >>> here = MissionItem(command=21, frame=3)  # NAV_LAND at 0, 0
    >>> up = MissionItem(command=22, frame=3, alt_m=20)  # NAV_TAKEOFF at 0, 0
    >>> here_positions([up, wp, here])
    {0: None, 2: (49.75, 13.38)}
    """
    out: dict[int, tuple[float, float] | None] = {}
    at: tuple[float, float] | None = None
    for k, it in enumerate(items):
        if it.mission_type != 0:
            continue
        if it.command == 20:  # NAV_RETURN_TO_LAUNCH
            at = None
        elif it.command in PX4_FLIES_TO:
            if it.lat_deg == 0.0 and it.lon_deg == 0.0:
                out[k] = at
            else:
                at = (it.lat_deg, it.lon_deg)
    return out


def keeps_altitude_here(item: MissionItem) -> bool:
    """True for an item of :func:`here_positions` that ArduPilot flies where the aircraft is
    *at its altitude* (altitude 0 on a waypoint or loiter): an altitude no other firmware is
    told. A take-off climbs and a landing descends whatever their altitude says."""
    return item.command in _KEEPS_ALTITUDE and item.alt_m == 0.0


#: MAV_ROI_LOCATION, the mode of DO_SET_ROI / NAV_ROI that carries a place
MAV_ROI_LOCATION = 3
#: MAV_CMD_NAV_ROI (ArduPilot's older name of DO_SET_ROI)
CMD_NAV_ROI = 80


def roi_off(item: MissionItem) -> bool:
    """True for a region of interest at latitude, longitude and altitude 0, which ArduCopter takes
    as "ROI off" (``AutoYaw::set_roi``: yaw back to its default, the mount's target cleared; the
    altitude is compared in whole centimetres). PX4 points the aircraft at it, 0°N 0°E
    (``Navigator``: the ROI's place from the command; ``MissionBase::heading_sp_update`` yaws a
    multicopter toward it when MIS_MNT_YAW_CTL is 0, the default).

    >>> roi_off(MissionItem(command=195, frame=3))
    True
    >>> roi_off(MissionItem(command=195, frame=3, lat_deg=49.75, lon_deg=13.38))
    False
    """
    if item.mission_type != 0:
        return False
    located = item.command == CMD_DO_SET_ROI_LOCATION or (
        item.command in (CMD_DO_SET_ROI, CMD_NAV_ROI) and item.param1 == MAV_ROI_LOCATION
    )
    return located and item.lat_deg == 0.0 and item.lon_deg == 0.0 and abs(item.alt_m) < 0.01


def roi_none(item: MissionItem) -> MissionItem:
    """The DO_SET_ROI_NONE that says to PX4 what ``item`` (:func:`roi_off`) says to ArduCopter,
    for the same gimbal (DO_SET_ROI_LOCATION's param1; all of them for DO_SET_ROI)."""
    gimbal = item.param1 if item.command == CMD_DO_SET_ROI_LOCATION else 0.0
    return MissionItem(
        command=CMD_DO_SET_ROI_NONE,
        frame=FRAME_MISSION,
        param1=gimbal,
        mission_type=item.mission_type,
        autocontinue=item.autocontinue,
    )


def roi_placed(item: MissionItem) -> bool:
    """True for a DO_SET_ROI (or NAV_ROI) at a place other than 0°N 0°E whose mode is 0 or
    MAV_ROI_LOCATION: ArduCopter points the aircraft at the place whatever the mode
    (``ModeAuto::do_roi`` takes only the item's location; Mission Planner writes mode 0). PX4
    takes mode 0 as "ROI none" and, for MAV_ROI_LOCATION, copies only the mode to its ROI
    (``Navigator``: ``_vroi.mode = cmd.param1``, the place left at 0, 0): the aircraft would face
    0°N 0°E. The place goes to PX4 as DO_SET_ROI_LOCATION (:func:`roi_location`).

    >>> roi_placed(MissionItem(command=201, frame=3, lat_deg=49.75, lon_deg=13.38))
    True
    >>> roi_placed(MissionItem(command=201, frame=3, param1=1.0, lat_deg=49.75, lon_deg=13.38))
    False
    """
    return (
        item.mission_type == 0
        and item.command in (CMD_DO_SET_ROI, CMD_NAV_ROI)
        and item.param1 in (0.0, float(MAV_ROI_LOCATION))
        and not (item.lat_deg == 0.0 and item.lon_deg == 0.0)
        and canonical_frame(item.frame) in (FRAME_GLOBAL, FRAME_GLOBAL_RELATIVE_ALT)
    )


def roi_location(item: MissionItem) -> MissionItem:
    """The DO_SET_ROI_LOCATION that points PX4 where ``item`` (:func:`roi_placed`) points
    ArduCopter: the same place, altitude and frame, for every gimbal (param1 0)."""
    return MissionItem(
        command=CMD_DO_SET_ROI_LOCATION,
        frame=item.frame,
        lat_deg=item.lat_deg,
        lon_deg=item.lon_deg,
        alt_m=item.alt_m,
        mission_type=item.mission_type,
        autocontinue=item.autocontinue,
    )


def px4_roi(item: MissionItem) -> MissionItem:
    """``item`` as PX4 must be told the region of interest ArduCopter takes from it: "ROI off"
    (:func:`roi_off`) as DO_SET_ROI_NONE, a DO_SET_ROI at a place (:func:`roi_placed`) as
    DO_SET_ROI_LOCATION; any other item as it is."""
    if roi_off(item):
        return roi_none(item)
    if roi_placed(item):
        return roi_location(item)
    return item


def for_autopilot(item: MissionItem, autopilot: str) -> MissionItem:
    """``item`` as it is sent to ``autopilot``: for PX4, a command that carries no position goes
    in MAV_FRAME_MISSION, the only frame PX4 takes it in (Mission Planner writes most of them in
    the relative frame). Other items and autopilots unchanged."""
    if (
        autopilot == "px4"
        and item.mission_type == 0
        and item.command in PX4_MISSION_FRAME_ONLY
        and canonical_frame(item.frame) in (FRAME_GLOBAL, FRAME_GLOBAL_RELATIVE_ALT)
    ):
        return item.with_(frame=FRAME_MISSION)  # x/y/z travel as sent: PX4 keeps them as params
    return item


def _px4(item: MissionItem) -> MissionItem:
    frame = canonical_frame(item.frame)
    p = (item.param1, item.param2, item.param3, item.param4)
    x, y = item.wire_xy()
    if frame in (FRAME_GLOBAL, FRAME_GLOBAL_RELATIVE_ALT):
        convs = _PX4_GLOBAL.get(item.command)
        if convs is None:
            return item  # refused by the firmware
        q = [conv(v) for conv, v in zip(convs, p)]
        return item.with_(
            command=201 if item.command == 80 else item.command,
            frame=frame,
            param1=q[0],
            param2=q[1],
            param3=q[2],
            param4=q[3],
            lat_deg=x / 1e7,
            lon_deg=y / 1e7,
            alt_m=_f32(item.alt_m),
        )
    if frame != FRAME_MISSION:
        return item  # refused (terrain frames and others)
    q = [_f32(v) for v in p]
    if item.command == 80:  # NAV_ROI: stored as DO_SET_ROI
        item = item.with_(command=201)
    if item.command == 177:  # DO_JUMP: int16 index, uint16 repeat count
        q[0], q[1] = I16(item.param1), U16(item.param2)
    return item.with_(
        param1=q[0],
        param2=q[1],
        param3=q[2],
        param4=q[3],
        lat_deg=_f32(x) / 1e7,
        lon_deg=_f32(y) / 1e7,
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
        i=m.index + 1, cmd=command_name(m.command), what="; ".join(parts)
    )
