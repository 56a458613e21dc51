"""Exact k-nearest-neighbour distances of a whole cloud through a voxel hash (numba kernels).

The statistical outlier filter needs, for every point, the mean distance to its ``k`` nearest
neighbours. A k-d tree answers that at about 100-300 k points/s here; hashing the points into
cubic voxels of edge ``h`` (chosen so a voxel column holds about ``k`` ground points), sorting
them by voxel and searching the voxels around each point ring by ring is exact and several
times faster: a point whose ``k``-th neighbour lies within ``r * h`` needs only the
``(2r + 1)^3`` voxels around it. The few points still unresolved after ``MAX_RING`` rings
(isolated noise far from everything) search whole columns, at every height, ring by ring
until their ``k``-th distance is certified: exact, and no k-d tree of the whole cloud (which
would cost more memory than the cloud itself).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[Any]  # int32 or int64, whichever the sizes need

#: rings of voxels searched before a point is handed to the whole-column search
MAX_RING = 3

#: points per block of the full-size temporaries (bounded work memory on large clouds)
BLOCK = 1 << 18

#: a voxel holding more than this many times ``k + 1`` points (a density dozens of times the
#: surface's: a hover spot, a scanner left running on the ground) is a crowd: its points'
#: neighbours are found on a finer grid of their own (the points within two voxels of it),
#: which is exact, as a crowd's points have their ``k`` nearest within the voxel's diagonal.
#: Searched at the cloud's grid, each point of the crowd read every other: 200,000 points in
#: a clump 10 cm across took 90 s
CROWD = 16
#: crowds within crowds are refined this many times at most (copies of one point stay a crowd
#: at any grid: the search stops for them once ``k`` others lie on the point)
CROWD_DEPTH = 4

#: numba's default (workqueue) threading layer must not run two parallel kernels at once:
#: callers on several threads (a Dask worker's thread pool) take turns
_PARALLEL = threading.Lock()


@numba.njit(cache=True, nogil=True)
def _insert(best: NDArray[np.float64], d2: float) -> None:
    """Insert ``d2`` into the ascending array ``best`` (dropping its largest value)."""
    m = best.shape[0]
    if d2 >= best[m - 1]:
        return
    j = m - 1
    while j > 0 and best[j - 1] > d2:
        best[j] = best[j - 1]
        j -= 1
    best[j] = d2


@numba.njit(cache=True, nogil=True)
def _summary(best: NDArray[np.float64], k: int, kth: bool) -> float:
    """The ``k``-th distance (``kth``) or the mean of the ``k`` distances after the point's own
    (``best`` holds squared distances, ascending, the point's own 0 first)."""
    if kth:
        return math.sqrt(best[k])
    s = 0.0
    for j in range(1, k + 1):
        s += math.sqrt(best[j])
    return s / k


@numba.njit(cache=True, nogil=True)
def _lower_bound(v: NDArray[np.int32], lo: int, hi: int, value: int) -> int:
    """The first position in ``lo..hi`` of the ascending ``v`` whose value is at least
    ``value`` (``hi`` if none)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if v[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True)
def _knn_range(
    pts: NDArray[np.float32],
    col: NDArray[np.int64],
    vz: NDArray[np.int32],
    colstart: NDArray[np.int64],
    nx: int,
    ny: int,
    h: float,
    k: int,
    lo: int,
    hi: int,
    out: NDArray[np.float64],
    kth: bool,
) -> None:
    """Mean distance to the ``k`` nearest other points (the ``k``-th distance with ``kth``) for
    sorted points ``lo..hi`` whose ``out`` is NaN (left NaN when ``MAX_RING`` rings of voxels
    do not settle it)."""
    best = np.empty(k + 1, dtype=np.float64)
    for i in range(lo, hi):
        if not np.isnan(out[i]):  # settled already (a crowd's point, on its own grid)
            continue
        px, py, pz = pts[i, 0], pts[i, 1], pts[i, 2]
        ix, iy, iz = col[i] // ny, col[i] % ny, vz[i]
        best[:] = np.inf
        done = False
        for r in range(1, MAX_RING + 1):
            for a in range(max(ix - r, 0), min(ix + r, nx - 1) + 1):
                for b in range(max(iy - r, 0), min(iy + r, ny - 1) + 1):
                    # the shell of ring r: a whole edge column, or the top and bottom voxels
                    edge = abs(a - ix) == r or abs(b - iy) == r
                    c = a * ny + b
                    # a column's voxels are sorted by height: start at the lowest in reach
                    # (a tall column, trees or a crowd's grid, was read from its foot)
                    for j in range(_lower_bound(vz, colstart[c], colstart[c + 1], iz - r),
                                   colstart[c + 1]):  # fmt: skip
                        dz = abs(vz[j] - iz)
                        if dz > r:
                            break
                        if not edge and dz != r and r > 1:
                            continue
                        ex = pts[j, 0] - px
                        ey = pts[j, 1] - py
                        ez = pts[j, 2] - pz
                        _insert(best, ex * ex + ey * ey + ez * ez)
                        if best[k] == 0.0:  # k others on the point: nothing comes nearer
                            break  # (thousands of copies of one point had cost n²)
                    if best[k] == 0.0:
                        break
                if best[k] == 0.0:
                    break
            # every point within r * h of this one lies in the searched block
            if best[k] <= (r * h) * (r * h):
                done = True
                break
        if done:
            out[i] = _summary(best, k, kth)
        else:
            out[i] = np.nan


@numba.njit(cache=True, parallel=True)
def _knn_all(
    pts: NDArray[np.float32],
    col: NDArray[np.int64],
    vz: NDArray[np.int32],
    colstart: NDArray[np.int64],
    nx: int,
    ny: int,
    h: float,
    k: int,
    out: NDArray[np.float64],
    kth: bool,
) -> None:
    n = pts.shape[0]
    block = 4096
    nb = (n + block - 1) // block
    for b in numba.prange(nb):
        lo = b * block
        _knn_range(pts, col, vz, colstart, nx, ny, h, k, lo, min(n, lo + block), out, kth)


def _voxel_edge(x: FloatArray, y: FloatArray, k: int, share: float = 0.7) -> float:
    """A voxel edge giving about ``k`` points per occupied column (a surface's density):
    ``share`` times the side of a square holding ``k + 1`` points, the density taken over
    the occupied part of the points' box (a dense patch beside far stragglers keeps small
    cells)."""
    x0, y0 = float(x.min()), float(y.min())
    sx = max(float(x.max()) - x0, 1e-9)
    sy = max(float(y.max()) - y0, 1e-9)
    g = 128
    i = np.minimum(((x - x0) * (g / sx)).astype(np.int64), g - 1) * g
    i += np.minimum(((y - y0) * (g / sy)).astype(np.int64), g - 1)
    occupied = np.count_nonzero(np.bincount(i, minlength=g * g))
    area = sx * sy * occupied / (g * g)
    density = x.shape[0] / max(area, 1e-12)
    return max(share * math.sqrt((k + 1) / density), 1e-6)


def mean_knn_distance(xyz: FloatArray, k: int) -> FloatArray:
    """Mean distance from every point of an (n, 3) array to its ``k`` nearest other points.

    >>> import numpy as np
    >>> g = np.stack(np.meshgrid(np.arange(5.0), np.arange(5.0), [0.0]), -1).reshape(-1, 3)
    >>> float(mean_knn_distance(g, 4)[12])
    1.0
    """
    return mean_knn_distance_xyz(xyz[:, 0], xyz[:, 1], xyz[:, 2], k)


def kth_distance_xyz(
    x: FloatArray, y: FloatArray, z: FloatArray, k: int, *, block: int = BLOCK
) -> FloatArray:
    """The distance from every point to its ``k``-th nearest other point (found as
    :func:`mean_knn_distance_xyz` finds them: exact, NaN with ``k`` or fewer points).

    >>> import numpy as np
    >>> g = np.stack(np.meshgrid(np.arange(5.0), np.arange(5.0), [0.0]), -1).reshape(-1, 3)
    >>> round(float(kth_distance_xyz(g[:, 0], g[:, 1], g[:, 2], 5)[12]), 3)
    1.414
    """
    return _knn_distances(x, y, z, k, True, block, 0)


def mean_knn_distance_xyz(
    x: FloatArray, y: FloatArray, z: FloatArray, k: int, *, block: int = BLOCK
) -> FloatArray:
    """:func:`mean_knn_distance` on coordinate columns (no (n, 3) copy of the cloud).

    Distances are exact up to float32 rounding of the offsets from the cloud's corner (a
    millimetre over 10 km). Work memory: about 36 bytes per point (a sort key, the sorted
    float32 offsets, 32-bit voxel indices and the result), every full-size temporary built
    ``block`` points at a time (the answer does not depend on it).
    """
    return _knn_distances(x, y, z, k, False, block, 0)


def _knn_distances(
    x: FloatArray, y: FloatArray, z: FloatArray, k: int, kth: bool, block: int, depth: int
) -> FloatArray:
    """Every point's mean distance to its ``k`` nearest others, or (``kth``) the ``k``-th
    distance. The points of crowded voxels (``CROWD``) are settled first, on a grid of their
    own (``depth``: how many times this call refines a crowd already)."""
    n = x.shape[0]
    if n <= k:
        return np.full(n, np.nan)
    ox, oy, oz = float(x.min()), float(y.min()), float(z.min())
    span = (float(x.max()) - ox, float(y.max()) - oy, float(z.max()) - oz)
    h = _voxel_edge(x, y, k)
    if (span[0] / h + 1) * (span[1] / h + 1) > n:  # sparse over a large box: fewer columns
        h = max(h, math.sqrt((span[0] + h) * (span[1] + h) / n))
    # points along a line (one scan line, a wire): the area is nil and the edge above would be
    # far finer than the spacing, so the ring search ran hundreds of rings per point (minutes)
    h = max(h, max(span[0], span[1]) / n)
    nx, ny = int(span[0] / h) + 1, int(span[1] / h) + 1
    nz = min(int(span[2] / h) + 1, 2**31 - 1)
    col, vz, order = _sorted_voxels(x, y, z, (ox, oy, oz), h, (nx, ny, nz), block)
    pts = np.empty((n, 3), dtype=np.float32)
    for lo in range(0, n, block):
        o = order[lo : lo + block]
        for j, (v, origin) in enumerate(((x, ox), (y, oy), (z, oz))):
            pts[lo : lo + block, j] = v[o] - origin
    colstart = np.searchsorted(col, np.arange(nx * ny + 1, dtype=np.int64))
    res = np.full(n, np.nan)
    if depth < CROWD_DEPTH:
        crowd, near = _crowds(vz, colstart, nx, ny, CROWD * (k + 1))
        if crowd.size and near.size < n:
            o = order[near]
            sub = _knn_distances(x[o], y[o], z[o], k, kth, block, depth + 1)
            res[crowd] = sub[np.searchsorted(near, crowd)]
            del o, sub
        del crowd, near
    with _PARALLEL:
        _knn_all(pts, col, vz, colstart, nx, ny, float(h), int(k), res, kth)
        unresolved = np.flatnonzero(np.isnan(res))
        if unresolved.size:  # isolated points: whole columns, ring by ring, at any height
            _knn_far_all(pts, col, colstart, nx, ny, float(h), int(k), unresolved, res, kth)
    del col, vz, colstart, pts
    out = np.empty(n)
    out[order] = res
    return out


def _crowds(
    vz: NDArray[np.int32] | None, colstart: IntArray, nx: int, ny: int, limit: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(crowd, near): the sorted positions of the points in voxels of more than ``limit``
    points, and of every point within two voxels of such a voxel (crowd among them), both
    ascending. A point of a crowd has ``k < limit`` others within its voxel's diagonal, less
    than two voxels: its ``k`` nearest are all among ``near``. ``vz`` None: the columns are
    the cells (a search in plan)."""
    counts = np.diff(colstart)
    crowd: list[NDArray[np.int64]] = []
    near: list[NDArray[np.int64]] = []
    for c in np.flatnonzero(counts > limit).tolist():  # a column of more: maybe a crowd
        s, e = int(colstart[c]), int(colstart[c + 1])
        if vz is None:
            rows, first, size = np.zeros(1, np.int64), np.zeros(1, np.int64), np.array([e - s])
        else:
            rows, first, size = np.unique(vz[s:e], return_index=True, return_counts=True)
        ix, iy = divmod(c, ny)
        for v, f, m in zip(rows.tolist(), first.tolist(), size.tolist(), strict=True):
            if m <= limit:
                continue
            crowd.append(np.arange(s + f, s + f + m, dtype=np.int64))
            for a in range(max(ix - 2, 0), min(ix + 2, nx - 1) + 1):
                for b in range(max(iy - 2, 0), min(iy + 2, ny - 1) + 1):
                    c2 = a * ny + b
                    lo, hi = int(colstart[c2]), int(colstart[c2 + 1])
                    if vz is not None:
                        z2 = vz[lo:hi]
                        lo, hi = (lo + int(np.searchsorted(z2, v - 2, side="left")),
                                  lo + int(np.searchsorted(z2, v + 2, side="right")))  # fmt: skip
                    near.append(np.arange(lo, hi, dtype=np.int64))
    if not crowd:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(crowd), np.unique(np.concatenate(near))


def _sorted_voxels(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    origin: tuple[float, float, float],
    h: float,
    shape: tuple[int, int, int],
    block: int = BLOCK,
) -> tuple[IntArray, NDArray[np.int32], IntArray]:
    """(column, voxel row, order): the points' voxels sorted by column then height, and the
    order that sorts the points so; 32-bit whenever the sizes allow."""
    n = x.shape[0]
    (ox, oy, oz), (nx, ny, nz) = origin, shape
    idx_t = np.int32 if n < 2**31 else np.int64
    col_t = np.int32 if nx * ny < 2**31 else np.int64
    col = np.empty(n, dtype=col_t)
    vz = np.empty(n, dtype=np.int32)
    if float(nx) * ny * nz >= 2.0**62:  # absurd heights: sort by the two keys
        for lo in range(0, n, block):
            b = slice(lo, lo + block)
            c = np.minimum(((x[b] - ox) / h).astype(np.int64), nx - 1) * ny
            c += np.minimum(((y[b] - oy) / h).astype(np.int64), ny - 1)
            col[b] = c
            vz[b] = np.minimum((z[b] - oz) / h, nz - 1).astype(np.int32)
        order = np.lexsort((vz, col)).astype(idx_t)
        return col[order], vz[order], order
    key = np.empty(n, dtype=np.int64)
    for lo in range(0, n, block):
        b = slice(lo, lo + block)
        c = np.minimum(((x[b] - ox) / h).astype(np.int64), nx - 1) * ny
        c += np.minimum(((y[b] - oy) / h).astype(np.int64), ny - 1)
        key[b] = c * nz + np.minimum((z[b] - oz) / h, nz - 1).astype(np.int32)
    order64 = np.argsort(key)
    order = order64.astype(idx_t)
    del order64
    for lo in range(0, n, block):
        b = slice(lo, lo + block)
        kb = key[order[b]]
        col[b] = kb // nz
        vz[b] = kb - (kb // nz) * nz
    return col, vz, order


@numba.njit(cache=True, nogil=True)
def _knn_far(
    pts: NDArray[np.float32],
    col: NDArray[np.int64],
    colstart: NDArray[np.int64],
    nx: int,
    ny: int,
    h: float,
    k: int,
    i: int,
    best: NDArray[np.float64],
    kth: bool,
) -> float:
    """Mean distance from sorted point ``i`` to its ``k`` nearest other points, searching whole
    columns (every height) ring by ring until the ``k``-th distance is certified."""
    px, py, pz = float(pts[i, 0]), float(pts[i, 1]), float(pts[i, 2])
    ix, iy = col[i] // ny, col[i] % ny
    best[:] = np.inf
    r = 0
    while True:
        for a in range(max(ix - r, 0), min(ix + r, nx - 1) + 1):
            edge_a = abs(a - ix) == r
            for b in range(max(iy - r, 0), min(iy + r, ny - 1) + 1):
                if not edge_a and abs(b - iy) != r:
                    continue
                c = a * ny + b
                for j in range(colstart[c], colstart[c + 1]):
                    ex = float(pts[j, 0]) - px
                    ey = float(pts[j, 1]) - py
                    ez = float(pts[j, 2]) - pz
                    _insert(best, ex * ex + ey * ey + ez * ez)
        # every point closer than r * h lies in the columns searched
        if best[k] <= (r * h) * (r * h) or r >= max(ix, iy, nx - 1 - ix, ny - 1 - iy):
            break
        r += 1
    return _summary(best, k, kth)


@numba.njit(cache=True, parallel=True)
def _knn_far_all(
    pts: NDArray[np.float32],
    col: NDArray[np.int64],
    colstart: NDArray[np.int64],
    nx: int,
    ny: int,
    h: float,
    k: int,
    which: NDArray[np.int64],
    out: NDArray[np.float64],
    kth: bool,
) -> None:
    for t in numba.prange(which.shape[0]):
        best = np.empty(k + 1, dtype=np.float64)
        out[which[t]] = _knn_far(pts, col, colstart, nx, ny, h, k, which[t], best, kth)
