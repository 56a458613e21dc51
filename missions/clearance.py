"""Clear a mission for flight: one guard for every door a mission can leave by.

:func:`clear_for_flight` is the single entry point that ``plan`` (before writing files),
``fly``, the fleet API's users, the demo and the GUI call. It

1. settles the **home altitude** (AMSL) with a stated datum (:func:`resolve_home`): the
   vehicle's ``HOME_POSITION`` when flying, else the plan's stated home, else the DEM at the
   launch point; never a silent 0.0 (an unknown home altitude is recorded as such and AMSL
   altitudes then cannot be checked);
2. checks **plausibility**: the vehicle's position against the planned launch point (swapped
   latitude/longitude, wrong file);
3. validates **each sortie** separately with :func:`missions.validation.validate` (terrain, DSM,
   zones, geofence, endurance with the profile's reserve, VLOS distance, the 120 m rule, the
   distance from the launch point);
4. issues a :class:`~dronekit_plzen.safety.Clearance` per sortie, bound to its exact items, which
   :meth:`dronekit_plzen.link.Vehicle.upload_mission` requires. An unsafe sortie raises
   :class:`~dronekit_plzen.errors.SafetyViolation` (exit 3) unless an override with a reason is
   given; the override is then recorded in the sortie's metadata (and so in every file written).

>>> fc = clear_for_flight(sorties, dem=dem, zones=zones, vehicle=get_vehicle("px4-quad"),
...                       vehicle_home=link_state.home)  # doctest: +SKIP
>>> for s in fc.sorties:  # doctest: +SKIP
...     vehicle.upload_mission(s.items, clearance=s.clearance)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError, SafetyViolation, Violation
from dronekit_plzen.geo import geodesic_distance_m
from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.mission_items import MissionItem
from dronekit_plzen.rtl_cone import RtlParams
from dronekit_plzen.safety import Clearance, Override
from missions.model import (
    AUTOPILOT_CODES,
    AUTOPILOT_NAMES,
    Mission,
)
from missions.terrain import Raster, missions_bbox
from missions.zones import Zone, load_zones

#: where the home altitude came from (``Mission.metadata["home_amsl_source"]``)
HOME_VEHICLE = "vehicle"  # HOME_POSITION of the vehicle being flown
HOME_DEM = "dem"  # the DEM at the launch point
HOME_PLAN = "plan"  # stated in the plan file (another tool, or a pilot)
HOME_UNKNOWN = "unknown"  # planned without a DEM: the file's altitude is a placeholder
HOME_SOURCES = (HOME_VEHICLE, HOME_DEM, HOME_PLAN, HOME_UNKNOWN)

#: default plausibility limits
MAX_RANGE_M = 20_000.0
MAX_LAUNCH_OFFSET_M = 1_000.0


def home_amsl_source(mission: Mission) -> str:
    """How the mission's home altitude is known: one of :data:`HOME_SOURCES`.

    Our planner records it in the metadata. A file from elsewhere that states a home altitude
    other than exactly 0.0 is taken as stated (``plan``); 0.0 without a record is the old
    placeholder, so ``unknown``.
    """
    src = mission.metadata.get("home_amsl_source")
    if src in HOME_SOURCES:
        return str(src)
    if mission.home is None or mission.home[2] == 0.0 or not math.isfinite(mission.home[2]):
        return HOME_UNKNOWN
    return HOME_PLAN


def resolve_home(
    mission: Mission,
    *,
    dem: Raster | None = None,
    vehicle_home: tuple[float, float, float] | None = None,
    home_amsl_m: float | None = None,
) -> tuple[Mission, list[str]]:
    """A copy of ``mission`` whose home altitude has a datum, and notes saying which.

    ``vehicle_home`` is the vehicle's ``HOME_POSITION`` as the link reports it (lat, lon,
    alt AMSL): when flying it replaces the planned home, since relative altitudes are flown
    relative to it. ``home_amsl_m`` states the altitude explicitly (a pilot's reading).
    Otherwise the plan's stated altitude is kept, and an unknown one is taken from the DEM at
    the launch point. ``metadata["home_amsl_source"]`` records the result.
    """
    m = replace(mission, items=list(mission.items), metadata=dict(mission.metadata))
    notes: list[str] = []
    if vehicle_home is not None:
        lat, lon, alt = vehicle_home
        m.home = (float(lon), float(lat), float(alt))
        m.metadata["home_amsl_source"] = HOME_VEHICLE
        notes.append(_("home altitude {a:.1f} m AMSL from the vehicle").format(a=alt))
        return m, notes
    if m.home is None:
        first = next((it for it in m.items if it.has_position), None)
        if first is None:
            raise BadInputError(_("mission has no home and no positioned items"))
        m.home = (first.lon_deg, first.lat_deg, 0.0)
        m.metadata["home_amsl_source"] = HOME_UNKNOWN
        notes.append(_("mission has no home: the first waypoint is taken as home"))
    if home_amsl_m is not None:
        m.home = (m.home[0], m.home[1], float(home_amsl_m))
        m.metadata["home_amsl_source"] = HOME_PLAN
        return m, notes
    src = home_amsl_source(m)
    if src == HOME_UNKNOWN and dem is not None:
        z = float(dem.sample([m.home[0]], [m.home[1]])[0])
        if math.isfinite(z):
            m.home = (m.home[0], m.home[1], round(z, 2))
            src = HOME_DEM
            notes.append(
                _("home altitude unknown in the plan: {a:.1f} m AMSL from the DEM").format(a=z)
            )
    m.metadata["home_amsl_source"] = src
    return m, notes


@dataclass(frozen=True)
class SortieClearance:
    """One sortie (one battery) as it may be uploaded: its items and their clearance.

    ``index`` counts from 1. ``clearance`` is ``None`` only when the sortie is unsafe and
    :func:`clear_for_flight` was asked not to raise (``raise_on_unsafe=False``, for display).
    """

    index: int
    mission: Mission
    items: list[MissionItem]
    clearance: Clearance | None
    report: Any  # missions.validation.ValidationReport

    @property
    def ok(self) -> bool:
        return bool(self.report.ok)


@dataclass(frozen=True)
class FlightClearance:
    """The verdict on a whole flight: every sortie with its report and clearance."""

    sorties: tuple[SortieClearance, ...]
    home_source: str
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Every sortie passed without an override."""
        return all(s.ok for s in self.sorties)

    @property
    def cleared(self) -> bool:
        """Every sortie may be uploaded (passed, or overridden with a reason)."""
        return all(s.clearance is not None for s in self.sorties)

    @property
    def overrides(self) -> list[Override]:
        return [
            s.clearance.override
            for s in self.sorties
            if s.clearance is not None and s.clearance.override is not None
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "home_amsl_source": self.home_source,
            "notes": list(self.notes),
            "sorties": [
                {
                    "sortie": s.index,
                    "items": len(s.items),
                    "validation": s.report.to_dict(),
                    "clearance": s.clearance.to_dict() if s.clearance else None,
                }
                for s in self.sorties
            ],
        }


def open_terrain(raster: Raster | str | Path | None, missions: Sequence[Mission]) -> Raster | None:
    """The terrain raster around ``missions`` (a path opened, a :class:`Raster` as it is); a
    mission outside it is a :class:`SafetyViolation` (exit 3)."""
    if raster is None or isinstance(raster, Raster):
        return raster
    bbox = missions_bbox(missions)
    try:
        return Raster.open(raster, bbox_lonlat=bbox)
    except BadInputError as exc:
        if "outside" in str(exc):
            raise SafetyViolation(
                _(
                    "the mission lies outside the terrain model {p}: check its coordinates "
                    "(latitude and longitude swapped?)"
                ).format(p=raster),
                violations=[Violation("plausibility", str(exc))],
            ) from exc
        raise


def launch_offset_violation(
    mission: Mission, vehicle_position: tuple[float, float], max_offset_m: float
) -> Violation | None:
    """The planned launch point farther than ``max_offset_m`` from the vehicle (lat, lon)."""
    if mission.home is None:
        return None
    lat, lon = vehicle_position
    d = float(geodesic_distance_m(lon, lat, mission.home[0], mission.home[1]))
    if d <= max_offset_m:
        return None
    return Violation(
        "plausibility",
        _(
            "the planned launch point ({plat:.6f}, {plon:.6f}) is {d:.0f} m from the vehicle "
            "({vlat:.6f}, {vlon:.6f}); limit {lim:.0f} m: wrong file, or latitude and "
            "longitude swapped?"
        ).format(
            plat=mission.home[1], plon=mission.home[0], d=d, vlat=lat, vlon=lon, lim=max_offset_m
        ),
        lat=mission.home[1],
        lon=mission.home[0],
        value=round(d, 1),
        limit=max_offset_m,
    )


def _planning_speed(mission: Mission, vehicle: Any) -> float | None:
    """The speed the guard times the legs at (before any DO_CHANGE_SPEED): the slower of the
    file's planning speed and the vehicle profile's cruise speed. A QGroundControl plan of a
    multirotor carries cruiseSpeed 15 m/s (QGC's fixed-wing figure) beside hoverSpeed 5 m/s;
    timing it at 15 made the flight look a third as long to the endurance check. The vehicle
    flies a mission without speed commands at its own default speed, which its profile holds;
    the slower of the two never shortens the estimate."""
    v_file = mission.cruise_speed_m_s
    v_veh = getattr(vehicle, "cruise_speed_m_s", None)
    speeds = [float(v) for v in (v_file, v_veh) if isinstance(v, int | float) and v > 0]
    return min(speeds) if speeds else None


def clear_for_flight(
    mission: Mission | Sequence[Mission],
    *,
    dem: Raster | str | Path | None = None,
    dsm: Raster | str | Path | None = None,
    zones: Sequence[Zone] | str | Path | None = None,
    vehicle: Any = None,
    vehicle_home: tuple[float, float, float] | None = None,
    vehicle_position: tuple[float, float] | None = None,
    home_amsl_m: float | None = None,
    when: datetime | None = None,
    max_agl_m: float = 120.0,
    min_clearance_m: float = 10.0,
    max_distance_m: float | None = None,
    max_range_m: float | None = MAX_RANGE_M,
    max_launch_offset_m: float = MAX_LAUNCH_OFFSET_M,
    authorised_zones: Sequence[str] = (),
    override: bool | Override = False,
    reason: str | None = None,
    raise_on_unsafe: bool = True,
    rtl_alt_m: float | None = None,
    rtl: RtlParams | None = None,
    takeoff_alt_m: float | None = None,
    flown_by: str | None = None,
) -> FlightClearance:
    """Validate every sortie of a flight and issue a clearance for each.

    Parameters
    ----------
    mission
        One mission, or its sorties in flying order (one battery each). Sorties are validated
        one by one, so endurance is checked per sortie.
    dem, dsm, zones
        Terrain (the 120 m rule measured to the terrain, terrain clearance), surface model
        (buildings, trees) and geozones: loaded objects or file paths.
    vehicle
        A :class:`missions.vehicles.Vehicle` profile: endurance and reserve per sortie, climb
        and descent rates. ``None`` leaves endurance unchecked (noted).
    vehicle_home, vehicle_position
        From the link when flying: ``HOME_POSITION`` (lat, lon, alt AMSL) becomes the home
        (its altitude is the datum of relative altitudes), and the planned launch point must lie
        within ``max_launch_offset_m`` of the vehicle's GPS position (lat, lon).
    home_amsl_m
        An explicitly stated home altitude AMSL (else the plan's, else the DEM's).
    max_range_m
        Plausibility: no waypoint farther than this from the launch point (default 20 km).
    override, reason
        Let unsafe sorties through: ``True`` with a ``reason``, or a ready
        :class:`~dronekit_plzen.safety.Override`. Recorded in each overridden sortie's
        ``metadata["safety_override"]`` and its clearance.
    rtl_alt_m
        The altitude above home an RTL climbs to before it returns (the vehicle's RTL_ALT or
        RTL_RETURN_ALT when flying); default: the profile's, else its autopilot's default.
    rtl
        Everything the RTL return altitude depends on, with the return cone
        (:class:`dronekit_plzen.rtl_cone.RtlParams`; ``fly`` reads them from the vehicle);
        default: the profile's (:meth:`missions.vehicles.Vehicle.rtl_params`), whose cone the
        ceiling is not trusted with.
    takeoff_alt_m
        ArduCopter without a take-off item: the altitude above home the ground station's
        take-off climbs to before the mission starts (``fly --takeoff-alt``); the first leg is
        walked from there. Default: straight up to the first item's altitude.
    flown_by
        The autopilot that flies it (``"ardupilot"`` or ``"px4"``: the vehicle's at the flying
        doors, a profile's at planning): the path is walked as that firmware flies each item,
        whatever the plan file says it was written for (a Mission Planner ``.waypoints`` file
        states none), with a note when they differ. Default: the plan's own.
    raise_on_unsafe
        ``False`` returns unsafe sorties with ``clearance=None`` instead of raising (to show
        the reports); uploading them is then refused by the link layer.

    Raises
    ------
    SafetyViolation
        An unsafe sortie (exit code 3) and no override; ``violations`` lists the problems.
    BadInputError
        An override without a reason (exit code 2).
    """
    from missions.validation import guard, validate

    plans = [mission] if isinstance(mission, Mission) else list(mission)
    if not plans:
        raise BadInputError(_("no mission to clear"))
    if override is True and not (reason and reason.strip()):
        raise BadInputError(_("--override-safety needs --reason explaining why"))
    dem_r = open_terrain(dem, plans)
    dsm_r = open_terrain(dsm, plans)
    zone_list = load_zones(zones) if isinstance(zones, str | Path) else list(zones or [])
    endurance_s = None
    reserve = 0.25
    notes: list[str] = []
    if rtl is None and vehicle is not None and hasattr(vehicle, "rtl_params"):
        rtl = vehicle.rtl_params()
    if rtl is not None and rtl_alt_m is not None:
        rtl, rtl_alt_m = replace(rtl, return_alt_m=rtl_alt_m), None
    if rtl is None and rtl_alt_m is None and hasattr(vehicle, "return_alt_m"):
        rtl_alt_m = vehicle.return_alt_m()
    if vehicle is not None and hasattr(vehicle, "endurance_min"):
        endurance_s = float(vehicle.endurance_min) * 60.0
        reserve = float(vehicle.battery_reserve_pct) / 100.0
    else:
        notes.append(_("no vehicle profile: endurance not checked"))
    out: list[SortieClearance] = []
    home_source = HOME_UNKNOWN
    for k, plan in enumerate(plans, start=1):
        m, home_notes = resolve_home(
            plan, dem=dem_r, vehicle_home=vehicle_home, home_amsl_m=home_amsl_m
        )
        home_source = str(m.metadata["home_amsl_source"])
        code = AUTOPILOT_CODES.get(flown_by or "")
        if code is not None and code != m.autopilot:
            note = _(
                "the plan is written for {plan}; checked as {flown} flies it (the vehicle's "
                "autopilot)"
            ).format(plan=AUTOPILOT_NAMES.get(m.autopilot, str(m.autopilot)), flown=flown_by)
            if note not in notes:
                notes.append(note)
            m = replace(m, autopilot=code)
        report = validate(
            m,
            zones=zone_list,
            dem=dem_r,
            dsm=dsm_r,
            when=when,
            max_agl_m=max_agl_m,
            min_clearance_m=min_clearance_m,
            endurance_s=endurance_s,
            reserve_fraction=reserve,
            max_distance_m=max_distance_m,
            max_range_m=max_range_m,
            authorised_zones=authorised_zones,
            speed_m_s=_planning_speed(m, vehicle),
            accel_m_s2=getattr(vehicle, "accel_m_s2", 3.0),
            climb_rate_m_s=getattr(vehicle, "climb_rate_m_s", 3.0),
            descent_rate_m_s=getattr(vehicle, "descent_rate_m_s", 2.0),
            max_speed_m_s=getattr(vehicle, "max_speed_m_s", None),
            rtl_alt_m=rtl_alt_m,
            rtl=rtl,
            takeoff_alt_m=takeoff_alt_m,
        )
        report.notes[:0] = home_notes
        if vehicle_position is not None:
            report.checked.append("launch_offset")
            v = launch_offset_violation(plan, vehicle_position, max_launch_offset_m)
            if v is not None:
                report.violations.insert(0, v)
                report.ok = False
        if len(plans) > 1:
            m.metadata["sortie"] = {"index": k, "of": len(plans)}
        clearance: Clearance | None
        if report.ok:
            guard(m, report)
            clearance = Clearance.passed(
                m.items, checked=report.checked, sortie=k, notes=report.notes
            )
        elif override is False:
            if raise_on_unsafe:
                first = report.violations[0]
                where = _("sortie {k} of {n}: ").format(k=k, n=len(plans)) if len(plans) > 1 else ""
                raise SafetyViolation(
                    where
                    + ngettext(
                        "mission is unsafe ({n} problem): {first}",
                        "mission is unsafe ({n} problems), first: {first}",
                        len(report.violations),
                    ).format(n=len(report.violations), first=first),
                    violations=report.violations,
                )
            m.metadata["validation"] = {
                "ok": False,
                "checked": report.checked,
                "violations": [str(x) for x in report.violations],
                "warnings": [str(x) for x in report.warnings],
            }
            clearance = None
        else:
            ov = (
                override
                if isinstance(override, Override)
                else Override.make(reason, [str(x) for x in report.violations])
            )
            if not ov.violations:
                ov = replace(ov, violations=tuple(str(x) for x in report.violations))
            guard(m, report, override=True, reason=ov.reason, who=ov.by)
            m.metadata["safety_override"]["at"] = ov.at
            clearance = Clearance.overridden(m.items, ov, checked=report.checked, sortie=k)
        if clearance is not None:
            m.metadata["clearance"] = clearance.to_dict()
        out.append(SortieClearance(k, m, list(m.items), clearance, report))
    return FlightClearance(tuple(out), home_source, tuple(notes))


__all__ = [
    "HOME_SOURCES",
    "FlightClearance",
    "SortieClearance",
    "clear_for_flight",
    "home_amsl_source",
    "launch_offset_violation",
    "open_terrain",
    "resolve_home",
]
