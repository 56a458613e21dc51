"""The simulator returns where the firmware does: PX4's RTL_TYPE (2: the mission path
backwards, ``RtlMissionFastReverse``; 1: a rally point before home) and ArduCopter's
RTL_ALT_TYPE 1 without terrain data ("RTL: no terrain data, using alt-above-home")."""

from __future__ import annotations

import math
import time

import pytest
from dkp_testkit import sim_airborne, sim_run

from dronekit_plzen import mission_items as mi
from dronekit_plzen.fleet import vehicle_rtl_params
from dronekit_plzen.link import connect
from missions.clearance import clear_for_flight
from missions.model import AUTOPILOT_PX4, Mission
from missions.trajectory import trajectory
from simulators import SimFleet
from simulators.vehicle import RESULT_ACCEPTED

HOME = (49.7475, 13.3776, 310.0)
M_PER_DEG = 111_320.0


def _at(north: float, east: float = 0.0) -> tuple[float, float]:
    return (
        HOME[0] + north / M_PER_DEG,
        HOME[1] + east / (M_PER_DEG * math.cos(math.radians(HOME[0]))),
    )


def _l_items() -> list[mi.MissionItem]:
    """Take-off to 10 m, 60 m north, then 60 m east of that, RTL."""
    a, b = _at(60.0), _at(60.0, 60.0)
    return [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=10.0),
        mi.MissionItem(mi.CMD_NAV_WAYPOINT, frame=3, lat_deg=a[0], lon_deg=a[1], alt_m=10.0),
        mi.MissionItem(mi.CMD_NAV_WAYPOINT, frame=3, lat_deg=b[0], lon_deg=b[1], alt_m=10.0),
        mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]


def test_px4_rtl_type_2_flies_the_mission_back_over_the_link(port_offset: int) -> None:
    """RTL_TYPE 2 read over UDP; the guard predicts the return over the first waypoint, and the
    vehicle flies it so: it passes over (60 m N, 0 m E), never cuts the diagonal, and lands at
    the take-off."""
    with (
        SimFleet(
            autopilot="px4", home=HOME, speedup=10, port_offset=port_offset, boot_settle_s=0.0
        ) as fleet,
        connect(f"udpin://127.0.0.1:{fleet.ports(0)['api_remote']}", heartbeat_hz=5) as link,
    ):
        v = link.wait_vehicle(timeout_s=15)
        v.wait_for(lambda s: s.home is not None and s.position_known, 30, "home")
        v.set_param("RTL_TYPE", 2)
        rtl = vehicle_rtl_params(v)
        assert rtl is not None and rtl.rtl_type == 2
        m = Mission(items=_l_items(), home=(HOME[1], HOME[0], HOME[2]), autopilot=AUTOPILOT_PX4)
        tr = trajectory(m, rtl=rtl)
        assert any("backwards" in n for n in tr.notes)
        fc = clear_for_flight(m, vehicle_home=v.state.home, rtl=rtl)
        v.upload_mission(fc.sorties[0].items, clearance=fc.sorties[0].clearance)
        v.arm()
        v.start_mission()
        v.wait_for(lambda s: s.armed and s.relative_alt_m > 5.0, 30, "airborne")
        track: list[tuple[float, float]] = []
        deadline = time.monotonic() + 90.0
        while time.monotonic() < deadline and v.state.armed:
            st = v.state
            if st.position_known:
                n = (st.lat_deg - HOME[0]) * M_PER_DEG
                e = (st.lon_deg - HOME[1]) * M_PER_DEG * math.cos(math.radians(HOME[0]))
                track.append((n, e))
            time.sleep(0.05)
        assert not v.state.armed, "the vehicle did not land"
    reached_b = next(k for k, (n, e) in enumerate(track) if math.hypot(n - 60, e - 60) < 3.0)
    back = track[reached_b:]
    assert min(math.hypot(n - 60.0, e) for n, e in back) < 3.0  # over the first waypoint
    # never on the diagonal home (its middle, 30 m N 30 m E, is 21 m from the L)
    assert min(math.hypot(n - 30.0, e - 30.0) for n, e in back) > 15.0
    assert math.hypot(*back[-1]) < 2.0


def test_px4_rtl_type_1_goes_to_the_rally_point_not_home() -> None:
    vm = sim_airborne("px4", 20.0, HOME)
    lat, lon = _at(200.0)
    vm.missions[mi.MISSION_TYPE_RALLY] = [
        mi.MissionItem(mi.CMD_NAV_RALLY_POINT, frame=3, lat_deg=lat, lon_deg=lon, alt_m=20.0)
    ]
    vm.set_param("RTL_TYPE", 1)
    assert vm.rtl() == RESULT_ACCEPTED
    sim_run(vm, 200.0, lambda v: not v.armed)
    assert not vm.armed and abs(vm.pos[1] - 200.0) < 2.0 and abs(vm.pos[0]) < 2.0


def test_ardupilot_terrain_rtl_without_terrain_data_says_so() -> None:
    vm = sim_airborne("ardupilot", 20.0, HOME)
    vm.set_param("RTL_ALT_TYPE", 1)
    assert vm.set_mode("RTL") == RESULT_ACCEPTED
    sim_run(vm, 1.0)
    assert "RTL: no terrain data, using alt-above-home" in vm.statustexts, vm.statustexts
    sim_run(vm, 120.0, lambda v: not v.armed)
    assert not vm.armed and math.hypot(vm.pos[0], vm.pos[1]) < 1.5


def test_ardupilot_terrain_rtl_needs_terrain_data_to_arm() -> None:
    """ArduCopter with RTL_ALT_TYPE 1 arms only with its terrain database loaded
    (AP_Arming_Copter::terrain_database_required): the simulator has none."""
    from simulators.vehicle import VehicleModel

    vm = VehicleModel(1, "ardupilot", HOME, seed=1, boot_settle_s=3.0)
    sim_run(vm, 6.0)
    vm.set_param("RTL_ALT_TYPE", 1)
    assert vm.set_mode("GUIDED") == RESULT_ACCEPTED
    assert vm.arm() != RESULT_ACCEPTED
    sim_run(vm, 3.0)
    assert "PreArm: waiting for terrain data" in vm.statustexts
    vm.set_param("RTL_ALT_TYPE", 0)
    assert vm.arm() == RESULT_ACCEPTED


def test_ardupilot_terrain_frame_mission_needs_terrain_data_to_arm() -> None:
    """A mission with terrain-frame items: ArduCopter asks for the terrain block around home
    (TERRAIN_REQUEST, all 56 sub-blocks) and arms once it is filled."""
    from simulators.vehicle import VehicleModel

    vm = VehicleModel(1, "ardupilot", HOME, seed=1, boot_settle_s=3.0)
    sim_run(vm, 6.0)
    lat, lon = _at(50.0)
    vm.missions[mi.MISSION_TYPE_MISSION] = [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=10.0),
        mi.MissionItem(mi.CMD_NAV_WAYPOINT, frame=10, lat_deg=lat, lon_deg=lon, alt_m=20.0),
    ]
    assert vm.set_mode("GUIDED") == RESULT_ACCEPTED
    sim_run(vm, 1.5)
    assert vm.arm() != RESULT_ACCEPTED
    asked = [e for e in vm.events if e.kind == "terrain_request"]
    assert asked and asked[-1].data["mask"] == (1 << 56) - 1 and asked[-1].data["spacing"] == 100
    block = asked[-1].data
    for bit in range(56):
        vm.terrain_data(block["lat"], block["lon"], block["spacing"], bit)
    assert vm.terrain_ready and vm.arm() == RESULT_ACCEPTED


def test_px4_rtl_type_2_outside_the_mission_starts_at_the_closest_item() -> None:
    """RTL commanded in LOITER with RTL_TYPE 2: PX4 goes to the mission's closest position item
    and flies the mission back from there (setMissionToClosestItem), landing at the take-off."""
    vm = sim_airborne("px4", 10.0, HOME)
    vm.missions[mi.MISSION_TYPE_MISSION] = _l_items()
    vm.set_param("RTL_TYPE", 2)
    lat, lon = _at(55.0, 65.0)  # near the corner (60 m N, 60 m E)
    assert vm.reposition(lat, lon, vm.pos[2] + HOME[2] - vm.home[2], -1.0, True) == RESULT_ACCEPTED
    sim_run(vm, 60.0, lambda v: math.hypot(v.pos[0] - 65.0, v.pos[1] - 55.0) < 0.5)
    assert vm.rtl() == RESULT_ACCEPTED
    seen: list[tuple[float, float]] = []
    sim_run(vm, 200.0, lambda v: seen.append((v.pos[1], v.pos[0])) or not v.armed)
    assert not vm.armed and math.hypot(vm.pos[0], vm.pos[1]) < 1.5
    assert min(math.hypot(n - 60.0, e - 60.0) for n, e in seen) < 1.5  # the corner first
    assert min(math.hypot(n - 60.0, e) for n, e in seen) < 1.5  # then the first waypoint
    assert min(math.hypot(n - 30.0, e - 30.0) for n, e in seen) > 15.0  # never the diagonal


def test_ardupilot_rally_limit_sends_it_home() -> None:
    """RALLY_LIMIT_KM 0.3 (the Copter default): a rally point 350 m away is not taken though
    home is 450 m away; with the limit at 1 km the rally point is, at its own altitude (50 m)."""
    for limit, north in ((0.3, 0.0), (1.0, 800.0)):
        vm = sim_airborne("ardupilot", 20.0, HOME)
        lat, lon = _at(800.0)
        vm.missions[mi.MISSION_TYPE_RALLY] = [
            mi.MissionItem(mi.CMD_NAV_RALLY_POINT, frame=3, lat_deg=lat, lon_deg=lon, alt_m=50.0)
        ]
        vm.set_param("RALLY_LIMIT_KM", limit)
        far, _far_lon = _at(450.0)
        assert vm.reposition(far, HOME[1], HOME[2] + 20.0, -1.0, True) == RESULT_ACCEPTED
        sim_run(vm, 120.0, lambda v: abs(v.pos[1] - 450.0) < 0.5)
        assert vm.set_mode("RTL") == RESULT_ACCEPTED
        peak: list[float] = []
        sim_run(vm, 300.0, lambda v, p=peak: p.append(v.rel_alt_m) or not v.armed)
        assert not vm.armed and abs(vm.pos[1] - north) < 2.0, (limit, vm.pos)
        if north:
            assert max(peak) == pytest.approx(50.0, abs=1.0)
