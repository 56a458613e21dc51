"""Failsafes and faults on the deterministic vehicle model: what real PX4 / ArduCopter do."""

from __future__ import annotations

import math

import pytest
from dkp_testkit import SIM_DT, SIM_HOME, sim_airborne, sim_run

from dronekit_plzen import mission_items as mi
from simulators import BatteryDrop, GpsLoss, SimFleet, SteadyWind, WindGust
from simulators.vehicle import RESULT_ACCEPTED, RESULT_DENIED, RESULT_FAILED, VehicleModel

HOME = SIM_HOME
DT = SIM_DT
run = sim_run
airborne = sim_airborne


def fly_away(vm: VehicleModel, north_m: float) -> None:
    lat, lon, alt = vm.geo.to_lla(vm.pos[0], vm.pos[1] + north_m, vm.pos[2])
    assert vm.reposition(lat, lon, alt, -1.0, True) == RESULT_ACCEPTED
    run(vm, 200.0, lambda v: abs(v.pos[1] - north_m) < 1.0)


# ------------------------------------------------------------------ battery
def test_px4_low_battery_return_then_land():
    vm = airborne("px4")
    vm.set_param("COM_LOW_BAT_ACT", 3)  # return at critical, land at emergency
    vm.set_param("RTL_RETURN_ALT", 60.0)  # above the 30 m it flies at
    fly_away(vm, 150.0)
    vm.battery.soc_offset = vm.battery.remaining - 0.065  # 6.5 % left: below BAT_CRIT_THR 7 %
    run(vm, 1.0)
    assert vm.mode == "AUTO.RTL"
    assert "Critical battery level" in vm.statustexts
    run(vm, 5.0)
    assert vm.rel_alt_m > 30.5  # climbing to RTL_RETURN_ALT before returning
    vm.battery.soc_offset += vm.battery.remaining - 0.045  # below BAT_EMERGEN_THR 5 %
    run(vm, 1.0)
    assert vm.mode == "AUTO.LAND"
    run(vm, 200.0, lambda v: not v.armed)
    assert vm.landed and not vm.armed
    assert math.hypot(vm.pos[0], vm.pos[1] - 150.0) < 60.0  # landed where it was, not at home


def test_px4_low_battery_default_only_warns():
    vm = airborne("px4")
    vm.battery.soc_offset = vm.battery.remaining - 0.06
    run(vm, 1.0)
    assert vm.mode == "AUTO.LOITER"  # COM_LOW_BAT_ACT default 0 = warning
    assert "Critical battery level" in vm.statustexts


def test_ardupilot_battery_failsafe_rtl_and_land():
    vm = airborne("ardupilot")
    vm.set_param("BATT_LOW_MAH", 800)
    vm.set_param("BATT_FS_LOW_ACT", 2)  # RTL
    vm.set_param("BATT_CRT_MAH", 300)
    vm.set_param("BATT_FS_CRT_ACT", 1)  # Land
    fly_away(vm, 80.0)
    vm.battery.soc_offset += vm.battery.remaining - 700 / vm.battery.capacity_mah
    run(vm, 1.0)
    assert vm.mode == "RTL"
    assert any(t.startswith("Battery 1 is low") for t in vm.statustexts)
    vm.battery.soc_offset += vm.battery.remaining - 250 / vm.battery.capacity_mah
    run(vm, 1.0)
    assert vm.mode == "LAND"
    run(vm, 200.0, lambda v: not v.armed)
    assert vm.landed and not vm.armed


def test_ardupilot_low_voltage_needs_ten_seconds():
    vm = airborne("ardupilot")
    vm.set_param("BATT_LOW_VOLT", 11.4)
    vm.set_param("BATT_FS_LOW_ACT", 1)
    vm.battery.soc_offset += vm.battery.remaining - 0.12
    assert vm.battery.voltage_v < 11.4
    run(vm, 5.0)
    assert vm.mode == "GUIDED"  # BATT_LOW_TIMER: 10 s below the threshold first
    run(vm, 6.0)
    assert vm.mode == "LAND"


def test_battery_drains_faster_in_wind_and_climb():
    calm = airborne("px4")
    windy = airborne("px4")
    windy.wind.steady_e_m_s = 10.0
    c0, w0 = calm.battery.consumed_mah, windy.battery.consumed_mah
    run(calm, 60.0)
    run(windy, 60.0)
    calm_mah, windy_mah = calm.battery.consumed_mah - c0, windy.battery.consumed_mah - w0
    assert windy_mah > calm_mah * 1.2
    assert 250 < calm_mah < 400  # 18 A hover for a minute = 300 mAh
    assert windy.battery.voltage_v < calm.battery.voltage_v


# ------------------------------------------------------------------ GCS link
@pytest.mark.parametrize(
    ("autopilot", "param", "value", "mode"),
    [
        ("px4", "NAV_DLL_ACT", 2, "AUTO.RTL"),
        ("px4", "NAV_DLL_ACT", 3, "AUTO.LAND"),
        ("ardupilot", "FS_GCS_ENABLE", 1, "RTL"),
        ("ardupilot", "FS_GCS_ENABLE", 5, "LAND"),
    ],
)
def test_gcs_link_loss_action(autopilot, param, value, mode):
    vm = airborne(autopilot)
    vm.set_param(param, value)
    timeout = vm.p("COM_DL_LOSS_T") if autopilot == "px4" else vm.p("FS_GCS_TIMEOUT")
    for _ in range(int(20 / DT)):  # GCS heartbeats for 20 s
        vm.gcs_heartbeat(255)
        vm.step(DT)
    before = vm.mode
    run(vm, timeout - 0.5)
    assert vm.mode == before
    run(vm, 1.0)
    assert vm.mode == mode
    run(vm, 300.0, lambda v: not v.armed)
    assert vm.landed and not vm.armed
    if mode.endswith("RTL"):
        assert math.hypot(vm.pos[0] - vm.home[0], vm.pos[1] - vm.home[1]) < 1.5


def test_gcs_link_loss_disabled_by_default():
    for autopilot in ("px4", "ardupilot"):
        vm = airborne(autopilot)
        vm.gcs_heartbeat(255)
        run(vm, 30.0)
        assert vm.mode == ("AUTO.LOITER" if autopilot == "px4" else "GUIDED")


def test_ardupilot_gcs_failsafe_only_counts_its_gcs():
    vm = airborne("ardupilot")
    vm.set_param("FS_GCS_ENABLE", 1)
    vm.gcs_heartbeat(255)
    for _ in range(int(10 / DT)):
        vm.gcs_heartbeat(245)  # not SYSID_MYGCS: does not keep the link alive
        vm.step(DT)
    assert vm.mode == "RTL"


# ------------------------------------------------------------------ GPS
def _fleet_model(autopilot: str) -> tuple[SimFleet, VehicleModel]:
    fleet = SimFleet(
        boot_settle_s=3.0, n_vehicles=1, autopilot=autopilot, home=HOME, lockstep=True, seed=3
    )
    return fleet, fleet.vehicles[0].model


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_gps_loss_in_mission_lands_and_drifts(autopilot):
    fleet, vm = _fleet_model(autopilot)
    fleet.run_for(4.0)
    items = (
        [
            mi.MissionItem(
                mi.CMD_NAV_WAYPOINT, frame=0, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=HOME[2]
            )
        ]
        if autopilot == "ardupilot"
        else []
    )
    items += [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=30),
        mi.MissionItem(mi.CMD_NAV_WAYPOINT, lat_deg=49.7500, lon_deg=13.3776, alt_m=30),
        mi.MissionItem(mi.CMD_NAV_LAND, lat_deg=49.7500, lon_deg=13.3776, alt_m=0),
    ]
    vm.missions[0] = items
    if autopilot == "px4":
        assert vm.set_mode("AUTO.MISSION") == RESULT_ACCEPTED
        assert vm.arm() == RESULT_ACCEPTED
    else:
        vm.set_mode("GUIDED")
        vm.arm()
        assert vm.mission_start() == RESULT_ACCEPTED
    fleet.wait_until(lambda: vm.pos[1] > 60.0, 10)
    fleet.vehicles[0].inject(SteadyWind(6.0, 270.0))  # from the west: pushes east
    fleet.vehicles[0].inject(GpsLoss(duration_s=600))
    fleet.run_for(3.0)
    assert vm.mode == ("AUTO.LAND" if autopilot == "px4" else "LAND")
    east0 = vm.pos[0]
    assert fleet.wait_until(lambda: not vm.armed, 10)
    assert vm.landed
    assert vm.pos[0] - east0 > 10.0  # no position hold without GPS: drifted downwind
    assert vm.pos[1] < 240.0  # never reached the mission's landing point 278 m north
    st = fleet.vehicles[0].state
    assert st.gps_fix_type < 3 and st.gps_satellites == 0


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_no_gps_blocks_arming_and_position_modes(autopilot):
    vm = VehicleModel(1, autopilot, HOME, boot_settle_s=3.0)
    run(vm, 4.0)
    vm.gps.lost_until_s = math.inf
    run(vm, 0.1)
    if autopilot == "ardupilot":
        # disarmed, ArduCopter takes any mode and leaves it to its arming checks
        assert vm.set_mode("GUIDED") == RESULT_ACCEPTED
        assert vm.arm() == RESULT_FAILED
        assert "PreArm: GPS 1: Bad fix" in vm.statustexts
    else:
        assert vm.arm() == RESULT_DENIED
        assert vm.set_mode("AUTO.MISSION") == RESULT_DENIED
    assert not vm.armed


# ------------------------------------------------------------------ preflight
def test_preflight_low_battery_and_missing_mission():
    vm = VehicleModel(1, "px4", HOME, boot_settle_s=3.0)
    run(vm, 4.0)
    vm.battery.soc_offset = 0.95  # 5 % left
    assert vm.arm() == RESULT_DENIED
    assert "Preflight Fail: Battery critically low" in vm.statustexts
    vm.battery.soc_offset = 0.0
    vm.set_param("COM_ARM_MIS_REQ", 1)
    assert vm.arm() == RESULT_DENIED
    assert "Preflight Fail: No valid mission" in vm.statustexts
    ap = VehicleModel(1, "ardupilot", HOME, boot_settle_s=3.0)
    run(ap, 4.0)
    ap.battery.soc_offset = 0.9
    assert ap.arm() == RESULT_FAILED
    ap.battery.soc_offset = 0.0
    ap.missions[0] = []
    assert ap.set_mode("AUTO") == RESULT_FAILED  # no mission
    ap.missions[0] = [
        mi.MissionItem(16, frame=0),
        mi.MissionItem(16, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=10),
    ]
    assert ap.set_mode("AUTO") == RESULT_ACCEPTED
    assert ap.arm() == RESULT_FAILED  # ArduCopter refuses GCS arming in AUTO by default
    assert "Arm: AUTO mode not armable" in ap.statustexts
    ap.set_param("AUTO_OPTIONS", 1)
    assert ap.arm() == RESULT_ACCEPTED


def test_disarm_in_air_refused_unless_forced():
    vm = airborne("px4")
    assert vm.disarm() == RESULT_DENIED
    assert vm.armed
    ap = airborne("ardupilot")
    assert ap.disarm() == RESULT_FAILED


# ------------------------------------------------------------------ wind
def test_wind_gust_pushes_then_position_hold_recovers():
    fleet, vm = _fleet_model("px4")
    fleet.run_for(4.0)
    vm.arm()
    vm.takeoff(HOME[2] + 20)
    fleet.run_for(15.0)
    hold = (vm.pos[0], vm.pos[1])
    fleet.vehicles[0].inject(WindGust(speed_m_s=12.0, from_deg=0.0, duration_s=4.0))  # from north
    fleet.run_for(2.0)
    assert vm.pos[1] - hold[1] < -3.0  # pushed south
    assert fleet.vehicles[0].state.pitch_deg != 0.0
    fleet.run_for(25.0)
    assert math.hypot(vm.pos[0] - hold[0], vm.pos[1] - hold[1]) < 0.5


def test_headwind_slows_ground_speed():
    vm = airborne("px4")
    vm.set_param("MPC_XY_CRUISE", 10.0)
    vm.wind.steady_n_m_s = -8.0  # blowing toward south; we fly north
    vm.wind_comp = [0.0, -8.0]
    lat, lon, alt = vm.geo.to_lla(0.0, 400.0, vm.pos[2])
    vm.reposition(lat, lon, alt, -1.0, True)
    run(vm, 20.0)
    gs = vm.snapshot().groundspeed_m_s
    assert 3.0 < gs < 4.5  # 12 m/s max airspeed - 8 m/s headwind ≈ 4 m/s
    assert vm.snapshot().airspeed_m_s > 11.0


# ------------------------------------------------------------------ fence
def test_px4_geofence_return():
    vm = airborne("px4", 20.0)
    g = vm.geo
    square = [g.to_lla(e, n, 0) for e, n in ((-50, -50), (50, -50), (50, 50), (-50, 50))]
    vm.missions[1] = [
        mi.MissionItem(
            mi.CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            param1=4,
            lat_deg=la,
            lon_deg=lo,
            mission_type=1,
        )
        for la, lo, _ in square
    ]
    vm.set_param("GF_ACTION", 3)
    fly_away(vm, 120.0)
    assert "Geofence violated" in vm.statustexts
    assert vm.mode == "AUTO.RTL"
    run(vm, 300.0, lambda v: not v.armed)
    assert math.hypot(vm.pos[0], vm.pos[1]) < 1.5


def test_px4_geofence_default_holds():
    vm = airborne("px4", 20.0)
    vm.set_param("GF_MAX_HOR_DIST", 60.0)
    fly_away(vm, 120.0)
    assert vm.mode == "AUTO.LOITER"
    assert vm.fence_breached and 60.0 < vm.pos[1] < 80.0


def test_ardupilot_fence_radius_and_altitude():
    vm = airborne("ardupilot", 20.0)
    vm.set_param("FENCE_ENABLE", 1)
    vm.set_param("FENCE_RADIUS", 50.0)
    fly_away(vm, 120.0)
    assert "Fence Breached" in vm.statustexts
    assert vm.mode == "RTL"
    run(vm, 300.0, lambda v: not v.armed)
    assert vm.landed
    vm2 = airborne("ardupilot", 20.0)
    vm2.set_param("FENCE_ENABLE", 1)
    vm2.set_param("FENCE_ALT_MAX", 30.0)
    lat, lon, _ = vm2.geo.to_lla(*vm2.pos)
    vm2.reposition(lat, lon, HOME[2] + 60.0, -1, False)
    run(vm2, 30.0)
    assert vm2.mode == "RTL" and vm2.rel_alt_m < 45.0


# ------------------------------------------------------------------ RTL and rally
def test_rtl_altitudes_and_rally_point():
    vm = airborne("px4", 20.0)
    fly_away(vm, 200.0)
    rally = vm.geo.to_lla(0.0, 180.0, 0.0)
    vm.missions[2] = [
        mi.MissionItem(
            mi.CMD_NAV_RALLY_POINT, lat_deg=rally[0], lon_deg=rally[1], alt_m=30, mission_type=2
        )
    ]
    assert vm.rtl() == RESULT_ACCEPTED
    peak = 0.0
    for _ in range(int(300 / DT)):
        vm.step(DT)
        peak = max(peak, vm.rel_alt_m)
        if not vm.armed:
            break
    assert 29.0 < peak < 31.0  # RTL_RETURN_ALT 30 m (a multicopter's, rc.mc_defaults)
    assert abs(vm.pos[1] - 180.0) < 1.5  # the nearer rally point, not home
    ap = airborne("ardupilot", 30.0)
    fly_away(ap, 100.0)
    ap.rtl()
    peak = 0.0
    for _ in range(int(300 / DT)):
        ap.step(DT)
        peak = max(peak, ap.rel_alt_m)
    assert 29.0 < peak < 31.0  # already above RTL_ALT 15 m: returns at current altitude
    assert ap.landed and math.hypot(ap.pos[0], ap.pos[1]) < 1.5


def test_battery_drop_fault_and_speed_param():
    fleet, _vm = _fleet_model("px4")
    fleet.run_for(1.0)
    before = fleet.vehicles[0].state.battery_remaining_pct
    fleet.vehicles[0].inject(BatteryDrop(drop_pct=40))
    fleet.run_for(0.1)
    assert before - fleet.vehicles[0].state.battery_remaining_pct == pytest.approx(40, abs=0.5)
    times = []
    for cruise in (5.0, 10.0):
        v = airborne("px4")
        v.set_param("MPC_XY_CRUISE", cruise)
        lat, lon, alt = v.geo.to_lla(0, 300.0, v.pos[2])
        v.reposition(lat, lon, alt, -1, False)
        times.append(run(v, 200, lambda m: m.pos[1] > 299.0))
    assert times[0] > 1.7 * times[1]


def test_ardupilot_flies_a_waypoint_without_a_position_where_it_is() -> None:
    """ModeAuto::loc_from_cmd: latitude = longitude = 0 is the aircraft's position when the
    item starts; altitude 0 keeps its altitude (the guard flies it the same way on paper)."""
    vm = VehicleModel(1, "ardupilot", HOME, seed=1, boot_settle_s=3.0)
    run(vm, 4.0)
    vm.missions[0] = [
        mi.MissionItem(mi.CMD_NAV_WAYPOINT, frame=0, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=0),
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, alt_m=20),
        mi.MissionItem(mi.CMD_NAV_WAYPOINT, lat_deg=49.7480, lon_deg=13.3776, alt_m=20),
        mi.MissionItem(mi.CMD_NAV_WAYPOINT, alt_m=45),  # climb in place
        mi.MissionItem(mi.CMD_NAV_WAYPOINT, alt_m=0),  # stay
        mi.MissionItem(mi.CMD_NAV_LOITER_UNLIM, alt_m=0),
    ]
    assert vm.set_mode("GUIDED") == RESULT_ACCEPTED
    assert vm.arm() == RESULT_ACCEPTED
    assert vm.mission_start() == RESULT_ACCEPTED
    run(vm, 120.0, lambda v: v.runner.seq == 5)
    assert vm.runner.seq == 5
    run(vm, 5.0)
    assert vm.rel_alt_m == pytest.approx(45.0, abs=1.0)
    assert vm.pos[1] == pytest.approx(0.0005 * 111_200, abs=3.0)  # 55.6 m north, not at 0°, 0°
