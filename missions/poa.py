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
4. **Candidates.** Three receding-horizon variants (``RH_VARIANTS``: jump threshold, wall
   bonus), an outward spiral from the launch point and one from the probability peak are scored
   with the exact coverage function on the residual map; the best is kept. On a map whose
   probability falls off evenly around the launch point the spiral is close to optimal, so
   the planner never does worse than it there.
5. **Budget.** Each step costs ``W`` metres, a jump its straight length; the path stops when the
   next step would exceed the budget: every path starts at the launch point and is at most ``B``
   metres long (the return flight is the mission's RTL, outside ``B``; sorties cut endurance).
6. **Multi-drone.** Drones are planned one after the other on the residual map: after each
   drone its true footprint overlap (:func:`missions.poa_cover.coverage_fraction`) is removed,
   so no probability is counted twice. Each drone flies its own altitude layer (``ALT_STEP_M``
   apart) since all paths cross at the launch point, and the start delays of later drones are
   chosen so that no two drones are in the same coarse cell at the same second
   (:func:`deconflict`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import uniform_filter

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from missions.poa_cover import (
    Footprint,
    coverage_fraction,
    position_at,
    swept_pieces,
    truncate,
)
from missions.poa_map import PoaGrid

FloatArray = NDArray[np.float64]
HORIZON = 7
GAMMA = 0.97
BLOCK = 5
ALT_STEP_M = 10.0
#: receding-horizon variants tried per drone: (jump factor, wall-following bonus)
RH_VARIANTS = ((1.2, 0.3), (2.0, 1.0), (3.0, 0.6))
MAX_AGL_M = 120.0
_DIRS = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])  # (drow, dcol): N, E, S, W


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
        return float(np.hypot(*np.diff(self.xy, axis=0).T).sum()) if len(self.xy) > 1 else 0.0


@dataclass
class PoaPlan:
    paths: list[DronePath]
    covered: float
    speed_m_s: float
    curve: list[tuple[float, float]] = field(default_factory=list)  # (time s, covered)
    plan_time_s: float = 0.0
    plan_cpu_s: float = 0.0  # CPU time of this process: the wall time on a busy machine lies


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


def _line_cells(a: FloatArray, b: FloatArray) -> NDArray[np.int64]:
    n = max(2, math.ceil(float(np.hypot(*(b - a))) * 4) + 1)
    t = np.linspace(0.0, 1.0, n)[:, None]
    return np.unique(np.rint(a + (b - a) * t).astype(np.int64), axis=0)


def plan_one(
    values: FloatArray,
    start: tuple[int, int],
    steps: float,
    horizon: int = HORIZON,
    jump_factor: float = 1.2,
    wall_bonus: float = 0.0,
) -> FloatArray:
    """Vertices (row, col, in cell units) of one drone's path over the coarse ``values``,
    at most ``steps`` cell lengths long."""
    if horizon not in _SEQ_CACHE:
        _SEQ_CACHE[horizon] = _sequences(horizon)
    cum, first = _SEQ_CACHE[horizon]
    disc = GAMMA ** np.arange(horizon)
    weight = first * disc
    rows, cols = values.shape
    h = horizon
    # padded copy: outside the grid a step costs a lot, so no bounds checks per step
    v = np.full((rows + 2 * h, cols + 2 * h), -1.0)
    v[h:-h, h:-h] = values
    inner = v[h:-h, h:-h]
    # cells next to covered ones are worth a little more (``wall_bonus`` per covered
    # neighbour): the path fills in rather than leaving holes it would have to come back for;
    # ``vn`` = value × that factor, kept up to date around every visited cell
    nb = np.ones_like(v)
    vn = v.copy()
    vn_flat = vn.ravel()
    width = cols + 2 * h
    offs = (cum[..., 0] + h) * width + (cum[..., 1] + h)
    pos = np.array(start, dtype=np.int64)

    # BLOCK×BLOCK sums of the values around every cell, kept up to date as cells are zeroed
    block = uniform_filter(values, size=BLOCK, mode="constant") * (BLOCK * BLOCK)
    half_b = BLOCK // 2

    def zero(a: int, b: int) -> None:
        old = inner[a, b]
        if old:
            inner[a, b] = 0.0
            vn[a + h, b + h] = 0.0
            block[max(a - half_b, 0) : a + half_b + 1, max(b - half_b, 0) : b + half_b + 1] -= old

    def visit(p: NDArray[np.int64]) -> None:
        zero(int(p[0]), int(p[1]))
        r, q = p[0] + h, p[1] + h
        if wall_bonus:
            nb[r - 1 : r + 2, q - 1 : q + 2] += wall_bonus
        vn[r - 1 : r + 2, q - 1 : q + 2] = (
            v[r - 1 : r + 2, q - 1 : q + 2] * nb[r - 1 : r + 2, q - 1 : q + 2]
        )

    visit(pos)
    pts = [pos.astype(np.float64)]
    used = 0.0
    last_jump_rate = math.inf
    rr, cc = np.mgrid[0:rows, 0:cols]
    while used + 1.0 <= steps + 1e-9:
        vals = np.take(vn_flat, offs + (pos[0] * width + pos[1]))
        score = np.einsum("ij,ij->i", vals, weight)
        best = int(np.argmax(score))
        local_rate = max(float(score[best]), 0.0) / horizon
        if local_rate > 0 and local_rate >= last_jump_rate and len(pts) % 4:
            pos = pos + cum[best, 0]  # collecting at least as well as the last jump promised
            visit(pos)
            used += 1.0
            pts.append(pos.astype(np.float64))
            continue
        d = np.hypot(rr - pos[0], cc - pos[1])
        rate = block / (d + BLOCK * BLOCK)
        rate[(d < 2.0) | (d > steps - used)] = 0.0
        t = np.unravel_index(int(np.argmax(rate)), rate.shape)
        last_jump_rate = float(rate[t]) * jump_factor
        if rate[t] > jump_factor * local_rate and rate[t] > 0:
            target = np.array(t, dtype=np.int64)
            for a, b in _line_cells(pos.astype(np.float64), target.astype(np.float64)):
                if 0 <= a < rows and 0 <= b < cols:
                    zero(int(a), int(b))
            used += float(d[t])
            pos = target
            pts.append(pos.astype(np.float64))
            continue
        if score[best] <= 0.0:
            break  # nothing left within reach
        pos = pos + cum[best, 0]
        visit(pos)
        used += 1.0
        pts.append(pos.astype(np.float64))
    return _simplify(np.asarray(pts))


def _simplify(pts: FloatArray) -> FloatArray:
    """Drop vertices in the middle of straight runs."""
    if len(pts) < 3:
        return pts
    d1 = np.diff(pts, axis=0)
    cross = d1[:-1, 0] * d1[1:, 1] - d1[:-1, 1] * d1[1:, 0]
    dot = (d1[:-1] * d1[1:]).sum(axis=1)
    keep = np.concatenate([[True], (np.abs(cross) > 1e-9) | (dot <= 0), [True]])
    return pts[keep]


def spiral_from(c_xy: tuple[float, float], spacing_m: float, length_m: float) -> FloatArray:
    """Outward Archimedean spiral from ``c_xy``, arms ``spacing_m`` apart, ``length_m`` long."""
    th_max = math.sqrt(4 * math.pi * length_m / spacing_m) + 2 * math.pi
    th = np.linspace(0.0, th_max, int(th_max * 12) + 2)
    r = spacing_m * th / (2 * math.pi)
    xy = np.column_stack([c_xy[0] + r * np.sin(th), c_xy[1] + r * np.cos(th)])
    return truncate(xy, length_m)


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
    r0, q0 = start
    out = []
    for jf, wb in RH_VARIANTS:
        cells = plan_one(values.copy(), start, budget_m / c, jump_factor=jf, wall_bonus=wb)
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


def layer_altitudes(alt_m: float, n: int, step_m: float = ALT_STEP_M) -> list[float]:
    """One altitude per drone, ``step_m`` apart: upwards, or downwards when that would pass
    the 120 m limit."""
    up = [alt_m + i * step_m for i in range(n)]
    if up[-1] <= MAX_AGL_M:
        return up
    down = [alt_m - i * step_m for i in range(n)]
    if down[-1] <= 0:
        raise BadInputError(
            _("{n} drones need {n} altitude layers {s:g} m apart below 120 m").format(n=n, s=step_m)
        )
    return down


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


def plan_poa(
    grid: PoaGrid,
    launch_xy: tuple[float, float],
    footprints: Sequence[Footprint],
    alts_m: Sequence[float],
    budget_m: float,
    speed_m_s: float = 10.0,
    curve_points: int = 16,
) -> PoaPlan:
    """Plan one path per footprint (drone), each from ``launch_xy`` within ``budget_m``."""
    import time

    if not (budget_m > 0 and math.isfinite(budget_m)):
        raise BadInputError(_("the budget must be a positive number of metres"))
    t0, c0 = time.perf_counter(), time.process_time()
    residual = grid.prob.copy()
    out: list[DronePath] = []
    for fp, alt in zip(footprints, alts_m, strict=True):
        c = fp.across_m
        v, r0, q0 = _coarse_values(grid, residual, launch_xy, c)
        best: tuple[float, FloatArray, FloatArray] | None = None
        for cand in _candidates(v, (r0, q0), budget_m, c, launch_xy):
            xy = truncate(cand, budget_m)
            frac = coverage_fraction(grid, swept_pieces(xy, fp))
            gain = float((residual * frac).sum())
            if best is None or gain > best[0]:
                best = (gain, xy, frac)
        assert best is not None
        gain, xy, frac = best
        residual = residual * (1.0 - frac)
        out.append(DronePath(xy, float(alt), fp, covered=gain))
    delays, _left = deconflict([p.xy for p in out], speed_m_s, min(f.across_m for f in footprints))
    for p, dl in zip(out, delays, strict=True):
        p.start_delay_s = dl
    plan = PoaPlan(out, float(sum(p.covered for p in out)), speed_m_s)
    plan.plan_time_s = time.perf_counter() - t0
    plan.plan_cpu_s = time.process_time() - c0
    if curve_points:
        plan.curve = coverage_curve(grid, plan, curve_points)  # not part of plan_time_s
    return plan


def coverage_curve(grid: PoaGrid, plan: PoaPlan, points: int = 16) -> list[tuple[float, float]]:
    """Covered probability (union of all drones) against time since the first take-off."""
    v = plan.speed_m_s
    end = max((p.start_delay_s + p.length_m / v for p in plan.paths), default=0.0)
    out: list[tuple[float, float]] = []
    for t in np.linspace(0.0, end, points + 1):
        polys = [
            g
            for p in plan.paths
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
