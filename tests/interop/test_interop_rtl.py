"""The RTL return cone on real firmware: a short mission ending in RTL close to home, flown with
``fly``; the highest altitude of the return is compared with what the safety guard predicts
(``missions.trajectory`` with ``dronekit_plzen.rtl_cone``, from the vehicle's own parameters).

Run by ``make interop`` only (see conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from harness import north_east, offset

from dronekit_plzen.fleet import vehicle_rtl_params
from dronekit_plzen.link import connect
from dronekit_plzen.mission_items import (
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_MISSION,
    MissionItem,
)
from missions.formats import save_mission
from missions.model import AUTOPILOT_ARDUPILOT, Mission
from missions.terrain import Raster
from missions.trajectory import trajectory

#: (firmware, case): the parameters set, the last waypoint's distance north of home, its
#: altitude and the return altitude the firmware formula gives there
CASES: dict[tuple[str, str], tuple[dict[str, float], float, float, float]] = {
    # PX4: RTL_RETURN_ALT 60 m (the SIH airframe sets 30 m) and RTL_MIN_DIST 100 m (with the
    # default 10 m the cone works only close by); 30 m from home: 30 / tan 45° = 30 m, not 60 m
    ("px4", "mid"): ({"RTL_RETURN_ALT": 60.0, "RTL_MIN_DIST": 100.0}, 30.0, 10.0, 30.0),
    # PX4 near home, RTL_MIN_DIST 10 m, NAV_ACC_RAD 2 m (the SIH airframe's): 8 / tan 45° = 8 m
    ("px4", "near"): (
        {"RTL_RETURN_ALT": 60.0, "RTL_MIN_DIST": 10.0, "NAV_ACC_RAD": 2.0},
        8.0,
        5.0,
        8.0,
    ),
    # ArduCopter: RTL_ALT 60 m (6000 cm), 10 m from home: 10 × RTL_CONE_SLOPE 3 = 30 m
    ("arducopter", "mid"): ({"RTL_ALT": 6000.0}, 10.0, 10.0, 30.0),
    # ArduCopter near home, RTL_ALT 15 m (its default): 4 × 3 = 12 m
    ("arducopter", "near"): ({"RTL_ALT": 1500.0}, 4.0, 5.0, 12.0),
}
TOLERANCE_M = 3.0


def _items(
    home: tuple[float, float, float], north_m: float, alt_m: float, east_m: float = 0.0
) -> list[MissionItem]:
    """Take-off, a waypoint ``north_m``/``east_m`` from home, RTL."""
    return _route(home, [(north_m, east_m)], alt_m)


def _route(
    home: tuple[float, float, float], legs: list[tuple[float, float]], alt_m: float
) -> list[MissionItem]:
    """Take-off at home, the waypoints (north, east metres from home), RTL."""
    lat, lon, _alt = home
    out = [
        MissionItem(
            CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL_RELATIVE_ALT, lat_deg=lat, lon_deg=lon, alt_m=alt_m
        )
    ]
    for n, e in legs:
        wlat, wlon = offset(home, n, e)
        # param2 1 m: PX4 counts the waypoint reached within 1 m, not NAV_ACC_RAD (10 m)
        out.append(
            MissionItem(
                CMD_NAV_WAYPOINT,
                frame=FRAME_GLOBAL_RELATIVE_ALT,
                lat_deg=wlat,
                lon_deg=wlon,
                alt_m=alt_m,
                param2=1.0,
            )
        )
    out.append(MissionItem(CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION))
    return out


@pytest.mark.timeout(900)
@pytest.mark.parametrize("case", ["mid", "near"])
def test_rtl_cone_flown_as_the_guard_predicts(
    fw_kind: str, case: str, ready: Any, tmp_path: Path
) -> None:
    params, north_m, alt_m, formula_m = CASES[(fw_kind, case)]
    home = ready.inst.home
    with connect(ready.url, heartbeat_hz=2) as link:
        v = link.wait_vehicle(timeout_s=30)
        for name, value in params.items():
            v.set_param(name, value)
        rtl = vehicle_rtl_params(v)
    assert rtl is not None and rtl.from_vehicle, "the RTL parameters could not be read"
    print(f"{fw_kind}: {rtl}")
    m = Mission(items=_items(home, north_m, alt_m), home=(home[1], home[0], home[2]))
    if fw_kind == "arducopter":
        m.autopilot = AUTOPILOT_ARDUPILOT
    tr = trajectory(m, rtl=rtl)
    ret = tr.item == 2
    low = float(tr.alt[ret].max()) - home[2]
    high = float(tr.alt_high[ret].max()) - home[2]
    plan = save_mission(m, tmp_path / "rtl-cone.plan")
    cmd = [sys.executable, "-m", "dronekit_plzen", "fly", str(plan), "--connect", ready.url]
    cmd += ["--json", "--timeout", "400"]
    if alt_m < 10.0:  # below the guard's 10 m clearance above the launch point, on purpose
        cmd += ["--override-safety", "--reason", "interop: the RTL cone close to home, flown low"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=460)
    print(proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stderr[-800:]
    notes = json.loads(proc.stdout)["flown"][0]["clearance"]["notes"]
    seen = ready.obs.wait_landed_disarmed(90.0)
    # the return: positions after the waypoint was reached, i.e. the top of the flight
    flown_top = seen.max_rel_alt_m
    at_top = max(seen.track, key=lambda p: p[2])
    n, e = north_east(home, at_top[0], at_top[1])
    print(
        f"{fw_kind} {case}: return flown at most {flown_top:.1f} m above home (at {n:.1f} m N, "
        f"{e:.1f} m E); guard predicts {low:.1f}..{high:.1f} m; firmware formula at the "
        f"waypoint {formula_m:.1f} m; without the cone {rtl.return_alt_m:.1f} m; notes {notes}"
    )
    if alt_m >= 10.0:  # (an overridden clearance keeps the guard's problems, not its notes)
        assert any("return cone" in x for x in notes), notes
    assert low - TOLERANCE_M <= flown_top <= high + TOLERANCE_M
    assert flown_top < rtl.return_alt_m - 2.0  # the cone, not the full climb


@pytest.mark.timeout(900)
def test_rtl_type_flown_as_the_guard_predicts(fw_kind: str, ready: Any, tmp_path: Path) -> None:
    """PX4 RTL_TYPE 2: the mission's RTL flies the mission back (over the first waypoint, not
    the diagonal) and lands at the take-off, as the guard checks it. ArduCopter RTL_ALT_TYPE 1:
    it arms only once ``fly --dem`` has served its terrain requests from the DEM, and returns
    above the terrain: over a 25 m hill (served, not in the simulator's physics) on the way
    home it climbs, within the guard's band."""
    home = ready.inst.home
    px4 = fw_kind == "px4"
    name, value = ("RTL_TYPE", 2.0) if px4 else ("RTL_ALT_TYPE", 1.0)
    with connect(ready.url, heartbeat_hz=2) as link:
        v = link.wait_vehicle(timeout_s=30)
        v.set_param(name, value)
        rtl = vehicle_rtl_params(v)
    assert rtl is not None
    assert (rtl.rtl_type if px4 else rtl.alt_type) == int(value), rtl
    leg_m = 40.0
    dem_args: list[str] = []
    dem = None
    if px4:
        items = _route(home, [(leg_m, 0.0), (leg_m, leg_m)], 10.0)  # an L
    else:  # 600 m north at 40 m and back, over a hill 300 m north (sigma 100 m)
        items = _items(home, 600.0, 40.0)
        dem_path = _hill_dem(tmp_path / "hill.tif", home, 300.0, 0.0, 25.0)
        dem_args = ["--dem", str(dem_path)]
        dem = Raster.open(dem_path)
    m = Mission(items=items, home=(home[1], home[0], home[2]))
    if not px4:
        m.autopilot = AUTOPILOT_ARDUPILOT
    tr = trajectory(m, dem=dem, rtl=rtl)
    plan = save_mission(m, tmp_path / "rtl-type.plan")
    cmd = [sys.executable, "-m", "dronekit_plzen", "fly", str(plan), "--connect", ready.url]
    cmd += ["--json", "--timeout", "400", *dem_args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=460)
    print(proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stderr[-800:]
    notes = json.loads(proc.stdout)["flown"][0]["clearance"]["notes"]
    seen = ready.obs.wait_landed_disarmed(90.0)
    ne = [(*north_east(home, la, lo), h) for la, lo, h in seen.track]
    far_n, far_e = (leg_m, leg_m) if px4 else (600.0, 0.0)
    b = next(k for k, (n, e, _h) in enumerate(ne) if abs(n - far_n) < 3 and abs(e - far_e) < 3)
    back = ne[b:]
    land_n, land_e, _h = back[-1]
    top = max(h for _n, _e, h in back)
    top_n = max(back, key=lambda p: p[2])[0]
    ret = tr.item == len(items) - 1
    low, high = float(tr.alt[ret].max()) - home[2], float(tr.alt_high[ret].max()) - home[2]
    print(
        f"{fw_kind} {name} {value:g}: landed at {land_n:.1f} m N {land_e:.1f} m E, top of the "
        f"return {top:.1f} m above home at {top_n:.0f} m N (guard {low:.1f}..{high:.1f} m); "
        f"notes {notes}; texts {seen.statustexts[-8:]}"
    )
    assert abs(land_n) < 5.0 and abs(land_e) < 5.0
    assert low - TOLERANCE_M <= top <= high + TOLERANCE_M
    if px4:
        near_first = min(abs(n - leg_m) + abs(e) for n, e, _h in back)
        off_diagonal = min(
            ((n - leg_m / 2) ** 2 + (e - leg_m / 2) ** 2) ** 0.5 for n, e, _h in back
        )
        print(f"nearest the first waypoint {near_first:.1f} m, the diagonal {off_diagonal:.1f} m")
        assert any("backwards" in x for x in notes), notes
        assert near_first < 6.0 and off_diagonal > 10.0
    else:
        assert any("above the terrain it follows" in x for x in notes), notes
        assert top > 40.0 + 10.0 and 200.0 < top_n < 400.0  # over the served hill


def _hill_dem(
    path: Path, home: tuple[float, float, float], north_m: float, east_m: float, height_m: float
) -> Path:
    """A DEM at the firmware's home altitude with a hill (sigma 100 m) ``north_m``/``east_m``
    from home, 16 km square (the firmware asks for blocks of about 3 km aligned on whole
    degrees: some corners lie 5 km away), 20 m cells (UTM 33N)."""
    from dkp_testkit import write_geotiff

    def fn(dx: Any, dy: Any) -> Any:
        import numpy as np

        r2 = (dx - east_m) ** 2 + (dy - north_m) ** 2
        return home[2] + height_m * np.exp(-r2 / (2 * 100.0**2))

    return write_geotiff(path, fn, center_lonlat=(home[1], home[0]), half_m=8000.0, res_m=20.0)


@pytest.mark.timeout(900)
def test_rally_destination_flown_as_the_guard_predicts(
    fw_kind: str, ready: Any, tmp_path: Path
) -> None:
    """A rally point on board 800 m north, the mission's RTL 450 m north: PX4 (RTL_TYPE 0)
    returns to it, the nearer; ArduCopter returns home, because the rally point is beyond
    RALLY_LIMIT_KM (0.3 km by default). ``fly`` reads the rally point from the vehicle and the
    guard predicts each landing."""
    from dronekit_plzen.mission_items import CMD_NAV_RALLY_POINT
    from missions.model import RallyPoint

    home = ready.inst.home
    r_lat, r_lon = offset(home, 800.0, 0.0)
    with connect(ready.url, heartbeat_hz=2) as link:
        v = link.wait_vehicle(timeout_s=30)
        rally = MissionItem(
            CMD_NAV_RALLY_POINT, frame=FRAME_GLOBAL_RELATIVE_ALT, lat_deg=r_lat, lon_deg=r_lon,
            alt_m=20.0,
        )  # fmt: skip
        v.upload_mission([rally], 2, verify=True)
        rtl = vehicle_rtl_params(v)
    assert rtl is not None
    m = Mission(items=_items(home, 450.0, 20.0), home=(home[1], home[0], home[2]))
    if fw_kind == "arducopter":
        m.autopilot = AUTOPILOT_ARDUPILOT
    plan = save_mission(m, tmp_path / "rally.plan")
    m.rally_points = [RallyPoint(r_lon, r_lat, 20.0)]  # as fly reads it from the vehicle
    tr = trajectory(m, rtl=rtl)
    want_n, _want_e = north_east(home, float(tr.lat[-1]), float(tr.lon[-1]))
    cmd = [sys.executable, "-m", "dronekit_plzen", "fly", str(plan), "--connect", ready.url]
    cmd += ["--json", "--timeout", "400"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=460)
    print(proc.stderr[-2000:])
    assert proc.returncode == 0, proc.stderr[-800:]
    assert "the vehicle holds 1 rally point" in proc.stderr
    seen = ready.obs.wait_landed_disarmed(90.0)
    land_n, land_e = north_east(home, *seen.track[-1][:2])
    print(f"{fw_kind}: landed {land_n:.1f} m N {land_e:.1f} m E; guard {want_n:.1f} m N")
    assert want_n == pytest.approx(800.0 if fw_kind == "px4" else 0.0, abs=1.0)
    assert abs(land_n - want_n) < 5.0 and abs(land_e) < 5.0
