"""The search steps of :mod:`missions.poa` (method 1–4 and the mass split of 6 there): the
coarse footprint grid, the receding horizon with jumps, the candidate paths and the choice
among them by overlap-exact coverage."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString

from missions.poa_cover import Footprint, coverage_fraction, position_at, swept_pieces, truncate
from missions.poa_map import PoaGrid

# scipy.ndimage and the compiled kernels (missions.poa_kernels) are imported by the functions
# that use them: a plan refused at its map or its options answers without loading numba

FloatArray = NDArray[np.float64]
HORIZON = 7
GAMMA = 0.97
BLOCK = 5
#: receding-horizon variants tried per drone: (jump factor, wall-following bonus)
RH_VARIANTS = ((2.0, 1.0, 0.0), (3.0, 0.6, 0.0), (2.0, 1.0, 1.0), (2.0, 0.6, 1.2))
DAMP = 0.1
HYBRID_SHARES = (0.4, 0.6)
#: headings of the parallel tracks over the most probable region (:func:`sweep_path`)
SWEEP_ANGLES_DEG = (0.0, 45.0, 90.0, 135.0)
#: every path thinned to the vertices a line this share of the footprint width away needs
THIN_SHARE = 0.02
#: a spiral's and an arc's chords (:func:`spiral_from`, :func:`sector_arcs`) lie at most this
#: share of the ring spacing inside the arc: a 100 km spiral of 66 m arms has 64 vertices per
#: turn from 415 m out, chords of 41–140 m
SPIRAL_SAG_SHARE = 0.03
#: values below this share of a smoothed map's largest are round-off of its running sums
ROUNDOFF = 1e-9
_DIRS = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])  # (drow, dcol): N, E, S, W


def _sequences(h: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Cumulative offsets (S, h, 2) of all no-reversal 4-connected sequences and whether each
    step enters a cell not visited earlier in the sequence (the start cell counts as visited)."""
    seqs = [[d] for d in range(4)]
    for _step in range(h - 1):
        seqs = [[*s, d] for s in seqs for d in range(4) if d != (s[-1] + 2) % 4]
    moves = _DIRS[np.asarray(seqs)]
    cum = np.cumsum(moves, axis=1)
    key = cum[..., 0] * 1000 + cum[..., 1]
    first = np.ones(key.shape, dtype=bool)
    first &= key != 0
    for k in range(1, h):
        first[:, k] &= ~(key[:, :k] == key[:, k : k + 1]).any(axis=1)
    return cum, first


_SEQ_CACHE: dict[int, tuple[NDArray[np.int64], NDArray[np.bool_]]] = {}


def _coarse_values(
    grid: PoaGrid, residual: FloatArray, origin: tuple[float, float], c: float
) -> tuple[FloatArray, int, int]:
    """Residual probability per coarse cell; coarse cell (r, q) has its centre at
    ``origin + (q - q0) * c, origin - (r - r0) * c``. Returns values, r0, q0."""
    ny, nx = grid.shape
    xmin, xmax = grid.x0, grid.x0 + nx * grid.cell_m
    ymax, ymin = grid.y0, grid.y0 - ny * grid.cell_m
    ox, oy = origin
    q_lo = math.floor((xmin - ox) / c - 0.5) - 1
    q_hi = math.ceil((xmax - ox) / c + 0.5) + 1
    r_lo = math.floor((oy - ymax) / c - 0.5) - 1
    r_hi = math.ceil((oy - ymin) / c + 0.5) + 1
    q_lo, r_lo = min(q_lo, 0), min(r_lo, 0)
    q_hi, r_hi = max(q_hi, 0), max(r_hi, 0)
    cols, rows = q_hi - q_lo + 1, r_hi - r_lo + 1
    s = 4
    sub = (np.arange(s) + 0.5) / s - 0.5
    xs = ox + (np.arange(q_lo, q_hi + 1)[:, None] + sub[None, :]).ravel() * c
    ys = oy - (np.arange(r_lo, r_hi + 1)[:, None] + sub[None, :]).ravel() * c
    fi = np.floor((grid.y0 - ys) / grid.cell_m).astype(int)
    fj = np.floor((xs - grid.x0) / grid.cell_m).astype(int)
    vi, vj = (fi >= 0) & (fi < ny), (fj >= 0) & (fj < nx)
    dens = residual / (grid.cell_m * grid.cell_m)
    samp = dens[np.clip(fi, 0, ny - 1)][:, np.clip(fj, 0, nx - 1)] * vi[:, None] * vj[None, :]
    v = samp.reshape(rows, s, cols, s).mean(axis=(1, 3)) * c * c
    return v, -r_lo, -q_lo


def plan_one(
    values: FloatArray,
    start: tuple[int, int],
    steps: float,
    horizon: int = HORIZON,
    jump_factor: float = 1.2,
    wall_bonus: float = 0.0,
) -> FloatArray:
    """Vertices (row, col, in cell units) of one drone's path over the coarse ``values``,
    at most ``steps`` cell lengths long: at each step the best no-reversal sequence of
    ``horizon`` moves (discounted by ``GAMMA``, each cell once), or a jump to the
    ``BLOCK``×``BLOCK`` block with the best probability per unit of distance when it beats
    the local rate by ``jump_factor``; ``wall_bonus``: how much more a cell next to covered
    ones is worth (the path fills in rather than leaving holes). The walk is compiled
    (:mod:`missions.poa_kernels`)."""
    from scipy.ndimage import uniform_filter

    from missions.poa_kernels import receding_horizon

    if horizon not in _SEQ_CACHE:
        _SEQ_CACHE[horizon] = _sequences(horizon)
    cum, first = _SEQ_CACHE[horizon]
    weight = first * GAMMA ** np.arange(horizon)
    vals = np.ascontiguousarray(values, dtype=np.float64)
    # BLOCK×BLOCK sums of the values around every cell, kept up to date as cells are zeroed
    block = uniform_filter(vals, size=BLOCK, mode="constant") * (BLOCK * BLOCK)
    pts = receding_horizon(
        vals,
        block,
        int(start[0]),
        int(start[1]),
        float(steps),
        cum,
        weight,
        float(jump_factor),
        float(wall_bonus),
        BLOCK // 2,
        float(BLOCK * BLOCK),
    )
    return _simplify(pts)


def _simplify(pts: FloatArray) -> FloatArray:
    """Drop vertices in the middle of straight runs."""
    if len(pts) < 3:
        return pts
    d1 = np.diff(pts, axis=0)
    cross = d1[:-1, 0] * d1[1:, 1] - d1[:-1, 1] * d1[1:, 0]
    dot = (d1[:-1] * d1[1:]).sum(axis=1)
    keep = np.concatenate([[True], (np.abs(cross) > 1e-9) | (dot <= 0), [True]])
    return pts[keep]


def arc_segments(r_m: float, spacing_m: float, span_rad: float, least: int) -> int:
    """Chords for an arc of ``span_rad`` at radius ``r_m`` of a pattern whose rings are
    ``spacing_m`` apart: ``least`` doubled until each chord's middle lies at most
    ``SPIRAL_SAG_SHARE`` of the spacing inside the arc. Powers of two of the same ``least``
    nest: every bearing of an inner ring recurs on the rings outside it."""
    n = least
    while r_m * (1.0 - math.cos(span_rad / (2 * n))) > SPIRAL_SAG_SHARE * spacing_m:
        n *= 2
    return n


def spiral_from(
    c_xy: tuple[float, float],
    spacing_m: float,
    length_m: float,
    start_rad: float = 0.0,
    sense: float = 1.0,
) -> FloatArray:
    """Outward Archimedean spiral from ``c_xy``, arms ``spacing_m`` apart, ``length_m`` long,
    starting towards bearing ``start_rad``, clockwise (``sense`` 1) or anticlockwise (-1).

    The vertices sit at the same bearings turn after turn, so each chord lies beside the chord
    of the next turn and the swaths abut. With vertices at other bearings on every turn (12 per
    radian, or thinned), a chord's middle, 1–2 m inside the arc, faces the next turn's vertex:
    strips of gap and overlap that cost 0.2–0.3 % of the probability covered on SAREnv's ring
    maps. A turn has 8 vertices, doubled (every other bearing kept) while a chord's middle would
    lie more than ``SPIRAL_SAG_SHARE`` of the spacing inside the turn's outer arc. The spiral is
    flown as generated, not thinned."""
    th_max = math.sqrt(4 * math.pi * length_m / spacing_m) + 2 * math.pi
    turns = []
    for k in range(math.ceil(th_max / (2 * math.pi)) + 1):
        n = arc_segments((k + 1) * spacing_m, spacing_m, 2 * math.pi, 8)
        turns.append(2 * math.pi * k + np.arange(n) * (2 * math.pi / n))
    th = np.concatenate(turns)
    r = spacing_m * th / (2 * math.pi)
    b = start_rad + sense * th
    xy = np.column_stack([c_xy[0] + r * np.sin(b), c_xy[1] + r * np.cos(b)])
    return truncate(xy, length_m)


def sector_arcs(
    c_xy: tuple[float, float],
    spacing_m: float,
    length_m: float,
    a0: float,
    a1: float,
    first: float = 0.5,
) -> FloatArray:
    """Arcs round ``c_xy`` between bearings ``a0`` and ``a1`` (radians, clockwise), radii
    ``spacing_m`` apart from ``first`` × it outwards, flown back and forth and joined radially, from
    ``c_xy``: the sector (for a whole circle, concentric circles) swept outwards."""
    pts = [np.array([c_xy])]
    used, k = 0.0, 0
    while used < length_m:
        r = (k + first) * spacing_m
        n = arc_segments(r, spacing_m, a1 - a0, 2) + 1  # the bearings nest, as the spiral's
        b = np.linspace(a0, a1, n) if k % 2 == 0 else np.linspace(a1, a0, n)
        pts.append(np.column_stack([c_xy[0] + r * np.sin(b), c_xy[1] + r * np.cos(b)]))
        used += r * (a1 - a0) + spacing_m
        k += 1
    return truncate(np.vstack(pts), length_m)


def pattern_candidates(
    launch: tuple[float, float], c: float, budget_m: float, n: int, a0: float = 0.0
) -> list[list[FloatArray]]:
    """Classic patterns as candidate plans (one path per drone, each from the launch point):
    for one drone outward spirals in both senses from four bearings and concentric circles; for
    ``n`` drones ``n`` sectors from bearing ``a0`` (two offsets), each swept by outward arcs
    (the first at half or one spacing)."""
    if n == 1:
        out = [
            [spiral_from(launch, c, budget_m, q * math.pi / 2, sense)]
            for q in range(4)
            for sense in (1.0, -1.0)
        ]
        return [*out, [sector_arcs(launch, c, budget_m, 0.0, 2 * math.pi)]]
    w = 2 * math.pi / n
    return [
        [
            sector_arcs(launch, c, budget_m, a0 + off + i * w, a0 + off + (i + 1) * w, first)
            for i in range(n)
        ]
        for off in (0.0, w / 2)
        for first in (0.5, 1.0)
    ]


def _candidates(
    values: FloatArray,
    start: tuple[int, int],
    budget_m: float,
    c: float,
    launch: tuple[float, float],
) -> list[FloatArray]:
    """Candidate paths for one drone (metric): the receding-horizon planner with two jump
    thresholds, and a spiral around the launch point (the best plan when the probability falls
    off evenly around it); the caller keeps the one covering the most residual probability."""
    from scipy.ndimage import uniform_filter

    r0, q0 = start
    out = []
    steps = budget_m / c
    ranked = np.sort(values.ravel())[::-1]
    for jf, wb, focus in RH_VARIANTS:
        v = values.copy()
        if focus:
            # the budget's worth of the best cells (× ``focus``): everything below is damped,
            # so the path is drawn to the set it can cover instead of the local gradient
            tau = ranked[min(len(ranked) - 1, int(focus * steps))]
            v = np.where(v >= tau, v, v * DAMP)
        cells = plan_one(v, start, steps, jump_factor=jf, wall_bonus=wb)
        out.append(
            np.column_stack(
                [launch[0] + (cells[:, 1] - q0) * c, launch[1] - (cells[:, 0] - r0) * c]
            )
        )
    out.append(spiral_from(launch, c, budget_m))
    smooth = uniform_filter(values, size=BLOCK, mode="constant")
    pr, pq = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    peak = (launch[0] + (pq - q0) * c, launch[1] - (pr - r0) * c)
    gap = math.hypot(peak[0] - launch[0], peak[1] - launch[1])
    if 2 * c < gap < budget_m / 2:  # fly to the most probable spot, spiral out from there
        out.append(np.vstack([np.array(launch)[None], spiral_from(peak, c, budget_m - gap)]))
    return out


def _sweep_order(
    lo: FloatArray, hi: FloatArray, strips: NDArray[np.int64], c: float, first_hi: bool
) -> FloatArray:
    """Boustrophedon vertices (u, v) through the strips' spans, starting at the first strip's
    ``hi`` end when ``first_hi``."""
    flip = (np.arange(len(strips)) % 2 == 0) == first_hi
    out = np.empty((2 * len(strips), 2), dtype=np.float64)
    out[0::2, 0] = np.where(flip, hi, lo)
    out[1::2, 0] = np.where(flip, lo, hi)
    out[:, 1] = np.repeat(strips * c, 2)
    return out


def _length(uv: FloatArray) -> float:
    return float(np.hypot(*np.diff(uv, axis=0).T).sum()) if len(uv) > 1 else 0.0


def _most_that_fit(fits: Callable[[int], bool], n: int) -> int:
    """The most cells (1 … ``n``, best first) whose track ``fits`` (the budget), by bisection
    (a track over more cells is no shorter); 1 when even one does not fit."""
    lo, hi = 1, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def sweep_path(
    grid: PoaGrid,
    residual: FloatArray,
    launch: tuple[float, float],
    c: float,
    budget_m: float,
    angle_rad: float,
) -> FloatArray | None:
    """A parallel track (legs ``c`` apart, heading ``angle_rad``) over the most probable
    region the budget can sweep: the cells whose footprint-smoothed residual is above a
    threshold, each leg spanning that region's cells in its strip; the threshold is the lowest
    whose track (with the transit from the launch point to its nearer end) fits the budget.
    Metric vertices from the launch point, or None when nothing is left."""
    from scipy.ndimage import uniform_filter

    k = max(1, round(c / grid.cell_m))
    dens = uniform_filter(residual, size=k, mode="constant")
    x, y = grid.centres()
    dx, dy = x[None, :] - launch[0], y[:, None] - launch[1]
    ca, sa = math.cos(angle_rad), math.sin(angle_rad)
    u = (dx * ca + dy * sa).ravel()
    strip = np.rint((-dx * sa + dy * ca) / c).astype(np.int64).ravel()
    d = dens.ravel()
    order = np.argsort(d)[::-1]
    # the running sums of uniform_filter leave round-off (1e-20) in cells far from any
    # probability: taken as probable, a large budget's legs ran out to the map's corners,
    # beyond the reach of one battery
    order = order[d[order] > ROUNDOFF * max(float(d.max()), 0.0)]
    if len(order) == 0:
        return None
    smin = int(strip.min())
    nstrip = int(strip.max()) - smin + 1

    def track(m: int) -> FloatArray:
        sel = order[:m]
        st = strip[sel] - smin
        lo = np.full(nstrip, np.inf)
        hi = np.full(nstrip, -np.inf)
        np.minimum.at(lo, st, u[sel])
        np.maximum.at(hi, st, u[sel])
        used = np.flatnonzero(np.isfinite(lo))
        best: FloatArray | None = None
        for rev in (False, True):
            idx = used[::-1] if rev else used
            for first_hi in (False, True):
                uv = np.vstack(
                    [[0.0, 0.0], _sweep_order(lo[idx], hi[idx], idx + smin, c, first_hi)]
                )
                if best is None or _length(uv) < _length(best):
                    best = uv
        assert best is not None
        return best

    uv = track(_most_that_fit(lambda m: _length(track(m)) <= budget_m, len(order)))
    xy = np.column_stack(
        [launch[0] + uv[:, 0] * ca - uv[:, 1] * sa, launch[1] + uv[:, 0] * sa + uv[:, 1] * ca]
    )
    return truncate(xy, budget_m)


def _to_metric(
    cells: FloatArray, start: tuple[int, int], c: float, launch: tuple[float, float]
) -> FloatArray:
    r0, q0 = start
    return np.column_stack([launch[0] + (cells[:, 1] - q0) * c, launch[1] - (cells[:, 0] - r0) * c])


def _hybrid(
    grid: PoaGrid,
    residual: FloatArray,
    launch_xy: tuple[float, float],
    fp: Footprint,
    budget_m: float,
    head: FloatArray,
) -> FloatArray:
    """``head`` (a spiral: nearly no overlap), then the receding horizon on what it left,
    from where it ends: the disc round the LKP swept tightly, the corridors reached after."""
    c = fp.across_m
    head = truncate(head, budget_m)
    used = float(np.hypot(*np.diff(head, axis=0).T).sum()) if len(head) > 1 else 0.0
    left = budget_m - used
    if left < 2 * c:
        return head
    rest = residual * (1.0 - coverage_fraction(grid, swept_pieces(head, fp), k=2))
    v, r0, q0 = _coarse_values(grid, rest, launch_xy, c)
    end = head[-1]
    a = round(float(r0 - (end[1] - launch_xy[1]) / c))
    b = round(float(q0 + (end[0] - launch_xy[0]) / c))
    rows, cols = v.shape
    if not (0 <= a < rows and 0 <= b < cols):
        return head
    jump = float(
        np.hypot(*(_to_metric(np.array([[a, b]], float), (r0, q0), c, launch_xy)[0] - end))
    )
    steps = (left - jump) / c
    ranked = np.sort(v.ravel())[::-1]
    tau = ranked[min(len(ranked) - 1, int(steps))]
    v = np.where(v >= tau, v, v * DAMP)
    cells = plan_one(v, (a, b), steps, jump_factor=2.0, wall_bonus=0.6)
    tail = thin(_to_metric(cells, (r0, q0), c, launch_xy), THIN_SHARE * c)
    return np.vstack([head, tail])


def best_path(
    grid: PoaGrid,
    residual: FloatArray,
    launch_xy: tuple[float, float],
    fp: Footprint,
    budget_m: float,
    current: FloatArray | None = None,
    light: bool = False,
    tails: bool = False,
) -> tuple[float, FloatArray, FloatArray]:
    """The candidate (and ``current``, when given) covering the most ``residual``
    probability: (gain, path, covered fraction per cell). ``light``: the receding-horizon
    candidates only; ``tails``: the winner's tail planned again (:func:`_new_tails`)."""
    c = fp.across_m
    v, r0, q0 = _coarse_values(grid, residual, launch_xy, c)
    cands = _candidates(v, (r0, q0), budget_m, c, launch_xy)
    heads = cands[-2:] if len(cands) > len(RH_VARIANTS) + 1 else cands[-1:]
    if light:
        cands, heads = cands[: len(RH_VARIANTS)], []
    # thinned: the paths drawn on the cell grid; flown as generated: the spirals and arcs,
    # whose vertices sit at the same bearings ring after ring (a hybrid thins its own tail)
    as_is = [False] * len(RH_VARIANTS) + [True] * (len(cands) - len(RH_VARIANTS))
    for a in SWEEP_ANGLES_DEG:
        sw = sweep_path(grid, residual, launch_xy, c, budget_m, math.radians(a))
        if sw is not None:
            cands.append(sw)
            as_is.append(False)
    regions = []
    for a in REGION_ANGLES_DEG[:: 2 if light else 1]:
        for gap, min_cells, smooth in REGION_VARIANTS:
            rs = region_sweep_path(
                grid, residual, launch_xy, c, budget_m, math.radians(a), gap, min_cells, smooth
            )
            if rs is not None:
                regions.append(rs)
    if not light:
        pats = [p[0] for p in pattern_candidates(launch_xy, c, budget_m, 1)]
        cands += pats
        as_is += [True] * len(pats)
    for head in heads:
        for f in HYBRID_SHARES:
            cands.append(
                _hybrid(grid, residual, launch_xy, fp, budget_m, truncate(head, f * budget_m))
            )
            as_is.append(True)
    if current is not None:
        cands.insert(0, current)
        as_is.insert(0, True)
    best: tuple[float, FloatArray] | None = None
    handicap = [1.0] * len(cands) + [1.0 / (1.0 + REGION_MARGIN)] * len(regions)
    as_is += [False] * len(regions)
    for cand, h, keep in zip(cands + regions, handicap, as_is, strict=True):
        # ranked at 4×4 sub-cells per cell, the winner scored exactly
        xy = truncate(cand, budget_m)
        if len(xy) < 2:  # goes nowhere (e.g. all the probability under the launch point)
            continue
        if not keep:
            xy = thin(xy, THIN_SHARE * c)
        gain = h * float(
            (residual * coverage_fraction(grid, swept_pieces(xy, fp, raw=True), k=4)).sum()
        )
        if best is None or gain > best[0]:
            best = (gain, xy)
    if best is None:  # nothing but paths that go nowhere: the spiral round the launch point
        best = (0.0, spiral_from(launch_xy, c, budget_m))
    frac = coverage_fraction(grid, swept_pieces(best[1], fp, raw=True))
    gain, xy = float((residual * frac).sum()), best[1]
    if tails:
        gain, xy, frac = _new_tails(grid, residual, fp, budget_m, gain, xy, frac)
    return gain, xy, frac


#: :func:`best_path` with ``tails``: the shares of the winner kept as the head before its tail
#: is planned again
TAIL_SHARES = (0.5, 0.7, 0.85)


def _new_tails(
    grid: PoaGrid,
    residual: FloatArray,
    fp: Footprint,
    budget_m: float,
    gain: float,
    xy: FloatArray,
    frac: FloatArray,
) -> tuple[float, FloatArray, FloatArray]:
    """The path ``xy`` with its tail after each of ``TAIL_SHARES`` of the budget planned again
    (the receding-horizon, sweep and region candidates, from the head's end, on what the head
    leaves), the best of them and ``xy`` kept: a region sweep or a spiral chosen for the whole
    budget can end in ground another candidate covers better."""
    for share in TAIL_SHARES:
        head = truncate(xy, share * budget_m)
        left = budget_m - _length(head)
        if len(head) < 2 or left < fp.across_m:
            continue
        head_frac = coverage_fraction(grid, swept_pieces(head, fp, raw=True))
        end = (float(head[-1, 0]), float(head[-1, 1]))
        _g, tail, _f = best_path(grid, residual * (1.0 - head_frac), end, fp, left, light=True)
        cand = truncate(np.vstack([head, tail[1:]]), budget_m)
        cf = coverage_fraction(grid, swept_pieces(cand, fp, raw=True))
        g = float((residual * cf).sum())
        if g > gain:
            gain, xy, frac = g, cand, cf
    return gain, xy, frac


def thin(xy: FloatArray, tol_m: float) -> FloatArray:
    """``xy`` without the vertices a line ``tol_m`` away does not need (Douglas–Peucker, the
    ends kept): a spiral as legs tens of metres long, not a waypoint every few metres for the
    vehicle to stop at (the guard times a flight waypoint by waypoint)."""
    if len(xy) < 3:
        return xy
    out = np.asarray(shapely.simplify(LineString(xy), tol_m).coords, dtype=np.float64)
    return out if len(out) >= 2 else xy[[0, -1]]


def union_gain(prob: FloatArray, fracs: Sequence[FloatArray]) -> float:
    miss = np.ones_like(prob)
    for f in fracs:
        miss *= 1.0 - f
    return float((prob * (1.0 - miss)).sum())


def sector_plan(
    grid: PoaGrid,
    launch_xy: tuple[float, float],
    fps: Sequence[Footprint],
    budget_m: float,
) -> tuple[list[FloatArray], list[FloatArray]]:
    """One sector per drone round the launch point, each holding an equal share of the
    probability the fleet can cover (the most probable cells of the fleet's swept area);
    cuts start where that set is thinnest (no corridor cut in two). Each drone is planned
    on its own sector (the rest damped by ``DAMP``², still there for the transit), then on
    what the earlier drones left."""
    n = len(fps)
    x, y = grid.centres()
    ang = np.arctan2(x[None, :] - launch_xy[0], y[:, None] - launch_xy[1]) % (2 * math.pi)
    cells = int(sum(budget_m * f.across_m for f in fps) / grid.cell_m**2)
    flat = grid.prob.ravel()
    top = np.argsort(flat)[::-1][: max(cells, 1)]
    hist, edges = np.histogram(ang.ravel()[top], bins=72, range=(0, 2 * math.pi), weights=flat[top])
    start = edges[int(np.argmin(hist))]
    rel = (ang - start) % (2 * math.pi)
    order = np.argsort(rel.ravel()[top])
    cum = np.cumsum(flat[top][order])
    cuts = [0.0]
    for i in range(1, n):
        k = int(np.searchsorted(cum, cum[-1] * i / n))
        cuts.append(float(rel.ravel()[top][order][min(k, len(order) - 1)]))
    cuts.append(2 * math.pi + 1e-9)
    residual = grid.prob.copy()
    paths: list[FloatArray] = []
    fracs: list[FloatArray] = []
    for i, fp in enumerate(fps):
        inside = (rel >= cuts[i]) & (rel < cuts[i + 1])
        weighted = residual * np.where(inside, 1.0, DAMP * DAMP)
        _g, xy, frac = best_path(grid, weighted, launch_xy, fp, budget_m, light=True)
        residual = residual * (1.0 - frac)
        paths.append(xy)
        fracs.append(frac)
    return paths, fracs


def _piece(xy: FloatArray, s0_m: float, s1_m: float) -> FloatArray:
    """The part of the polyline ``xy`` between the arc lengths ``s0_m`` and ``s1_m``."""
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    ends = position_at(xy, np.array([s0_m, s1_m]))
    inner = xy[(cum > s0_m) & (cum < s1_m)]
    return np.vstack([ends[:1], inner, ends[1:]])


def split_plan(
    grid: PoaGrid,
    launch_xy: tuple[float, float],
    fps: Sequence[Footprint],
    budget_m: float,
    fleet_budget_m: float | None = None,
) -> tuple[list[FloatArray], list[FloatArray]] | None:
    """One path planned for the whole fleet's budget (``fleet_budget_m``, at most n × the
    drone's) cut into one piece per drone: the first drone flies the first ``budget_m``, each
    later one flies straight from the launch point to where the previous piece ended and on
    along the path for what its budget has left. None when the path is too short to give every
    drone a piece."""
    n = len(fps)
    launch = np.asarray(launch_xy, dtype=np.float64)
    whole = n * budget_m if fleet_budget_m is None else fleet_budget_m
    _g, xy, _f = best_path(grid, grid.prob, launch_xy, fps[0], whole)
    total = float(np.hypot(*np.diff(xy, axis=0).T).sum()) if len(xy) > 1 else 0.0
    paths: list[FloatArray] = []
    s = 0.0
    for _k in range(n):
        if s >= total:
            return None
        start = position_at(xy, np.array([s]))[0]
        transit = float(np.hypot(*(start - launch)))
        if transit >= budget_m:
            return None
        e = min(s + budget_m - transit, total)
        piece = _piece(xy, s, e)
        if transit > 0.0:
            piece = np.vstack([launch[None, :], piece])
        paths.append(truncate(piece, budget_m))
        s = e
    fracs = [coverage_fraction(grid, swept_pieces(p, f, raw=True)) for p, f in zip(paths, fps)]
    return paths, fracs


#: region sweeps (:func:`region_sweep_path`): headings tried (every other one for the drones
#: planned with ``light``), and variants: (the widest gap
#: in footprint widths inside a strip flown over rather than split, the fewest cells a region
#: is swept for, the weight of the 3×3 mean in the ranking of cells)
REGION_ANGLES_DEG = (0.0, 22.5, 45.0, 67.5, 90.0, 112.5, 135.0, 157.5)
REGION_VARIANTS = ((1, 4, 0.5),)
#: a region sweep wins only when it covers this share more than the best other candidate: a
#: small lead is within what the sensor model decides (a centre-in-footprint count, as SAREnv
#: scores, can rank a boustrophedon whose legs fall between cell centres below a spiral)
REGION_MARGIN = 0.01
#: the most regions one region sweep joins: a selection falling apart into more (scattered
#: cells, a flat map's ties) is the receding horizon's ground, and 2-opt costs n² per move (a
#: uniform 1.8 km disc took 30 s to plan, 25 s of it in 2-opt over hundreds of regions)
MAX_REGIONS = 120


def _rotated_mass(
    grid: PoaGrid, residual: FloatArray, launch: tuple[float, float], c: float, angle_rad: float
) -> tuple[FloatArray, int, int]:
    """Residual probability binned in ``c``-wide cells of a raster turned by ``angle_rad``
    round the launch point: row = strip (across the legs), column = position along a leg.
    Returns the raster and the strip and column index of its row/column 0."""
    x, y = grid.centres()
    dx, dy = x[None, :] - launch[0], y[:, None] - launch[1]
    ca, sa = math.cos(angle_rad), math.sin(angle_rad)
    col = np.rint((dx * ca + dy * sa) / c).astype(np.int64).ravel()
    strip = np.rint((-dx * sa + dy * ca) / c).astype(np.int64).ravel()
    s0, q0 = int(strip.min()), int(col.min())
    ns, nq = int(strip.max()) - s0 + 1, int(col.max()) - q0 + 1
    flat = np.bincount((strip - s0) * nq + (col - q0), weights=residual.ravel(), minlength=ns * nq)
    return np.asarray(flat, dtype=np.float64).reshape(ns, nq), s0, q0


def _intervals(sel: NDArray[np.bool_], gap: int) -> list[list[tuple[int, int]]]:
    """Per row of ``sel``, its runs of selected cells as (first, last) columns, runs at most
    ``gap`` cells apart merged."""
    rows, cols = sel.shape
    pad = np.zeros((rows, cols + 2), dtype=np.int8)
    pad[:, 1:-1] = sel
    d = np.diff(pad, axis=1)
    out: list[list[tuple[int, int]]] = [[] for _ in range(rows)]
    r0, c0 = np.nonzero(d == 1)  # row-major: runs in order, row by row
    if len(r0) == 0:
        return out
    c1 = np.nonzero(d == -1)[1] - 1
    # a run starts a new interval unless it is in the same row as the previous one and at most
    # ``gap`` cells after it
    new = np.ones(len(r0), dtype=bool)
    new[1:] = (r0[1:] != r0[:-1]) | (c0[1:] - c1[:-1] - 1 > gap)
    first = np.flatnonzero(new)
    last = np.concatenate([first[1:] - 1, [len(r0) - 1]]).astype(np.int64)
    for r, a, b in zip(r0[first].tolist(), c0[first].tolist(), c1[last].tolist(), strict=True):
        out[r].append((a, b))
    return out


def _regions(runs: list[list[tuple[int, int]]]) -> list[list[tuple[int, int, int]]]:
    """Boustrophedon decomposition: runs of consecutive strips chained into regions while a run
    overlaps exactly one run of the next strip and that one only it; a region is a list of
    (strip, first, last), one run per strip, swept back and forth without leaving it."""
    regions: list[list[tuple[int, int, int]]] = []
    open_: dict[int, int] = {}  # index of a run in the previous strip → its region
    for s, row in enumerate(runs):
        prev = runs[s - 1] if s else []
        nxt: dict[int, int] = {}
        for i, (a, b) in enumerate(row):
            over = [j for j, (pa, pb) in enumerate(prev) if pa <= b and a <= pb]
            if len(over) == 1:
                j = over[0]
                pa, pb = prev[j]
                if j in open_ and sum(1 for (ra, rb) in row if ra <= pb and pa <= rb) == 1:
                    regions[open_[j]].append((s, a, b))
                    nxt[i] = open_[j]
                    continue
            regions.append([(s, a, b)])
            nxt[i] = len(regions) - 1
        open_ = nxt
    return regions


def _region_track(reg: list[tuple[int, int, int]], rev: bool, hi_first: bool) -> FloatArray:
    """Vertices (column, strip) sweeping a region back and forth, from its last strip when
    ``rev``, starting at the high end of the first run when ``hi_first``."""
    seq = reg[::-1] if rev else reg
    pts = []
    for i, (s, a, b) in enumerate(seq):
        lo, hi = (b, a) if (i % 2 == 0) == hi_first else (a, b)
        pts += [(lo, s), (hi, s)]
    return np.asarray(pts, dtype=np.float64)


def _order_regions(regions: list[list[tuple[int, int, int]]], start: FloatArray) -> FloatArray:
    """The regions' sweeps joined into one track from ``start`` (cell units): nearest entry
    (of four per region) first, then 2-opt on the order (a reversed stretch flies its regions'
    sweeps backwards) while that shortens the transits."""
    return _joined(start, _two_opt(_nearest_first(regions, start), start))


def _joined(start: FloatArray, seq: list[FloatArray]) -> FloatArray:
    return np.vstack([start[None], *seq])


def _nearest_first(
    regions: list[list[tuple[int, int, int]]], start: FloatArray
) -> list[FloatArray]:
    """The regions' sweeps in the order nearest entry (of four per region) first, from
    ``start`` (cell units); the order is found by a compiled loop
    (:func:`missions.poa_kernels.nearest_first_order`)."""
    from missions.poa_kernels import nearest_first_order

    ends = np.array([[r[0], r[-1]] for r in regions], dtype=np.float64)  # (regions, 2, 3)
    # the four entries (first strip low end, first high, last low, last high) as (col, strip)
    entry = np.stack(
        [ends[:, i, [j, 0]] for i in (0, 1) for j in (1, 2)], axis=1
    )  # (regions, 4, 2)
    # where each way in leaves the region: the last strip swept (the first one when entered
    # from the last), at the end its back-and-forth reaches there
    m = np.array([len(r) for r in regions])
    exits = np.empty_like(entry)
    for e in range(4):
        last = ends[:, 0 if e >= 2 else 1]  # (regions, 3): strip, low, high
        at_low = ((m - 1) % 2 == 0) == bool(e % 2)
        exits[:, e, 0] = np.where(at_low, last[:, 1], last[:, 2])
        exits[:, e, 1] = last[:, 0]
    visits = nearest_first_order(entry, exits, np.asarray(start, dtype=np.float64))
    return [_region_track(regions[v // 4], v % 4 >= 2, bool(v % 2)) for v in visits.tolist()]


def _two_opt(seq: list[FloatArray], start: FloatArray, rounds: int = 200) -> list[FloatArray]:
    """``seq`` (tracks flown in turn from ``start``, the end free) reordered by 2-opt moves:
    the stretch i..j flown backwards when the transits into and out of it get shorter (the
    best such move each round over all pairs; compiled:
    :func:`missions.poa_kernels.two_opt_order`)."""
    from missions.poa_kernels import two_opt_order

    if not seq:
        return seq
    ent = np.array([t[0] for t in seq], dtype=np.float64)
    ext = np.array([t[-1] for t in seq], dtype=np.float64)
    order = two_opt_order(ent, ext, np.asarray(start, dtype=np.float64), rounds)
    return [seq[k] if k >= 0 else seq[~k][::-1] for k in order.tolist()]


def region_sweep_path(
    grid: PoaGrid,
    residual: FloatArray,
    launch: tuple[float, float],
    c: float,
    budget_m: float,
    angle_rad: float,
    gap: int = 1,
    min_cells: int = 4,
    smooth: float = 0.5,
    max_regions: int = MAX_REGIONS,
) -> FloatArray | None:
    """Parallel tracks over the most probable ground decomposed into regions: the cells (``c``
    wide, in strips at heading ``angle_rad``) ranked by their residual probability (``smooth``:
    the weight of their 3×3 mean, for compact regions), the best of them selected; each strip's
    selected runs (split where more than ``gap`` cells are not selected) chained into regions
    (:func:`_regions`), each swept back and forth on its own, so a zero block or a band of low
    ground is flown round or crossed once rather than in every strip; regions of fewer than
    ``min_cells`` cells left out; the regions joined by the shortest transits
    (:func:`_order_regions`). The most cells whose track fits the budget, in at most
    ``max_regions`` regions, are selected. Metric vertices from the launch point, or None when
    nothing is left."""
    from scipy.ndimage import uniform_filter

    mass, s0, q0 = _rotated_mass(grid, residual, launch, c, angle_rad)
    flat = mass.ravel()
    rank = (1.0 - smooth) * mass + smooth * uniform_filter(mass, size=3, mode="constant")
    order = np.argsort(rank.ravel())[::-1]
    order = order[flat[order] > 0]
    if len(order) == 0:
        return None
    steps = budget_m / c
    start = np.array([-q0, -s0], dtype=np.float64)  # the launch point in (column, strip)

    def regions(m: int) -> list[list[tuple[int, int, int]]]:
        sel = np.zeros(flat.shape, dtype=bool)
        sel[order[:m]] = True
        regs = _regions(_intervals(sel.reshape(mass.shape), gap))
        return [r for r in regs if sum(b - a + 1 for _s, a, b in r) >= min_cells] or regs

    def fits(m: int) -> bool:
        regs = regions(m)
        if len(regs) > max_regions:  # scattered cells: the receding horizon's ground
            return False
        seq = _nearest_first(regs, start)
        if _length(_joined(start, seq)) <= steps:
            return True  # 2-opt only shortens it
        return _length(_joined(start, _two_opt(seq, start))) <= steps

    cq = _order_regions(regions(_most_that_fit(fits, len(order))), start) + np.array([q0, s0])
    ca, sa = math.cos(angle_rad), math.sin(angle_rad)
    u, v = cq[:, 0] * c, cq[:, 1] * c
    xy = np.column_stack([launch[0] + u * ca - v * sa, launch[1] + u * sa + v * ca])
    xy[0] = launch
    return truncate(xy, budget_m)
