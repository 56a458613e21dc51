"""End to end: simulator → link layer → recorder → flights under a deployment → report."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from dkp_testkit import free_simulator_offset

from dronekit_plzen import geo
from dronekit_plzen.link import connect
from telemetry.deployments import create_deployment, get_deployment, update_deployment
from telemetry.indicator import indicator_report
from telemetry.recorder import Recorder
from telemetry.report_files import write_html_report
from telemetry.store import open_store

HOME = (49.7230, 13.3500, 330.0)  # Plzeň-Bory


def _fleet(n: int, autopilot: str = "px4") -> Any:
    from simulators import SimFleet

    last: Exception | None = None
    for _ in range(5):
        off = free_simulator_offset()
        fleet = SimFleet(
            n_vehicles=n, autopilot=autopilot, home=HOME, speedup=20.0, port_offset=off
        )
        try:
            fleet.start()
        except Exception as exc:  # port taken by a parallel test run: another offset
            last = exc
            continue
        return fleet
    raise RuntimeError(f"no free port offset: {last}")


def _fly(url: str, rec: Recorder, out_m: float, errors: list[BaseException]) -> None:
    try:
        with connect(url) as link:
            handle = rec.attach(link)
            v = link.wait_vehicle(timeout_s=15)
            v.wait_ready_to_arm(timeout_s=30)  # ArduCopter sets home before it can arm
            st = v.wait_for(
                lambda s: s.home is not None and s.position_known and s.gps_fix_type >= 3,
                30,
                "GPS fix and home",
            )
            v.arm()
            v.takeoff(15.0)
            v.wait_for(lambda s: s.relative_alt_m > 13.5, 60, "climb")
            lon, lat = geo.destination(st.home[1], st.home[0], 45.0, out_m)
            v.goto(float(lat), float(lon), 15.0)
            v.wait_for(
                lambda s: geo.geodesic_distance_m(s.lon_deg, s.lat_deg, lon, lat) < 3, 90, "goto"
            )
            v.land()  # (RTL would climb to PX4's RTL_RETURN_ALT, 60 m, first)
            v.wait_for(lambda s: not s.armed, 180, "landed and disarmed")
            handle.remove()
    except BaseException as exc:  # reported to the test thread
        errors.append(exc)


def _url(fleet: Any, i: int) -> str:
    if fleet.autopilot == "px4":
        return f"udpin://127.0.0.1:{fleet.ports(i)['api_remote']}"
    return f"tcp://127.0.0.1:{fleet.ports(i)['tcp']}"


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_two_simulated_drones_recorded_under_a_deployment(tmp_path: Path, autopilot: str) -> None:
    db = tmp_path / "live.db"
    with open_store(db) as store:
        dep = create_deployment(
            store, organisation="PCR", category="sar", location="Plzeň-Bory", status="accepted"
        )
    fleet = _fleet(2, autopilot)
    errors: list[BaseException] = []
    try:
        with Recorder(db, deployment_id=dep.id, tlog_path=tmp_path / "live.tlog") as rec:
            threads = [
                threading.Thread(
                    target=_fly,
                    args=(_url(fleet, i), rec, d, errors),
                )
                for i, d in enumerate((80.0, 120.0))
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(400)
    finally:
        fleet.stop()
    assert not errors, errors
    assert rec.status.dropped == 0 and rec.status.flights_closed == 2
    with open_store(db) as store:
        flights = store.flights(deployment_id=dep.id)
        assert len(flights) == 2
        for f, out_m in zip(sorted(flights, key=lambda f: f["max_distance_m"]), (80.0, 120.0)):
            assert f["complete"] == 1 and f["ground_run"] == 0, f["id"]
            assert f["max_height_m"] == pytest.approx(15.0, abs=2.0)
            assert f["max_distance_m"] == pytest.approx(out_m, abs=5.0)
            assert f["distance_m"] == pytest.approx(out_m, rel=0.15)
            end = geo.geodesic_distance_m(
                f["start_lon"], f["start_lat"], f["end_lon"], f["end_lat"]
            )
            assert end == pytest.approx(out_m, abs=5.0)
            assert f["start_lat"] == pytest.approx(HOME[0], abs=1e-4)
            assert f["battery_used_pct"] is not None and f["battery_used_pct"] > 0
            assert len(json.loads(f["path_geojson"])["coordinates"]) > 20
        d = get_deployment(store, dep.id)
        assert d.status == "in_progress" and d.first_takeoff_at is not None
        update_deployment(store, dep.id, status="completed", outcome="area searched")
        year, month = int(d.first_takeoff_at[:4]), int(d.first_takeoff_at[5:7])
        rep = indicator_report(store, year)
        q = rep.quarters[(month - 1) // 3]
        assert q.count == 1 and rep.by_organisation == {"PCR": 1}
        assert sum(rep.hours_by_vehicle.values()) > 0
        html = write_html_report(rep, tmp_path / "r.html", store=store)
    assert "data:image/png;base64" in html.read_text()
    # the raw archive holds both vehicles
    from pymavlink import mavutil

    mlog = mavutil.mavlink_connection(str(tmp_path / "live.tlog"))
    sysids = set()
    while (m := mlog.recv_msg()) is not None:
        sysids.add(m.get_srcSystem())
    assert {1, 2} <= sysids


def test_record_cli_on_a_live_link_keeps_the_plan(tmp_path: Path, shared_data: Path) -> None:
    """``dronekit-plzen record --connect`` in a real process, stopped by SIGINT."""
    import os
    import signal
    import subprocess
    import sys
    import time

    db = tmp_path / "cli.db"
    plan = shared_data / "missions" / "qgc_ArduPilotSITL-ArduCopter.plan"
    fleet = _fleet(1)
    try:
        port = fleet.ports(0)["api_remote"]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dronekit_plzen",
                "record",
                "--connect",
                f"udpin://127.0.0.1:{port}",
                "--db",
                str(db),
                "--tlog",
                str(tmp_path / "c.tlog"),
                "--mission",
                str(plan),
            ],
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])),
        )
        deadline = time.monotonic() + 60
        n = 0
        while time.monotonic() < deadline and n < 20:
            time.sleep(0.5)
            if db.exists():
                with open_store(db) as store:
                    n = store.count("samples")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        fleet.stop()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "recorded" in err
    with open_store(db) as store:
        assert store.count("samples") >= 20
        (m,) = store.query("SELECT name, plan_text, sha256 FROM missions")
    assert m["name"] == plan.name and json.loads(m["plan_text"])["fileType"] == "Plan"
