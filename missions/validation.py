"""Safety validation of a whole mission path, every leg sampled densely, not only waypoints.

:func:`validate` flies the mission on paper (home → takeoff climb → each leg → RTL/landing;
``DO_JUMP`` repeats expanded, ``DO_CHANGE_SPEED`` honoured), samples the 3-D path every
``step_m`` metres and checks:

``max_agl``
    more than ``max_agl_m`` (120 m, EU Open category UAS.OPEN.010) from the closest point of
    the terrain: with a DEM the distance to the terrain within ``max_agl_m`` around the aircraft
    (so a path along a valley side is measured to the slope, not the valley floor); without a
    DEM the height above the home elevation; at the highest altitude a sample may be flown at
    (an RTL's return altitude is a band, :mod:`dronekit_plzen.rtl_cone`);
``terrain_clearance`` / ``dsm_clearance``
    less than ``min_clearance_m`` above the DEM (ground) or a DSM (buildings, trees), outside
    take-off and landing; at the lowest altitude a sample may be flown at; where there is no
    DEM, above the home elevation (the ground taken as flat: it catches a leg flown down to the
    launch point's height, not a hill);
``geofence``
    outside the mission's inclusion fences (ArduPilot: inside all of them; PX4: inside at least
    one) or inside an exclusion fence;
``zone_prohibited`` / ``zone_authorisation``
    inside a PROHIBITED (or, unless authorised, REQ_AUTHORISATION) geozone whose vertical limits
    contain any altitude the aircraft may fly at and which applies during the flight
    (``when`` .. ``when`` + duration);
    CONDITIONAL zones are reported as warnings;
``endurance``
    the flight time (acceleration, climb/descent, loiters; plus the way home when the mission
    does not end with RTL or landing) longer than the endurance minus the reserve;
``max_distance``
    farther than ``max_distance_m`` from home (a VLOS limit);
``altitude_unresolved``
    an altitude that cannot be known (QGC "above terrain" with no terrain data, or an AMSL
    altitude when the home altitude is unknown and there is no DEM);
``home_altitude``
    a stated home altitude more than ``home_tolerance_m`` from the DEM at the launch point
    (a wrong datum, e.g. a placeholder 0.0 from another tool);
``unchecked_command``
    an item whose command the guard cannot fly on paper (:data:`CHECKED_COMMANDS`: the NAV
    commands, DO_JUMP and the commands that do not move the aircraft), e.g. DO_SET_MODE,
    DO_SET_HOME, NAV_GUIDED_ENABLE, DO_FENCE_ENABLE or an unknown number;
``plausibility``
    a point farther than ``max_range_m`` from the launch point, or a path entirely outside the
    DEM: most often latitude and longitude swapped.

The home altitude has a datum (:func:`missions.clearance.resolve_home`): the plan's stated one,
else the DEM at the launch point; a plan written without a DEM records it as unknown and is
never checked against a silent 0.0.

A report with ``ok`` and :class:`~dronekit_plzen.errors.Violation` s; :func:`guard` turns a
failed report into :class:`~dronekit_plzen.errors.SafetyViolation`, or records an explicit
override with its reason, who and when in ``Mission.metadata["safety_override"]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from dronekit_plzen.errors import SafetyViolation, Violation
from dronekit_plzen.geo import WGS84, transform
from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.mission_items import (
    CMD_DO_JUMP,
    CMD_NAV_DELAY,
    CMD_NAV_LAND,
    CMD_NAV_TAKEOFF,
    FRAME_GLOBAL,
    NAV_COMMANDS,
    POSITION_COMMANDS,
    QUIET_COMMANDS,
    MissionItem,
    canonical_frame,
    mavlink_command_name,
)

# clear_for_flight: the one entry point for every door (plan, fly, fleet, demo, GUI); it calls
# validate() below (lazily, so the two modules can import each other)
from dronekit_plzen.rtl_cone import RtlParams
from dronekit_plzen.safety import Override
from missions.clearance import (
    HOME_UNKNOWN,
    FlightClearance,
    SortieClearance,
    clear_for_flight,
    resolve_home,
)
from missions.model import AUTOPILOT_ARDUPILOT, Mission
from missions.terrain import Raster, mission_bbox
from missions.trajectory import (
    KNOWN_ALT_FRAMES,
    MAX_WALK_ITEMS,
    Trajectory,
    leg_time_s,
    trajectory,
)
from missions.zones import Zone, load_zones

FloatArray = NDArray[np.float64]
_MAX_RUNS_PER_RULE = 20
#: the longest flight a zone's activity is checked over (a hold time beyond it is a damaged file)
YEAR_S = 366 * 86400.0


@dataclass
class ValidationReport:
    ok: bool
    violations: list[Violation]
    warnings: list[Violation]
    checked: list[str]
    samples: int
    length_m: float
    duration_s: float
    max_agl_m: float
    max_distance_m: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def v(x: Violation) -> dict[str, Any]:
            return {
                "rule": x.rule,
                "message": x.message,
                "item_index": x.item_index,
                "lat": x.lat,
                "lon": x.lon,
                "value": x.value,
                "limit": x.limit,
            }

        return {
            "ok": self.ok,
            "violations": [v(x) for x in self.violations],
            "warnings": [v(x) for x in self.warnings],
            "checked": self.checked,
            "samples": self.samples,
            "length_m": round(self.length_m, 1),
            "duration_s": round(self.duration_s, 1),
            "max_agl_m": round(self.max_agl_m, 1),
            "max_distance_m": round(self.max_distance_m, 1),
            "notes": self.notes,
        }


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of ``mask``."""
    if not mask.any():
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _report_runs(
    out: list[Violation],
    tr: Trajectory,
    mask: NDArray[np.bool_],
    values: FloatArray | None,
    rule: str,
    message: str,
    limit: float | None,
    worst: str = "max",
) -> None:
    for a, b in _runs(mask)[:_MAX_RUNS_PER_RULE]:
        i = a
        if values is not None:
            seg = values[a:b]
            i = a + int(np.nanargmax(seg) if worst == "max" else np.nanargmin(seg))
        item = int(tr.item[i])
        out.append(
            Violation(
                rule=rule,
                message=message.format(
                    value=float(values[i]) if values is not None else 0.0, limit=limit or 0.0
                ),
                item_index=item if item >= 0 else None,
                lat=float(tr.lat[i]),
                lon=float(tr.lon[i]),
                value=None if values is None else round(float(values[i]), 2),
                limit=limit,
            )
        )


def _closest_terrain_m(
    tr: Trajectory, dem: Raster, idx: NDArray[np.intp], radius_m: float, alt: FloatArray
) -> FloatArray:
    """Distance from samples ``idx`` to the closest terrain point within ``radius_m``."""
    rings = np.array([0.0, 0.125, 0.25, 0.5, 0.75, 1.0]) * radius_m
    bear = np.radians(np.arange(0, 360, 22.5))
    ox = np.concatenate([[0.0], (rings[1:, None] * np.sin(bear)[None, :]).ravel()])
    oy = np.concatenate([[0.0], (rings[1:, None] * np.cos(bear)[None, :]).ravel()])
    r = np.hypot(ox, oy)
    px = tr.x[idx][:, None] + ox[None, :]
    py = tr.y[idx][:, None] + oy[None, :]
    lo, la = transform(px.ravel(), py.ravel(), tr.epsg, WGS84)
    g = dem.sample(lo, la).reshape(px.shape)
    dz = np.maximum(alt[idx][:, None] - g, 0.0)
    d = np.hypot(r[None, :], dz)
    return np.nanmin(np.where(np.isnan(g), np.inf, d), axis=1)


def _alt_in_frame(it: MissionItem) -> bool:
    """Is the item's altitude flown in its frame? A positioned item's is; so is a take-off's
    and that of a NAV item at latitude = longitude = 0 (flown where the aircraft is) with an
    altitude other than 0 (0 keeps the aircraft's altitude)."""
    if it.has_position:
        return True
    if it.command not in POSITION_COMMANDS or it.command not in NAV_COMMANDS:
        return False
    if it.command == CMD_NAV_LAND:  # lands on the ground below, whatever its altitude
        return False
    return it.command == CMD_NAV_TAKEOFF or it.alt_m != 0


def _samples_of(
    mission: Mission, tr: Trajectory, frame_test: Callable[[int], bool]
) -> NDArray[np.bool_]:
    """Per trajectory sample: does it fly to a positioned item whose (canonical) frame passes
    ``frame_test``? (Home and return samples: no.)"""
    per_item = np.array(
        [_alt_in_frame(it) and frame_test(canonical_frame(it.frame)) for it in mission.items]
        + [False],
        bool,
    )
    return per_item[np.where(tr.item >= 0, tr.item, len(mission.items))]


#: the commands the guard flies on paper (NAV), lets pass (camera, payload, speed, conditions,
#: markers) or expands (DO_JUMP); any other command may take the aircraft off the checked path
#: or change its limits (DO_SET_MODE, DO_SET_HOME, NAV_GUIDED_ENABLE, DO_FENCE_ENABLE, scripts…)
CHECKED_COMMANDS = NAV_COMMANDS | QUIET_COMMANDS | {CMD_DO_JUMP}


def _unchecked_commands(mission: Mission) -> list[Violation]:
    """One violation per item whose command the guard cannot fly on paper."""
    out = []
    px4 = mission.autopilot != AUTOPILOT_ARDUPILOT
    for k, it in enumerate(mission.items):
        if px4 and it.command == CMD_NAV_DELAY and it.param1 > 0:
            out.append(
                Violation(
                    "unchecked_command",
                    _(
                        "NAV_DELAY on PX4: while it waits, PX4 v1.16 moves its altitude setpoint "
                        "to the delay item's altitude, 0 m above sea level, whenever the home "
                        "position is updated, and the aircraft descends (seen on PX4 SITL: it "
                        "landed in the middle of the mission); hold at a waypoint (its hold "
                        "time) or use NAV_LOITER_TIME instead"
                    ),
                    item_index=k,
                )
            )
            continue
        if it.command in CHECKED_COMMANDS:
            continue
        name = mavlink_command_name(it.command)
        placed = math.isfinite(it.lat_deg) and math.isfinite(it.lon_deg)
        placed = placed and (it.lat_deg, it.lon_deg) != (0.0, 0.0) and abs(it.lat_deg) <= 90
        out.append(
            Violation(
                "unchecked_command",
                _(
                    "command {cmd} is not one the safety guard can check: the aircraft may "
                    "leave the checked path or its limits after it"
                ).format(cmd=f"{name} ({it.command})" if name else str(it.command)),
                item_index=k,
                lat=it.lat_deg if placed else None,
                lon=it.lon_deg if placed else None,
            )
        )
    return out


def validate(
    mission: Mission,
    *,
    zones: Sequence[Zone] | str | Path | None = None,
    dem: Raster | str | Path | None = None,
    dsm: Raster | str | Path | None = None,
    when: datetime | None = None,
    max_agl_m: float = 120.0,
    min_clearance_m: float = 10.0,
    endurance_s: float | None = None,
    reserve_fraction: float = 0.25,
    max_distance_m: float | None = None,
    authorised_zones: Sequence[str] = (),
    step_m: float = 5.0,
    speed_m_s: float | None = None,
    accel_m_s2: float = 3.0,
    climb_rate_m_s: float = 3.0,
    descent_rate_m_s: float = 2.0,
    max_speed_m_s: float | None = None,
    geoid_offset_m: float = 0.0,
    max_range_m: float | None = None,
    home_tolerance_m: float = 50.0,
    rtl_alt_m: float | None = None,
    rtl: RtlParams | None = None,
    takeoff_alt_m: float | None = None,
) -> ValidationReport:
    """Check the whole path of ``mission``; see the module documentation for the rules.

    ``zones``, ``dem`` and ``dsm`` may be paths (read around the mission only) or loaded
    objects. ``when`` is the planned take-off (UTC, default now). Zone limits given against the
    WGS84 ellipsoid are converted with ``geoid_offset_m`` (the local geoid undulation, about
    46 m in Plzeň; 0 by default because no geoid grid is bundled). ``rtl_alt_m``: the altitude
    above home an RTL climbs to first, ``rtl``: the vehicle's RTL parameters with its return
    cone, ``takeoff_alt_m``: the ground station's take-off altitude above home before an
    ArduCopter mission without a take-off item (see :func:`missions.trajectory.trajectory`).
    """
    box = mission_bbox(mission)
    dem_r = Raster.open(dem, bbox_lonlat=box) if isinstance(dem, str | Path) else dem
    dsm_r = Raster.open(dsm, bbox_lonlat=box) if isinstance(dsm, str | Path) else dsm
    zone_list = load_zones(zones) if isinstance(zones, str | Path) else list(zones or [])
    mission, home_notes = resolve_home(mission, dem=dem_r)
    home_unknown = mission.metadata.get("home_amsl_source") == HOME_UNKNOWN
    tr = trajectory(
        mission,
        dem=dem_r,
        step_m=step_m,
        speed_m_s=speed_m_s,
        accel_m_s2=accel_m_s2,
        climb_rate_m_s=climb_rate_m_s,
        descent_rate_m_s=descent_rate_m_s,
        max_speed_m_s=max_speed_m_s,
        rtl_alt_m=rtl_alt_m,
        rtl=rtl,
        takeoff_alt_m=takeoff_alt_m,
    )
    viol: list[Violation] = list(_unchecked_commands(mission))
    if tr.stopped_at is not None:
        k = tr.stopped_at
        viol.append(
            Violation(
                "unchecked_command",
                _(
                    "the path was followed for {n} items (DO_JUMP repeats) and not to its end: "
                    "the items from here on are not checked"
                ).format(n=MAX_WALK_ITEMS),
                item_index=k,
            )
        )
    warn: list[Violation] = []
    checked = ["commands", "altitude_unresolved", "max_agl"]
    notes = home_notes + list(tr.notes)
    if not any(it.is_nav for it in mission.items):  # home only: "OK" had been all it said
        notes.append(_("the mission has no item that flies the aircraft: nothing to fly"))
    bad_alt = ~np.isfinite(tr.alt)
    # samples already reported with their cause, not again as "cannot be determined"
    explained = np.zeros(bad_alt.shape, bool)
    if home_unknown:
        amsl_unknown = _samples_of(mission, tr, lambda f: f == FRAME_GLOBAL)
        if amsl_unknown.any():
            _report_runs(
                viol,
                tr,
                amsl_unknown & ~bad_alt,
                None,
                "altitude_unresolved",
                _("AMSL altitude cannot be checked: the home altitude is unknown (give a DEM)"),
                None,
            )
            explained |= amsl_unknown & ~bad_alt
            bad_alt |= amsl_unknown
        notes.append(_("home altitude unknown: heights checked relative to home"))
    odd = _samples_of(mission, tr, lambda f: f not in KNOWN_ALT_FRAMES)
    if odd.any():
        _report_runs(
            viol,
            tr,
            odd,
            None,
            "altitude_unresolved",
            _("the item's frame has no altitude datum (not AMSL, above home or above terrain)"),
            None,
        )
        bad_alt &= ~odd
    _report_runs(
        viol,
        tr,
        bad_alt & ~explained,
        None,
        "altitude_unresolved",
        _("altitude cannot be determined (resolve 'above terrain' with a DEM)"),
        None,
    )
    if dem_r is not None:
        checked.append("home_altitude")
        ground = dem_r.sample(tr.lon, tr.lat)
        outside = np.isnan(ground)
        if outside.all():
            viol.append(
                Violation(
                    "plausibility",
                    _(
                        "the path lies entirely outside the DEM: check the coordinates "
                        "(latitude and longitude swapped?)"
                    ),
                    lat=float(tr.lat[0]),
                    lon=float(tr.lon[0]),
                )
            )
        elif outside.any():
            notes.append(_("part of the path lies outside the DEM: home elevation used there"))
        g_home = float(ground[0])
        if not home_unknown and math.isfinite(g_home):
            off = tr.home_amsl_m - g_home
            if abs(off) > home_tolerance_m:
                viol.append(
                    Violation(
                        "home_altitude",
                        _(
                            "home altitude {h:.1f} m AMSL is {d:+.0f} m from the terrain at the "
                            "launch point ({g:.1f} m, DEM): wrong altitude datum?"
                        ).format(h=tr.home_amsl_m, d=off, g=g_home),
                        lat=float(tr.lat[0]),
                        lon=float(tr.lon[0]),
                        value=round(off, 1),
                        limit=home_tolerance_m,
                    )
                )
        ground = np.where(outside, tr.home_amsl_m, ground)
    else:
        ground = np.full(tr.alt.shape, tr.home_amsl_m)
        notes.append(_("no DEM: heights checked against the home elevation"))
    alt = np.where(bad_alt, ground, tr.alt)
    agl = alt - ground
    # the 120 m rule with the highest altitude a sample may be flown at (an RTL's return
    # altitude is a band), terrain and surface clearance with the lowest (``alt``)
    alt_top = np.where(bad_alt, ground, tr.alt_high)
    high = alt_top - ground > max_agl_m
    dist_terrain = alt_top - ground
    if dem_r is not None and high.any():
        idx = np.flatnonzero(high)
        dist_terrain[idx] = _closest_terrain_m(tr, dem_r, idx, max_agl_m, alt_top)
    _report_runs(
        viol,
        tr,
        dist_terrain > max_agl_m,
        dist_terrain,
        "max_agl",
        _("{value:.0f} m above the closest terrain (limit {limit:g} m, EU Open category)"),
        max_agl_m,
    )
    # terrain clearance outside take-off and landing: against the DEM, and where there is none
    # against the home elevation (the ground taken as flat: a leg flown down to the launch
    # point's height is refused, one over a hill the guard cannot see is not)
    checked.append("terrain_clearance")
    low = (tr.phase == 1) & ~bad_alt & (agl < min_clearance_m)
    flat = np.ones(low.shape, bool) if dem_r is None else outside
    _report_runs(
        viol,
        tr,
        low & ~flat,
        agl,
        "terrain_clearance",
        _("only {value:.1f} m above the terrain (DEM)"),
        min_clearance_m,
        worst="min",
    )
    _report_runs(
        viol,
        tr,
        low & flat,
        agl,
        "terrain_clearance",
        _("only {value:.1f} m above the home elevation (no DEM there: the ground taken as flat)"),
        min_clearance_m,
        worst="min",
    )
    if dsm_r is not None:
        checked.append("dsm_clearance")
        surf = dsm_r.sample(tr.lon, tr.lat)
        clear = alt - surf
        low = (tr.phase == 1) & np.isfinite(surf) & (clear < min_clearance_m)
        _report_runs(
            viol,
            tr,
            low,
            clear,
            "dsm_clearance",
            _("only {value:.1f} m above buildings/vegetation (DSM)"),
            min_clearance_m,
            worst="min",
        )
    pts = shapely.points(tr.x, tr.y)
    if mission.fence_polygons or mission.fence_circles:
        checked.append("geofence")
        incl, excl = _fence_geoms(mission, tr.epsg)
        if incl:
            inside = np.stack(
                [shapely.contains_xy(g, tr.x, tr.y) | shapely.touches(g, pts) for g in incl]
            )
            ok_in: NDArray[np.bool_] = np.asarray(
                inside.all(axis=0)
                if mission.autopilot == AUTOPILOT_ARDUPILOT
                else inside.any(axis=0),
                bool,
            )
            _report_runs(
                viol, tr, ~ok_in, None, "geofence", _("outside the inclusion geofence"), None
            )
        for g in excl:
            _report_runs(
                viol,
                tr,
                shapely.contains_xy(g, tr.x, tr.y),
                None,
                "geofence",
                _("inside an exclusion geofence"),
                None,
            )
    start = when or datetime.now(timezone.utc)
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    # a zone is checked for the whole flight; an absurd hold time (a damaged file) must not
    # overflow the clock: beyond a year the zone counts as active for all of it
    end = start + timedelta(seconds=min(tr.duration_s, YEAR_S) if tr.duration_s > 0 else 0.0)
    if zone_list:
        checked.append("zones")
        for z in zone_list:
            if z.restriction == "NO_RESTRICTION" or not z.active(start, end):
                continue
            g = z.metric_geometry(tr.epsg)
            shapely.prepare(g)
            lo, hi = z.limits_amsl(ground, geoid_offset_m)
            inside = (alt_top >= lo) & (alt <= hi)  # any altitude of the sample's band
            hit = shapely.contains_xy(g, tr.x, tr.y) & inside & (alt_top - ground > 0.5)
            label = f"{z.identifier} {z.name}".strip()
            if z.restriction == "PROHIBITED":
                _report_runs(
                    viol,
                    tr,
                    hit,
                    None,
                    "zone_prohibited",
                    _("enters prohibited zone {zone}").replace("{zone}", label),
                    None,
                )
            elif z.restriction == "REQ_AUTHORISATION" and z.identifier not in authorised_zones:
                _report_runs(
                    viol,
                    tr,
                    hit,
                    None,
                    "zone_authorisation",
                    _("enters zone {zone}, which needs an authorisation").replace("{zone}", label),
                    None,
                )
            elif z.restriction == "CONDITIONAL":
                _report_runs(
                    warn,
                    tr,
                    hit,
                    None,
                    "zone_conditional",
                    _("enters conditional zone {zone}").replace("{zone}", label),
                    None,
                )
    duration = tr.duration_s
    if not tr.returns_home:
        back = math.hypot(tr.x[-1] - tr.home_xy[0], tr.y[-1] - tr.home_xy[1])
        v = speed_m_s or mission.cruise_speed_m_s
        duration += leg_time_s(
            back, tr.home_amsl_m - float(alt[-1]), v, accel_m_s2, climb_rate_m_s, descent_rate_m_s
        )
        notes.append(_("mission does not end with RTL or landing: the way home is counted"))
    if endurance_s is not None:
        checked.append("endurance")
        usable = endurance_s * (1.0 - reserve_fraction)
        if tr.endless_jump is not None:
            # the loop is flown until the battery failsafe ends it: no endurance to check
            viol.append(
                Violation(
                    "endurance",
                    _(
                        "item {k}: DO_JUMP repeats forever, so the flight lasts until the "
                        "battery failsafe ends it"
                    ).format(k=tr.endless_jump + 1),
                    tr.endless_jump,
                )
            )
        if tr.loiter_unlimited is not None:
            viol.append(
                Violation(
                    "endurance",
                    _(
                        "item {k}: NAV_LOITER_UNLIM holds until the pilot or the battery "
                        "failsafe ends it, so the flight's length is not known"
                    ).format(k=tr.loiter_unlimited + 1),
                    tr.loiter_unlimited,
                )
            )
        if duration > usable:
            # a return that is not straight home is why a pilot may not expect the time
            why = next((n for n in tr.notes if n.startswith("RTL_TYPE")), None)
            viol.append(
                Violation(
                    "endurance",
                    _(
                        "flight takes {t} s but only {u:.0f} s are usable ({r:.0f} % reserve)"
                    ).format(
                        # whole seconds; a damaged hold time (1e30 s) not as 31 digits
                        t=f"{duration:.0f}" if duration < 1e9 else f"{duration:.3g}",
                        u=usable,
                        r=reserve_fraction * 100,
                    )
                    + (f" ({why})" if why else ""),
                    value=round(duration, 1),
                    limit=round(usable, 1),
                )
            )
    dist_home = np.hypot(tr.x - tr.home_xy[0], tr.y - tr.home_xy[1])
    if max_range_m is not None:
        checked.append("plausibility")
        _report_runs(
            viol,
            tr,
            dist_home > max_range_m,
            dist_home,
            "plausibility",
            _(
                "{value:.0f} m from the launch point (limit {limit:g} m): "
                "latitude and longitude swapped?"
            ),
            max_range_m,
        )
    if max_distance_m is not None:
        checked.append("max_distance")
        _report_runs(
            viol,
            tr,
            dist_home > max_distance_m,
            dist_home,
            "max_distance",
            _("{value:.0f} m from home (VLOS limit)"),
            max_distance_m,
        )
    # a wrong position or datum explains every other finding: name it first
    viol.sort(key=lambda x: x.rule not in ("plausibility", "home_altitude"))
    return ValidationReport(
        ok=not viol,
        violations=viol,
        warnings=warn,
        checked=checked,
        samples=int(tr.x.size),
        length_m=tr.length_m,
        duration_s=duration,
        max_agl_m=float(np.nanmax(agl)) if agl.size else 0.0,
        max_distance_m=float(dist_home.max()) if dist_home.size else 0.0,
        notes=notes,
    )


def _fence_geoms(mission: Mission, epsg: int) -> tuple[list[Any], list[Any]]:
    incl: list[Any] = []
    excl: list[Any] = []
    for p in mission.fence_polygons:
        xs, ys = transform([v[0] for v in p.vertices], [v[1] for v in p.vertices], WGS84, epsg)
        g = shapely.polygons(np.column_stack([xs, ys]))
        (incl if p.inclusion else excl).append(g)
    for c in mission.fence_circles:
        xs, ys = transform([c.center[0]], [c.center[1]], WGS84, epsg)
        g = shapely.buffer(shapely.points(xs[0], ys[0]), c.radius_m, quad_segs=32)
        (incl if c.inclusion else excl).append(g)
    for g in incl + excl:
        shapely.prepare(g)
    return incl, excl


def guard(
    mission: Mission,
    report: ValidationReport,
    *,
    override: bool = False,
    reason: str | None = None,
    who: str | None = None,
    now: datetime | None = None,
) -> Mission:
    """Let a mission through only when it is safe or explicitly overridden (with a reason).

    Records the validation summary in ``mission.metadata["validation"]`` and, for an override,
    ``mission.metadata["safety_override"]`` = {by, at, reason, violations}. Raises
    :class:`SafetyViolation` (exit code 3) when unsafe and not overridden.
    """
    mission.metadata["validation"] = {
        "ok": report.ok,
        "checked": report.checked,
        "violations": [str(v) for v in report.violations],
        "warnings": [str(v) for v in report.warnings],
    }
    if report.ok:
        mission.metadata.pop("safety_override", None)
        return mission
    if not override:
        first = report.violations[0]
        raise SafetyViolation(
            ngettext(
                "mission is unsafe ({n} problem): {first}",
                "mission is unsafe ({n} problems), first: {first}",
                len(report.violations),
            ).format(n=len(report.violations), first=first),
            violations=report.violations,
        )
    ov = Override.make(reason, [str(v) for v in report.violations], who=who, now=now)
    mission.metadata["safety_override"] = {
        **ov.to_dict(),
        "rules": sorted({v.rule for v in report.violations}),
    }
    return mission


__all__ = [
    "FlightClearance",
    "SortieClearance",
    "Trajectory",
    "ValidationReport",
    "clear_for_flight",
    "guard",
    "trajectory",
    "validate",
]
