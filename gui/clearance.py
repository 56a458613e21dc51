"""Flight clearance for the GUI: every sortie through the toolkit's one safety guard (no Qt here).

A planned drone's mission is flown as its sorties (one battery each). Each sortie is validated
with the same inputs the CLI uses (terrain when a DEM is loaded, geozones, the mission's geofence,
endurance with the vehicle profile's reserve, the VLOS distance when set, the 120 m rule) and
gets a :class:`~dronekit_plzen.safety.Clearance` bound to its exact items. The fly panel uploads
only items with a clearance; a pilot's override (with a typed reason) becomes an overridden
clearance and is recorded in the mission's metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from dronekit_plzen.errors import SafetyViolation
from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.safety import Clearance, Override
from gui import backend
from gui.models import ViolationView


@dataclass(frozen=True)
class GuardInputs:
    """What the guard checks a sortie against, kept to check it again at the vehicle."""

    zones: Any = None  #: the backend's zones object (or a path)
    dem: Any = None  #: a DEM path or raster
    vehicle: Any = None  #: missions.vehicles.Vehicle profile (endurance, reserve, rates)
    max_distance_m: float | None = None  #: VLOS limit, when set


@dataclass(frozen=True)
class SortieView:
    """One sortie of one drone as the fly panel uploads it: the items and their clearance."""

    drone: int  #: 1-based drone number of the plan
    index: int  #: 1-based sortie number
    count: int  #: sorties of this drone
    mission: Any  #: missions.model.Mission as validated (home altitude with a datum)
    report: Any = None  #: the validator's report
    clearance: Clearance | None = None  #: None: failed validation and not overridden
    inputs: GuardInputs = GuardInputs()
    resumed_from: int | None = None  #: item of the planned sortie this one resumes at
    resume_head: int = 0  #: items before the resumed path (take-off, carried settings)

    @property
    def last_waypoint(self) -> int:
        """Index of the last positioned navigation item before the return (its end point)."""
        idx = [
            i
            for i, it in enumerate(self.mission.items)
            if it.is_nav and it.has_position and it.command in _WAYPOINTS
        ]
        return idx[-1] if idx else len(self.mission.items) - 1

    @property
    def items(self) -> list[Any]:
        return list(self.mission.items)

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def cleared(self) -> bool:
        return self.clearance is not None

    @property
    def overridden(self) -> bool:
        return self.clearance is not None and self.clearance.override is not None

    @property
    def violations(self) -> list[str]:
        return [str(v) for v in getattr(self.report, "violations", [])]

    def status_text(self) -> str:
        """Validation result in a few words, for the pre-flight summary."""
        if self.clearance is None:
            if self.report is None:
                return _("not validated")
            n = len(self.violations)
            return ngettext("FAILED ({n} problem)", "FAILED ({n} problems)", n).format(n=n)
        if self.clearance.override is not None:
            return _("OVERRIDDEN: {reason}").format(reason=self.clearance.override.reason)
        return _("passed")


#: MAV_CMD_NAV_WAYPOINT, LOITER_UNLIM/TURNS/TIME: a sortie's end point is the last of them
_WAYPOINTS = frozenset({16, 17, 18, 19})


def resume_sortie(sortie: SortieView, seq: int) -> SortieView:
    """``sortie`` resumed where it stopped, item ``seq`` its target: the take-off, the settings
    made before the leg it stopped on (the last of each kind), then the path from the start of
    that leg (:func:`missions.resume.resume_items`, the rule ``fly`` resumes by); ``sortie``
    itself when it is flown again whole.

    The result has no clearance of its own: :func:`clear_at_vehicle` checks it again before it
    is uploaded. ``resumed_from`` counts in the planned sortie's items.
    """
    resume_items = backend.require("missions.resume", "resume_items", _("Planning"))
    r = resume_items(sortie.items, seq)
    if r is None:
        return sortie
    planned = r.start
    if sortie.resumed_from is not None:  # a resumed sortie stopped again
        planned = sortie.resumed_from + r.start - sortie.resume_head
    meta = {**sortie.mission.metadata, "resumed_from_item": planned}
    mission = replace(sortie.mission, items=r.items, metadata=meta)
    return replace(sortie, mission=mission, resumed_from=planned, resume_head=r.head)


def vehicle_profile(key: str | None, camera: str | None = None) -> Any:
    """The planner's vehicle profile: by key, else the camera's vehicle, else the default quad."""
    resolve_vehicle = backend.require("missions.planner", "resolve_vehicle", _("Planning"))
    resolve_camera = backend.require("missions.planner", "resolve_camera", _("Planning"))
    return resolve_vehicle(key, resolve_camera(camera) if camera else None)


def _guard() -> Any:
    return backend.require("missions.validation", "clear_for_flight", _("Validation"))


def clear_drones(
    drones: Sequence[Sequence[Any]],
    *,
    zones: Any = None,
    dem: Any = None,
    vehicle: Any = None,
    max_distance_m: float | None = None,
) -> list[list[SortieView]]:
    """Validate every sortie of every drone with the toolkit's one guard.

    ``drones[i]`` is drone i's list of sortie missions (one battery each); ``vehicle`` is the
    profile (``None``: each mission's own, from its metadata). Unsafe sorties come back with
    ``clearance=None`` and their report, for the planning panel to show.
    """
    clear_for_flight = _guard()
    out: list[list[SortieView]] = []
    for d, sorties in enumerate(drones):
        veh = vehicle
        if veh is None:
            meta = getattr(sorties[0], "metadata", {}) or {}
            veh = vehicle_profile(meta.get("vehicle"), meta.get("camera"))
        inputs = GuardInputs(zones=zones, dem=dem, vehicle=veh, max_distance_m=max_distance_m)
        fc = clear_for_flight(
            list(sorties),
            dem=dem,
            zones=zones,
            vehicle=veh,
            max_distance_m=max_distance_m,
            raise_on_unsafe=False,
        )
        out.append(
            [
                SortieView(
                    drone=d + 1,
                    index=s.index,
                    count=len(fc.sorties),
                    mission=s.mission,
                    report=s.report,
                    clearance=s.clearance,
                    inputs=inputs,
                )
                for s in fc.sorties
            ]
        )
    return out


def clear_at_vehicle(
    sortie: SortieView,
    home: tuple[float, float, float] | None,
    position: tuple[float, float] | None,
    rtl: Any = None,
    takeoff_alt_m: float | None = None,
    autopilot: str | None = None,
) -> tuple[list[Any], Clearance]:
    """Check ``sortie`` again against the vehicle it goes to; (items, clearance) to upload.

    The vehicle's HOME_POSITION (lat, lon, alt AMSL) becomes the home the relative altitudes are
    flown from, and its GPS position must be near the planned launch point; ``rtl``: its RTL
    parameters (:func:`dronekit_plzen.fleet.vehicle_rtl_params`: return altitude, cone, where it
    returns to), as ``fly`` reads them; ``takeoff_alt_m``: the pilot's take-off altitude above
    home before an ArduCopter mission without a take-off item (the fly panel's), walked as
    flown; ``autopilot``: the vehicle's (``"ardupilot"``, ``"px4"``), whose firmware the
    mission is walked as. A pilot's override carries over; an unsafe sortie without one raises
    :class:`SafetyViolation`.
    """
    if sortie.clearance is None:
        raise SafetyViolation(
            _(
                "sortie {label} failed validation ({first}); override it in the planning panel "
                "with a reason first"
            ).format(label=sortie.label, first=(sortie.violations or ["?"])[0])
        )
    inputs = sortie.inputs
    override = sortie.clearance.override
    fc = _guard()(
        sortie.mission,
        dem=inputs.dem,
        zones=inputs.zones,
        vehicle=inputs.vehicle,
        max_distance_m=inputs.max_distance_m,
        vehicle_home=home,
        vehicle_position=position,
        override=override if override is not None else False,
        raise_on_unsafe=True,
        rtl=rtl,
        takeoff_alt_m=takeoff_alt_m,
        flown_by=autopilot if autopilot in ("ardupilot", "px4") else None,
    )
    s = fc.sorties[0]
    clearance = replace(s.clearance, sortie=sortie.index)
    return list(s.items), clearance


def override_at_vehicle(sortie: SortieView, reason: str, problem: str, user: str) -> SortieView:
    """``sortie`` with the pilot's override of what the guard found at the vehicle.

    For a sortie that passed at planning but fails against the vehicle it goes to (its home
    altitude, its position far from the planned launch point): the override, with the pilot's
    reason, is recorded in the mission's metadata and carried into :func:`clear_at_vehicle`.
    """
    override = Override.make(reason, [problem], who=user)
    mission = replace(sortie.mission, metadata=dict(sortie.mission.metadata))
    mission.metadata["safety_override"] = {**override.to_dict(), "at_vehicle": True}
    clearance = Clearance.overridden(mission.items, override, sortie=sortie.index)
    return replace(sortie, mission=mission, clearance=clearance)


def violation_views(drones: Sequence[Sequence[SortieView]]) -> list[ViolationView]:
    """Every finding, prefixed with the drone (``D2``) and sortie (``S3``) when several."""
    return _finding_views(drones, "violations")


def warning_views(drones: Sequence[Sequence[SortieView]]) -> list[ViolationView]:
    """Every warning of the validator (a conditional zone entered), prefixed like a finding:
    the plan may fly, but the pilot must see what the CLI prints."""
    return _finding_views(drones, "warnings")


def _finding_views(drones: Sequence[Sequence[SortieView]], kind: str) -> list[ViolationView]:
    out = []
    many_drones = len(drones) > 1
    for sorties in drones:
        for s in sorties:
            prefix = f"D{s.drone} " if many_drones else ""
            if s.count > 1:
                prefix += f"S{s.index} "
            for v in getattr(s.report, kind, []):
                out.append(
                    ViolationView(
                        rule=prefix + str(v.rule),
                        message=str(v.message),
                        lon=v.lon,
                        lat=v.lat,
                        item_index=v.item_index,
                    )
                )
    return out


def override_sorties(
    drones: Sequence[Sequence[SortieView]], reason: str, user: str
) -> tuple[list[list[SortieView]], Override]:
    """The pilot's override: every uncleared sortie gets an overridden clearance.

    The record (by, at, reason, violations) goes into each overridden mission's metadata through
    the validator's own :func:`missions.validation.guard`, as ``plan --override-safety`` writes.
    Raises :class:`~dronekit_plzen.errors.BadInputError` without a reason.
    """
    violations = [v for sorties in drones for s in sorties for v in s.violations]
    override = Override.make(reason, violations, who=user)
    guard = backend.optional("missions.validation", "guard")
    out: list[list[SortieView]] = []
    for sorties in drones:
        row = []
        for s in sorties:
            if s.clearance is not None:
                row.append(s)
                continue
            if guard is not None and s.report is not None:
                guard(s.mission, s.report, override=True, reason=override.reason, who=user)
            s.mission.metadata["safety_override"] = {
                **s.mission.metadata.get("safety_override", {}),
                **override.to_dict(),
                "violations": s.violations,
            }
            clearance = Clearance.overridden(
                s.mission.items,
                override,
                checked=list(getattr(s.report, "checked", [])),
                sortie=s.index,
            )
            s.mission.metadata["clearance"] = clearance.to_dict()
            row.append(replace(s, clearance=clearance))
        out.append(row)
    return out, override


__all__ = [
    "GuardInputs",
    "SortieView",
    "clear_at_vehicle",
    "clear_drones",
    "override_at_vehicle",
    "override_sorties",
    "vehicle_profile",
    "violation_views",
    "warning_views",
]
