"""``dronekit-plzen plan``: plan survey grids and IAMSAR patterns, validate, audit, convert.

Every pattern command plans, follows the terrain (``--dem``), validates the whole path
(120 m rule, zones, geofence, endurance) and only then writes the files; an unsafe mission
exits with code 3 unless ``--override-safety --reason TEXT`` is given (the override is stored in
the files' metadata). Defaults for ``--zones``, ``--dem``, camera and vehicle folders come from
the configuration.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import echo_json, info
from dronekit_plzen.errors import BadInputError, SafetyViolation
from dronekit_plzen.i18n import _, ngettext
from missions.cli_options import (
    F,
    area_options,
    check_range,
    check_sizes,
    common_outputs,
    guard_options,
    open_terrain,
    open_zones,
    parse_point,
    parse_polyline,
    parse_when,
    read_area,
    sensor_kw,
    sensor_options,
    settings,
    vehicle_profile,
)
from missions.formats import load_mission, save_mission


def _finish(pattern: str, results: list[Any], o: dict[str, Any]) -> None:
    """Terrain, validation, override and files for one or more plans; then the summary."""
    from missions.pipeline import finalize_mission, parse_formats, write_mission_files

    cfg = settings()
    formats = parse_formats(o["formats"])
    plans = [m for r in results for m in (r.sorties or [r.mission])]
    dem = open_terrain(o.get("dem"), cfg.dem_file, plans)
    if dem is None and not o.get("home") and not o.get("launch"):
        lon, lat = plans[0].home[:2] if plans and plans[0].home else (float("nan"),) * 2
        info(
            _(
                "warning: no launch point (--home) or DEM to check the position against: the "
                "mission starts at {lat:.5f}, {lon:.5f} (lat, lon); check it is where you "
                "expect (swapped coordinates?)"
            ).format(lat=lat, lon=lon)
        )
    dsm = open_terrain(o.get("dsm"), None, plans)
    zones = open_zones(o.get("zones"))
    veh = vehicle_profile(o.get("vehicle"))
    if veh is None and results:
        from missions.vehicles import get_vehicle

        key = results[0].mission.metadata.get("vehicle")
        veh = get_vehicle(key, cfg.vehicle_dir) if key else None
    name = o.get("name") or pattern
    out: dict[str, Any] = {"pattern": pattern, "drones": []}
    finals = []
    for i, r in enumerate(results):
        sorties = r.sorties if len(r.sorties) > 1 else [r.mission]
        for j, sortie in enumerate(sorties):
            try:
                mission, report = finalize_mission(
                    sortie,
                    dem=dem,
                    dsm=dsm,
                    zones=zones,
                    terrain=o["terrain"],
                    agl_tolerance_m=o["agl_tolerance_m"],
                    vehicle=veh,
                    when=parse_when(o.get("when")),
                    max_distance_m=o.get("max_distance_m") or cfg.max_distance_m,
                    max_range_m=o.get("max_range_m"),
                    authorised_zones=o.get("authorised", ()),
                    override=o["override_safety"],
                    reason=o.get("reason"),
                )
            except SafetyViolation as exc:
                for v in exc.violations:
                    info(f"  {v}")
                raise
            if len(sorties) > 1:
                mission.metadata["sortie"] = {"index": j + 1, "of": len(sorties)}
            stem = name if len(results) == 1 else f"{name}_drone{i + 1}"
            if len(sorties) > 1:
                stem += f"_sortie{j + 1}"
            finals.append((r, mission, report, stem))
    for r, mission, report, stem in finals:
        paths = write_mission_files(
            mission,
            o["out_dir"],
            stem,
            formats,
            area=r.area_lonlat,
            footprints=r.footprints_lonlat or None,
            coverage=r.swath_lonlat,
        )
        entry = {
            "name": stem,
            "files": [str(p) for p in paths],
            "metrics": r.metrics.to_dict(),
            "items": len(mission.items),
            "validation": report.to_dict(),
            "warnings": list(r.warnings),
            "safety_override": mission.metadata.get("safety_override"),
        }
        out["drones"].append(entry)
        if report.violations:
            info(
                ngettext(
                    "SAFETY OVERRIDE recorded: {n} problem",
                    "SAFETY OVERRIDE recorded: {n} problems",
                    len(report.violations),
                ).format(n=len(report.violations))
            )
            for v in report.violations:
                info(f"  {v}")
            ov = mission.metadata.get("safety_override") or {}
            info(
                _("  override by {by} at {at}: {reason}").format(
                    by=ov.get("by"), at=ov.get("at"), reason=ov.get("reason")
                )
            )
        if mission.metadata.get("home_amsl_source") == "unknown":
            info(
                _(
                    "note: {name}: home altitude unknown (no DEM); it is recorded as unknown and "
                    "validation with a DEM will use the terrain height at home"
                ).format(name=stem)
            )
        for w in report.warnings:
            info(_("warning: {w}").format(w=w))
    if o["as_json"]:
        echo_json(out if len(finals) > 1 else {"pattern": pattern, **out["drones"][0]})
        return
    for d in out["drones"]:
        m = d["metrics"]
        head = f"{d['name']}: " if len(out["drones"]) > 1 else ""
        cov = m.get("coverage_pct")
        click.echo(
            head
            + _("{n} items, {l:.0f} m, {t:.0f} s, {p} photos, coverage {c}").format(
                n=d["items"],
                l=m["path_length_m"],
                t=m["flight_time_s"],
                p=m["photo_count"],
                c="-" if cov is None else f"{cov:.1f} %",
            )
        )
        for f in d["files"]:
            click.echo(f"  {f}")


@click.group(name="plan", help=_("Plan survey grids and IAMSAR search patterns."))
def plan() -> None:
    """Plan survey grids and IAMSAR search patterns."""


def _drones(o: dict[str, Any]) -> list[Any] | None:
    check_sizes(o)
    n = o["drones"] if o.get("drones") is not None else 1
    launches = o.get("launch") or ()
    if n <= 1 and not launches:
        return None
    if len(launches) != n:
        raise BadInputError(
            _("--drones {n} needs {n} --launch points, got {k}").format(n=n, k=len(launches))
        )
    from missions.split import DroneSpec

    veh = o.get("vehicle") or "px4-quad"
    return [DroneSpec(vehicle_profile(veh), parse_point(p, "--launch")) for p in launches]


def _area_pattern(pattern: str) -> F:
    @click.option(
        "--drones", type=int, default=1, show_default=True, help=_("Split the area among N drones.")
    )
    @click.option("--launch", multiple=True, help=_("Launch point LAT,LON of each drone."))
    @click.option("--alt-layers", default=None, help=_("Altitude per drone, e.g. 60,70,80."))
    @click.option("--weighting", type=click.Choice(["equal", "capability"]), default="equal")
    def cmd(**o: Any) -> None:
        from missions import planner

        check_sizes(o)
        area = read_area(o["area_path"], o["crs"], o["repair"])
        kw = sensor_kw(o)
        home = parse_point(o["home"], "--home") if o.get("home") else None
        launches = [parse_point(t, "--launch") for t in o.get("launch") or ()]
        check_range([home] if home else launches, area.geom_lonlat, o.get("max_range_m"), _("area"))
        extra: dict[str, Any] = {"end": o["end"]}
        if o.get("speed_m_s"):
            extra["speed_m_s"] = o["speed_m_s"]
        if pattern == "survey":
            extra.update(
                angle_deg=o["angle"],
                side_overlap_pct=o["side_overlap"],
                front_overlap_pct=o["front_overlap"],
                cross_hatch=o["cross_hatch"],
                turnaround_m=o["turnaround_m"],
            )
        elif pattern == "perimeter":
            extra.update(side_overlap_pct=o["side_overlap"], front_overlap_pct=o["front_overlap"])
        drones = _drones(o)
        if drones:
            from missions.split import plan_split

            layers = [float(v) for v in o["alt_layers"].split(",")] if o.get("alt_layers") else None
            kw.pop("vehicle", None)
            sp = plan_split(
                area,
                drones,
                pattern=pattern,
                weighting=o["weighting"],
                alt_layers_m=layers,
                **kw,
                **{k: v for k, v in extra.items() if k != "speed_m_s"},
            )
            _finish(pattern, sp.plans, o)
            return
        if o.get("vehicle"):
            kw["vehicle"] = vehicle_profile(o["vehicle"])
        fns: dict[str, F] = {
            "survey": planner.plan_survey,
            "creeping-line": planner.plan_creeping_line,
            "perimeter": planner.plan_perimeter,
        }
        _finish(pattern, [fns[pattern](area, home=home, **kw, **extra)], o)

    return cmd


def _register_area_pattern(pattern: str, help_text: str, extra: list[Any]) -> None:
    f = _area_pattern(pattern)
    for o in reversed(extra):
        f = o(f)
    f = sensor_options(area_options(common_outputs(f)))
    plan.command(name=pattern, help=help_text)(f)


_register_area_pattern(
    "survey",
    _("Survey (lawnmower) grid over an area, holes and concave parts included."),
    [
        click.option(
            "--angle",
            default="auto",
            show_default=True,
            help=_("Sweep angle in degrees or 'auto' (least flight time)."),
        ),
        click.option("--cross-hatch", is_flag=True, help=_("Fly the grid again at 90°.")),
        click.option("--turnaround-m", type=float, default=0.0, help=_("Turnaround distance.")),
    ],
)
_register_area_pattern(
    "creeping-line", _("IAMSAR creeping line / parallel track search over an area."), []
)
_register_area_pattern(
    "perimeter", _("Perimeter spiral (inward offsets) for small irregular areas."), []
)


def _datum_cmd(pattern: str) -> F:
    def cmd(**o: Any) -> None:
        from missions import planner

        check_sizes(o)
        datum = parse_point(o["datum"], "--datum")
        kw = sensor_kw(o)
        home = parse_point(o["home"], "--home") if o.get("home") else None
        from shapely.geometry import Point

        check_range([home] if home else [], Point(*datum), o.get("max_range_m"), _("datum"))
        if o.get("vehicle"):
            kw["vehicle"] = vehicle_profile(o["vehicle"])
        if o.get("speed_m_s"):
            kw["speed_m_s"] = o["speed_m_s"]
        if pattern == "sector":
            kw.pop("spacing_m", None)
        if pattern == "expanding-square":
            r = planner.plan_expanding_square(
                datum,
                spacing_m=o.get("spacing_m"),
                radius_m=o.get("radius_m"),
                legs=o.get("legs"),
                first_bearing_deg=o["first_bearing"],
                home=home,
                end=o["end"],
                **{k: v for k, v in kw.items() if k != "spacing_m"},
            )
        else:
            if o.get("radius_m") is None:
                raise BadInputError(_("sector search needs --radius-m"))
            kw.pop("wanted_pod", None)
            r = planner.plan_sector(
                datum,
                o["radius_m"],
                first_bearing_deg=o["first_bearing"],
                second_pattern=o["second_pattern"],
                home=home,
                end=o["end"],
                **kw,
            )
        _finish(pattern, [r], o)

    return cmd


for _pat, _help, _extra in (
    (
        "expanding-square",
        _("IAMSAR expanding square from a datum: legs S, S, 2S, 2S, ..."),
        [click.option("--legs", type=int, default=None, help=_("Number of legs."))],
    ),
    (
        "sector",
        _("IAMSAR sector search from a datum with 120° turns."),
        [click.option("--second-pattern", is_flag=True, help=_("Fly it again rotated 30°."))],
    ),
):
    _f = _datum_cmd(_pat)
    for _o in reversed(
        [
            click.option("--datum", required=True, help=_("Datum (last known position) LAT,LON.")),
            click.option("--radius-m", type=float, default=None, help=_("Search radius.")),
            click.option("--first-bearing", type=float, default=0.0, help=_("First leg bearing.")),
            *_extra,
        ]
    ):
        _f = _o(_f)
    plan.command(name=_pat, help=_help)(sensor_options(common_outputs(_f)))


@plan.command(name="corridor", help=_("Corridor along a polyline (river bank, road, railway)."))
@click.option(
    "--polyline",
    required=True,
    help=_("'LAT,LON;LAT,LON;...' or a file with a line (GeoJSON/KML)."),
)
@click.option("--width-m", type=float, required=True, help=_("Corridor width."))
@sensor_options
@common_outputs
def corridor(**o: Any) -> None:
    from missions import planner

    check_sizes(o)
    kw = sensor_kw(o)
    if o.get("vehicle"):
        kw["vehicle"] = vehicle_profile(o["vehicle"])
    kw.pop("wanted_pod", None)
    home = parse_point(o["home"], "--home") if o.get("home") else None
    line = parse_polyline(o["polyline"])
    from shapely.geometry import LineString

    check_range([home] if home else [], LineString(line), o.get("max_range_m"), _("corridor"))
    r = planner.plan_corridor(
        line,
        o["width_m"],
        home=home,
        end=o["end"],
        side_overlap_pct=o["side_overlap"],
        front_overlap_pct=o["front_overlap"],
        **kw,
    )
    _finish("corridor", [r], o)


def _safety_options(f: Any) -> Any:
    """The guard's inputs, shared by ``plan validate`` and ``plan convert``."""
    opts = [
        *guard_options(),
        click.option(
            "--dem", type=click.Path(path_type=Path), default=None, help=_("Terrain GeoTIFF.")
        ),
        click.option(
            "--dsm", type=click.Path(path_type=Path), default=None, help=_("Surface GeoTIFF.")
        ),
        click.option("--max-agl-m", type=float, default=120.0, show_default=True),
        click.option("--min-clearance-m", type=float, default=10.0, show_default=True),
        click.option("--vehicle", default=None, help=_("Vehicle profile for the endurance check.")),
        click.option(
            "--home-amsl-m",
            type=float,
            default=None,
            help=_("Home (launch point) altitude AMSL, if the file does not state it."),
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _clear_file(m: Any, o: dict[str, Any], *, writing: bool = False, **kw: Any) -> Any:
    """The guard (:func:`missions.clearance.clear_for_flight`) on a loaded mission file."""
    from missions.clearance import clear_for_flight
    from missions.terrain import resolve_above_terrain

    check_sizes(o)
    dem = open_terrain(o["dem"], settings().dem_file, [m])
    if dem is not None:
        m = resolve_above_terrain(m, dem)
    for k, it in enumerate(m.items if writing else ()):
        if it.has_position and math.isnan(it.alt_m):
            raise BadInputError(
                _(
                    "item {k} has no resolved altitude (QGC 'above terrain'): give --dem to "
                    "resolve and check it"
                ).format(k=k)
            )
    veh = vehicle_profile(o["vehicle"] or m.metadata.get("vehicle"))
    return clear_for_flight(
        m,
        zones=open_zones(o["zones"]),
        dem=dem,
        dsm=open_terrain(o["dsm"], None, [m]),
        vehicle=veh,
        home_amsl_m=o["home_amsl_m"],
        when=parse_when(o["when"]),
        max_agl_m=o["max_agl_m"],
        min_clearance_m=o["min_clearance_m"],
        max_distance_m=o["max_distance_m"] or settings().max_distance_m,
        max_range_m=o["max_range_m"],
        authorised_zones=o["authorised"],
        **kw,
    )


@plan.command(name="validate", help=_("Check a mission file; exit code 3 when it is unsafe."))
@click.argument("mission_path", type=click.Path(path_type=Path))
@_safety_options
@click.option("--json", "as_json", is_flag=True, help=_("Print the report as JSON."))
def validate_cmd(mission_path: Path, **o: Any) -> None:
    fc = _clear_file(load_mission(mission_path), o, raise_on_unsafe=False)
    s = fc.sorties[0]
    report = s.report
    if o["as_json"]:
        echo_json(
            {
                "file": str(mission_path),
                "home_amsl_source": fc.home_source,
                "home_amsl_m": s.mission.home[2] if s.mission.home else None,
                **report.to_dict(),
            }
        )
    else:
        for v in report.violations:
            click.echo(f"{_('UNSAFE')} {v}")
        for v in report.warnings:
            click.echo(f"{_('warning')} {v}")
        for n in [*fc.notes, *report.notes]:
            info(f"{_('note')}: {n}")
        if report.ok:
            click.echo(
                _("OK: {n} samples along {l:.0f} m, {t:.0f} s, max {a:.0f} m above ground").format(
                    n=report.samples, l=report.length_m, t=report.duration_s, a=report.max_agl_m
                )
            )
    if not report.ok:
        raise SafetyViolation(
            ngettext(
                "{f} is unsafe: {n} problem", "{f} is unsafe: {n} problems", len(report.violations)
            ).format(f=mission_path, n=len(report.violations))
            + f" ({report.violations[0]})",
            violations=report.violations,
        )


@plan.command(name="coverage", help=_("Audit a mission's camera coverage of an area; write gaps."))
@click.argument("mission_path", type=click.Path(path_type=Path))
@click.option("--area", "area_path", type=click.Path(path_type=Path), required=True)
@click.option("--crs", default=None, help=_("CRS of the area file."))
@click.option("--camera", default=None, help=_("Camera (default: the one in the mission)."))
@click.option("--swath-m", type=float, default=None, help=_("Sensor swath width instead."))
@click.option("--dem", type=click.Path(path_type=Path), default=None)
@click.option(
    "--gaps",
    "gaps_path",
    type=click.Path(path_type=Path),
    default=None,
    help=_("GeoJSON file for the gaps (default MISSION.gaps.geojson)."),
)
@click.option("--json", "as_json", is_flag=True)
def coverage_cmd(mission_path: Path, area_path: Path, **o: Any) -> None:
    from missions.coverage import audit_coverage, gaps_geojson
    from missions.formats._common import atomic_write_text

    m = load_mission(mission_path)
    area = read_area(area_path, o["crs"], False)
    cam_name = o["camera"] or m.metadata.get("camera")
    cam = None
    if cam_name and o["swath_m"] is None:
        from missions.camera import get_camera

        cam = get_camera(cam_name, settings().camera_dir)
    fps = None
    if (
        cam is None
        and o["swath_m"] is None
        and mission_path.suffix.lower() in (".geojson", ".json")
    ):
        from missions.formats.geojson import read_geojson_layers

        fps = read_geojson_layers(mission_path, "footprint") or None
    res = audit_coverage(
        m,
        area.geom_lonlat,
        camera=cam,
        swath_m=o["swath_m"],
        footprints_lonlat=fps,
        dem=open_terrain(o["dem"], None, [m]),
    )
    gaps_path = o["gaps_path"] or mission_path.with_name(mission_path.stem + ".gaps.geojson")
    atomic_write_text(gaps_path, json.dumps(gaps_geojson(res), ensure_ascii=False) + "\n")
    if o["as_json"]:
        echo_json({**res.to_dict(), "gaps_file": str(gaps_path)})
    else:
        click.echo(
            _("coverage {c:.2f} % of {a:.0f} m² ({m}, {p} photos); gaps: {g}").format(
                c=res.coverage_pct, a=res.area_m2, m=res.method, p=res.photos, g=gaps_path
            )
        )


@plan.command(
    name="convert",
    help=_("Convert a mission file to another format (validated first, like every plan)."),
)
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--to", "fmt", default=None, help=_("Output format (default: from DST's name)."))
@_safety_options
@click.option(
    "--override-safety",
    is_flag=True,
    help=_("Write an unsafe mission anyway (needs --reason; recorded)."),
)
@click.option("--reason", default=None, help=_("Why the safety override is needed."))
def convert(src: Path, dst: Path, fmt: str | None, **o: Any) -> None:
    m = load_mission(src)
    try:
        fc = _clear_file(m, o, writing=True, override=o["override_safety"], reason=o["reason"])
    except SafetyViolation as exc:
        for v in exc.violations:
            info(f"  {v}")
        raise
    s = fc.sorties[0]
    if s.clearance is not None and s.clearance.override is not None:
        ov = s.clearance.override
        info(
            _("SAFETY OVERRIDE recorded by {by} at {at}: {reason}").format(
                by=ov.by, at=ov.at, reason=ov.reason
            )
        )
        for v in s.report.violations:
            info(f"  {v}")
    out = save_mission(s.mission, dst, format=fmt)
    info(_("{n} items written to {p}").format(n=len(s.mission.items), p=out))


@plan.command(name="cameras", help=_("List camera profiles."))
@click.option("--json", "as_json", is_flag=True)
def cameras(as_json: bool) -> None:
    from missions.camera import load_cameras

    cams = load_cameras(settings().camera_dir)
    if as_json:
        echo_json([c.to_dict() for c in cams.values()])
        return
    for c in cams.values():
        click.echo(
            f"{c.key:20s} {c.name:40s} {c.sensor_width_mm}×{c.sensor_height_mm} mm "
            f"{c.image_width_px}×{c.image_height_px} px f={c.focal_length_mm} mm {c.kind}"
        )


@plan.command(name="vehicles", help=_("List vehicle profiles."))
@click.option("--json", "as_json", is_flag=True)
def vehicles(as_json: bool) -> None:
    from missions.vehicles import load_vehicles

    vs = load_vehicles(settings().vehicle_dir)
    if as_json:
        echo_json([v.to_dict() for v in vs.values()])
        return
    for v in vs.values():
        click.echo(
            f"{v.key:12s} {v.name:32s} {v.cruise_speed_m_s:g} m/s "
            f"{v.endurance_min:g} min ({v.battery_reserve_pct:g} % reserve) {v.autopilot}"
        )
