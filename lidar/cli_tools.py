"""Raster tools of ``dronekit-plzen lidar``: volumes, DTM differences, the demo products."""

from __future__ import annotations

import logging
from typing import Any

import click

from dronekit_plzen.cliutil import echo_json, info
from dronekit_plzen.i18n import _
from lidar.cli import crs_opt, in_arg, json_opt, mem_opt, out_opt, res_opt

log = logging.getLogger(__name__)


@click.command(
    "volume",
    help=_("Volume between two surfaces on one grid (e.g. a stockpile DSM over a base DTM)."),
)
@click.argument("top", type=click.Path(exists=True, dir_okay=False))
@click.argument("base", type=click.Path(exists=True, dir_okay=False))
@json_opt
def volume_cmd(top: str, base: str, as_json: bool) -> None:
    """Volume between two surfaces on one grid (e.g. a stockpile DSM over a base DTM)."""
    from lidar.io import _units
    from lidar.raster import volume_between

    a, b, ga, ca = _read_pair(top, base)
    _check_metric(ca, top)
    xy_m, z_m = _units(ca)  # cells and heights in feet give m² and m³ too
    v = volume_between(a, b, (ga.res * xy_m) ** 2)
    if z_m != 1.0:
        v = {k: val * z_m if k != "area_m2" else val for k, val in v.items()}
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
    from lidar.paths import check_outputs
    from lidar.raster import difference, write_geotiff

    check_output_path(output, suffixes=(".tif", ".tiff"))
    check_outputs([("-o", output)], [new, old])
    a, b, ga, crs = _read_pair(new, old)
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


#: bytes per cell of each of the two rasters of ``volume`` and ``diff`` (its float64 copy, the
#: difference and the masks of the sums)
PAIR_BYTES_PER_CELL = 32


def _read_pair(a: str, b: str) -> tuple[Any, Any, Any, Any]:
    """Two rasters on one grid: (values of a, values of b, the grid, the CRS), checked before the
    cells are read (the same grid and CRS, the memory they need) and after (common data, heights
    that are elevations)."""
    from lidar.raster import geotiff_grid, read_geotiff

    ga, ca = geotiff_grid(a)
    gb, cb = geotiff_grid(b)
    _check_same_grid(ga, gb, ca, cb, a, b)
    da = read_geotiff(a, bytes_per_cell=2 * PAIR_BYTES_PER_CELL)[0]  # both: the pair's memory
    db = read_geotiff(b, bytes_per_cell=PAIR_BYTES_PER_CELL)[0]
    _check_overlap(da, db, a, b)
    _check_heights(da, ca or cb, a)
    _check_heights(db, ca or cb, b)
    return da, db, ga, ca or cb


def _check_same_grid(ga: Any, gb: Any, ca: Any, cb: Any, a: str, b: str) -> None:
    """The same cells (origin, size, shape) in the same CRS, or one error naming both; a raster
    with no CRS beside one with a CRS is taken to be in it (said in a warning)."""
    from dronekit_plzen.errors import BadInputError

    if ga != gb:
        raise BadInputError(_("rasters are on different grids: {a} and {b}").format(a=a, b=b))
    if ca is not None and cb is not None and ca != cb:
        raise BadInputError(
            _("rasters are in different CRSs: {a} is in {ca}, {b} in {cb}").format(
                a=a, b=b, ca=ca.name, cb=cb.name
            )
        )
    if (ca is None) != (cb is None):
        none, other, crs = (a, b, cb) if ca is None else (b, a, ca)
        log.warning(
            _(
                "{none} has no CRS: taken to be in {crs} as {other}, whose grid it shares; "
                "give both rasters a CRS if it is not"
            ).format(none=none, crs=crs.name, other=other)
        )


def _check_heights(d: Any, crs: Any, path: str) -> None:
    """Refuse heights no surface has (``1e38``: a fill value, not an elevation) before they make
    volumes of 1e41 m³."""
    import numpy as np

    from dronekit_plzen.errors import BadInputError
    from dronekit_plzen.mission_items import MAX_ABS_ALT_M
    from lidar.io import _units

    z_m = _units(crs)[1] if crs is not None else 1.0
    finite = d[np.isfinite(d)]
    worst = float(np.abs(finite).max()) * z_m if finite.size else 0.0
    if worst > MAX_ABS_ALT_M:
        raise BadInputError(
            _(
                "the raster has heights up to {z:g} m, beyond ±{m:,.0f} m: not elevations (a "
                "fill value without a nodata tag, or a damaged file)"
            ).format(z=worst, m=MAX_ABS_ALT_M),
            where=path,
        )


def _check_overlap(da: Any, db: Any, a: str, b: str) -> None:
    """Refuse two rasters with no cell where both have data (all figures would be empty)."""
    import numpy as np

    from dronekit_plzen.errors import BadInputError

    if not (np.isfinite(da) & np.isfinite(db)).any():
        raise BadInputError(
            _("the two rasters share no cells with data: {a} and {b}").format(a=a, b=b)
        )


def _check_metric(crs: Any, path: str) -> None:
    """Refuse areas and volumes in a geographic CRS (cells in degrees, not metres)."""
    from dronekit_plzen.errors import BadInputError

    if crs is not None and crs.is_geographic:
        raise BadInputError(
            _("the raster is in degrees ({crs}): reproject it to a metric CRS for volumes").format(
                crs=crs.name
            ),
            where=path,
        )


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
