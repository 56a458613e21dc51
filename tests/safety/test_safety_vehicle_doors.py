"""The doors that reach a vehicle: the link layer, the fleet API and ``fly``, against the project's
simulator over UDP (MAVLink on 127.0.0.1), with real DEM, zone and mission files."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from dkp_testkit import sigint_as_at_a_terminal, zone_file

from dronekit_plzen.errors import SafetyViolation
from dronekit_plzen.fleet import Fleet
from dronekit_plzen.link import connect
from dronekit_plzen.mission_items import (
    CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
    CMD_NAV_LAND,
    FRAME_GLOBAL_RELATIVE_ALT,
    MissionItem,
)
from dronekit_plzen.safety import Clearance, Override
from missions.clearance import clear_for_flight
from missions.formats import save_mission
from missions.model import FencePolygon, Mission
from missions.vehicles import get_vehicle

from .conftest import (
    GROUND_M,
    ORIGIN,
    last_error,
    offset,
    run_cli,
    sim_url,
    simple_items,
    square_area,
)

SIM_HOME = (ORIGIN[1], ORIGIN[0], GROUND_M)  # lat, lon, alt AMSL: on the DEMs' flat ground


def _rule_case(rule: str, tmp: Path, dems: dict[str, Path]) -> tuple[Mission, dict[str, Any]]:
    """A mission breaking ``rule`` and the guard inputs that reveal it (home: unknown 0.0)."""
    home = (ORIGIN[0], ORIGIN[1], 0.0)
    near = [offset(ORIGIN, 300, 0), offset(ORIGIN, 300, 100)]
    m = Mission(items=simple_items(ORIGIN, near, 60.0), home=home)
    kw: dict[str, Any] = {}
    if rule == "max_agl":  # relative 100 m over the 200 m deep valley
        m = Mission(items=simple_items(ORIGIN, [offset(ORIGIN, 1000, 0)], 100.0), home=home)
        kw["dem"] = dems["valley"]
    elif rule == "terrain_clearance":  # relative 60 m over the 200 m hill, landing beyond it
        far = offset(ORIGIN, 1200, 0)
        items = simple_items(ORIGIN, [far], 60.0)[:-1]
        items.append(MissionItem(command=CMD_NAV_LAND, lon_deg=far[0], lat_deg=far[1]))
        m = Mission(items=items, home=home)
        kw["dem"] = dems["hill"]
    elif rule == "zone_prohibited":
        kw["zones"] = square_area(tmp / "zone.geojson", near[0], 200)
    elif rule == "geofence":
        ring = tuple(
            offset(ORIGIN, sx * 100, sy * 100) for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        )
        m.fence_polygons = [FencePolygon(ring)]
    elif rule == "endurance":
        legs = [offset(ORIGIN, 1500 * (k % 2), 40 * k) for k in range(30)]
        m = Mission(items=simple_items(ORIGIN, legs, 60.0), home=home)
        kw["vehicle"] = get_vehicle("px4-quad")
    elif rule == "max_distance":
        kw["max_distance_m"] = 100.0
    elif rule == "plausibility":  # a waypoint typed as lon, lat
        m.items.insert(
            2,
            MissionItem(
                command=16,
                frame=FRAME_GLOBAL_RELATIVE_ALT,
                lat_deg=ORIGIN[0],
                lon_deg=ORIGIN[1],
                alt_m=60,
            ),
        )
    return m, kw


RULES = [
    "max_agl",
    "terrain_clearance",
    "zone_prohibited",
    "geofence",
    "endurance",
    "max_distance",
    "plausibility",
]


@pytest.fixture
def sim(sim_factory: Any) -> Any:
    return sim_factory(1, "px4", home=SIM_HOME)


def _vehicle(link: Any) -> Any:
    v = link.wait_vehicle(timeout_s=15)
    v.wait_for(lambda s: s.home is not None and s.position_known, 30, "home")
    return v


# ------------------------------------------------------------------ the link layer


def test_link_refuses_an_unvalidated_upload(sim: Any, caplog: pytest.LogCaptureFixture) -> None:
    items = simple_items(ORIGIN, [offset(ORIGIN, 200, 0)], 40.0)
    with connect(sim_url(sim), heartbeat_hz=10) as link:
        v = _vehicle(link)
        with pytest.raises(SafetyViolation, match="not validated") as err:
            v.upload_mission(items)
        assert err.value.exit_code == 3
        assert v.download_mission() == []  # nothing was sent
        stale = Clearance.passed(items[:-1])  # a clearance for other items
        with pytest.raises(SafetyViolation, match="differs"):
            v.upload_mission(items, clearance=stale)
        assert v.download_mission() == []
        fence = [
            MissionItem(
                command=CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
                frame=5,
                param1=4,
                lon_deg=lo,
                lat_deg=la,
                mission_type=1,
            )
            for lo, la in (
                offset(ORIGIN, sx * 500, sy * 500)
                for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
            )
        ]
        assert v.upload_mission(fence, mission_type=1) is None  # a fence is not a flight path
        ov = Override.make("bench test of the uploader", ["untested"], who="tester")
        with caplog.at_level(logging.WARNING, logger="dronekit_plzen.link.vehicle"):
            granted = v.upload_mission(items, override=ov)
        assert granted is not None and granted.override == ov and not granted.ok
        assert "SAFETY OVERRIDE" in caplog.text and "bench test of the uploader" in caplog.text
        assert len(v.download_mission()) == len(items)
        fc = clear_for_flight(Mission(items=items, home=(*ORIGIN, GROUND_M)))
        assert v.upload_mission(items, clearance=fc.sorties[0].clearance) == fc.sorties[0].clearance


# ------------------------------------------------------------------ the fleet API (and the GUI)


@pytest.mark.parametrize("rule", RULES)
def test_fleet_door_refuses_rule(
    rule: str, sim: Any, tmp_path: Path, dems: dict[str, Path]
) -> None:
    m, kw = _rule_case(rule, tmp_path, dems)
    with Fleet.connect([sim_url(sim)], heartbeat_hz=10) as fleet:
        v = _vehicle(fleet.links[0])
        st = v.state
        at_vehicle = {"vehicle_home": st.home, "vehicle_position": (st.lat_deg, st.lon_deg)}
        with pytest.raises(SafetyViolation) as err:
            clear_for_flight(m, **kw, **at_vehicle)
        assert err.value.violations and rule in {x.rule for x in err.value.violations}
        shown = clear_for_flight(m, **kw, **at_vehicle, raise_on_unsafe=False)
        sortie = shown.sorties[0]
        assert sortie.clearance is None and not sortie.ok
        res = fleet.upload({v: sortie})[next(iter(fleet.vehicles))]
        assert not res.ok and "not validated" in (res.error or "")
        assert v.download_mission() == []  # refused before anything was sent


def test_fleet_door_uploads_cleared_sorties_and_records_overrides(sim: Any, tmp_path: Path) -> None:
    m, kw = _rule_case("max_distance", tmp_path, {})
    with Fleet.connect([sim_url(sim)], heartbeat_hz=10) as fleet:
        v = _vehicle(fleet.links[0])
        st = v.state
        fc = clear_for_flight(m, vehicle_home=st.home, vehicle_position=(st.lat_deg, st.lon_deg))
        assert fc.ok and fc.home_source == "vehicle"
        res = fleet.upload({v: fc.sorties[0]})
        assert all(r.ok for r in res.values()) and len(v.download_mission()) == len(m.items)
        fc = clear_for_flight(m, **kw, override=True, reason="spotter on the hill")
        s = fc.sorties[0]
        assert s.clearance is not None and s.clearance.override is not None
        assert s.mission.metadata["safety_override"]["reason"] == "spotter on the hill"
        (r,) = fleet.upload({v: s}).values()
        assert r.ok and r.value.override.reason == "spotter on the hill"


def test_launch_point_far_from_the_vehicle_is_refused(sim: Any) -> None:
    far_home = offset(ORIGIN, 5000, 0)
    m = Mission(
        items=simple_items(far_home, [offset(far_home, 200, 0)], 50.0), home=(*far_home, 0.0)
    )
    with connect(sim_url(sim), heartbeat_hz=10) as link:
        st = _vehicle(link).state
        with pytest.raises(SafetyViolation, match="swapped") as err:
            clear_for_flight(m, vehicle_home=st.home, vehicle_position=(st.lat_deg, st.lon_deg))
        assert err.value.violations[0].rule == "plausibility"


# ------------------------------------------------------------------ fly


def _fly_args(sim: Any, plan: Path, *extra: str) -> list[str]:
    return ["fly", str(plan), "--connect", sim_url(sim), "--heartbeat-hz", "10", *extra]


@pytest.mark.parametrize("rule", RULES)
def test_fly_door_refuses_rule(rule: str, sim: Any, tmp_path: Path, dems: dict[str, Path]) -> None:
    m, kw = _rule_case(rule, tmp_path, dems)
    plan = save_mission(m, tmp_path / f"{rule}.plan")
    opts: list[str] = []
    if "dem" in kw:
        opts += ["--dem", str(kw["dem"])]
    if "zones" in kw:
        opts += ["--zones", str(kw["zones"])]
    if "vehicle" in kw:
        opts += ["--profile", "px4-quad"]
    if "max_distance_m" in kw:
        opts += ["--max-distance-m", "100"]
    code, _o, err = run_cli(*_fly_args(sim, plan, *opts))
    assert code == 3, err
    assert rule in last_error(err) and last_error(err).startswith("error:")
    with connect(sim_url(sim), heartbeat_hz=10) as link:
        assert _vehicle(link).download_mission() == []  # nothing was uploaded
    assert not sim.vehicles[0].state.armed


def test_fly_400_m_plan_refused_60_m_plan_flown(
    sim: Any, tmp_path: Path, dems: dict[str, Path]
) -> None:
    """The reported bug through ``fly --dem``: the vehicle's HOME_POSITION is the datum."""
    wp = [offset(ORIGIN, 150, 0)]
    high = save_mission(
        Mission(items=simple_items(ORIGIN, wp, 400.0), home=(*ORIGIN, 0.0)), tmp_path / "h.plan"
    )
    code, _o, err = run_cli(*_fly_args(sim, high, "--dem", str(dems["flat"])))
    assert code == 3 and "max_agl" in last_error(err), err
    low = save_mission(
        Mission(items=simple_items(ORIGIN, wp, 30.0), home=(*ORIGIN, 0.0)), tmp_path / "l.plan"
    )
    # through a conditional zone: it flies, and the guard's warning is printed first
    lon0, lat0 = ORIGIN
    ring = [[lon0 - 0.01, lat0 - 0.01], [lon0 + 0.01, lat0 - 0.01], [lon0 + 0.01, lat0 + 0.01],
            [lon0 - 0.01, lat0 + 0.01], [lon0 - 0.01, lat0 - 0.01]]  # fmt: skip
    zones = zone_file(tmp_path / "cond.geojson", "CONDITIONAL", ring)
    code, out, err = run_cli(
        *_fly_args(sim, low, "--dem", str(dems["flat"]), "--zones", str(zones), "--json")
    )
    assert code == 0, err
    warned = r"^warning \[zone_conditional\] .*enters conditional zone CZ-TEST-ZONE"
    assert re.search(warned, err, re.M), err
    summary = json.loads(out)
    assert summary["validation"]["ok"] is True and summary["home_amsl_source"] == "vehicle"
    assert summary["flown"][0]["clearance"]["ok"] is True


def test_fly_records_an_override(sim: Any, tmp_path: Path) -> None:
    plan = save_mission(
        Mission(items=simple_items(ORIGIN, [offset(ORIGIN, 250, 0)], 30.0), home=(*ORIGIN, 0.0)),
        tmp_path / "o.plan",
    )
    db = tmp_path / "flights.db"
    code, out, err = run_cli(
        "--db",
        str(db),
        *_fly_args(
            sim, plan, "--max-distance-m", "100", "--override-safety", "--reason", "trial", "--json"
        ),
    )
    assert code == 0, err
    assert "SAFETY OVERRIDE" in err and "trial" in err
    summary = json.loads(out)
    assert summary["safety_override"]["reason"] == "trial"
    assert summary["flown"][0]["clearance"]["override"]["reason"] == "trial"
    # ... and in the flight database, with the plan that was cleared under it
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name, plan_text FROM missions").fetchall()
    assert len(rows) == 1 and rows[0][0] == "fly: vehicle 1 sortie 1"
    meta = json.loads(rows[0][1])["dronekitPlzen"]["metadata"]
    assert meta["safety_override"]["reason"] == "trial"
    assert meta["clearance"]["override"]["reason"] == "trial"


def test_fly_flies_sorties_one_at_a_time_and_resumes(sim: Any, tmp_path: Path) -> None:
    a = Mission(items=simple_items(ORIGIN, [offset(ORIGIN, 120, 0)], 25.0), home=(*ORIGIN, 0.0))
    b = Mission(
        items=simple_items(ORIGIN, [offset(ORIGIN, 0, 120), offset(ORIGIN, 60, 120)], 25.0),
        home=(*ORIGIN, 0.0),
    )
    p1 = save_mission(a, tmp_path / "grid_sortie1.plan")
    save_mission(b, tmp_path / "grid_sortie2.plan")
    code, out, err = run_cli(*_fly_args(sim, p1, "--json"))  # no terminal: does not go on
    assert code == 0, err
    s = json.loads(out)
    assert s["sorties"] == 2 and [f["sortie"] for f in s["flown"]] == [1]
    assert "sortie 2 of 2 is next" in err
    assert json.loads((tmp_path / "grid.fly-progress.json").read_text())["done"] == [1]
    with connect(sim_url(sim), heartbeat_hz=10) as link:
        assert len(_vehicle(link).download_mission()) == len(a.items)  # sortie 1 alone
    code, out, err = run_cli(*_fly_args(sim, p1, "--json"))  # resumes with sortie 2
    assert code == 0, err
    assert [f["sortie"] for f in json.loads(out)["flown"]] == [2]
    with connect(sim_url(sim), heartbeat_hz=10) as link:
        assert len(_vehicle(link).download_mission()) == len(b.items)
    code, _o, err = run_cli(*_fly_args(sim, p1, "--sortie", "3"))
    assert code == 2 and "--sortie" in last_error(err)


def _long_plan(tmp: Path) -> Path:
    legs = [offset(ORIGIN, 400 * (k % 2), 60 * k) for k in range(1, 8)]
    return save_mission(
        Mission(items=simple_items(ORIGIN, legs, 30.0), home=(*ORIGIN, 0.0)), tmp / "long.plan"
    )


def _start_fly(sim: Any, plan: Path, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "dronekit_plzen", *_fly_args(sim, plan, *extra)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=sigint_as_at_a_terminal,
    )


def _climbed(sim: Any) -> bool:
    return sim.wait_until(
        lambda: (
            sim.vehicles[0].state.mode == "AUTO.MISSION"
            and sim.vehicles[0].state.relative_alt_m > 10
        ),
        60.0,
    )


def test_sigint_without_a_terminal_returns_to_launch(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory(1, "px4", home=SIM_HOME, speedup=20.0)
    proc = _start_fly(sim, _long_plan(tmp_path))
    try:
        assert _climbed(sim), "the vehicle never climbed into its mission"
        assert sim.wait_until(lambda: sim.vehicles[0].state.mission_current_seq >= 3, 60.0)
        time.sleep(1.0)  # MISSION_CURRENT reaches fly
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "returning to launch" in err and "Traceback" not in err
    assert sim.wait_until(lambda: sim.vehicles[0].state.mode == "AUTO.RTL", 10.0)
    assert (tmp_path / "long.fly-progress.json").exists(), err
    done, (k, item) = _progress(tmp_path / "long.fly-progress.json")
    assert done == [] and k == 1 and item >= 2  # where the interrupted sortie stopped
    # the next fly resumes there (the resumed path is cleared again: refused here on purpose)
    assert sim.wait_until(lambda: not sim.vehicles[0].state.armed, 120.0)
    with connect(sim_url(sim), heartbeat_hz=10) as link:  # PX4 does not arm in AUTO.RTL
        _vehicle(link).set_mode("AUTO.LOITER")
    code, _o, err = run_cli(*_fly_args(sim, tmp_path / "long.plan", "--max-distance-m", "1"))
    assert f"resuming sortie 1 where it stopped, on its way to item {item + 1}" in err
    assert code == 3 and "max_distance" in last_error(err), err


def _progress(path: Path) -> tuple[list[int], tuple[int, int]]:
    doc = json.loads(path.read_text())
    return doc["done"], tuple(doc["partial"])  # type: ignore[return-value]


def test_resume_mission_keeps_takeoff_speed_and_the_rest() -> None:
    from dronekit_plzen.cli.fly_sorties import resume_mission
    from dronekit_plzen.mission_items import CMD_DO_CHANGE_SPEED, CMD_DO_JUMP

    m = Mission(items=simple_items(ORIGIN, [offset(ORIGIN, 100 * k, 0) for k in range(1, 6)], 30))
    m.items.insert(1, MissionItem(command=CMD_DO_CHANGE_SPEED, frame=2, param2=6.0))
    r = resume_mission(m, 4)
    # the leg it stopped on (to item 4) is flown again from its start, item 3
    assert [it.command for it in r.items] == [22, 178, 16, 16, 16, 16, 20]
    assert r.items[2] == m.items[3] and r.metadata["resumed_at_item"] == 3
    assert r.metadata["resumed_prefix"] == 2
    assert resume_mission(m, 1) is None  # not yet past the first waypoint
    m.items.insert(3, MissionItem(command=CMD_DO_JUMP, frame=2, param1=2, param2=1))
    assert resume_mission(m, 5) is None  # jump targets would move: flown again from the start


def test_a_resumed_survey_flies_its_cut_leg_again_with_its_camera_settings() -> None:
    """A survey stopped half-way along a leg (on its way to item 11): the leg is flown again from
    its start (item 9, as QGroundControl resumes), after the settings made before it, the last
    of each kind: ground speed, climb rate (another speed type), gimbal angle, interval photos,
    the distance trigger. Single photos and a servo (a payload release) are not replayed, nor
    interval photos that were stopped; a trigger turned off is replayed off."""
    from dronekit_plzen import mission_items as mi
    from dronekit_plzen.cli.fly_sorties import resume_mission

    wps = simple_items(ORIGIN, [offset(ORIGIN, 100 * k, 0) for k in range(1, 5)], 30)
    w = wps[1:5]

    def do(cmd: int, **kw: float) -> MissionItem:
        return MissionItem(command=cmd, frame=2, **kw)

    items = [
        wps[0],  # 0 take-off
        do(mi.CMD_DO_CHANGE_SPEED, param1=1, param2=8.0),  # 1 ground speed
        do(mi.CMD_DO_MOUNT_CONTROL, param1=-90.0),  # 2 gimbal down
        do(mi.CMD_IMAGE_START_CAPTURE, param3=1),  # 3 one photo
        do(mi.CMD_IMAGE_START_CAPTURE, param2=2.0),  # 4 a photo every 2 s
        w[0],  # 5 first run starts
        do(mi.CMD_DO_SET_CAM_TRIGG_DIST, param1=20.0),  # 6
        do(mi.CMD_DO_CHANGE_SPEED, param1=2, param2=2.0),  # 7 climb rate
        do(mi.CMD_DO_SET_SERVO, param1=9, param2=1900),  # 8 a release
        w[1],  # 9 second run starts
        do(mi.CMD_DO_SET_CAM_TRIGG_DIST, param1=25.0),  # 10
        w[2],  # 11
        do(mi.CMD_DO_SET_CAM_TRIGG_DIST, param1=0.0),  # 12
        w[3],  # 13
        wps[-1],  # 14 RTL
    ]
    m = Mission(items=items)
    r = resume_mission(m, 11)
    assert r.metadata["resumed_at_item"] == 9 and r.metadata["resumed_prefix"] == 6
    assert r.items[:6] == [items[k] for k in (0, 1, 2, 4, 6, 7)]
    assert r.items[6:] == items[9:]
    # stopped on its way to the RTL: the trigger's last setting is off
    r2 = resume_mission(m, 14)
    assert r2.metadata["resumed_at_item"] == 13
    pre = r2.items[: r2.metadata["resumed_prefix"]]
    assert [it.param1 for it in pre if it.command == mi.CMD_DO_SET_CAM_TRIGG_DIST] == [0.0]
    # interval photos stopped before the leg's start: neither start nor stop replayed
    m3 = Mission(items=[*items[:9], do(mi.CMD_IMAGE_STOP_CAPTURE), *items[9:]])
    r3 = resume_mission(m3, 12)
    assert r3.items[:5] == [items[k] for k in (0, 1, 2, 6, 7)]


def test_vehicle_silent_longer_than_link_loss_ends_fly(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory(1, "px4", home=SIM_HOME, speedup=5.0)
    proc = _start_fly(sim, _long_plan(tmp_path), "--link-loss-s", "3")
    try:
        assert _climbed(sim), "the vehicle never climbed into its mission"
        sim.stop()  # the vehicle vanishes mid-air
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    line = last_error(err)
    assert (
        "vehicle 1 silent" in line and "last position 49.7" in line and "mode AUTO.MISSION" in line
    )
    progress = [ln for ln in err.splitlines() if ln.startswith("item ")]
    # no terminal: a progress line on change or every 5 s, not ~10 per second
    assert len(progress) < 40, len(progress)


@pytest.mark.parametrize(
    ("autopilot", "param", "value"),
    [("px4", "RTL_RETURN_ALT", 130.0), ("ardupilot", "RTL_ALT", 13000)],
)
def test_fly_checks_the_rtl_climb_to_the_vehicles_return_altitude(
    autopilot: str, param: str, value: float, sim_factory: Any, tmp_path: Path
) -> None:
    """A 30 m plan ending in RTL on a vehicle whose RTL climbs to 130 m first: the climb breaks
    the 120 m rule, so ``fly`` refuses it (before, the guard flew the RTL home at 30 m). The
    vehicle's own parameter is read over the link."""
    fleet = sim_factory(1, autopilot, home=SIM_HOME)
    with connect(sim_url(fleet), heartbeat_hz=10) as link:
        v = _vehicle(link)
        v.set_param(param, value)
    home = (ORIGIN[0], ORIGIN[1], 0.0)
    plan = save_mission(
        Mission(items=simple_items(ORIGIN, [offset(ORIGIN, 250, 0)], 30.0), home=home),
        tmp_path / "rtl.plan",
    )
    code, _o, err = run_cli(*_fly_args(fleet, plan))
    assert code == 3, err
    assert "max_agl" in last_error(err) and "130 m above" in last_error(err), last_error(err)
    with connect(sim_url(fleet), heartbeat_hz=10) as link:
        v = _vehicle(link)
        assert v.download_mission() == []  # nothing was uploaded
        v.set_param(param, value / 130 * 40)  # 40 m: the climb is fine
    code, out, err = run_cli(*_fly_args(fleet, plan, "--json"))
    assert code == 0, err
    notes = json.loads(out)["flown"][0]["clearance"]["notes"]
    assert any("up to 40 m above home" in n for n in notes), notes


def test_fly_reads_rtl_type_and_counts_the_backward_return(sim: Any, tmp_path: Path) -> None:
    """PX4 RTL_TYPE 2 returns along the mission backwards: a survey that fits the battery with
    a straight return does not with this one. ``fly`` reads RTL_TYPE from the vehicle and
    refuses (exit 3, nothing uploaded); with RTL_TYPE 0 the same plan is cleared."""
    from dronekit_plzen.fleet import vehicle_rtl_params

    legs = [offset(ORIGIN, 300 * (k % 2), 40 * (k // 2) + 20 * (k % 2)) for k in range(1, 10)]
    m = Mission(items=simple_items(ORIGIN, legs, 40.0), home=(*ORIGIN, 0.0))
    plan = save_mission(m, tmp_path / "survey.plan")
    prof = get_vehicle("px4-quad")
    sim.vehicles[0].set_param("RTL_TYPE", 2)
    code, _o, err = run_cli(*_fly_args(sim, plan, "--profile", "px4-quad"))
    assert code == 3, err
    assert "endurance" in last_error(err), err
    assert "RTL_TYPE 2" in err and "backwards" in err, err
    sim.vehicles[0].set_param("RTL_TYPE", 0)
    with connect(sim_url(sim), heartbeat_hz=10) as link:
        v = _vehicle(link)
        assert v.download_mission() == []  # nothing was uploaded
        rtl = vehicle_rtl_params(v)
        assert rtl is not None and rtl.rtl_type == 0
        fc = clear_for_flight(m, vehicle=prof, vehicle_home=v.state.home, rtl=rtl)
        assert fc.sorties and fc.sorties[0].clearance is not None


def test_fly_serves_the_vehicles_terrain_requests_from_the_dem(
    sim_factory: Any, tmp_path: Path
) -> None:
    """ArduCopter with RTL_ALT_TYPE 1 arms only with its terrain database loaded: ``fly --dem``
    answers its TERRAIN_REQUEST from the DEM (dronekit_plzen.link.terrain) and flies; without
    a DEM the vehicle stays "PreArm: waiting for terrain data" and ``fly`` says so (exit 1)."""
    from .conftest import flat, write_dem

    fleet = sim_factory(1, "ardupilot", home=SIM_HOME)
    fleet.vehicles[0].set_param("RTL_ALT_TYPE", 1)
    # the firmware asks for a block of 2.4 × 2.8 km aligned on whole degrees: up to 5 km away
    dem = write_dem(tmp_path / "wide.tif", flat, half_m=9000.0, res_m=50.0)
    plan = save_mission(
        Mission(items=simple_items(ORIGIN, [offset(ORIGIN, 150, 0)], 30.0), home=(*ORIGIN, 0.0)),
        tmp_path / "t.plan",
    )
    code, _o, err = run_cli(*_fly_args(fleet, plan, "--wait-ready", "3"))
    assert code == 1, err
    assert "PreArm: waiting for terrain data" in last_error(err), err
    assert "give --dem" in err, err  # what the pilot can do about it
    code, out, err = run_cli(*_fly_args(fleet, plan, "--dem", str(dem), "--json"))
    assert code == 0, err
    notes = json.loads(out)["flown"][0]["clearance"]["notes"]
    assert any("RTL_ALT_TYPE 1" in n and "above the terrain" in n for n in notes), notes
    assert fleet.vehicles[0].model.terrain_ready
    # a DEM that does not reach the firmware's block is named
    small = write_dem(tmp_path / "small.tif", flat, half_m=600.0, res_m=10.0)
    fleet2 = sim_factory(1, "ardupilot", home=SIM_HOME)
    fleet2.vehicles[0].set_param("RTL_ALT_TYPE", 1)
    code, _o, err = run_cli(*_fly_args(fleet2, plan, "--dem", str(small), "--wait-ready", "4"))
    assert code == 1 and "does not cover" in err, err


def test_fly_checks_the_rally_points_the_vehicle_returns_to(
    sim_factory: Any, tmp_path: Path
) -> None:
    """A plan without rally points leaves the vehicle's own on board: ``fly`` reads them and
    the guard checks the RTL to them (a rally point behind a 200 m hill: into it, exit 3). A
    plan with rally points uploads them, and they are what the vehicle then holds."""
    from dronekit_plzen.mission_items import CMD_NAV_RALLY_POINT
    from missions.model import RallyPoint

    from .conftest import hill, write_dem

    fleet = sim_factory(1, "ardupilot", home=SIM_HOME)
    dem = write_dem(tmp_path / "hill.tif", hill, half_m=3000.0, res_m=20.0)
    # the vehicle's rally point 1.2 km east, beyond the hill (600 m east); RALLY_INCL_HOME 0
    # and RALLY_LIMIT_KM 5: the RTL goes there, not home (AP_Rally)
    r_lon, r_lat = offset(ORIGIN, 1200, 0)
    fleet.vehicles[0].set_param("RALLY_LIMIT_KM", 5.0)
    fleet.vehicles[0].set_param("RALLY_INCL_HOME", 0)
    with connect(sim_url(fleet), heartbeat_hz=10) as link:
        v = _vehicle(link)
        v.upload_mission(
            [MissionItem(CMD_NAV_RALLY_POINT, frame=3, lat_deg=r_lat, lon_deg=r_lon, alt_m=40.0)],
            2,
            verify=True,
        )
    # a flight 200 m west of home at 40 m, ending in RTL
    m = Mission(items=simple_items(ORIGIN, [offset(ORIGIN, -200, 0)], 40.0), home=(*ORIGIN, 0.0))
    plan = save_mission(m, tmp_path / "west.plan")
    code, _o, err = run_cli(*_fly_args(fleet, plan, "--dem", str(dem)))
    assert "the vehicle holds 1 rally point" in err, err
    assert code == 3 and "terrain_clearance" in last_error(err), err
    # the plan's own rally point (west of home) replaces it
    m.rally_points = [RallyPoint(*offset(ORIGIN, -300, 0), 40.0)]
    plan = save_mission(m, tmp_path / "west-rally.plan")
    code, _o, err = run_cli(*_fly_args(fleet, plan, "--dem", str(dem)))
    assert code == 0, err
    assert "1 rally point uploaded" in err, err
    with connect(sim_url(fleet), heartbeat_hz=10) as link:
        held = _vehicle(link).download_mission(2)
    assert len(held) == 1 and held[0].lon_deg == pytest.approx(m.rally_points[0].lon_deg)
    # the plan without rally points again: the one now on board (west, clear) is read and
    # checked, and left as it is (not sent back as if it were the plan's)
    code, _o, err = run_cli(*_fly_args(fleet, tmp_path / "west.plan", "--dem", str(dem)))
    assert code == 0, err
    assert "the vehicle holds 1 rally point" in err and "rally point uploaded" not in err, err
