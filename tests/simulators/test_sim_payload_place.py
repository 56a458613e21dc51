"""NAV_PAYLOAD_PLACE, DO_GRIPPER and DO_SET_SERVO in the simulated ArduCopter (pure, simulated
time): the phases of ArduCopter's ``PayloadPlace::run`` and the payload events."""

from __future__ import annotations

from dkp_testkit import sim_with_mission

from dronekit_plzen import mission_items as mi
from simulators.vehicle import VehicleModel

HOME = (49.7475, 13.3776, 310.0)
DT_S = 0.02


def _fly(items: list[mi.MissionItem]) -> tuple[VehicleModel, list[float], list[str]]:
    vm = sim_with_mission(items, "ardupilot", HOME)
    for _ in range(300):
        vm.step(DT_S)
    assert (vm.set_mode("GUIDED"), vm.arm(), vm.takeoff(20.0)) == (0, 0, 0)
    for _ in range(1500):
        vm.step(DT_S)
    assert vm.set_mode("AUTO") == 0
    heights: list[float] = []
    for _ in range(30000):
        vm.step(DT_S)
        if vm.runner.seq == 2:
            heights.append(vm.pos[2])
        if not vm.armed:
            break
    texts = [e.data.get("text", "") for e in vm.events if e.kind == "statustext"]
    return vm, heights, texts


def _mission(max_descent_m: float) -> list[mi.MissionItem]:
    place = (HOME[0] + 3.6e-4, HOME[1])
    return [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, alt_m=20.0),
        mi.MissionItem(
            mi.CMD_NAV_PAYLOAD_PLACE, param1=max_descent_m, lat_deg=place[0], lon_deg=place[1]
        ),
        mi.MissionItem(mi.CMD_DO_SET_SERVO, frame=2, param1=9, param2=1100),
        mi.MissionItem(mi.CMD_DO_GRIPPER, frame=2, param1=1, param2=1),
        mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]


def test_payload_place_lowers_to_the_ground_releases_and_climbs_back() -> None:
    vm, heights, _texts = _fly(_mission(25.0))
    assert not vm.armed and vm.runner.finished  # home, landed, disarmed
    assert min(heights) < 0.5 and max(heights) > 19.0  # lowered to the ground, back up
    payload = [(e.kind, dict(e.data)) for e in vm.events if e.kind in ("gripper", "servo")]
    assert payload == [
        ("gripper", {"seq": 2, "action": "release"}),
        ("servo", {"seq": 3, "channel": 9, "pwm": 1100}),
        ("gripper", {"seq": 4, "action": "grab"}),
    ]


def test_payload_place_past_its_maximum_descent_climbs_back_without_release() -> None:
    vm, heights, _texts = _fly(_mission(5.0))
    assert 13.0 < min(heights) < 15.5  # 5 m below the 20 m it started from, not lower
    released = [e for e in vm.events if e.kind == "gripper" and e.data["seq"] == 2]
    assert released == [] and vm.runner.finished
