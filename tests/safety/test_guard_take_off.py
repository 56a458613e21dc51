"""The guard flies a take-off and the first climb as the firmware does, and checks the clearance
above the ground without a DEM too.

ArduCopter climbs a NAV_TAKEOFF straight up where the aircraft is and ignores the item's position
(``ModeAuto::takeoff_start``); PX4 climbs where it is and then flies to the item's position at that
altitude (``Mission::handleTakeoff``). The guard had both fly a diagonal from the launch point to
the item's position as take-off, unchecked for clearance. A mission without a take-off item:
PX4 climbs straight up to the first item's altitude before it flies to it
(``MissionBase::checkClimbRequired``); the guard had a diagonal from the ground, whose low part
near the launch point it then either refused with a DEM (the real Mission Planner sample) or let
through unchecked. Without a DEM the guard checked no clearance at all: a PX4 waypoint at 0 m
above home passed and was flown along the ground on PX4 SITL.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dronekit_plzen.geo import WGS84, transform
from dronekit_plzen.mission_items import (
    CMD_NAV_LAND,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
    MissionItem,
)
from missions.formats import load_mission
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.trajectory import Trajectory, trajectory
from missions.validation import validate

from .conftest import GROUND_M, ORIGIN, flat, write_dem

LON, LAT = ORIGIN
M_PER_DEG_LAT = 111_200.0
M_PER_DEG_LON = 111_200.0 * float(np.cos(np.radians(LAT)))
MISSION_PLANNER = Path(__file__).parents[2] / "../shared/data/missions/qgc_MissionPlanner.waypoints"


def _at(east_m: float, north_m: float) -> tuple[float, float]:
    return LAT + north_m / M_PER_DEG_LAT, LON + east_m / M_PER_DEG_LON


def _wp(east_m: float, north_m: float, alt_m: float, cmd: int = CMD_NAV_WAYPOINT) -> MissionItem:
    lat, lon = _at(east_m, north_m)
    return MissionItem(
        command=cmd, frame=FRAME_GLOBAL_RELATIVE_ALT, lat_deg=lat, lon_deg=lon, alt_m=alt_m
    )


def _mission(items: list[MissionItem], autopilot: int) -> Mission:
    m = Mission(items=items, home=(LON, LAT, GROUND_M))
    m.autopilot = autopilot
    return m


def _from_home(tr: Trajectory, mask: np.ndarray) -> np.ndarray:
    hx, hy = tr.home_xy
    return np.asarray(np.hypot(tr.x[mask] - hx, tr.y[mask] - hy))


def _take_off_away() -> list[MissionItem]:
    """A take-off placed 100 m east to 20 m, a waypoint 100 m north at 20 m, RTL."""
    return [
        _wp(100.0, 0.0, 20.0, CMD_NAV_TAKEOFF),
        _wp(0.0, 100.0, 20.0),
        MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH),
    ]


def test_ardupilot_takes_off_straight_up_and_leaves_from_the_launch_point() -> None:
    tr = trajectory(_mission(_take_off_away(), AUTOPILOT_ARDUPILOT))
    climb = tr.item == 0
    assert _from_home(tr, climb).max() < 0.01  # the item's position is ignored
    assert tr.phase[climb].max() == 0
    assert tr.alt[climb][-1] == pytest.approx(GROUND_M + 20.0)
    # the leg to the waypoint starts at the launch point: its first sample is 5 m along a
    # straight line from there, not from 100 m east
    leg = tr.item == 1
    assert _from_home(tr, leg)[0] == pytest.approx(5.0, abs=0.5)
    assert tr.length_m == pytest.approx(20.0 + 100.0 + 100.0 + 20.0, abs=1.0)


def test_px4_takes_off_straight_up_then_flies_to_the_take_off_position() -> None:
    tr = trajectory(_mission(_take_off_away(), AUTOPILOT_PX4))
    items = tr.item == 0
    up = items & (tr.phase == 0)
    assert _from_home(tr, up).max() < 0.01
    assert tr.alt[up][-1] == pytest.approx(GROUND_M + 20.0)
    across = items & (tr.phase == 1)
    assert _from_home(tr, across)[-1] == pytest.approx(100.0, abs=0.5)
    assert np.allclose(tr.alt[across], GROUND_M + 20.0)


def test_ardupilot_take_off_never_descends_and_climbs_at_least_a_metre() -> None:
    """``takeoff_start``: the target is at least the aircraft's altitude (+1 m on the ground)."""
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL_RELATIVE_ALT, alt_m=0.0),
        _wp(0.0, 100.0, 20.0),
        MissionItem(command=CMD_NAV_LAND),
    ]
    tr = trajectory(_mission(items, AUTOPILOT_ARDUPILOT))
    assert tr.alt[tr.item == 0][-1] == pytest.approx(GROUND_M + 1.0)


@pytest.mark.parametrize("autopilot", [AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4])
def test_without_a_take_off_the_first_item_is_climbed_to_straight_up(autopilot: int) -> None:
    items = [_wp(0.0, 300.0, 40.0), MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH)]
    tr = trajectory(_mission(items, autopilot))
    first = tr.item == 0
    up = first & (tr.phase == 0)
    assert _from_home(tr, up).max() < 0.01
    assert tr.alt[up][-1] == pytest.approx(GROUND_M + 40.0)
    assert np.allclose(tr.alt[first & (tr.phase == 1)], GROUND_M + 40.0)
    assert any("no take-off item" in n for n in tr.notes)


def test_a_low_leg_is_refused_without_a_dem() -> None:
    """PX4 flies a waypoint at 0 m above home down to the launch point's height (seen on PX4
    SITL: 40 m along the ground at 0.3-4 m); ArduCopter keeps the aircraft's altitude for it."""
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL_RELATIVE_ALT, alt_m=15.0),
        _wp(0.0, 40.0, 0.0),
        MissionItem(command=CMD_NAV_LAND),
    ]
    px4 = validate(_mission(items, AUTOPILOT_PX4))
    assert not px4.ok
    (v,) = [v for v in px4.violations if v.rule == "terrain_clearance"]
    assert v.item_index == 1 and v.value == pytest.approx(0.0, abs=0.01)
    assert "above the home elevation" in v.message and "no DEM" in v.message
    assert "terrain_clearance" in px4.checked
    assert validate(_mission(items, AUTOPILOT_ARDUPILOT)).ok


@pytest.mark.parametrize(("alt_m", "ok"), [(9.0, False), (10.0, True)])
def test_the_flat_ground_clearance_is_the_dem_rule(alt_m: float, ok: bool) -> None:
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL_RELATIVE_ALT, alt_m=alt_m),
        _wp(0.0, 200.0, alt_m),
        MissionItem(command=CMD_NAV_LAND),
    ]
    assert validate(_mission(items, AUTOPILOT_PX4)).ok is ok


def test_outside_the_dem_the_home_elevation_is_the_ground(tmp_path: Path) -> None:
    """The note says the home elevation is used outside the DEM: the clearance is checked
    against it there, not skipped."""
    dem = write_dem(tmp_path / "small.tif", flat, half_m=300.0)
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL_RELATIVE_ALT, alt_m=30.0),
        _wp(0.0, 600.0, 30.0),
        _wp(0.0, 900.0, 5.0),
        MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH),
    ]
    r = validate(_mission(items, AUTOPILOT_PX4), dem=dem)
    low = {(v.item_index, v.message) for v in r.violations if v.rule == "terrain_clearance"}
    flat_ground = "only 5.0 m above the home elevation (no DEM there: the ground taken as flat)"
    # the leg to 900 m north and the return at 5 m (PX4 without RTL values) beyond the DEM (one
    # run, named after its first item), the rest of the return within it
    assert low == {(2, flat_ground), (3, "only 5.0 m above the terrain (DEM)")}
    assert any("outside the DEM" in n for n in r.notes)


@pytest.mark.parametrize("with_dem", [False, True])
def test_the_mission_planner_sample_passes_with_its_climb_from_the_ground(
    tmp_path: Path, with_dem: bool
) -> None:
    """Its first leg climbs from the ground to 100 m without a take-off item; on a flat DEM at
    the home elevation the diagonal from the ground used to be refused near the launch point."""
    m = load_mission(MISSION_PLANNER)
    dem = None
    if with_dem:
        assert m.home is not None
        lon, lat, h = m.home
        dem = write_dem(
            tmp_path / "flat.tif",
            lambda dx, _dy: np.full(dx.shape, h),
            center=(lon, lat),
            half_m=1500.0,
        )
    r = validate(m, dem=dem)
    assert r.ok, r.violations


def test_an_ardupilot_circle_starts_and_ends_at_its_closest_point() -> None:
    """LOITER_TURNS on ArduCopter (``circle_movetoedge_start``, ``AC_Circle``): to the point of
    the circle closest to the aircraft, round it, and on from there; the guard had flown to the
    centre and back to it, so the leg after a circle left from the centre (on ArduCopter SITL up
    to 11.6 m away from the flown leg with a 25 m radius; a radius of 100 m would be 100 m)."""
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL_RELATIVE_ALT, alt_m=30.0),
        _wp(0.0, 300.0, 30.0, 18),  # LOITER_TURNS, 300 m north
        MissionItem(command=CMD_NAV_LAND),
    ]
    items[1] = items[1].with_(param1=2.0, param3=100.0)
    tr = trajectory(_mission(items, AUTOPILOT_ARDUPILOT))
    circle = tr.item == 1
    d = _from_home(tr, circle)
    # approached from home: the closest point is 200 m north, and the circle never at 300 m
    assert d[0] == pytest.approx(5.0, abs=0.5) and d.min() < 200.5
    (cx,), (cy,) = transform([items[1].lon_deg], [items[1].lat_deg], WGS84, tr.epsg)
    ring = np.hypot(tr.x[circle] - cx, tr.y[circle] - cy)
    assert np.percentile(ring, 50) == pytest.approx(100.0, abs=0.5)
    # the landing leaves from the circle's closest point, not from its centre
    land = tr.item == 2
    assert _from_home(tr, land).max() == pytest.approx(200.0, abs=0.5)
    # two turns at most sqrt(0.5 * 3 m/s² * 100 m) = 12.2 m/s, at most 20°/s = 34.9 m/s
    assert tr.duration_s > 2 * 2 * np.pi * 100.0 / min(10.0, np.sqrt(150.0))


def test_the_trail_of_an_ardupilot_circle() -> None:
    """The chord ``v²/2a`` behind the point: a quarter of the radius when the acceleration sets
    the speed (14.4°), less when the leg speed does, nothing on a circle without radius."""
    from dronekit_plzen.mission_items import ap_circle_trail_rad

    assert np.degrees(ap_circle_trail_rad(5.0, 2.5, 16.0)) == pytest.approx(14.36, abs=0.01)
    assert np.degrees(ap_circle_trail_rad(10.0, 2.5, 150.0)) == pytest.approx(7.64, abs=0.01)
    assert ap_circle_trail_rad(5.0, 2.5, 0.0) == 0.0
    assert ap_circle_trail_rad(5.0, 0.0, 16.0) == 0.0


def _circles_through_a_jump(takeoff_alt_m: float) -> tuple[Trajectory, float, float]:
    """A take-off to ``takeoff_alt_m``, one turn of a 28 m circle at 10 m round a point 22 m
    east, a DO_JUMP back to the take-off twice, a waypoint 90 m east and 12 m north, RTL
    (``make fuzz``'s case): the walk and the circle's centre in its metric CRS."""
    from dronekit_plzen.mission_items import CMD_DO_JUMP, CMD_NAV_LOITER_TURNS

    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL_RELATIVE_ALT, alt_m=takeoff_alt_m),
        _wp(22.0, 0.0, 10.0, CMD_NAV_LOITER_TURNS).with_(param1=1.0, param3=28.0),
        MissionItem(command=CMD_DO_JUMP, param1=0.0, param2=2.0),
        _wp(90.0, 12.0, 10.0),
        MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH),
    ]
    tr = trajectory(_mission(items, AUTOPILOT_ARDUPILOT))
    (cx,), (cy,) = transform([items[1].lon_deg], [items[1].lat_deg], WGS84, tr.epsg)
    return tr, cx, cy


def _bearing_deg(tr: Trajectory, cx: float, cy: float, mask: np.ndarray) -> np.ndarray:
    """Bearings from the centre, clockwise from north, unwrapped along the walk."""
    b = np.arctan2(tr.x[mask] - cx, tr.y[mask] - cy)
    return np.asarray(np.degrees(np.unwrap(b)))


def test_ardupilot_circles_flown_again_through_a_jump_begin_where_the_last_ended() -> None:
    """ArduCopter trails a circle's moving point and counts the turns on the point, so each
    circle ends short of its end (``mission_items.ap_circle_trail_rad``: 14.4° here), and a
    circle flown again through a DO_JUMP to a take-off already reached begins where the
    aircraft is. On ArduCopter SITL the third circle ended about 40° short and the leg to the
    waypoint left from there; the guard had ended every circle at its full turn, 15 m from
    where the simulator left it (``make fuzz``) and 13.8 m from where SITL did."""
    tr, cx, cy = _circles_through_a_jump(10.0)
    on = tr.item == 1
    b = _bearing_deg(tr, cx, cy, on)
    # begun west (the closest point from the take-off 22 m west of the centre); each circle
    # begins where the last left the aircraft, a trail short: after three the aircraft is
    # three trails short of the three turns, where the waypoint's leg leaves from, and the
    # walk swings on to where the point ended, two trails short, and back
    assert b[0] == pytest.approx(-90.0, abs=2.0)  # (UTM grid north is 1.3° off true north)
    assert b[-1] - b[0] == pytest.approx(1080.0 - 3 * 14.4, abs=1.0)
    assert b.max() - b[0] == pytest.approx(1080.0 - 2 * 14.4, abs=1.0)
    # the take-offs reached again where the last circle left the aircraft, and the circles
    # begun there: 14.4° and 28.8° short of the first circle's start
    again = _bearing_deg(tr, cx, cy, (tr.item == 0) & (tr.x != tr.x[0]))
    assert np.allclose((again - b[0]) % 360.0, [360.0 - 14.4, 360.0 - 28.8], atol=1.0), again
    ring = np.hypot(tr.x[on] - cx, tr.y[on] - cy)
    assert ring[1:].min() > 27.5 and ring.max() < 28.01  # (from 22 m out to the edge first)


def test_a_circle_after_a_climbing_take_off_begins_where_the_last_point_ended() -> None:
    """The same with the take-off at 14 m: the aircraft stops (it brakes ahead, to where the
    circle's point ended), climbs there and comes down to the circle: each circle begins
    west again (SITL and the simulator: 7° to 17° short of the end each time on 16 m)."""
    tr, cx, cy = _circles_through_a_jump(14.0)
    climbs = (tr.item == 0) & (tr.phase == 0)
    starts = _bearing_deg(tr, cx, cy, climbs)
    assert np.allclose(((starts + 180.0) % 360.0) - 180.0, -90.0, atol=2.0)


def test_ardupilot_without_a_take_off_is_walked_from_fly_s_take_off() -> None:
    """``fly`` takes an ArduCopter mission without a take-off item off in GUIDED to
    ``--takeoff-alt`` (20 m) and starts it there: the first leg is the diagonal from 20 m over
    the launch point up to the item, lower near the launch point than the vertical climb to the
    item's 60 m the guard had walked (a slope there was cleared at 60 m, flown at 20-30 m)."""
    items = [_wp(0.0, 400.0, 60.0), MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH)]
    tr = trajectory(_mission(items, AUTOPILOT_ARDUPILOT), takeoff_alt_m=20.0)
    first = tr.item == 0
    up = first & (tr.phase == 0)
    assert _from_home(tr, up).max() < 0.01
    assert tr.alt[up][-1] == pytest.approx(GROUND_M + 20.0)
    leg = first & (tr.phase == 1)
    d = _from_home(tr, leg)
    # on the straight line from (0 m, 20 m) to (400 m, 60 m)
    assert np.allclose(tr.alt[leg], GROUND_M + 20.0 + 40.0 * d / 400.0, atol=0.5)
    assert any("take-off climbs straight up to 20 m" in n for n in tr.notes)
    # without fly's take-off (plan validate) the climb is taken as PX4 flies it
    tr0 = trajectory(_mission(items, AUTOPILOT_ARDUPILOT))
    assert tr0.alt[(tr0.item == 0) & (tr0.phase == 0)][-1] == pytest.approx(GROUND_M + 60.0)


def test_a_slope_below_fly_s_take_off_leg_is_refused(tmp_path: Path) -> None:
    """Ground rising 25 m within 100 m north of the launch point: the item at 60 m 400 m north
    clears it when climbed to straight up, but not on the leg from fly's 20 m take-off."""
    dem = write_dem(
        tmp_path / "slope.tif",
        lambda _dx, dy: GROUND_M + np.clip(dy, 0.0, 100.0) * 0.25,
        half_m=1500.0,
    )
    m = _mission([_wp(0.0, 400.0, 60.0), MissionItem(command=CMD_NAV_LAND)], AUTOPILOT_ARDUPILOT)
    assert validate(m, dem=dem).ok
    r = validate(m, dem=dem, takeoff_alt_m=20.0)
    assert not r.ok
    assert {v.rule for v in r.violations} == {"terrain_clearance"}
    assert {v.item_index for v in r.violations} == {0}


def test_fly_s_take_off_to_a_later_take_off_item_is_walked_at_its_altitude() -> None:
    """A take-off item that is not the first NAV item: ``fly`` climbs to its altitude (AMSL
    items converted to above home), and so does the walk."""
    from dronekit_plzen.mission_items import FRAME_GLOBAL

    items = [
        _wp(0.0, 200.0, 40.0),
        MissionItem(command=CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL, alt_m=GROUND_M + 35.0),
        MissionItem(command=CMD_NAV_LAND),
    ]
    tr = trajectory(_mission(items, AUTOPILOT_ARDUPILOT), takeoff_alt_m=20.0)
    up = (tr.item == 0) & (tr.phase == 0)
    assert tr.alt[up][-1] == pytest.approx(GROUND_M + 35.0)
