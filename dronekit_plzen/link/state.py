"""Vehicle state as an immutable snapshot, updated by a pure reducer.

:func:`apply_message` turns (state, decoded message) into a new :class:`VehicleState`; wire units
(1e7 degrees, mm, cm/s, cdeg, mV, cA) are converted here, once. The link owns the current
snapshot per vehicle and swaps it atomically, so readers on any thread see a consistent state.

Mission progress (``mission_seq``, ``mission_count``) is given in the indices of the mission the
user uploaded: for ArduPilot, whose sequence 0 is the home position, one is subtracted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dronekit_plzen.i18n import _
from dronekit_plzen.link.modes import (
    MISSION_MODES,
    MODE_FLAG_SAFETY_ARMED,
    PX4_MISSION_FINISHED_MODE,
    autopilot_name,
    mode_name,
)

LANDED_UNDEFINED = 0
LANDED_ON_GROUND = 1
LANDED_IN_AIR = 2
LANDED_TAKEOFF = 3
LANDED_LANDING = 4
LANDED_NAMES = {0: "undefined", 1: "on_ground", 2: "in_air", 3: "takeoff", 4: "landing"}

#: EKF_STATUS_REPORT.flags (ardupilotmega EKF_STATUS_FLAGS) that decide ArduCopter's position_ok
EKF_POS_HORIZ_ABS = 0x10
EKF_CONST_POS_MODE = 0x80
EKF_PRED_POS_HORIZ_ABS = 0x200
EKF_UNINITIALIZED = 0x400

#: how many STATUSTEXTs a snapshot keeps
STATUSTEXT_KEEP = 20


@dataclass(frozen=True)
class StatusText:
    time_s: float
    severity: int
    text: str


@dataclass(frozen=True)
class VehicleState:
    """What we know about one vehicle. Units in the names; NaN/None when not yet known."""

    sysid: int
    compid: int = 1
    autopilot: str = "generic"
    vehicle_type: int = 0
    mode: str = ""
    armed: bool = False
    system_status: int = 0
    lat_deg: float = math.nan
    lon_deg: float = math.nan
    alt_amsl_m: float = math.nan
    relative_alt_m: float = math.nan
    vn_m_s: float = math.nan
    ve_m_s: float = math.nan
    vd_m_s: float = math.nan
    groundspeed_m_s: float = math.nan
    roll_deg: float = math.nan
    pitch_deg: float = math.nan
    yaw_deg: float = math.nan
    heading_deg: float = math.nan
    battery_voltage_v: float = math.nan
    battery_remaining_pct: float = math.nan
    battery_current_a: float = math.nan
    gps_fix_type: int = 0
    satellites: int = 0
    hdop: float = math.nan
    #: (lat_deg, lon_deg, alt_amsl_m) from HOME_POSITION
    home: tuple[float, float, float] | None = None
    mission_seq: int = -1
    mission_count: int = 0
    mission_state: int = 0
    last_item_reached: int = -1
    #: the mode the vehicle was in when ``mission_seq`` / ``last_item_reached`` came (the
    #: last HEARTBEAT before it): a reach reported just before a switch to RTL is still the
    #: mission's progress, however late a reader looks
    mission_seq_mode: str = ""
    item_reached_mode: str = ""
    #: the mode before the last change of mode, and how many HEARTBEATs have said ``mode``
    mode_before: str = ""
    mode_heartbeats: int = 0
    #: the last ``mission_seq`` received in a mission mode: the item the mission flew to
    mission_target: int = -1
    statustexts: tuple[StatusText, ...] = ()
    landed_state: int = LANDED_UNDEFINED
    #: SYS_STATUS sensor bitmasks: present & enabled & not healthy
    sensors_unhealthy: int = 0
    #: EKF_STATUS_REPORT.flags (ArduPilot only), None until the first report
    ekf_flags: int | None = None
    #: the last reading dropped as impossible (a latitude beyond 90°, a charge of 120 %), named
    #: with its message; empty while every reading made sense
    implausible: str = ""
    #: monotonic time of the last HEARTBEAT (seconds); heartbeat_age_s is computed from it
    last_heartbeat_s: float = math.nan
    heartbeat_age_s: float = math.inf
    packet_loss_pct: float = 0.0
    messages_received: int = 0
    last_message_s: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def position_known(self) -> bool:
        return not (math.isnan(self.lat_deg) or math.isnan(self.lon_deg))

    @property
    def in_air(self) -> bool:
        return self.landed_state in (LANDED_IN_AIR, LANDED_TAKEOFF, LANDED_LANDING)

    @property
    def healthy(self) -> bool:
        return self.sensors_unhealthy == 0

    @property
    def ekf_position_ok(self) -> bool:
        """ArduCopter's ``ekf_has_absolute_position()`` from the reported EKF flags.

        Disarmed, a current or predicted absolute horizontal position will do; armed, only a
        current one outside constant-position mode. False while no EKF_STATUS_REPORT was heard.
        """
        f = self.ekf_flags
        if f is None:
            return False
        if not self.armed:
            return bool(f & (EKF_POS_HORIZ_ABS | EKF_PRED_POS_HORIZ_ABS))
        return bool(f & EKF_POS_HORIZ_ABS) and not f & EKF_CONST_POS_MODE

    @property
    def landed_state_name(self) -> str:
        return LANDED_NAMES.get(self.landed_state, str(self.landed_state))


@dataclass
class SequenceTracker:
    """Packet loss from MAVLink sequence-number gaps of one (system, component) stream."""

    last_seq: int | None = None
    received: int = 0
    lost: int = 0

    def update(self, seq: int) -> None:
        if self.last_seq is not None:
            gap = (seq - self.last_seq - 1) % 256
            if gap < 128:  # a large "gap" is a duplicate or a reordered old packet
                self.lost += gap
            else:
                return
        self.last_seq = seq
        self.received += 1

    @property
    def loss_pct(self) -> float:
        total = self.received + self.lost
        return 100.0 * self.lost / total if total else 0.0


def _replace(s: VehicleState, **changes: Any) -> VehicleState:
    """``dataclasses.replace`` for :class:`VehicleState` (frozen, no ``__post_init__``).

    The reducers run for every telemetry message; ``dataclasses.replace`` reads every field
    through ``getattr`` and calls ``__init__``, ten times the cost of copying the instance
    dictionary. The copy is complete before anyone can see it, so it stays immutable to readers.
    """
    new = object.__new__(type(s))
    d = new.__dict__
    d.update(s.__dict__)
    d.update(changes)
    return new


def _e7(v: int) -> float:
    return v / 1e7


def _lat_lon(lat_e7: int, lon_e7: int) -> tuple[float, float] | None:
    """A latitude and longitude in 1e-7 degrees as degrees; None when they are no place on
    Earth (beyond ±90° / ±180°: INT32_MAX is 214.7°) or both 0, which ArduPilot sends (and
    QGroundControl reads) as "no position yet"."""
    if lat_e7 == 0 and lon_e7 == 0:
        return None
    if not (-900_000_000 <= lat_e7 <= 900_000_000 and -1_800_000_000 <= lon_e7 <= 1_800_000_000):
        return None
    return lat_e7 / 1e7, lon_e7 / 1e7


def _impossible_place(message: str, lat_e7: int, lon_e7: int) -> str:
    return _("{message} gave an impossible position: lat {lat:.7f}°, lon {lon:.7f}°").format(
        message=message, lat=lat_e7 / 1e7, lon=lon_e7 / 1e7
    )


def _finite(v: float) -> float:
    """A float reading as sent, NaN for infinity (a reading that is not a number)."""
    v = float(v)
    return v if math.isfinite(v) else math.nan


def _charge_pct(s: VehicleState, message: str, remaining: int) -> tuple[float, str]:
    """``battery_remaining`` (0..100 %, -1 unknown) and the state's note: a charge over 100 %
    (or below -1) is no reading, not a full battery."""
    if remaining == -1:
        return math.nan, s.implausible
    if 0 <= remaining <= 100:
        return float(remaining), s.implausible
    return math.nan, _("{message} gave an impossible battery charge of {pct} %").format(
        message=message, pct=remaining
    )


def _heartbeat(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    ap = autopilot_name(m.autopilot)
    mode = mode_name(ap, m.base_mode, m.custom_mode, m.type)
    same = mode == s.mode
    return _replace(
        s,
        autopilot=ap,
        vehicle_type=m.type,
        mode=mode,
        mode_before=s.mode_before if same else s.mode,
        mode_heartbeats=s.mode_heartbeats + 1 if same else 1,
        armed=bool(m.base_mode & MODE_FLAG_SAFETY_ARMED),
        system_status=m.system_status,
        last_heartbeat_s=now_s,
    )


def _global_position(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    # hdg: 0..35999 cdeg, UINT16_MAX unknown (anything else is no heading either)
    hdg = m.hdg / 100.0 if m.hdg < 36000 else s.heading_deg
    place = _lat_lon(m.lat, m.lon)
    if place is None:  # no position (yet, or an impossible one): not a place at 214.7°
        note = s.implausible
        if m.lat or m.lon:
            note = _impossible_place("GLOBAL_POSITION_INT", m.lat, m.lon)
        return _replace(
            s,
            lat_deg=math.nan,
            lon_deg=math.nan,
            alt_amsl_m=math.nan,
            relative_alt_m=math.nan,
            heading_deg=hdg,
            implausible=note,
        )
    return _replace(
        s,
        lat_deg=place[0],
        lon_deg=place[1],
        alt_amsl_m=m.alt / 1000.0,
        relative_alt_m=m.relative_alt / 1000.0,
        vn_m_s=m.vx / 100.0,
        ve_m_s=m.vy / 100.0,
        vd_m_s=m.vz / 100.0,
        heading_deg=hdg,
    )


def _attitude(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    return _replace(
        s,
        roll_deg=math.degrees(_finite(m.roll)),
        pitch_deg=math.degrees(_finite(m.pitch)),
        yaw_deg=math.degrees(_finite(m.yaw)) % 360.0,
    )


def _vfr_hud(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    heading = float(m.heading) if 0 <= m.heading < 360 else s.heading_deg
    return _replace(s, groundspeed_m_s=_finite(m.groundspeed), heading_deg=heading)


def _sys_status(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    present = m.onboard_control_sensors_present & m.onboard_control_sensors_enabled
    pct, note = _charge_pct(s, "SYS_STATUS", m.battery_remaining)
    return _replace(
        s,
        battery_voltage_v=(m.voltage_battery / 1000.0)
        if m.voltage_battery != 65535
        else s.battery_voltage_v,
        battery_current_a=(m.current_battery / 100.0) if m.current_battery >= 0 else math.nan,
        battery_remaining_pct=pct,
        sensors_unhealthy=present & ~m.onboard_control_sensors_health,
        implausible=note,
    )


def _battery_status(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    if m.id != 0:
        return s
    cells = [v for v in m.voltages if v != 65535]
    volts = sum(cells) / 1000.0 if cells else s.battery_voltage_v
    pct, note = _charge_pct(s, "BATTERY_STATUS", m.battery_remaining)
    return _replace(
        s,
        battery_voltage_v=volts,
        battery_current_a=(m.current_battery / 100.0)
        if m.current_battery >= 0
        else s.battery_current_a,
        # -1 (not reported) keeps what SYS_STATUS said; an impossible charge is no reading
        battery_remaining_pct=s.battery_remaining_pct if m.battery_remaining == -1 else pct,
        implausible=note,
    )


def _gps_raw(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    return _replace(
        s,
        gps_fix_type=m.fix_type,
        satellites=0 if m.satellites_visible == 255 else m.satellites_visible,
        hdop=math.nan if m.eph == 65535 else m.eph / 100.0,
    )


def _ekf_status(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    return _replace(s, ekf_flags=int(m.flags))


def _home(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    place = _lat_lon(m.latitude, m.longitude)
    if place is None:  # no home is better than a home at 214.7°N (the guard's datum)
        note = s.implausible
        if m.latitude or m.longitude:
            note = _impossible_place("HOME_POSITION", m.latitude, m.longitude)
        return _replace(s, home=None, implausible=note)
    return _replace(s, home=(place[0], place[1], m.altitude / 1000.0))


def mission_index(autopilot: str, seq: int) -> int:
    """A mission sequence number on the wire as an index of the mission the toolkit uploaded
    (ArduPilot's item 0 is home)."""
    return seq - (1 if autopilot == "ardupilot" else 0)


def _offset(s: VehicleState) -> int:
    return -mission_index(s.autopilot, 0)


MISSION_STATE_NO_MISSION = 1  # MAVLink MISSION_STATE


def _mission_current(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    off = _offset(s)
    # MISSION_CURRENT.total: 0 = not supported (keep what the last transfer said), UINT16_MAX =
    # no mission on the vehicle; mission_state NO_MISSION (1) says the same where total is 0
    # (ArduPilot counts without home): a rebooted or cleared vehicle has 0 items, not the old count
    total = int(getattr(m, "total", 0) or 0)
    state = int(getattr(m, "mission_state", 0) or 0)
    if total == 65535 or state == MISSION_STATE_NO_MISSION:
        count = 0
    else:
        count = max(0, total - off) if total else s.mission_count
    seq = max(-1, m.seq - off)
    return _replace(
        s,
        mission_seq=seq,
        mission_count=count,
        mission_state=state,
        mission_seq_mode=s.mode,
        mission_target=seq if s.mode in MISSION_MODES else s.mission_target,
    )


def reach_mode(s: VehicleState, index: int) -> str:
    """The mode a MISSION_ITEM_REACHED of item ``index`` counts in: the mode of the last
    HEARTBEAT before it, except for the reach of the item the mission was flying to that comes
    within the first heartbeat of PX4's "mission finished" loiter. PX4 v1.16 switches to
    AUTO.LOITER when it reaches its last waypoint (then to RTL for a closing RTL item), and its
    receiver thread sends the reach after its main thread's heartbeat may already have said
    AUTO.LOITER (seen on SITL): that reach is the mission's, in the mission mode it left."""
    if (
        s.mode == PX4_MISSION_FINISHED_MODE
        and s.mode_before in MISSION_MODES
        and s.mode_heartbeats <= 1
        and index == s.mission_target
    ):
        return s.mode_before
    return s.mode


def _item_reached(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    index = m.seq - _offset(s)
    return _replace(s, last_item_reached=index, item_reached_mode=reach_mode(s, index))


def statustext_str(raw: bytes | str) -> str:
    """A STATUSTEXT's text as shown to people: UTF-8 (bad bytes replaced), up to its first NUL
    (50 characters with none), control characters (a terminal's escape sequences) as U+FFFD:
    a vehicle's words must not recolour or rewrite the operator's terminal."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    text = text.split("\x00", 1)[0]
    return text.translate(_CONTROL_CHARACTERS)


#: C0 and C1 control characters and DEL -> U+FFFD
_CONTROL_CHARACTERS = {c: "\ufffd" for c in (*range(0x20), *range(0x7F, 0xA0))}


def _statustext(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    entry = StatusText(time_s=now_s, severity=int(m.severity), text=statustext_str(m.text))
    return _replace(s, statustexts=(*s.statustexts, entry)[-STATUSTEXT_KEEP:])


def _extended_sys_state(s: VehicleState, m: Any, now_s: float) -> VehicleState:
    return _replace(s, landed_state=int(m.landed_state))


_REDUCERS = {
    "HEARTBEAT": _heartbeat,
    "GLOBAL_POSITION_INT": _global_position,
    "ATTITUDE": _attitude,
    "VFR_HUD": _vfr_hud,
    "SYS_STATUS": _sys_status,
    "BATTERY_STATUS": _battery_status,
    "GPS_RAW_INT": _gps_raw,
    "HOME_POSITION": _home,
    "EKF_STATUS_REPORT": _ekf_status,
    "MISSION_CURRENT": _mission_current,
    "MISSION_ITEM_REACHED": _item_reached,
    "STATUSTEXT": _statustext,
    "EXTENDED_SYS_STATE": _extended_sys_state,
}

#: message types that change the state (others only bump the counters)
STATE_MESSAGES = frozenset(_REDUCERS)
#: state messages whose reducer alone sets its fields, from the message only: applying just the
#: latest one gives the state that applying every one would (so a link may reduce them when
#: the state is read instead of at, say, 250 Hz of ATTITUDE)
LATEST_ONLY_MESSAGES = frozenset(
    {"ATTITUDE", "GPS_RAW_INT", "EXTENDED_SYS_STATE", "EKF_STATUS_REPORT", "HOME_POSITION"}
)


def reduce_latest(state: VehicleState, msg: Any, now_s: float) -> VehicleState:
    """Apply a held-back :data:`LATEST_ONLY_MESSAGES` message (already counted)."""
    return _REDUCERS[msg.get_type()](state, msg, now_s)


def apply_message(state: VehicleState, msg: Any, now_s: float) -> VehicleState:
    """Return ``state`` updated by one decoded message received at monotonic ``now_s``."""
    fn = _REDUCERS.get(msg.get_type())
    new = fn(state, msg, now_s) if fn is not None else state
    counts = {"messages_received": state.messages_received + 1, "last_message_s": now_s}
    if new is state:
        return _replace(state, **counts)
    new.__dict__.update(counts)  # the reducer's fresh copy, not seen by anyone yet
    return new


def snapshot(state: VehicleState, now_s: float, loss_pct: float) -> VehicleState:
    """The state as a caller sees it: heartbeat age and packet loss filled in for ``now_s``."""
    age = (
        math.inf if math.isnan(state.last_heartbeat_s) else max(0.0, now_s - state.last_heartbeat_s)
    )
    return _replace(state, heartbeat_age_s=age, packet_loss_pct=loss_pct)
