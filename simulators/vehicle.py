"""The simulated multicopter: a deterministic state machine stepped by ``dt_s`` (no I/O).

One :class:`VehicleModel` per vehicle, owned by the fleet's scheduler thread. Commands return a
MAV_RESULT code; everything the vehicle reports (STATUSTEXT, MISSION_ITEM_REACHED, camera
captures) is queued as :class:`~simulators.state.Event` for the protocol layer.
"""

from __future__ import annotations

import math

import numpy as np

from dronekit_plzen import mission_items as mi
from dronekit_plzen import rtl_cone
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import AP_LATLON_TO_M, ap_from_degree
from dronekit_plzen.i18n import _
from simulators import flight, preflight
from simulators import modes as md
from simulators.failsafes import check_failsafes
from simulators.mission_exec import MissionRunner
from simulators.mission_store import fence_geometry
from simulators.params import Param, check_range, defaults
from simulators.physics import (
    Battery,
    Geodetic,
    Gps,
    Limits,
    Wind,
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
        boot_settle_s: float | None = None,
    ) -> None:
        if autopilot not in ("px4", "ardupilot"):
            raise ValueError(f"unknown autopilot {autopilot!r} (px4 or ardupilot)")
        settle = preflight.DEFAULT_SETTLE_S[autopilot] if boot_settle_s is None else boot_settle_s
        if not (0.0 <= settle < math.inf):
            raise BadInputError(
                _("boot settle time must be ≥ 0 s, got {v}").format(v=boot_settle_s)
            )
        #: simulated seconds after boot before the estimator uses GPS (not ready to arm)
        self.boot_settle_s = float(settle)
        #: home is reported (HOME_POSITION) once the estimator has a position, as the firmware
        self.home_known = False
        #: ArduCopter's PreArm report state (see :func:`simulators.preflight.report`)
        self.prearm_reported_s = 0.0
        self.prearm_passing = False
        self.prearm_report_now = False
        #: test-only fault: {seq: {field: value}} applied to uploaded mission items as stored
        self.corrupt_mission_items: dict[int, dict[str, float]] = {}
        #: test-only fault: the next N mission downloads are answered with the mission before the
        #: last upload (PX4 v1.16 SITL did so for 1–2 of ~60 downloads sent right after its ACK)
        self.stale_mission_reads = 0
        #: the missions as they were before the last upload of each type
        self.previous_missions: dict[int, list[mi.MissionItem]] = {}
        self.sysid = sysid
        self.autopilot = autopilot
        self.px4 = autopilot == "px4"
        self.geo = Geodetic(*home)
        self.params: dict[str, Param] = defaults(autopilot, sysid)
        #: parameters this firmware build does not have (an older version): the link never
        #: answers them, and the vehicle flies with their defaults
        self.absent_params: frozenset[str] = frozenset()
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
        #: PX4: a mission just uploaded is not valid before this time (simulated seconds): its
        #: navigator checks it in its next cycle, and commander re-reads the result every
        #: 100 ms; MISSION_START meanwhile is DENIED ("No valid mission")
        self.px4_mission_checked_s = 0.0
        self.runner = MissionRunner(self)
        self.events: list[Event] = []
        self.statustexts: list[str] = []
        cells, cap = (4, 5000.0) if self.px4 else (3, 3300.0)
        self.hover_current_a = 18.0 if self.px4 else 12.0
        self.battery = Battery(cells=cells, capacity_mah=cap)
        self.gps = Gps()
        self.wind = Wind()
        self.wind_comp = [0.0, 0.0]
        self.ground_v: tuple[float, float] = (0.0, 0.0)
        self.air_speed_m_s = 0.0
        self.target: tuple[float, float, float] | None = None
        self.takeoff_up_m = 0.0
        self.speed_override_m_s: float | None = None
        #: ArduCopter: a mission's climb and descent speeds (DO_CHANGE_SPEED types 2 and 3,
        #: ModeAuto::desired_speed_override.up/down), cleared with the horizontal one
        self.climb_override_m_s: float | None = None
        self.descent_override_m_s: float | None = None
        #: PX4: a mission's ground-speed change flown on the leg it was issued with, over the
        #: navigator's speed (FlightModeManager::overrideCruiseSpeed); the leg after drops it
        self.leg_speed_m_s: float | None = None
        self.failsafes: set[str] = set()
        self.fs_timers: dict[str, float] = {}
        self.gcs_last_s: float | None = None
        self.landed_since_s = 0.0
        self.armed_since_s = 0.0
        self.rtl_phase = ""
        self.rtl_target: tuple[float, float, float] = (0.0, 0.0, 0.0)
        #: what PX4 flies after ``rtl_target`` (RTL_TYPE 2/4, a mission landing), then lands
        self.rtl_path: list[tuple[float, float, float]] = []
        #: ArduCopter's terrain database: the block around home and the sub-blocks the ground
        #: station has filled (TERRAIN_DATA), see :meth:`terrain_step`
        self.terrain_bits = 0
        self.terrain_block: tuple[int, int, int] | None = None
        self.terrain_asked_s = -1e9
        self.rtl_timer_s = 0.0
        self.fence_breached = False
        self.trig_dist_m = 0.0
        self.trig_accum_m = 0.0
        self.capture_interval_s = 0.0
        self.capture_remaining = 0
        self.capture_next_s = 0.0
        self.images = 0
        self.signing_enabled = False
        #: DO_SET_ROI_LOCATION targets received: (sim time s, lat deg, lon deg, alt m AMSL)
        self.roi_reports: list[tuple[float, float, float, float]] = []

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
            sp = self.leg_speed_m_s or self.speed_override_m_s or self.p("MPC_XY_CRUISE")
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
            self.climb_override_m_s or self.p("WPNAV_SPEED_UP") / 100.0,
            self.descent_override_m_s or self.p("WPNAV_SPEED_DN") / 100.0,
            self.p("WPNAV_ACCEL") / 100.0,
            2.5,
            60.0,
        )

    def land_speed_m_s(self) -> float:
        if self.px4:
            # FlightTaskAuto::_prepareLandSetpoints: MPC_Z_VEL_MAX_DN above MPC_LAND_ALT1,
            # MPC_LAND_SPEED below MPC_LAND_ALT2, linear with the height between them, and
            # MPC_LAND_CRWL below MPC_LAND_ALT3 with a distance sensor, which SIH has (the
            # simulator had descended at MPC_Z_V_AUTO_DN down to MPC_LAND_ALT2)
            if self.rel_alt_m <= self.p("MPC_LAND_ALT3"):
                return self.p("MPC_LAND_CRWL")
            alt1, alt2 = (
                max(self.p("MPC_LAND_ALT1"), self.p("MPC_LAND_ALT2")),
                self.p("MPC_LAND_ALT2"),
            )
            slow, fast = self.p("MPC_LAND_SPEED"), self.p("MPC_Z_VEL_MAX_DN")
            if self.rel_alt_m >= alt1:
                return fast
            if self.rel_alt_m <= alt2 or alt1 <= alt2:
                return slow
            return slow + (fast - slow) * (self.rel_alt_m - alt2) / (alt1 - alt2)
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
        # ArduCopter checks the position only when armed (disarmed, its arming checks do), and
        # then needs the EKF's absolute position, not only a GPS fix (Copter::position_ok)
        needs = md.PX4_NEEDS_POSITION if self.px4 else md.ARDUCOPTER_NEEDS_POSITION
        no_position = (
            not self.gps.has_fix
            if self.px4
            else self.armed and name != self.mode and not preflight.ekf_position_ok(self)
        )
        if reason == "command" and name in needs and no_position:
            self.text(
                "Flight mode change failed: no position"
                if self.px4
                else f"Mode change to {name} failed: requires position",
                SEVERITY_CRITICAL,
            )
            return RESULT_DENIED if self.px4 else RESULT_FAILED
        behaviour = md.behaviour_of(self.autopilot, name)
        if behaviour is md.Behaviour.MISSION and reason == "command":
            if self.runner.nav_count() == 0 or (self.px4 and not self.runner.px4_valid()):
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
        if behaviour is not md.Behaviour.MISSION:
            self.speed_override_m_s = self.climb_override_m_s = self.descent_override_m_s = None
        self.leg_speed_m_s = None
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
        return preflight.preflight_failure(self)

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
        if self.px4 and not self.runner.px4_valid():
            self.text("Mission start denied! No valid mission", SEVERITY_CRITICAL)
            return RESULT_DENIED
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

    def change_speed(
        self, speed_m_s: float, speed_type: float = 1.0, *, command: bool = False
    ) -> int:
        """DO_CHANGE_SPEED. PX4's navigator sets the cruise speed from a positive speed of any
        type and resets it without one. ArduCopter sets the horizontal speed from types 0 and 1,
        the climb speed from 2 and the descent speed from 3 (``ModeAuto::do_change_speed``,
        anything else nothing) and ignores a speed that is not positive, which a command (not
        a mission item) is denied.
        PX4's flight mode manager flies the leg a mission's ground-speed change was issued with
        at that speed, whatever the navigator's (:attr:`leg_speed_m_s`)."""
        if self.px4:
            self.speed_override_m_s = speed_m_s if speed_m_s > 0 else None
            ground = math.isfinite(speed_type) and 1.0 <= speed_type + 0.5 < 2.0
            if ground and speed_m_s > 0 and not command:  # FlightModeManager's override
                self.leg_speed_m_s = speed_m_s
            return RESULT_ACCEPTED
        if not speed_m_s > 0:
            return RESULT_DENIED if command else RESULT_ACCEPTED
        kind = math.trunc(speed_type) & 0xFF if math.isfinite(speed_type) else 1
        if kind in (0, 1):
            self.speed_override_m_s = speed_m_s
        elif kind == 2:
            self.climb_override_m_s = speed_m_s
        elif kind == 3:
            self.descent_override_m_s = speed_m_s
        return RESULT_ACCEPTED

    def set_home(self, use_current: bool, lat_deg: float, lon_deg: float, alt_amsl_m: float) -> int:
        if use_current:
            self.home = (self.pos[0], self.pos[1], self.pos[2])
        else:
            if not (-90 <= lat_deg <= 90 and -180 <= lon_deg <= 180):
                return RESULT_DENIED if self.px4 else RESULT_FAILED
            self.home = self.geo.to_enu(lat_deg, lon_deg, alt_amsl_m)
        self.home_locked = True
        self.home_known = True
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
        flight.capture(self)

    def set_param(self, name: str, value: float) -> None:
        """Set a parameter (BadInputError if unknown or out of range); wind params apply now."""
        if name not in self.params:
            raise BadInputError(_("unknown parameter {name}").format(name=name))
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
        self.home_known = self.home_locked
        self.prearm_reported_s = self.t_s
        self.prearm_passing = False
        self.gps.fix_after_s = self.t_s + 5.0
        self.mode = "AUTO.LOITER" if self.px4 else "STABILIZE"
        self.failsafes.clear()
        self.fs_timers.clear()
        self.gcs_last_s = None
        self.runner.reset()
        self.signing_enabled = self.signing_enabled
        self.events.append(Event("reboot", {}))

    def start_rtl(self) -> None:
        """Plan RTL as the firmware does: climb to the return altitude, fly to the destination
        and land; PX4's RTL_TYPE 2 and 4 fly the mission path backwards, or on to its landing.

        The return altitude is the firmware's, with its cone near the destination
        (:func:`dronekit_plzen.rtl_cone.return_alt_m` from this vehicle's own parameters); the
        destination is the nearest of home and the rally points (PX4: as RTL_TYPE chooses,
        :func:`dronekit_plzen.rtl_cone.px4_destinations`)."""
        ap = "px4" if self.px4 else "ardupilot"
        rtl = rtl_cone.from_param_values(ap, {k: self.p(k) for k in rtl_cone.PARAM_NAMES[ap]})
        rally_enu = self.runner.rally_points_enu()
        rally = [(e, n, self.home[2]) for e, n, _u in rally_enu]
        target_alt = 0.0  # ArduCopter: at least as high as the rally point it returns to
        self.rtl_path = []
        self.rtl_timer_s = 0.0
        if self.landed:
            self.rtl_target, self.rtl_phase = (self.pos[0], self.pos[1], self.pos[2]), "done"
            return
        here = (self.pos[0], self.pos[1])
        dest = min([self.home, *rally], key=lambda d: math.hypot(d[0] - here[0], d[1] - here[1]))
        if self.px4:
            runner = self.runner
            marks = mi.px4_landing(runner.items)
            start, land = marks if marks is not None else (None, None)
            in_mission = self.behaviour is md.Behaviour.MISSION
            # RtlMissionFastReverse: from the item before the current one when RTL interrupts
            # the mission, else from the closest position item (setMissionToClosestItem)
            seq = runner.seq - 1 if in_mission else runner.closest_position_item(here)
            nearer = start is not None and start - seq - 1 < seq + 1
            kind = rtl_cone.px4_return_kind(rtl.rtl_type, start is not None, nearer)
            if kind != "direct":
                if kind == "reverse":
                    path = runner.path_enu(list(range(seq, -1, -1)))
                else:
                    path = runner.path_enu(list(range(start or 0, (land or 0) + 1)))
                if path:  # along the mission at its altitudes, then land at the last one
                    self.rtl_path = path[1:]
                    self.rtl_target, self.rtl_phase = path[0], "path"
                    return
            else:

                def dist(p: tuple[float, float, float]) -> float:
                    return math.hypot(p[0] - here[0], p[1] - here[1])

                landing = (
                    runner.path_enu(list(range(start, land + 1)))
                    if start is not None and land is not None
                    else []
                )
                pick = rtl_cone.px4_destinations(
                    rtl.rtl_type,
                    dist(self.home),
                    dist(landing[0]) if landing else None,
                    [
                        (dist(r), math.hypot(r[0] - self.home[0], r[1] - self.home[1]))
                        for r in rally
                    ],
                )
                dest = self.home if pick == -1 else landing[0] if pick == -2 else rally[pick]
                if pick == -2:
                    dest = (dest[0], dest[1], self.home[2])
                    self.rtl_path = landing[1:]
        else:  # AP_Rally::calc_best_rally_or_home_location
            pick = rtl_cone.ardupilot_destination(
                math.hypot(self.home[0] - here[0], self.home[1] - here[1]),
                [math.hypot(r[0] - here[0], r[1] - here[1]) for r in rally],
                rtl.rally_limit_km,
                rtl.rally_incl_home,
            )
            dest = self.home if pick < 0 else rally[pick]
            if pick >= 0:
                target_alt = rally_enu[pick][2] - self.home[2]
        if not self.px4 and rtl.alt_type == 1 and not self.terrain_ready:
            # no terrain data (ModeRTL::compute_return_target's fallback); with it the
            # simulator's flat ground is the terrain, so the return is the same
            self.text("RTL: no terrain data, using alt-above-home", SEVERITY_CRITICAL)
        at = here
        if not self.px4:
            # ArduCopter measures from its stopping point (ModeRTL::build_path), not from where
            # it is: v·|v| / (2·WPNAV_ACCEL) ahead
            acc = max(0.5, self.p("WPNAV_ACCEL") / 100.0)
            speed = math.hypot(self.vel[0], self.vel[1])
            at = (at[0] + self.vel[0] * speed / (2 * acc), at[1] + self.vel[1] * speed / (2 * acc))
        dist_m = math.hypot(dest[0] - at[0], dest[1] - at[1])
        ret_up = dest[2] + rtl_cone.return_alt_m(rtl, dist_m, self.pos[2] - dest[2], target_alt)
        self.rtl_target = (dest[0], dest[1], ret_up)
        self.rtl_phase = "climb"

    # ------------------------------------------------------------------ stepping
    def _rtl_step(self, dt_s: float) -> tuple[tuple[float, float, float] | None, float | None]:
        return flight.rtl_step(self, dt_s)

    @property
    def terrain_needed(self) -> bool:
        """ArduCopter needs its terrain database to arm: RTL above the terrain, or a mission
        with terrain-frame items (AP_Arming::terrain_database_required)."""
        if self.px4:
            return False
        return self.p("RTL_ALT_TYPE") == 1 or any(
            mi.canonical_frame(it.frame) == mi.FRAME_GLOBAL_TERRAIN_ALT
            for it in self.missions[mi.MISSION_TYPE_MISSION]
        )

    @property
    def terrain_ready(self) -> bool:
        return self.terrain_block is not None and self.terrain_bits == (1 << 56) - 1

    def terrain_step(self) -> None:
        """Ask the ground station for the missing sub-blocks of the terrain block around home
        once a second (AP_Terrain::send_request), while they are needed."""
        if not self.terrain_needed or not self.home_known or self.terrain_ready:
            return
        if self.t_s - self.terrain_asked_s < 1.0:
            return
        self.terrain_asked_s = self.t_s
        lat, lon, _alt = self.geo.to_lla(self.home[0], self.home[1], self.home[2])
        block = (*terrain_block_corner(lat, lon, int(self.p("TERRAIN_SPACING"))),)
        if block != self.terrain_block:
            self.terrain_block, self.terrain_bits = block, 0
        mask = ((1 << 56) - 1) & ~self.terrain_bits
        self.events.append(
            Event(
                "terrain_request",
                {"lat": block[0], "lon": block[1], "spacing": block[2], "mask": mask},
            )
        )

    def terrain_data(self, lat_e7: int, lon_e7: int, spacing_m: int, gridbit: int) -> None:
        """A TERRAIN_DATA for the block around home fills its sub-block."""
        if self.terrain_block == (lat_e7, lon_e7, spacing_m) and 0 <= gridbit < 56:
            self.terrain_bits |= 1 << gridbit

    def step(self, dt_s: float) -> None:
        """Advance the vehicle by ``dt_s`` seconds of simulated time."""
        self.t_s += dt_s
        self.gps.step(self.t_s, dt_s, self.rng)
        self.terrain_step()
        if not self.home_known and preflight.home_due(self):
            self.home_known = True
            self.events.append(Event("home", {}))
        if not self.armed and (reason := preflight.report(self)) is not None:
            self.text(reason, SEVERITY_CRITICAL)
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
        flight.fly(self, target, vz, dt_s)

    def _battery_and_camera(self, dt_s: float, flying: bool) -> None:
        flight.battery_and_camera(self, dt_s, flying)

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> VehicleState:
        return flight.snapshot(self)

    def fence(self) -> object:
        return fence_geometry(self.missions[1], self.geo)

    # ------------------------------------------------------------------ read-outs for telemetry
    def ground_velocity(self) -> tuple[float, float]:
        if self.landed:
            return 0.0, 0.0
        return self.ground_v

    def air_speed(self) -> float:
        return 0.0 if self.landed else self.air_speed_m_s

    def snapshot_speed(self) -> tuple[float, float]:
        """(ground speed m/s, course over ground centidegrees)."""
        ge, gn = self.ground_velocity()
        return math.hypot(ge, gn), (math.degrees(math.atan2(ge, gn)) % 360.0) * 100.0


def terrain_block_corner(lat_deg: float, lon_deg: float, spacing_m: int) -> tuple[int, int, int]:
    """(lat, lon in degE7, spacing) of the south-west corner of ArduPilot's terrain block that
    holds (``lat_deg``, ``lon_deg``): ``AP_Terrain::calculate_grid_info`` (blocks of 24 × 28
    steps from a whole-degree reference, ``Location::offset`` to the corner)."""
    s = float(max(1, spacing_m))
    ref_lat_f, ref_lon_f, dn, de = ap_from_degree(
        round(lat_deg * 1e7) * 1e-7, round(lon_deg * 1e7) * 1e-7
    )
    ref_lat, ref_lon = int(ref_lat_f), int(ref_lon_f)
    north = (int(dn / s) // 24) * 24 * s
    east = (int(de / s) // 28) * 28 * s
    dlat = int(north / AP_LATLON_TO_M)
    dlon = int(
        east / AP_LATLON_TO_M / max(math.cos(math.radians((ref_lat + dlat / 2) * 1e-7)), 0.01)
    )
    return ref_lat + dlat, ref_lon + dlon, int(s)
