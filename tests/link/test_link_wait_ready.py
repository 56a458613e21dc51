"""``fly --wait-ready``: wait for the firmware's ready-to-arm, show its PreArm texts, time out."""

from __future__ import annotations

from pathlib import Path

from dronekit_plzen.cli.main import main
from dronekit_plzen.link import connect
from dronekit_plzen.mission_items import MissionItem


def _plan(path: Path, home: tuple[float, float, float]) -> Path:
    from missions.formats import save_mission
    from missions.model import Mission

    lat, lon, _alt = home
    items = [
        MissionItem(22, alt_m=20.0),
        MissionItem(16, lat_deg=lat + 2e-4, lon_deg=lon, alt_m=20.0),
        MissionItem(20, frame=2),
    ]
    save_mission(Mission(items=items, home=(lon, lat, home[2])), path)
    return path


def test_fly_waits_and_fails_with_the_prearm_reason(
    tmp_path, sim_factory, sim_url_of, capsys
) -> None:
    # 120 s settle at 20x: still settling when the 3 s wait ends (first PreArm report at 30 s)
    sim = sim_factory(1, "ardupilot", boot_settle_s=120.0)
    sim.vehicles[0].set_param("SIM_GPS_DISABLE", 1)  # no GPS for the EKF
    plan = _plan(tmp_path / "m.plan", (49.7475, 13.3776, 310.0))
    assert main(["fly", str(plan), "--connect", sim_url_of(sim, 0), "--wait-ready", "3"]) == 1
    err = capsys.readouterr().err
    assert "vehicle: PreArm: Need 3D Fix" in err  # shown while waiting
    last = err.strip().splitlines()[-1]
    assert last == "error: vehicle 1: not ready to arm after 3 s: PreArm: Need 3D Fix"
    with connect(sim_url_of(sim, 0), heartbeat_hz=10) as link:
        v = link.wait_vehicle(timeout_s=5)
        assert v.download_mission() == []  # nothing uploaded before the vehicle was ready
        assert not v.state.armed


def test_wait_ready_returns_at_once_when_ready(sim_factory, sim_url_of) -> None:
    sim = sim_factory(1, "px4", boot_settle_s=0.0)
    with connect(sim_url_of(sim, 0), heartbeat_hz=10) as link:
        v = link.wait_vehicle(timeout_s=5)
        v.wait_for(lambda s: s.gps_fix_type >= 3, 10, "GPS fix")
        shown: list[str] = []
        st = v.wait_ready_to_arm(timeout_s=5, on_message=shown.append)
        assert not st.sensors_unhealthy & 0x10000000
        assert shown == []  # PX4 explains only when arming is attempted
        v.arm()
