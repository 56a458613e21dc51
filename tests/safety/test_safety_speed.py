"""The guard times a mission at the slower of the file's planning speed and the vehicle's.

A QGroundControl plan of a multirotor carries ``cruiseSpeed`` 15 m/s (QGC's fixed-wing figure)
beside ``hoverSpeed`` 5 m/s; the guard timed its legs at 15 m/s, so a flight three times as long
as the battery allows passed the endurance check (found on MAVSDK's sample plans).
"""

from __future__ import annotations

from dronekit_plzen.mission_items import (
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
    MissionItem,
)
from missions.clearance import clear_for_flight
from missions.model import Mission
from missions.vehicles import Vehicle

from .conftest import GROUND_M, ORIGIN

LON, LAT = ORIGIN


def _mission(cruise_m_s: float) -> Mission:
    """Take-off, 4 legs of about 1.5 km back and forth, RTL: about 6 km."""
    items = [MissionItem(command=CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL_RELATIVE_ALT, alt_m=40.0)]
    for k in range(4):
        lat = LAT + (0.0135 if k % 2 == 0 else 0.0)
        items.append(
            MissionItem(
                command=CMD_NAV_WAYPOINT,
                frame=FRAME_GLOBAL_RELATIVE_ALT,
                lat_deg=lat,
                lon_deg=LON + 0.001 * k,
                alt_m=40.0,
            )
        )
    items.append(MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH))
    m = Mission(items=items, home=(LON, LAT, GROUND_M))
    m.cruise_speed_m_s = cruise_m_s
    return m


def _endurance_violated(mission: Mission, vehicle_cruise_m_s: float) -> bool:
    # 12 min with a 25 % reserve: 9 min usable; 6 km takes ~7 min at 15 m/s, ~20 min at 5 m/s
    veh = Vehicle(
        key="t", name="test quad", cruise_speed_m_s=vehicle_cruise_m_s, endurance_min=12.0
    )
    fc = clear_for_flight(mission, vehicle=veh, raise_on_unsafe=False)
    return any(v.rule == "endurance" for s in fc.sorties for v in s.report.violations)


def test_a_file_faster_than_the_vehicle_is_timed_at_the_vehicle_speed() -> None:
    assert _endurance_violated(_mission(15.0), vehicle_cruise_m_s=5.0)


def test_a_vehicle_faster_than_the_file_is_timed_at_the_file_speed() -> None:
    assert _endurance_violated(_mission(5.0), vehicle_cruise_m_s=15.0)


def test_both_fast_the_flight_fits() -> None:
    assert not _endurance_violated(_mission(15.0), vehicle_cruise_m_s=15.0)


def test_an_endless_jump_cannot_pass_the_endurance_check() -> None:
    """A DO_JUMP with repeat −1 loops until the battery failsafe: flown once in the time model
    it looked short, and a real QGC file with one ended "OK"."""
    from dronekit_plzen.mission_items import CMD_DO_JUMP

    m = _mission(15.0)
    m.items.insert(5, MissionItem(command=CMD_DO_JUMP, param1=1.0, param2=-1.0))
    veh = Vehicle(key="t", name="test quad", cruise_speed_m_s=15.0, endurance_min=12.0)
    fc = clear_for_flight(m, vehicle=veh, raise_on_unsafe=False)
    found = [v for s in fc.sorties for v in s.report.violations if v.rule == "endurance"]
    assert found and "repeats forever" in found[0].message and found[0].item_index == 5
    # without a vehicle profile there is no endurance to check: a note, as before
    fc = clear_for_flight(m, raise_on_unsafe=False)
    assert not any(v.rule == "endurance" for s in fc.sorties for v in s.report.violations)


def test_a_speed_command_beyond_the_vehicle_is_timed_at_its_top_speed() -> None:
    """DO_CHANGE_SPEED 40 m/s on a quad that tops out at 15 m/s: the aircraft flies 15, so the
    legs are timed at 15 (timed at 40 the 6 km fitted the battery on paper)."""
    from dronekit_plzen.mission_items import CMD_DO_CHANGE_SPEED

    m = _mission(5.0)
    m.items.insert(1, MissionItem(command=CMD_DO_CHANGE_SPEED, param1=1.0, param2=40.0))
    # 6 km at 15 m/s is ~7 min of 9 usable, at 40 m/s ~3 min: both fit; with 5 min usable only
    # the 40 m/s figure fits
    veh = Vehicle(
        key="t", name="test quad", cruise_speed_m_s=15.0, max_speed_m_s=15.0, endurance_min=6.5
    )
    fc = clear_for_flight(m, vehicle=veh, raise_on_unsafe=False)
    assert any(v.rule == "endurance" for s in fc.sorties for v in s.report.violations)


def test_climb_and_descent_speed_commands_are_not_horizontal_speeds() -> None:
    """Speed types 2 and 3 set the climb and descent speeds, not the legs' speed: a 1 m/s climb
    speed read as a 1 m/s cruise made a 6 km flight look 100 minutes long."""
    from dronekit_plzen.mission_items import CMD_DO_CHANGE_SPEED

    m = _mission(15.0)
    m.items.insert(1, MissionItem(command=CMD_DO_CHANGE_SPEED, param1=2.0, param2=1.0))
    assert not _endurance_violated(m, vehicle_cruise_m_s=15.0)


def test_a_flight_of_2e9_s_is_an_endurance_problem_not_a_crash() -> None:
    """A hold time of 1e30 s (within a 32-bit float) overflowed the clock the airspace zones are
    checked over (an internal error); such a hold is now refused as beyond what ArduPilot
    stores (tests/safety/test_guard_stored_ranges.py), but a 65535 s hold repeated 30,000 times
    by a DO_JUMP still makes a flight of 2e9 s: simply too long, said in three digits."""
    from dronekit_plzen.mission_items import CMD_DO_JUMP

    m = _mission(5.0)
    m.items[1] = m.items[1].with_(param1=65535.0)
    m.items.insert(2, MissionItem(command=CMD_DO_JUMP, param1=1.0, param2=30000.0))
    assert _endurance_violated(m, vehicle_cruise_m_s=5.0)
    veh = Vehicle(key="t", name="test quad", cruise_speed_m_s=5.0, endurance_min=12.0)
    fc = clear_for_flight(m, vehicle=veh, raise_on_unsafe=False)
    (why,) = [v.message for s in fc.sorties for v in s.report.violations if v.rule == "endurance"]
    assert why.startswith("flight takes 1.97e+09 s but only 540 s are usable"), why
