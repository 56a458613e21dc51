"""The mission flown on paper: a dense 3-D sampling of the whole path with its timing.

:func:`trajectory` walks the items as an autopilot would (home → take-off climb → each leg →
RTL or landing; ``DO_JUMP`` repeats expanded; ``DO_CHANGE_SPEED`` honoured; loiter and hold
times counted), converts every altitude to AMSL (relative to home, terrain frame with a DEM)
and samples the legs every ``step_m`` metres in the mission's UTM zone. Leg times use a
trapezoidal speed profile (stop at each waypoint) and the climb/descent rates.
:mod:`missions.validation` checks the samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from dronekit_plzen import ap_spline, rtl_cone
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import WGS84, transform, utm_epsg_for_area
from dronekit_plzen.i18n import _
from dronekit_plzen.mission_items import (
    CMD_DO_CHANGE_SPEED,
    CMD_DO_JUMP,
    CMD_NAV_LAND,
    CMD_NAV_LOITER_TIME,
    CMD_NAV_LOITER_TURNS,
    CMD_NAV_PAYLOAD_PLACE,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_SPLINE_WAYPOINT,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_GLOBAL_TERRAIN_ALT,
    MAX_ABS_ALT_M,
    NAV_COMMANDS,
    POSITION_COMMANDS,
    MissionItem,
    canonical_frame,
    px4_landing,
)
from dronekit_plzen.rtl_cone import RtlParams
from missions.model import AUTOPILOT_ARDUPILOT, Mission
from missions.terrain import AP_TERRAIN_SPACING_M, Raster, ardupilot_terrain

FloatArray = NDArray[np.float64]
#: the frames whose altitude has a datum the toolkit knows: AMSL, above home, above terrain
#: (their ``*_INT`` twins map onto them); any other frame's altitude is left unresolved
KNOWN_ALT_FRAMES = frozenset({FRAME_GLOBAL, FRAME_GLOBAL_RELATIVE_ALT, FRAME_GLOBAL_TERRAIN_ALT})
#: samples of one leg at most
MAX_LEG_SAMPLES = 100_000
#: vertices of a sampled loiter circle
LOITER_CIRCLE_VERTICES = 72
#: items walked at most (``DO_JUMP`` repeats expanded): a longer walk is reported unchecked
MAX_WALK_ITEMS = 100_000


@dataclass
class Trajectory:
    """The mission flown on paper: samples in a metric CRS with AMSL altitude."""

    epsg: int
    x: FloatArray
    y: FloatArray
    alt: FloatArray  # AMSL
    lon: FloatArray
    lat: FloatArray
    item: NDArray[np.int64]  # index of the item the leg flies to (-1 home/return)
    phase: NDArray[np.int8]  # 0 takeoff/landing (vertical near the ground), 1 flight
    home_xy: tuple[float, float]
    home_amsl_m: float
    duration_s: float
    length_m: float
    returns_home: bool
    notes: list[str] = field(default_factory=list)
    #: the item the walk stopped at when ``max_items`` steps (``DO_JUMP`` repeats) ran out
    #: before the end of the mission (None: flown to its end)
    stopped_at: int | None = None
    #: the first ``DO_JUMP`` that repeats forever (repeat < 0) met on the walk: the aircraft
    #: loops until its battery failsafe (None: no such jump)
    endless_jump: int | None = None
    #: the highest AMSL altitude the aircraft may fly at each sample, where it can differ from
    #: ``alt`` (the lowest): an RTL whose return altitude depends on where it starts and on
    #: the vehicle's cone parameters (:func:`trajectory`). None: the same as ``alt``.
    alt_max: FloatArray | None = None

    @property
    def alt_high(self) -> FloatArray:
        """The highest altitude per sample (the 120 m rule is checked with it)."""
        return self.alt if self.alt_max is None else self.alt_max


def leg_time_s(h_m: float, dz_m: float, v: float, accel: float, climb: float, sink: float) -> float:
    if h_m > 0:
        th = h_m / v + v / accel if h_m > v * v / accel else 2.0 * math.sqrt(h_m / accel)
    else:
        th = 0.0
    tv = dz_m / climb if dz_m > 0 else -dz_m / sink
    return max(th, tv)


#: a MAVLink mission's item count is a uint16 (MISSION_COUNT.count)
MAX_MISSION_ITEMS = 65_535


def check_altitudes(mission: Mission, where: str | None = None) -> None:
    """Refuse an item altitude of ±inf or 1e308, an infinite parameter or more items than
    MAVLink can upload: a damaged file, not a flight (a missing altitude, NaN, is reported as
    unresolved by the guard)."""
    if len(mission.items) > MAX_MISSION_ITEMS:
        raise BadInputError(
            _("the mission has {n:,} items, more than a MAVLink mission holds ({m:,})").format(
                n=len(mission.items), m=MAX_MISSION_ITEMS
            ),
            where=where,
        )
    for k, it in enumerate(mission.items):
        # NaN is MAVLink's "unchanged"; an infinite parameter (1e400 in the file) is damage
        # (a hold time of inf s was an internal error in the validation's clock)
        for i, v in enumerate((it.param1, it.param2, it.param3, it.param4), start=1):
            if math.isinf(v):
                raise BadInputError(
                    _("item {k}: parameter {i} is {v:g}, not a value (a damaged file?)").format(
                        k=k, i=i, v=v
                    ),
                    where=where,
                )
        placed = it.command in POSITION_COMMANDS
        if placed and not (math.isnan(it.alt_m) or abs(it.alt_m) <= MAX_ABS_ALT_M):
            raise BadInputError(
                _("item {k}: altitude {a:g} m is not a flight altitude (a damaged file?)").format(
                    k=k, a=it.alt_m
                ),
                where=where,
            )


def trajectory(
    mission: Mission,
    *,
    dem: Raster | None = None,
    step_m: float = 5.0,
    speed_m_s: float | None = None,
    accel_m_s2: float = 3.0,
    climb_rate_m_s: float = 3.0,
    descent_rate_m_s: float = 2.0,
    max_items: int = MAX_WALK_ITEMS,
    max_speed_m_s: float | None = None,
    rtl_alt_m: float | None = None,
    rtl: RtlParams | None = None,
) -> Trajectory:
    """Fly ``mission`` on paper and sample it every ``step_m`` metres (3-D).

    ``DO_CHANGE_SPEED`` sets the horizontal speed of the legs after it (speed type 0 air, 1
    ground), capped at ``max_speed_m_s`` (the vehicle's top speed: a faster command is flown at
    it, so timing it faster would shorten the flight on paper), or lowers the climb (2) or
    descent (3) rate.

    RTL flies as the autopilots do: to the nearest of home and the mission's rally points, first
    climbing to the return altitude when lower, then down to the ground there. The return
    altitude is computed as the firmware does (:mod:`dronekit_plzen.rtl_cone`: ArduCopter RTL_ALT
    and RTL_CONE_SLOPE, PX4 RTL_RETURN_ALT, RTL_CONE_ANG, RTL_MIN_DIST and NAV_ACC_RAD): close to
    home the cone lowers it. ``rtl``: the vehicle's values; else ``rtl_alt_m`` with the
    firmware defaults of the mission's autopilot; neither: it returns at its altitude. Samples
    are flown at the lowest return altitude the RTL may take (``alt``: terrain clearance) and
    carry the highest (``alt_max``: the 120 m rule): the RTL may start anywhere within the
    acceptance radius of the waypoint before it (PX4: the item's param2, else NAV_ACC_RAD;
    ArduCopter: WPNAV_RADIUS), and values not read from the vehicle may be wrong about its cone
    (:func:`dronekit_plzen.rtl_cone.altitude_band_m`)."""
    notes: list[str] = []
    flags: dict[str, bool] = {}

    def note_once(note: str) -> None:
        if not flags.get(note):
            flags[note] = True
            notes.append(note)

    check_altitudes(mission)
    if rtl is None and rtl_alt_m is not None:
        ap = "ardupilot" if mission.autopilot == AUTOPILOT_ARDUPILOT else "px4"
        rtl = rtl_cone.defaults(ap, return_alt_m=rtl_alt_m)
    elif rtl is not None and rtl_alt_m is not None:
        rtl = replace(rtl, return_alt_m=rtl_alt_m)
    pos_items = [it for it in mission.items if it.has_position]
    if mission.home is not None:
        hlon, hlat, home_amsl = mission.home
    elif pos_items:
        hlon, hlat = pos_items[0].lon_deg, pos_items[0].lat_deg
        g = float(dem.sample([hlon], [hlat])[0]) if dem else math.nan
        home_amsl = 0.0 if math.isnan(g) else g
        notes.append(_("mission has no home: the first waypoint is taken as home"))
    else:
        raise BadInputError(_("mission has no home and no positioned items"))
    lons = [hlon] + [it.lon_deg for it in pos_items]
    lats = [hlat] + [it.lat_deg for it in pos_items]
    epsg = utm_epsg_for_area(lons, lats)
    ix, iy = transform(np.array(lons), np.array(lats), WGS84, epsg)
    hx, hy = float(ix[0]), float(iy[0])
    xy_of = {id(it): (float(ix[k + 1]), float(iy[k + 1])) for k, it in enumerate(pos_items)}
    rally_xy: list[tuple[float, float]] = []
    if mission.rally_points:
        rx, ry = transform(
            np.array([r.lon_deg for r in mission.rally_points]),
            np.array([r.lat_deg for r in mission.rally_points]),
            WGS84,
            epsg,
        )
        rally_xy = [(float(a), float(b)) for a, b in zip(rx, ry, strict=True)]

    # ArduCopter follows the terrain of its own grid (TERRAIN_SPACING), not every DEM cell
    ap_spacing = (
        rtl.terrain_spacing_m
        if rtl is not None and rtl.autopilot == "ardupilot"
        else AP_TERRAIN_SPACING_M
        if mission.autopilot == AUTOPILOT_ARDUPILOT
        else None
    )

    def followed(lo: FloatArray, la: FloatArray) -> FloatArray:
        """The terrain the autopilot follows at (lon, lat): ArduCopter's grid, else the DEM."""
        assert dem is not None
        if ap_spacing is None:
            return dem.sample(lo, la)
        return ardupilot_terrain(dem, lo, la, ap_spacing)

    def followed_at(x: float, y: float) -> float:
        if dem is None:
            return home_amsl
        lo, la = transform([x], [y], epsg, WGS84)
        g = float(followed(lo, la)[0])
        return ground_at(x, y) if math.isnan(g) else g

    def ground_at(x: float, y: float) -> float:
        if dem is None:
            return home_amsl
        lo, la = transform([x], [y], epsg, WGS84)
        g = float(dem.sample(lo, la)[0])
        return home_amsl if math.isnan(g) else g

    def amsl(it_frame: int, alt: float, x: float, y: float) -> float:
        f = canonical_frame(it_frame)
        if f not in KNOWN_ALT_FRAMES:
            return math.nan  # no datum the toolkit knows: the guard reports it, never guesses
        if f == FRAME_GLOBAL_RELATIVE_ALT:
            return home_amsl + alt
        if f == FRAME_GLOBAL_TERRAIN_ALT:
            if dem is None and not flags.get("terrain_no_dem"):
                flags["terrain_no_dem"] = True
                notes.append(_("terrain-frame altitudes taken above the home elevation (no DEM)"))
            return ground_at(x, y) + alt
        return alt

    v = speed_m_s or mission.cruise_speed_m_s
    cur = (hx, hy, home_amsl)
    xs: list[FloatArray] = [np.array([hx])]
    ys: list[FloatArray] = [np.array([hy])]
    zs: list[FloatArray] = [np.array([home_amsl])]
    zhs: list[FloatArray] = [zs[0]]
    its: list[NDArray[np.int64]] = [np.array([-1])]
    phs: list[NDArray[np.int8]] = [np.array([0], np.int8)]
    duration = 0.0
    length = 0.0

    def leg(
        to: tuple[float, float, float],
        item: int,
        phase: int,
        above_terrain: bool = False,
        timed: bool = True,
        high: tuple[float, float] | None = None,
        band: tuple[float, float] | None = None,
    ) -> None:
        """Fly from ``cur`` to ``to``; ``above_terrain``: the autopilot follows the terrain
        along the leg (terrain frame), so each sample is the ground under it plus a height
        blended from the start's to the target's. ``high``: (from, to) AMSL of the highest
        altitudes the aircraft may fly on this leg instead (timed with them). ``band``: (low,
        high) above the terrain the autopilot follows under each sample (ArduCopter
        RTL_ALT_TYPE 1)."""
        nonlocal cur, duration, length
        dx, dy, dz = to[0] - cur[0], to[1] - cur[1], to[2] - cur[2]
        h = math.hypot(dx, dy)
        span = max(h, abs(dz)) if math.isfinite(dz) else h
        # at most MAX_LEG_SAMPLES per leg: a leg across a continent is reported, not sampled
        # every 5 m into gigabytes
        n = max(1, min(math.ceil(span / step_m), MAX_LEG_SAMPLES))
        t = np.arange(1, n + 1) / n
        lx, ly = cur[0] + t * dx, cur[1] + t * dy
        xs.append(lx)
        ys.append(ly)
        if band is not None and dem is not None:
            lo, la = transform(lx, ly, epsg, WGS84)
            g = followed(lo, la)
            g = np.where(np.isnan(g), home_amsl, g)
            zs.append(g + band[0])
            high = None
            zhs.append(g + band[1])
        elif above_terrain and dem is not None:
            lo, la = transform(lx, ly, epsg, WGS84)
            g = followed(lo, la)
            h0 = cur[2] - ground_at(cur[0], cur[1])
            h1 = to[2] - ground_at(to[0], to[1])
            zs.append(np.where(np.isnan(g), cur[2] + t * dz, g + h0 + t * (h1 - h0)))
        else:
            zs.append(cur[2] + t * dz)
        if band is None or dem is None:
            zhs.append(zs[-1] if high is None else high[0] + t * (high[1] - high[0]))
        its.append(np.full(n, item, np.int64))
        phs.append(np.full(n, phase, np.int8))
        if high is not None:
            dz = high[1] - high[0]
        if timed:  # (a loiter circle's time is counted from its turns)
            duration += leg_time_s(h, dz, v, accel_m_s2, climb_rate_m_s, descent_rate_m_s)
        length += math.hypot(h, dz)
        cur = to

    def curve_leg(pts: FloatArray, item: int) -> None:
        """Fly from ``cur`` along ``pts`` (n × 3, the last one the destination)."""
        nonlocal cur, duration, length
        full = np.vstack([np.asarray(cur, float), pts])
        seg = np.diff(full, axis=0)
        h = float(np.hypot(seg[:, 0], seg[:, 1]).sum())
        dz = float(full[-1, 2] - full[0, 2])
        xs.append(pts[:, 0].copy())
        ys.append(pts[:, 1].copy())
        zs.append(pts[:, 2].copy())
        zhs.append(zs[-1])
        its.append(np.full(len(pts), item, np.int64))
        phs.append(np.full(len(pts), 1, np.int8))
        duration += leg_time_s(h, dz, v, accel_m_s2, climb_rate_m_s, descent_rate_m_s)
        length += float(np.linalg.norm(seg, axis=1).sum())
        cur = (float(full[-1, 0]), float(full[-1, 1]), float(full[-1, 2]))

    def next_nav(k: int) -> int | None:
        """The index of the NAV command flown after item ``k`` (AP_Mission's get_next_nav_cmd:
        a DO_JUMP still to be taken is followed, not counted)."""
        j, seen = k + 1, 0
        while j < len(mission.items) and seen < 1000:
            seen += 1
            nxt = mission.items[j]
            if nxt.command == CMD_DO_JUMP:
                target, repeat = int(nxt.param1), int(nxt.param2)
                if 0 <= jumps.get(j, 0) < repeat and 0 <= target < len(mission.items):
                    j = target
                    continue
            elif nxt.command in NAV_COMMANDS:
                return j
            j += 1
        return None

    def position_of(it: MissionItem) -> tuple[float, float, float] | None:
        """An item's position (metric x, y and AMSL), None without one or in a terrain frame."""
        if not it.has_position or it.command not in POSITION_COMMANDS:
            return None
        if canonical_frame(it.frame) == FRAME_GLOBAL_TERRAIN_ALT:
            return None
        x, y = xy_of[id(it)]
        z = amsl(it.frame, it.alt_m, x, y)
        return (x, y, z) if math.isfinite(z) else None

    # PX4's mission landing: from its land start to its NAV_LAND
    marks = px4_landing(mission.items)
    land_start, land_idx = marks if marks is not None else (None, None)

    def landing_legs(start: int) -> list[tuple[float, float, float]]:
        """The positions of the mission's landing from item ``start`` to its NAV_LAND (flown
        there at the altitude before it; the descent follows)."""
        out: list[tuple[float, float, float]] = []
        z = cur[2]
        for j in range(start, (land_idx if land_idx is not None else start) + 1):
            lj = mission.items[j]
            if lj.command not in POSITION_COMMANDS or not lj.has_position:
                continue
            x, y = xy_of[id(lj)]
            if lj.command != CMD_NAV_LAND:
                zz = amsl(lj.frame, lj.alt_m, x, y)
                z = zz if math.isfinite(zz) else z
            out.append((x, y, z))
        return out

    #: the NAV leg flown last when the aircraft did not stop at its end (ap_spline.origin_vector)
    prev_leg: tuple[bool, ap_spline.Vec, ap_spline.Vec, ap_spline.Vec] | None = None
    jumps: dict[int, int] = {}
    #: how far from the last position the RTL may start (the waypoint's acceptance radius)
    rtl_tolerance_m = 0.0
    returned = False
    endless: int | None = None
    k = 0
    steps = 0
    while k < len(mission.items) and steps < max_items:
        steps += 1
        it = mission.items[k]
        cmd = it.command
        if cmd == CMD_DO_JUMP:
            target, repeat = int(it.param1), int(it.param2)
            done = jumps.get(k, 0)
            if repeat < 0:
                notes.append(_("endless DO_JUMP at item {k}: flown once").format(k=k))
                endless = k if endless is None else endless
            elif done < repeat and 0 <= target < len(mission.items):
                jumps[k] = done + 1
                k = target
                continue
            k += 1
            continue
        if rtl is not None and cmd in NAV_COMMANDS and cmd != CMD_NAV_RETURN_TO_LAUNCH:
            wp = cmd in (CMD_NAV_WAYPOINT, CMD_NAV_SPLINE_WAYPOINT)
            rtl_tolerance_m = rtl.acceptance_m(max(0.0, it.param2)) if wp else 0.0
        if cmd == CMD_DO_CHANGE_SPEED and it.param2 > 0:
            kind = int(it.param1) if math.isfinite(it.param1) else 1
            # climb (2) and descent (3) speeds: ArduCopter takes them, PX4 does not, so only
            # a slower one counts (the flight never gets shorter on paper than in the air)
            if kind == 2:
                climb_rate_m_s = min(climb_rate_m_s, float(it.param2))
            elif kind == 3:
                descent_rate_m_s = min(descent_rate_m_s, float(it.param2))
            else:
                v = float(it.param2)
                if max_speed_m_s is not None and max_speed_m_s > 0:
                    v = min(v, max_speed_m_s)
        elif cmd == CMD_NAV_TAKEOFF:
            x, y = xy_of.get(id(it), cur[:2])
            leg((x, y, amsl(it.frame, it.alt_m, x, y)), k, 0)
            prev_leg = None
        elif cmd == CMD_NAV_RETURN_TO_LAUNCH:
            rkind = "direct"
            if rtl is not None and rtl.autopilot == "px4":
                nearer = land_start is not None and land_start - k < k
                rkind = rtl_cone.px4_return_kind(rtl.rtl_type, land_start is not None, nearer)
                if rkind != "direct" or rtl.rtl_type not in rtl_cone.PX4_RTL_TYPES:
                    note = px4_rtl_type_note(rtl.rtl_type, rkind)
                    note_once(note)
            if rkind == "reverse":
                # RtlMissionFastReverse: the earlier position items backwards, at their own
                # altitudes, then a landing at the first (the take-off's place)
                back = [
                    j for j in range(k - 1, -1, -1) if mission.items[j].command in POSITION_COMMANDS
                ]
                for jb in back:
                    bj = mission.items[jb]
                    bx, by = xy_of.get(id(bj), (hx, hy))
                    bz = amsl(bj.frame, bj.alt_m, bx, by)
                    terrain = canonical_frame(bj.frame) == FRAME_GLOBAL_TERRAIN_ALT
                    leg((bx, by, bz if math.isfinite(bz) else cur[2]), k, 1, above_terrain=terrain)
                leg((cur[0], cur[1], ground_at(cur[0], cur[1])), k, 0)
                returned = True
                prev_leg = None
                k += 1
                continue
            tx, ty = hx, hy
            rally_alt_m = 0.0  # ArduCopter returns at least as high as its rally point
            landing: list[tuple[float, float, float]] = []
            if rkind == "mission" and land_start is not None:
                landing = landing_legs(land_start)
                for p in landing:
                    leg(p, k, 1)
                tx, ty = cur[0], cur[1]
            else:
                d_home = math.hypot(cur[0] - hx, cur[1] - hy)
                if rtl is not None and rtl.autopilot == "px4":
                    lp = landing_legs(land_start) if land_start is not None else []
                    land_xy = lp[0] if lp else None
                    pick = rtl_cone.px4_destinations(
                        rtl.rtl_type,
                        d_home,
                        math.hypot(cur[0] - land_xy[0], cur[1] - land_xy[1]) if land_xy else None,
                        [
                            (
                                math.hypot(cur[0] - p[0], cur[1] - p[1]),
                                math.hypot(hx - p[0], hy - p[1]),
                            )
                            for p in rally_xy
                        ],
                    )
                    if pick == -2 and lp:
                        landing = lp
                        tx, ty = landing[0][0], landing[0][1]
                    elif pick >= 0:
                        tx, ty = rally_xy[pick]
                elif rally_xy:  # ArduCopter: AP_Rally::calc_best_rally_or_home_location
                    limit, incl = (
                        (rtl.rally_limit_km, rtl.rally_incl_home)
                        if rtl is not None
                        else (0.3, True)
                    )
                    pick = rtl_cone.ardupilot_destination(
                        d_home,
                        [math.hypot(cur[0] - p[0], cur[1] - p[1]) for p in rally_xy],
                        limit,
                        incl,
                    )
                    if pick >= 0:
                        tx, ty = rally_xy[pick]
                        r_alt = mission.rally_points[pick].alt_m
                        rally_alt_m = r_alt if math.isfinite(r_alt) else 0.0
            up = up_hi = cur[2]
            terrain_rtl = None
            if rtl is not None and math.isfinite(up) and rkind == "direct":
                d = math.hypot(tx - cur[0], ty - cur[1])
                h = cur[2] - home_amsl
                lo, hi = rtl_cone.altitude_band_m(rtl, d, h, rtl_tolerance_m, rally_alt_m)
                full = rtl_cone.return_alt_m(rtl.without_cone(), d, h, rally_alt_m)
                up, up_hi = home_amsl + lo, home_amsl + hi
                if rtl.autopilot == "ardupilot" and rtl.alt_type == 1 and dem is not None:
                    # RTL_ALT_TYPE 1: the same formula above the terrain, the return following
                    # it. ArduCopter arms only with the terrain of home and of every mission
                    # item loaded (AP_Terrain::pre_arm_checks), so this is what it flies; its
                    # fallback above home needs the terrain data lost in flight
                    g0 = followed_at(cur[0], cur[1])
                    t_lo, t_hi = rtl_cone.altitude_band_m(
                        replace(rtl, fence_alt_max_m=None), d, cur[2] - g0, rtl_tolerance_m
                    )
                    if rtl.fence_alt_max_m is not None:  # the fence is above home
                        cap = rtl.fence_alt_max_m + home_amsl - ground_at(tx, ty)
                        t_lo, t_hi = (max(min(t, cap), cur[2] - g0) for t in (t_lo, t_hi))
                    terrain_rtl = (t_lo, t_hi)
                    up, up_hi = g0 + t_lo, g0 + t_hi
                    note = _(
                        "RTL_ALT_TYPE 1: the return checked {lo:g}..{hi:g} m above the terrain "
                        "it follows"
                    ).format(lo=round(t_lo, 1), hi=round(t_hi, 1))
                    note_once(note)
                if up_hi > cur[2]:  # the climb before the return
                    leg((cur[0], cur[1], up), k, 0, high=(cur[2], up_hi))
                for note in rtl_notes(rtl, lo, hi, h, full):
                    note_once(note)
                if rtl.autopilot == "ardupilot" and rtl.alt_type == 1 and dem is None:
                    note = _(
                        "RTL_ALT_TYPE 1: the return follows the terrain, which is not checked "
                        "without a DEM"
                    )
                    note_once(note)
            if rkind == "direct":
                if landing:  # to the start of the mission's landing, then along it
                    leg((tx, ty, up), k, 1, high=(up_hi, up_hi))
                    for p in landing[1:]:
                        leg(p, k, 1)
                    tx, ty = cur[0], cur[1]
                elif terrain_rtl is not None:
                    g1 = followed_at(tx, ty)
                    up, up_hi = g1 + terrain_rtl[0], g1 + terrain_rtl[1]
                    leg(
                        (tx, ty, up),
                        k,
                        1,
                        high=(up_hi, up_hi),
                        band=terrain_rtl,
                    )
                else:
                    leg((tx, ty, up), k, 1, high=(up_hi, up_hi))
            down = ground_at(tx, ty) if (tx, ty) != (hx, hy) else home_amsl
            leg((tx, ty, down), k, 0, high=(max(up_hi, cur[2]), down))
            returned = True
            prev_leg = None
        elif cmd == CMD_NAV_LAND:
            x, y = xy_of.get(id(it), cur[:2])
            leg((x, y, cur[2]), k, 1)
            leg((x, y, ground_at(x, y)), k, 0)
            returned = True
            prev_leg = None
        elif (
            cmd == CMD_NAV_SPLINE_WAYPOINT
            and it.has_position
            and canonical_frame(it.frame) != FRAME_GLOBAL_TERRAIN_ALT
            and math.isfinite(cur[2])
            and (dest := position_of(it)) is not None
        ):
            # ArduCopter's curve (dronekit_plzen.ap_spline), not the straight line
            j = None if it.param1 > 0 else next_nav(k)
            nxt_it = mission.items[j] if j is not None else None
            vo = ap_spline.origin_vector(prev_leg)
            vd = ap_spline.destination_vector(
                cur,
                dest,
                position_of(nxt_it) if nxt_it is not None else None,
                nxt_it is not None and nxt_it.command == CMD_NAV_SPLINE_WAYPOINT,
                it.param1 > 0,
            )
            span = ap_spline.curve_length(cur, dest, vo, vd)
            n = max(1, min(math.ceil(span / step_m), MAX_LEG_SAMPLES))
            origin = cur
            curve_leg(ap_spline.spline_points(cur, dest, vo, vd, n), k)
            if it.param1 > 0:
                duration += it.param1  # hold time
            prev_leg = None if it.param1 > 0 else (True, origin, dest, vd)
            k += 1
            continue
        elif cmd in NAV_COMMANDS and cmd in POSITION_COMMANDS:
            origin = cur
            if it.has_position:
                x, y = xy_of[id(it)]
                z = amsl(it.frame, it.alt_m, x, y)
            else:
                # latitude = longitude = 0: ArduCopter flies it where the aircraft is, and an
                # altitude of 0 keeps the aircraft's (ModeAuto::loc_from_cmd)
                x, y = cur[0], cur[1]
                z = cur[2] if it.alt_m == 0 else amsl(it.frame, it.alt_m, x, y)
            terrain = canonical_frame(it.frame) == FRAME_GLOBAL_TERRAIN_ALT
            leg((x, y, z), k, 1, above_terrain=terrain)
            if cmd == CMD_NAV_LOITER_TIME:
                duration += max(0.0, it.param1)
            elif cmd == CMD_NAV_LOITER_TURNS:
                r = abs(it.param3) or 10.0  # 0: CIRCLE_RADIUS, 10 m by default
                duration += abs(it.param1) * 2 * math.pi * r / v
                if it.param1 != 0:
                    # ArduCopter flies out to the circle and around it: one turn sampled (the
                    # others repeat it), then back to the centre, where the next leg starts
                    centre = cur
                    for a in np.linspace(0.0, 2 * math.pi, LOITER_CIRCLE_VERTICES + 1):
                        on = (centre[0] + r * math.sin(a), centre[1] + r * math.cos(a), centre[2])
                        leg(on, k, 1, above_terrain=terrain, timed=False)
                    leg(centre, k, 1, above_terrain=terrain, timed=False)
            elif it.param1 > 0 and it.command == 16:
                duration += it.param1  # hold time
            elif cmd == CMD_NAV_PAYLOAD_PLACE:
                # ArduCopter lowers the payload to the ground (at most param1 metres, 0: no
                # limit), releases it and climbs back to the item's altitude
                g = ground_at(x, y)
                drop = cur[2] - g if it.param1 <= 0 else min(it.param1, cur[2] - g)
                if math.isfinite(drop) and drop > 0:
                    top = cur
                    leg((x, y, cur[2] - drop), k, 0)
                    leg(top, k, 0)
            elif cmd == CMD_NAV_SPLINE_WAYPOINT and not flags.get("spline"):
                flags["spline"] = True  # (in a terrain frame, or without a known altitude)
                notes.append(
                    _(
                        "spline waypoints checked along straight legs: the firmware's curve "
                        "between them bends off the line"
                    )
                )
            fast = cmd == CMD_NAV_WAYPOINT and it.param1 <= 0
            prev_leg = (False, origin, cur, ap_spline.ZERO) if fast else None
        else:
            if cmd in NAV_COMMANDS:
                prev_leg = None  # take-off, RTL, land: the aircraft stops
        k += 1
    stopped_at = k if k < len(mission.items) else None
    X, Y, Z, ZH = (np.concatenate(a) for a in (xs, ys, zs, zhs))
    lon, lat = transform(X, Y, epsg, WGS84)
    return Trajectory(
        epsg,
        X,
        Y,
        Z,
        lon,
        lat,
        np.concatenate(its),
        np.concatenate(phs),
        (hx, hy),
        home_amsl,
        duration,
        length,
        returned,
        notes,
        stopped_at,
        endless,
        None if np.array_equal(Z, ZH, equal_nan=True) else ZH,
    )


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
