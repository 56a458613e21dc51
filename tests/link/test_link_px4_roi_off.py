"""A region of interest at latitude, longitude and altitude 0 is ArduCopter's "ROI off"
(``AutoYaw::set_roi``); PX4 takes the place as given and turns a multicopter toward it, 0°N 0°E,
for the rest of the mission (``MissionBase::heading_sp_update`` with MIS_MNT_YAW_CTL 0, the
default). The link sends PX4 such an item as DO_SET_ROI_NONE; ArduPilot gets it as it is."""

from __future__ import annotations

from typing import Any

import pytest

from dronekit_plzen import mission_items as mi
from dronekit_plzen.link import connect
from dronekit_plzen.link.mission_packing import roi_location, roi_none, roi_off, roi_placed
from dronekit_plzen.mission_items import MissionItem
from dronekit_plzen.safety import Clearance

NORTH_DEG = 3e-4  # ~33 m


@pytest.mark.parametrize(
    ("item", "off"),
    [
        (MissionItem(mi.CMD_DO_SET_ROI_LOCATION, frame=3), True),
        (MissionItem(mi.CMD_DO_SET_ROI_LOCATION, frame=3, alt_m=0.004), True),  # 0 cm
        (MissionItem(mi.CMD_DO_SET_ROI_LOCATION, frame=3, alt_m=0.02), False),
        (MissionItem(mi.CMD_DO_SET_ROI_LOCATION, frame=3, lat_deg=49.7, lon_deg=13.3), False),
        (MissionItem(mi.CMD_DO_SET_ROI, frame=3, param1=3), True),  # MAV_ROI_LOCATION
        (MissionItem(80, frame=3, param1=3), True),  # NAV_ROI
        (MissionItem(mi.CMD_DO_SET_ROI, frame=3, param1=0), False),  # MAV_ROI_NONE already
        (MissionItem(mi.CMD_DO_SET_ROI_NONE, frame=2), False),
        (MissionItem(mi.CMD_DO_SET_ROI_LOCATION, frame=3, mission_type=2), False),  # rally
    ],
)
def test_roi_off_is_a_located_roi_at_zero(item: MissionItem, off: bool) -> None:
    assert roi_off(item) is off


def test_the_gimbal_is_kept() -> None:
    none = roi_none(MissionItem(mi.CMD_DO_SET_ROI_LOCATION, frame=3, param1=2))
    assert (none.command, none.frame, none.param1) == (mi.CMD_DO_SET_ROI_NONE, 2, 2.0)
    assert roi_none(MissionItem(mi.CMD_DO_SET_ROI, frame=3, param1=3)).param1 == 0.0


def _mission(home: tuple[float, float, float]) -> list[MissionItem]:
    return [
        MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=home[0], lon_deg=home[1], alt_m=15.0),
        MissionItem(
            mi.CMD_DO_SET_ROI_LOCATION,
            frame=3,
            lat_deg=home[0],
            lon_deg=home[1] + NORTH_DEG,
            alt_m=0.0,
        ),
        MissionItem(16, frame=3, lat_deg=home[0] + NORTH_DEG, lon_deg=home[1], alt_m=15.0),
        MissionItem(mi.CMD_DO_SET_ROI_LOCATION, frame=3),  # ROI off
        MissionItem(mi.CMD_NAV_LAND, frame=3, lat_deg=home[0] + NORTH_DEG, lon_deg=home[1]),
    ]


def _upload_to_sim(
    sim_factory: Any, sim_url_of: Any, caplog: Any, autopilot: str, mp_roi: bool = False
) -> tuple[tuple[float, float, float], list[MissionItem]]:
    """:func:`_mission` (its first ROI as Mission Planner's DO_SET_ROI of mode 0 with
    ``mp_roi``) uploaded to a simulated vehicle and verified: (its home, what it holds)."""
    fleet = sim_factory(1, autopilot)
    with connect(sim_url_of(fleet, 0), heartbeat_hz=10.0) as link:
        v = link.wait_vehicle(timeout_s=10)
        v.wait_ready_to_arm(timeout_s=30)
        home = v.wait_for(lambda s: s.home is not None, 30, "home").home
        items = _mission(home)
        if mp_roi:
            items[1] = items[1].with_(command=mi.CMD_DO_SET_ROI)
        with caplog.at_level("WARNING", logger="dronekit_plzen.link.vehicle"):
            v.upload_mission(items, clearance=Clearance.passed(items))  # verified
        return home, v.download_mission()


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_roi_off_reaches_each_firmware_as_it_means_it(
    sim_factory: Any, sim_url_of: Any, caplog: Any, autopilot: str
) -> None:
    _home, back = _upload_to_sim(sim_factory, sim_url_of, caplog, autopilot)
    if autopilot == "px4":
        assert "sent as DO_SET_ROI_NONE: items 4" in caplog.text
        assert back[3].command == mi.CMD_DO_SET_ROI_NONE
        assert back[1].command == mi.CMD_DO_SET_ROI_LOCATION  # a real place: as it is
    else:
        assert "DO_SET_ROI_NONE" not in caplog.text
        assert (back[3].command, back[3].lat_deg, back[3].alt_m) == (195, 0.0, 0.0)


@pytest.mark.parametrize(
    ("item", "placed"),
    [
        (MissionItem(mi.CMD_DO_SET_ROI, frame=3, lat_deg=49.7, lon_deg=13.3), True),  # MP mode 0
        (MissionItem(mi.CMD_DO_SET_ROI, frame=0, param1=3, lat_deg=49.7, lon_deg=13.3), True),
        (MissionItem(80, frame=6, param1=3, lat_deg=49.7, lon_deg=13.3, alt_m=5.0), True),
        (MissionItem(mi.CMD_DO_SET_ROI, frame=3, param1=1, lat_deg=49.7, lon_deg=13.3), False),
        (MissionItem(mi.CMD_DO_SET_ROI, frame=3, param1=3), False),  # "ROI off": roi_off
        (MissionItem(mi.CMD_DO_SET_ROI, frame=10, lat_deg=49.7, lon_deg=13.3), False),  # terrain
        (MissionItem(mi.CMD_DO_SET_ROI_LOCATION, frame=3, lat_deg=49.7, lon_deg=13.3), False),
        (
            MissionItem(mi.CMD_DO_SET_ROI, frame=3, lat_deg=49.7, lon_deg=13.3, mission_type=2),
            False,
        ),
    ],
)
def test_a_placed_do_set_roi_is_told_to_px4_as_a_location(item: MissionItem, placed: bool) -> None:
    """ArduCopter points at a DO_SET_ROI's place whatever its mode (``ModeAuto::do_roi``); PX4
    takes mode 0 as "no ROI" and mode 3 without its place (``Navigator``: ``_vroi.mode =
    cmd.param1`` only, facing 0°N 0°E)."""
    assert roi_placed(item) is placed
    if placed:
        loc = roi_location(item)
        assert (loc.command, loc.frame, loc.param1) == (mi.CMD_DO_SET_ROI_LOCATION, item.frame, 0)
        assert (loc.lat_deg, loc.lon_deg, loc.alt_m) == (item.lat_deg, item.lon_deg, item.alt_m)


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_a_mission_planner_roi_reaches_px4_as_a_location(
    sim_factory: Any, sim_url_of: Any, caplog: Any, autopilot: str
) -> None:
    home, back = _upload_to_sim(sim_factory, sim_url_of, caplog, autopilot, mp_roi=True)
    want = mi.CMD_DO_SET_ROI_LOCATION if autopilot == "px4" else mi.CMD_DO_SET_ROI
    assert back[1].command == want
    assert back[1].lon_deg == pytest.approx(home[1] + NORTH_DEG, abs=1e-7)
    assert ("sent as DO_SET_ROI_LOCATION: items 2" in caplog.text) is (autopilot == "px4")
