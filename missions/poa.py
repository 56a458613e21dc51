"""Probability-driven search paths: where the missing person most likely is, per metre flown.

Method (:func:`plan_poa`)
-------------------------
1. **Coarse grid.** Per drone, a grid of square cells one footprint width ``W`` wide, anchored on
   the launch point; a pass through a row of cell centres sweeps exactly those cells. A cell's
   value is the residual probability inside it (the fine map sampled at 4×4 points per cell).
2. **Receding horizon.** From the current cell every 4-connected move sequence of ``HORIZON``
   steps without immediate reversal (4·3^(h-1) sequences, precomputed with a mask of the first
   visit of each cell within the sequence) is scored vectorised by the value it collects
   (discounted by ``GAMMA`` per step, cells next to covered ones weighted up by a wall-following
   bonus so the path fills in instead of leaving holes); the first move of the best is taken
   and its cell zeroed.
3. **Jumps.** Every step the best local rate (value per step) is compared with the best block of
   ``BLOCK``×``BLOCK`` cells anywhere within the remaining budget, rated by its value per step
   including the transit to it (``value / (distance + BLOCK²)``); when a block pays more, the drone
   flies straight to it (the transit line's cells count as covered too). This lets a drone leave
   an exhausted area for a corridor along a path or stream instead of crawling over low-value
   cells, and keeps the receding horizon from getting stuck in covered terrain.
4. **Candidates.** Receding-horizon variants (``RH_VARIANTS``: jump threshold, wall-following
   bonus, focus: with a focus the values below the budget's worth of best cells are damped by
   ``DAMP``, so the path heads for the set it can cover rather than up the local gradient), an
   outward spiral from the launch point and one from the probability peak, and hybrids: the
   first ``HYBRID_SHARES`` of either spiral (nearly no overlap round the LKP) continued by the
   receding horizon on what the spiral left (the corridors beyond); parallel tracks over the
   most probable region the budget can sweep (:func:`missions.poa_search.sweep_path`, four
   headings: the threshold on the footprint-smoothed residual is the lowest whose track fits),
   region sweeps (:func:`missions.poa_search.region_sweep_path`, eight headings, four for the
   later drones: the most probable W-wide cells decomposed into regions, boustrophedon cell
   decomposition: a strip's run of selected cells continues a region while it overlaps only that
   region's run in the next strip; each region swept back and forth on its own, so a zero block
   or a band of low ground between probable patches is crossed once instead of in every leg; the
   regions joined nearest entry first and improved by 2-opt), and the classic patterns
   themselves (spirals from four bearings in both senses, concentric circles). The paths
   drawn on the cell grid are thinned to the vertices a line ``THIN_SHARE``·W away needs; the
   spirals and arcs are flown as generated, their vertices at the same bearings ring after ring
   (``SPIRAL_SAG_SHARE``), so the swaths of neighbouring turns abut with no strips of
   gap and overlap between chords (a 100 km spiral: 1,404 vertices). All are ranked with the
   overlap-exact coverage on the residual map (4×4 sub-cells; the winner scored at 8×8). On a
   map whose probability falls off evenly round the launch point the spiral is close to
   optimal, and it is one of the candidates.
5. **Budget.** Each step costs ``W`` metres, a jump its straight length; the path stops when the
   next step would exceed the budget: every path starts at the launch point and is at most ``B``
   metres long (the return flight is the mission's RTL, outside ``B``; sorties cut endurance).
   With ``reach_m`` (the CLI: 40 % of one battery's flight distance) only the probability
   within that distance of the launch point is searched, and with ``max_radius_m`` (the CLI:
   half of what the battery flies after the climb, the landing and one piece of a leg, less
   2 %) no vertex lies farther out, so every sortie can fly there and back.
6. **Multi-drone.** Three fleet plans (:func:`fleet_plan`): split by probability mass
   (:func:`missions.poa_search.sector_plan`): one sector per drone round the launch point
   holding an equal share of the fleet's best cells, cuts where they are thinnest, each drone
   planned on its sector and on what the earlier drones left (its true footprint overlap,
   :func:`missions.poa_cover.coverage_fraction`, removed, so no probability is counted twice);
   equal sectors each swept outwards by arcs (the classic sector pattern, two rotations, first
   arc at half or one W); and one path planned for the whole fleet's budget cut into pieces
   (:func:`missions.poa_search.split_plan`: each drone after the first flies straight from the
   launch point to where the previous piece ended). Each drone flies its own altitude layer
   (``ALT_STEP_M`` apart) since all paths cross at the launch point, and the start delays of
   later drones are chosen so that no two drones are in the same coarse cell at the same
   second (:func:`deconflict`).
7. **Refinement.** Each fleet plan is improved drone by drone (:func:`refine`): a drone is
   planned again on what all the other drones leave (not only the earlier ones), its current
   path one of the candidates, and the new path kept when the fleet's union covers more; a
   drone is planned again only when another one's path changed since its turn (at most
   ``REFINE_REPLANS`` re-plans, so a 50-drone fleet stays quick). The refined plan covering
   most is kept. On the bench's 3-drone maps refinement adds 0.7–1.6 % where it changes
   anything (a drone that set out first on the whole map gives the others' ground back).
8. **Balance.** Coverage alone cannot tell who flies: when the fleet runs out of probability
   before its budgets, one drone could fly nearly all of it (:func:`balance`). The fleet is
   then planned again with equal budgets a little over a share of the work, and that plan is
   kept when it covers as much (within ``BALANCE_LOSS``) and ends sooner.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from missions.plan_core import MAX_PLAN_LENGTH_M
from missions.poa_cover import (
    Footprint,
    coverage_fraction,
    position_at,
    swept_pieces,
    truncate,
)
from missions.poa_map import PoaGrid
from missions.poa_search import (
    best_path,
    pattern_candidates,
    sector_plan,
    split_plan,
    union_gain,
)

FloatArray = NDArray[np.float64]
ALT_STEP_M = 10.0
MAX_AGL_M = 120.0
#: the most single-drone re-plans of the fleet refinement (method 7)
REFINE_REPLANS = 12


@dataclass
class DronePath:
    """One drone's plan: metric vertices from the launch point, its altitude, start delay and
    the probability it covers that no earlier drone covered."""

    xy: FloatArray
    alt_m: float
    footprint: Footprint
    start_delay_s: float = 0.0
    covered: float = 0.0

    @property
    def length_m(self) -> float:
        return path_length_m(self.xy)

    @property
    def needed(self) -> bool:
        """False for a drone the plan leaves at the launch point: the other drones already
        cover all it could (a budget larger than the map needs)."""
        return len(self.xy) >= 2


@dataclass
class PoaPlan:
    paths: list[DronePath]
    covered: float
    speed_m_s: float
    curve: list[tuple[float, float]] = field(default_factory=list)  # (time s, covered)
    plan_time_s: float = 0.0
    plan_cpu_s: float = 0.0  # CPU time of this process: the wall time on a busy machine lies


def layer_altitudes(alt_m: float, n: int, step_m: float = ALT_STEP_M) -> list[float]:
    """One altitude per drone, ``step_m`` apart: upwards, or downwards when that would pass
    the 120 m limit."""
    if alt_m + (n - 1) * step_m <= MAX_AGL_M:  # checked before the list is built
        return [alt_m + i * step_m for i in range(n)]
    if alt_m - (n - 1) * step_m <= 0:
        raise BadInputError(
            _("{n} drones need {n} altitude layers {s:g} m apart below 120 m").format(n=n, s=step_m)
        )
    return [alt_m - i * step_m for i in range(n)]


def deconflict(
    paths: Sequence[FloatArray], speed_m_s: float, cell_m: float, max_delay_s: float = 1800.0
) -> tuple[list[float], int]:
    """Start delays (s) so that no two drones are in the same ``cell_m`` cell at the same
    second, and the number of conflicts left (0 unless ``max_delay_s`` was not enough)."""
    delays: list[float] = []
    tracks: list[tuple[FloatArray, float]] = []
    left = 0
    for xy in paths:
        length = float(np.hypot(*np.diff(xy, axis=0).T).sum()) if len(xy) > 1 else 0.0
        cells = np.floor(position_at(xy, np.arange(0.0, length + speed_m_s, speed_m_s)) / cell_m)
        delay = 0.0
        while True:
            clash = False
            for other, od in tracks:
                t0 = round(delay - od)  # my second k is the other's second k + t0
                k = np.arange(len(cells))
                j = k + t0
                m = (j >= 0) & (j < len(other))
                if (cells[k[m]] == other[j[m]]).all(axis=1).any():
                    clash = True
                    break
            if not clash or delay >= max_delay_s:
                left += int(clash)
                break
            delay += 5.0
        delays.append(delay)
        tracks.append((cells, delay))
    return delays, left


def check_budget(budget_m: float) -> None:
    """Refuse a budget no search needs: the walk's arrays grow with it (1e12 m ran out of
    memory); 2,000 km per drone, the longest plan a survey may be, is some 80 sorties."""
    if budget_m > MAX_PLAN_LENGTH_M:
        raise BadInputError(
            _(
                "a budget of {b:,.6g} km per drone is beyond any search (at most {m:,.0f} km in "
                "one plan, some 80 sorties)"
            ).format(b=budget_m / 1e3, m=MAX_PLAN_LENGTH_M / 1e3)
        )


#: the most footprint-wide strips the planner lays over the map's extent (per side): a 1.8 km
#: radius map takes 180 strips of a 20 m footprint
MAX_STRIPS = 2_000


def check_strips(grid: PoaGrid, across_m: float) -> None:
    """A footprint too narrow for the map (the planner's grid has one cell per footprint width:
    a footprint of 1e-300 m asked numpy for an array beyond its size limit) is bad input."""
    ny, nx = grid.shape
    side_m = max(ny, nx) * grid.cell_m
    if not (across_m > 0 and math.isfinite(across_m)) or side_m / across_m > MAX_STRIPS:
        raise BadInputError(
            _(
                "the camera sees a strip {w:.3g} m wide: too narrow for a map {km:.3g} km "
                "across (at most {n:,} strips; fly higher or use a smaller map)"
            ).format(w=across_m, km=side_m / 1000.0, n=MAX_STRIPS)
        )


def plan_poa(
    grid: PoaGrid,
    launch_xy: tuple[float, float],
    footprints: Sequence[Footprint],
    alts_m: Sequence[float],
    budget_m: float,
    speed_m_s: float = 10.0,
    curve_points: int = 16,
    reach_m: float | None = None,
    max_radius_m: float | None = None,
) -> PoaPlan:
    """Plan one path per footprint (drone), each from ``launch_xy`` within ``budget_m``;
    ``reach_m``: only the probability within this distance of the launch point is searched
    (a sortie must fly there and back on one battery); ``max_radius_m``: no path goes farther
    from the launch point (:func:`pull_within`)."""
    import time

    if not (budget_m > 0 and math.isfinite(budget_m)):
        raise BadInputError(_("the budget must be a positive number of metres"))
    check_budget(budget_m)
    t0, c0 = time.perf_counter(), time.process_time()
    full = grid
    if reach_m is not None:
        grid = within_reach(grid, launch_xy, reach_m)
    fps = list(footprints)
    check_strips(grid, min(f.across_m for f in fps))
    # a budget beyond what the map can use only lengthens the candidates (2,000 km on a 1.5 km
    # map took 33 s to plan a 56 km path)
    useful_m = useful_budget_m(grid, launch_xy, min(f.across_m for f in fps))
    budget_m = min(budget_m, useful_m)

    def planned(b_m: float) -> tuple[list[FloatArray], list[FloatArray]]:
        if len(fps) == 1:
            _gain, xy, frac = best_path(grid, grid.prob, launch_xy, fps[0], b_m, tails=True)
            paths, fracs = [xy], [frac]
        else:
            paths, fracs = fleet_plan(grid, launch_xy, fps, b_m, min(len(fps) * b_m, useful_m))
        paths, fracs = trim_idle_ends(grid, fps, paths, fracs)
        if max_radius_m is not None:
            paths, fracs = pull_within(grid, fps, launch_xy, paths, fracs, max_radius_m)
        return paths, fracs

    paths, fracs = planned(budget_m)
    if len(fps) > 1:
        paths, fracs = balance(grid, fps, budget_m, paths, fracs, planned)
    residual = full.prob.copy()
    out: list[DronePath] = []
    for xy, frac, fp, alt in zip(paths, fracs, fps, alts_m, strict=True):
        out.append(DronePath(xy, float(alt), fp, covered=float((residual * frac).sum())))
        residual = residual * (1.0 - frac)
    flying = [p for p in out if p.needed]
    delays, _left = deconflict(
        [p.xy for p in flying], speed_m_s, min(f.across_m for f in footprints)
    )
    for p, dl in zip(flying, delays, strict=True):
        p.start_delay_s = dl
    plan = PoaPlan(out, float(sum(p.covered for p in out)), speed_m_s)
    plan.plan_time_s = time.perf_counter() - t0
    plan.plan_cpu_s = time.process_time() - c0
    if curve_points:
        plan.curve = coverage_curve(full, plan, curve_points)  # not part of plan_time_s
    return plan


def fleet_plan(
    grid: PoaGrid,
    launch_xy: tuple[float, float],
    fps: Sequence[Footprint],
    budget_m: float,
    whole_budget_m: float,
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Method 6 and 7: the sector split, the best classic sector pattern and one path for the
    whole fleet cut into pieces, each refined (:func:`refine`); the one covering most kept."""
    plans = [sector_plan(grid, launch_xy, fps, budget_m)]
    best_pat: tuple[list[FloatArray], list[FloatArray]] | None = None
    best_g = -1.0
    for pat in pattern_candidates(launch_xy, fps[0].across_m, budget_m, len(fps)):
        cand = list(pat)  # flown as generated: arcs at the same bearings ring after ring
        cf = [coverage_fraction(grid, swept_pieces(xy, f, raw=True)) for xy, f in zip(cand, fps)]
        g = union_gain(grid.prob, cf)
        if g > best_g:
            best_pat, best_g = (cand, cf), g
    if best_pat is not None:
        plans.append(best_pat)
    split = split_plan(grid, launch_xy, fps, budget_m, whole_budget_m)
    if split is not None:
        plans.append(split)
    best: tuple[float, list[FloatArray], list[FloatArray]] | None = None
    for paths, fracs in plans:
        paths, fracs = refine(grid, launch_xy, fps, budget_m, paths, fracs)
        g = union_gain(grid.prob, fracs)
        if best is None or g > best[0]:
            best = (g, paths, fracs)
    assert best is not None  # the sector split always gives a plan
    return best[1], best[2]


#: a fleet whose longest path is more than this many times the mean is balanced (method 8)
BALANCE_RATIO = 1.25
#: the balanced plan may cover this share less of what the fleet covered (0.1 %)
BALANCE_LOSS = 1e-3
#: per-drone budgets tried for a balanced fleet, as multiples of an equal share of the work
BALANCE_SHARES = (1.1, 1.3, 1.6)


def path_length_m(xy: FloatArray) -> float:
    return float(np.hypot(*np.diff(xy, axis=0).T).sum()) if len(xy) > 1 else 0.0


def balance(
    grid: PoaGrid,
    fps: Sequence[Footprint],
    budget_m: float,
    paths: list[FloatArray],
    fracs: list[FloatArray],
    planned: Callable[[float], tuple[list[FloatArray], list[FloatArray]]],
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Method 8: a fleet that ran out of probability before its budgets (every path ended
    early) and left the work to few drones is planned again with equal, smaller budgets.

    Coverage alone cannot tell who flies: with 3 drones × 100 km over a 1 km map one drone
    flew 60 km in six sorties and the others 3 km and nothing, an hour to the expected
    detection where the fleet needed twenty minutes. Each drone's budget becomes a share of
    the work the fleet flew (``BALANCE_SHARES`` times an equal share; the transits to each
    one's ground make the shares longer than a third), and the first plan that covers at least
    ``1 - BALANCE_LOSS`` of what the fleet covered and ends sooner is kept."""
    n = len(fps)
    lengths = [path_length_m(xy) for xy in paths]
    longest, work = max(lengths), sum(lengths)
    across = min(f.across_m for f in fps)
    if longest > budget_m - across or longest <= BALANCE_RATIO * work / n:
        return paths, fracs  # a drone flew its whole budget, or the fleet shares the work
    covered = union_gain(grid.prob, fracs)
    for share in BALANCE_SHARES:
        b_m = share * work / n
        if b_m >= longest:
            break
        cand_p, cand_f = planned(b_m)
        ends = max(path_length_m(xy) for xy in cand_p)
        if union_gain(grid.prob, cand_f) >= covered * (1.0 - BALANCE_LOSS) and ends < longest:
            return cand_p, cand_f
    return paths, fracs


def left_by_others(prob: FloatArray, fracs: Sequence[FloatArray], i: int) -> FloatArray:
    """The probability every drone but drone ``i`` leaves (``fracs``: each drone's covered
    fraction per cell)."""
    miss = np.ones_like(prob)
    for j, f in enumerate(fracs):
        if j != i:
            miss *= 1.0 - f
    return prob * miss


def refine(
    grid: PoaGrid,
    launch_xy: tuple[float, float],
    fps: Sequence[Footprint],
    budget_m: float,
    paths: list[FloatArray],
    fracs: list[FloatArray],
    replans: int = REFINE_REPLANS,
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Method 7: each drone planned again on the residual all the other drones leave, its
    current path a candidate; a new path is kept only when the union covers more. A drone is
    planned again only when another drone's path changed since its last turn; it stops when
    none is left to plan or ``replans`` re-plans are spent."""
    paths, fracs = list(paths), list(fracs)
    n = len(fps)
    best = union_gain(grid.prob, fracs)
    stale = set(range(n))  # drones whose residual changed since they were last planned
    i = 0
    while stale and replans > 0:
        if i in stale:
            stale.discard(i)
            replans -= 1
            _g, xy, frac = best_path(
                grid,
                left_by_others(grid.prob, fracs, i),
                launch_xy,
                fps[i],
                budget_m,
                current=paths[i],
                light=True,
            )
            g = union_gain(grid.prob, [*fracs[:i], frac, *fracs[i + 1 :]])
            if g > best * (1.0 + 1e-9):
                paths[i], fracs[i], best = xy, frac, g
                stale = set(range(n)) - {i}
        i = (i + 1) % n
    return paths, fracs


#: a path's end that adds less than this much probability to the fleet's union is cut
IDLE_END_PROB = 1e-7


def trim_idle_ends(
    grid: PoaGrid,
    fps: Sequence[Footprint],
    paths: list[FloatArray],
    fracs: list[FloatArray],
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Every path cut after the point from which it adds nothing (less than
    ``IDLE_END_PROB``) to what the fleet covers: a budget larger than the map needs left the
    walk wandering on through empty cells, out past the reach of one battery (3 drones ×
    100 km on a 1.8 km map: legs 2.4 km from home that no sortie could fly back from). The
    shortest such length by bisection on the covered probability, which never falls as a path
    grows."""
    paths, fracs = list(paths), list(fracs)
    # the last drones first: of two drones that cover the same, the lower-numbered one flies
    for i in reversed(range(len(fps))):
        fp, xy = fps[i], paths[i]
        if len(xy) < 2:
            continue
        left = left_by_others(grid.prob, fracs, i)

        def gain(
            length_m: float, xy: FloatArray = xy, fp: Footprint = fp, left: FloatArray = left
        ) -> float:
            cut = truncate(xy, length_m)
            if len(cut) < 2:
                return 0.0
            return float((left * coverage_fraction(grid, swept_pieces(cut, fp, raw=True))).sum())

        total = float(np.hypot(*np.diff(xy, axis=0).T).sum())
        need = float((left * fracs[i]).sum()) - IDLE_END_PROB
        if need <= 0.0 and any(len(p) >= 2 for j, p in enumerate(paths) if j != i):
            # the others cover all this drone would: it stays at the launch point (not needed)
            paths[i], fracs[i] = xy[:1].copy(), np.zeros_like(fracs[i])
            continue
        lo, hi = 0.0, total
        if gain(0.999 * total) < need:
            continue  # busy to the end: most paths
        while hi - lo > fp.across_m / 2.0:
            mid = 0.5 * (lo + hi)
            if gain(mid) >= need:
                hi = mid
            else:
                lo = mid
        cut = truncate(xy, hi)
        if len(cut) >= 2:
            paths[i] = cut
            fracs[i] = coverage_fraction(grid, swept_pieces(cut, fp, raw=True))
    return paths, fracs


def useful_budget_m(grid: PoaGrid, launch_xy: tuple[float, float], across_m: float) -> float:
    """The longest path a search of ``grid`` can put to use: every cell with probability swept
    twice over at the swath ``across_m`` (turns, overlaps, transits between patches), plus the way
    from the launch point to the map's farthest corner and twice across the map."""
    rows, cols = grid.shape
    area = float(np.count_nonzero(grid.prob > 0)) * grid.cell_m**2
    w, h = cols * grid.cell_m, rows * grid.cell_m
    corners_x = np.array([grid.x0, grid.x0 + w, grid.x0, grid.x0 + w])
    corners_y = np.array([grid.y0, grid.y0, grid.y0 - h, grid.y0 - h])
    far = float(np.max(np.hypot(corners_x - launch_xy[0], corners_y - launch_xy[1])))
    return 2.0 * area / max(across_m, 1e-6) + 2.0 * math.hypot(w, h) + far


def pull_within(
    grid: PoaGrid,
    fps: Sequence[Footprint],
    launch_xy: tuple[float, float],
    paths: list[FloatArray],
    fracs: list[FloatArray],
    radius_m: float,
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Every vertex farther than ``radius_m`` from the launch point pulled in along its
    bearing onto that circle (a straight leg between two points of a disc stays in it), the
    covered fractions of a changed path counted again. Only the probability within reach is
    searched, but a candidate pattern reaches past it: an expanding square's corners lie √2
    times as far out as its sides, and at 200 m a sortie could not fly out to them and back
    on one battery, so no sorties could be cut at all."""
    lx, ly = launch_xy
    out_p, out_f = [], []
    for xy, frac, fp in zip(paths, fracs, fps, strict=True):
        d = np.hypot(xy[:, 0] - lx, xy[:, 1] - ly)
        far = d > radius_m
        if far.any():
            xy = xy.copy()
            xy[far, 0] = lx + (xy[far, 0] - lx) * (radius_m / d[far])
            xy[far, 1] = ly + (xy[far, 1] - ly) * (radius_m / d[far])
            keep = np.concatenate([[True], np.hypot(*np.diff(xy, axis=0).T) > 1e-6])
            xy = xy[keep]
            frac = coverage_fraction(grid, swept_pieces(xy, fp, raw=True))
        out_p.append(xy)
        out_f.append(frac)
    return out_p, out_f


def within_reach(grid: PoaGrid, launch_xy: tuple[float, float], reach_m: float) -> PoaGrid:
    """``grid`` with the probability farther than ``reach_m`` from the launch point zeroed
    (renormalised); a clear error when none is left."""
    x, y = grid.centres()
    far = np.hypot(x[None, :] - launch_xy[0], y[:, None] - launch_xy[1]) > reach_m
    prob = np.where(far, 0.0, grid.prob)
    if not prob.sum() > 0:
        raise BadInputError(
            _(
                "no probability within {r:.0f} m of the launch point, the most a sortie can "
                "reach and return from on one battery"
            ).format(r=reach_m)
        )
    return PoaGrid(prob / prob.sum(), grid.x0, grid.y0, grid.cell_m, grid.crs)


def coverage_curve(grid: PoaGrid, plan: PoaPlan, points: int = 16) -> list[tuple[float, float]]:
    """Covered probability (union of all drones) against time since the first take-off."""
    v = plan.speed_m_s
    flying = [p for p in plan.paths if p.needed]
    end = max((p.start_delay_s + p.length_m / v for p in flying), default=0.0)
    out: list[tuple[float, float]] = []
    for t in np.linspace(0.0, end, points + 1):
        polys = [
            g
            for p in flying
            if t >= p.start_delay_s
            for g in swept_pieces(truncate(p.xy, max(0.0, (t - p.start_delay_s) * v)), p.footprint)
        ]
        cov = float((grid.prob * coverage_fraction(grid, polys, k=2)).sum()) if polys else 0.0
        out.append((round(float(t), 1), cov))
    return out


def expected_time_to_detection_s(curve: Sequence[tuple[float, float]]) -> float | None:
    """Mean time of detection given detection within the plan: Σ t·ΔP / ΣΔP (mid-interval)."""
    if len(curve) < 2:
        return None
    t = np.array([c[0] for c in curve])
    p = np.array([c[1] for c in curve])
    dp = np.diff(p).clip(min=0.0)
    if not dp.sum() > 0:
        return None
    return float(((t[:-1] + t[1:]) / 2.0 * dp).sum() / dp.sum())


def drone_curve(grid: PoaGrid, path: DronePath, speed_m_s: float) -> list[tuple[float, float]]:
    """One drone's covered probability over its own flight time (from take-off, delay incl.)."""
    solo = PoaPlan(
        [DronePath(path.xy, path.alt_m, path.footprint, path.start_delay_s)], 0.0, speed_m_s
    )
    return coverage_curve(grid, solo, points=12)


def summary(grid: PoaGrid, plan: PoaPlan) -> dict[str, Any]:
    """Per drone and total: covered probability, length, expected time to detection."""
    drones = []
    for i, p in enumerate(plan.paths):
        drones.append(
            {
                "drone": i + 1,
                "needed": p.needed,
                "probability_covered": round(p.covered, 6),
                "probability_of_success": round(p.covered * p.footprint.pd, 6),
                "path_length_m": round(p.length_m, 1),
                "alt_m": p.alt_m,
                "start_delay_s": p.start_delay_s,
                "expected_time_to_detection_s": expected_time_to_detection_s(
                    drone_curve(grid, p, plan.speed_m_s)
                ),
            }
        )
    return {
        "probability_covered": round(plan.covered, 6),
        "expected_time_to_detection_s": expected_time_to_detection_s(plan.curve),
        "plan_time_s": round(plan.plan_time_s, 3),
        "plan_cpu_s": round(plan.plan_cpu_s, 3),
        "drones": drones,
        "curve": [{"t_s": t, "covered": round(c, 6)} for t, c in plan.curve],
    }
