"""Tiled processing with buffers: stream a large file into buffered tiles (bounded memory),
classify and grid each tile in parallel (a process pool or a Dask distributed cluster), and
mosaic the tiles' core windows into seamless rasters.

Every tile's grid is a window of one global grid, and each tile is processed with a buffer
around its core so ground filters and TINs see the neighbourhood: the mosaic has no seams.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import laspy
import numpy as np

from dronekit_plzen.errors import BadInputError, LinkError
from dronekit_plzen.i18n import _
from dronekit_plzen.outputs import prepare_output_dir
from lidar.grid import GridSpec, check_grid_size, memory_budget
from lidar.io import (
    _header_for,
    atomic_output,
    iter_chunks,
    las_info,
    las_write_errors,
    quiet_library_logs,
    read_cloud,
)

ProgressFn = Callable[[int, int], None]
log = logging.getLogger(__name__)

#: most tiles a run may plan (each is a file and a task; far-off points would make millions)
MAX_TILES = 10_000
#: most worker processes a run may ask for (each holds a tile's points and grids)
MAX_WORKERS = 256
#: seconds to wait for a Dask scheduler before giving up
SCHEDULER_TIMEOUT_S = 5.0
#: bytes per cell of the mosaic (one float32 band written at once, plus the COG copy)
_MOSAIC_BYTES_PER_CELL = 8


@dataclass(frozen=True)
class Tile:
    """A tile: its column/row, core bounds and buffered bounds (CRS units)."""

    col: int
    row: int
    core: tuple[float, float, float, float]
    buffered: tuple[float, float, float, float]

    @property
    def name(self) -> str:
        return f"tile_{self.col:03d}_{self.row:03d}"


def plan_tiles(
    bounds: tuple[float, float, float, float],
    size: float,
    buffer: float,
    origin: tuple[float, float],
) -> list[Tile]:
    """Square tiles of ``size`` aligned to ``origin`` covering ``bounds``, with ``buffer``."""
    minx, miny, maxx, maxy = bounds
    c0 = math.floor((minx - origin[0]) / size)
    c1 = math.floor((maxx - origin[0]) / size)
    r0 = math.floor((miny - origin[1]) / size)
    r1 = math.floor((maxy - origin[1]) / size)
    tiles = []
    for c in range(c0, c1 + 1):
        for r in range(r0, r1 + 1):
            x0 = origin[0] + c * size
            y0 = origin[1] + r * size
            core = (x0, y0, x0 + size, y0 + size)
            buf = (x0 - buffer, y0 - buffer, x0 + size + buffer, y0 + size + buffer)
            tiles.append(Tile(c - c0, r - r0, core, buf))
    return tiles


def split_into_tiles(
    path: str | os.PathLike[str],
    tiles: list[Tile],
    work_dir: Path,
    *,
    crs: Any = None,
    chunk_size: int = 1_000_000,
) -> dict[str, tuple[Path, int]]:
    """Stream ``path`` chunk by chunk into one LAZ per buffered tile (memory: one chunk)."""
    writers: dict[str, laspy.LasWriter] = {}
    counts: dict[str, int] = {}
    paths: dict[str, Path] = {}
    try:
        for chunk in iter_chunks(path, crs=crs, chunk_size=chunk_size):
            for t in tiles:
                bx = t.buffered
                m = (chunk.x >= bx[0]) & (chunk.x < bx[2]) & (chunk.y >= bx[1]) & (chunk.y < bx[3])
                if not m.any():
                    continue
                part = chunk.select(m)
                if t.name not in writers:
                    p = work_dir / f"{t.name}.laz"
                    paths[t.name] = p
                    with las_write_errors(work_dir.parent, written=p):
                        writers[t.name] = laspy.open(
                            str(p), mode="w", header=_header_for(part, None), do_compress=True
                        )
                    counts[t.name] = 0
                w = writers[t.name]
                rec = laspy.ScaleAwarePointRecord.zeros(len(part), header=w.header)
                rec.x, rec.y, rec.z = part.x, part.y, part.z
                names = set(w.header.point_format.dimension_names)
                for k, v in part.dims.items():
                    if k in names:
                        rec[k] = v
                with las_write_errors(work_dir.parent, written=paths[t.name]):
                    w.write_points(rec)
                counts[t.name] += len(part)
        for name, w in list(writers.items()):  # the last chunks are written when closing
            del writers[name]
            with las_write_errors(work_dir.parent, written=paths[name]):
                w.close()
    finally:  # already failing: the first error is the one to report
        for w in writers.values():
            with contextlib.suppress(Exception):
                w.close()
    return {k: (paths[k], counts[k]) for k in paths}


@dataclass(frozen=True)
class TileJob:
    """What a worker needs (picklable): the tile file, its window of the global grid, params."""

    tile: Tile
    laz: str
    grid: GridSpec
    products: tuple[str, ...]
    method: str
    crs_wkt: str | None
    out_dir: str
    classified_dir: str | None


def process_tile(job: TileJob) -> dict[str, Any]:
    """Worker: read a buffered tile, outliers + ground, write each product's core window as a
    temporary GeoTIFF; returns paths, counts and timings."""
    from lidar.products import product
    from lidar.raster import write_geotiff
    from lidar.stages import (
        CSFOptions,
        OutlierOptions,
        SMRFOptions,
        apply_csf,
        apply_outlier,
        apply_smrf,
    )

    t0 = time.perf_counter()
    cloud = read_cloud(job.laz, crs=job.crs_wkt, check_crs=False)
    cloud = apply_outlier(cloud, OutlierOptions())
    if job.method == "csf":
        cloud = apply_csf(cloud, CSFOptions())
    else:
        cloud = apply_smrf(cloud, SMRFOptions())
    # the tile's raster is computed on a buffered window of the global grid, then cropped
    g = job.grid
    cx0, cy0, cx1, cy1 = job.tile.core
    bx0, by0, bx1, by1 = job.tile.buffered
    col0 = max(0, math.floor((bx0 - g.left) / g.res))
    row0 = max(0, math.floor((g.top - by1) / g.res))
    col1 = min(g.cols, math.ceil((bx1 - g.left) / g.res))
    row1 = min(g.rows, math.ceil((g.top - by0) / g.res))
    win = GridSpec(g.left + col0 * g.res, g.top - row0 * g.res, g.res, row1 - row0, col1 - col0)
    ccol0 = max(0, round((cx0 - g.left) / g.res))
    ccol1 = min(g.cols, round((cx1 - g.left) / g.res))
    crow0 = max(0, round((g.top - cy1) / g.res))
    crow1 = min(g.rows, round((g.top - cy0) / g.res))
    core = GridSpec(
        g.left + ccol0 * g.res, g.top - crow0 * g.res, g.res, crow1 - crow0, ccol1 - ccol0
    )
    out: dict[str, Any] = {"tile": job.tile.name, "points": len(cloud), "files": {}}
    if core.rows <= 0 or core.cols <= 0 or len(cloud) == 0:
        out["seconds"] = time.perf_counter() - t0
        return out
    for name in job.products:
        a = product(cloud, name, win)
        r, c = core.top, core.left
        ro = round((win.top - r) / g.res)
        co = round((c - win.left) / g.res)
        sub = a[ro : ro + core.rows, co : co + core.cols]
        p = Path(job.out_dir) / f"{job.tile.name}_{name}.tif"
        # a failed write names the output folder, not the hidden one the parts are made in
        write_geotiff(p, sub, core, cloud.crs, description=name, shown=Path(job.out_dir).parent)
        out["files"][name] = str(p)
    if job.classified_dir:
        from lidar.io import write_cloud

        keep = (cloud.x >= cx0) & (cloud.x < cx1) & (cloud.y >= cy0) & (cloud.y < cy1)
        write_cloud(cloud.select(keep), Path(job.classified_dir) / f"{job.tile.name}.laz")
    out["seconds"] = time.perf_counter() - t0
    return out


def _mosaic(parts: list[str], grid: GridSpec, crs_wkt: str | None, target: Path) -> None:
    """Write tile rasters into one GTiff by windows, then copy it to a COG (atomic)."""
    import rasterio
    from rasterio.shutil import copy as rio_copy
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from lidar.raster import NODATA, gdal_write_errors, verify_geotiff

    with tempfile.TemporaryDirectory(dir=target.parent) as td:
        tmp = Path(td) / "mosaic.tif"
        profile = {
            "driver": "GTiff",
            "width": grid.cols,
            "height": grid.rows,
            "count": 1,
            "dtype": "float32",
            "crs": crs_wkt,
            "nodata": NODATA,
            "tiled": True,
            "transform": from_origin(grid.left, grid.top, grid.res, grid.res),
            "compress": "DEFLATE",
        }
        with gdal_write_errors(target, tmp), rasterio.open(tmp, "w", **profile) as dst:
            dst.write(np.full((1, grid.rows, grid.cols), NODATA, np.float32))
            for p in parts:
                with rasterio.open(p) as src:
                    t = src.transform
                    row = round((grid.top - t.f) / grid.res)
                    col = round((t.c - grid.left) / grid.res)
                    dst.write(src.read(1), 1, window=Window(col, row, src.width, src.height))
        with (
            atomic_output(target, suffixes=(".tif", ".tiff")) as out,
            gdal_write_errors(target, out),
            quiet_library_logs("rasterio"),
        ):
            rio_copy(str(tmp), str(out), driver="COG", compress="DEFLATE")
            with rasterio.open(tmp) as src:
                verify_geotiff(out, src.read(1))


def run_tiled(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    tile_size_m: float = 250.0,
    buffer_m: float = 50.0,
    resolution_m: float = 1.0,
    products: tuple[str, ...] = ("dtm",),
    method: str = "smrf",
    workers: int | None = None,
    scheduler: str | None = None,
    crs: Any = None,
    chunk_size: int = 1_000_000,
    classified: bool = False,
    memory_mb: float | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Tile ``path`` (streamed), process tiles in parallel, mosaic products into ``out_dir``.

    ``scheduler`` is a Dask distributed address (``tcp://127.0.0.1:8786``) or a
    ``distributed.Client``; otherwise a process pool of ``workers`` (default: all cores).
    ``buffer_m`` must exceed the largest object (a roof) plus the SMRF window, or a roof cut
    by the buffer edge cannot be opened away; 50 m holds for roofs up to about 60 m across.
    Returns the product paths, tile count, point counts and timings.

    Everything that can be checked is checked before work starts: the output directory, the
    mosaic's size against ``memory_mb`` (see :func:`lidar.grid.memory_budget`), the number of
    tiles (at most :data:`MAX_TILES`) and the scheduler (reached within
    :data:`SCHEDULER_TIMEOUT_S` seconds, or :class:`LinkError`).
    """
    t0 = time.perf_counter()
    if not (0 < tile_size_m < math.inf):
        raise BadInputError(_("the tile size must be a positive number"))
    if not (0 < resolution_m < math.inf):
        raise BadInputError(_("the resolution must be a positive number"))
    if not (0 <= buffer_m < math.inf):
        raise BadInputError(_("the buffer must be zero or a positive number"))
    if buffer_m > tile_size_m:  # every tile would read its neighbours' points, and more
        raise BadInputError(
            _(
                "--buffer {b:g} m is larger than --tile-size {t:g} m: "
                "use a buffer up to the tile size"
            ).format(b=buffer_m, t=tile_size_m)
        )
    if workers is not None and scheduler is not None:  # the scheduler's workers ran it
        raise BadInputError(
            _("--workers is for the local process pool: the Dask scheduler has its own workers")
        )
    if workers is not None and workers < 1:
        raise BadInputError(_("--workers must be at least 1, got {n}").format(n=workers))
    if workers is not None and workers > MAX_WORKERS:  # 2**63 was an OverflowError
        raise BadInputError(
            _("--workers must be at most {m}, got {n}").format(m=MAX_WORKERS, n=workers)
        )
    info = las_info(path, crs=crs)
    if info["point_count"] == 0:
        raise BadInputError(_("the point cloud is empty"), where=str(path))
    unit = float(info["xy_unit_m"])
    size, buf, res = tile_size_m / unit, buffer_m / unit, resolution_m / unit
    mins, maxs = info["mins"], info["maxs"]
    check_grid_size(
        (mins[0], mins[1], maxs[0], maxs[1]),
        res,
        unit_m=unit,
        budget_bytes=memory_budget(memory_mb),
        bytes_per_cell=_MOSAIC_BYTES_PER_CELL,
        where=str(path),
    )
    from lidar.products import check_grid_shape

    extent = (mins[0], mins[1], maxs[0], maxs[1])  # a cell as large as the cloud: no mosaic
    check_grid_shape(GridSpec.covering(*extent, res), extent, resolution_m, unit, str(path))
    n_tiles = (math.floor((maxs[0] - mins[0]) / size) + 2) * (
        math.floor((maxs[1] - mins[1]) / size) + 2
    )
    if n_tiles > MAX_TILES:
        raise BadInputError(
            _(
                "the points span {w:,.0f} m × {h:,.0f} m: about {n:,} tiles of {s:g} m, more than "
                "{m:,}; use a larger --tile-size or remove far-off points"
            ).format(
                w=(maxs[0] - mins[0]) * unit,
                h=(maxs[1] - mins[1]) * unit,
                n=n_tiles,
                s=tile_size_m,
                m=MAX_TILES,
            ),
            where=str(path),
        )
    client, own_client = _connect(scheduler)
    created = not Path(out_dir).exists()
    try:
        out = prepare_output_dir(out_dir)
        return _run_tiled(
            path,
            out,
            info,
            size,
            buf,
            res,
            products,
            method,
            workers,
            client,
            crs,
            chunk_size,
            classified,
            progress,
            t0,
        )
    except BaseException:
        if created and Path(out_dir).is_dir() and not any(Path(out_dir).iterdir()):
            Path(out_dir).rmdir()  # made for this run, nothing written: leave no trace
        raise
    finally:
        if own_client and client is not None:
            client.close()


def _connect(scheduler: Any) -> tuple[Any, bool]:
    """A Dask client for ``scheduler`` (an address or a Client), connected within seconds."""
    if scheduler is None:
        return None, False
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler, timeout=SCHEDULER_TIMEOUT_S), True
    except (ValueError, TypeError) as exc:
        raise BadInputError(
            _("not a Dask scheduler address: {a!r} ({e})").format(a=scheduler, e=exc)
        ) from exc
    except (OSError, TimeoutError) as exc:
        raise LinkError(
            _("cannot reach the Dask scheduler {a} within {t:g} s").format(
                a=scheduler, t=SCHEDULER_TIMEOUT_S
            )
        ) from exc


def _run_tiled(
    path: str | os.PathLike[str],
    out: Path,
    info: dict[str, Any],
    size: float,
    buf: float,
    res: float,
    products: tuple[str, ...],
    method: str,
    workers: int | None,
    client: Any,
    crs: Any,
    chunk_size: int,
    classified: bool,
    progress: ProgressFn | None,
    t0: float,
) -> dict[str, Any]:
    mins, maxs = info["mins"], info["maxs"]
    grid = GridSpec.covering(mins[0], mins[1], maxs[0], maxs[1], res)
    tiles = plan_tiles((mins[0], mins[1], maxs[0], maxs[1]), size, buf, (grid.left, grid.bounds[1]))
    from dronekit_plzen.geo import as_crs

    crs_obj = as_crs(crs) if crs is not None else (as_crs(info["crs"]) if info["crs"] else None)
    crs_wkt = crs_obj.to_wkt() if crs_obj is not None else None
    if crs_wkt is None:
        log.warning(
            _("no CRS in {src}; {out} will have none; give --crs EPSG:…").format(
                src=path, out=out / f"{Path(path).stem}_*.tif"
            )
        )
    stem = Path(path).stem
    with tempfile.TemporaryDirectory(prefix=".tiles-", dir=out) as work:
        wd = Path(work)
        t_split = time.perf_counter()
        parts = split_into_tiles(path, tiles, wd, crs=crs, chunk_size=chunk_size)
        t_split = time.perf_counter() - t_split
        cdir = out / f"{stem}_tiles"
        if classified:
            cdir.mkdir(exist_ok=True)
        jobs = [
            TileJob(
                t,
                str(parts[t.name][0]),
                grid,
                products,
                method,
                crs_wkt,
                work,
                str(cdir) if classified else None,
            )
            for t in tiles
            if t.name in parts
        ]
        results = list(_execute(jobs, workers=workers, scheduler=client, progress=progress))
        files: dict[str, str] = {}
        for name in products:
            target = out / f"{stem}_{name}.tif"
            _mosaic(
                [r["files"][name] for r in results if name in r["files"]], grid, crs_wkt, target
            )
            files[name] = str(target)
    return {
        "products": files,
        "tiles": len(jobs),
        "points": int(info["point_count"]),
        "points_in_tiles": int(sum(c for _p, c in parts.values())),
        "split_seconds": t_split,
        "tile_seconds": [r["seconds"] for r in results],
        "seconds": time.perf_counter() - t0,
        "scheduler": "dask" if client is not None else "processes",
    }


def _execute(
    jobs: list[TileJob], *, workers: int | None, scheduler: Any, progress: ProgressFn | None
) -> Iterator[dict[str, Any]]:
    n = len(jobs)
    if scheduler is not None:
        from distributed import Client, as_completed

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futs = [client.submit(process_tile, j, pure=False) for j in jobs]
            for k, f in enumerate(as_completed(futs), start=1):
                if progress:
                    progress(k, n)
                yield f.result()
        finally:
            if client is not scheduler:
                client.close()
        return
    nw = workers if workers is not None else (os.cpu_count() or 1)
    if nw <= 1:
        for k, j in enumerate(jobs, start=1):
            if progress:
                progress(k, n)
            yield process_tile(j)
        return
    # spawn, not fork: a forked child inherits locks held by BLAS/GDAL/cKDTree threads
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=nw, mp_context=ctx) as pool:
        for k, r in enumerate(pool.map(process_tile, jobs), start=1):
            if progress:
                progress(k, n)
            yield r
