"""Split a search area among several drones, minimising the longest flight.

The area is cut into bands parallel to the sweep direction (so every part keeps whole, long
transects), with band areas proportional to each drone's weight: equal (``weighting="equal"``)
or its capability, cruise speed × usable endurance (``"capability"``). Bands are assigned to
drones so the worst launch-to-band transit is small, each part is planned with the chosen
pattern from its drone's own launch point, and the weights are re-balanced from the planned
flight times for a few rounds, keeping the split with the shortest longest flight.
Optional altitude layers give each drone its own altitude (deconfliction at band borders).

Example (the demo's call)::

    plan_split(area, [DroneSpec("mavic3t", (13.35, 49.76)), ...], pattern="survey",
               camera="mavic3t-thermal", target="person", wanted_pod=0.8)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely.geometry import MultiPolygon, Polygon, box

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from missions.area import Area, area_from_metric
from missions.camera import Camera
from missions.patterns.base import rotate_geom
from missions.plan_core import (
    PlanResult,
    _angle,
    _reach_m,
    check_effort,
    resolve_camera,
    resolve_sensor,
    resolve_vehicle,
)
from missions.planner import plan_creeping_line, plan_perimeter, plan_survey
from missions.vehicles import Vehicle

LonLat = tuple[float, float]
PATTERNS = ("survey", "creeping-line", "perimeter")


@dataclass(frozen=True)
class DroneSpec:
    """One drone of the team: its vehicle profile, launch point (lon, lat), optional camera
    (default: the vehicle's), weight (default from ``weighting``) and altitude (layer)."""

    vehicle: Vehicle | str
    launch: LonLat
    camera: Camera | str | None = None
    weight: float | None = None
    alt_m: float | None = None


@dataclass
class SplitPlan:
    """The parts, in the order of ``drones``; ``parts_lonlat[i]`` is drone i's area."""

    plans: list[PlanResult]
    parts_lonlat: list[Polygon | MultiPolygon]
    angle_deg: float
    longest_flight_s: float
    rounds: int
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "drones": len(self.plans),
            "angle_deg": round(self.angle_deg, 2),
            "longest_flight_s": round(self.longest_flight_s, 1),
            "flight_time_s": [round(p.metrics.flight_time_s, 1) for p in self.plans],
            "area_m2": [round(p.metrics.area_m2, 1) for p in self.plans],
            "sorties": [p.metrics.sorties for p in self.plans],
            "coverage_pct": [p.metrics.coverage_pct for p in self.plans],
            "pod": [p.metrics.pod for p in self.plans],
        }


def band_cuts(
    area_rot: Polygon | MultiPolygon, fractions: Sequence[float]
) -> list[Polygon | MultiPolygon]:
    """Cut a (rotated) area into horizontal bands whose areas follow ``fractions``."""
    x0, y0, x1, y1 = area_rot.bounds
    total = area_rot.area
    cum = np.cumsum(fractions)[:-1] / float(np.sum(fractions))
    cuts = [y0]
    for f in cum:
        lo, hi = cuts[-1], y1
        for _step in range(50):
            mid = (lo + hi) / 2.0
            below = area_rot.intersection(box(x0 - 1, y0 - 1, x1 + 1, mid)).area
            if below < f * total:
                lo = mid
            else:
                hi = mid
            if hi - lo < 0.01:
                break
        cuts.append((lo + hi) / 2.0)
    cuts.append(y1)
    out = []
    for a, b in itertools.pairwise(cuts):
        g = area_rot.intersection(box(x0 - 1, a, x1 + 1, b))
        out.append(_poly(g))
    return out


def _poly(g: Any) -> Polygon | MultiPolygon:
    if isinstance(g, (Polygon, MultiPolygon)):
        return g
    parts = [p for p in getattr(g, "geoms", []) if isinstance(p, Polygon) and p.area > 0]
    return MultiPolygon(parts) if parts else Polygon()


def _assign(parts_c: np.ndarray, launches: np.ndarray) -> list[int]:
    """part index for each drone: the permutation minimising the longest launch→part distance
    (then the sum); greedy for more than 7 drones."""
    n = len(launches)
    d = np.hypot(*(launches[:, None, :] - parts_c[None, :, :]).transpose(2, 0, 1))
    if n <= 7:
        best = min(
            itertools.permutations(range(n)),
            key=lambda p: (max(d[i, p[i]] for i in range(n)), sum(d[i, p[i]] for i in range(n))),
        )
        return list(best)
    out: list[int] = []
    free = set(range(n))
    for i in range(n):
        j = min(free, key=lambda k: d[i, k])
        out.append(j)
        free.remove(j)
    return out


def plan_split(
    area: Area,
    drones: Sequence[DroneSpec],
    *,
    pattern: str = "survey",
    weighting: str = "equal",
    angle_deg: float | str = "auto",
    alt_layers_m: Sequence[float] | None = None,
    rounds: int = 6,
    **pattern_kw: Any,
) -> SplitPlan:
    """Split ``area`` among ``drones`` and plan each part with ``pattern`` from its launch.

    ``pattern_kw`` go to the pattern function (``camera``, ``alt_m``, ``target``,
    ``wanted_pod``, ``side_overlap_pct``, ``spacing_m``, ...); a drone's own ``camera``/
    ``alt_m`` override them, and ``alt_layers_m`` (one altitude per drone) overrides both.
    """
    if not drones:
        raise BadInputError(_("no drones to split the area among"))
    if pattern not in PATTERNS:
        raise BadInputError(
            _("pattern must be one of {patterns} to split an area").format(
                patterns=", ".join(PATTERNS)
            )
        )
    if weighting not in ("equal", "capability"):
        raise BadInputError(_("weighting must be 'equal' or 'capability'"))
    if alt_layers_m is not None and len(alt_layers_m) != len(drones):
        raise BadInputError(
            _("give {n_drones} altitude layers, one per drone").format(n_drones=len(drones))
        )
    n = len(drones)
    area_m, epsg = area.to_metric()
    cams = [resolve_camera(d.camera or pattern_kw.get("camera")) for d in drones]
    vehs = [resolve_vehicle(d.vehicle, c) for d, c in zip(drones, cams)]
    cams = [c if c is not None else resolve_camera(v.camera or None) for c, v in zip(cams, vehs)]
    # one sweep angle for the whole area (the first drone's sensor), bands parallel to it
    kw0 = {k: v for k, v in pattern_kw.items() if k in _SENSOR_KEYS}
    s0 = resolve_sensor(cams[0], **{**kw0, "alt_m": _alt(drones, alt_layers_m, 0, pattern_kw)})
    check_effort(area_m.area, s0)
    ang = _angle(area_m, angle_deg, s0.spacing_m, vehs[0], _reach_m(s0, True))
    c = area_m.centroid
    origin = (float(c.x), float(c.y))
    rot = ang - 90.0
    area_rot = rotate_geom(area_m, rot, origin)
    if any(d.weight is not None for d in drones):
        w = np.array([d.weight if d.weight is not None else 1.0 for d in drones], dtype=float)
    elif weighting == "capability":
        w = np.array([v.cruise_speed_m_s * v.usable_endurance_s for v in vehs])
    else:
        w = np.ones(n)
    if np.any(w <= 0):
        raise BadInputError(_("drone weights must be positive"))
    launches_m = np.array(
        [geo.transform([d.launch[0]], [d.launch[1]], geo.WGS84, epsg) for d in drones]
    ).reshape(n, 2)
    # assign bands to drones once (on an equal split), then balance the band weights
    eq = [rotate_geom(b, -rot, origin) for b in band_cuts(area_rot, [1.0] * n)]
    if any(b.is_empty or b.area <= 0 for b in eq):
        raise BadInputError(_("the area is too small to split among this many drones"))
    order = _assign(np.array([[b.centroid.x, b.centroid.y] for b in eq]), launches_m)
    wb = np.empty(n)
    for i in range(n):
        wb[order[i]] = w[i]
    best: SplitPlan | None = None
    for r in range(max(1, rounds)):
        bands = [rotate_geom(b, -rot, origin) for b in band_cuts(area_rot, list(wb))]
        if any(b.is_empty or b.area <= 0 for b in bands):
            raise BadInputError(_("the area is too small to split among this many drones"))
        plans: list[PlanResult] = []
        parts_ll = []
        for i, d in enumerate(drones):
            part = area_from_metric(bands[order[i]], epsg, name=f"part {i + 1}")
            kw = dict(pattern_kw)
            kw["camera"] = cams[i]
            kw["vehicle"] = vehs[i]
            kw["alt_m"] = _alt(drones, alt_layers_m, i, pattern_kw)
            kw["home"] = d.launch
            plans.append(_plan(pattern, part, ang, kw))
            parts_ll.append(part.geom_lonlat)
        times = np.array([p.metrics.flight_time_s for p in plans])
        cand = SplitPlan(
            plans,
            parts_ll,
            ang,
            float(times.max()),
            r + 1,
            info={"band_weights": [float(x) for x in wb], "epsg": epsg, "band_of_drone": order},
        )
        if best is None or cand.longest_flight_s < best.longest_flight_s:
            best = cand
        if times.max() - times.min() < 0.02 * times.max():
            break
        t_band = np.empty(n)
        for i in range(n):
            t_band[order[i]] = times[i]
        wb = wb * (times.mean() / np.maximum(t_band, 1e-9)) ** 0.9
    assert best is not None
    return best


_SENSOR_KEYS = (
    "gsd_cm",
    "side_overlap_pct",
    "front_overlap_pct",
    "spacing_m",
    "wanted_pod",
    "target",
    "landscape",
    "trigger",
)


def _alt(
    drones: Sequence[DroneSpec], layers: Sequence[float] | None, i: int, kw: dict[str, Any]
) -> float | None:
    if layers is not None:
        return float(layers[i])
    if drones[i].alt_m is not None:
        return drones[i].alt_m
    v = kw.get("alt_m")
    return None if v is None else float(v)


def _plan(pattern: str, part: Area, ang: float, kw: dict[str, Any]) -> PlanResult:
    if pattern == "survey":
        return plan_survey(part, angle_deg=ang, **kw)
    kw.pop("angle_deg", None)
    if pattern == "creeping-line":
        return plan_creeping_line(part, **kw)
    return plan_perimeter(part, **kw)


def longest_flight_s(plans: Sequence[PlanResult]) -> float:
    return max((p.metrics.flight_time_s for p in plans), default=math.nan)
