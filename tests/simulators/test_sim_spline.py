"""Spline waypoints in the simulated ArduCopter (pure, simulated time): flown along the curve
ArduCopter flies (``dronekit_plzen.ap_spline``), as the safety guard predicts it, not straight.

The mission is the one of the real-firmware check ``test_spline_flown_as_the_guard_predicts``
(``make interop``): ArduCopter 4.7 SITL flew its corner out to 125.5 m north, within 3.0 m of
the guard's path all the way (median 0.9 m)."""

from __future__ import annotations

import numpy as np
from dkp_testkit import sim_with_mission

from dronekit_plzen import mission_items as mi
from missions.model import Mission
from missions.trajectory import trajectory
from simulators.vehicle import VehicleModel

HOME = (49.7475, 13.3776, 310.0)
DT_S = 0.02
M_PER_DEG = 111_320.0


def _at(cmd: int, north: float, east: float) -> mi.MissionItem:
    lat = HOME[0] + north / M_PER_DEG
    lon = HOME[1] + east / (M_PER_DEG * np.cos(np.radians(HOME[0])))
    return mi.MissionItem(cmd, lat_deg=lat, lon_deg=lon, alt_m=20.0)


ITEMS = [
    mi.MissionItem(mi.CMD_NAV_TAKEOFF, alt_m=20.0),
    _at(mi.CMD_NAV_WAYPOINT, 100, 0),
    _at(mi.CMD_NAV_SPLINE_WAYPOINT, 100, 100),
    _at(mi.CMD_NAV_SPLINE_WAYPOINT, 0, 100),
    _at(mi.CMD_NAV_WAYPOINT, 0, 0),
    mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
]


def _fly(items: list[mi.MissionItem]) -> tuple[VehicleModel, np.ndarray]:
    """Fly ``items`` from the ground; the track (north, east) at cruise height."""
    vm = sim_with_mission(items, "ardupilot", HOME)
    for _ in range(300):
        vm.step(DT_S)
    assert (vm.set_mode("GUIDED"), vm.arm()) == (0, 0)
    assert vm.mission_start() == 0
    track = []
    for _ in range(60000):
        vm.step(DT_S)
        if vm.pos[2] > 15.0:
            track.append((vm.pos[1], vm.pos[0]))
        if not vm.armed:
            break
    return vm, np.array(track)


def test_spline_corner_flown_along_the_guards_curve() -> None:
    vm, track = _fly(ITEMS)
    assert not vm.armed and vm.runner.finished
    m = Mission(items=list(ITEMS), home=(HOME[1], HOME[0], HOME[2]))
    tr = trajectory(m)
    legs = (tr.item >= 1) & (tr.item <= 4)
    py, px = tr.y[legs] - tr.home_xy[1], tr.x[legs] - tr.home_xy[0]
    corner = tr.y[(tr.item == 1) | (tr.item == 2)] - tr.home_xy[1]
    # the simulator's ENU and the guard's UTM differ by the grid convergence (about 1.2°):
    # compared by distance from home and the overshoot, and each position to the path
    assert track[:, 0].max() > 118.0  # out past the corner, as the firmware (125.5 m)
    assert abs(track[:, 0].max() - corner.max()) < 4.0
    d = np.hypot(track[:, 1][:, None] - px[None, :], track[:, 0][:, None] - py[None, :]).min(1)
    assert np.percentile(d, 95) < 5.0, np.percentile(d, 95)


def test_without_splines_the_corner_is_flown_straight() -> None:
    straight = [it.with_(command=mi.CMD_NAV_WAYPOINT) if it.command == 82 else it for it in ITEMS]
    _vm, track = _fly(straight)
    assert track[:, 0].max() < 108.0  # a few metres past the corner, not the curve's 125 m
