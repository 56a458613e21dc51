"""Ground classification: SMRF (Pingel, Clarke & McBride 2013) and CSF (Zhang et al. 2016).

Both are pure functions ``f(x, y, z, params) -> ground mask`` with every length parameter in
the coordinate units of ``x, y`` (heights ``z`` must be in the same units: the pipeline scales
feet and metres before calling). Defaults are PDAL's, which hold on flat, steep, urban and
forested terrain (Pingel et al. report a mean total error of 2.97 % on the ISPRS benchmark
with parameters optimised per sample).

SMRF here averages over grid orientations by default: the minimum surface, the progressive
opening and the provisional DEM are built on ``grids`` grids rotated by multiples of
90°/``grids`` about the cloud's centre, and a point is ground when its mean residual against
the DEMs is within the threshold (grown by their mean slope). A single grid's answer depends on
where its cells and the faces of its octagonal element fall: on slopes and sparse clouds the
lowest point of a cell sits anywhere in it, so crests and slope breaks are cut on one grid and
not on another. ``grids=1`` is Pingel's single-grid SMRF.

Then the ground grows (:func:`grow_ground`): SMRF's slope tolerance decides between terraces and
low objects, and the points a steeper tolerance (0.4) accepts on the first grid, from the same
openings, join the ground where they continue the thin-plate surface (:mod:`lidar.tps`) of the
ground found so far. ``grow_slope=0`` turns it off (with ``grids=1``: Pingel's SMRF as published).

Last, the clean-up (:mod:`lidar.ground_clean`): ground points standing above the plane of their
nearest ground neighbours leave, then the raised islands (small pieces of ground standing above
the ground around them across a wall or a gap). ``clean_rounds=0`` turns both off.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from lidar import smrf_kernels as kern
from lidar.alloc import worker_heap
from lidar.grid import (
    SPARSE_CELLS_PER_POINT,
    GridSpec,
    bilinear,
    cell_stat,
    check_grid_size,
    fill_nearest,
    inpaint_linear,
    inpaint_nearest,
    masked_bounds,
    slope_rise_run,
)
from lidar.ground_clean import clean_ground, drop_raised_islands

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: points per block of the per-point steps (bounded temporaries on large clouds)
BLOCK = 1 << 18

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- morphology
def _shift_min(a: FloatArray, cross: bool, fn: np.ufunc) -> FloatArray:
    """One erosion (``fn=np.minimum``) or dilation (``np.maximum``) with a 3×3 element."""
    p = np.pad(a, 1, mode="edge")
    out = fn(a, p[:-2, 1:-1])
    out = fn(out, p[2:, 1:-1])
    out = fn(out, p[1:-1, :-2])
    out = fn(out, p[1:-1, 2:])
    if not cross:
        out = fn(out, p[:-2, :-2])
        out = fn(out, p[:-2, 2:])
        out = fn(out, p[2:, :-2])
        out = fn(out, p[2:, 2:])
    return np.asarray(out)


def _morph(a: FloatArray, radius: int, fn: np.ufunc, compiled: bool | None = None) -> FloatArray:
    # alternating diamond and square elements approximate a disk (an octagon) of ``radius``
    if compiled is None:
        compiled = _compiled(a)
    out = a
    for i in range(radius):
        out = _morph_step(out, i, fn, compiled)
    return out


def _compiled(a: FloatArray) -> bool:
    """Whether the compiled 3×3 step applies (a NaN-free float64 grid; minimum and maximum of
    finite values stay finite, so once per surface is enough)."""
    return a.ndim == 2 and a.dtype == np.float64 and bool(np.isfinite(a).all())


def _morph_step(a: FloatArray, i: int, fn: np.ufunc, compiled: bool) -> FloatArray:
    """Step ``i`` of :func:`_morph` (a cross when ``i`` is even, else a square)."""
    if compiled:
        return kern.step3x3(a, i % 2 == 0, fn is np.maximum)  # the same values, one sweep
    return _shift_min(a, cross=(i % 2 == 0), fn=fn)  # NaN spreads as np.minimum spreads it


def opening(a: FloatArray, radius: int) -> FloatArray:
    """Grey-scale opening (erosion then dilation) with a disk-like element of ``radius`` cells."""
    if radius <= 0:
        return a.copy()
    compiled = _compiled(a)
    return _morph(_morph(a, radius, np.minimum, compiled), radius, np.maximum, compiled)


def progressive_filter(
    surface: FloatArray, cell: float, slope: float, max_radius: int
) -> BoolArray:
    """Pingel's progressive morphological filter: open the surface with radii 1..max_radius;
    a cell is an object once the drop from the previous to the current opening exceeds
    ``slope × radius × cell``."""
    return progressive_filters(surface, cell, (slope,), max_radius)[0]


def progressive_filters(
    surface: FloatArray, cell: float, slopes: tuple[float, ...], max_radius: int
) -> list[BoolArray]:
    """:func:`progressive_filter` for several slopes at the cost of one: the openings are the
    same, only the drop each slope tolerates differs."""
    objs = [np.zeros(surface.shape, dtype=bool) for _ in slopes]
    prev = surface
    # Opening the previous opening with the next element equals opening the surface itself
    # (each element is the one before grown by one step, so it is open with respect to it: a
    # granulometry), and the erosion by the next element is one more step of the erosion by
    # this one. So each radius costs one erosion step and its dilation, not 2 × radius steps;
    # min and max are exact, the answer is the same to the bit.
    # (NaN spreads with every opening: a surface with gaps takes the plain path.)
    finite = _compiled(surface)
    eroded = surface
    for r in range(1, max_radius + 1):
        if finite:
            eroded = _morph_step(eroded, r - 1, np.minimum, True)
            cur = _morph(eroded, r, np.maximum, True)
        else:
            cur = opening(prev, r)
        drop = prev - cur
        for obj, slope in zip(objs, slopes, strict=True):
            obj |= drop > slope * r * cell
        prev = cur
    return objs


# --------------------------------------------------------------------------- SMRF
@dataclass(frozen=True)
class SMRFParams:
    """SMRF parameters (PDAL ``filters.smrf`` defaults), lengths in metres.

    cell: minimum-surface cell size; slope: terrain slope (rise/run) tolerated by the
    progressive opening; window: maximum window radius (the largest object removed);
    threshold: elevation threshold of the final test; scalar: how much the threshold grows
    with local slope; cut: net cutting radius (0 skips it; a large value such as 40 m helps
    in dense city centres with big roofs); grids: grid orientations averaged (1 is Pingel's
    single-grid SMRF; ``n`` rotates the grid by multiples of 90°/n).

    The growth (:func:`grow_ground`; ``grow_slope`` 0 turns it off): the points SMRF at the
    steeper ``grow_slope`` calls ground and this SMRF does not join the ground when they lie
    between ``grow_below`` under and ``grow_above`` over the thin-plate surface (bending weight
    ``grow_lambda``, m², nodes at least ``grow_cell`` apart) of the ground so far, in
    ``grow_rounds`` rounds.

    The clean-up (:func:`lidar.ground_clean.clean_ground`; ``clean_rounds`` 0 turns it off):
    a ground point standing more than ``clean_above`` plus ``clean_spread`` times the scatter
    of its ``clean_k`` nearest ground neighbours over their plane leaves the ground; then
    the raised islands (:func:`lidar.ground_clean.drop_raised_islands`; ``island_area`` 0
    turns them off): a piece of ground of at most ``island_area`` (m²), linked within
    ``island_step`` plus its points' distance, that stands above the ground around it leaves.
    """

    cell: float = 1.0
    slope: float = 0.15
    window: float = 18.0
    threshold: float = 0.5
    scalar: float = 1.25
    cut: float = 0.0
    grids: int = 4
    grow_slope: float = 0.4
    grow_above: float = 0.5
    grow_below: float = 1.0
    grow_cell: float = 2.5
    grow_lambda: float = 0.1
    grow_rounds: int = 3
    clean_k: int = 24
    clean_above: float = 0.2
    clean_spread: float = 3.0
    clean_rounds: int = 1
    island_step: float = 0.2
    island_area: float = 150.0

    def scaled(self, metres_per_unit: float) -> SMRFParams:
        """The same parameters expressed in a CRS unit (lengths divided, slopes kept, the
        bending weight, an area, divided by the square)."""
        k = 1.0 / metres_per_unit
        return dataclasses.replace(
            self,
            cell=self.cell * k,
            window=self.window * k,
            threshold=self.threshold * k,
            cut=self.cut * k,
            grow_above=self.grow_above * k,
            grow_below=self.grow_below * k,
            grow_cell=self.grow_cell * k,
            grow_lambda=self.grow_lambda * k * k,
            clean_above=self.clean_above * k,
            island_step=self.island_step * k,
            island_area=self.island_area * k * k,
        )


@dataclass(frozen=True)
class GroundSurface:
    """The provisional ground model a method built: grid, surface and object mask."""

    grid: GridSpec
    surface: FloatArray
    objects: BoolArray
    #: the provisional DEM at the steeper slope asked for (``smrf_surface(steep_slope=...)``)
    steep: FloatArray | None = None


#: a rotation of the grid: centre x, centre y, cosine, sine (the identity keeps the grid
#: snapped to the coordinates, as in Pingel's single-grid SMRF)
Rotation = tuple[float, float, float, float]
_IDENTITY: Rotation = (0.0, 0.0, 1.0, 0.0)
_NO_MASK = np.zeros(0, dtype=bool)


def smrf_surface(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    p: SMRFParams,
    mask: BoolArray | None = None,
    *,
    rotation: Rotation | None = None,
    block: int = BLOCK,
    steep_slope: float | None = None,
) -> GroundSurface:
    """Steps 1–3 of SMRF: minimum surface, low-outlier and object detection, provisional DEM,
    from the points in ``mask`` (default: all). With ``rotation`` the grid is north-up in the
    rotated coordinates (see :mod:`lidar.smrf_kernels`). ``block``: points read at a time.
    ``steep_slope``: also the provisional DEM of the objects found at that slope (the same
    openings)."""
    if rotation is None:
        bounds = masked_bounds(x, y, mask, block=block)
    else:
        m = _NO_MASK if mask is None else mask
        bounds = kern.rotated_bounds(x, y, m, mask is not None, rotation)
    check_grid_size(bounds, p.cell)  # before the grids are allocated
    grid = GridSpec.covering(*bounds, p.cell)
    if rotation is None:
        zmin = cell_stat(grid, x, y, z, "min", mask, block=block)
    else:
        zmin = kern.rotated_cell_min(x, y, z, m, mask is not None, rotation, grid.as_tuple())
    # The surface the openings see: short gaps bridged, the rest the nearest measured cell (no
    # TIN). On the 15 ISPRS samples (4 grids) this gives a mean total error of 3.51 % against
    # 3.60 % with the TIN here (objects seen by few points stand out as wide as their nearest-
    # cell region), and the TIN is kept for the provisional DEM, which the points are tested on.
    zi = inpaint_nearest(zmin)
    # low outliers: a single-radius progressive filter on the negated surface (slope 5)
    low = progressive_filter(-zi, p.cell, 5.0, 1)
    if low.any() and not low.all():
        zmin = np.where(low, np.nan, zmin)
        zi = inpaint_nearest(zmin)
    # an element wider than the grid (rows + cols steps reach every cell from every cell)
    # opens it to its minimum: larger radii change nothing, and would only cost time
    widest = zi.shape[0] + zi.shape[1]
    if p.cut > 0:
        zi = opening(zi, min(widest, max(1, round(p.cut / p.cell))))
    radii = min(widest, max(1, math.ceil(p.window / p.cell)))
    slopes = (p.slope,) if steep_slope is None else (p.slope, steep_slope)
    found = progressive_filters(zi, p.cell, slopes, radii)

    def provisional_dem(objects: BoolArray) -> FloatArray:
        provisional = np.where(objects | low, np.nan, zmin)
        return inpaint_linear(provisional) if np.isfinite(provisional).any() else zi

    steep = provisional_dem(found[1]) if steep_slope is not None else None
    return GroundSurface(grid, provisional_dem(found[0]), found[0] | low, steep)


#: environment variable capping the threads of the toolkit's parallel steps (a positive integer;
#: e.g. 1 where several processes share the cores, as the test workers do)
THREADS_ENV = "DKP_THREADS"


def _workers(env: Mapping[str, str] = os.environ) -> int:
    """Threads for the grids: the cores this process may run on (at most 4, at most
    ``DKP_THREADS`` of ``env``)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    cap = env.get(THREADS_ENV, "").strip()
    if cap.isdigit() and int(cap) > 0:
        n = min(n, int(cap))
    return max(1, min(n, 4))


def sparse_cell(
    x: FloatArray,
    y: FloatArray,
    candidates: BoolArray | None,
    cell: float,
    bounds: tuple[float, float, float, float] | None = None,
) -> float:
    """The SMRF cell for the points (of those in ``candidates``): ``cell``, or for a cloud
    sparser than :data:`SPARSE_CELLS_PER_POINT` cells per point, locally, the cell that gives
    that many (about four cells between neighbouring points). ``bounds``: the candidates'
    (minx, miny, maxx, maxy) when the caller has them.

    PDAL's 1,065-point sample ``simple.las`` spans 3.4 × 4.6 km: 1 m cells are 15.6 M cells,
    14,650 per point, and SMRF took minutes on them for a meaningless answer; its cell becomes
    about 30 m. The density is the local one (the median distance to the nearest neighbour,
    0.47/√density for scattered points), so two dense tiles far apart keep their cell and meet
    the grid-size limit instead of a cell too coarse for either. Every cloud denser than one
    point per 16 cells over its extent (the ISPRS samples: 1.2–6 cells per point) keeps
    ``cell`` at the cost of its bounds alone; only a cloud sparse over its extent is sampled.

    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.uniform(0, 100, 10_000), rng.uniform(0, 100, 10_000)
    >>> sparse_cell(x, y, None, 1.0)
    1.0
    >>> x, y = rng.uniform(0, 4000, 1_000), rng.uniform(0, 4000, 1_000)
    >>> 25 < sparse_cell(x, y, None, 1.0) < 40
    True
    """
    from scipy.spatial import cKDTree

    n = x.shape[0] if candidates is None else int(np.count_nonzero(candidates))
    if n < 3:
        return cell
    minx, miny, maxx, maxy = bounds or masked_bounds(x, y, candidates)
    area = max(maxx - minx, cell) * max(maxy - miny, cell)
    if not math.isfinite(area) or area / cell / cell / n <= SPARSE_CELLS_PER_POINT:
        return cell  # dense over its whole extent: no need to look closer
    # a sample of at most _SPARSE_SAMPLE candidates, no masked copy of the cloud
    idx = np.arange(x.shape[0]) if candidates is None else np.flatnonzero(candidates)
    idx = idx[:: max(1, n // _SPARSE_SAMPLE)]
    pts = np.column_stack([x[idx], y[idx]])
    d, _i = cKDTree(pts).query(pts, k=2)
    nn = d[:, 1][d[:, 1] > 0]
    if nn.size == 0:
        return cell
    # a sample of m points is √(n/m) times as far apart as the cloud
    spacing = float(np.median(nn)) * math.sqrt(idx.shape[0] / n)
    per_point = (spacing / (0.47 * cell)) ** 2
    if not math.isfinite(per_point) or per_point <= SPARSE_CELLS_PER_POINT:
        return cell
    return cell * math.sqrt(per_point / SPARSE_CELLS_PER_POINT)


#: points sampled for the local density of a cloud that looks sparse over its extent
_SPARSE_SAMPLE = 100_000


def smrf(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    params: SMRFParams | None = None,
    candidates: BoolArray | None = None,
    *,
    block: int = BLOCK,
    threads: int | None = None,
) -> BoolArray:
    """Ground mask by the Simple Morphological Filter, averaged over ``params.grids`` grid
    orientations (see the module's note).

    ``candidates`` (default: all) are the points allowed to shape the minimum surface and to
    become ground (PDAL uses last and only returns that are not noise). ``block``: points read
    at a time (bounded temporaries; the answer does not depend on it). ``threads``: threads
    for the grids (default: the cores, capped by ``$DKP_THREADS``; the answer does not depend
    on it).

    >>> import numpy as np
    >>> xs, ys = np.meshgrid(np.arange(0, 30.0, 0.5), np.arange(0, 30.0, 0.5))
    >>> x, y = xs.ravel(), ys.ravel()
    >>> roof = (abs(x - 15) < 4) & (abs(y - 15) < 4)
    >>> z = 0.1 * x + np.where(roof, 8.0, 0.0)
    >>> g = smrf(x, y, z)
    >>> bool(g[roof].any()), bool(g[~roof].all())
    (False, True)
    """
    p = params or SMRFParams()
    if p.grids < 1:
        raise ValueError(f"grids must be at least 1, got {p.grids}")
    n = x.shape[0]
    ground = np.zeros(n, dtype=bool)
    n_cand = n if candidates is None else int(np.count_nonzero(candidates))
    if n_cand < 3:
        return ground
    minx, miny, maxx, maxy = masked_bounds(x, y, candidates, block=block)
    cell = sparse_cell(x, y, candidates, p.cell, (minx, miny, maxx, maxy))
    if cell > p.cell:
        log.warning(
            _(
                "a sparse cloud ({n:,} points, about {d:,.3g} units apart): the ground "
                "filter's grid has cells of {c:.3g} instead of {c0:.3g}"
            ).format(n=n_cand, d=4 * cell, c=cell, c0=p.cell)
        )
        p = dataclasses.replace(p, cell=cell)
    bounds = (minx, miny, maxx, maxy)
    growing = p.grow_rounds > 0 and p.grow_slope > p.slope
    with worker_heap():  # grids by the hundred, allocated and freed: see lidar.alloc
        ground, steep = _smrf_mask(
            x, y, z, p, candidates, bounds, block=block, threads=threads,
            steep_slope=p.grow_slope if growing else None,
        )  # fmt: skip
        if steep is not None:
            steep &= ~ground
            ground = grow_ground(x, y, z, ground, steep, p, n_cand, bounds)
        del steep
        if p.clean_rounds > 0:
            ground = clean_ground(
                x, y, z, ground, k=p.clean_k, above=p.clean_above, spread=p.clean_spread,
                rounds=p.clean_rounds,
            )  # fmt: skip
            if p.island_area > 0:
                ground = drop_raised_islands(
                    x, y, z, ground, step=p.island_step, area=p.island_area
                )
    return ground


def _smrf_mask(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    p: SMRFParams,
    candidates: BoolArray | None,
    bounds: tuple[float, float, float, float],
    *,
    block: int,
    threads: int | None,
    steep_slope: float | None = None,
) -> tuple[BoolArray, BoolArray | None]:
    """SMRF's ground mask with ``p`` as it is (no growth): one grid, or the mean of several;
    with ``steep_slope``, also the mask single-grid SMRF gives at that slope (on the first grid,
    from its openings)."""
    n = x.shape[0]
    ground = np.zeros(n, dtype=bool)
    steep = None if steep_slope is None else np.zeros(n, dtype=bool)
    minx, miny, maxx, maxy = bounds

    def test(gs: GroundSurface, dem: FloatArray, out: BoolArray) -> None:
        """Single-grid SMRF's last step on a north-up grid (compiled, point by point)."""
        slope = slope_rise_run(dem, p.cell)
        m = _NO_MASK if candidates is None else candidates
        kern.within_threshold(
            x, y, z, m, candidates is not None, gs.grid.as_tuple(), dem, slope,
            p.threshold, p.scalar, out,
        )  # fmt: skip

    if p.grids == 1:
        # no masked copy of the cloud: the grids read the candidates a block at a time
        gs = smrf_surface(x, y, z, p, candidates, block=block, steep_slope=steep_slope)
        test(gs, gs.surface, ground)
        if steep is not None and gs.steep is not None:
            test(gs, gs.steep, steep)
        return ground, steep
    # the grids' residuals and slopes summed per point (float32: 8 bytes per point)
    res_sum = np.zeros(n, dtype=np.float32)
    slope_sum = np.zeros(n, dtype=np.float32)
    cx, cy = 0.5 * (minx + maxx), 0.5 * (miny + maxy)
    rotations = [
        _IDENTITY if k == 0 else (cx, cy, math.cos(a), math.sin(a))
        for k in range(p.grids)
        for a in (0.5 * math.pi * k / p.grids,)
    ]

    def surface(rot: Rotation) -> tuple[GroundSurface, FloatArray]:
        first = rot is _IDENTITY  # north-up in the points' own coordinates
        gs = smrf_surface(
            x, y, z, p, candidates, rotation=rot, block=block,
            steep_slope=steep_slope if first else None,
        )  # fmt: skip
        return gs, slope_rise_run(gs.surface, p.cell)

    # the grids are independent: built on the machine's cores (Qhull and the compiled kernels
    # release the GIL), summed in their own order so that the answer never depends on timing
    # (at most one surface per thread in flight: memory stays that of ``workers`` grids)
    workers = min(p.grids, threads if threads is not None and threads > 0 else _workers())
    with ThreadPoolExecutor(max_workers=workers) as pool:
        todo = iter(rotations)
        flight = deque((r, pool.submit(surface, r)) for r in itertools.islice(todo, workers))
        while flight:
            rot, fut = flight.popleft()
            gs, slope = fut.result()
            nxt = next(todo, None)
            if nxt is not None:
                flight.append((nxt, pool.submit(surface, nxt)))
            kern.accumulate_residuals(
                x, y, z, rot, gs.grid.as_tuple(), gs.surface, slope, res_sum, slope_sum
            )
            if steep is not None and gs.steep is not None:
                test(gs, gs.steep, steep)
            del gs, slope, fut
    scale = np.float32(1.0 / p.grids)
    for lo in range(0, n, block):
        b = slice(lo, lo + block)
        ok = np.abs(res_sum[b] * scale) <= p.threshold + p.scalar * (slope_sum[b] * scale)
        ground[b] = ok if candidates is None else ok & candidates[b]
    return ground, steep


#: the growth's thin-plate nodes are this many times the points' mean spacing apart, and at
#: least ``grow_cell`` (2.5 m for every cloud denser than 0.25 points/m²). Nodes 2.5 m apart
#: rather than 2 m: the same classification quality (ISPRS 3.309 % against 3.315 %; the provider
#: agreement of the three ``shared/data`` clouds equal or a little better) on two thirds of
#: the nodes, whose gradients need a third fewer steps (CSite4's growth 0.62 → 0.35 s)
GROW_SPACINGS = 1.25


def grow_ground(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    ground: BoolArray,
    joining: BoolArray,
    p: SMRFParams,
    n_points: int | None = None,
    bounds: tuple[float, float, float, float] | None = None,
) -> BoolArray:
    """``ground`` grown by the points of ``joining`` that lie between ``p.grow_below`` under
    and ``p.grow_above`` over the thin-plate surface (:func:`lidar.tps.thin_plate`, λ
    ``p.grow_lambda``) of the ground so far, refitted ``p.grow_rounds`` times.

    SMRF's slope tolerance decides between terraces and low objects: at PDAL's 0.15 it cuts
    embankments, terrace edges and steep banks off the ground (Type I errors), at 0.4 it takes
    low vegetation and buildings beside slopes (Type II). The steep answer is kept only where
    it continues the surface the gentle one has found, as a thin plate continues its slope
    across a gap. On the 15 ISPRS reference samples (one parameter set) this takes the mean
    total error from 3.52 % to 3.31 % (samp53's terraces 5.65 → 4.55 %, samp61 2.67 → 2.01 %;
    the flat town samp31 2.22 → 2.85 %: low objects within ``grow_above`` join).
    ``n_points`` and ``bounds``: the candidates' count and extent, when the caller has them
    (the nodes' spacing comes from their density)."""
    from lidar import tps

    ground = ground.copy()
    todo = np.flatnonzero(joining)
    if todo.size == 0 or not ground.any():
        return ground
    minx, miny, maxx, maxy = bounds or masked_bounds(x, y, None)
    n = x.shape[0] if n_points is None else n_points
    area = max(maxx - minx, p.cell) * max(maxy - miny, p.cell)
    h = max(p.grow_cell, GROW_SPACINGS / math.sqrt(max(n, 1) / area))
    grid = tps.NodeGrid.covering(minx, miny, maxx, maxy, h)
    check_grid_size((grid.x0, grid.y0, grid.x0 + grid.nx * h, grid.y0 + grid.ny * h), h)
    surface = None
    for _round in range(p.grow_rounds):
        surface = tps.thin_plate(grid, x, y, z, p.grow_lambda, ground, start=surface)
        dz = z[todo] - grid.sample_at(surface, x, y, todo)
        near = (dz <= p.grow_above) & (dz >= -p.grow_below)  # NaN (no surface): False
        if not near.any():
            break
        ground[todo[near]] = True
        todo = todo[~near]
        if todo.size == 0:
            break
    return ground


# --------------------------------------------------------------------------- CSF
@dataclass(frozen=True)
class CSFParams:
    """Cloth simulation parameters (PDAL ``filters.csf`` defaults), lengths in metres.

    resolution: cloth grid spacing; rigidness: 1 steep, 2 relief, 3 flat terrain; step: time
    step; threshold: point-to-cloth distance for ground; hdiff: height difference for the
    slope post-processing; iterations: maximum number of steps; smooth: post-process slopes.
    """

    resolution: float = 1.0
    rigidness: int = 2
    step: float = 0.65
    threshold: float = 0.5
    hdiff: float = 0.3
    iterations: int = 500
    smooth: bool = True

    def scaled(self, metres_per_unit: float) -> CSFParams:
        k = 1.0 / metres_per_unit
        return CSFParams(
            self.resolution * k,
            self.rigidness,
            self.step,
            self.threshold * k,
            self.hdiff * k,
            self.iterations,
            self.smooth,
        )


_GRAVITY = 0.2
_DAMPING = 0.01
_ROUNDS = 3  # Jacobi constraint passes per unit of rigidness


def _springs(h: FloatArray, movable: BoolArray, rigidness: int) -> FloatArray:
    """Internal forces: each movable particle moves toward its 4 neighbours, a full share when
    the neighbour is fixed and a half share when both can move, ``rigidness`` times."""
    mv = movable.astype(np.float64)
    for _i in range(rigidness * _ROUNDS):
        p = np.pad(h, 1, mode="edge")
        pm = np.pad(mv, 1, mode="edge")
        delta = np.zeros_like(h)
        weight = np.zeros_like(h)
        for nb, nbm in (
            (p[:-2, 1:-1], pm[:-2, 1:-1]),
            (p[2:, 1:-1], pm[2:, 1:-1]),
            (p[1:-1, :-2], pm[1:-1, :-2]),
            (p[1:-1, 2:], pm[1:-1, 2:]),
        ):
            share = np.where(nbm > 0, 1.0, 2.0)
            delta += share * (nb - h)
            weight += share
        h = h + mv * delta / weight
    return h


def csf_cloth(x: FloatArray, y: FloatArray, z: FloatArray, p: CSFParams) -> GroundSurface:
    """Drop a cloth onto the inverted cloud; return the settled cloth in real heights."""
    bounds = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    check_grid_size(bounds, p.resolution)  # before the cloth is allocated
    grid = GridSpec.covering(*bounds, p.resolution)
    lowest = cell_stat(grid, x, y, z, "min")
    # low outliers would catch the cloth: drop cells far below their neighbourhood (as SMRF)
    low = progressive_filter(-fill_nearest(lowest), p.resolution, 5.0, 1)
    if low.any() and not low.all():
        lowest = np.where(low, np.nan, lowest)
    ihv = -fill_nearest(lowest)  # inverted lowest point per cell
    top = float(ihv.max()) + 1.0
    h = np.full(ihv.shape, top)
    old = h.copy()
    movable = np.ones(ihv.shape, dtype=bool)
    acc = _GRAVITY * p.step * p.step
    for it in range(p.iterations):
        new = np.where(movable, h + (h - old) * (1.0 - _DAMPING) - acc, h)
        old = h
        h = _springs(new, movable, p.rigidness)
        hit = movable & (h <= ihv)
        if hit.any():
            h = np.where(hit, ihv, h)
            old = np.where(hit, ihv, old)
            movable &= ~hit
        if it > 10 and (not movable.any() or float(np.abs(h - old)[movable].max()) < 0.005):
            break
    if movable.all() and (ihv < top).any():
        # CSF's own stop (moves under 5 mm) also ends a cloth that has hardly begun to fall:
        # at a step of 0.02 it had fallen 5 mm, no point was ground and the class was cleared
        hint = (
            _("give more iterations (500 by default)")
            if p.iterations <= 11  # it stopped at its last iteration, not at CSF's test
            else _("give a larger step (0.65 by default)")
        )
        raise BadInputError(
            _("the cloth did not reach the ground (step {s:g}, {n:,} iterations): {hint}").format(
                s=p.step, n=p.iterations, hint=hint
            )
        )
    if p.smooth:
        for _pass in range(max(grid.rows, grid.cols)):
            fixed = ~movable
            p_fixed = np.pad(fixed, 1, constant_values=False)
            near_fixed = (
                p_fixed[:-2, 1:-1] | p_fixed[2:, 1:-1] | p_fixed[1:-1, :-2] | p_fixed[1:-1, 2:]
            )
            snap = movable & near_fixed & (np.abs(h - ihv) < p.hdiff)
            if not snap.any():
                break
            h = np.where(snap, ihv, h)
            movable &= ~snap
    return GroundSurface(grid, -h, movable)


def csf(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    params: CSFParams | None = None,
    candidates: BoolArray | None = None,
) -> BoolArray:
    """Ground mask by the Cloth Simulation Filter: points within ``threshold`` of the cloth."""
    p = params or CSFParams()
    n = x.shape[0]
    cand = np.ones(n, dtype=bool) if candidates is None else candidates
    ground = np.zeros(n, dtype=bool)
    if cand.sum() < 3:
        return ground
    xs, ys, zs = x[cand], y[cand], z[cand]
    cloth = csf_cloth(xs, ys, zs, p)
    cz = bilinear(cloth.grid, cloth.surface, xs, ys)
    ground[np.flatnonzero(cand)] = np.abs(zs - cz) < p.threshold
    return ground
