"""The sweep angle search: which transect bearing flies an area in the least time.

Stage 1 times many bearings with a numpy-only estimate (:func:`transects_fast`, the real cell
decomposition and greedy cell order with straight connections, timed by the vehicle model);
stage 2 re-times a few finalists, 0° (QGroundControl's default) and the longest-side bearing
(Mission Planner's rule) on the complete path. See :func:`best_angle_deg`."""

from __future__ import annotations

import math

import numpy as np
from shapely.geometry import MultiPolygon, Polygon

from missions.metrics import path_time_s
from missions.patterns.base import FloatArray, rotate_xy
from missions.patterns.survey import (
    Area2D,
    Transects,
    _cell_runs,
    _order_cells,
    _rot_for,
    decompose_cells,
    plan_survey_path,
    rotate_cell,
)
from missions.vehicles import Vehicle


def _ring_edges(area: Area2D) -> FloatArray:
    """(E, 2, 2) every edge of every ring (exteriors and holes)."""
    polys = list(area.geoms) if isinstance(area, MultiPolygon) else [area]
    segs = []
    for p in polys:
        for r in (p.exterior, *p.interiors):
            c = np.asarray(r.coords)
            segs.append(np.stack([c[:-1], c[1:]], axis=1))
    return np.concatenate(segs)


def transects_fast(
    edges: FloatArray, origin: tuple[float, float], spacing_m: float, angle_deg: float
) -> Transects:
    """Same pieces as :func:`transects` by the even-odd crossing rule, in numpy only (for the
    angle search: no shapely call)."""
    rot = _rot_for(angle_deg)
    e = rotate_xy(edges.reshape(-1, 2), rot, origin).reshape(-1, 2, 2)
    y0, y1 = float(e[:, :, 1].min()), float(e[:, :, 1].max())
    h = y1 - y0
    n = max(1, math.ceil(h / spacing_m - 1e-9))
    ys = y0 + (h - (n - 1) * spacing_m) / 2.0 + spacing_m * np.arange(n)
    ya, yb = e[:, 0, 1], e[:, 1, 1]
    xa, xb = e[:, 0, 0], e[:, 1, 0]
    lo, hi = np.minimum(ya, yb), np.maximum(ya, yb)
    yy = ys[:, None]
    cross = (yy >= lo) & (yy < hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = xa + (yy - ya) * (xb - xa) / (yb - ya)
    x = np.where(cross, x, np.inf)
    x.sort(axis=1)
    k = cross.sum(axis=1) // 2
    m = int(k.max()) if len(k) else 0
    if m == 0:
        return Transects(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, int), origin, rot)
    left = x[:, 0 : 2 * m : 2]
    right = x[:, 1 : 2 * m : 2]
    valid = np.arange(m)[None, :] < k[:, None]
    li, pi = np.nonzero(valid)
    keep = (right[li, pi] - left[li, pi]) > 1e-6
    li, pi = li[keep], pi[keep]
    return Transects(
        np.asarray(ys[li], dtype=np.float64), left[li, pi], right[li, pi], li, origin, rot
    )


def estimate_time_s(
    area: Area2D,
    spacing_m: float,
    angle_deg: float,
    vehicle: Vehicle,
    edges: FloatArray | None = None,
) -> float:
    """Flight-time estimate at one angle (for the ``auto`` search): the cell decomposition
    and greedy cell order of the real plan with straight connections, timed by the vehicle's
    model (acceleration, stops and yaw at corners)."""
    c = area.centroid
    origin = (float(c.x), float(c.y))
    t = transects_fast(
        edges if edges is not None else _ring_edges(area), origin, spacing_m, angle_deg
    )
    if len(t.y) == 0:
        return math.inf
    cells = decompose_cells(t)
    segs = [rotate_cell(_cell_runs(t, cl), t) for cl in cells]
    order = _order_cells(segs, segs[0][0, 0])
    xy = np.concatenate([v.reshape(-1, 2) for v in order])
    return path_time_s(xy, vehicle)


class StraightRouter:
    """Connections as straight lines (for estimates only)."""

    def route(self, a: FloatArray, b: FloatArray) -> FloatArray:
        return np.stack([np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)])


def best_angle_deg(
    area: Area2D,
    spacing_m: float,
    vehicle: Vehicle,
    coarse_step_deg: float = 3.0,
    reach_m: float | None = None,
    finalists: int = 3,
) -> float:
    """The sweep bearing in [0, 180) with the least flight time (turns included).

    Stage 1 times every ``coarse_step_deg``, the directions of the area's longest edges
    (Mission Planner's rule) and 0° (QGroundControl's default) with :func:`estimate_time_s`,
    refining by 0.5° around the best. Stage 2 re-times the ``finalists`` best distinct angles
    plus 0° and the longest-side angle on the complete path (corner legs and spike transects
    for ``reach_m`` included, connections straight) and keeps the fastest."""
    edges = _ring_edges(area)
    ls = longest_side_angle_deg(area)
    cands = [*np.arange(0.0, 180.0, coarse_step_deg).tolist(), ls]
    ring = np.asarray(
        (area.exterior if isinstance(area, Polygon) else area.convex_hull.exterior).coords
    )
    d = np.diff(ring, axis=0)
    for i in np.argsort(np.hypot(d[:, 0], d[:, 1]))[-4:]:
        cands.append(float(np.degrees(np.arctan2(d[i, 0], d[i, 1])) % 180.0))
    cost = {float(a): estimate_time_s(area, spacing_m, a, vehicle, edges) for a in cands}
    best = min(cost, key=lambda a: cost[a])
    for a in np.arange(best - coarse_step_deg + 0.5, best + coarse_step_deg, 0.5):
        a = float(a % 180.0)
        if a not in cost:
            cost[a] = estimate_time_s(area, spacing_m, a, vehicle, edges)
    if reach_m is None or finalists <= 0:
        return min(cost, key=lambda a: cost[a])
    picked: list[float] = []
    for a in sorted(cost, key=lambda a: cost[a]):
        if all(abs((a - b + 90.0) % 180.0 - 90.0) >= 4.0 for b in picked):
            picked.append(a)
        if len(picked) == finalists:
            break
    final = {}
    router = StraightRouter()
    for a in {*picked, 0.0, ls}:
        path = plan_survey_path(area, 0, spacing_m, a, reach_m=reach_m, router=router)  # type: ignore[arg-type]
        final[a] = path_time_s(path.xy, vehicle)
    return min(final, key=lambda a: final[a])


def longest_side_angle_deg(area: Area2D) -> float:
    """Mission Planner's rule: transects parallel to the longest edge of the exterior ring."""
    poly = area if isinstance(area, Polygon) else max(area.geoms, key=lambda p: p.area)
    ring = np.asarray(poly.exterior.coords)
    d = np.diff(ring, axis=0)
    i = int(np.argmax(np.hypot(d[:, 0], d[:, 1])))
    return float(np.degrees(np.arctan2(d[i, 0], d[i, 1])) % 180.0)
