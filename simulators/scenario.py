"""Training scenario driver: event-triggered faults, placed targets and reported sightings.

A :class:`ScenarioDriver` is a :attr:`SimFleet.step_hooks <simulators.fleet.SimFleet>` entry: it
runs on the scheduler thread after every simulated step, so every trigger is decided on the
simulated clock and the same exercise with the same seed and the same pilot inputs fires the
same faults at the same instants (lockstep runs are bit-for-bit repeatable).

- Faults (:class:`~simulators.faults.TriggeredFault`) fire once per vehicle when their trigger
  holds: ``at_s``, ``at_waypoint`` (mission item N reached, numbered as uploaded),
  ``battery_below_pct``, ``distance_from_home_m`` (armed, beyond D m from home) or
  ``airborne_s`` (S s after take-off).
- A :class:`Target` (the missing person) is "seen" by a vehicle flying within
  ``detect_radius_m`` of it no higher than ``max_alt_m``: the vehicle's camera operator gets a
  STATUSTEXT ``Camera: person in view`` (no position: the student must report it).
- A sighting is reported with ``MAV_CMD_DO_SET_ROI_LOCATION`` (QGroundControl's "ROI at
  location", MAVProxy ``long DO_SET_ROI_LOCATION``, ``dronekit-plzen train sighting``); the
  vehicle acknowledges it with the STATUSTEXT ``Sighting <lat> <lon>`` so that it is part of
  the recorded telemetry.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulators.faults import ScheduledFault, TriggeredFault, WindGust
from simulators.state import SEVERITY_INFO, SEVERITY_WARNING

if TYPE_CHECKING:
    from simulators.fleet import SimFleet, SimVehicle

#: the STATUSTEXTs the driver makes the vehicle send (scoring parses them back)
DETECTION_TEXT = "Camera: person in view"
SIGHTING_PREFIX = "Sighting "


@dataclass(frozen=True)
class Target:
    """A placed target: position (WGS84 degrees) and when a vehicle's camera sees it."""

    lat_deg: float
    lon_deg: float
    detect_radius_m: float = 25.0
    max_alt_m: float = 80.0


@dataclass(frozen=True)
class FiredFault:
    """A fault as it fired: which, on which vehicle, when (sim s) and where."""

    id: str
    type: str
    trigger: str
    vehicle: int
    sysid: int
    t_s: float
    lat_deg: float
    lon_deg: float
    rel_alt_m: float


@dataclass(frozen=True)
class Sighting:
    """A position the student reported (DO_SET_ROI_LOCATION), and the detection it follows."""

    vehicle: int
    sysid: int
    t_s: float
    lat_deg: float
    lon_deg: float


@dataclass(frozen=True)
class Detection:
    vehicle: int
    sysid: int
    t_s: float
    target: int


def gust_schedule(
    seed: int, end_s: float, max_m_s: float, every_s: float, from_deg: float, spread_deg: float
) -> list[ScheduledFault]:
    """Random gusts for the whole exercise, drawn from ``seed`` alone (same seed, same gusts).

    Intervals are exponential with mean ``every_s``; speed uniform in [max/2, max]; direction
    ``from_deg`` ± ``spread_deg``; each gust lasts 2-6 s.
    """
    if max_m_s <= 0 or every_s <= 0:
        return []
    rng = np.random.default_rng([seed, 19, 1])
    out: list[ScheduledFault] = []
    t = 0.0
    while True:
        t += float(rng.exponential(every_s))
        if t >= end_s:
            return out
        speed = float(rng.uniform(max_m_s / 2.0, max_m_s))
        frm = (from_deg + float(rng.uniform(-spread_deg, spread_deg))) % 360.0
        dur = float(rng.uniform(2.0, 6.0))
        out.append(ScheduledFault(round(t, 2), None, WindGust(speed, frm, dur)))


class ScenarioDriver:
    """Fires triggered faults, detects targets and takes sightings (see the module doc).

    Read :attr:`fired`, :attr:`sightings` and :attr:`detections` from any thread through
    :meth:`log` (a consistent copy).
    """

    def __init__(self, faults: Sequence[TriggeredFault], targets: Sequence[Target] = ()) -> None:
        self.faults = list(faults)
        self.targets = list(targets)
        self._done: set[tuple[int, int]] = set()  # (fault index, vehicle index)
        self._seen: set[tuple[int, int]] = set()  # (target index, vehicle index)
        self._airborne_since: dict[int, float] = {}
        self._roi_taken: dict[int, int] = {}
        self._lock = threading.Lock()
        self.fired: list[FiredFault] = []
        self.sightings: list[Sighting] = []
        self.detections: list[Detection] = []

    def attach(self, fleet: SimFleet) -> ScenarioDriver:
        fleet.step_hooks.append(self)
        return self

    def log(self) -> tuple[list[FiredFault], list[Sighting], list[Detection]]:
        with self._lock:
            return list(self.fired), list(self.sightings), list(self.detections)

    # ------------------------------------------------------------------ per step
    def __call__(self, fleet: SimFleet) -> None:
        for v in fleet.vehicles:
            self._vehicle_step(v)

    def _vehicle_step(self, v: SimVehicle) -> None:
        vm = v.model
        if vm.armed and not vm.landed:
            self._airborne_since.setdefault(v.index, vm.t_s)
        else:
            self._airborne_since.pop(v.index, None)
        for i, tf in enumerate(self.faults):
            if (i, v.index) in self._done or tf.vehicle not in (None, v.index):
                continue
            if self._holds(tf, v):
                self._done.add((i, v.index))
                v._apply(tf.fault)
                self._record(tf, v)
        if self.targets and vm.armed and not vm.landed:
            self._look(v)
        reports = vm.roi_reports
        taken = self._roi_taken.get(v.index, 0)
        if len(reports) > taken:
            self._roi_taken[v.index] = len(reports)
            for t_s, lat, lon, _alt in reports[taken:]:
                if math.isnan(lat) or math.isnan(lon):
                    continue
                vm.text(f"{SIGHTING_PREFIX}{lat:.6f} {lon:.6f}", SEVERITY_INFO)
                with self._lock:
                    self.sightings.append(Sighting(v.index, v.sysid, t_s, lat, lon))

    def _holds(self, tf: TriggeredFault, v: SimVehicle) -> bool:
        vm = v.model
        kind, value = tf.trigger.kind, tf.trigger.value
        if kind == "at_s":
            return vm.t_s >= value - 1e-9
        if kind == "at_waypoint":
            seq = int(value) + (0 if vm.px4 else 1)  # ArduPilot's item 0 is home
            return seq in vm.runner.reached
        if kind == "battery_below_pct":
            return vm.battery.remaining * 100.0 < value
        if kind == "distance_from_home_m":
            dist = math.hypot(vm.pos[0] - vm.home[0], vm.pos[1] - vm.home[1])
            return vm.armed and dist > value
        if kind == "airborne_s":
            since = self._airborne_since.get(v.index)
            return since is not None and vm.t_s - since >= value
        raise ValueError(f"unknown trigger {kind!r}")

    def _record(self, tf: TriggeredFault, v: SimVehicle) -> None:
        vm = v.model
        lat, lon, _alt = vm.geo.to_lla(*vm.pos)
        from simulators.faults import FAULT_TYPES

        kind = next((k for k, c in FAULT_TYPES.items() if isinstance(tf.fault, c)), "fault")
        fired = FiredFault(
            tf.id,
            kind,
            tf.trigger.describe(),
            v.index,
            v.sysid,
            round(vm.t_s, 3),
            lat,
            lon,
            vm.rel_alt_m,
        )
        with self._lock:
            self.fired.append(fired)

    def _look(self, v: SimVehicle) -> None:
        vm = v.model
        for k, tg in enumerate(self.targets):
            if (k, v.index) in self._seen:
                continue
            e, n, _u = vm.geo.to_enu(tg.lat_deg, tg.lon_deg, vm.geo.alt0_m)
            near = math.hypot(vm.pos[0] - e, vm.pos[1] - n) <= tg.detect_radius_m
            if near and vm.rel_alt_m <= tg.max_alt_m:
                self._seen.add((k, v.index))
                vm.text(DETECTION_TEXT, SEVERITY_WARNING)
                with self._lock:
                    self.detections.append(Detection(v.index, v.sysid, round(vm.t_s, 3), k))
