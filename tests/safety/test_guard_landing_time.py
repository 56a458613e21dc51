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
        (40.0, 1.5, True, 30 / 1.5 + 10 / 0.5),
        (6.0, 1.5, True, 6 / 0.5),
        (40.0, 1.5, False, 30 / 1.5 + math.log(1.5 / 0.7) / (0.8 / 5) + 4 / 0.7 + 1 / 0.3),
        (8.0, 1.5, False, math.log((0.7 + 0.16 * 3) / 0.7) / 0.16 + 4 / 0.7 + 1 / 0.3),
        (3.0, 1.5, False, 2 / 0.7 + 1 / 0.3),
        (0.5, 1.5, False, 0.5 / 0.3),
        (20.0, 0.4, True, 20 / 0.4),  # a descent slower than the landing speed stays so
        (0.0, 1.5, True, 0.0),
        (math.nan, 1.5, False, 0.0),
    ],
)
def test_landing_time(drop_m: float, sink_m_s: float, ardupilot: bool, expected_s: float) -> None:
    assert landing_time_s(drop_m, sink_m_s, ardupilot) == pytest.approx(expected_s, rel=1e-6)


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
