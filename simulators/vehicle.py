"""The simulated multicopter: a deterministic state machine stepped by ``dt_s`` (no I/O).

One :class:`VehicleModel` per vehicle, owned by the fleet's scheduler thread. Commands return a
MAV_RESULT code; everything the vehicle reports (STATUSTEXT, MISSION_ITEM_REACHED, camera
captures) is queued as :class:`~simulators.state.Event` for the protocol layer.
"""

from __future__ import annotations

import math

import numpy as np

from dronekit_plzen import mission_items as mi
from simulators import modes as md
from simulators.failsafes import check_failsafes
from simulators.mission_exec import MissionRunner
from simulators.mission_store import fence_geometry
from simulators.params import Param, check_range, defaults
from simulators.physics import (
    GRAVITY_M_S2,
    Battery,
    Geodetic,
    Gps,
    Limits,
    Wind,
    flight_current_a,
    guide_velocity,
)
from simulators.state import SEVERITY_CRITICAL, SEVERITY_INFO, Event, VehicleState

# MAV_RESULT
RESULT_ACCEPTED = 0
RESULT_TEMPORARILY_REJECTED = 1
RESULT_DENIED = 2
RESULT_UNSUPPORTED = 3
RESULT_FAILED = 4

FORCE_MAGIC = 21196.0


class VehicleModel:
    """A multicopter with PX4 or ArduCopter behaviour. All angles degrees, distances metres."""

    def __init__(
        self,
        sysid: int,
        autopilot: str,
        home: tuple[float, float, float],
        seed: int = 0,
    ) -> None:
        if autopilot not in ("px4", "ardupilot"):
            raise ValueError(f"unknown autopilot {autopilot!r} (px4 or ardupilot)")
        self.sysid = sysid
        self.autopilot = autopilot
        self.px4 = autopilot == "px4"
        self.geo = Geodetic(*home)
        self.params: dict[str, Param] = defaults(autopilot, sysid)
        self.rng = np.random.default_rng([seed, sysid])
        self.t_s = 0.0
        self.boot_t0_s = 0.0
        self.boot_until_s = 0.0
        self.pos = [0.0, 0.0, 0.0]
        self.vel = [0.0, 0.0, 0.0]
        self.yaw_deg = 0.0
        self.roll_deg = 0.0
        self.pitch_deg = 0.0
        self.home = (0.0, 0.0, 0.0)
        self.home_locked = False  # set by DO_SET_HOME: arming then keeps it
        self.armed = False
        self.landed = True
        self.mode = "AUTO.LOITER" if self.px4 else "STABILIZE"
        self.missions: dict[int, list[mi.MissionItem]] = {0: [], 1: [], 2: []}
        self.runner = MissionRunner(self)
        self.events: list[Event] = []
        self.statustexts: list[str] = []
        cells, cap = (4, 5000.0) if self.px4 else (3, 3300.0)
        self.hover_current_a = 18.0 if self.px4 else 12.0
        self.battery = Battery(cells=cells, capacity_mah=cap)
        self.gps = Gps()
        self.wind = Wind()
        self.wind_comp = [0.0, 0.0]
        self.target: tuple[float, float, float] | None = None
        self.takeoff_up_m = 0.0
        self.speed_override_m_s: float | None = None
        self.failsafes: set[str] = set()
        self.fs_timers: dict[str, float] = {}
        self.gcs_last_s: float | None = None
        self.landed_since_s = 0.0
        self.armed_since_s = 0.0
        self.rtl_phase = ""
        self.rtl_target: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.rtl_timer_s = 0.0
        self.fence_breached = False
        self.trig_dist_m = 0.0
        self.trig_accum_m = 0.0
        self.capture_interval_s = 0.0
        self.capture_remaining = 0
        self.capture_next_s = 0.0
        self.images = 0
        self.signing_enabled = False

    # ------------------------------------------------------------------ helpers
    def p(self, name: str) -> float:
        return self.params[name].value

    def text(self, text: str, severity: int = SEVERITY_INFO) -> None:
        self.events.append(Event("statustext", {"severity": severity, "text": text}))
        self.statustexts.append(text)
        del self.statustexts[:-50]

    @property
    def behaviour(self) -> md.Behaviour:
        return md.behaviour_of(self.autopilot, self.mode)

    @property
    def rel_alt_m(self) -> float:
        return self.pos[2] - self.home[2]

    def limits(self) -> Limits:
        if self.px4:
            sp = self.speed_override_m_s or self.p("MPC_XY_CRUISE")
            return Limits(
                min(sp, self.p("MPC_XY_VEL_MAX")),
                self.p("MPC_Z_V_AUTO_UP"),
                self.p("MPC_Z_V_AUTO_DN"),
                self.p("MPC_ACC_HOR"),
                self.p("MPC_ACC_UP_MAX"),
                self.p("MPC_YAWRAUTO_MAX"),
            )
        sp = self.speed_override_m_s or self.p("WPNAV_SPEED") / 100.0
        return Limits(
            sp,
            self.p("WPNAV_SPEED_UP") / 100.0,
            self.p("WPNAV_SPEED_DN") / 100.0,
            self.p("WPNAV_ACCEL") / 100.0,
            2.5,
            60.0,
        )

    def land_speed_m_s(self) -> float:
        if self.px4:
            if self.rel_alt_m > self.p("MPC_LAND_ALT2"):
                return self.p("MPC_Z_V_AUTO_DN")
            return self.p("MPC_LAND_SPEED")
        if self.rel_alt_m > self.p("LAND_ALT_LOW") / 100.0:
            high = self.p("LAND_SPEED_HIGH") or self.p("WPNAV_SPEED_DN")
            return high / 100.0
        return self.p("LAND_SPEED") / 100.0

    def hold_here(self) -> None:
        self.target = (self.pos[0], self.pos[1], self.pos[2])

    # ------------------------------------------------------------------ modes
    def set_mode(self, name: str, reason: str = "command") -> int:
        """Switch mode as the firmware does: no position modes without GPS, no AUTO w/o mission."""
        if name not in md.mode_names(self.autopilot):
            return RESULT_UNSUPPORTED
        needs = md.PX4_NEEDS_POSITION if self.px4 else md.ARDUCOPTER_NEEDS_POSITION
        if reason == "command" and name in needs and not self.gps.has_fix:
            self.text(
                "Flight mode change failed: no position"
                if self.px4
                else f"Mode change to {name} failed: requires position",
                SEVERITY_CRITICAL,
            )
            return RESULT_DENIED if self.px4 else RESULT_FAILED
        behaviour = md.behaviour_of(self.autopilot, name)
        if behaviour is md.Behaviour.MISSION and reason == "command":
            if self.runner.nav_count() == 0:
                self.text(
                    "Auto: no mission" if not self.px4 else "Mission rejected: no mission",
                    SEVERITY_CRITICAL,
                )
                return RESULT_DENIED if self.px4 else RESULT_FAILED
            if (
                not self.px4
                and self.armed
                and self.landed
                and not self.runner.starts_with_takeoff()
            ):
                self.text("Auto: Missing Takeoff Cmd", SEVERITY_CRITICAL)
                return RESULT_FAILED
        if name == self.mode:
            return RESULT_ACCEPTED
        self.mode = name
        self.speed_override_m_s = (
            None if behaviour is not md.Behaviour.MISSION else self.speed_override_m_s
        )
        if behaviour in (md.Behaviour.HOLD, md.Behaviour.GUIDED, md.Behaviour.MANUAL):
            self.hold_here()
        elif behaviour is md.Behaviour.RTL:
            self.start_rtl()
        elif behaviour is md.Behaviour.MISSION:
            self.runner.resume()
        elif behaviour is md.Behaviour.LAND:
            self.target = None
        self.events.append(Event("mode", {"mode": name, "reason": reason}))
        return RESULT_ACCEPTED

    def failsafe_mode(self, behaviour: md.Behaviour, why: str) -> None:
        """Switch to the failsafe action's mode (no checks, as the firmware does)."""
        if behaviour is md.Behaviour.RTL and not self.gps.has_fix:
            behaviour = md.Behaviour.LAND
        name = md.mode_for(self.autopilot, behaviour)
        if self.px4:
            self.text(
                f"Failsafe activated: {why}, {name.split('.')[-1].lower()}", SEVERITY_CRITICAL
            )
        else:
            self.text(f"{why}: changed to {name} Mode", SEVERITY_CRITICAL)
        self.set_mode(name, reason="failsafe")
        if behaviour is md.Behaviour.HOLD:
            self.hold_here()  # also when already in the hold mode (e.g. a PX4 reposition)

    # ------------------------------------------------------------------ arming
    def preflight_failure(self) -> str | None:
        """The first failing pre-arm check, worded as the firmware words it, or None."""
        if self.t_s < self.boot_until_s:
            return (
                "Preflight Fail: system booting" if self.px4 else "PreArm: System not initialised"
            )
        if not self.gps.has_fix:
            return "Preflight Fail: GPS fix too low" if self.px4 else "PreArm: GPS 1: Bad fix"
        if self.px4:
            if self.battery.remaining <= self.p("BAT_CRIT_THR"):
                return "Preflight Fail: Battery critically low"
            if self.mode in ("AUTO.RTL", "AUTO.LAND"):
                return "Arming denied: not possible in this mode"
            needs_mission = self.mode == "AUTO.MISSION" or self.p("COM_ARM_MIS_REQ") > 0
            if needs_mission and self.runner.nav_count() == 0:
                return "Preflight Fail: No valid mission"
            return None
        low_v = self.p("BATT_LOW_VOLT")
        if (low_v > 0 and self.battery.voltage_v < low_v) or (
            self.p("BATT_ARM_VOLT") > 0 and self.battery.voltage_v < self.p("BATT_ARM_VOLT")
        ):
            return "PreArm: Battery 1 below minimum arming voltage"
        if self.mode in ("RTL", "LAND", "SMART_RTL", "CIRCLE"):
            return "Arm: Mode not armable"
        if self.mode == "AUTO":
            if not int(self.p("AUTO_OPTIONS")) & 1:
                return "Arm: Mode not armable"
            if self.runner.nav_count() == 0:
                return "Arm: Mode requires mission"
        return None

    def arm(self, force: bool = False) -> int:
        if self.armed:
            return RESULT_ACCEPTED
        reason = None if force else self.preflight_failure()
        if reason is not None:
            self.text(reason, SEVERITY_CRITICAL)
            return RESULT_DENIED if self.px4 else RESULT_FAILED
        self.armed = True
        self.armed_since_s = self.t_s
        self.landed_since_s = self.t_s
        self.failsafes.clear()
        if self.landed and not self.home_locked:
            self.home = (self.pos[0], self.pos[1], self.pos[2])
            self.events.append(Event("home", {}))
        self.text("Armed by external command" if self.px4 else "Arming motors")
        if self.behaviour is md.Behaviour.MISSION:
            self.runner.resume()
        return RESULT_ACCEPTED

    def disarm(self, force: bool = False, reason: str = "external command") -> int:
        if not self.armed:
            return RESULT_ACCEPTED
        if not self.landed and not force:
            self.text(
                "Disarming denied: not landed" if self.px4 else "Disarm: not landed",
                SEVERITY_CRITICAL,
            )
            return RESULT_DENIED if self.px4 else RESULT_FAILED
        self.armed = False
        self.vel = [0.0, 0.0, self.vel[2] if not self.landed else 0.0]
        self.text(f"Disarmed by {reason}" if self.px4 else "Disarming motors")
        return RESULT_ACCEPTED

    # ------------------------------------------------------------------ commands
    def takeoff(self, alt_param: float) -> int:
        """NAV_TAKEOFF: PX4 param7 is AMSL (NaN → MIS_TAKEOFF_ALT), ArduCopter's is relative."""
        if not self.armed:
            self.text(
                "Takeoff denied: disarmed" if self.px4 else "Takeoff: not armed", SEVERITY_CRITICAL
            )
            return RESULT_DENIED if self.px4 else RESULT_FAILED
        if not self.gps.has_fix:
            return RESULT_DENIED if self.px4 else RESULT_FAILED
        if self.px4:
            rel = (
                self.p("MIS_TAKEOFF_ALT")
                if math.isnan(alt_param)
                else alt_param - self.geo.alt0_m - self.home[2]
            )
            self.takeoff_up_m = self.home[2] + max(rel, 1.0)
            self.set_mode("AUTO.TAKEOFF")
            return RESULT_ACCEPTED
        if self.mode != "GUIDED" or not self.landed:
            self.text(
                "Takeoff: mode not GUIDED" if self.landed else "Takeoff: already flying",
                SEVERITY_CRITICAL,
            )
            return RESULT_FAILED
        self.takeoff_up_m = self.home[2] + max(alt_param, 1.0)
        self.target = (self.pos[0], self.pos[1], self.takeoff_up_m)
        self.landed = False
        return RESULT_ACCEPTED

    def land(self) -> int:
        return self.set_mode(md.mode_for(self.autopilot, md.Behaviour.LAND))

    def rtl(self) -> int:
        return self.set_mode(md.mode_for(self.autopilot, md.Behaviour.RTL))

    def mission_start(self, first: int = -1) -> int:
        if self.runner.nav_count() == 0:
            return RESULT_DENIED if self.px4 else RESULT_FAILED
        if first >= 0:
            self.runner.set_current(first)
        if self.px4:
            return self.set_mode("AUTO.MISSION")
        if not self.armed:
            return RESULT_FAILED
        result = self.set_mode("AUTO")
        if result == RESULT_ACCEPTED:
            self.runner.resume()
        return result

    def reposition(
        self, lat_deg: float, lon_deg: float, alt_amsl_m: float, speed_m_s: float, change_mode: bool
    ) -> int:
        if not self.gps.has_fix or not self.armed:
            return RESULT_DENIED if self.px4 else RESULT_FAILED
        if self.px4:
            self.set_mode("AUTO.LOITER")
        elif self.mode != "GUIDED":
            if not change_mode:
                return RESULT_DENIED
            self.set_mode("GUIDED")
        e, n, u = self.geo.to_enu(
            self.geo.to_lla(*self.pos)[0] if math.isnan(lat_deg) else lat_deg,
            self.geo.to_lla(*self.pos)[1] if math.isnan(lon_deg) else lon_deg,
            self.geo.alt0_m + self.pos[2] if math.isnan(alt_amsl_m) else alt_amsl_m,
        )
        self.target = (e, n, u)
        if speed_m_s > 0:
            self.speed_override_m_s = speed_m_s
        if self.landed and u > self.pos[2] + 0.5:
            self.landed = False
        return RESULT_ACCEPTED

    def change_speed(self, speed_m_s: float) -> int:
        if speed_m_s > 0:
            self.speed_override_m_s = speed_m_s
        return RESULT_ACCEPTED

    def set_home(self, use_current: bool, lat_deg: float, lon_deg: float, alt_amsl_m: float) -> int:
        if use_current:
            self.home = (self.pos[0], self.pos[1], self.pos[2])
        else:
            if not (-90 <= lat_deg <= 90 and -180 <= lon_deg <= 180):
                return RESULT_DENIED if self.px4 else RESULT_FAILED
            self.home = self.geo.to_enu(lat_deg, lon_deg, alt_amsl_m)
        self.home_locked = True
        self.events.append(Event("home", {}))
        return RESULT_ACCEPTED

    def set_trigger_distance(self, dist_m: float, trigger_now: bool) -> int:
        if dist_m < 0:
            return RESULT_DENIED
        self.trig_dist_m = dist_m
        self.trig_accum_m = 0.0
        if trigger_now or dist_m > 0:
            self.capture()
        return RESULT_ACCEPTED

    def start_capture(self, interval_s: float, count: int) -> int:
        if count == 1 or interval_s <= 0:
            self.capture()
            return RESULT_ACCEPTED
        self.capture_interval_s = interval_s
        self.capture_remaining = count if count > 0 else -1
        self.capture_next_s = self.t_s
        return RESULT_ACCEPTED

    def stop_capture(self) -> int:
        self.capture_interval_s = 0.0
        self.capture_remaining = 0
        return RESULT_ACCEPTED

    def capture(self) -> None:
        """Take one image: CAMERA_TRIGGER + CAMERA_FEEDBACK carry position and attitude."""
        self.images += 1
        lat, lon, alt = self.geo.to_lla(*self.pos)
        self.events.append(
            Event(
                "camera",
                {
                    "img_idx": self.images,
                    "lat_deg": lat,
                    "lon_deg": lon,
                    "alt_amsl_m": alt,
                    "rel_alt_m": self.rel_alt_m,
                    "roll_deg": self.roll_deg,
                    "pitch_deg": self.pitch_deg,
                    "yaw_deg": self.yaw_deg,
                },
            )
        )

    def set_param(self, name: str, value: float) -> None:
        """Set a parameter (BadInputError if unknown or out of range); wind params apply now."""
        if name not in self.params:
            from dronekit_plzen.errors import BadInputError

            raise BadInputError(f"unknown parameter {name}")
        check_range(name, self.params[name], value)
        self.params[name].value = value
        if name in ("SIM_WIND_SPD", "SIM_WIND_DIR"):
            e, n = Wind.from_direction(self.p("SIM_WIND_SPD"), self.p("SIM_WIND_DIR"))
            self.wind.steady_e_m_s, self.wind.steady_n_m_s = e, n
        if name == "SIM_GPS_DISABLE":
            self.gps.lost_until_s = math.inf if value else -1.0
        self.events.append(Event("param", {"name": name}))

    def gcs_heartbeat(self, sysid: int) -> None:
        if self.px4 or sysid == int(self.p("SYSID_MYGCS")):
            self.gcs_last_s = self.t_s

    def reboot(self) -> None:
        """Power cycle: silent for 2 s, disarmed on the ground, GPS re-acquires, mission kept."""
        if not self.landed:
            self.text("Reboot in flight: vehicle lost", SEVERITY_CRITICAL)
        self.armed = False
        self.landed = True
        self.pos[2] = 0.0
        self.vel = [0.0, 0.0, 0.0]
        self.boot_t0_s = self.t_s
        self.boot_until_s = self.t_s + 2.0
        self.gps.fix_after_s = self.t_s + 5.0
        self.mode = "AUTO.LOITER" if self.px4 else "STABILIZE"
        self.failsafes.clear()
        self.fs_timers.clear()
        self.gcs_last_s = None
        self.runner.reset()
        self.signing_enabled = self.signing_enabled
        self.events.append(Event("reboot", {}))

    def start_rtl(self) -> None:
        """Plan RTL: climb to the return altitude, fly to the nearest of home and rally points."""
        dests = [self.home] + [(e, n, self.home[2]) for e, n, _u in self.runner.rally_points_enu()]
        dest = min(dests, key=lambda d: math.hypot(d[0] - self.pos[0], d[1] - self.pos[1]))
        ret_rel = self.p("RTL_RETURN_ALT") if self.px4 else self.p("RTL_ALT") / 100.0
        ret_up = max(self.pos[2], dest[2] + ret_rel)
        self.rtl_target = (dest[0], dest[1], ret_up)
        self.rtl_phase = "climb" if not self.landed else "done"
        self.rtl_timer_s = 0.0

    # ------------------------------------------------------------------ stepping
    def _rtl_step(self, dt_s: float) -> tuple[tuple[float, float, float] | None, float | None]:
        e, n, up = self.rtl_target
        if self.rtl_phase == "climb":
            if self.pos[2] >= up - 0.5:
                self.rtl_phase = "return"
            return (self.pos[0], self.pos[1], up), None
        if self.rtl_phase == "return":
            if math.hypot(e - self.pos[0], n - self.pos[1]) < 1.0:
                self.rtl_phase = "descend"
            return (e, n, up), None
        if self.rtl_phase == "descend":
            if self.px4:
                final = self.home[2] + min(self.p("RTL_DESCEND_ALT"), up - self.home[2])
                delay = self.p("RTL_LAND_DELAY")
            else:
                final = up
                delay = self.p("RTL_LOIT_TIME") / 1000.0
            if self.pos[2] <= final + 0.5:
                self.rtl_timer_s += dt_s
                if delay >= 0 and self.rtl_timer_s >= delay:
                    alt_final = 0.0 if self.px4 else self.p("RTL_ALT_FINAL") / 100.0
                    self.rtl_phase = "land" if alt_final <= 0 else "final"
            return (e, n, final), None
        if self.rtl_phase == "final":
            return (e, n, self.home[2] + self.p("RTL_ALT_FINAL") / 100.0), None
        return (e, n, self.pos[2]), -self.land_speed_m_s()

    def step(self, dt_s: float) -> None:
        """Advance the vehicle by ``dt_s`` seconds of simulated time."""
        self.t_s += dt_s
        self.gps.step(self.t_s, dt_s, self.rng)
        target: tuple[float, float, float] | None = self.target
        vz: float | None = None
        b = self.behaviour
        flying = self.armed and not self.landed
        if self.armed and self.landed:
            if b is md.Behaviour.TAKEOFF:
                self.landed = False
            elif b is md.Behaviour.MISSION:
                self.runner.ground_start()
        if self.armed and not self.landed:
            if b is md.Behaviour.TAKEOFF:
                target = (self.pos[0], self.pos[1], self.takeoff_up_m)
                if self.pos[2] >= self.takeoff_up_m - 0.3:
                    self.text("Takeoff detected" if self.px4 else "Takeoff complete")
                    self.set_mode("AUTO.LOITER", reason="takeoff")
            elif b is md.Behaviour.MISSION:
                target, vz = self.runner.step(dt_s)
            elif b is md.Behaviour.RTL:
                target, vz = self._rtl_step(dt_s)
            elif b is md.Behaviour.LAND:
                target, vz = (self.pos[0], self.pos[1], self.pos[2]), -self.land_speed_m_s()
            if not self.gps.has_fix:
                target, vz = None, (-self.land_speed_m_s() if b is md.Behaviour.LAND else 0.0)
            self._fly(target, vz, dt_s)
        else:
            self.vel = [0.0, 0.0, 0.0]
        self._battery_and_camera(dt_s, flying)
        if self.armed:
            check_failsafes(self)
            if self.landed and self.t_s - self.landed_since_s > self._auto_disarm_s():
                self.disarm(reason="auto disarm" if not self.px4 else "landing")

    def _auto_disarm_s(self) -> float:
        if self.px4:
            if self.armed_since_s >= self.landed_since_s - 1e-9:
                pre = self.p("COM_DISARM_PRFLT")  # armed but never took off
                return pre if pre > 0 else math.inf
            v = self.p("COM_DISARM_LAND")
            return v if v > 0 else math.inf
        if self.armed_since_s >= self.landed_since_s - 1e-9:
            return self.p("DISARM_DELAY") or math.inf
        return 1.0  # LAND / end of mission: land complete → disarm

    def _fly(
        self, target: tuple[float, float, float] | None, vz: float | None, dt_s: float
    ) -> None:
        lim = self.limits()
        pos, vel = self.pos, self.vel
        old_v = (vel[0], vel[1])
        cmd = guide_velocity(
            (pos[0], pos[1], pos[2]), (vel[0], vel[1], vel[2]), target, lim, dt_s, vz
        )
        we, wn = self.wind.at(self.t_s)
        has_pos = self.gps.has_fix
        k = min(1.0, dt_s / 3.0)  # position controller integrator catching up with the wind
        self.wind_comp[0] += (we - self.wind_comp[0]) * k if has_pos else -self.wind_comp[0] * k
        self.wind_comp[1] += (wn - self.wind_comp[1]) * k if has_pos else -self.wind_comp[1] * k
        ge = cmd[0] + we - self.wind_comp[0]
        gn = cmd[1] + wn - self.wind_comp[1]
        ae, an = ge - we, gn - wn
        vmax_air = 12.0 if self.px4 else 15.0
        a = math.hypot(ae, an)
        if a > vmax_air:
            ae, an = ae * vmax_air / a, an * vmax_air / a
            ge, gn = ae + we, an + wn
        self.vel = [cmd[0], cmd[1], cmd[2]]
        pos[0] += ge * dt_s
        pos[1] += gn * dt_s
        pos[2] += cmd[2] * dt_s
        self._ground_v = (ge, gn)
        self._air_speed = math.hypot(ae, an)
        sp = math.hypot(ge, gn)
        if sp > 1.0:
            want = math.degrees(math.atan2(ge, gn)) % 360.0
            d = (want - self.yaw_deg + 540.0) % 360.0 - 180.0
            step = lim.yaw_rate_deg_s * dt_s
            self.yaw_deg = (self.yaw_deg + max(-step, min(step, d))) % 360.0
        acc_e = (cmd[0] - old_v[0]) / dt_s + 0.03 * ae * abs(ae)
        acc_n = (cmd[1] - old_v[1]) / dt_s + 0.03 * an * abs(an)
        yaw = math.radians(self.yaw_deg)
        fwd = acc_e * math.sin(yaw) + acc_n * math.cos(yaw)
        right = acc_e * math.cos(yaw) - acc_n * math.sin(yaw)
        self.pitch_deg = -math.degrees(math.atan2(fwd, GRAVITY_M_S2))
        self.roll_deg = math.degrees(math.atan2(right, GRAVITY_M_S2))
        if pos[2] <= 0.0 and cmd[2] <= 0.0:
            pos[2] = 0.0
            self.vel = [0.0, 0.0, 0.0]
            self._ground_v = (0.0, 0.0)
            self.roll_deg = self.pitch_deg = 0.0
            if not self.landed:
                self.landed = True
                self.landed_since_s = self.t_s
                self.text("Landing detected" if self.px4 else "Land complete")
                self.runner.on_landed()

    def _battery_and_camera(self, dt_s: float, flying: bool) -> None:
        air = getattr(self, "_air_speed", 0.0) if flying else 0.0
        self.battery.draw(
            flight_current_a(self.hover_current_a, air, max(0.0, self.vel[2]), flying, self.armed),
            dt_s,
        )
        if flying and self.trig_dist_m > 0:
            gv = getattr(self, "_ground_v", (0.0, 0.0))
            self.trig_accum_m += math.hypot(gv[0], gv[1]) * dt_s
            while self.trig_accum_m >= self.trig_dist_m:
                self.trig_accum_m -= self.trig_dist_m
                self.capture()
        if (
            self.capture_interval_s > 0
            and self.capture_remaining != 0
            and self.t_s >= self.capture_next_s
        ):
            self.capture()
            self.capture_next_s += self.capture_interval_s
            if self.capture_remaining > 0:
                self.capture_remaining -= 1

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> VehicleState:
        lat, lon, alt = self.geo.to_lla(*self.pos)
        hlat, hlon, halt = self.geo.to_lla(*self.home)
        gv = getattr(self, "_ground_v", (0.0, 0.0)) if not self.landed else (0.0, 0.0)
        we, wn = self.wind.at(self.t_s)
        return VehicleState(
            sysid=self.sysid,
            autopilot=self.autopilot,
            time_s=self.t_s,
            lat_deg=lat,
            lon_deg=lon,
            alt_amsl_m=alt,
            relative_alt_m=self.rel_alt_m,
            vn_m_s=gv[1],
            ve_m_s=gv[0],
            vd_m_s=-self.vel[2],
            groundspeed_m_s=math.hypot(*gv),
            airspeed_m_s=getattr(self, "_air_speed", 0.0) if not self.landed else 0.0,
            heading_deg=self.yaw_deg,
            roll_deg=self.roll_deg,
            pitch_deg=self.pitch_deg,
            armed=self.armed,
            mode=self.mode,
            landed=self.landed,
            battery_remaining_pct=100.0 * self.battery.remaining,
            battery_voltage_v=self.battery.voltage_v,
            battery_current_a=self.battery.current_a,
            battery_consumed_mah=self.battery.consumed_mah,
            gps_fix_type=self.gps.fix_type,
            gps_satellites=self.gps.satellites,
            home_lat_deg=hlat,
            home_lon_deg=hlon,
            home_alt_amsl_m=halt,
            mission_current_seq=self.runner.seq,
            mission_count=self.runner.wire_count(0),
            fence_count=len(self.missions[1]),
            rally_count=len(self.missions[2]),
            mission_finished=self.runner.finished,
            failsafes=tuple(sorted(self.failsafes)),
            reached_seqs=tuple(self.runner.reached),
            images_captured=self.images,
            wind_e_m_s=we,
            wind_n_m_s=wn,
            fence_breached=self.fence_breached,
            booting=self.t_s < self.boot_until_s,
            signing_enabled=self.signing_enabled,
            statustexts=tuple(self.statustexts[-20:]),
        )

    def fence(self) -> object:
        return fence_geometry(self.missions[1], self.geo)

    # ------------------------------------------------------------------ read-outs for telemetry
    def ground_velocity(self) -> tuple[float, float]:
        if self.landed:
            return 0.0, 0.0
        return getattr(self, "_ground_v", (0.0, 0.0))

    def air_speed(self) -> float:
        return 0.0 if self.landed else float(getattr(self, "_air_speed", 0.0))

    def snapshot_speed(self) -> tuple[float, float]:
        """(ground speed m/s, course over ground centidegrees)."""
        ge, gn = self.ground_velocity()
        return math.hypot(ge, gn), (math.degrees(math.atan2(ge, gn)) % 360.0) * 100.0
