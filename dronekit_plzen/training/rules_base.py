"""Shared pieces of the scoring rules: the result, the rule base class, triggers, geometry.

See :mod:`dronekit_plzen.training.rules` for the rule types and what each decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dronekit_plzen.training.recording import Recording, VehicleTrack

if TYPE_CHECKING:
    from dronekit_plzen.training.exercise import Exercise

EARTH_R_M = 6_371_000.0
#: ``when_absent`` of the reaction rules: what they score when their event never happened
NOT_EVALUATED, PASS = "not_evaluated", "pass"
WHEN_ABSENT = (NOT_EVALUATED, PASS)


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict. ``evaluated=False``: the event the rule waits for never happened, so
    the student's reaction could not be judged; it scores 0 and counts as not passed."""

    id: str
    type: str
    passed: bool
    points: float
    t_s: float | None
    lat_deg: float | None
    lon_deg: float | None
    vehicle: int | None
    reason: str
    evaluated: bool = True

    @property
    def status(self) -> str:
        """``pass``, ``fail`` or ``not_evaluated``."""
        if not self.evaluated:
            return "not_evaluated"
        return "pass" if self.passed else "fail"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__) | {"status": self.status}


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

    def not_evaluated(self, reason: str) -> RuleResult:
        """The rule's event never happened: nothing to judge, 0 points, not passed."""
        return RuleResult(self.id, self.type, False, 0.0, None, None, None, None, reason, False)

    def absent(self, reason: str) -> RuleResult:
        """The event a reaction rule waits for never happened: ``when_absent`` decides."""
        if getattr(self, "when_absent", NOT_EVALUATED) == PASS:
            return self.result(True, reason)
        return self.not_evaluated(reason)

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

    def missing(self, rec: Recording, ex: Exercise) -> str:
        """Why a rule waiting for this trigger was not evaluated (it never happened)."""
        if self.fault is not None:
            return fault_missing(self.fault, ex)
        fired = {f["id"] for f in rec.faults}
        unfired = [fault_missing(f.id, ex) for f in ex.faults if f.id not in fired]
        why = f" ({'; '.join(unfired)})" if unfired else ""
        return f"the vehicle never said '{self.statustext}'{why}"


def fault_missing(fault_id: str, ex: Exercise) -> str:
    """``fault gps_jam never triggered (trigger: at waypoint 2)``."""
    spec = next((f for f in ex.faults if f.id == fault_id), None)
    when = "" if spec is None else f" (trigger: {spec.trigger.text()})"
    return f"fault {fault_id} never triggered{when}"
