"""Stored missions, fences and rally points of one vehicle, and the checks the firmware applies.

Pure: no I/O. Item validation returns MAV_MISSION_RESULT codes the way PX4's
``mavlink_mission.cpp`` / ArduPilot's ``MissionItemProtocol`` reject items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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

CMD_DO_LAND_START = 189
CMD_DO_SET_ROI = 201
CMD_DO_SET_ROI_NONE = 197
CMD_DO_DIGICAM_CONTROL = 203
CMD_DO_VTOL_TRANSITION = 3000
CMD_CONDITION_DELAY = 112
CMD_CONDITION_YAW = 115

MISSION_COMMANDS = frozenset(
    {
        mi.CMD_NAV_WAYPOINT,
        mi.CMD_NAV_LOITER_UNLIM,
        mi.CMD_NAV_LOITER_TURNS,
        mi.CMD_NAV_LOITER_TIME,
        mi.CMD_NAV_RETURN_TO_LAUNCH,
        mi.CMD_NAV_LAND,
        mi.CMD_NAV_TAKEOFF,
        mi.CMD_NAV_DELAY,
        mi.CMD_DO_JUMP,
        mi.CMD_DO_CHANGE_SPEED,
        mi.CMD_DO_SET_HOME,
        mi.CMD_DO_SET_ROI_LOCATION,
        mi.CMD_DO_SET_CAM_TRIGG_DIST,
        mi.CMD_DO_MOUNT_CONTROL,
        mi.CMD_DO_GIMBAL_MANAGER_PITCHYAW,
        mi.CMD_IMAGE_START_CAPTURE,
        mi.CMD_IMAGE_STOP_CAPTURE,
        CMD_DO_LAND_START,
        CMD_DO_SET_ROI,
        CMD_DO_SET_ROI_NONE,
        CMD_DO_DIGICAM_CONTROL,
        CMD_CONDITION_DELAY,
        CMD_CONDITION_YAW,
    }
)
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
    allowed = {
        mi.MISSION_TYPE_MISSION: MISSION_COMMANDS,
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
