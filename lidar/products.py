"""Raster products of a classified cloud, on grids given in metres, and the demo's entry point."""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.outputs import OutputGroup, check_output_path, prepare_output_dir
from lidar import raster
from lidar.cloud import NOISE, PointCloud
from lidar.grid import (
    BYTES_PER_CELL,
    PRODUCT_BYTES_PER_CELL,
    GridSpec,
    check_grid_size,
    memory_budget,
)
from lidar.stages import ground_mask

FloatArray = np.ndarray
log = logging.getLogger(__name__)


def grid_for(
    cloud: PointCloud,
    resolution_m: float,
    *,
    budget_bytes: int | None = None,
    bytes_per_cell: int = BYTES_PER_CELL,
) -> GridSpec:
    """The snapped grid of ``resolution_m`` metres covering the cloud (in its CRS units).

    The grid's size is checked against the memory budget (see :func:`lidar.grid.memory_budget`)
    before anything is allocated: :class:`BadInputError` names the extent and the cells.
    """
    if len(cloud) == 0:
        raise BadInputError(_("the point cloud is empty"), where=cloud.source)
    b = cloud.bounds()
    res = resolution_m / cloud.xy_unit_m
    check_grid_size(
        (b[0], b[1], b[3], b[4]),
        res,
        unit_m=cloud.xy_unit_m,
        budget_bytes=budget_bytes,
        bytes_per_cell=bytes_per_cell,
        where=cloud.source,
    )
    grid = GridSpec.covering(b[0], b[1], b[3], b[4], res)
    check_grid_shape(grid, (b[0], b[1], b[3], b[4]), resolution_m, cloud.xy_unit_m, cloud.source)
    return grid


#: the smallest raster (rows, cols) a product is made on: gradients (hillshade), contours and
#: the gap filling need a neighbour in both directions
MIN_CELLS = 2


def check_grid_shape(
    grid: GridSpec,
    bounds: tuple[float, float, float, float],
    resolution_m: float,
    unit_m: float,
    where: str | None,
) -> None:
    """Refuse a grid of fewer than 2 × 2 cells: all points at one spot, or a cell size as
    large as the cloud (``--resolution 1e9`` gave a 1 × 1 raster, ``1e308`` one reaching
    to -inf)."""
    minx, miny, maxx, maxy = bounds
    if maxx - minx <= 0 and maxy - miny <= 0:
        raise BadInputError(
            _(
                "all points lie at one spot ({x:.3f}, {y:.3f}): the cloud has no extent to "
                "make a raster of"
            ).format(x=minx, y=miny),
            where=where,
        )
    if (
        grid.rows < MIN_CELLS
        or grid.cols < MIN_CELLS
        or not all(math.isfinite(v) for v in grid.bounds)
    ):
        raise BadInputError(
            _(
                "--resolution {r:g} m is too coarse for the cloud's extent of {w:,.2f} m × "
                "{h:,.2f} m: the raster would have {rows} × {cols} cells, at least {m} × {m} "
                "are needed; use a finer --resolution"
            ).format(
                r=resolution_m,
                w=(maxx - minx) * unit_m,
                h=(maxy - miny) * unit_m,
                rows=grid.rows,
                cols=grid.cols,
                m=MIN_CELLS,
            ),
            where=where,
        )


def warn_if_no_crs(cloud: PointCloud, output: str | os.PathLike[str]) -> None:
    """Log a warning when a raster is about to be written without a CRS."""
    if cloud.crs is None:
        log.warning(
            _("no CRS in {src}; {out} will have none; give --crs EPSG:…").format(
                src=cloud.source or _("the input"), out=os.fspath(output)
            )
        )


def _first(cloud: PointCloud) -> np.ndarray:
    return np.asarray((cloud.dim("return_number", 1) <= 1) & (cloud.classification != NOISE))


def product(
    cloud: PointCloud,
    name: str,
    grid: GridSpec,
    *,
    method: str = "tin",
    cache: dict[Any, FloatArray] | None = None,
) -> FloatArray:
    """Compute one raster product (heights in the CRS's vertical unit) on ``grid``.

    ``cache`` (a dict owned by one pipeline run over one cloud) keeps every surface computed,
    so a CHM after a DTM and a DSM on the same grid reuses both instead of recomputing them.
    """
    key = (name, grid, method)
    if cache is not None and key in cache:
        return cache[key]
    out = _product(cloud, name, grid, method, cache)
    if cache is not None:
        cache[key] = out
    return out


def _product(
    cloud: PointCloud, name: str, grid: GridSpec, method: str, cache: dict[Any, FloatArray] | None
) -> FloatArray:
    x, y, z = cloud.x, cloud.y, cloud.z
    if name == "dtm":
        return raster.dtm(grid, x, y, z, ground_mask(cloud), method=method)
    if name == "dsm":
        return raster.dsm(grid, x, y, z, _first(cloud))
    if name == "chm":
        return raster.chm(
            product(cloud, "dsm", grid, cache=cache),
            product(cloud, "dtm", grid, method=method, cache=cache),
        )
    if name == "intensity":
        keep = cloud.classification != NOISE
        return raster.intensity(grid, x[keep], y[keep], cloud.dim("intensity", 0)[keep])
    if name == "density":
        area_m2 = (grid.res * cloud.xy_unit_m) ** 2
        return raster.density(grid, x, y, area_m2)
    if name == "hillshade":
        d = product(cloud, "dtm", grid, method=method, cache=cache)
        return raster.hillshade(d, grid.res, z_factor=cloud.z_unit_m / cloud.xy_unit_m)
    raise BadInputError(_("unknown product {p!r}").format(p=name))


def write_product(
    cloud: PointCloud,
    name: str,
    path: str | os.PathLike[str],
    *,
    resolution_m: float = 1.0,
    method: str = "tin",
    interval: float = 1.0,
    memory_mb: float | None = None,
    cache: dict[Any, FloatArray] | None = None,
) -> dict[str, Any]:
    """Compute and write a product: a COG, or GeoJSON for ``contours`` (``interval`` in metres).

    ``memory_mb`` is the memory budget for the grid (default: :func:`lidar.grid.memory_budget`);
    ``cache`` shares surfaces between the products of one cloud (see :func:`product`).
    """
    t0 = time.perf_counter()
    suffixes = (".geojson", ".json") if name == "contours" else (".tif", ".tiff")
    check_output_path(path, suffixes=suffixes)
    per_cell = PRODUCT_BYTES_PER_CELL.get(name, BYTES_PER_CELL)
    grid = grid_for(
        cloud, resolution_m, budget_bytes=memory_budget(memory_mb), bytes_per_cell=per_cell
    )
    if name == "contours":
        d = product(cloud, "dtm", grid, method=method, cache=cache)
        fc = raster.contours(grid, d, interval / cloud.z_unit_m, unit_m=cloud.z_unit_m)
        if not fc["features"]:
            log.warning(
                _("no contour lines in {f}: the heights cross no multiple of {i:g} m").format(
                    f=os.fspath(path), i=interval
                )
            )
        raster.write_contours(fc, path, cloud.crs)
        return {
            "product": name,
            "file": str(path),
            "features": len(fc["features"]),
            "seconds": time.perf_counter() - t0,
        }
    a = product(cloud, name, grid, method=method, cache=cache)
    dtype = "uint8" if name == "hillshade" else "float32"
    nodata = 0.0 if name == "hillshade" else raster.NODATA
    if name == "hillshade":
        a = np.where(np.isfinite(a), np.clip(a, 1, 255), np.nan)
    raster.write_geotiff(path, a, grid, cloud.crs, nodata=nodata, description=name, dtype=dtype)
    valid = np.isfinite(a)
    return {
        "product": name,
        "file": str(path),
        "rows": grid.rows,
        "cols": grid.cols,
        "valid_cells": int(valid.sum()),
        "min": float(np.nanmin(a)) if valid.any() else None,
        "max": float(np.nanmax(a)) if valid.any() else None,
        "seconds": time.perf_counter() - t0,
    }


#: what :func:`demo_products` writes, in this order (the CHM and hillshade reuse the DTM)
DEMO_PRODUCTS = ("dtm", "dsm", "chm", "hillshade")


def demo_products(
    input_laz: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    resolution_m: float = 1.0,
    *,
    crs: Any = None,
    memory_mb: float | None = None,
) -> dict[str, Any]:
    """Classify ground (SMRF after outlier removal) and write DTM, DSM, CHM and hillshade COGs.

    Returns ``{"dtm": path, "dsm": path, "chm": path, "hillshade": path, "points": n,
    "ground_points": n, "seconds": s}``.
    """
    from lidar.io import read_cloud
    from lidar.stages import OutlierOptions, SMRFOptions, apply_outlier, apply_smrf

    t0 = time.perf_counter()
    created = not Path(out_dir).exists()
    out = prepare_output_dir(out_dir)
    try:
        for name in DEMO_PRODUCTS:  # an existing directory in the way: refused before the work
            check_output_path(out / f"{Path(input_laz).stem}_{name}.tif", suffixes=(".tif",))
        cloud = read_cloud(input_laz, crs=crs)
        cloud = apply_smrf(apply_outlier(cloud, OutlierOptions()), SMRFOptions())
    except BadInputError as exc:
        if created and not any(out.iterdir()):
            out.rmdir()  # made for this run, nothing written: leave no trace
        if exc.where is None:
            exc.where = str(input_laz)
        raise
    result: dict[str, Any] = {
        "points": len(cloud),
        "ground_points": int((cloud.classification == 2).sum()),
    }
    stem = Path(input_laz).stem
    warn_if_no_crs(cloud, out / f"{stem}_*.tif")
    cache: dict[Any, FloatArray] = {}
    # all four written beside their targets first, renamed into place when every one is
    # written: a failure (a grid too small for a hillshade, a full disk) leaves no partial set
    # and no older file lost, and its message names the product's own path
    try:
        with OutputGroup.all_or_nothing():
            for name in DEMO_PRODUCTS:
                path = out / f"{stem}_{name}.tif"
                write_product(
                    cloud,
                    name,
                    path,
                    resolution_m=resolution_m,
                    memory_mb=memory_mb,
                    cache=cache,
                )
                result[name] = str(path)
    except BaseException:
        if created and not any(out.iterdir()):
            out.rmdir()
        raise
    result["seconds"] = time.perf_counter() - t0
    return result


#: bytes a cell of PDAL's gridding holds while it is computed (count, six statistics, the
#: inverse-distance sums and their nearest distance, and the written copy)
PDAL_GRID_BYTES_PER_CELL = 8 * 12


def write_pdal_grid(cloud: PointCloud, o: Any) -> dict[str, Any]:
    """``writers.gdal`` with PDAL's gridding options (``o``: :class:`lidar.stages.GdalWriterOptions`
    with :attr:`~lidar.stages.GdalWriterOptions.pdal_grid`): the bands PDAL writes, in its order,
    as a GeoTIFF; lengths in the cloud's own units, as PDAL takes them."""
    import rasterio
    from rasterio.transform import from_origin

    from dronekit_plzen.geo import as_crs
    from dronekit_plzen.outputs import atomic_output
    from lidar import filters
    from lidar.io import quiet_library_logs
    from lidar.pdal_grid import PdalGrid, grid_stats, parse_output_types
    from lidar.stages import DATA_TYPES, crop_box, gdal_creation_options, gdal_options

    t0 = time.perf_counter()
    target = check_output_path(o.filename, suffixes=(".tif", ".tiff"))
    # GDAL's creation options, checked (as the pipeline's validation does) before any work
    creation = {k.lower(): v for k, v in gdal_creation_options(o.gdalopts).items()}
    if not len(cloud):
        raise BadInputError(_("no points reach writers.gdal: nothing to grid"), where=o.filename)
    values = np.asarray(filters.dimension(cloud, o.dimension or "Z"), dtype=np.float64)
    if values.ndim != 1:
        raise BadInputError(
            _("dimension {d!r} has several values a point: grid one of them").format(d=o.dimension)
        )
    res = float(o.resolution)
    box: tuple[float, ...]
    if o.width is not None:
        box = (o.origin_x, o.origin_y, o.origin_x + res * o.width, o.origin_y + res * o.height)
    elif o.bounds is not None:
        box = crop_box(o.bounds)[:4]
    else:
        box = (cloud.x.min(), cloud.y.min(), cloud.x.max(), cloud.y.max())
    minx, miny, maxx, maxy = (float(v) for v in box)
    # before anything is allocated: points 1000 km apart at 1 m need terabytes
    check_grid_size(
        (minx, miny, maxx, maxy),
        res,
        budget_bytes=memory_budget(o.memory_mb),
        bytes_per_cell=PDAL_GRID_BYTES_PER_CELL,
        where=o.filename,
    )
    if o.width is not None:
        grid = PdalGrid(minx, miny, res, int(o.width), int(o.height))
    else:
        grid = PdalGrid.covering(minx, miny, maxx, maxy, res)
    outputs = parse_output_types(o.output_type)
    bands = grid_stats(
        cloud.x,
        cloud.y,
        values,
        grid,
        outputs,
        radius=float(o.radius) if o.radius is not None else res * math.sqrt(2.0),
        power=float(o.power) if o.power is not None else 1.0,
        window_size=int(o.window_size or 0),
        binmode=bool(o.binmode),
    )
    dtype, default_nodata = DATA_TYPES[(o.data_type or "double").lower()]
    nodata = float(o.nodata) if o.nodata is not None else default_nodata
    if np.dtype(dtype).kind == "f":  # as the file holds it (-3.4028235e38 is float32's least)
        nodata = float(np.dtype(dtype).type(nodata))
    srs = o.override_srs or o.spatialreference
    crs = as_crs(srs) if srs else cloud.crs or (as_crs(o.default_srs) if o.default_srs else None)
    arrays = [_cast(bands[k], dtype, nodata) for k in bands]
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": len(arrays),
        "dtype": dtype,
        "crs": crs.to_wkt() if crs is not None else None,
        "transform": from_origin(grid.origin_x, grid.top, res, res),
        "nodata": nodata,
        **creation,
    }
    with (
        atomic_output(target, suffixes=(".tif", ".tiff")) as tmp,
        quiet_library_logs("rasterio"),
        raster.gdal_write_errors(target, tmp),
    ):
        with rasterio.open(tmp, "w", **profile) as dst:
            for i, (name, arr) in enumerate(zip(bands, arrays), start=1):
                dst.write(arr, i)
                dst.set_band_description(i, name)
            tags = gdal_options(o.metadata)
            if tags:
                dst.update_tags(**tags)
        with rasterio.open(tmp) as back:  # a write that failed quietly leaves another file
            if back.count != len(arrays) or not np.array_equal(back.read(1), arrays[0]):
                raise raster.WriteCheckError(
                    _("cannot write {path}: {reason}").format(
                        path=target, reason=_("the file read back differs from the data written")
                    )
                )
    first = next(iter(bands.values()))
    valid = np.isfinite(first) if "count" not in bands else bands["count"] > 0
    return {
        "product": "pdal-grid",
        "file": str(target),
        "bands": list(bands),
        "rows": grid.height,
        "cols": grid.width,
        "valid_cells": int(valid.sum()),
        "seconds": time.perf_counter() - t0,
    }


def _cast(a: FloatArray, dtype: str, nodata: float) -> np.ndarray:
    """A band in the file's type: nodata where NaN; integers rounded and held to the type's
    range (as GDAL converts)."""
    if np.dtype(dtype).kind == "f":
        return np.where(np.isfinite(a), a, nodata).astype(dtype)
    info = np.iinfo(np.dtype(dtype))
    out = np.clip(np.rint(np.where(np.isfinite(a), a, nodata)), info.min, info.max)
    return out.astype(dtype)
