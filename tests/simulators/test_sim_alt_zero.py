"""An ArduCopter waypoint whose altitude is 0 is flown at the aircraft's altitude
(``ModeAuto::loc_from_cmd``), as the safety guard has it (``test_guard_stored_ranges.py``)."""

from __future__ import annotations

from dkp_testkit import SIM_DT, sim_run, sim_with_mission

from dronekit_plzen import mission_items as mi

HOME = (49.7475, 13.3776, 310.0)


def test_a_waypoint_at_altitude_0_keeps_the_aircrafts_altitude() -> None:
    north = HOME[0] + 100.0 / 111_200.0
    vm = sim_with_mission(
        [
            mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, alt_m=20.0),
            mi.MissionItem(mi.CMD_NAV_WAYPOINT, frame=3, lat_deg=north, lon_deg=HOME[1]),
            mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
        ],
        "ardupilot",
        HOME,
    )
    sim_run(vm, 6.0)
    assert (vm.set_mode("GUIDED"), vm.arm(), vm.mission_start()) == (0, 0, 0)
    heights = []
    for _ in range(int(120 / SIM_DT)):
        vm.step(SIM_DT)
        if vm.runner.seq == 2:
            heights.append(vm.rel_alt_m)
        if 2 in vm.runner.reached:
            break
    assert 2 in vm.runner.reached and len(heights) > 50
    assert min(heights) > 19.0 and max(heights) < 21.0
