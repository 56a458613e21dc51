"""Random missions flown on real firmware where the safety guard walks them.

The missions of ``tests/simulators/test_sim_guard_envelope.py`` (``dkp_testkit.random_mission``:
take-off, waypoints with holds, loiters, speed changes of every type, NAV_DELAY, DO_JUMP and, on
ArduCopter, altitude-0 waypoints, loiter circles and splines; then RTL or a landing), a few fixed
seeds per firmware, flown with ``fly`` and compared with the guard's walk
(``missions.trajectory``, the firmware's default speeds, the RTL values read from the vehicle):
every position the observer saw within 12 m of the walk and 5 m of its heights there.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dkp_testkit import (
    circle_aside_jump_mission,
    circle_inside_radius_mission,
    circle_jump_mission,
    loiter_turns,
    off_the_walk,
    random_mission,
    spline_jump_mission,
    wide_circle_then_back_mission,
    wide_then_far_circle_mission,
)
from harness import assert_cli_ok, fly_cli, north_east, offset

from dronekit_plzen import mission_items as mi
from dronekit_plzen.fleet import vehicle_rtl_params
from dronekit_plzen.link import connect
from missions.formats import save_mission
from missions.model import AUTOPILOT_ARDUPILOT, Mission
from missions.trajectory import trajectory

#: seeds whose missions hold most kinds of item and fly in under 4 minutes (ArduCopter: circles,
#: a spline, a DO_JUMP back to the take-off in the air, delays; PX4: DO_JUMPs back to the
#: take-off, which PX4 flies as a waypoint, speed changes of types 0-3)
SEEDS = {"arducopter": (210, 284, 253, 243), "px4": (297, 272, 208, 172)}
#: the firmware defaults the walk is timed with (ArduCopter WPNAV_SPEED 1000 cm/s in 4.7;
#: PX4 MPC_XY_CRUISE 5 m/s); the geometry does not depend on them
CRUISE_M_S = {"arducopter": 10.0, "px4": 5.0}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("case", range(4))
def test_random_mission_flown_where_the_guard_walks(
    fw_kind: str, ready: Any, tmp_path: Path, out_dir: Path, case: int
) -> None:
    ap = fw_kind == "arducopter"
    seed = SEEDS[fw_kind][case]
    home = ready.inst.home
    rng = random.Random(seed * 2 + int(ap))
    items = random_mission(rng, ap, home, reach_m=120.0, alt_m=(12.0, 40.0), ends=("rtl", "land"))
    _fly_where_the_guard_walks(fw_kind, ready, tmp_path, out_dir, items, f"seed {seed}")


#: ArduCopter circle cases (``dkp_testkit`` builds each around the instance's home), by the
#: name their flight is kept under:
#: - circle_jump (``make fuzz``): a take-off to 14 m, one turn of a 16 m circle round the
#:   take-off point at 10 m, a DO_JUMP back to the take-off twice (climbed where the circle
#:   ended), a waypoint 128 m south, RTL;
#: - circle_aside_jump (``make fuzz``, session 31): one turn of a 28 m circle round a point 22 m
#:   east of the take-off, a DO_JUMP back to the take-off twice, a waypoint 90 m east, RTL. SITL
#:   left the third circle 40° short of its full turn, 13.8 m off the guard's walk until the
#:   guard ended circles a trail short and began a circle flown again where the last ended;
#: - wide_then_far_circle (circle-heavy search, session 32): a quarter of an 80 m circle, then a
#:   16 m circle 150 m away at 40 m, RTL: where the leg to the second circle leaves the first
#:   (13.8 m off the walk that left from the first circle's end);
#: - wide_circle_back (the same search): half of an 80 m circle counter-clockwise, a waypoint
#:   behind the aircraft, a landing: how the aircraft turns from the circle onto the leg (15.9 m
#:   off the walk that left from the circle's end);
#: - circle_inside (``make fuzz``): a waypoint 1 m north of the take-off (inside WPNAV_RADIUS),
#:   one turn of a 16 m circle round the take-off point, RTL: where the circle begins.
CIRCLE_CASES = {
    "circle_jump": circle_jump_mission,
    "circle_aside_jump": circle_aside_jump_mission,
    "wide_then_far_circle": wide_then_far_circle_mission,
    "wide_circle_back": wide_circle_then_back_mission,
    "circle_inside": circle_inside_radius_mission,
}


@pytest.mark.timeout(900)
@pytest.mark.arducopter_only  # PX4 flies LOITER_TURNS as a loiter, no circle
@pytest.mark.parametrize("case", list(CIRCLE_CASES))
def test_circle_flown_where_the_guard_walks(
    fw_kind: str, ready: Any, tmp_path: Path, out_dir: Path, case: str
) -> None:
    """One of :data:`CIRCLE_CASES`: where the circles begin and end and where the legs after
    them leave, against the guard's walk."""
    items = CIRCLE_CASES[case](ready.inst.home)
    _fly_where_the_guard_walks(fw_kind, ready, tmp_path, out_dir, items, case)


@pytest.mark.timeout(900)
@pytest.mark.arducopter_only  # PX4 flies LOITER_TURNS as a loiter, no circle
def test_a_wide_circle_left_where_the_guard_walks(
    fw_kind: str, ready: Any, tmp_path: Path, out_dir: Path
) -> None:
    """One turn of an 80 m circle round a point 100 m north (at WPNAV_SPEED: √(½·2.5·80) =
    10 m/s round it), then a waypoint 150 m east of home and RTL: where the turns end and the
    leg after them begins, against the guard's walk."""
    home = ready.inst.home
    centre, east = offset(home, 100.0, 0.0), offset(home, 0.0, 150.0)
    items = [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=home[0], lon_deg=home[1], alt_m=20.0),
        loiter_turns(centre[0], centre[1], 20.0, 1.0, 80.0),
        mi.MissionItem(16, frame=3, lat_deg=east[0], lon_deg=east[1], alt_m=20.0),
        mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]
    _fly_where_the_guard_walks(fw_kind, ready, tmp_path, out_dir, items, "wide_circle")


@pytest.mark.timeout(900)
@pytest.mark.arducopter_only  # the simulator's PX4 side of this mission is in the property test
def test_a_spline_then_a_jump_back_to_the_take_off(
    fw_kind: str, ready: Any, tmp_path: Path, out_dir: Path
) -> None:
    """Found by ``make fuzz`` (the simulator flew 15 m off the walk): a take-off to 10 m, a
    spline 106 m east and 108 m south, a DO_JUMP back to the take-off once, a waypoint 139 m
    south and RTL: how the spline ends when the next item is a take-off reached in the air."""
    items = spline_jump_mission(ready.inst.home)
    _fly_where_the_guard_walks(fw_kind, ready, tmp_path, out_dir, items, "spline_jump")


def _fly_where_the_guard_walks(
    fw_kind: str, ready: Any, tmp_path: Path, out_dir: Path, items: list[Any], name: str
) -> None:
    ap = fw_kind == "arducopter"
    home = ready.inst.home
    print(f"{fw_kind} {name}: " + ", ".join(_describe(it) for it in items))
    lat, lon, alt = home
    mission = Mission(items=items, home=(lon, lat, alt))
    if ap:
        mission.autopilot = AUTOPILOT_ARDUPILOT
    plan = save_mission(mission, tmp_path / f"random_{name}.plan".replace(" ", "_"))
    proc = fly_cli(plan, ready.url, timeout_s=600.0)
    seen = ready.obs.wait_landed_disarmed(300.0)
    assert_cli_ok(proc)
    with connect(ready.url, heartbeat_hz=2) as link:  # the RTL as the vehicle will fly it
        rtl = vehicle_rtl_params(link.wait_vehicle(timeout_s=30))
    assert rtl is not None and rtl.from_vehicle
    tr = trajectory(mission, speed_m_s=CRUISE_M_S[fw_kind], rtl=rtl)
    walk_ne = np.array([north_east(home, la, lo) for la, lo in zip(tr.lat, tr.lon, strict=True)])
    walk = np.column_stack([walk_ne[:, 1], walk_ne[:, 0], tr.alt - alt])
    top = (tr.alt if tr.alt_max is None else tr.alt_max) - alt
    flown = np.array([(*north_east(home, la, lo)[::-1], h) for la, lo, h in seen.track])
    problem = off_the_walk(walk, top, flown)
    # kept for a look afterwards: east, north, height above home of the walk and the flight
    (out_dir / f"random_{fw_kind}_{name}.json".replace(" ", "_")).write_text(
        json.dumps(
            {
                "items": [_describe(it) for it in items],
                "walk": np.column_stack([walk, top]).round(2).tolist(),
                "walk_item": tr.item.tolist(),
                "flown": flown.round(2).tolist(),
                "problem": problem,
            }
        )
    )
    d = [float(np.hypot(walk[:, 0] - e, walk[:, 1] - n).min()) for e, n, _h in flown]
    print(
        f"{fw_kind} {name}: {len(flown)} positions, off the walk median"
        f" {np.median(d):.1f} m, max {max(d):.1f} m; {problem or 'all where the guard walks'}"
    )
    assert len(flown) > 20
    assert problem is None, problem


def _describe(it: mi.MissionItem) -> str:
    names = {
        mi.CMD_NAV_TAKEOFF: "take-off",
        mi.CMD_NAV_WAYPOINT: "wp",
        mi.CMD_NAV_SPLINE_WAYPOINT: "spline",
        mi.CMD_NAV_LOITER_TIME: "loiter",
        mi.CMD_NAV_LOITER_TURNS: "circle",
        mi.CMD_NAV_DELAY: "delay",
        mi.CMD_DO_CHANGE_SPEED: "speed",
        mi.CMD_DO_JUMP: "jump",
        mi.CMD_NAV_RETURN_TO_LAUNCH: "RTL",
        mi.CMD_NAV_LAND: "land",
    }
    name = names.get(it.command, str(it.command))
    if it.command in (mi.CMD_DO_CHANGE_SPEED, mi.CMD_DO_JUMP, mi.CMD_NAV_DELAY):
        return f"{name}({it.param1:g}, {it.param2:g})"
    return f"{name}({it.alt_m:.0f} m)" if it.has_position else name
