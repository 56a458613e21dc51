"""Mission items with MAVLink semantics, shared by the planner, the link layer and the simulator.

A :class:`MissionItem` is one row of a MAVLink mission (``MISSION_ITEM_INT``) in SI units and
WGS84 degrees. The wire form (1e7 degrees as int32, ``seq``, ``current``) is produced only at the
protocol boundary by :meth:`MissionItem.to_wire` / :meth:`MissionItem.from_wire`.

The constants are the MAVLink common dialect's numbers (kept here so that pure planning code does
not need pymavlink).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

# MAV_FRAME
FRAME_GLOBAL = 0  # AMSL
FRAME_MISSION = 2
FRAME_GLOBAL_RELATIVE_ALT = 3  # above home
FRAME_GLOBAL_INT = 5
FRAME_GLOBAL_RELATIVE_ALT_INT = 6
FRAME_GLOBAL_TERRAIN_ALT = 10  # above terrain
FRAME_GLOBAL_TERRAIN_ALT_INT = 11

#: an item's altitude beyond this (either side of the datum) is a damaged file, not a flight
MAX_ABS_ALT_M = 100_000.0
#: MISSION_ITEM_INT's "no value" for x/y (MAVLink: "NaN or INT32_MAX may be used in
#: float/integer params (respectively) to indicate optional/default values")
INT32_MAX = 2**31 - 1
#: the largest latitude/longitude x/y carry (int32 in 1e-7 degrees)
MAX_WIRE_DEG = INT32_MAX / 1e7


#: MAVLink carries the command in a uint16 and the frame in a uint8
MAX_COMMAND = 65535
MAX_FRAME = 255

# MAV_MISSION_TYPE
MISSION_TYPE_MISSION = 0
MISSION_TYPE_FENCE = 1
MISSION_TYPE_RALLY = 2

# MAV_CMD (common)
CMD_NAV_WAYPOINT = 16
CMD_NAV_LOITER_UNLIM = 17
CMD_NAV_LOITER_TURNS = 18
CMD_NAV_LOITER_TIME = 19
CMD_NAV_RETURN_TO_LAUNCH = 20
CMD_NAV_LAND = 21
CMD_NAV_TAKEOFF = 22
CMD_NAV_LOITER_TO_ALT = 31
CMD_NAV_SPLINE_WAYPOINT = 82
CMD_NAV_DELAY = 93
CMD_NAV_PAYLOAD_PLACE = 94
CMD_CONDITION_DELAY = 112
CMD_CONDITION_DISTANCE = 114
CMD_CONDITION_YAW = 115
CMD_DO_JUMP = 177
CMD_DO_CHANGE_SPEED = 178
CMD_DO_SET_HOME = 179
CMD_DO_SET_RELAY = 181
CMD_DO_REPEAT_RELAY = 182
CMD_DO_SET_SERVO = 183
CMD_DO_REPEAT_SERVO = 184
CMD_DO_LAND_START = 189
CMD_DO_SET_ROI_LOCATION = 195
CMD_DO_SET_ROI_NONE = 197
CMD_DO_SET_ROI = 201
CMD_DO_DIGICAM_CONFIGURE = 202
CMD_DO_DIGICAM_CONTROL = 203
CMD_DO_MOUNT_CONTROL = 205
CMD_DO_SET_CAM_TRIGG_DIST = 206
CMD_DO_GRIPPER = 211
CMD_DO_SET_CAM_TRIGG_INTERVAL = 214
CMD_SET_CAMERA_MODE = 530
CMD_SET_CAMERA_ZOOM = 531
CMD_SET_CAMERA_FOCUS = 532
CMD_JUMP_TAG = 600
CMD_DO_GIMBAL_MANAGER_PITCHYAW = 1000
CMD_DO_GIMBAL_MANAGER_CONFIGURE = 1001
CMD_IMAGE_START_CAPTURE = 2000
CMD_IMAGE_STOP_CAPTURE = 2001
CMD_VIDEO_START_CAPTURE = 2500
CMD_VIDEO_STOP_CAPTURE = 2501
CMD_DO_WINCH = 42600
CMD_NAV_FENCE_RETURN_POINT = 5000
CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION = 5001
CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION = 5002
CMD_NAV_FENCE_CIRCLE_INCLUSION = 5003
CMD_NAV_FENCE_CIRCLE_EXCLUSION = 5004
CMD_NAV_RALLY_POINT = 5100

#: commands whose x/y/z are a position (NAV commands and position-carrying items)
POSITION_COMMANDS = frozenset(
    {
        CMD_NAV_WAYPOINT,
        CMD_NAV_LOITER_UNLIM,
        CMD_NAV_LOITER_TURNS,
        CMD_NAV_LOITER_TIME,
        CMD_NAV_LAND,
        CMD_NAV_TAKEOFF,
        CMD_NAV_LOITER_TO_ALT,
        CMD_NAV_SPLINE_WAYPOINT,
        CMD_NAV_PAYLOAD_PLACE,
        CMD_DO_SET_HOME,
        CMD_DO_SET_ROI_LOCATION,
        CMD_NAV_FENCE_RETURN_POINT,
        CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
        CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
        CMD_NAV_FENCE_CIRCLE_INCLUSION,
        CMD_NAV_FENCE_CIRCLE_EXCLUSION,
        CMD_NAV_RALLY_POINT,
    }
)

#: NAV commands: the vehicle moves to (or acts at) a place; progress counts these
NAV_COMMANDS = frozenset(
    {
        CMD_NAV_WAYPOINT,
        CMD_NAV_LOITER_UNLIM,
        CMD_NAV_LOITER_TURNS,
        CMD_NAV_LOITER_TIME,
        CMD_NAV_RETURN_TO_LAUNCH,
        CMD_NAV_LAND,
        CMD_NAV_TAKEOFF,
        CMD_NAV_LOITER_TO_ALT,
        CMD_NAV_SPLINE_WAYPOINT,
        CMD_NAV_DELAY,
        CMD_NAV_PAYLOAD_PLACE,
    }
)

#: commands that do not move the aircraft or change where it may fly (camera, gimbal, payload,
#: speed, conditions, markers): the safety guard lets them pass, the path is still that of the
#: NAV commands around them
QUIET_COMMANDS = frozenset(
    {
        CMD_DO_CHANGE_SPEED,
        CMD_DO_SET_RELAY,
        CMD_DO_REPEAT_RELAY,
        CMD_DO_SET_SERVO,
        CMD_DO_REPEAT_SERVO,
        CMD_DO_LAND_START,
        CMD_DO_SET_ROI_LOCATION,
        CMD_DO_SET_ROI_NONE,
        CMD_DO_SET_ROI,
        CMD_DO_DIGICAM_CONFIGURE,
        CMD_DO_DIGICAM_CONTROL,
        CMD_DO_MOUNT_CONTROL,
        CMD_DO_SET_CAM_TRIGG_DIST,
        CMD_DO_GRIPPER,
        CMD_DO_SET_CAM_TRIGG_INTERVAL,
        CMD_SET_CAMERA_MODE,
        CMD_SET_CAMERA_ZOOM,
        CMD_SET_CAMERA_FOCUS,
        CMD_JUMP_TAG,
        CMD_DO_GIMBAL_MANAGER_PITCHYAW,
        CMD_DO_GIMBAL_MANAGER_CONFIGURE,
        CMD_IMAGE_START_CAPTURE,
        CMD_IMAGE_STOP_CAPTURE,
        CMD_VIDEO_START_CAPTURE,
        CMD_VIDEO_STOP_CAPTURE,
        CMD_DO_WINCH,
        CMD_CONDITION_DELAY,
        CMD_CONDITION_DISTANCE,
        CMD_CONDITION_YAW,
    }
)

#: the commands PX4 runs in a mission (v1.16, ``FeasibilityChecker::checkMissionItemValidity``;
#: NAV_ROI is stored as DO_SET_ROI). PX4 stores CONDITION_DELAY and CONDITION_DISTANCE on upload
#: but then finds the mission invalid: "Mission start denied! No valid mission" (seen on PX4
#: SITL); the link refuses to send such a mission to PX4 instead
PX4_MISSION_COMMANDS = frozenset(
    {
        0,  # NAV_CMD_IDLE
        CMD_NAV_WAYPOINT,
        CMD_NAV_LOITER_UNLIM,
        CMD_NAV_LOITER_TIME,
        CMD_NAV_RETURN_TO_LAUNCH,
        CMD_NAV_LAND,
        CMD_NAV_TAKEOFF,
        CMD_NAV_LOITER_TO_ALT,
        80,  # NAV_ROI, stored as DO_SET_ROI
        84,  # NAV_VTOL_TAKEOFF
        85,  # NAV_VTOL_LAND
        CMD_NAV_DELAY,
        4501,  # CONDITION_GATE
        CMD_DO_WINCH,
        CMD_DO_GRIPPER,
        CMD_DO_JUMP,
        CMD_DO_CHANGE_SPEED,
        CMD_DO_SET_HOME,
        CMD_DO_LAND_START,
        2003,  # DO_TRIGGER_CONTROL
        CMD_DO_DIGICAM_CONTROL,
        CMD_IMAGE_START_CAPTURE,
        CMD_IMAGE_STOP_CAPTURE,
        CMD_VIDEO_START_CAPTURE,
        CMD_VIDEO_STOP_CAPTURE,
        200,  # DO_CONTROL_VIDEO
        204,  # DO_MOUNT_CONFIGURE
        CMD_DO_MOUNT_CONTROL,
        CMD_DO_GIMBAL_MANAGER_PITCHYAW,
        CMD_DO_GIMBAL_MANAGER_CONFIGURE,
        187,  # DO_SET_ACTUATOR
        CMD_DO_SET_ROI,
        CMD_DO_SET_ROI_LOCATION,
        196,  # DO_SET_ROI_WPNEXT_OFFSET
        CMD_DO_SET_ROI_NONE,
        CMD_DO_SET_CAM_TRIGG_DIST,
        260,  # OBLIQUE_SURVEY
        CMD_DO_SET_CAM_TRIGG_INTERVAL,
        CMD_SET_CAMERA_MODE,
        534,  # SET_CAMERA_SOURCE
        CMD_SET_CAMERA_ZOOM,
        CMD_SET_CAMERA_FOCUS,
        3000,  # DO_VTOL_TRANSITION
    }
)

_INT_FRAMES = {
    FRAME_GLOBAL: FRAME_GLOBAL_INT,
    FRAME_GLOBAL_RELATIVE_ALT: FRAME_GLOBAL_RELATIVE_ALT_INT,
    FRAME_GLOBAL_TERRAIN_ALT: FRAME_GLOBAL_TERRAIN_ALT_INT,
}
_FLOAT_FRAMES = {v: k for k, v in _INT_FRAMES.items()}


def mavlink_command_name(command: int) -> str | None:
    """``NAV_WAYPOINT`` for 16: the MAV_CMD name (common and ArduPilot dialects) without its
    prefix, or ``None`` for a number no dialect defines."""
    from pymavlink.dialects.v20 import ardupilotmega as mav

    entry = mav.enums["MAV_CMD"].get(command)
    return None if entry is None else str(entry.name).removeprefix("MAV_CMD_")


#: the NAV commands ArduCopter flies at the aircraft's altitude when theirs is 0
#: (``ModeAuto::loc_from_cmd`` in do_nav_wp, do_loiter_unlimited, and so loiter time, and
#: do_circle); PX4 flies them at 0 m
AP_ALT_ZERO_KEEPS = frozenset(
    {
        CMD_NAV_WAYPOINT,
        CMD_NAV_SPLINE_WAYPOINT,  # do_spline_wp: loc_from_cmd too, the curve kept
        CMD_NAV_LOITER_UNLIM,
        CMD_NAV_LOITER_TURNS,
        CMD_NAV_LOITER_TIME,
    }
)


#: ArduCopter's CIRCLE_RATE default, degrees per second
AP_CIRCLE_RATE_DEG_S = 20.0


def ap_circle_speed_m_s(speed_m_s: float, accel_m_s2: float, radius_m: float) -> float:
    """The speed ArduCopter flies a LOITER_TURNS circle at (``AC_Circle::calc_velocities``): the
    leg speed, at most what half the acceleration holds on the radius, at most CIRCLE_RATE."""
    return min(
        speed_m_s,
        math.sqrt(0.5 * accel_m_s2 * radius_m),
        radius_m * math.radians(AP_CIRCLE_RATE_DEG_S),
    )


def ap_circle_trail_rad(speed_m_s: float, accel_m_s2: float, radius_m: float) -> float:
    """How far (radians round the circle) ArduCopter trails a LOITER_TURNS circle's moving
    point (``AC_Circle::update_cms`` hands the position controller the point without its
    velocity): at the circle speed ``v`` (:func:`ap_circle_speed_m_s`) the aircraft closes on a
    point ``v²/2a`` ahead, a chord of that length. The turns are counted on the point, so each
    circle ends this far short of its end: 14° when the acceleration limits the speed (a
    quarter of the radius behind); on SITL 16° on a 16 m circle, and about 13° a circle on a
    28 m one (three circles, each begun where the last ended: 40° short)."""
    if not radius_m > 0:
        return 0.0
    v = ap_circle_speed_m_s(speed_m_s, accel_m_s2, radius_m)
    behind_m = v * v / (2.0 * accel_m_s2) if accel_m_s2 > 0 else 0.0
    return 2.0 * math.asin(min(1.0, behind_m / (2.0 * radius_m)))


def ap_keeps_altitude(item: MissionItem) -> bool:
    """True for an item ArduCopter flies at the aircraft's altitude: one of
    :data:`AP_ALT_ZERO_KEEPS` whose altitude is 0 once stored in whole centimetres (NaN: no)."""
    return item.command in AP_ALT_ZERO_KEEPS and abs(item.alt_m) < 0.01


def command_name(command: int) -> str:
    """The MAV_CMD name of ``command`` (see :func:`mavlink_command_name`), else its number."""
    return mavlink_command_name(command) or str(command)


def canonical_frame(frame: int) -> int:
    """Map the ``*_INT`` frame variants to their plain counterparts (same meaning)."""
    return _FLOAT_FRAMES.get(frame, frame)


#: what an item's altitude is measured from, by frame (a file's reader sees it named)
ALT_DATUMS = {
    FRAME_GLOBAL: "AMSL",
    FRAME_GLOBAL_RELATIVE_ALT: "above home",
    FRAME_GLOBAL_TERRAIN_ALT: "above terrain",
}


def alt_datum(frame: int) -> str | None:
    """The datum of an altitude in ``frame``: "AMSL", "above home" or "above terrain" (None
    for a frame without a global altitude).

    >>> alt_datum(6), alt_datum(FRAME_MISSION)
    ('above home', None)
    """
    return ALT_DATUMS.get(canonical_frame(frame))


@dataclass(frozen=True)
class MissionItem:
    """One mission item. ``lat_deg``/``lon_deg`` are WGS84, ``alt_m`` in the item's frame."""

    command: int
    frame: int = FRAME_GLOBAL_RELATIVE_ALT
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    alt_m: float = 0.0
    autocontinue: bool = True
    mission_type: int = MISSION_TYPE_MISSION
    #: free-form annotations kept by our file formats (not sent over MAVLink)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def has_position(self) -> bool:
        return self.command in POSITION_COMMANDS and not (
            self.lat_deg == 0.0 and self.lon_deg == 0.0
        )

    @property
    def is_nav(self) -> bool:
        return self.command in NAV_COMMANDS

    def with_(self, **changes: Any) -> MissionItem:
        return replace(self, **changes)

    def wire_xy(self) -> tuple[int, int]:
        """x and y as MISSION_ITEM_INT carries them: 1e-7 degrees as int32; NaN (no value, a
        command that takes no position) as INT32_MAX, MAVLink's "no value", but as 0 in
        MAV_FRAME_MISSION, where x/y are plain parameters: PX4 keeps them in a float there and
        returned INT32_MAX as INT32_MIN (PX4 SITL), failing the upload's verification;
        ArduPilot stores 0 anyway.

        >>> MissionItem(16, lat_deg=49.7475, lon_deg=float("nan")).wire_xy()
        (497475000, 2147483647)
        """
        none = 0 if self.frame == FRAME_MISSION else INT32_MAX
        lat, lon = self.lat_deg, self.lon_deg
        return (
            none if math.isnan(lat) else round(lat * 1e7),
            none if math.isnan(lon) else round(lon * 1e7),
        )

    def to_wire(self, seq: int, current: bool = False) -> dict[str, Any]:
        """Fields of a MISSION_ITEM_INT message (x/y in 1e7 degrees, int frames kept as given)."""
        x, y = self.wire_xy()
        return {
            "seq": seq,
            "frame": self.frame,
            "command": self.command,
            "current": 1 if current else 0,
            "autocontinue": 1 if self.autocontinue else 0,
            "param1": self.param1,
            "param2": self.param2,
            "param3": self.param3,
            "param4": self.param4,
            "x": x,
            "y": y,
            "z": float(self.alt_m),
            "mission_type": self.mission_type,
        }

    @classmethod
    def from_wire(cls, msg: Any, *, int_coords: bool = True) -> MissionItem:
        """Build from a MISSION_ITEM_INT (``int_coords``) or legacy MISSION_ITEM message."""
        if int_coords:
            lat, lon = msg.x / 1e7, msg.y / 1e7
        else:
            lat, lon = float(msg.x), float(msg.y)
        return cls(
            command=int(msg.command),
            frame=int(msg.frame),
            param1=float(msg.param1),
            param2=float(msg.param2),
            param3=float(msg.param3),
            param4=float(msg.param4),
            lat_deg=lat,
            lon_deg=lon,
            alt_m=float(msg.z),
            autocontinue=bool(msg.autocontinue),
            mission_type=int(getattr(msg, "mission_type", 0)),
        )

    def same_as(
        self, other: MissionItem, *, pos_tol_deg: float = 2e-7, alt_tol_m: float = 0.01
    ) -> bool:
        """Equal as a vehicle would store it: frames compared canonically, floats with tolerance."""

        def feq(a: float, b: float) -> bool:
            if math.isnan(a) and math.isnan(b):
                return True
            return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-4)

        return (
            self.command == other.command
            and canonical_frame(self.frame) == canonical_frame(other.frame)
            and all(
                feq(a, b)
                for a, b in (
                    (self.param1, other.param1),
                    (self.param2, other.param2),
                    (self.param3, other.param3),
                    (self.param4, other.param4),
                )
            )
            and abs(self.lat_deg - other.lat_deg) <= pos_tol_deg
            and abs(self.lon_deg - other.lon_deg) <= pos_tol_deg
            and abs(self.alt_m - other.alt_m) <= alt_tol_m
            and self.autocontinue == other.autocontinue
        )


def px4_landing(items: Sequence[MissionItem]) -> tuple[int, int] | None:
    """(land start, land) indices of a mission's landing as PX4 marks them on upload
    (``mavlink_mission.cpp``): the first DO_LAND_START, else the first NAV_LAND, and the first
    NAV_LAND; None without a NAV_LAND (PX4 then has no mission landing)."""
    land = next((j for j, it in enumerate(items) if it.command == CMD_NAV_LAND), None)
    if land is None:
        return None
    start = next((j for j, it in enumerate(items) if it.command == CMD_DO_LAND_START), land)
    return start, land


def takeoff_alt_above_home_m(
    items: Sequence[MissionItem], default_m: float, home_amsl_m: float
) -> float:
    """The altitude above home a ground station's take-off (ArduCopter, GUIDED: ``fly``, the
    GUI) climbs to before the mission starts: the mission's take-off item's, in its frame, else
    ``default_m`` (also for an item at or below home).

    The firmware's GUIDED take-off takes metres above home: an AMSL item is converted with the
    home's altitude (it had been sent as is: 350 m AMSL climbed 350 m above home); an item
    above terrain is taken above the launch point, where home is.

    >>> amsl = MissionItem(CMD_NAV_TAKEOFF, FRAME_GLOBAL, lat_deg=49.7, lon_deg=13.3, alt_m=350.0)
    >>> takeoff_alt_above_home_m([amsl], 20.0, 320.0)
    30.0
    >>> takeoff_alt_above_home_m([], 20.0, 320.0)
    20.0
    """
    for it in items:
        if it.command != CMD_NAV_TAKEOFF:
            continue
        alt = it.alt_m - home_amsl_m if canonical_frame(it.frame) == FRAME_GLOBAL else it.alt_m
        if math.isfinite(alt) and alt > 0:
            return float(alt)
        return default_m
    return default_m
