"""Telemetry message builders: vehicle model → pymavlink message (wire units at this boundary)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mav

from simulators import modes as md
from simulators import preflight
from simulators.vehicle import VehicleModel

Builder = Callable[[mav.MAVLink, VehicleModel], Any]

_SENSORS = (
    mav.MAV_SYS_STATUS_SENSOR_3D_GYRO
    | mav.MAV_SYS_STATUS_SENSOR_3D_ACCEL
    | mav.MAV_SYS_STATUS_SENSOR_3D_MAG
    | mav.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE
    | mav.MAV_SYS_STATUS_SENSOR_GPS
    | mav.MAV_SYS_STATUS_SENSOR_ANGULAR_RATE_CONTROL
    | mav.MAV_SYS_STATUS_SENSOR_ATTITUDE_STABILIZATION
    | mav.MAV_SYS_STATUS_SENSOR_YAW_POSITION
    | mav.MAV_SYS_STATUS_SENSOR_Z_ALTITUDE_CONTROL
    | mav.MAV_SYS_STATUS_SENSOR_XY_POSITION_CONTROL
    | mav.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
    | mav.MAV_SYS_STATUS_SENSOR_BATTERY
    | mav.MAV_SYS_STATUS_PREARM_CHECK
)

CAPABILITIES = (
    mav.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT
    | mav.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
    | mav.MAV_PROTOCOL_CAPABILITY_MISSION_INT
    | mav.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
    | mav.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT
    | mav.MAV_PROTOCOL_CAPABILITY_MAVLINK2
    | mav.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
    | mav.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY
)


def boot_ms(vm: VehicleModel) -> int:
    return int((vm.t_s - vm.boot_t0_s) * 1000.0) & 0xFFFFFFFF


def heartbeat(m: mav.MAVLink, vm: VehicleModel) -> Any:
    base = mav.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
    b = vm.behaviour
    if b is not md.Behaviour.MANUAL:
        base |= mav.MAV_MODE_FLAG_STABILIZE_ENABLED | mav.MAV_MODE_FLAG_GUIDED_ENABLED
    if b in (md.Behaviour.MISSION, md.Behaviour.RTL, md.Behaviour.LAND, md.Behaviour.TAKEOFF):
        base |= mav.MAV_MODE_FLAG_AUTO_ENABLED
    if vm.armed:
        base |= mav.MAV_MODE_FLAG_SAFETY_ARMED
    if vm.t_s < vm.boot_until_s + 1.0:
        status = mav.MAV_STATE_BOOT if vm.t_s < vm.boot_until_s else mav.MAV_STATE_STANDBY
    elif (
        vm.failsafes & {"battery_critical", "battery_emergency", "gps_loss", "gcs_link"}
        and vm.armed
    ):
        status = mav.MAV_STATE_CRITICAL
    else:
        status = mav.MAV_STATE_ACTIVE if vm.armed else mav.MAV_STATE_STANDBY
    autopilot = mav.MAV_AUTOPILOT_PX4 if vm.px4 else mav.MAV_AUTOPILOT_ARDUPILOTMEGA
    return m.heartbeat_encode(
        mav.MAV_TYPE_QUADROTOR, autopilot, base, md.custom_mode_of(vm.autopilot, vm.mode), status
    )


def sys_status(m: mav.MAVLink, vm: VehicleModel) -> Any:
    health = _SENSORS if vm.gps.has_fix else _SENSORS & ~mav.MAV_SYS_STATUS_SENSOR_GPS
    if not vm.armed and not preflight.ready_to_arm(vm):
        health &= ~mav.MAV_SYS_STATUS_PREARM_CHECK
    bat = vm.battery
    # PX4 v1.16 SITL sets only the health bit of the pre-arm check (never present/enabled)
    present = _SENSORS & ~mav.MAV_SYS_STATUS_PREARM_CHECK if vm.px4 else _SENSORS
    return m.sys_status_encode(
        present,
        present,
        health,
        250,
        int(bat.voltage_v * 1000),
        int(bat.current_a * 100),
        round(bat.remaining * 100),
        0,
        0,
        0,
        0,
        0,
        0,
    )


def gps_raw_int(m: mav.MAVLink, vm: VehicleModel) -> Any:
    g = vm.gps
    lat, lon, alt = vm.geo.to_lla(
        vm.pos[0] + g.noise_e_m, vm.pos[1] + g.noise_n_m, vm.pos[2] + g.noise_u_m
    )
    s = vm.snapshot_speed()
    if g.fix_type < 2:
        lat = lon = 0.0
        alt = 0.0
    return m.gps_raw_int_encode(
        int(vm.t_s * 1e6),
        g.fix_type,
        int(lat * 1e7),
        int(lon * 1e7),
        int(alt * 1000),
        int(g.eph_m * 100),
        int(g.eph_m * 150),
        int(s[0] * 100),
        int(s[1]) % 36000,
        g.satellites,
        int(alt * 1000),
        int(g.eph_m * 1000),
        int(g.eph_m * 1500),
        300,
        0,
    )


def global_position_int(m: mav.MAVLink, vm: VehicleModel) -> Any:
    lat, lon, alt = vm.geo.to_lla(*vm.pos)
    ge, gn = vm.ground_velocity()
    return m.global_position_int_encode(
        boot_ms(vm),
        int(lat * 1e7),
        int(lon * 1e7),
        int(alt * 1000),
        int(vm.rel_alt_m * 1000),
        int(gn * 100),
        int(ge * 100),
        int(-vm.vel[2] * 100),
        int(vm.yaw_deg * 100) % 36000,
    )


def local_position_ned(m: mav.MAVLink, vm: VehicleModel) -> Any:
    ge, gn = vm.ground_velocity()
    return m.local_position_ned_encode(
        boot_ms(vm), vm.pos[1], vm.pos[0], -vm.pos[2], gn, ge, -vm.vel[2]
    )


def attitude(m: mav.MAVLink, vm: VehicleModel) -> Any:
    yaw = math.radians(vm.yaw_deg)
    if yaw > math.pi:
        yaw -= 2 * math.pi
    return m.attitude_encode(
        boot_ms(vm), math.radians(vm.roll_deg), math.radians(vm.pitch_deg), yaw, 0.0, 0.0, 0.0
    )


def vfr_hud(m: mav.MAVLink, vm: VehicleModel) -> Any:
    gs, _cog = vm.snapshot_speed()
    air = vm.air_speed()
    throttle = 0 if not vm.armed else (15 if vm.landed else int(45 + 2 * air))
    return m.vfr_hud_encode(
        air, gs, int(vm.yaw_deg) % 360, throttle, vm.geo.alt0_m + vm.pos[2], vm.vel[2]
    )


def battery_status(m: mav.MAVLink, vm: VehicleModel) -> Any:
    bat = vm.battery
    cell_mv = int(bat.voltage_v / bat.cells * 1000)
    volts = [cell_mv] * bat.cells + [65535] * (10 - bat.cells)
    fs = vm.failsafes
    charge = (
        mav.MAV_BATTERY_CHARGE_STATE_EMERGENCY
        if "battery_emergency" in fs
        else mav.MAV_BATTERY_CHARGE_STATE_CRITICAL
        if "battery_critical" in fs
        else mav.MAV_BATTERY_CHARGE_STATE_LOW
        if "battery_low" in fs
        else mav.MAV_BATTERY_CHARGE_STATE_OK
    )
    left_s = int(bat.capacity_mah * bat.remaining * 3.6 / max(bat.current_a, 0.1))
    return m.battery_status_encode(
        0,
        mav.MAV_BATTERY_FUNCTION_ALL,
        mav.MAV_BATTERY_TYPE_LIPO,
        2500,
        volts,
        int(bat.current_a * 100),
        int(bat.consumed_mah),
        -1,
        round(bat.remaining * 100),
        left_s,
        charge,
    )


def extended_sys_state(m: mav.MAVLink, vm: VehicleModel) -> Any:
    if vm.landed:
        landed = mav.MAV_LANDED_STATE_ON_GROUND
    elif vm.behaviour is md.Behaviour.LAND or (vm.vel[2] < -0.3 and vm.rtl_phase == "land"):
        landed = mav.MAV_LANDED_STATE_LANDING
    elif vm.behaviour is md.Behaviour.TAKEOFF:
        landed = mav.MAV_LANDED_STATE_TAKEOFF
    else:
        landed = mav.MAV_LANDED_STATE_IN_AIR
    return m.extended_sys_state_encode(mav.MAV_VTOL_STATE_MC, landed)


def home_position(m: mav.MAVLink, vm: VehicleModel) -> Any:
    lat, lon, alt = vm.geo.to_lla(*vm.home)
    return m.home_position_encode(
        int(lat * 1e7),
        int(lon * 1e7),
        int(alt * 1000),
        vm.home[1],
        vm.home[0],
        -vm.home[2],
        [1.0, 0.0, 0.0, 0.0],
        0.0,
        0.0,
        0.0,
        int(vm.t_s * 1e6),
    )


def mission_current(m: mav.MAVLink, vm: VehicleModel) -> Any:
    r = vm.runner
    total = r.wire_count(0)
    if total == 0 or (vm.px4 and not r.items):
        state = mav.MISSION_STATE_NO_MISSION
    elif r.finished:
        state = mav.MISSION_STATE_COMPLETE
    elif vm.behaviour is md.Behaviour.MISSION and vm.armed:
        state = mav.MISSION_STATE_ACTIVE
    elif r.seq == r.first and not r.reached:
        state = mav.MISSION_STATE_NOT_STARTED
    else:
        state = mav.MISSION_STATE_PAUSED
    mode = 1 if vm.behaviour is md.Behaviour.MISSION else 2
    return m.mission_current_encode(r.seq, total, state, mode)


def system_time(m: mav.MAVLink, vm: VehicleModel) -> Any:
    return m.system_time_encode(int((1_700_000_000 + vm.t_s) * 1e6), boot_ms(vm))


def nav_controller_output(m: mav.MAVLink, vm: VehicleModel) -> Any:
    t = vm.target or (vm.pos[0], vm.pos[1], vm.pos[2])
    d = math.hypot(t[0] - vm.pos[0], t[1] - vm.pos[1])
    brg = int(math.degrees(math.atan2(t[0] - vm.pos[0], t[1] - vm.pos[1]))) % 360
    return m.nav_controller_output_encode(
        vm.roll_deg,
        vm.pitch_deg,
        int(vm.yaw_deg),
        brg,
        min(int(d), 65535),
        t[2] - vm.pos[2],
        0.0,
        0.0,
    )


def autopilot_version(m: mav.MAVLink, vm: VehicleModel) -> Any:
    caps = CAPABILITIES | (
        mav.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE
        if vm.px4
        else mav.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST
    )
    version = (
        (1 << 24) | (14 << 16) | (3 << 8) | 255
        if vm.px4
        else (4 << 24) | (5 << 16) | (7 << 8) | 255
    )
    return m.autopilot_version_encode(
        caps,
        version,
        0,
        0,
        0,
        [0] * 8,
        [0] * 8,
        [0] * 8,
        0x26AC if vm.px4 else 0x1209,
        0x11 if vm.px4 else 0x5740,
        0x504C5A4E00 + vm.sysid,
        [vm.sysid] + [0] * 17,
    )


def ekf_status_report(m: mav.MAVLink, vm: VehicleModel) -> Any:
    """ArduPilot's EKF_STATUS_REPORT (variances as test ratios, small when healthy)."""
    ok = preflight.ekf_position_ok(vm)
    return m.ekf_status_report_encode(
        preflight.ekf_flags(vm), 0.02, 0.01 if ok else 0.0, 0.005, 0.01, 0.0, 0.0
    )


#: message id → builder (streamed or sent on REQUEST_MESSAGE)
BUILDERS: dict[int, Builder] = {
    mav.MAVLINK_MSG_ID_HEARTBEAT: heartbeat,
    mav.MAVLINK_MSG_ID_SYS_STATUS: sys_status,
    mav.MAVLINK_MSG_ID_SYSTEM_TIME: system_time,
    mav.MAVLINK_MSG_ID_GPS_RAW_INT: gps_raw_int,
    mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: global_position_int,
    mav.MAVLINK_MSG_ID_LOCAL_POSITION_NED: local_position_ned,
    mav.MAVLINK_MSG_ID_ATTITUDE: attitude,
    mav.MAVLINK_MSG_ID_VFR_HUD: vfr_hud,
    mav.MAVLINK_MSG_ID_BATTERY_STATUS: battery_status,
    mav.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: extended_sys_state,
    mav.MAVLINK_MSG_ID_HOME_POSITION: home_position,
    mav.MAVLINK_MSG_ID_MISSION_CURRENT: mission_current,
    mav.MAVLINK_MSG_ID_NAV_CONTROLLER_OUTPUT: nav_controller_output,
    mav.MAVLINK_MSG_ID_AUTOPILOT_VERSION: autopilot_version,
    mav.MAVLINK_MSG_ID_EKF_STATUS_REPORT: ekf_status_report,
}

#: PX4 default stream rates (Hz), "normal" link profile
PX4_RATES_HZ: dict[int, float] = {
    mav.MAVLINK_MSG_ID_HEARTBEAT: 1.0,
    mav.MAVLINK_MSG_ID_SYS_STATUS: 1.0,
    mav.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: 1.0,
    mav.MAVLINK_MSG_ID_GPS_RAW_INT: 1.0,
    mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 5.0,
    mav.MAVLINK_MSG_ID_LOCAL_POSITION_NED: 1.0,
    mav.MAVLINK_MSG_ID_ATTITUDE: 15.0,
    mav.MAVLINK_MSG_ID_VFR_HUD: 4.0,
    mav.MAVLINK_MSG_ID_BATTERY_STATUS: 0.5,
    mav.MAVLINK_MSG_ID_HOME_POSITION: 0.5,
    mav.MAVLINK_MSG_ID_MISSION_CURRENT: 1.0,
}

#: ArduCopter REQUEST_DATA_STREAM groups (MAV_DATA_STREAM id → message ids)
ARDUPILOT_STREAMS: dict[int, tuple[int, ...]] = {
    mav.MAV_DATA_STREAM_EXTENDED_STATUS: (
        mav.MAVLINK_MSG_ID_SYS_STATUS,
        mav.MAVLINK_MSG_ID_MISSION_CURRENT,
        mav.MAVLINK_MSG_ID_GPS_RAW_INT,
        mav.MAVLINK_MSG_ID_NAV_CONTROLLER_OUTPUT,
    ),
    mav.MAV_DATA_STREAM_POSITION: (
        mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT,
        mav.MAVLINK_MSG_ID_LOCAL_POSITION_NED,
    ),
    mav.MAV_DATA_STREAM_EXTRA1: (mav.MAVLINK_MSG_ID_ATTITUDE,),
    mav.MAV_DATA_STREAM_EXTRA2: (mav.MAVLINK_MSG_ID_VFR_HUD,),
    mav.MAV_DATA_STREAM_EXTRA3: (
        mav.MAVLINK_MSG_ID_SYSTEM_TIME,
        mav.MAVLINK_MSG_ID_BATTERY_STATUS,
        mav.MAVLINK_MSG_ID_EXTENDED_SYS_STATE,
        mav.MAVLINK_MSG_ID_EKF_STATUS_REPORT,
    ),
}
