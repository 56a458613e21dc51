"""Pre-arm checks of PX4 (health and arming checks) and ArduCopter (PreArm / Arm messages).

Readiness after boot follows the firmware: the estimator needs time before it uses GPS, and
until then the vehicle is not ready to arm (SYS_STATUS pre-arm bit unhealthy, no home). The
settle time is simulated time (so it scales with the fleet's speedup or lockstep): about 40 s
on ArduCopter SITL (EKF3 alignment, then GPS checks, then the origin and home), about 4.5 s on
PX4 SITL. ``VehicleModel(boot_settle_s=…)`` / ``sim --boot-settle S`` change it.

ArduCopter reports failing pre-arm checks as ``PreArm: …`` STATUSTEXTs every 30 s
(``AP_Arming::update``, PREARM_DISPLAY_PERIOD), and 4 s after the checks go from passing to
failing; PX4 explains a failing check only when arming is attempted.

ArduCopter sets its EKF origin and home about half-way through, and its pre-arm checks in a
non-position mode (STABILIZE) pass 18 s (of 41 s on SITL) before its EKF uses GPS
(EKF_STATUS_REPORT still in constant-position mode): arming then works, but an armed switch to
GUIDED/AUTO fails until the EKF has an absolute position (``Copter::position_ok``), and arming
in a position mode fails with ``PreArm: Need Position Estimate``. Disarmed, ArduCopter accepts
any mode and leaves the position to its arming checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulators.modes import ARDUCOPTER_NEEDS_POSITION

if TYPE_CHECKING:
    from simulators.vehicle import VehicleModel

#: boot-settle time per flavour (simulated seconds), as measured on SITL
DEFAULT_SETTLE_S = {"ardupilot": 40.0, "px4": 4.5}
#: ArduPilot's PREARM_DISPLAY_PERIOD and its minimum gap for an immediate report
AP_PREARM_PERIOD_S = 30.0
AP_PREARM_IMMEDIATE_S = 4.0
#: ArduCopter 4.7 SITL at 1x, measured: EKF origin and home at 19.8 s, pre-arm bit healthy
#: (STABILIZE) at 23.4 s, EKF using GPS at 41.4 s; as fractions of the boot-settle time
AP_EKF_INIT_FRACTION = 0.14  # EKF3 tilt and yaw aligned at 5.7 s
AP_HOME_FRACTION = 0.48
AP_PREARM_FRACTION = 0.57
#: EKF_STATUS_REPORT.flags as ArduCopter 4.7 SITL reports them (EKF_STATUS_FLAGS)
EKF_UNINITIALIZED = 0x400
#: attitude, velocities, vertical position, constant-position mode (no horizontal position)
EKF_FLAGS_CONST_POS = 0x01 | 0x02 | 0x04 | 0x20 | 0x80
#: attitude, velocities, relative/absolute horizontal position (and predicted), vertical
EKF_FLAGS_GPS = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x100 | 0x200


def settling(vm: VehicleModel) -> bool:
    """True while the estimator has not yet started using GPS after boot."""
    return vm.t_s < vm.boot_t0_s + vm.boot_settle_s or not vm.gps.has_fix


def ekf_position_ok(vm: VehicleModel) -> bool:
    """The EKF has an absolute horizontal position (uses GPS): ArduCopter's ``position_ok``."""
    return vm.t_s >= vm.boot_until_s and not settling(vm)


def ekf_flags(vm: VehicleModel) -> int:
    """EKF_STATUS_REPORT.flags: uninitialised while booting, constant-position until GPS."""
    if vm.t_s < max(vm.boot_until_s, vm.boot_t0_s + AP_EKF_INIT_FRACTION * vm.boot_settle_s):
        return EKF_UNINITIALIZED
    return EKF_FLAGS_GPS if ekf_position_ok(vm) else EKF_FLAGS_CONST_POS


def _prearm_settle_s(vm: VehicleModel) -> float:
    """Time after boot at which the boot-time pre-arm checks pass (before the EKF uses GPS)."""
    return vm.boot_settle_s if vm.px4 else AP_PREARM_FRACTION * vm.boot_settle_s


def home_due(vm: VehicleModel) -> bool:
    """The estimator has an origin, so the firmware sets home (ArduCopter: before using GPS)."""
    settle = vm.boot_settle_s if vm.px4 else AP_HOME_FRACTION * vm.boot_settle_s
    return vm.gps.has_fix and vm.t_s >= vm.boot_t0_s + settle


def prearm_failure(vm: VehicleModel) -> str | None:
    """The first failing *pre-arm* check (the ones the firmware reports unprompted), or None."""
    if vm.t_s < vm.boot_until_s:
        return "Preflight Fail: system booting" if vm.px4 else "PreArm: System not initialised"
    early = vm.t_s < vm.boot_t0_s + _prearm_settle_s(vm)
    # ArduCopter passes these only after its EKF origin (home); a commanded home survives reboots
    if vm.px4:
        in_boot = early and not vm.home_known
    else:
        in_boot = (early or not vm.home_known) and not vm.home_locked
    if in_boot:
        elapsed = vm.t_s - vm.boot_t0_s
        if vm.px4:
            if not vm.gps.has_fix:
                return "Preflight Fail: GPS fix too low"
            return "Preflight Fail: No valid global position estimate"
        if elapsed < 0.25 * vm.boot_settle_s:
            return "PreArm: EKF attitude is bad"  # gyro biases and tilt alignment settling
        if not vm.gps.has_fix:
            return "PreArm: Need 3D Fix"
        return "PreArm: AHRS: waiting for home"
    if not vm.gps.has_fix:
        return "Preflight Fail: GPS fix too low" if vm.px4 else "PreArm: GPS 1: Bad fix"
    if not vm.px4 and vm.mode in ARDUCOPTER_NEEDS_POSITION and not ekf_position_ok(vm):
        return "PreArm: Need Position Estimate"
    if vm.px4:
        if vm.battery.remaining <= vm.p("BAT_CRIT_THR"):
            return "Preflight Fail: Battery critically low"
        return None
    low_v = vm.p("BATT_LOW_VOLT")
    if (low_v > 0 and vm.battery.voltage_v < low_v) or (
        vm.p("BATT_ARM_VOLT") > 0 and vm.battery.voltage_v < vm.p("BATT_ARM_VOLT")
    ):
        return "PreArm: Battery 1 below minimum arming voltage"
    if vm.terrain_needed and not vm.terrain_ready:
        # RTL above the terrain needs the terrain database loaded (AP_Arming_Copter::
        # terrain_database_required, AP_Terrain::pre_arm_checks): the block around home,
        # asked of the ground station with TERRAIN_REQUEST (VehicleModel.terrain_step)
        return "PreArm: waiting for terrain data"
    return None


def preflight_failure(vm: VehicleModel) -> str | None:
    """The first failing pre-arm or arming check, worded as the firmware words it, or None."""
    reason = prearm_failure(vm)
    if reason is not None:
        return reason
    if vm.px4:
        if vm.mode in ("AUTO.RTL", "AUTO.LAND"):
            return "Arming denied: not possible in this mode"
        needs_mission = vm.mode == "AUTO.MISSION" or vm.p("COM_ARM_MIS_REQ") > 0
        if needs_mission and not vm.runner.px4_valid():
            return "Preflight Fail: No valid mission"
        return None
    # AP_Arming_Copter::mandatory_checks: "%s mode not armable" with the mode's name()
    if vm.mode in ("RTL", "LAND", "SMART_RTL", "CIRCLE"):
        return f"Arm: {_AP_MODE_NAME.get(vm.mode, vm.mode)} mode not armable"
    if vm.mode == "AUTO":
        if not int(vm.p("AUTO_OPTIONS")) & 1:
            return "Arm: AUTO mode not armable"
        if vm.runner.nav_count() == 0:
            return "Arm: Mode requires mission"
    return None


#: ArduCopter's Mode::name() where it differs from the MAVLink mode name
_AP_MODE_NAME = {"SMART_RTL": "SMARTRTL", "AUTO_RTL": "AUTO RTL"}


def report(vm: VehicleModel) -> str | None:
    """ArduCopter's periodic PreArm report: the text to send now, or None.

    Called once per step while disarmed: every 30 s while a check fails, and 4 s after the
    checks start failing again (``report_immediately``).
    """
    if vm.px4 or vm.armed:
        return None
    reason = prearm_failure(vm)
    passing = reason is None
    if passing:
        vm.prearm_passing = True
        return None
    if vm.prearm_passing:  # went from passing to failing: report soon
        vm.prearm_passing = False
        vm.prearm_report_now = True
    since = vm.t_s - vm.prearm_reported_s
    if since > AP_PREARM_PERIOD_S or (vm.prearm_report_now and since > AP_PREARM_IMMEDIATE_S):
        vm.prearm_reported_s = vm.t_s
        vm.prearm_report_now = False
        return reason
    return None


def ready_to_arm(vm: VehicleModel) -> bool:
    """The SYS_STATUS pre-arm check bit: ArduCopter's pre-arm checks only (its mode checks run
    when arming), PX4's health and arming checks for the current mode."""
    return (preflight_failure(vm) if vm.px4 else prearm_failure(vm)) is None
