"""The guard times a landing as the firmware lands: slower near the ground.

ArduCopter descends at LAND_SPEED_HIGH (else WPNAV_SPEED_DN) down to LAND_ALT_LOW (10 m), then
at LAND_SPEED (0.5 m/s); PX4 at MPC_Z_VEL_MAX_DN down to MPC_LAND_ALT1 (10 m), then slower
linearly with the height to MPC_LAND_SPEED (0.7 m/s) at MPC_LAND_ALT2 (5 m), at that down to
MPC_LAND_ALT3 (1 m) and, with a distance sensor, at MPC_LAND_CRWL (0.3 m/s) to the ground
(``FlightTaskAuto::_prepareLandSetpoints``). ArduCopter's RTL hovers RTL_LOIT_TIME
(5 s) over home before it descends. The guard had timed the whole descent at its descent rate
(a landing from 40 m: 20 s at 2 m/s, where ArduCopter takes 40 s): its endurance check counted
a flight shorter than the one flown. Checked against both SITLs in ``tests/interop``
(``test_a_landing_takes_as_long_as_the_guard_times_it``) and against the simulator here.
"""

from __future__ import annotations

import math

import pytest
from dkp_testkit import sim_with_mission, start_sim_mission

from dronekit_plzen import mission_items as mi
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.trajectory import landing_time_s, trajectory

HOME = (49.7475, 13.3776, 310.0)
DT_S = 0.05


@pytest.mark.parametrize(
    ("drop_m", "sink_m_s", "ardupilot", "expected_s"),
    [
        # ArduCopter from 40 m at 1.5 m/s: 30 m at 1.5, 10 m at 0.5; its start from a hover at
        # 1 m/s² (+0.75 s); the square-root controller's slowing between 11.625 m and 10.5 m
        # (1.625 m in 0.5 s + ln 2 s + 1 s instead of 1.625 / 1.5 s)
        (40.0, 1.5, True, 30 / 1.5 + 10 / 0.5 + 0.75 + (0.5 + math.log(2) + 1 - 1.625 / 1.5)),
        (6.0, 1.5, True, 6 / 0.5 + 0.25),  # at 0.5 m/s from the start
        # PX4: its jerk-limited start (4 m/s³) takes 2 sqrt(1.5 / 4) s to 1.5 m/s
        (
            40.0,
            1.5,
            False,
            30 / 1.5 + math.log(1.5 / 0.7) / (0.8 / 5) + 4 / 0.7 + 1 / 0.3 + math.sqrt(1.5 / 4),
        ),
        (8.0, 1.5, False, math.log((0.7 + 0.16 * 3) / 0.7) / 0.16 + 4 / 0.7 + 1 / 0.3),
        (3.0, 1.5, False, 2 / 0.7 + 1 / 0.3),
        (0.5, 1.5, False, 0.5 / 0.3),
        (20.0, 0.4, True, 20 / 0.4 + 0.2),  # a descent slower than the landing speed stays so
        (0.0, 1.5, True, 0.0),
        (math.nan, 1.5, False, 0.0),
    ],
)
def test_landing_time(drop_m: float, sink_m_s: float, ardupilot: bool, expected_s: float) -> None:
    assert landing_time_s(drop_m, sink_m_s, ardupilot) == pytest.approx(expected_s, rel=1e-6)


@pytest.mark.parametrize(
    ("drop_m", "sink_m_s"), [(40.0, 1.5), (25.0, 2.5), (12.0, 1.5), (6.0, 1.5)]
)
def test_an_ardupilot_landing_is_timed_as_its_controller_flies_it(
    drop_m: float, sink_m_s: float
) -> None:
    """ArduCopter's landing flown step by step as ``Mode::land_run_vertical_control`` asks:
    the speed is ``sqrt_controller`` of the height above LAND_ALT_LOW (P 1, WPNAV_ACCEL_Z
    1 m/s²) between LAND_SPEED and the descent speed, reached at 1 m/s² from a hover. The
    guard's closed form times it within 1 %."""
    dt, a, h, v, t = 0.001, 1.0, drop_m, 0.0, 0.0
    while h > 0.0:
        e = h - 10.0
        want = e if e <= 1.0 else math.sqrt(2.0 * (e - 0.5))
        want = min(max(want, 0.5), sink_m_s)
        v = min(want, v + a * dt) if want > v else max(want, v - a * dt)
        h -= v * dt
        t += dt
    assert landing_time_s(drop_m, sink_m_s, True) == pytest.approx(t, rel=0.01)


def _items() -> list[mi.MissionItem]:
    return [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=40.0),
        mi.MissionItem(mi.CMD_NAV_LAND, frame=3, lat_deg=HOME[0], lon_deg=HOME[1]),
    ]


@pytest.mark.parametrize("autopilot", ["ardupilot", "px4"])
def test_the_simulator_lands_as_long_as_the_guard_times_it(autopilot: str) -> None:
    """Take-off to 40 m, land there: the simulated landing (from the top of the climb to the
    touchdown) lasts what the guard counts for it, within 10 %; the guard's whole flight is
    the climb plus that landing."""
    ap = autopilot == "ardupilot"
    vm = sim_with_mission(_items(), autopilot, HOME)
    start_sim_mission(vm)
    top_t = top_h = 0.0
    for _ in range(int(300 / DT_S)):
        vm.step(DT_S)
        if vm.rel_alt_m > top_h:
            top_t, top_h = vm.t_s, vm.rel_alt_m
        if vm.landed and top_h > 1.0:
            break
    flown_s = vm.t_s - top_t
    sink = vm.p("WPNAV_SPEED_DN") / 100.0 if ap else vm.p("MPC_Z_VEL_MAX_DN")
    guard_s = landing_time_s(top_h, sink, ap)
    assert flown_s == pytest.approx(guard_s, rel=0.1), (flown_s, guard_s)
    m = Mission(items=_items(), home=(HOME[1], HOME[0], HOME[2]))
    m.autopilot = AUTOPILOT_ARDUPILOT if ap else AUTOPILOT_PX4
    climb = 2.5 if ap else 3.0
    tr = trajectory(m, climb_rate_m_s=climb, descent_rate_m_s=sink)
    assert tr.duration_s == pytest.approx(40.0 / climb + landing_time_s(40.0, sink, ap), rel=0.01)


def test_an_ardupilot_rtl_hovers_before_it_lands() -> None:
    """The same flight ending in RTL instead of a landing: ArduCopter's is RTL_LOIT_TIME (5 s)
    longer than its landing; PX4 (RTL_LAND_DELAY 0) lands at once."""
    rtl = mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2)
    for autopilot, extra in ((AUTOPILOT_ARDUPILOT, 5.0), (AUTOPILOT_PX4, 0.0)):
        durations = []
        for last in (_items()[1], rtl):
            m = Mission(items=[_items()[0], last], home=(HOME[1], HOME[0], HOME[2]))
            m.autopilot = autopilot
            durations.append(trajectory(m, descent_rate_m_s=1.5).duration_s)
        assert durations[1] - durations[0] == pytest.approx(extra, abs=0.5), autopilot
