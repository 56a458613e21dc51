"""``dronekit-plzen plan``: plan survey grids and IAMSAR patterns, validate, audit, convert.

Every pattern command plans, follows the terrain (``--dem``), validates the whole path
(120 m rule, zones, geofence, endurance) and only then writes the files; an unsafe mission
exits with code 3 unless ``--override-safety --reason TEXT`` is given (the override is stored in
the files' metadata). Defaults for ``--zones``, ``--dem``, camera and vehicle folders come from
the configuration.
"""

from __future__ import annotations

import math
from typing import Any

import click

from dronekit_plzen.cliutil import echo_json, info, refuse_given
from dronekit_plzen.errors import BadInputError, SafetyViolation
from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.outputs import OutputGroup
from missions.cli_options import (
    SPACING_OPTIONS,
    F,
    area_options,
    check_range,
    check_sizes,
    common_outputs,
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


def _sortie_time_s(metrics: Any, sortie: int, of: int) -> float:
    """The flight time of sortie ``sortie`` of ``of`` (the whole flight when it is the only one)."""
    times = metrics.sortie_times_s
    if of > 1 and len(times) == of:
        return round(float(times[sortie - 1]), 1)
    return round(float(metrics.flight_time_s), 1)


def _finish(pattern: str, results: list[Any], o: dict[str, Any]) -> None:
    """Terrain, validation, override and files for one or more plans; then the summary."""
    from missions.pipeline import finalize_mission, parse_formats, write_mission_files

    cfg = settings()
    formats = parse_formats(o["formats"])
    plans = [m for r in results for m in (r.sorties or [r.mission])]
    dem = open_terrain(o.get("dem"), cfg.dem_file, plans)
    # every input is read before anything is said about the plan: a bad --when or --zones is
    # one line, not a warning about the launch point followed by the error
    when = parse_when(o.get("when"))
    dsm = open_terrain(o.get("dsm"), None, plans)
    zones = open_zones(o.get("zones"))
    if dem is None and not o.get("home") and not o.get("launch"):
        lon, lat = plans[0].home[:2] if plans and plans[0].home else (float("nan"),) * 2
        info(
            _(
                "warning: no launch point (--home) or DEM to check the position against: the "
                "mission starts at {lat:.5f}, {lon:.5f} (lat, lon); check it is where you "
                "expect (swapped coordinates?)"
            ).format(lat=lat, lon=lon)
        )
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
                    when=when,
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
            finals.append((r, mission, report, stem, (i + 1, j + 1, len(sorties))))
    # every file of every drone and sortie is put in place together, or none of them: a writer
    # that refuses (or a full disk) halfway must not leave a set that looks complete
    with OutputGroup.all_or_nothing():
        written = [
            write_mission_files(
                mission,
                o["out_dir"],
                stem,
                formats,
                area=r.area_lonlat,
                footprints=r.footprints_lonlat or None,
                coverage=r.swath_lonlat,
            )
            for r, mission, _report, stem, _place in finals
        ]
    for (r, mission, report, stem, (drone, sortie, of)), paths in zip(finals, written):
        entry = {
            "name": stem,
            "drone": drone,
            "sortie": sortie,
            "sorties": of,
            # "metrics" are the drone's whole plan; this one sortie's flight (one battery)
            "sortie_flight_time_s": _sortie_time_s(r.metrics, sortie, of),
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
        # one mission keeps its fields at the top (as before); "drones" lists every drone's
        # every sortie in all cases, so a script reads one shape however the plan was cut
        echo_json(out if len(finals) > 1 else {"pattern": pattern, **out["drones"][0], **out})
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


def _check_front_overlap(o: dict[str, Any], pattern: str) -> None:
    """--front-overlap sets the distance between photos: with no photos it had been dropped."""
    from missions.planner import default_trigger

    if (o.get("trigger") or default_trigger(pattern)) == "none":
        refuse_given(
            {"front_overlap": "--front-overlap"},
            _(
                "--front-overlap sets how often photos are taken: the {pattern} plan takes none "
                "(give --trigger distance)"
            ),
            pattern=pattern,
        )


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

    veh = vehicle_profile(o.get("vehicle") or "px4-quad")
    if o.get("speed_m_s"):  # was dropped: every drone flew its cruise speed
        veh = veh.with_speed(o["speed_m_s"])
    return [DroneSpec(veh, parse_point(p, "--launch")) for p in launches]


def _alt_layers(text: str | None) -> list[float] | None:
    """``--alt-layers 60,70,80``: one finite altitude per drone (``a,b`` was an internal error)."""
    if not text:
        return None
    out = []
    for part in text.split(","):
        try:
            v = float(part)
        except ValueError:
            v = math.nan
        if not math.isfinite(v):
            raise BadInputError(
                _("--alt-layers: {v!r} is not an altitude in metres").format(v=part.strip())
            )
        out.append(v)
    return out


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
        _check_front_overlap(o, pattern)
        if o.get("alt_layers") is not None and (o.get("drones") or 1) <= 1:
            # was ignored: one drone flew --alt-m (or the default), not the layer asked for
            raise BadInputError(
                _(
                    "--alt-layers gives one altitude per drone: use it with --drones N "
                    "(one drone: --alt-m)"
                )
            )
        layers = _alt_layers(o.get("alt_layers"))
        if layers is not None:  # --alt-m had been dropped without a word: each drone its layer
            refuse_given(
                {"alt_m": "--alt-m", "gsd_cm": "--gsd-cm"},
                _("--alt-layers sets each drone's altitude: leave out {opts}"),
            )
        area = read_area(o["area_path"], o["crs"], o["repair"])
        kw = sensor_kw(o)
        home = parse_point(o["home"], "--home") if o.get("home") else None
        launches = [parse_point(t, "--launch") for t in o.get("launch") or ()]
        check_range([home] if home else launches, area.geom_lonlat, o.get("max_range_m"), _("area"))
        # every area pattern follows the overlaps (the creeping line had dropped them)
        extra: dict[str, Any] = {
            "end": o["end"],
            "side_overlap_pct": o["side_overlap"],
            "front_overlap_pct": o["front_overlap"],
        }
        if o.get("speed_m_s"):
            extra["speed_m_s"] = o["speed_m_s"]
        if pattern == "survey":
            extra.update(
                angle_deg=o["angle"],
                cross_hatch=o["cross_hatch"],
                turnaround_m=o["turnaround_m"],
            )
        drones = _drones(o)
        if drones:
            from missions.split import plan_split

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
        _check_front_overlap(o, pattern)
        if pattern == "sector":  # these had been dropped without a word
            refuse_given(
                SPACING_OPTIONS,
                _("{opts}: not used by the {pattern} pattern ({why}); leave it out"),
                pattern=pattern,
                why=_("its legs cross the datum at 120° out to --radius-m"),
            )
        datum = parse_point(o["datum"], "--datum")
        kw = sensor_kw(o)
        home = parse_point(o["home"], "--home") if o.get("home") else None
        from shapely.geometry import Point

        check_range([home] if home else [], Point(*datum), o.get("max_range_m"), _("datum"))
        if o.get("vehicle"):
            kw["vehicle"] = vehicle_profile(o["vehicle"])
        if o.get("speed_m_s"):
            kw["speed_m_s"] = o["speed_m_s"]
        if pattern == "expanding-square":
            r = planner.plan_expanding_square(
                datum,
                radius_m=o.get("radius_m"),
                legs=o.get("legs"),
                first_bearing_deg=o["first_bearing"],
                home=home,
                end=o["end"],
                side_overlap_pct=o["side_overlap"],
                front_overlap_pct=o["front_overlap"],
                **kw,
            )
        else:
            if o.get("radius_m") is None:
                raise BadInputError(_("sector search needs --radius-m"))
            r = planner.plan_sector(
                datum,
                o["radius_m"],
                first_bearing_deg=o["first_bearing"],
                second_pattern=o["second_pattern"],
                home=home,
                end=o["end"],
                front_overlap_pct=o["front_overlap"],
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
    _check_front_overlap(o, "corridor")
    kw = sensor_kw(o)
    if o.get("vehicle"):
        kw["vehicle"] = vehicle_profile(o["vehicle"])
    if o.get("speed_m_s"):  # was dropped: the corridor flew the vehicle's cruise speed
        kw["speed_m_s"] = o["speed_m_s"]
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


from missions.cli_files import register_files  # noqa: E402 - validate, coverage, convert, lists

register_files(plan)

from missions.cli_poa import register_poa  # noqa: E402 - adds plan poa-map and plan poa

register_poa(plan)
