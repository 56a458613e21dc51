"""The RTL flown on paper, as each firmware flies it (part of :func:`missions.trajectory`).

Where it goes: home, a rally point (PX4 ``RTL_TYPE``, ArduCopter ``AP_Rally``'s limit and
home rule), the mission's landing, or back along the mission (PX4 RTL_TYPE 2 and 4). At which
altitude: the firmware's return altitude with its cone (:mod:`dronekit_plzen.rtl_cone`), above
home or, for ArduCopter with RTL_ALT_TYPE 1, above the terrain grid it follows.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from dronekit_plzen import rtl_cone
from dronekit_plzen.i18n import _
from dronekit_plzen.mission_items import (
    FRAME_GLOBAL_TERRAIN_ALT,
    POSITION_COMMANDS,
    canonical_frame,
)
from dronekit_plzen.rtl_cone import RtlParams
from missions.model import AUTOPILOT_ARDUPILOT

if TYPE_CHECKING:
    from missions.trajectory import _Flight

Point = tuple[float, float, float]

#: ArduCopter RTL_LOIT_TIME (5000 ms): the hover over the return point before its descent
AP_RTL_LOITER_S = 5.0


def fly_rtl(f: _Flight, k: int) -> None:
    """Fly the RTL of item ``k`` from where the aircraft is, to the ground at its destination."""
    rtl = f.rtl
    rkind = "direct"
    if rtl is not None and rtl.autopilot == "px4":
        nearer = f.land_start is not None and f.land_start - k < k
        rkind = rtl_cone.px4_return_kind(rtl.rtl_type, f.land_start is not None, nearer)
        if rkind != "direct" or rtl.rtl_type not in rtl_cone.PX4_RTL_TYPES:
            f.note_once(px4_rtl_type_note(rtl.rtl_type, rkind))
    if rkind == "reverse":
        _fly_back_along_mission(f, k)
        return
    landing: list[Point] = []
    rally_alt_m = 0.0  # ArduCopter returns at least as high as its rally point
    if rkind == "mission" and f.land_start is not None:
        landing = f.landing_legs(f.land_start)
        for p in landing:
            f.leg(p, k, 1)
        tx, ty = f.cur[0], f.cur[1]
        landing = []  # flown already
    else:
        tx, ty, landing, rally_alt_m = _destination(f)
    up, up_hi, terrain_rtl = _climb(f, k, rkind, (tx, ty), rally_alt_m)
    if rkind == "direct":
        if landing:  # to the start of the mission's landing, then along it
            f.leg((tx, ty, up), k, 1, high=(up_hi, up_hi))
            for p in landing[1:]:
                f.leg(p, k, 1)
            tx, ty = f.cur[0], f.cur[1]
        elif terrain_rtl is not None:
            g1 = f.followed_at(tx, ty)
            up, up_hi = g1 + terrain_rtl[0], g1 + terrain_rtl[1]
            f.leg((tx, ty, up), k, 1, high=(up_hi, up_hi), band=terrain_rtl)
        else:
            f.leg((tx, ty, up), k, 1, high=(up_hi, up_hi))
    down = f.ground_at(tx, ty) if (tx, ty) != (f.hx, f.hy) else f.home_amsl
    if f.mission.autopilot == AUTOPILOT_ARDUPILOT:
        f.duration += AP_RTL_LOITER_S  # the hover over the return point (RTL_LOIT_TIME)
    f.touchdown((tx, ty, down), k, high=(max(up_hi, f.cur[2]), down))


def _fly_back_along_mission(f: _Flight, k: int) -> None:
    """RtlMissionFastReverse: the earlier position items backwards, at their own altitudes,
    then a landing at the first (the take-off's place)."""
    items = f.mission.items
    for jb in range(k - 1, -1, -1):
        bj = items[jb]
        if bj.command not in POSITION_COMMANDS:
            continue
        bx, by, bz = f.item_xyz(bj)
        terrain = canonical_frame(bj.frame) == FRAME_GLOBAL_TERRAIN_ALT
        f.leg((bx, by, bz if math.isfinite(bz) else f.cur[2]), k, 1, above_terrain=terrain)
    f.touchdown((f.cur[0], f.cur[1], f.ground_at(f.cur[0], f.cur[1])), k)


def _destination(f: _Flight) -> tuple[float, float, list[Point], float]:
    """Where a straight return goes: (x, y, the mission landing flown from there or [], the
    rally point's altitude ArduCopter returns at least at)."""
    rtl, cur = f.rtl, f.cur
    tx, ty = f.hx, f.hy
    d_home = math.hypot(cur[0] - f.hx, cur[1] - f.hy)
    if rtl is not None and rtl.autopilot == "px4":
        lp = f.landing_legs(f.land_start) if f.land_start is not None else []
        land_xy = lp[0] if lp else None
        pick = rtl_cone.px4_destinations(
            rtl.rtl_type,
            d_home,
            math.hypot(cur[0] - land_xy[0], cur[1] - land_xy[1]) if land_xy else None,
            [
                (math.hypot(cur[0] - p[0], cur[1] - p[1]), math.hypot(f.hx - p[0], f.hy - p[1]))
                for p in f.rally_xy
            ],
        )
        if pick == -2 and lp:
            return lp[0][0], lp[0][1], lp, 0.0
        if pick >= 0:
            tx, ty = f.rally_xy[pick]
        return tx, ty, [], 0.0
    if f.rally_xy:  # ArduCopter: AP_Rally::calc_best_rally_or_home_location
        limit, incl = (rtl.rally_limit_km, rtl.rally_incl_home) if rtl is not None else (0.3, True)
        pick = rtl_cone.ardupilot_destination(
            d_home, [math.hypot(cur[0] - p[0], cur[1] - p[1]) for p in f.rally_xy], limit, incl
        )
        if pick >= 0:
            tx, ty = f.rally_xy[pick]
            r_alt = f.mission.rally_points[pick].alt_m
            return tx, ty, [], r_alt if math.isfinite(r_alt) else 0.0
    return tx, ty, [], 0.0


def _climb(
    f: _Flight, k: int, rkind: str, target: tuple[float, float], rally_alt_m: float
) -> tuple[float, float, tuple[float, float] | None]:
    """The climb before a straight return: (lowest, highest return altitude AMSL, the band
    above the terrain for ArduCopter's RTL_ALT_TYPE 1 or None); flown here when above."""
    rtl, cur = f.rtl, f.cur
    up = up_hi = cur[2]
    if rtl is None or not math.isfinite(up) or rkind != "direct":
        return up, up_hi, None
    terrain_rtl = None
    tx, ty = target
    d = math.hypot(tx - cur[0], ty - cur[1])
    h = cur[2] - f.home_amsl
    lo, hi = rtl_cone.altitude_band_m(rtl, d, h, f.rtl_tolerance_m, rally_alt_m)
    full = rtl_cone.return_alt_m(rtl.without_cone(), d, h, rally_alt_m)
    up, up_hi = f.home_amsl + lo, f.home_amsl + hi
    terrain_return = rtl.autopilot == "ardupilot" and rtl.alt_type == 1
    if terrain_return and f.dem is not None:
        # RTL_ALT_TYPE 1: the same formula above the terrain, the return following it.
        # ArduCopter arms only with the terrain of home and of every mission item loaded
        # (AP_Terrain::pre_arm_checks), so this is what it flies; its fallback above home
        # needs the terrain data lost in flight
        g0 = f.followed_at(cur[0], cur[1])
        t_lo, t_hi = rtl_cone.altitude_band_m(
            replace(rtl, fence_alt_max_m=None), d, cur[2] - g0, f.rtl_tolerance_m
        )
        if rtl.fence_alt_max_m is not None:  # the fence is above home
            cap = rtl.fence_alt_max_m + f.home_amsl - f.ground_at(tx, ty)
            t_lo, t_hi = (max(min(t, cap), cur[2] - g0) for t in (t_lo, t_hi))
        terrain_rtl = (t_lo, t_hi)
        up, up_hi = g0 + t_lo, g0 + t_hi
        f.note_once(
            _(
                "RTL_ALT_TYPE 1: the return checked {lo:g}..{hi:g} m above the terrain it follows"
            ).format(lo=round(t_lo, 1), hi=round(t_hi, 1))
        )
    if up_hi > cur[2]:  # the climb before the return
        f.leg((cur[0], cur[1], up), k, 0, high=(cur[2], up_hi))
    for note in rtl_notes(rtl, lo, hi, h, full):
        f.note_once(note)
    if terrain_return and f.dem is None:
        f.note_once(
            _("RTL_ALT_TYPE 1: the return follows the terrain, which is not checked without a DEM")
        )
    return up, up_hi, terrain_rtl


def px4_rtl_type_note(rtl_type: int, kind: str) -> str:
    """What the user reads about a PX4 RTL that does not fly straight home (RTL_TYPE)."""
    if kind == "reverse":
        return _(
            "RTL_TYPE {t}: the vehicle returns along the mission path backwards, checked so "
            "(flight time and every leg)"
        ).format(t=rtl_type)
    if kind == "mission":
        return _("RTL_TYPE {t}: the vehicle flies on to the mission's landing, checked so").format(
            t=rtl_type
        )
    return _(
        "RTL_TYPE {t} is not a PX4 return type: PX4 flies it as RTL_TYPE 0 (straight to home "
        "or a rally point), checked so; check the vehicle's RTL_TYPE"
    ).format(t=rtl_type)


def rtl_notes(
    rtl: RtlParams, low_m: float, high_m: float, alt_m: float, full_m: float
) -> list[str]:
    """What the user reads about an RTL started at ``alt_m`` and checked at ``low_m`` ..
    ``high_m`` above home (``full_m`` without a cone)."""
    out: list[str] = []
    if high_m > alt_m:
        out.append(
            _(
                "RTL checked as the autopilot flies it: up to {a:g} m above home before it returns"
            ).format(a=round(high_m, 1))
        )
    if low_m < full_m - 0.05:
        cone = (  # parameter names: not translated
            f"RTL_CONE_ANG {rtl.cone_half_angle_deg:g}°"
            if rtl.autopilot == "px4"
            else f"RTL_CONE_SLOPE {rtl.cone_slope:g}"
        )
        out.append(
            _(
                "RTL checked as the autopilot flies it: near home its return cone ({cone}) "
                "lowers the return to {lo:g} m above home (terrain checked there, the 120 m "
                "rule at {hi:g} m)"
            ).format(cone=cone, lo=round(low_m, 1), hi=round(high_m, 1))
        )
    return out
