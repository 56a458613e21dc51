"""Compiled kernels of the ground filter: 3×3 erosion/dilation, rotated-grid binning/sampling.

SMRF's answer depends on the orientation and origin of its grid (where each cell's lowest point
falls; which way the octagon's faces point). :func:`lidar.ground.smrf` averages over several
orientations; these kernels bin and sample the points on a grid rotated about ``(cx, cy)`` by
an angle given as its cosine and sine, computing the rotated coordinates point by point (no
rotated copy of the cloud). In rotated coordinates ``u = dx·cos + dy·sin``,
``v = −dx·sin + dy·cos`` with ``dx = x − cx``, ``dy = y − cy``; the grid is north-up in
``(u, v)`` exactly like :class:`lidar.grid.GridSpec`.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@numba.njit(cache=True, nogil=True)
def step3x3(a: FloatArray, cross: bool, dilate: bool) -> FloatArray:
    """One erosion (or dilation) of a NaN-free grid with a 3×3 cross or square, edges
    replicated: the same values as the padded ``np.minimum``/``np.maximum`` passes, in one
    sweep instead of nine."""
    rows, cols = a.shape
    out = np.empty_like(a)
    for r in range(rows):
        ru = a[max(r - 1, 0)]
        rm = a[r]
        rd = a[min(r + 1, rows - 1)]
        o = out[r]
        for c in range(cols):
            cl = max(c - 1, 0)
            cr = min(c + 1, cols - 1)
            if dilate:
                m = max(max(max(rm[c], ru[c]), max(rd[c], rm[cl])), rm[cr])
                if not cross:
                    m = max(max(m, ru[cl]), max(max(ru[cr], rd[cl]), rd[cr]))
            else:
                m = min(min(min(rm[c], ru[c]), min(rd[c], rm[cl])), rm[cr])
                if not cross:
                    m = min(min(m, ru[cl]), min(min(ru[cr], rd[cl]), rd[cr]))
            o[c] = m
    return out


@numba.njit(cache=True, nogil=True)
def rotated_bounds(
    x: FloatArray,
    y: FloatArray,
    mask: BoolArray,
    use_mask: bool,
    rot: tuple[float, float, float, float],
) -> tuple[float, float, float, float]:
    """(min u, min v, max u, max v) of the points (of those in ``mask``) in rotated
    coordinates; ``rot`` = (cx, cy, cos, sin)."""
    cx, cy, co, si = rot
    lo_u = lo_v = math.inf
    hi_u = hi_v = -math.inf
    for i in range(x.shape[0]):
        if use_mask and not mask[i]:
            continue
        dx = x[i] - cx
        dy = y[i] - cy
        u = dx * co + dy * si
        v = dy * co - dx * si
        lo_u = min(lo_u, u)
        hi_u = max(hi_u, u)
        lo_v = min(lo_v, v)
        hi_v = max(hi_v, v)
    return lo_u, lo_v, hi_u, hi_v


@numba.njit(cache=True, nogil=True)
def cell_of(u: float, v: float, grid: tuple[float, float, float, int, int]) -> tuple[int, int]:
    """The row and column of the cell of the north-up ``grid`` = (left, top, res, rows, cols)
    holding ``(u, v)``, clipped to the grid (as :meth:`lidar.grid.GridSpec.index`)."""
    left, top, res, rows, cols = grid
    c = min(max(math.floor((u - left) / res), 0), cols - 1)
    r = min(max(math.floor((top - v) / res), 0), rows - 1)
    return r, c


@numba.njit(cache=True, nogil=True)
def rotated_cell_min(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    mask: BoolArray,
    use_mask: bool,
    rot: tuple[float, float, float, float],
    grid: tuple[float, float, float, int, int],
) -> FloatArray:
    """Lowest ``z`` per cell of the rotated grid ``grid`` = (left, top, res, rows, cols); NaN
    where empty."""
    cx, cy, co, si = rot
    rows, cols = grid[3], grid[4]
    out = np.full((rows, cols), np.inf)
    for i in range(x.shape[0]):
        if use_mask and not mask[i]:
            continue
        dx = x[i] - cx
        dy = y[i] - cy
        r, c = cell_of(dx * co + dy * si, dy * co - dx * si, grid)
        if z[i] < out[r, c]:
            out[r, c] = z[i]
    for r in range(rows):
        for c in range(cols):
            if out[r, c] == np.inf:
                out[r, c] = np.nan
    return out


@numba.njit(cache=True, nogil=True)
def _surface_at(
    u: float, v: float, grid: tuple[float, float, float, int, int], surface: FloatArray
) -> tuple[float, int, int]:
    """The surface (cell-centre values of the north-up ``grid``) at ``(u, v)``, bilinear as
    :func:`lidar.grid.bilinear` computes it, and the row and column of the cell holding the
    point (as :meth:`lidar.grid.GridSpec.index`)."""
    left, top, res, rows, cols = grid
    fc = min(max((u - left) / res - 0.5, 0.0), cols - 1.0)
    fr = min(max((top - v) / res - 0.5, 0.0), rows - 1.0)
    c0 = min(math.floor(fc), max(cols - 2, 0))
    r0 = min(math.floor(fr), max(rows - 2, 0))
    c1 = min(c0 + 1, cols - 1)
    r1 = min(r0 + 1, rows - 1)
    tc = fc - c0
    tr = fr - r0
    upper = surface[r0, c0] * (1 - tc) + surface[r0, c1] * tc
    lower = surface[r1, c0] * (1 - tc) + surface[r1, c1] * tc
    r, c = cell_of(u, v, grid)
    return upper * (1 - tr) + lower * tr, r, c


@numba.njit(cache=True, nogil=True)
def accumulate_residuals(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    rot: tuple[float, float, float, float],
    grid: tuple[float, float, float, int, int],
    surface: FloatArray,
    slope: FloatArray,
    res_sum: NDArray[np.float32],
    slope_sum: NDArray[np.float32],
) -> None:
    """Add each point's height above ``surface`` (bilinear at the point, as
    :func:`lidar.grid.bilinear`) and the slope of its cell to the running sums."""
    cx, cy, co, si = rot
    for i in range(x.shape[0]):
        dx = x[i] - cx
        dy = y[i] - cy
        ez, r, c = _surface_at(dx * co + dy * si, dy * co - dx * si, grid, surface)
        res_sum[i] += z[i] - ez
        slope_sum[i] += slope[r, c]


@numba.njit(cache=True, nogil=True)
def within_threshold(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    mask: BoolArray,
    use_mask: bool,
    grid: tuple[float, float, float, int, int],
    dem: FloatArray,
    slope: FloatArray,
    threshold: float,
    scalar: float,
    out: BoolArray,
) -> None:
    """Single-grid SMRF's last step on the north-up ``grid``: ``out[i]`` is whether point ``i``
    (one of ``mask``'s when ``use_mask``) lies within ``threshold + scalar × slope`` of the
    provisional DEM (bilinear at the point; the slope of its cell). Point by point: no
    per-point temporaries (a block of numpy steps took 10 arrays of 2 MB)."""
    for i in range(x.shape[0]):
        if use_mask and not mask[i]:
            out[i] = False
            continue
        ez, r, c = _surface_at(x[i], y[i], grid, dem)
        out[i] = abs(z[i] - ez) <= threshold + scalar * slope[r, c]


@numba.njit(cache=True, nogil=True)
def _node_cell(
    x: float, y: float, nodes: tuple[float, float, float, int, int]
) -> tuple[int, int, float, float]:
    """The column and row of the node-grid cell holding ``(x, y)`` (its lower-left node,
    clipped to the grid) and the fractions across it, as :meth:`lidar.tps.NodeGrid.cells`."""
    x0, y0, h, nx, ny = nodes
    fx = (x - x0) / h
    fy = (y - y0) / h
    ci = min(max(math.floor(fx), 0), nx - 2)
    cj = min(max(math.floor(fy), 0), ny - 2)
    return ci, cj, fx - ci, fy - cj


@numba.njit(cache=True, nogil=True)
def node_cell_sums(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    mask: BoolArray,
    use_mask: bool,
    nodes: tuple[float, float, float, int, int],
    z0: float,
    ata: FloatArray,
    atz: FloatArray,
    count: FloatArray,
) -> None:
    """Add, per cell of the node grid ``nodes`` = (x0, y0, h, nx, ny) (cells flat, row-major),
    the 10 products w_k w_m of each point's bilinear weights (pairs in the order of
    ``lidar.tps._PAIRS``), the 4 products w_k (z − z0) and the count, over the points of
    ``mask`` when ``use_mask`` (see :func:`lidar.tps._cell_sums`)."""
    nx = nodes[3]
    for i in range(x.shape[0]):
        if use_mask and not mask[i]:
            continue
        ci, cj, u, v = _node_cell(x[i], y[i], nodes)
        w = ((1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v)
        c = cj * (nx - 1) + ci
        dz = z[i] - z0
        p = 0
        for k in range(4):
            for m in range(k, 4):
                ata[p, c] += w[k] * w[m]
                p += 1
            atz[k, c] += w[k] * dz
        count[c] += 1.0


@numba.njit(cache=True, nogil=True)
def node_surface_at(
    f: FloatArray,
    x: FloatArray,
    y: FloatArray,
    idx: NDArray[np.int64],
    nodes: tuple[float, float, float, int, int],
    out: FloatArray,
) -> None:
    """The node surface ``f`` (``ny × nx``) bilinear at the points ``idx`` (as
    :meth:`lidar.tps.NodeGrid.sample`), into ``out`` (one value per index): no copy of their
    coordinates."""
    for n in range(idx.shape[0]):
        ci, cj, u, v = _node_cell(x[idx[n]], y[idx[n]], nodes)
        out[n] = (1 - v) * ((1 - u) * f[cj, ci] + u * f[cj, ci + 1]) + v * (
            (1 - u) * f[cj + 1, ci] + u * f[cj + 1, ci + 1]
        )


#: rows of a block of the gradients' sums: each block's sum is taken alone, then the blocks'
#: in order, so the answer does not depend on how many threads share the rows
CG_BLOCK_ROWS = 2048


@numba.njit(cache=True, nogil=True)
def _in_order(a: FloatArray, b: FloatArray) -> tuple[float, float]:
    """The sums of the blocks' partial sums, first block first."""
    sa = 0.0
    sb = 0.0
    for k in range(a.shape[0]):
        sa += a[k]
        sb += b[k]
    return sa, sb


@numba.njit(cache=True, parallel=True, nogil=True)
def jacobi_cg(
    indptr: NDArray[np.int32],
    indices: NDArray[np.int32],
    data: FloatArray,
    b: FloatArray,
    x0: FloatArray,
    rtol: float,
    maxiter: int,
) -> tuple[FloatArray, int]:
    """Conjugate gradients with the Jacobi preconditioner for the symmetric positive definite
    CSR matrix ``(indptr, indices, data)``: ``A x = b`` from ``x0`` until ``‖b − A x‖ ≤ rtol ‖b‖``
    or ``maxiter`` steps; (x, steps taken). ``scipy.sparse.linalg.cg`` does the same, but every
    dot product there goes through the multi-threaded BLAS, whose threads wait for a core on a
    busy machine: a 72 k-node surface took 19 s there and 1.7 s single-threaded (the autzen
    sample cloud while the machine ran other work). Here the rows are shared by the cores in
    blocks of :data:`CG_BLOCK_ROWS` and each dot product is summed block by block in a fixed
    order: the same answer, to the bit, on one core or many (1.5–1.8× faster on two)."""
    n = b.shape[0]
    nblk = (n + CG_BLOCK_ROWS - 1) // CG_BLOCK_ROWS
    part = np.zeros(nblk)
    part2 = np.zeros(nblk)
    inv = np.zeros(n)
    x = x0.copy()
    r = np.empty(n)
    z = np.empty(n)
    p = np.empty(n)
    q = np.empty(n)
    for k in numba.prange(nblk):
        s1 = 0.0
        s2 = 0.0
        for i in range(k * CG_BLOCK_ROWS, min(n, (k + 1) * CG_BLOCK_ROWS)):
            d = 0.0
            s = 0.0
            for j in range(indptr[i], indptr[i + 1]):
                if indices[j] == i:
                    d += data[j]
                s += data[j] * x[indices[j]]
            inv[i] = 1.0 / d if d != 0.0 else 0.0
            r[i] = b[i] - s
            z[i] = inv[i] * r[i]
            p[i] = z[i]
            s1 += b[i] * b[i]
            s2 += r[i] * r[i]
        part[k] = s1
        part2[k] = s2
    bnorm2, rr = _in_order(part, part2)
    if bnorm2 == 0.0:
        return np.zeros(n), 0
    rz = 0.0
    for i in range(n):
        rz += r[i] * z[i]
    tol2 = rtol * rtol * bnorm2
    for step in range(maxiter):
        if rr <= tol2:
            return x, step
        for k in numba.prange(nblk):
            s1 = 0.0
            for i in range(k * CG_BLOCK_ROWS, min(n, (k + 1) * CG_BLOCK_ROWS)):
                s = 0.0
                for j in range(indptr[i], indptr[i + 1]):
                    s += data[j] * p[indices[j]]
                q[i] = s
                s1 += p[i] * s
            part[k] = s1
        pq = _in_order(part, part)[0]
        if not pq > 0.0:  # not positive definite along p (or NaN): stop where it is
            return x, step
        alpha = rz / pq
        for k in numba.prange(nblk):
            s1 = 0.0
            s2 = 0.0
            for i in range(k * CG_BLOCK_ROWS, min(n, (k + 1) * CG_BLOCK_ROWS)):
                x[i] += alpha * p[i]
                r[i] -= alpha * q[i]
                z[i] = inv[i] * r[i]
                s1 += r[i] * z[i]
                s2 += r[i] * r[i]
            part[k] = s1
            part2[k] = s2
        rz_new, rr = _in_order(part, part2)
        beta = rz_new / rz
        rz = rz_new
        for k in numba.prange(nblk):
            for i in range(k * CG_BLOCK_ROWS, min(n, (k + 1) * CG_BLOCK_ROWS)):
                p[i] = z[i] + beta * p[i]
    return x, maxiter
