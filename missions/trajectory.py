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
    CMD_NAV_DELAY,
    CMD_NAV_LAND,
    CMD_NAV_LOITER_TIME,
    CMD_NAV_LOITER_TURNS,
    CMD_NAV_LOITER_UNLIM,
    CMD_NAV_PAYLOAD_PLACE,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_SPLINE_WAYPOINT,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_GLOBAL_TERRAIN_ALT,
    MAX_ABS_ALT_M,
    MAX_WIRE_DEG,
    NAV_COMMANDS,
    POSITION_COMMANDS,
    MissionItem,
    ap_circle_speed_m_s,
    ap_circle_trail_rad,
    ap_keeps_altitude,
    canonical_frame,
    command_name,
    px4_landing,
)
from dronekit_plzen.rtl_cone import RtlParams
from missions.model import AUTOPILOT_ARDUPILOT, Mission
from missions.terrain import AP_TERRAIN_SPACING_M, Raster, ardupilot_terrain
from missions.trajectory_rtl import fly_rtl

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
#: ArduCopter starts a circle where it is, not from the circle's closest point, when it is
#: this close to the centre (``circle_movetoedge_start``)
CIRCLE_AT_CENTRE_M = 3.0
#: ArduCopter's take-off in the air is done at once within this of its altitude (below it too:
#: it never descends)
AP_TAKEOFF_DONE_M = 1.0
#: PX4 flies to a take-off's position after the climb when it is farther than this
TAKEOFF_MOVE_M = 0.5
#: the first item is climbed to first when it is higher than this above the aircraft (PX4's
#: altitude acceptance radius for multicopters, NAV_MC_ALT_RAD default)
CLIMB_FIRST_M = 0.8


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
    #: the first NAV_LOITER_UNLIM met on the walk: both autopilots hold there until the pilot
    #: or the battery failsafe ends it; the items after it are still checked (None: no such
    #: item)
    loiter_unlimited: int | None = None

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


#: the largest finite 32-bit float: what MISSION_ITEM_INT's params carry
FLOAT32_MAX = 3.4028234663852886e38

#: the firmwares slow their landing near the ground (defaults): ArduCopter descends at its
#: descent rate (LAND_SPEED_HIGH, else WPNAV_SPEED_DN) down to LAND_ALT_LOW, 10 m, then at
#: LAND_SPEED, 0.5 m/s (``Mode::land_run_vertical_control``); PX4 from MPC_LAND_ALT1, 10 m, down
#: to MPC_LAND_ALT2, 5 m, slows linearly with height to MPC_LAND_SPEED, 0.7 m/s, and with a
#: distance sensor (SIH has one) crawls the last MPC_LAND_ALT3, 1 m, at MPC_LAND_CRWL, 0.3 m/s
#: (``FlightTaskAuto::_prepareLandSetpoints``; counted always: the longer landing)
AP_LAND_ALT_LOW_M = 10.0
AP_LAND_SPEED_M_S = 0.5
#: ArduCopter shapes the descent speed with its vertical acceleration (WPNAV_ACCEL_Z, 1 m/s²):
#: it starts from a hover, and above LAND_ALT_LOW the speed is the square-root controller's of the
#: height still to go to it (PSC_POSZ_P 1), so it slows before 10 m, not at it
AP_ACCEL_Z_M_S2 = 1.0
AP_POS_Z_P = 1.0
#: PX4's auto trajectory reaches the descent speed with its jerk limit (MPC_JERK_AUTO, 4 m/s³;
#: MPC_ACC_DOWN_MAX, 3 m/s², is not reached below 2.25 m/s)
PX4_JERK_AUTO_M_S3 = 4.0
PX4_ACC_DOWN_MAX_M_S2 = 3.0
PX4_LAND_ALT1_M = 10.0
PX4_LAND_ALT2_M = 5.0
PX4_LAND_SPEED_M_S = 0.7
PX4_LAND_ALT3_M = 1.0
PX4_LAND_CRWL_M_S = 0.3


def landing_time_s(drop_m: float, sink_m_s: float, ardupilot: bool) -> float:
    """Seconds a landing takes from ``drop_m`` above the ground: at ``sink_m_s`` high up, then
    as the firmware slows near the ground (the constants above), with the time the firmware takes
    to reach ``sink_m_s`` from a hover. The guard had timed the whole descent at ``sink_m_s``: a
    landing from 50 m 25 s, where ArduCopter takes 47 s."""
    if not drop_m > 0.0:
        return 0.0
    sink = max(sink_m_s, 1e-3)
    if ardupilot:
        slow = min(AP_LAND_SPEED_M_S, sink)
        low = min(drop_m, AP_LAND_ALT_LOW_M)
        t = (drop_m - low) / sink + low / slow
        above = drop_m - low
        return t + _ap_start_s(above, sink, slow) + _ap_slowdown_s(above, sink, slow)
    slow = min(PX4_LAND_SPEED_M_S, sink)
    top, bottom = min(drop_m, PX4_LAND_ALT1_M), min(drop_m, PX4_LAND_ALT2_M)
    crawl = min(drop_m, PX4_LAND_ALT3_M)
    t = (drop_m - top) / sink + (bottom - crawl) / slow + crawl / min(PX4_LAND_CRWL_M_S, slow)
    if top > bottom:
        # v(h) = slow + k (h - ALT2) between the two heights: ∫ dh / v = ln(v_top / v_bottom) / k
        k = (sink - slow) / (PX4_LAND_ALT1_M - PX4_LAND_ALT2_M)
        v_top, v_bottom = slow + k * (top - PX4_LAND_ALT2_M), slow + k * (bottom - PX4_LAND_ALT2_M)
        t += math.log(v_top / v_bottom) / k if k > 1e-9 else (top - bottom) / slow
    return t + _px4_start_s(drop_m - top, sink)


def _ap_start_s(above_m: float, sink: float, slow: float) -> float:
    """What ArduCopter's start from a hover at WPNAV_ACCEL_Z adds to the landing: half the time
    it takes to reach the speed its controller asks for at ``above_m`` over LAND_ALT_LOW."""
    a, p = AP_ACCEL_Z_M_S2, AP_POS_Z_P
    lin = a / (p * p)
    e = max(above_m, 0.0)
    v = p * e if e <= lin else math.sqrt(2.0 * a * (e - lin / 2.0))
    return min(max(v, slow), sink) / (2.0 * a)


def _ap_slowdown_s(above_m: float, sink: float, slow: float) -> float:
    """What ArduCopter's slowing down above LAND_ALT_LOW adds to the landing timed as ``sink``
    down to it and ``slow`` below. ``Mode::land_run_vertical_control``: the descent speed is
    ``sqrt_controller(e)`` of the height ``e`` above LAND_ALT_LOW, between ``slow`` and ``sink``:
    ``p e`` below ``a / p²``, ``sqrt(2 a (e - a / 2p²))`` above."""
    a, p = AP_ACCEL_Z_M_S2, AP_POS_Z_P
    if above_m <= 0.0 or sink <= slow:
        return 0.0
    lin = a / (p * p)

    def height(v: float) -> float:  # where the controller asks for speed v
        return v / p if v <= p * lin else v * v / (2.0 * a) + lin / 2.0

    def time_from(e: float) -> float:  # seconds from height e down to 0 as the firmware flies
        e_slow = height(slow)
        t = min(e, e_slow) / slow
        if e > e_slow:  # the linear part, then the square-root part
            e_lin = min(e, lin)
            if e_lin > e_slow:
                t += math.log(e_lin / e_slow) / p
            if e > lin:
                t += (math.sqrt(2.0 * a * (e - lin / 2.0)) - math.sqrt(a * lin)) / a
        return t

    e_top = min(above_m, height(sink))
    return max(time_from(e_top) - e_top / sink, 0.0)


def _px4_start_s(drop_m: float, sink: float) -> float:
    """What PX4's jerk-limited start from a hover adds to a descent timed at ``sink``: half
    the time it takes to reach it (at MPC_JERK_AUTO, or MPC_ACC_DOWN_MAX once reached)."""
    j, a = PX4_JERK_AUTO_M_S3, PX4_ACC_DOWN_MAX_M_S2
    t_reach = 2.0 * math.sqrt(sink / j) if sink <= a * a / j else sink / a + a / j
    return min(t_reach / 2.0, drop_m / sink)


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
        # 1e308 is beyond a 32-bit float: sent, it would be inf
        for i, v in enumerate((it.param1, it.param2, it.param3, it.param4), start=1):
            if math.isinf(v) or abs(v) > FLOAT32_MAX:
                raise BadInputError(
                    _("item {k}: parameter {i} is {v:g}, not a value (a damaged file?)").format(
                        k=k + 1, i=i, v=v
                    ),
                    where=where,
                )
        for name, v in (("x (param5)", it.lat_deg), ("y (param6)", it.lon_deg)):
            if math.isinf(v) or abs(v) > MAX_WIRE_DEG:  # NaN goes as INT32_MAX: no value
                raise BadInputError(
                    _(
                        "item {i}: {name} is {v:g}, more than MAVLink can carry (a 32-bit "
                        "integer in 1e-7 degrees): a damaged file?"
                    ).format(i=k + 1, name=name, v=v),
                    where=where,
                )
        _check_stored_range(it, k, where)
        if it.command == CMD_DO_JUMP and not 0 <= it.param1 < len(mission.items):
            # ArduPilot ends the mission at a jump to no item (AP_Mission::get_next_cmd), the
            # guard would fly on: neither is what the file meant
            raise BadInputError(
                _(
                    "item {k} (DO_JUMP): jumps to an item the mission does not have (a damaged "
                    "file?)"
                ).format(k=k + 1),
                where=where,
            )
        placed = it.command in POSITION_COMMANDS
        if placed and not (math.isnan(it.alt_m) or abs(it.alt_m) <= MAX_ABS_ALT_M):
            raise BadInputError(
                _("item {k}: altitude {a:g} m is not a flight altitude (a damaged file?)").format(
                    k=k + 1, a=it.alt_m
                ),
                where=where,
            )


#: (command, parameter) → (lowest, highest, scale, unit, bits): the values ArduPilot stores as
#: written (``AP_Mission::mavlink_int_to_mission_cmd`` keeps ``trunc(value * scale)``, which must
#: lie within lowest..highest, in an integer of that many bits). Outside, ArduCopter flies another
#: value: on ArduCopter SITL a hold of -1 s was stored as 65535 s, 70000 s as 4464 s, -2 loiter
#: turns as 254 turns of 255 m, a 3000 m loiter radius as 2550 m, a 700 m payload descent as
#: 44.64 m; a hold of 1e23 s stopped SITL with a floating-point exception. PX4 keeps floats, but
#: holds no negative time either. A NAV_DELAY's seconds become milliseconds in a uint32 when
#: positive (not positive: a time of day to wait for).
STORED_RANGES: dict[tuple[int, int], tuple[float, float, float, str, int]] = {
    (CMD_NAV_WAYPOINT, 1): (0, 65535, 1, " s", 16),  # hold time
    (CMD_NAV_LOITER_TIME, 1): (0, 65535, 1, " s", 16),  # loiter time
    (CMD_NAV_LOITER_TURNS, 1): (0, 255, 1, "", 8),  # turns (below 1: in 1/256)
    (CMD_NAV_LOITER_TURNS, 3): (-2559, 2559, 1, " m", 8),  # radius: above 255 m in 10 m steps
    (CMD_NAV_PAYLOAD_PLACE, 1): (0, 65535, 100, " m", 16),  # maximum descent, in centimetres
    (CMD_NAV_DELAY, 1): (0, 2**32 - 1, 1000, " s", 32),  # seconds, when positive
    (CMD_DO_JUMP, 2): (-1, 32767, 1, "", 16),  # repeat count (int16; -1: forever)
}
#: parameters the guard's walk needs as numbers (ArduPilot refuses NaN in them too)
NEEDS_NUMBER = frozenset({(CMD_DO_JUMP, 1), (CMD_DO_JUMP, 2)})


def _check_stored_range(it: MissionItem, k: int, where: str | None) -> None:
    """Refuse a parameter ArduPilot would store as another value (:data:`STORED_RANGES`), a
    NaN the walk needs (:data:`NEEDS_NUMBER`) and a NAV_DELAY time of day that is not one; other
    NaNs are left to the firmware's own check (ArduPilot refuses them at upload)."""
    params = (it.param1, it.param2, it.param3, it.param4)
    delay_at = it.command == CMD_NAV_DELAY and not (math.isfinite(it.param1) and it.param1 > 0)
    for i, v in enumerate(params, start=1):
        rng = STORED_RANGES.get((it.command, i))
        if math.isnan(v) and (it.command, i) in NEEDS_NUMBER:
            raise BadInputError(
                _(
                    "item {k} ({cmd}): parameter {i} is not a number, and the mission cannot "
                    "be followed without it (a damaged file?)"
                ).format(k=k + 1, cmd=command_name(it.command), i=i),
                where=where,
            )
        if rng is None or math.isnan(v) or (delay_at and i == 1):
            continue
        lo, hi, scale, unit, bits = rng
        if not lo <= math.trunc(v * scale) <= hi:
            raise BadInputError(
                _(
                    "item {k} ({cmd}): parameter {i} is {v:g}{unit}, outside {lo:g} to "
                    "{hi:g}{unit}: ArduPilot stores it in {bits} bits and would fly another "
                    "value (a damaged file?)"
                ).format(
                    k=k + 1,
                    cmd=command_name(it.command),
                    i=i,
                    v=v,
                    unit=unit,
                    lo=lo / scale,
                    hi=hi / scale,
                    bits=bits,
                ),
                where=where,
            )
    if delay_at:
        hms = params[1:]
        if any(math.isnan(v) for v in hms) or not (
            -1 <= math.trunc(hms[0]) <= 23 and all(-1 <= math.trunc(v) <= 59 for v in hms[1:])
        ):
            raise BadInputError(
                _(
                    "item {k} (NAV_DELAY): {h:g}:{m:g}:{s:g} is not a time of day to wait for "
                    "(hour 0 to 23, minute and second 0 to 59, -1 where not used)"
                ).format(k=k + 1, h=hms[0], m=hms[1], s=hms[2]),
                where=where,
            )


def nav_delay_s(it: MissionItem, ardupilot: bool) -> tuple[float, bool]:
    """(seconds, waits for a time of day) of a NAV_DELAY, the longest it may take. A positive
    param1 is the delay; else ArduPilot waits until the UTC time param2:param3:param4 (-1 where
    not used; ``AP_RTC::get_time_utc``): at most a day when the hour is given, an hour when the
    minute is, a minute when only the second is, a second when none is. PX4 waits param1 seconds
    and nothing when it is not positive (``MissionBlock::get_time_inside``)."""
    if math.isfinite(it.param1) and it.param1 > 0:
        return float(it.param1), False
    if not ardupilot:
        return 0.0, False
    h, m, s = (math.trunc(v) for v in (it.param2, it.param3, it.param4))
    longest = 86400.0 if h != -1 else 3600.0 if m != -1 else 60.0 if s != -1 else 1.0
    return longest, (h, m, s) != (-1, -1, -1)


class _Flight:
    """The walk's state: where the aircraft is, the samples flown so far, time and length,
    the notes; and the moves (a straight leg, a curve) that add to them. :func:`trajectory`
    walks the items with it, :func:`missions.trajectory_rtl.fly_rtl` flies the RTL."""

    def __init__(
        self,
        mission: Mission,
        dem: Raster | None,
        step_m: float,
        speed_m_s: float,
        rates: tuple[float, float, float],
        rtl: RtlParams | None,
    ) -> None:
        self.mission = mission
        self.dem = dem
        self.step_m = step_m
        self.v = speed_m_s
        self.accel_m_s2, self.climb_rate_m_s, self.descent_rate_m_s = rates
        self.rtl = rtl
        self.notes: list[str] = []
        self.flags: dict[str, bool] = {}
        pos_items = [it for it in mission.items if it.has_position]
        if mission.home is not None:
            hlon, hlat, self.home_amsl = mission.home
        elif pos_items:
            hlon, hlat = pos_items[0].lon_deg, pos_items[0].lat_deg
            g = float(dem.sample([hlon], [hlat])[0]) if dem else math.nan
            self.home_amsl = 0.0 if math.isnan(g) else g
            self.notes.append(_("mission has no home: the first waypoint is taken as home"))
        else:
            raise BadInputError(_("mission has no home and no positioned items"))
        lons = [hlon] + [it.lon_deg for it in pos_items]
        lats = [hlat] + [it.lat_deg for it in pos_items]
        self.epsg = utm_epsg_for_area(lons, lats)
        ix, iy = transform(np.array(lons), np.array(lats), WGS84, self.epsg)
        self.hx, self.hy = float(ix[0]), float(iy[0])
        self.xy_of = {
            id(it): (float(ix[k + 1]), float(iy[k + 1])) for k, it in enumerate(pos_items)
        }
        self.rally_xy: list[tuple[float, float]] = []
        if mission.rally_points:
            rx, ry = transform(
                np.array([r.lon_deg for r in mission.rally_points]),
                np.array([r.lat_deg for r in mission.rally_points]),
                WGS84,
                self.epsg,
            )
            self.rally_xy = [(float(a), float(b)) for a, b in zip(rx, ry, strict=True)]
        # ArduCopter follows the terrain of its own grid (TERRAIN_SPACING), not every DEM cell
        self.ap_spacing = (
            rtl.terrain_spacing_m
            if rtl is not None and rtl.autopilot == "ardupilot"
            else AP_TERRAIN_SPACING_M
            if mission.autopilot == AUTOPILOT_ARDUPILOT
            else None
        )
        self.cur = (self.hx, self.hy, self.home_amsl)
        self.xs: list[FloatArray] = [np.array([self.hx])]
        self.ys: list[FloatArray] = [np.array([self.hy])]
        self.zs: list[FloatArray] = [np.array([self.home_amsl])]
        self.zhs: list[FloatArray] = [self.zs[0]]
        self.its: list[NDArray[np.int64]] = [np.array([-1])]
        self.phs: list[NDArray[np.int8]] = [np.array([0], np.int8)]
        self.duration = 0.0
        self.length = 0.0
        #: on the ground: at the start and after a landing (the next NAV item climbs first)
        self.on_ground = True
        #: where the last leg that moved the aircraft began (its heading points away from it)
        self.came_from: tuple[float, float] | None = None
        #: ArduCopter without a take-off item: the ground station's take-off altitude (m
        #: above home), when known (:func:`trajectory`)
        self.takeoff_alt_m: float | None = None
        #: an ArduCopter circle just ended short of its turns' end (it trails its moving
        #: point): (where the point ended, its item, terrain frame), for what the next NAV
        #: item does with it (:func:`_circle_goes_on`, :data:`CIRCLE_SWUNG_OFF`)
        self.circle_exit: tuple[tuple[float, float, float], int, bool] | None = None
        #: DO_JUMPs taken so far (item → times)
        self.jumps: dict[int, int] = {}
        self.loiter_unlimited: int | None = None
        #: how far from the last position the RTL may start (the waypoint's acceptance radius)
        self.rtl_tolerance_m = 0.0
        # PX4's mission landing: from its land start to its NAV_LAND
        marks = px4_landing(mission.items)
        self.land_start: int | None = marks[0] if marks is not None else None
        self.land_idx: int | None = marks[1] if marks is not None else None

    def leave_circle(self, swing: bool = False) -> None:
        """Fly from where an ArduCopter circle left the aircraft (short of the turns' end) on
        to where its point ended, where the next leg leaves from; with ``swing`` back again,
        the next leg leaving from where the aircraft was (:data:`CIRCLE_SWUNG_OFF`). Nothing
        pending, nothing flown."""
        if self.circle_exit is not None:
            at, k, terrain = self.circle_exit
            self.circle_exit = None
            left = self.cur
            self.leg(at, k, 1, above_terrain=terrain, timed=False)
            if swing:
                self.leg(left, k, 1, above_terrain=terrain, timed=False)

    def note_once(self, note: str) -> None:
        if not self.flags.get(note):
            self.flags[note] = True
            self.notes.append(note)

    def followed(self, lo: FloatArray, la: FloatArray) -> FloatArray:
        """The terrain the autopilot follows at (lon, lat): ArduCopter's grid, else the DEM."""
        assert self.dem is not None
        if self.ap_spacing is None:
            return self.dem.sample(lo, la)
        return ardupilot_terrain(self.dem, lo, la, self.ap_spacing)

    def followed_at(self, x: float, y: float) -> float:
        if self.dem is None:
            return self.home_amsl
        lo, la = transform([x], [y], self.epsg, WGS84)
        g = float(self.followed(lo, la)[0])
        return self.ground_at(x, y) if math.isnan(g) else g

    def ground_at(self, x: float, y: float) -> float:
        if self.dem is None:
            return self.home_amsl
        lo, la = transform([x], [y], self.epsg, WGS84)
        g = float(self.dem.sample(lo, la)[0])
        return self.home_amsl if math.isnan(g) else g

    def amsl(self, it_frame: int, alt: float, x: float, y: float) -> float:
        f = canonical_frame(it_frame)
        if f not in KNOWN_ALT_FRAMES:
            return math.nan  # no datum the toolkit knows: the guard reports it, never guesses
        if f == FRAME_GLOBAL_RELATIVE_ALT:
            return self.home_amsl + alt
        if f == FRAME_GLOBAL_TERRAIN_ALT:
            if self.dem is None:
                self.note_once(_("terrain-frame altitudes taken above the home elevation (no DEM)"))
            return self.ground_at(x, y) + alt
        return alt

    def same_height(self, it_frame: int, x: float, y: float) -> float:
        """The AMSL altitude at (x, y) that keeps the aircraft's present altitude in the frame:
        above terrain the same height over the ground there, else the same altitude."""
        if canonical_frame(it_frame) == FRAME_GLOBAL_TERRAIN_ALT:
            return self.ground_at(x, y) + (self.cur[2] - self.ground_at(self.cur[0], self.cur[1]))
        return self.cur[2]

    def item_xyz(self, it: MissionItem) -> tuple[float, float, float]:
        """An item's metric position and AMSL altitude (NaN: no known datum)."""
        x, y = self.xy_of.get(id(it), (self.hx, self.hy))
        return x, y, self.amsl(it.frame, it.alt_m, x, y)

    def leg(
        self,
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
        cur, dem = self.cur, self.dem
        dx, dy, dz = to[0] - cur[0], to[1] - cur[1], to[2] - cur[2]
        h = math.hypot(dx, dy)
        span = max(h, abs(dz)) if math.isfinite(dz) else h
        # at most MAX_LEG_SAMPLES per leg: a leg across a continent is reported, not sampled
        # every 5 m into gigabytes
        n = max(1, min(math.ceil(span / self.step_m), MAX_LEG_SAMPLES))
        t = np.arange(1, n + 1) / n
        lx, ly = cur[0] + t * dx, cur[1] + t * dy
        self.xs.append(lx)
        self.ys.append(ly)
        zs, zhs = self.zs, self.zhs
        if band is not None and dem is not None:
            lo, la = transform(lx, ly, self.epsg, WGS84)
            g = self.followed(lo, la)
            g = np.where(np.isnan(g), self.home_amsl, g)
            zs.append(g + band[0])
            high = None
            zhs.append(g + band[1])
        elif above_terrain and dem is not None:
            lo, la = transform(lx, ly, self.epsg, WGS84)
            g = self.followed(lo, la)
            h0 = cur[2] - self.ground_at(cur[0], cur[1])
            h1 = to[2] - self.ground_at(to[0], to[1])
            zs.append(np.where(np.isnan(g), cur[2] + t * dz, g + h0 + t * (h1 - h0)))
        else:
            zs.append(cur[2] + t * dz)
        if band is None or dem is None:
            zhs.append(zs[-1] if high is None else high[0] + t * (high[1] - high[0]))
        self.its.append(np.full(n, item, np.int64))
        self.phs.append(np.full(n, phase, np.int8))
        if high is not None:
            dz = high[1] - high[0]
        if timed:  # (a loiter circle's time is counted from its turns)
            self.duration += self._time_s(h, dz)
        self.length += math.hypot(h, dz)
        if h > 1.0:
            self.came_from = (cur[0], cur[1])
        self.cur = to

    def touchdown(
        self, to: tuple[float, float, float], item: int, high: tuple[float, float] | None = None
    ) -> None:
        """The landing descent to ``to`` on the ground, timed as the firmware lands
        (:func:`landing_time_s`; from the highest altitude ``high[0]`` when given)."""
        top = self.cur[2] if high is None else high[0]
        self.leg(to, item, 0, high=high, timed=False)
        drop = top - to[2]
        if math.isfinite(drop):
            ardupilot = self.mission.autopilot == AUTOPILOT_ARDUPILOT
            self.duration += landing_time_s(drop, self.descent_rate_m_s, ardupilot)

    def curve_leg(self, pts: FloatArray, item: int) -> None:
        """Fly from ``cur`` along ``pts`` (n × 3, the last one the destination)."""
        full = np.vstack([np.asarray(self.cur, float), pts])
        seg = np.diff(full, axis=0)
        h = float(np.hypot(seg[:, 0], seg[:, 1]).sum())
        dz = float(full[-1, 2] - full[0, 2])
        self.xs.append(pts[:, 0].copy())
        self.ys.append(pts[:, 1].copy())
        self.zs.append(pts[:, 2].copy())
        self.zhs.append(self.zs[-1])
        self.its.append(np.full(len(pts), item, np.int64))
        self.phs.append(np.full(len(pts), 1, np.int8))
        self.duration += self._time_s(h, dz)
        self.length += float(np.linalg.norm(seg, axis=1).sum())
        self.cur = (float(full[-1, 0]), float(full[-1, 1]), float(full[-1, 2]))

    def _time_s(self, h_m: float, dz_m: float) -> float:
        return leg_time_s(
            h_m, dz_m, self.v, self.accel_m_s2, self.climb_rate_m_s, self.descent_rate_m_s
        )

    def next_nav(self, k: int) -> int | None:
        """The index of the NAV command flown after item ``k`` (AP_Mission's get_next_nav_cmd:
        a DO_JUMP still to be taken is followed, not counted)."""
        items = self.mission.items
        j, seen = k + 1, 0
        while j < len(items) and seen < 1000:
            seen += 1
            nxt = items[j]
            if nxt.command == CMD_DO_JUMP:
                target, repeat = int(nxt.param1), int(nxt.param2)
                if 0 <= self.jumps.get(j, 0) < repeat and 0 <= target < len(items):
                    j = target
                    continue
            elif nxt.command in NAV_COMMANDS:
                return j
            j += 1
        return None

    def position_of(self, it: MissionItem) -> tuple[float, float, float] | None:
        """An item's position (metric x, y and AMSL), None without one or in a terrain frame."""
        if not it.has_position or it.command not in POSITION_COMMANDS:
            return None
        if canonical_frame(it.frame) == FRAME_GLOBAL_TERRAIN_ALT:
            return None
        x, y = self.xy_of[id(it)]
        z = self.amsl(it.frame, it.alt_m, x, y)
        return (x, y, z) if math.isfinite(z) else None

    def landing_legs(self, start: int) -> list[tuple[float, float, float]]:
        """The positions of the mission's landing from item ``start`` to its NAV_LAND (flown
        there at the altitude before it; the descent follows)."""
        out: list[tuple[float, float, float]] = []
        z = self.cur[2]
        end = self.land_idx if self.land_idx is not None else start
        for j in range(start, end + 1):
            lj = self.mission.items[j]
            if lj.command not in POSITION_COMMANDS or not lj.has_position:
                continue
            x, y = self.xy_of[id(lj)]
            if lj.command != CMD_NAV_LAND:
                zz = self.amsl(lj.frame, lj.alt_m, x, y)
                z = zz if math.isfinite(zz) else z
            out.append((x, y, z))
        return out

    def result(self, stopped_at: int | None, endless: int | None, returned: bool) -> Trajectory:
        X, Y, Z, ZH = (np.concatenate(a) for a in (self.xs, self.ys, self.zs, self.zhs))
        lon, lat = transform(X, Y, self.epsg, WGS84)
        return Trajectory(
            self.epsg,
            X,
            Y,
            Z,
            lon,
            lat,
            np.concatenate(self.its),
            np.concatenate(self.phs),
            (self.hx, self.hy),
            self.home_amsl,
            self.duration,
            self.length,
            returned,
            self.notes,
            stopped_at,
            endless,
            None if np.array_equal(Z, ZH, equal_nan=True) else ZH,
            self.loiter_unlimited,
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
    takeoff_alt_m: float | None = None,
) -> Trajectory:
    """Fly ``mission`` on paper and sample it every ``step_m`` metres (3-D).

    ``DO_CHANGE_SPEED`` sets the horizontal speed of the legs after it as the mission's
    autopilot takes it (:func:`speed_change`: ArduCopter speed types 0 and 1, PX4 any type, and
    a PX4 speed of 0 or less back to the first), capped at ``max_speed_m_s`` (the vehicle's top
    speed: a faster command is flown at it, so timing it faster would shorten the flight on
    paper), or lowers ArduCopter's climb (2) or descent (3) rate.

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
    (:func:`dronekit_plzen.rtl_cone.altitude_band_m`).

    ``takeoff_alt_m``: an ArduCopter mission without a take-off item starts in the air after
    the ground station's take-off (``fly --takeoff-alt``: GUIDED, straight up to this altitude
    above home); the first leg then leaves from there. ``None``: the climb is taken straight up
    to the first item's altitude (as PX4 climbs)."""
    check_altitudes(mission)
    if rtl is None and rtl_alt_m is not None:
        ap = "ardupilot" if mission.autopilot == AUTOPILOT_ARDUPILOT else "px4"
        rtl = rtl_cone.defaults(ap, return_alt_m=rtl_alt_m)
    elif rtl is not None and rtl_alt_m is not None:
        rtl = replace(rtl, return_alt_m=rtl_alt_m)
    f = _Flight(
        mission,
        dem,
        step_m,
        speed_m_s or mission.cruise_speed_m_s,
        (accel_m_s2, climb_rate_m_s, descent_rate_m_s),
        rtl,
    )
    f.takeoff_alt_m = takeoff_alt_m
    items = mission.items
    start_v = f.v
    override_v: float | None = None  # PX4: a ground speed the next leg may fly at
    #: the NAV leg flown last when the aircraft did not stop at its end (ap_spline.origin_vector)
    prev_leg: tuple[bool, ap_spline.Vec, ap_spline.Vec, ap_spline.Vec] | None = None
    returned = False
    endless: int | None = None
    k = 0
    steps = 0
    while k < len(items) and steps < max_items:
        steps += 1
        it = items[k]
        cmd = it.command
        if cmd == CMD_DO_JUMP:
            target, repeat = int(it.param1), int(it.param2)
            done = f.jumps.get(k, 0)
            if repeat < 0:
                f.notes.append(_("endless DO_JUMP at item {k}: flown once").format(k=k + 1))
                endless = k if endless is None else endless
            elif done < repeat and 0 <= target < len(items):
                f.jumps[k] = done + 1
                k = target
                continue
            k += 1
            continue
        restore_v = None
        if cmd in NAV_COMMANDS and not _circle_goes_on(f, it):
            f.leave_circle(swing=cmd in CIRCLE_SWUNG_OFF)
        if cmd in NAV_COMMANDS and override_v is not None:
            # PX4: the leg right after a ground-speed change may fly at it (px4_speed_override)
            restore_v, f.v, override_v = f.v, min(f.v, override_v), None
        if rtl is not None and cmd in NAV_COMMANDS and cmd != CMD_NAV_RETURN_TO_LAUNCH:
            wp = cmd in (CMD_NAV_WAYPOINT, CMD_NAV_SPLINE_WAYPOINT)
            f.rtl_tolerance_m = rtl.acceptance_m(max(0.0, it.param2)) if wp else 0.0
        if (
            f.on_ground
            and cmd in NAV_COMMANDS
            and cmd in POSITION_COMMANDS
            and cmd
            not in (
                CMD_NAV_TAKEOFF,
                CMD_NAV_LAND,
            )
        ):
            _climb_from_ground(f, it, k)
        if cmd == CMD_DO_CHANGE_SPEED:
            f.v, f.climb_rate_m_s, f.descent_rate_m_s = speed_change(
                it,
                mission.autopilot == AUTOPILOT_ARDUPILOT,
                (f.v, f.climb_rate_m_s, f.descent_rate_m_s),
                start_v,
                max_speed_m_s,
            )
            if mission.autopilot != AUTOPILOT_ARDUPILOT and (o := px4_speed_override(it)):
                override_v = o if override_v is None else min(override_v, o)
        elif cmd == CMD_NAV_TAKEOFF:
            _take_off(f, it, k)
            prev_leg = None
        elif cmd == CMD_NAV_RETURN_TO_LAUNCH:
            fly_rtl(f, k)
            returned = True
            prev_leg = None
        elif cmd == CMD_NAV_LAND:
            x, y = f.xy_of.get(id(it), f.cur[:2])
            f.leg((x, y, f.cur[2]), k, 1)
            f.touchdown((x, y, f.ground_at(x, y)), k)
            f.on_ground = True
            returned = True
            prev_leg = None
        elif (
            cmd == CMD_NAV_SPLINE_WAYPOINT
            and it.has_position
            and canonical_frame(it.frame) != FRAME_GLOBAL_TERRAIN_ALT
            and math.isfinite(f.cur[2])
            and (dest := f.position_of(it)) is not None
        ):
            # ArduCopter's curve (dronekit_plzen.ap_spline), not the straight line
            j = None if it.param1 > 0 else f.next_nav(k)
            nxt_it = items[j] if j is not None else None
            cur = f.cur
            ardupilot = mission.autopilot == AUTOPILOT_ARDUPILOT
            if ardupilot and ap_keeps_altitude(it):  # loc_from_cmd: the aircraft's altitude
                dest = (dest[0], dest[1], f.same_height(it.frame, dest[0], dest[1]))
            nxt = f.position_of(nxt_it) if nxt_it is not None else None
            if ardupilot and nxt is not None and nxt_it is not None and ap_keeps_altitude(nxt_it):
                nxt = (nxt[0], nxt[1], dest[2])  # get_spline_from_cmd: loc_from_cmd(next, dest)
            vo = ap_spline.origin_vector(prev_leg)
            vd = ap_spline.destination_vector(
                cur,
                dest,
                nxt,
                nxt_it is not None and nxt_it.command == CMD_NAV_SPLINE_WAYPOINT,
                it.param1 > 0,
            )
            span = ap_spline.curve_length(cur, dest, vo, vd)
            n = max(1, min(math.ceil(span / step_m), MAX_LEG_SAMPLES))
            f.curve_leg(ap_spline.spline_points(cur, dest, vo, vd, n), k)
            if it.param1 > 0:
                f.duration += it.param1  # hold time
            prev_leg = None if it.param1 > 0 else (True, cur, dest, vd)
        elif cmd in NAV_COMMANDS and cmd in POSITION_COMMANDS:
            origin = f.cur
            _fly_to_item(f, it, k)
            if cmd == CMD_NAV_LOITER_UNLIM and f.loiter_unlimited is None:
                f.loiter_unlimited = k
                f.notes.append(
                    _(
                        "item {k}: NAV_LOITER_UNLIM holds until the pilot or the battery "
                        "failsafe ends it: its time is not counted"
                    ).format(k=k + 1)
                )
            fast = cmd == CMD_NAV_WAYPOINT and it.param1 <= 0
            prev_leg = (False, origin, f.cur, ap_spline.ZERO) if fast else None
        elif cmd == CMD_NAV_DELAY:  # the aircraft waits where it is
            wait_s, clock = nav_delay_s(it, mission.autopilot == AUTOPILOT_ARDUPILOT)
            f.duration += wait_s
            if clock:
                f.notes.append(
                    _(
                        "item {k}: NAV_DELAY waits for a time of day (UTC): counted as its "
                        "longest wait, {t:.0f} s"
                    ).format(k=k + 1, t=wait_s)
                )
            prev_leg = None
        elif cmd in NAV_COMMANDS:
            prev_leg = None  # take-off, RTL, land: the aircraft stops
        if restore_v is not None:
            f.v = restore_v
        k += 1
    f.leave_circle()
    return f.result(k if k < len(items) else None, endless, returned)


def px4_speed_override(it: MissionItem) -> float | None:
    """The speed PX4's flight mode manager takes from a DO_CHANGE_SPEED for the leg it is flying
    (``FlightModeManager``: ground speed, type ``uint8(param1 + 0.5) == 1``, and a positive
    speed), else None. It outlasts the navigator's setpoint published before it: DO commands are
    issued with the next leg's setpoint, so that leg flies at it, and the legs after at the
    navigator's speed (:func:`speed_change`). Seen on PX4 SITL: ground speed 3 m/s then a climb
    speed of 2 m/s before a leg, the setpoint said 2 m/s and the leg was flown at 3 m/s."""
    t = it.param1 + 0.5
    if math.isfinite(t) and 1.0 <= t < 2.0 and it.param2 > 0:
        return float(it.param2)
    return None


def speed_change(
    it: MissionItem,
    ardupilot: bool,
    speeds: tuple[float, float, float],
    start_v: float,
    max_speed_m_s: float | None = None,
) -> tuple[float, float, float]:
    """(legs' speed, climb rate, descent rate) in m/s after a DO_CHANGE_SPEED, as the firmware
    runs it, from ``speeds`` before it. ArduCopter (``ModeAuto::do_change_speed``): a positive
    speed of type 0 or 1 (its uint8) sets the legs' speed, 2 the climb and 3 the descent rate,
    anything else nothing. PX4 (``Navigator``'s vehicle command): a positive speed of any type
    sets the legs' speed (type 2 at 2 m/s flew a 150 m leg at 2 m/s on PX4 SITL), none resets it
    to the default, ``start_v``. A climb or descent rate counts only when slower (the vehicle's
    own may be slower than the walk's); the legs' speed is capped at ``max_speed_m_s``. A type
    outside 0..255 is a cast whose result differs between SITL (wrapped) and the flight
    controller (saturated): for ArduPilot only a slower speed counts then."""
    v, climb, descent = speeds
    speed = float(it.param2)
    kind = math.trunc(it.param1) if math.isfinite(it.param1) else 1
    if not speed > 0:
        return (v if ardupilot else start_v), climb, descent
    if max_speed_m_s is not None and max_speed_m_s > 0:
        speed = min(speed, max_speed_m_s)
    if ardupilot and not 0 <= kind <= 255:
        return min(v, speed), climb, descent
    if ardupilot and kind == 2:
        return v, min(climb, speed), descent
    if ardupilot and kind == 3:
        return v, climb, min(descent, speed)
    if ardupilot and kind not in (0, 1):
        return v, climb, descent
    return speed, climb, descent


def ap_loiter_turns(turns: float, radius_m: float) -> tuple[float, float]:
    """(turns, radius in metres) of a LOITER_TURNS as ArduCopter flies it (``AP_Mission``
    stores whole turns, or 1/256 turns below one, and the radius in whole metres, or 10 m steps
    above 255 m); parameters within :data:`STORED_RANGES`, NaN as 0."""
    t = 0.0 if math.isnan(turns) else turns
    t = math.trunc(t * 256) / 256 if 0 < t < 1 else float(math.trunc(min(t, 255.0)))
    r = 0.0 if math.isnan(radius_m) else abs(radius_m)
    r = float(math.trunc(r)) if r <= 255 else min(255, math.trunc(r * 0.1)) * 10.0
    return t, r


def _circle(
    f: _Flight, it: MissionItem, k: int, centre: tuple[float, float, float], terrain: bool
) -> None:
    """ArduCopter's LOITER_TURNS (``ModeAuto::circle_movetoedge_start``, ``AC_Circle``): to the
    point of the circle closest to the aircraft, at the item's altitude; round the circle from
    there, clockwise (counter-clockwise for a negative radius), for its turns, which end with
    the aircraft a trail short of their end (:func:`ap_circle_trail_rad`), on the circle, not
    at its centre (the guard had flown back to the centre: on ArduCopter SITL the leg after a
    25 m circle left 11.6 m from the walk). Where the next leg leaves from:
    :func:`_circle_goes_on` and :data:`CIRCLE_SWUNG_OFF`."""
    f.circle_exit = None  # begun where the last circle left the aircraft
    x, y, z = centre
    turns, r = ap_loiter_turns(it.param1, it.param3)
    r = r or 10.0  # 0: CIRCLE_RADIUS, 10 m by default
    f.duration += turns * 2 * math.pi * r / ap_circle_speed_m_s(f.v, f.accel_m_s2, r)
    # circle_movetoedge_start: more than 3 m from the centre (in 3-D: below the circle counts)
    # the aircraft first flies to the centre plus its offset scaled to the radius by that 3-D
    # distance, at the circle's altitude (the closest point when level with it)
    cx, cy, cz = f.cur
    dz = cz - z if math.isfinite(cz - z) else 0.0
    d3 = math.sqrt((cx - x) ** 2 + (cy - y) ** 2 + dz**2)
    if d3 > CIRCLE_AT_CENTRE_M:
        cx, cy = x + (cx - x) / d3 * r, y + (cy - y) / d3 * r
        f.leg((cx, cy, z), k, 1, above_terrain=terrain)
    if math.hypot(cx - x, cy - y) > 0.5:
        a0 = math.atan2(cx - x, cy - y)  # AC_Circle::init_start_angle: from where it is
    elif f.came_from is not None:
        # at the centre: behind the aircraft (its heading less 180°), where the last leg began
        a0 = math.atan2(f.came_from[0] - x, f.came_from[1] - y)
    else:
        # the heading is not known (no leg flown yet): taken as north, the circle from south
        a0 = math.pi
        f.note_once(
            _(
                "item {k}: the circle starts behind the aircraft, whose heading is not known "
                "(taken as north): the leg after it may leave from elsewhere on the circle"
            ).format(k=k + 1)
        )
    f.leg((x + r * math.sin(a0), y + r * math.cos(a0), z), k, 1, above_terrain=terrain)
    if turns <= 0:
        return
    # the turns are counted on the circle's moving point, which the aircraft trails: it is
    # short of their end when they are done (at most half the arc on a short one)
    short = min(ap_circle_trail_rad(f.v, f.accel_m_s2, r), math.pi * turns)
    flown = turns - short / (2 * math.pi)
    # one turn covers every point of the circle (the others repeat it), then the part of a
    # turn left, which ends where the aircraft is when the turns are done
    arc = flown if flown < 1 else 1.0 + (flown - math.floor(flown))
    sense = -1.0 if it.param3 < 0 else 1.0
    n = max(2, math.ceil(LOITER_CIRCLE_VERTICES * arc))
    for a in a0 + sense * np.linspace(0.0, 2 * math.pi * arc, n + 1)[1:]:
        on = (x + r * math.sin(a), y + r * math.cos(a), z)
        f.leg(on, k, 1, above_terrain=terrain, timed=False)
    end = a0 + sense * 2 * math.pi * turns
    f.circle_exit = ((x + r * math.sin(end), y + r * math.cos(end), z), k, terrain)


#: NAV commands whose leg after an ArduCopter circle leaves from where the circle left the
#: aircraft (AC_WPNav's line from there), the aircraft carrying on round the circle as it turns
#: onto it; the guard walks both. On SITL, after half an 80 m circle the leg to a waypoint
#: behind the aircraft kept within 5.3 m of these walks (15.9 m from a leg from the circle's
#: end), after a quarter of one the leg to a 16 m circle elsewhere within 4.1 m (13.8 m).
#: Others (an RTL, a landing, a take-off that climbs) leave from where the circle's point ended
CIRCLE_SWUNG_OFF = frozenset({CMD_NAV_WAYPOINT, CMD_NAV_SPLINE_WAYPOINT, CMD_NAV_LOITER_TURNS})


def _circle_goes_on(f: _Flight, it: MissionItem) -> bool:
    """True when ``it`` keeps an ArduCopter circle's end where the aircraft is: a circle
    whose edge is within 3 m of it (``circle_movetoedge_start`` flies no leg to the edge, and
    ``AC_Circle::init_start_angle`` starts it from the aircraft's position: the same circle
    flown again), or a take-off in the air within 1 m of its altitude, done at once. Seen on
    SITL: a 28 m circle flown three times through a DO_JUMP back to such a take-off ended 40°
    short; one whose take-off climbed 4 m first stopped where the point had ended and began the
    next circle there. Anything else is flown to as :data:`CIRCLE_SWUNG_OFF` says."""
    if f.mission.autopilot != AUTOPILOT_ARDUPILOT or f.circle_exit is None:
        return False
    if it.command == CMD_NAV_LOITER_TURNS:
        cx, cy, cz = f.cur
        x, y = f.xy_of.get(id(it), (cx, cy))
        at = f.position_of(it)
        z = at[2] if at is not None and not ap_keeps_altitude(it) else cz
        _turns, r = ap_loiter_turns(it.param1, it.param3)
        off = math.hypot(math.hypot(cx - x, cy - y) - (r or 10.0), cz - z)
        return off <= CIRCLE_AT_CENTRE_M
    if it.command != CMD_NAV_TAKEOFF or f.on_ground:
        return False
    cx, cy, cz = f.cur
    z = f.amsl(it.frame, it.alt_m, cx, cy)
    return not (math.isfinite(z) and z > cz + AP_TAKEOFF_DONE_M)


def _take_off(f: _Flight, it: MissionItem, k: int) -> None:
    """NAV_TAKEOFF as the firmware flies it: straight up where the aircraft is. ArduCopter
    (``ModeAuto::takeoff_start``) ignores the item's position and never descends (from the
    ground at least 1 m up); PX4 (``Mission::handleTakeoff``) climbs where it is, then flies to
    the item's position at that altitude, and in the air takes the item as a waypoint."""
    cx, cy, cz = f.cur
    ardupilot = f.mission.autopilot == AUTOPILOT_ARDUPILOT
    x, y = f.xy_of.get(id(it), (cx, cy))
    if not ardupilot and not f.on_ground:
        f.leg((x, y, f.amsl(it.frame, it.alt_m, x, y)), k, 1)
        return
    z = f.amsl(it.frame, it.alt_m, cx, cy)
    if math.isfinite(z):
        z = max(z, cz + (1.0 if f.on_ground and ardupilot else 0.0))
    f.leg((cx, cy, z), k, 0)
    f.on_ground = False
    if not ardupilot and math.hypot(x - cx, y - cy) > TAKEOFF_MOVE_M:
        f.leg((x, y, z), k, 1)


def _climb_from_ground(f: _Flight, it: MissionItem, k: int) -> None:
    """The first NAV item flown from the ground without a take-off: straight up to its
    altitude where the aircraft is. PX4 climbs so before it flies a mission's first item
    (``MissionBase::checkClimbRequired``); ArduCopter does not start a mission on the ground
    without a take-off item ("Auto: Missing Takeoff Cmd"), the pilot takes off, and the guard
    takes the climb as PX4's, or, when it is known (``fly``), as the ground station's take-off
    straight up to ``f.takeoff_alt_m`` above home, from where the first leg leaves. An item that
    keeps the aircraft's altitude climbs nothing (but from that take-off)."""
    f.on_ground = False
    cx, cy, cz = f.cur
    if f.mission.autopilot == AUTOPILOT_ARDUPILOT and f.takeoff_alt_m is not None:
        # fly climbs to a take-off item's altitude found later in the mission, as it does
        z = f.home_amsl + f.takeoff_alt_m
        for t in f.mission.items:
            if t.command == CMD_NAV_TAKEOFF:
                zt = f.amsl(t.frame, t.alt_m, cx, cy)
                z = zt if math.isfinite(zt) and zt > f.home_amsl else z
                break
        f.note_once(
            _(
                "no take-off item first: the take-off climbs straight up to {alt:.0f} m above "
                "home at the launch point and the mission starts from there"
            ).format(alt=z - f.home_amsl)
        )
        f.leg((cx, cy, max(z, cz + 1.0)), k, 0)
        return
    if f.mission.autopilot == AUTOPILOT_ARDUPILOT and (
        ap_keeps_altitude(it) or it.command == CMD_NAV_PAYLOAD_PLACE
    ):
        return
    x, y = f.xy_of.get(id(it), (cx, cy))
    if canonical_frame(it.frame) == FRAME_GLOBAL_TERRAIN_ALT:
        z = f.ground_at(cx, cy) + it.alt_m
    else:
        z = f.amsl(it.frame, it.alt_m, x, y)
    if not (math.isfinite(z) and z > cz + CLIMB_FIRST_M):
        return
    f.note_once(
        _(
            "no take-off item: the climb to the first item's altitude is taken straight up "
            "at the launch point (PX4 climbs so; ArduCopter needs the pilot's take-off)"
        )
    )
    f.leg((cx, cy, z), k, 0)


def _fly_to_item(f: _Flight, it: MissionItem, k: int) -> None:
    """A positioned NAV item other than take-off, RTL, landing and a spline with its curve:
    the leg to it, then what it does there (hold, loiter turns, payload place)."""
    cmd = it.command
    cur = f.cur
    if it.has_position:
        x, y = f.xy_of[id(it)]
        z = f.amsl(it.frame, it.alt_m, x, y)
        ardupilot = f.mission.autopilot == AUTOPILOT_ARDUPILOT
        if cmd == CMD_NAV_PAYLOAD_PLACE or (ardupilot and ap_keeps_altitude(it)):
            # ArduCopter flies a payload place at the aircraft's altitude whatever the item's
            # (do_payload_place: shift_alt_to_current_alt), and an item whose altitude is 0
            # (below 1 cm) at the aircraft's too (loc_from_cmd), in the item's frame
            z = f.same_height(it.frame, x, y)
    else:
        # latitude = longitude = 0: ArduCopter flies it where the aircraft is, and an
        # altitude of 0 keeps the aircraft's (ModeAuto::loc_from_cmd)
        x, y = cur[0], cur[1]
        z = cur[2] if it.alt_m == 0 else f.amsl(it.frame, it.alt_m, x, y)
    terrain = canonical_frame(it.frame) == FRAME_GLOBAL_TERRAIN_ALT
    if cmd == CMD_NAV_LOITER_TURNS and f.mission.autopilot == AUTOPILOT_ARDUPILOT:
        _circle(f, it, k, (x, y, z), terrain)
        return
    f.leg((x, y, z), k, 1, above_terrain=terrain)
    if cmd == CMD_NAV_LOITER_TIME:
        f.duration += max(0.0, it.param1)
    elif cmd == CMD_NAV_LOITER_TURNS:
        turns, r = ap_loiter_turns(it.param1, it.param3)
        r = r or 10.0  # 0: CIRCLE_RADIUS, 10 m by default
        f.duration += turns * 2 * math.pi * r / f.v
        if turns != 0:
            # ArduCopter flies out to the circle and around it: one turn sampled (the
            # others repeat it), then back to the centre, where the next leg starts
            centre = f.cur
            for a in np.linspace(0.0, 2 * math.pi, LOITER_CIRCLE_VERTICES + 1):
                on = (centre[0] + r * math.sin(a), centre[1] + r * math.cos(a), centre[2])
                f.leg(on, k, 1, above_terrain=terrain, timed=False)
            f.leg(centre, k, 1, above_terrain=terrain, timed=False)
    elif it.param1 > 0 and it.command == 16:
        f.duration += it.param1  # hold time
    elif cmd == CMD_NAV_PAYLOAD_PLACE:
        # ArduCopter lowers the payload to the ground (at most param1 metres, 0: no
        # limit), releases it and climbs back to the item's altitude
        g = f.ground_at(x, y)
        drop = f.cur[2] - g if it.param1 <= 0 else min(it.param1, f.cur[2] - g)
        if math.isfinite(drop) and drop > 0:
            top = f.cur
            f.leg((x, y, f.cur[2] - drop), k, 0)
            f.leg(top, k, 0)
    elif cmd == CMD_NAV_SPLINE_WAYPOINT:  # (in a terrain frame, or without a known altitude)
        f.note_once(
            _(
                "spline waypoints checked along straight legs: the firmware's curve "
                "between them bends off the line"
            )
        )
