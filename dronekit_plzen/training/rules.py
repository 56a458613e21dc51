"""Scoring rules: what the student must do, checked against the recorded telemetry.

Each rule is a frozen dataclass with a pure ``evaluate(recording, exercise) -> RuleResult``; the
result carries pass/fail, the simulated time and the place that decided it, and a reason.
Rule types (YAML ``type``; every rule also takes ``id``, ``points`` (default 1) and ``vehicle``
(index; default every vehicle)):

=========================  =========================================================================
``max_alt``                never above ``max_m`` metres above home (AGL on flat ground)
``prohibited_zone``        never inside the exercise's zone ``zone`` (by name) while airborne
``land_battery``           land (disarm) with at least ``min_pct`` % battery
``land_near_home``         land within ``within_m`` of home
``flight_completed``       take off to at least ``min_alt_m`` and land again
``mode_within``            after the trigger ``after``, be in one of ``modes`` within ``within_s``
``modes_forbidden_after``  after the trigger ``after``, never enter ``modes`` until landed
``no_statustext``          the vehicle never says ``contains`` (e.g. ``Geofence violated``)
``no_arm_during_fault``    never armed while the fault ``fault`` is active (arming refused: wait,
                           do not force)
``coverage``               the exercise area covered to ``min_pct`` % by a ``swath_m`` wide camera
                           footprint (at ≥ ``min_alt_m``) within ``within_s`` of the first take-off
``sighting``               the first reported sighting within ``within_m`` of the placed target and
                           ``within_s`` of the start
``min_separation``         the vehicles never closer than ``min_m`` horizontally while airborne
                           (unless ``min_vertical_m`` apart in height)
=========================  =========================================================================

Triggers (``after``): ``{fault: <fault id>}`` (when it fired on that vehicle) or
``{statustext: <text>}`` (the first STATUSTEXT containing it). A trigger that never happened
passes its rule (nothing to react to); other rules make sure the flight took place.
Modes are groups: ``rtl``, ``land``, ``mission``, ``hold``, ``altitude``, ``manual``,
``guided``, ``takeoff``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.training.recording import Recording, VehicleTrack, mode_group

if TYPE_CHECKING:
    from dronekit_plzen.training.exercise import Exercise

EARTH_R_M = 6_371_000.0


@dataclass(frozen=True)
class RuleResult:
    id: str
    type: str
    passed: bool
    points: float
    t_s: float | None
    lat_deg: float | None
    lon_deg: float | None
    vehicle: int | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def local_xy(lat: Any, lon: Any, ref: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Metres east/north of ``ref`` (lat, lon): equirectangular, fine over a few km."""
    lat_a, lon_a = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    k = math.pi / 180.0 * EARTH_R_M
    return (lon_a - ref[1]) * k * math.cos(math.radians(ref[0])), (lat_a - ref[0]) * k


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    x, y = local_xy(b[0], b[1], a)
    return float(math.hypot(float(x), float(y)))


def _inside(poly: tuple[tuple[float, float], ...], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    import shapely

    shape = shapely.Polygon([(p[1], p[0]) for p in poly])
    return np.asarray(shapely.contains_xy(shape, lon, lat), dtype=bool)


# ---------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    id: str
    points: float = 1.0
    vehicle: int | None = None

    type = "rule"

    def tracks(self, rec: Recording) -> list[VehicleTrack]:
        return [v for k, v in sorted(rec.vehicles.items()) if self.vehicle in (None, k)]

    def result(
        self,
        passed: bool,
        reason: str,
        t_s: float | None = None,
        where: tuple[float, float] | None = None,
        vehicle: int | None = None,
    ) -> RuleResult:
        lat, lon = where if where is not None else (None, None)
        if lat is not None and (math.isnan(lat) or lon is None or math.isnan(lon)):
            lat = lon = None
        return RuleResult(
            self.id,
            self.type,
            passed,
            self.points if passed else 0.0,
            None if t_s is None else round(t_s, 1),
            lat,
            lon,
            vehicle,
            reason,
        )

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:  # pragma: no cover
        raise NotImplementedError


def _flights(v: VehicleTrack) -> list[tuple[float, float | None]]:
    """(armed at, disarmed at or None) intervals in simulated seconds."""
    out: list[tuple[float, float | None]] = []
    start: float | None = None
    for ev in v.events:
        if ev.kind == "armed" and start is None:
            start = ev.t_s
        elif ev.kind == "disarmed" and start is not None:
            out.append((start, ev.t_s))
            start = None
    if start is not None:
        out.append((start, None))
    return out


def _airborne(v: VehicleTrack, min_alt_m: float = 1.0) -> np.ndarray:
    return (v.armed > 0.5) & (v.rel_alt_m > min_alt_m)


@dataclass(frozen=True)
class MaxAlt(Rule):
    max_m: float = 120.0
    type = "max_alt"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        for v in self.tracks(rec):
            over = np.nonzero(v.rel_alt_m > self.max_m)[0]
            if over.size:
                i = int(over[0])
                return self.result(
                    False,
                    f"{v.rel_alt_m[i]:.0f} m above home, limit {self.max_m:g} m",
                    float(v.t_s[i]),
                    (float(v.lat_deg[i]), float(v.lon_deg[i])),
                    v.index,
                )
        tops = [(float(np.nanmax(v.rel_alt_m)), v) for v in self.tracks(rec) if v.t_s.size]
        if not tops:
            return self.result(True, "never flew")
        top, v = max(tops, key=lambda tv: tv[0])
        i = int(np.nanargmax(v.rel_alt_m))
        where = (float(v.lat_deg[i]), float(v.lon_deg[i]))
        return self.result(
            True, f"highest {top:.0f} m, limit {self.max_m:g} m", float(v.t_s[i]), where, v.index
        )


@dataclass(frozen=True)
class ProhibitedZone(Rule):
    zone: str = ""
    type = "prohibited_zone"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        poly = ex.zone(self.zone).polygon
        for v in self.tracks(rec):
            inside = _inside(poly, v.lat_deg, v.lon_deg) & _airborne(v)
            idx = np.nonzero(inside)[0]
            if idx.size:
                i = int(idx[0])
                return self.result(
                    False,
                    f"entered the prohibited zone {self.zone!r}",
                    float(v.t_s[i]),
                    (float(v.lat_deg[i]), float(v.lon_deg[i])),
                    v.index,
                )
        return self.result(True, f"stayed out of {self.zone!r}")


@dataclass(frozen=True)
class LandBattery(Rule):
    min_pct: float = 20.0
    type = "land_battery"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        worst = math.inf
        at: tuple[float, tuple[float, float], int] | None = None
        for v in self.tracks(rec):
            flights = _flights(v)
            if not flights:
                return self.result(False, "never took off", vehicle=v.index)
            end = flights[-1][1]
            if end is None:
                return self.result(False, "did not land before the end", rec.end_s, vehicle=v.index)
            lat, lon, _alt, pct = v.at(end)
            if not pct >= self.min_pct:
                return self.result(
                    False,
                    f"landed with {pct:.0f} % battery, minimum {self.min_pct:g} %",
                    end,
                    (lat, lon),
                    v.index,
                )
            if pct < worst:
                worst, at = pct, (end, (lat, lon), v.index)
        if at is None:
            return self.result(True, "no flight")
        return self.result(True, f"landed with {worst:.0f} % battery", *at)


@dataclass(frozen=True)
class LandNearHome(Rule):
    within_m: float = 15.0
    type = "land_near_home"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        last: tuple[float, tuple[float, float], int] | None = None
        d = math.nan
        for v in self.tracks(rec):
            flights = _flights(v)
            if not flights or flights[-1][1] is None:
                return self.result(False, "did not land", rec.end_s, vehicle=v.index)
            end = float(flights[-1][1])  # type: ignore[arg-type]
            lat, lon, _a, _b = v.at(end)
            d = distance_m(rec.homes[v.index], (lat, lon))
            if not d <= self.within_m:
                return self.result(False, f"landed {d:.0f} m from home", end, (lat, lon), v.index)
            last = (end, (lat, lon), v.index)
        return self.result(True, f"landed at home ({d:.0f} m)", *(last or ()))


@dataclass(frozen=True)
class FlightCompleted(Rule):
    min_alt_m: float = 10.0
    type = "flight_completed"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        last: tuple[float, tuple[float, float], int] | None = None
        for v in self.tracks(rec):
            high = v.t_s[v.rel_alt_m >= self.min_alt_m]
            if high.size == 0:
                return self.result(
                    False, f"never climbed to {self.min_alt_m:g} m", rec.end_s, vehicle=v.index
                )
            flights = _flights(v)
            if not flights or flights[-1][1] is None:
                return self.result(False, "did not land", rec.end_s, vehicle=v.index)
            end = float(flights[-1][1])  # type: ignore[arg-type]
            lat, lon, _a, _b = v.at(end)
            last = (end, (lat, lon), v.index)
        return self.result(True, "took off and landed", *(last or ()))


@dataclass(frozen=True)
class Trigger:
    fault: str | None = None
    statustext: str | None = None

    def times(self, rec: Recording, v: VehicleTrack) -> float | None:
        if self.fault is not None:
            ts = [t for t, k in rec.fault_times(self.fault, v.index)]
            return min(ts) if ts else None
        try:
            return v.first("statustext", self.statustext).t_s
        except LookupError:
            return None

    def describe(self) -> str:
        return f"fault {self.fault}" if self.fault else f"'{self.statustext}'"


@dataclass(frozen=True)
class ModeWithin(Rule):
    after: Trigger = Trigger()
    modes: tuple[str, ...] = ("rtl", "land")
    within_s: float = 10.0
    type = "mode_within"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        fired = False
        for v in self.tracks(rec):
            t0 = self.after.times(rec, v)
            if t0 is None:
                continue
            fired = True
            deadline = t0 + self.within_s
            ok_t = None
            if mode_group(v.mode_at(t0)) in self.modes:
                ok_t = t0
            for ev in v.events:
                if ok_t is not None or ev.t_s > deadline:
                    break
                if ev.t_s >= t0 and (
                    (ev.kind == "mode" and mode_group(ev.text) in self.modes)
                    or ev.kind == "disarmed"
                ):
                    ok_t = ev.t_s
            if ok_t is None:
                lat, lon, _a, _b = v.at(deadline)
                return self.result(
                    False,
                    f"{self.within_s:g} s after {self.after.describe()} still in "
                    f"{v.mode_at(deadline) or '?'}, expected {'/'.join(self.modes)}",
                    deadline,
                    (lat, lon),
                    v.index,
                )
            reaction = ok_t - t0
            lat, lon, _a, _b = v.at(ok_t)
            at = (ok_t, (lat, lon), v.index)
        if not fired:
            return self.result(True, f"{self.after.describe()} did not happen")
        return self.result(True, f"reacted {reaction:.1f} s after {self.after.describe()}", *at)


@dataclass(frozen=True)
class ModesForbiddenAfter(Rule):
    after: Trigger = Trigger()
    modes: tuple[str, ...] = ("mission",)
    type = "modes_forbidden_after"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        fired = False
        for v in self.tracks(rec):
            t0 = self.after.times(rec, v)
            if t0 is None:
                continue
            fired = True
            for ev in v.events:
                if ev.t_s < t0:
                    continue
                if ev.kind == "disarmed":
                    break
                if ev.kind == "mode" and mode_group(ev.text) in self.modes:
                    return self.result(
                        False,
                        f"switched to {ev.text} after {self.after.describe()}",
                        ev.t_s,
                        (ev.lat_deg, ev.lon_deg),
                        v.index,
                    )
        if not fired:
            return self.result(True, f"{self.after.describe()} did not happen")
        return self.result(True, f"no {'/'.join(self.modes)} after {self.after.describe()}")


@dataclass(frozen=True)
class NoStatustext(Rule):
    contains: str = ""
    type = "no_statustext"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        for v in self.tracks(rec):
            try:
                ev = v.first("statustext", self.contains)
            except LookupError:
                continue
            return self.result(
                False, f"vehicle said '{ev.text}'", ev.t_s, (ev.lat_deg, ev.lon_deg), v.index
            )
        return self.result(True, f"never '{self.contains}'")


@dataclass(frozen=True)
class NoArmDuringFault(Rule):
    fault: str = ""
    type = "no_arm_during_fault"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        spec = next(f for f in ex.faults if f.id == self.fault)
        duration = float(getattr(spec.fault, "duration_s", math.inf))
        for v in self.tracks(rec):
            for t_f, _k in rec.fault_times(self.fault, v.index):
                for ev in v.events:
                    if ev.kind == "armed" and t_f <= ev.t_s < t_f + duration:
                        lat, lon, _a, _b = v.at(ev.t_s)
                        return self.result(
                            False,
                            f"armed {ev.t_s - t_f:.0f} s into {self.fault} "
                            f"(cleared at {t_f + duration:.0f} s): forced arming",
                            ev.t_s,
                            (lat, lon),
                            v.index,
                        )
        return self.result(True, f"waited for {self.fault} to clear")


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
            for i in range(0, pt.size, 256):  # chunks keep the distance matrix small
                d2 = (gx[:, None] - px[None, i : i + 256]) ** 2 + (
                    gy[:, None] - py[None, i : i + 256]
                ) ** 2
                tt = np.where(d2 <= r2, pt[None, i : i + 256], np.inf).min(axis=1)
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
            raise BadInputError("sighting rule without a target")
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


RULE_TYPES: dict[str, type[Rule]] = {
    c.type: c  # type: ignore[misc]
    for c in (
        MaxAlt,
        ProhibitedZone,
        LandBattery,
        LandNearHome,
        FlightCompleted,
        ModeWithin,
        ModesForbiddenAfter,
        NoStatustext,
        NoArmDuringFault,
        Coverage,
        SightingRule,
        MinSeparation,
    )
}


def score(rec: Recording, ex: Exercise) -> list[RuleResult]:
    """Evaluate every rule of the exercise, in file order.

    A session in which no drone ever took off scores nothing: rules such as "never above
    120 m" would otherwise pass for a student who did not fly at all.
    """
    if not any(_airborne(v, 2.0).any() for v in rec.vehicles.values()):
        return [r.result(False, "no drone took off", rec.end_s) for r in ex.rules]
    return [r.evaluate(rec, ex) for r in ex.rules]
