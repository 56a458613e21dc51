"""``plan poa-map`` and ``plan poa``: probability-of-area maps and probability-driven search.

``plan poa-map`` writes a POA GeoTIFF from lost-person statistics (:mod:`missions.poa_map`);
``plan poa`` plans one path per drone over any probability GeoTIFF (:mod:`missions.poa`),
cuts each into sorties, runs every sortie through the same guard as every plan
(:func:`missions.pipeline.finalize_mission` → :func:`missions.clearance.clear_for_flight`; exit 3
when unsafe) and only then writes the files: one ``.plan`` (and the other formats) per drone and
sortie, one GeoJSON with a LineString per drone, and a report (JSON and HTML) of the
probability covered over time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import echo_json, info
from dronekit_plzen.errors import BadInputError, SafetyViolation
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import path_sha256
from dronekit_plzen.outputs import OutputGroup
from missions.cli_options import (
    MAX_LENGTH_M,
    check_sizes,
    guard_options,
    open_terrain,
    open_zones,
    override_end_options,
    parse_point,
    parse_when,
    settings,
    vehicle_profile,
)


def _opts(f: Any, opts: list[Any]) -> Any:
    for o in reversed(opts):
        f = o(f)
    return f


def _poa_map(**o: Any) -> None:
    from missions.poa_map import build_poa, write_poa

    lkp = parse_point(o["lkp"], "--lkp")
    for k in ("radius_m", "cell_m"):
        v = o.get(k)
        if v is not None and not (v > 0 and math.isfinite(v)):
            raise BadInputError(
                _("--{opt} must be > 0, got {v:g}").format(opt=k.replace("_", "-"), v=v)
            )
        if v is not None and v > MAX_LENGTH_M:  # (a 1e308 m radius was told in 666 digits)
            raise BadInputError(
                _("--{opt} {v:g} m is beyond any flight (at most {m:g} m)").format(
                    opt=k.replace("_", "-"), v=v, m=MAX_LENGTH_M
                )
            )
    from dronekit_plzen.outputs import check_output_path

    check_output_path(o["output"], suffixes=(".tif", ".tiff"))
    grid, meta = build_poa(
        lkp,
        o["subject"],
        terrain=o["terrain"],
        radius_m=o["radius_m"],
        cell_m=o["cell_m"],
        crs=o["crs"],
        features=o["features"],
    )
    path = write_poa(grid, o["output"], meta)
    if o["as_json"]:
        echo_json({"file": str(path), "shape": list(grid.shape), **meta})
    else:
        info(
            _("{f}: {h}×{w} cells of {c:g} m, quartiles {q} km ({s})").format(
                f=path,
                h=grid.shape[0],
                w=grid.shape[1],
                c=grid.cell_m,
                q=meta["quartiles_km"],
                s=meta["source"],
            )
        )


def _footprints(o: dict[str, Any], alts: list[float]) -> tuple[list[Any], Any, Any]:
    from missions.poa_plan import footprints

    return footprints(
        alts,
        fov_deg=o.get("fov_deg"),
        camera=o.get("camera"),
        target=o.get("target"),
        disc=o.get("disc", False),
        camera_dir=settings().camera_dir,
    )


def _mkdir(out: Path) -> None:
    from dronekit_plzen.outputs import output_error

    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".dkp-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise output_error(out, exc) from exc


def _poa(**o: Any) -> None:
    out_dir = Path(o["out_dir"])
    made = not out_dir.exists()
    try:
        _poa_run(**o)
    except BaseException:
        if made and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()  # a refused plan (the guard, a leg out of reach) leaves no folder
        raise


def _poa_run(**o: Any) -> None:
    from missions import poa_plan
    from missions.pipeline import parse_formats, write_mission_files
    from missions.plan_core import resolve_vehicle
    from missions.poa import check_budget, layer_altitudes, summary
    from missions.poa_cover import read_prob_map

    check_sizes(o)
    if not (o["budget_m"] > 0 and math.isfinite(o["budget_m"])):
        raise BadInputError(_("--budget-m must be > 0, got {v:g}").format(v=o["budget_m"]))
    check_budget(o["budget_m"])
    formats = parse_formats(o["formats"])
    launch = parse_point(o["launch"], "--launch")
    n = o["drones"]
    alts = layer_altitudes(o["alt_m"], n)
    fps, cam, tgt = _footprints(o, alts)
    shortest = min(f.across_m for f in fps)
    if o["budget_m"] < shortest:  # 1e-300 m wrote a plan that hovers over the launch point
        raise BadInputError(
            _(
                "--budget-m {b:g} m is shorter than the camera's footprint ({w:.0f} m across): "
                "the path would not leave the launch point"
            ).format(b=o["budget_m"], w=shortest)
        )
    out_dir: Path = o["out_dir"]
    grid = read_prob_map(o["poa"])
    veh = vehicle_profile(o.get("vehicle")) or resolve_vehicle(None, cam)
    if o.get("speed_m_s"):
        veh = veh.with_speed(o["speed_m_s"])
    setup = poa_plan.prepare_search(grid, launch, alts, veh, where=str(o["poa"]))
    _mkdir(out_dir)
    plan = poa_plan.plan_search(grid, setup, fps, alts, o["budget_m"], veh)
    rep = summary(grid, plan)
    # every sortie through the guard; cut shorter while only the endurance check fails
    results, finals = poa_plan.cut_into_sorties(
        plan,
        setup,
        cam,
        tgt,
        veh,
        lambda rs: _guard(o, rs, veh, raise_all=False),
        end=o["end"],
        poa_name=str(o["poa"]),
    )
    if finals is None:
        finals = _guard(o, results, veh, raise_all=True)
    assert finals is not None
    files: list[str] = []
    by_drone = {r.mission.metadata["drone"]: len(r.sorties or [r.mission]) for r in results}
    rep["sorties"] = [by_drone.get(i + 1, 0) for i in range(len(plan.paths))]
    rep["deconfliction"] = {
        "alt_layers_m": [p.alt_m for p in plan.paths],
        "start_delays_s": [p.start_delay_s for p in plan.paths],
    }
    # the map the shares are of: the portal checks a report against the map it is shown with
    rep["poa_map"] = {"path": str(Path(o["poa"]).resolve()), "sha256": path_sha256(o["poa"])}
    # the plans of every drone and sortie, the GeoJSON and the report: all of them or none
    with OutputGroup.all_or_nothing():
        for i, mission, report, stem in finals:
            fmts = [f for f in formats if f != "geojson"]
            if fmts:
                files += [str(p) for p in write_mission_files(mission, out_dir, stem, fmts)]
            rep["drones"][i].setdefault("files", []).extend(files[-len(fmts) :] if fmts else [])
            for w in report.warnings:
                info(_("warning: {w}").format(w=w))
        if "geojson" in formats:
            files.append(str(_write_geojson(plan, grid.crs, out_dir / f"{o['name']}.geojson")))
        rep["files"] = files + _write_report(rep, out_dir, o["name"])
    if o["as_json"]:
        echo_json(rep)
        return
    for d in rep["drones"]:
        if not d["needed"]:
            click.echo(
                _(
                    "drone {i}: not needed, the other drones already cover all the probability "
                    "within reach"
                ).format(i=d["drone"])
            )
            continue
        click.echo(
            _(
                "drone {i}: {p:.1f} % of the probability, {l:.0f} m at {a:g} m, start +{s:g} s"
            ).format(
                i=d["drone"],
                p=100 * d["probability_covered"],
                l=d["path_length_m"],
                a=d["alt_m"],
                s=d["start_delay_s"],
            )
        )
    click.echo(_("total: {p:.1f} % of the probability").format(p=100 * rep["probability_covered"]))
    for f in rep["files"]:
        click.echo(f"  {f}")


def _guard(o: dict[str, Any], results: list[Any], veh: Any, raise_all: bool) -> list[Any] | None:
    """Every sortie through the guard; None when only the endurance check failed and the
    caller may cut shorter sorties (unless ``raise_all``)."""
    from missions.pipeline import finalize_mission

    dem = open_terrain(o.get("dem"), settings().dem_file, [r.mission for r in results])
    dsm = open_terrain(o.get("dsm"), None, [r.mission for r in results])
    zones = open_zones(o.get("zones"))
    finals = []
    for r in results:
        i = r.mission.metadata["drone"] - 1
        sorties = r.sorties or [r.mission]
        for j, sortie in enumerate(sorties):
            try:
                mission, report = finalize_mission(
                    sortie,
                    dem=dem,
                    dsm=dsm,
                    zones=zones,
                    vehicle=veh,
                    when=parse_when(o.get("when")),
                    max_distance_m=o.get("max_distance_m") or settings().max_distance_m,
                    max_range_m=o.get("max_range_m"),
                    authorised_zones=o.get("authorised", ()),
                    override=o["override_safety"],
                    reason=o.get("reason"),
                )
            except SafetyViolation as exc:
                if not raise_all and all(v.rule == "endurance" for v in exc.violations):
                    return None
                for v in exc.violations:
                    info(f"  {v}")
                raise
            stem = f"{o['name']}_drone{i + 1}" + (f"_sortie{j + 1}" if len(sorties) > 1 else "")
            finals.append((i, mission, report, stem))
    return finals


def _write_geojson(plan: Any, crs: Any, path: Path) -> Path:
    from dronekit_plzen import geo
    from missions.formats._common import atomic_write_text

    feats = []
    for i, p in enumerate(plan.paths):
        lon, lat = geo.transform(p.xy[:, 0], p.xy[:, 1], crs, geo.WGS84)
        line = {
            "type": "LineString",
            "coordinates": [[round(a, 7), round(b, 7)] for a, b in zip(lon, lat)],
        }
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "drone": i + 1,
                    "needed": p.needed,
                    "alt_m": p.alt_m,
                    "probability_covered": round(p.covered, 6),
                    "path_length_m": round(p.length_m, 1),
                    "start_delay_s": p.start_delay_s,
                },
                # a drone that is not needed has no path: an unlocated feature (RFC 7946, 3.2)
                "geometry": line if p.needed else None,
            }
        )
    doc = {"type": "FeatureCollection", "features": feats}
    return atomic_write_text(path, json.dumps(doc, ensure_ascii=False) + "\n")


def _write_report(rep: dict[str, Any], out_dir: Path, name: str) -> list[str]:
    """``NAME_report.json`` and a small ``NAME_report.html`` (the curve as an inline SVG)."""
    from missions.formats._common import atomic_write_text

    j = atomic_write_text(out_dir / f"{name}_report.json", json.dumps(rep, indent=1) + "\n")
    curve = rep["curve"]
    tmax = max((c["t_s"] for c in curve), default=1.0) or 1.0
    pts = " ".join(
        f"{40 + 540 * c['t_s'] / tmax:.1f},{260 - 240 * c['covered']:.1f}" for c in curve
    )
    rows = "".join(
        (
            f"<tr><td>{d['drone']}</td><td>{100 * d['probability_covered']:.1f} %</td>"
            f"<td>{d['path_length_m']:.0f}</td><td>{d['alt_m']:g}</td>"
            f"<td>{d['start_delay_s']:g}</td>"
            f"<td>{d['expected_time_to_detection_s'] or 0:.0f}</td></tr>"
        )
        if d["needed"]
        else f"<tr><td>{d['drone']}</td><td colspan='5'>{_('not needed')}</td></tr>"
        for d in rep["drones"]
    )
    html = (
        "<!doctype html><meta charset='utf-8'><title>POA</title>"
        f"<h1>{_('Probability covered over time')}</h1>"
        "<svg width='600' height='280' style='border:1px solid #ccc'>"
        f"<polyline fill='none' stroke='#c00' stroke-width='2' points='{pts}'/>"
        "<text x='40' y='275'>0 s</text>"
        f"<text x='520' y='275'>{tmax:.0f} s</text><text x='2' y='24'>100 %</text></svg>"
        f"<p>{_('total')}: {100 * rep['probability_covered']:.1f} %</p>"
        "<table border='1'><tr><th>drone</th><th>P</th><th>m</th><th>alt m</th>"
        f"<th>delay s</th><th>ETD s</th></tr>{rows}</table>"
    )
    h = atomic_write_text(out_dir / f"{name}_report.html", html)
    return [str(j), str(h)]


def register_poa(plan: click.Group) -> None:
    """Add ``poa-map`` and ``poa`` to the ``plan`` group."""
    from missions.poa_map import SUBJECT_ALIASES, SUBJECTS, TERRAINS

    pm = _opts(
        _poa_map,
        [
            click.option("--lkp", required=True, help=_("Last known position LAT,LON.")),
            click.option(
                "--subject",
                required=True,
                help=_("Subject category: {k}.").format(k=", ".join([*SUBJECTS, *SUBJECT_ALIASES])),
            ),
            click.option(
                "--terrain",
                default="flat",
                show_default=True,
                help=_("Terrain of the ring statistics: {k}.").format(k=", ".join(TERRAINS)),
            ),
            click.option(
                "--features",
                type=click.Path(path_type=Path),
                default=None,
                help=_("Land cover and linear features (.gpkg or .geojson)."),
            ),
            click.option(
                "--radius-m",
                type=float,
                default=None,
                help=_("Map radius (default: the 95 % distance)."),
            ),
            click.option(
                "--cell-m", type=float, default=30.0, show_default=True, help=_("Cell size.")
            ),
            click.option(
                "--crs", default=None, help=_("Metric CRS (default: the UTM zone of the LKP).")
            ),
            click.option(
                "-o",
                "--output",
                type=click.Path(path_type=Path),
                required=True,
                help=_("Output GeoTIFF."),
            ),
            click.option("--json", "as_json", is_flag=True, help=_("Print the metadata as JSON.")),
        ],
    )
    plan.command(name="poa-map", help=_("Probability-of-area map from lost-person statistics."))(pm)
    pp = _opts(
        _poa,
        [
            click.option(
                "--poa",
                type=click.Path(path_type=Path),
                required=True,
                help=_("Probability GeoTIFF."),
            ),
            click.option(
                "--drones", type=int, default=1, show_default=True, help=_("Number of drones.")
            ),
            click.option(
                "--budget-m", type=float, required=True, help=_("Flight budget per drone (m).")
            ),
            click.option("--alt-m", type=float, required=True, help=_("Height above ground.")),
            click.option("--fov-deg", type=float, default=None, help=_("Camera field of view.")),
            click.option("--camera", default=None, help=_("Camera profile (see plan cameras).")),
            click.option(
                "--disc",
                is_flag=True,
                help=_("Detection within a radius of half the footprint width, any heading."),
            ),
            click.option("--target", default=None, help=_("Search target, e.g. person.")),
            click.option("--launch", required=True, help=_("Launch point LAT,LON.")),
            click.option(
                "--out",
                "out_dir",
                type=click.Path(path_type=Path),
                required=True,
                help=_("Output folder."),
            ),
            click.option(
                "--format",
                "formats",
                default="geojson,plan",
                show_default=True,
                help=_("Comma-separated output formats."),
            ),
            click.option("--name", default="poa", show_default=True, help=_("File name stem.")),
            click.option("--json", "as_json", is_flag=True, help=_("Print the metrics as JSON.")),
            click.option("--vehicle", default=None, help=_("Vehicle profile (see plan vehicles).")),
            click.option("--speed-m-s", type=float, default=None, help=_("Cruise speed.")),
            click.option(
                "--dem", type=click.Path(path_type=Path), default=None, help=_("Terrain GeoTIFF.")
            ),
            click.option(
                "--dsm", type=click.Path(path_type=Path), default=None, help=_("Surface GeoTIFF.")
            ),
            *guard_options(),
            *override_end_options(),
        ],
    )
    plan.command(name="poa", help=_("Search paths where the missing person most likely is."))(pp)
