"""Regular grids over point clouds: binning, per-cell statistics, gap filling, sampling.

A :class:`GridSpec` is north-up: row 0 is the top (max y) edge, as GeoTIFFs store it.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

FloatArray = NDArray[np.float64]

#: points per block of the per-point steps (bounded temporaries on large clouds)
BLOCK = 1 << 18


@dataclass(frozen=True)
class GridSpec:
    """A north-up raster grid: left/top corner, square cell size, shape (rows, cols)."""

    left: float
    top: float
    res: float
    rows: int
    cols: int

    @classmethod
    def covering(
        cls, minx: float, miny: float, maxx: float, maxy: float, res: float, *, snap: bool = True
    ) -> GridSpec:
        """The grid of cell size ``res`` covering the bounds (corners snapped to ``res``)."""
        if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy, res)) or res <= 0:
            raise BadInputError(
                _("the extent {b} or the resolution {r} is not a finite number").format(
                    b=(minx, miny, maxx, maxy), r=res
                )
            )
        if snap:
            left = math.floor(minx / res) * res
            top = math.ceil(maxy / res) * res
            if top == maxy:
                top += res
        else:
            left, top = minx, maxy
        cols = max(1, math.floor((maxx - left) / res) + 1)
        rows = max(1, math.floor((top - miny) / res) + 1)
        return cls(left, top, res, rows, cols)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (
            self.left,
            self.top - self.rows * self.res,
            self.left + self.cols * self.res,
            self.top,
        )

    def centres(self) -> tuple[FloatArray, FloatArray]:
        """Cell-centre coordinates as 2-D arrays (x, y)."""
        xs = self.left + (np.arange(self.cols) + 0.5) * self.res
        ys = self.top - (np.arange(self.rows) + 0.5) * self.res
        return np.meshgrid(xs, ys)

    def as_tuple(self) -> tuple[float, float, float, int, int]:
        """(left, top, res, rows, cols), as the compiled kernels take a grid."""
        return (self.left, self.top, self.res, self.rows, self.cols)

    def index(self, x: FloatArray, y: FloatArray) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """(row, col) of the cell holding each point, clipped to the grid."""
        col = np.floor((x - self.left) / self.res).astype(np.intp)
        row = np.floor((self.top - y) / self.res).astype(np.intp)
        return np.clip(row, 0, self.rows - 1), np.clip(col, 0, self.cols - 1)

    def window_of(self, other: GridSpec) -> tuple[int, int]:
        """(row_off, col_off) of ``other``'s top-left cell in this grid (same res, aligned)."""
        return (
            round((self.top - other.top) / self.res),
            round((other.left - self.left) / self.res),
        )


#: peak bytes per grid cell of the gridding steps (float64/int64 work arrays: accumulators,
#: cell-centre coordinates, the TIN scan over every triangle's cells, the output), measured with
#: tracemalloc: SMRF about 550, a TIN DTM or filled DSM 400–450 (more with dense points),
#: intensity/density about 45
BYTES_PER_CELL = 500
#: peak bytes per cell of each raster product (see BYTES_PER_CELL)
PRODUCT_BYTES_PER_CELL = {
    "dsm": 450,
    "dtm": 450,
    "chm": 500,
    "hillshade": 480,
    "contours": 480,
    "intensity": 64,
    "density": 48,
}
#: largest default memory budget (the default is half the RAM, at most this)
DEFAULT_BUDGET_BYTES = 8 * 1024**3
#: environment variable with the memory budget in MiB (read when a grid is checked)
BUDGET_ENV = "DKP_LIDAR_MEMORY_MB"


def _ram_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def available_memory() -> int | None:
    """Bytes of memory the machine can still give (``MemAvailable``), else its physical RAM."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _ram_bytes()


def memory_budget(budget_mb: float | None = None) -> int:
    """The memory budget in bytes for one raster product.

    ``budget_mb`` if given, else the ``DKP_LIDAR_MEMORY_MB`` environment variable, else half
    of the physical memory, at most 8 GiB (2 GiB when the memory size is unknown). A budget
    given larger than the physical memory is capped at it (``1e308`` MiB is no promise the
    machine can keep); :func:`check_grid_size` also checks the memory still available.

    >>> memory_budget(512)
    536870912
    """
    if budget_mb is None:
        raw = os.environ.get(BUDGET_ENV, "").strip()
        if raw:
            try:
                budget_mb = float(raw)
            except ValueError as exc:
                raise BadInputError(
                    _("{var} must be a number of MiB, got {v!r}").format(var=BUDGET_ENV, v=raw)
                ) from exc
    if budget_mb is not None:
        if not math.isfinite(budget_mb) or budget_mb <= 0:
            raise BadInputError(
                _("the memory budget must be a positive number of MiB, got {v}").format(v=budget_mb)
            )
        ram = _ram_bytes()
        want = budget_mb * 1024.0**2  # a float: 1e308 MiB is inf bytes, not an OverflowError
        if ram and want > ram:
            return ram
        return int(min(want, float(2**62)))
    ram = _ram_bytes()
    return min(DEFAULT_BUDGET_BYTES, ram // 2) if ram else 2 * 1024**3


def _size(n: float) -> str:
    """A byte count for people; any size (a Python int of 600 digits) or infinity.

    >>> _size(1536), _size(10**40), _size(float("inf"))
    ('1.5 KiB', '8.9e+24 PiB', 'inf PiB')
    """
    x = float(n) if n < 1e300 else math.inf
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if x < 1024:
            return f"{x:.1f} {unit}" if unit != "B" else f"{int(x)} B"
        x /= 1024
    return f"{x:.1f} PiB" if x < 1e6 else f"{x:.2g} PiB"


def check_grid_size(
    bounds: tuple[float, float, float, float],
    res: float,
    *,
    unit_m: float = 1.0,
    budget_bytes: int | None = None,
    bytes_per_cell: int = BYTES_PER_CELL,
    where: str | None = None,
) -> int:
    """Refuse a grid that would not fit the memory budget, before anything is allocated.

    ``bounds`` (minx, miny, maxx, maxy) and ``res`` are in CRS units (``unit_m`` metres each).
    Returns the number of cells. Raises :class:`BadInputError` naming the extent, the
    resolution, the cells and the budget (points 1000 km apart at 1 m would need terabytes).

    >>> check_grid_size((0, 0, 99.5, 49.5), 1.0, budget_bytes=2**30)
    5151
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy, res)) or res <= 0:
        raise BadInputError(
            _("the extent {b} or the resolution {r} is not a finite number").format(
                b=bounds, r=res
            ),
            where=where,
        )
    # floats first: a resolution of 1e-300 makes 1e302 columns (an int of 600 digits squared)
    cells_f = ((maxx - minx) / res + 2.0) * ((maxy - miny) / res + 2.0)
    need = cells_f * bytes_per_cell  # inf when it overflows: still compares
    budget = memory_budget() if budget_bytes is None else budget_bytes
    free = available_memory()
    span = {
        "w": _metres((maxx - minx) * unit_m),
        "h": _metres((maxy - miny) * unit_m),
        "r": res * unit_m,
    }
    count = f"{_cells(bounds, res):,}" if cells_f < 2**62 else f"{cells_f:.3g}"
    if need > budget and (free is None or budget < free):
        raise BadInputError(
            _(
                "the grid is too large: the points span {w} m × {h} m, at {r:g} m per "
                "cell that is {c} cells needing about {need} of memory, over the budget of "
                "{budget}; use a coarser --resolution, remove far-off points, or raise "
                "--memory-budget"
            ).format(**span, c=count, need=_size(need), budget=_size(budget)),
            where=where,
        )
    if free is not None and need > free:  # a budget beyond what the machine has left
        raise BadInputError(
            _(
                "the grid is too large: the points span {w} m × {h} m, at {r:g} m per "
                "cell that is {c} cells needing about {need} of memory, more than the {free} "
                "this machine has available; use a coarser --resolution or lidar tile"
            ).format(**span, c=count, need=_size(need), free=_size(free)),
            where=where,
        )
    return _cells(bounds, res)


def _metres(v: float) -> str:
    """A length as a message shows it: whole metres, or 1e+300 (not its 301 digits)."""
    return f"{v:,.0f}" if abs(v) < 1e15 else f"{v:.3g}"


def check_raster_memory(
    rows: int, cols: int, bytes_per_cell: int, *, budget_bytes: int | None = None, where: str
) -> None:
    """Refuse to read a raster of ``rows`` × ``cols`` cells whose work arrays (``bytes_per_cell``
    each) would not fit the memory budget (see :func:`memory_budget`) or the memory available,
    before anything is read (a sparse 200,000 × 200,000 GeoTIFF of 5 MB needs 149 GiB).

    >>> check_raster_memory(100, 100, 48, budget_bytes=2**30, where="a.tif")
    """
    need = float(rows) * float(cols) * bytes_per_cell
    budget = memory_budget() if budget_bytes is None else budget_bytes
    free = available_memory()
    limit = budget if free is None else min(budget, free)
    if need > limit:
        raise BadInputError(
            _(
                "the raster is too large: {rows:,} × {cols:,} cells need about {need} of memory, "
                "more than the budget of {budget}; crop it to the area of interest or raise "
                "{var}"
            ).format(rows=rows, cols=cols, need=_size(need), budget=_size(limit), var=BUDGET_ENV),
            where=where,
        )


def _cells(bounds: tuple[float, float, float, float], res: float) -> int:
    """Rows × columns of a grid over finite ``bounds`` (exact integers)."""
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    return (math.floor((maxx - minx) / res) + 2) * (math.floor((maxy - miny) / res) + 2)


def masked_bounds(
    x: FloatArray, y: FloatArray, mask: NDArray[np.bool_] | None = None, *, block: int = BLOCK
) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of the points (of those in ``mask``), without a masked copy
    (the mask is read ``block`` points at a time)."""
    if mask is None:
        return (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    lo_x = lo_y = math.inf
    hi_x = hi_y = -math.inf
    for lo in range(0, x.shape[0], block):
        m = mask[lo : lo + block]
        if not m.any():
            continue
        bx, by = x[lo : lo + block][m], y[lo : lo + block][m]
        lo_x, hi_x = min(lo_x, float(bx.min())), max(hi_x, float(bx.max()))
        lo_y, hi_y = min(lo_y, float(by.min())), max(hi_y, float(by.max()))
    return (lo_x, lo_y, hi_x, hi_y)


def cell_stat(
    grid: GridSpec,
    x: FloatArray,
    y: FloatArray,
    v: FloatArray,
    how: str,
    mask: NDArray[np.bool_] | None = None,
    *,
    block: int = BLOCK,
) -> FloatArray:
    """Per-cell ``min``, ``max``, ``mean`` or ``count`` of ``v``; NaN (0 for count) where empty.

    Only the points in ``mask`` (default: all) count. Points are binned ``block`` at a time,
    so the index temporaries stay bounded and a mask costs no copy of the cloud.
    """
    if how not in ("min", "max", "mean", "count"):
        raise ValueError(f"unknown statistic {how!r}")
    n = grid.rows * grid.cols
    cnt = np.zeros(n, dtype=np.int64)
    # the running min, max or sum (unused for a count)
    acc = np.full(n, {"min": np.inf, "max": -np.inf}.get(how, 0.0))
    for lo in range(0, x.shape[0], block):
        bx, by, vb = x[lo : lo + block], y[lo : lo + block], v[lo : lo + block]
        if mask is not None:
            m = mask[lo : lo + block]
            bx, by, vb = bx[m], by[m], vb[m]
        r, c = grid.index(bx, by)
        flat = r * grid.cols + c
        del r, c
        cnt += np.bincount(flat, minlength=n)
        if how == "min":
            np.minimum.at(acc, flat, vb)
        elif how == "max":
            np.maximum.at(acc, flat, vb)
        elif how == "mean":
            acc += np.bincount(flat, weights=vb, minlength=n)
    if how == "count":
        return cnt.astype(np.float64).reshape(grid.rows, grid.cols)
    out = np.full(n, np.nan)
    hit = cnt > 0
    out[hit] = acc[hit] / cnt[hit] if how == "mean" else acc[hit]
    return out.reshape(grid.rows, grid.cols)


def fill_nearest(a: FloatArray) -> FloatArray:
    """NaN cells take the value of the nearest valid cell (a full copy is returned)."""
    bad = ~np.isfinite(a)
    if not bad.any() or bad.all():
        return a.copy()
    from scipy import ndimage

    ri, ci = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return np.asarray(a[ri, ci])


#: a grid with more cells than this per point is sparse: SMRF coarsens its cell
#: (:func:`lidar.ground.sparse_cell`) and the TIN DTM triangulates the points themselves
SPARSE_CELLS_PER_POINT = 16.0

#: two valid cells at most this many steps apart along a row, column or diagonal are bridged
#: by :func:`inpaint_linear` without a triangulation (2: gaps of one cell)
BRIDGE_SPAN = 2
#: the TIN of the cells left takes the measured cells within this many cells of them
TIN_RING = 1
#: bridging passes (the second bridges from the first's values too: gaps of a few cells)
BRIDGE_PASSES = 2


def bridge_gaps(a: FloatArray, passes: int = BRIDGE_PASSES) -> FloatArray:
    """``a`` with its short gaps filled on the grid (a copy; valid cells unchanged): a NaN cell
    between two valid cells at most :data:`BRIDGE_SPAN` steps apart along a row, a column or a
    diagonal takes the line between them at its place, the directions that bridge it averaged
    with weights 1/length² (the shortest, most local line counts most). Each pass bridges from
    the values of the one before. Linear: a plane is filled exactly."""
    out = a.copy()
    bad = ~np.isfinite(out)
    for _pass in range(passes):
        if not bad.any():
            break
        wsum = np.zeros(a.shape)
        vsum = np.zeros(a.shape)
        _bridge_pass(out, bad, BRIDGE_SPAN, wsum, vsum)
        bridged = wsum > 0
        if not bridged.any():
            break
        out[bridged] = vsum[bridged] / wsum[bridged]
        bad &= ~bridged
    return out


def inpaint_linear(
    a: FloatArray, xs: FloatArray | None = None, ys: FloatArray | None = None
) -> FloatArray:
    """Fill NaN cells by linear interpolation; valid cells are unchanged.

    Short gaps are bridged on the grid (:func:`bridge_gaps`); the cells left (removed
    buildings, water, the gaps of a sparse cloud) are filled by linear interpolation on a TIN of
    the valid cells within two cells of them; cells outside that hull take the nearest valid
    value.

    Why not one TIN of every cell bordering a gap: on an airborne cloud nearly every valid cell
    borders one, and their Delaunay triangulation was most of SMRF's time (ISPRS CSite4,
    1.8 points/m² at 1 m cells: five times the rest). The bridges leave the TIN a third as many
    vertices there, at the same ISPRS error.
    """
    bad = ~np.isfinite(a)
    if not bad.any() or bad.all():
        return a.copy()
    out = bridge_gaps(a)
    gap = ~np.isfinite(out)
    if not gap.any():
        return out
    # the TIN's vertices are measured cells only (no bridged values), those near the cells left
    from scipy import ndimage
    from scipy.spatial import QhullError

    near_gap = ndimage.binary_dilation(gap, structure=np.ones((3, 3), bool), iterations=TIN_RING)
    rr, cc = np.nonzero(near_gap & ~bad)
    del near_gap
    gr, gc = np.nonzero(gap)
    if rr.size >= 3:
        with contextlib.suppress(
            QhullError, ValueError, RuntimeError
        ):  # collinear borders: the nearest fill below
            tin = rasterize_tin(
                jitter(np.column_stack([cc, rr]).astype(np.float64), 1.0),
                a[rr, cc],
                a.shape[0],
                a.shape[1],
            )
            out[gr, gc] = tin[gr, gc]
    still = ~np.isfinite(out)
    if still.any():
        near = fill_nearest(a)
        out[still] = near[still]
    return out


def inpaint_nearest(a: FloatArray) -> FloatArray:
    """Short gaps bridged (:func:`bridge_gaps`), the rest the nearest valid value: no TIN, for
    steps that only look one cell around (SMRF's low-outlier test)."""
    out = bridge_gaps(a)
    still = ~np.isfinite(out)
    if still.any() and not still.all():
        out[still] = fill_nearest(a)[still]
    return out


@numba.njit(cache=True, nogil=True)
def _bridge_pass(
    a: FloatArray, bad: NDArray[np.bool_], span: int, wsum: FloatArray, vsum: FloatArray
) -> None:
    """One bridging pass of :func:`bridge_gaps` in two sweeps: the steps back to the last valid
    cell along the row, the column and both diagonals (capped), then, sweeping back, the steps
    ahead; a gap cell whose two ends are at most ``span`` steps apart gets the line's value
    (weight 1/length², added to ``wsum``/``vsum``)."""
    rows, cols = a.shape
    cap = span + 1
    back = np.empty((4, rows, cols), dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            if not bad[r, c]:
                for d in range(4):
                    back[d, r, c] = 0
                continue
            back[0, r, c] = min(back[0, r, c - 1] + 1, cap) if c > 0 else cap
            back[1, r, c] = min(back[1, r - 1, c] + 1, cap) if r > 0 else cap
            back[2, r, c] = min(back[2, r - 1, c - 1] + 1, cap) if r > 0 and c > 0 else cap
            back[3, r, c] = min(back[3, r - 1, c + 1] + 1, cap) if r > 0 and c < cols - 1 else cap
    diag = math.sqrt(2.0)
    # steps ahead: along the row within this row; down, down-right and down-left from the row
    # below (``below``), written for this row into ``here``
    below = np.full((3, cols), cap, dtype=np.int64)
    here = np.full((3, cols), cap, dtype=np.int64)
    for rr in range(rows):
        r = rows - 1 - rr
        right = cap  # steps ahead along the row, from (r, c + 1)
        for k in range(cols):
            c = cols - 1 - k
            if not bad[r, c]:
                here[0, c] = 0
                here[1, c] = 0
                here[2, c] = 0
                right = 0
                continue
            ahead_row = min(right + 1, cap)
            ahead_col = min(below[0, c] + 1, cap) if r < rows - 1 else cap
            ahead_dr = min(below[1, c + 1] + 1, cap) if r < rows - 1 and c < cols - 1 else cap
            ahead_dl = min(below[2, c - 1] + 1, cap) if r < rows - 1 and c > 0 else cap
            here[0, c] = ahead_col
            here[1, c] = ahead_dr
            here[2, c] = ahead_dl
            right = ahead_row
            ws = 0.0
            vs = 0.0
            for d in range(4):
                n0 = np.int64(back[d, r, c])
                if d == 0:
                    n1, dr, dc, step = ahead_row, 0, 1, 1.0
                elif d == 1:
                    n1, dr, dc, step = ahead_col, 1, 0, 1.0
                elif d == 2:
                    n1, dr, dc, step = ahead_dr, 1, 1, diag
                else:
                    n1, dr, dc, step = ahead_dl, 1, -1, diag
                if n0 < cap and n1 < cap and n0 + n1 <= span:
                    v0 = a[r - n0 * dr, c - n0 * dc]
                    v1 = a[r + n1 * dr, c + n1 * dc]
                    length = (n0 + n1) * step
                    w = 1.0 / (length * length)
                    ws += w
                    vs += w * (v0 * n1 + v1 * n0) / (n0 + n1)
            if ws > 0.0:
                wsum[r, c] += ws
                vsum[r, c] += vs
        below, here = here, below


def jitter(pts: FloatArray, spacing: float) -> FloatArray:
    """Points moved by a deterministic ±0.1 % of ``spacing``: a regular lattice is degenerate
    (co-circular) for Qhull and triangulates orders of magnitude slower."""
    rng = np.random.default_rng(0)
    return pts + rng.uniform(-1e-3 * spacing, 1e-3 * spacing, pts.shape)


def rasterize_tin(pts_uv: FloatArray, values: FloatArray, rows: int, cols: int) -> FloatArray:
    """Rasterise the linear TIN of ``pts_uv`` (fractional column, row of each point; cell
    centres sit at integers) onto a rows × cols grid; NaN outside the triangulation.

    Each Delaunay triangle is scanned over the cell centres of its bounding box (GDAL's
    approach) in a compiled loop: no point location and no per-cell temporaries.
    Raises QhullError/ValueError for degenerate input (fewer than 3 non-collinear points).
    """
    from scipy.spatial import Delaunay

    out = np.full((rows, cols), np.nan)
    simplices = Delaunay(pts_uv).simplices.astype(np.int64)
    _scan_triangles(
        np.ascontiguousarray(pts_uv, dtype=np.float64),
        np.ascontiguousarray(values, dtype=np.float64),
        simplices,
        out,
    )
    return out


@numba.njit(cache=True, nogil=True)
def _scan_triangles(
    pts: FloatArray, values: FloatArray, simplices: NDArray[np.int64], out: FloatArray
) -> None:
    """Linear interpolation inside every triangle at the cell centres of its bounding box."""
    rows, cols = out.shape
    for t in range(simplices.shape[0]):
        ia, ib, ic = simplices[t, 0], simplices[t, 1], simplices[t, 2]
        ax, ay = pts[ia, 0], pts[ia, 1]
        bx, by = pts[ib, 0], pts[ib, 1]
        cx, cy = pts[ic, 0], pts[ic, 1]
        v0x, v0y = bx - ax, by - ay
        v1x, v1y = cx - ax, cy - ay
        den = v0x * v1y - v1x * v0y
        if abs(den) <= 1e-12:
            continue
        c0 = max(math.ceil(min(ax, bx, cx)), 0)
        c1 = min(math.floor(max(ax, bx, cx)), cols - 1)
        r0 = max(math.ceil(min(ay, by, cy)), 0)
        r1 = min(math.floor(max(ay, by, cy)), rows - 1)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                v2x, v2y = c - ax, r - ay
                wb = (v2x * v1y - v1x * v2y) / den
                wc = (v0x * v2y - v2x * v0y) / den
                wa = 1.0 - wb - wc
                if wa >= -1e-9 and wb >= -1e-9 and wc >= -1e-9:
                    out[r, c] = values[ia] * wa + values[ib] * wb + values[ic] * wc


def bilinear(grid: GridSpec, surface: FloatArray, x: FloatArray, y: FloatArray) -> FloatArray:
    """Bilinear interpolation of a gap-free surface (cell-centre values) at points."""
    fc = (x - grid.left) / grid.res - 0.5
    fr = (grid.top - y) / grid.res - 0.5
    fc = np.clip(fc, 0, grid.cols - 1)
    fr = np.clip(fr, 0, grid.rows - 1)
    c0 = np.minimum(np.floor(fc).astype(np.intp), max(grid.cols - 2, 0))
    r0 = np.minimum(np.floor(fr).astype(np.intp), max(grid.rows - 2, 0))
    c1 = np.minimum(c0 + 1, grid.cols - 1)
    r1 = np.minimum(r0 + 1, grid.rows - 1)
    tc = fc - c0
    tr = fr - r0
    top = surface[r0, c0] * (1 - tc) + surface[r0, c1] * tc
    bot = surface[r1, c0] * (1 - tc) + surface[r1, c1] * tc
    return np.asarray(top * (1 - tr) + bot * tr)


def slope_rise_run(surface: FloatArray, res: float) -> FloatArray:
    """Slope magnitude (rise over run, dimensionless) of a surface by central differences."""
    if min(surface.shape) < 2:
        return np.zeros_like(surface)
    gy, gx = np.gradient(surface, res)
    return np.asarray(np.hypot(gx, gy))
