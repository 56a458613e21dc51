"""The guard reads a mission as the firmware will fly it: parameters ArduPilot stores as another
value are refused, a NAV_DELAY's wait is counted, loiter turns and radius are the stored ones.

Seen on ArduCopter SITL (4.7.0-dev, 2026-12-05; upload, then download): a hold of -1 s was
stored as 65535 s, 70000 s as 4464 s, a loiter time of -5 s as 65531 s, -2 loiter turns of
25 m as 254 turns of 255 m, a 3000 m loiter radius as 2550 m and 263.7 m as 260 m, 2.5 turns as
2, a payload descent of 700 m as 44.64 m; a hold of 1e23 s stopped SITL with a floating-point
exception. ``validate`` had said OK to each. A NAV_DELAY of 3600 s (the aircraft hovers an hour)
passed the endurance check of a 20-minute quad: the guard did not count it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import WGS84, transform
from dronekit_plzen.mission_items import (
    CMD_DO_JUMP,
    CMD_NAV_DELAY,
    CMD_NAV_LOITER_TIME,
    CMD_NAV_LOITER_TURNS,
    CMD_NAV_PAYLOAD_PLACE,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_MISSION,
    MissionItem,
)
from missions.clearance import clear_for_flight
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.trajectory import ap_loiter_turns, nav_delay_s, trajectory
from missions.vehicles import Vehicle

from .conftest import GROUND_M, ORIGIN

LON, LAT = ORIGIN


def _mission(extra: MissionItem | None, autopilot: int = AUTOPILOT_ARDUPILOT) -> Mission:
    """Take-off, a waypoint 200 m north, ``extra`` (positioned items 200 m north), RTL."""
    north = LAT + 200.0 / 111_200.0
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL_RELATIVE_ALT, alt_m=30.0),
        MissionItem(
            command=CMD_NAV_WAYPOINT,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=north,
            lon_deg=LON,
            alt_m=30.0,
        ),
    ]
    if extra is not None:
        items.append(extra)
    items.append(MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH))
    m = Mission(items=items, home=(LON, LAT, GROUND_M))
    m.autopilot = autopilot
    return m


def _placed(command: int, p1: float = 0.0, p3: float = 0.0) -> MissionItem:
    return MissionItem(
        command=command,
        frame=FRAME_GLOBAL_RELATIVE_ALT,
        param1=p1,
        param3=p3,
        lat_deg=LAT + 200.0 / 111_200.0,
        lon_deg=LON,
        alt_m=30.0,
    )


def _delay(p1: float, h: float = -1, m: float = -1, s: float = -1) -> MissionItem:
    return MissionItem(
        command=CMD_NAV_DELAY, frame=FRAME_MISSION, param1=p1, param2=h, param3=m, param4=s
    )


def _jump(target: float, repeat: float) -> MissionItem:
    return MissionItem(command=CMD_DO_JUMP, frame=FRAME_MISSION, param1=target, param2=repeat)


REFUSED = [
    ("hold -1 s", _placed(CMD_NAV_WAYPOINT, p1=-1), r"NAV_WAYPOINT\): parameter 1 is -1 s"),
    ("hold 70000 s", _placed(CMD_NAV_WAYPOINT, p1=70000), r"is 70000 s, outside 0 to 65535 s"),
    ("hold 1e23 s", _placed(CMD_NAV_WAYPOINT, p1=1e23), r"parameter 1 is 1e\+23 s"),
    ("loiter -5 s", _placed(CMD_NAV_LOITER_TIME, p1=-5), r"NAV_LOITER_TIME\): parameter 1"),
    ("turns -2", _placed(CMD_NAV_LOITER_TURNS, p1=-2, p3=25), r"is -2, outside 0 to 255: "),
    ("turns 300", _placed(CMD_NAV_LOITER_TURNS, p1=300, p3=25), r"in 8 bits"),
    ("radius 3000 m", _placed(CMD_NAV_LOITER_TURNS, p1=2, p3=3000), r"parameter 3 is 3000 m"),
    ("radius -2560 m", _placed(CMD_NAV_LOITER_TURNS, p1=2, p3=-2560), r"outside -2559 to 2559"),
    ("descent 700 m", _placed(CMD_NAV_PAYLOAD_PLACE, p1=700), r"outside 0 to 655.35 m"),
    ("descent -1 m", _placed(CMD_NAV_PAYLOAD_PLACE, p1=-1), r"NAV_PAYLOAD_PLACE\)"),
    ("delay 5e6 s", _delay(5e6), r"NAV_DELAY\): parameter 1 is 5e\+06 s, outside 0 to 4.29497e"),
    ("delay until 25:00", _delay(0, 25), r"NAV_DELAY\): 25:-1:-1 is not a time of day"),
    ("delay until minute 60", _delay(-1, -1, 60), r"-1:60:-1 is not a time of day"),
    ("delay until NaN", _delay(0, math.nan), r"nan:-1:-1 is not a time of day"),
    ("jump repeat 40000", _jump(1, 40000), r"DO_JUMP\): parameter 2 is 40000, outside -1 to 32767"),
    ("jump repeat -2", _jump(1, -2), r"DO_JUMP\): parameter 2 is -2, outside -1 to 32767"),
    ("jump to item -1", _jump(-1, 2), r"DO_JUMP\): jumps to an item the mission does not have"),
    ("jump to item 4 of 4", _jump(4, 2), r"DO_JUMP\): jumps to an item the mission does not"),
    ("jump repeat NaN", _jump(1, math.nan), r"DO_JUMP\): parameter 2 is not a number"),
    ("jump to NaN", _jump(math.nan, 2), r"DO_JUMP\): parameter 1 is not a number"),
]


@pytest.mark.parametrize(("item", "why"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_value_the_firmware_would_store_as_another_is_refused(
    item: MissionItem, why: str
) -> None:
    with pytest.raises(BadInputError, match=why) as err:
        clear_for_flight(_mission(item), raise_on_unsafe=False)
    assert str(err.value).startswith("item 3 ("), err.value


KEPT = [
    ("hold 65535 s", _placed(CMD_NAV_WAYPOINT, p1=65535.9)),
    ("hold -0.5 s (stored 0)", _placed(CMD_NAV_WAYPOINT, p1=-0.5)),
    ("hold NaN (the firmware's own check)", _placed(CMD_NAV_WAYPOINT, p1=math.nan)),
    ("turns 255 of 2559 m", _placed(CMD_NAV_LOITER_TURNS, p1=255, p3=-2559)),
    ("turns 0.3", _placed(CMD_NAV_LOITER_TURNS, p1=0.3, p3=25)),
    ("descent 655.35 m", _placed(CMD_NAV_PAYLOAD_PLACE, p1=655.35)),
    ("delay 4294967 s", _delay(4_294_967)),
    ("delay until 23:59:59", _delay(0, 23, 59, 59)),
    ("delay -1 with no time", _delay(-1)),
    ("jump forever", _jump(1, -1)),
    ("jump 32767 times", _jump(1, 32767)),
]


@pytest.mark.parametrize("item", [c[1] for c in KEPT], ids=[c[0] for c in KEPT])
def test_values_the_firmware_keeps_pass_the_range_check(item: MissionItem) -> None:
    clear_for_flight(_mission(item), raise_on_unsafe=False)


def test_a_nav_delay_is_counted_in_the_flight_time() -> None:
    base = trajectory(_mission(None)).duration_s
    delayed = trajectory(_mission(_delay(600)))
    assert delayed.duration_s == pytest.approx(base + 600.0, abs=1.0)
    assert not delayed.notes or "NAV_DELAY" not in " ".join(delayed.notes)


def test_an_hour_long_nav_delay_fails_the_endurance_check() -> None:
    """The finding: a 3600 s NAV_DELAY passed the endurance check of a 20-minute quad."""
    veh = Vehicle(key="t", name="test quad", cruise_speed_m_s=10.0, endurance_min=20.0)
    fc = clear_for_flight(_mission(_delay(3600)), vehicle=veh, raise_on_unsafe=False)
    found = [v for s in fc.sorties for v in s.report.violations if v.rule == "endurance"]
    assert found, [v.message for s in fc.sorties for v in s.report.violations]
    fc = clear_for_flight(_mission(_delay(60)), vehicle=veh, raise_on_unsafe=False)
    assert not any(v.rule == "endurance" for s in fc.sorties for v in s.report.violations)


@pytest.mark.parametrize(
    ("hms", "ardupilot_s"),
    [((14, 30, 0), 86400.0), ((-1, 30, 0), 3600.0), ((-1, -1, 15), 60.0), ((-1, -1, -1), 1.0)],
)
def test_a_wait_for_a_time_of_day_counts_its_longest(
    hms: tuple[float, float, float], ardupilot_s: float
) -> None:
    """ArduPilot waits until the UTC time (``AP_RTC::get_time_utc``): up to a day when the hour
    is given, an hour for the minute, a minute for the second, a second for none. PX4 does not
    wait when param1 is not positive."""
    it = _delay(0, *hms)
    assert nav_delay_s(it, ardupilot=True) == (ardupilot_s, hms != (-1, -1, -1))
    assert nav_delay_s(it, ardupilot=False) == (0.0, False)
    base = trajectory(_mission(None)).duration_s
    t = trajectory(_mission(it))
    assert t.duration_s == pytest.approx(base + ardupilot_s, abs=1.0)
    said = [n for n in t.notes if "NAV_DELAY waits for a time of day" in n]
    assert len(said) == (hms != (-1, -1, -1))
    px4 = trajectory(_mission(it, autopilot=AUTOPILOT_PX4))
    px4_base = trajectory(_mission(None, autopilot=AUTOPILOT_PX4)).duration_s
    assert px4.duration_s == pytest.approx(px4_base, abs=1.0)


@pytest.mark.parametrize(
    ("turns", "radius", "flown"),
    [
        (2.5, 25.0, (2.0, 25.0)),
        (0.3, 25.0, (76 / 256, 25.0)),
        (2.0, 263.7, (2.0, 260.0)),
        (2.0, -25.9, (2.0, 25.0)),
        (2.0, 0.5, (2.0, 0.0)),
        (255.0, 2559.0, (255.0, 2550.0)),
    ],
)
def test_loiter_turns_are_the_stored_ones(
    turns: float, radius: float, flown: tuple[float, float]
) -> None:
    """The stored forms the firmware reported (see the module docstring)."""
    assert ap_loiter_turns(turns, radius) == flown


def test_the_loiter_circle_checked_is_the_one_flown() -> None:
    """A 263.7 m radius is flown as 260 m: the guard samples that circle and times 2 turns of
    it for 2.5 asked."""
    it = _placed(CMD_NAV_LOITER_TURNS, p1=2.5, p3=263.7)
    t = trajectory(_mission(it), step_m=2.0)
    on = t.item == 2
    (cx,), (cy,) = transform([it.lon_deg], [it.lat_deg], WGS84, t.epsg)
    ring = np.hypot(t.x[on] - cx, t.y[on] - cy)
    assert float(np.median(ring)) == pytest.approx(260.0, abs=1.0)  # round the circle
    assert float(ring.max()) == pytest.approx(260.0, abs=1.0)
    base = trajectory(_mission(_placed(CMD_NAV_WAYPOINT))).duration_s
    v = _mission(None).cruise_speed_m_s
    circling = 2 * 2 * math.pi * 260.0 / v
    # the aircraft arrives at the centre from home: out to the circle behind it (AC_Circle's
    # start angle, its heading less 180°), 260 m south, round it, and home from 60 m south
    # of it instead of from 200 m north
    assert t.duration_s - base == pytest.approx(circling + (260.0 + 60.0 - 200.0) / v, rel=0.02)


@pytest.mark.parametrize("command", [CMD_NAV_WAYPOINT, CMD_NAV_LOITER_TIME, CMD_NAV_LOITER_TURNS])
def test_an_ardupilot_item_at_altitude_0_is_flown_at_the_aircrafts(command: int) -> None:
    """ArduCopter flies a waypoint, loiter or circle whose altitude is 0 at the aircraft's
    altitude (``ModeAuto::loc_from_cmd``); PX4 flies it at 0 m above home. The guard flew both
    down to the ground (a false "terrain clearance" for the ArduPilot file)."""
    it = _placed(command, p1=2.0, p3=20.0).with_(alt_m=0.0, lon_deg=LON + 0.002)
    for autopilot, end_m in ((AUTOPILOT_ARDUPILOT, 30.0), (AUTOPILOT_PX4, 0.0)):
        t = trajectory(_mission(it, autopilot))
        on = t.item == 2
        assert t.alt[on][-1] - GROUND_M == pytest.approx(end_m, abs=0.5), autopilot
    rep = clear_for_flight(_mission(it, AUTOPILOT_ARDUPILOT), raise_on_unsafe=False)
    assert not [v for s in rep.sorties for v in s.report.violations]


def test_a_payload_place_is_flown_to_at_the_aircrafts_altitude() -> None:
    """ArduCopter flies to a NAV_PAYLOAD_PLACE at its present altitude, whatever the item's
    (``do_payload_place``: ``shift_alt_to_current_alt``), then lowers the payload: the guard
    had flown the leg at the item's altitude, 100 m where the aircraft flies at 30 m."""
    it = _placed(CMD_NAV_PAYLOAD_PLACE, p1=0.0).with_(alt_m=100.0, lon_deg=LON + 0.002)
    t = trajectory(_mission(it))
    on = t.item == 2
    assert t.alt[on].max() - GROUND_M == pytest.approx(30.0, abs=0.5)
    assert t.alt[on].min() - GROUND_M == pytest.approx(0.0, abs=0.5)  # lowered to the ground


def test_a_nav_delay_is_refused_on_px4() -> None:
    """PX4 v1.16 moves its altitude setpoint to a NAV_DELAY item's altitude (0 m above sea
    level) whenever the home position is updated while it waits
    (``MissionBase::updateMissionAltAfterHomeChanged``); on PX4 SITL the home was updated about
    every second in flight, a quadrotor descended during a 4 s delay and landed in the middle
    of the mission (interop ``test_nav_delay_is_refused_on_px4_for_the_descent_it_flies``).
    ArduCopter waits at the waypoint. A delay that waits no time (param1 not positive: PX4 does
    not wait for a time of day) is not refused."""
    px4 = clear_for_flight(
        _mission(_delay(5), autopilot=AUTOPILOT_PX4), raise_on_unsafe=False
    ).sorties[0]
    (v,) = [v for v in px4.report.violations if v.rule == "unchecked_command"]
    assert v.item_index == 2 and v.message.startswith("NAV_DELAY on PX4: while it waits")
    assert "NAV_LOITER_TIME" in v.message
    ap = clear_for_flight(_mission(_delay(5)), raise_on_unsafe=False).sorties[0]
    assert ap.report.ok, ap.report.violations
    no_wait = clear_for_flight(
        _mission(_delay(0, -1, -1, -1), autopilot=AUTOPILOT_PX4), raise_on_unsafe=False
    )
    assert no_wait.sorties[0].report.ok, no_wait.sorties[0].report.violations
