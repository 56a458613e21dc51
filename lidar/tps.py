"""A regularised thin-plate surface through scattered points, on a regular grid of nodes.

The surface ``f`` is bilinear between nodes ``h`` apart and minimises

    Σ_i (f(x_i, y_i) − z_i)²  +  λ / h² · Σ_nodes (Δxx f)² + 2 (Δxy f)² + (Δyy f)²

the squared misfit at the points plus ``λ`` times the surface's bending energy (the discrete
thin-plate energy ∫ f_xx² + 2 f_xy² + f_yy², whose per-node term is the squared second
differences over h²·h²; ``λ`` is an area, m²). Where the points are dense the surface follows
them; across gaps it continues their slope and curvature as a thin plate bends, not flat as a
nearest or harmonic fill would (Hu et al. 2014, "An adaptive surface filter for airborne laser
scanning point clouds by means of regularization and bending energy", ISPRS J. 92, for the
use on ground filtering; Wahba 1990 for the smoothing spline).

The normal equations are assembled from per-cell sums (one pass over the points with
a compiled kernel, no point × node matrix). Up to :data:`LU_MAX_NODES` nodes a side they are
solved by sparse LU (SuperLU, minimum-degree ordering on AᵀA + A); a larger grid by conjugate
gradients (``smrf_kernels.jacobi_cg``) started from the surface on a grid :data:`COARSE` times
coarser, itself solved the same way down to one the LU takes, so time and memory grow with the
area, not faster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from lidar.grid import BLOCK
from lidar.smrf_kernels import jacobi_cg, node_cell_sums, node_surface_at

if TYPE_CHECKING:
    import scipy.sparse as sp

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

#: nodes a side of the largest grid solved by LU. The LU's fill grows faster than the grid:
#: 150² nodes took 71 MB and 256² 250 MB (SuperLU, MMD ordering), a fixed cost that was 170 bytes
#: per point at 1 M points and 970 on a 73 k-point cloud; above 64² the compiled conjugate
#: gradients from the coarser surface are faster as well (1 M synthetic points: SMRF 1.7 →
#: 0.7 s, one point of 956 k classified otherwise)
LU_MAX_NODES = 64
#: points a surface needs
MIN_POINTS = 10
#: a node farther than this many nodes from every point gets no surface (NaN): the plate would
#: only continue a slope from far away
REACH_NODES = 32
#: a grid larger than LU takes starts its conjugate gradients from the surface on nodes this many
#: times as far apart
COARSE = 4
#: conjugate gradients' tolerance (relative to ‖Aᵀz‖) and most iterations
CG_RTOL = 1e-6
CG_MAX_ITER = 2000


@dataclass(frozen=True)
class NodeGrid:
    """Nodes at ``(x0 + i h, y0 + j h)``, ``i < nx``, ``j < ny`` (row j, column i)."""

    x0: float
    y0: float
    h: float
    nx: int
    ny: int

    @classmethod
    def covering(cls, minx: float, miny: float, maxx: float, maxy: float, h: float) -> NodeGrid:
        """Nodes ``h`` apart over the bounds, one spare node around them."""
        x0, y0 = minx - h, miny - h
        nx = math.ceil((maxx - x0) / h) + 2
        ny = math.ceil((maxy - y0) / h) + 2
        return cls(x0, y0, h, nx, ny)

    def cells(
        self, x: FloatArray, y: FloatArray
    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """Per point: the column and row of its cell's lower-left node and the fractions."""
        fx = (x - self.x0) / self.h
        fy = (y - self.y0) / self.h
        i = np.clip(np.floor(fx).astype(np.intp), 0, self.nx - 2)
        j = np.clip(np.floor(fy).astype(np.intp), 0, self.ny - 2)
        return i, j, fx - i, fy - j

    def as_tuple(self) -> tuple[float, float, float, int, int]:
        """(x0, y0, h, nx, ny), as the compiled kernels take it."""
        return (self.x0, self.y0, self.h, self.nx, self.ny)

    def sample_at(self, f: FloatArray, x: FloatArray, y: FloatArray, idx: IntArray) -> FloatArray:
        """:meth:`sample` at the points ``idx`` of ``x, y`` (compiled; no copy of them)."""
        out = np.empty(idx.shape[0])
        node_surface_at(f, x, y, np.asarray(idx, dtype=np.int64), self.as_tuple(), out)
        return out

    def sample(self, f: FloatArray, x: FloatArray, y: FloatArray) -> FloatArray:
        """The surface (node values, ``ny × nx``) at the points, bilinear."""
        out = np.empty(x.shape[0])
        for lo in range(0, x.shape[0], BLOCK):
            b = slice(lo, lo + BLOCK)
            i, j, u, v = self.cells(x[b], y[b])
            out[b] = (1 - v) * ((1 - u) * f[j, i] + u * f[j, i + 1]) + v * (
                (1 - u) * f[j + 1, i] + u * f[j + 1, i + 1]
            )
        return out


#: the 4 corners of a cell (row offset, column offset): lower-left, lower-right, upper-left,
#: upper-right; and the 10 corner pairs of the symmetric 4 × 4 block AᵀA adds per point
_CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))
_PAIRS = tuple((k, m) for k in range(4) for m in range(k, 4))


def _cell_sums(
    g: NodeGrid, x: FloatArray, y: FloatArray, z: FloatArray, mask: BoolArray | None, z0: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per cell (``(ny-1) × (nx-1)``, flat): the 10 sums w_k w_m of AᵀA's block, the 4 sums
    w_k (z − z0) of Aᵀz, and the point count, over the points in ``mask`` (default: all)."""
    ncell = (g.ny - 1) * (g.nx - 1)
    ata = np.zeros((len(_PAIRS), ncell))
    atz = np.zeros((4, ncell))
    count = np.zeros(ncell)
    use = mask if mask is not None else np.zeros(0, dtype=bool)
    node_cell_sums(x, y, z, use, mask is not None, g.as_tuple(), z0, ata, atz, count)
    return ata, atz, count


@lru_cache(maxsize=8)
def _penalty(nx: int, ny: int) -> sp.csr_matrix:
    """DxxᵀDxx + 2 DxyᵀDxy + DyyᵀDyy on an ``ny × nx`` node grid (unit spacing)."""
    # scipy on first use, here and below: a command refused at its inputs does not pay for it
    import scipy.sparse as sp

    def d2(n: int) -> sp.csr_matrix:
        return sp.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(max(n - 2, 0), n), format="csr")

    def d1(n: int) -> sp.csr_matrix:
        return sp.diags([-1.0, 1.0], [0, 1], shape=(max(n - 1, 0), n), format="csr")

    ix, iy = sp.identity(nx, format="csr"), sp.identity(ny, format="csr")
    dxx = sp.kron(iy, d2(nx), format="csr")
    dyy = sp.kron(d2(ny), ix, format="csr")
    dxy = sp.kron(d1(ny), d1(nx), format="csr")
    return (dxx.T @ dxx + 2.0 * (dxy.T @ dxy) + dyy.T @ dyy).tocsr()


def _assemble(
    ata: FloatArray, atz: FloatArray, g: NodeGrid, lam_h2: float
) -> tuple[sp.csr_matrix, FloatArray]:
    """The normal equations on the grid's nodes from the sums of its cells: AᵀA + λ/h² P (+ a
    1e-9 ridge: points on a line) and Aᵀ(z − z0)."""
    import scipy.sparse as sp

    ll = (np.arange(g.ny - 1)[:, None] * g.nx + np.arange(g.nx - 1)[None, :]).ravel()
    corner = [ll + dr * g.nx + dc for dr, dc in _CORNERS]  # per cell, its 4 nodes
    r_idx, c_idx, vals = [], [], []
    for p, (k, m) in enumerate(_PAIRS):
        r_idx += [corner[k], corner[m]] if k != m else [corner[k]]
        c_idx += [corner[m], corner[k]] if k != m else [corner[k]]
        vals += [ata[p], ata[p]] if k != m else [ata[p]]
    n = g.nx * g.ny
    a = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(r_idx), np.concatenate(c_idx))), shape=(n, n)
    )
    rhs = sum(np.bincount(corner[k], atz[k], n) for k in range(4))
    m = (a + lam_h2 * _penalty(g.nx, g.ny) + 1e-9 * sp.identity(n, format="csr")).tocsr()
    return m, np.asarray(rhs, dtype=np.float64)


def thin_plate(
    g: NodeGrid,
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    lam: float,
    mask: BoolArray | None = None,
    *,
    start: FloatArray | None = None,
    lu_max: int = LU_MAX_NODES,
) -> FloatArray:
    """The regularised thin-plate surface through the points in ``mask`` (default: all):
    node values, ``ny × nx``; NaN farther than :data:`REACH_NODES` nodes from every point, and
    everywhere with fewer than :data:`MIN_POINTS` points. ``lam``: the bending weight λ (an
    area, in the coordinates' units squared).

    With ``start`` (a surface of the same grid: the previous one of an iteration) it is solved
    by conjugate gradients (Jacobi-preconditioned) from there. Without, a grid of at most
    ``lu_max`` nodes a side is solved at once by sparse LU, a larger one by conjugate gradients
    from the surface on nodes :data:`COARSE` times as far apart (solved the same way), which
    gives the shape across gaps that the gradients would take long to find."""
    import scipy.sparse.linalg as spla
    from scipy import ndimage

    zs = z if mask is None else z[mask]
    if zs.shape[0] == 0:
        return np.full((g.ny, g.nx), np.nan)
    z0 = float(np.median(zs))
    del zs
    ata, atz, count = _cell_sums(g, x, y, z, mask, z0)
    counts = count.reshape(g.ny - 1, g.nx - 1)
    if count.sum() < MIN_POINTS:
        return np.full((g.ny, g.nx), np.nan)
    if start is not None and start.shape != (g.ny, g.nx):
        raise ValueError(f"start is {start.shape}, the grid {(g.ny, g.nx)}")
    m, rhs = _assemble(ata, atz, g, lam / (g.h * g.h))
    if start is None and g.nx <= lu_max and g.ny <= lu_max:
        out = spla.splu(m.tocsc(), permc_spec="MMD_AT_PLUS_A").solve(rhs)
    else:
        if start is None:
            coarse = NodeGrid(
                g.x0, g.y0, g.h * COARSE, -(-g.nx // COARSE) + 1, -(-g.ny // COARSE) + 1
            )
            cf = thin_plate(coarse, x, y, z, lam, mask, lu_max=lu_max)
            gx = g.x0 + g.h * np.arange(g.nx)
            gy = g.y0 + g.h * np.arange(g.ny)
            xx, yy = np.meshgrid(gx, gy)
            start = coarse.sample(np.where(np.isfinite(cf), cf, z0), xx.ravel(), yy.ravel())
        x0 = np.where(np.isfinite(start), start, z0).ravel() - z0
        out, _steps = jacobi_cg(m.indptr, m.indices, m.data, rhs, x0, CG_RTOL, CG_MAX_ITER)
    out = np.asarray(out).reshape(g.ny, g.nx)
    near = ndimage.maximum_filter(counts > 0, size=2 * REACH_NODES + 1, mode="constant")
    reached = np.zeros((g.ny, g.nx), dtype=bool)  # a node reaches the cells around it
    for dr, dc in _CORNERS:
        reached[dr : dr + g.ny - 1, dc : dc + g.nx - 1] |= near
    return np.where(reached, out + z0, np.nan)
