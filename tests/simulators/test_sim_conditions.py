"""CONDITION_DELAY and CONDITION_DISTANCE in the simulated ArduCopter (pure, simulated time).

ArduPilot's ``AP_Mission`` runs the DO commands of a leg one at a time and starts the next only
when ``verify_command`` says the running one is done: a condition holds back the DO commands
after it until the delay has passed (``verify_wait_delay``) or the aircraft is within the
distance of its next waypoint (``verify_within_distance``); when the leg's waypoint is reached
first, the DO commands still waiting are abandoned (``advance_current_nav_cmd``). PX4 keeps its
own behaviour (not modelled here)."""

from __future__ import annotations

import math

from dkp_testkit import sim_with_mission

from dronekit_plzen import mission_items as mi
from simulators.vehicle import VehicleModel

HOME = (49.7475, 13.3776, 310.0)
DT_S = 0.02
#: metres per degree of latitude, near enough for these checks
M_PER_DEG = 111_200.0


def _north(m: float) -> tuple[float, float]:
    return HOME[0] + m / M_PER_DEG, HOME[1]


def _fly(items: list[mi.MissionItem]) -> tuple[VehicleModel, list[tuple[int, float, float]]]:
    """Fly the mission; return the model and each servo event (channel, time s, north m)."""
    vm = sim_with_mission(items, "ardupilot", HOME)
    for _ in range(300):
        vm.step(DT_S)
    assert (vm.set_mode("GUIDED"), vm.arm(), vm.takeoff(20.0)) == (0, 0, 0)
    for _ in range(1500):
        vm.step(DT_S)
    assert vm.set_mode("AUTO") == 0
    servos: list[tuple[int, float, float]] = []
    seen = len(vm.events)
    for _ in range(60000):
        vm.step(DT_S)
        for e in vm.events[seen:]:
            if e.kind == "servo":
                servos.append((e.data["channel"], vm.t_s, vm.pos[1]))
        seen = len(vm.events)
        if not vm.armed:
            break
    return vm, servos


def _servo(channel: int) -> mi.MissionItem:
    return mi.MissionItem(mi.CMD_DO_SET_SERVO, frame=2, param1=channel, param2=1500)


def test_conditions_hold_back_the_do_commands_after_them() -> None:
    wp1, wp2 = _north(200.0), _north(400.0)
    vm, servos = _fly(
        [
            mi.MissionItem(mi.CMD_NAV_TAKEOFF, alt_m=20.0),
            mi.MissionItem(mi.CMD_NAV_WAYPOINT, lat_deg=wp1[0], lon_deg=wp1[1], alt_m=20.0),
            mi.MissionItem(mi.CMD_CONDITION_DELAY, frame=2, param1=4.0),
            _servo(9),
            mi.MissionItem(mi.CMD_CONDITION_DISTANCE, frame=2, param1=30.0),
            _servo(10),
            mi.MissionItem(mi.CMD_NAV_WAYPOINT, lat_deg=wp2[0], lon_deg=wp2[1], alt_m=20.0),
            mi.MissionItem(mi.CMD_CONDITION_DELAY, frame=2, param1=1000.0),
            _servo(11),  # the aircraft is home long before: abandoned
            mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
        ]
    )
    assert not vm.armed and vm.runner.finished
    assert [c for c, _t, _n in servos] == [9, 10]
    reached = vm.runner.reached
    assert 3 in reached and 4 in reached and 5 in reached and 6 in reached
    assert 9 not in reached and 8 not in reached  # the last delay never met, its servo never run
    (_c9, t9, n9), (_c10, _t10, n10) = servos
    start = 200.0
    # 4 s after the first waypoint: well past it, still far from the second
    assert start + 10.0 < n9 < 400.0 - 60.0, n9
    # within 30 m of the second waypoint, not before (a step of the model is at most 0.3 m)
    assert 400.0 - 30.0 - 1.0 < n10 < 400.0 - 29.0, n10
    assert math.isfinite(t9)


def test_without_conditions_the_do_commands_run_when_the_leg_starts() -> None:
    wp1, wp2 = _north(200.0), _north(400.0)
    _vm, servos = _fly(
        [
            mi.MissionItem(mi.CMD_NAV_TAKEOFF, alt_m=20.0),
            mi.MissionItem(mi.CMD_NAV_WAYPOINT, lat_deg=wp1[0], lon_deg=wp1[1], alt_m=20.0),
            _servo(9),
            _servo(10),
            mi.MissionItem(mi.CMD_NAV_WAYPOINT, lat_deg=wp2[0], lon_deg=wp2[1], alt_m=20.0),
            mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
        ]
    )
    assert [c for c, _t, _n in servos] == [9, 10]
    assert all(abs(n - 200.0) < 3.0 for _c, _t, n in servos), servos
