"""The GUI's adapter to the toolkit's packages (no Qt here).

Every call into the planner, the validator, the file formats, the link layer and the telemetry
store goes through this module, so the widgets see one small vocabulary (:mod:`gui.models`) and
a missing or changed backend turns into one clear :class:`BackendMissing` message in the status
bar instead of a crash.
"""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dronekit_plzen.errors import BadInputError, DronekitPlzenError
from dronekit_plzen.geo import WGS84, geodesic_distance_m, path_length_m, transform
from dronekit_plzen.i18n import _
from gui.models import FeaturesView, PlanRequest, PlanView, ViolationView, ZoneView

log = logging.getLogger(__name__)

#: planner patterns the planning panel offers (the CLI's names)
PATTERNS = (
    "survey",
    "expanding-square",
    "sector",
    "creeping-line",
    "corridor",
    "perimeter",
    "poa",
)

#: export formats (the CLI's ``--format`` names) and their file suffixes
EXPORT_FORMATS = {
    "plan": ".plan",
    "waypoints": ".waypoints",
    "kml": ".kml",
    "kmz": ".kmz",
    "geojson": ".geojson",
    "wpml": "_dji.kmz",
    "csv": ".csv",
}


class BackendMissing(DronekitPlzenError):
    """A toolkit function the GUI needs is not installed or not written yet."""

    exit_code = 1


def require(module: str, name: str, feature: str) -> Callable[..., Any]:
    """``module.name`` or :class:`BackendMissing` naming the feature and what is missing."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise BackendMissing(
            _("{feature} is not available: {what} is missing").format(
                feature=feature, what=f"{module} ({exc})"
            )
        ) from exc
    obj = getattr(mod, name, None)
    if obj is None:
        raise BackendMissing(
            _("{feature} is not available: {what} is missing").format(
                feature=feature, what=f"{module}.{name}"
            )
        )
    return obj  # type: ignore[no-any-return]


def optional(module: str, name: str) -> Any:
    """``module.name`` or ``None`` (for features the GUI can do without)."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(mod, name, None)


# ----------------------------------------------------------------------------- planning inputs
def load_area(path: Any) -> tuple[Any, Any]:
    """Read an area file with the planner's reader: (area object, shapely lon/lat geometry)."""
    fn = require("missions.area", "load_area", _("Loading areas"))
    area = fn(path)
    return area, area.geom_lonlat


def area_warnings(area: Any) -> list[ViolationView]:
    """What the area reader repaired or changed (an area of 2 M vertices simplified), as the
    CLI prints it before planning."""
    if area is None:
        return []
    out = [ViolationView(_("area repaired"), str(r)) for r in getattr(area, "repairs", ())]
    out += [ViolationView(_("area"), str(w)) for w in getattr(area, "warnings", ())]
    return out


def camera_profiles(user_dir: Any = None) -> dict[str, Any]:
    """The camera profiles the planner knows (shipped and the user's), by key: each has a
    ``name`` and the geometry (``gsd_cm``, ``alt_for_gsd_m``, ``line_spacing_m``)."""
    fn = require("missions.camera", "load_cameras", _("Camera profiles"))
    return {str(k): c for k, c in fn(user_dir).items()}


def track_figures(
    camera: Any,
    alt_m: float,
    *,
    target: str,
    side_overlap_pct: float | None = None,
    spacing_m: float | None = None,
    pod: float | None = None,
) -> tuple[float, float | None]:
    """(track spacing, POD for ``target``) the planner derives from one rule (the overlap, a
    spacing or a wanted POD) at ``alt_m``: its own function, so the form shows what it plans."""
    resolve = require("missions.planner", "resolve_sensor", _("Planning"))
    kw: dict[str, Any] = {"alt_m": alt_m, "trigger": "none"}
    if spacing_m is not None:
        kw["spacing_m"] = spacing_m
    elif pod is not None:
        kw["wanted_pod"] = pod
    else:
        kw["side_overlap_pct"] = side_overlap_pct
    try:
        sensor = resolve(camera, target=target, **kw)
    except BadInputError:
        if pod is not None:  # the spacing comes from the target's sweep width: none here
            raise
        # the subject is too small to be seen at this height: no POD; the overlap's or the
        # given spacing stands (the target plays no part in it)
        return float(resolve(camera, **kw).spacing_m), None
    return float(sensor.spacing_m), None if sensor.pod is None else float(sensor.pod)


def takes_photos(pattern: str) -> bool:
    """The pattern's plan takes photos along its legs (the front overlap sets how often); the
    IAMSAR searches fly with the camera streaming (the planner's default trigger)."""
    if pattern == "poa":  # a probability search flies with the camera streaming, as plan poa
        return False
    try:
        trigger = require("missions.planner", "default_trigger", _("Planning"))(pattern)
    except (BackendMissing, BadInputError):
        return True
    return bool(trigger != "none")


def list_vehicles(user_dir: Any = None) -> list[tuple[str, str]]:
    """(key, display name) of the vehicle profiles the planner knows."""
    fn = require("missions.vehicles", "load_vehicles", _("Vehicle profiles"))
    return [(str(k), str(getattr(v, "name", k))) for k, v in fn(user_dir).items()]


# ----------------------------------------------------------------------------- deployments
def create_deployment(
    db_path: Any,
    organisation: str,
    category: str,
    location: str,
    notes: str | None,
    requested_at: str | None = None,
) -> Any:
    """Register a deployment in the flight database (requested at ``requested_at``, ISO 8601,
    default now); returns the stored deployment."""
    open_store = require("telemetry.store", "open_store", _("The flight database"))
    create = require("telemetry.deployments", "create_deployment", _("Deployments"))
    with open_store(db_path) as store:
        return create(
            store,
            organisation=organisation,
            category=category,
            location=location,
            notes=notes,
            requested_at=requested_at,
        )


def flight_fits(flight: dict[str, Any], deployment: Any) -> bool:
    """The flight may belong to ``deployment`` by the database's own rule (it took off at most
    a day before the request): the panel checks only those for linking."""
    check = require("telemetry.deployments", "check_takeoff", _("Deployments"))
    takeoff = flight.get("takeoff_utc") or flight.get("start_utc")
    if not takeoff:
        return True
    try:
        check(deployment, str(takeoff), "")
    except BadInputError:
        return False
    return True


def list_deployments(db_path: Any) -> list[Any]:
    open_store = require("telemetry.store", "open_store", _("The flight database"))
    fn = require("telemetry.deployments", "list_deployments", _("Deployments"))
    with open_store(db_path) as store:
        return list(fn(store))


def unlinked_flights(db_path: Any, since_utc: str | None = None) -> list[dict[str, Any]]:
    """Recorded flights not yet attributed to a deployment (newest last)."""
    open_store = require("telemetry.store", "open_store", _("The flight database"))
    with open_store(db_path) as store:
        flights = store.flights(date_from=since_utc[:10] if since_utc else None)
    return [f for f in flights if f.get("deployment_id") is None]


def link_flights(db_path: Any, deployment_id: int, flight_ids: list[int]) -> int:
    """Attribute flights to a deployment; returns how many were linked."""
    open_store = require("telemetry.store", "open_store", _("The flight database"))
    link = require("telemetry.deployments", "link_flights", _("Deployments"))
    with open_store(db_path) as store:
        link(store, deployment_id, flight_ids)
    return len(flight_ids)


def update_deployment(
    db_path: Any, deployment_id: int, status: str | None, outcome: str | None
) -> Any:
    """Move a deployment's status along the validated flow and/or set its outcome."""
    open_store = require("telemetry.store", "open_store", _("The flight database"))
    update = require("telemetry.deployments", "update_deployment", _("Deployments"))
    with open_store(db_path) as store:
        return update(store, deployment_id, status=status, outcome=outcome)


def allowed_statuses(current: str) -> list[str]:
    """The statuses a deployment may move to from ``current`` (the CLI's flow)."""
    transitions = require("telemetry.deployments", "TRANSITIONS", _("Deployments"))
    order = require("telemetry.deployments", "STATUSES", _("Deployments"))
    allowed = transitions.get(current, frozenset())  # type: ignore[attr-defined]
    return [s for s in order if s in allowed]  # type: ignore[attr-defined]


def indicator(db_path: Any, years: list[int]) -> list[Any]:
    """Indicator GOV 16 reports (telemetry.indicator) for each of ``years``."""
    open_store = require("telemetry.store", "open_store", _("The flight database"))
    report = require("telemetry.indicator", "indicator_report", _("Indicator GOV 16"))
    with open_store(db_path) as store:
        return [report(store, y) for y in years]


def record_sighting(
    db_path: Any, deployment_id: int, lat_deg: float, lon_deg: float, sysid: int, note: str
) -> int:
    """Record a confirmed sighting to the deployment; returns its id."""
    open_store = require("telemetry.store", "open_store", _("The flight database"))
    record = require("telemetry.deployments", "record_sighting", _("Deployments"))
    with open_store(db_path) as store:
        return int(record(store, deployment_id, lat_deg, lon_deg, vehicle_sysid=sysid, note=note))


def list_sightings(db_path: Any, deployment_id: int) -> list[dict[str, Any]]:
    open_store = require("telemetry.store", "open_store", _("The flight database"))
    fn = require("telemetry.deployments", "list_sightings", _("Deployments"))
    with open_store(db_path) as store:
        return list(fn(store, deployment_id))


# ----------------------------------------------------------------------------- export
def export_paths(path: Path, fmt: str, n: int) -> list[Path]:
    """File names for ``n`` drones: ``path`` itself for one, ``stem_d1.ext``… for several."""
    suffix = EXPORT_FORMATS.get(fmt, path.suffix)
    if not path.name.endswith(suffix):
        path = path.with_name(path.stem + suffix)
    if n <= 1:
        return [path]
    stem = path.name[: -len(suffix)]
    return [path.with_name(f"{stem}_d{i + 1}{suffix}") for i in range(n)]


def export_plan(view: PlanView, path: Path, fmt: str) -> list[Path]:
    """Write every drone's sorties in ``fmt`` with the area and footprints where the format can.

    A drone that needs several batteries gets one file per sortie (``…_s1``, ``…_s2``): a file
    is always one flyable, validated sortie, never a mission longer than a battery. The files
    are put in place together or not at all: a refused path (a directory, a missing folder)
    leaves none of them, not the first drones' files beside no file for the others.
    """
    from dronekit_plzen.outputs import OutputGroup

    save = require("missions.formats", "save_mission", _("Mission export"))
    area = getattr(view.area, "geom_lonlat", None) if view.area is not None else None
    drones = [[s.mission for s in row] for row in view.sorties] or [[m] for m in view.missions]
    suffix = EXPORT_FORMATS.get(fmt, Path(path).suffix)
    # a probability search's map goes with its missions, which name it (not the window's
    # temporary copy, gone when it closes)
    poa_map = _poa_map_path(Path(path), suffix) if view.poa_path is not None else None
    out = []
    with OutputGroup.all_or_nothing():
        for row, target in zip(drones, export_paths(Path(path), fmt, len(drones))):
            stem = target.name[: -len(suffix)] if suffix else target.stem
            for k, mission in enumerate(row):
                name = target if len(row) == 1 else target.with_name(f"{stem}_s{k + 1}{suffix}")
                footprints = view.footprints or None
                if poa_map is not None:
                    meta = {**(mission.metadata or {}), "poa_map": poa_map.name}
                    mission = replace(mission, metadata=meta)
                out.append(Path(save(mission, name, fmt, area=area, footprints=footprints)))
        if poa_map is not None:
            out.append(_copy_file(Path(view.poa_path), poa_map))
    return out


def _poa_map_path(path: Path, suffix: str) -> Path:
    """Where the exported missions' POA map goes: ``<name>_poa.tif`` beside them."""
    stem = path.name[: -len(suffix)] if suffix and path.name.endswith(suffix) else path.stem
    return path.with_name(f"{stem}_poa.tif")


def _copy_file(source: Path, target: Path) -> Path:
    import shutil

    from dronekit_plzen.outputs import atomic_output

    with atomic_output(target) as tmp:
        shutil.copyfile(source, tmp)
    return target


def record_override(view: PlanView, reason: str, user: str) -> Any:
    """The pilot's safety override: recorded in every unsafe sortie's metadata and clearance.

    Uses the validator's own :func:`missions.validation.guard`, so the record is the same as
    ``plan --override-safety --reason`` writes (by, at, reason, violations); returns the
    :class:`~dronekit_plzen.safety.Override`.
    """
    from gui import clearance

    view.sorties, override = clearance.override_sorties(view.sorties, reason, user)
    for mission, row in zip(view.missions, view.sorties):
        if any(s.overridden for s in row):
            mission.metadata["safety_override"] = override.to_dict()
    return override


# ----------------------------------------------------------------------------- planning
def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return dict(obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def _lonlat_geometry(geom: Any, epsg: int | None) -> Any:
    """A shapely geometry in lon/lat: metric ones (coordinates beyond ±180) are unprojected."""
    if geom is None or epsg is None:
        return geom
    x0, y0, x1, y1 = geom.bounds
    if max(abs(x0), abs(x1)) <= 180.0 and max(abs(y0), abs(y1)) <= 90.0:
        return geom
    to_lonlat = require("missions.area", "to_lonlat", _("Planning"))
    return to_lonlat(geom, epsg)


def _coords_lonlat(path: Any, epsg: int | None) -> list[tuple[float, float]]:
    """Vertices of a path (shapely line, (n, 2+) array or list) as lon/lat pairs."""
    if path is None:
        return []
    if hasattr(path, "geom_type"):
        geom = _lonlat_geometry(path, epsg)
        lines = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
        return [(float(c[0]), float(c[1])) for line in lines for c in line.coords]
    arr = np.asarray(path, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0:
        return []
    x, y = arr[:, 0], arr[:, 1]
    if epsg is not None and (np.abs(x).max() > 180.0 or np.abs(y).max() > 90.0):
        x, y = transform(x, y, epsg, WGS84)
    return [(float(a), float(b)) for a, b in zip(x, y)]


def _mission_path(mission: Any) -> list[tuple[float, float]]:
    return [(lon, lat) for lon, lat, _alt in mission.waypoints_lonlat_alt()]


#: pattern → the planner facade's function
PLANNERS = {
    "survey": "plan_survey",
    "expanding-square": "plan_expanding_square",
    "sector": "plan_sector",
    "creeping-line": "plan_creeping_line",
    "corridor": "plan_corridor",
    "perimeter": "plan_perimeter",
}


def _alt_for(req: PlanRequest) -> float | None:
    """The altitude: given, or from the GSD through the camera's geometry."""
    if req.alt_m is not None or req.gsd_cm is None:
        return req.alt_m
    if req.camera is None:
        raise BadInputError(_("a GSD needs a camera"))
    get_camera = require("missions.camera", "get_camera", _("Camera profiles"))
    return float(get_camera(req.camera).alt_for_gsd_m(req.gsd_cm))


def _datum(req: PlanRequest) -> tuple[float, float]:
    if req.datum is not None:
        return req.datum
    if req.area is None:
        raise BadInputError(_("this pattern needs a datum: pick it on the map or load an area"))
    c = req.area.geom_lonlat.centroid
    return (float(c.x), float(c.y))


def plan_one(req: PlanRequest, area: Any) -> Any:
    """Call the planner facade's function for ``req.pattern`` over ``area``; its PlanResult."""
    name = PLANNERS.get(req.pattern)
    if name is None:
        raise BadInputError(_("unknown pattern {name!r}").format(name=req.pattern))
    fn = require("missions.planner", name, _("Planning"))
    sensor: dict[str, Any] = {"camera": req.camera, "vehicle": req.vehicle, "home": req.launch}
    if req.pod is not None:
        sensor["wanted_pod"] = req.pod
        sensor["target"] = req.target or "person"
    elif req.target:
        sensor["target"] = req.target
    if req.spacing_m is not None:
        sensor["spacing_m"] = req.spacing_m
    overlaps: dict[str, Any] = {"front_overlap_pct": req.front_overlap_pct or 80.0}
    if req.side_overlap_pct is not None:
        overlaps["side_overlap_pct"] = req.side_overlap_pct
    if req.pattern == "survey":
        angle: Any = "auto" if req.angle_deg is None else req.angle_deg
        height = {"alt_m": req.alt_m} if req.alt_m is not None else {"gsd_cm": req.gsd_cm}
        return fn(area, **sensor, **overlaps, **height, angle_deg=angle)
    alt = _alt_for(req)
    if req.pattern == "expanding-square":
        return fn(_datum(req), alt_m=alt, radius_m=req.radius_m, **sensor, **overlaps)
    if req.pattern == "sector":  # no track spacing: the form offers none for it
        sensor.pop("wanted_pod", None)
        sensor.pop("spacing_m", None)
        return fn(
            _datum(req),
            req.radius_m or 500.0,
            alt_m=alt,
            front_overlap_pct=overlaps["front_overlap_pct"],
            **sensor,
        )
    if req.pattern == "corridor":
        if len(req.polyline) < 2:
            raise BadInputError(_("a corridor needs a centreline: draw it on the map"))
        return fn(list(req.polyline), req.width_m or 100.0, alt_m=alt, **sensor, **overlaps)
    return fn(area, alt_m=alt, **sensor, **overlaps)  # creeping line, perimeter


def _split_and_plan(req: PlanRequest) -> list[Any]:
    """One PlanResult per drone: the area split among ``req.drones`` by the planner's splitter."""
    if req.drones <= 1:
        return [plan_one(req, req.area)]
    if req.pattern in ("expanding-square", "sector", "corridor"):
        raise BadInputError(_("only area patterns can be split among several drones"))
    return list(split_plan(req).plans)


def split_plan(req: PlanRequest) -> Any:
    """The planner's multi-drone split: equal work, launched from the launch point."""
    plan_split = require("missions.split", "plan_split", _("Multi-drone split"))
    drone_spec = require("missions.split", "DroneSpec", _("Multi-drone split"))
    vehicle = req.vehicle
    if vehicle is None:
        planner = "missions.planner"
        resolve_vehicle = require(planner, "resolve_vehicle", _("Planning"))
        resolve_camera = require(planner, "resolve_camera", _("Planning"))
        vehicle = resolve_vehicle(None, resolve_camera(req.camera)).key
    if req.launch is not None:
        launch = req.launch
    else:
        p = req.area.geom_lonlat.representative_point()  # inside the area, never in a hole
        launch = (float(p.x), float(p.y))
    drones = [drone_spec(vehicle=vehicle, launch=launch, camera=req.camera)] * req.drones
    kw: dict[str, Any] = {"camera": req.camera}
    if req.alt_m is not None:
        kw["alt_m"] = req.alt_m
    elif req.gsd_cm is not None:
        kw["alt_m"] = _alt_for(req)
    if req.spacing_m is not None:
        kw["spacing_m"] = req.spacing_m
    if req.pod is not None:
        kw["wanted_pod"] = req.pod
        kw["target"] = req.target or "person"
    if req.side_overlap_pct is not None:
        kw["side_overlap_pct"] = req.side_overlap_pct
    if req.front_overlap_pct is not None:
        kw["front_overlap_pct"] = req.front_overlap_pct
    angle: Any = "auto" if req.angle_deg is None else req.angle_deg
    return plan_split(req.area, drones, pattern=req.pattern, angle_deg=angle, **kw)


def plan(req: PlanRequest, poa_dir: Path | None = None) -> PlanView:
    """Plan (and split) with the planner's facade, then validate each drone's mission (a
    probability search: :func:`plan_poa_search`, its map written in ``poa_dir``)."""
    if req.pattern == "poa":
        if poa_dir is None:
            raise BadInputError(_("a probability search needs a folder for its POA map"))
        return plan_poa_search(req, poa_dir)
    results = _split_and_plan(req)
    from gui import clearance

    vehicle = clearance.vehicle_profile(req.vehicle, req.camera) if req.vehicle else None
    return _view(_clear(req, _sorties_of(results), vehicle), area=req.area, **_view_parts(results))


def _sorties_of(results: list[Any]) -> list[list[Any]]:
    """Each planned drone's sorties, one battery each (its mission when one is enough)."""
    return [list(getattr(r, "sorties", None) or [r.mission]) for r in results]


def _clear(req: PlanRequest, drones: list[list[Any]], vehicle: Any) -> list[list[Any]]:
    """Every sortie of every drone through the guard with the request's zones, DEM and VLOS
    limit (``vehicle``: the profile; None: each mission's own)."""
    from gui import clearance

    return clearance.clear_drones(
        drones,
        zones=req.zones_source,
        dem=req.dem,
        vehicle=vehicle,
        max_distance_m=req.max_distance_m,
    )


def _view_parts(results: list[Any]) -> dict[str, Any]:
    """What the map and the figures table show of the planner's results: each drone's
    mission, path, footprints and home, and the fleet's figures."""
    missions, paths, footprints, homes = [], [], [], []
    per_drone: list[dict[str, Any]] = []
    for r in results:
        mission = r.mission
        missions.append(mission)
        paths.append(_coords_lonlat(r.path_lonlat, None) or _mission_path(mission))
        footprints.extend(r.footprints_lonlat)
        if mission.home is not None:
            homes.append((mission.home[0], mission.home[1]))
        per_drone.append(
            r.metrics.to_dict() if hasattr(r.metrics, "to_dict") else _as_dict(r.metrics)
        )
    metrics = fleet_metrics(per_drone)
    metrics["drones"] = len(results)
    return {
        "missions": missions,
        "paths": paths,
        "footprints": footprints,
        "homes": homes,
        "metrics": metrics,
        "raw": results,
    }


def _view(sorties: list[list[Any]], **kw: Any) -> PlanView:
    """A PlanView whose findings and reports are those of every drone's every sortie."""
    from gui.clearance import violation_views, warning_views

    return PlanView(
        violations=violation_views(sorties),
        warnings=area_warnings(kw.get("area")) + warning_views(sorties),
        validated=all(s.report is not None for row in sorties for s in row),
        reports=[s.report for row in sorties for s in row],
        sorties=sorties,
        **kw,
    )


def retranslated(view: PlanView) -> PlanView:
    """``view`` with its findings in the language now set: each drone's sorties through the
    guard again, with the inputs they were cleared with, for the reports' messages (rendered
    when the guard writes them); the clearances, a pilot's override included, are kept: the
    items have not changed."""
    from gui import clearance

    rows = []
    for row in view.sorties:
        if not row:
            rows.append(row)
            continue
        inputs = row[0].inputs
        fresh = clearance.clear_drones(
            [[s.mission for s in row]],
            zones=inputs.zones,
            dem=inputs.dem,
            vehicle=inputs.vehicle,
            max_distance_m=inputs.max_distance_m,
        )[0]
        rows.append([replace(s, report=f.report) for s, f in zip(row, fresh, strict=True)])
    derived = {"violations", "warnings", "validated", "reports", "sorties"}
    return _view(
        rows, **{f.name: getattr(view, f.name) for f in fields(view) if f.name not in derived}
    )


_SUMMED = ("path_length_m", "photo_count", "turns", "sorties", "area_m2", "search_length_m")
_AREA_WEIGHTED = ("coverage_pct", "pod")


def fleet_metrics(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of figures for the fleet from each drone's metrics.

    Lengths, photos, turns, sorties and areas add up; the flight time is the longest flight
    (the drones fly at once); coverage and POD are means weighted by each part's area (the
    parts do not overlap); the rest (altitude, GSD, spacing, angle) are the first drone's.
    """
    if not parts:
        return {}
    out = dict(parts[0])
    if len(parts) == 1:
        return out
    for key in _SUMMED:
        values = [p.get(key) for p in parts]
        if all(isinstance(v, int | float) for v in values):
            out[key] = sum(values)  # type: ignore[arg-type]
    times = [p.get("flight_time_s") for p in parts]
    if all(isinstance(t, int | float) for t in times):
        out["flight_time_s"] = max(times)  # type: ignore[type-var]
    areas = [float(p.get("area_m2") or 0.0) for p in parts]
    for key in _AREA_WEIGHTED:
        raw = [p.get(key) for p in parts]
        if all(isinstance(v, int | float) for v in raw) and sum(areas) > 0:
            nums = [float(v) for v in raw if v is not None]
            out[key] = sum(v * a for v, a in zip(nums, areas)) / sum(areas)
    return out


# ----------------------------------------------------------------------------- POA search
#: the portal's missing-person categories planned as a probability search → the POA map's
#: lost-person statistics (ISRID groups, :data:`missions.poa_map.SUBJECTS`); a child's are by
#: age, which the pilot picks (None). "elderly" and "other" have no statistics of their own: an
#: expanding square from the last known position, as before
REQUEST_SUBJECTS: dict[str, str | None] = {
    "child": None,
    "dementia": "dementia",
    "hiker": "hiker",
    "despondent": "despondent",
}
#: the POA map's cells (m): the size ``plan poa-map`` makes by default and the benchmark plans on
POA_CELL_M = 30.0


def _poa_cleared(req: PlanRequest, veh: Any) -> Callable[[list[Any]], list[list[Any]] | None]:
    """The guard over every sortie of every drone, as the sortie cutter asks it: None when only
    the endurance check failed somewhere (shorter sorties may pass), else the sorties."""

    def check(results: list[Any]) -> list[list[Any]] | None:
        views = _clear(req, _sorties_of(results), veh)
        failed = [s for row in views for s in row if not s.cleared]
        rules = {
            getattr(v, "rule", "") for s in failed for v in getattr(s.report, "violations", [])
        }
        return None if failed and rules == {"endurance"} else views

    return check


def plan_poa_search(req: PlanRequest, poa_dir: Path) -> PlanView:
    """A probability-driven search from the last known position (``req.datum``): the POA map
    of the missing person's category (``req.subject``, :func:`missions.poa_map.build_poa`,
    written as ``poa_dir/poa_<subject>.tif`` and shown as a heat layer), one path per drone of
    at most ``req.budget_m`` from the launch point (the LKP when none is picked) where the
    probability per metre is highest, cut into sorties, each through the guard. The core is
    ``plan poa``'s (:mod:`missions.poa_plan`)."""
    from gui import clearance
    from gui.map.raster import render_geotiff
    from missions import poa_plan
    from missions.poa import check_budget, layer_altitudes, summary
    from missions.poa_map import build_poa, write_poa

    if req.datum is None:
        raise BadInputError(
            _("a probability search needs the last known position: pick it on the map")
        )
    if not req.subject:
        raise BadInputError(_("pick the missing person's category"))
    budget = req.budget_m
    if budget is None or not (budget > 0 and math.isfinite(budget)):
        raise BadInputError(_("give the path length per drone (Path per drone)"))
    check_budget(budget)
    alt = _alt_for(req)
    if alt is None:
        raise BadInputError(_("give the altitude above ground"))
    grid, meta = build_poa(
        req.datum,
        req.subject,
        terrain=req.terrain,
        radius_m=req.radius_m,
        cell_m=POA_CELL_M,
        features=req.features,
    )
    poa_dir.mkdir(parents=True, exist_ok=True)
    tif = write_poa(grid, poa_dir / f"poa_{req.subject}.tif", meta)
    veh = clearance.vehicle_profile(req.vehicle, req.camera)
    alts = layer_altitudes(alt, max(req.drones, 1))
    fps, cam, tgt = poa_plan.footprints(alts, camera=req.camera, target=req.target)
    launch = req.launch or req.datum
    half_m = 0.5 * grid.cell_m * min(grid.shape)
    if (far_m := geodesic_distance_m(*launch, *req.datum)) > half_m:  # (not the map file's fault)
        raise BadInputError(
            _(
                "the launch point is {d:.1f} km from the last known position, outside the "
                "probability map (it reaches {r:.1f} km): pick a launch point nearer"
            ).format(d=far_m / 1000.0, r=half_m / 1000.0)
        )
    setup = poa_plan.prepare_search(grid, launch, alts, veh, where=str(tif))
    plan = poa_plan.plan_search(grid, setup, fps, alts, budget, veh)
    results, sorties = poa_plan.cut_into_sorties(
        plan, setup, cam, tgt, veh, _poa_cleared(req, veh), poa_name=str(tif)
    )
    if sorties is None:  # no cut passes the endurance check: the guard's findings are shown
        sorties = _clear(req, _sorties_of(results), veh)
    rep = summary(grid, plan)
    parts = _view_parts(results)
    parts["metrics"].pop("photo_count", None)  # the camera streams: no photos are taken
    parts["metrics"].update(
        probability_covered=rep["probability_covered"],
        expected_time_to_detection_s=rep["expected_time_to_detection_s"],
    )
    return _view(sorties, overlay=render_geotiff(tif, "heat"), poa_path=tif, **parts)


# ----------------------------------------------------------------------------- safety
def _limits_text(z: Any) -> str:
    """``0 m AGL – 120 m AGL``; an unlimited top is shown as ∞."""

    def one(value: Any, ref: Any) -> str:
        if value is None:
            return "?"
        v = float(value)
        return ("∞" if not np.isfinite(v) else f"{v:.0f} m") + (f" {ref}" if ref else "")

    lower = one(getattr(z, "lower_m", None), getattr(z, "lower_ref", ""))
    upper = one(getattr(z, "upper_m", None), getattr(z, "upper_ref", ""))
    return f"{lower} – {upper}"


def load_zones(path: Any) -> tuple[Any, list[ZoneView]]:
    """Read a geozones file (ED-269 JSON, ED-318 or plain GeoJSON): (zones object, views)."""
    fn = require("missions.zones", "load_zones", _("Geozones"))
    zones = fn(path)
    items = getattr(zones, "zones", zones)
    views = []
    for z in items:
        geom = getattr(z, "geometry", None) or getattr(z, "geom_lonlat", None)
        if geom is None:
            continue
        limits = _limits_text(z)
        views.append(
            ZoneView(
                name=str(getattr(z, "name", "") or getattr(z, "identifier", "")),
                restriction=str(getattr(z, "restriction", "prohibited")).lower(),
                geometry=geom,
                limits_text=limits,
            )
        )
    return zones, views


def load_features(path: Path) -> FeaturesView:
    """Read a land-cover file as ``plan poa-map --features`` reads it (the same refusals: a
    feature GDAL cannot build whole, coordinates beyond the Earth's) in lon/lat."""
    from missions.poa_map import read_features

    feats = read_features(Path(path), "EPSG:4326")
    if not feats:  # the map would be the rings alone while the pilot thinks otherwise
        raise BadInputError(
            _(
                "no land-cover feature of a known kind: give each a kind property (path, road, "
                "stream, forest, water, cliff) or OpenStreetMap tags"
            ),
            where=str(path),
        )
    counts: dict[str, int] = {}
    for kind, _g in feats:
        counts[kind] = counts.get(kind, 0) + 1
    return FeaturesView(Path(path), feats, counts)


# ----------------------------------------------------------------------------- terrain
#: a terrain model of more cells is checked around its centre only (not read whole)
DEM_CHECK_MAX_CELLS = 40_000_000


def check_dem(path: Any) -> None:
    """Read a terrain model as the validator will (CRS, geotransform, elevations); a large one
    around its centre only (a city-wide 1 m DEM is not read whole). Raises the reader's
    translated error naming the file."""
    raster = require("missions.terrain", "Raster", _("Terrain model"))
    raster.open(path, bbox_lonlat=_dem_centre_bbox(Path(path)))  # type: ignore[attr-defined]


def _dem_centre_bbox(path: Path) -> tuple[float, float, float, float] | None:
    """A point at a large raster's centre (the reader reads 1 km around it); None for a small
    raster, or when it cannot be found (the reader then names what is wrong before it reads
    a cell)."""
    try:
        import rasterio

        with rasterio.open(path) as ds:
            if ds.crs is None or ds.width * ds.height <= DEM_CHECK_MAX_CELLS:
                return None
            x, y = ds.xy(ds.height // 2, ds.width // 2)
            lon, lat = transform([x], [y], ds.crs.to_wkt(), WGS84)
    except Exception:  # the reader below words every failure
        return None
    lo, la = float(lon[0]), float(lat[0])
    if not (np.isfinite(lo) and np.isfinite(la)):
        return None
    return (lo, la, lo, la)


# ----------------------------------------------------------------------------- mission files
def open_mission(
    path: Any,
    zones: Any = None,
    dem: Any = None,
    vehicle: str | None = None,
    camera: Any = None,
    *,
    max_distance_m: float | None = None,
) -> PlanView:
    """A mission file (QGC .plan, .waypoints, KML, GeoJSON, DJI WPML, CSV) as a plan to fly.

    It is flown as one sortie, validated with ``vehicle``'s profile (the file's own vehicle when
    it names one, else the camera's vehicle): a file longer than one battery is refused.
    """
    load = require("missions.formats", "load_mission", _("Mission files"))
    mission = load(path)
    pts = mission.waypoints_lonlat_alt()
    lon = [p[0] for p in pts]
    lat = [p[1] for p in pts]
    metrics: dict[str, Any] = {"drones": 1}
    if len(pts) >= 2:
        metrics["path_length_m"] = float(path_length_m(lon, lat))
    alts = [p[2] for p in pts]
    if alts:
        metrics["alt_m"] = max(alts)
    from gui import clearance

    key = vehicle or mission.metadata.get("vehicle")
    profile = clearance.vehicle_profile(key, camera)
    sorties = clearance.clear_drones(
        [[mission]], zones=zones, dem=dem, vehicle=profile, max_distance_m=max_distance_m
    )
    homes = [(mission.home[0], mission.home[1])] if mission.home is not None else []
    return _view(
        sorties,
        missions=[mission],
        paths=[[(a, b) for a, b in zip(lon, lat)]],
        homes=homes,
        metrics=metrics,
    )
