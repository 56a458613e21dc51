"""The clean-up of a ground classification: ground points standing above their neighbours' plane.

SMRF's last test takes every point within its threshold (0.5 m plus the slope's share) of the
provisional surface for ground, so low vegetation, kerbs and objects a few decimetres up join
the ground (most of the Type II error left on the ISPRS samples). Such a point stands above the
plane its nearest ground neighbours lie on by more than the scatter of those neighbours about
it; ground on a slope or in rough terrain does not (the plane follows the slope, the scatter the
roughness). :func:`clean_ground` fits, for every ground point, the least-squares plane
``z = a + b·dx + c·dy`` of its ``k`` nearest other ground points (in plan), measures their
robust scatter about it (1.4826 × the median absolute deviation of their residuals) and
drops the point when it stands more than ``above + spread × scatter`` over the plane; further
rounds would judge the ground that is left (SMRF runs one: a second gains 0.01 pp for twice the
time).

On the 15 ISPRS reference samples (k 24, 0.2 m, 3 scatters, 1 round, after SMRF with its
growth) the mean total error falls from 3.31 % to 3.17 % (13 samples better; samp53 and samp61,
terraces, 0.15 and 0.03 pp worse: a terrace edge stands above its neighbours' plane); nothing is
added to the ground.

The neighbours are found as in :mod:`lidar.knn`: the ground points hashed into square cells of
a few points, sorted by cell, each point's cells searched ring by ring until its ``k``-th
distance is settled (exact).

Then :func:`drop_raised_islands` (SMRF runs it after the plane test): ground points closer than
2.5 spacings are one surface when their heights differ by at most 0.2 m plus their distance;
a piece of that surface of at most 150 m² that stands above the ground on the other side of
90 % or more of the pairs cutting it off leaves the ground. Those are parts of roofs, lorries
and canopies that the opening kept, seen across a wall or a gap; the plane test keeps them,
as their neighbours are on the same roof. On the ISPRS samples the mean total error falls from
3.17 % to 3.08 % (Type II 5.80 → 5.59 %, Type I 2.18 → 2.19 %; six samples better, samp53
0.04 pp worse, the rest unchanged). The surface's pieces come from a compiled union-find over
every pair within the radius (cells of half of it, hashed by key: any extent), the cuts are
counted only around the pieces small enough to be islands.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from lidar.knn import _PARALLEL, CROWD, CROWD_DEPTH, _crowds, _voxel_edge

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: points per block of the full-size temporaries
BLOCK = 1 << 18

#: the cells' side over the distance that holds ``k + 1`` points: small cells, searched ring by
#: ring until the k-th distance is within the searched block (0.3: CSite4's 295,000 ground points
#: in 0.20 s, 0.7 took 0.26 s)
CELL_SHARE = 0.3

#: 1.4826 × MAD estimates the standard deviation of normally distributed residuals
MAD_SIGMA = 1.4826


@numba.njit(cache=True, nogil=True)
def _median(v: NDArray[np.float64], n: int) -> float:
    """Sort ``v[:n]`` in place (insertion: n is a few dozen) and return its median."""
    for i in range(1, n):
        t = v[i]
        j = i - 1
        while j >= 0 and v[j] > t:
            v[j + 1] = v[j]
            j -= 1
        v[j + 1] = t
    return 0.5 * (v[(n - 1) // 2] + v[n // 2])


@numba.njit(cache=True, nogil=True)
def _plane_range(
    pts: NDArray[np.float32],
    colstart: NDArray[np.int64],
    nx: int,
    ny: int,
    h: float,
    k: int,
    lo: int,
    hi: int,
    lowest: NDArray[np.float32],
    screen: float,
    height: NDArray[np.float32],
    scatter: NDArray[np.float32],
) -> None:
    """For sorted points ``lo..hi`` whose ``height`` is NaN: height over the plane of the
    ``k`` nearest others and their robust scatter about it (NaN when fewer than 3 others
    exist; -inf, not computed, for a point less than ``screen`` over the lowest point of its
    3 × 3 cells, ``lowest`` holding each cell's lowest)."""
    bd = np.empty(k, dtype=np.float64)  # the nearest so far: squared distances, ascending ...
    cj = np.empty(k, dtype=np.int64)  # ... and indices
    res = np.empty(k, dtype=np.float64)
    rmax = max(nx, ny)
    for i in range(lo, hi):
        if not np.isnan(height[i]):  # settled already (a crowd's point, on its own grid)
            continue
        px, py = np.float64(pts[i, 0]), np.float64(pts[i, 1])
        # the point's cell, as _sorted_planes computed it
        ix, iy = min(int(px / h), nx - 1), min(int(py / h), ny - 1)
        if screen > -np.inf:
            low = np.inf
            for a in range(max(ix - 1, 0), min(ix + 1, nx - 1) + 1):
                for b in range(max(iy - 1, 0), min(iy + 1, ny - 1) + 1):
                    low = min(low, lowest[a * ny + b])
            if pts[i, 2] - low < screen:
                height[i] = -np.inf
                scatter[i] = 0.0
                continue
        bd[:] = np.inf
        cj[:] = -1
        worst = np.inf
        for r in range(0, rmax + 1):
            for a in range(max(ix - r, 0), min(ix + r, nx - 1) + 1):
                edge_a = abs(a - ix) == r
                step = 1 if edge_a else 2 * r  # inside the shell: searched in an earlier ring
                b = max(iy - r, 0) if edge_a else iy - r
                top = min(iy + r, ny - 1)
                while b <= top:
                    if b >= 0:
                        c = a * ny + b
                        for j in range(colstart[c], colstart[c + 1]):
                            ex = pts[j, 0] - px
                            ey = pts[j, 1] - py
                            d2 = ex * ex + ey * ey
                            if d2 >= worst or j == i:
                                continue
                            q = k - 1
                            while q > 0 and bd[q - 1] > d2:
                                bd[q] = bd[q - 1]
                                cj[q] = cj[q - 1]
                                q -= 1
                            bd[q] = d2
                            cj[q] = j
                            worst = bd[k - 1]
                            if worst == 0.0:  # k others on the point: nothing comes nearer
                                break  # (copies of one point had cost every pair)
                    if worst == 0.0:
                        break
                    b += max(step, 1)
                if worst == 0.0:
                    break
            # every point nearer than the searched block's nearest edge lies in the block (no
            # edge on the grid's border: nothing lies beyond it)
            reach = np.inf
            if ix - r > 0:
                reach = min(reach, px - (ix - r) * h)
            if ix + r < nx - 1:
                reach = min(reach, (ix + r + 1) * h - px)
            if iy - r > 0:
                reach = min(reach, py - (iy - r) * h)
            if iy + r < ny - 1:
                reach = min(reach, (iy + r + 1) * h - py)
            if bd[k - 1] <= reach * reach:
                break
        m = 0
        while m < k and cj[m] >= 0:
            m += 1
        n = m  # the k nearest (fewer when the points are fewer)
        s = sx = sy = sxx = sxy = syy = sz = sxz = syz = 0.0
        for q in range(n):
            j = cj[q]
            dx = pts[j, 0] - px
            dy = pts[j, 1] - py
            dz = np.float64(pts[j, 2])
            s += 1.0
            sx += dx
            sy += dy
            sxx += dx * dx
            sxy += dx * dy
            syy += dy * dy
            sz += dz
            sxz += dx * dz
            syz += dy * dz
        if n < 3:
            height[i] = np.nan
            scatter[i] = np.nan
            continue
        # the normal equations with a tiny ridge (neighbours on one line: no tilt across it)
        e = 1e-9
        m00, m01, m02 = s + e, sx, sy
        m11, m12, m22 = sxx + e, sxy, syy + e
        c00 = m11 * m22 - m12 * m12
        c01 = m02 * m12 - m01 * m22
        c02 = m01 * m12 - m02 * m11
        det = m00 * c00 + m01 * c01 + m02 * c02
        c11 = m00 * m22 - m02 * m02
        c12 = m01 * m02 - m00 * m12
        c22 = m00 * m11 - m01 * m01
        pa = (c00 * sz + c01 * sxz + c02 * syz) / det
        pb = (c01 * sz + c11 * sxz + c12 * syz) / det
        pc = (c02 * sz + c12 * sxz + c22 * syz) / det
        for q in range(n):
            j = cj[q]
            res[q] = pts[j, 2] - (pa + pb * (pts[j, 0] - px) + pc * (pts[j, 1] - py))
        med = _median(res, n)
        for q in range(n):
            res[q] = abs(res[q] - med)
        height[i] = pts[i, 2] - pa
        scatter[i] = MAD_SIGMA * _median(res, n)


@numba.njit(cache=True, parallel=True)
def _plane_all(
    pts: NDArray[np.float32],
    colstart: NDArray[np.int64],
    nx: int,
    ny: int,
    h: float,
    k: int,
    lowest: NDArray[np.float32],
    screen: float,
    height: NDArray[np.float32],
    scatter: NDArray[np.float32],
) -> None:
    n = pts.shape[0]
    block = 4096
    nb = (n + block - 1) // block
    for b in numba.prange(nb):
        lo = b * block
        hi = min(n, lo + block)
        _plane_range(pts, colstart, nx, ny, h, k, lo, hi, lowest, screen, height, scatter)


def _cell_edge(x: FloatArray, y: FloatArray, n: int, k: int) -> tuple[float, float, float]:
    """(edge, width, height): square cells of about ``CELL_SHARE`` × the side holding ``k + 1``
    points of ``x, y`` (``n`` of them) over the occupied part of their box, fewer over a
    sparse large box and never narrower than the points along a line."""
    sx, sy = float(x.max() - x.min()), float(y.max() - y.min())
    # the density over the occupied part of the box (as lidar.knn): a dense patch beside far
    # stragglers put 50,000 points in a cell of the whole box's mean density (7 s for 200,000)
    h = _voxel_edge(x, y, k, share=CELL_SHARE)
    if (sx / h + 1) * (sy / h + 1) > 4 * n:  # sparse over a large box: fewer cells
        h = math.sqrt((sx + h) * (sy + h) / (4 * n))
    return max(h, max(sx, sy) / n), sx, sy  # points along a line


def _sort_into_cells(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    idx: NDArray[np.int64],
    origin: tuple[float, float, float],
    h: float,
    nx: int,
    ny: int,
) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]]:
    """(order, pts, colstart): the points ``idx`` sorted by their ``h`` cell of an ``nx`` ×
    ``ny`` grid from ``origin`` (their positions in ``idx``), their offsets from ``origin`` in
    that order (float32: a millimetre over 10 km; no copy of the float64 coordinates), and
    where each cell's points start."""
    col = _cell_keys(x, y, idx, origin, h, nx, ny)
    order = np.argsort(col, kind="stable")
    colstart = np.zeros(nx * ny + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=nx * ny), out=colstart[1:])
    del col
    return order, _offsets(x, y, z, idx, origin, order), colstart


def _cell_keys(
    x: FloatArray,
    y: FloatArray,
    idx: NDArray[np.int64],
    origin: tuple[float, float, float],
    h: float,
    nx: int,
    ny: int,
    block: int = BLOCK,
) -> NDArray[np.signedinteger[Any]]:
    """The cell ``ix * ny + iy`` of every point ``idx`` from its float32 offset from
    ``origin``, as the kernels compute it again from the sorted offsets (``block`` points at
    a time)."""
    n = idx.shape[0]
    ox, oy = origin[0], origin[1]
    col: NDArray[np.signedinteger[Any]] = np.empty(
        n, dtype=np.int32 if nx * ny < 2**31 else np.int64
    )
    for lo in range(0, n, block):
        i = idx[lo : lo + block]
        fx = (x[i] - ox).astype(np.float32).astype(np.float64)
        fy = (y[i] - oy).astype(np.float32).astype(np.float64)
        c = np.minimum((fx / h).astype(np.int64), nx - 1) * ny
        c += np.minimum((fy / h).astype(np.int64), ny - 1)
        col[lo : lo + block] = c
    return col


def _offsets(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    idx: NDArray[Any],
    origin: tuple[float, float, float],
    order: NDArray[np.int64] | None = None,
    block: int = BLOCK,
) -> NDArray[np.float32]:
    """The points ``idx`` (``idx[order]`` with an order) as float32 offsets from ``origin``
    (an (n, 3) array), ``block`` points at a time."""
    n = idx.shape[0]
    pts = np.empty((n, 3), dtype=np.float32)
    for lo in range(0, n, block):
        i = idx[lo : lo + block] if order is None else idx[order[lo : lo + block]]
        for c, v in enumerate((x, y, z)):
            pts[lo : lo + block, c] = v[i] - origin[c]
    return pts


def _sorted_planes(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    idx: NDArray[np.int64],
    k: int,
    screen: float = -np.inf,
    depth: int = 0,
) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float32]]:
    """The points ``idx`` sorted by cell (their positions in ``idx``), and in that order each
    one's height over its neighbours' plane and their scatter (:func:`plane_heights`).
    Work memory about 28 bytes a point. The points of crowded cells (:data:`lidar.knn.CROWD`)
    are settled first, on a grid of their own (``depth``: how many times this call refines a
    crowd already)."""
    n = idx.shape[0]
    xi, yi = x[idx], y[idx]  # one gather for the extent and the density
    origin = float(xi.min()), float(yi.min()), float(z[idx].min())
    h, sx, sy = _cell_edge(xi, yi, n, k)
    del xi, yi
    nx, ny = int(sx / h) + 1, int(sy / h) + 1
    order, pts, colstart = _sort_into_cells(x, y, z, idx, origin, h, nx, ny)
    # every cell's lowest point (+inf where empty)
    lowest = np.full(nx * ny, np.inf, dtype=np.float32)
    full = np.flatnonzero(colstart[1:] > colstart[:-1])
    lowest[full] = np.minimum.reduceat(pts[:, 2], colstart[full])
    height = np.full(n, np.nan, dtype=np.float32)
    scatter = np.empty(n, dtype=np.float32)
    if depth < CROWD_DEPTH:
        _settle_crowds(x, y, z, idx, k, screen, depth, order, pts, colstart, lowest, (nx, ny),
                       height, scatter)  # fmt: skip
    with _PARALLEL:
        _plane_all(pts, colstart, nx, ny, float(h), int(k), lowest, screen, height, scatter)
    return order, height, scatter


def _settle_crowds(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    idx: NDArray[np.int64],
    k: int,
    screen: float,
    depth: int,
    order: NDArray[np.int64],
    pts: NDArray[np.float32],
    colstart: NDArray[np.int64],
    lowest: NDArray[np.float32],
    shape: tuple[int, int],
    height: NDArray[np.float32],
    scatter: NDArray[np.float32],
) -> None:
    """The planes of the points in crowded cells (:func:`lidar.knn._crowds`), written into
    ``height`` and ``scatter`` at their sorted positions: screened as the kernel screens
    them, the rest on a grid of their own over the points within two cells (exact: a crowd's
    ``k`` nearest lie within its cell's diagonal). In a crowd the kernel read every point of
    it for every point of it (200,000 points in a clump 10 cm across: 42 s)."""
    nx, ny = shape
    crowd, near = _crowds(None, colstart, nx, ny, CROWD * (k + 1))
    if crowd.size == 0 or near.size >= idx.shape[0]:
        return
    if screen > -np.inf:  # the kernel's screen: the lowest point of the 3 × 3 cells
        cell = np.searchsorted(colstart, crowd, side="right") - 1
        ix, iy = np.divmod(cell, ny)
        low = np.full(crowd.shape[0], np.inf, dtype=np.float32)
        for da in (-1, 0, 1):
            for db in (-1, 0, 1):
                a, b = ix + da, iy + db
                ok = (a >= 0) & (a < nx) & (b >= 0) & (b < ny)
                low[ok] = np.minimum(low[ok], lowest[a[ok] * ny + b[ok]])
        low_enough = pts[crowd, 2] - low < screen
        height[crowd[low_enough]] = -np.inf
        scatter[crowd[low_enough]] = 0.0
        crowd = crowd[~low_enough]
        if crowd.size == 0:
            return
    sub_order, sub_h, sub_s = _sorted_planes(x, y, z, idx[order[near]], k, depth=depth + 1)
    at = np.empty(near.shape[0], dtype=np.int64)
    at[sub_order] = np.arange(near.shape[0])  # near's t-th point is the sub-call's at[t]-th
    t = at[np.searchsorted(near, crowd)]
    height[crowd] = sub_h[t]
    scatter[crowd] = sub_s[t]


def plane_heights(
    x: FloatArray, y: FloatArray, z: FloatArray, k: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """For every point: its height over the least-squares plane of its ``k`` nearest other
    points (in plan) and their robust scatter about that plane (NaN with fewer than 3 others).

    >>> import numpy as np
    >>> gx, gy = np.meshgrid(np.arange(10.0), np.arange(10.0))
    >>> x, y = gx.ravel(), gy.ravel()
    >>> z = 0.3 * x + np.where((x == 5) & (y == 5), 0.4, 0.0)
    >>> hgt, sc = plane_heights(x, y, z, 8)
    >>> round(float(hgt[55]), 3), round(float(sc[55]), 3), round(float(hgt[22]), 3)
    (0.4, 0.0, 0.0)
    """
    n = x.shape[0]
    out_h = np.empty(n, dtype=np.float32)
    out_s = np.empty(n, dtype=np.float32)
    if n:
        order, hgt, sc = _sorted_planes(x, y, z, np.arange(n), k)
        out_h[order] = hgt
        out_s[order] = sc
    return out_h, out_s


def clean_ground(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    ground: BoolArray,
    *,
    k: int,
    above: float,
    spread: float,
    rounds: int,
) -> BoolArray:
    """``ground`` without the points that stand more than ``above + spread × scatter`` over
    the plane of their ``k`` nearest ground neighbours, judged ``rounds`` times (see the
    module's note)."""
    ground = np.asarray(ground, dtype=bool).copy()
    for _ in range(rounds):
        idx = np.flatnonzero(ground)
        if idx.size <= k:
            break
        # a point less than ``above`` over the lowest point of its 3 × 3 cells (a few metres
        # across) hardly stands above its neighbours: kept without its plane (CSite4: 87 % of
        # the ground; the ISPRS samples 20-80 %, mean total error 3.167 -> 3.166 %)
        order, hgt, sc = _sorted_planes(x, y, z, idx, k, screen=above)
        drop = idx[order[hgt > above + spread * sc]]  # NaN (too few neighbours): kept
        del order, hgt, sc
        if drop.size == 0:
            break
        ground[drop] = False
    return ground


# --------------------------------------------------------------------------- raised islands
#: ground points closer than this many spacings (the ground's mean spacing over its occupied
#: area) are linked into one surface when their heights differ by at most the step plus
#: ``ISLAND_SLOPE`` × their distance
ISLAND_RADIUS = 2.5
ISLAND_SLOPE = 1.0
#: an island leaves the ground when it stands above the other side of at least this share of
#: the pairs that cut it off
ISLAND_UP = 0.9
#: cells of half the radius, searched 2 cells each way (5 × 5 cells: 6.25 r², against 9 r²
#: for cells of the radius; a cell a point or less where the points are)
ISLAND_SPLIT = 2
#: a point looks at every one of its neighbours' candidates up to this many (a normal cloud has
#: about 40 in the 5 × 5 cells), beyond (more than ten times the mean density: a hover spot,
#: thousands of copies of a point) at an even share of them: 200,000 copies of one point took
#: 100 s, all pairs; 2,048 left a million points in a 10 cm ball 15 s (512: 3.5 s)
ISLAND_PAIRS = 512
#: up to this many cells a point, every cell's first point is kept (a row's span read at
#: once); beyond, only the occupied cells', found by binary search
DENSE_CELLS = 4
#: the ground's spacing is estimated from at most this many of its points
SPACING_SAMPLE = 1 << 16
#: points per block of the islands' temporaries (half a megabyte of float64)
ISLAND_BLOCK = 1 << 16


def mean_spacing(x: FloatArray, y: FloatArray) -> float:
    """√(occupied area / points): the area counted in square cells that hold 4-16 points on
    average where occupied (finer cells would count the gaps between neighbours as empty,
    coarser ones the empty land beside the points as covered; a dense patch beside far
    stragglers keeps the patch's spacing).

    >>> import numpy as np
    >>> gx, gy = np.meshgrid(np.arange(0, 40, 0.5), np.arange(0, 40, 0.5))
    >>> x, y = gx.ravel(), gy.ravel()
    >>> round(mean_spacing(x, y), 2), round(mean_spacing(np.r_[x, 9e3], np.r_[y, 9e3]), 2)
    (0.52, 0.51)
    """
    n = x.shape[0]
    x0, y0 = float(x.min()), float(y.min())
    sx, sy = float(x.max()) - x0, float(y.max()) - y0
    c = 2.0 * math.sqrt(max(sx * sy, 1e-12) / n)  # cells of 4 points if spread evenly
    occupied, grew, shrank = n, False, False
    for _ in range(64):
        nx, ny = int(sx / c) + 1, int(sy / c) + 1
        if nx * ny >= 2**62:  # keys beyond int64: coarser
            c *= 2.0
            continue
        key = ((x - x0) / c).astype(np.int64) * ny
        key += ((y - y0) / c).astype(np.int64)
        occupied = np.unique(key).shape[0]
        per = n / occupied
        if per > 16 and not grew and c > 1e-6:
            c *= 0.5
            shrank = True
        elif per < 4 and occupied > 1 and not shrank:
            c *= 2.0
            grew = True
        else:
            break
    return math.sqrt(occupied * c * c / n)


@numba.njit(cache=True, nogil=True)
def _root(parent: NDArray[Any], i: int) -> int:
    """The root of ``i``'s tree, halving the path on the way."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(cache=True, nogil=True)
def _row_span(keys: NDArray[np.int64], starts: NDArray[Any], lo: int, hi: int) -> tuple[int, int]:
    """The sorted points of the cells ``lo..hi`` (consecutive keys: one row of a block).
    ``keys`` empty: ``starts`` is dense, the first point of every cell (and the end)."""
    if keys.shape[0] == 0:
        return starts[lo], starts[hi + 1]
    return starts[np.searchsorted(keys, lo)], starts[np.searchsorted(keys, hi + 1)]


@numba.njit(cache=True, nogil=True)
def _joined(dz: float, d2: float, step: float, slope: float) -> bool:
    """Two ground points ``√d2`` apart with heights ``dz`` apart lie on one surface."""
    dz = abs(dz)
    return dz <= step or (dz - step) * (dz - step) <= slope * slope * d2


@numba.njit(cache=True, nogil=True)
def _block_spans(
    pts: NDArray[np.float32],
    i: int,
    keys: NDArray[np.int64],
    starts: NDArray[Any],
    nx: int,
    ny: int,
    h: float,
    after: bool,
    spans: NDArray[np.int64],
) -> int:
    """The sorted points in the block of cells around point ``i`` (``ISLAND_SPLIT`` cells each
    way; ``after``: only the rows from its own on and the points after it, each pair once),
    row by row into ``spans`` (first, end; empty rows: first = end); returns the stride at
    which to read them: 1, or more where they are more than ``ISLAND_PAIRS``."""
    w = ISLAND_SPLIT
    ix = min(int(np.float64(pts[i, 0]) / h), nx - 1)
    iy = min(int(np.float64(pts[i, 1]) / h), ny - 1)
    b0, b1 = max(iy - w, 0), min(iy + w, ny - 1)
    a0 = ix if after else max(ix - w, 0)
    a1 = min(ix + w, nx - 1)
    spans[:, :] = 0
    total = 0
    for a in range(a0, a1 + 1):
        lo, hi = _row_span(keys, starts, a * ny + b0, a * ny + b1)
        if after:
            lo = max(lo, i + 1)
        if hi > lo:
            spans[a - a0, 0], spans[a - a0, 1] = lo, hi
            total += hi - lo
    return max(1, -(-total // ISLAND_PAIRS))


@numba.njit(cache=True, nogil=True)
def _island_links(
    pts: NDArray[np.float32],
    keys: NDArray[np.int64],
    starts: NDArray[Any],
    nx: int,
    ny: int,
    h: float,
    r: float,
    slope: float,
    step: float,
    parent: NDArray[Any],
) -> None:
    """Join the trees of ``parent`` of every pair of sorted points closer than ``r`` on one
    surface (:func:`_joined`), each pair once (cells of side ``h`` = ``r`` /
    ``ISLAND_SPLIT``: the occupied ones' ``keys``, their first points ``starts``)."""
    r2 = r * r
    spans = np.empty((2 * ISLAND_SPLIT + 1, 2), dtype=np.int64)
    for i in range(pts.shape[0]):
        stride = _block_spans(pts, i, keys, starts, nx, ny, h, True, spans)
        ri = _root(parent, i)
        for row in range(spans.shape[0]):
            for j in range(spans[row, 0], spans[row, 1], stride):
                ex = np.float64(pts[j, 0]) - np.float64(pts[i, 0])
                ey = np.float64(pts[j, 1]) - np.float64(pts[i, 1])
                d2 = ex * ex + ey * ey
                if d2 > r2 or not _joined(
                    np.float64(pts[i, 2]) - np.float64(pts[j, 2]), d2, step, slope
                ):
                    continue
                rj = _root(parent, j)
                if rj != ri:  # ri: i's root, kept up to date through the unions here
                    parent[max(ri, rj)] = min(ri, rj)
                    ri = min(ri, rj)


@numba.njit(cache=True, nogil=True)
def _island_cuts(
    pts: NDArray[np.float32],
    keys: NDArray[np.int64],
    starts: NDArray[Any],
    nx: int,
    ny: int,
    h: float,
    r: float,
    slope: float,
    step: float,
    comp: NDArray[Any],
    todo: NDArray[Any],
    ids: NDArray[Any],
    cut: NDArray[Any],
    up: NDArray[Any],
) -> None:
    """For the sorted points ``todo``: their pairs closer than ``r`` that are not on one
    surface and reach another component of ``comp``, counted for the point's component
    (``cut``, by its number ``ids[root]``), and those where the point is the higher (``up``)."""
    r2 = r * r
    spans = np.empty((2 * ISLAND_SPLIT + 1, 2), dtype=np.int64)
    for t in range(todo.shape[0]):
        i = todo[t]
        stride = _block_spans(pts, i, keys, starts, nx, ny, h, False, spans)
        c = comp[i]
        k = ids[c]
        for row in range(spans.shape[0]):
            for j in range(spans[row, 0], spans[row, 1], stride):
                if comp[j] == c:
                    continue
                ex = np.float64(pts[j, 0]) - np.float64(pts[i, 0])
                ey = np.float64(pts[j, 1]) - np.float64(pts[i, 1])
                d2 = ex * ex + ey * ey
                dz = np.float64(pts[i, 2]) - np.float64(pts[j, 2])
                # a pair on one surface across components: one the link pass's stride skipped
                if d2 > r2 or _joined(dz, d2, step, slope):
                    continue
                cut[k] += 1
                if dz > 0:
                    up[k] += 1


@numba.njit(cache=True, nogil=True)
def _roots(parent: NDArray[Any], comp: NDArray[Any]) -> None:
    for i in range(parent.shape[0]):
        comp[i] = _root(parent, i)


def drop_raised_islands(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    ground: BoolArray,
    *,
    step: float,
    area: float,
) -> BoolArray:
    """``ground`` without its raised islands: pieces of ground smaller than ``area`` that
    stand above the ground around them.

    Ground points closer than ``ISLAND_RADIUS`` spacings are one surface when their heights
    differ by at most ``step`` plus ``ISLAND_SLOPE`` × their distance; a piece of that surface
    covering at most ``area`` (its points × the spacing squared) leaves the ground when it
    stands above the other side of at least ``ISLAND_UP`` of the pairs that cut it off. Such a
    piece is a roof, a lorry or a platform canopy that SMRF's opening kept, with a wall or a gap
    all round (1.2 m of height per metre of the gap and more, for pairs up to 3 spacings
    apart); a terrace or a courtyard is lower than, or level with, what surrounds it, or
    larger.

    >>> import numpy as np
    >>> gx, gy = np.meshgrid(np.arange(40.0), np.arange(40.0))
    >>> x, y = gx.ravel(), gy.ravel()
    >>> shed = (abs(x - 20) < 3) & (abs(y - 20) < 3)
    >>> z = 0.1 * x + np.where(shed, 4.0, 0.0)
    >>> kept = drop_raised_islands(x, y, z, np.ones(x.size, bool), step=0.2, area=100.0)
    >>> bool(kept[shed].any()), bool(kept[~shed].all())
    (False, True)
    """
    ground = np.asarray(ground, dtype=bool).copy()
    idx = np.flatnonzero(ground)
    n = idx.shape[0]
    if n < 2:
        return ground
    # work memory about 28 bytes a ground point: int32 indices and counts, float32 offsets,
    # small blocks of temporaries, no gather of the float64 coordinates
    it = np.int32 if x.shape[0] < 2**31 else np.int64
    bk = ISLAND_BLOCK
    lo = [float(np.min(v, where=ground, initial=np.inf)) for v in (x, y, z)]
    hi = [float(np.max(v, where=ground, initial=-np.inf)) for v in (x, y)]
    origin = lo[0], lo[1], lo[2]
    sx, sy = hi[0] - lo[0], hi[1] - lo[1]
    few = idx[:: max(1, n // SPACING_SAMPLE)]  # the occupied area from a sample
    spacing = mean_spacing(x[few], y[few]) * math.sqrt(few.shape[0] / n)
    del few
    r = ISLAND_RADIUS * spacing
    h = max(r / ISLAND_SPLIT, max(sx, sy) / 2**30)  # cell keys within int64
    nx, ny = int(sx / h) + 1, int(sy / h) + 1
    keys = _cell_keys(x, y, idx, origin, h, nx, ny, bk)
    src = np.empty(n, dtype=it)  # the points' indices in the cloud, sorted by cell
    if nx * ny <= DENSE_CELLS * n:  # every cell's first point: a row's span read at once
        starts = np.zeros(nx * ny + 1, dtype=it)
        _counting_sort(keys, idx, starts, src)
        keys = np.empty(0, dtype=np.int64)
    else:  # the occupied cells' keys, searched (a dense patch beside far stragglers)
        order = np.argsort(keys, kind="stable")
        for b in range(0, n, bk):
            src[b : b + bk] = idx[order[b : b + bk]]
            order[b : b + bk] = keys[order[b : b + bk]]  # sorted keys, in place
        first = np.flatnonzero(np.r_[True, order[1:] != order[:-1]])
        starts = np.append(first, n).astype(it)
        keys = np.ascontiguousarray(order[first])
        del first, order
    del idx
    pts = _offsets(x, y, z, src, origin, block=bk)
    comp = np.arange(n, dtype=it)
    geo = (pts, keys, starts, nx, ny, float(h), float(r), ISLAND_SLOPE, float(step))
    _island_links(*geo, comp)
    _roots(comp, comp)  # every point's root: its component
    island = np.zeros(n, dtype=np.bool_)  # by root: the components of at most ``area`` ...
    ids = np.zeros(n, dtype=it)  # ... (then their numbers, counting from 0)
    m = _small_components(comp, spacing * spacing, area, ids, island)
    if m == 0:
        return ground
    todo = np.flatnonzero(island[comp]).astype(it)  # the points of small components
    cut = np.zeros(m, dtype=np.int64)
    up = np.zeros(m, dtype=np.int64)
    _island_cuts(*geo, comp, todo, ids, cut, up)
    del todo, pts
    _raised(ids, cut, up, ISLAND_UP, island)  # ... and standing above what cuts them off
    del ids, cut, up
    ground[src[island[comp]]] = False
    return ground


@numba.njit(cache=True, nogil=True)
def _raised(
    ids: NDArray[Any],
    cut: NDArray[np.int64],
    up: NDArray[np.int64],
    share: float,
    island: NDArray[np.bool_],
) -> None:
    """Keep in ``island`` the components (numbered ``ids``) cut off by some pairs and
    standing above the other side of at least ``share`` of them."""
    for c in range(island.shape[0]):
        if island[c]:
            k = ids[c]
            island[c] = cut[k] > 0 and up[k] >= share * cut[k]


@numba.njit(cache=True, nogil=True)
def _counting_sort(
    keys: NDArray[Any], idx: NDArray[np.int64], starts: NDArray[Any], src: NDArray[Any]
) -> None:
    """``src``: ``idx`` ordered by ``keys`` (stable); ``starts`` (zeros, one more than the
    cells): where each cell's points start, and the end."""
    for i in range(keys.shape[0]):
        starts[keys[i] + 1] += 1
    for c in range(1, starts.shape[0]):
        starts[c] += starts[c - 1]
    fill = starts[:-1].copy()
    for i in range(keys.shape[0]):
        c = keys[i]
        src[fill[c]] = idx[i]
        fill[c] += 1


@numba.njit(cache=True, nogil=True)
def _small_components(
    comp: NDArray[Any],
    cell_area: float,
    area: float,
    ids: NDArray[Any],
    small: NDArray[np.bool_],
) -> int:
    """``small[root]``: the component of ``root`` covers at most ``area`` (``cell_area`` a
    point), and ``ids[root]`` its number; returns how many. ``ids``: zeros (the counts on
    the way)."""
    for i in range(comp.shape[0]):
        ids[comp[i]] += 1
    m = 0
    for c in range(comp.shape[0]):
        small[c] = ids[c] > 0 and ids[c] * cell_area <= area
        ids[c] = m if small[c] else -1
        m += small[c]
    return m
