"""Flight modes by name for PX4 and ArduPilot (HEARTBEAT.custom_mode ↔ a readable name).

PX4 packs ``custom_mode`` as ``main_mode << 16 | sub_mode << 24`` (px4_custom_mode.h); names are
the ones QGroundControl shows (``AUTO.MISSION``, ``POSCTL``...). ArduPilot's ``custom_mode`` is
the vehicle's mode number, whose meaning depends on the vehicle type (Copter, Plane).
"""

from __future__ import annotations

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

#: the modes in which the autopilots fly the uploaded mission
MISSION_MODES = frozenset({"AUTO", "AUTO.MISSION"})
#: the mode PX4's navigator enters by itself when its mission is finished ("Mission finished,
#: loitering"), before it flies the mission's closing RTL item
PX4_MISSION_FINISHED_MODE = "AUTO.LOITER"

AUTOPILOT_ARDUPILOT = 3  # MAV_AUTOPILOT_ARDUPILOTMEGA
AUTOPILOT_PX4 = 12  # MAV_AUTOPILOT_PX4
MODE_FLAG_CUSTOM_MODE_ENABLED = 1
MODE_FLAG_SAFETY_ARMED = 128
MAV_TYPE_FIXED_WING = 1

PX4_MAIN = {
    1: "MANUAL",
    2: "ALTCTL",
    3: "POSCTL",
    4: "AUTO",
    5: "ACRO",
    6: "OFFBOARD",
    7: "STABILIZED",
    8: "RATTITUDE",
}
PX4_AUTO_SUB = {
    1: "READY",
    2: "TAKEOFF",
    3: "LOITER",
    4: "MISSION",
    5: "RTL",
    6: "LAND",
    8: "FOLLOW_TARGET",
    9: "PRECLAND",
    10: "VTOL_TAKEOFF",
}
PX4_POSCTL_SUB = {1: "ORBIT"}

COPTER_MODES = {
    0: "STABILIZE",
    1: "ACRO",
    2: "ALT_HOLD",
    3: "AUTO",
    4: "GUIDED",
    5: "LOITER",
    6: "RTL",
    7: "CIRCLE",
    9: "LAND",
    11: "DRIFT",
    13: "SPORT",
    14: "FLIP",
    15: "AUTOTUNE",
    16: "POSHOLD",
    17: "BRAKE",
    18: "THROW",
    19: "AVOID_ADSB",
    20: "GUIDED_NOGPS",
    21: "SMART_RTL",
    22: "FLOWHOLD",
    23: "FOLLOW",
    24: "ZIGZAG",
    25: "SYSTEMID",
    26: "AUTOROTATE",
    27: "AUTO_RTL",
    28: "TURTLE",
}
PLANE_MODES = {
    0: "MANUAL",
    1: "CIRCLE",
    2: "STABILIZE",
    3: "TRAINING",
    4: "ACRO",
    5: "FBWA",
    6: "FBWB",
    7: "CRUISE",
    8: "AUTOTUNE",
    10: "AUTO",
    11: "RTL",
    12: "LOITER",
    13: "TAKEOFF",
    14: "AVOID_ADSB",
    15: "GUIDED",
    17: "QSTABILIZE",
    18: "QHOVER",
    19: "QLOITER",
    20: "QLAND",
    21: "QRTL",
    22: "QAUTOTUNE",
    23: "QACRO",
    24: "THERMAL",
    25: "LOITER_ALT_QLAND",
}

#: generic intents → mode name per autopilot (used by takeoff/land/rtl/mission helpers)
INTENT_MODES = {
    "px4": {
        "mission": "AUTO.MISSION",
        "hold": "AUTO.LOITER",
        "rtl": "AUTO.RTL",
        "land": "AUTO.LAND",
        "takeoff": "AUTO.TAKEOFF",
        "guided": "AUTO.LOITER",
    },
    "ardupilot": {
        "mission": "AUTO",
        "hold": "LOITER",
        "rtl": "RTL",
        "land": "LAND",
        "takeoff": "GUIDED",
        "guided": "GUIDED",
    },
}


def autopilot_name(autopilot: int) -> str:
    if autopilot == AUTOPILOT_PX4:
        return "px4"
    if autopilot == AUTOPILOT_ARDUPILOT:
        return "ardupilot"
    return "generic"


def _ardupilot_table(vehicle_type: int) -> dict[int, str]:
    return PLANE_MODES if vehicle_type == MAV_TYPE_FIXED_WING else COPTER_MODES


def mode_name(autopilot: str, base_mode: int, custom_mode: int, vehicle_type: int = 2) -> str:
    """Readable name of a HEARTBEAT's mode (``"UNKNOWN(n)"`` when not in the tables)."""
    if not base_mode & MODE_FLAG_CUSTOM_MODE_ENABLED:
        return f"BASE({base_mode})"
    if autopilot == "px4":
        main = (custom_mode >> 16) & 0xFF
        sub = (custom_mode >> 24) & 0xFF
        name = PX4_MAIN.get(main)
        if name is None:
            return f"UNKNOWN({custom_mode})"
        if main == 4:
            return f"AUTO.{PX4_AUTO_SUB.get(sub, str(sub))}"
        if main == 3 and sub in PX4_POSCTL_SUB:
            return PX4_POSCTL_SUB[sub]
        return name
    if autopilot == "ardupilot":
        return _ardupilot_table(vehicle_type).get(custom_mode, f"UNKNOWN({custom_mode})")
    return f"UNKNOWN({custom_mode})"


def mode_params(autopilot: str, name: str, vehicle_type: int = 2) -> tuple[float, float, float]:
    """MAV_CMD_DO_SET_MODE params 1-3 for a mode name; BadInputError if unknown."""
    upper = name.strip().upper()
    if autopilot == "px4":
        if upper == "ORBIT":
            return (MODE_FLAG_CUSTOM_MODE_ENABLED, 3, 1)
        if upper.startswith("AUTO."):
            sub = {v: k for k, v in PX4_AUTO_SUB.items()}.get(upper[5:])
            if sub is not None:
                return (MODE_FLAG_CUSTOM_MODE_ENABLED, 4, sub)
        main = {v: k for k, v in PX4_MAIN.items()}.get(upper)
        if main is not None and upper != "AUTO":
            return (MODE_FLAG_CUSTOM_MODE_ENABLED, main, 0)
        known = sorted([*(v for v in PX4_MAIN.values() if v != "AUTO"), "ORBIT"])
        known += [f"AUTO.{v}" for v in PX4_AUTO_SUB.values()]
    elif autopilot == "ardupilot":
        table = _ardupilot_table(vehicle_type)
        number = {v: k for k, v in table.items()}.get(upper)
        if number is not None:
            return (MODE_FLAG_CUSTOM_MODE_ENABLED, number, 0)
        known = sorted(table.values())
    else:
        known = []
    raise BadInputError(
        _("unknown flight mode {mode!r} for {autopilot}; known: {known}").format(
            mode=name, autopilot=autopilot, known=", ".join(known)
        )
    )


#: ArduCopter modes that refuse to arm (``Mode::allows_arming`` false; AUTO and AUTO_RTL unless
#: AUTO_OPTIONS allows it). A copter that landed by its mission's RTL is still in AUTO, one that
#: landed by RTL or LAND in those: arming there answers "Arm: <MODE> mode not armable".
COPTER_NOT_ARMABLE = frozenset(
    {
        "AUTO",
        "AUTO_RTL",
        "RTL",
        "SMART_RTL",
        "LAND",
        "CIRCLE",
        "BRAKE",
        "FLIP",
        "AUTOTUNE",
        "SYSTEMID",
        "AVOID_ADSB",
        "FOLLOW",
        "AUTOROTATE",
    }
)


def arming_mode(autopilot: str, mode: str | None) -> str | None:
    """The mode to switch to before arming a vehicle in ``mode`` (None: arm as it is).

    ArduCopter in a mode that refuses to arm goes to GUIDED, where a ground station may arm it
    and where it takes off anyway. PX4 needs nothing: after disarming it returns by itself to
    the last mode the pilot chose that allows arming (``UserModeIntention::onDisarm``).

    >>> arming_mode("ardupilot", "AUTO"), arming_mode("ardupilot", "LOITER")
    ('GUIDED', None)
    >>> arming_mode("px4", "AUTO.RTL") is None
    True
    """
    if autopilot == "ardupilot" and mode in COPTER_NOT_ARMABLE:
        return "GUIDED"
    return None
