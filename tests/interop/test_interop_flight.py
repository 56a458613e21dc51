"""Flights on real firmware through the project's three doors: ``fly``, the fleet API, the GUI.

Run by ``make interop`` only (see conftest.py). The observer on the firmware's second MAVLink
port (pymavlink only) decides whether the vehicle really flew: armed, climbed, reached the
waypoints (WP A twice: DO_JUMP), landed and disarmed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from harness import (
    COND_DISTANCE_M,
    COND_WP1_M,
    COND_WP2_M,
    FLIGHT_TIMEOUT_S,
    JUMP_TARGET,
    conditions_mission,
    full_mission,
    grid_mission,
    north_east,
    simple_mission,
    spline_mission,
    wp,
)
from harness import assert_cli_ok as _assert_cli_ok
from harness import fly_cli as _fly_cli

from dronekit_plzen.fleet import Fleet
from dronekit_plzen.mission_items import CMD_NAV_LAND, CMD_NAV_TAKEOFF, MissionItem
from dronekit_plzen.mission_items import CMD_NAV_RETURN_TO_LAUNCH as MAV_CMD_NAV_RETURN_TO_LAUNCH
from missions.formats import save_mission
from missions.model import AUTOPILOT_ARDUPILOT, Mission
from missions.validation import clear_for_flight


def _mission(fw_kind: str, items: list[Any], home: tuple[float, float, float]) -> Mission:
    lat, lon, alt = home
    m = Mission(items=list(items), home=(lon, lat, alt))
    if fw_kind == "arducopter":
        m.autopilot = AUTOPILOT_ARDUPILOT
    return m


def _wire_seq(fw_kind: str, index: int) -> int:
    """The firmware's sequence number of the project's item ``index`` (ArduPilot: home at 0)."""
    return index + (1 if fw_kind == "arducopter" else 0)


def _speed_item(kind: float, m_s: float) -> MissionItem:
    """A DO_CHANGE_SPEED of speed type ``kind`` (0 air, 1 ground, 2 climb, 3 descent)."""
    from dronekit_plzen.mission_items import CMD_DO_CHANGE_SPEED, FRAME_MISSION

    return MissionItem(CMD_DO_CHANGE_SPEED, FRAME_MISSION, kind, m_s, -1.0, 0.0)


@pytest.mark.timeout(900)
def test_fly_cli_full_mission(fw_kind: str, ready: Any, tmp_path: Path) -> None:
    """``fly`` a .plan with takeoff, waypoints, DO_SET_CAM_TRIGG_DIST, DO_JUMP, loiter, RTL."""
    home = ready.inst.home
    items = full_mission(home)
    plan = save_mission(_mission(fw_kind, items, home), tmp_path / "full.plan")
    proc = _fly_cli(plan, ready.url)
    summary = _assert_cli_ok(proc)
    seen = ready.obs.wait_landed_disarmed(60.0)
    print(
        f"{fw_kind}: reached {seen.reached}, modes {seen.modes}, camera events "
        f"{seen.camera_events}, max alt {seen.max_rel_alt_m:.1f} m, summary {summary}"
    )
    assert seen.max_rel_alt_m > 10.0
    # DO_JUMP: the reached sequence goes back once, to WP A. PX4 reports the last item it
    # processed (WP A then its DO_SET_CAM_TRIGG_DIST: seq 2), ArduPilot the waypoint itself.
    back = [b for a, b in zip(seen.reached, seen.reached[1:]) if b < a]
    target = _wire_seq(fw_kind, JUMP_TARGET)
    allowed = {target} if fw_kind == "arducopter" else {target, target + 1}
    assert back, f"no DO_JUMP taken: reached {seen.reached}"
    assert back[0] in allowed, (
        f"DO_JUMP went to seq {back[0]}, not WP A (seq {sorted(allowed)}): reached {seen.reached}"
    )
    assert max(seen.reached) >= _wire_seq(fw_kind, 5), f"loiter not reached: {seen.reached}"


@pytest.mark.timeout(900)
def test_fly_cli_twice_on_one_boot(fw_kind: str, ready: Any, tmp_path: Path) -> None:
    """Two sorties in a row without a reboot, as a pilot flies them: ArduCopter lands by the
    mission's RTL still in AUTO, where it refuses to arm ("Arm: AUTO mode not armable"), so ``fly``
    switches it to GUIDED first; PX4 goes back to an armable mode by itself."""
    home = ready.inst.home
    plan = save_mission(_mission(fw_kind, simple_mission(home), home), tmp_path / "short.plan")
    _assert_cli_ok(_fly_cli(plan, ready.url))
    first = ready.obs.wait_landed_disarmed(60.0)
    print(f"{fw_kind}: modes of the first flight {first.modes}")
    proc = _fly_cli(plan, ready.url)
    summary = _assert_cli_ok(proc)
    assert summary["flown"][0]["flight_s"] > 5.0, summary
    if fw_kind == "arducopter":
        assert first.modes[-1] == "AUTO", first.modes
        assert "switching to GUIDED" in proc.stderr


@pytest.mark.timeout(900)
def test_fly_cli_cut_short_is_not_flown_and_resumes(
    fw_kind: str, ready: Any, tmp_path: Path
) -> None:
    """A second ground station commands RTL in the middle of the mission (as a failsafe or
    the pilot's switch would): ``fly`` exits 1 saying the rest was not flown, and the next
    ``fly`` resumes the sortie where it stopped and flies it to its end."""
    home = ready.inst.home
    items = grid_mission(home, 10, alt_m=15.0)  # take-off, 8 waypoints 8 m apart, RTL
    plan = save_mission(_mission(fw_kind, items, home), tmp_path / "grid.plan")
    cmd = [sys.executable, "-m", "dronekit_plzen", "fly", str(plan), "--connect", ready.url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready.obs.wait(lambda s: any(r >= _wire_seq(fw_kind, 3) for r in s.reached), 300, "WP 3")
        ready.obs.command(MAV_CMD_NAV_RETURN_TO_LAUNCH)
        _out, err = proc.communicate(timeout=FLIGHT_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    print(err[-2000:])
    last = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 1 and last, err[-1000:]
    assert "landed before the end of the mission" in last[-1], last[-1]
    progress = json.loads((tmp_path / "grid.fly-progress.json").read_text())
    assert progress["partial"][0] == 1 and 3 <= progress["partial"][1] < 9, progress
    again = _fly_cli(plan, ready.url)
    summary = _assert_cli_ok(again)
    to_item = progress["partial"][1] + 1  # numbered from 1 in the text
    assert f"resuming sortie 1 where it stopped, on its way to item {to_item}" in again.stderr
    assert summary["flown"][0]["flight_s"] > 5.0


@pytest.mark.timeout(900)
def test_fly_cli_planner_plan(fw_kind: str, ready: Any, tmp_path: Path) -> None:
    """``plan expanding-square`` then ``fly`` its .plan: the planner's own output, flown."""
    lat, lon, _alt = ready.inst.home
    out = tmp_path / "es"
    gen = subprocess.run(
        [
            sys.executable,
            "-m",
            "dronekit_plzen",
            "plan",
            "expanding-square",
            "--datum",
            f"{lat},{lon}",
            "--alt-m",
            "15",
            "--spacing-m",
            "12",
            "--legs",
            "3",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert gen.returncode == 0, gen.stderr[-500:]
    proc = _fly_cli(out / "expanding-square.plan", ready.url)
    _assert_cli_ok(proc)
    seen = ready.obs.wait_landed_disarmed(60.0)
    assert len(seen.reached) >= 3, f"reached only {seen.reached}"


@pytest.mark.timeout(900)
def test_fly_cli_right_after_boot(fw_kind: str, booted: Any, tmp_path: Path) -> None:
    """``fly`` started as soon as the firmware boots must wait for ready-to-arm, then fly."""
    home = booted.inst.home
    plan = save_mission(_mission(fw_kind, simple_mission(home), home), tmp_path / "s.plan")
    proc = _fly_cli(plan, booted.url)
    _assert_cli_ok(proc)
    booted.obs.wait_landed_disarmed(60.0)


def _fly_fleet(fw_kind: str, runs: list[Any]) -> None:
    urls = [r.url for r in runs]
    with Fleet.connect(urls) as fleet:
        vehicles = fleet.wait_vehicles(len(runs), timeout_s=30)
        assert len(vehicles) == len(runs)
        plan: dict[Any, Any] = {}
        for v in vehicles:
            st = v.wait_for(lambda s: s.home is not None and s.position_known, 30, "home")
            home = st.home
            assert home is not None
            m = _mission(fw_kind, simple_mission(home), home)
            plan[v] = clear_for_flight(
                m, vehicle_home=home, vehicle_position=(st.lat_deg, st.lon_deg)
            ).sorties[0]
        _all_ok(fleet.upload(plan), "upload")
        if fw_kind == "arducopter":
            _all_ok(fleet.for_each(lambda v: v.set_mode("GUIDED")), "GUIDED")
            _all_ok(fleet.arm_all(), "arm")
            _all_ok(fleet.takeoff_all(12.0), "takeoff")
            for r in runs:
                r.obs.wait(lambda s: s.rel_alt_m > 8.0, 90, "take-off to 8 m")
        else:
            _all_ok(fleet.arm_all(), "arm")
        _all_ok(fleet.start_all(), "start")
        for r in runs:
            r.obs.wait(lambda s: s.rel_alt_m > 8.0, 120, "climb above 8 m")
        _all_ok(fleet.pause_all(), "pause")
        time.sleep(3.0)
        _all_ok(fleet.continue_all(), "continue")
        for r in runs:
            r.obs.wait_landed_disarmed(FLIGHT_TIMEOUT_S)
            print(f"{r.inst.url}: modes {r.obs.seen.modes}, reached {r.obs.seen.reached}")


def _all_ok(results: dict[str, Any], what: str) -> None:
    bad = {k: f"{r.error} (code {r.code})" for k, r in results.items() if not r.ok}
    assert not bad, f"fleet {what} failed: {bad}"


@pytest.mark.timeout(900)
def test_fleet_api_flight(fw_kind: str, ready: Any) -> None:
    """Fleet: upload under clearance, arm, (ArduPilot: take off), start, pause, continue, land."""
    _fly_fleet(fw_kind, [ready])


@pytest.mark.timeout(1200)
def test_two_vehicles_at_once(fw_kind: str, ready_pair: list[Any]) -> None:
    """Two firmware instances flown by one Fleet at the same time."""
    _fly_fleet(fw_kind, ready_pair)


@pytest.mark.timeout(900)
def test_gui_backend_flight(fw_kind: str, ready: Any) -> None:
    """The fly panel's session (no Qt): connect, upload a validated sortie, arm, start, RTL."""
    from gui.clearance import clear_drones
    from gui.flysession import FlySession

    home = ready.inst.home
    sortie = clear_drones([[_mission(fw_kind, simple_mission(home), home)]])[0][0]
    assert sortie.cleared, sortie.violations
    session = FlySession(ready.url, wait_s=30)
    try:
        print(session.open())
        sysid = ready.inst.sysid
        print(session.run("upload", sysid, sortie=sortie))
        print(session.run("arm", sysid))
        if fw_kind == "arducopter":
            print(session.run("takeoff", sysid, alt_m=12.0))
            ready.obs.wait(lambda s: s.rel_alt_m > 8.0, 90, "take-off to 8 m")
        print(session.run("start", sysid))
        ready.obs.wait(lambda s: s.rel_alt_m > 8.0, 120, "climb above 8 m")
        views = session.snapshot()
        assert views and views[0].armed
        print(session.run("rtl", sysid))
        ready.obs.wait_landed_disarmed(FLIGHT_TIMEOUT_S)
        # the next sortie on the same boot: ArduCopter landed in RTL, where it does not arm;
        # the cockpit's Arm switches it to GUIDED first (PX4 arms as it is)
        time.sleep(2.0)
        print(session.run("upload", sysid, sortie=sortie))
        text = session.run("arm", sysid)
        print(text)
        if fw_kind == "arducopter":
            assert "GUIDED" in text and "RTL" in text, text
        ready.obs.wait(lambda s: s.armed, 10, "armed for the second sortie")
        print(session.run("disarm", sysid))
    finally:
        session.close()


@pytest.mark.timeout(900)
def test_conditions_hold_back_do_commands(fw_kind: str, ready: Any, tmp_path: Path) -> None:
    """``fly`` a mission whose DO commands wait for CONDITION_DELAY / CONDITION_DISTANCE: where
    ArduCopter reports each condition reached tells when the DO commands after it ran (it does
    not report the DO_SET_SERVOs themselves). The simulator's ArduPilot flavour runs them the same
    way (``tests/simulators/test_sim_conditions.py``).

    Seen on ArduCopter 4.7.0-dev SITL: the 3 s delay met 23 m past WP1 (40 m), the 25 m distance
    27 m before WP2 (the observer's position arrives at 4 Hz: up to 2.5 m late at 10 m/s), the
    600 s delay never, nor the DO command after it."""
    home = ready.inst.home
    plan = save_mission(_mission(fw_kind, conditions_mission(home), home), tmp_path / "c.plan")
    if fw_kind == "px4":
        _px4_refuses_conditions(ready, plan, home)
        return
    summary = _assert_cli_ok(_fly_cli(plan, ready.url))
    seen = ready.obs.wait_landed_disarmed(60.0)
    print(f"{fw_kind}: reached at {seen.reached_at}, summary {summary}")
    at = {seq: north for seq, north, _east in seen.reached_at}
    delay, distance, never, never_do = (_wire_seq(fw_kind, i) for i in (2, 4, 7, 8))
    assert delay in at and distance in at, f"conditions not met: {seen.reached_at}"
    # the delay: met seconds after WP1, on the way to WP2, not at WP1
    assert COND_WP1_M + 10.0 < at[delay] < COND_WP2_M - COND_DISTANCE_M, seen.reached_at
    # the distance: met within it of WP2, not long before nor at WP2
    assert COND_WP2_M - COND_DISTANCE_M - 5.0 < at[distance] < COND_WP2_M - 5.0, seen.reached_at
    # the condition not met before WP2's leg ended: neither it nor its DO command ran
    assert never not in at and never_do not in at, seen.reached_at


def _px4_refuses_conditions(ready: Any, plan: Path, home: tuple[float, float, float]) -> None:
    """PX4 v1.16 stores CONDITION_DELAY/DISTANCE, then will not start the mission: ``fly``
    refuses it before sending (exit 1, one line); sent anyway, the firmware denies the start."""
    from dronekit_plzen.errors import CommandError
    from dronekit_plzen.link import connect
    from dronekit_plzen.safety import Override

    proc = _fly_cli(plan, ready.url)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr[-2000:]
    assert "item 3 (CONDITION_DELAY) is not a command PX4 runs in a mission" in errors[0]
    assert not ready.obs.seen.armed_ever
    items = conditions_mission(home)
    items = [it for it in items if it.command != 183]  # PX4 refuses DO_SET_SERVO on upload
    with connect(ready.url) as link:
        v = link.wait_vehicle(timeout_s=30)
        v.upload_mission(
            items, override=Override.make("interop: PX4 and conditions"), startable_only=False
        )
        with pytest.raises(CommandError) as denied:
            v.start_mission()
    print(f"px4: start {denied.value}; statustexts {ready.obs.seen.statustexts[-5:]}")
    ready.obs.wait(
        lambda s: any("No valid mission" in t for t in s.statustexts), 10.0, "PX4's denial"
    )


@pytest.mark.timeout(900)
def test_spline_flown_as_the_guard_predicts(fw_kind: str, ready: Any, tmp_path: Path) -> None:
    """``fly`` spline waypoints on ArduCopter and compare the flown track with the curve the
    safety guard checks (``dronekit_plzen.ap_spline`` via ``missions.trajectory``): every
    position on the spline legs lies within a few metres of the predicted curve, and the
    overshoot past the corner is the predicted one. (PX4 refuses NAV_SPLINE_WAYPOINT.)"""
    import numpy as np

    from missions.trajectory import trajectory

    if fw_kind != "arducopter":
        pytest.skip("PX4 refuses NAV_SPLINE_WAYPOINT on upload")
    home = ready.inst.home
    mission = _mission(fw_kind, spline_mission(home), home)
    plan = save_mission(mission, tmp_path / "spline.plan")
    summary = _assert_cli_ok(_fly_cli(plan, ready.url))
    seen = ready.obs.wait_landed_disarmed(60.0)
    tr = trajectory(mission)
    pred = np.array([north_east(home, la, lo) for la, lo in zip(tr.lat, tr.lon, strict=True)])
    legs = (tr.item >= 1) & (tr.item <= 4)  # the waypoint, the two splines, the way back
    py, px = pred[legs, 0], pred[legs, 1]  # north, east of home
    spline_north = pred[(tr.item == 2) | (tr.item == 3), 0]
    # the flown positions at cruise altitude (the climb and the RTL's descent left out)
    flown = np.array(
        [north_east(home, la, lo) for la, lo, alt in seen.track if alt > 15.0]
    )  # north, east
    d = np.hypot(flown[:, 1][:, None] - px[None, :], flown[:, 0][:, None] - py[None, :]).min(1)
    beyond = flown[:, 0].max()  # how far north past the corner it went (the overshoot)
    print(
        f"{fw_kind}: {len(flown)} positions, off the predicted path median {np.median(d):.1f} m"
        f" max {d.max():.1f} m; north at most {beyond:.1f} m, predicted {spline_north.max():.1f}"
        " m; "
        f"summary {summary['flown'][0]['validation']}"
    )
    assert len(flown) > 20
    # the guard's curve overshoots the corner (straight legs would turn at 100 m), as flown
    assert spline_north.max() > 110.0
    assert abs(beyond - spline_north.max()) < 5.0
    assert np.percentile(d, 95) < 5.0, np.percentile(d, 95)


@pytest.mark.timeout(900)
def test_items_at_here_are_flown_where_the_guard_has_them(
    fw_kind: str, ready: Any, tmp_path: Path
) -> None:
    """A take-off and a landing at latitude = longitude = 0, ArduPilot's "here" (Mission
    Planner writes them so): ArduCopter climbs and lands where the aircraft is, and so does
    the guard's walk of the mission. PX4 flies to each item's position as it is given, 0°N 0°E
    too (its first-waypoint distance check only warns); ``fly`` sends PX4 those items at the
    positions the guard has them: the launch point, the last waypoint."""
    import math

    home = ready.inst.home
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=3, lat_deg=0.0, lon_deg=0.0, alt_m=12.0),
        wp(home, 30.0, 0.0, 12.0),
        MissionItem(command=CMD_NAV_LAND, frame=3, lat_deg=0.0, lon_deg=0.0, alt_m=0.0),
    ]
    plan = save_mission(_mission(fw_kind, items, home), tmp_path / "here.plan")
    proc = _fly_cli(plan, ready.url, timeout_s=240.0)
    seen = ready.obs.wait_landed_disarmed(120.0)
    flown = [north_east(home, la, lo) for la, lo, _ in seen.track]
    far = max(math.hypot(n, e) for n, e in flown)
    assert seen.position is not None
    n, e = north_east(home, *seen.position)
    print(f"{fw_kind}: at most {far:.1f} m from home, landed at {n:.1f} m N {e:.1f} m E")
    _assert_cli_ok(proc)
    assert far < 45.0, f"flew {far:.0f} m from home"
    assert math.hypot(n - 30.0, e) < 6.0, f"landed at {n:.1f} m N {e:.1f} m E, not at the waypoint"


SPEED_LEG_M = 120.0


@pytest.mark.timeout(900)
def test_speed_changes_flown_as_the_guard_times_them(
    fw_kind: str, ready: Any, tmp_path: Path
) -> None:
    """``fly`` a mission with three DO_CHANGE_SPEEDs (ground speed 2 m/s, a climb speed of
    4 m/s, then none) and compare each leg's ground speed with what the safety guard times it at
    (``missions.trajectory.speed_change`` and ``px4_speed_override``, as the walk combines them).
    ArduCopter: both legs at 2 m/s (the climb speed and a speed of -1 change nothing
    horizontal). PX4: its navigator takes any type as the cruise speed (4 m/s in the setpoint)
    and resets it without a speed (MPC_XY_CRUISE on the second leg), but its flight mode manager
    takes a ground speed issued with the leg's setpoint over it (2 m/s on the first leg). The
    guard had timed PX4's first leg at the navigator's speed."""
    from dronekit_plzen.link import connect
    from dronekit_plzen.mission_items import CMD_DO_CHANGE_SPEED, FRAME_GLOBAL_RELATIVE_ALT
    from missions.trajectory import px4_speed_override, speed_change

    home = ready.inst.home
    lat, lon, _ = home
    speed = _speed_item
    items = [
        MissionItem(CMD_NAV_TAKEOFF, FRAME_GLOBAL_RELATIVE_ALT, lat_deg=lat, lon_deg=lon, alt_m=15),
        speed(1, 2.0),
        speed(2, 4.0),
        wp(home, SPEED_LEG_M, 0.0, 15.0),
        speed(1, -1.0),
        wp(home, 0.0, 0.0, 15.0),
        MissionItem(CMD_NAV_LAND, FRAME_GLOBAL_RELATIVE_ALT, lat_deg=lat, lon_deg=lon),
    ]
    ardupilot = fw_kind == "arducopter"
    with connect(ready.url) as link:
        v = link.wait_vehicle(ready.inst.sysid, timeout_s=30)
        start_v = v.get_param("WPNAV_SPEED") / 100.0 if ardupilot else v.get_param("MPC_XY_CRUISE")
    expected: dict[int, float] = {}
    now, override = (start_v, 3.0, 2.0), None
    for k, it in enumerate(items):
        if it.command == CMD_DO_CHANGE_SPEED:
            now = speed_change(it, ardupilot, now, start_v)
            override = override if ardupilot else px4_speed_override(it) or override
        elif k in (3, 5):
            expected[_wire_seq(fw_kind, k)] = min(now[0], override or now[0])
            override = None
    plan = save_mission(_mission(fw_kind, items, home), tmp_path / "speed.plan")
    _assert_cli_ok(_fly_cli(plan, ready.url))
    seen = ready.obs.wait_landed_disarmed(60.0)
    flown = {}
    for seq in expected:
        on_leg = sorted(gs for s, gs in seen.speeds if s == seq)
        assert len(on_leg) >= 8, f"few samples on item {seq}: {on_leg}"
        flown[seq] = on_leg[len(on_leg) // 2]
    print(f"{fw_kind}: cruise {start_v} m/s; guard {expected}; flown (median) {flown}")
    for seq, want in expected.items():
        assert flown[seq] == pytest.approx(want, rel=0.15), (seq, flown, expected)


@pytest.mark.timeout(600)
def test_climb_and_descent_speeds_flown_as_the_guard_times_them(
    fw_kind: str, ready: Any, tmp_path: Path
) -> None:
    """``fly`` a take-off to 10 m, a climb speed of 1 m/s and a descent speed of 0.5 m/s
    (DO_CHANGE_SPEED types 2 and 3), a climb to 40 m and a descent to 10 m where the aircraft
    is, a landing. ArduCopter climbs and descends at those speeds (``ModeAuto::do_change_speed``);
    PX4 takes any type as its cruise speed and keeps its own vertical speeds (MPC_Z_V_AUTO_UP,
    MPC_Z_V_AUTO_DN). The guard (``missions.trajectory.speed_change``) times both legs so, and
    the simulator flies them so (it had climbed ArduCopter at WPNAV_SPEED_UP)."""
    from dronekit_plzen.link import connect
    from dronekit_plzen.mission_items import FRAME_GLOBAL_RELATIVE_ALT
    from missions.trajectory import speed_change

    home = ready.inst.home
    lat, lon, _ = home
    speed = _speed_item
    items = [
        MissionItem(CMD_NAV_TAKEOFF, FRAME_GLOBAL_RELATIVE_ALT, lat_deg=lat, lon_deg=lon, alt_m=10),
        speed(2, 1.0),
        speed(3, 0.5),
        wp(home, 0.0, 0.0, 40.0),
        wp(home, 0.0, 0.0, 10.0),
        MissionItem(CMD_NAV_LAND, FRAME_GLOBAL_RELATIVE_ALT, lat_deg=lat, lon_deg=lon),
    ]
    ardupilot = fw_kind == "arducopter"
    names = ("WPNAV_SPEED", "WPNAV_SPEED_UP", "WPNAV_SPEED_DN")
    if not ardupilot:
        names = ("MPC_XY_CRUISE", "MPC_Z_V_AUTO_UP", "MPC_Z_V_AUTO_DN")
    with connect(ready.url) as link:
        v = link.wait_vehicle(ready.inst.sysid, timeout_s=30)
        got = [v.get_param(n) / (100.0 if ardupilot else 1.0) for n in names]
    now = (got[0], got[1], got[2])
    for it in items[1:3]:
        now = speed_change(it, ardupilot, now, got[0])
    up_seq, down_seq = _wire_seq(fw_kind, 3), _wire_seq(fw_kind, 4)
    plan = save_mission(_mission(fw_kind, items, home), tmp_path / "climb.plan")
    _assert_cli_ok(_fly_cli(plan, ready.url))
    seen = ready.obs.wait_landed_disarmed(60.0)
    climbing = sorted(c for s, c in seen.climbs if s == up_seq and c > 0.2)
    sinking = sorted(-c for s, c in seen.climbs if s == down_seq and c < -0.2)
    assert len(climbing) >= 8 and len(sinking) >= 8, (climbing, sinking)
    flown = (climbing[len(climbing) // 2], sinking[len(sinking) // 2])
    print(f"{fw_kind}: vertical speeds {got[1:]}; guard {now[1:]}; flown (median) {flown}")
    assert flown == pytest.approx(now[1:], rel=0.15), (flown, now)


@pytest.mark.timeout(600)
def test_a_landing_takes_as_long_as_the_guard_times_it(
    fw_kind: str, ready: Any, tmp_path: Path
) -> None:
    """``fly`` a take-off to 40 m and a landing where the aircraft is. Both firmwares slow their
    landing near the ground (ArduCopter LAND_SPEED 0.5 m/s below LAND_ALT_LOW 10 m; PX4 from
    MPC_LAND_ALT1 10 m down to MPC_LAND_ALT2 5 m to MPC_LAND_SPEED 0.7 m/s, the last metre at
    MPC_LAND_CRWL 0.3 m/s): the descent takes
    as long as ``missions.trajectory.landing_time_s`` has it from the vehicle's descent speed
    (the guard had timed all 40 m at the descent speed, 20 s at its default 2 m/s)."""
    from dronekit_plzen.link import connect
    from dronekit_plzen.mission_items import FRAME_GLOBAL_RELATIVE_ALT
    from missions.trajectory import landing_time_s

    home = ready.inst.home
    lat, lon, _ = home
    items = [
        MissionItem(CMD_NAV_TAKEOFF, FRAME_GLOBAL_RELATIVE_ALT, lat_deg=lat, lon_deg=lon, alt_m=40),
        MissionItem(CMD_NAV_LAND, FRAME_GLOBAL_RELATIVE_ALT, lat_deg=lat, lon_deg=lon),
    ]
    ardupilot = fw_kind == "arducopter"
    with connect(ready.url) as link:
        v = link.wait_vehicle(ready.inst.sysid, timeout_s=30)
        sink = (
            (v.get_param("LAND_SPEED_HIGH") or v.get_param("WPNAV_SPEED_DN")) / 100.0
            if ardupilot
            else v.get_param("MPC_Z_VEL_MAX_DN")
        )
    plan = save_mission(_mission(fw_kind, items, home), tmp_path / "land.plan")
    _assert_cli_ok(_fly_cli(plan, ready.url))
    seen = ready.obs.wait_landed_disarmed(120.0)
    land_seq = _wire_seq(fw_kind, 1)
    landing = [(t, h) for s, t, h in seen.heights if s == land_seq]
    assert len(landing) > 20, seen.heights[-5:]
    top_t, top_h = max(landing, key=lambda th: th[1])
    down_t = next(t for t, h in landing if t > top_t and h < 0.3)  # on the ground
    flown_s = down_t - top_t
    guard_s = landing_time_s(top_h, sink, ardupilot)
    print(f"{fw_kind}: landing from {top_h:.1f} m took {flown_s:.1f} s; guard {guard_s:.1f} s")
    # (SIH's altitude is noisy, ±1 m near the ground: PX4 landings from 40 m took 37-40 s)
    assert flown_s == pytest.approx(guard_s, rel=0.15 if ardupilot else 0.2), (flown_s, guard_s)


@pytest.mark.timeout(600)
def test_altitude_zero_is_flown_as_the_guard_has_it(
    fw_kind: str, ready: Any, tmp_path: Path
) -> None:
    """A waypoint 40 m north whose altitude is 0, after a take-off to 15 m, then a landing
    there. ArduCopter keeps the aircraft's altitude for it (``ModeAuto::loc_from_cmd``) and so
    does the guard: the leg at 15 m. PX4 flies down to 0 m above home on the way, and so does
    the guard's walk, which refuses it for terrain clearance (without a DEM above the home
    elevation): flown here with the override to compare."""
    from missions.trajectory import trajectory

    home = ready.inst.home
    lat, lon, _ = home
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=3, lat_deg=lat, lon_deg=lon, alt_m=15.0),
        wp(home, 40.0, 0.0, 0.0),
        MissionItem(command=CMD_NAV_LAND, frame=3, lat_deg=0.0, lon_deg=0.0, alt_m=0.0),
    ]
    plan = save_mission(_mission(fw_kind, items, home), tmp_path / "alt0.plan")
    override: tuple[str, ...] = ()
    if fw_kind == "px4":
        # without a DEM the guard takes the ground as flat at the home elevation: refused
        refused = _fly_cli(plan, ready.url, timeout_s=60.0)
        assert refused.returncode == 3, refused.stderr[-500:]
        assert "[terrain_clearance] (item 2;" in refused.stderr
        assert "above the home elevation" in refused.stderr
        override = ("--override-safety", "--reason", "interop: fly the leg the guard refuses")
    proc = _fly_cli(plan, ready.url, *override, timeout_s=240.0)
    seen = ready.obs.wait_landed_disarmed(120.0)
    _assert_cli_ok(proc)
    tr = trajectory(_mission(fw_kind, items, home))
    at_wp = float(tr.alt[tr.item == 1][-1]) - home[2]
    on_leg = [alt for la, lo, alt in seen.track if 30.0 < north_east(home, la, lo)[0] < 38.0]
    print(f"{fw_kind}: 30-38 m north flown at {min(on_leg):.1f}-{max(on_leg):.1f} m, guard {at_wp}")
    assert on_leg and at_wp == (15.0 if fw_kind == "arducopter" else 0.0)
    assert abs(min(on_leg) - at_wp) < 4.0 and max(on_leg) < 18.0
    assert seen.position is not None
    n, _e = north_east(home, *seen.position)
    assert abs(n - 40.0) < 6.0, f"landed {n:.1f} m north"


@pytest.mark.timeout(600)
def test_amsl_take_off_and_altitude_0_spline_on_arducopter(
    fw_kind: str, ready: Any, tmp_path: Path
) -> None:
    """A take-off item in the AMSL frame at home + 15 m (``fly``'s GUIDED take-off on ArduCopter
    takes metres above home: it had sent the AMSL figure), a waypoint 40 m north at 25 m, then
    80 m north and 30 m east: on ArduCopter a spline waypoint at altitude 0 (``do_spline_wp`` →
    ``loc_from_cmd``: the aircraft's 25 m, along the curve; the guard had walked it down to the
    home's height), on PX4, which refuses splines, a waypoint at 25 m; a landing there. Both
    take off to 15 m above home and fly the last leg at the guard's height."""
    import statistics

    from missions.trajectory import trajectory

    home = ready.inst.home
    lat, lon, amsl = home
    ap = fw_kind == "arducopter"
    last = wp(home, 80.0, 30.0, 0.0 if ap else 25.0)
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=0, lat_deg=lat, lon_deg=lon, alt_m=amsl + 15),
        wp(home, 40.0, 0.0, 25.0),
        last.with_(command=82) if ap else last,
        MissionItem(command=CMD_NAV_LAND, frame=3, lat_deg=0.0, lon_deg=0.0, alt_m=0.0),
    ]
    plan = save_mission(_mission(fw_kind, items, home), tmp_path / "spline0.plan")
    proc = _fly_cli(plan, ready.url, timeout_s=300.0)
    seen = ready.obs.wait_landed_disarmed(120.0)
    _assert_cli_ok(proc)
    tr = trajectory(_mission(fw_kind, items, home))
    guard = float(statistics.median(tr.alt[tr.item == 2])) - amsl
    highest = max(alt for _la, _lo, alt in seen.track)
    on_leg = [alt for la, lo, alt in seen.track if 55.0 < north_east(home, la, lo)[0] < 75.0]
    print(
        f"{fw_kind}: highest {highest:.1f} m; last leg 55-75 m north flown at "
        f"{min(on_leg):.1f}-{max(on_leg):.1f} m, guard median {guard:.1f} m"
    )
    assert highest < 32.0  # the take-off climbed to 15 m above home, not to 15 m + home AMSL
    assert on_leg and abs(statistics.median(on_leg) - guard) < 3.0
    assert abs(guard - 25.0) < 3.0


@pytest.mark.timeout(600)
@pytest.mark.parametrize("take_off", [True, False], ids=["take-off-placed-east", "no-take-off"])
def test_take_off_flown_as_the_guard_has_it(
    fw_kind: str, ready: Any, tmp_path: Path, take_off: bool
) -> None:
    """A take-off placed 40 m east of the launch point (20 m), or none; a waypoint 40 m north at
    30 m; a landing there. Both firmwares climb straight up where the aircraft is
    (ArduCopter's ``takeoff_start``; PX4's ``handleTakeoff`` and, without a take-off item,
    ``checkClimbRequired`` to the waypoint's 30 m; ArduCopter without one: ``fly``'s take-off in
    GUIDED to its 20 m, then the diagonal up to the waypoint). PX4 then flies to the take-off's
    position, ArduCopter does not. The guard's walk (given ``fly``'s take-off altitude): the
    same, heights on the way north included."""
    import numpy as np

    from missions.trajectory import trajectory

    home = ready.inst.home
    items = [
        wp(home, 40.0, 0.0, 30.0),
        MissionItem(command=CMD_NAV_LAND, frame=3, lat_deg=0.0, lon_deg=0.0, alt_m=0.0),
    ]
    if take_off:
        placed = wp(home, 0.0, 40.0, 20.0)
        items.insert(
            0,
            MissionItem(
                command=CMD_NAV_TAKEOFF,
                frame=3,
                lat_deg=placed.lat_deg,
                lon_deg=placed.lon_deg,
                alt_m=20.0,
            ),
        )
    plan = save_mission(_mission(fw_kind, items, home), tmp_path / "takeoff.plan")
    proc = _fly_cli(plan, ready.url, timeout_s=240.0)
    seen = ready.obs.wait_landed_disarmed(120.0)
    _assert_cli_ok(proc)
    ne = [(*north_east(home, la, lo), alt) for la, lo, alt in seen.track]
    climbing = [abs(complex(n, e)) for n, e, alt in ne if 3.0 < alt < 15.0 and n < 20.0]
    east = max(e for _n, e, _a in ne)
    tr = trajectory(_mission(fw_kind, items, home), takeoff_alt_m=20.0)  # fly's --takeoff-alt
    hx, hy = tr.home_xy
    up = (tr.phase == 0) & (tr.item == 0)
    guard_climb = float(abs(tr.x[up] - hx).max() + abs(tr.y[up] - hy).max())
    guard_east = float((tr.x - hx).max())
    # heights on the way north, 15-25 m from the launch point, east of it less than 5 m
    mid = [alt for n, e, alt in ne if 15.0 < n < 25.0 and abs(e) < 5.0]
    gm = (tr.y - hy > 15.0) & (tr.y - hy < 25.0) & (abs(tr.x - hx) < 5.0) & (tr.phase == 1)
    guard_mid = float(np.median(tr.alt[gm] - tr.alt[0])) if gm.any() else float("nan")
    print(
        f"{fw_kind} take-off={take_off}: climb flown within {max(climbing):.1f} m of the launch"
        f" point (guard {guard_climb:.1f} m); furthest east {east:.1f} m (guard {guard_east:.1f});"
        f" {len(mid)} heights 15-25 m north, median {np.median(mid) if mid else float('nan'):.1f}"
        f" m (guard {guard_mid:.1f} m)"
    )
    assert climbing and max(climbing) < 4.0 and guard_climb < 0.01
    if mid and gm.any():
        assert abs(float(np.median(mid)) - guard_mid) < 3.0
    moves_east = take_off and fw_kind == "px4"
    assert (east > 30.0, guard_east > 39.0) == (moves_east, moves_east)
    assert seen.position is not None
    n, _e = north_east(home, *seen.position)
    assert abs(n - 40.0) < 6.0, f"landed {n:.1f} m north"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("roi_cmd", [195, 201], ids=["roi-location", "do-set-roi-mode-0"])
def test_roi_off_is_flown_as_roi_off(
    fw_kind: str, ready: Any, tmp_path: Path, roi_cmd: int
) -> None:
    """A region of interest 60 m east, a waypoint 60 m north, a region of interest at latitude,
    longitude and altitude 0 (ArduCopter's "ROI off", ``AutoYaw::set_roi``), a waypoint 120 m
    north, a landing. With the ROI the aircraft faces east of north on the first leg; after the
    "off" it faces along the leg, north, on both firmwares. PX4 would turn toward 0°N 0°E: the
    link sends it DO_SET_ROI_NONE (``fly`` logs that). The first ROI is a DO_SET_ROI_LOCATION
    or a DO_SET_ROI of mode 0 as Mission Planner writes it (ArduCopter points at its place; PX4
    takes mode 0 as no ROI: the link sends it as DO_SET_ROI_LOCATION)."""
    import statistics

    from dronekit_plzen.mission_items import CMD_DO_SET_ROI_LOCATION

    home = ready.inst.home
    east = wp(home, 0.0, 60.0, 0.0)
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=3, lat_deg=home[0], lon_deg=home[1], alt_m=15),
        MissionItem(command=roi_cmd, frame=3, lat_deg=east.lat_deg, lon_deg=east.lon_deg),
        wp(home, 60.0, 0.0, 15.0),
        MissionItem(command=CMD_DO_SET_ROI_LOCATION, frame=3),
        wp(home, 120.0, 0.0, 15.0),
        MissionItem(command=CMD_NAV_LAND, frame=3, lat_deg=0.0, lon_deg=0.0, alt_m=0.0),
    ]
    plan = save_mission(_mission(fw_kind, items, home), tmp_path / "roi.plan")
    proc = _fly_cli(plan, ready.url, timeout_s=300.0)
    seen = ready.obs.wait_landed_disarmed(120.0)
    _assert_cli_ok(proc)
    first, second = _wire_seq(fw_kind, 2), _wire_seq(fw_kind, 4)

    def facing(seq: int, lo: float, hi: float) -> float:
        # headings as signed degrees from north, on the leg's middle part
        hs = [(h + 180.0) % 360.0 - 180.0 for s, n, h in seen.headings if s == seq and lo < n < hi]
        assert len(hs) > 3, (seq, seen.headings[-20:])
        return statistics.median(hs)

    with_roi, after_off = facing(first, 15.0, 45.0), facing(second, 75.0, 105.0)
    print(f"{fw_kind}: faced {with_roi:.0f} deg with the ROI, {after_off:.0f} deg after the off")
    assert 45.0 < with_roi < 150.0
    assert abs(after_off) < 25.0
    if fw_kind == "px4":
        assert "sent as DO_SET_ROI_NONE: items 4" in proc.stderr
        assert ("sent as DO_SET_ROI_LOCATION: items 2" in proc.stderr) is (roi_cmd == 201)


@pytest.mark.timeout(600)
def test_nav_delay_is_refused_on_px4_for_the_descent_it_flies(
    fw_kind: str, ready: Any, tmp_path: Path
) -> None:
    """A waypoint 40 m north at 25 m, NAV_DELAY 8 s, a waypoint 80 m north, a landing. ArduCopter
    waits at the waypoint at 25 m. PX4 v1.16 moves its altitude setpoint to the delay item's
    altitude (0 m above sea level) each time the home position is updated while it waits
    (``MissionBase::updateMissionAltAfterHomeChanged``; SITL updates it about every second in
    flight) and descends; the next leg then follows a line from that altitude. The guard refuses
    NAV_DELAY on PX4; flown here with the override to show the descent."""
    from dronekit_plzen.mission_items import CMD_NAV_DELAY

    home = ready.inst.home
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=3, lat_deg=home[0], lon_deg=home[1], alt_m=25),
        wp(home, 40.0, 0.0, 25.0),
        MissionItem(command=CMD_NAV_DELAY, frame=2, param1=8.0, param2=-1, param3=-1, param4=-1),
        wp(home, 80.0, 0.0, 25.0),
        MissionItem(command=CMD_NAV_LAND, frame=3, lat_deg=0.0, lon_deg=0.0, alt_m=0.0),
    ]
    plan = save_mission(_mission(fw_kind, items, home), tmp_path / "delay.plan")
    px4 = fw_kind == "px4"
    extra: tuple[str, ...] = ()
    if px4:
        refused = _fly_cli(plan, ready.url, timeout_s=60.0)
        assert refused.returncode == 3, refused.stderr[-500:]
        assert "[unchecked_command] (item 3)" in refused.stderr or "(item 3" in refused.stderr
        assert "NAV_DELAY on PX4" in refused.stderr
        extra = ("--override-safety", "--reason", "interop: show the descent")
    proc = _fly_cli(plan, ready.url, *extra, timeout_s=200.0)
    seen = ready.obs.wait_landed_disarmed(150.0)
    delay_seq = _wire_seq(fw_kind, 2)
    during = [p[2] for p, s in zip(seen.track, seen.speeds, strict=False) if s[0] == delay_seq]
    after = [p[2] for p, s in zip(seen.track, seen.speeds, strict=False) if s[0] > delay_seq]
    low = min(during + after[: len(during)]) if during else float("nan")
    print(f"{fw_kind}: during the delay and just after it flown down to {low:.1f} m (set 25 m)")
    assert during, seen.speeds[-20:]
    if px4:
        assert low < 18.0  # descended while waiting or on the leg after it
    else:
        _assert_cli_ok(proc)
        assert low > 22.0
