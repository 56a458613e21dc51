"""Parameter sets of the two flavours: real names, real defaults, real units.

Only parameters the simulated vehicle really uses (speeds, failsafes, fences, battery, RTL) plus a
few identity ones. PX4 sends integer parameters byte-wise in the float field
(``MAV_PARAM_TYPE_INT32``
reinterpreted), ArduPilot casts them to float; :func:`encode_value`/:func:`decode_value` do that at
the protocol boundary.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

PARAM_TYPE_INT32 = 6
PARAM_TYPE_REAL32 = 9


@dataclass
class Param:
    """One parameter: value (float or int), MAV_PARAM_TYPE and an allowed range."""

    value: float
    ptype: int = PARAM_TYPE_REAL32
    min_value: float = -1e9
    max_value: float = 1e9


def _i(v: int, lo: float = -1e9, hi: float = 1e9) -> Param:
    return Param(float(v), PARAM_TYPE_INT32, lo, hi)


def _f(v: float, lo: float = -1e9, hi: float = 1e9) -> Param:
    return Param(float(v), PARAM_TYPE_REAL32, lo, hi)


def px4_defaults(sysid: int) -> dict[str, Param]:
    """PX4 v1.14 multicopter defaults for the parameters the simulator honours."""
    return {
        "MAV_SYS_ID": _i(sysid, 1, 255),
        "SYS_AUTOSTART": _i(4001),
        "MAV_TYPE": _i(2),
        "MPC_XY_CRUISE": _f(5.0, 0.5, 20.0),
        "MPC_XY_VEL_MAX": _f(12.0, 0.5, 20.0),
        "MPC_Z_V_AUTO_UP": _f(3.0, 0.5, 8.0),
        "MPC_Z_V_AUTO_DN": _f(1.5, 0.5, 4.0),
        "MPC_ACC_HOR": _f(3.0, 2.0, 15.0),
        "MPC_ACC_UP_MAX": _f(4.0, 1.0, 15.0),
        "MPC_ACC_DOWN_MAX": _f(3.0, 1.0, 15.0),
        "MPC_YAWRAUTO_MAX": _f(45.0, 5.0, 360.0),
        "MPC_LAND_SPEED": _f(0.7, 0.6, 5.0),
        "MPC_LAND_ALT1": _f(10.0, 0.0, 122.0),
        "MPC_LAND_ALT2": _f(5.0, 0.0, 122.0),
        "MPC_LAND_ALT3": _f(1.0, 0.0, 122.0),
        "MPC_LAND_CRWL": _f(0.3, 0.1, 10.0),
        "MPC_Z_VEL_MAX_DN": _f(1.5, 0.5, 4.0),
        "MPC_TKO_SPEED": _f(1.5, 1.0, 5.0),
        "MIS_TAKEOFF_ALT": _f(2.5, 0.0, 1000.0),
        "MIS_DIST_1WP": _f(900.0, -1.0, 10000.0),
        "NAV_ACC_RAD": _f(2.0, 0.05, 200.0),  # rc.mc_defaults (the parameter: 10)
        "NAV_MC_ALT_RAD": _f(0.8, 0.05, 10.0),
        "RTL_RETURN_ALT": _f(30.0, 0.0, 150.0),  # rc.mc_defaults (60)
        "RTL_DESCEND_ALT": _f(10.0, 2.0, 100.0),  # rc.mc_defaults (30)
        "RTL_LAND_DELAY": _f(0.0, -1.0, 300.0),
        # the return cone (PX4 v1.16 rtl_params.c; dronekit_plzen.rtl_cone)
        "RTL_CONE_ANG": _i(45, 0, 90),
        "RTL_MIN_DIST": _f(10.0, 0.5, 100000.0),
        "RTL_TYPE": _i(0, 0, 4),
        "COM_DISARM_LAND": _f(2.0, -1.0, 20.0),
        "COM_DISARM_PRFLT": _f(10.0, -1.0, 120.0),
        "COM_DL_LOSS_T": _f(10.0, 5.0, 300.0),
        "NAV_DLL_ACT": _i(0, 0, 6),
        "COM_LOW_BAT_ACT": _i(0, 0, 3),
        "COM_POS_FS_DELAY": _f(1.0, 1.0, 100.0),
        "COM_ARM_MIS_REQ": _i(0, 0, 1),
        "BAT_LOW_THR": _f(0.15, 0.12, 0.5),
        "BAT_CRIT_THR": _f(0.07, 0.05, 0.25),
        "BAT_EMERGEN_THR": _f(0.05, 0.03, 0.1),
        "BAT1_N_CELLS": _i(4, 1, 16),
        "BAT1_CAPACITY": _f(5000.0, -1.0, 100000.0),
        "BAT1_V_CHARGED": _f(4.05, 3.5, 4.5),
        "BAT1_V_EMPTY": _f(3.6, 2.5, 4.0),
        "GF_ACTION": _i(2, 0, 5),
        "GF_MAX_HOR_DIST": _f(0.0, 0.0, 10000.0),
        "GF_MAX_VER_DIST": _f(0.0, 0.0, 10000.0),
        "TRIG_MODE": _i(0, 0, 4),
        "TRIG_DIST": _f(25.0, 0.0, 1000.0),
        "SIM_WIND_SPD": _f(0.0, 0.0, 30.0),
        "SIM_WIND_DIR": _f(0.0, 0.0, 360.0),
    }


def ardupilot_defaults(sysid: int) -> dict[str, Param]:
    """ArduCopter 4.5 defaults (centimetre units where the firmware uses them)."""
    return {
        "SYSID_THISMAV": _i(sysid, 1, 255),
        "SYSID_MYGCS": _i(255, 1, 255),
        "FRAME_CLASS": _i(1),
        "WPNAV_SPEED": _f(1000.0, 20.0, 2000.0),
        "WPNAV_SPEED_UP": _f(250.0, 10.0, 1000.0),
        "WPNAV_SPEED_DN": _f(150.0, 10.0, 500.0),
        "WPNAV_ACCEL": _f(250.0, 50.0, 500.0),
        "WPNAV_RADIUS": _f(200.0, 5.0, 1000.0),
        "ATC_RATE_Y_MAX": _f(0.0, 0.0, 1080.0),
        "RTL_ALT": _f(1500.0, 200.0, 300000.0),
        "RTL_ALT_FINAL": _f(0.0, 0.0, 1000.0),
        # the return cone (ArduCopter config.h RTL_CONE_SLOPE_DEFAULT, RTL_CLIMB_MIN_DEFAULT cm)
        "RTL_CONE_SLOPE": _f(3.0, 0.0, 10.0),
        "RTL_CLIMB_MIN": _f(0.0, 0.0, 3000.0),
        "RTL_ALT_TYPE": _i(0, 0, 1),
        # the terrain grid (AP_Terrain: TERRAIN_SPACING m between nodes)
        "TERRAIN_SPACING": _i(100, 5, 10000),
        # rally points (AP_Rally: Copter defaults)
        "RALLY_LIMIT_KM": _f(0.3, 0.0, 1000.0),
        "RALLY_INCL_HOME": _i(1, 0, 1),
        "RTL_LOIT_TIME": _f(5000.0, 0.0, 60000.0),
        "RTL_SPEED": _f(0.0, 0.0, 2000.0),
        "LAND_SPEED": _f(50.0, 30.0, 200.0),
        "LAND_SPEED_HIGH": _f(0.0, 0.0, 500.0),
        "PLDP_SPEED_DN": _f(0.0, 0.0, 5.0),
        "PLDP_DELAY": _f(0.0, 0.0, 120.0),
        "LAND_ALT_LOW": _f(1000.0, 100.0, 10000.0),
        "DISARM_DELAY": _i(10, 0, 127),
        "ARMING_CHECK": _i(1),
        "AUTO_OPTIONS": _i(0),
        "FS_GCS_ENABLE": _i(0, 0, 7),
        "FS_GCS_TIMEOUT": _f(5.0, 2.0, 120.0),
        "FS_EKF_ACTION": _i(1, 1, 3),
        "BATT_CAPACITY": _i(3300, 0, 100000),
        "BATT_LOW_VOLT": _f(10.5, 0.0, 100.0),
        "BATT_CRT_VOLT": _f(0.0, 0.0, 100.0),
        "BATT_LOW_MAH": _f(0.0, 0.0, 100000.0),
        "BATT_CRT_MAH": _f(0.0, 0.0, 100000.0),
        "BATT_FS_LOW_ACT": _i(0, 0, 7),
        "BATT_FS_CRT_ACT": _i(0, 0, 7),
        "BATT_FS_VOLTSRC": _i(0, 0, 1),
        "BATT_ARM_VOLT": _f(0.0, 0.0, 100.0),
        "FENCE_ENABLE": _i(0, 0, 1),
        "FENCE_TYPE": _i(7, 0, 15),
        "FENCE_ACTION": _i(1, 0, 6),
        "FENCE_ALT_MAX": _f(100.0, 10.0, 1000.0),
        "FENCE_RADIUS": _f(150.0, 30.0, 10000.0),
        "FENCE_MARGIN": _f(2.0, 1.0, 10.0),
        "CAM_TRIGG_DIST": _f(0.0, 0.0, 1000.0),
        "SIM_WIND_SPD": _f(0.0, 0.0, 40.0),
        "SIM_WIND_DIR": _f(180.0, 0.0, 360.0),
        "SIM_GPS_DISABLE": _i(0, 0, 1),
        "SIM_BATT_VOLTAGE": _f(12.6, 0.0, 100.0),
    }


def defaults(autopilot: str, sysid: int) -> dict[str, Param]:
    """The parameter table of a fresh vehicle."""
    return px4_defaults(sysid) if autopilot == "px4" else ardupilot_defaults(sysid)


def encode_value(autopilot: str, p: Param) -> float:
    """PARAM_VALUE.param_value for ``p`` (PX4 byte-wise ints, ArduPilot cast)."""
    if autopilot == "px4" and p.ptype == PARAM_TYPE_INT32:
        return float(struct.unpack("<f", struct.pack("<i", int(p.value)))[0])
    return float(p.value)


def decode_value(autopilot: str, p: Param, wire_value: float, wire_type: int) -> float:
    """The value a PARAM_SET carries, decoded the way the flavour does it."""
    if autopilot == "px4" and p.ptype == PARAM_TYPE_INT32 and wire_type == PARAM_TYPE_INT32:
        return float(struct.unpack("<i", struct.pack("<f", wire_value))[0])
    if p.ptype == PARAM_TYPE_INT32:
        return float(round(wire_value))
    return float(wire_value)


def check_range(name: str, p: Param, value: float) -> None:
    """BadInputError if ``value`` is outside the parameter's range (firmware rejects it)."""
    if value != value or not (p.min_value <= value <= p.max_value):
        raise BadInputError(
            _("parameter {name}={value} outside [{lo:g}, {hi:g}]").format(
                name=name, value=value, lo=p.min_value, hi=p.max_value
            )
        )
