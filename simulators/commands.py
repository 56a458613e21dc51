"""COMMAND_LONG / COMMAND_INT handling with COMMAND_ACK (MAV_RESULT), and SET_MODE."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mav

from dronekit_plzen.errors import BadInputError
from simulators import modes as md
from simulators import telemetry
from simulators.vehicle import (
    FORCE_MAGIC,
    RESULT_ACCEPTED,
    RESULT_DENIED,
    RESULT_FAILED,
    RESULT_UNSUPPORTED,
)

if TYPE_CHECKING:
    from simulators.protocol import Link, VehicleServer


def _mode_from(server: VehicleServer, base: float, custom: float, sub: float) -> str | None:
    vm = server.vm
    if not int(base) & mav.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
        return None
    try:
        if vm.px4:
            return md.px4_mode_name(int(custom), int(sub))
        return md.arducopter_mode_name(int(custom))
    except BadInputError:
        return None


def handle_set_mode(server: VehicleServer, link: Link, msg: Any) -> None:
    """Legacy SET_MODE: PX4 custom_mode packs main/sub; ArduPilot the mode number."""
    vm = server.vm
    if vm.px4:
        name = _mode_from(
            server, msg.base_mode, (msg.custom_mode >> 16) & 0xFF, (msg.custom_mode >> 24) & 0xFF
        )
    else:
        name = _mode_from(server, msg.base_mode, msg.custom_mode, 0)
    result = vm.set_mode(name) if name else RESULT_UNSUPPORTED
    link.send(
        link.codec.command_ack_encode(
            mav.MAV_CMD_DO_SET_MODE, result, 0, 0, msg.get_srcSystem(), msg.get_srcComponent()
        )
    )


def handle_position_target(server: VehicleServer, msg: Any) -> None:
    """SET_POSITION_TARGET_GLOBAL_INT in GUIDED/OFFBOARD: fly to that point."""
    vm = server.vm
    if vm.behaviour is not md.Behaviour.GUIDED or msg.type_mask & 0b111:
        return
    alt = msg.alt
    frame = msg.coordinate_frame
    if frame in (mav.MAV_FRAME_GLOBAL_RELATIVE_ALT, mav.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT):
        alt = vm.geo.alt0_m + vm.home[2] + alt
    vm.reposition(msg.lat_int / 1e7, msg.lon_int / 1e7, alt, 0.0, False)


def _position(server: VehicleServer, msg: Any) -> tuple[float, float, float]:
    """(lat, lon, alt AMSL) from a command's x/y/z (COMMAND_INT) or param5-7 (COMMAND_LONG)."""
    vm = server.vm
    if msg.get_type() == "COMMAND_INT":
        lat = msg.x / 1e7 if msg.x else math.nan
        lon = msg.y / 1e7 if msg.y else math.nan
        alt, frame = msg.z, msg.frame
    else:
        lat, lon, alt = msg.param5, msg.param6, msg.param7
        lat = math.nan if lat == 0 else lat
        lon = math.nan if lon == 0 else lon
        frame = mav.MAV_FRAME_GLOBAL if vm.px4 else mav.MAV_FRAME_GLOBAL_RELATIVE_ALT
    if not math.isnan(alt) and frame in (
        mav.MAV_FRAME_GLOBAL_RELATIVE_ALT,
        mav.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
    ):
        alt = vm.geo.alt0_m + vm.home[2] + alt
    return lat, lon, alt


def handle_command(server: VehicleServer, link: Link, msg: Any) -> None:
    vm = server.vm
    cmd = int(msg.command)
    p = [msg.param1, msg.param2, msg.param3, msg.param4]
    result = RESULT_ACCEPTED
    c = link.codec
    src = (msg.get_srcSystem(), msg.get_srcComponent())
    if cmd == mav.MAV_CMD_COMPONENT_ARM_DISARM:
        force = abs(p[1] - FORCE_MAGIC) < 0.5
        result = vm.arm(force) if p[0] >= 0.5 else vm.disarm(force)
    elif cmd == mav.MAV_CMD_NAV_TAKEOFF:
        alt = msg.z if msg.get_type() == "COMMAND_INT" else msg.param7
        if msg.get_type() == "COMMAND_INT" and not vm.px4 and msg.frame == mav.MAV_FRAME_GLOBAL:
            alt = alt - vm.geo.alt0_m - vm.home[2]
        result = vm.takeoff(alt)
    elif cmd == mav.MAV_CMD_NAV_LAND:
        result = vm.land()
    elif cmd == mav.MAV_CMD_NAV_RETURN_TO_LAUNCH:
        result = vm.rtl()
    elif cmd == mav.MAV_CMD_DO_SET_MODE:
        name = _mode_from(server, p[0], p[1], p[2])
        result = vm.set_mode(name) if name else RESULT_UNSUPPORTED
    elif cmd == mav.MAV_CMD_MISSION_START:
        result = vm.mission_start(int(p[0]) if p[0] > 0 else -1)
    elif cmd == mav.MAV_CMD_DO_SET_MISSION_CURRENT:
        result = RESULT_ACCEPTED if vm.runner.set_current(int(p[0])) else RESULT_DENIED
    elif cmd == mav.MAV_CMD_DO_REPOSITION:
        lat, lon, alt = _position(server, msg)
        change = bool(int(p[1]) & mav.MAV_DO_REPOSITION_FLAGS_CHANGE_MODE)
        result = vm.reposition(lat, lon, alt, p[0] if not math.isnan(p[0]) else -1.0, change)
    elif cmd == mav.MAV_CMD_DO_SET_ROI_LOCATION:  # QGC "ROI at location"; a training sighting
        lat, lon, alt = _position(server, msg)
        vm.roi_reports.append((vm.t_s, float(lat), float(lon), float(alt)))
    elif cmd == mav.MAV_CMD_DO_CHANGE_SPEED:
        result = vm.change_speed(p[1], p[0], command=True)
    elif cmd == mav.MAV_CMD_DO_SET_HOME:
        lat, lon, alt = _position(server, msg)
        if msg.get_type() == "COMMAND_LONG":
            lat, lon, alt = msg.param5, msg.param6, msg.param7
        result = vm.set_home(p[0] >= 0.5, lat, lon, alt)
    elif cmd == mav.MAV_CMD_DO_SET_CAM_TRIGG_DIST:
        result = vm.set_trigger_distance(p[0], p[2] == 1)
    elif cmd == mav.MAV_CMD_IMAGE_START_CAPTURE:
        result = vm.start_capture(p[1], int(p[2]))
    elif cmd == mav.MAV_CMD_IMAGE_STOP_CAPTURE:
        result = vm.stop_capture()
    elif cmd == mav.MAV_CMD_DO_DIGICAM_CONTROL:
        vm.capture()
    elif cmd == mav.MAV_CMD_SET_MESSAGE_INTERVAL:
        mid, iv = int(p[0]), p[1]
        if mid not in telemetry.BUILDERS:
            result = RESULT_DENIED if vm.px4 else RESULT_FAILED
        elif iv == 0:
            rate = telemetry.PX4_RATES_HZ.get(mid) if vm.px4 else None
            link.set_interval(mid, 1.0 / rate if rate else None)
        else:
            link.set_interval(mid, iv / 1e6 if iv > 0 else None)
    elif cmd == mav.MAV_CMD_REQUEST_MESSAGE:
        mid = int(p[0])
        if mid == 300:  # PROTOCOL_VERSION: not implemented by our codec set
            result = RESULT_UNSUPPORTED
        elif mid in telemetry.BUILDERS:
            _ack(link, cmd, RESULT_ACCEPTED, src)
            link.send(telemetry.BUILDERS[mid](c, vm))
            return
        else:
            result = RESULT_DENIED if vm.px4 else RESULT_FAILED
    elif cmd == mav.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES:
        _ack(link, cmd, RESULT_ACCEPTED, src)
        link.send(telemetry.autopilot_version(c, vm))
        return
    elif cmd == mav.MAV_CMD_GET_HOME_POSITION:
        _ack(link, cmd, RESULT_ACCEPTED, src)
        link.send(telemetry.home_position(c, vm))
        return
    elif cmd == mav.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN:
        if vm.armed:
            result = RESULT_DENIED if vm.px4 else RESULT_FAILED
        elif int(p[0]) == 1:
            _ack(link, cmd, RESULT_ACCEPTED, src)
            vm.reboot()
            return
        else:
            result = RESULT_UNSUPPORTED
    else:
        result = RESULT_UNSUPPORTED
    _ack(link, cmd, result, src)


def _ack(link: Link, cmd: int, result: int, src: tuple[int, int]) -> None:
    link.send(link.codec.command_ack_encode(cmd, result, 0, 0, src[0], src[1]))
