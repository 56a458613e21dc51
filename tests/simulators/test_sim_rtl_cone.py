"""The simulator returns inside the firmware's RTL cone (``dronekit_plzen.rtl_cone``): close to
home PX4 and ArduCopter climb less than RTL_RETURN_ALT / RTL_ALT, and the guard predicts it.

Expected altitudes are worked by hand from the firmware formulas (PX4 v1.16
``RTL::calculate_return_alt_from_cone_half_angle``, ArduCopter ``ModeRTL::compute_return_target``).
"""

from __future__ import annotations

import math
import time

import pytest
from dkp_testkit import sim_airborne

from dronekit_plzen import mission_items as mi
from dronekit_plzen.fleet import vehicle_rtl_params
from dronekit_plzen.link import connect
from missions.clearance import clear_for_flight
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.trajectory import trajectory
from simulators import SimFleet
from simulators.vehicle import RESULT_ACCEPTED

HOME = (49.7475, 13.3776, 310.0)
DT = 0.02
M_PER_DEG = 111_320.0


def _px4_hand(
    d: float, h: float, min_dist: float = 10.0, ret: float = 60.0, acc: float = 10.0
) -> float:
    """PX4 (RTL_RETURN_ALT ``ret``, RTL_CONE_ANG 45°, NAV_ACC_RAD ``acc``) by hand."""
    if d <= acc:
        a = 2 * d
    else:
        a = max(min(d, ret) if d <= min_dist else ret, 2 * acc)  # tan 45° = 1
    return h if a < h else min(a, ret)


def _ap_hand(d: float, h: float, rtl_alt: float = 15.0) -> float:
    """ArduCopter RTL_CONE_SLOPE 3, RTL_CLIMB_MIN 0 by hand."""
    return max(min(max(rtl_alt, h), max(3.0 * d, h)), h)


@pytest.mark.parametrize(
    ("autopilot", "params", "north_m", "alt_m", "hand"),
    [
        # PX4 with the parameters' NAV_ACC_RAD (10 m): within it, twice the distance
        ("px4", {"NAV_ACC_RAD": 10.0, "RTL_RETURN_ALT": 60.0}, 8.0, 5.0, _px4_hand),
        # a PX4 multicopter's defaults (NAV_ACC_RAD 2 m, RTL_RETURN_ALT 30 m): d inside
        # RTL_MIN_DIST, at least 2 * NAV_ACC_RAD
        ("px4", {}, 8.0, 5.0, lambda d, h: _px4_hand(d, h, ret=30.0, acc=2.0)),
        # PX4 with RTL_MIN_DIST 100 m: d / tan(45°) inside it
        (
            "px4",
            {"RTL_MIN_DIST": 100.0, "NAV_ACC_RAD": 10.0, "RTL_RETURN_ALT": 60.0},
            30.0,
            5.0,
            lambda d, h: _px4_hand(d, h, min_dist=100.0),
        ),
        # ArduCopter defaults (RTL_ALT 15 m): 3 m out, 3 × RTL_CONE_SLOPE
        ("ardupilot", {}, 3.0, 5.0, _ap_hand),
        # ArduCopter RTL_ALT 60 m: 10 m out, 30 m, not 60
        (
            "ardupilot",
            {"RTL_ALT": 6000.0},
            10.0,
            5.0,
            lambda d, h: _ap_hand(d, h, rtl_alt=60.0),
        ),
    ],
    ids=["px4-near", "px4-mc-defaults", "px4-min-dist", "ardupilot-near", "ardupilot-rtl-alt-60"],
)
def test_rtl_close_to_home_climbs_inside_the_cone(
    autopilot: str, params: dict[str, float], north_m: float, alt_m: float, hand: object
) -> None:
    vm = sim_airborne(autopilot, alt_m, HOME)
    for k, value in params.items():
        vm.set_param(k, value)
    lat, lon, alt = vm.geo.to_lla(vm.pos[0], vm.pos[1] + north_m, vm.pos[2])
    assert vm.reposition(lat, lon, alt, -1.0, True) == RESULT_ACCEPTED
    for _ in range(int(60.0 / DT)):
        vm.step(DT)
        if abs(vm.pos[1] - north_m) < 0.3 and math.hypot(*vm.vel[:2]) < 0.2:
            break
    d, h = math.hypot(vm.pos[0], vm.pos[1]), vm.rel_alt_m
    assert vm.rtl() == RESULT_ACCEPTED
    peak = 0.0
    for _ in range(int(200 / DT)):
        vm.step(DT)
        peak = max(peak, vm.rel_alt_m)
        if not vm.armed:
            break
    assert not vm.armed and math.hypot(vm.pos[0], vm.pos[1]) < 1.5
    assert peak == pytest.approx(hand(d, h), abs=0.6)  # type: ignore[operator]
    assert peak == pytest.approx(hand(north_m, alt_m), abs=1.5)  # type: ignore[operator]


# ------------------------------------------------------------------ over the link (loopback)
def _at(north: float, east: float = 0.0) -> tuple[float, float]:
    return (
        HOME[0] + north / M_PER_DEG,
        HOME[1] + east / (M_PER_DEG * math.cos(math.radians(HOME[0]))),
    )


@pytest.mark.parametrize(
    ("autopilot", "param", "value", "north_m", "expected_m"),
    [
        # PX4 over UDP: RTL_MIN_DIST 100 m, 30 m from home: 30 / tan 45° = 30 m, not 60 m
        ("px4", "RTL_MIN_DIST", 100.0, 30.0, 30.0),
        # ArduCopter over TCP: RTL_ALT 60 m, 10 m from home: 3 × 10 m = 30 m, not 60 m
        ("ardupilot", "RTL_ALT", 6000.0, 10.0, 30.0),
    ],
)
def test_mission_ending_in_rtl_near_home_flies_the_guards_prediction(
    autopilot: str, param: str, value: float, north_m: float, expected_m: float, port_offset: int
) -> None:
    """A mission (take-off 10 m, a waypoint ``north_m`` from home at 10 m, RTL) cleared with the
    vehicle's own RTL parameters read over the link, uploaded, flown: the highest altitude of
    the return is the guard's prediction."""
    with SimFleet(
        autopilot=autopilot, home=HOME, speedup=10, port_offset=port_offset, boot_settle_s=0.0
    ) as fleet:
        url = (
            f"udpin://127.0.0.1:{fleet.ports(0)['api_remote']}"
            if autopilot == "px4"
            else f"tcp://127.0.0.1:{fleet.ports(0)['tcp']}"
        )
        with connect(url, heartbeat_hz=5) as link:
            v = link.wait_vehicle(timeout_s=15)
            v.wait_for(lambda s: s.home is not None and s.position_known, 30, "home")
            v.set_param(param, value)
            rtl = vehicle_rtl_params(v)
            assert rtl is not None and rtl.from_vehicle
            lat, lon = _at(north_m)
            items = [
                mi.MissionItem(
                    mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=10.0
                ),
                mi.MissionItem(
                    mi.CMD_NAV_WAYPOINT, frame=3, lat_deg=lat, lon_deg=lon, alt_m=10.0, param2=1.0
                ),
                mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
            ]
            ap = AUTOPILOT_PX4 if autopilot == "px4" else AUTOPILOT_ARDUPILOT
            m = Mission(items=items, home=(HOME[1], HOME[0], HOME[2]), autopilot=ap)
            tr = trajectory(m, rtl=rtl)
            ret = tr.item == 2
            low = float(tr.alt[ret].max()) - HOME[2]
            high = float(tr.alt_high[ret].max()) - HOME[2]
            # the band: the RTL may start within the waypoint's acceptance radius (PX4: its
            # param2, 1 m; ArduCopter: WPNAV_RADIUS, 2 m, times RTL_CONE_SLOPE 3)
            assert low <= expected_m <= high and high - low < 13.0, (low, high)
            fc = clear_for_flight(m, vehicle_home=v.state.home, rtl=rtl)
            v.upload_mission(fc.sorties[0].items, clearance=fc.sorties[0].clearance)
            if autopilot == "ardupilot":
                v.set_mode("GUIDED")
            v.arm()
            if autopilot == "ardupilot":
                v.takeoff(10.0)
                v.wait_for(lambda s: s.relative_alt_m > 8.0, 60, "take-off")
            v.start_mission()
            peak = 0.0
            deadline = time.monotonic() + 60.0
            v.wait_for(lambda s: s.armed and s.relative_alt_m > 5.0, 30, "airborne")
            while time.monotonic() < deadline:
                st = v.state
                if math.isfinite(st.relative_alt_m):
                    peak = max(peak, st.relative_alt_m)
                if not st.armed:
                    break
                time.sleep(0.05)
            assert not v.state.armed, "the vehicle did not land"
    assert peak == pytest.approx(expected_m, abs=1.5)
    assert low - 1.0 <= peak <= high + 1.0  # within the guard's band
