"""The surface the photos are projected onto: a DSM gridded from the model's points, or a DEM.

Pure functions on arrays: :func:`model_points` takes the triangulated points out of a
reconstruction, :func:`grid_dsm` grids them (median per cell, holes filled by linear
interpolation inside the points' hull and by the nearest value up to the ortho extent), and
:func:`sample_dem` brings an external DEM (e.g. this toolkit's LiDAR DSM) onto a grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid in model coordinates: top-left corner and square cell size (m)."""

    left: float
    top: float
    res: float
    cols: int
    rows: int

    def centres(self) -> tuple[FloatArray, FloatArray]:
        xs = self.left + (np.arange(self.cols, dtype=np.float64) + 0.5) * self.res
        ys = self.top - (np.arange(self.rows, dtype=np.float64) + 0.5) * self.res
        return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)

    @staticmethod
    def covering(xmin: float, ymin: float, xmax: float, ymax: float, res: float) -> Grid:
        left = np.floor(xmin / res) * res
        top = np.ceil(ymax / res) * res
        cols = max(1, int(np.ceil((xmax - left) / res)))
        rows = max(1, int(np.ceil((top - ymin) / res)))
        return Grid(float(left), float(top), float(res), cols, rows)

    def resampled(self, res: float) -> Grid:
        return Grid.covering(
            self.left,
            self.top - self.rows * self.res,
            self.left + self.cols * self.res,
            self.top,
            res,
        )


@dataclass(frozen=True)
class ModelPoints:
    xyz: FloatArray  # (N, 3) model coordinates
    rgb: NDArray[np.uint8]  # (N, 3)
    error_px: FloatArray
    track_len: NDArray[np.int32]


def model_points(rec: Any, max_error_px: float = 2.0, min_track: int = 3) -> ModelPoints:
    """Triangulated points of ``rec`` seen by ``min_track`` photos within ``max_error_px``."""
    pts = list(rec.points3D.values())
    n = len(pts)
    xyz = np.empty((n, 3))
    rgb = np.empty((n, 3), dtype=np.uint8)
    err = np.empty(n)
    tl = np.empty(n, dtype=np.int32)
    for i, p in enumerate(pts):
        xyz[i] = p.xyz
        rgb[i] = p.color
        err[i] = p.error
        tl[i] = p.track.length()
    keep = (err <= max_error_px) & (tl >= min_track)
    return ModelPoints(xyz[keep], rgb[keep], err[keep], tl[keep])


def remove_outliers(xyz: FloatArray, k: int = 8, nsigma: float = 3.0) -> NDArray[np.bool_]:
    """Mask of points whose height is within ``nsigma`` robust sigmas of their neighbours'."""
    from scipy.spatial import cKDTree

    if len(xyz) <= k:
        return np.ones(len(xyz), dtype=bool)
    tree = cKDTree(xyz[:, :2])
    _d, idx = tree.query(xyz[:, :2], k=k + 1)
    dz = xyz[:, 2] - np.median(xyz[idx[:, 1:], 2], axis=1)
    mad = 1.4826 * np.median(np.abs(dz - np.median(dz))) + 1e-6
    return np.asarray(np.abs(dz) <= nsigma * mad + 0.5)


#: above this many cells with data, holes are filled by the nearest value (fast) not linearly
LINEAR_FILL_MAX_CELLS = 20_000


def coverage(xyz: FloatArray, grid: Grid, max_gap_cells: float) -> NDArray[np.bool_]:
    """Cells within ``max_gap_cells`` of a cell holding a point (where a DSM is measured)."""
    from scipy.ndimage import distance_transform_edt

    col = np.floor((xyz[:, 0] - grid.left) / grid.res).astype(np.int64)
    row = np.floor((grid.top - xyz[:, 1]) / grid.res).astype(np.int64)
    ok = (col >= 0) & (col < grid.cols) & (row >= 0) & (row < grid.rows)
    have = np.zeros((grid.rows, grid.cols), dtype=bool)
    have[row[ok], col[ok]] = True
    if not have.any():
        return have
    return np.asarray(distance_transform_edt(~have) <= max_gap_cells)


def grid_dsm(xyz: FloatArray, grid: Grid) -> FloatArray:
    """Median height per cell, holes filled inside the hull (linear) and outside (nearest)."""
    from scipy.interpolate import NearestNDInterpolator
    from scipy.ndimage import median_filter

    col = np.floor((xyz[:, 0] - grid.left) / grid.res).astype(np.int64)
    row = np.floor((grid.top - xyz[:, 1]) / grid.res).astype(np.int64)
    ok = (col >= 0) & (col < grid.cols) & (row >= 0) & (row < grid.rows)
    cell = row[ok] * grid.cols + col[ok]
    z = xyz[ok, 2]
    out = np.full(grid.rows * grid.cols, np.nan)
    if len(z):
        order = np.lexsort((z, cell))
        cs, zs = cell[order], z[order]
        starts = np.r_[0, np.flatnonzero(np.diff(cs)) + 1]
        counts = np.diff(np.r_[starts, len(cs)])
        out[cs[starts]] = zs[starts + counts // 2]
    dsm = out.reshape(grid.rows, grid.cols)
    have = np.isfinite(dsm)
    if have.sum() < 3:
        fill = float(np.median(xyz[:, 2])) if len(xyz) else 0.0
        return np.where(have, dsm, fill)
    if have.sum() > LINEAR_FILL_MAX_CELLS:  # dense input: holes are small, nearest is enough
        from scipy.ndimage import distance_transform_edt

        _dist, (ir, ic) = distance_transform_edt(~have, return_indices=True)
        dsm = dsm[ir, ic]
        return np.asarray(median_filter(dsm, size=3, mode="nearest"))
    rr, cc = np.nonzero(have)
    vals = dsm[have]
    xs, ys = grid.centres()
    hole_r, hole_c = np.nonzero(~have)
    if len(hole_r):
        q = np.column_stack([xs[hole_c], ys[hole_r]])
        src = np.column_stack([xs[cc], ys[rr]])
        filled = _linear_inside(src, vals, q)
        miss = ~np.isfinite(filled)
        if miss.any():
            filled[miss] = NearestNDInterpolator(src, vals)(q[miss])
        dsm[hole_r, hole_c] = filled
    return np.asarray(median_filter(dsm, size=3, mode="nearest"))


def _linear_inside(src: FloatArray, vals: FloatArray, q: FloatArray) -> FloatArray:
    """Linear (barycentric) interpolation at ``q`` inside the triangulation of ``src``; NaN out.

    scipy's LinearNDInterpolator looks up every point outside the hull by brute force (seconds
    for a few thousand border cells); a directed walk answers those at once with -1.
    """
    from scipy.spatial import Delaunay, QhullError

    out = np.full(len(q), np.nan)
    try:
        tri = Delaunay(src)
    except (QhullError, ValueError):  # degenerate (collinear) input: nearest only
        return out
    simplex = tri.find_simplex(q, bruteforce=False)
    ok = simplex >= 0
    t = tri.transform[simplex[ok]]  # (n, 3, 2): inverse affine and origin per triangle
    b = np.einsum("nij,nj->ni", t[:, :2, :], q[ok] - t[:, 2, :])
    bary = np.column_stack([b, 1.0 - b.sum(axis=1)])
    out[ok] = (vals[tri.simplices[simplex[ok]]] * bary).sum(axis=1)
    return out


def sample_raster(data: FloatArray, grid: Grid, x: FloatArray, y: FloatArray) -> FloatArray:
    """Bilinear sample of ``data`` on ``grid`` at model ``x``/``y`` (NaN outside)."""
    from scipy.ndimage import map_coordinates

    c = (np.asarray(x) - grid.left) / grid.res - 0.5
    r = (grid.top - np.asarray(y)) / grid.res - 0.5
    vals = map_coordinates(data, [r.ravel(), c.ravel()], order=1, mode="nearest", cval=np.nan)
    inside = (c >= -0.5) & (c <= grid.cols - 0.5) & (r >= -0.5) & (r <= grid.rows - 0.5)
    return np.where(inside.ravel(), vals, np.nan).reshape(np.shape(x))


def check_dem(path: str) -> None:
    """Open the DEM at ``path`` and read a corner of it: a file that is not a raster, has no
    CRS or cannot be decoded is a :class:`~dronekit_plzen.errors.BadInputError` up front."""
    import rasterio
    from rasterio.windows import Window

    from dronekit_plzen.errors import BadInputError, raster_read_reason
    from dronekit_plzen.i18n import _

    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise BadInputError(_("the DEM has no CRS"), where=path)
            src.read(1, window=Window(0, 0, min(src.width, 256), min(src.height, 256)))
    except rasterio.errors.RasterioError as exc:
        raise BadInputError(
            _("not a readable raster: {err}").format(err=raster_read_reason(exc)), where=path
        ) from exc


def check_dem_covers(path: str, lon_deg: FloatArray, lat_deg: FloatArray) -> None:
    """Fail when the DEM's bounds hold none of the photos' GPS positions (a DEM of another
    place or in a wrong CRS), before the photos are matched rather than after."""
    import rasterio
    from pyproj import Transformer

    from dronekit_plzen.errors import BadInputError
    from dronekit_plzen.i18n import _

    with rasterio.open(path) as src:
        b = src.bounds
        tr = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
    x, y = tr.transform(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
    x, y = np.asarray(x), np.asarray(y)
    inside = (x >= min(b.left, b.right)) & (x <= max(b.left, b.right))
    inside &= (y >= min(b.bottom, b.top)) & (y <= max(b.bottom, b.top))
    if not inside.any():
        raise BadInputError(
            _("the DEM does not cover the photographed area (no photo position lies on it)"),
            where=path,
        )
    with rasterio.open(path) as src:
        vals = np.ma.concatenate(
            list(src.sample(zip(x[inside], y[inside]), indexes=1, masked=True))
        )
    z = np.ma.masked_invalid(np.ma.asarray(vals, dtype=np.float64))
    if z.count() == 0:  # all no-data (or NaN) under the photos: found only after matching
        raise BadInputError(
            _("the DEM has no data under any photo position (only its no-data value or NaN)"),
            where=path,
        )
    check_dem_heights(np.ma.filled(z, np.nan), path)


def sample_dem(path: str, frame: Any, grid: Grid) -> FloatArray:
    """Heights of the DEM at ``path`` on ``grid`` (model coordinates of ``frame``); NaN = no data.

    Raises :class:`~dronekit_plzen.errors.BadInputError` when the file is not a readable raster.
    """
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.warp import Resampling, reproject

    from dronekit_plzen.errors import BadInputError, raster_read_reason
    from dronekit_plzen.i18n import _

    ox, oy, _oz = frame.origin_m
    dst = np.full((grid.rows, grid.cols), np.nan, dtype=np.float64)
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise BadInputError(_("the DEM has no CRS"), where=path)
            reproject(
                source=rasterio.band(src, 1),
                destination=dst,
                dst_transform=from_origin(grid.left + ox, grid.top + oy, grid.res, grid.res),
                dst_crs=frame.crs.to_wkt(),
                dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )
    except rasterio.errors.RasterioError as exc:
        raise BadInputError(
            _("not a readable raster: {err}").format(err=raster_read_reason(exc)), where=path
        ) from exc
    check_dem_heights(dst, path)
    return dst - oz_of(frame)


#: heights (metres) a DEM of the Earth's surface can hold: beyond them, an undeclared no-data
#: value (3.4e38, -32768 on an unsigned band) or a DEM in another unit
PLAUSIBLE_HEIGHT_M = (-1000.0, 20000.0)


def check_dem_heights(z: FloatArray, path: str) -> None:
    """Fail when the DEM's heights (NaN = no data) hold a value no terrain has."""
    from dronekit_plzen.errors import BadInputError
    from dronekit_plzen.i18n import _

    vals = z[~np.isnan(z)]
    if not vals.size:
        return
    lo, hi = PLAUSIBLE_HEIGHT_M
    bad = vals[~((vals >= lo) & (vals <= hi))]
    if bad.size:
        raise BadInputError(
            _(
                "the DEM holds heights of {z:.4g} m under the photographed area ({lo:.0f} to "
                "{hi:.0f} m expected): is its no-data value declared?"
            ).format(z=float(bad[np.argmax(np.abs(bad))]), lo=lo, hi=hi),
            where=path,
        )


def oz_of(frame: Any) -> float:
    return float(frame.origin_m[2])
