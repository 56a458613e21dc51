"""Search rules: area coverage, the reported sighting, separation of several drones.

See :mod:`dronekit_plzen.training.rules` for the table of rule types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.training.recording import Recording
from dronekit_plzen.training.rules_base import (
    Rule,
    RuleResult,
    _airborne,
    _flights,
    distance_m,
    local_xy,
)

if TYPE_CHECKING:
    from dronekit_plzen.training.exercise import Exercise


@dataclass(frozen=True)
class Coverage(Rule):
    swath_m: float = 40.0
    min_pct: float = 95.0
    within_s: float = 1500.0
    min_alt_m: float = 10.0
    cell_m: float = 5.0
    type = "coverage"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        ref = ex.area[0]
        ax, ay = local_xy([p[0] for p in ex.area], [p[1] for p in ex.area], ref)
        xs = np.arange(ax.min() + self.cell_m / 2, ax.max(), self.cell_m)
        ys = np.arange(ay.min() + self.cell_m / 2, ay.max(), self.cell_m)
        mx, my = np.meshgrid(xs, ys)
        gx, gy = mx.ravel(), my.ravel()
        import shapely

        keep = shapely.contains_xy(shapely.Polygon(list(zip(ax, ay, strict=True))), gx, gy)
        gx, gy = gx[keep], gy[keep]
        first = np.full(gx.size, np.inf)
        starts = [f[0] for v in self.tracks(rec) for f in _flights(v)]
        if not starts or gx.size == 0:
            return self.result(False, "never flew over the area", rec.end_s)
        t_start = min(starts)
        r2 = (self.swath_m / 2.0) ** 2
        for v in self.tracks(rec):
            ok = _airborne(v, self.min_alt_m)
            px, py = local_xy(v.lat_deg[ok], v.lon_deg[ok], ref)
            pt = v.t_s[ok]
            # chunks keep the distance matrix near 4 M cells (32 MB): 256 samples at a time
            # over the largest area (3 km a side, 360,000 cells) had been 740 MB
            step = max(1, min(256, 4_000_000 // max(gx.size, 1)))
            for i in range(0, pt.size, step):
                d2 = (gx[:, None] - px[None, i : i + step]) ** 2 + (
                    gy[:, None] - py[None, i : i + step]
                ) ** 2
                tt = np.where(d2 <= r2, pt[None, i : i + step], np.inf).min(axis=1)
                first = np.minimum(first, tt)
        pct_final = 100.0 * float(np.isfinite(first).mean())
        need = math.ceil(self.min_pct / 100.0 * first.size)
        reached = float(np.sort(first)[need - 1]) if need > 0 else t_start
        if math.isfinite(reached) and reached - t_start <= self.within_s:
            return self.result(
                True,
                f"{self.min_pct:g} % covered {reached - t_start:.0f} s after take-off "
                f"(final {pct_final:.0f} %)",
                reached,
            )
        deadline = t_start + self.within_s
        pct_by = 100.0 * float((first <= deadline).mean())
        return self.result(
            False,
            f"covered {pct_by:.0f} % within {self.within_s:g} s (final {pct_final:.0f} %), "
            f"needed {self.min_pct:g} %",
            min(deadline, rec.end_s),
        )


@dataclass(frozen=True)
class SightingRule(Rule):
    within_m: float = 30.0
    within_s: float = math.inf
    type = "sighting"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        if rec.target is None:
            raise BadInputError(_("sighting rule without a target"))
        sights = [s for s in rec.sightings() if self.vehicle in (None, s[1])]
        if not sights:
            return self.result(False, "no sighting reported", rec.end_s)
        t, k, lat, lon = sights[0]
        d = distance_m(rec.target, (lat, lon))
        if d > self.within_m:
            return self.result(
                False,
                f"reported {d:.0f} m from the target, allowed {self.within_m:g} m",
                t,
                (lat, lon),
                k,
            )
        if t > self.within_s:
            return self.result(
                False, f"reported at {t:.0f} s, limit {self.within_s:g} s", t, (lat, lon), k
            )
        return self.result(True, f"reported {d:.0f} m from the target", t, (lat, lon), k)


@dataclass(frozen=True)
class MinSeparation(Rule):
    """Never closer than ``min_m`` while airborne: passes when never airborne together."""

    min_m: float = 15.0
    min_vertical_m: float = math.inf
    type = "min_separation"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        vs = self.tracks(rec)
        ref = rec.homes[0]
        worst = math.inf
        closest: tuple[float, tuple[float, float], int] = (0.0, (0.0, 0.0), 0)
        for a in range(len(vs)):
            for b in range(a + 1, len(vs)):
                va, vb = vs[a], vs[b]
                if va.t_s.size < 2 or vb.t_s.size < 2:
                    continue
                t = np.arange(max(va.t_s[0], vb.t_s[0]), min(va.t_s[-1], vb.t_s[-1]), 0.5)
                if t.size == 0:
                    continue
                xa, ya = local_xy(
                    np.interp(t, va.t_s, va.lat_deg), np.interp(t, va.t_s, va.lon_deg), ref
                )
                xb, yb = local_xy(
                    np.interp(t, vb.t_s, vb.lat_deg), np.interp(t, vb.t_s, vb.lon_deg), ref
                )
                fly = (np.interp(t, va.t_s, _airborne(va).astype(float)) > 0.5) & (
                    np.interp(t, vb.t_s, _airborne(vb).astype(float)) > 0.5
                )
                d = np.hypot(xa - xb, ya - yb)
                dz = np.abs(np.interp(t, va.t_s, va.rel_alt_m) - np.interp(t, vb.t_s, vb.rel_alt_m))
                bad = np.nonzero(fly & (d < self.min_m) & (dz < self.min_vertical_m))[0]
                if bad.size:
                    i = int(bad[0])
                    return self.result(
                        False,
                        f"vehicles {va.index + 1} and {vb.index + 1} {d[i]:.0f} m apart, "
                        f"minimum {self.min_m:g} m",
                        float(t[i]),
                        (
                            float(np.interp(t[i], va.t_s, va.lat_deg)),
                            float(np.interp(t[i], va.t_s, va.lon_deg)),
                        ),
                        va.index,
                    )
                if fly.any():
                    j = int(np.argmin(np.where(fly, d, np.inf)))
                    if d[j] < worst:
                        worst = float(d[j])
                        la = float(np.interp(t[j], va.t_s, va.lat_deg))
                        lo = float(np.interp(t[j], va.t_s, va.lon_deg))
                        closest = (float(t[j]), (la, lo), va.index)
        if not math.isfinite(worst):
            return self.result(True, "never airborne together")
        return self.result(True, f"closest {worst:.0f} m", *closest)
