"""``plan validate``, ``coverage``, ``convert``, ``cameras`` and ``vehicles``: the commands that
read a mission file or list profiles (the guard at the file doors: validate and convert)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import echo_json, info
from dronekit_plzen.errors import BadInputError, SafetyViolation
from dronekit_plzen.i18n import _, ngettext
from missions.cli_options import (
    check_sizes,
    guard_options,
    open_terrain,
    open_zones,
    parse_when,
    read_area,
    settings,
    vehicle_profile,
)
from missions.formats import check_name_fits, load_mission, save_mission


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
        click.option(
            "--vehicle",
            default=None,
            help=_("Vehicle profile: its endurance, and its autopilot's rules for the path."),
        ),
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
                ).format(k=k + 1)
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
        # a vehicle named here flies it: walked as its autopilot flies each item
        flown_by=getattr(veh, "autopilot", None) if o["vehicle"] else None,
        **kw,
    )


@click.command(name="validate", help=_("Check a mission file; exit code 3 when it is unsafe."))
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


#: the widest sensor swath ``plan coverage --swath-m`` takes (m): wider than a drone sees from
#: any altitude it may fly
MAX_SWATH_M = 10_000.0
#: the gaps are GeoJSON
_GAPS_SUFFIXES = (".geojson", ".json")


@click.command(name="coverage", help=_("Audit a mission's camera coverage of an area; write gaps."))
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

    if o["swath_m"] is not None and o.get("camera"):  # the camera had been dropped
        raise BadInputError(_("give --camera or --swath-m, not both"))
    if o["swath_m"] is not None and not (o["swath_m"] > 0 and math.isfinite(o["swath_m"])):
        raise BadInputError(_("--swath-m must be > 0, got {v:g}").format(v=o["swath_m"]))
    if o["swath_m"] is not None and o["swath_m"] > MAX_SWATH_M:  # 1e300: an overflowing
        # buffer, "coverage 0.00 %" with exit 0
        raise BadInputError(
            _(
                "--swath-m {v:g} m is wider than any drone sensor sees (at most {max:,.0f} m)"
            ).format(v=o["swath_m"], max=MAX_SWATH_M)
        )
    gaps_path = o["gaps_path"] or mission_path.with_name(mission_path.stem + ".gaps.geojson")
    if not gaps_path.name.lower().endswith(_GAPS_SUFFIXES):  # GeoJSON text was written as g.png
        raise BadInputError(
            _("cannot write {path}: {reason}").format(
                path=gaps_path,
                reason=_("the extension must be {suffixes}").format(
                    suffixes=_(" or ").join(_GAPS_SUFFIXES)
                ),
            )
        )
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
    atomic_write_text(gaps_path, json.dumps(gaps_geojson(res), ensure_ascii=False) + "\n")
    if o["as_json"]:
        echo_json({**res.to_dict(), "gaps_file": str(gaps_path)})
    else:
        click.echo(
            _("coverage {c:.2f} % of {a:.0f} m² ({m}, {p} photos); gaps: {g}").format(
                c=res.coverage_pct, a=res.area_m2, m=res.method, p=res.photos, g=gaps_path
            )
        )


@click.command(
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
    if fmt and Path(dst).resolve() != Path(src).resolve():  # onto SRC: refused as an input
        check_name_fits(dst, fmt)
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
    timed = _timed_speed(s.mission, o)
    out = save_mission(timed, dst, format=fmt)
    n = len(s.mission.items)
    info(ngettext("{n} item written to {p}", "{n} items written to {p}", n).format(n=n, p=out))
    if fmt == "waypoints" or (fmt is None and Path(out).suffix.lower() == ".waypoints"):
        _say_commanded_speed(timed, has_vehicle=bool(o["vehicle"] or timed.metadata.get("vehicle")))


def _say_commanded_speed(m: Any, *, has_vehicle: bool) -> None:
    """A QGC WPL file commands the planning speed when the mission commanded none: say which,
    and, without a vehicle profile to cap it, that a multirotor plan's cruise speed may be
    QGroundControl's fixed-wing figure."""
    from missions.formats.waypoints import flown_items

    if len(flown_items(m)) == len(m.items):
        return  # the mission commands its own speed (or states none): nothing added
    info(
        _("the file starts with a speed command of {v:g} m/s (the plan's cruise speed)").format(
            v=m.cruise_speed_m_s
        )
    )
    if not has_vehicle and m.vehicle_type != 1 and m.cruise_speed_m_s > m.hover_speed_m_s:
        info(
            _(
                "warning: a multirotor plan's cruise speed ({v:g} m/s) may be QGroundControl's "
                "fixed-wing default; give --vehicle NAME to cap it at the aircraft's speed"
            ).format(v=m.cruise_speed_m_s)
        )


def _timed_speed(m: Any, o: dict[str, Any]) -> Any:
    """The mission with the planning speed the guard timed its legs with: the slower of the
    file's and the vehicle profile's (a QGC multirotor plan says 15 m/s, QGC's fixed-wing
    figure). Written files state that speed, and a QGC WPL file commands it (ArduPilot flies
    it), so the aircraft never flies faster than the flight was timed."""
    veh = vehicle_profile(o["vehicle"] or m.metadata.get("vehicle"))
    v = getattr(veh, "cruise_speed_m_s", None)
    if isinstance(v, int | float) and 0 < v < m.cruise_speed_m_s:
        return replace(m, cruise_speed_m_s=float(v))
    return m


@click.command(name="cameras", help=_("List camera profiles."))
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


@click.command(name="vehicles", help=_("List vehicle profiles."))
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


def register_files(plan: click.Group) -> None:
    """Add the file commands to the ``plan`` group."""
    for cmd in (validate_cmd, coverage_cmd, convert, cameras, vehicles):
        plan.add_command(cmd)
