"""The RTL return cone: close to home PX4 and ArduCopter return lower than their RTL altitude
(``dronekit_plzen.rtl_cone``), so the guard checks terrain clearance at the lowest return
altitude the vehicle can fly and the 120 m rule at the highest.

Expected values are worked by hand from the firmware's formulas (PX4 v1.16
``RTL::calculate_return_alt_from_cone_half_angle``, ArduCopter ``ModeRTL::compute_return_target``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dronekit_plzen import rtl_cone
from dronekit_plzen.mission_items import CMD_NAV_RETURN_TO_LAUNCH, CMD_NAV_WAYPOINT, MissionItem
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.terrain import Raster
from missions.trajectory import trajectory
from missions.validation import validate
from missions.vehicles import RTL_ALT_DEFAULT_M, get_vehicle

from .conftest import GROUND_M, ORIGIN, offset, write_dem

#: the formulas with PX4's parameter defaults (a multicopter airframe sets 30 m and 2 m)
PX4 = replace(rtl_cone.defaults("px4"), return_alt_m=60.0, nav_acc_rad_m=10.0)
AP = rtl_cone.defaults("ardupilot")


def test_px4_defaults_are_the_multicopter_airframes() -> None:
    """rc.mc_defaults, which every PX4 multicopter airframe runs (SITL's quadrotor reads them
    back): RTL_RETURN_ALT 30 m, NAV_ACC_RAD 2 m; a vehicle profile without an RTL altitude
    returns at 30 m too."""
    p = rtl_cone.defaults("px4")
    assert (p.return_alt_m, p.nav_acc_rad_m, p.from_vehicle) == (30.0, 2.0, False)
    assert RTL_ALT_DEFAULT_M["px4"] == 30.0


# ------------------------------------------------------------------ the formulas, by hand
@pytest.mark.parametrize(
    ("params", "dist_m", "alt_m", "expected_m"),
    [
        # near home (d <= NAV_ACC_RAD 10 m): twice the distance, never below the aircraft
        (PX4, 3.0, 2.0, 6.0),
        (PX4, 0.0, 2.0, 2.0),
        (PX4, 3.0, 10.0, 10.0),  # already above 2·d: returns as it is
        # beyond RTL_MIN_DIST (10 m): RTL_RETURN_ALT
        (PX4, 12.0, 5.0, 60.0),
        (PX4, 400.0, 5.0, 60.0),  # far
        (PX4, 400.0, 80.0, 80.0),  # already above RTL_RETURN_ALT
        # inside a larger RTL_MIN_DIST: d / tan(RTL_CONE_ANG), at least 2·NAV_ACC_RAD
        (replace(PX4, min_dist_m=100.0), 30.0, 5.0, 30.0),  # 30 / tan 45°
        (replace(PX4, min_dist_m=100.0, cone_half_angle_deg=25.0), 30.0, 5.0, 60.0),  # 64.3
        (replace(PX4, min_dist_m=100.0, cone_half_angle_deg=65.0), 30.0, 5.0, 20.0),  # 14.0
        (replace(PX4, min_dist_m=100.0, cone_half_angle_deg=65.0), 60.0, 5.0, 27.98),
        (replace(PX4, cone_half_angle_deg=0.0), 3.0, 2.0, 60.0),  # no cone
        (replace(PX4, rotary_wing=False), 3.0, 2.0, 60.0),  # a fixed wing: no cone
        # ArduCopter RTL_ALT 15 m, RTL_CONE_SLOPE 3: min(RTL_ALT, max(3·d, altitude))
        (AP, 2.0, 2.0, 6.0),  # near
        (AP, 4.0, 3.0, 12.0),  # mid
        (AP, 2.0, 10.0, 10.0),  # already above the cone
        (AP, 100.0, 3.0, 15.0),  # far
        (AP, 100.0, 30.0, 30.0),  # already above RTL_ALT
        (replace(AP, return_alt_m=60.0), 10.0, 5.0, 30.0),
        (replace(AP, climb_min_m=5.0), 1.0, 2.0, 7.0),  # RTL_CLIMB_MIN: at least 5 m up
        (replace(AP, cone_slope=0.0), 1.0, 2.0, 15.0),  # no cone
        (replace(AP, cone_slope=0.4), 1.0, 2.0, 15.0),  # below RTL_MIN_CONE_SLOPE 0.5
        (replace(AP, return_alt_m=0.0), 100.0, 20.0, 20.0),  # RTL_ALT 0: at its altitude
        (replace(AP, return_alt_m=60.0, fence_alt_max_m=48.0), 100.0, 5.0, 48.0),
        (replace(AP, return_alt_m=60.0, fence_alt_max_m=48.0), 100.0, 55.0, 55.0),
    ],
)
def test_return_altitude_as_the_firmware_computes_it(
    params: rtl_cone.RtlParams, dist_m: float, alt_m: float, expected_m: float
) -> None:
    assert rtl_cone.return_alt_m(params, dist_m, alt_m) == pytest.approx(expected_m, abs=0.01)


def test_cone_formula_between_nav_acc_rad_and_rtl_min_dist() -> None:
    for d in np.linspace(10.5, 99.0, 30):
        want = max(min(d / math.tan(math.radians(45.0)), 60.0), 20.0)
        got = rtl_cone.px4_return_alt_m(float(d), 0.0, min_dist_m=100.0)
        assert got == pytest.approx(want)


def test_parameter_values_in_firmware_units() -> None:
    ap = rtl_cone.from_param_values(
        "ardupilot",
        {
            "RTL_ALT": 6000.0,
            "RTL_CONE_SLOPE": 2.0,
            "RTL_CLIMB_MIN": 250.0,
            "FENCE_ENABLE": 1.0,
            "FENCE_TYPE": 7.0,
            "FENCE_ALT_MAX": 100.0,
            "FENCE_MARGIN": 2.0,
        },
    )
    assert (ap.return_alt_m, ap.cone_slope, ap.climb_min_m) == (60.0, 2.0, 2.5)
    assert ap.fence_alt_max_m == 98.0 and ap.from_vehicle
    off = rtl_cone.from_param_values("ardupilot", {"FENCE_ENABLE": 1.0, "FENCE_TYPE": 6.0})
    assert off.fence_alt_max_m is None  # no altitude fence in FENCE_TYPE
    px4 = rtl_cone.from_param_values("px4", {"RTL_RETURN_ALT": 45.0, "RTL_CONE_ANG": 0.0})
    assert (px4.return_alt_m, px4.cone_half_angle_deg, px4.nav_acc_rad_m) == (45.0, 0.0, 2.0)


def test_band_widens_with_the_start_tolerance_and_unknown_cones() -> None:
    known = replace(PX4, from_vehicle=True)
    assert rtl_cone.altitude_band_m(known, 8.0, 5.0, 1.0) == pytest.approx((14.0, 18.0))
    # NAV_ACC_RAD 10 m: the RTL may start anywhere from home to 18 m away
    assert rtl_cone.altitude_band_m(known, 8.0, 5.0, 10.0) == pytest.approx((5.0, 60.0))
    # not read from the vehicle: the ceiling is the climb without a cone
    assert rtl_cone.altitude_band_m(PX4, 8.0, 5.0, 1.0) == pytest.approx((14.0, 60.0))


def test_profile_fields_reach_the_parameters() -> None:
    p = get_vehicle("px4-quad").rtl_params()
    assert p is not None and p.autopilot == "px4" and p.return_alt_m == 30.0
    assert (p.cone_half_angle_deg, p.min_dist_m, p.nav_acc_rad_m) == (45.0, 10.0, 2.0)
    assert not p.from_vehicle


# ------------------------------------------------------------------ the guard
def _mound(east_m: float, height_m: float, sigma_m: float):  # type: ignore[no-untyped-def]
    def fn(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        r2 = (dx - east_m) ** 2 + dy**2
        return GROUND_M + height_m * np.exp(-r2 / (2 * sigma_m**2))

    return fn


def _near_home_mission(autopilot: int, last_east_m: float, last_alt_m: float) -> Mission:
    """Take-off to 30 m, 40 m north, then down to ``last_alt_m`` at ``last_east_m`` east of home
    (param2 1 m: PX4 counts it reached within 1 m), then RTL across the mound."""
    a = offset(ORIGIN, 0.0, 40.0)
    b = offset(ORIGIN, last_east_m, 0.0)
    items = [
        MissionItem(22, frame=3, lat_deg=ORIGIN[1], lon_deg=ORIGIN[0], alt_m=30.0),
        MissionItem(CMD_NAV_WAYPOINT, frame=3, lat_deg=a[1], lon_deg=a[0], alt_m=30.0),
        MissionItem(
            CMD_NAV_WAYPOINT, frame=3, lat_deg=b[1], lon_deg=b[0], alt_m=last_alt_m, param2=1.0
        ),
        MissionItem(CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]
    return Mission(items=items, home=(ORIGIN[0], ORIGIN[1], GROUND_M), autopilot=autopilot)


@pytest.mark.parametrize(
    ("autopilot", "last_east_m", "mound_m", "low_m"),
    [
        # ArduCopter, RTL_ALT 60 m: 12 ± 2 m from home, 3 × 10 m = 30 m, not 60 m
        (AUTOPILOT_ARDUPILOT, 12.0, 24.0, 30.0),
        # PX4, RTL_RETURN_ALT 60 m: 8 ± 1 m from home, 2 × 7 m = 14 m, not 60 m
        (AUTOPILOT_PX4, 8.0, 6.0, 14.0),
    ],
)
def test_a_mound_cleared_only_by_the_full_climb_is_reported(
    tmp_path: Path, autopilot: int, last_east_m: float, mound_m: float, low_m: float
) -> None:
    """The last waypoint is close to home, a mound stands between it and home. The vehicle
    returns inside its cone, well below RTL_ALT / RTL_RETURN_ALT: too low over the mound.
    Before, the guard assumed the full climb to 60 m and passed the mission."""
    dem = Raster.open(
        write_dem(
            tmp_path / "mound.tif",
            _mound(4.0, mound_m, 2.0),  # under a sample of the return leg (every 5 m)
            half_m=150.0,
            res_m=0.5,
        )
    )
    m = _near_home_mission(autopilot, last_east_m, 12.0)
    # RTL_RETURN_ALT / RTL_ALT 60 m (PX4: with the parameter's NAV_ACC_RAD, 10 m)
    params = PX4 if autopilot == AUTOPILOT_PX4 else replace(AP, return_alt_m=60.0)
    tr = trajectory(m, dem=dem, rtl=params)
    rtl = tr.item == 3
    assert float(tr.alt[rtl].max()) - GROUND_M == pytest.approx(low_m, abs=0.1)
    assert float(tr.alt_high[rtl].max()) - GROUND_M == pytest.approx(60.0, abs=0.1)
    assert any("return cone" in n and f"{low_m:g} m above home" in n for n in tr.notes), tr.notes
    rep = validate(m, dem=dem, rtl=params)
    low = [v for v in rep.violations if v.rule == "terrain_clearance"]
    assert low and low[0].item_index == 3, rep.violations
    assert low[0].value == pytest.approx(low_m - mound_m, abs=1.0)
    assert [v.rule for v in rep.violations] == ["terrain_clearance"]
    # without the mound the same mission is clear
    flat_dem = Raster.open(
        write_dem(tmp_path / "flat.tif", _mound(0.0, 0.0, 1.0), half_m=150.0, res_m=5.0)
    )
    assert validate(m, dem=flat_dem, rtl_alt_m=60.0).ok


def test_the_ceiling_is_checked_with_the_highest_return() -> None:
    """RTL_ALT 130 m near home: a vehicle whose cone is known (read from it) returns at
    3 × 14 m = 42 m at most; one whose cone is not known may climb to 130 m: reported."""
    m = _near_home_mission(AUTOPILOT_ARDUPILOT, 12.0, 12.0)
    unknown = validate(m, rtl_alt_m=130.0)
    high = [v for v in unknown.violations if v.rule == "max_agl"]
    assert high and high[0].item_index == 3 and high[0].value == pytest.approx(130.0, abs=1)
    read = rtl_cone.from_param_values("ardupilot", {"RTL_ALT": 13000.0})
    assert read.from_vehicle
    tr = trajectory(m, rtl=read)
    assert float(tr.alt_high[tr.item == 3].max()) - GROUND_M == pytest.approx(42.0, abs=0.1)
    assert validate(m, rtl=read).ok
