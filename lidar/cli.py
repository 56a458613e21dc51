"""CLI for ``dronekit-plzen lidar``: pipelines and shortcuts over them, with progress bars.

Every shortcut builds a pipeline (the same stages ``lidar pipeline FILE`` runs), validates it
completely and runs it; ``--json`` prints counts and timings on stdout.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import click

from dronekit_plzen.cliutil import echo_json, info, progress, refuse_given
from dronekit_plzen.i18n import _
from dronekit_plzen.outputs import check_output_path

log = logging.getLogger(__name__)

GROUND_METHODS = ("auto", "smrf", "smrf-plain", "csf", "existing")


def _run(
    doc: list[Any],
    as_json: bool,
    label: str,
    *,
    stream: bool | None = None,
    options: dict[int, str] | None = None,
) -> Any:
    """Check the shortcut's outputs, then build, validate and run its pipeline (its report).

    ``options`` names the command-line option of each writer (by its index in ``doc``) for
    the messages; a writer not in it is ``-o``.
    """
    from lidar import pipeline
    from lidar.paths import check_outputs

    outputs = []
    for i, st in enumerate(doc[1:], start=1):  # the shortcut's own output: a plain message
        if "filename" in st:
            check_output_path(st["filename"], suffixes=pipeline.writer_suffixes(st))
            outputs.append(((options or {}).get(i, "-o"), st["filename"]))
    check_outputs(outputs, [doc[0]["filename"]])

    pipe = pipeline.parse({"pipeline": doc})
    total = pipeline.steps(pipe, stream=stream)
    report = _drive(pipeline.iter_run(pipe, stream=stream), total, label)
    if as_json:
        echo_json(report)
    else:
        if any(st.get("skipped") for st in report.stages):
            info(_("ground: class 2 of the input kept (--ground-method smrf classifies again)"))
        for out in report.outputs:
            info(_("wrote {f}").format(f=out.get("file")))
        info(
            _("{n_in} points in, {n_out} out, {s:.1f} s").format(
                n_in=report.points_in, n_out=report.points_out, s=report.seconds
            )
        )
    return report


def _drive(reports: Any, total: int, label: str) -> Any:
    """Consume a run's reports through a progress bar; the last one is complete."""
    last = None
    for rep in progress(reports, total=total, label=label):
        last = rep
    return last


def _reader(path: str, crs: str | None) -> dict[str, Any]:
    d: dict[str, Any] = {"type": "readers.las", "filename": path}
    if crs:
        d["spatialreference"] = crs
    return d


def _ground(method: str) -> list[dict[str, Any]]:
    if method == "existing":
        return []
    if method == "auto":  # the file's own ground when it has any (as a GIS tool reads it)
        return [
            {"type": "filters.outlier", "keep_existing": True},
            {"type": "filters.smrf", "keep_existing": True},
        ]
    if method == "smrf-plain":  # Pingel's SMRF on one grid (the default averages four)
        return [{"type": "filters.outlier"}, {"type": "filters.smrf", "single_grid": True}]
    return [{"type": "filters.outlier"}, {"type": f"filters.{method}"}]


crs_opt = click.option(
    "--crs",
    default=None,
    help=_("CRS of the input when the header lacks it or is wrong (e.g. EPSG:5514)."),
)
json_opt = click.option(
    "--json", "as_json", is_flag=True, help=_("Print counts and timings as JSON.")
)
out_opt = click.option("-o", "--output", required=True, type=click.Path(), help=_("Output file."))
in_arg = click.argument("input_path", type=click.Path(exists=True, dir_okay=False))
res_opt = click.option(
    "--resolution",
    "resolution_m",
    default=1.0,
    show_default=True,
    type=float,
    help=_("Cell size in metres."),
)


def _set_budget(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
    # the ground filters grid the cloud too: they read the budget from the environment
    if value is not None:
        os.environ["DKP_LIDAR_MEMORY_MB"] = f"{value:g}"  # lidar.grid.BUDGET_ENV
    return value


mem_opt = click.option(
    "--memory-budget",
    "memory_mb",
    default=None,
    type=click.FloatRange(min=1.0),
    callback=_set_budget,
    help=_(
        "Memory budget of a raster grid in MiB; larger grids are refused "
        "(default: $DKP_LIDAR_MEMORY_MB, else half the RAM, at most 8 GiB)."
    ),
)
gm_opt = click.option(
    "--ground-method",
    type=click.Choice(GROUND_METHODS),
    default="auto",
    show_default=True,
    help=_(
        "How to find ground first (auto: class 2 of the file when it has any, else smrf; "
        "existing: class 2 of the file; smrf, smrf-plain, csf: classify again)."
    ),
)


@click.group(
    name="lidar",
    help=_("Process LiDAR point clouds (LAS/LAZ) into classified clouds, DTM, DSM and CHM."),
)
def lidar() -> None:
    """Process LiDAR point clouds (LAS/LAZ) into classified clouds, DTM, DSM and CHM."""
    from lidar.alloc import setup_allocator

    setup_allocator()  # before the ground filter's threads: see lidar.alloc


@lidar.command("info", help=_("Show the header: version, point count, bounds, CRS and units."))
@in_arg
@crs_opt
@json_opt
def info_cmd(input_path: str, crs: str | None, as_json: bool) -> None:
    """Show the header: version, point count, bounds, CRS and units."""
    from lidar.io import las_info

    d = las_info(input_path, crs=crs)
    for w in d["warnings"]:  # a header that cannot be true: said, not printed as fact
        log.warning("%s: %s", input_path, w)
    if as_json:
        echo_json(d)
        return
    for k in (
        "file",
        "las_version",
        "point_format",
        "point_count",
        "crs_name",
        "xy_unit_m",
        "mins",
        "maxs",
        "scales",
        "offsets",
    ):
        click.echo(f"{k}: {d[k]}")


@lidar.command(
    "pipeline",
    help=_(
        "Run a JSON/YAML pipeline of named stages (readers.las, filters.smrf, writers.gdal ...)."
    ),
)
@click.argument("pipeline_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--stream/--in-memory",
    default=None,
    help=_("Force chunked streaming or in-memory processing (default: automatic)."),
)
@click.option("--validate-only", is_flag=True, help=_("Validate the pipeline and stop."))
@json_opt
def pipeline_cmd(
    pipeline_file: str, stream: bool | None, validate_only: bool, as_json: bool
) -> None:
    """Run a JSON/YAML pipeline of named stages (readers.las, filters.smrf, writers.gdal ...)."""
    from lidar import pipeline

    pipe = pipeline.load(pipeline_file)
    if validate_only:
        if as_json:
            echo_json(
                {
                    "valid": True,
                    "stages": [s.type for s in pipe.stages],
                    "streamable": pipe.streamable,
                }
            )
        else:
            info(_("pipeline is valid: {n} stages").format(n=len(pipe.stages)))
        return
    total = pipeline.steps(pipe, stream=stream)
    report = _drive(pipeline.iter_run(pipe, stream=stream), total, "pipeline")
    if as_json:
        echo_json(report)
    else:
        info(
            _("{n_in} points in, {n_out} out, {s:.1f} s").format(
                n_in=report.points_in, n_out=report.points_out, s=report.seconds
            )
        )


@lidar.command(
    "ground",
    help=_(
        "Classify ground (class 2) and noise (class 7) and write LAS/LAZ.\n\n"
        "With --dtm/--dsm/--chm the rasters come from the same pass: the cloud is read once, "
        "ground is found once and the CHM reuses the DTM and DSM (--json gives every stage's "
        "timing)."
    ),
)
@in_arg
@out_opt
@click.option(
    "--method",
    type=click.Choice(["smrf", "smrf-plain", "csf"]),
    default="smrf",
    show_default=True,
    help=_("Ground filter."),
)
@click.option(
    "--dtm", "dtm_path", type=click.Path(), default=None, help=_("Also write the DTM (COG).")
)
@click.option(
    "--dsm", "dsm_path", type=click.Path(), default=None, help=_("Also write the DSM (COG).")
)
@click.option(
    "--chm", "chm_path", type=click.Path(), default=None, help=_("Also write the CHM (COG).")
)
@res_opt
@crs_opt
@mem_opt
@json_opt
def ground_cmd(
    input_path: str,
    output: str,
    method: str,
    dtm_path: str | None,
    dsm_path: str | None,
    chm_path: str | None,
    resolution_m: float,
    crs: str | None,
    memory_mb: float | None,
    as_json: bool,
) -> None:
    """Classify ground (class 2) and noise (class 7) and write LAS/LAZ.

    With --dtm/--dsm/--chm the rasters come from the same pass: the cloud is read once, ground
    is found once and the CHM reuses the DTM and DSM (--json gives every stage's timing).
    """
    rasters = [
        {
            "type": "writers.gdal",
            "filename": path,
            "product": name,
            "resolution": resolution_m,
            "memory_mb": memory_mb,
        }
        for name, path in (("dtm", dtm_path), ("dsm", dsm_path), ("chm", chm_path))
        if path
    ]
    if not rasters:  # --resolution had been dropped: the ground filter's cell is its own
        refuse_given(
            {"resolution_m": "--resolution"},
            _("--resolution is the cell of --dtm, --dsm and --chm: give one of them"),
        )
    doc = [
        _reader(input_path, crs),
        *_ground(method),
        {"type": "writers.las", "filename": output},
        *rasters,
    ]
    first = len(doc) - len(rasters)
    names = {first + k: f"--{r['product']}" for k, r in enumerate(rasters)}
    report = _run(doc, as_json, "ground", options=names)
    for out in report.outputs:
        if out["stage"] == "writers.las" and out["points"] and out.get("ground") == 0:
            # written as PDAL writes it (every point keeps its class), but a DTM from it fails
            log.warning(
                _(
                    "{f}: the ground filter found no ground (class 2) among {n:,} points ({k:,} "
                    "of them noise, class 7): a DTM cannot be made from this cloud"
                ).format(f=out["file"], n=out["points"], k=out["noise"])
            )


def _raster(
    input_path: str,
    output: str,
    product: str,
    resolution_m: float,
    crs: str | None,
    ground_method: str,
    as_json: bool,
    method: str = "tin",
    memory_mb: float | None = None,
) -> None:
    needs_ground = product in ("dtm", "chm", "hillshade", "contours")
    stages = _ground(ground_method) if needs_ground else [{"type": "filters.outlier"}]
    doc = [
        _reader(input_path, crs),
        *stages,
        {
            "type": "writers.gdal",
            "filename": output,
            "product": product,
            "resolution": resolution_m,
            "method": method,
            "memory_mb": memory_mb,
        },
    ]
    _run(doc, as_json, product)


@lidar.command(
    "dtm", help=_("Digital terrain model (COG) from ground points, gaps inside the data filled.")
)
@in_arg
@out_opt
@res_opt
@click.option("--method", type=click.Choice(["tin", "idw"]), default="tin", show_default=True)
@gm_opt
@crs_opt
@mem_opt
@json_opt
def dtm_cmd(
    input_path: str,
    output: str,
    resolution_m: float,
    method: str,
    ground_method: str,
    crs: str | None,
    memory_mb: float | None,
    as_json: bool,
) -> None:
    """Digital terrain model (COG) from ground points, gaps inside the data filled."""
    _raster(input_path, output, "dtm", resolution_m, crs, ground_method, as_json, method, memory_mb)


@lidar.command("dsm", help=_("Digital surface model (COG): highest first return per cell."))
@in_arg
@out_opt
@res_opt
@crs_opt
@mem_opt
@json_opt
def dsm_cmd(
    input_path: str,
    output: str,
    resolution_m: float,
    crs: str | None,
    memory_mb: float | None,
    as_json: bool,
) -> None:
    """Digital surface model (COG): highest first return per cell."""
    _raster(input_path, output, "dsm", resolution_m, crs, "existing", as_json, memory_mb=memory_mb)


@lidar.command("chm", help=_("Canopy height model (COG): DSM − DTM."))
@in_arg
@out_opt
@res_opt
@gm_opt
@crs_opt
@mem_opt
@json_opt
def chm_cmd(
    input_path: str,
    output: str,
    resolution_m: float,
    ground_method: str,
    crs: str | None,
    memory_mb: float | None,
    as_json: bool,
) -> None:
    """Canopy height model (COG): DSM − DTM."""
    _raster(
        input_path, output, "chm", resolution_m, crs, ground_method, as_json, memory_mb=memory_mb
    )


@lidar.command(
    "raster", help=_("Intensity, density, hillshade rasters or contour lines (GeoJSON).")
)
@in_arg
@out_opt
@click.option(
    "--product", type=click.Choice(["intensity", "density", "hillshade", "contours"]), required=True
)
@res_opt
@click.option("--interval", default=1.0, show_default=True, help=_("Contour interval in metres."))
@gm_opt
@crs_opt
@mem_opt
@json_opt
def raster_cmd(
    input_path: str,
    output: str,
    product: str,
    resolution_m: float,
    interval: float,
    ground_method: str,
    crs: str | None,
    memory_mb: float | None,
    as_json: bool,
) -> None:
    """Intensity, density, hillshade rasters or contour lines (GeoJSON)."""
    needs_ground = product in ("hillshade", "contours")
    unused = {"interval": "--interval"} if product != "contours" else {}
    if not needs_ground:
        unused["ground_method"] = "--ground-method"
    # they had been dropped without a word
    refuse_given(unused, _("{opts}: not used by --product {product}"), product=product)
    stages = _ground(ground_method) if needs_ground else []
    doc = [
        _reader(input_path, crs),
        *stages,
        {
            "type": "writers.gdal",
            "filename": output,
            "product": product,
            "resolution": resolution_m,
            "interval": interval,
            "memory_mb": memory_mb,
        },
    ]
    _run(doc, as_json, product)


@lidar.command("hag", help=_("Add HeightAboveGround (extra bytes) to every point."))
@in_arg
@out_opt
@gm_opt
@crs_opt
@json_opt
def hag_cmd(
    input_path: str, output: str, ground_method: str, crs: str | None, as_json: bool
) -> None:
    """Add HeightAboveGround (extra bytes) to every point."""
    doc = [
        _reader(input_path, crs),
        *_ground(ground_method),
        {"type": "filters.hag"},
        {"type": "writers.las", "filename": output},
    ]
    _run(doc, as_json, "hag")


@lidar.command("classify", help=_("Ground, noise, vegetation (3/4/5) and buildings (6)."))
@in_arg
@out_opt
@gm_opt
@crs_opt
@json_opt
def classify_cmd(
    input_path: str, output: str, ground_method: str, crs: str | None, as_json: bool
) -> None:
    """Ground, noise, vegetation (3/4/5) and buildings (6)."""
    doc = [
        _reader(input_path, crs),
        *_ground(ground_method),
        {"type": "filters.hag"},
        {"type": "filters.classify"},
        {"type": "writers.las", "filename": output},
    ]
    _run(doc, as_json, "classify")


@lidar.command("thin", help=_("Keep one point per voxel (the one nearest its centre)."))
@in_arg
@out_opt
@click.option("--voxel", "voxel_m", default=0.5, show_default=True, help=_("Voxel edge in metres."))
@crs_opt
@json_opt
def thin_cmd(input_path: str, output: str, voxel_m: float, crs: str | None, as_json: bool) -> None:
    """Keep one point per voxel (the one nearest its centre)."""
    doc = [
        _reader(input_path, crs),
        {"type": "filters.voxel", "cell": voxel_m},
        {"type": "writers.las", "filename": output},
    ]
    _run(doc, as_json, "thin")


@lidar.command("reproject", help=_("Reproject a cloud (streamed in chunks)."))
@in_arg
@out_opt
@click.option("--to", "to_crs", required=True, help=_("Target CRS, e.g. EPSG:5514 or EPSG:32633."))
@crs_opt
@json_opt
def reproject_cmd(
    input_path: str, output: str, to_crs: str, crs: str | None, as_json: bool
) -> None:
    """Reproject a cloud (streamed in chunks)."""
    doc = [
        _reader(input_path, crs),
        {"type": "filters.reproject", "out_srs": to_crs},
        {"type": "writers.las", "filename": output},
    ]
    _run(doc, as_json, "reproject")


@lidar.command(
    "tile",
    help=_("Tiled, parallel processing with buffers (process pool or Dask) into seamless mosaics."),
)
@in_arg
@click.option("-o", "--output-dir", required=True, type=click.Path())
@click.option(
    "--tile-size", "tile_m", default=250.0, show_default=True, help=_("Tile edge in metres.")
)
@click.option(
    "--buffer", "buffer_m", default=50.0, show_default=True, help=_("Tile buffer in metres.")
)
@res_opt
@click.option(
    "--products",
    default="dtm",
    show_default=True,
    help=_("Comma list of dtm, dsm, chm, intensity, density, hillshade."),
)
@click.option(
    "--method",
    type=click.Choice(["smrf", "csf"]),
    default="smrf",
    show_default=True,
    help=_("Ground filter."),
)
@click.option("--workers", type=int, default=None, help=_("Processes (default: all cores)."))
@click.option(
    "--scheduler", default=None, help=_("Dask scheduler address, e.g. tcp://127.0.0.1:8786.")
)
@click.option("--classified", is_flag=True, help=_("Also write classified tiles (LAZ)."))
@crs_opt
@mem_opt
@json_opt
def tile_cmd(
    input_path: str,
    output_dir: str,
    tile_m: float,
    buffer_m: float,
    resolution_m: float,
    products: str,
    method: str,
    workers: int | None,
    scheduler: str | None,
    classified: bool,
    crs: str | None,
    memory_mb: float | None,
    as_json: bool,
) -> None:
    """Tiled, parallel processing with buffers (process pool or Dask) into seamless mosaics."""
    from dronekit_plzen.errors import BadInputError
    from lidar.tiling import run_tiled

    names = tuple(p.strip() for p in products.split(",") if p.strip())
    known = {"dtm", "dsm", "chm", "intensity", "density", "hillshade"}
    bad = [p for p in names if p not in known]
    if bad or not names:
        raise BadInputError(_("unknown products: {p}").format(p=", ".join(bad) or products))
    bar = iter(progress(iter(int, 1), total=None, label="tiles"))

    def tick(_k: int, _n: int) -> None:
        next(bar, None)

    t0 = time.perf_counter()
    res = run_tiled(
        input_path,
        output_dir,
        tile_size_m=tile_m,
        buffer_m=buffer_m,
        resolution_m=resolution_m,
        products=names,
        method=method,
        workers=workers,
        scheduler=scheduler,
        crs=crs,
        classified=classified,
        memory_mb=memory_mb,
        progress=tick,
    )
    res["seconds"] = time.perf_counter() - t0
    if as_json:
        echo_json(res)
    else:
        for f in res["products"].values():
            info(_("wrote {f}").format(f=f))


def _register_tools() -> None:
    from lidar.cli_tools import diff_cmd, products_cmd, volume_cmd

    for cmd in (volume_cmd, diff_cmd, products_cmd):
        lidar.add_command(cmd)


_register_tools()
