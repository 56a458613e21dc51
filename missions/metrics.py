"""Mission metrics: path length, flight time with acceleration and turns, photos, coverage.

Time model (per vehicle profile): takeoff climb at ``climb_rate_m_s``, landing descent at
``descent_rate_m_s``, slower near the ground as the firmware lands
(:func:`missions.trajectory.landing_time_s`); the path is cut into straight runs at every
corner sharper than ``CORNER_DEG``; a ``"stop"`` vehicle flies each run with a trapezoidal
speed profile (accelerate at ``accel_m_s2`` to cruise, decelerate to 0) and yaws at
``yaw_rate_deg_s`` at the corner; a ``"coordinated"`` vehicle keeps cruise speed and turns on a
circle of ``turn_radius_m``.
Hover-and-capture adds a stop and a hold at every photo.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from missions.patterns.base import SEARCH, FloatArray, PathPlan
from missions.trajectory import landing_time_s
from missions.vehicles import Vehicle

CORNER_DEG = 20.0  # a heading change above this is a corner the vehicle stops or turns at
TURN_DEG = 45.0  # a heading change above this counts as a turn in the metrics


@dataclass(frozen=True)
class Metrics:
    """Figures for one mission (metric units; ``None`` when not applicable)."""

    path_length_m: float
    flight_time_s: float
    photo_count: int
    alt_m: float
    area_m2: float
    turns: int
    sorties: int
    gsd_cm: float | None = None
    coverage_pct: float | None = None
    pod: float | None = None
    spacing_m: float | None = None
    sweep_width_m: float | None = None
    trigger_distance_m: float | None = None
    angle_deg: float | None = None
    cells: int | None = None
    search_length_m: float = 0.0
    lower_bound_length_m: float | None = None
    passes: int = 1
    pod_cumulative: float | None = None
    sortie_times_s: tuple[float, ...] = ()

    @property
    def total_time_s(self) -> float:
        """Flying time over all sorties (each from and back to home)."""
        return float(sum(self.sortie_times_s)) if self.sortie_times_s else self.flight_time_s

    def to_dict(self) -> dict[str, Any]:
        out = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        out["sortie_times_s"] = [round(t, 1) for t in self.sortie_times_s]
        out["total_time_s"] = round(self.total_time_s, 1)
        return out


def seg_lengths(xy: FloatArray) -> FloatArray:
    d = np.diff(xy, axis=0)
    return np.asarray(np.hypot(d[:, 0], d[:, 1]))


def turn_angles_deg(xy: FloatArray) -> FloatArray:
    """Heading change at each interior waypoint (0..180°), zero-length legs skipped."""
    d = np.diff(xy, axis=0)
    keep = np.hypot(d[:, 0], d[:, 1]) > 1e-6
    d = d[keep]
    if len(d) < 2:
        return np.zeros(0)
    h = np.arctan2(d[:, 0], d[:, 1])
    dh = np.abs((np.diff(h) + np.pi) % (2 * np.pi) - np.pi)
    return np.asarray(np.degrees(dh))


def count_turns(xy: FloatArray) -> int:
    return int(np.count_nonzero(turn_angles_deg(xy) > TURN_DEG))


def run_time_s(length_m: FloatArray, v: float, a: float) -> FloatArray:
    """Time to fly straight runs from standstill to standstill (trapezoid / triangle profile)."""
    length = np.asarray(length_m, dtype=np.float64)
    full = length >= v * v / a
    return np.where(full, length / v + v / a, 2.0 * np.sqrt(np.maximum(length, 0.0) / a))


def path_time_s(
    xy: FloatArray, vehicle: Vehicle, stops_xy: FloatArray | None = None, hold_s: float = 0.0
) -> float:
    """Time to fly the polyline ``xy`` (no takeoff/landing); ``stops_xy`` are extra points
    on the path where the vehicle stops for ``hold_s`` (hover-and-capture)."""
    xy = np.asarray(xy, dtype=np.float64)
    if len(xy) < 2:
        return 0.0
    lens = seg_lengths(xy)
    keep = np.concatenate([[True], lens > 1e-6])
    xy = xy[keep]
    lens = seg_lengths(xy)
    if len(lens) == 0:
        return 0.0
    v, a = vehicle.cruise_speed_m_s, vehicle.accel_m_s2
    ang = turn_angles_deg(xy)
    corner = ang > CORNER_DEG
    extra = 0.0
    if stops_xy is not None and len(stops_xy):
        extra = len(stops_xy) * hold_s
    if vehicle.turn_mode == "coordinated":
        r = vehicle.turn_radius_m
        th = np.radians(ang[corner])
        arc_saving = np.sum(2 * r * np.tan(th / 2) - r * th)
        t = (lens.sum() - arc_saving) / v + 2 * v / a
        return float(t + extra)
    # stop mode: cut into runs at corners (and photo stops)
    cum = np.concatenate([[0.0], np.cumsum(lens)])
    cuts = cum[1:-1][corner]
    if stops_xy is not None and len(stops_xy) and hold_s > 0:
        cuts = np.concatenate([cuts, _stations(xy, cum, stops_xy)])
    bounds = np.unique(np.concatenate([[0.0], cuts, [cum[-1]]]))
    runs = np.diff(bounds)
    runs = runs[runs > 1e-6]
    t = float(run_time_s(runs, v, a).sum())
    t += float(ang[corner].sum()) / max(vehicle.yaw_rate_deg_s, 1e-6)
    return t + extra


def _stations(xy: FloatArray, cum: FloatArray, pts: FloatArray) -> FloatArray:
    """Distance along the path of each point (nearest segment)."""
    line = shapely.linestrings(xy)
    return np.asarray(shapely.line_locate_point(line, shapely.points(pts)))


def climb_and_landing_s(vehicle: Vehicle, alt_m: float) -> float:
    """The take-off climb to ``alt_m`` and the landing from it, as a sortie flies them (the
    landing slows near the ground as the firmware lands, as the safety guard times it)."""
    landing = landing_time_s(alt_m, vehicle.descent_rate_m_s, vehicle.autopilot == "ardupilot")
    return alt_m / vehicle.climb_rate_m_s + landing


def mission_time_s(
    plan: PathPlan,
    vehicle: Vehicle,
    alt_m: float,
    home_xy: tuple[float, float] | None = None,
    hold_s: float = 0.0,
) -> float:
    """Takeoff, flight from home, the path, return and landing."""
    xy = plan.xy
    if home_xy is not None:
        xy = np.concatenate([[home_xy], xy, [home_xy]])
    t = climb_and_landing_s(vehicle, alt_m)
    stops = plan.photos_xy if hold_s > 0 else None
    holds = len(stops) * hold_s if stops is not None else 0.0
    # the safety guard (missions.trajectory) times every leg from standstill to standstill: on a
    # path of many shallow turns (a POA walk, 900 legs of 50-150 m) that is 15 % longer than
    # stopping at corners only, and sorties cut by the shorter time failed the guard
    return t + max(path_time_s(xy, vehicle, stops, hold_s), waypoint_time_s(xy, vehicle) + holds)


def waypoint_time_s(xy: FloatArray, vehicle: Vehicle) -> float:
    """Time to fly the polyline ``xy`` stopping at every vertex, as the safety guard times a
    mission (each leg from standstill to standstill at cruise speed and acceleration)."""
    lens = seg_lengths(np.asarray(xy, dtype=np.float64))
    lens = lens[lens > 1e-6]
    return float(run_time_s(lens, vehicle.cruise_speed_m_s, vehicle.accel_m_s2).sum())


def footprints(
    photos_xy: FloatArray, heading_deg: FloatArray, across_m: float, along_m: float
) -> np.ndarray:
    """Rectangular nadir footprints (shapely polygons array) centred on each photo."""
    n = len(photos_xy)
    if n == 0:
        return np.zeros(0, dtype=object)
    h = np.radians(heading_deg)
    u = np.column_stack([np.sin(h), np.cos(h)])  # along track
    p = np.column_stack([u[:, 1], -u[:, 0]])  # across (right)
    a2, c2 = along_m / 2.0, across_m / 2.0
    corners = np.stack(
        [
            photos_xy + u * a2 + p * c2,
            photos_xy - u * a2 + p * c2,
            photos_xy - u * a2 - p * c2,
            photos_xy + u * a2 - p * c2,
            photos_xy + u * a2 + p * c2,
        ],
        axis=1,
    )
    return np.asarray(shapely.polygons(corners))


def swath(plan: PathPlan, width_m: float) -> Polygon | MultiPolygon:
    """What a sensor of ``width_m`` sweeps along the search legs."""
    segs = plan.search_segments()
    if len(segs) == 0:
        return Polygon()
    lines = shapely.linestrings(segs)
    u = shapely.union_all(shapely.buffer(lines, width_m / 2.0, cap_style="flat"))
    return u  # type: ignore[no-any-return]


def coverage_pct(area: Polygon | MultiPolygon, covered: Any) -> float:
    """Percentage of ``area`` inside ``covered`` (a geometry or an array of them)."""
    if isinstance(covered, np.ndarray):
        covered = shapely.union_all(covered) if len(covered) else Polygon()
    if area.area <= 0:
        return 0.0
    return 100.0 * float(area.intersection(covered).area) / float(area.area)


def lower_bound_length_m(area_m2: float, spacing_m: float) -> float:
    """Shortest possible path covering the area with lines ``spacing_m`` apart: area / S."""
    return area_m2 / spacing_m if spacing_m > 0 else math.inf


def search_length_m(plan: PathPlan) -> float:
    return float(seg_lengths(plan.xy)[plan.seg_kind == SEARCH].sum())
