"""DO_CHANGE_SPEED in the simulated autopilots, as both SITLs flew it (pure, simulated time).

The mission (take-off; ground speed 2 m/s; climb speed 4 m/s; a leg of 150 m north; a speed
of -1; the leg back; land) was flown on ArduCopter 4.7.0-dev and PX4 (v1.16 line) SITL
(``tests/interop/test_interop_flight.py::test_speed_changes_flown_as_the_guard_times_them``):
ArduCopter flew both legs at 2 m/s (type 2 is its climb speed, a speed of -1 is ignored); PX4
flew the first at 2 m/s (its flight mode manager takes the ground speed issued with the leg,
though the navigator's setpoint said 4 m/s: any type is a cruise speed to it) and the second at
MPC_XY_CRUISE (the navigator resets it without a speed). The safety guard times the legs the
same way (``missions.trajectory``); the three are checked against each other here.
"""

from __future__ import annotations

import statistics

import pytest
from dkp_testkit import sim_with_mission, start_sim_mission

from dronekit_plzen import mission_items as mi
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.trajectory import trajectory

HOME = (49.7475, 13.3776, 310.0)
DT_S = 0.05
M_PER_DEG = 111_200.0
LEG_M = 150.0


def _items() -> list[mi.MissionItem]:
    north = HOME[0] + LEG_M / M_PER_DEG

    def speed(kind: float, m_s: float) -> mi.MissionItem:
        return mi.MissionItem(mi.CMD_DO_CHANGE_SPEED, frame=2, param1=kind, param2=m_s)

    def at(lat: float) -> mi.MissionItem:
        return mi.MissionItem(mi.CMD_NAV_WAYPOINT, frame=3, lat_deg=lat, lon_deg=HOME[1], alt_m=15)

    return [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=15),
        speed(1, 2.0),
        speed(2, 4.0),
        at(north),
        speed(1, -1.0),
        at(HOME[0]),
        mi.MissionItem(mi.CMD_NAV_LAND, frame=3, lat_deg=HOME[0], lon_deg=HOME[1]),
    ]


def _leg_speeds(autopilot: str) -> tuple[float, float, float]:
    """(median ground speed on the first leg, on the second, the default cruise speed)."""
    vm = sim_with_mission(_items(), autopilot, HOME)
    ap = autopilot == "ardupilot"
    start_sim_mission(vm, settle_s=100 * DT_S, dt_s=DT_S)
    first, second = 3 + ap, 5 + ap
    speeds: dict[int, list[float]] = {first: [], second: []}
    for _ in range(20000):
        vm.step(DT_S)
        if vm.runner.seq in speeds:
            speeds[vm.runner.seq].append((vm.vel[0] ** 2 + vm.vel[1] ** 2) ** 0.5)
        if not vm.armed:
            break
    cruise = vm.p("WPNAV_SPEED") / 100.0 if ap else vm.p("MPC_XY_CRUISE")
    return statistics.median(speeds[first]), statistics.median(speeds[second]), cruise


@pytest.mark.parametrize("autopilot", ["ardupilot", "px4"])
def test_legs_fly_at_the_speeds_the_firmware_and_the_guard_give(autopilot: str) -> None:
    first, second, cruise = _leg_speeds(autopilot)
    want = (2.0, 2.0) if autopilot == "ardupilot" else (2.0, cruise)
    assert (first, second) == pytest.approx(want, rel=0.1)
    # the guard: each leg's time at these speeds
    m = Mission(items=_items(), home=(HOME[1], HOME[0], HOME[2]))
    m.autopilot = AUTOPILOT_ARDUPILOT if autopilot == "ardupilot" else AUTOPILOT_PX4
    slow = trajectory(m, speed_m_s=cruise).duration_s
    m.items = [it for it in m.items if it.command != mi.CMD_DO_CHANGE_SPEED]
    plain = trajectory(m, speed_m_s=cruise).duration_s
    extra = sum(LEG_M / v - LEG_M / cruise for v in want)
    assert slow - plain == pytest.approx(extra, rel=0.1)


def test_arducopter_climbs_and_descends_at_a_missions_climb_and_descent_speeds() -> None:
    """DO_CHANGE_SPEED type 2 sets ArduCopter's climb speed and 3 its descent speed
    (``ModeAuto::do_change_speed``: ``wp_nav->set_speed_up_cms`` / ``set_speed_down_cms``).
    The simulator had ignored both (it climbed at WPNAV_SPEED_UP, 2.5 m/s) while the guard
    timed them; a 30 m climb at 1 m/s and a 30 m descent at 0.5 m/s are flown and timed so."""
    north = HOME[0] + 20.0 / M_PER_DEG

    def at(lat: float, alt_m: float) -> mi.MissionItem:
        return mi.MissionItem(
            mi.CMD_NAV_WAYPOINT, frame=3, lat_deg=lat, lon_deg=HOME[1], alt_m=alt_m
        )

    def speed(kind: float, m_s: float) -> mi.MissionItem:
        return mi.MissionItem(mi.CMD_DO_CHANGE_SPEED, frame=2, param1=kind, param2=m_s)

    items = [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=10),
        speed(2, 1.0),
        speed(3, 0.5),
        at(north, 40.0),
        at(HOME[0], 10.0),
        mi.MissionItem(mi.CMD_NAV_LAND, frame=3, lat_deg=HOME[0], lon_deg=HOME[1]),
    ]
    vm = sim_with_mission(items, "ardupilot", HOME)
    for _ in range(100):
        vm.step(DT_S)
    assert (vm.set_mode("GUIDED"), vm.arm(), vm.mission_start()) == (0, 0, 0)
    up, down = 3 + 1, 4 + 1  # ArduPilot's sequence: home first
    vz: dict[int, list[float]] = {up: [], down: []}
    for _ in range(40000):
        vm.step(DT_S)
        if vm.runner.seq in vz:
            vz[vm.runner.seq].append(vm.vel[2])
        if not vm.armed:
            break
    # (the leg after the take-off starts with the take-off's climb, braked to the leg's)
    climb, descent = statistics.median(vz[up]), -statistics.median(vz[down])
    assert climb == pytest.approx(1.0, rel=0.05)
    assert descent == pytest.approx(0.5, rel=0.05)
    assert len(vz[up]) * DT_S == pytest.approx(30.0 / 1.0, rel=0.15)
    assert len(vz[down]) * DT_S == pytest.approx(30.0 / 0.5, rel=0.15)
    # the guard times the two legs at those speeds at least; the landing, from 10 m, is flown at
    # LAND_SPEED (0.5 m/s below LAND_ALT_LOW) whatever the descent speed: the same in both
    m = Mission(items=items, home=(HOME[1], HOME[0], HOME[2]))
    m.autopilot = AUTOPILOT_ARDUPILOT
    slow = trajectory(m, climb_rate_m_s=2.5, descent_rate_m_s=1.5).duration_s
    m.items = [it for it in items if it.command != mi.CMD_DO_CHANGE_SPEED]
    plain = trajectory(m, climb_rate_m_s=2.5, descent_rate_m_s=1.5).duration_s
    legs = (30 / 1.0 - 30 / 2.5) + (30 / 0.5 - 30 / 1.5)
    assert slow - plain == pytest.approx(legs, rel=0.1)
