"""Mission execution: PX4's ``Mission`` navigator mode and ArduCopter's ``ModeAuto`` (pure).

ArduPilot keeps home at sequence 0 and starts flying at 1; PX4 starts at 0 and inserts a
vertical take-off when armed on the ground with a mission that does not begin with one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from dronekit_plzen import ap_spline
from dronekit_plzen import mission_items as mi
from simulators.mission_store import item_target_enu
from simulators.state import Event

if TYPE_CHECKING:
    from simulators.vehicle import VehicleModel

Target = tuple[float, float, float] | None


#: the DO commands ArduPilot's ``AP_Mission::verify_command`` completes itself: ArduCopter sends
#: no MISSION_ITEM_REACHED for them (only the commands its ``ModeAuto::verify_command`` verifies
#: are reported), nor for DO_JUMP, which is followed while the next command is looked up
AP_MISSION_VERIFIED = frozenset(
    {
        mi.CMD_DO_JUMP,
        211,  # DO_GRIPPER
        183,  # DO_SET_SERVO
        181,  # DO_SET_RELAY
        184,  # DO_REPEAT_SERVO
        182,  # DO_REPEAT_RELAY
        202,  # DO_DIGICAM_CONFIGURE
        203,  # DO_DIGICAM_CONTROL
        206,  # DO_SET_CAM_TRIGG_DIST
        208,  # DO_PARACHUTE
        215,  # DO_SET_RESUME_REPEAT_DIST
        216,  # DO_SPRAYER
        217,  # DO_SEND_SCRIPT_MESSAGE
        218,  # DO_AUX_FUNCTION
        600,  # JUMP_TAG
        1000,  # DO_GIMBAL_MANAGER_PITCHYAW
        531,  # SET_CAMERA_ZOOM
        532,  # SET_CAMERA_FOCUS
        534,  # SET_CAMERA_SOURCE
        2000,  # IMAGE_START_CAPTURE
        2001,  # IMAGE_STOP_CAPTURE
        2500,  # VIDEO_START_CAPTURE
        2501,  # VIDEO_STOP_CAPTURE
    }
)


class MissionRunner:
    """Progress through the stored mission of one vehicle model."""

    def __init__(self, vm: VehicleModel) -> None:
        self.vm = vm
        self.first = 0 if vm.px4 else 1
        self.seq = self.first
        self.finished = False
        self.reached: list[int] = []
        self.jump_counts: dict[int, int] = {}
        self._arrived_s: float | None = None
        self._land_descending = False
        self._auto_takeoff_up: float | None = None
        #: PX4: the take-off item being flown began on the ground (in the air it is a waypoint)
        self._ground_takeoff = False
        #: ArduCopter's LOITER_TURNS under way: (start angle from north, radians turned so far),
        #: and the place it flies to first (east, north; set once, as circle_movetoedge_start)
        self._circle: tuple[float, float] | None = None
        self._circle_edge: tuple[float, float] | None = None
        #: where the aircraft was when the current item started (latched at its first step):
        #: ArduCopter's target for an item without a position
        self._in_place: tuple[float, float, float] | None = None
        #: NAV_PAYLOAD_PLACE in progress: (phase, east, north, descent start up, phase start s)
        self._place: tuple[str, float, float, float, float] | None = None
        #: ArduCopter's running condition (CONDITION_DELAY or CONDITION_DISTANCE: command, value,
        #: start s, sequence) and the DO commands after it that wait for it (sequence numbers)
        self._condition: tuple[int, float, float, int] | None = None
        self._waiting: list[int] = []
        #: ArduCopter's spline leg being flown: the curve (n × 3, ENU) and the index reached
        #: (the curve's points, the distance along it to each, the target's distance)
        self._spline: tuple[np.ndarray, np.ndarray, float] | None = None
        self._spline_vd: ap_spline.Vec = ap_spline.ZERO
        #: the last destination (a leg's origin in AC_WPNav) and the leg before when the aircraft
        #: did not stop at its end (ap_spline.origin_vector)
        self._last_dest: tuple[float, float, float] | None = None
        self._prev_leg: tuple[bool, ap_spline.Vec, ap_spline.Vec, ap_spline.Vec] | None = None

    @property
    def items(self) -> list[mi.MissionItem]:
        return self.vm.missions[mi.MISSION_TYPE_MISSION]

    def wire_count(self, mission_type: int) -> int:
        """Count a download reports (ArduPilot's mission always holds home at 0)."""
        n = len(self.vm.missions[mission_type])
        if mission_type == mi.MISSION_TYPE_MISSION and not self.vm.px4:
            return max(n, 1)
        return n

    def nav_count(self) -> int:
        return sum(1 for it in self.items[self.first :] if it.is_nav)

    def px4_valid(self) -> bool:
        """PX4's view of the stored mission: something to fly, and every command one its
        missions run (``FeasibilityChecker``; CONDITION_DELAY/DISTANCE are stored on upload but
        make the mission invalid: PX4 then treats it as no mission), once checked: not in the
        moment after an upload (:data:`simulators.mission_proto.PX4_MISSION_CHECK_S`)."""
        return (
            self.vm.t_s >= self.vm.px4_mission_checked_s
            and self.nav_count() > 0
            and all(it.command in mi.PX4_MISSION_COMMANDS for it in self.items[self.first :])
        )

    def starts_with_takeoff(self) -> bool:
        for it in self.items[self.first :]:
            if it.is_nav:
                return it.command == mi.CMD_NAV_TAKEOFF
        return False

    def rally_points_enu(self) -> list[tuple[float, float, float]]:
        """The rally points (east, north, up at their own altitude)."""
        return [
            item_target_enu(r, self.vm.geo, self.vm.home[2])
            for r in self.vm.missions[mi.MISSION_TYPE_RALLY]
        ]

    def closest_position_item(self, here: tuple[float, float]) -> int:
        """The index of the position item nearest ``here`` (east, north), -1 without one."""
        best, best_d = -1, math.inf
        for j, it in enumerate(self.items):
            if it.command in mi.POSITION_COMMANDS and it.has_position:
                e, n, _u = item_target_enu(it, self.vm.geo, self.vm.home[2])
                d = math.hypot(e - here[0], n - here[1])
                if d < best_d:
                    best, best_d = j, d
        return best

    def path_enu(self, seqs: list[int]) -> list[tuple[float, float, float]]:
        """The ENU targets of the position items ``seqs`` (a take-off without a position: at
        home, at its altitude)."""
        out: list[tuple[float, float, float]] = []
        for j in seqs:
            it = self.items[j]
            if it.command not in mi.POSITION_COMMANDS:
                continue
            if it.has_position:
                out.append(item_target_enu(it, self.vm.geo, self.vm.home[2]))
            elif it.command == mi.CMD_NAV_TAKEOFF:
                out.append((self.vm.home[0], self.vm.home[1], self.vm.home[2] + it.alt_m))
        return out

    def reset(self, clear_reached: bool = False) -> None:
        self.seq = self.first
        self.finished = False
        if clear_reached:
            self.reached = []
        self.jump_counts = {}
        self._arrived_s = None
        self._land_descending = False
        self._in_place = None
        self._auto_takeoff_up = None
        self._ground_takeoff = False
        self._drop_conditions()
        self._spline = None
        self._circle = None
        self._circle_edge = None
        self._last_dest = None
        self._prev_leg = None

    def set_current(self, seq: int) -> bool:
        if not (0 <= seq < max(len(self.items), 1)):
            return False
        self.seq = max(seq, self.first)
        self.finished = False
        self.jump_counts = {}
        self._arrived_s = None
        self._land_descending = False
        self._in_place = None
        self._drop_conditions()
        self._spline = None
        self._circle = None
        self._circle_edge = None
        self._prev_leg = None
        self.vm.events.append(Event("mission_current", {"seq": self.seq}))
        return True

    def resume(self) -> None:
        """Entering mission mode: restart a finished mission, otherwise continue where it was."""
        if self.finished or self.seq >= len(self.items):
            self.reset(clear_reached=True)
        elif self.seq == self.first:
            self.reached = []
        self._enter(self.seq)

    def ground_start(self) -> None:
        """Armed on the ground in mission mode: take off if the mission lets the firmware."""
        if self.finished or self.seq >= len(self.items):
            return
        it = self.items[self.seq]
        if it.command == mi.CMD_NAV_TAKEOFF:
            self.vm.landed = False
            self._ground_takeoff = True
        elif self.vm.px4:
            # PX4 (MissionBase::checkClimbRequired): straight up to the first position item's
            # altitude when it is above the altitude acceptance radius, before flying to it
            up = self.vm.home[2] + self.vm.p("MIS_TAKEOFF_ALT")
            for nxt in self.items[self.seq :]:
                if nxt.is_nav and nxt.command in mi.POSITION_COMMANDS and nxt.has_position:
                    first_up = item_target_enu(nxt, self.vm.geo, self.vm.home[2])[2]
                    if first_up > self.vm.pos[2] + self.vm.p("NAV_MC_ALT_RAD"):
                        up = first_up
                    break
            self._auto_takeoff_up = up
            self.vm.landed = False

    def on_landed(self) -> None:
        if self.vm.behaviour.value != "mission" or self.finished or self.seq >= len(self.items):
            return
        if self.items[self.seq].command in (mi.CMD_NAV_LAND, mi.CMD_NAV_RETURN_TO_LAUNCH):
            self._complete()

    # -------------------------------------------------------------- internals
    def _reached(self, seq: int) -> None:
        self.reached.append(seq)
        if self.vm.px4 or self.items[seq].command not in AP_MISSION_VERIFIED:
            self.vm.events.append(Event("item_reached", {"seq": seq}))

    def _drop_conditions(self) -> None:
        self._condition = None
        self._waiting = []

    def _enter(self, seq: int) -> None:
        vm = self.vm
        # ArduPilot's advance_current_nav_cmd: the DO commands of the finished leg that still
        # waited for a condition are abandoned, never run
        self._drop_conditions()
        vm.leg_speed_m_s = None  # PX4: a ground-speed override lasts one leg
        for _guard in range(1000):
            if seq >= len(self.items):
                self._finish()
                return
            self.seq = seq
            self._arrived_s = None
            self._land_descending = False
            self._in_place = None
            self._place = None
            self._spline = None
            self._circle = None
            self._circle_edge = None
            vm.events.append(Event("mission_current", {"seq": seq}))
            it = self.items[seq]
            if it.is_nav:
                if it.command == mi.CMD_NAV_RETURN_TO_LAUNCH:
                    vm.start_rtl()
                return
            if self._condition is not None and it.command != mi.CMD_DO_JUMP:
                self._waiting.append(seq)  # runs when the condition before it is met
                seq += 1
                continue
            jump = self._do(it, seq)
            if self._condition is None:
                self._reached(seq)
            seq = jump if jump is not None else seq + 1
        self._finish()

    def _run_waiting(self) -> None:
        """ArduPilot's ``advance_current_do_cmd``: once the running condition is met, the DO
        commands after it run in turn, up to the next condition."""
        while self._condition is None and self._waiting:
            seq = self._waiting.pop(0)
            self._do(self.items[seq], seq)
            if self._condition is None:
                self._reached(seq)

    def _condition_met(self, target: Target) -> bool:
        """``verify_wait_delay`` / ``verify_within_distance`` of ArduCopter's ModeAuto: the
        delay has passed, or the aircraft is within the distance (horizontal) of ``target``, the
        position it flies to."""
        assert self._condition is not None
        command, value, start_s, _seq = self._condition
        vm = self.vm
        if command == mi.CMD_CONDITION_DELAY:
            return vm.t_s - start_s > max(value, 0.0)
        if target is None:
            return False
        return math.hypot(target[0] - vm.pos[0], target[1] - vm.pos[1]) < max(value, 0.0)

    def _do(self, it: mi.MissionItem, seq: int) -> int | None:
        vm = self.vm
        c = it.command
        if c == mi.CMD_DO_JUMP:
            done = self.jump_counts.get(seq, 0)
            if it.param2 < 0 or done < it.param2:
                self.jump_counts[seq] = done + 1
                return max(int(it.param1), self.first)
        elif c == mi.CMD_DO_CHANGE_SPEED:
            vm.change_speed(it.param2, it.param1)
        elif c == mi.CMD_DO_SET_CAM_TRIGG_DIST:
            vm.set_trigger_distance(it.param1, it.param3 == 1)
        elif c == mi.CMD_IMAGE_START_CAPTURE:
            vm.start_capture(it.param2, int(it.param3))
        elif c == mi.CMD_IMAGE_STOP_CAPTURE:
            vm.stop_capture()
        elif c == mi.CMD_DO_DIGICAM_CONTROL:
            vm.capture()
        elif c == mi.CMD_DO_SET_HOME:
            vm.set_home(it.param1 == 1, it.lat_deg, it.lon_deg, it.alt_m)
        elif c == mi.CMD_DO_GRIPPER:  # 0 = release, 1 = grab
            action = "release" if int(it.param2) == 0 else "grab"
            vm.events.append(Event("gripper", {"seq": seq, "action": action}))
        elif c in (mi.CMD_DO_SET_SERVO, mi.CMD_DO_REPEAT_SERVO):
            ev = {"seq": seq, "channel": int(it.param1), "pwm": int(it.param2)}
            vm.events.append(Event("servo", ev))
        elif c in (mi.CMD_CONDITION_DELAY, mi.CMD_CONDITION_DISTANCE) and not vm.px4:
            # the DO commands after it wait until it is met (ArduPilot's AP_Mission runs one DO
            # command at a time and moves on when verify_command says it is done)
            self._condition = (c, it.param1, vm.t_s, seq)
        return None

    def _complete(self) -> None:
        self._note_leg(self.items[self.seq])
        self._reached(self.seq)
        self._enter(self.seq + 1)

    def _note_leg(self, it: mi.MissionItem) -> None:
        """Remember the leg just flown for a spline after it (AC_WPNav's origin and origin
        vector): a waypoint or spline without a hold continues, anything else stops."""
        if self.vm.px4:
            return
        dest = self._target_of(it)
        if it.command in (mi.CMD_NAV_TAKEOFF, mi.CMD_NAV_LOITER_TURNS):
            # climbed where the aircraft was (takeoff_start), left the circle where its turns
            # ended: the aircraft's position
            dest = None
        elif dest is not None and mi.ap_keeps_altitude(it) and self._in_place is not None:
            dest = (dest[0], dest[1], self._in_place[2])  # flown at the aircraft's altitude
        origin = self._last_dest
        self._last_dest = dest or (self.vm.pos[0], self.vm.pos[1], self.vm.pos[2])
        if dest is None or origin is None or it.param1 > 0:
            self._prev_leg = None
        elif it.command == mi.CMD_NAV_WAYPOINT:
            self._prev_leg = (False, origin, dest, ap_spline.ZERO)
        elif it.command == mi.CMD_NAV_SPLINE_WAYPOINT and self._spline is not None:
            self._prev_leg = (True, origin, dest, self._spline_vd)
        else:
            self._prev_leg = None

    def _target_of(self, it: mi.MissionItem) -> tuple[float, float, float] | None:
        if not it.has_position or it.command not in mi.POSITION_COMMANDS:
            return None
        return item_target_enu(it, self.vm.geo, self.vm.home[2])

    def _next_nav(self, seq: int) -> mi.MissionItem | None:
        """The NAV command flown after ``seq`` (a DO_JUMP still to be taken is followed)."""
        j, guard = seq + 1, 0
        while j < len(self.items) and guard < 1000:
            guard += 1
            it = self.items[j]
            if it.command == mi.CMD_DO_JUMP:
                done = self.jump_counts.get(j, 0)
                if it.param2 < 0 or done < it.param2:
                    j = max(int(it.param1), self.first)
                    continue
            elif it.is_nav:
                return it
            j += 1
        return None

    #: how far ahead along the curve the simulated ArduCopter aims (m)
    SPLINE_LOOKAHEAD_M = 12.0
    #: off a straight ArduCopter leg by more than this (m), the simulator aims back at it ...
    LINE_OFF_M = 1.0
    #: ... this far ahead along it (m): far enough that the approach speed is not cut
    LINE_LOOKAHEAD_M = 30.0

    def _line_aim(
        self, origin: tuple[float, float, float], dest: tuple[float, float, float]
    ) -> tuple[float, float, float]:
        """Where the simulated ArduCopter aims on a straight leg. AC_WPNav moves its position
        target along the line from the leg's origin (the last destination) to its destination,
        so an aircraft that begins the leg moving across it (it over-shot the last point: a
        spline ended at speed before a take-off reached in the air) is pulled back onto the
        line; on SITL it came back to within 2 m of the line. Aimed at the destination alone, it
        swung wide, 15 m off the line (``make fuzz``). On the line (within ``LINE_OFF_M``) the
        aim is the destination; off it, the point ``LINE_LOOKAHEAD_M`` ahead of the aircraft's
        foot on the 3-D line."""
        vm = self.vm
        oe, on, ou = origin
        de, dn, du = dest[0] - oe, dest[1] - on, dest[2] - ou
        span = math.hypot(de, dn)
        if span < 1e-6:
            return dest
        ue, un = de / span, dn / span
        pe, pn = vm.pos[0] - oe, vm.pos[1] - on
        s = min(max(pe * ue + pn * un, 0.0), span)
        off = math.hypot(pe - ue * s, pn - un * s)
        if off <= self.LINE_OFF_M:
            return dest
        f = min(span, s + min(max(off, 2.0 * self.LINE_OFF_M), self.LINE_LOOKAHEAD_M)) / span
        return oe + de * f, on + dn * f, ou + du * f

    def _spline_target(
        self, it: mi.MissionItem, dt_s: float, dest: tuple[float, float, float]
    ) -> tuple[float, float, float]:
        """ArduCopter's spline leg (dronekit_plzen.ap_spline): the curve from the last
        destination, built once, and the position target moving along it at the leg's speed
        while the aircraft keeps within the lookahead of it (AC_WPNav advances its target in
        time, held back when the aircraft lags). Aiming at the first curve point a lookahead
        away from the aircraft stalled on a curve that starts with a loop shorter than it (the
        leg before ran the other way): the aim flipped between the loop and the way back.
        ``dest``: the leg's end (an altitude of 0 is the aircraft's, ``loc_from_cmd``)."""
        vm = self.vm
        if self._spline is None:
            origin = self._last_dest or (vm.pos[0], vm.pos[1], vm.pos[2])
            nxt = None if it.param1 > 0 else self._next_nav(self.seq)
            nxt_dest = self._target_of(nxt) if nxt is not None else None
            if nxt_dest is not None and nxt is not None and mi.ap_keeps_altitude(nxt):
                nxt_dest = (nxt_dest[0], nxt_dest[1], dest[2])  # loc_from_cmd(next, dest)
            vo = ap_spline.origin_vector(self._prev_leg)
            self._spline_vd = ap_spline.destination_vector(
                origin,
                dest,
                nxt_dest,
                nxt is not None and nxt.command == mi.CMD_NAV_SPLINE_WAYPOINT,
                it.param1 > 0,
            )
            span = ap_spline.curve_length(origin, dest, vo, self._spline_vd)
            n = max(1, math.ceil(span))
            pts = ap_spline.spline_points(origin, dest, vo, self._spline_vd, n)
            pts = np.vstack([np.asarray(origin, float), pts])
            along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
            self._spline = (pts, along, 0.0)
        pts, along, s = self._spline
        here = np.array([vm.pos[0], vm.pos[1], vm.pos[2]])
        k = int(np.searchsorted(along, s, side="right")) - 1
        if np.linalg.norm(pts[k] - here) < self.SPLINE_LOOKAHEAD_M:
            s = min(float(along[-1]), s + vm.limits().speed_h_m_s * dt_s)
            k = int(np.searchsorted(along, s, side="right")) - 1
        self._spline = (pts, along, s)
        p = pts[min(k, len(pts) - 1)]
        return float(p[0]), float(p[1]), float(p[2])

    def _finish(self) -> None:
        vm = self.vm
        if self.finished:
            return
        self.finished = True
        self.seq = max(len(self.items) - 1, self.first) if vm.px4 else self.seq
        vm.hold_here()
        if vm.px4:
            vm.text("Mission finished, loitering" if not vm.landed else "Mission finished")
            if not vm.landed:
                vm.set_mode("AUTO.LOITER", reason="mission")
        else:
            vm.text("Mission Complete")

    def step(self, dt_s: float) -> tuple[Target, float | None]:
        """Target and optional forced climb rate for this step of mission flight."""
        out = self._step_nav(dt_s)
        if self._condition is not None and self._condition_met(out[0]):
            self._reached(self._condition[3])
            self._condition = None
            self._run_waiting()
        return out

    def _step_nav(self, dt_s: float) -> tuple[Target, float | None]:
        vm = self.vm
        if self.finished or self.seq >= len(self.items):
            return vm.target, None
        if self._auto_takeoff_up is not None:
            if vm.pos[2] < self._auto_takeoff_up - 0.3:
                return (vm.pos[0], vm.pos[1], self._auto_takeoff_up), None
            self._auto_takeoff_up = None
        it = self.items[self.seq]
        c = it.command
        if c == mi.CMD_NAV_TAKEOFF:
            up = (
                vm.home[2] + it.alt_m
                if mi.canonical_frame(it.frame) != mi.FRAME_GLOBAL
                else it.alt_m - vm.geo.alt0_m
            )
            if vm.px4 and not self._ground_takeoff:
                # PX4 (Mission::handleTakeoff): no take-off needed in the air, the item is
                # flown as a waypoint, to its position and its altitude (down too)
                e, n, _u = item_target_enu(it, vm.geo, vm.home[2])
                near = math.hypot(e - vm.pos[0], n - vm.pos[1]) <= vm.p("NAV_ACC_RAD")
                if near and abs(up - vm.pos[2]) <= vm.p("NAV_MC_ALT_RAD"):
                    self._complete()
                    return (e, n, up), None
                return (e, n, up), None
            up = max(up, vm.pos[2] if not vm.landed else up)
            if vm.pos[2] >= up - (vm.p("NAV_MC_ALT_RAD") if vm.px4 else 1.0):
                self._ground_takeoff = False
                if vm.px4:
                    # PX4 (Mission::set_mission_items): once climbed, the take-off becomes a
                    # waypoint at its own position, whatever it is (0°N 0°E included)
                    e, n, _u = item_target_enu(it, vm.geo, vm.home[2])
                    if math.hypot(e - vm.pos[0], n - vm.pos[1]) > vm.p("NAV_ACC_RAD"):
                        return (e, n, up), None
                self._complete()
                vm.hold_here()
                return vm.target, None
            return (vm.pos[0], vm.pos[1], up), None
        if c == mi.CMD_NAV_RETURN_TO_LAUNCH:
            return vm._rtl_step(dt_s)
        if c == mi.CMD_NAV_DELAY:
            # both firmwares wait where the last leg left the aircraft (ArduCopter's waypoint
            # controller keeps its destination, PX4 its position setpoint); the simulator had
            # held at the guided target, the take-off point, and flown back toward it
            if self._in_place is None:
                self._in_place = (vm.pos[0], vm.pos[1], vm.pos[2])
            return self._hold(self._in_place, it.param1, dt_s)
        if c == mi.CMD_NAV_PAYLOAD_PLACE:
            return self._payload_place(it)
        if c == mi.CMD_NAV_LAND:
            # ArduCopter's do_land: latitude = longitude = 0 lands here; PX4 flies there first
            if not vm.px4 and it.lat_deg == 0.0 and it.lon_deg == 0.0:
                return (vm.pos[0], vm.pos[1], vm.pos[2]), -vm.land_speed_m_s()
            e, n, _u = item_target_enu(it, vm.geo, vm.home[2])
            if not self._land_descending and math.hypot(e - vm.pos[0], n - vm.pos[1]) > 1.0:
                return (e, n, vm.pos[2]), None
            self._land_descending = True
            return (e, n, vm.pos[2]), -vm.land_speed_m_s()
        if c == mi.CMD_NAV_LOITER_TURNS and not vm.px4 and it.has_position:
            return self._circle_step(it, dt_s)
        target = item_target_enu(it, vm.geo, vm.home[2])
        here = not vm.px4 and it.lat_deg == 0.0 and it.lon_deg == 0.0
        if here:
            target = self._here(it, target[2])
        elif not vm.px4 and mi.ap_keeps_altitude(it):
            # ArduCopter's loc_from_cmd: an altitude of 0 is the aircraft's when the item began
            if self._in_place is None:
                self._in_place = (vm.pos[0], vm.pos[1], vm.pos[2])
            target = (target[0], target[1], self._in_place[2])
        if c == mi.CMD_NAV_SPLINE_WAYPOINT and not vm.px4 and not here and self._arrived_s is None:
            aim = self._spline_target(it, dt_s, target)
            dh = math.hypot(target[0] - vm.pos[0], target[1] - vm.pos[1])
            if dh > vm.p("WPNAV_RADIUS") / 100.0 or abs(target[2] - vm.pos[2]) > 1.0:
                return aim, None
        aim = target
        if (
            not vm.px4
            and c in (mi.CMD_NAV_WAYPOINT, mi.CMD_NAV_LOITER_TIME)
            and not here
            and self._last_dest is not None
        ):
            aim = self._line_aim(self._last_dest, target)
        if self._arrived_s is None:
            if vm.px4:
                radius = (
                    it.param2 if it.param2 > 0 and c == mi.CMD_NAV_WAYPOINT else vm.p("NAV_ACC_RAD")
                )
                alt_rad = vm.p("NAV_MC_ALT_RAD")
            else:
                radius = (
                    it.param2
                    if it.param2 > 0 and c == mi.CMD_NAV_WAYPOINT
                    else vm.p("WPNAV_RADIUS") / 100.0
                )
                alt_rad = 1.0
            dh = math.hypot(target[0] - vm.pos[0], target[1] - vm.pos[1])
            if dh <= radius and abs(target[2] - vm.pos[2]) <= alt_rad:
                self._arrived_s = vm.t_s
            else:
                return aim, None
        if c == mi.CMD_NAV_LOITER_UNLIM:
            return target, None
        if c == mi.CMD_NAV_LOITER_TURNS:
            hold = (
                abs(it.param1)
                * 2.0
                * math.pi
                * max(abs(it.param3), 1.0)
                / max(vm.limits().speed_h_m_s, 0.5)
            )
        elif c in (mi.CMD_NAV_WAYPOINT, mi.CMD_NAV_LOITER_TIME):
            hold = max(it.param1, 0.0)
        else:
            hold = 0.0
        return self._hold(target, hold, dt_s)

    #: how far above the ground the payload touches down (it hangs below the aircraft)
    PAYLOAD_TOUCHDOWN_M = 0.3
    #: ArduCopter's ``placed_check_duration_ms``: touchdown must hold this long
    PLACED_CHECK_S = 0.5

    def _payload_place(self, it: mi.MissionItem) -> tuple[Target, float | None]:
        """ArduCopter's ``PayloadPlace::run``: fly to the place at the current altitude, descend
        at PLDP_SPEED_DN (else LAND_SPEED, at most WPNAV_SPEED_DN) until the payload touches
        down, release it (the gripper), wait PLDP_DELAY, climb back to where the descent began.
        A descent of more than param1 metres (0: no limit) climbs back without releasing."""
        vm = self.vm
        if self._place is None:
            e, n = vm.pos[0], vm.pos[1]
            if it.lat_deg != 0.0 or it.lon_deg != 0.0:
                e, n, _u = item_target_enu(it, vm.geo, vm.home[2])
            self._place = ("fly", e, n, vm.pos[2], vm.t_s)
        phase, e, n, start_u, since = self._place
        if phase == "fly":
            if math.hypot(e - vm.pos[0], n - vm.pos[1]) > vm.p("WPNAV_RADIUS") / 100.0:
                return (e, n, start_u), None
            phase, start_u, since = "descend", vm.pos[2], vm.t_s
        if phase == "descend":
            speed = vm.p("PLDP_SPEED_DN") or vm.p("LAND_SPEED") / 100.0
            speed = min(speed, vm.p("WPNAV_SPEED_DN") / 100.0)
            low = self.PAYLOAD_TOUCHDOWN_M  # the simulated ground is flat, at home
            if it.param1 > 0 and start_u - vm.pos[2] > it.param1:
                vm.text("PayloadPlace: Reached maximum descent", 4)
                phase, since = "ascend", vm.t_s
            elif vm.pos[2] <= low + 0.05:
                if vm.t_s - since >= self.PLACED_CHECK_S:
                    vm.text("PayloadPlace: Releasing the gripper")
                    vm.events.append(Event("gripper", {"seq": self.seq, "action": "release"}))
                    phase, since = "delay", vm.t_s
                self._place = (phase, e, n, start_u, since)
                return (e, n, low), None
            else:
                since = vm.t_s  # touchdown must hold PLACED_CHECK_S from its first moment
                self._place = (phase, e, n, start_u, since)
                return (e, n, vm.pos[2]), -speed
        if phase == "delay":
            if vm.t_s - since < vm.p("PLDP_DELAY"):
                self._place = (phase, e, n, start_u, since)
                return (e, n, vm.pos[2]), None
            phase = "ascend"
        if abs(vm.pos[2] - start_u) > 0.5:
            self._place = ("ascend", e, n, start_u, since)
            return (e, n, start_u), None
        self._place = None
        self._complete()
        return (vm.target if self.finished else (e, n, start_u)), None

    def _here(self, it: mi.MissionItem, up_m: float) -> tuple[float, float, float]:
        """ArduCopter's ``loc_from_cmd`` for latitude = longitude = 0: where the aircraft was
        when the item started, at the item's altitude (0: the aircraft's)."""
        if self._in_place is None:
            self._in_place = (self.vm.pos[0], self.vm.pos[1], self.vm.pos[2])
        e, n, u = self._in_place
        return e, n, u if it.alt_m == 0 else up_m

    def _circle_step(self, it: mi.MissionItem, dt_s: float) -> tuple[Target, None]:
        """ArduCopter's LOITER_TURNS (``ModeAuto::circle_movetoedge_start``, ``AC_Circle``): to
        the point of the circle closest to the aircraft at the item's altitude, then round it
        (clockwise; counter-clockwise for a negative radius) at the leg speed for its turns, and
        on from where they end. The simulator had held at the centre for the circle's time."""
        vm = self.vm
        e, n, up = item_target_enu(it, vm.geo, vm.home[2])
        turns, r = abs(it.param1), abs(it.param3) or 10.0  # 0: CIRCLE_RADIUS, 10 m
        sense = -1.0 if it.param3 < 0 else 1.0
        if self._circle is None:
            if self._circle_edge is None:
                # from where the position controller's target rests (pos_desired: the last
                # leg's end, where the aircraft stopped), not from the aircraft: a waypoint 1 m
                # from the centre, inside WPNAV_RADIUS, is reached before the aircraft moves,
                # and the circle began behind it (south) where ArduCopter begins it north
                at = self._last_dest if self._last_dest is not None else vm.pos
                de, dn, du = at[0] - e, at[1] - n, at[2] - up
                d3 = math.sqrt(de * de + dn * dn + du * du)
                # circle_movetoedge_start: the offset scaled by the 3-D distance, if over 3 m
                scale = r / d3 if d3 > 3.0 else 1.0
                self._circle_edge = (e + de * scale, n + dn * scale)
            at_e, at_n = self._circle_edge
            off = math.hypot(at_e - vm.pos[0], at_n - vm.pos[1])
            if off > 1.0 or abs(up - vm.pos[2]) > 1.0:
                # a leg of AC_WPNav to the edge: along the line from the last destination
                # (after another circle, where it left the aircraft), the aircraft pulled onto
                # it. Aimed at the edge alone, the simulator swung on round the last circle;
                # SITL, after a quarter of an 80 m circle, turned onto that line (within 4.1 m
                # of the guard's walk, which follows it)
                edge = (at_e, at_n, up)
                if self._last_dest is None:
                    return edge, None
                return self._line_aim(self._last_dest, edge), None
            if math.hypot(at_e - e, at_n - n) > 0.5:
                a0 = math.atan2(at_e - e, at_n - n)  # init_start_angle: from where it is
            else:  # at the centre: behind the aircraft
                a0 = math.radians(vm.yaw_deg) + math.pi
            self._circle = (a0, 0.0)
        a0, turned = self._circle
        lim = vm.limits()
        v = mi.ap_circle_speed_m_s(lim.speed_h_m_s, lim.accel_h_m_s2, r)
        turned += v / r * dt_s
        if turned >= turns * 2 * math.pi:
            turned = turns * 2 * math.pi
            self._complete()
        else:
            self._circle = (a0, turned)
        # AC_Circle::update_cms gives the position controller the moving point without its
        # velocity (input_pos_vel_accel_NE_cm(target, 0, 0)): ArduCopter trails it, about 15°
        # on a 16 m circle on SITL, and ends the turns that far short of their end (the
        # simulator had aimed ahead of the point and ended them past it)
        a = a0 + sense * turned
        return (e + r * math.sin(a), n + r * math.cos(a), up), None

    def _hold(
        self, target: tuple[float, float, float], hold_s: float, dt_s: float
    ) -> tuple[Target, None]:
        if self._arrived_s is None:
            self._arrived_s = self.vm.t_s
        if self.vm.t_s - self._arrived_s >= hold_s - 1e-9:
            self._complete()
            nxt = self.vm.target if self.finished else target
            return nxt, None
        return target, None
