"""``dronekit-plzen fly`` and ``status`` against the simulator, and their error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dronekit_plzen.cli.fly import ask_rtl, preflight_problems
from dronekit_plzen.cli.main import cli, main
from dronekit_plzen.link import VehicleState, connect
from dronekit_plzen.mission_items import (
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    MissionItem,
)


def write_plan(path: Path, home: tuple[float, float, float], alt_m: float = 25.0) -> Path:
    from missions.formats import save_mission
    from missions.model import Mission

    lat, lon, amsl = home
    items = [MissionItem(command=CMD_NAV_TAKEOFF, alt_m=alt_m)]
    items += [
        MissionItem(
            command=CMD_NAV_WAYPOINT, lat_deg=lat + 2e-4 * k, lon_deg=lon + 1e-4, alt_m=alt_m
        )
        for k in (1, 2)
    ]
    items.append(MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=2))  # MAV_FRAME_MISSION
    return save_mission(Mission(items=items, home=(lon, lat, amsl)), path)


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_fly_until_landed_exit_0(tmp_path, sim_factory, sim_url_of, autopilot) -> None:
    sim = sim_factory(1, autopilot)
    plan = write_plan(
        tmp_path / "m.plan",
        sim.vehicles[0].state.home
        if hasattr(sim.vehicles[0].state, "home")
        else (49.7475, 13.3776, 310.0),
    )
    res = CliRunner().invoke(
        cli,
        ["fly", str(plan), "--connect", sim_url_of(sim, 0), "--heartbeat-hz", "10", "--json"],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["items"] == 4 and summary["autopilot"] == autopilot
    assert summary["validation"]["ok"] is True
    assert "mission uploaded and verified" in res.stderr
    # the endurance is checked with the generic quadcopter of the vehicle's own autopilot
    quad = "ardupilot-quad" if autopilot == "ardupilot" else "px4-quad"
    assert f"endurance checked with the default profile {quad}" in res.stderr
    # landed by the mission's RTL: ArduCopter stays in AUTO, where it refuses to arm unless
    # AUTO_OPTIONS allows it ("Arm: AUTO mode not armable"); the next fly flies all the same
    assert sim.vehicles[0].model.mode == ("AUTO" if autopilot == "ardupilot" else "AUTO.MISSION")
    again = CliRunner().invoke(
        cli,
        ["fly", str(plan), "--connect", sim_url_of(sim, 0), "--heartbeat-hz", "10", "--json"],
        catch_exceptions=False,
    )
    assert again.exit_code == 0, again.output


def test_fly_refuses_an_unsafe_mission_unless_overridden_with_a_reason(
    tmp_path, sim_factory, sim_url_of, capsys
) -> None:
    sim = sim_factory(1, "px4")
    plan = write_plan(tmp_path / "high.plan", (49.7475, 13.3776, 310.0), alt_m=150.0)  # > 120 m
    url = sim_url_of(sim, 0)
    assert main(["fly", str(plan), "--connect", url, "--heartbeat-hz", "10"]) == 3
    err = capsys.readouterr().err
    assert "max_agl" in err and "120 m" in err and err.strip().splitlines()[-1].startswith("error:")
    with connect(url, heartbeat_hz=10) as link:
        v = link.wait_vehicle(timeout_s=5)
        assert v.download_mission() == []  # nothing was uploaded
        assert not v.state.armed
    assert main(["fly", str(plan), "--connect", url, "--override-safety"]) == 2
    assert "--reason" in capsys.readouterr().err


def test_status_json_once(sim_factory, sim_url_of) -> None:
    sim = sim_factory(2, "px4")
    res = CliRunner().invoke(
        cli,
        [
            "status",
            "--connect",
            sim_url_of(sim, 0),
            "--connect",
            sim_url_of(sim, 1),
            "--json",
            "--wait",
            "5",
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert sorted(r["sysid"] for r in rows) == [1, 2]
    assert all(r["autopilot"] == "px4" and r["battery_remaining_pct"] > 0 for r in rows)
    assert all(abs(r["lat_deg"] - 49.7475) < 0.01 for r in rows)


def test_status_table_once(sim_factory, sim_url_of) -> None:
    sim = sim_factory(1, "ardupilot")
    res = CliRunner().invoke(
        cli,
        ["status", "--connect", sim_url_of(sim, 0), "--once", "--wait", "5"],
        env={"COLUMNS": "200"},
        catch_exceptions=False,
    )
    assert res.exit_code == 0
    assert "ardupilot" in res.stdout and "STABILIZE" in res.stdout


def test_cli_errors_are_one_line_without_traceback(tmp_path) -> None:
    missing = tmp_path / "nope.plan"
    for args, code in (
        (["fly", str(missing), "--connect", "udpin://127.0.0.1:0"], 2),
        (["status", "--connect", "bogus://x:1", "--once"], 2),
        (["status", "--connect", "udpin://127.0.0.1:0", "--once", "--wait", "0.3"], 1),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "dronekit_plzen", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_preflight_problems_name_each_reason() -> None:
    ok = VehicleState(
        sysid=1, gps_fix_type=3, satellites=12, battery_remaining_pct=90, home=(49.7, 13.3, 300.0)
    )
    assert preflight_problems(ok, min_battery_pct=30, min_satellites=6) == []
    bad = VehicleState(
        sysid=1,
        gps_fix_type=1,
        satellites=3,
        battery_remaining_pct=12,
        armed=True,
        sensors_unhealthy=0x20,
    )
    problems = preflight_problems(bad, min_battery_pct=30, min_satellites=6)
    assert len(problems) == 6
    assert any("GPS" in p for p in problems) and any("12%" in p for p in problems)


def test_ctrl_c_asks_and_commands_rtl(pair) -> None:
    _link, v, _peer = pair
    v.arm()
    v.takeoff(10)
    assert ask_rtl(v, confirm=lambda *a, **k: True) is True
    v.wait_for(lambda s: s.mode in ("AUTO.RTL", "RTL"), 5, "RTL")
    assert ask_rtl(v, confirm=lambda *a, **k: False) is False


def test_status_table_names_the_datum_and_shows_unreported_readings_as_unknown() -> None:
    """A vehicle heard before its first position and battery: "?" in those cells, not "nan"."""
    import math

    from rich.console import Console

    from dronekit_plzen.cli.status import _table
    from dronekit_plzen.link import VehicleState

    nan = math.nan
    st = VehicleState(
        sysid=3, relative_alt_m=nan, lat_deg=nan, lon_deg=nan,
        battery_remaining_pct=nan, battery_voltage_v=nan,
    )  # fmt: skip
    console = Console(width=250, record=True)
    console.print(_table([("udpin://127.0.0.1:14540/3", st)]))
    text = console.export_text()
    assert "alt m above home" in text and "nan" not in text.lower()
    assert "? ?" in text  # battery: neither the percentage nor the voltage reported yet


def test_fly_takes_off_to_an_amsl_take_off_item_above_home(tmp_path, sim_factory, sim_url_of):
    """ArduCopter's GUIDED take-off takes metres above home: a take-off item in the AMSL frame
    (Mission Planner's "Absolute") at home + 25 m was sent as 335 m and climbed 335 m above
    home. Now it climbs to 25 m, where the guard walked it."""
    import threading
    import time

    from dronekit_plzen.mission_items import FRAME_GLOBAL

    sim = sim_factory(1, "ardupilot")
    st = sim.vehicles[0].state
    lat, lon, amsl = st.home_lat_deg, st.home_lon_deg, st.home_alt_amsl_m
    plan = write_plan(tmp_path / "m.plan", (lat, lon, amsl))
    from missions.formats import load_mission, save_mission

    m = load_mission(plan)
    m.items[0] = m.items[0].with_(frame=FRAME_GLOBAL, alt_m=amsl + 25.0)
    save_mission(m, plan)
    highest = [0.0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            highest[0] = max(highest[0], sim.vehicles[0].model.rel_alt_m)
            time.sleep(0.05)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        res = CliRunner().invoke(
            cli,
            ["fly", str(plan), "--connect", sim_url_of(sim, 0), "--heartbeat-hz", "10", "--json"],
            catch_exceptions=False,
        )
    finally:
        done.set()
        t.join()
    assert res.exit_code == 0, res.output
    assert 23.0 < highest[0] < 27.0
