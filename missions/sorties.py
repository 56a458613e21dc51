"""Cut a mission longer than one battery into sorties with resume points.

Each sortie takes off at home, flies to where the previous one stopped, continues along the path
and returns home, and fits in 95 % of the vehicle's usable endurance (endurance minus reserve)
by the :mod:`missions.metrics` time model. Cuts fall on path points; segments longer than 1/40 of a
battery's range are subdivided first so a cut can fall inside a long leg.
"""

from __future__ import annotations

import numpy as np

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from missions.metrics import mission_time_s
from missions.patterns.base import FloatArray, PathPlan
from missions.vehicles import Vehicle

#: plan each sortie to at most this share of the usable endurance: the validator (and the real
#: vehicle) time a flight with a slightly different model (climb/descent profile, wind)
SORTIE_MARGIN = 0.95
#: a path's legs are cut into pieces of at most 1/this of the distance a sortie flies, so that a
#: cut can fall inside a long leg
SORTIE_PIECES = 40


def _densify(path: PathPlan, max_len_m: float) -> PathPlan:
    xy = [path.xy[0]]
    kinds: list[int] = []
    for i in range(len(path.xy) - 1):
        a, b = path.xy[i], path.xy[i + 1]
        n = max(1, int(np.ceil(float(np.hypot(*(b - a))) / max_len_m)))
        for k in range(1, n + 1):
            xy.append(a + (b - a) * (k / n))
            kinds.append(int(path.seg_kind[i]))
    return PathPlan(np.asarray(xy), np.asarray(kinds, dtype=np.int8), path.epsg, info=path.info)


def _sub(path: PathPlan, a: int, b: int) -> PathPlan:
    return PathPlan(path.xy[a : b + 1], path.seg_kind[a:b], path.epsg, info=dict(path.info))


def cut_sorties(
    path: PathPlan,
    vehicle: Vehicle,
    alt_m: float,
    home_xy: tuple[float, float] | None = None,
    hold_s: float = 0.0,
) -> tuple[list[PathPlan], list[tuple[float, float]]]:
    """Sorties (metric paths) and the resume point (metric x, y) of every sortie after the first.

    Raises :class:`BadInputError` when not even a single leg fits in one battery (the area is
    beyond the vehicle's reach from home).
    """
    budget = vehicle.usable_endurance_s * SORTIE_MARGIN
    home = home_xy if home_xy is not None else (float(path.xy[0, 0]), float(path.xy[0, 1]))
    if mission_time_s(path, vehicle, alt_m, home, hold_s) <= budget:
        return [path], []
    p = _densify(path, max(vehicle.cruise_speed_m_s * budget / SORTIE_PIECES, 1.0))
    n = len(p.xy)
    sorties: list[PathPlan] = []
    resume: list[tuple[float, float]] = []
    a = 0
    while a < n - 1:
        lo, hi = a + 1, n - 1
        if mission_time_s(_sub(p, a, lo), vehicle, alt_m, home, hold_s) > budget:
            raise BadInputError(_leg_too_far(p, a, home, alt_m, budget))
        while lo < hi:  # largest b with time(a..b) <= budget
            mid = (lo + hi + 1) // 2
            if mission_time_s(_sub(p, a, mid), vehicle, alt_m, home, hold_s) <= budget:
                lo = mid
            else:
                hi = mid - 1
        sorties.append(_sub(p, a, lo))
        if lo < n - 1:
            resume.append((float(p.xy[lo, 0]), float(p.xy[lo, 1])))
        a = lo
    return sorties, resume


def _leg_too_far(
    p: PathPlan, a: int, home: tuple[float, float], alt_m: float, budget_s: float
) -> str:
    """The line for a leg no sortie can fly: where it is in lon/lat (the planning CRS's metres
    say nothing to a pilot), how far from home, and the battery."""
    from dronekit_plzen import geo

    x, y = p.xy[a]
    lon, lat = geo.transform([x], [y], p.epsg, geo.WGS84)
    return _(
        "the leg from {lat:.6f}, {lon:.6f} ({d:.1f} km from home) cannot be flown at {alt:g} m "
        "within one battery ({budget_min:.1f} min usable): move home nearer"
    ).format(
        lat=float(lat[0]),
        lon=float(lon[0]),
        d=float(np.hypot(x - home[0], y - home[1])) / 1000.0,
        alt=alt_m,
        budget_min=budget_s / 60,
    )


def sortie_count(paths: list[PathPlan]) -> int:
    return len(paths)


def resume_xy(points: list[tuple[float, float]]) -> FloatArray:
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)
