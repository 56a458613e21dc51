"""The guard times a mission at the slower of the file's planning speed and the vehicle's.

A QGroundControl plan of a multirotor carries ``cruiseSpeed`` 15 m/s (QGC's fixed-wing figure)
beside ``hoverSpeed`` 5 m/s; the guard timed its legs at 15 m/s, so a flight three times as long
as the battery allows passed the endurance check (found on MAVSDK's sample plans).
"""

from __future__ import annotations

import pytest

from dronekit_plzen.mission_items import (
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
    MissionItem,
)
from missions.clearance import clear_for_flight
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.trajectory import trajectory
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


def test_climb_and_descent_speed_commands_are_not_horizontal_speeds_on_ardupilot() -> None:
    """ArduCopter: speed types 2 and 3 set the climb and descent speeds, not the legs' speed: a
    1 m/s climb speed read as a 1 m/s cruise made a 6 km flight look 100 minutes long."""
    from dronekit_plzen.mission_items import CMD_DO_CHANGE_SPEED

    m = _mission(15.0)
    m.autopilot = AUTOPILOT_ARDUPILOT
    m.items.insert(1, MissionItem(command=CMD_DO_CHANGE_SPEED, param1=2.0, param2=1.0))
    assert not _endurance_violated(m, vehicle_cruise_m_s=15.0)


def test_px4_flies_a_climb_speed_command_as_its_cruise_speed() -> None:
    """PX4's navigator sets the cruise speed from any DO_CHANGE_SPEED with a positive speed,
    whatever its type: on PX4 SITL (v1.16 line) type 2 at 2 m/s flew a 150 m leg at 2 m/s.
    The guard timed the legs at 15 m/s and passed a flight of 6 km at 1 m/s."""
    from dronekit_plzen.mission_items import CMD_DO_CHANGE_SPEED

    m = _mission(15.0)
    assert m.autopilot == AUTOPILOT_PX4
    m.items.insert(1, MissionItem(command=CMD_DO_CHANGE_SPEED, param1=2.0, param2=1.0))
    assert _endurance_violated(m, vehicle_cruise_m_s=15.0)
    t = trajectory(m)
    assert t.duration_s > t.length_m / 1.0 * 0.9


def test_a_speed_of_zero_or_less_resets_px4_and_is_ignored_by_ardupilot() -> None:
    """PX4 resets its cruise speed when a DO_CHANGE_SPEED carries none (seen on SITL: back to
    5 m/s after 2 m/s); ArduCopter ignores it (``do_change_speed`` needs a positive speed)."""
    from dronekit_plzen.mission_items import CMD_DO_CHANGE_SPEED

    def timed(autopilot: int) -> float:
        m = _mission(5.0)
        m.autopilot = autopilot
        m.items.insert(1, MissionItem(command=CMD_DO_CHANGE_SPEED, param1=1.0, param2=15.0))
        m.items.insert(3, MissionItem(command=CMD_DO_CHANGE_SPEED, param1=1.0, param2=-1.0))
        return trajectory(m).duration_s

    fast, reset = timed(AUTOPILOT_ARDUPILOT), timed(AUTOPILOT_PX4)
    assert reset > fast * 1.8, (reset, fast)


def test_ardupilot_ignores_a_speed_type_it_does_not_know() -> None:
    """Type 7 is no SPEED_TYPE: ArduCopter does nothing with it (the guard had flown the legs at
    its speed, 15 m/s for a 5 m/s mission)."""
    from dronekit_plzen.mission_items import CMD_DO_CHANGE_SPEED

    m = _mission(5.0)
    m.autopilot = AUTOPILOT_ARDUPILOT
    base = trajectory(m).duration_s
    m.items.insert(1, MissionItem(command=CMD_DO_CHANGE_SPEED, param1=7.0, param2=15.0))
    assert trajectory(m).duration_s == pytest.approx(base)
    m.items[1] = m.items[1].with_(param1=1.0)
    assert trajectory(m).duration_s < base * 0.5


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


def test_an_unlimited_loiter_cannot_pass_the_endurance_check() -> None:
    """NAV_LOITER_UNLIM holds until the pilot ends it (ArduCopter's verify_loiter_unlimited and
    PX4's "indefinite waypoint" never complete): the guard passed such a mission as an 85 s
    flight. With a vehicle profile it is an endurance problem at the item; without one, a note;
    the items after it are still checked."""
    from dronekit_plzen.mission_items import CMD_NAV_LOITER_UNLIM

    m = _mission(15.0)
    m.items[2] = m.items[2].with_(command=CMD_NAV_LOITER_UNLIM)
    veh = Vehicle(key="t", name="test quad", cruise_speed_m_s=15.0, endurance_min=12.0)
    fc = clear_for_flight(m, vehicle=veh, raise_on_unsafe=False)
    found = [v for s in fc.sorties for v in s.report.violations if v.rule == "endurance"]
    assert found and "NAV_LOITER_UNLIM holds until the pilot" in found[0].message, found
    assert found[0].item_index == 2
    t = trajectory(m)
    assert t.loiter_unlimited == 2 and any("NAV_LOITER_UNLIM" in n for n in t.notes)
    assert set(t.item.tolist()) >= {3, 4}  # flown on after it on paper
    fc = clear_for_flight(m, raise_on_unsafe=False)
    assert not any(v.rule == "endurance" for s in fc.sorties for v in s.report.violations)


def test_px4s_leg_after_a_ground_speed_change_is_timed_at_the_slower_of_the_two() -> None:
    """PX4's flight mode manager takes a ground-speed DO_CHANGE_SPEED issued with a leg's
    setpoint over the navigator's speed for that leg (px4_speed_override): ground speed 1 m/s
    then a climb speed of 15 m/s before the first leg flies it at 1 m/s though the setpoint says
    15; the legs after fly at 15. Timed at 15 throughout, the first leg was 15 times too short."""
    from dronekit_plzen.mission_items import CMD_DO_CHANGE_SPEED
    from missions.trajectory import px4_speed_override

    m = _mission(15.0)
    m.items.insert(1, MissionItem(command=CMD_DO_CHANGE_SPEED, param1=1.0, param2=1.0))
    m.items.insert(2, MissionItem(command=CMD_DO_CHANGE_SPEED, param1=2.0, param2=15.0))
    first_leg_m = 1500.0  # take-off at home, the first waypoint 0.0135° (1.5 km) north
    slow = trajectory(m).duration_s
    plain = trajectory(_mission(15.0)).duration_s
    assert slow - plain == pytest.approx(first_leg_m / 1.0 - first_leg_m / 15.0, rel=0.05)
    m.autopilot = AUTOPILOT_ARDUPILOT  # ArduCopter: 1 m/s on every leg, the climb speed apart
    assert trajectory(m).duration_s > slow * 2
    assert px4_speed_override(m.items[1]) == 1.0
    for p1, p2 in ((2.0, 1.0), (0.0, 1.0), (1.0, -1.0), (float("nan"), 1.0)):
        assert px4_speed_override(m.items[1].with_(param1=p1, param2=p2)) is None
    assert px4_speed_override(m.items[1].with_(param1=1.4, param2=3.0)) == 3.0


def test_an_ardupilot_speed_type_outside_a_byte_counts_only_when_slower() -> None:
    """ArduPilot stores the type as a uint8: -1 wraps to 255 on SITL (ignored) and saturates to
    0 on an ARM flight controller (air speed, taken): only a slower speed is counted then."""
    from dronekit_plzen.mission_items import CMD_DO_CHANGE_SPEED
    from missions.trajectory import speed_change

    for p1 in (-1.0, 256.0, 1e6):
        it = MissionItem(command=CMD_DO_CHANGE_SPEED, param1=p1, param2=2.0)
        assert speed_change(it, True, (5.0, 3.0, 2.0), 5.0) == (2.0, 3.0, 2.0)
        assert speed_change(it.with_(param2=9.0), True, (5.0, 3.0, 2.0), 5.0) == (5.0, 3.0, 2.0)
        assert speed_change(it.with_(param2=9.0), False, (5.0, 3.0, 2.0), 5.0)[0] == 9.0
