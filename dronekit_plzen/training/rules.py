"""Scoring rules: what the student must do, checked against the recorded telemetry.

Each rule is a frozen dataclass with a pure ``evaluate(recording, exercise) -> RuleResult``; the
result carries pass, fail or *not evaluated*, the simulated time and the place that decided it,
and a reason. The rules live in :mod:`~dronekit_plzen.training.rules_flight` and
:mod:`~dronekit_plzen.training.rules_search` (shared pieces in ``rules_base``); import them
from here.
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
``{statustext: <text>}`` (the first STATUSTEXT containing it).

When the event never happened (the student never reached waypoint N, so the fault never fired):
the *reaction* rules ``mode_within``, ``modes_forbidden_after`` and ``no_arm_during_fault``
could not judge anything, so they are **not evaluated**: 0 points, counted as not passed, with
the reason ``fault gps_jam never triggered (trigger: at waypoint 2)``. A reaction rule whose
event is the student's own mistake (a geofence breach, already failed by ``no_statustext``)
sets ``when_absent: pass`` to pass instead. The *never* rules ``max_alt``, ``prohibited_zone``,
``no_statustext`` and ``min_separation`` hold when nothing happened and pass; the others judge
the flight itself (``land_*``, ``flight_completed``, ``coverage``, ``sighting``) and fail
without one. A session in which no drone took off fails every rule.
Modes are groups: ``rtl``, ``land``, ``mission``, ``hold``, ``altitude``, ``manual``,
``guided``, ``takeoff``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dronekit_plzen.training.recording import Recording
from dronekit_plzen.training.rules_base import (
    EARTH_R_M,
    Rule,
    RuleResult,
    Trigger,
    _airborne,
    distance_m,
    local_xy,
)
from dronekit_plzen.training.rules_flight import (
    FlightCompleted,
    LandBattery,
    LandNearHome,
    MaxAlt,
    ModesForbiddenAfter,
    ModeWithin,
    NoArmDuringFault,
    NoStatustext,
    ProhibitedZone,
)
from dronekit_plzen.training.rules_search import Coverage, MinSeparation, SightingRule

if TYPE_CHECKING:
    from dronekit_plzen.training.exercise import Exercise

__all__ = [
    "EARTH_R_M",
    "RULE_TYPES",
    "Coverage",
    "FlightCompleted",
    "LandBattery",
    "LandNearHome",
    "MaxAlt",
    "MinSeparation",
    "ModeWithin",
    "ModesForbiddenAfter",
    "NoArmDuringFault",
    "NoStatustext",
    "ProhibitedZone",
    "Rule",
    "RuleResult",
    "SightingRule",
    "Trigger",
    "distance_m",
    "local_xy",
    "score",
]

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
