"""Reading probability maps and scoring paths on them by true footprint overlap.

:func:`read_prob_map` reads any single-band probability GeoTIFF that is north-up (no rotation
terms): kept as is in a projected metric CRS with square pixels, else resampled (area-weighted,
mass preserved) to the UTM zone of its centre; NaN (an undeclared nodata value) and nodata
cells count as zero, and a raster of more than :data:`MAX_CELLS` cells is block-averaged at read
time. :func:`coverage_fraction` is the scoring used by
the planner, the CLI, the bench and the tests alike: the swept footprint (a strip of the
camera's across-track width along the path, round joins for the footprint turning at a vertex,
and the full across × along footprint at every vertex heading in and heading out, so the ends
reach half the along-track footprint beyond the path) is rasterised at ``k``×``k`` sub-cells
per cell, so every cell counts by the fraction of its area the footprint covered, once however
often it was flown over.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Point

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError, raster_read_reason
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import check_read_cells
from dronekit_plzen.outputs import note_input
from dronekit_plzen.quiet_logs import quiet
from missions.poa_map import PoaGrid

FloatArray = NDArray[np.float64]
#: sub-cells per cell side for the overlap fraction (64 samples: ≤ 1/8 cell error on an edge)
OVERLAP_SUPERSAMPLE = 8
#: the most cells a map is planned on (a 1000 × 1000 grid: 30 km square at 30 m); a bigger
#: raster is read block-averaged (probability mass kept) to fit, never whole into memory
MAX_CELLS = 1_000_000


@dataclass(frozen=True)
class Footprint:
    """The camera footprint on the ground: across-track and along-track size in metres, and the
    probability of detecting the subject when inside it (the POD model's ``pd_in_footprint``);
    ``disc``: a sensor that detects within ``across_m / 2`` of the point below it whatever the
    heading (a sweep-width model, or the detection radius SAR benchmarks use)."""

    across_m: float
    along_m: float
    pd: float = 1.0
    disc: bool = False


def read_prob_map(path: Path, *, max_cells: int = MAX_CELLS) -> PoaGrid:
    """A probability grid (normalised to sum 1) from a single-band GeoTIFF; a raster of more
    than ``max_cells`` cells is block-averaged while it is read."""
    note_input(path)  # never replaced by an output of the same command
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.errors import RasterioIOError
    from rasterio.transform import Affine

    p = Path(path)
    if not p.exists():
        raise BadInputError(_("no such file"), where=str(p))
    try:  # GDAL's warnings on a damaged file are not lines for the user: the error names it
        with quiet("rasterio"), rasterio.open(p) as ds:
            if ds.count != 1:
                raise BadInputError(
                    _("a probability map has one band, this one has {n}").format(n=ds.count),
                    where=str(p),
                )
            t = ds.transform
            if abs(t.b) > 1e-12 or abs(t.d) > 1e-12 or t.a <= 0 or t.e >= 0:
                raise BadInputError(
                    _("the map is not north-up (rotated or flipped geotransform)"), where=str(p)
                )
            if ds.crs is None:
                raise BadInputError(_("the map has no CRS"), where=str(p))
            check_read_cells(ds.width, ds.height, ds.overviews(1), str(p))
            f = max(1, math.ceil(math.sqrt(ds.width * ds.height / max_cells)))
            if f > 1:  # block-averaged at read time: a huge raster never whole in memory
                shape = (max(1, ds.height // f), max(1, ds.width // f))
                band = ds.read(1, masked=True, out_shape=shape, resampling=Resampling.average)
                t = t @ Affine.scale(ds.width / shape[1], ds.height / shape[0])
            else:
                band = ds.read(1, masked=True)
            data = band.astype(np.float64).filled(0.0)
            crs = ds.crs
    except (RasterioIOError, MemoryError) as exc:
        why = raster_read_reason(exc)
        raise BadInputError(_("cannot read the map: {e}").format(e=why), where=str(p)) from None
    if np.isinf(data).any():
        raise BadInputError(_("the map holds infinite values"), where=str(p))
    data[np.isnan(data)] = 0.0  # NaN = no data, as an undeclared nodata value often is
    if (data < 0).any():
        raise BadInputError(_("the map holds negative probabilities"), where=str(p))
    if not data.sum() > 0:
        raise BadInputError(_("the map is empty (all zero)"), where=str(p))
    ny, nx = data.shape
    try:  # the corners in lon/lat: a map whose cells are far too large is nowhere on the Earth
        lon, lat = geo.transform([t.c, t.c + t.a * nx], [t.f + t.e * ny, t.f], crs, geo.WGS84)
        on_earth = bool((np.abs(lon) <= 180.0).all() and (np.abs(lat) <= 90.0).all())
    except BadInputError:
        on_earth = False
    if not on_earth:
        raise BadInputError(
            _(
                "the map's extent cannot be placed on the Earth in its CRS "
                "({crs}, cells of {a:g} × {e:g})"
            ).format(crs=crs.to_string(), a=t.a, e=-t.e),
            where=str(p),
        )
    metric = crs.is_projected and abs((crs.linear_units_factor or ("", 0))[1] - 1.0) < 1e-9
    if metric:  # planned in its units where they are metres on the ground (not Web Mercator)
        lon, lat = geo.transform([t.c + t.a * nx / 2], [t.f + t.e * ny / 2], crs, geo.WGS84)
        metric = geo.scale_error(crs, float(lon[0]), float(lat[0])) <= geo.MAX_SCALE_ERROR
    if metric and math.isclose(t.a, -t.e, rel_tol=1e-6) and crs.to_epsg() is not None:
        return PoaGrid(data / data.sum(), t.c, t.f, float(t.a), crs)
    return _to_utm(data, t, crs)


def _to_utm(data: FloatArray, t: Any, crs: Any) -> PoaGrid:
    from rasterio.transform import from_origin
    from rasterio.warp import Resampling, reproject, transform_bounds

    ny, nx = data.shape
    left, top = t.c, t.f
    right, bottom = left + t.a * nx, top + t.e * ny
    w, s, e, n = transform_bounds(crs, "EPSG:4326", left, bottom, right, top)
    code = geo.utm_epsg_for((w + e) / 2, (s + n) / 2)
    x0, y0, x1, y1 = transform_bounds(crs, f"EPSG:{code}", left, bottom, right, top)
    cell = math.sqrt((x1 - x0) * (y1 - y0) / (nx * ny))
    onx, ony = math.ceil((x1 - x0) / cell), math.ceil((y1 - y0) / cell)
    out = np.zeros((ony, onx))
    # resample the mass per source pixel as a density, then back to mass per target cell
    reproject(
        data,
        out,
        src_transform=t,
        src_crs=crs,
        dst_transform=from_origin(x0, y1, cell, cell),
        dst_crs=f"EPSG:{code}",
        resampling=Resampling.average,
    )
    out = np.nan_to_num(out, nan=0.0).clip(min=0.0)
    if not out.sum() > 0:
        raise BadInputError(_("the map is empty after reprojection to UTM"))
    return PoaGrid(out / out.sum(), x0, y1, cell, code)


def _rects(c: FloatArray, u: FloatArray, across: float, along: float) -> Any:
    """Footprint rectangles centred on ``c`` (m, 2) heading along the unit vectors ``u``."""
    n = np.column_stack([-u[:, 1], u[:, 0]])
    a, w = u * (along / 2.0), n * (across / 2.0)
    ring = np.stack([c + a + w, c + a - w, c - a - w, c - a + w, c + a + w], axis=1)
    return shapely.polygons(ring)


def swept_pieces(xy: FloatArray, fp: Footprint, raw: bool = False) -> list[Any]:
    """The ground the footprint sweeps along the polyline ``xy`` (metres), as pieces whose union
    is the swept area: the across-track strip along the path (round joins: the footprint turning
    at a vertex), and at every vertex the footprint heading in and heading out (a multicopter
    stops and yaws there), which covers the path's ends by half the along-track footprint too.
    ``raw``: the pieces themselves, not their union (the same cells when rasterised by
    :func:`coverage_fraction`, which burns each piece on its own, and much faster)."""
    xy = np.asarray(xy, dtype=np.float64)
    half = fp.across_m / 2.0
    if len(xy) == 0:
        return []
    d = np.hypot(*np.diff(xy, axis=0).T) if len(xy) > 1 else np.zeros(0)
    if len(xy) < 2 or not (d > 1e-9).any():
        x, y = xy[0]
        if fp.disc:
            return [shapely.buffer(shapely.points(xy[0]), half, quad_segs=8)]
        return [shapely.box(x - half, y - fp.along_m / 2, x + half, y + fp.along_m / 2)]
    keep = np.concatenate([[True], d > 1e-9])
    pts = xy[keep]
    u = np.diff(pts, axis=0)
    u = u / np.hypot(*u.T)[:, None]
    # only where the heading turns (more than ~15°) or the path ends: along a smooth curve the
    # round-joined strip already holds them
    turn = (u[:-1] * u[1:]).sum(axis=1) < math.cos(math.radians(15.0))
    arrive = np.concatenate([turn, [True]])  # segment i arrives at a turning vertex / the end
    leave = np.concatenate([[True], turn])  # segment i leaves the start / a turning vertex
    # the strip: one rectangle per segment (no buffer of the whole line: GEOS's buffer of a long
    # self-crossing line can exhaust memory), discs where the footprint turns at a vertex
    mid = (pts[1:] + pts[:-1]) / 2.0
    length = np.hypot(*np.diff(pts, axis=0).T)
    strips = _strips(mid, u, length, fp.across_m)
    if fp.disc:  # the strip with round joins and caps: the disc swept along the path
        discs = shapely.buffer(shapely.points(pts), half, quad_segs=8)
        parts = np.concatenate([strips, discs])
        return list(parts) if raw else [shapely.union_all(parts)]
    discs = shapely.buffer(shapely.points(pts[1:-1]), half, quad_segs=4)
    ends = np.concatenate(
        [
            _rects(pts[1:][arrive], u[arrive], fp.across_m, fp.along_m),
            _rects(pts[:-1][leave], u[leave], fp.across_m, fp.along_m),
        ]
    )
    parts = np.concatenate([strips, discs, ends])
    return list(parts) if raw else [shapely.union_all(parts)]


def _strips(mid: FloatArray, u: FloatArray, length: FloatArray, across: float) -> Any:
    """Rectangles ``across`` wide along segments (centres ``mid``, unit directions ``u``)."""
    n = np.column_stack([-u[:, 1], u[:, 0]])
    a, w = u * (length[:, None] / 2.0), n * (across / 2.0)
    ring = np.stack([mid + a + w, mid + a - w, mid - a - w, mid - a + w, mid + a + w], axis=1)
    return shapely.polygons(ring)


def swept_polygon(xy: FloatArray, fp: Footprint) -> Any:
    """The swept area (:func:`swept_pieces`) as one valid (multi)polygon."""
    pieces = swept_pieces(xy, fp)
    return pieces[0] if len(pieces) == 1 else shapely.Polygon()


def coverage_fraction(
    grid: PoaGrid, polygons: Sequence[Any], k: int = OVERLAP_SUPERSAMPLE
) -> FloatArray:
    """Fraction (0..1) of every cell's area inside the union of ``polygons`` (each burnt on its
    own, so overlapping pieces count once): the share of the cell's ``k``×``k`` sub-cells whose
    centre is inside (GDAL's rule, burnt by :func:`missions.poa_kernels.burn_polygons`)."""
    ny, nx = grid.shape
    out = np.zeros((ny, nx))
    arr = np.empty(len(polygons), dtype=object)
    arr[:] = list(polygons)
    parts = shapely.get_parts(arr)  # multi-parts split, missing ones skipped
    parts = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]  # polygons
    if len(parts) == 0:
        return out
    # only the window of cells the geometries touch is rasterised: a path over a corner of a
    # big map costs that corner, not the map × k²
    xmin, ymin, xmax, ymax = shapely.total_bounds(parts)
    c = grid.cell_m
    c0, c1 = max(0, math.floor((xmin - grid.x0) / c)), min(nx, math.ceil((xmax - grid.x0) / c))
    r0, r1 = max(0, math.floor((grid.y0 - ymax) / c)), min(ny, math.ceil((grid.y0 - ymin) / c))
    if c1 <= c0 or r1 <= r0:
        return out
    # the compiled kernels on first use: reading or checking a map (``web attach``, a refused
    # ``plan poa``) does not load numba
    from missions.poa_kernels import block_share, burn_polygons

    h, w = r1 - r0, c1 - c0
    rings, poly_of_ring = shapely.get_rings(parts, return_index=True)
    xy, ring_of_vertex = shapely.get_coordinates(rings, return_index=True)
    ring_start = np.zeros(len(rings) + 1, dtype=np.int64)
    np.cumsum(np.bincount(ring_of_vertex, minlength=len(rings)), out=ring_start[1:])
    poly_ring = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(poly_of_ring, minlength=len(parts)), out=poly_ring[1:])
    sub = c / k  # sub-cell size; coordinates in sub-cells from the window's top-left corner
    m = np.zeros((h * k, w * k), dtype=np.uint8)
    # pixel coordinates as GDAL computes them (the inverse geotransform over the whole grid:
    # -x0/s + x·(1/s)), less the window's whole-pixel offset (exact): at a tie, an edge through
    # a sub-cell centre, the last bit decides as it does in GDAL
    inv = 1.0 / sub
    burn_polygons(
        np.ascontiguousarray((-grid.x0 / sub + xy[:, 0] * inv) - c0 * k),
        np.ascontiguousarray((grid.y0 / sub + xy[:, 1] * -inv) - r0 * k),
        ring_start,
        poly_ring,
        m,
    )
    block_share(m, k, out[r0:r1, c0:c1])
    return out


def covered_probability(
    grid: PoaGrid, paths: Sequence[FloatArray], fps: Sequence[Footprint]
) -> float:
    """Probability of area covered by the union of the paths' swept footprints."""
    pieces = [g for p, f in zip(paths, fps, strict=True) for g in swept_pieces(p, f)]
    return float((grid.prob * coverage_fraction(grid, pieces)).sum())


def truncate(xy: FloatArray, length_m: float) -> FloatArray:
    """The first ``length_m`` metres of the polyline ``xy``."""
    xy = np.asarray(xy, dtype=np.float64)
    if len(xy) < 2:
        return xy
    d = np.hypot(*np.diff(xy, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(d)])
    if length_m >= cum[-1]:
        return xy
    if length_m <= 0:
        return xy[:1]
    i = int(np.searchsorted(cum, length_m, side="right"))
    f = (length_m - cum[i - 1]) / d[i - 1]
    return np.vstack([xy[:i], xy[i - 1] + f * (xy[i] - xy[i - 1])])


def position_at(xy: FloatArray, s_m: FloatArray) -> FloatArray:
    """Points at arc lengths ``s_m`` along ``xy`` (clipped to the ends)."""
    xy = np.asarray(xy, dtype=np.float64)
    if len(xy) < 2:
        return np.repeat(xy[:1], len(s_m), axis=0)
    d = np.hypot(*np.diff(xy, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(d)])
    s = np.clip(np.asarray(s_m, dtype=np.float64), 0.0, cum[-1])
    return np.column_stack([np.interp(s, cum, xy[:, 0]), np.interp(s, cum, xy[:, 1])])


def point_in_grid(grid: PoaGrid, xy: tuple[float, float]) -> bool:
    ny, nx = grid.shape
    box = shapely.box(grid.x0, grid.y0 - ny * grid.cell_m, grid.x0 + nx * grid.cell_m, grid.y0)
    return bool(box.buffer(grid.cell_m * 50).contains(Point(xy)))


#: at most this many POA polygons on a web page (a Leaflet layer stays fluid)
MAX_POA_CELLS = 2500


def poa_feature_collection(path: Path, max_cells: int = MAX_POA_CELLS) -> dict[str, Any]:
    """The POA GeoTIFF at ``path`` (any CRS, one band) as a GeoJSON FeatureCollection of WGS84
    cell polygons: blocks of cells summed (probability preserved) until at most ``max_cells``
    non-zero cells remain; zero cells are dropped. Properties: ``poa`` (the cell's share of the
    probability) and ``rel`` (relative to the most probable cell, for the heat map)."""
    grid = read_prob_map(Path(path))  # checks: exists, GeoTIFF, one band, CRS, north-up, sum > 0
    prob = grid.prob
    ny, nx = grid.shape
    f = max(1, math.ceil(math.sqrt(np.count_nonzero(prob) / max_cells)))
    while True:
        by, bx = math.ceil(ny / f), math.ceil(nx / f)
        padded = np.zeros((by * f, bx * f))
        padded[:ny, :nx] = prob
        coarse = padded.reshape(by, f, bx, f).sum(axis=(1, 3))
        if np.count_nonzero(coarse) <= max_cells:
            break
        f += 1
    rows, cols = np.nonzero(coarse)
    size = grid.cell_m * f
    x0 = grid.x0 + cols * size
    x1 = x0 + size
    y0 = grid.y0 - rows * size
    y1 = y0 - size
    # corners NW, NE, SE, SW of every cell in one transform call
    xs = np.concatenate([x0, x1, x1, x0])
    ys = np.concatenate([y0, y0, y1, y1])
    lon, lat = geo.transform(xs, ys, grid.crs, geo.WGS84)
    n = len(rows)
    lon, lat = np.round(lon.reshape(4, n), 7), np.round(lat.reshape(4, n), 7)
    p = coarse[rows, cols]
    rel = p / p.max()
    features = []
    for i in range(n):
        ring = [[float(lon[k, i]), float(lat[k, i])] for k in (0, 1, 2, 3, 0)]
        features.append(
            {
                "type": "Feature",
                "properties": {"poa": float(f"{p[i]:.6g}"), "rel": round(float(rel[i]), 4)},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {
        "type": "FeatureCollection",
        "properties": {"cell_m": size, "cells": n, "source": str(path)},
        "features": features,
    }
