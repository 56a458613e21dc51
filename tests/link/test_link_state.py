"""Mode tables, the state reducer's unit conversions, loss from sequence gaps, fleet results."""

from __future__ import annotations

import math

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.fleet import Fleet
from dronekit_plzen.link import VehicleState, connect
from dronekit_plzen.link.modes import COPTER_MODES, PX4_AUTO_SUB, mode_name, mode_params
from dronekit_plzen.link.state import SequenceTracker, apply_message, snapshot
from dronekit_plzen.safety import Clearance

MAV = mavlink2.MAVLink(None, 1, 1)


@pytest.mark.parametrize(
    "name",
    ["MANUAL", "ALTCTL", "POSCTL", "OFFBOARD", "STABILIZED", "ORBIT"]
    + [f"AUTO.{s}" for s in PX4_AUTO_SUB.values()],
)
def test_px4_mode_names_round_trip(name: str) -> None:
    base, main, sub = mode_params("px4", name)
    custom = int(main) << 16 | int(sub) << 24
    assert mode_name("px4", int(base), custom) == name


@pytest.mark.parametrize("number", sorted(COPTER_MODES))
def test_ardupilot_copter_modes_round_trip(number: int) -> None:
    name = mode_name("ardupilot", 1, number, 2)
    assert mode_params("ardupilot", name.lower(), 2)[1] == number


def test_px4_mission_mode_is_the_documented_custom_mode() -> None:
    # PX4: main mode AUTO = 4 in bits 16-23, sub mode MISSION = 4 in bits 24-31
    assert mode_name("px4", 1, 0x04040000) == "AUTO.MISSION"
    assert mode_name("ardupilot", 1, 15, 1) == "GUIDED"  # plane table for MAV_TYPE_FIXED_WING
    with pytest.raises(BadInputError, match="known"):
        mode_params("ardupilot", "AUTO.MISSION")


def test_reducer_converts_wire_units_once() -> None:
    st = VehicleState(sysid=1)
    msgs = [
        MAV.heartbeat_encode(2, 12, 1 | 128, 0x04040000, 4),
        MAV.global_position_int_encode(
            0, 497475123, 133776456, 312345, 12345, 150, -250, 30, 27050
        ),
        MAV.attitude_encode(0, math.radians(10), math.radians(-5), math.radians(-90), 0, 0, 0),
        MAV.sys_status_encode(0b11, 0b11, 0b01, 0, 15234, 1520, 64, 0, 0, 0, 0, 0, 0),
        MAV.gps_raw_int_encode(0, 3, 0, 0, 0, 95, 150, 0, 0, 17),
        MAV.home_position_encode(497470000, 133770000, 310500, 0, 0, 0, [1, 0, 0, 0], 0, 0, 0),
        MAV.extended_sys_state_encode(0, 2),
        MAV.statustext_encode(4, b"Takeoff detected"),
        MAV.mission_current_encode(7, 20, 2, 0),
    ]
    for i, m in enumerate(msgs):
        m.pack(MAV)
        st = apply_message(st, m, 100.0 + i)
    assert st.autopilot == "px4" and st.mode == "AUTO.MISSION" and st.armed
    assert st.lat_deg == pytest.approx(49.7475123) and st.lon_deg == pytest.approx(13.3776456)
    assert st.alt_amsl_m == pytest.approx(312.345) and st.relative_alt_m == pytest.approx(12.345)
    assert (st.vn_m_s, st.ve_m_s, st.vd_m_s) == pytest.approx((1.5, -2.5, 0.3))
    assert st.heading_deg == pytest.approx(270.5)
    assert (
        st.roll_deg == pytest.approx(10)
        and st.pitch_deg == pytest.approx(-5)
        and st.yaw_deg == pytest.approx(270)
    )
    assert st.battery_voltage_v == pytest.approx(15.234) and st.battery_current_a == pytest.approx(
        15.2
    )
    assert st.battery_remaining_pct == 64 and st.sensors_unhealthy == 0b10 and not st.healthy
    assert st.gps_fix_type == 3 and st.satellites == 17 and st.hdop == pytest.approx(0.95)
    assert st.home == pytest.approx((49.747, 13.377, 310.5))
    assert st.in_air and st.landed_state_name == "in_air"
    assert st.statustexts[-1].text == "Takeoff detected" and st.statustexts[-1].severity == 4
    assert st.mission_seq == 7 and st.mission_count == 20
    assert snapshot(st, 110.0, 2.5).heartbeat_age_s == pytest.approx(10.0)


def test_ardupilot_mission_progress_excludes_home() -> None:
    st = VehicleState(sysid=1)
    for m in (MAV.heartbeat_encode(2, 3, 1, 3, 4), MAV.mission_current_encode(5, 11, 0, 0)):
        m.pack(MAV)
        st = apply_message(st, m, 0.0)
    assert st.mission_seq == 4 and st.mission_count == 10


def test_mission_reports_carry_the_mode_they_came_in() -> None:
    """A reader that looks after the switch to RTL still sees the reach came in AUTO."""
    st = VehicleState(sysid=1)
    msgs = (
        MAV.heartbeat_encode(2, 3, 1 | 128, 3, 4),  # ArduCopter AUTO, armed
        MAV.mission_current_encode(8),
        MAV.mission_item_reached_encode(7),
        MAV.heartbeat_encode(2, 3, 1 | 128, 6, 4),  # RTL
    )
    for m in msgs:
        m.pack(MAV)
        st = apply_message(st, m, 0.0)
    assert st.mode == "RTL" and st.last_item_reached == 6 and st.mission_seq == 7
    assert st.item_reached_mode == "AUTO" and st.mission_seq_mode == "AUTO"


def test_mission_current_total_no_mission_and_unsupported() -> None:
    """UINT16_MAX means no mission on the vehicle (after a reboot or a clear): 0 items, not the
    count of the last transfer; 0 means the field is not supported: the count is kept."""
    st = VehicleState(sysid=1)
    for m in (MAV.heartbeat_encode(2, 12, 1, 0, 4), MAV.mission_current_encode(3, 119, 0, 0)):
        m.pack(MAV)
        st = apply_message(st, m, 0.0)
    assert st.mission_count == 119
    m = MAV.mission_current_encode(0, 0, 0, 0)
    m.pack(MAV)
    assert apply_message(st, m, 1.0).mission_count == 119
    m = MAV.mission_current_encode(0, 65535, 0, 0)
    m.pack(MAV)
    st = apply_message(st, m, 2.0)
    assert st.mission_count == 0 and st.mission_seq == 0
    m = MAV.mission_current_encode(3, 119, 2, 0)
    m.pack(MAV)
    st = apply_message(st, m, 3.0)
    assert st.mission_count == 119
    m = MAV.mission_current_encode(0, 0, 1, 0)  # mission_state NO_MISSION, total unsupported
    m.pack(MAV)
    assert apply_message(st, m, 4.0).mission_count == 0


def test_sequence_gaps_give_packet_loss() -> None:
    t = SequenceTracker()
    for seq in [*range(0, 50), *range(60, 256), *range(0, 40)]:  # 10 lost, wraps at 255
        t.update(seq)
    t.update(30)  # a late duplicate: ignored
    assert t.lost == 10 and t.received == 286
    assert t.loss_pct == pytest.approx(100 * 10 / 296)


def test_fleet_reports_a_refusal_per_vehicle_without_raising(make_vehicle, survey) -> None:
    with connect("udpin://127.0.0.1:0") as a, connect("udpin://127.0.0.1:0") as b:
        make_vehicle("px4", 1, udp_target=("127.0.0.1", a.local_address[1]))
        make_vehicle("px4", 1, udp_target=("127.0.0.1", b.local_address[1]), max_items=10)
        fleet = Fleet([a, b])
        fleet.wait_vehicles(2, timeout_s=5)
        keys = list(fleet.vehicles)
        assert len(keys) == 2 and keys[0] != keys[1]  # same sysid on two links: distinct keys
        plan = {k: survey(30) for k in keys}
        res = fleet.upload(plan, clearances={k: Clearance.passed(m) for k, m in plan.items()})
        assert res[keys[0]].ok and not res[keys[1]].ok
        assert res[keys[1]].code == 4 and "NO_SPACE" in res[keys[1]].error
        with pytest.raises(BadInputError):
            fleet.upload({keys[0]: [1, 2, 3]})
        assert all(r.ok for r in fleet.arm_all().values())
        assert all(r.ok for r in fleet.rtl_all().values())
