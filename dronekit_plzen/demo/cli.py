"""``dronekit-plzen demo``: the SAR deployment end to end; ``demo lidar``: the LiDAR products;
``demo photo``: the photogrammetry products."""

from __future__ import annotations

from pathlib import Path

import click

from dronekit_plzen.cliutil import app, echo_json, info
from dronekit_plzen.i18n import _


@click.group(
    name="demo",
    invoke_without_command=True,
    help=_(
        "Fly a search-and-rescue deployment with three simulated drones, end to end.\n\n"
        "Registers a police request, splits a 1.7 km² search area with a pond among three drones "
        "with thermal-camera grids (checked against the sample zones and the 120 m rule), flies "
        "them on the simulator through the link layer, records the flights under the deployment "
        "and writes plans, GeoJSON tracks, a map and a self-contained HTML report into --out."
    ),
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help=_("Folder for the plans, tracks, database and report."),
)
@click.option("--fast", is_flag=True, help=_("Lockstep simulation, as fast as the CPU allows."))
@click.option(
    "--speedup",
    type=float,
    default=10.0,
    show_default=True,
    help=_("Simulation speed (× real time) when not --fast."),
)
@click.option(
    "--port-offset",
    type=int,
    default=0,
    help=_("Shift the simulator's UDP ports (0: find free ports)."),
)
@click.option(
    "--pod",
    type=float,
    default=0.63,
    show_default=True,
    help=_("Wanted probability of detection per drone."),
)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=900.0,
    show_default=True,
    help=_("Longest wall time to wait for the flights."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Print the result as JSON on stdout."))
@click.pass_context
def demo(
    ctx: click.Context,
    out_dir: Path,
    fast: bool,
    speedup: float,
    port_offset: int | None,
    pod: float,
    timeout_s: float,
    as_json: bool,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from dronekit_plzen.demo.sar import DemoOptions, result_json, run_sar_demo

    quiet = app().quiet or as_json
    opts = DemoOptions(
        out_dir=out_dir,
        fast=fast,
        speedup=speedup,
        port_offset=port_offset or None,  # 0: the first free ports (the standard ones if free)
        pod=pod,
        timeout_s=timeout_s,
        echo=(lambda s: None) if quiet else (lambda s: click.echo(s, err=as_json)),
    )
    res = run_sar_demo(opts)
    if as_json:
        click.echo(result_json(res))
    else:
        info(_("Open {path} in a browser to see the report.").format(path=res.files["report"]))


@demo.command(
    name="lidar",
    help=_("Classify ground and write DTM, DSM, CHM and hillshade GeoTIFFs for a sample cloud."),
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("demo-output") / "lidar",
    show_default=True,
    help=_("Folder for the rasters."),
)
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path),
    default=None,
    help=_(
        "LAS/LAZ to process (default: the Topography.laz sample, or a synthetic "
        "scene when the sample data is not beside the clone)."
    ),
)
@click.option(
    "--resolution",
    "resolution_m",
    type=float,
    default=1.0,
    show_default=True,
    help=_("Cell size in metres."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Print counts, timings and paths."))
def demo_lidar(out_dir: Path, input_path: Path | None, resolution_m: float, as_json: bool) -> None:
    from dronekit_plzen.demo.lidar_demo import run_lidar_demo

    res = run_lidar_demo(out_dir, input_path, resolution_m)
    if as_json:
        echo_json(res)
        return
    info(
        _("{n} points, {g} ground, in {t:.1f} s").format(
            n=res["points"], g=res["ground_points"], t=res["seconds"]
        )
    )
    for k in ("dtm", "dsm", "chm", "hillshade"):
        click.echo(f"{k}: {res[k]}")


@demo.command(
    name="photo",
    help=_("Orthophoto, DSM, point cloud and report from drone photos (pycolmap on the CPU)."),
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("demo-output") / "photo",
    show_default=True,
    help=_("Folder for the orthophoto, DSM, point cloud and report."),
)
@click.option(
    "--images",
    type=click.Path(path_type=Path),
    default=None,
    help=_("Folder of photos (default: 20 photos of the Toledo sample beside the clone)."),
)
@click.option("--all", "all_photos", is_flag=True, help=_("All 57 Toledo photos (slower)."))
@click.option("--json", "as_json", is_flag=True, help=_("Print the report as JSON."))
def demo_photo(out_dir: Path, images: Path | None, all_photos: bool, as_json: bool) -> None:
    from dronekit_plzen.demo.photo_demo import run_photo_demo
    from photo.cli import RichProgress

    rep = run_photo_demo(out_dir, images, all_photos, RichProgress())
    if as_json:
        echo_json(rep)
        return
    info(
        _("{reg}/{n} photos registered, {err:.2f} px, GSD {gsd:.1f} cm").format(
            reg=rep["images_registered"],
            n=rep["images_total"],
            err=rep["mean_reprojection_error_px"],
            gsd=rep["gsd_cm"],
        )
    )
    for k, v in rep["outputs"].items():
        click.echo(f"{k}: {v}")
    info(_("Open {path} in a browser to see the report.").format(path=out_dir / "report.html"))
