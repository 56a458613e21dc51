"""Flight modes of the two firmware flavours and the behaviour each one selects.

PX4 packs its mode into HEARTBEAT.custom_mode as ``main_mode << 16 | sub_mode << 24``
(``px4_custom_mode.h``); ArduCopter sends its mode number (``mode.h``). The simulator's vehicle
model works with a flavour-neutral :class:`Behaviour`; these tables translate at the edge.
"""

from __future__ import annotations

import enum

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _


class Behaviour(enum.Enum):
    """What the vehicle model does in a mode (flavour-neutral)."""

    MANUAL = "manual"  # no RC in the sim: holds attitude, drifts with wind (treated as hold)
    HOLD = "hold"  # position hold / loiter
    TAKEOFF = "takeoff"
    MISSION = "mission"
    RTL = "rtl"
    LAND = "land"
    GUIDED = "guided"  # position target from commands (ArduCopter GUIDED, PX4 OFFBOARD)


# PX4 main modes
PX4_MAIN_MANUAL = 1
PX4_MAIN_ALTCTL = 2
PX4_MAIN_POSCTL = 3
PX4_MAIN_AUTO = 4
PX4_MAIN_ACRO = 5
PX4_MAIN_OFFBOARD = 6
PX4_MAIN_STABILIZED = 7
# PX4 AUTO sub modes
PX4_AUTO_READY = 1
PX4_AUTO_TAKEOFF = 2
PX4_AUTO_LOITER = 3
PX4_AUTO_MISSION = 4
PX4_AUTO_RTL = 5
PX4_AUTO_LAND = 6
PX4_AUTO_FOLLOW_TARGET = 8
PX4_AUTO_PRECLAND = 9

#: PX4 mode name → (main mode, sub mode, behaviour)
PX4_MODES: dict[str, tuple[int, int, Behaviour]] = {
    "MANUAL": (PX4_MAIN_MANUAL, 0, Behaviour.MANUAL),
    "ALTCTL": (PX4_MAIN_ALTCTL, 0, Behaviour.MANUAL),
    "POSCTL": (PX4_MAIN_POSCTL, 0, Behaviour.HOLD),
    "ACRO": (PX4_MAIN_ACRO, 0, Behaviour.MANUAL),
    "STABILIZED": (PX4_MAIN_STABILIZED, 0, Behaviour.MANUAL),
    "OFFBOARD": (PX4_MAIN_OFFBOARD, 0, Behaviour.GUIDED),
    "AUTO.READY": (PX4_MAIN_AUTO, PX4_AUTO_READY, Behaviour.HOLD),
    "AUTO.TAKEOFF": (PX4_MAIN_AUTO, PX4_AUTO_TAKEOFF, Behaviour.TAKEOFF),
    "AUTO.LOITER": (PX4_MAIN_AUTO, PX4_AUTO_LOITER, Behaviour.HOLD),
    "AUTO.MISSION": (PX4_MAIN_AUTO, PX4_AUTO_MISSION, Behaviour.MISSION),
    "AUTO.RTL": (PX4_MAIN_AUTO, PX4_AUTO_RTL, Behaviour.RTL),
    "AUTO.LAND": (PX4_MAIN_AUTO, PX4_AUTO_LAND, Behaviour.LAND),
    "AUTO.FOLLOW_TARGET": (PX4_MAIN_AUTO, PX4_AUTO_FOLLOW_TARGET, Behaviour.HOLD),
    "AUTO.PRECLAND": (PX4_MAIN_AUTO, PX4_AUTO_PRECLAND, Behaviour.LAND),
}

#: ArduCopter mode name → (mode number, behaviour)
ARDUCOPTER_MODES: dict[str, tuple[int, Behaviour]] = {
    "STABILIZE": (0, Behaviour.MANUAL),
    "ACRO": (1, Behaviour.MANUAL),
    "ALT_HOLD": (2, Behaviour.MANUAL),
    "AUTO": (3, Behaviour.MISSION),
    "GUIDED": (4, Behaviour.GUIDED),
    "LOITER": (5, Behaviour.HOLD),
    "RTL": (6, Behaviour.RTL),
    "CIRCLE": (7, Behaviour.HOLD),
    "LAND": (9, Behaviour.LAND),
    "DRIFT": (11, Behaviour.MANUAL),
    "SPORT": (13, Behaviour.MANUAL),
    "POSHOLD": (16, Behaviour.HOLD),
    "BRAKE": (17, Behaviour.HOLD),
    "SMART_RTL": (21, Behaviour.RTL),
}

#: modes that need a position estimate (GPS) to be entered
PX4_NEEDS_POSITION = frozenset(
    {"POSCTL", "OFFBOARD", "AUTO.TAKEOFF", "AUTO.LOITER", "AUTO.MISSION", "AUTO.RTL"}
)
ARDUCOPTER_NEEDS_POSITION = frozenset(
    {"AUTO", "GUIDED", "LOITER", "RTL", "CIRCLE", "DRIFT", "POSHOLD", "BRAKE", "SMART_RTL"}
)


def px4_custom_mode(name: str) -> int:
    """HEARTBEAT.custom_mode for a PX4 mode name."""
    main, sub, _b = PX4_MODES[name]
    return (main << 16) | (sub << 24)


def px4_mode_name(main: int, sub: int) -> str:
    """Mode name for PX4 main/sub modes (DO_SET_MODE param2/3); BadInputError if unknown."""
    for name, (m, s, _b) in PX4_MODES.items():
        if m == main and (s == sub or (m != PX4_MAIN_AUTO and sub == 0)):
            return name
    if main == PX4_MAIN_AUTO and sub == 0:
        return "AUTO.LOITER"
    raise BadInputError(_("unknown PX4 mode main={main} sub={sub}").format(main=main, sub=sub))


def px4_mode_from_custom(custom_mode: int) -> str:
    """Mode name from a PX4 HEARTBEAT.custom_mode."""
    return px4_mode_name((custom_mode >> 16) & 0xFF, (custom_mode >> 24) & 0xFF)


def arducopter_mode_name(number: int) -> str:
    """ArduCopter mode name for a mode number; BadInputError if unknown."""
    for name, (n, _b) in ARDUCOPTER_MODES.items():
        if n == number:
            return name
    raise BadInputError(_("unknown ArduCopter mode number {number}").format(number=number))


def behaviour_of(autopilot: str, mode: str) -> Behaviour:
    """The behaviour the vehicle model runs in ``mode`` of ``autopilot``."""
    if autopilot == "px4":
        return PX4_MODES[mode][2]
    return ARDUCOPTER_MODES[mode][1]


def custom_mode_of(autopilot: str, mode: str) -> int:
    """HEARTBEAT.custom_mode of ``mode``."""
    if autopilot == "px4":
        return px4_custom_mode(mode)
    return ARDUCOPTER_MODES[mode][0]


def mode_for(autopilot: str, behaviour: Behaviour) -> str:
    """The mode a firmware switches to for a failsafe or command behaviour."""
    if autopilot == "px4":
        return {
            Behaviour.HOLD: "AUTO.LOITER",
            Behaviour.TAKEOFF: "AUTO.TAKEOFF",
            Behaviour.MISSION: "AUTO.MISSION",
            Behaviour.RTL: "AUTO.RTL",
            Behaviour.LAND: "AUTO.LAND",
            Behaviour.GUIDED: "OFFBOARD",
            Behaviour.MANUAL: "MANUAL",
        }[behaviour]
    return {
        Behaviour.HOLD: "LOITER",
        Behaviour.TAKEOFF: "GUIDED",
        Behaviour.MISSION: "AUTO",
        Behaviour.RTL: "RTL",
        Behaviour.LAND: "LAND",
        Behaviour.GUIDED: "GUIDED",
        Behaviour.MANUAL: "STABILIZE",
    }[behaviour]


def mode_names(autopilot: str) -> list[str]:
    """All mode names of a flavour."""
    return list(PX4_MODES) if autopilot == "px4" else list(ARDUCOPTER_MODES)
