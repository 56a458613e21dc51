"""Point filters as pure functions over arrays: reproject, crop, outliers, voxel, ranges.

Every function takes arrays (or a :class:`PointCloud`) and returns new arrays: a mask, new
coordinates or a new classification. Distances are in the cloud's coordinate units; the
pipeline converts metre parameters with the cloud's ``xy_unit_m``.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any, NamedTuple

import numba
import numpy as np
import shapely
from numpy.typing import NDArray

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import as_crs, transform
from dronekit_plzen.i18n import _
from lidar.cloud import NOISE, PointCloud
from lidar.knn import kth_distance_xyz, mean_knn_distance_xyz

BoolArray = NDArray[np.bool_]


def reproject(cloud: PointCloud, dst_crs: Any, *, src_crs: Any = None) -> PointCloud:
    """Transform x, y (and z through the CRS's vertical unit) into ``dst_crs``.

    Heights are converted between units (feet ↔ metres) but keep their vertical datum.
    """
    src = as_crs(src_crs) if src_crs is not None else cloud.crs
    if src is None:
        raise BadInputError(_("the cloud has no CRS: give the source CRS"), where=cloud.source)
    dst = as_crs(dst_crs)
    x, y = transform(cloud.x, cloud.y, src, dst)
    from lidar.io import _units

    xy_m, z_m = _units(dst)
    z = cloud.z * (cloud.z_unit_m / z_m)
    scales = cloud.scales
    if not dst.equals(src):  # 0.01 m kept as 0.01° would put every point on one spot
        scales = reprojected_scales(cloud.scales, src, dst, cloud.z_unit_m, z_m)
    return replace(cloud, x=x, y=y, z=z, crs=dst, xy_unit_m=xy_m, z_unit_m=z_m, scales=scales)


#: metres per degree of latitude (about; for choosing a scale, not for measuring)
_M_PER_DEG = 111_320.0


def _nice_scale(step: float) -> float:
    """The power of ten at or below ``step`` (a LAS scale: 0.01, 1e-7 ...)."""
    return float(10.0 ** math.floor(math.log10(step) + 1e-9))


def reprojected_scales(
    scales: tuple[float, float, float] | None,
    src: Any,
    dst: Any,
    z_unit_src_m: float = 1.0,
    z_unit_dst_m: float = 1.0,
) -> tuple[float, float, float]:
    """LAS scales for coordinates moved from ``src`` to ``dst``: the source's precision in
    metres (0.01 m by default) expressed as a power of ten of the target's unit.

    >>> from pyproj import CRS
    >>> reprojected_scales((0.01, 0.01, 0.01), CRS(32633), CRS(4326))
    (1e-08, 1e-08, 0.01)
    >>> reprojected_scales((1e-07, 1e-07, 0.01), CRS(4326), CRS(32633))
    (0.01, 0.01, 0.01)
    """
    from lidar.io import _units

    sx, sy, sz = scales or (0.01, 0.01, 0.01)
    src_m = _M_PER_DEG if src.is_geographic else _units(src)[0]
    dst_m = _M_PER_DEG if dst.is_geographic else _units(dst)[0]
    precision_m = min(sx, sy) * src_m
    xy = _nice_scale(max(precision_m, 1e-4) / dst_m)  # 0.1 mm at best
    zs = _nice_scale(sz * z_unit_src_m / z_unit_dst_m) if z_unit_src_m != z_unit_dst_m else sz
    return (xy, xy, zs)


def crop_bounds_mask(
    x: NDArray[np.float64], y: NDArray[np.float64], bounds: tuple[float, float, float, float]
) -> BoolArray:
    """Points inside (minx, miny, maxx, maxy), edges included."""
    minx, miny, maxx, maxy = bounds
    if not (minx < maxx and miny < maxy):
        raise BadInputError(_("bounds must be (minx, miny, maxx, maxy) with min < max"))
    return (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)


#: the largest coordinate a crop polygon may hold (a UTM northing is 1e7, a CRS in feet 7e7)
MAX_COORDINATE = 1e10


def crop_polygon_mask(
    x: NDArray[np.float64], y: NDArray[np.float64], polygon: shapely.Geometry | str
) -> BoolArray:
    """Points inside a (multi)polygon given as a shapely geometry or WKT (same CRS as points)."""
    with np.errstate(all="ignore"):  # GEOS's NaN / overflow: named below, not warned
        geom = shapely.from_wkt(polygon) if isinstance(polygon, str) else polygon
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise BadInputError(_("crop polygon must be a Polygon or MultiPolygon"))
    coords = shapely.get_coordinates(geom)
    if coords.size and np.nanmax(np.abs(coords)) > MAX_COORDINATE:
        # 1e308: GEOS's sums overflowed, no point was inside and all were kept
        raise BadInputError(
            _("crop polygon has coordinates beyond ±{m:g}, outside any CRS").format(
                m=MAX_COORDINATE
            )
        )
    if not shapely.is_valid(geom):
        raise BadInputError(
            _("crop polygon is invalid: {why}").format(why=shapely.is_valid_reason(geom))
        )
    if geom.is_empty or not geom.area > 0:  # POLYGON EMPTY: no point could lie inside
        raise BadInputError(_("crop polygon is empty (it encloses no area)"))
    shapely.prepare(geom)
    inside = np.zeros(x.shape[0], dtype=bool)
    minx, miny, maxx, maxy = geom.bounds
    cand = np.flatnonzero((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))
    if cand.size:
        inside[cand] = shapely.contains_xy(geom, x[cand], y[cand]) | shapely.intersects_xy(
            geom.boundary, x[cand], y[cand]
        )
    return inside


def _xyz(cloud: PointCloud) -> NDArray[np.float64]:
    return np.column_stack([cloud.x, cloud.y, cloud.z * (cloud.z_unit_m / cloud.xy_unit_m)])


def statistical_outliers(
    xyz: NDArray[np.float64] | tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    *,
    k: int = 8,
    multiplier: float = 2.5,
) -> BoolArray:
    """Statistical outlier removal: mean distance to the ``k`` nearest neighbours more than
    ``multiplier`` standard deviations above the global mean (PDAL ``method=statistical``).
    ``xyz`` is an (n, 3) array or a tuple of the three coordinate columns (no copy).

    The neighbours are exact; they are found through a voxel hash (:mod:`lidar.knn`), several
    times faster than a k-d tree on a surface-like cloud.
    """
    x, y, z = xyz if isinstance(xyz, tuple) else (xyz[:, 0], xyz[:, 1], xyz[:, 2])
    n = x.shape[0]
    if n <= k:
        return np.zeros(n, dtype=bool)
    mean_d = mean_knn_distance_xyz(x, y, z, k)
    limit = mean_d.mean() + multiplier * mean_d.std()
    return np.asarray(mean_d > limit)


def radius_outliers(xyz: NDArray[np.float64], *, radius: float = 1.0, min_k: int = 2) -> BoolArray:
    """Radius outlier removal: fewer than ``min_k`` other points within ``radius``: the
    ``min_k``-th nearest farther than ``radius`` (exact k nearest, :mod:`lidar.knn`). Counting
    every point within the radius (a k-d tree's ball query) cost every pair of a dense spot:
    400,000 copies of one point beside a field, or a radius of a kilometre, ran for minutes.

    >>> import numpy as np
    >>> pts = np.array([[0.0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [9, 9, 9]])
    >>> radius_outliers(pts, radius=1.0, min_k=2).tolist()
    [False, False, False, True]
    """
    n = xyz.shape[0]
    if n == 0 or min_k <= 0:
        return np.zeros(n, dtype=bool)
    d = kth_distance_xyz(xyz[:, 0], xyz[:, 1], xyz[:, 2], min_k)
    return np.asarray(~(d <= radius))  # NaN (min_k others do not exist): an outlier


def mark_noise(classification: NDArray[np.uint8], outliers: BoolArray) -> NDArray[np.uint8]:
    """Classification with outliers set to class 7 (low point, noise)."""
    out = classification.astype(np.uint8, copy=True)
    out[outliers] = NOISE
    return out


#: voxels along one axis of the cloud: beyond this the voxel is far finer than any LAS scale
#: (2**31 voxels over 1 km are 0.5 µm; the indices stay well inside int64)
_MAX_VOXELS_PER_AXIS = 2**31


def voxel_thin(xyz: NDArray[np.float64], size: float) -> NDArray[np.intp]:
    """Indices keeping, in every cubic voxel of edge ``size``, the point nearest its centre."""
    if not (size > 0 and math.isfinite(size)):
        raise BadInputError(_("voxel size must be positive"))
    if xyz.shape[0] == 0:
        return np.zeros(0, dtype=np.intp)
    origin = xyz.min(axis=0)
    extent = float(np.max(xyz.max(axis=0) - origin))
    if extent / size > _MAX_VOXELS_PER_AXIS:
        # the voxel indices overflowed int64 (1e-300 m kept 4 of 110,000 points, exit 0)
        raise BadInputError(
            _(
                "voxel size {v:g} (in the CRS's units) is far below the cloud's precision "
                "({e:,.0f} units across: at most {n:,} voxels along an axis)"
            ).format(v=size, e=extent, n=_MAX_VOXELS_PER_AXIS)
        )
    ijk = np.floor((xyz - origin) / size).astype(np.int64)
    centre = origin + (ijk + 0.5) * size
    d2 = ((xyz - centre) ** 2).sum(axis=1)
    _u, inv = np.unique(ijk, axis=0, return_inverse=True)
    inv = inv.ravel()
    order = np.lexsort((d2, inv))
    first = np.ones(order.size, dtype=bool)
    first[1:] = inv[order][1:] != inv[order][:-1]
    return np.sort(order[first])


class DimRange(NamedTuple):
    """One limit of ``filters.range``: ``Name[lo:hi]``; ``(``/``)`` leave a bound out."""

    name: str
    lo: float
    hi: float
    negate: bool
    lo_inclusive: bool = True
    hi_inclusive: bool = True

    def mask(self, v: NDArray[Any]) -> BoolArray:
        above = v >= self.lo if self.lo_inclusive else v > self.lo
        below = v <= self.hi if self.hi_inclusive else v < self.hi
        return np.asarray(above & below, dtype=bool)


_RANGE = re.compile(
    r"^(?P<pre>!?)\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<post>!?)\s*"
    r"(?P<open>[\[(])(?P<lo>[^:\])]*):(?P<hi>[^:\])]*)(?P<close>[\])])$"
)


def parse_ranges(expr: str) -> list[DimRange]:
    """Parse PDAL's ``filters.range`` limits, ``"Classification[2:2], Z[0:100]"``: an empty
    bound is open (``Z[:100]``), ``(`` or ``)`` excludes the bound (``Z(0:100]``), and ``!``
    after the name (PDAL's ``Classification![7:7]``) or before it negates the range. A range
    whose lower bound is above its upper one is refused (PDAL keeps no point, silently)."""
    out: list[DimRange] = []
    for part in [p.strip() for p in expr.split(",") if p.strip()]:
        m = _RANGE.match(part)
        if m is None or (m["pre"] and m["post"]):
            raise BadInputError(_("bad range {r!r}: expected Name[min:max]").format(r=part))
        try:
            lo = float(m["lo"]) if m["lo"].strip() else -np.inf
            hi = float(m["hi"]) if m["hi"].strip() else np.inf
        except ValueError as exc:
            raise BadInputError(
                _("bad range {r!r}: limits must be numbers").format(r=part)
            ) from exc
        if np.isnan(lo) or np.isnan(hi):  # every comparison with NaN is false: no point kept
            raise BadInputError(_("bad range {r!r}: a limit is NaN").format(r=part))
        lo_in, hi_in = m["open"] == "[", m["close"] == "]"
        if lo > hi or (lo == hi and not (lo_in and hi_in)):
            raise BadInputError(
                _("bad range {r!r}: its lower limit is above its upper one: no value fits").format(
                    r=part
                )
            )
        out.append(DimRange(m["name"], lo, hi, bool(m["pre"] or m["post"]), lo_in, hi_in))
    if not out:
        raise BadInputError(_("empty range expression"))
    return out


_ALIASES = {
    "x": "x",
    "y": "y",
    "z": "z",
    "classification": "classification",
    "intensity": "intensity",
    "returnnumber": "return_number",
    "numberofreturns": "number_of_returns",
    "heightaboveground": "HeightAboveGround",
    "hag": "HeightAboveGround",
    "gpstime": "gps_time",
    "pointsourceid": "point_source_id",
    "userdata": "user_data",
    "scananglerank": "scan_angle_rank",
    "scanangle": "scan_angle",
    "scandirectionflag": "scan_direction_flag",
    "edgeofflightline": "edge_of_flight_line",
    "red": "red",
    "green": "green",
    "blue": "blue",
    "infrared": "nir",
    "nir": "nir",
}


def dimension_key(name: str) -> str:
    """The cloud's key of a dimension named as PDAL or laspy name it (``ReturnNumber`` →
    ``return_number``, ``Z`` → ``z``); another name is kept as it is."""
    return _ALIASES.get(name.replace("_", "").lower(), name)


def dimension(cloud: PointCloud, name: str) -> NDArray[Any]:
    """A dimension by PDAL or laspy name (``Classification``, ``ReturnNumber``, ``Z`` ...)."""
    key = dimension_key(name)
    if key in ("x", "y", "z"):
        return np.asarray(getattr(cloud, key))
    if key not in cloud.dims:
        raise BadInputError(
            _("the cloud has no dimension {name!r}").format(name=name), where=cloud.source
        )
    return cloud.dims[key]


def range_mask(cloud: PointCloud, expr: str) -> BoolArray:
    """PDAL ``filters.range`` semantics: ranges on the same dimension are OR-ed, different
    dimensions AND-ed; a negated range (``!``) excludes."""
    by_dim: dict[str, BoolArray] = {}
    neg_mask = np.ones(len(cloud), dtype=bool)
    for r in parse_ranges(expr):
        m = r.mask(dimension(cloud, r.name))
        if r.negate:
            neg_mask &= ~m
        else:
            by_dim[r.name] = by_dim.get(r.name, np.zeros(len(cloud), dtype=bool)) | m
    mask = neg_mask
    for m in by_dim.values():
        mask = mask & m
    return mask


def returns_mask(
    return_number: NDArray[Any], number_of_returns: NDArray[Any], which: str
) -> BoolArray:
    """Points that are ``first``, ``last``, ``only`` or ``intermediate`` returns (comma list)."""
    rn = return_number.astype(np.int16)
    nr = number_of_returns.astype(np.int16)
    masks = {
        "first": (rn == 1) & (nr > 1),
        "last": (rn == nr) & (nr > 1),
        "only": nr <= 1,
        "intermediate": (rn > 1) & (rn < nr),
    }
    out = np.zeros(rn.shape[0], dtype=bool)
    for w in [s.strip() for s in which.split(",") if s.strip()]:
        if w not in masks:
            raise BadInputError(_("unknown return kind {w!r}").format(w=w))
        out |= masks[w]
    return out


def poisson_sample(x: NDArray[Any], y: NDArray[Any], z: NDArray[Any], radius: float) -> BoolArray:
    """PDAL's ``filters.sample``: in order, a point is kept when no point kept before it lies
    closer than ``radius`` (3-D, a strict comparison of squares as PDAL's). Kept points are
    hashed into voxels of 2·radius/√3 (PDAL's cell), so each test reads the 27 voxels around."""
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=bool)
    cell = 2.0 * radius / 3**0.5
    ox, oy, oz = float(x[0]), float(y[0]), float(z[0])
    ix = np.floor((np.asarray(x, np.float64) - ox) / cell)
    iy = np.floor((np.asarray(y, np.float64) - oy) / cell)
    iz = np.floor((np.asarray(z, np.float64) - oz) / cell)
    if max(np.abs(ix).max(), np.abs(iy).max(), np.abs(iz).max()) > _SAMPLE_REACH:
        raise BadInputError(
            _(
                "radius {r:g} is far below the cloud's extent: more than {n:,} voxels along an axis"
            ).format(r=radius, n=_SAMPLE_REACH)
        )
    return _poisson_kernel(
        np.asarray(x, np.float64),
        np.asarray(y, np.float64),
        np.asarray(z, np.float64),
        ix.astype(np.int64),
        iy.astype(np.int64),
        iz.astype(np.int64),
        radius * radius,
    )


#: voxels along an axis either side of the first point (the keys below stay within 2**61)
_SAMPLE_REACH = 2**19
_KEY_BASE = 2**20 + 3


@numba.njit(cache=True, nogil=True)
def _voxel_key(i: int, j: int, k: int) -> int:
    off = _SAMPLE_REACH + 1
    return ((i + off) * _KEY_BASE + (j + off)) * _KEY_BASE + (k + off)


@numba.njit(cache=True, nogil=True)
def _slot(keys: NDArray[Any], key: int) -> int:
    """The slot of ``key`` in an open-addressing table (linear probing; -1 marks a free slot):
    where it is, or the free slot where it would go."""
    mask = keys.shape[0] - 1
    h = (key * 0x9E3779B97F4A7C15) & 0x7FFFFFFFFFFFFFFF
    i = (h >> 17) & mask
    while keys[i] != -1 and keys[i] != key:
        i = (i + 1) & mask
    return i


@numba.njit(cache=True, nogil=True)
def _poisson_kernel(
    x: NDArray[Any],
    y: NDArray[Any],
    z: NDArray[Any],
    ix: NDArray[Any],
    iy: NDArray[Any],
    iz: NDArray[Any],
    r2: float,
) -> BoolArray:
    n = x.shape[0]
    keep = np.zeros(n, dtype=np.bool_)
    size = 1
    while size < 2 * n:
        size *= 2
    keys = np.full(size, -1, dtype=np.int64)  # voxel → its last kept point (a linked list)
    heads = np.full(size, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    for p in range(n):
        ok = True
        for dx in range(-1, 2):
            for dy in range(-1, 2):
                for dz in range(-1, 2):
                    s = _slot(keys, _voxel_key(ix[p] + dx, iy[p] + dy, iz[p] + dz))
                    q = heads[s] if keys[s] != -1 else -1
                    while q >= 0:
                        d2 = (x[q] - x[p]) ** 2 + (y[q] - y[p]) ** 2 + (z[q] - z[p]) ** 2
                        if d2 < r2:
                            ok = False
                            break
                        q = nxt[q]
                    if not ok:
                        break
                if not ok:
                    break
            if not ok:
                break
        if ok:
            keep[p] = True
            k0 = _voxel_key(ix[p], iy[p], iz[p])
            s = _slot(keys, k0)
            if keys[s] == -1:
                keys[s] = k0
            nxt[p] = heads[s]
            heads[s] = p
    return keep
