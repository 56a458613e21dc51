"""The ArduPilot flavour reports its EKF as ArduCopter 4.7 SITL does (EKF_STATUS_REPORT in the
EXTRA3 stream, 4 Hz under REQUEST_DATA_STREAM) and keeps the firmware's order after boot: EKF
origin and home, then the pre-arm bit, then (18 s later at the default settle) the EKF's
absolute position; until then an armed switch to GUIDED/AUTO fails with MAV_RESULT_FAILED.
"""

from __future__ import annotations

import time

from pymavlink import mavutil

from simulators import SimFleet, preflight
from simulators.vehicle import RESULT_ACCEPTED, RESULT_FAILED, VehicleModel

HOME = (49.7475, 13.3776, 310.0)
DT = 0.02
POS_HORIZ_ABS, CONST_POS_MODE, PRED_POS_HORIZ_ABS = 0x10, 0x80, 0x200


def _first_time(vm: VehicleModel, cond, seconds: float) -> float:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / DT)):
        if cond(vm):
            return vm.t_s
        vm.step(DT)
    raise AssertionError("condition never held")


def test_ardupilot_boot_order_matches_the_firmware() -> None:
    vm = VehicleModel(1, "ardupilot", HOME)  # default settle: 40 s
    assert preflight.ekf_flags(vm) == preflight.EKF_UNINITIALIZED
    t_aligned = _first_time(vm, lambda v: preflight.ekf_flags(v) != 0x400, 60)
    assert 5.0 <= t_aligned <= 6.0
    t_home = _first_time(vm, lambda v: v.home_known, 60)
    t_prearm = _first_time(vm, preflight.ready_to_arm, 60)
    flags = preflight.ekf_flags(vm)
    assert flags & CONST_POS_MODE and not flags & (POS_HORIZ_ABS | PRED_POS_HORIZ_ABS)
    t_ekf = _first_time(vm, preflight.ekf_position_ok, 60)
    assert t_home < t_prearm < t_ekf
    assert 19.0 <= t_home <= 20.5 and 22.5 <= t_prearm <= 23.5 and 39.9 <= t_ekf <= 41.0
    assert preflight.ekf_flags(vm) == 0x33F  # as ArduCopter 4.7 SITL reports with GPS


def test_armed_guided_is_refused_until_the_ekf_has_a_position() -> None:
    vm = VehicleModel(1, "ardupilot", HOME, boot_settle_s=10.0)
    _first_time(vm, preflight.ready_to_arm, 20)
    assert not preflight.ekf_position_ok(vm)
    assert vm.arm() == RESULT_ACCEPTED  # STABILIZE: the pre-arm checks pass
    assert vm.set_mode("GUIDED") == RESULT_FAILED
    assert vm.set_mode("AUTO") == RESULT_FAILED
    assert "Mode change to GUIDED failed: requires position" in vm.statustexts
    assert vm.disarm() == RESULT_ACCEPTED
    assert vm.set_mode("GUIDED") == RESULT_ACCEPTED  # disarmed: any mode, arming checks decide
    assert vm.arm() == RESULT_FAILED
    assert "PreArm: Need Position Estimate" in vm.statustexts
    _first_time(vm, preflight.ekf_position_ok, 20)
    assert vm.arm() == RESULT_ACCEPTED


def test_ekf_status_report_streams_at_4_hz_on_request_data_stream(port_offset: int) -> None:
    with SimFleet(autopilot="ardupilot", home=HOME, speedup=1, port_offset=port_offset) as fleet:
        conn = mavutil.mavlink_connection(
            f"tcp:127.0.0.1:{fleet.ports(0)['tcp']}", source_system=250, dialect="ardupilotmega"
        )
        try:
            assert conn.wait_heartbeat(timeout=5) is not None
            conn.mav.request_data_stream_send(1, 1, 0, 4, 1)  # all streams at 4 Hz
            first = conn.recv_match(type="EKF_STATUS_REPORT", blocking=True, timeout=5)
            assert first is not None
            t0, n = time.monotonic(), 0
            while time.monotonic() - t0 < 3.0:
                if conn.recv_match(type="EKF_STATUS_REPORT", blocking=True, timeout=1):
                    n += 1
            assert 10 <= n <= 14
        finally:
            conn.close()


def test_px4_flavour_does_not_stream_ekf_status_report() -> None:
    from simulators import telemetry

    assert 193 not in telemetry.PX4_RATES_HZ  # PX4 has no EKF_STATUS_REPORT stream
