"""The simulator stores and reports mission items as each firmware does, and is not ready to arm
right after boot: a link layer that compared raw items, or armed at once, fails against it as it
failed against real ArduCopter SITL. Real MAVLink over loopback, the link layer as the client.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dronekit_plzen.errors import CommandError, LinkTimeout, MissionTransferError
from dronekit_plzen.link import connect
from dronekit_plzen.mission_items import MissionItem
from dronekit_plzen.safety import Clearance
from simulators import SimFleet

HOME = (49.7475, 13.3776, 310.0)
PREARM_BIT = 0x10000000


@contextlib.contextmanager
def flying(autopilot: str, port_offset: int, speedup: float = 20) -> Iterator[tuple[SimFleet, Any]]:
    """A started one-vehicle fleet (firmware-default boot settle) and the link layer's vehicle."""
    with (
        SimFleet(autopilot=autopilot, home=HOME, speedup=speedup, port_offset=port_offset) as fleet,
        connect(url_of(fleet), heartbeat_hz=10) as link,
    ):
        yield fleet, link.wait_vehicle(timeout_s=10)


def url_of(fleet: SimFleet) -> str:
    if fleet.autopilot == "px4":
        return f"udpin://127.0.0.1:{fleet.ports(0)['api_remote']}"
    return f"tcp://127.0.0.1:{fleet.ports(0)['tcp']}"


def plan(autopilot: str) -> list[MissionItem]:
    """Take-off, waypoints with delay/acceptance, camera, jump, loiter, terrain, speed, RTL."""
    lat, lon = 49.74812347, 13.37801234  # finer than 1e-7: rounded in storage
    items = [
        MissionItem(22, frame=6, param1=15.0, param4=float("nan"), alt_m=30.0),
        MissionItem(178, frame=2, param1=1.0, param2=6.0, param3=-1.0),
        MissionItem(16, frame=6, param1=2.5, param2=3.0, lat_deg=lat, lon_deg=lon, alt_m=45.678),
        MissionItem(206, frame=2, param1=10.0, param3=1.0),
        MissionItem(16, frame=6, param4=-90.0, lat_deg=lat + 3e-4, lon_deg=lon, alt_m=45.0),
        MissionItem(206, frame=2, param1=0.0),
        MissionItem(177, frame=2, param1=3.0, param2=1.0),
        MissionItem(19, frame=6, param1=20.5, param3=-30.0, lat_deg=lat, lon_deg=lon, alt_m=40.0),
    ]
    if autopilot == "ardupilot":  # PX4 flies no terrain frame (refused: see below)
        items.append(MissionItem(16, frame=11, lat_deg=lat, lon_deg=lon + 3e-4, alt_m=25.0))
    items.append(MissionItem(20, frame=2))
    return items


@pytest.mark.parametrize("autopilot", ["ardupilot", "px4"])
def test_upload_verifies_against_the_firmwares_storage(autopilot, port_offset):
    items = plan(autopilot)
    with flying(autopilot, port_offset, speedup=20) as (_fleet, v):
        v.upload_mission(items, verify=True, clearance=Clearance.passed(items))
        back = v.download_mission()
    assert len(back) == len(items)
    # the regression: the old exact comparison fails on what the firmware reports
    raw_equal = [a.same_as(b) for a, b in zip(items, back)]
    assert not all(raw_equal)
    wp = back[2]
    if autopilot == "ardupilot":
        assert (wp.frame, wp.param1, wp.param2) == (3, 2.0, 0.0)  # whole seconds, no radius
        assert wp.alt_m == pytest.approx(45.67, abs=1e-4)  # centimetres, truncated
        assert back[1].frame == 0 and back[-2].frame == 10  # DO in GLOBAL, terrain kept
        assert back[7].param3 == -1.0  # loiter direction only
    else:
        assert (wp.frame, wp.param1, wp.param2) == (6, 2.5, 3.0)  # *_INT to REQUEST_INT
        assert back[4].param4 == pytest.approx(270.0, abs=1e-3)  # yaw wrapped to [0, 360)
        assert back[0].param1 == 0.0  # no pitch on a multicopter take-off
    assert wp.lat_deg == pytest.approx(49.7481235, abs=1e-9)


def test_px4_refuses_terrain_frame(port_offset):
    items = [
        MissionItem(22, frame=6, alt_m=30.0),
        MissionItem(16, frame=11, lat_deg=49.748, lon_deg=13.378, alt_m=25.0),
    ]
    with (
        flying("px4", port_offset, speedup=20) as (_fleet, v),
        pytest.raises(MissionTransferError, match="UNSUPPORTED_FRAME"),
    ):
        v.upload_mission(items, clearance=Clearance.passed(items))


@pytest.mark.parametrize("autopilot", ["ardupilot", "px4"])
def test_a_corrupted_item_is_reported_clearly(autopilot, port_offset):
    items = plan(autopilot)
    with SimFleet(autopilot=autopilot, home=HOME, speedup=20, port_offset=port_offset) as fleet:
        wire_seq = 4 + (1 if autopilot == "ardupilot" else 0)  # ArduPilot: home is seq 0
        # documented test-only fault: the vehicle stores item 4 (0-based) with another altitude
        fleet.call(
            lambda: fleet.vehicles[0].model.corrupt_mission_items.update(
                {wire_seq: {"alt_m": 60.0}}
            )
        )
        with connect(url_of(fleet), heartbeat_hz=10) as link:
            v = link.wait_vehicle(timeout_s=10)
            with pytest.raises(MissionTransferError) as err:
                v.upload_mission(items, clearance=Clearance.passed(items))
    assert str(err.value) == (
        "verification failed: item 5 (NAV_WAYPOINT) differs after upload: "
        "alt_m 45.0 sent, 60.0 stored"
    )


def test_ardupilot_is_not_ready_until_its_ekf_uses_gps(port_offset):
    """Firmware default settle (40 s of simulated time): PreArm text, then ready."""
    with flying("ardupilot", port_offset, speedup=20) as (fleet, v):
        v.wait_for(lambda s: s.gps_fix_type >= 3, 10, "GPS fix")
        assert v.state.sensors_unhealthy & PREARM_BIT  # GPS fix, but not ready
        assert v.state.home is None  # no home before the EKF has an origin
        v.set_mode("GUIDED")
        with pytest.raises(CommandError):
            v.arm()
        texts: list[str] = []
        st = v.wait_ready_to_arm(timeout_s=30, on_message=texts.append)
        assert fleet.sim_time_s >= 40.0
        assert not st.sensors_unhealthy & PREARM_BIT
        # in GUIDED the firmware's pre-arm checks want the EKF's position (as on SITL)
        assert "PreArm: Need Position Estimate" in texts
        assert st.ekf_position_ok and st.home is not None
        v.arm()
        assert v.wait_for(lambda s: s.armed, 5, "armed").armed


def test_px4_is_ready_about_4_5_s_after_boot(port_offset):
    with flying("px4", port_offset, speedup=4) as (fleet, v):
        v.wait_ready_to_arm(timeout_s=10)
        assert 4.5 <= fleet.sim_time_s < 7.0


def test_not_ready_times_out_with_the_firmwares_reason(port_offset):
    with SimFleet(autopilot="ardupilot", home=HOME, speedup=20, port_offset=port_offset) as fleet:
        fleet.vehicles[0].set_param("SIM_GPS_DISABLE", 1)  # no GPS: the EKF never gets a fix
        with connect(url_of(fleet), heartbeat_hz=10) as link:
            v = link.wait_vehicle(timeout_s=10)
            t0 = time.monotonic()
            with pytest.raises(LinkTimeout) as err:
                v.wait_ready_to_arm(timeout_s=2.5)
            assert time.monotonic() - t0 == pytest.approx(2.5, abs=0.5)
    assert str(err.value) == "vehicle 1: not ready to arm after 2.5 s: PreArm: Need 3D Fix"


def test_prearm_text_repeats_every_30_s_while_failing():
    from simulators.vehicle import VehicleModel

    vm = VehicleModel(1, "ardupilot", HOME)
    vm.set_param("SIM_GPS_DISABLE", 1)
    times = []
    for _ in range(int(100 / 0.02)):
        vm.step(0.02)
        for ev in vm.events:
            if ev.kind == "statustext" and ev.data["text"].startswith("PreArm"):
                times.append((round(vm.t_s), ev.data["text"]))
        vm.events.clear()
    assert [t for t, _text in times] == [30, 60, 90]
    # no GPS, no EKF origin: the boot-time check keeps failing
    assert {text for _t, text in times} == {"PreArm: Need 3D Fix"}
