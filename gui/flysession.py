"""One pilot's link session, as the fly panel drives it (no Qt here).

Wraps the link layer (:mod:`dronekit_plzen.link`): opens ``connect(url)``, waits for the first
vehicle, turns the link's immutable state snapshots into :class:`gui.models.VehicleView`, and runs
the commands by name. Every method may be called from any thread: the link layer owns its I/O
thread and its locks; this class only keeps the ``ExitStack`` that closes the link.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError, CommandError, LinkTimeout, SafetyViolation
from dronekit_plzen.i18n import _, ngettext
from gui import backend
from gui.clearance import SortieView, clear_at_vehicle
from gui.models import VehicleView

log = logging.getLogger(__name__)

#: a vehicle whose last heartbeat is older than this is shown as "link lost"
LINK_LOST_AFTER_S = 3.0
#: how long to wait for the autopilot's STATUSTEXT explaining a refused arming
PREARM_TEXT_WAIT_S = 1.5
MISSION_TYPE_FENCE = 1
#: words with which PX4 and ArduPilot explain a refused arming
_PREARM_WORDS = ("prearm", "preflight", "arm", "denied")


class ArmingDenied(CommandError):
    """The autopilot refused to arm; ``reason`` is its own explanation (PreArm STATUSTEXT)."""

    def __init__(self, message: str, *, command: int, result: int, reason: str):
        super().__init__(message, command=command, result=result)
        self.reason = reason


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def view_of(state: Any) -> VehicleView:
    """A :class:`VehicleView` of a link-layer ``VehicleState`` snapshot."""
    age = _num(getattr(state, "heartbeat_age_s", None))
    seq = getattr(state, "mission_seq", -1)
    count = getattr(state, "mission_count", 0)
    heading = _num(getattr(state, "heading_deg", None))
    if heading is None:
        heading = _num(getattr(state, "yaw_deg", None)) or 0.0
    return VehicleView(
        sysid=int(state.sysid),
        mode=str(getattr(state, "mode", "") or "?"),
        armed=bool(getattr(state, "armed", False)),
        lon=_num(getattr(state, "lon_deg", None)),
        lat=_num(getattr(state, "lat_deg", None)),
        alt_rel_m=_num(getattr(state, "relative_alt_m", None)),
        heading_deg=heading % 360.0,
        battery_pct=_num(getattr(state, "battery_remaining_pct", None)),
        battery_v=_num(getattr(state, "battery_voltage_v", None)),
        gps_fix=int(getattr(state, "gps_fix_type", 0)),
        satellites=int(getattr(state, "satellites", 0)),
        link_ok=age is not None and age <= LINK_LOST_AFTER_S,
        heartbeat_age_s=age,
        packet_loss_pct=_num(getattr(state, "packet_loss_pct", None)),
        mission_seq=int(seq) if seq is not None and int(seq) >= 0 else None,
        mission_count=int(count) if count else None,
        in_air=bool(getattr(state, "in_air", False)),
        statustexts=tuple(
            (float(t.time_s), int(t.severity), str(t.text))
            for t in getattr(state, "statustexts", ())
        ),
    )


class FlySession:
    """A link opened by URL with the commands the fly panel offers."""

    def __init__(
        self,
        url: str,
        *,
        wait_s: float = 15.0,
        record_db: Path | None = None,
        deployment_id: int | None = None,
    ):
        self.url = url
        self.wait_s = wait_s
        self.record_db = record_db
        self.deployment_id = deployment_id
        self.recorder: Any = None
        self.record_problem: str | None = None
        self._stack = contextlib.ExitStack()
        self._lock = threading.Lock()
        self.link: Any = None
        self._closed = False
        #: vehicles whose last upload the guard refused at the vehicle (home, position)
        self.refused_at_vehicle: set[int] = set()

    # ------------------------------------------------------------------ life cycle
    def open(self) -> str:
        connect = backend.require("dronekit_plzen.link", "connect", _("The MAVLink link"))
        link = self._stack.enter_context(connect(self.url))
        with self._lock:
            self.link = link
        vehicle = link.wait_vehicle(timeout_s=self.wait_s)
        text = _("connected to {url}, vehicle {sysid}").format(url=self.url, sysid=vehicle.sysid)
        if self.record_db is not None:
            text += "; " + self._start_recording(link)
        return text

    def _start_recording(self, link: Any) -> str:
        """Record every vehicle on the link into the flight database (and a .tlog beside it)."""
        recorder_cls = backend.optional("telemetry.recorder", "Recorder")
        if recorder_cls is None:
            self.record_problem = _("flights are not recorded: telemetry.recorder is missing")
            return self.record_problem
        recorder = recorder_cls(self.record_db, deployment_id=self.deployment_id).start()
        self._stack.callback(recorder.stop)  # closed after the listener is removed (LIFO)
        handle = recorder.attach(link)
        self._stack.callback(handle.remove)
        self.recorder = recorder
        return _("recording flights into {db}").format(db=self.record_db)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.link = None
        self._stack.close()

    def _vehicles(self) -> dict[int, Any]:
        link = self.link
        if link is None:
            return {}
        return {int(k): v for k, v in link.vehicles.items()}

    def snapshot(self) -> list[VehicleView]:
        return sorted((view_of(v.state) for v in self._vehicles().values()), key=lambda v: v.sysid)

    def vehicle(self, sysid: int) -> Any:
        v = self._vehicles().get(int(sysid))
        if v is None:
            raise BadInputError(
                _("no vehicle with system id {sysid} on the link").format(sysid=sysid)
            )
        return v

    # ------------------------------------------------------------------ commands
    def run(self, name: str, sysid: int, **kwargs: Any) -> str:
        """Run command ``name`` on vehicle ``sysid``; returns a message, raises on failure."""
        if name == "connect":
            return self.open()
        handlers: dict[str, Callable[..., str]] = {
            "upload": self._upload,
            "arm": self._arm,
            "disarm": self._simple("disarm"),
            "takeoff": self._takeoff,
            "start": self._simple("start_mission"),
            "pause": self._simple("pause_mission"),
            "continue": self._simple("continue_mission"),
            "rtl": self._simple("rtl"),
            "land": self._simple("land"),
        }
        fn = handlers.get(name)
        if fn is None:
            raise BadInputError(_("unknown command {name!r}").format(name=name))
        return fn(self.vehicle(sysid), **kwargs)

    def _simple(self, method: str) -> Callable[..., str]:
        def call(vehicle: Any) -> str:
            fn = getattr(vehicle, method, None)
            if fn is None:
                raise backend.BackendMissing(
                    _("{feature} is not available: {what} is missing").format(
                        feature=method, what=f"Vehicle.{method}"
                    )
                )
            fn()
            return _("accepted")

        return call

    def _takeoff(self, vehicle: Any, alt_m: float = 20.0) -> str:
        vehicle.takeoff(alt_m=float(alt_m))
        return _("climbing to {alt:.0f} m").format(alt=alt_m)

    def _arm(self, vehicle: Any) -> str:
        """Arm; a refusal raises :class:`ArmingDenied` with the autopilot's PreArm text."""
        since = time.monotonic()
        try:
            vehicle.arm()
        except CommandError as exc:
            reason = _prearm_text(vehicle, since) or str(exc)
            raise ArmingDenied(
                _("arming denied: {reason}").format(reason=reason),
                command=exc.command,
                result=exc.result,
                reason=reason,
            ) from exc
        return _("accepted")

    def _upload(self, vehicle: Any, sortie: SortieView) -> str:
        """Check one sortie against this vehicle, upload and verify it (and its geofence).

        The guard runs again with the vehicle's HOME_POSITION and GPS position; the link layer
        refuses items its clearance does not cover. Nothing unvalidated is ever sent.
        """
        if not isinstance(sortie, SortieView):
            raise BadInputError(_("only a validated sortie can be uploaded"))
        st = vehicle.state
        position = (st.lat_deg, st.lon_deg) if st.position_known else None
        try:
            items, cleared = clear_at_vehicle(sortie, st.home, position)
        except SafetyViolation:
            self.refused_at_vehicle.add(vehicle.sysid)  # the pilot may override it
            raise
        vehicle.upload_mission(items, verify=True, clearance=cleared)  # downloads back, compares
        fence = list(sortie.mission.fence_items())
        if fence:
            vehicle.upload_mission(fence, MISSION_TYPE_FENCE, verify=True)
        text = ngettext(
            "{n} item uploaded and verified", "{n} items uploaded and verified", len(items)
        ).format(n=len(items))
        if sortie.resumed_from is not None:
            text = _("sortie {label} resumed at item {item}: {text}").format(
                label=sortie.label, item=sortie.resumed_from, text=text
            )
        elif sortie.count > 1:
            text = _("sortie {label}: {text}").format(label=sortie.label, text=text)
        if fence:
            text += "; " + _("geofence uploaded")
        if cleared.override is not None:
            text += "; " + _("SAFETY OVERRIDE by {by}: {reason}").format(
                by=cleared.override.by, reason=cleared.override.reason
            )
        return text


def _prearm_text(vehicle: Any, since_s: float) -> str | None:
    """The autopilot's explanation of a refused arming, received after ``since_s``."""

    def find(state: Any) -> str | None:
        for t in reversed(getattr(state, "statustexts", ())):
            if t.time_s >= since_s - 0.05 and t.severity <= 4:
                low = t.text.lower()
                if any(w in low for w in _PREARM_WORDS):
                    return str(t.text)
        return None

    try:
        st = vehicle.wait_for(lambda s: find(s) is not None, PREARM_TEXT_WAIT_S, "PreArm text")
    except LinkTimeout:  # no explanation came: the ACK's result is shown instead
        return find(vehicle.state)
    return find(st)
