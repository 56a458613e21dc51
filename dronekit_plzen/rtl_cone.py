"""The altitude an RTL returns at, as PX4 and ArduCopter compute it (pure, metres).

Both autopilots climb to a *return altitude* before they fly home, but neither always climbs to
its RTL_RETURN_ALT / RTL_ALT: close to the destination (home, or the nearest rally point) the
return altitude is limited by a cone standing on the destination. The safety guard
(:mod:`missions.trajectory`) and the simulator (:mod:`simulators`) both take it from here.
Distances are horizontal, altitudes are metres above the destination (home).

PX4 v1.16
    ``src/modules/navigator/rtl.cpp``, ``RTL::calculate_return_alt_from_cone_half_angle``,
    called by ``RTL::findRtlDestination`` when ``RTL_CONE_ANG > 0`` and the vehicle is a rotary
    wing (renamed ``RTL::computeReturnAltitude`` upstream in 2026, same formula). It is
    evaluated every 2 s while RTL is inactive and once more when RTL starts, from the current
    position; ``rtl_direct.cpp`` then climbs to it where the vehicle is (``CLIMBING``, only when
    lower), flies to the destination at it (``MOVE_TO_LOITER``) and, a multicopter with
    ``RTL_LAND_DELAY`` 0, lands there. With ``d`` the distance to the destination, ``h`` the
    current altitude and ``R = RTL_RETURN_ALT``::

        d <= NAV_ACC_RAD:          a = 2·d
        otherwise:                 a = R
            d <= RTL_MIN_DIST:     a = min(d / tan(clamp(RTL_CONE_ANG, 1°, 89°)), R)
                                   a = max(a, 2·NAV_ACC_RAD)
        return altitude            = constrain(a, h, R)   (h when h > R: it never descends)

    ``RTL_CONE_ANG`` 0 or a fixed wing: ``max(h, R)``. Firmware defaults
    (``rtl_params.c``, ``navigator_params.c``): ``RTL_RETURN_ALT`` 60 m, ``RTL_CONE_ANG`` 45°,
    ``RTL_MIN_DIST`` 10 m, ``NAV_ACC_RAD`` 10 m. With them the ``RTL_MIN_DIST`` branch is empty
    and the cone only lowers a return that starts within ``NAV_ACC_RAD`` (10 m) of home, to
    twice the distance.

ArduCopter 4.x
    ``ArduCopter/mode_rtl.cpp``, ``ModeRTL::compute_return_target`` (called by
    ``ModeRTL::build_path`` when RTL starts, also for a mission's ``NAV_RETURN_TO_LAUNCH``; the
    climb target is above the *stopping point* at the return altitude, then the return, a loiter
    of ``RTL_LOIT_TIME`` and a landing, or a descent to ``RTL_ALT_FINAL``); constants in
    ``ArduCopter/config.h`` (``RTL_ALT_MIN`` 30 cm, ``RTL_MIN_CONE_SLOPE`` 0.5). Above home
    (``RTL_ALT_TYPE`` 0), with ``d`` from the stopping point to the return target and ``h`` the
    current altitude above home::

        m = max(0.3 m, h + max(0, RTL_CLIMB_MIN))
        t = max(the target's own altitude (home: 0), RTL_ALT, m)
        RTL_CONE_SLOPE >= 0.5:     t = min(t, max(d · RTL_CONE_SLOPE, m))
        altitude fence enabled:    t = min(t, FENCE_ALT_MAX − FENCE_MARGIN)
                                   (``AC_Fence::get_safe_alt_max``)
        return altitude            = max(t, h)

    Defaults: ``RTL_ALT`` 1500 cm, ``RTL_CONE_SLOPE`` 3, ``RTL_CLIMB_MIN`` 0 cm. The target
    is the nearest rally point within RALLY_LIMIT_KM when nearer than home (or always, with
    RALLY_INCL_HOME 0), at least as high as the rally point (:func:`ardupilot_destination`). With
    ``RTL_ALT_TYPE`` 1 the same formula runs on altitudes above the terrain (terrain database)
    and the return follows the terrain; without terrain data the vehicle says "RTL: no terrain
    data, using alt-above-home" and falls back to the formula above home, so the guard checks
    both.

Where PX4 returns to (``RTL::setRtlTypeAndDestination``, ``findRtlDestination``,
``init_rtl_mission_type``; :func:`px4_return_kind`)
    ``RTL_TYPE`` 0: the closest of home and the rally points, directly; 1: the mission landing or
    the closest rally point, home only when there is neither; 3: the closest of home, the
    mission landing and the rally points; 2: along the mission to its landing when it has one,
    else the mission path backwards (``RtlMissionFastReverse``: every earlier position item in
    reverse order at its own altitude, then a landing at the first one); 4: the mission landing
    when it is fewer items ahead than the start is behind, else backwards. A rally point within
    10 m of home is ignored, and another destination wins only when it is more than 2 m closer.

>>> p = defaults("px4")  # a multicopter: RTL_RETURN_ALT 30 m, NAV_ACC_RAD 2 m
>>> [round(return_alt_m(p, d, 5.0), 1) for d in (0.0, 4.0, 8.0, 11.0, 400.0)]
[5.0, 5.0, 8.0, 30.0, 30.0]
>>> a = defaults("ardupilot", return_alt_m=60.0)
>>> [return_alt_m(a, d, 5.0) for d in (1.0, 10.0, 30.0)]
[5.0, 30.0, 60.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

#: PX4 and ArduCopter
AUTOPILOTS = ("px4", "ardupilot")

#: ArduCopter ``RTL_ALT_MIN`` (30 cm) and ``RTL_MIN_CONE_SLOPE`` (config.h)
AP_RTL_ALT_MIN_M = 0.3
AP_MIN_CONE_SLOPE = 0.5
#: ArduCopter's ``AC_FENCE_TYPE_ALT_MAX`` bit of ``FENCE_TYPE``
AP_FENCE_TYPE_ALT_MAX = 1

#: the parameters each autopilot's RTL altitude depends on (as read over MAVLink)
PARAM_NAMES = {
    "px4": ("RTL_RETURN_ALT", "RTL_CONE_ANG", "RTL_MIN_DIST", "NAV_ACC_RAD", "RTL_TYPE"),
    "ardupilot": (
        "RTL_ALT",
        "RTL_CONE_SLOPE",
        "RTL_CLIMB_MIN",
        "WPNAV_RADIUS",
        "FENCE_ENABLE",
        "FENCE_TYPE",
        "FENCE_ALT_MAX",
        "FENCE_MARGIN",
        "RTL_ALT_TYPE",
        "TERRAIN_SPACING",
        "RALLY_LIMIT_KM",
        "RALLY_INCL_HOME",
    ),
}

#: PX4 RTL_TYPE values (rtl_params.c) and ArduCopter RTL_ALT_TYPE values (Parameters.cpp)
PX4_RTL_TYPES = (0, 1, 2, 3, 4)
AP_RTL_ALT_TYPES = (0, 1)
#: PX4 rtl.cpp: a rally point this close to home is not a destination; another destination
#: wins only when it is this much closer
PX4_RALLY_MIN_FROM_HOME_M = 10.0
PX4_MIN_DIST_THRESHOLD_M = 2.0

#: those without which the cone is not known
CONE_PARAM_NAMES = {
    "px4": ("RTL_CONE_ANG", "RTL_MIN_DIST", "NAV_ACC_RAD"),
    "ardupilot": ("RTL_CONE_SLOPE", "RTL_CLIMB_MIN"),
}


@dataclass(frozen=True)
class RtlParams:
    """What an autopilot's return altitude depends on, in metres and degrees.

    ``from_vehicle``: the values were read from the vehicle itself. Otherwise they are the
    profile's or the firmware's defaults, and the vehicle may fly without a cone: the highest
    altitude it can return at is then the full climb (:func:`altitude_band_m`).
    """

    autopilot: str  #: "px4" | "ardupilot"
    return_alt_m: float  #: PX4 RTL_RETURN_ALT, ArduCopter RTL_ALT (cm / 100)
    cone_half_angle_deg: float = 45.0  #: PX4 RTL_CONE_ANG (0: no cone)
    min_dist_m: float = 10.0  #: PX4 RTL_MIN_DIST
    nav_acc_rad_m: float = 10.0  #: PX4 NAV_ACC_RAD (also its waypoint acceptance radius)
    cone_slope: float = 3.0  #: ArduCopter RTL_CONE_SLOPE (below 0.5: no cone)
    climb_min_m: float = 0.0  #: ArduCopter RTL_CLIMB_MIN (cm / 100)
    fence_alt_max_m: float | None = None  #: ArduCopter FENCE_ALT_MAX − FENCE_MARGIN when on
    wp_radius_m: float = 2.0  #: ArduCopter WPNAV_RADIUS (cm / 100)
    rotary_wing: bool = True  #: PX4 applies its cone to multicopters only
    rtl_type: int = 0  #: PX4 RTL_TYPE (where it returns to and along which path)
    alt_type: int = 0  #: ArduCopter RTL_ALT_TYPE (0 above home, 1 above terrain)
    #: ArduCopter TERRAIN_SPACING: the grid its terrain following interpolates on
    terrain_spacing_m: float = 100.0
    #: ArduCopter RALLY_LIMIT_KM (km; a nearest rally point farther than this: home) and
    #: RALLY_INCL_HOME (home a destination too); Copter defaults 0.3 km and 1
    rally_limit_km: float = 0.3
    rally_incl_home: bool = True
    from_vehicle: bool = False

    def __post_init__(self) -> None:
        if self.autopilot not in AUTOPILOTS:
            raise ValueError(f"autopilot must be one of {AUTOPILOTS}, not {self.autopilot!r}")

    def without_cone(self) -> RtlParams:
        """The same vehicle with its cone switched off (RTL_CONE_ANG 0, RTL_CONE_SLOPE 0)."""
        return replace(self, cone_half_angle_deg=0.0, cone_slope=0.0)

    @property
    def has_cone(self) -> bool:
        if self.autopilot == "px4":
            return self.rotary_wing and self.cone_half_angle_deg > 0
        return self.cone_slope >= AP_MIN_CONE_SLOPE

    def acceptance_m(self, item_radius_m: float = 0.0) -> float:
        """How far from a waypoint the vehicle may be when it counts as reached (and an RTL
        after it starts): PX4 the item's acceptance radius (param2) or NAV_ACC_RAD;
        ArduCopter WPNAV_RADIUS (it ignores param2)."""
        if self.autopilot == "px4":
            return item_radius_m if item_radius_m > 0 else self.nav_acc_rad_m
        return self.wp_radius_m


def px4_return_alt_m(
    dist_m: float,
    alt_m: float,
    *,
    return_alt_m: float = 60.0,
    cone_half_angle_deg: float = 45.0,
    min_dist_m: float = 10.0,
    nav_acc_rad_m: float = 10.0,
    rotary_wing: bool = True,
) -> float:
    """PX4's return altitude above the destination (see the module documentation).

    >>> round(px4_return_alt_m(30.0, 5.0, min_dist_m=100.0), 6)  # inside RTL_MIN_DIST: 30 / tan 45°
    30.0
    """
    if cone_half_angle_deg <= 0 or not rotary_wing:
        return max(alt_m, return_alt_m)
    if dist_m <= nav_acc_rad_m:
        a = 2.0 * dist_m
    else:
        a = return_alt_m
        if dist_m <= min_dist_m:
            half = math.radians(min(max(cone_half_angle_deg, 1.0), 89.0))
            a = min(dist_m / math.tan(half), a)
        a = max(a, 2.0 * nav_acc_rad_m)
    # PX4's constrain(val, lo, hi): lo when val < lo (even when lo > hi), else at most hi
    return alt_m if a < alt_m else min(a, return_alt_m)


def ardupilot_return_alt_m(
    dist_m: float,
    alt_m: float,
    *,
    rtl_alt_m: float = 15.0,
    cone_slope: float = 3.0,
    climb_min_m: float = 0.0,
    fence_alt_max_m: float | None = None,
    target_alt_m: float = 0.0,
) -> float:
    """ArduCopter's return altitude above home (see the module documentation).

    >>> ardupilot_return_alt_m(3.0, 5.0)   # 3 m from home: 3 × RTL_CONE_SLOPE, not RTL_ALT
    9.0
    """
    floor = max(AP_RTL_ALT_MIN_M, alt_m + max(0.0, climb_min_m))
    t = max(max(target_alt_m, 0.0), rtl_alt_m, floor)
    if cone_slope >= AP_MIN_CONE_SLOPE:
        t = min(t, max(dist_m * cone_slope, floor))
    if fence_alt_max_m is not None and t > fence_alt_max_m:
        t = fence_alt_max_m
    return max(t, alt_m)


def return_alt_m(p: RtlParams, dist_m: float, alt_m: float, target_alt_m: float = 0.0) -> float:
    """The altitude above the destination an RTL started ``dist_m`` from it at ``alt_m``
    above it returns at, as ``p.autopilot`` computes it (ArduCopter: at least the
    destination's own ``target_alt_m``, a rally point's altitude above home)."""
    if p.autopilot == "px4":
        return px4_return_alt_m(
            dist_m,
            alt_m,
            return_alt_m=p.return_alt_m,
            cone_half_angle_deg=p.cone_half_angle_deg,
            min_dist_m=p.min_dist_m,
            nav_acc_rad_m=p.nav_acc_rad_m,
            rotary_wing=p.rotary_wing,
        )
    return ardupilot_return_alt_m(
        dist_m,
        alt_m,
        rtl_alt_m=p.return_alt_m,
        cone_slope=p.cone_slope,
        climb_min_m=p.climb_min_m,
        fence_alt_max_m=p.fence_alt_max_m,
        target_alt_m=target_alt_m,
    )


def altitude_band_m(
    p: RtlParams, dist_m: float, alt_m: float, tolerance_m: float = 0.0, target_alt_m: float = 0.0
) -> tuple[float, float]:
    """(lowest, highest) return altitude above the destination of an RTL started between
    ``dist_m − tolerance_m`` and ``dist_m + tolerance_m`` from it (both formulas grow with the
    distance). Values not read from the vehicle (``p.from_vehicle`` False) may be wrong about
    the cone: the highest is then the climb without one."""
    low = return_alt_m(p, max(0.0, dist_m - tolerance_m), alt_m, target_alt_m)
    top = p if p.from_vehicle else p.without_cone()
    return low, max(low, return_alt_m(top, dist_m + tolerance_m, alt_m, target_alt_m))


#: PX4's multicopter defaults (rc.mc_defaults): RTL_RETURN_ALT and NAV_ACC_RAD
PX4_MC_RETURN_ALT_M = 30.0
PX4_MC_NAV_ACC_RAD_M = 2.0


def defaults(autopilot: str, *, return_alt_m: float | None = None) -> RtlParams:
    """The firmware defaults of a multicopter (PX4 v1.16, ArduCopter 4.x), optionally with another
    return altitude (a profile's ``rtl_alt_m``). PX4's are those every multicopter airframe
    sets (``ROMFS/.../init.d/rc.mc_defaults``: RTL_RETURN_ALT 30 m, NAV_ACC_RAD 2 m), not the
    parameters' own defaults (60 m, 10 m, which a fixed wing keeps): PX4 SITL's quadrotor reads
    back 30 m, and the guard had checked a PX4 return 30 m higher than it is flown."""
    if autopilot == "px4":
        base = RtlParams(autopilot, PX4_MC_RETURN_ALT_M, nav_acc_rad_m=PX4_MC_NAV_ACC_RAD_M)
    else:
        base = RtlParams(autopilot, 15.0)
    return base if return_alt_m is None else replace(base, return_alt_m=return_alt_m)


def from_param_values(
    autopilot: str, values: Mapping[str, float], *, from_vehicle: bool = True
) -> RtlParams:
    """:class:`RtlParams` from parameter values in the firmware's units (ArduCopter's
    centimetres converted here); a missing or non-finite value keeps its default."""
    p = defaults(autopilot)

    def val(name: str, default: float, scale: float = 1.0) -> float:
        v = values.get(name)
        return float(v) * scale if v is not None and math.isfinite(v) else default

    if autopilot == "px4":
        return replace(
            p,
            rtl_type=int(val("RTL_TYPE", 0.0)),
            return_alt_m=max(0.0, val("RTL_RETURN_ALT", p.return_alt_m)),
            cone_half_angle_deg=val("RTL_CONE_ANG", p.cone_half_angle_deg),
            min_dist_m=val("RTL_MIN_DIST", p.min_dist_m),
            nav_acc_rad_m=val("NAV_ACC_RAD", p.nav_acc_rad_m),
            from_vehicle=from_vehicle,
        )
    fence: float | None = None
    if val("FENCE_ENABLE", 0.0) > 0 and int(val("FENCE_TYPE", 0.0)) & AP_FENCE_TYPE_ALT_MAX:
        fence = val("FENCE_ALT_MAX", 100.0) - val("FENCE_MARGIN", 2.0)
    return replace(
        p,
        return_alt_m=max(0.0, val("RTL_ALT", p.return_alt_m, 0.01)),
        cone_slope=val("RTL_CONE_SLOPE", p.cone_slope),
        climb_min_m=val("RTL_CLIMB_MIN", p.climb_min_m, 0.01),
        wp_radius_m=val("WPNAV_RADIUS", p.wp_radius_m, 0.01),
        fence_alt_max_m=fence,
        alt_type=int(val("RTL_ALT_TYPE", 0.0)),
        terrain_spacing_m=max(1.0, val("TERRAIN_SPACING", p.terrain_spacing_m)),
        rally_limit_km=val("RALLY_LIMIT_KM", p.rally_limit_km),
        rally_incl_home=val("RALLY_INCL_HOME", 1.0) != 0,
        from_vehicle=from_vehicle,
    )


def ardupilot_destination(
    dist_home_m: float, rally_dist_m: list[float], limit_km: float = 0.3, incl_home: bool = True
) -> int:
    """Where an ArduCopter RTL goes (``AP_Rally::calc_best_rally_or_home_location``): -1 home,
    k ≥ 0 rally point k. The nearest rally point counts only within RALLY_LIMIT_KM (0: no
    limit); it is taken when it is nearer than home, or always with RALLY_INCL_HOME 0.

    >>> ardupilot_destination(2000.0, [500.0])  # beyond the Copter default 0.3 km: home
    -1
    >>> ardupilot_destination(2000.0, [250.0]), ardupilot_destination(100.0, [250.0], 0, False)
    (0, 0)
    """
    if not rally_dist_m:
        return -1
    k = min(range(len(rally_dist_m)), key=rally_dist_m.__getitem__)
    if limit_km > 0 and rally_dist_m[k] > limit_km * 1000.0:
        return -1
    return k if not incl_home or rally_dist_m[k] < dist_home_m else -1


def px4_return_kind(rtl_type: int, has_landing: bool, landing_is_nearer: bool = False) -> str:
    """How PX4 flies an RTL (``RTL::setRtlTypeAndDestination``): ``"direct"`` to a destination
    chosen by :func:`px4_destinations`, ``"mission"`` on along the mission to its landing, or
    ``"reverse"`` back along the mission path. An RTL_TYPE PX4 does not have flies as 0.
    ``landing_is_nearer``: the mission landing is fewer items ahead than the mission's start is
    behind (RTL_TYPE 4, ``RTL::reverseIsFurther``).

    >>> [px4_return_kind(t, False) for t in range(6)]
    ['direct', 'direct', 'reverse', 'direct', 'reverse', 'direct']
    >>> px4_return_kind(2, True), px4_return_kind(4, True), px4_return_kind(4, True, True)
    ('mission', 'reverse', 'mission')
    """
    if rtl_type in (0, 1, 3):
        return "direct"
    if rtl_type == 2:
        return "mission" if has_landing else "reverse"
    if rtl_type == 4:
        return "mission" if has_landing and landing_is_nearer else "reverse"
    return "direct"


def px4_destinations(
    rtl_type: int,
    dist_home_m: float,
    landing_dist_m: float | None,
    rally: list[tuple[float, float]],
) -> int:
    """Which destination a direct PX4 RTL flies to (``RTL::findRtlDestination``, multicopter):
    -1 home, -2 the mission landing, k ≥ 0 rally point k. ``rally``: (distance from the
    vehicle, distance from home) per rally point; ``landing_dist_m``: from the vehicle to the
    mission's landing, None without one.

    >>> px4_destinations(0, 100.0, None, [(50.0, 60.0)]), px4_destinations(0, 100.0, 5.0, [])
    (0, -1)
    >>> px4_destinations(1, 10.0, None, [(500.0, 60.0)]), px4_destinations(1, 10.0, None, [])
    (0, -1)
    >>> px4_destinations(3, 100.0, 20.0, [(50.0, 60.0)])
    -2
    """
    best, min_dist = -1, math.inf if rtl_type == 1 else dist_home_m
    near = landing_dist_m is not None and landing_dist_m + PX4_MIN_DIST_THRESHOLD_M < min_dist
    if rtl_type in (1, 3) and landing_dist_m is not None and near:
        best, min_dist = -2, landing_dist_m
    for k, (d, from_home) in enumerate(rally):
        if from_home > PX4_RALLY_MIN_FROM_HOME_M and d + PX4_MIN_DIST_THRESHOLD_M < min_dist:
            best, min_dist = k, d
    return best
