"""The simulated autopilots fly a mission where the safety guard's walk has it (property).

Random missions (take-off, waypoints with holds, altitude-0 waypoints, loiters, spline waypoints,
NAV_DELAY, DO_CHANGE_SPEED of every type, DO_JUMP, then RTL, a landing or nothing) are flown in
the PX4 and ArduCopter simulators and walked by the guard (``missions.trajectory``). Every
flown position must lie within 12 m of the walk and within 3 m of the altitudes the walk has
there, and the flight must not take much longer than the walk's time. Both sides imitate the
firmware (each is checked against it on SITL in ``tests/interop``); where they disagree one of
them is wrong. Found when this was written, each fixed in the simulator and checked against the
firmware source: legs flown with each axis at its own speed (a climb done in the first half of
the leg, 6 m above the walk; both firmwares fly the straight 3-D line), NAV_DELAY held at the
take-off point instead of where the aircraft was, PX4 keeping its altitude for a take-off
reached again in the air (a DO_JUMP back to it: PX4 flies it as a waypoint), a spline stalled
for good where its curve began with a loop shorter than the follower's lookahead, and
ArduCopter splines that began at the ground after an altitude-0 waypoint or at the take-off's
planned position. Later (``make fuzz``): ArduCopter circles aimed ahead of their moving point
and ended past it; SITL trails the point and ends short. A straight ArduCopter leg begun with the
aircraft moving across it (it over-shot the last point) swung wide of the line; AC_WPNav's
target moves along the line from the last destination and pulls the aircraft back onto it.
Then the guard was wrong: it ended every ArduCopter circle at its full turn, where the aircraft
(trailing the point) is short of it, and a circle flown again through a DO_JUMP begins there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from dkp_testkit import (
    circle_aside_jump_mission,
    circle_inside_radius_mission,
    circle_jump_mission,
    loiter_turns,
    off_the_walk,
    random_mission,
    sim_with_mission,
    spline_jump_mission,
    start_sim_mission,
    wide_then_far_circle_mission,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from dronekit_plzen import mission_items as mi
from dronekit_plzen import rtl_cone
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.trajectory import trajectory

HOME = (49.7475, 13.3776, 310.0)
DT_S = 0.05
M_PER_DEG = 111_200.0
NEAR_M = 15.0  # a circle is left at its speed: the aircraft swings out before the next leg
ALT_TOL_M = 5.0  # PX4 turns (and starts an RTL) up to NAV_ACC_RAD, 10 m, before a waypoint


def _place(east_m: float, north_m: float) -> tuple[float, float]:
    return (
        HOME[0] + north_m / M_PER_DEG,
        HOME[1] + east_m / (M_PER_DEG * math.cos(math.radians(HOME[0]))),
    )


def _fly(ap: bool, items: list[mi.MissionItem]) -> tuple[Any, np.ndarray, float]:
    """The simulated flight: (vehicle, east/north/up every 0.2 s, seconds from arming)."""
    # the link sends ArduPilot a DO_JUMP's target shifted by its home at sequence 0
    wire = [
        it.with_(param1=it.param1 + 1) if ap and it.command == mi.CMD_DO_JUMP else it
        for it in items
    ]
    vm = sim_with_mission(wire, "ardupilot" if ap else "px4", HOME)
    start_sim_mission(vm, settle_s=120 * DT_S, dt_s=DT_S)
    t0 = vm.t_s
    track = []
    for i in range(int(900 / DT_S)):
        vm.step(DT_S)
        if i % 4 == 0:
            track.append((vm.pos[0], vm.pos[1], vm.pos[2]))
        if not vm.armed or vm.runner.finished:
            break
    return vm, np.array(track), vm.t_s - t0


def _check(ap: bool, items: list[mi.MissionItem]) -> None:
    vm, track, flown_s = _fly(ap, items)
    m = Mission(items=items, home=(HOME[1], HOME[0], HOME[2]))
    m.autopilot = AUTOPILOT_ARDUPILOT if ap else AUTOPILOT_PX4
    cruise = vm.p("WPNAV_SPEED") / 100.0 if ap else vm.p("MPC_XY_CRUISE")
    rtl = rtl_cone.defaults("ardupilot" if ap else "px4")
    tr = trajectory(m, speed_m_s=cruise, rtl=rtl)
    walk = np.array([vm.geo.to_enu(la, lo, z) for lo, la, z in zip(tr.lon, tr.lat, tr.alt)])
    top = walk[:, 2] if tr.alt_max is None else tr.alt_max - vm.geo.alt0_m
    home_up = vm.home[2]
    walk[:, 2] -= home_up
    flown = track - np.array([0.0, 0.0, home_up])
    problem = off_the_walk(walk, top - home_up, flown, NEAR_M, ALT_TOL_M)
    assert problem is None, (problem, [_brief(it) for it in items])
    assert flown_s <= 1.3 * tr.duration_s + 30.0, (flown_s, tr.duration_s)


def _brief(it: mi.MissionItem) -> str:
    e, n = _east_north(it.lat_deg, it.lon_deg) if it.has_position else (0.0, 0.0)
    where = f"({e:.0f} E {n:.0f} N {it.alt_m:.1f} m)"
    return f"{it.command} {where} p {it.param1:g} {it.param2:g} {it.param3:g}"


def _east_north(lat: float, lon: float) -> tuple[float, float]:
    return (
        (lon - HOME[1]) * M_PER_DEG * math.cos(math.radians(HOME[0])),
        (lat - HOME[0]) * M_PER_DEG,
    )


@settings(max_examples=100, deadline=None)
@given(st.randoms(use_true_random=False), st.booleans())
def test_property_the_simulator_flies_where_the_guard_walks(rng: Any, ap: bool) -> None:
    _check(ap, random_mission(rng, ap, HOME))


def test_a_spline_beginning_with_a_loop_is_flown_to_its_end() -> None:
    """The stall: a spline after a leg that ran the other way (its curve begins with a loop
    shorter than the follower's 12 m lookahead), then a spline up to 48 m."""
    north_east = _place(129.0, 198.0)
    south_west = _place(-175.0, -122.0)
    up_north = _place(-48.0, 126.0)
    items = [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=34.8),
        mi.MissionItem(16, frame=3, lat_deg=north_east[0], lon_deg=north_east[1], alt_m=23.2),
        mi.MissionItem(82, frame=3, lat_deg=south_west[0], lon_deg=south_west[1], alt_m=11.2),
        mi.MissionItem(82, frame=3, lat_deg=up_north[0], lon_deg=up_north[1], alt_m=48.0),
        mi.MissionItem(mi.CMD_NAV_LAND, frame=3, lat_deg=HOME[0], lon_deg=HOME[1]),
    ]
    _check(True, items)


def test_a_delay_is_held_where_the_aircraft_is() -> None:
    """NAV_DELAY at a waypoint 100 m east and north: the aircraft waits there, then lands (it
    had flown back toward the take-off point, off every leg of the mission)."""
    a, b = _place(100.0, 0.0), _place(100.0, 100.0)
    items = [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=16.5),
        mi.MissionItem(16, frame=3, lat_deg=a[0], lon_deg=a[1], alt_m=30.0),
        mi.MissionItem(16, frame=3, lat_deg=b[0], lon_deg=b[1], alt_m=55.2),
        mi.MissionItem(mi.CMD_NAV_DELAY, frame=2, param1=20.0, param2=-1, param3=-1, param4=-1),
        mi.MissionItem(mi.CMD_NAV_LAND, frame=3, lat_deg=b[0], lon_deg=b[1]),
    ]
    for ap in (True, False):
        _check(ap, items)


def test_px4_flies_a_take_off_reached_again_in_the_air_as_a_waypoint() -> None:
    """A DO_JUMP back to the take-off from 52 m, 150 m east and north: PX4 flies it to its
    altitude, 18 m, on the diagonal home (the simulator had kept 52 m)."""
    a, b = _place(150.0, 0.0), _place(150.0, 150.0)
    items = [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=18.2),
        mi.MissionItem(16, frame=3, lat_deg=a[0], lon_deg=a[1], alt_m=18.2),
        mi.MissionItem(16, frame=3, lat_deg=b[0], lon_deg=b[1], alt_m=52.2),
        mi.MissionItem(mi.CMD_DO_JUMP, frame=2, param1=0.0, param2=1.0),
        mi.MissionItem(mi.CMD_NAV_LAND, frame=3, lat_deg=b[0], lon_deg=b[1]),
    ]
    _check(False, items)


def test_a_spline_after_an_altitude_0_waypoint_starts_at_the_aircrafts_altitude() -> None:
    a, b = _place(60.0, -150.0), _place(-120.0, 80.0)
    items = [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=35.3),
        mi.MissionItem(16, frame=3, lat_deg=a[0], lon_deg=a[1], alt_m=0.0),
        mi.MissionItem(82, frame=3, lat_deg=b[0], lon_deg=b[1], alt_m=56.8),
        mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]
    _check(True, items)


def test_an_ardupilot_circle_is_flown_round_its_edge() -> None:
    """LOITER_TURNS with a 60 m radius 200 m north: to the closest point of the circle, round it
    and on from there (the simulator had held at the centre for the circle's time, the guard had
    gone back to the centre: both 60 m from the flown leg after it)."""
    centre, east = _place(0.0, 200.0), _place(150.0, 150.0)
    items = [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=30.0),
        loiter_turns(centre[0], centre[1], 30.0, 1.0, 60.0),
        mi.MissionItem(16, frame=3, lat_deg=east[0], lon_deg=east[1], alt_m=30.0),
        mi.MissionItem(mi.CMD_NAV_LAND, frame=3, lat_deg=east[0], lon_deg=east[1]),
    ]
    _check(True, items)


def test_an_ardupilot_spline_at_altitude_0_keeps_the_aircrafts_altitude() -> None:
    """ArduCopter flies a spline waypoint whose altitude is 0 at the aircraft's altitude
    (``do_spline_wp`` → ``loc_from_cmd``), along its curve, and a next item at altitude 0 takes
    the spline's end altitude for the curve's end direction. The guard and the simulator had
    flown it down to the home's height."""
    a, b, c = _place(60.0, 100.0), _place(-80.0, 200.0), _place(50.0, 300.0)
    items = [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=30.0),
        mi.MissionItem(16, frame=3, lat_deg=a[0], lon_deg=a[1], alt_m=45.0),
        mi.MissionItem(82, frame=3, lat_deg=b[0], lon_deg=b[1], alt_m=0.0),
        mi.MissionItem(82, frame=3, lat_deg=c[0], lon_deg=c[1], alt_m=0.0),
        mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]
    _check(True, items)
    m = Mission(items=items, home=(HOME[1], HOME[0], HOME[2]))
    m.autopilot = AUTOPILOT_ARDUPILOT
    tr = trajectory(m)
    # at 45 m (the curve bulges a little up, continuing the climb of the leg before it)
    on_splines = (tr.item == 2) | (tr.item == 3)
    assert np.all(np.abs(tr.alt[on_splines] - (HOME[2] + 45.0)) < 3.0)
    assert tr.alt[tr.item == 2][-1] == pytest.approx(HOME[2] + 45.0, abs=0.1)


def _circle_jump_mission() -> list[mi.MissionItem]:
    return circle_jump_mission(HOME)


def test_a_circle_after_a_jump_back_to_the_take_off() -> None:
    """Found by ``make fuzz``: a take-off to 14 m, a 16 m circle at 10 m round the take-off
    point, a DO_JUMP back to the take-off twice, a waypoint 128 m south, RTL. ArduCopter SITL
    (``tests/interop``, ``test_circle_flown_where_the_guard_walks[circle_jump]``) stops where the
    circle ended, climbs to 14 m there, comes down to the circle and goes round again from
    there; it flew within 7.2 m of the guard's walk. The simulator had kept climbing on round
    the circle (to 11 m), ending each circle further on, and left 15 m off the walk."""
    _check(True, _circle_jump_mission())


def test_an_ardupilot_circle_ends_trailing_its_point() -> None:
    """``AC_Circle::update_cms`` hands the position controller the circle's moving point
    without its velocity, so ArduCopter trails it; the turns are counted on the point, so the
    aircraft is short of their end when they are done: on SITL 16° short on a 16 m circle at
    4.5 m/s (the simulator had aimed ahead of the point and ended past it). Then it stops (a
    take-off in the air) and climbs to the take-off's 14 m where it stopped."""
    wire = [
        it.with_(param1=it.param1 + 1) if it.command == mi.CMD_DO_JUMP else it
        for it in _circle_jump_mission()
    ]
    vm = sim_with_mission(wire, "ardupilot", HOME)
    for _ in range(120):
        vm.step(DT_S)
    assert (vm.set_mode("GUIDED"), vm.arm(), vm.mission_start()) == (0, 0, 0)
    short_deg: list[float] = []  # how far short of the circle's end (south) each circle ended
    starts: list[tuple[float, float]] = []  # where each take-off in the air began
    peaks: list[float] = []  # the height above home it climbed to there
    was_circling = False
    for _ in range(int(300 / DT_S)):
        vm.step(DT_S)
        seq = vm.runner.seq
        if seq != 2 and was_circling:
            # clockwise from south: west of south is past the end, east of it short of it
            short_deg.append(math.degrees(math.atan2(vm.pos[0], -vm.pos[1])))
        if seq == 1 and was_circling:
            starts.append((vm.pos[0], vm.pos[1]))
            peaks.append(0.0)
        if seq == 1 and starts:
            e0, n0 = starts[-1]
            assert math.hypot(vm.pos[0] - e0, vm.pos[1] - n0) < 4.5, "drifted on while climbing"
        if starts and seq in (1, 2):
            peaks[-1] = max(peaks[-1], vm.pos[2] - vm.home[2])
        was_circling = seq == 2
        if vm.runner.finished or seq > 3:
            break
    assert len(short_deg) == 3 and len(starts) == 2
    assert all(5.0 < d < 30.0 for d in short_deg), short_deg
    assert min(peaks) > 13.0, peaks  # the take-off's 14 m (it completes within 1 m of it)


def test_ardupilot_circles_flown_again_each_begin_where_the_last_left_the_aircraft() -> None:
    """Found by ``make fuzz``: a take-off to 10 m, one turn of a 28 m circle round a point 22 m
    east, a DO_JUMP back to the take-off twice, a waypoint 90 m east and 12 m north, RTL. The
    take-off is reached at once in the air, so each circle begins where the last left the
    aircraft, 13° short of its end: ArduCopter SITL (``tests/interop``,
    ``test_circle_flown_where_the_guard_walks[circle_aside_jump]``) and the simulator both left the
    third about 40° short. The guard ended every circle at its full turn and walked the leg from
    there, 15 m from where the simulator flew it; it now ends each a trail short
    (``mission_items.ap_circle_trail_rad``)."""
    _check(True, circle_aside_jump_mission(HOME))


def test_a_circle_elsewhere_after_a_wide_circle_is_flown_to_from_where_its_point_ended() -> None:
    """Found by a circle-heavy search of random missions: a quarter of an 80 m circle (10 m/s
    round it, 20 m behind its point), then two turns of a 16 m circle 150 m away at 40 m, RTL.
    The aircraft carries on round the first circle as it turns toward the second; the guard
    had begun that leg where the first circle left the aircraft, a trail short of its end, and
    the simulator flew 26 m from it (``tests/interop``:
    ``test_circle_flown_where_the_guard_walks[wide_then_far_circle]``)."""
    _check(True, wide_then_far_circle_mission(HOME))


def test_a_circle_after_a_waypoint_inside_the_radius_starts_where_ardupilot_starts_it() -> None:
    """Found by ``make fuzz``: take-off to 10 m, a waypoint there, one 1 m north, one turn of a
    16 m circle round the take-off point, RTL. The 1 m waypoint is inside WPNAV_RADIUS: the
    simulator took it as reached before the aircraft moved, then began the circle behind the
    aircraft (south) as if it stood at the centre, and climbed for the RTL 32 m from where
    the guard has it. ArduCopter's circle begins from its position target (``pos_desired``),
    the waypoint 1 m north (``AC_Circle::init_start_angle``): north, as the guard walks it."""
    items = circle_inside_radius_mission(HOME)
    _check(True, items)


def test_an_ardupilot_leg_begun_across_its_line_is_flown_back_onto_it() -> None:
    """Found by ``make fuzz``: a take-off to 10 m, a spline 106 m east and 108 m south, a
    DO_JUMP back to the take-off once, a waypoint 139 m south, RTL. The spline ends at speed
    (its next NAV command is the take-off, reached in the air: complete at once), so the aircraft
    over-shoots the spline's end by 16 m south-east before the waypoint leg west begins. On
    ArduCopter SITL (``tests/interop``, ``test_a_spline_then_a_jump_back_to_the_take_off``) it
    is pulled back to the line within 4 m of the spline's end and flies along it, within 8.9 m
    of the guard's walk. The simulator had aimed straight at the waypoint and swung wide, 15 m
    off the walk; it now comes back to the line as AC_WPNav's moving target brings it."""
    items = spline_jump_mission(HOME)
    _check(True, items)
    wire = [it.with_(param1=it.param1 + 1) if it.command == mi.CMD_DO_JUMP else it for it in items]
    vm = sim_with_mission(wire, "ardupilot", HOME)
    for _ in range(120):
        vm.step(DT_S)
    assert (vm.set_mode("GUIDED"), vm.arm(), vm.mission_start()) == (0, 0, 0)
    # the waypoint leg's line, from the spline's end to the waypoint (east, north)
    o = np.array(_east_north(items[1].lat_deg, items[1].lon_deg))
    d = np.array(_east_north(items[3].lat_deg, items[3].lon_deg))
    u = (d - o) / np.linalg.norm(d - o)
    worst_after_10_m = 0.0
    for _ in range(int(120 / DT_S)):
        vm.step(DT_S)
        if vm.runner.seq == 5:
            break
        if vm.runner.seq == 4:
            p = np.array([vm.pos[0], vm.pos[1]]) - o
            along = float(p @ u)
            if along > 10.0:  # 10 m along the leg, the aircraft is back on its line
                worst_after_10_m = max(worst_after_10_m, abs(float(p[0] * u[1] - p[1] * u[0])))
    assert vm.runner.seq == 5
    assert worst_after_10_m < 3.0, worst_after_10_m
