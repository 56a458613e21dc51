"""Shared machinery of the planning facade: resolving the camera, vehicle and sensor
settings, and turning a metric path into a :class:`PlanResult` (photos, metrics, mission,
sorties and lon/lat geometries). The pattern functions live in :mod:`missions.planner`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from missions.area import to_lonlat
from missions.camera import Camera, get_camera
from missions.detection import (
    Target,
    cumulative_pod,
    get_target,
    max_alt_m,
    pod,
    spacing_for_pod,
    sweep_width_m,
)
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
from missions.patterns.angle import best_angle_deg
from missions.patterns.base import PathPlan
from missions.patterns.sar import (
    photos_along,
)
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


#: the longest search path one plan may hold: 2,000 km is some 80 sorties of a multicopter;
#: beyond it the spacing is a slip (a spacing in cm, an overlap of 99.99 %) or the area wants
#: splitting, and writing the plan would take minutes and gigabytes
MAX_PLAN_LENGTH_M = 2_000_000.0
#: the altitudes (m above ground) a plan may be flown at: below 1 m or above 10 km it is a slip
#: (a GSD in µm, an altitude in mm or in feet × 1e6); the guard's 120 m rule is checked later
MIN_FLIGHT_ALT_M = 1.0
MAX_FLIGHT_ALT_M = 10_000.0
#: the closest tracks a plan may have (closer is a unit slip; longer plans fail the effort check)
MIN_SPACING_M = 0.01
#: the most photos one plan may trigger
MAX_PLAN_PHOTOS = 200_000


def check_effort(area_m2: float, sensor: _Sensor, passes: int = 1) -> None:
    """Refuse a plan whose tracks over ``area_m2`` (``passes`` times, e.g. 2 cross-hatched)
    would be absurdly long or trigger absurdly many photos, before it is built."""
    length = passes * area_m2 / sensor.spacing_m
    if length > MAX_PLAN_LENGTH_M:
        raise BadInputError(
            _(
                "tracks {s:g} m apart over {a:.2f} km² would be about {l:,.0f} km long (at most "
                "{m:,.0f} km in one plan): widen the spacing (altitude, overlap) or split the area"
            ).format(s=sensor.spacing_m, a=area_m2 / 1e6, l=length / 1e3, m=MAX_PLAN_LENGTH_M / 1e3)
        )
    d = sensor.trigger_distance_m
    if d is not None and d > 0 and length / d > MAX_PLAN_PHOTOS:
        raise BadInputError(
            _(
                "a photo every {d:.3g} m along about {l:,.0f} km is {n:,.0f} photos (at most "
                "{m:,}): lower the front overlap or split the area"
            ).format(d=d, l=length / 1e3, n=length / d, m=MAX_PLAN_PHOTOS)
        )


#: no point of one plan farther than this from where the path starts
MAX_PLAN_REACH_M = 100_000.0


def check_path_extent(xy: np.ndarray, pattern: str) -> None:
    """Refuse a built path that no drone mission could be (a spacing or radius of 1e9 m): before
    photos, sorties and the guard sample it, which would take hours."""
    d = np.hypot(*(xy - xy[0]).T) if len(xy) else np.zeros(0)
    far = float(d.max()) if len(d) else 0.0
    length = float(np.hypot(*np.diff(xy, axis=0).T).sum()) if len(xy) > 1 else 0.0
    if not (math.isfinite(far) and math.isfinite(length)):
        raise BadInputError(_("the {p} path has a non-finite coordinate").format(p=pattern))
    if far > MAX_PLAN_REACH_M or length > MAX_PLAN_LENGTH_M:
        raise BadInputError(
            _(
                "the {p} path reaches {d:,.0f} km from its start and is {l:,.0f} km long: beyond "
                "any drone mission (at most {m:,.0f} km away); check the spacing, radius or legs"
            ).format(p=pattern, d=far / 1e3, l=length / 1e3, m=MAX_PLAN_REACH_M / 1e3)
        )


def resolve_camera(camera: Camera | str | None) -> Camera | None:
    return get_camera(camera) if isinstance(camera, str) else camera


#: the vehicle profile a plan is made for when none is named
DEFAULT_VEHICLE = "px4-quad"


def resolve_vehicle(vehicle: Vehicle | str | None, camera: Camera | None) -> Vehicle:
    """The vehicle profile; by default the one that carries ``camera`` (the PX4 quad when it is
    one of several, e.g. the generic camera of the PX4 and ArduCopter quads), else a PX4 quad."""
    if isinstance(vehicle, Vehicle):
        return vehicle
    if isinstance(vehicle, str):
        return get_vehicle(vehicle)
    if camera is not None:
        carriers = [v for v in load_vehicles().values() if v.camera == camera.key]
        for v in sorted(carriers, key=lambda v: v.key != DEFAULT_VEHICLE):
            return v
    return get_vehicle(DEFAULT_VEHICLE)


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
            raise BadInputError(_("a GSD needs a camera"))
        alt_m = camera.alt_for_gsd_m(gsd_cm)
    if alt_m is None and camera is not None and tgt is not None:
        alt_m = math.floor(max_alt_m(camera, tgt) * 10.0) / 10.0
    if alt_m is None:
        raise BadInputError(_("give an altitude (alt_m) or a GSD (gsd_cm)"))
    if not alt_m > 0:
        raise BadInputError(_("altitude must be positive, got {alt_m} m").format(alt_m=alt_m))
    if not MIN_FLIGHT_ALT_M <= alt_m <= MAX_FLIGHT_ALT_M:  # 1e9 m or a GSD of 0.0001 cm
        raise BadInputError(
            _(
                "an altitude of {a:g} m above ground is not a flight altitude "
                "({lo:g}–{hi:,.0f} m){why}"
            ).format(
                a=alt_m,
                lo=MIN_FLIGHT_ALT_M,
                hi=MAX_FLIGHT_ALT_M,
                why=_(" (from a GSD of {g:g} cm)").format(g=gsd_cm) if gsd_cm is not None else "",
            )
        )
    width = None
    if camera is not None:
        width = (
            sweep_width_m(camera, alt_m, tgt, landscape)
            if tgt is not None
            else camera.footprint_m(alt_m, landscape)[0]
        )
    if spacing_m is not None:
        s = float(spacing_m)
        if s < MIN_SPACING_M:  # 20 legs 1 µm apart were written as a mission, exit 0
            raise BadInputError(
                _("tracks {s:g} m apart: no sensor needs them closer than {m:g} m").format(
                    s=s, m=MIN_SPACING_M
                )
            )
    elif wanted_pod is not None:
        if width is None or tgt is None:
            raise BadInputError(_("a wanted POD needs a camera and a target (e.g. person)"))
        s = spacing_for_pod(width, wanted_pod)
    elif camera is not None:
        s = camera.line_spacing_m(alt_m, side_overlap_pct, landscape)
    else:
        raise BadInputError(_("give a track spacing, a camera with overlaps, or a wanted POD"))
    if not s > 0:
        raise BadInputError(_("track spacing must be positive, got {s} m").format(s=s))
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
    passes: int = 1,
) -> PlanResult:
    """Photos, metrics, mission, sorties and lon/lat geometries for a metric path; ``passes``
    is how often the path covers the area (2 for a cross-hatch) for the cumulative POD."""
    epsg = path.epsg
    check_path_extent(path.xy, pattern)
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
        passes=passes,
        pod_cumulative=cumulative_pod([sensor.pod] * passes) if sensor.pod is not None else None,
        sortie_times_s=tuple(
            mission_time_s(sp, vehicle, sensor.alt_m, home_xy, hold) for sp in sorties
        ),
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
    if isinstance(angle_deg, str) and angle_deg.strip().lower() == "auto":
        return best_angle_deg(area_m, spacing_m, v, reach_m=reach_m)
    try:
        a = float(angle_deg)
    except ValueError:
        a = math.nan
    if not math.isfinite(a):
        raise BadInputError(
            _("angle must be 'auto' or degrees, got {angle_deg!r}").format(angle_deg=angle_deg)
        )
    return a % 180.0


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


def _rotated_square(c: tuple[float, float], half: float, bearing_deg: float) -> Polygon:
    b = math.radians(bearing_deg)
    u = np.array([math.sin(b), math.cos(b)]) * half
    p = np.array([u[1], -u[0]])
    cc = np.asarray(c)
    return Polygon([cc + u + p, cc - u + p, cc - u - p, cc + u - p])
