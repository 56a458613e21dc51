"""Stored missions, fences and rally points of one vehicle, and the checks the firmware applies.

Pure: no I/O. Item validation returns MAV_MISSION_RESULT codes the way PX4's
``mavlink_mission.cpp`` / ArduPilot's ``MissionItemProtocol`` reject items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dronekit_plzen import mission_items as mi
from simulators.physics import Geodetic

# MAV_MISSION_RESULT
MISSION_ACCEPTED = 0
MISSION_ERROR = 1
MISSION_UNSUPPORTED_FRAME = 2
MISSION_UNSUPPORTED = 3
MISSION_NO_SPACE = 4
MISSION_INVALID = 5
MISSION_INVALID_PARAM1 = 6
MISSION_INVALID_SEQUENCE = 13
MISSION_DENIED = 14
MISSION_OPERATION_CANCELLED = 15

CMD_DO_VTOL_TRANSITION = 3000

FENCE_COMMANDS = frozenset(
    {
        mi.CMD_NAV_FENCE_RETURN_POINT,
        mi.CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
        mi.CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
        mi.CMD_NAV_FENCE_CIRCLE_INCLUSION,
        mi.CMD_NAV_FENCE_CIRCLE_EXCLUSION,
    }
)
RALLY_COMMANDS = frozenset({mi.CMD_NAV_RALLY_POINT})
POSITION_FRAMES = frozenset(
    {
        mi.FRAME_GLOBAL,
        mi.FRAME_GLOBAL_RELATIVE_ALT,
        mi.FRAME_GLOBAL_INT,
        mi.FRAME_GLOBAL_RELATIVE_ALT_INT,
        mi.FRAME_GLOBAL_TERRAIN_ALT,
        mi.FRAME_GLOBAL_TERRAIN_ALT_INT,
    }
)
MAX_ITEMS = {mi.MISSION_TYPE_MISSION: 1000, mi.MISSION_TYPE_FENCE: 256, mi.MISSION_TYPE_RALLY: 32}


def check_item(item: mi.MissionItem, autopilot: str) -> int:
    """MAV_MISSION_RESULT for one uploaded item (ACCEPTED when the firmware would store it)."""
    if item.mission_type == mi.MISSION_TYPE_MISSION:
        in_range = -90.0 <= item.lat_deg <= 90.0 and -180.0 <= item.lon_deg <= 180.0
        positional = item.command in mi.POSITION_COMMANDS and item.command != mi.CMD_NAV_TAKEOFF
        if autopilot == "px4" and positional and not in_range:
            return MISSION_INVALID
        return store_item(item, autopilot)[0]  # each firmware's own command and frame rules
    allowed = {
        mi.MISSION_TYPE_FENCE: FENCE_COMMANDS,
        mi.MISSION_TYPE_RALLY: RALLY_COMMANDS,
    }.get(item.mission_type)
    if allowed is None:
        return MISSION_INVALID
    if item.command not in allowed:
        return MISSION_UNSUPPORTED
    positional = item.command in mi.POSITION_COMMANDS and item.command != mi.CMD_DO_SET_HOME
    if positional and item.frame not in POSITION_FRAMES:
        return MISSION_UNSUPPORTED_FRAME
    if not positional and item.frame not in POSITION_FRAMES | {mi.FRAME_MISSION}:
        return MISSION_UNSUPPORTED_FRAME
    in_range = -90.0 <= item.lat_deg <= 90.0 and -180.0 <= item.lon_deg <= 180.0
    if positional and item.command != mi.CMD_NAV_TAKEOFF and autopilot == "px4" and not in_range:
        return MISSION_INVALID
    if (
        item.command
        in (
            mi.CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            mi.CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
        )
        and item.param1 < 3
    ):
        return MISSION_INVALID_PARAM1
    circle = (mi.CMD_NAV_FENCE_CIRCLE_INCLUSION, mi.CMD_NAV_FENCE_CIRCLE_EXCLUSION)
    if item.command in circle and item.param1 <= 0:
        return MISSION_INVALID_PARAM1
    return MISSION_ACCEPTED


def _inside_polygon(x: float, y: float, poly: list[tuple[float, float]]) -> bool:
    inside = False
    n = len(poly)
    j = n - 1
    for i in range(n):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


@dataclass
class FenceGeometry:
    """Fence regions in the local ENU frame (metres)."""

    inclusion_polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    exclusion_polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    inclusion_circles: list[tuple[float, float, float]] = field(default_factory=list)
    exclusion_circles: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.inclusion_polygons
            or self.exclusion_polygons
            or self.inclusion_circles
            or self.exclusion_circles
        )

    def breached(self, east_m: float, north_m: float) -> bool:
        """True if the point is outside every inclusion region or inside an exclusion one."""
        inclusions = self.inclusion_polygons or self.inclusion_circles
        if inclusions:
            inside_any = any(_inside_polygon(east_m, north_m, p) for p in self.inclusion_polygons)
            inside_any = inside_any or any(
                math.hypot(east_m - e, north_m - n) <= r for e, n, r in self.inclusion_circles
            )
            if not inside_any:
                return True
        if any(_inside_polygon(east_m, north_m, p) for p in self.exclusion_polygons):
            return True
        return any(math.hypot(east_m - e, north_m - n) < r for e, n, r in self.exclusion_circles)


def fence_geometry(items: list[mi.MissionItem], geo: Geodetic) -> FenceGeometry:
    """Group fence items (vertex count in param1) into polygons and circles."""
    fg = FenceGeometry()
    i = 0
    while i < len(items):
        it = items[i]
        e, n, _u = geo.to_enu(it.lat_deg, it.lon_deg, geo.alt0_m)
        if it.command in (
            mi.CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            mi.CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
        ):
            count = max(3, int(it.param1))
            verts = [geo.to_enu(v.lat_deg, v.lon_deg, geo.alt0_m)[:2] for v in items[i : i + count]]
            target = (
                fg.inclusion_polygons
                if it.command == mi.CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
                else fg.exclusion_polygons
            )
            target.append(verts)
            i += count
            continue
        if it.command == mi.CMD_NAV_FENCE_CIRCLE_INCLUSION:
            fg.inclusion_circles.append((e, n, it.param1))
        elif it.command == mi.CMD_NAV_FENCE_CIRCLE_EXCLUSION:
            fg.exclusion_circles.append((e, n, it.param1))
        i += 1
    return fg


def item_target_enu(
    item: mi.MissionItem, geo: Geodetic, home_up_m: float
) -> tuple[float, float, float]:
    """Local ENU target of a positional item; relative/terrain frames are above home (flat)."""
    frame = mi.canonical_frame(item.frame)
    if frame == mi.FRAME_GLOBAL:
        up = item.alt_m - geo.alt0_m
    else:
        up = home_up_m + item.alt_m
    e, n, _ = geo.to_enu(item.lat_deg, item.lon_deg, geo.alt0_m)
    return e, n, up


# ---------------------------------------------------------------------------------------------
# How each firmware stores a mission item (what a download returns after an upload)
#
# ArduPilot (libraries/AP_Mission/AP_Mission.cpp, mavlink_int_to_mission_cmd and back): every
# command is packed into 15 bytes: the id, a 16-bit ``p1`` and 12 bytes of command-specific
# content, or a location (int32 lat/lng in 1e-7 degrees, a 24-bit altitude in cm truncated from
# ``z * 100.0f``, flags relative/terrain). Parameters without a slot are lost and read back as 0;
# NaN is refused (except param4 of NAV_WAYPOINT/LAND/TAKEOFF). Frames read back as
# MAV_FRAME_GLOBAL / GLOBAL_RELATIVE_ALT / GLOBAL_TERRAIN_ALT (never the *_INT numbers), and as
# MAV_FRAME_GLOBAL for commands without a location; autocontinue reads back as 1.
#
# PX4 (src/modules/mavlink/mavlink_mission.cpp, parse_/format_mavlink_mission_item): a
# ``mission_item_s`` in dataman: double lat/lon, float altitude and parameters. Items in a global
# frame keep only the fields of their command (yaw wrapped to [0, 360)); MAV_FRAME_MISSION items
# keep param1..7 as float; terrain frames and commands in a frame PX4 does not expect are
# refused. Global frames read back as the *_INT variant when requested with MISSION_REQUEST_INT.
#
# The link layer has its own, separate implementation of these rules
# (``dronekit_plzen.link.mission_packing``); the two are tested against each other.
# ---------------------------------------------------------------------------------------------

MISSION_INVALID_PARAM = (6, 7, 8, 9)  # MAV_MISSION_INVALID_PARAM1..4
MISSION_INVALID_PARAM5_X = 10
MISSION_INVALID_PARAM6_Y = 11
MISSION_INVALID_PARAM7 = 12


def _f32(x: float) -> float:
    return float(np.float32(x))


def _wrap_c(x: float, bits: int, signed: bool) -> int:
    """A C cast of a float to an integer type: truncation, then the low ``bits`` bits."""
    if math.isnan(x) or math.isinf(x):
        return 0
    v = math.trunc(x) & ((1 << bits) - 1)
    if signed and v >= 1 << (bits - 1):
        v -= 1 << bits
    return v


_U8 = lambda x: float(_wrap_c(x, 8, False))  # noqa: E731
_I8 = lambda x: float(_wrap_c(x, 8, True))  # noqa: E731
_U16 = lambda x: float(_wrap_c(x, 16, False))  # noqa: E731
_I16 = lambda x: float(_wrap_c(x, 16, True))  # noqa: E731
_F32 = _f32
_ZERO = lambda x: 0.0  # noqa: E731

#: ArduCopter: per command, the conversion each of param1..4 goes through in storage
#: (``_ZERO``: no slot, reads back as 0). Commands missing here are refused as UNSUPPORTED.
AP_PARAM_SLOTS: dict[int, tuple[Any, Any, Any, Any]] = {
    mi.CMD_NAV_WAYPOINT: (_U16, _ZERO, _ZERO, _ZERO),  # Copter: only the delay fits
    mi.CMD_NAV_LOITER_TIME: (_U16, _ZERO, _ZERO, _ZERO),  # param3/4: see _ap_pack
    mi.CMD_NAV_LOITER_UNLIM: (_ZERO, _ZERO, _ZERO, _ZERO),
    mi.CMD_NAV_LOITER_TURNS: (_ZERO, _ZERO, _ZERO, _ZERO),
    mi.CMD_NAV_RETURN_TO_LAUNCH: (_ZERO, _ZERO, _ZERO, _ZERO),
    mi.CMD_NAV_LAND: (_U16, _ZERO, _ZERO, _ZERO),
    mi.CMD_NAV_TAKEOFF: (_U16, _ZERO, _ZERO, _ZERO),  # param1: minimum pitch
    mi.CMD_NAV_DELAY: (_F32, _I8, _I8, _I8),
    mi.CMD_NAV_LOITER_TO_ALT: (_ZERO, _ZERO, _ZERO, _ZERO),  # param2/4: see _ap_pack
    mi.CMD_NAV_SPLINE_WAYPOINT: (_U16, _ZERO, _ZERO, _ZERO),  # the delay, as a waypoint's
    mi.CMD_CONDITION_DELAY: (_F32, _ZERO, _ZERO, _ZERO),
    mi.CMD_CONDITION_YAW: (_F32, _F32, _I8, _U8),
    mi.CMD_DO_JUMP: (_U16, _I16, _ZERO, _ZERO),
    mi.CMD_DO_CHANGE_SPEED: (_U8, _F32, _F32, _ZERO),
    mi.CMD_DO_SET_HOME: (_U16, _ZERO, _ZERO, _ZERO),
    mi.CMD_DO_LAND_START: (_ZERO, _ZERO, _ZERO, _ZERO),
    mi.CMD_DO_SET_ROI: (_U16, _ZERO, _ZERO, _ZERO),
    mi.CMD_DO_SET_ROI_LOCATION: (_U16, _ZERO, _ZERO, _ZERO),  # the gimbal device
    mi.CMD_DO_SET_ROI_NONE: (_U16, _ZERO, _ZERO, _ZERO),
    mi.CMD_DO_DIGICAM_CONTROL: (_U8, _U8, _I8, _U8),
    mi.CMD_DO_MOUNT_CONTROL: (_F32, _F32, _F32, _ZERO),
    mi.CMD_DO_SET_CAM_TRIGG_DIST: (_F32, _ZERO, _U8, _ZERO),
    mi.CMD_DO_GIMBAL_MANAGER_PITCHYAW: (_I8, _I16, _I8, _I8),
    mi.CMD_IMAGE_START_CAPTURE: (_U8, _F32, _U16, _U16),
    mi.CMD_IMAGE_STOP_CAPTURE: (_U8, _ZERO, _ZERO, _ZERO),
    # the rest of ArduCopter 4.7's commands (``AP_Mission::mavlink_int_to_mission_cmd``; each
    # uploaded to the real firmware and read back, tests/interop command probe)
    30: (_U16, _ZERO, _ZERO, _ZERO),  # NAV_CONTINUE_AND_CHANGE_ALT
    83: (_F32, _F32, _U8, _ZERO),  # NAV_ALTITUDE_WAIT
    84: (_ZERO, _ZERO, _ZERO, _ZERO),  # NAV_VTOL_TAKEOFF
    85: (_U16, _ZERO, _ZERO, _ZERO),  # NAV_VTOL_LAND
    92: (_U16, _ZERO, _ZERO, _ZERO),  # NAV_GUIDED_ENABLE
    mi.CMD_NAV_PAYLOAD_PLACE: (_ZERO, _ZERO, _ZERO, _ZERO),  # param1: see _ap_pack
    mi.CMD_CONDITION_DISTANCE: (_F32, _ZERO, _ZERO, _ZERO),
    mi.CMD_DO_SET_RELAY: (_U8, _U8, _ZERO, _ZERO),
    mi.CMD_DO_REPEAT_RELAY: (_U8, _I16, _F32, _ZERO),
    mi.CMD_DO_SET_SERVO: (_U8, _U16, _ZERO, _ZERO),
    mi.CMD_DO_REPEAT_SERVO: (_U8, _U16, _I16, _F32),
    188: (_ZERO, _ZERO, _ZERO, _ZERO),  # DO_RETURN_PATH_START
    191: (_ZERO, _ZERO, _ZERO, _ZERO),  # DO_GO_AROUND
    193: (_U16, _ZERO, _ZERO, _ZERO),  # DO_PAUSE_CONTINUE
    194: (_U16, _ZERO, _ZERO, _ZERO),  # DO_SET_REVERSE
    mi.CMD_DO_DIGICAM_CONFIGURE: (_U8, _U16, _U8, _U16),
    207: (_U16, _ZERO, _ZERO, _ZERO),  # DO_FENCE_ENABLE
    208: (_U16, _ZERO, _ZERO, _ZERO),  # DO_PARACHUTE
    210: (_U16, _ZERO, _ZERO, _ZERO),  # DO_INVERTED_FLIGHT
    mi.CMD_DO_GRIPPER: (_U8, _U8, _ZERO, _ZERO),
    212: (_U16, _ZERO, _ZERO, _ZERO),  # DO_AUTOTUNE_ENABLE
    213: (_F32, _F32, _U8, _ZERO),  # NAV_SET_YAW_SPEED
    215: (_U16, _ZERO, _ZERO, _ZERO),  # DO_SET_RESUME_REPEAT_DIST
    216: (_U16, _ZERO, _ZERO, _ZERO),  # DO_SPRAYER
    217: (_U16, _F32, _F32, _F32),  # DO_SEND_SCRIPT_MESSAGE
    218: (_U16, _U8, _ZERO, _ZERO),  # DO_AUX_FUNCTION
    222: (_U16, _F32, _F32, _F32),  # DO_GUIDED_LIMITS
    223: (_ZERO, _ZERO, _ZERO, _ZERO),  # DO_ENGINE_CONTROL: see _ap_pack
    mi.CMD_SET_CAMERA_ZOOM: (_U8, _F32, _ZERO, _ZERO),
    mi.CMD_SET_CAMERA_FOCUS: (_U8, _F32, _ZERO, _ZERO),
    534: (_U8, _U8, _U8, _ZERO),  # SET_CAMERA_SOURCE
    mi.CMD_JUMP_TAG: (_U16, _ZERO, _ZERO, _ZERO),
    601: (_U16, _I16, _ZERO, _ZERO),  # DO_JUMP_TAG
    mi.CMD_VIDEO_START_CAPTURE: (_U8, _ZERO, _ZERO, _ZERO),
    mi.CMD_VIDEO_STOP_CAPTURE: (_U8, _ZERO, _ZERO, _ZERO),
    CMD_DO_VTOL_TRANSITION: (_U8, _ZERO, _ZERO, _ZERO),
    mi.CMD_DO_WINCH: (_U8, _U8, _F32, _F32),
    42702: (_U8, _U8, _ZERO, _ZERO),  # NAV_SCRIPT_TIME: param3/4 as float16, see _ap_pack
    42703: (_ZERO, _ZERO, _ZERO, _ZERO),  # NAV_ATTITUDE_TIME: see _ap_pack
}
#: ArduPilot's ``stored_in_location``: commands whose x/y/z are kept as a location
AP_LOCATION_COMMANDS = frozenset(
    {
        mi.CMD_NAV_WAYPOINT,
        mi.CMD_NAV_LOITER_UNLIM,
        mi.CMD_NAV_LOITER_TURNS,
        mi.CMD_NAV_LOITER_TIME,
        mi.CMD_NAV_LAND,
        mi.CMD_NAV_TAKEOFF,
        mi.CMD_NAV_LOITER_TO_ALT,
        mi.CMD_NAV_SPLINE_WAYPOINT,
        mi.CMD_DO_SET_HOME,
        mi.CMD_DO_LAND_START,
        mi.CMD_DO_SET_ROI,
        mi.CMD_DO_SET_ROI_LOCATION,
        30,  # NAV_CONTINUE_AND_CHANGE_ALT
        84,  # NAV_VTOL_TAKEOFF
        85,  # NAV_VTOL_LAND
        92,  # NAV_GUIDED_ENABLE
        mi.CMD_NAV_PAYLOAD_PLACE,
        188,  # DO_RETURN_PATH_START
        191,  # DO_GO_AROUND
    }
)
#: ``sanity_check_params``: the commands whose param4 may be NaN (VTOL_LAND: param3 too)
_AP_NAN_PARAM4 = frozenset(
    {mi.CMD_NAV_WAYPOINT, mi.CMD_NAV_LOITER_UNLIM, mi.CMD_NAV_LAND, mi.CMD_NAV_TAKEOFF, 84, 85}
)


def _ap_location(item: mi.MissionItem) -> tuple[int, float, float, float] | None:
    """(result, lat, lon, alt_m) of ArduPilot's Location, or None for an unsupported frame."""
    frame = mi.canonical_frame(item.frame)
    stored_frame = {
        mi.FRAME_GLOBAL: mi.FRAME_GLOBAL,
        mi.FRAME_MISSION: mi.FRAME_GLOBAL,
        mi.FRAME_GLOBAL_RELATIVE_ALT: mi.FRAME_GLOBAL_RELATIVE_ALT,
        mi.FRAME_GLOBAL_TERRAIN_ALT: mi.FRAME_GLOBAL_TERRAIN_ALT,
    }.get(frame)
    if stored_frame is None:
        return None
    alt_cm = _wrap_c(float(np.float32(item.alt_m) * np.float32(100.0)), 24, True)
    alt_m = float(np.float32(np.float32(alt_cm) * np.float32(0.01)))
    lat = round(item.lat_deg * 1e7) / 1e7
    lon = round(item.lon_deg * 1e7) / 1e7
    return stored_frame, lat, lon, alt_m


def ardupilot_store(item: mi.MissionItem) -> tuple[int, mi.MissionItem | None]:
    """(MAV_MISSION_RESULT, the item as ArduCopter stores and reports it) for a mission item."""
    slots = AP_PARAM_SLOTS.get(item.command)
    if slots is None:
        return MISSION_UNSUPPORTED, None
    params = (item.param1, item.param2, item.param3, item.param4)
    for k, p in enumerate(params):
        nan_ok = (k == 3 and item.command in _AP_NAN_PARAM4) or (k == 2 and item.command == 85)
        if math.isinf(p) or (math.isnan(p) and not nan_ok):
            return MISSION_INVALID_PARAM[k], None
    out = [conv(p) for conv, p in zip(slots, params)]
    c = item.command
    if c == mi.CMD_NAV_LOITER_UNLIM:
        out[2] = math.copysign(_U16(abs(item.param3)), -1.0 if item.param3 < 0 else 1.0)
    elif c == mi.CMD_NAV_LOITER_TURNS:
        # p1 = MIN(255, turns, times 256 when below one) | radius byte << 8 (radius above
        # 255 m in tens); type_specific_bits flag the two scalings
        turns = float(np.float32(item.param1))
        small = 0.0 < turns < 1.0
        kept = float(np.float32(turns) * np.float32(256.0)) if small else turns
        p1 = _wrap_c(min(255.0, kept), 16, False)
        r = abs(float(np.float32(item.param3)))
        tens = r > 255
        p1 |= _wrap_c(min(255.0, r * 0.1) if tens else r, 8, False) << 8
        out[0] = (p1 & 0xFF) / 256.0 if small else float(p1 & 0xFF)
        radius = float((p1 >> 8) & 0xFF) * (10.0 if tens else 1.0)
        out[2] = -radius if item.param3 < 0 else radius
        out[3] = 1.0 if item.param4 > 0 else 0.0
    elif c == mi.CMD_NAV_LOITER_TO_ALT:  # the radius's size in p1, its sign as loiter_ccw
        out[1] = math.copysign(_U16(abs(item.param2)), -1.0 if item.param2 < 0 else 1.0)
        out[3] = 1.0 if item.param4 > 0 else 0.0
    elif c == mi.CMD_NAV_LOITER_TIME:
        out[2] = -1.0 if item.param3 < 0 else 1.0
        out[3] = 1.0 if item.param4 > 0 else 0.0
    elif c == mi.CMD_NAV_LAND:
        out[3] = -1.0 if (not math.isnan(item.param4) and item.param4 < 0) else 1.0
    elif c == mi.CMD_NAV_PAYLOAD_PLACE:  # the maximum descent in whole centimetres
        cm = _U16(float(np.float32(item.param1) * np.float32(100.0)))
        out[0] = float(np.float32(cm) * np.float32(0.01))
    elif c == 223:  # DO_ENGINE_CONTROL: two flags, the height delay in cm, one option bit
        out[0], out[1] = float(item.param1 > 0), float(item.param2 > 0)
        cm = _U16(float(np.float32(item.param3) * np.float32(100.0)))  # float * 100 in C
        out[2] = float(np.float32(cm) * np.float32(0.01))
        out[3] = float(int(_U16(item.param4)) & 1)
    elif c == 42702:  # NAV_SCRIPT_TIME: arguments 1 and 2 as IEEE half floats
        out[2], out[3] = float(np.float16(item.param3)), float(np.float16(item.param4))
    elif c == 42703:  # NAV_ATTITUDE_TIME: angles out of range become 0
        out[0] = _U16(min(max(item.param1, 0.0), 65535.0))
        out[1] = _I16(item.param2) if abs(item.param2) <= 180 else 0.0
        out[2] = _I8(item.param3) if abs(item.param3) <= 90 else 0.0
        out[3] = _I16(item.param4) if -180 <= item.param4 <= 360 else 0.0
    lat = lon = alt = 0.0
    frame = mi.FRAME_GLOBAL
    if c in AP_LOCATION_COMMANDS:
        if not -90.0 <= item.lat_deg <= 90.0:
            return MISSION_INVALID_PARAM5_X, None
        if not -180.0 <= item.lon_deg <= 180.0:
            return MISSION_INVALID_PARAM6_Y, None
        if math.isnan(item.alt_m) or abs(item.alt_m) >= 83000.0:  # LOCATION_ALT_MAX_M
            return MISSION_INVALID_PARAM7, None
        loc = _ap_location(item)
        if loc is None:
            return MISSION_UNSUPPORTED_FRAME, None
        frame, lat, lon, alt = loc
    elif c in (
        mi.CMD_DO_DIGICAM_CONTROL,
        mi.CMD_DO_DIGICAM_CONFIGURE,
        mi.CMD_DO_GIMBAL_MANAGER_PITCHYAW,
    ):
        # x/y (and z) are small integers here, not a position
        lat = _U8(round(item.lat_deg * 1e7)) / 1e7
        gimbal = c == mi.CMD_DO_GIMBAL_MANAGER_PITCHYAW
        lon = (_U8(round(item.lon_deg * 1e7)) if not gimbal else 0.0) / 1e7
        if c == mi.CMD_DO_GIMBAL_MANAGER_PITCHYAW:
            alt = _U8(item.alt_m)
        elif c == mi.CMD_DO_DIGICAM_CONFIGURE:
            alt = _f32(item.alt_m)  # the engine cut-off time, a float
    elif c == mi.CMD_DO_MOUNT_CONTROL:
        alt = 2.0  # z reads back as MAV_MOUNT_MODE_MAVLINK_TARGETING, whatever was sent
    elif c == 42702:  # NAV_SCRIPT_TIME: arguments 3 and 4 in x/y, int16
        lat = _I16(round(item.lat_deg * 1e7)) / 1e7
        lon = _I16(round(item.lon_deg * 1e7)) / 1e7
    elif c == 42703:  # NAV_ATTITUDE_TIME: the climb rate in x, int16
        lat = _I16(round(item.lat_deg * 1e7)) / 1e7
    return MISSION_ACCEPTED, mi.MissionItem(
        c,
        frame=frame,
        param1=out[0],
        param2=out[1],
        param3=out[2],
        param4=out[3],
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        autocontinue=True,
        mission_type=item.mission_type,
    )


#: PX4: commands accepted in a global frame and which of param1..4 they keep
#: ("yaw": param4 as a heading wrapped to [0, 360); "bool": stored as a flag)
PX4_GLOBAL_PARAMS: dict[int, tuple[str, str, str, str]] = {
    mi.CMD_NAV_WAYPOINT: ("f32", "f32", "zero", "yaw"),
    mi.CMD_NAV_LOITER_UNLIM: ("zero", "zero", "f32", "yaw"),
    mi.CMD_NAV_LOITER_TIME: ("f32", "bool", "f32", "bool"),
    mi.CMD_NAV_LAND: ("zero", "u16", "zero", "yaw"),
    mi.CMD_NAV_TAKEOFF: ("zero", "zero", "zero", "yaw"),
    mi.CMD_NAV_LOITER_TO_ALT: ("bool", "f32", "zero", "bool"),
    mi.CMD_DO_SET_ROI: ("zero", "zero", "zero", "zero"),  # the mode is kept, not reported
    mi.CMD_DO_SET_ROI_LOCATION: ("zero", "zero", "zero", "zero"),
    80: ("zero", "zero", "zero", "zero"),  # NAV_ROI: stored as DO_SET_ROI
    84: ("zero", "zero", "zero", "yaw"),  # NAV_VTOL_TAKEOFF
    85: ("zero", "zero", "zero", "yaw"),  # NAV_VTOL_LAND
}
#: PX4: commands accepted in MAV_FRAME_MISSION (all seven parameters kept as float)
PX4_MISSION_FRAME_COMMANDS = frozenset(
    {
        mi.CMD_DO_JUMP,
        mi.CMD_DO_SET_ROI,
        mi.CMD_DO_CHANGE_SPEED,
        mi.CMD_DO_SET_HOME,
        mi.CMD_DO_LAND_START,
        mi.CMD_DO_DIGICAM_CONTROL,
        mi.CMD_DO_MOUNT_CONTROL,
        mi.CMD_DO_GIMBAL_MANAGER_PITCHYAW,
        mi.CMD_IMAGE_START_CAPTURE,
        mi.CMD_IMAGE_STOP_CAPTURE,
        mi.CMD_DO_SET_CAM_TRIGG_DIST,
        CMD_DO_VTOL_TRANSITION,
        mi.CMD_NAV_DELAY,
        mi.CMD_NAV_RETURN_TO_LAUNCH,
        mi.CMD_DO_SET_ROI_NONE,
        mi.CMD_CONDITION_DELAY,
        80,  # NAV_ROI (as DO_SET_ROI)
        mi.CMD_CONDITION_DISTANCE,
        mi.CMD_DO_GRIPPER,
        mi.CMD_DO_WINCH,
        mi.CMD_DO_SET_CAM_TRIGG_INTERVAL,
        mi.CMD_SET_CAMERA_MODE,
        mi.CMD_SET_CAMERA_FOCUS,
        534,  # SET_CAMERA_SOURCE
        mi.CMD_DO_GIMBAL_MANAGER_CONFIGURE,
        mi.CMD_VIDEO_START_CAPTURE,
        mi.CMD_VIDEO_STOP_CAPTURE,
        187,  # DO_SET_ACTUATOR
        196,  # DO_SET_ROI_WPNEXT_OFFSET
        200,  # DO_CONTROL_VIDEO
        204,  # DO_MOUNT_CONFIGURE
        260,  # OBLIQUE_SURVEY
        2003,  # DO_TRIGGER_CONTROL
    }
)


def _px4_param(kind: str, x: float) -> float:
    if kind == "zero":
        return 0.0
    if kind == "bool":
        return 1.0 if x > 0 else 0.0
    if kind == "u16":
        return _U16(x)
    if kind == "yaw":
        if math.isnan(x):
            return math.nan
        rad = float(np.float32(math.radians(x)))
        two_pi = 2 * math.pi
        rad = rad - two_pi * math.floor(rad / two_pi)
        return _f32(math.degrees(_f32(rad)))
    return _f32(x)


def px4_store(item: mi.MissionItem) -> tuple[int, mi.MissionItem | None]:
    """(MAV_MISSION_RESULT, the item as PX4 stores it); global frames kept in their plain form."""
    frame = mi.canonical_frame(item.frame)
    if frame in (mi.FRAME_GLOBAL, mi.FRAME_GLOBAL_RELATIVE_ALT):
        kinds = PX4_GLOBAL_PARAMS.get(item.command)
        if kinds is None:
            return MISSION_UNSUPPORTED, None
        if item.command in (80, mi.CMD_DO_SET_ROI) and int(item.param1) not in (0, 3):
            return MISSION_INVALID_PARAM1, None
        p = [
            _px4_param(k, v)
            for k, v in zip(kinds, (item.param1, item.param2, item.param3, item.param4))
        ]
        return MISSION_ACCEPTED, item.with_(
            command=mi.CMD_DO_SET_ROI if item.command == 80 else item.command,
            frame=frame,
            param1=p[0],
            param2=p[1],
            param3=p[2],
            param4=p[3],
            lat_deg=round(item.lat_deg * 1e7) / 1e7,
            lon_deg=round(item.lon_deg * 1e7) / 1e7,
            alt_m=_f32(item.alt_m),
        )
    if frame != mi.FRAME_MISSION:
        return MISSION_UNSUPPORTED_FRAME, None
    if item.command not in PX4_MISSION_FRAME_COMMANDS:
        return MISSION_UNSUPPORTED, None
    if item.command in (80, mi.CMD_DO_SET_ROI):
        if int(item.param1) not in (0, 1, 2):
            return MISSION_INVALID_PARAM1, None
        item = item.with_(command=mi.CMD_DO_SET_ROI)  # NAV_ROI is stored as DO_SET_ROI
    p1, p2 = _f32(item.param1), _f32(item.param2)
    if item.command == mi.CMD_DO_JUMP:
        p1, p2 = _I16(item.param1), _U16(item.param2)
    x = _f32(round(item.lat_deg * 1e7))  # x/y as sent (int), kept in a float
    y = _f32(round(item.lon_deg * 1e7))
    return MISSION_ACCEPTED, item.with_(
        param1=p1,
        param2=p2,
        param3=_f32(item.param3),
        param4=_f32(item.param4),
        lat_deg=x / 1e7,
        lon_deg=y / 1e7,
        alt_m=_f32(item.alt_m),
    )


def upload_result(item: mi.MissionItem, autopilot: str) -> tuple[int, mi.MissionItem | None]:
    """The firmware's answer to one uploaded item: (MAV_MISSION_RESULT, the item as stored)."""
    result = check_item(item, autopilot)
    if result != MISSION_ACCEPTED:
        return result, None
    if item.mission_type != mi.MISSION_TYPE_MISSION:
        return result, item
    return store_item(item, autopilot)


def store_item(item: mi.MissionItem, autopilot: str) -> tuple[int, mi.MissionItem | None]:
    """The firmware's storage of one MISSION-type item: (MAV_MISSION_RESULT, stored item)."""
    if autopilot == "px4":
        return px4_store(item)
    return ardupilot_store(item)


def reported_frame(frame: int, px4: bool, int_request: bool) -> int:
    """The frame number a download reports for a stored frame (PX4: *_INT on REQUEST_INT)."""
    if px4 and int_request and frame in (mi.FRAME_GLOBAL, mi.FRAME_GLOBAL_RELATIVE_ALT):
        return {
            mi.FRAME_GLOBAL: mi.FRAME_GLOBAL_INT,
            mi.FRAME_GLOBAL_RELATIVE_ALT: mi.FRAME_GLOBAL_RELATIVE_ALT_INT,
        }[frame]
    return frame
