"""A NAV item at latitude = longitude = 0 is ArduPilot's "where the aircraft is" (Mission
Planner writes take-offs and landings so); PX4 flies to an item's position as given, so such a
landing went to 0°N 0°E (``MissionBlock::item_contains_position``; its first-waypoint distance
check only warns). The link sends PX4 those items at the places the guard's walk has the
aircraft, and refuses what it cannot place."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from dronekit_plzen import mission_items as mi
from dronekit_plzen.errors import MissionTransferError
from dronekit_plzen.link import connect
from dronekit_plzen.link.mission_packing import here_positions, keeps_altitude_here
from dronekit_plzen.mission_items import MissionItem
from dronekit_plzen.safety import Clearance

HB_HZ = 10.0
NORTH_DEG = 3e-4  # ~33 m


def _ready(v: Any) -> Any:
    v.wait_ready_to_arm(timeout_s=30)
    return v.wait_for(lambda s: s.home is not None and s.position_known, 30, "home")


def _here_mission(lat: float, lon: float) -> list[MissionItem]:
    return [
        MissionItem(mi.CMD_NAV_TAKEOFF, frame=mi.FRAME_GLOBAL_RELATIVE_ALT, alt_m=15.0),
        MissionItem(
            mi.CMD_NAV_WAYPOINT,
            frame=mi.FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=lat + NORTH_DEG,
            lon_deg=lon,
            alt_m=15.0,
        ),
        MissionItem(mi.CMD_DO_CHANGE_SPEED, frame=mi.FRAME_MISSION, param1=1, param2=5.0),
        MissionItem(mi.CMD_NAV_LAND, frame=mi.FRAME_GLOBAL_RELATIVE_ALT),
    ]


@contextmanager
def _connected(
    sim_factory: Any, sim_url_of: Any, autopilot: str
) -> Iterator[tuple[Any, Any, list[MissionItem]]]:
    """A simulated ``autopilot`` ready to fly: its vehicle, home and :func:`_here_mission`."""
    fleet = sim_factory(1, autopilot)
    with connect(sim_url_of(fleet, 0), heartbeat_hz=HB_HZ) as link:
        v = link.wait_vehicle(timeout_s=10)
        home = _ready(v).home
        yield v, home, _here_mission(home[0], home[1])


def test_here_is_the_launch_point_then_the_last_place_then_home_after_an_rtl() -> None:
    wp = MissionItem(mi.CMD_NAV_WAYPOINT, frame=3, lat_deg=49.75, lon_deg=13.38, alt_m=20)
    up = MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, alt_m=20)
    land = MissionItem(mi.CMD_NAV_LAND, frame=3)
    rtl = MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2)
    roi = MissionItem(mi.CMD_DO_SET_ROI_LOCATION, frame=3, lat_deg=49.0, lon_deg=13.0)
    fence = MissionItem(mi.CMD_NAV_WAYPOINT, frame=3, mission_type=mi.MISSION_TYPE_FENCE)
    items = [up, roi, wp, land, fence, rtl, up, land]
    assert here_positions(items) == {
        0: None,  # before any place: the launch point
        3: (49.75, 13.38),  # the waypoint's, not the ROI's
        6: None,  # after the RTL
        7: None,
    }
    assert here_positions([wp, land.with_(lat_deg=49.8, lon_deg=13.4)]) == {}
    assert keeps_altitude_here(MissionItem(mi.CMD_NAV_WAYPOINT, frame=3))
    assert not keeps_altitude_here(MissionItem(mi.CMD_NAV_WAYPOINT, frame=3, alt_m=20))
    assert not keeps_altitude_here(land)  # a landing descends whatever its altitude


def test_px4_is_sent_here_items_at_their_places_and_flies_them_there(
    sim_factory: Any, sim_url_of: Any, caplog: Any
) -> None:
    with _connected(sim_factory, sim_url_of, "px4") as (v, home, items):
        with caplog.at_level("WARNING", logger="dronekit_plzen.link.vehicle"):
            v.upload_mission(items, clearance=Clearance.passed(items))  # verified
        assert "item 1 (NAV_TAKEOFF) at" in caplog.text and "item 4 (NAV_LAND) at" in caplog.text
        back = v.download_mission()
        assert (back[0].lat_deg, back[0].lon_deg) == pytest.approx((home[0], home[1]), abs=2e-7)
        assert (back[3].lat_deg, back[3].lon_deg) == pytest.approx(
            (home[0] + NORTH_DEG, home[1]), abs=2e-7
        )
        v.arm()
        v.start_mission()
        v.wait_for(lambda s: s.relative_alt_m > 10, 60, "climb")
        end = v.wait_for(lambda s: not s.armed, 240, "landed and disarmed")
        north_m = (end.lat_deg - home[0]) * 111_200.0
        east_m = (end.lon_deg - home[1]) * 111_200.0 * math.cos(math.radians(home[0]))
        assert math.hypot(north_m - NORTH_DEG * 111_200.0, east_m) < 5.0, (north_m, east_m)


def test_ardupilot_is_sent_here_items_as_they_are(sim_factory: Any, sim_url_of: Any) -> None:
    with _connected(sim_factory, sim_url_of, "ardupilot") as (v, _home, items):
        v.upload_mission(items, clearance=Clearance.passed(items))
        back = v.download_mission()
        assert [(b.lat_deg, b.lon_deg) for b in (back[0], back[3])] == [(0.0, 0.0), (0.0, 0.0)]


def test_a_waypoint_here_at_altitude_0_is_refused_for_px4_before_anything_is_sent(
    sim_factory: Any, sim_url_of: Any
) -> None:
    with _connected(sim_factory, sim_url_of, "px4") as (v, _home, items):
        items.insert(2, MissionItem(mi.CMD_NAV_LOITER_TIME, frame=3, param1=5.0))
        with pytest.raises(MissionTransferError) as err:
            v.upload_mission(items, clearance=Clearance.passed(items))
        assert str(err.value).startswith(
            "item 3 (NAV_LOITER_TIME) has latitude, longitude and altitude 0: ArduPilot flies it "
            "where the aircraft is, at its altitude; PX4 would fly it to 0°N 0°E"
        )
        assert (err.value.seq, err.value.command) == (2, mi.CMD_NAV_LOITER_TIME)
        assert v.download_mission() == []
