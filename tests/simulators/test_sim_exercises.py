"""The students' exercises load, validate and make the vehicles do what they promise."""

from __future__ import annotations

import pytest

from dronekit_plzen.errors import BadInputError
from simulators import SimFleet
from simulators.exercises import list_exercises, load_exercise


def test_bundled_exercises_are_valid():
    names = list_exercises()
    assert {"sar_gps_loss", "low_battery", "link_loss"} <= set(names)
    for n in names:
        e = load_exercise(n)
        assert e.title and e.title_cs and e.description and e.expected and e.faults
        assert 49.6 < e.home[0] < 49.9 and 13.2 < e.home[1] < 13.5  # Plzeň
    with pytest.raises(BadInputError, match="unknown exercise 'nope'"):
        load_exercise("nope")


def _fly(fleet: SimFleet) -> None:
    fleet.run_for(4.0)
    for v in fleet.vehicles:
        vm = v.model
        if vm.px4:
            assert vm.arm() == 0 and vm.takeoff(vm.geo.alt0_m + 30.0) == 0
        else:
            assert vm.set_mode("GUIDED") == 0 and vm.arm() == 0 and vm.takeoff(30.0) == 0
    fleet.run_for(20.0)
    for v in fleet.vehicles:  # a search leg away from home
        vm = v.model
        lat, lon, alt = vm.geo.to_lla(vm.pos[0], vm.pos[1] + 300.0, vm.pos[2])
        assert vm.reposition(lat, lon, alt, -1.0, True) == 0


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_low_battery_exercise(autopilot):
    fleet = SimFleet.from_exercise(
        load_exercise("low_battery"), boot_settle_s=3.0, autopilot=autopilot, lockstep=True
    )
    _fly(fleet)
    fleet.run_for(91.0 - fleet.sim_time_s)
    st = fleet.vehicles[0].state
    assert st.mode == ("AUTO.RTL" if autopilot == "px4" else "RTL")
    assert fleet.wait_until(lambda: fleet.vehicles[0].state.mode in ("AUTO.LAND", "LAND"), 60)
    assert fleet.wait_until(lambda: not fleet.vehicles[0].state.armed, 60)


def test_sar_gps_loss_exercise():
    fleet = SimFleet.from_exercise(load_exercise("sar_gps_loss"), boot_settle_s=3.0, lockstep=True)
    _fly(fleet)
    fleet.run_for(122.0 - fleet.sim_time_s)
    assert fleet.vehicles[0].state.mode == "AUTO.LAND"
    assert fleet.vehicles[1].state.mode == "AUTO.LOITER"


def test_link_loss_exercise():
    fleet = SimFleet.from_exercise(load_exercise("link_loss"), boot_settle_s=3.0, lockstep=True)
    _fly(fleet)
    for _ in range(int((60.0 - fleet.sim_time_s) / fleet.dt_s)):
        for v in fleet.vehicles:
            v.model.gcs_heartbeat(255)
        fleet.step()
    # no sockets in this stepped fleet: vehicle 2's heartbeats stop as the scheduled link fault
    # would stop them (the socket path is tested in test_sim_protocol)
    for _ in range(int(12.0 / fleet.dt_s)):
        for v in fleet.vehicles[::2]:
            v.model.gcs_heartbeat(255)
        fleet.step()
    modes = [v.state.mode for v in fleet.vehicles]
    assert modes == ["AUTO.LOITER", "AUTO.RTL", "AUTO.LOITER"]
