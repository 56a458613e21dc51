"""One vehicle on a link: its state snapshot, commands and mission transfers.

Every blocking call waits on a queue fed by the link's I/O thread and ends with a result, a
:class:`~dronekit_plzen.errors.CommandError` / :class:`~dronekit_plzen.errors.MissionTransferError`
carrying the protocol's code, or a :class:`~dronekit_plzen.errors.LinkTimeout`. Commands to one
vehicle are serialised (one COMMAND_ACK can then only belong to one command); mission transfers
are serialised separately.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dronekit_plzen.errors import BadInputError, CommandError, LinkTimeout, MissionTransferError
from dronekit_plzen.i18n import _
from dronekit_plzen.link import commands as cmdproto
from dronekit_plzen.link import mission as misproto
from dronekit_plzen.link import mission_packing as packing
from dronekit_plzen.link import params
from dronekit_plzen.link.codec import SigningKey, signing_timestamp
from dronekit_plzen.link.commands import CommandPolicy, CommandResult
from dronekit_plzen.link.mission import TransferPolicy
from dronekit_plzen.link.modes import INTENT_MODES, mode_params
from dronekit_plzen.link.state import VehicleState, statustext_str
from dronekit_plzen.mission_items import (
    CMD_DO_JUMP,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL,
    MISSION_TYPE_MISSION,
    PX4_MISSION_COMMANDS,
    MissionItem,
)
from dronekit_plzen.safety import Clearance, Override, require_clearance

if TYPE_CHECKING:
    from dronekit_plzen.link.connection import Link, Subscription

log = logging.getLogger(__name__)

MAV_CMD_DO_SET_MODE = 176
MAV_CMD_NAV_TAKEOFF = 22
MAV_CMD_NAV_LAND = 21
MAV_CMD_NAV_RETURN_TO_LAUNCH = 20
MAV_CMD_DO_CHANGE_SPEED = 178
MAV_CMD_DO_SET_HOME = 179
MAV_CMD_DO_REPOSITION = 192
MAV_CMD_DO_SET_MISSION_CURRENT = 224
MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN = 246
MAV_CMD_MISSION_START = 300
MAV_CMD_COMPONENT_ARM_DISARM = 400
MAV_CMD_SET_MESSAGE_INTERVAL = 511
MAV_CMD_REQUEST_MESSAGE = 512
FORCE_MAGIC = 21196
MAV_FRAME_GLOBAL_INT = 5
MAV_SYS_STATUS_PREARM_CHECK = 0x10000000
MAVLINK_MSG_ID_EKF_STATUS_REPORT = 193
#: how long after a mission upload a PX4 refusal is asked again: the navigator's check of the
#: mission (commander re-reads its result every 100 ms; longer on a loaded machine)
PX4_MISSION_CHECK_WAIT_S = 3.0
PX4_MISSION_CHECK_RETRY_S = 0.2
#: MAV_SEVERITY_ERROR: texts as severe as this, or more, explain a refusal; waited for so long
SEVERITY_ERROR = 3
REASON_WAIT_S = 1.0
#: how long a ready ArduPilot may stay silent about its EKF before we ask for EKF_STATUS_REPORT
EKF_REPORT_WAIT_S = 3.0
MAV_FRAME_GLOBAL_RELATIVE_ALT_INT = 6


class _Port:
    """Adapter between the protocol clients and a link subscription for one vehicle."""

    def __init__(self, vehicle: Vehicle, sub: Subscription) -> None:
        self.vehicle = vehicle
        self.sub = sub

    def send_to_vehicle(self, msg: Any) -> None:
        self.vehicle.link.send(msg, self.vehicle.sysid)

    def _next(self, timeout_s: float) -> Any | None:
        item = self.sub.get(timeout_s)
        return None if item is None else item[0]

    next_ack = _next
    next_mission_message = _next

    @property
    def gcs_system_id(self) -> int:
        return self.vehicle.link.system_id

    @property
    def mav(self) -> Any:
        return self.vehicle.link.mav

    @property
    def target(self) -> tuple[int, int]:
        return (self.vehicle.sysid, self.vehicle.compid)

    @property
    def loss_fraction(self) -> float:
        return self.vehicle.link.loss_fraction_of(self.vehicle.sysid)


def _shift_jump(item: MissionItem, by: int) -> MissionItem:
    """DO_JUMP's target between our numbering (an index into the items) and the vehicle's.

    Our items never include ArduPilot's home, so item k is the vehicle's seq k + 1 there (the
    same as QGroundControl's ``doJumpId``); PX4 has no home item and uses the index as it is.
    """
    if item.command != CMD_DO_JUMP:
        return item
    return item.with_(param1=item.param1 + by)


class Vehicle:
    """A vehicle heard on a :class:`~dronekit_plzen.link.connection.Link` (one system id)."""

    def __init__(self, link: Link, sysid: int, compid: int) -> None:
        self.link = link
        self.sysid = sysid
        self.compid = compid
        self.command_policy = CommandPolicy()
        self.transfer_policy = TransferPolicy()
        self._cmd_lock = threading.Lock()
        self._mission_lock = threading.Lock()
        #: PX4 checks a mission just uploaded until then (monotonic s): see :meth:`_px4_settled`
        self._px4_checks_until = -math.inf

    def __repr__(self) -> str:
        return f"<Vehicle {self.sysid} on {self.link.spec}>"

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> VehicleState:
        """A frozen snapshot; read it again for fresh values."""
        return self.link.state_of(self.sysid)

    @property
    def autopilot(self) -> str:
        return self.link.autopilot_of(self.sysid)

    @property
    def connected(self) -> bool:
        return self.state.heartbeat_age_s < self.link.link_timeout_s

    def wait_for(
        self, predicate: Callable[[VehicleState], bool], timeout_s: float, what: str = ""
    ) -> VehicleState:
        """Block until ``predicate(state)`` holds (re-checked on every message from the vehicle)."""
        deadline = time.monotonic() + timeout_s
        with self.link.subscribe(sysid=self.sysid, maxsize=1000) as sub:
            while True:
                st = self.state
                if predicate(st):
                    return st
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    text = _("vehicle {sysid}: timed out waiting for {what}").format(
                        sysid=self.sysid, what=what or _("a condition")
                    )
                    if st.implausible:  # why it never came: the vehicle sent nonsense instead
                        text += f" ({st.implausible})"
                    raise LinkTimeout(text, where=str(self.link.spec))
                sub.get(min(remaining, 1.0))

    def wait_ready_to_arm(
        self, timeout_s: float = 60.0, on_message: Callable[[str], None] | None = None
    ) -> VehicleState:
        """Block until the vehicle reports itself ready to arm; return that state.

        Ready means a SYS_STATUS received during the wait whose pre-arm check bit
        (``MAV_SYS_STATUS_PREARM_CHECK``, 0x10000000) is healthy: the firmware's own verdict
        (ArduCopter sets it once its EKF uses GPS, ~40 s after boot; PX4 v1.16 ~4 s after boot,
        in the health mask only, never in present/enabled). ArduCopter sets the bit about 4 s
        before its EKF uses GPS and refuses GUIDED/AUTO until then (``Copter::position_ok``), so
        for ArduPilot ready also needs an EKF_STATUS_REPORT received during the wait with an
        absolute horizontal position (:attr:`VehicleState.ekf_position_ok`) and a home position;
        meanwhile ``on_message`` gets "waiting for EKF position". PX4's bit already covers its
        global position estimate. A generic autopilot that never reports the bit is taken as
        ready once it reports a home position.
        ``on_message`` receives the firmware's pre-arm explanations (``PreArm: …``,
        ``Preflight Fail: …``) each time the text changes, starting with the latest one already
        received. Event driven: it wakes on every SYS_STATUS, HEARTBEAT and STATUSTEXT.

        Raises :class:`~dronekit_plzen.errors.LinkTimeout` when ``timeout_s`` passes, naming
        the last pre-arm message (``not ready to arm after 60 s: PreArm: Need 3D Fix``).
        """
        deadline = time.monotonic() + timeout_s
        last: list[str] = []

        def note(text: str) -> None:
            if not last or last[-1] != text:
                last.append(text)
                if on_message is not None:
                    on_message(text)

        for entry in reversed(self.state.statustexts):  # ArduPilot repeats them every 30 s
            if _is_prearm_text(entry.text) and time.monotonic() - entry.time_s < 35.0:
                note(entry.text)
                break
        fresh = ready = reports_bit = ekf_heard = False
        ekf_asked_s = time.monotonic()
        types = {"SYS_STATUS", "HEARTBEAT", "STATUSTEXT", "EKF_STATUS_REPORT", "HOME_POSITION"}
        with self.link.subscribe(types, self.sysid, maxsize=1000) as sub:
            while True:
                st = self.state
                unreported = fresh and not reports_bit and st.autopilot not in ("px4", "ardupilot")
                if ready and st.autopilot == "ardupilot" and not st.armed:
                    if not (ekf_heard and st.ekf_position_ok):
                        note(_("waiting for EKF position"))
                        if not ekf_heard and time.monotonic() - ekf_asked_s > EKF_REPORT_WAIT_S:
                            ekf_asked_s = time.monotonic()
                            self._ask_for_ekf_reports()
                        ready_ap = False
                    elif st.home is None:
                        note(_("waiting for home position"))
                        ready_ap = False
                    else:
                        ready_ap = True
                else:
                    ready_ap = ready
                if st.armed or ready_ap or (unreported and st.home is not None):
                    return st
                left = deadline - time.monotonic()
                if left <= 0:
                    why = last[-1] if last else _not_ready_reason(fresh)
                    raise LinkTimeout(
                        _("vehicle {sysid}: not ready to arm after {t:g} s: {why}").format(
                            sysid=self.sysid, t=timeout_s, why=why
                        )
                    )
                item = sub.get(left)
                if item is None:
                    continue
                msg = item[0]
                kind = msg.get_type()
                if kind == "SYS_STATUS":
                    fresh = True
                    bits = msg.onboard_control_sensors_present | msg.onboard_control_sensors_health
                    reports_bit = reports_bit or bool(bits & MAV_SYS_STATUS_PREARM_CHECK)
                    ready = bool(msg.onboard_control_sensors_health & MAV_SYS_STATUS_PREARM_CHECK)
                elif kind == "EKF_STATUS_REPORT":
                    ekf_heard = True
                elif kind == "STATUSTEXT":
                    text = statustext_str(msg.text)
                    if _is_prearm_text(text):
                        note(text)

    def _ask_for_ekf_reports(self) -> None:
        """SET_MESSAGE_INTERVAL for EKF_STATUS_REPORT (4 Hz), not waited for: the link's
        REQUEST_DATA_STREAM (all streams) normally brings it in ArduPilot's EXTRA3 stream."""
        msg = self.link.mav.command_long_encode(
            self.sysid,
            self.compid,
            MAV_CMD_SET_MESSAGE_INTERVAL,
            0,
            MAVLINK_MSG_ID_EKF_STATUS_REPORT,
            1e6 / 4.0,
            0,
            0,
            0,
            0,
            0,
        )
        self.link.send(msg, self.sysid)

    # ------------------------------------------------------------------ commands
    def command_long(
        self,
        command: int,
        p1: float = 0.0,
        p2: float = 0.0,
        p3: float = 0.0,
        p4: float = 0.0,
        p5: float = 0.0,
        p6: float = 0.0,
        p7: float = 0.0,
        *,
        policy: CommandPolicy | None = None,
        name: str = "",
        on_progress: Callable[[int], None] | None = None,
    ) -> CommandResult:
        """Send a COMMAND_LONG per the command protocol; return the ACCEPTED result."""
        mav = self.link.mav

        def build(confirmation: int) -> Any:
            return mav.command_long_encode(
                self.sysid, self.compid, command, confirmation, p1, p2, p3, p4, p5, p6, p7
            )

        return self._run(command, build, policy, name, on_progress)

    def command_int(
        self,
        command: int,
        frame: int,
        p1: float = 0.0,
        p2: float = 0.0,
        p3: float = 0.0,
        p4: float = 0.0,
        x: int = 0,
        y: int = 0,
        z: float = 0.0,
        *,
        policy: CommandPolicy | None = None,
        name: str = "",
    ) -> CommandResult:
        """Send a COMMAND_INT (positions as 1e7 degrees); retried like COMMAND_LONG."""
        mav = self.link.mav

        def build(_confirmation: int) -> Any:
            return mav.command_int_encode(
                self.sysid, self.compid, frame, command, 0, 0, p1, p2, p3, p4, x, y, z
            )

        return self._run(command, build, policy, name, None)

    def _run(
        self,
        command: int,
        build: Callable[[int], Any],
        policy: CommandPolicy | None,
        name: str,
        on_progress: Callable[[int], None] | None,
    ) -> CommandResult:
        with self._cmd_lock, self.link.subscribe({"COMMAND_ACK"}, self.sysid) as sub:
            return cmdproto.run_command(
                _Port(self, sub),
                command,
                build,
                policy=policy or self.command_policy,
                name=name or str(command),
                on_progress=on_progress,
            )

    def arm(self, force: bool = False) -> CommandResult:
        return self._px4_settled(
            lambda: self.command_long(
                MAV_CMD_COMPONENT_ARM_DISARM, 1, FORCE_MAGIC if force else 0, name="arm"
            )
        )

    def _px4_settled(self, send: Callable[[], CommandResult]) -> CommandResult:
        """``send()``, asked again while PX4 is still checking a mission just uploaded.

        PX4's commander takes the mission as missing until the navigator's feasibility check
        publishes it valid, and looks again every 100 ms (longer on a loaded machine): in
        that moment MISSION_START is DENIED ("Mission start denied! No valid mission") and so
        is arming or entering Mission mode where a mission is required (COM_ARM_MIS_REQ, or
        in Mission mode). A refusal within :data:`PX4_MISSION_CHECK_WAIT_S` of an upload is
        asked again; any other refusal stands at once.
        """
        while True:
            try:
                return send()
            except CommandError as exc:
                transient = exc.result in (
                    cmdproto.MAV_RESULT_DENIED,
                    cmdproto.MAV_RESULT_TEMPORARILY_REJECTED,
                )
                if not (transient and time.monotonic() < self._px4_checks_until):
                    raise
                log.info("vehicle %s: %s refused while PX4 checks the mission", self.sysid, exc)
            time.sleep(PX4_MISSION_CHECK_RETRY_S)

    def disarm(self, force: bool = False) -> CommandResult:
        return self.command_long(
            MAV_CMD_COMPONENT_ARM_DISARM, 0, FORCE_MAGIC if force else 0, name="disarm"
        )

    def set_mode(self, mode: str) -> CommandResult:
        """Switch to a flight mode by name (``AUTO.MISSION``, ``POSCTL``; ``AUTO``, ``GUIDED``)."""
        st = self.state
        p1, p2, p3 = mode_params(st.autopilot, mode, st.vehicle_type)
        return self.command_long(MAV_CMD_DO_SET_MODE, p1, p2, p3, name=f"set_mode {mode}")

    def _intent(self, intent: str) -> str:
        table = INTENT_MODES.get(self.autopilot)
        if table is None:
            raise BadInputError(
                _("vehicle {sysid}: unknown autopilot, cannot choose a mode").format(
                    sysid=self.sysid
                )
            )
        return table[intent]

    def takeoff(self, alt_m: float) -> CommandResult:
        """Take off to ``alt_m`` above home (the vehicle must be armed; ArduPilot in GUIDED)."""
        if not 0 < alt_m <= 500:
            raise BadInputError(
                _("takeoff altitude must be in (0, 500] m: {alt}").format(alt=alt_m)
            )
        st = self.state
        if st.autopilot == "ardupilot":
            if st.mode != "GUIDED":
                self.set_mode("GUIDED")
            return self.command_long(MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, alt_m, name="takeoff")
        # PX4 takes an AMSL altitude; NaN position = here
        base = st.home[2] if st.home is not None else st.alt_amsl_m - (st.relative_alt_m or 0.0)
        if math.isnan(base):
            raise LinkTimeout(
                _("vehicle {sysid}: home altitude not known yet").format(sysid=self.sysid)
            )
        nan = math.nan
        return self.command_long(
            MAV_CMD_NAV_TAKEOFF, -1, 0, 0, nan, nan, nan, base + alt_m, name="takeoff"
        )

    def land(self) -> CommandResult:
        if self.autopilot == "ardupilot":
            return self.set_mode("LAND")
        nan = math.nan
        return self.command_long(MAV_CMD_NAV_LAND, 0, 0, 0, nan, nan, nan, nan, name="land")

    def rtl(self) -> CommandResult:
        if self.autopilot == "ardupilot":
            return self.set_mode("RTL")
        return self.command_long(MAV_CMD_NAV_RETURN_TO_LAUNCH, name="rtl")

    def goto(
        self, lat_deg: float, lon_deg: float, alt_m: float, *, relative: bool = True
    ) -> CommandResult:
        """Fly to a position (MAV_CMD_DO_REPOSITION).

        ``alt_m`` is above home unless ``relative=False`` (then AMSL).
        """
        st = self.state
        frame = MAV_FRAME_GLOBAL_RELATIVE_ALT_INT if relative else MAV_FRAME_GLOBAL_INT
        z = alt_m
        if st.autopilot == "px4" and relative:  # PX4 repositions in AMSL
            if st.home is None:
                raise LinkTimeout(
                    _("vehicle {sysid}: home position not known yet").format(sysid=self.sysid)
                )
            frame, z = MAV_FRAME_GLOBAL_INT, st.home[2] + alt_m
        if st.autopilot == "ardupilot" and st.mode != "GUIDED":
            self.set_mode("GUIDED")
        return self.command_int(
            MAV_CMD_DO_REPOSITION,
            frame,
            -1,
            1,  # MAV_DO_REPOSITION_FLAGS_CHANGE_MODE
            0,
            math.nan,
            round(lat_deg * 1e7),
            round(lon_deg * 1e7),
            z,
            name="goto",
        )

    def set_speed(self, speed_m_s: float) -> CommandResult:
        if not 0 < speed_m_s <= 50:
            raise BadInputError(_("speed must be in (0, 50] m/s: {v}").format(v=speed_m_s))
        return self.command_long(MAV_CMD_DO_CHANGE_SPEED, 1, speed_m_s, -1, name="set_speed")

    def set_home(
        self, lat_deg: float | None = None, lon_deg: float | None = None, alt_amsl_m: float = 0.0
    ) -> CommandResult:
        """Set home here (no arguments) or at a position."""
        if lat_deg is None or lon_deg is None:
            return self.command_long(MAV_CMD_DO_SET_HOME, 1, name="set_home")
        return self.command_long(
            MAV_CMD_DO_SET_HOME, 0, 0, 0, math.nan, lat_deg, lon_deg, alt_amsl_m, name="set_home"
        )

    def start_mission(self) -> CommandResult:
        """Start the stored mission (ArduPilot: in AUTO; PX4: MISSION_START arms it too).

        PX4 refuses while it checks a mission just uploaded (:meth:`_px4_settled`); a refusal
        that stands names what the vehicle said ("Mission start denied! No valid mission").
        """
        if self.autopilot == "ardupilot":
            if self.state.mode != "AUTO":
                self.set_mode("AUTO")
            return self.command_long(MAV_CMD_MISSION_START, 0, 0, name="start_mission")
        t0 = time.monotonic()
        try:
            return self._px4_settled(
                lambda: self.command_long(MAV_CMD_MISSION_START, 0, 0, name="start_mission")
            )
        except CommandError as exc:

            def said_now(st: VehicleState) -> list[str]:
                return [
                    s.text
                    for s in st.statustexts
                    if s.time_s >= t0 - 0.5 and s.severity <= SEVERITY_ERROR
                ]

            try:  # PX4 says why in a STATUSTEXT that may come just after the COMMAND_ACK
                said = said_now(self.wait_for(lambda st: bool(said_now(st)), REASON_WAIT_S))
            except LinkTimeout:
                raise exc from None
            raise CommandError(
                _("vehicle {sysid} refused to start the mission: {why}").format(
                    sysid=self.sysid, why="; ".join(dict.fromkeys(said))
                ),
                command=exc.command,
                result=exc.result,
            ) from exc

    def pause_mission(self) -> CommandResult:
        return self.set_mode(self._intent("hold"))

    def continue_mission(self) -> CommandResult:
        return self._px4_settled(lambda: self.set_mode(self._intent("mission")))

    def request_message(self, msg_id: int, *params: float) -> CommandResult:
        p = [float(x) for x in (*params, 0, 0, 0, 0, 0)[:5]]
        return self.command_long(
            MAV_CMD_REQUEST_MESSAGE, msg_id, p[0], p[1], p[2], p[3], p[4], 0, name="request_message"
        )

    def set_message_interval(self, msg_id: int, hz: float) -> CommandResult:
        """Stream ``msg_id`` at ``hz`` (0 stops it, negative asks for the default rate)."""
        interval = -1.0 if hz == 0 else 0.0 if hz < 0 else 1e6 / hz
        return self.command_long(
            MAV_CMD_SET_MESSAGE_INTERVAL, msg_id, interval, name="set_message_interval"
        )

    def reboot(self) -> CommandResult:
        return self.command_long(MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN, 1, 0, name="reboot")

    def set_current(self, seq: int) -> None:
        """Make item ``seq`` of the user's mission current (ArduPilot's home offset applied)."""
        wire = seq + (1 if self.autopilot == "ardupilot" else 0)
        self.command_long(MAV_CMD_DO_SET_MISSION_CURRENT, wire, 0, name="set_current")
        self.wait_for(lambda s: s.mission_seq == seq, 5.0, f"MISSION_CURRENT seq {seq}")

    # ------------------------------------------------------------------ signing
    def setup_signing(
        self, key: bytes, *, link_id: int | None = None, confirm_timeout_s: float = 5.0
    ) -> None:
        """Send SETUP_SIGNING with ``key`` (32 bytes), then sign to and require signatures from it.

        The vehicle does not acknowledge SETUP_SIGNING; we confirm by waiting for a correctly
        signed message from it. ``key=b""`` disables signing on both sides. The message carries
        the key in clear: the link refuses to send it unless it is marked secure (USB/serial)
        or already signed with a key the vehicle proved it has (SafetyViolation otherwise).
        ``link_id`` None uses the link's own link id.
        """
        if key and len(key) != 32:
            raise BadInputError(_("a MAVLink signing key has 32 bytes, got {n}").format(n=len(key)))
        ts = signing_timestamp()
        msg = self.link.mav.setup_signing_encode(
            self.sysid, self.compid, key.ljust(32, b"\0"), ts if key else 0
        )
        # signed with the key the vehicle has, if any; unsigned only over a secure link
        self.link.send(msg, self.sysid)
        if not key:
            self.link.set_signing(self.sysid, None)
            return
        sk = SigningKey(key=key, link_id=link_id, timestamp=ts)
        self.link.set_signing(self.sysid, sk)
        deadline = time.monotonic() + confirm_timeout_s
        with self.link.subscribe(sysid=self.sysid) as sub:
            while (left := deadline - time.monotonic()) > 0:
                item = sub.get(left)
                if item is not None and getattr(item[0], "_dkp_verified", False):
                    return
        raise LinkTimeout(
            _("vehicle {sysid}: no signed message after SETUP_SIGNING").format(sysid=self.sysid)
        )

    @staticmethod
    def new_signing_key() -> bytes:
        return os.urandom(32)

    # ------------------------------------------------------------------ missions
    def _home_item(self) -> MissionItem:
        st = self.state
        lat, lon, alt = st.home if st.home is not None else (0.0, 0.0, 0.0)
        return MissionItem(
            command=CMD_NAV_WAYPOINT, frame=FRAME_GLOBAL, lat_deg=lat, lon_deg=lon, alt_m=alt
        )

    def _with_home(self, items: Sequence[MissionItem], mission_type: int) -> list[MissionItem]:
        out = [
            it if it.mission_type == mission_type else it.with_(mission_type=mission_type)
            for it in items
        ]
        if self.autopilot == "ardupilot" and mission_type == MISSION_TYPE_MISSION:
            out = [_shift_jump(it, +1) for it in out]
            out.insert(0, self._home_item())
        return out

    def _transfer(self, fn: Callable[[_Port], Any]) -> Any:
        with self._mission_lock, self.link.subscribe(misproto.MISSION_MESSAGES, self.sysid) as sub:
            return fn(_Port(self, sub))

    def get_param(self, name: str, *, timeout_s: float = 6.0) -> float:
        """The vehicle's value of parameter ``name`` (see :mod:`dronekit_plzen.link.params`)."""
        return params.read_param(self, name, timeout_s=timeout_s).value

    def get_params(self, names: Sequence[str], *, timeout_s: float = 3.0) -> dict[str, float]:
        """The values of the ``names`` the vehicle answers within ``timeout_s`` in all (read
        together, :func:`dronekit_plzen.link.params.read_params`); a name it lacks is absent."""
        return {n: p.value for n, p in params.read_params(self, names, timeout_s=timeout_s).items()}

    def set_param(
        self, name: str, value: float, *, param_type: int | None = None, timeout_s: float = 6.0
    ) -> float:
        """Set parameter ``name``: the value the vehicle echoes (ParameterError if it differs)."""
        return params.write_param(
            self, name, value, param_type=param_type, timeout_s=timeout_s
        ).value

    def upload_mission(
        self,
        items: Sequence[MissionItem],
        mission_type: int = MISSION_TYPE_MISSION,
        verify: bool = True,
        *,
        policy: TransferPolicy | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        clearance: Clearance | None = None,
        override: Override | None = None,
        startable_only: bool = True,
    ) -> Clearance | None:
        """Upload ``items`` (without ArduPilot's home: it is inserted here) and verify them.

        A flight path (``MISSION_TYPE_MISSION``) is sent only under a ``clearance`` from the
        safety guard (:func:`missions.validation.clear_for_flight`) that covers exactly these
        items, or with an explicit ``override`` (:class:`~dronekit_plzen.safety.Override`, with
        its reason); otherwise :class:`~dronekit_plzen.errors.SafetyViolation` (exit 3) is raised
        before anything is sent. An override is logged as a warning and returned as an
        overridden :class:`~dronekit_plzen.safety.Clearance` for the caller to record. Geofence
        and rally uploads are not flight paths (they only restrict or redirect one) and need no
        clearance; they return ``None``.

        A mission PX4 would store but refuse to start (a command outside
        :data:`~dronekit_plzen.mission_items.PX4_MISSION_COMMANDS`) raises
        :class:`~dronekit_plzen.errors.MissionTransferError` naming the item before anything is
        sent; ``startable_only=False`` sends it anyway (to see what the firmware answers).
        """
        granted: Clearance | None = None
        if mission_type == MISSION_TYPE_MISSION:
            granted = require_clearance(items, clearance, override)
            if granted.override is not None:
                log.warning(
                    "vehicle %s: SAFETY OVERRIDE by %s at %s: %s (%d problems)",
                    self.sysid,
                    granted.override.by,
                    granted.override.at,
                    granted.override.reason,
                    len(granted.override.violations),
                )
        if self.autopilot == "px4" and mission_type == MISSION_TYPE_MISSION:
            if startable_only:
                _refuse_px4_unstartable(items)
            items = self._placed_for_px4(items)
            items = self._roi_off_for_px4(items)
        # converted once here: PX4 takes a command without a position only in the mission frame
        items = [packing.for_autopilot(it, self.autopilot) for it in items]
        wire = self._with_home(items, mission_type)
        pol = policy or self.transfer_policy
        try:
            self._transfer(
                lambda port: misproto.upload(
                    port, wire, mission_type, policy=pol, on_progress=on_progress
                )
            )
        except MissionTransferError as exc:
            raise _refused_item(exc, len(wire) - len(items)) from exc
        if self.autopilot == "px4" and mission_type == MISSION_TYPE_MISSION:
            self._px4_checks_until = time.monotonic() + PX4_MISSION_CHECK_WAIT_S
        if verify:
            sent = [it.with_(mission_type=mission_type) for it in items]
            mismatch = None
            for attempt in range(2):
                if attempt:
                    # PX4 v1.16 once in ~60 uploads answers a download sent right after its
                    # final ACK with the mission before (seen on SITL): read again before
                    # calling the upload bad
                    log.info("vehicle %s: verification read again after a difference", self.sysid)
                    time.sleep(VERIFY_REREAD_S)
                back = self.download_mission(mission_type, policy=pol)
                mismatch = _first_mismatch(sent, back, self.autopilot)
                if mismatch is None:
                    break
            if mismatch is not None:
                raise MissionTransferError(
                    packing.describe(mismatch), mission_result=1, mission_type=mission_type
                )
        return granted

    def _roi_off_for_px4(self, items: Sequence[MissionItem]) -> list[MissionItem]:
        """``items`` with every region of interest at latitude, longitude and altitude 0
        (ArduCopter's "ROI off", :func:`~dronekit_plzen.link.mission_packing.roi_off`) sent to
        PX4 as DO_SET_ROI_NONE: PX4 would turn the aircraft toward 0°N 0°E for the rest of the
        mission; and every DO_SET_ROI at a place as DO_SET_ROI_LOCATION
        (:func:`~dronekit_plzen.link.mission_packing.roi_placed`: PX4 would face no place or
        0°N 0°E)."""
        said = (
            (
                packing.roi_off,
                _(
                    "vehicle {sysid}: regions of interest at latitude, longitude and altitude 0 "
                    '(ArduPilot\'s "ROI off"; PX4 would turn the aircraft toward 0°N 0°E) sent '
                    "as DO_SET_ROI_NONE: items {items}"
                ),
            ),
            (
                packing.roi_placed,
                _(
                    "vehicle {sysid}: DO_SET_ROI at a place (PX4 takes its mode 0 as no region "
                    "of interest, and for mode 3 faces 0°N 0°E) sent as DO_SET_ROI_LOCATION: "
                    "items {items}"
                ),
            ),
        )
        for which, text in said:
            if ks := [str(k + 1) for k, it in enumerate(items) if which(it)]:
                log.warning(text.format(sysid=self.sysid, items=", ".join(ks)))
        return [packing.px4_roi(it) for it in items]

    def _placed_for_px4(self, items: Sequence[MissionItem]) -> list[MissionItem]:
        """``items`` with every NAV item at latitude = longitude = 0 (ArduPilot's "where the
        aircraft is", as Mission Planner writes a take-off or a landing) put at that place
        (:func:`~dronekit_plzen.link.mission_packing.here_positions`, from the vehicle's home):
        PX4 flies to an item's position as given, so such a landing went to 0°N 0°E. The guard
        cleared the mission with the aircraft at those places, so it flies as cleared. A
        waypoint or loiter there at altitude 0 (ArduPilot: at the aircraft's altitude) cannot
        be told to PX4 and is refused before anything is sent."""
        here = packing.here_positions(items)
        if not here:
            return list(items)
        for k in here:
            if packing.keeps_altitude_here(items[k]):
                raise MissionTransferError(
                    _(
                        "item {i} ({command}) has latitude, longitude and altitude 0: ArduPilot "
                        "flies it where the aircraft is, at its altitude; PX4 would fly it to "
                        "0°N 0°E at the home altitude. Give the item its position and altitude; "
                        "nothing was sent"
                    ).format(i=k + 1, command=packing.command_name(items[k].command)),
                    mission_result=MAV_MISSION_INVALID,
                    seq=k,
                    command=items[k].command,
                )
        places: dict[int, tuple[float, float]] = {k: at for k, at in here.items() if at}
        if len(places) < len(here):  # some are at the launch point: the vehicle's home
            launch = min(k for k in here if k not in places)
            try:
                home = self.wait_for(
                    lambda s: s.home is not None, HOME_WAIT_S, _("its home position")
                ).home
            except LinkTimeout as exc:
                raise MissionTransferError(
                    _(
                        "item {i} ({command}) is at latitude = longitude = 0, which PX4 flies "
                        "to as 0°N 0°E, and the vehicle has not reported its home position to "
                        "place it at: nothing was sent ({why})"
                    ).format(
                        i=launch + 1, command=packing.command_name(items[launch].command), why=exc
                    ),
                    mission_result=MAV_MISSION_INVALID,
                    seq=launch,
                    command=items[launch].command,
                ) from exc
            assert home is not None
            places.update({k: (home[0], home[1]) for k in here if k not in places})
        log.warning(
            _(
                'vehicle {sysid}: items at latitude = longitude = 0 (ArduPilot\'s "here"; PX4 '
                "would fly to 0°N 0°E) sent at the places the mission has the aircraft then: "
                "{where}"
            ).format(
                sysid=self.sysid,
                where=", ".join(
                    _("item {i} ({command}) at {lat:.7f}, {lon:.7f}").format(
                        i=k + 1,
                        command=packing.command_name(items[k].command),
                        lat=lat,
                        lon=lon,
                    )
                    for k, (lat, lon) in sorted(places.items())
                ),
            )
        )
        return [
            it.with_(lat_deg=places[k][0], lon_deg=places[k][1]) if k in places else it
            for k, it in enumerate(items)
        ]

    def download_mission(
        self,
        mission_type: int = MISSION_TYPE_MISSION,
        *,
        policy: TransferPolicy | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[MissionItem]:
        """The vehicle's items (ArduPilot's home at seq 0 stripped)."""
        pol = policy or self.transfer_policy
        items: list[MissionItem] = self._transfer(
            lambda port: misproto.download(port, mission_type, policy=pol, on_progress=on_progress)
        )
        if self.autopilot == "ardupilot" and mission_type == MISSION_TYPE_MISSION and items:
            items = [_shift_jump(it, -1) for it in items[1:]]
        return items

    def clear_mission(self, mission_type: int = MISSION_TYPE_MISSION) -> None:
        pol = self.transfer_policy
        self._transfer(lambda port: misproto.clear(port, mission_type, policy=pol))


#: seconds before the one second reading of a mission whose first reading differed
VERIFY_REREAD_S = 0.5

#: MAV_MISSION_RESULT of a command the autopilot does not support
MAV_MISSION_UNSUPPORTED = 3
#: MAV_MISSION_RESULT of an item the autopilot finds invalid
MAV_MISSION_INVALID = 5
#: seconds to wait for the vehicle's home position when an item is to be placed from it
HOME_WAIT_S = 10.0

#: what a vehicle's refusal of one mission item means, for the pilot
_REFUSALS = {
    2: "the autopilot does not take this command in this frame",
    3: "the autopilot does not support this command",
    5: "the autopilot finds the item invalid",
    6: "parameter 1 is out of the autopilot's range",
    7: "parameter 2 is out of the autopilot's range",
    8: "parameter 3 is out of the autopilot's range",
    9: "parameter 4 is out of the autopilot's range",
    10: "the latitude (x) is out of range",
    11: "the longitude (y) is out of range",
    12: "the altitude (z) is out of range",
}


def _refuse_px4_unstartable(items: Sequence[MissionItem]) -> None:
    """Refuse, before anything is sent, a mission PX4 would store but never start: an item whose
    command its missions do not run (:data:`~dronekit_plzen.mission_items.PX4_MISSION_COMMANDS`;
    PX4 v1.16 takes CONDITION_DELAY and CONDITION_DISTANCE on upload, then answers the start with
    "Mission start denied! No valid mission", the aircraft armed on the ground)."""
    for k, it in enumerate(items):
        if it.command not in PX4_MISSION_COMMANDS:
            raise MissionTransferError(
                _(
                    "item {i} ({command}) is not a command PX4 runs in a mission: PX4 would "
                    "refuse to start it (its mission feasibility check); nothing was sent"
                ).format(i=k + 1, command=packing.command_name(it.command)),
                mission_result=MAV_MISSION_UNSUPPORTED,
                seq=k,
                command=it.command,
            )


def _refused_item(exc: MissionTransferError, offset: int) -> MissionTransferError:
    """The vehicle's refusal of one item, named by the item's index in the caller's list
    (``offset``: items the link put before them, ArduPilot's home) and its command."""
    if exc.seq is None or exc.command is None or exc.seq < offset:
        return exc
    why = _REFUSALS.get(exc.mission_result)
    msg = _("the vehicle refused item {i} ({command}): {why} ({result})").format(
        i=exc.seq - offset + 1,
        command=packing.command_name(exc.command),
        why=_(why) if why else _("refused"),
        result=misproto.result_name(exc.mission_result),
    )
    return MissionTransferError(
        msg,
        mission_result=exc.mission_result,
        mission_type=exc.mission_type,
        seq=exc.seq - offset,
        command=exc.command,
    )


_PREARM_PREFIXES = ("prearm", "preflight fail", "arm:", "arming denied")


def _is_prearm_text(text: str) -> bool:
    """A firmware's pre-arm explanation (ArduPilot ``PreArm:``/``Arm:``, PX4 ``Preflight Fail``)."""
    return text.strip().lower().startswith(_PREARM_PREFIXES)


def _not_ready_reason(fresh: bool) -> str:
    if not fresh:
        return _("no SYS_STATUS from the vehicle")
    return _("pre-arm check not passed (SYS_STATUS bit {m:#x} not healthy)").format(
        m=MAV_SYS_STATUS_PREARM_CHECK
    )


def _first_mismatch(
    sent: list[MissionItem], got: list[MissionItem], autopilot: str
) -> packing.Mismatch | None:
    """The first item whose download differs from what ``autopilot`` stores for it, else None.

    Compares with :func:`~dronekit_plzen.link.mission_packing.stored_form` (ArduPilot packs
    each command, PX4 keeps floats and command fields), not with the items as sent.
    """
    return packing.first_mismatch(sent, got, autopilot)
