"""Take-off and the first climb in the simulated autopilots, as the firmware flies them and the
safety guard has them (``tests/safety/test_guard_take_off.py``): straight up where the aircraft
is; PX4 then flies to a take-off's position, ArduCopter ignores it; PX4 climbs to the first
item's altitude before flying a mission without a take-off item
(``MissionBase::checkClimbRequired``; the simulator used to climb 2.5 m, MIS_TAKEOFF_ALT, and
fly the rest of the climb on the diagonal)."""

from __future__ import annotations

import math

import pytest
from dkp_testkit import SIM_DT, sim_run, sim_with_mission

from dronekit_plzen import mission_items as mi

HOME = (49.7475, 13.3776, 310.0)
M_PER_DEG = 111_200.0


def _place(east_m: float, north_m: float) -> tuple[float, float]:
    return (
        HOME[0] + north_m / M_PER_DEG,
        HOME[1] + east_m / (M_PER_DEG * math.cos(math.radians(HOME[0]))),
    )


def _fly(
    items: list[mi.MissionItem], autopilot: str, until_seq: int
) -> list[tuple[float, float, float]]:
    """(east, north, up above home) every step until item ``until_seq`` is reached."""
    vm = sim_with_mission(items, autopilot, HOME)
    sim_run(vm, 6.0)
    if autopilot == "ardupilot":
        assert (vm.set_mode("GUIDED"), vm.arm(), vm.mission_start()) == (0, 0, 0)
    else:
        assert (vm.set_mode("AUTO.MISSION"), vm.arm()) == (0, 0)
    track: list[tuple[float, float, float]] = []
    for _ in range(int(180 / SIM_DT)):
        vm.step(SIM_DT)
        track.append((vm.pos[0] - vm.home[0], vm.pos[1] - vm.home[1], vm.rel_alt_m))
        if until_seq in vm.runner.reached:
            return track
    raise AssertionError(f"item {until_seq} not reached: {vm.runner.reached}")


@pytest.mark.parametrize("autopilot", ["ardupilot", "px4"])
def test_a_take_off_climbs_where_the_aircraft_is(autopilot: str) -> None:
    lat, lon = _place(60.0, 0.0)
    north = _place(0.0, 60.0)
    items = [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=lat, lon_deg=lon, alt_m=20.0),
        mi.MissionItem(mi.CMD_NAV_WAYPOINT, frame=3, lat_deg=north[0], lon_deg=north[1], alt_m=20),
    ]
    seq = 2 if autopilot == "ardupilot" else 1  # ArduPilot's home is item 0
    track = _fly(items, autopilot, seq)
    climbing = [math.hypot(e, n) for e, n, u in track if 2.0 < u < 18.0]
    assert climbing and max(climbing) < 1.5
    furthest_east = max(e for e, _n, _u in track)
    if autopilot == "px4":
        assert furthest_east > 45.0  # toward the take-off position (NAV_ACC_RAD), then on
    else:
        assert furthest_east < 2.0  # the position ignored: on from the launch point


def test_px4_without_a_take_off_climbs_to_the_first_item_straight_up() -> None:
    lat, lon = _place(0.0, 150.0)
    items = [mi.MissionItem(mi.CMD_NAV_WAYPOINT, frame=3, lat_deg=lat, lon_deg=lon, alt_m=30.0)]
    track = _fly(items, "px4", 0)
    climbing = [math.hypot(e, n) for e, n, u in track if 3.0 < u < 28.0]
    assert climbing and max(climbing) < 1.5
    assert min(u for _e, n, u in track if n > 20.0) > 28.0
