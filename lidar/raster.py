"""Raster products from point clouds: DTM, DSM, CHM, intensity, density, hillshade, contours,
volumes and differences; Cloud-Optimized GeoTIFF output with CRS and nodata (rasterio).

Computation functions return ``(GridSpec, ndarray)``-friendly arrays with NaN for no data; only
:func:`write_geotiff`, :func:`read_geotiff` and :func:`write_contours` touch files.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray
from pyproj import CRS

from dronekit_plzen.errors import (
    BadInputError,
    CorruptFileError,
    StorageError,
    raster_read_reason,
)
from dronekit_plzen.i18n import _
from dronekit_plzen.outputs import library_write_errors
from lidar.grid import (
    SPARSE_CELLS_PER_POINT,
    GridSpec,
    cell_stat,
    check_raster_memory,
    fill_nearest,
    inpaint_linear,
    jitter,
    rasterize_tin,
)
from lidar.io import atomic_output, quiet_library_logs
from lidar.smrf_kernels import cell_of

_TIF = (".tif", ".tiff")

FloatArray = NDArray[np.float64]
NODATA = -9999.0
#: points per block of the per-point steps (bounded temporaries on large clouds)
BLOCK = 1 << 18


def _centroids(
    grid: GridSpec, x: FloatArray, y: FloatArray, z: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-cell centroid of the points (x, y, z means): a TIN of these is unbiased and small."""
    n = grid.rows * grid.cols
    if n > 4 * x.shape[0]:
        # a grid much larger than the cloud: sums over the occupied cells only, not per cell
        r, c = grid.index(x, y)
        _u, inv = np.unique(r * grid.cols + c, return_inverse=True)
        k = np.bincount(inv).astype(np.float64)
        return (
            np.bincount(inv, weights=x) / k,
            np.bincount(inv, weights=y) / k,
            np.bincount(inv, weights=z) / k,
        )
    cnt = np.zeros(n)
    sx, sy, sz = np.zeros(n), np.zeros(n), np.zeros(n)
    block = BLOCK  # bounded index temporaries on large clouds
    for lo in range(0, x.shape[0], block):
        bx, by = x[lo : lo + block], y[lo : lo + block]
        r, c = grid.index(bx, by)
        flat = r * grid.cols + c
        del r, c
        cnt += np.bincount(flat, minlength=n)
        sx += np.bincount(flat, weights=bx, minlength=n)
        sy += np.bincount(flat, weights=by, minlength=n)
        sz += np.bincount(flat, weights=z[lo : lo + block], minlength=n)
    hit = cnt > 0
    k = cnt[hit]
    return sx[hit] / k, sy[hit] / k, sz[hit] / k


#: the most points one Qhull call of :func:`_inside_hull` takes (its memory grows with them;
#: 32,768: 2 MiB, the same time as 262,144 on a 1 M-point cloud)
HULL_BLOCK = 1 << 15


def _inside_hull(
    x: FloatArray,
    y: FloatArray,
    cx: FloatArray,
    cy: FloatArray,
    mask: NDArray[np.bool_] | None = None,
    *,
    block: int = BLOCK,
) -> np.ndarray:
    """Which cell centres lie inside the convex hull of the points (of those in ``mask``),
    edges included. The hull is the hull of the hull vertices of each ``block`` of points (at
    most :data:`HULL_BLOCK`): no copy of the cloud, and Qhull's working memory stays small
    (a block of 262,144 points took 12 MiB, a sixth of the 1 M-point DTM's own peak)."""
    import shapely
    from scipy.spatial import ConvexHull, QhullError

    def hull_vertices(pts: FloatArray) -> FloatArray:
        try:
            return np.asarray(pts[ConvexHull(pts).vertices])
        except (QhullError, ValueError):
            return pts  # too few or collinear: keep them for the final hull

    block = max(1, min(block, HULL_BLOCK))
    single = x.shape[0] <= block
    parts = []
    for lo in range(0, x.shape[0], block):
        b = slice(lo, lo + block)
        m = slice(None) if mask is None else mask[b]
        pts = np.column_stack([x[b][m], y[b][m]])
        if len(pts):
            parts.append(pts if single else hull_vertices(pts))
    if not parts:
        return np.zeros(cx.shape, dtype=bool)
    pts = np.concatenate(parts)
    try:
        hull = ConvexHull(pts)
    except (QhullError, ValueError):
        return np.zeros(cx.shape, dtype=bool)
    poly = shapely.Polygon(pts[hull.vertices])
    return np.asarray(shapely.intersects_xy(poly, cx, cy))


def tin_surface(
    grid: GridSpec, x: FloatArray, y: FloatArray, z: FloatArray, *, fill_outside: bool = False
) -> FloatArray:
    """Linear interpolation on a TIN (Delaunay) of the cell centroids of the points, at cell
    centres. Gaps inside the points' hull are filled; outside it NaN (or nearest value)."""
    from scipy.spatial import QhullError, cKDTree

    if x.size == 0:
        return np.full((grid.rows, grid.cols), np.nan)
    mx, my, mz = _centroids(grid, x, y, z)
    cx, cy = grid.centres()
    out = np.full(cx.shape, np.nan)
    if mx.size >= 3:
        try:
            uv = np.column_stack(
                [(mx - grid.left) / grid.res - 0.5, (grid.top - my) / grid.res - 0.5]
            )
            out = rasterize_tin(jitter(uv, 1.0), mz, grid.rows, grid.cols)
        except (QhullError, ValueError, RuntimeError):
            pass  # degenerate (collinear) points: nearest fill below
    bad = ~np.isfinite(out)
    if not fill_outside and bad.any() and mx.size >= 3:
        # centroids sit inside their cells: cells between the centroids' hull and the points'
        # hull are still inside the data and get the nearest value
        bad[bad] = _inside_hull(x, y, cx[bad], cy[bad])
    if (fill_outside or mx.size < 3 or bad.any()) and mx.size:
        bad = ~np.isfinite(out) if fill_outside or mx.size < 3 else bad
        if bad.any():
            _d, i = cKDTree(np.column_stack([mx, my])).query(
                np.column_stack([cx[bad], cy[bad]]), k=1
            )
            out[bad] = mz[i]
    return out


def planar_surface(
    grid: GridSpec,
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    mask: NDArray[np.bool_] | None = None,
    *,
    block: int = BLOCK,
) -> FloatArray:
    """The TIN DTM without triangulating every cell: a cell holding points takes the height at
    its centre of the plane fitted to its and its 8 neighbours' centroids
    (:func:`_local_planes`, as the TIN's facets around it would give it); only the gaps are
    triangulated, from the cells bordering them (:func:`lidar.grid.inpaint_linear`). Cells
    outside the points' hull stay NaN, as in :func:`tin_surface`. A whole-grid Delaunay of a
    10 M-point cloud's centroids was most of the DTM's time. Only the points in ``mask``
    (default: all) count; they are read ``block`` points at a time (no masked copy of the
    cloud).
    """
    n = grid.rows * grid.cols
    npts = x.size if mask is None else int(np.count_nonzero(mask))
    if npts < 3 or n > SPARSE_CELLS_PER_POINT * npts:
        # too few points, or a grid far finer than the points (PDAL's 1,065-point simple.las
        # at 1 m: 15.6 M cells, 14,650 per point): a TIN of the points themselves, which is
        # what the planes below approximate, without a dozen whole-grid temporaries (3.2 GB)
        m = slice(None) if mask is None else mask
        return tin_surface(grid, x[m], y[m], z[m])
    cnt = np.zeros(n)
    sx, sy, sz = np.zeros(n), np.zeros(n), np.zeros(n)
    use = mask if mask is not None else np.zeros(0, dtype=bool)
    _centroid_sums(x, y, z, use, mask is not None, grid.as_tuple(), cnt, sx, sy, sz)
    hit = cnt > 0
    shape = (grid.rows, grid.cols)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.where(hit, sx / cnt, np.nan).reshape(shape)
        my = np.where(hit, sy / cnt, np.nan).reshape(shape)
        mz = np.where(hit, sz / cnt, np.nan).reshape(shape)
    del sx, sy, sz, cnt
    hit2 = hit.reshape(shape)
    out = _local_planes(grid, mx, my, mz, hit2)
    if hit2.all():
        return out
    return _fill_inside_hull(grid, out, ~hit2, x, y, mask, block)


def _fill_inside_hull(
    grid: GridSpec,
    a: FloatArray,
    gaps: NDArray[np.bool_],
    x: FloatArray,
    y: FloatArray,
    mask: NDArray[np.bool_] | None,
    block: int,
) -> FloatArray:
    """``a`` with its ``gaps`` filled linearly (:func:`lidar.grid.inpaint_linear`) where they
    lie inside the hull of the points (of ``mask``); the gaps outside stay NaN (the TIN's rule:
    a cell in no triangle is empty)."""
    filled = inpaint_linear(a)
    cx, cy = grid.centres()
    outside = gaps.copy()
    outside[gaps] = ~_inside_hull(x, y, cx[gaps], cy[gaps], mask, block=block)
    filled[outside] = np.nan
    return filled


#: the slopes' ridge in the local plane fit, per unit of weight, in cells²: no slope across
#: centroids that lie on one line (a strip of ground one cell wide), and noisy slopes damped
#: (on autzen's ground 0.001 doubled the cells 0.5 m outside their points)
PLANE_RIDGE = 0.02
#: the least spread (variance, cells²) of the centroids across their main direction for a
#: fitted plane to be taken as it is; a plane over fewer, or over centroids on one line, is
#: kept within their heights
PLANE_MIN_SPREAD = 0.1


def _local_planes(
    grid: GridSpec, mx: FloatArray, my: FloatArray, mz: FloatArray, hit: NDArray[np.bool_]
) -> FloatArray:
    """Per cell holding points: the height at its centre of the least-squares plane through
    the centroids (``mx``, ``my``, ``mz``; NaN where a cell holds none) of the cell (weight 2)
    and its 8 neighbours (weight 1); where they are too few or on one line to fix a plane
    (:data:`PLANE_MIN_SPREAD`), kept within their heights, as a TIN facet's value lies within
    its vertices'. Compiled, cell by cell (no whole-grid temporaries).

    The slope had been taken along each axis between two neighbouring centroids alone; two
    centroids close together across a cell edge (or offset along the other axis on a slope)
    gave slopes of 10-50 and DTM spikes and pits of up to 11 m on real clouds (Topography.laz,
    autzen). Fitted to all the centroids around, the slope is as well determined as they are.
    """
    out = np.full(mz.shape, np.nan)
    _planes(mx, my, mz, hit, grid.left, grid.top, grid.res, PLANE_RIDGE, PLANE_MIN_SPREAD, out)
    return out


@numba.njit(cache=True, nogil=True)
def _centroid_sums(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    mask: NDArray[np.bool_],
    use_mask: bool,
    grid: tuple[float, float, float, int, int],
    cnt: FloatArray,
    sx: FloatArray,
    sy: FloatArray,
    sz: FloatArray,
) -> None:
    """Per cell of ``grid`` = (left, top, res, rows, cols) (flat, row-major): the count and the
    sums of x, y and z of the points (of ``mask`` when ``use_mask``), point by point."""
    cols = grid[4]
    for i in range(x.shape[0]):
        if use_mask and not mask[i]:
            continue
        r, c = cell_of(x[i], y[i], grid)
        f = r * cols + c
        cnt[f] += 1.0
        sx[f] += x[i]
        sy[f] += y[i]
        sz[f] += z[i]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _planes(
    mx: FloatArray,
    my: FloatArray,
    mz: FloatArray,
    hit: NDArray[np.bool_],
    left: float,
    top: float,
    res: float,
    ridge: float,
    min_spread: float,
    out: FloatArray,
) -> None:
    """:func:`_local_planes` cell by cell (no whole-grid temporaries): the weighted sums over
    the cell's and its 8 neighbours' centroids, the spread, and the intercept by Cramer."""
    rows, cols = mz.shape
    for r in range(rows):
        for c in range(cols):
            if not hit[r, c]:
                continue
            cx = left + (c + 0.5) * res
            cy = top - (r + 0.5) * res
            base = mz[r, c]  # heights relative to the cell's own centroid (precision)
            sw = sx = sy = sxx = sxy = syy = sz = sxz = syz = 0.0
            lo = base
            hi = base
            for dr in range(-1, 2):
                for dc in range(-1, 2):
                    rr = r + dr
                    cc = c + dc
                    if rr < 0 or rr >= rows or cc < 0 or cc >= cols:
                        continue
                    pz = mz[rr, cc]
                    if not math.isfinite(pz):
                        continue
                    w = 2.0 if dr == 0 and dc == 0 else 1.0
                    dx = (mx[rr, cc] - cx) / res
                    dy = (my[rr, cc] - cy) / res
                    dz = pz - base
                    wdx = w * dx
                    wdy = w * dy
                    sw += w
                    sx += wdx
                    sy += wdy
                    sxx += wdx * dx
                    sxy += wdx * dy
                    syy += wdy * dy
                    sz += w * dz
                    sxz += wdx * dz
                    syz += wdy * dz
                    lo = min(lo, pz)
                    hi = max(hi, pz)
            # the centroids' spread across their main direction: the covariance's smaller
            # eigenvalue
            vxx = sxx / sw - (sx / sw) ** 2
            vxy = sxy / sw - sx * sy / sw**2
            vyy = syy / sw - (sy / sw) ** 2
            spread = (vxx + vyy) / 2 - math.sqrt(((vxx - vyy) / 2) ** 2 + vxy**2)
            sxx += ridge * sw
            syy += ridge * sw
            minor = sxx * syy - sxy * sxy
            det = sw * minor - sx * (sx * syy - sxy * sy) + sy * (sx * sxy - sxx * sy)
            num = sz * minor - sx * (sxz * syy - sxy * syz) + sy * (sxz * sxy - sxx * syz)
            zc = base + num / det
            # too few centroids, or on one line: the plane is a guess across them, kept within
            out[r, c] = zc if spread >= min_spread else min(max(zc, lo), hi)


def idw_surface(
    grid: GridSpec,
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    *,
    k: int = 8,
    power: float = 2.0,
    max_dist: float | None = None,
) -> FloatArray:
    """Inverse-distance weighting of the ``k`` nearest cell centroids at each cell centre;
    cells farther than ``max_dist`` (default 5 cells) from any point stay NaN."""
    from scipy.spatial import cKDTree

    mx, my, mz = _centroids(grid, x, y, z)
    cx, cy = grid.centres()
    if mx.size == 0:
        return np.full(cx.shape, np.nan)
    kk = min(k, mx.size)
    d, i = cKDTree(np.column_stack([mx, my])).query(
        np.column_stack([cx.ravel(), cy.ravel()]), k=kk, workers=-1
    )
    d = d.reshape(-1, kk)
    i = i.reshape(-1, kk)
    w = 1.0 / np.maximum(d, 1e-9) ** power
    val = (w * mz[i]).sum(axis=1) / w.sum(axis=1)
    limit = max_dist if max_dist is not None else 5.0 * grid.res
    val[d[:, 0] > limit] = np.nan
    return val.reshape(cx.shape)


def dtm(
    grid: GridSpec,
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    ground: NDArray[np.bool_],
    *,
    method: str = "tin",
) -> FloatArray:
    """Digital terrain model from the ground points (``tin`` or ``idw``), no holes in the hull."""
    if not ground.any():
        raise BadInputError(_("no ground points: classify ground before making a DTM"))
    if method == "tin":
        return planar_surface(grid, x, y, z, ground)
    if method == "idw":
        return idw_surface(grid, x[ground], y[ground], z[ground])
    raise BadInputError(_("unknown DTM method {m!r}: use tin or idw").format(m=method))


def dsm(
    grid: GridSpec,
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    first: NDArray[np.bool_],
    *,
    fill: bool = True,
    block: int = BLOCK,
) -> FloatArray:
    """Digital surface model: highest first return per cell; empty cells inside the first
    returns' hull filled linearly from the cell maxima around them (short gaps bridged on the
    grid, the rest from a TIN of the cells bordering them: :func:`lidar.grid.inpaint_linear`).

    The gaps had been filled from a Delaunay of every cell holding a maximum: on ISPRS CSite4
    (518 k points, 1 m cells) 1.4 s of a 1.5 s DSM, five times the DTM; now 0.1 s. A grid far
    finer than the points (more than :data:`SPARSE_CELLS_PER_POINT` cells per cell holding a
    maximum) keeps the TIN of the maxima, which has no whole-grid passes.
    """
    if not first.any():
        raise BadInputError(_("no first returns for a DSM"))
    top = cell_stat(grid, x, y, z, "max", first, block=block)
    gaps = ~np.isfinite(top)
    if not fill or not gaps.any():
        return top
    held = top.size - int(np.count_nonzero(gaps))
    if held < 3 or top.size > SPARSE_CELLS_PER_POINT * held:
        cx, cy = grid.centres()
        ok = ~gaps
        return np.where(ok, top, tin_surface(grid, cx[ok], cy[ok], top[ok]))
    return _fill_inside_hull(grid, top, gaps, x, y, first, block)


def chm(dsm_m: FloatArray, dtm_m: FloatArray) -> FloatArray:
    """Canopy height model: DSM − DTM, negative values clipped to 0."""
    return np.asarray(np.clip(dsm_m - dtm_m, 0.0, None))


def intensity(grid: GridSpec, x: FloatArray, y: FloatArray, value: FloatArray) -> FloatArray:
    """Mean intensity per cell."""
    return cell_stat(grid, x, y, value.astype(np.float64), "mean")


def density(grid: GridSpec, x: FloatArray, y: FloatArray, cell_area_m2: float) -> FloatArray:
    """Points per square metre per cell (NaN where empty)."""
    cnt = cell_stat(grid, x, y, x, "count")
    return np.where(cnt > 0, cnt / cell_area_m2, np.nan)


def hillshade(
    surface: FloatArray,
    res: float,
    *,
    azimuth_deg: float = 315.0,
    altitude_deg: float = 45.0,
    z_factor: float = 1.0,
) -> FloatArray:
    """Hillshade 0–255 (Horn-like gradients, light from ``azimuth_deg``/``altitude_deg``)."""
    if min(surface.shape) < 2:  # a gradient needs a neighbour in both directions
        raise BadInputError(
            _("a hillshade needs a surface of at least 2 × 2 cells, not {r} × {c}").format(
                r=surface.shape[0], c=surface.shape[1]
            )
        )
    filled = fill_nearest(surface)
    gy, gx = np.gradient(filled * z_factor, res)
    slope = np.arctan(np.hypot(gx, gy))
    aspect = np.arctan2(-gx, gy)  # north-up rows: +gy means values grow southward
    zen = math.radians(90.0 - altitude_deg)
    az = math.radians(azimuth_deg)
    shade = np.cos(zen) * np.cos(slope) + np.sin(zen) * np.sin(slope) * np.cos(az - aspect)
    out = np.clip(shade, 0, 1) * 255.0
    return np.where(np.isfinite(surface), out, np.nan)


def difference(a: FloatArray, b: FloatArray) -> FloatArray:
    """a − b where both have data (change detection between two DTMs on one grid)."""
    if a.shape != b.shape:
        raise BadInputError(
            _("surfaces have different shapes {a} and {b}").format(a=a.shape, b=b.shape)
        )
    return np.asarray(a - b)


def volume_between(top: FloatArray, base: FloatArray, cell_area_m2: float) -> dict[str, float]:
    """Volumes between two surfaces on the same grid (m³): ``fill`` where top is above base
    (a stockpile), ``cut`` where below, ``net`` = fill − cut, and the compared ``area_m2``."""
    d = difference(top, base)
    ok = np.isfinite(d)
    above = np.where(ok & (d > 0), d, 0.0).sum() * cell_area_m2
    below = -np.where(ok & (d < 0), d, 0.0).sum() * cell_area_m2
    return {
        "fill_m3": float(above),
        "cut_m3": float(below),
        "net_m3": float(above - below),
        "area_m2": float(ok.sum() * cell_area_m2),
    }


#: most contour levels one call draws (an interval of 1e-9 m asked for 10 billion: a
#: MemoryError, 1e-6 m hung, 1e-4 m wrote 166 MB of GeoJSON for a 90 m cloud)
MAX_CONTOUR_LEVELS = 1000


def contour_levels(
    zmin: float, zmax: float, interval: float, *, base: float = 0.0, unit_m: float = 1.0
) -> FloatArray:
    """The contour heights between ``zmin`` and ``zmax``: every multiple of ``interval`` from
    ``base``; at most :data:`MAX_CONTOUR_LEVELS` of them (``unit_m``: metres per height unit,
    for the message).

    >>> contour_levels(0.2, 3.1, 1.0).tolist()
    [1.0, 2.0, 3.0]
    """
    if not (interval > 0 and math.isfinite(interval)):
        raise BadInputError(_("contour interval must be positive"))
    span = (zmax - zmin) / interval
    top = max(abs(zmin - base), abs(zmax - base)) / interval
    # beyond 2**52 steps from the base the levels are no longer distinct floats
    if not (span <= MAX_CONTOUR_LEVELS and top < 2**52):
        n: float = int(span) + 1 if span < 1e15 else span  # 1e302, not its 303 digits
        smallest = (zmax - zmin) / MAX_CONTOUR_LEVELS * unit_m
        raise BadInputError(
            _(
                "--interval {i:g} m gives {n:,} contour levels over the heights {lo:g} to "
                "{hi:g} m, more than {m:,}; use an --interval of at least {s:.3g} m"
            ).format(
                i=interval * unit_m,
                n=n,
                lo=zmin * unit_m,
                hi=zmax * unit_m,
                m=MAX_CONTOUR_LEVELS,
                s=smallest,
            )
        )
    first = math.ceil((zmin - base) / interval)
    last = math.floor((zmax - base) / interval + 1e-9)
    return np.arange(first, last + 1, dtype=np.float64) * interval + base


def contours(
    grid: GridSpec,
    surface: FloatArray,
    interval: float,
    *,
    base: float = 0.0,
    unit_m: float = 1.0,
) -> dict[str, Any]:
    """Contour lines every ``interval`` as a GeoJSON FeatureCollection (``elevation`` property).

    At most :data:`MAX_CONTOUR_LEVELS` levels (see :func:`contour_levels`).
    """
    import contourpy

    if not (interval > 0 and math.isfinite(interval)):
        raise BadInputError(_("contour interval must be positive"))
    ok = np.isfinite(surface)
    feats: list[dict[str, Any]] = []
    if ok.sum() >= 4:
        levels = contour_levels(
            float(np.nanmin(surface)),
            float(np.nanmax(surface)),
            interval,
            base=base,
            unit_m=unit_m,
        )
        cx, cy = grid.centres()
        gen = contourpy.contour_generator(
            cx, cy, np.ma.masked_invalid(surface), line_type=contourpy.LineType.Separate
        )
        for level in levels:
            for line in gen.lines(float(level)):
                arr = np.asarray(line)
                if arr.shape[0] >= 2:
                    feats.append(
                        {
                            "type": "Feature",
                            "properties": {"elevation": round(float(level), 6)},
                            "geometry": {
                                "type": "LineString",
                                "coordinates": arr.round(3).tolist(),
                            },
                        }
                    )
    return {"type": "FeatureCollection", "features": feats}


def write_contours(fc: dict[str, Any], path: str | os.PathLike[str], crs: CRS | None) -> Path:
    """Write a contour FeatureCollection as GeoJSON (with a ``crs`` member naming the CRS)."""
    doc = dict(fc)
    if crs is not None:
        doc["crs"] = {"type": "name", "properties": {"name": crs.to_string()}}
    target = Path(path)
    with atomic_output(target, suffixes=(".geojson", ".json")) as tmp:
        tmp.write_text(json.dumps(doc), encoding="utf-8")
    return target


def write_geotiff(
    path: str | os.PathLike[str],
    data: FloatArray,
    grid: GridSpec,
    crs: CRS | None,
    *,
    nodata: float = NODATA,
    description: str = "",
    dtype: str = "float32",
    shown: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a single-band Cloud-Optimized GeoTIFF (DEFLATE, tiled, overviews) atomically.

    ``shown``: the path a failed write names instead of ``path`` (the output that a temporary
    part is written for)."""
    import rasterio
    from rasterio.transform import from_origin

    target = Path(path)
    arr = np.where(np.isfinite(data), data, nodata).astype(dtype)
    profile = {
        "driver": "COG",
        "width": grid.cols,
        "height": grid.rows,
        "count": 1,
        "dtype": dtype,
        "crs": crs.to_wkt() if crs is not None else None,
        "transform": from_origin(grid.left, grid.top, grid.res, grid.res),
        "nodata": nodata,
        "compress": "DEFLATE",
        "BLOCKSIZE": 256,
    }
    with (
        atomic_output(target, suffixes=_TIF) as tmp,
        quiet_library_logs("rasterio"),
        gdal_write_errors(Path(shown) if shown is not None else target, tmp),
    ):
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(arr, 1)
            if description:
                dst.set_band_description(1, description)
        verify_geotiff(tmp, arr)
    return target


@contextlib.contextmanager
def gdal_write_errors(target: Path, written: Path) -> Iterator[None]:
    """Turn GDAL's failure to write ``written`` (for ``target``) into one error naming the cause.

    GDAL reports a full disk or a file size limit as ``TIFFAppendToStrip: Write error`` (its
    ``CPLE_AppDefinedError``, not a :class:`rasterio.errors.RasterioError`), while libtiff
    prints the C library's reason (``_tiffWriteProc: No space left on device.``) to stderr: that
    text is held back and gives the reason (see :func:`dronekit_plzen.outputs.write_failure`).
    """
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError

    with library_write_errors(target, written, (RasterioError, CPLE_BaseError, WriteCheckError)):
        yield


class WriteCheckError(StorageError):
    """A written GeoTIFF read back differs from the data written (a write that failed quietly)."""


def verify_geotiff(path: str | os.PathLike[str], expected: NDArray[Any]) -> None:
    """Read a just-written GeoTIFF back and compare it with what was written.

    GDAL reports a failed write (a full disk, a file size limit) only as a log message and
    leaves a short file behind; reading it back is the reliable check. Raises rasterio's
    error when the file is unreadable, :class:`StorageError` when it differs.
    """
    import rasterio

    with rasterio.open(path) as src:
        back = src.read(1)
    if back.shape != expected.shape or not np.array_equal(back, expected, equal_nan=True):
        raise WriteCheckError(
            _("cannot write {path}: {reason}").format(
                path=path, reason=_("the file read back differs from the data written")
            )
        )


def geotiff_grid(path: str | os.PathLike[str]) -> tuple[GridSpec, CRS | None]:
    """The grid and CRS of a north-up GeoTIFF with square cells, without reading its cells."""
    import rasterio

    try:
        with quiet_library_logs("rasterio"), rasterio.open(path) as src:
            return _grid_of(src, path), _crs_of(src)
    except rasterio.errors.RasterioError as exc:
        raise CorruptFileError(
            _("cannot read raster: {e}").format(e=raster_read_reason(exc)), where=str(path)
        ) from exc


def _grid_of(src: Any, path: str | os.PathLike[str]) -> GridSpec:
    t = src.transform
    if abs(abs(t.a) - abs(t.e)) > 1e-9 or t.b != 0 or t.d != 0:
        raise BadInputError(_("raster cells must be square and north-up"), where=str(path))
    return GridSpec(t.c, t.f, t.a, src.height, src.width)


def _crs_of(src: Any) -> CRS | None:
    return CRS.from_wkt(src.crs.to_wkt()) if src.crs else None


#: bytes per cell of reading band 1 as float64 (the band's own type, up to 8 bytes, and the copy)
READ_BYTES_PER_CELL = 16


def read_geotiff(
    path: str | os.PathLike[str], *, bytes_per_cell: int = READ_BYTES_PER_CELL
) -> tuple[FloatArray, GridSpec, CRS | None]:
    """Read band 1 of a north-up GeoTIFF with square cells as (array with NaN, grid, CRS).

    The raster's size is checked against the memory budget first (``bytes_per_cell``: what the
    caller's work on it needs, see :func:`lidar.grid.check_raster_memory`)."""
    import rasterio

    try:
        with quiet_library_logs("rasterio"), rasterio.open(path) as src:
            grid = _grid_of(src, path)
            check_raster_memory(grid.rows, grid.cols, bytes_per_cell, where=str(path))
            a = src.read(1).astype(np.float64)
            if src.nodata is not None:
                a[a == src.nodata] = np.nan
            return a, grid, _crs_of(src)
    except rasterio.errors.RasterioError as exc:
        raise CorruptFileError(
            _("cannot read raster: {e}").format(e=raster_read_reason(exc)), where=str(path)
        ) from exc
