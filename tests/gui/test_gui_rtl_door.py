"""The GUI's upload door checks a sortie against the vehicle as ``fly`` does: with the RTL the
vehicle flies (its own RTL_TYPE, read over the link) and, for an ArduCopter that needs its
terrain database (RTL_ALT_TYPE 1), with the sortie's DEM served to it (TERRAIN_DATA). The real
simulator over UDP; no widgets."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dkp_testkit import offset, write_geotiff

from dronekit_plzen.errors import LinkTimeout, SafetyViolation
from dronekit_plzen.mission_items import (
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_MISSION,
    MissionItem,
)
from gui.clearance import clear_drones
from gui.fly_links import preset_urls
from gui.flysession import FlySession
from missions.model import AUTOPILOT_ARDUPILOT, Mission
from missions.vehicles import get_vehicle

HOME = (49.7475, 13.3776, 310.0)  # the simulator's default home: lat, lon, alt AMSL


def _mission(legs: list[tuple[float, float]], autopilot: str) -> Mission:
    lat, lon, alt = HOME
    items = [MissionItem(command=CMD_NAV_TAKEOFF, lat_deg=lat, lon_deg=lon, alt_m=30.0)]
    for e, n in legs:
        lo, la = offset((lon, lat), e, n)
        items.append(MissionItem(command=CMD_NAV_WAYPOINT, lat_deg=la, lon_deg=lo, alt_m=30.0))
    items.append(MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION))
    m = Mission(items=items, home=(lon, lat, alt))
    if autopilot == "ardupilot":
        m.autopilot = AUTOPILOT_ARDUPILOT
    return m


@contextlib.contextmanager
def _session(off: int) -> Iterator[tuple[FlySession, int]]:
    """A fly session on the simulator at port offset ``off`` and its vehicle's system id."""
    session = FlySession(preset_urls("sim", 1, off)[0], wait_s=30)
    try:
        session.open()
        deadline = time.monotonic() + 30
        while not session.snapshot() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield session, int(session.snapshot()[0].sysid)
    finally:
        session.close()


def test_the_gui_door_reads_the_vehicles_rtl_type(sim_fleet: Any) -> None:
    """A survey that fits the battery with a straight return passes the planning check; on a
    PX4 with RTL_TYPE 2 (the mission flown back) the upload is refused at the vehicle."""
    legs = [(300.0 * (k % 2), 40.0 * (k // 2) + 20.0 * (k % 2)) for k in range(1, 10)]
    sortie = clear_drones([[_mission(legs, "px4")]], vehicle=get_vehicle("px4-quad"))[0][0]
    assert sortie.cleared, sortie.violations
    with sim_fleet(n_vehicles=1, autopilot="px4") as (fleet, off):
        fleet.vehicles[0].set_param("RTL_TYPE", 2)
        with _session(off) as (session, sysid):
            with pytest.raises(SafetyViolation, match="endurance") as err:
                session.run("upload", sysid, sortie=sortie)
            assert "RTL_TYPE 2" in str(err.value)
            fleet.vehicles[0].set_param("RTL_TYPE", 0)
            session.run("upload", sysid, sortie=sortie)  # a straight return: it fits


def test_the_gui_serves_terrain_to_an_ardupilot_that_needs_it(
    sim_fleet: Any, tmp_path: Path
) -> None:
    """RTL_ALT_TYPE 1: the vehicle asks for its terrain block; after the upload the session
    answers it from the sortie's DEM and the vehicle becomes ready to arm."""
    dem = write_geotiff(
        tmp_path / "flat.tif",
        lambda dx, _dy: HOME[2] + 0.0 * dx,
        center_lonlat=(HOME[1], HOME[0]),
        half_m=9000.0,
        res_m=50.0,
    )
    sortie = clear_drones([[_mission([(0.0, 80.0)], "ardupilot")]], dem=str(dem))[0][0]
    assert sortie.cleared, sortie.violations
    with sim_fleet(n_vehicles=1, autopilot="ardupilot", speedup=10) as (fleet, off):
        fleet.vehicles[0].set_param("RTL_ALT_TYPE", 1)
        with _session(off) as (session, sysid):
            time.sleep(1.5)
            assert not fleet.vehicles[0].model.terrain_ready
            # before any sortie with a DEM: not ready, and the pilot is told what to do
            with pytest.raises(LinkTimeout, match="plan the sortie with a DEM"):
                session.run("wait_ready", sysid, timeout_s=6.0)
            session.run("upload", sysid, sortie=sortie)
            deadline = time.monotonic() + 20
            while not fleet.vehicles[0].model.terrain_ready and time.monotonic() < deadline:
                time.sleep(0.1)
            assert fleet.vehicles[0].model.terrain_ready


def test_the_gui_door_checks_the_rally_points_on_board(sim_fleet: Any, tmp_path: Path) -> None:
    """A sortie without rally points leaves the vehicle's own on board: the GUI reads them and
    the guard checks the RTL to them (beyond a 200 m hill: refused), as ``fly`` does."""
    import numpy as np

    from dronekit_plzen.mission_items import CMD_NAV_RALLY_POINT

    def hill(dx: Any, dy: Any) -> Any:
        return HOME[2] + 200.0 * np.exp(-((dx - 600.0) ** 2 + dy**2) / (2 * 250.0**2))

    dem = write_geotiff(
        tmp_path / "hill.tif", hill, center_lonlat=(HOME[1], HOME[0]), half_m=3000.0, res_m=20.0
    )
    sortie = clear_drones([[_mission([(-200.0, 0.0)], "ardupilot")]], dem=str(dem))[0][0]
    assert sortie.cleared, sortie.violations
    r_lon, r_lat = offset((HOME[1], HOME[0]), 1200.0, 0.0)
    with sim_fleet(n_vehicles=1, autopilot="ardupilot") as (fleet, off):
        fleet.vehicles[0].set_param("RALLY_LIMIT_KM", 5.0)
        fleet.vehicles[0].set_param("RALLY_INCL_HOME", 0)
        with _session(off) as (session, sysid):
            v = session._vehicles()[sysid]
            rally = MissionItem(
                CMD_NAV_RALLY_POINT, frame=3, lat_deg=r_lat, lon_deg=r_lon, alt_m=40
            )
            v.upload_mission([rally], 2, verify=True)
            with pytest.raises(SafetyViolation, match="terrain_clearance"):
                session.run("upload", sysid, sortie=sortie)
            # the same rally point on the flat side of home: cleared, and the pilot is told
            # that RTL may go there (the vehicle's own rally points stay on board)
            w_lon, w_lat = offset((HOME[1], HOME[0]), -600.0, 0.0)
            rally = dataclasses.replace(rally, lat_deg=w_lat, lon_deg=w_lon)
            v.upload_mission([rally], 2, verify=True)
            text = session.run("upload", sysid, sortie=sortie)
            assert "the vehicle holds 1 rally point" in str(text), text


def test_the_gui_arms_an_arducopter_that_landed_in_auto(sim_fleet: Any) -> None:
    """An ArduCopter that landed by its mission's RTL is still in AUTO, where it refuses to
    arm ("Arm: AUTO mode not armable"): the cockpit's Arm switches it to GUIDED first, says so,
    and arms it (the next sortie could not be flown otherwise)."""
    sortie = clear_drones([[_mission([(0.0, 100.0)], "ardupilot")]])[0][0]
    assert sortie.cleared, sortie.violations
    with (
        sim_fleet(n_vehicles=1, autopilot="ardupilot", speedup=10) as (fleet, off),
        _session(off) as (session, sysid),
    ):
        session.run("upload", sysid, sortie=sortie)
        session.run("wait_ready", sysid)
        session._vehicles()[sysid].set_mode("AUTO")
        session._vehicles()[sysid].wait_for(lambda s: s.mode == "AUTO", 10, "AUTO")
        text = session.run("arm", sysid)
        assert "GUIDED" in text and "AUTO" in text, text
        deadline = time.monotonic() + 10
        while not fleet.vehicles[0].model.armed and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fleet.vehicles[0].model.armed and fleet.vehicles[0].model.mode == "GUIDED"
