"""``fly --wait-ready``: wait for the firmware's ready-to-arm, show its PreArm texts, time out."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dronekit_plzen.cli.main import main
from dronekit_plzen.errors import CommandError, LinkTimeout
from dronekit_plzen.link import Vehicle, connect
from dronekit_plzen.link.state import EKF_CONST_POS_MODE
from dronekit_plzen.mission_items import MissionItem

PREARM_BIT = 0x10000000


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


def _prearm_bit_only(v: Vehicle, timeout_s: float) -> None:
    """The old wait: return at the first SYS_STATUS with the pre-arm bit healthy."""
    with v.link.subscribe({"SYS_STATUS"}, v.sysid) as sub:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            item = sub.get(deadline - time.monotonic())
            if item is not None and item[0].onboard_control_sensors_health & PREARM_BIT:
                return
    raise AssertionError("pre-arm bit never healthy")


def test_ardupilot_waits_for_the_ekf_position_not_only_the_prearm_bit(
    sim_factory, sim_url_of
) -> None:
    # 20 s settle: pre-arm bit healthy at 11.4 s, EKF position at 20 s (simulated, 20x)
    sim = sim_factory(1, "ardupilot", boot_settle_s=20.0)
    with connect(sim_url_of(sim, 0), heartbeat_hz=10) as link:
        v = link.wait_vehicle(timeout_s=5)
        _prearm_bit_only(v, 10)
        st = v.wait_for(lambda s: s.ekf_flags is not None, 5, "EKF_STATUS_REPORT")
        assert st.ekf_flags is not None and st.ekf_flags & EKF_CONST_POS_MODE
        assert not st.ekf_position_ok
        v.arm()  # STABILIZE arms: the pre-arm bit was right about that
        with pytest.raises(CommandError) as err:
            v.set_mode("GUIDED")  # armed without an EKF position: refused as on the firmware
        assert err.value.result == 4  # MAV_RESULT_FAILED
        v.disarm()
        shown: list[str] = []
        st = v.wait_ready_to_arm(timeout_s=10, on_message=shown.append)
        assert "waiting for EKF position" in shown
        assert st.ekf_position_ok and st.home is not None
        assert st.ekf_flags is not None and not st.ekf_flags & EKF_CONST_POS_MODE
        v.arm()
        v.set_mode("GUIDED")
        v.takeoff(10.0)
        v.wait_for(lambda s: s.relative_alt_m > 5.0, 10, "climb")


def test_ardupilot_times_out_waiting_for_the_ekf_position(sim_factory, sim_url_of) -> None:
    sim = sim_factory(1, "ardupilot", boot_settle_s=200.0)  # pre-arm at 114 s, EKF at 200 s
    with connect(sim_url_of(sim, 0), heartbeat_hz=10) as link:
        v = link.wait_vehicle(timeout_s=5)
        _prearm_bit_only(v, 10)
        with pytest.raises(LinkTimeout) as err:
            v.wait_ready_to_arm(timeout_s=1.5)
    assert str(err.value) == "vehicle 1: not ready to arm after 1.5 s: waiting for EKF position"
