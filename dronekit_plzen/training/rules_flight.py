"""Flight-conduct rules: altitude, zones, landing, reactions to faults and warnings.

See :mod:`dronekit_plzen.training.rules` for the table of rule types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dronekit_plzen.training.recording import Recording, mode_group
from dronekit_plzen.training.rules_base import (
    NOT_EVALUATED,
    Rule,
    RuleResult,
    Trigger,
    _airborne,
    _flights,
    _inside,
    distance_m,
    fault_missing,
)

if TYPE_CHECKING:
    from dronekit_plzen.training.exercise import Exercise


@dataclass(frozen=True)
class MaxAlt(Rule):
    """Never above ``max_m`` above home: passes when nothing happened."""

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
    """Never inside the zone while airborne: passes when nothing happened."""

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
class ModeWithin(Rule):
    """In one of ``modes`` within ``within_s`` of ``after``; not evaluated if it never happened
    (``when_absent: pass`` to pass instead)."""

    after: Trigger = field(default_factory=Trigger)
    modes: tuple[str, ...] = ("rtl", "land")
    within_s: float = 10.0
    when_absent: str = NOT_EVALUATED
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
            return self.absent(self.after.missing(rec, ex))
        return self.result(True, f"reacted {reaction:.1f} s after {self.after.describe()}", *at)


@dataclass(frozen=True)
class ModesForbiddenAfter(Rule):
    """Never in ``modes`` from ``after`` until disarmed; not evaluated if ``after`` never
    happened (``when_absent: pass`` when the event is itself the student's mistake)."""

    after: Trigger = field(default_factory=Trigger)
    modes: tuple[str, ...] = ("mission",)
    when_absent: str = NOT_EVALUATED
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
            return self.absent(self.after.missing(rec, ex))
        return self.result(True, f"no {'/'.join(self.modes)} after {self.after.describe()}")


@dataclass(frozen=True)
class NoStatustext(Rule):
    """The vehicle never says ``contains``: passes when it never did."""

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
    """Never armed while ``fault`` is active. If the fault never fired, nothing tested the
    student's patience: not evaluated (``when_absent: pass`` to pass instead)."""

    fault: str = ""
    when_absent: str = NOT_EVALUATED
    type = "no_arm_during_fault"

    def evaluate(self, rec: Recording, ex: Exercise) -> RuleResult:
        spec = next(f for f in ex.faults if f.id == self.fault)
        duration = float(getattr(spec.fault, "duration_s", math.inf))
        if not any(rec.fault_times(self.fault, v.index) for v in self.tracks(rec)):
            return self.absent(fault_missing(self.fault, ex))
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
