"""Raster tools of ``dronekit-plzen lidar``: volumes, DTM differences, the demo products."""

from __future__ import annotations

from typing import Any

import click

from dronekit_plzen.cliutil import echo_json, info
from dronekit_plzen.i18n import _
from lidar.cli import crs_opt, in_arg, json_opt, mem_opt, out_opt, res_opt


@click.command(
    "volume",
    help=_("Volume between two surfaces on one grid (e.g. a stockpile DSM over a base DTM)."),
)
@click.argument("top", type=click.Path(exists=True, dir_okay=False))
@click.argument("base", type=click.Path(exists=True, dir_okay=False))
@json_opt
def volume_cmd(top: str, base: str, as_json: bool) -> None:
    """Volume between two surfaces on one grid (e.g. a stockpile DSM over a base DTM)."""
    from lidar.raster import read_geotiff, volume_between

    a, ga, _c = read_geotiff(top)
    b, gb, _c2 = read_geotiff(base)
    _check_same_grid(ga, gb, top, base)
    v = volume_between(a, b, ga.res * ga.res)
    if as_json:
        echo_json(v)
    else:
        for k, val in v.items():
            click.echo(f"{k}: {val:.2f}")


@click.command(
    "diff", help=_("Difference NEW − OLD of two DTMs on one grid (change detection), as a COG.")
)
@click.argument("new", type=click.Path(exists=True, dir_okay=False))
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@out_opt
@json_opt
def diff_cmd(new: str, old: str, output: str, as_json: bool) -> None:
    """Difference NEW − OLD of two DTMs on one grid (change detection), as a COG."""
    import numpy as np

    from dronekit_plzen.outputs import check_output_path
    from lidar.raster import difference, read_geotiff, write_geotiff

    check_output_path(output, suffixes=(".tif", ".tiff"))
    a, ga, crs = read_geotiff(new)
    b, gb, _c = read_geotiff(old)
    _check_same_grid(ga, gb, new, old)
    d = difference(a, b)
    write_geotiff(output, d, ga, crs, description="difference")
    stats = {
        "file": output,
        "mean": float(np.nanmean(d)),
        "min": float(np.nanmin(d)),
        "max": float(np.nanmax(d)),
    }
    if as_json:
        echo_json(stats)
    else:
        info(_("wrote {f}").format(f=output))


def _check_same_grid(ga: Any, gb: Any, a: str, b: str) -> None:
    from dronekit_plzen.errors import BadInputError

    if ga != gb:
        raise BadInputError(_("rasters are on different grids: {a} and {b}").format(a=a, b=b))


@click.command("products", help=_("DTM, DSM, CHM and hillshade in one go (what the demo shows)."))
@in_arg
@click.option("-o", "--output-dir", required=True, type=click.Path())
@res_opt
@crs_opt
@mem_opt
@json_opt
def products_cmd(
    input_path: str,
    output_dir: str,
    resolution_m: float,
    crs: str | None,
    memory_mb: float | None,
    as_json: bool,
) -> None:
    """DTM, DSM, CHM and hillshade in one go (what the demo shows)."""
    from lidar.products import demo_products

    res = demo_products(input_path, output_dir, resolution_m, crs=crs, memory_mb=memory_mb)
    if as_json:
        echo_json(res)
    else:
        for k in ("dtm", "dsm", "chm", "hillshade"):
            info(_("wrote {f}").format(f=res[k]))
