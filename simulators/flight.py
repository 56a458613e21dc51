"""Flight dynamics, RTL, battery and camera stepping, and snapshots of a VehicleModel (pure)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from simulators.physics import GRAVITY_M_S2, flight_current_a, guide_velocity
from simulators.state import Event, VehicleState

if TYPE_CHECKING:
    from simulators.vehicle import VehicleModel


def rtl_step(
    vm: VehicleModel, dt_s: float
) -> tuple[tuple[float, float, float] | None, float | None]:
    e, n, up = vm.rtl_target
    if vm.rtl_phase == "climb":
        if vm.pos[2] >= up - 0.5:
            vm.rtl_phase = "return"
        return (vm.pos[0], vm.pos[1], up), None
    if vm.rtl_phase == "return":
        if math.hypot(e - vm.pos[0], n - vm.pos[1]) < 1.0:
            vm.rtl_phase = "path" if vm.rtl_path else "descend"
            if vm.rtl_path:
                vm.rtl_target = vm.rtl_path.pop(0)
                return vm.rtl_target, None
        return (e, n, up), None
    if vm.rtl_phase == "path":  # PX4 along mission items (RTL_TYPE 2/4, a mission landing)
        if math.hypot(e - vm.pos[0], n - vm.pos[1]) < 1.0 and abs(up - vm.pos[2]) < 0.5:
            if not vm.rtl_path:
                vm.rtl_phase = "land"
                return (e, n, vm.pos[2]), -vm.land_speed_m_s()
            vm.rtl_target = vm.rtl_path.pop(0)
            return vm.rtl_target, None
        return (e, n, up), None
    if vm.rtl_phase == "descend":
        if vm.px4:
            final = vm.home[2] + min(vm.p("RTL_DESCEND_ALT"), up - vm.home[2])
            delay = vm.p("RTL_LAND_DELAY")
        else:
            final = up
            delay = vm.p("RTL_LOIT_TIME") / 1000.0
        if vm.pos[2] <= final + 0.5:
            vm.rtl_timer_s += dt_s
            if delay >= 0 and vm.rtl_timer_s >= delay:
                alt_final = 0.0 if vm.px4 else vm.p("RTL_ALT_FINAL") / 100.0
                vm.rtl_phase = "land" if alt_final <= 0 else "final"
        return (e, n, final), None
    if vm.rtl_phase == "final":
        return (e, n, vm.home[2] + vm.p("RTL_ALT_FINAL") / 100.0), None
    return (e, n, vm.pos[2]), -vm.land_speed_m_s()


def fly(
    vm: VehicleModel, target: tuple[float, float, float] | None, vz: float | None, dt_s: float
) -> None:
    lim = vm.limits()
    pos, vel = vm.pos, vm.vel
    old_v = (vel[0], vel[1])
    cmd = guide_velocity((pos[0], pos[1], pos[2]), (vel[0], vel[1], vel[2]), target, lim, dt_s, vz)
    we, wn = vm.wind.at(vm.t_s)
    has_pos = vm.gps.has_fix
    k = min(1.0, dt_s / 3.0)  # position controller integrator catching up with the wind
    vm.wind_comp[0] += (we - vm.wind_comp[0]) * k if has_pos else -vm.wind_comp[0] * k
    vm.wind_comp[1] += (wn - vm.wind_comp[1]) * k if has_pos else -vm.wind_comp[1] * k
    ge = cmd[0] + we - vm.wind_comp[0]
    gn = cmd[1] + wn - vm.wind_comp[1]
    ae, an = ge - we, gn - wn
    vmax_air = 12.0 if vm.px4 else 15.0
    a = math.hypot(ae, an)
    if a > vmax_air:
        ae, an = ae * vmax_air / a, an * vmax_air / a
        ge, gn = ae + we, an + wn
    vm.vel = [cmd[0], cmd[1], cmd[2]]
    pos[0] += ge * dt_s
    pos[1] += gn * dt_s
    pos[2] += cmd[2] * dt_s
    vm.ground_v = (ge, gn)
    vm.air_speed_m_s = math.hypot(ae, an)
    sp = math.hypot(ge, gn)
    if sp > 1.0:
        want = math.degrees(math.atan2(ge, gn)) % 360.0
        d = (want - vm.yaw_deg + 540.0) % 360.0 - 180.0
        step = lim.yaw_rate_deg_s * dt_s
        vm.yaw_deg = (vm.yaw_deg + max(-step, min(step, d))) % 360.0
    acc_e = (cmd[0] - old_v[0]) / dt_s + 0.03 * ae * abs(ae)
    acc_n = (cmd[1] - old_v[1]) / dt_s + 0.03 * an * abs(an)
    yaw = math.radians(vm.yaw_deg)
    fwd = acc_e * math.sin(yaw) + acc_n * math.cos(yaw)
    right = acc_e * math.cos(yaw) - acc_n * math.sin(yaw)
    vm.pitch_deg = -math.degrees(math.atan2(fwd, GRAVITY_M_S2))
    vm.roll_deg = math.degrees(math.atan2(right, GRAVITY_M_S2))
    if pos[2] <= 0.0 and cmd[2] <= 0.0:
        pos[2] = 0.0
        vm.vel = [0.0, 0.0, 0.0]
        vm.ground_v = (0.0, 0.0)
        vm.roll_deg = vm.pitch_deg = 0.0
        if not vm.landed:
            vm.landed = True
            vm.landed_since_s = vm.t_s
            vm.text("Landing detected" if vm.px4 else "Land complete")
            vm.runner.on_landed()


def battery_and_camera(vm: VehicleModel, dt_s: float, flying: bool) -> None:
    air = vm.air_speed_m_s if flying else 0.0
    vm.battery.draw(
        flight_current_a(vm.hover_current_a, air, max(0.0, vm.vel[2]), flying, vm.armed),
        dt_s,
    )
    if flying and vm.trig_dist_m > 0:
        gv = vm.ground_v
        vm.trig_accum_m += math.hypot(gv[0], gv[1]) * dt_s
        while vm.trig_accum_m >= vm.trig_dist_m:
            vm.trig_accum_m -= vm.trig_dist_m
            vm.capture()
    if vm.capture_interval_s > 0 and vm.capture_remaining != 0 and vm.t_s >= vm.capture_next_s:
        vm.capture()
        vm.capture_next_s += vm.capture_interval_s
        if vm.capture_remaining > 0:
            vm.capture_remaining -= 1


def snapshot(vm: VehicleModel) -> VehicleState:
    lat, lon, alt = vm.geo.to_lla(*vm.pos)
    hlat, hlon, halt = vm.geo.to_lla(*vm.home)
    gv = vm.ground_v if not vm.landed else (0.0, 0.0)
    we, wn = vm.wind.at(vm.t_s)
    return VehicleState(
        sysid=vm.sysid,
        autopilot=vm.autopilot,
        time_s=vm.t_s,
        lat_deg=lat,
        lon_deg=lon,
        alt_amsl_m=alt,
        relative_alt_m=vm.rel_alt_m,
        vn_m_s=gv[1],
        ve_m_s=gv[0],
        vd_m_s=-vm.vel[2],
        groundspeed_m_s=math.hypot(*gv),
        airspeed_m_s=vm.air_speed_m_s if not vm.landed else 0.0,
        heading_deg=vm.yaw_deg,
        roll_deg=vm.roll_deg,
        pitch_deg=vm.pitch_deg,
        armed=vm.armed,
        mode=vm.mode,
        landed=vm.landed,
        battery_remaining_pct=100.0 * vm.battery.remaining,
        battery_voltage_v=vm.battery.voltage_v,
        battery_current_a=vm.battery.current_a,
        battery_consumed_mah=vm.battery.consumed_mah,
        gps_fix_type=vm.gps.fix_type,
        gps_satellites=vm.gps.satellites,
        home_lat_deg=hlat,
        home_lon_deg=hlon,
        home_alt_amsl_m=halt,
        mission_current_seq=vm.runner.seq,
        mission_count=vm.runner.wire_count(0),
        fence_count=len(vm.missions[1]),
        rally_count=len(vm.missions[2]),
        mission_finished=vm.runner.finished,
        failsafes=tuple(sorted(vm.failsafes)),
        reached_seqs=tuple(vm.runner.reached),
        images_captured=vm.images,
        wind_e_m_s=we,
        wind_n_m_s=wn,
        fence_breached=vm.fence_breached,
        booting=vm.t_s < vm.boot_until_s,
        signing_enabled=vm.signing_enabled,
        statustexts=tuple(vm.statustexts[-20:]),
    )


def capture(vm: VehicleModel) -> None:
    """Take one image: CAMERA_TRIGGER + CAMERA_FEEDBACK carry position and attitude."""
    vm.images += 1
    lat, lon, alt = vm.geo.to_lla(*vm.pos)
    vm.events.append(
        Event(
            "camera",
            {
                "img_idx": vm.images,
                "lat_deg": lat,
                "lon_deg": lon,
                "alt_amsl_m": alt,
                "rel_alt_m": vm.rel_alt_m,
                "roll_deg": vm.roll_deg,
                "pitch_deg": vm.pitch_deg,
                "yaw_deg": vm.yaw_deg,
            },
        )
    )
