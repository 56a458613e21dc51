"""Where and along which path an RTL returns: PX4's RTL_TYPE and ArduCopter's RTL_ALT_TYPE.

PX4 v1.16 (``navigator/rtl.cpp``, ``rtl_mission_fast_reverse.cpp``): RTL_TYPE 2 and 4 fly a
mission without a landing backwards along its path, so the return is as long as the mission
itself; 1 prefers a rally point to home, however far. ArduCopter RTL_ALT_TYPE 1 returns above
the terrain when it has terrain data and above home when not. Before, the guard assumed a
straight return home: a mission whose backward return empties the battery was passed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dronekit_plzen import rtl_cone
from dronekit_plzen.mission_items import (
    CMD_DO_LAND_START,
    CMD_NAV_LAND,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    MissionItem,
)
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission, RallyPoint
from missions.terrain import Raster
from missions.trajectory import trajectory
from missions.validation import validate

from .conftest import GROUND_M, ORIGIN, offset, write_dem

PX4 = replace(rtl_cone.defaults("px4"), return_alt_m=60.0, from_vehicle=True)
AP = replace(rtl_cone.defaults("ardupilot", return_alt_m=40.0), from_vehicle=True)


def _wp(east_m: float, north_m: float, alt_m: float = 30.0, cmd: int = CMD_NAV_WAYPOINT):
    lon, lat = offset(ORIGIN, east_m, north_m)
    return MissionItem(cmd, frame=3, lat_deg=lat, lon_deg=lon, alt_m=alt_m)


def _l_mission(autopilot: int = AUTOPILOT_PX4, extra: list[MissionItem] | None = None) -> Mission:
    """Take-off at home, 600 m north, 600 m east, RTL: 1.2 km out, 849 m straight back."""
    items = [
        MissionItem(CMD_NAV_TAKEOFF, frame=3, lat_deg=ORIGIN[1], lon_deg=ORIGIN[0], alt_m=30.0),
        _wp(0.0, 600.0),
        _wp(600.0, 600.0),
        *(extra or []),
        MissionItem(CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]
    return Mission(items=items, home=(ORIGIN[0], ORIGIN[1], GROUND_M), autopilot=autopilot)


def _rtl_xy(tr, item: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    sel = tr.item == item
    return np.column_stack([tr.x[sel] - tr.home_xy[0], tr.y[sel] - tr.home_xy[1]])


@pytest.mark.parametrize("rtl_type", [2, 4])
def test_px4_returns_backwards_along_the_mission(rtl_type: int) -> None:
    m = _l_mission()
    straight = trajectory(m, rtl=PX4)
    back = trajectory(m, rtl=replace(PX4, rtl_type=rtl_type))
    # the return passes over the first waypoint (600 m north) at its altitude, not the diagonal
    xy = _rtl_xy(back, 3)
    assert np.min(np.hypot(xy[:, 0], xy[:, 1] - 600.0)) < 1.0
    assert np.max(xy[:, 0]) == pytest.approx(600.0, abs=1.0)
    assert float(back.alt[back.item == 3].max()) - GROUND_M == pytest.approx(30.0, abs=0.1)
    # 1.2 km back instead of 849 m (no climb to RTL_RETURN_ALT 60 m on the way)
    assert back.length_m - straight.length_m == pytest.approx(1200.0 - 848.5 - 60.0, abs=6.0)
    assert back.duration_s > straight.duration_s
    assert any(f"RTL_TYPE {rtl_type}" in n and "backwards" in n for n in back.notes)
    assert not any("RTL_TYPE" in n for n in straight.notes)


def test_the_backward_return_counts_against_the_endurance() -> None:
    """A flight that fits the battery with a straight return and not with the mission flown
    back: the guard refuses it only for RTL_TYPE 2 (before, it passed)."""
    m = _l_mission()
    kw = {"speed_m_s": 5.0, "reserve_fraction": 0.25}
    t_straight = trajectory(m, rtl=PX4, speed_m_s=5.0).duration_s
    t_back = trajectory(m, rtl=replace(PX4, rtl_type=2), speed_m_s=5.0).duration_s
    endurance_s = (t_straight + t_back) / 2 / 0.75
    assert validate(m, rtl=PX4, endurance_s=endurance_s, **kw).ok
    rep = validate(m, rtl=replace(PX4, rtl_type=2), endurance_s=endurance_s, **kw)
    assert [v.rule for v in rep.violations] == ["endurance"], rep.violations


def test_a_mission_landing_ends_rtl_type_2_on_the_mission() -> None:
    """RTL_TYPE 2 with a landing in the mission: on along the mission to the landing (not home,
    not backwards)."""
    land = [
        MissionItem(CMD_DO_LAND_START, frame=2),
        _wp(900.0, 600.0, 20.0),
        _wp(900.0, 300.0, 0.0, cmd=CMD_NAV_LAND),
    ]
    m = _l_mission()
    m.items[3:3] = []
    items = [*m.items[:3], MissionItem(CMD_NAV_RETURN_TO_LAUNCH, frame=2), *land]
    m2 = Mission(items=items, home=m.home, autopilot=AUTOPILOT_PX4)
    tr = trajectory(m2, rtl=replace(PX4, rtl_type=2))
    xy = _rtl_xy(tr, 3)
    assert xy[-1] == pytest.approx([900.0, 300.0], abs=1.0)
    assert float(tr.alt[tr.item == 3][-1]) == pytest.approx(GROUND_M, abs=0.1)
    assert any("mission's landing" in n for n in tr.notes)
    # RTL_TYPE 0 ignores the mission landing: straight home
    xy0 = _rtl_xy(trajectory(m2, rtl=PX4), 3)
    assert xy0[-1] == pytest.approx([0.0, 0.0], abs=1.0)


@pytest.mark.parametrize(
    ("rtl_type", "rally_east_north", "ends_at"),
    [
        # RTL_TYPE 0: the closest of home and the rally point
        (0, (0.0, 1500.0), (0.0, 0.0)),
        (0, (700.0, 700.0), (700.0, 700.0)),
        # RTL_TYPE 1: the rally point, however far (home only when there is none)
        (1, (0.0, 1500.0), (0.0, 1500.0)),
        # a rally point within 10 m of home is not a destination
        (1, (5.0, 0.0), (0.0, 0.0)),
        # RTL_TYPE 3 without a mission landing: as 0
        (3, (0.0, 1500.0), (0.0, 0.0)),
        # a value PX4 does not have flies as 0 (and is named in the notes)
        (7, (0.0, 1500.0), (0.0, 0.0)),
    ],
)
def test_px4_destination_by_rtl_type(
    rtl_type: int, rally_east_north: tuple[float, float], ends_at: tuple[float, float]
) -> None:
    m = _l_mission()
    lon, lat = offset(ORIGIN, *rally_east_north)
    m.rally_points = [RallyPoint(lon_deg=lon, lat_deg=lat, alt_m=30.0)]
    tr = trajectory(m, rtl=replace(PX4, rtl_type=rtl_type))
    assert _rtl_xy(tr, 3)[-1] == pytest.approx(ends_at, abs=1.0)
    assert any("not a PX4 return type" in n for n in tr.notes) == (rtl_type == 7)


def test_rtl_type_is_read_in_firmware_units() -> None:
    assert rtl_cone.from_param_values("px4", {"RTL_TYPE": 2.0}).rtl_type == 2
    assert rtl_cone.from_param_values("ardupilot", {"RTL_ALT_TYPE": 1.0}).alt_type == 1
    assert rtl_cone.from_param_values("px4", {}).rtl_type == 0
    assert "RTL_TYPE" in rtl_cone.PARAM_NAMES["px4"]
    assert "RTL_ALT_TYPE" in rtl_cone.PARAM_NAMES["ardupilot"]


# ------------------------------------------------------------------ ArduCopter RTL_ALT_TYPE 1
def _mound(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """A 60 m mound on the diagonal way home (300 m N, 300 m E), far from the mission's legs."""
    return GROUND_M + 60.0 * np.exp(-((dx - 300.0) ** 2 + (dy - 300.0) ** 2) / (2 * 40.0**2))


def test_ardupilot_terrain_rtl_follows_the_terrain(tmp_path: Path) -> None:
    """RTL_ALT_TYPE 1: ArduCopter arms only with the terrain of home and of every mission item
    loaded, and returns RTL_ALT (40 m) above the terrain: over the mound at 100 m above home,
    clear of it. Above home (RTL_ALT_TYPE 0) the same return flies into it."""
    dem = Raster.open(write_dem(tmp_path / "mound.tif", _mound, half_m=1500.0, res_m=5.0))
    m = _l_mission(AUTOPILOT_ARDUPILOT)
    fine = replace(AP, alt_type=1, terrain_spacing_m=5.0)  # TERRAIN_SPACING 5 m: the DEM's
    tr = trajectory(m, dem=dem, rtl=fine)
    ret = (tr.item == 3) & (tr.phase == 1)
    ground = dem.sample(tr.lon[ret], tr.lat[ret])
    # 40 m above the ground all the way (the start's height above ground, 30 m, is lower)
    assert np.allclose(tr.alt[ret] - ground, 40.0, atol=1.0)
    assert np.allclose(tr.alt_high[ret] - ground, 40.0, atol=1.0)
    assert float(np.max(tr.alt[ret])) - GROUND_M == pytest.approx(100.0, abs=1.0)
    assert any("RTL_ALT_TYPE 1" in n and "above the terrain" in n for n in tr.notes), tr.notes
    assert validate(m, dem=dem, rtl=fine).ok
    above_home = validate(m, dem=dem, rtl=AP)
    assert [(v.rule, v.item_index) for v in above_home.violations] == [("terrain_clearance", 3)]
    # without a DEM the terrain return is named as not checked
    assert any("not checked" in n for n in trajectory(m, rtl=fine).notes)


def test_ardupilot_follows_its_terrain_grid_not_every_dem_cell(tmp_path: Path) -> None:
    """TERRAIN_SPACING 100 m (the default): ArduCopter interpolates between grid nodes every
    100 m, so over the 80 m wide, 60 m high mound it flies 40 m above its smoothed terrain,
    which hardly rises: 1.6 m above the real crest. The guard flies it so and refuses it
    (before, it checked 40 m above every DEM cell and passed)."""
    from missions.terrain import ardupilot_terrain

    dem = Raster.open(write_dem(tmp_path / "mound.tif", _mound, half_m=1500.0, res_m=5.0))
    m = _l_mission(AUTOPILOT_ARDUPILOT)
    coarse = replace(AP, alt_type=1)
    tr = trajectory(m, dem=dem, rtl=coarse)
    ret = (tr.item == 3) & (tr.phase == 1)
    grid = ardupilot_terrain(dem, tr.lon[ret], tr.lat[ret], 100.0)
    ground = dem.sample(tr.lon[ret], tr.lat[ret])
    assert np.allclose(tr.alt[ret] - grid, 40.0, atol=0.5)
    assert float(np.min(tr.alt[ret] - ground)) == pytest.approx(1.6, abs=0.5)  # crest cut off
    rep = validate(m, dem=dem, rtl=coarse)
    assert [(v.rule, v.item_index) for v in rep.violations] == [("terrain_clearance", 3)]
    # a plane is followed exactly by the bilinear grid
    ramp = Raster.open(
        write_dem(tmp_path / "ramp.tif", lambda dx, dy: GROUND_M + 0.1 * dx, half_m=1500.0)
    )
    lon, lat = offset(ORIGIN, 123.0, 456.0)
    assert float(ardupilot_terrain(ramp, [lon], [lat])[0]) == pytest.approx(
        float(ramp.sample([lon], [lat])[0]), abs=0.05
    )


def test_a_profile_declares_the_vehicles_rtl_type() -> None:
    """Planning without the vehicle: the profile says how it returns (``fly`` reads it)."""
    from missions.vehicles import vehicle_from_dict

    px4 = vehicle_from_dict({"key": "rev", "autopilot": "px4", "rtl_type": 2}).rtl_params()
    ap = vehicle_from_dict({"key": "ter", "autopilot": "ardupilot", "rtl_alt_type": 1})
    assert px4 is not None and px4.rtl_type == 2
    assert ap.rtl_params() is not None and ap.rtl_params().alt_type == 1  # type: ignore[union-attr]
    m = _l_mission()
    profile = vehicle_from_dict({"key": "rev", "autopilot": "px4", "rtl_type": 2})
    from missions.clearance import clear_for_flight

    fc = clear_for_flight(m, vehicle=profile)
    assert any("backwards" in n for n in fc.sorties[0].clearance.notes), fc.sorties[0].clearance


@pytest.mark.parametrize(
    ("limit_km", "incl_home", "rally_east_north", "ends_at"),
    [
        # RALLY_LIMIT_KM 0.3 (the Copter default): a rally point 350 m away is not taken,
        # though home is 849 m away
        (0.3, True, (600.0, 250.0), (0.0, 0.0)),
        # within the limit and nearer than home: taken
        (0.3, True, (600.0, 350.0), (600.0, 350.0)),
        # no limit
        (0.0, True, (600.0, 250.0), (600.0, 250.0)),
        # RALLY_INCL_HOME 0: the rally point even when home is nearer
        (0.0, False, (0.0, -900.0), (0.0, -900.0)),
        (0.0, True, (0.0, -900.0), (0.0, 0.0)),
    ],
)
def test_ardupilot_destination_by_rally_parameters(
    limit_km: float,
    incl_home: bool,
    rally_east_north: tuple[float, float],
    ends_at: tuple[float, float],
) -> None:
    """AP_Rally::calc_best_rally_or_home_location: the nearest rally point within
    RALLY_LIMIT_KM, when nearer than home or with RALLY_INCL_HOME 0. Before, the guard took the
    nearest of home and the rally points: a return the vehicle does not fly."""
    m = _l_mission(AUTOPILOT_ARDUPILOT)
    lon, lat = offset(ORIGIN, *rally_east_north)
    m.rally_points = [RallyPoint(lon_deg=lon, lat_deg=lat, alt_m=30.0)]
    rtl = replace(AP, rally_limit_km=limit_km, rally_incl_home=incl_home)
    assert _rtl_xy(trajectory(m, rtl=rtl), 3)[-1] == pytest.approx(ends_at, abs=1.0)


def test_ardupilot_returns_at_least_as_high_as_its_rally_point() -> None:
    """A rally point 90 m above home: ArduCopter climbs to it (RTL_ALT 40 m would be lower)."""
    m = _l_mission(AUTOPILOT_ARDUPILOT)
    lon, lat = offset(ORIGIN, 600.0, 400.0)
    m.rally_points = [RallyPoint(lon_deg=lon, lat_deg=lat, alt_m=90.0)]
    tr = trajectory(m, rtl=AP)
    assert float(tr.alt[tr.item == 3].max()) - GROUND_M == pytest.approx(90.0, abs=0.1)
    assert (
        rtl_cone.from_param_values("ardupilot", {"RALLY_INCL_HOME": 0.0}).rally_incl_home is False
    )
