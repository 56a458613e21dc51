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

import numpy as np
from shapely.geometry import LineString, Point

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from missions.area import Area, project_geometry
from missions.camera import Camera
from missions.detection import Target
from missions.mission_build import MissionOptions
from missions.patterns.base import SEARCH, TRANSIT, InsideRouter, PathPlan, routing_domain
from missions.patterns.sar import (
    corridor_path,
    creeping_line_path,
    expanding_square_path,
    perimeter_path,
    sector_path,
)
from missions.patterns.survey import plan_survey_path
from missions.plan_core import (
    LonLat,
    PlanResult,
    _angle,
    _datum_plan_common,
    _drop_first,
    _home_xy,
    _reach_m,
    _rotated_square,
    check_effort,
    finish,
    resolve_camera,
    resolve_sensor,
    resolve_vehicle,
)
from missions.vehicles import Vehicle


def default_trigger(pattern: str) -> str:
    """The camera trigger a pattern's planner uses unless told: its signature's default
    ("none" for the IAMSAR searches, which fly with the camera streaming)."""
    import inspect

    fn = globals().get("plan_" + pattern.replace("-", "_"))
    if fn is None:
        raise BadInputError(_("unknown pattern {name!r}").format(name=pattern))
    return str(inspect.signature(fn).parameters["trigger"].default)


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
    check_effort(area_m.area, sensor, 2 if cross_hatch else 1)
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
        passes=2 if cross_hatch else 1,
    )


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
    side_overlap_pct: float = 70.0,
    front_overlap_pct: float = 80.0,
    vehicle: Vehicle | str | None = None,
    home: LonLat | None = None,
    trigger: str = "none",
    speed_m_s: float | None = None,
    end: str = "rtl",
    epsg: int | None = None,
) -> PlanResult:
    """IAMSAR expanding square from ``datum`` (lon, lat): legs S, S, 2S, 2S, ... to
    ``radius_m`` or for ``legs`` legs. S is ``spacing_m``, from ``wanted_pod`` or from the
    camera's ``side_overlap_pct``."""
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
        side_overlap_pct=side_overlap_pct,
        front_overlap_pct=front_overlap_pct,
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


def plan_sector(
    datum: LonLat,
    radius_m: float,
    *,
    first_bearing_deg: float = 0.0,
    second_pattern: bool = False,
    alt_m: float | None = None,
    camera: Camera | str | None = None,
    target: Target | str | None = None,
    front_overlap_pct: float = 80.0,
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
        front_overlap_pct=front_overlap_pct,
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
    gsd_cm: float | None = None,
    camera: Camera | str | None = None,
    target: Target | str | None = None,
    wanted_pod: float | None = None,
    side_overlap_pct: float = 70.0,
    front_overlap_pct: float = 80.0,
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
        cam,
        alt_m=alt_m,
        gsd_cm=gsd_cm,
        spacing_m=spacing_m,
        wanted_pod=wanted_pod,
        target=target,
        side_overlap_pct=side_overlap_pct,
        front_overlap_pct=front_overlap_pct,
        trigger=trigger,
    )
    area_m, code = area.to_metric(epsg)
    check_effort(area_m.area, sensor)
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
    wanted_pod: float | None = None,
    vehicle: Vehicle | str | None = None,
    home: LonLat | None = None,
    trigger: str = "distance",
    speed_m_s: float | None = None,
    end: str = "rtl",
    epsg: int | None = None,
) -> PlanResult:
    """Corridor along a polyline (river bank, road, railway) ``width_m`` wide."""
    if len(polyline) < 2:
        raise BadInputError(_("a corridor needs a polyline of at least 2 points"))
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
    lon = [p[0] for p in polyline]
    lat = [p[1] for p in polyline]
    code = epsg or geo.utm_epsg_for_area(lon, lat)
    line = project_geometry(LineString(polyline), geo.WGS84, code)
    check_effort(line.length * width_m, sensor)
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
    check_effort(area_m.area, sensor)
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
