"""The mission as the planner, the file formats, the link layer and the GUI share it.

A :class:`Mission` is a list of :class:`~dronekit_plzen.mission_items.MissionItem` (MAVLink
semantics, WGS84 degrees, SI units) plus its geofence, rally points, home and metadata. It does
not include ArduPilot's home-at-sequence-0 item: formats and the link layer add/strip that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dronekit_plzen.mission_items import (
    CMD_NAV_FENCE_CIRCLE_EXCLUSION,
    CMD_NAV_FENCE_CIRCLE_INCLUSION,
    CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
    CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
    CMD_NAV_RALLY_POINT,
    FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT,
    MISSION_TYPE_FENCE,
    MISSION_TYPE_RALLY,
    MissionItem,
)

# MAV_AUTOPILOT
AUTOPILOT_ARDUPILOT = 3
AUTOPILOT_PX4 = 12
#: the autopilots by the names the command line, the guard and the sidecars use, and back
AUTOPILOT_CODES = {"ardupilot": AUTOPILOT_ARDUPILOT, "px4": AUTOPILOT_PX4}
AUTOPILOT_NAMES = {code: name for name, code in AUTOPILOT_CODES.items()}
# MAV_TYPE
VEHICLE_TYPE_QUADROTOR = 2

LonLat = tuple[float, float]


@dataclass(frozen=True)
class FencePolygon:
    """A geofence polygon: ``vertices`` as (lon, lat), not closed (first != last)."""

    vertices: tuple[LonLat, ...]
    inclusion: bool = True

    def to_items(self) -> list[MissionItem]:
        cmd = (
            CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
            if self.inclusion
            else CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
        )
        n = len(self.vertices)
        return [
            MissionItem(
                command=cmd,
                frame=FRAME_GLOBAL,
                param1=float(n),
                lat_deg=lat,
                lon_deg=lon,
                mission_type=MISSION_TYPE_FENCE,
            )
            for lon, lat in self.vertices
        ]


@dataclass(frozen=True)
class FenceCircle:
    """A geofence circle around ``center`` (lon, lat) with ``radius_m``."""

    center: LonLat
    radius_m: float
    inclusion: bool = True

    def to_items(self) -> list[MissionItem]:
        cmd = CMD_NAV_FENCE_CIRCLE_INCLUSION if self.inclusion else CMD_NAV_FENCE_CIRCLE_EXCLUSION
        return [
            MissionItem(
                command=cmd,
                frame=FRAME_GLOBAL,
                param1=float(self.radius_m),
                lat_deg=self.center[1],
                lon_deg=self.center[0],
                mission_type=MISSION_TYPE_FENCE,
            )
        ]


@dataclass(frozen=True)
class RallyPoint:
    lon_deg: float
    lat_deg: float
    alt_m: float  # relative to home

    def to_item(self) -> MissionItem:
        return MissionItem(
            command=CMD_NAV_RALLY_POINT,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=self.lat_deg,
            lon_deg=self.lon_deg,
            alt_m=self.alt_m,
            mission_type=MISSION_TYPE_RALLY,
        )


@dataclass
class Mission:
    """A flyable mission with its geofence, rally points and metadata.

    ``home`` is (lon, lat, alt_amsl_m) of the planned launch point, or ``None``.
    ``metadata`` holds the planner's record: pattern, camera, metrics, validation result and any
    safety override with its reasons (kept in every file format that can carry it).
    """

    items: list[MissionItem] = field(default_factory=list)
    home: tuple[float, float, float] | None = None
    fence_polygons: list[FencePolygon] = field(default_factory=list)
    fence_circles: list[FenceCircle] = field(default_factory=list)
    rally_points: list[RallyPoint] = field(default_factory=list)
    autopilot: int = AUTOPILOT_PX4
    vehicle_type: int = VEHICLE_TYPE_QUADROTOR
    cruise_speed_m_s: float = 10.0
    hover_speed_m_s: float = 5.0
    metadata: dict[str, Any] = field(default_factory=dict)

    def fence_items(self) -> list[MissionItem]:
        out: list[MissionItem] = []
        for p in self.fence_polygons:
            out.extend(p.to_items())
        for c in self.fence_circles:
            out.extend(c.to_items())
        return out

    def rally_items(self) -> list[MissionItem]:
        return [r.to_item() for r in self.rally_points]

    def waypoints_lonlat_alt(self) -> list[tuple[float, float, float]]:
        """(lon, lat, alt_m) of every item that has a position, in order."""
        return [(it.lon_deg, it.lat_deg, it.alt_m) for it in self.items if it.has_position]
