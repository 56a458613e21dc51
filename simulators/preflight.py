"""Pre-arm checks of PX4 (health and arming checks) and ArduCopter (PreArm / Arm messages)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulators.vehicle import VehicleModel


def preflight_failure(vm: VehicleModel) -> str | None:
    """The first failing pre-arm check, worded as the firmware words it, or None."""
    if vm.t_s < vm.boot_until_s:
        return "Preflight Fail: system booting" if vm.px4 else "PreArm: System not initialised"
    if not vm.gps.has_fix:
        return "Preflight Fail: GPS fix too low" if vm.px4 else "PreArm: GPS 1: Bad fix"
    if vm.px4:
        if vm.battery.remaining <= vm.p("BAT_CRIT_THR"):
            return "Preflight Fail: Battery critically low"
        if vm.mode in ("AUTO.RTL", "AUTO.LAND"):
            return "Arming denied: not possible in this mode"
        needs_mission = vm.mode == "AUTO.MISSION" or vm.p("COM_ARM_MIS_REQ") > 0
        if needs_mission and vm.runner.nav_count() == 0:
            return "Preflight Fail: No valid mission"
        return None
    low_v = vm.p("BATT_LOW_VOLT")
    if (low_v > 0 and vm.battery.voltage_v < low_v) or (
        vm.p("BATT_ARM_VOLT") > 0 and vm.battery.voltage_v < vm.p("BATT_ARM_VOLT")
    ):
        return "PreArm: Battery 1 below minimum arming voltage"
    if vm.mode in ("RTL", "LAND", "SMART_RTL", "CIRCLE"):
        return "Arm: Mode not armable"
    if vm.mode == "AUTO":
        if not int(vm.p("AUTO_OPTIONS")) & 1:
            return "Arm: Mode not armable"
        if vm.runner.nav_count() == 0:
            return "Arm: Mode requires mission"
    return None
