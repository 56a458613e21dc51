"""Failsafes as the firmware implements them: battery, GCS link loss, GPS loss, geofence.

Each check latches on the rising edge so an action fires once per event, as in PX4's failsafe
state machine and ArduPilot's ``failsafe_*_event`` functions. Parameter semantics:
PX4 ``COM_LOW_BAT_ACT``, ``NAV_DLL_ACT``/``COM_DL_LOSS_T``, ``GF_ACTION``;
ArduCopter ``BATT_FS_LOW_ACT``/``BATT_FS_CRT_ACT``, ``FS_GCS_ENABLE``/``FS_GCS_TIMEOUT``,
``FS_EKF_ACTION``, ``FENCE_ACTION``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from simulators.modes import Behaviour
from simulators.state import SEVERITY_CRITICAL, SEVERITY_WARNING

if TYPE_CHECKING:
    from simulators.vehicle import VehicleModel

B = Behaviour
_PX4_DLL = {1: B.HOLD, 2: B.RTL, 3: B.LAND}
_AP_GCS = {1: B.RTL, 2: B.RTL, 3: B.RTL, 4: B.RTL, 5: B.LAND, 6: B.RTL, 7: B.LAND}
_AP_BATT = {1: B.LAND, 2: B.RTL, 3: B.RTL, 4: B.RTL}
_PX4_GF = {2: B.HOLD, 3: B.RTL, 5: B.LAND}
_AP_FENCE = {1: B.RTL, 2: B.LAND, 3: B.RTL, 4: B.HOLD, 5: B.RTL}


def _edge(vm: VehicleModel, name: str, active: bool) -> bool:
    """True once when ``name`` becomes active; clears when it is no longer."""
    if active and name not in vm.failsafes:
        vm.failsafes.add(name)
        return True
    if not active:
        vm.failsafes.discard(name)
    return False


def _sustained(vm: VehicleModel, name: str, cond: bool, delay_s: float) -> bool:
    if not cond:
        vm.fs_timers.pop(name, None)
        return False
    start = vm.fs_timers.setdefault(name, vm.t_s)
    return vm.t_s - start >= delay_s


def _act(vm: VehicleModel, behaviour: Behaviour | None, why: str, terminate: bool = False) -> None:
    if terminate:
        vm.text(f"{why}: terminating", SEVERITY_CRITICAL)
        vm.disarm(force=True, reason="failsafe")
        return
    if behaviour is None:
        return
    if vm.landed:
        if not vm.px4:
            vm.disarm(force=True, reason="failsafe")
        return
    if vm.behaviour is Behaviour.LAND and behaviour is not Behaviour.LAND:
        return  # already landing: never climb away again
    vm.failsafe_mode(behaviour, why)


def _battery(vm: VehicleModel) -> None:
    bat = vm.battery
    if vm.px4:
        rem = bat.remaining
        act = int(vm.p("COM_LOW_BAT_ACT"))
        if _edge(vm, "battery_low", rem <= vm.p("BAT_LOW_THR")):
            vm.text("Low battery level, return advised", SEVERITY_WARNING)
        if _edge(vm, "battery_critical", rem <= vm.p("BAT_CRIT_THR")):
            vm.text("Critical battery level", SEVERITY_CRITICAL)
            _act(vm, {1: B.RTL, 2: B.LAND, 3: B.RTL}.get(act), "critical battery")
        if _edge(vm, "battery_emergency", rem <= vm.p("BAT_EMERGEN_THR")):
            vm.text("Emergency battery level, land immediately", SEVERITY_CRITICAL)
            _act(vm, {2: B.LAND, 3: B.LAND}.get(act), "emergency battery")
        return
    rem_mah = bat.capacity_mah * bat.remaining
    low_v, crt_v = vm.p("BATT_LOW_VOLT"), vm.p("BATT_CRT_VOLT")
    low = _sustained(vm, "bl", low_v > 0 and bat.voltage_v < low_v, 10.0) or (
        vm.p("BATT_LOW_MAH") > 0 and rem_mah < vm.p("BATT_LOW_MAH")
    )
    crit = _sustained(vm, "bc", crt_v > 0 and bat.voltage_v < crt_v, 10.0) or (
        vm.p("BATT_CRT_MAH") > 0 and rem_mah < vm.p("BATT_CRT_MAH")
    )
    if _edge(vm, "battery_low", low or crit):
        vm.text(
            f"Battery 1 is low {bat.voltage_v:.2f}V used {bat.consumed_mah:.0f} mAh",
            SEVERITY_CRITICAL,
        )
        a = int(vm.p("BATT_FS_LOW_ACT"))
        _act(vm, _AP_BATT.get(a), "Battery Failsafe", terminate=a == 5)
    if _edge(vm, "battery_critical", crit):
        vm.text(
            f"Battery 1 is critical {bat.voltage_v:.2f}V used {bat.consumed_mah:.0f} mAh",
            SEVERITY_CRITICAL,
        )
        a = int(vm.p("BATT_FS_CRT_ACT"))
        _act(vm, _AP_BATT.get(a), "Battery Failsafe", terminate=a == 5)


def _gcs(vm: VehicleModel) -> None:
    if vm.gcs_last_s is None:
        return
    timeout = vm.p("COM_DL_LOSS_T") if vm.px4 else vm.p("FS_GCS_TIMEOUT")
    lost = vm.t_s - vm.gcs_last_s > timeout
    was = "gcs_link" in vm.failsafes
    if _edge(vm, "gcs_link", lost):
        if vm.px4:
            vm.text("Connection to ground station lost", SEVERITY_CRITICAL)
            a = int(vm.p("NAV_DLL_ACT"))
            _act(vm, _PX4_DLL.get(a), "no connection to ground station", terminate=a in (5, 6))
        else:
            a = int(vm.p("FS_GCS_ENABLE"))
            if a == 0:
                return
            vm.text("GCS Failsafe", SEVERITY_CRITICAL)
            if a == 2 and vm.mode == "AUTO":
                return  # continue the mission
            _act(vm, _AP_GCS.get(a), "GCS Failsafe")
    elif was and not lost:
        vm.text("Data link regained" if vm.px4 else "GCS Failsafe Cleared", SEVERITY_WARNING)


def _gps(vm: VehicleModel) -> None:
    needs = vm.behaviour in (B.HOLD, B.MISSION, B.RTL, B.GUIDED, B.TAKEOFF)
    delay = vm.p("COM_POS_FS_DELAY") if vm.px4 else 1.0
    lost = _sustained(vm, "gps", not vm.gps.has_fix and not vm.landed, delay)
    if _edge(vm, "gps_loss", lost):
        vm.text("GPS lost" if vm.px4 else "GPS Glitch or Compass error", SEVERITY_CRITICAL)
        if not needs:
            return
        if vm.px4:
            _act(vm, B.LAND, "no global position")
        else:
            a = int(vm.p("FS_EKF_ACTION"))
            _act(vm, B.HOLD if a == 2 else B.LAND, "EKF Failsafe")


def _fence(vm: VehicleModel) -> None:
    rel = vm.rel_alt_m
    dist = math.hypot(vm.pos[0] - vm.home[0], vm.pos[1] - vm.home[1])
    breach = False
    if vm.px4:
        fence = vm.fence()
        hmax, vmax = vm.p("GF_MAX_HOR_DIST"), vm.p("GF_MAX_VER_DIST")
        breach = (hmax > 0 and dist > hmax) or (vmax > 0 and rel > vmax)
        breach = breach or (not fence.empty and fence.breached(vm.pos[0], vm.pos[1]))  # type: ignore[attr-defined]
    elif vm.p("FENCE_ENABLE") > 0:
        types = int(vm.p("FENCE_TYPE"))
        breach = bool(types & 1) and rel > vm.p("FENCE_ALT_MAX")
        breach = breach or (bool(types & 2) and dist > vm.p("FENCE_RADIUS"))
        if types & 4:
            fence = vm.fence()
            breach = breach or (not fence.empty and fence.breached(vm.pos[0], vm.pos[1]))  # type: ignore[attr-defined]
    vm.fence_breached = breach
    if vm.landed:
        return
    if _edge(vm, "geofence", breach):
        if vm.px4:
            vm.text("Geofence violated", SEVERITY_CRITICAL)
            a = int(vm.p("GF_ACTION"))
            _act(vm, _PX4_GF.get(a), "geofence breach", terminate=a == 4)
        else:
            vm.text("Fence Breached", SEVERITY_CRITICAL)
            _act(vm, _AP_FENCE.get(int(vm.p("FENCE_ACTION"))), "Fence Breach")


def check_failsafes(vm: VehicleModel) -> None:
    """Run every failsafe check once (called each step while armed)."""
    _battery(vm)
    _gcs(vm)
    _gps(vm)
    if vm.armed:
        _fence(vm)
