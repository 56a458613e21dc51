"""CLI (real process, signals, exit codes), fault schedules, lockstep determinism."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from pymavlink import mavutil

from dronekit_plzen.errors import BadInputError
from simulators import GpsLoss, SimFleet, WindGust, load_schedule, parse_schedule
from simulators.cli import parse_home


def test_cli_runs_and_stops_cleanly_on_sigterm(port_offset):
    cmd = [
        sys.executable,
        "-m",
        "dronekit_plzen",
        "sim",
        "--vehicles",
        "2",
        "--speedup",
        "5",
        "--port-offset",
        str(port_offset),
        "--home",
        "49.7475,13.3776,320",
        "--seed",
        "4",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        gcs = mavutil.mavlink_connection(f"udpin:127.0.0.1:{14541 + port_offset}")
        hb = gcs.wait_heartbeat(timeout=20)
        assert hb is not None and hb.get_srcSystem() == 2
        pos = gcs.recv_match(type="GLOBAL_POSITION_INT", blocking=True, timeout=5)
        assert pos is not None and abs(pos.alt / 1000 - 320.0) < 0.01
        gcs.close()
    finally:
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert f"api_remote={14541 + port_offset}" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--home", "91,13"], "--home"),
        (["--home", "49.7,13.3,high"], "altitude"),
        (["--faults", "/nonexistent/f.yaml"], "cannot read"),
    ],
)
def test_cli_bad_input_exit_2_no_traceback(args, needle):
    proc = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", "sim", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_parse_home_formats():
    lat, lon, alt = parse_home("49.7475, 13.3776, 305.5")
    assert (lat, lon, alt) == pytest.approx((49.7475, 13.3776, 305.5))
    assert parse_home("49.7475,13.3776")[2] == 310.0


def test_schedule_yaml_and_json_validated(tmp_path):
    y = tmp_path / "f.yaml"
    y.write_text(
        "faults:\n  - {at_s: 5, vehicle: 1, type: gps_loss, duration_s: 20}\n"
        "  - {at_s: 2, type: wind_gust, speed_m_s: 9, from_deg: 90, duration_s: 3}\n"
    )
    sched = load_schedule(y, n_vehicles=2)
    assert [s.at_s for s in sched] == [2.0, 5.0]
    assert sched[0].vehicle is None and isinstance(sched[0].fault, WindGust)
    assert sched[1].fault == GpsLoss(20.0)
    j = tmp_path / "f.json"
    j.write_text(json.dumps({"faults": [{"at_s": 1, "type": "link", "loss": 1.5}]}))
    with pytest.raises(
        BadInputError, match=r"f.json: fault schedule entry 1: field 'loss' is a probability"
    ):
        load_schedule(j)
    with pytest.raises(BadInputError, match="unknown fault type 'meteor'"):
        parse_schedule([{"type": "meteor"}])
    with pytest.raises(BadInputError, match=r"vehicle must be an index 0\.\.1"):
        parse_schedule([{"type": "reboot", "vehicle": 5}], n_vehicles=2)
    with pytest.raises(BadInputError, match="not valid for reboot"):
        parse_schedule([{"type": "reboot", "duration_s": 5}])
    bad = tmp_path / "bad.yaml"
    bad.write_text("faults: [unclosed")
    with pytest.raises(BadInputError, match="not valid YAML"):
        load_schedule(bad)


def test_scheduled_faults_fire_at_their_time():
    sched = parse_schedule(
        [
            {"at_s": 6.0, "vehicle": 1, "type": "gps_loss", "duration_s": 4},
            {"at_s": 3.0, "type": "battery_drop", "drop_pct": 25},
        ]
    )
    fleet = SimFleet(boot_settle_s=3.0, n_vehicles=2, lockstep=True, faults=sched)
    fleet.run_for(5.0)
    states = [v.state for v in fleet.vehicles]
    assert all(s.gps_fix_type == 3 for s in states)
    assert all(74.0 < s.battery_remaining_pct < 75.1 for s in states)
    fleet.run_for(2.0)
    assert fleet.vehicles[1].state.gps_fix_type < 3 and fleet.vehicles[0].state.gps_fix_type == 3
    fleet.run_for(4.0)
    assert fleet.vehicles[1].state.gps_fix_type == 3


def _flight(seed: int) -> tuple[float, ...]:
    fleet = SimFleet(boot_settle_s=3.0, n_vehicles=2, autopilot="px4", lockstep=True, seed=seed)
    fleet.run_for(4.0)
    vm = fleet.vehicles[0].model
    vm.arm()
    vm.takeoff(float("nan"))
    fleet.run_for(20.0)
    from pymavlink.dialects.v20 import ardupilotmega as mav

    from simulators.telemetry import gps_raw_int

    g = gps_raw_int(mav.MAVLink(None), vm)
    s = fleet.vehicles[0].state
    return (s.lat_deg, s.lon_deg, s.relative_alt_m, s.battery_consumed_mah, g.lat, g.lon)


def test_lockstep_is_deterministic_for_a_seed():
    a, b, c = _flight(1), _flight(1), _flight(2)
    assert a == b
    assert a[:4] == c[:4] and a[4:] != c[4:]  # same physics, different GPS noise
    assert a[2] == pytest.approx(2.5, abs=0.3)  # MIS_TAKEOFF_ALT


def test_lockstep_thread_runs_faster_than_real_time(port_offset):
    with SimFleet(boot_settle_s=3.0, n_vehicles=1, lockstep=True, port_offset=port_offset) as fleet:
        assert fleet.wait_until(lambda: fleet.sim_time_s > 30.0, 20)


def test_homes_spacing_and_errors():
    fleet = SimFleet(boot_settle_s=3.0, n_vehicles=3, home=(49.7475, 13.3776, 310.0))
    lons = [v.state.lon_deg for v in fleet.vehicles]
    assert lons[0] < lons[1] < lons[2] and (lons[1] - lons[0]) * 72_000 == pytest.approx(
        5.0, rel=0.02
    )
    with pytest.raises(BadInputError):
        SimFleet(n_vehicles=2, homes=[(49.7, 13.3, 300.0)])
    with pytest.raises(BadInputError):
        SimFleet(autopilot="inav")


def test_set_battery_and_capacity_param():
    fleet = SimFleet(boot_settle_s=3.0, n_vehicles=1, lockstep=True)
    v = fleet.vehicles[0]
    v.set_battery(16000.0, remaining_pct=50.0)
    fleet.run_for(0.1)
    assert v.state.battery_remaining_pct == pytest.approx(50.0, abs=0.1)
    v.set_param("BAT1_CAPACITY", 8000.0)  # tells the estimator only; the pack stays 16 Ah
    fleet.run_for(0.1)
    assert v.state.battery_remaining_pct == pytest.approx(50.0, abs=0.1)
    v.set_battery(16000.0, hover_current_a=30.0)
    fleet.run_for(4.0)  # GPS fix
    assert v.model.arm() == 0
    v.model.takeoff(float("nan"))
    fleet.run_for(60.0)
    assert 480 < v.state.battery_consumed_mah < 530  # 30 A for ~1 minute in the air
    with pytest.raises(BadInputError):
        v.set_battery(-5.0)
    with pytest.raises(BadInputError, match="outside"):
        v.set_param("BAT1_N_CELLS", 40)


def test_a_crashed_scheduler_is_recorded_for_its_owner(port_offset, caplog):
    """Found from outside: the scheduler died on an absurd home altitude while ``sim`` kept
    running with a traceback on stderr; now the fleet keeps what stopped it (the CLI ends with
    one line, exit 1) and logs one line without a traceback."""

    def boom(_fleet: SimFleet) -> None:
        raise RuntimeError("a step hook failed")

    with SimFleet(home=(49.7475, 13.3776, 320.0), speedup=5, port_offset=port_offset) as fleet:
        fleet.step_hooks.append(boom)
        deadline = time.monotonic() + 10
        while fleet.crashed is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert isinstance(fleet.crashed, RuntimeError)
    assert "scheduler crashed: a step hook failed" in caplog.text
    assert "Traceback" not in caplog.text
