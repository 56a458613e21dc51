"""The planning facade: one function per pattern, each returning a :class:`PlanResult`.

Every function takes WGS84 inputs (an :class:`~missions.area.Area`, a datum or polyline as
(lon, lat)), plans in the area's UTM zone and returns the mission (MAVLink-semantics items,
altitudes relative to home), its :class:`~missions.metrics.Metrics`, and lon/lat geometries of
the path, search legs, camera footprints and sensor swath for export, display and audit.

Example
-------
>>> from missions.area import parse_area
>>> a = parse_area("POLYGON((13.37 49.74, 13.38 49.74, 13.38 49.745, 13.37 49.745, 13.37 49.74))")
>>> r = plan_survey(a, camera="mavic3e-wide", alt_m=80, vehicle="mavic3e")
>>> r.metrics.coverage_pct > 99.5
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError
from missions.area import Area, project_geometry, to_lonlat
from missions.camera import Camera, get_camera
from missions.detection import Target, get_target, max_alt_m, pod, spacing_for_pod, sweep_width_m
from missions.metrics import (
    Metrics,
    count_turns,
    coverage_pct,
    footprints,
    lower_bound_length_m,
    mission_time_s,
    search_length_m,
)
from missions.mission_build import MissionOptions, build_mission, search_runs
from missions.model import Mission
from missions.patterns.base import SEARCH, TRANSIT, InsideRouter, PathPlan, routing_domain
from missions.patterns.sar import (
    corridor_path,
    creeping_line_path,
    expanding_square_path,
    perimeter_path,
    photos_along,
    sector_path,
)
from missions.patterns.survey import best_angle_deg, plan_survey_path
from missions.sorties import cut_sorties
from missions.vehicles import Vehicle, get_vehicle, load_vehicles

LonLat = tuple[float, float]


@dataclass
class PlanResult:
    """A planned mission and everything needed to show, export or audit it.

    Geometries are WGS84 lon/lat. ``footprints_lonlat`` are the photo footprints (empty when the
    camera does not trigger); ``swath_lonlat`` is what the sensor sweeps along the search legs
    (the sweep width W for SAR, the footprint width otherwise). ``sorties`` holds one mission
    per battery (just ``[mission]`` when one battery is enough) and ``resume_points`` the
    (lon, lat) where each later sortie resumes.
    """

    mission: Mission
    metrics: Metrics
    path_lonlat: LineString
    search_legs_lonlat: MultiLineString
    footprints_lonlat: list[Polygon]
    swath_lonlat: Polygon | MultiPolygon | None
    area_lonlat: Polygon | MultiPolygon | None
    plan: PathPlan
    sorties: list[Mission] = field(default_factory=list)
    resume_points: list[LonLat] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def epsg(self) -> int:
        return self.plan.epsg


@dataclass(frozen=True)
class _Sensor:
    camera: Camera | None
    alt_m: float
    spacing_m: float
    sweep_width_m: float | None
    pod: float | None
    trigger_distance_m: float | None
    target: Target | None


def resolve_camera(camera: Camera | str | None) -> Camera | None:
    return get_camera(camera) if isinstance(camera, str) else camera


def resolve_vehicle(vehicle: Vehicle | str | None, camera: Camera | None) -> Vehicle:
    """The vehicle profile; by default the one that carries ``camera``, else a PX4 quad."""
    if isinstance(vehicle, Vehicle):
        return vehicle
    if isinstance(vehicle, str):
        return get_vehicle(vehicle)
    if camera is not None:
        for v in load_vehicles().values():
            if v.camera == camera.key:
                return v
    return get_vehicle("px4-quad")


def resolve_sensor(
    camera: Camera | None,
    *,
    alt_m: float | None = None,
    gsd_cm: float | None = None,
    side_overlap_pct: float = 70.0,
    front_overlap_pct: float = 80.0,
    spacing_m: float | None = None,
    wanted_pod: float | None = None,
    target: Target | str | None = None,
    landscape: bool = True,
    trigger: str = "distance",
) -> _Sensor:
    """Altitude, line spacing, sweep width, POD and trigger distance from the user's choice:
    ``alt_m`` or ``gsd_cm`` (or the target's pixel cap); ``spacing_m``, ``wanted_pod`` (needs a
    target) or the camera's side overlap."""
    tgt = get_target(target, camera) if isinstance(target, str) else target
    if alt_m is None and gsd_cm is not None:
        if camera is None:
            raise BadInputError("a GSD needs a camera")
        alt_m = camera.alt_for_gsd_m(gsd_cm)
    if alt_m is None and camera is not None and tgt is not None:
        alt_m = math.floor(max_alt_m(camera, tgt) * 10.0) / 10.0
    if alt_m is None:
        raise BadInputError("give an altitude (alt_m) or a GSD (gsd_cm)")
    if not alt_m > 0:
        raise BadInputError(f"altitude must be positive, got {alt_m} m")
    width = None
    if camera is not None:
        width = (
            sweep_width_m(camera, alt_m, tgt, landscape)
            if tgt is not None
            else camera.footprint_m(alt_m, landscape)[0]
        )
    if spacing_m is not None:
        s = float(spacing_m)
    elif wanted_pod is not None:
        if width is None or tgt is None:
            raise BadInputError("a wanted POD needs a camera and a target (e.g. person)")
        s = spacing_for_pod(width, wanted_pod)
    elif camera is not None:
        s = camera.line_spacing_m(alt_m, side_overlap_pct, landscape)
    else:
        raise BadInputError("give a track spacing, a camera with overlaps, or a wanted POD")
    if not s > 0:
        raise BadInputError(f"track spacing must be positive, got {s} m")
    trig = None
    if camera is not None and trigger != "none":
        trig = camera.trigger_distance_m(alt_m, front_overlap_pct, landscape)
    p = pod(width, s) if (width is not None and tgt is not None) else None
    return _Sensor(camera, float(alt_m), s, width, p, trig, tgt)


def _home_xy(home: LonLat | None, epsg: int) -> tuple[float, float] | None:
    if home is None:
        return None
    x, y = geo.transform([home[0]], [home[1]], geo.WGS84, epsg)
    return float(x[0]), float(y[0])


def finish(
    path: PathPlan,
    sensor: _Sensor,
    vehicle: Vehicle,
    *,
    pattern: str,
    area_m: Polygon | MultiPolygon | None,
    home: LonLat | None,
    options: MissionOptions,
    compute_coverage: bool = True,
    landscape: bool = True,
    extra_meta: dict[str, Any] | None = None,
) -> PlanResult:
    """Photos, metrics, mission, sorties and lon/lat geometries for a metric path."""
    epsg = path.epsg
    runs = search_runs(path)
    photos, heads = photos_along(runs, sensor.trigger_distance_m)
    path = PathPlan(path.xy, path.seg_kind, epsg, photos, heads, dict(path.info))
    home_xy = _home_xy(home, epsg)
    hold = options.hover_s if options.trigger == "hover" else 0.0
    t = mission_time_s(path, vehicle, sensor.alt_m, home_xy, hold)
    fps: np.ndarray = np.zeros(0, dtype=object)
    cov = None
    swath_m = None
    if sensor.camera is not None:
        across, along = sensor.camera.footprint_m(sensor.alt_m, landscape)
        fps = footprints(photos, heads, across, along)
        strips = [LineString(r).buffer(across / 2.0, cap_style="flat") for r in runs if len(r) > 1]
        if compute_coverage and area_m is not None:
            if len(photos):
                # consecutive footprints overlap, so a run's photos cover its strip extended by
                # half a footprint at both ends
                ext = [_extend(r, along / 2.0) for r in runs if len(r) > 1]
                cov_geom = shapely.union_all(
                    [LineString(r).buffer(across / 2.0, cap_style="flat") for r in ext]
                )
            else:
                cov_geom = shapely.union_all(strips)
            cov = coverage_pct(area_m, cov_geom)
        if sensor.sweep_width_m is not None:
            swath_m = shapely.union_all(
                [
                    LineString(r).buffer(sensor.sweep_width_m / 2.0, cap_style="flat")
                    for r in runs
                    if len(r) > 1
                ]
            )
    area_m2 = float(area_m.area) if area_m is not None else 0.0
    sorties, resume_xy = cut_sorties(path, vehicle, sensor.alt_m, home_xy, hold)
    metrics = Metrics(
        path_length_m=path.length_m,
        flight_time_s=t,
        photo_count=len(photos),
        alt_m=sensor.alt_m,
        area_m2=area_m2,
        turns=count_turns(path.xy),
        sorties=len(sorties),
        gsd_cm=sensor.camera.gsd_cm(sensor.alt_m) if sensor.camera else None,
        coverage_pct=cov,
        pod=sensor.pod,
        spacing_m=sensor.spacing_m,
        sweep_width_m=sensor.sweep_width_m,
        trigger_distance_m=sensor.trigger_distance_m,
        angle_deg=path.info.get("angle_deg"),
        cells=path.info.get("cells"),
        search_length_m=search_length_m(path),
        lower_bound_length_m=lower_bound_length_m(area_m2, sensor.spacing_m) if area_m2 else None,
    )
    meta: dict[str, Any] = {
        "pattern": pattern,
        "camera": sensor.camera.key if sensor.camera else None,
        "vehicle": vehicle.key,
        "target": sensor.target.key if sensor.target else None,
        "alt_m": sensor.alt_m,
        "crs_epsg": epsg,
        "metrics": metrics.to_dict(),
        **(extra_meta or {}),
    }
    for k in ("angle_deg", "spacing_m", "cells", "legs", "radius_m", "major_axis_deg"):
        if k in path.info:
            meta[k] = path.info[k]
    mission = build_mission(
        path, sensor.alt_m, home, vehicle, sensor.trigger_distance_m, options, meta
    )
    sortie_missions = (
        [mission]
        if len(sorties) == 1
        else [
            build_mission(
                sp,
                sensor.alt_m,
                home,
                vehicle,
                sensor.trigger_distance_m,
                options,
                {**meta, "sortie": i + 1, "sorties": len(sorties)},
            )
            for i, sp in enumerate(sorties)
        ]
    )
    resume_ll = []
    if resume_xy:
        lo, la = geo.transform(
            [p[0] for p in resume_xy], [p[1] for p in resume_xy], epsg, geo.WGS84
        )
        resume_ll = [(float(a), float(b)) for a, b in zip(lo, la)]
    legs = MultiLineString([LineString(r) for r in runs if len(r) > 1])
    warnings = []
    if cov is not None and cov < 99.5:
        warnings.append(f"coverage is {cov:.1f} % of the area")
    if len(sorties) > 1:
        warnings.append(f"the mission needs {len(sorties)} batteries (sorties)")
    return PlanResult(
        mission=mission,
        metrics=metrics,
        path_lonlat=to_lonlat(LineString(path.xy), epsg),
        search_legs_lonlat=to_lonlat(legs, epsg),
        footprints_lonlat=list(to_lonlat(fps, epsg)) if len(fps) else [],
        swath_lonlat=to_lonlat(swath_m, epsg) if swath_m is not None else None,
        area_lonlat=to_lonlat(area_m, epsg) if area_m is not None else None,
        plan=path,
        sorties=sortie_missions,
        resume_points=resume_ll,
        warnings=warnings,
    )


def _extend(run: np.ndarray, d: float) -> np.ndarray:
    r = np.array(run, dtype=np.float64)
    for i, j in ((0, 1), (-1, -2)):
        v = r[i] - r[j]
        n = float(np.hypot(*v))
        if n > 0:
            r[i] = r[i] + v / n * d
    return r


def _angle(
    area_m: Any, angle_deg: float | str, spacing_m: float, v: Vehicle, reach_m: float | None = None
) -> float:
    if isinstance(angle_deg, str):
        if angle_deg.strip().lower() != "auto":
            try:
                return float(angle_deg) % 180.0
            except ValueError as exc:
                raise BadInputError(f"angle must be 'auto' or degrees, got {angle_deg!r}") from exc
        return best_angle_deg(area_m, spacing_m, v, reach_m=reach_m)
    return float(angle_deg) % 180.0


def plan_survey(
    area: Area,
    camera: Camera | str | None = None,
    *,
    alt_m: float | None = None,
    gsd_cm: float | None = None,
    side_overlap_pct: float = 70.0,
    front_overlap_pct: float = 80.0,
    spacing_m: float | None = None,
    wanted_pod: float | None = None,
    target: Target | str | None = None,
    angle_deg: float | str = "auto",
    vehicle: Vehicle | str | None = None,
    home: LonLat | None = None,
    turnaround_m: float = 0.0,
    cross_hatch: bool = False,
    trigger: str = "distance",
    hover_s: float = 1.0,
    landscape: bool = True,
    speed_m_s: float | None = None,
    end: str = "rtl",
    epsg: int | None = None,
    compute_coverage: bool = True,
) -> PlanResult:
    """Survey (lawnmower) grid over ``area``, holes and concave parts included.

    ``trigger``: ``"distance"`` (DO_SET_CAM_TRIGG_DIST on each transect), ``"waypoint"``
    (a waypoint and IMAGE_START_CAPTURE per photo), ``"hover"`` (hover-and-capture: as
    waypoint, holding ``hover_s``) or ``"none"``. ``angle_deg``: transect bearing (0 = north-
    south lines) or ``"auto"`` (least flight time, turns included). ``wanted_pod`` with a
    ``target`` (e.g. ``"person"``) sets the spacing from the sweep width (SAR grid).
    """
    cam = resolve_camera(camera)
    veh = resolve_vehicle(vehicle, cam)
    if speed_m_s is not None:
        veh = veh.with_speed(speed_m_s)
    sensor = resolve_sensor(
        cam,
        alt_m=alt_m,
        gsd_cm=gsd_cm,
        side_overlap_pct=side_overlap_pct,
        front_overlap_pct=front_overlap_pct,
        spacing_m=spacing_m,
        wanted_pod=wanted_pod,
        target=target,
        landscape=landscape,
        trigger=trigger,
    )
    area_m, code = area.to_metric(epsg)
    reach = _reach_m(sensor, landscape)
    ang = _angle(area_m, angle_deg, sensor.spacing_m, veh, reach)
    router = InsideRouter(routing_domain(area_m))
    start = _home_xy(home, code)
    path = plan_survey_path(
        area_m,
        code,
        sensor.spacing_m,
        ang,
        turnaround_m=turnaround_m,
        start_xy=start,
        router=router,
        reach_m=reach,
    )
    if cross_hatch:
        second = plan_survey_path(
            area_m,
            code,
            sensor.spacing_m,
            (ang + 90.0) % 180.0,
            turnaround_m=turnaround_m,
            start_xy=tuple(path.xy[-1]),
            router=router,
            reach_m=reach,
        )
        path = PathPlan(
            np.concatenate([path.xy, second.xy[1:]]),
            np.concatenate([path.seg_kind, second.seg_kind]),
            code,
            info={
                **path.info,
                "cross_hatch": True,
                "transects": path.info["transects"] + second.info["transects"],
            },
        )
    if start is not None:  # the launch point is not part of the mission's waypoints
        path = _drop_first(path)
    opts = MissionOptions(trigger=trigger, hover_s=hover_s, end=end)
    return finish(
        path,
        sensor,
        veh,
        pattern="survey",
        area_m=area_m,
        home=home,
        options=opts,
        compute_coverage=compute_coverage,
        landscape=landscape,
        extra_meta={"angle_mode": "auto" if isinstance(angle_deg, str) else "fixed"},
    )


def _reach_m(sensor: _Sensor, landscape: bool) -> float | None:
    """How far beyond a transect end the sensor still sees: half the along-track footprint."""
    if sensor.camera is None:
        return None
    return sensor.camera.footprint_m(sensor.alt_m, landscape)[1] / 2.0


def _drop_first(path: PathPlan) -> PathPlan:
    if len(path.xy) < 3:
        return path
    return PathPlan(path.xy[1:], path.seg_kind[1:], path.epsg, info=path.info)


def _datum_plan_common(
    datum: LonLat,
    camera: Camera | str | None,
    vehicle: Vehicle | str | None,
    speed_m_s: float | None,
    epsg: int | None,
    **sensor_kw: Any,
) -> tuple[Camera | None, Vehicle, _Sensor, int, tuple[float, float]]:
    cam = resolve_camera(camera)
    veh = resolve_vehicle(vehicle, cam)
    if speed_m_s is not None:
        veh = veh.with_speed(speed_m_s)
    sensor = resolve_sensor(cam, **sensor_kw)
    code = epsg or geo.utm_epsg_for(*datum)
    x, y = geo.transform([datum[0]], [datum[1]], geo.WGS84, code)
    return cam, veh, sensor, code, (float(x[0]), float(y[0]))


def plan_expanding_square(
    datum: LonLat,
    *,
    spacing_m: float | None = None,
    radius_m: float | None = None,
    legs: int | None = None,
    first_bearing_deg: float = 0.0,
    alt_m: float | None = None,
    camera: Camera | str | None = None,
    target: Target | str | None = None,
    wanted_pod: float | None = None,
    vehicle: Vehicle | str | None = None,
    home: LonLat | None = None,
    trigger: str = "none",
    speed_m_s: float | None = None,
    end: str = "rtl",
    epsg: int | None = None,
) -> PlanResult:
    """IAMSAR expanding square from ``datum`` (lon, lat): legs S, S, 2S, 2S, ... to
    ``radius_m`` or for ``legs`` legs. S is ``spacing_m`` or from ``wanted_pod``."""
    _, veh, sensor, code, dxy = _datum_plan_common(
        datum,
        camera,
        vehicle,
        speed_m_s,
        epsg,
        alt_m=alt_m,
        spacing_m=spacing_m,
        wanted_pod=wanted_pod,
        target=target,
        trigger=trigger,
    )
    path = expanding_square_path(
        dxy,
        code,
        sensor.spacing_m,
        radius_m=radius_m,
        legs=legs,
        first_bearing_deg=first_bearing_deg,
    )
    half = float(np.abs(path.xy - np.asarray(dxy)).max()) + sensor.spacing_m / 2.0
    area_m = _rotated_square(dxy, half, first_bearing_deg)
    return finish(
        path,
        sensor,
        veh,
        pattern="expanding-square",
        area_m=area_m,
        home=home,
        options=MissionOptions(trigger=trigger, end=end),
    )


def _rotated_square(c: tuple[float, float], half: float, bearing_deg: float) -> Polygon:
    b = math.radians(bearing_deg)
    u = np.array([math.sin(b), math.cos(b)]) * half
    p = np.array([u[1], -u[0]])
    cc = np.asarray(c)
    return Polygon([cc + u + p, cc - u + p, cc - u - p, cc + u - p])


def plan_sector(
    datum: LonLat,
    radius_m: float,
    *,
    first_bearing_deg: float = 0.0,
    second_pattern: bool = False,
    alt_m: float | None = None,
    camera: Camera | str | None = None,
    target: Target | str | None = None,
    vehicle: Vehicle | str | None = None,
    home: LonLat | None = None,
    trigger: str = "none",
    speed_m_s: float | None = None,
    end: str = "rtl",
    epsg: int | None = None,
) -> PlanResult:
    """IAMSAR sector search from ``datum`` with ``radius_m``: 120° turns through the datum;
    ``second_pattern`` adds the same rotated 30° right."""
    _, veh, sensor, code, dxy = _datum_plan_common(
        datum,
        camera,
        vehicle,
        speed_m_s,
        epsg,
        alt_m=alt_m,
        spacing_m=radius_m,
        target=target,
        trigger=trigger,
    )
    path = sector_path(
        dxy, code, radius_m, first_bearing_deg=first_bearing_deg, second_pattern=second_pattern
    )
    circle = Point(dxy).buffer(radius_m, quad_segs=32)
    return finish(
        path,
        sensor,
        veh,
        pattern="sector",
        area_m=circle,
        home=home,
        options=MissionOptions(trigger=trigger, end=end),
    )


def plan_creeping_line(
    area: Area,
    *,
    spacing_m: float | None = None,
    legs_along: str = "minor",
    alt_m: float | None = None,
    camera: Camera | str | None = None,
    target: Target | str | None = None,
    wanted_pod: float | None = None,
    vehicle: Vehicle | str | None = None,
    home: LonLat | None = None,
    trigger: str = "none",
    speed_m_s: float | None = None,
    end: str = "rtl",
    epsg: int | None = None,
) -> PlanResult:
    """IAMSAR creeping line (``legs_along="minor"``) or parallel track (``"major"``) over the
    area, along its major axis, the first track S/2 inside the edge."""
    cam = resolve_camera(camera)
    veh = resolve_vehicle(vehicle, cam)
    if speed_m_s is not None:
        veh = veh.with_speed(speed_m_s)
    sensor = resolve_sensor(
        cam, alt_m=alt_m, spacing_m=spacing_m, wanted_pod=wanted_pod, target=target, trigger=trigger
    )
    area_m, code = area.to_metric(epsg)
    start = _home_xy(home, code)
    path = creeping_line_path(
        area_m,
        code,
        sensor.spacing_m,
        legs_along=legs_along,
        start_xy=start,
        reach_m=_reach_m(sensor, True),
    )
    if start is not None:
        path = _drop_first(path)
    name = "creeping-line" if legs_along == "minor" else "parallel-track"
    return finish(
        path,
        sensor,
        veh,
        pattern=name,
        area_m=area_m,
        home=home,
        options=MissionOptions(trigger=trigger, end=end),
    )


def plan_corridor(
    polyline: list[LonLat],
    width_m: float,
    *,
    spacing_m: float | None = None,
    alt_m: float | None = None,
    camera: Camera | str | None = None,
    side_overlap_pct: float = 70.0,
    front_overlap_pct: float = 80.0,
    target: Target | str | None = None,
    vehicle: Vehicle | str | None = None,
    home: LonLat | None = None,
    trigger: str = "distance",
    speed_m_s: float | None = None,
    end: str = "rtl",
    epsg: int | None = None,
) -> PlanResult:
    """Corridor along a polyline (river bank, road, railway) ``width_m`` wide."""
    if len(polyline) < 2:
        raise BadInputError("a corridor needs a polyline of at least 2 points")
    cam = resolve_camera(camera)
    veh = resolve_vehicle(vehicle, cam)
    if speed_m_s is not None:
        veh = veh.with_speed(speed_m_s)
    sensor = resolve_sensor(
        cam,
        alt_m=alt_m,
        spacing_m=spacing_m,
        target=target,
        side_overlap_pct=side_overlap_pct,
        front_overlap_pct=front_overlap_pct,
        trigger=trigger,
    )
    lon = [p[0] for p in polyline]
    lat = [p[1] for p in polyline]
    code = epsg or geo.utm_epsg_for_area(lon, lat)
    line = project_geometry(LineString(polyline), geo.WGS84, code)
    path, poly = corridor_path(line, code, width_m, sensor.spacing_m)
    return finish(
        path,
        sensor,
        veh,
        pattern="corridor",
        area_m=poly,
        home=home,
        options=MissionOptions(trigger=trigger, end=end),
        extra_meta={"width_m": width_m},
    )


def plan_perimeter(
    area: Area,
    *,
    spacing_m: float | None = None,
    alt_m: float | None = None,
    camera: Camera | str | None = None,
    side_overlap_pct: float = 70.0,
    front_overlap_pct: float = 80.0,
    target: Target | str | None = None,
    wanted_pod: float | None = None,
    vehicle: Vehicle | str | None = None,
    home: LonLat | None = None,
    trigger: str = "distance",
    speed_m_s: float | None = None,
    end: str = "rtl",
    epsg: int | None = None,
) -> PlanResult:
    """Perimeter spiral: rings offset inward by S/2, 3S/2, ... for small irregular areas."""
    cam = resolve_camera(camera)
    veh = resolve_vehicle(vehicle, cam)
    if speed_m_s is not None:
        veh = veh.with_speed(speed_m_s)
    sensor = resolve_sensor(
        cam,
        alt_m=alt_m,
        spacing_m=spacing_m,
        wanted_pod=wanted_pod,
        target=target,
        side_overlap_pct=side_overlap_pct,
        front_overlap_pct=front_overlap_pct,
        trigger=trigger,
    )
    area_m, code = area.to_metric(epsg)
    start = _home_xy(home, code)
    path = perimeter_path(area_m, code, sensor.spacing_m, start_xy=start)
    if start is not None:
        path = _drop_first(path)
    return finish(
        path,
        sensor,
        veh,
        pattern="perimeter",
        area_m=area_m,
        home=home,
        options=MissionOptions(trigger=trigger, end=end),
    )


__all__ = [
    "SEARCH",
    "TRANSIT",
    "PlanResult",
    "plan_corridor",
    "plan_creeping_line",
    "plan_expanding_square",
    "plan_perimeter",
    "plan_sector",
    "plan_survey",
    "resolve_sensor",
]
