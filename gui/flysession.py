"""One pilot's link session, as the fly panel drives it (no Qt here).

Wraps the link layer (:mod:`dronekit_plzen.link`): opens ``connect(url)``, waits for the first
vehicle, turns the link's immutable state snapshots into :class:`gui.models.VehicleView`, and runs
the commands by name. Every method may be called from any thread: the link layer owns its I/O
thread and its locks; this class only keeps the ``ExitStack`` that closes the link.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import (
    BadInputError,
    CommandError,
    LinkError,
    LinkTimeout,
    ProtocolError,
    SafetyViolation,
)
from dronekit_plzen.fleet import (
    leave_unarmable_mode,
    terrain_server,
    upload_rally,
    vehicle_rally,
    vehicle_rtl_params,
)
from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.mission_items import CMD_NAV_TAKEOFF, takeoff_alt_above_home_m
from gui import backend
from gui.clearance import SortieView, clear_at_vehicle
from gui.fly_links import BootTracker, ReadyTracker, latest_prearm, split_urls
from gui.models import VehicleView

log = logging.getLogger(__name__)

#: a vehicle whose last heartbeat is older than this is shown as "link lost"
LINK_LOST_AFTER_S = 3.0
#: how long to wait for the autopilot's STATUSTEXT explaining a refused arming
PREARM_TEXT_WAIT_S = 1.5
MISSION_TYPE_FENCE = 1
#: default wait for the firmware's "ready to arm" before arming (seconds)
READY_WAIT_S = 60.0
#: words with which PX4 and ArduPilot explain a refused arming
_PREARM_WORDS = ("prearm", "preflight", "arm", "denied")


class ArmingDenied(CommandError):
    """The autopilot refused to arm; ``reason`` is its own explanation (PreArm STATUSTEXT)."""

    def __init__(self, message: str, *, command: int, result: int, reason: str):
        super().__init__(message, command=command, result=result)
        self.reason = reason


def _reached(state: Any) -> int | None:
    r = getattr(state, "last_item_reached", -1)
    return int(r) if r is not None and int(r) >= 0 else None


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def view_of(
    state: Any, ready_to_arm: bool | None = None, signed: bool | None = None, boots: int = 0
) -> VehicleView:
    """A :class:`VehicleView` of a link-layer ``VehicleState`` snapshot."""
    age = _num(getattr(state, "heartbeat_age_s", None))
    seq = getattr(state, "mission_seq", -1)
    count = getattr(state, "mission_count", 0)
    heading = _num(getattr(state, "heading_deg", None))
    if heading is None:
        heading = _num(getattr(state, "yaw_deg", None)) or 0.0
    texts = tuple(
        (float(t.time_s), int(t.severity), str(t.text)) for t in getattr(state, "statustexts", ())
    )
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
        last_item_reached=_reached(state),
        mission_seq_mode=str(getattr(state, "mission_seq_mode", "") or ""),
        item_reached_mode=str(getattr(state, "item_reached_mode", "") or ""),
        mission_state=int(getattr(state, "mission_state", 0) or 0),
        in_air=bool(getattr(state, "in_air", False)),
        statustexts=texts,
        ready_to_arm=ready_to_arm,
        prearm_text=latest_prearm(texts),
        signed=signed,
        alt_amsl_m=_num(getattr(state, "alt_amsl_m", None)),
        groundspeed_m_s=_num(getattr(state, "groundspeed_m_s", None)),
        climb_m_s=None if (vd := _num(getattr(state, "vd_m_s", None))) is None else -vd,
        hdop=_num(getattr(state, "hdop", None)),
        home=getattr(state, "home", None),
        boots=boots,
        autopilot=str(getattr(state, "autopilot", "generic")),
    )


class FlySession:
    """Links opened by URL (several, space-separated: a fleet) with the fly panel's commands.

    ``signing_key_file`` signs every link with the key in that file (owner-only permissions,
    see :mod:`dronekit_plzen.signing_keys`); ``secure`` marks the links as USB/serial cables
    over which the key itself may be sent (SETUP_SIGNING).
    """

    def __init__(
        self,
        url: str,
        *,
        wait_s: float = 15.0,
        record_db: Path | None = None,
        deployment_id: int | None = None,
        signing_key_file: str | Path | None = None,
        secure: bool = False,
    ):
        self.url = url
        self.urls = split_urls(url)
        self.signing_key_file = signing_key_file
        self.secure = secure
        self.links: list[Any] = []
        self.ready = ReadyTracker()
        self.boots = BootTracker()
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
        #: vehicles whose terrain requests the sortie's DEM answers (ArduCopter)
        self._terrain: set[int] = set()

    # ------------------------------------------------------------------ life cycle
    def open(self) -> str:
        """Open every link (signed if a key file is given), wait for a vehicle on each."""
        if not self.urls:
            raise BadInputError(_("type a link URL first"))
        fleet_cls: Any = backend.require("dronekit_plzen.fleet", "Fleet", _("The MAVLink link"))
        kwargs: dict[str, Any] = {"secure": self.secure}
        if self.signing_key_file is not None:
            kwargs["signing_key_file"] = self.signing_key_file
        fleet = self._stack.enter_context(fleet_cls.connect(self.urls, **kwargs))
        for link in fleet.links:
            self._stack.callback(link.add_listener(self.ready).remove)
            self._stack.callback(link.add_listener(self.boots).remove)
        with self._lock:
            self.links = list(fleet.links)
            self.link = self.links[0]
        deadline = time.monotonic() + self.wait_s
        found, missing = [], []
        for link in self.links:
            try:
                left = max(0.1, deadline - time.monotonic())
                found.append(link.wait_vehicle(timeout_s=left).sysid)
            except LinkTimeout as exc:
                missing.append(self._no_vehicle(link, exc))
        if not found:
            raise LinkTimeout("; ".join(missing))
        where = self.urls[0] if len(self.urls) == 1 else _("{n} links").format(n=len(self.urls))
        text = ngettext(
            "connected to {url}, vehicle {sysids}",
            "connected to {url}, vehicles {sysids}",
            len(found),
        ).format(url=where, sysids=", ".join(str(s) for s in sorted(found)))
        text += "; " + (_("signed link") if self.signed() else _("unsigned link"))
        if missing:
            text += "; " + "; ".join(missing)
        if self.record_db is not None:
            text += "; " + self._start_recording(self.links)
        return text

    def _no_vehicle(self, link: Any, exc: LinkTimeout) -> str:
        """Why no vehicle answered on ``link``: a signing mismatch said plainly, else ``exc``."""
        stats = link.codec.stats
        if stats.bad_signatures:
            return str(
                LinkError(
                    _(
                        "{n} messages from the vehicle had a wrong signature: its signing key "
                        "differs from the key file's (no telemetry accepted)"
                    ).format(n=stats.bad_signatures),
                    where=str(link.spec),
                )
            )
        if stats.unsigned_rejected:
            return str(
                LinkError(
                    _(
                        "{n} unsigned messages from the vehicle were refused: it does not sign; "
                        "connect without a key and send it the key over a secure link"
                    ).format(n=stats.unsigned_rejected),
                    where=str(link.spec),
                )
            )
        return str(exc)

    def signed(self, sysid: int | None = None) -> bool:
        """Are our messages signed (on every link, or to vehicle ``sysid``)?"""
        links = self.links
        if sysid is None:
            return bool(links) and all(bool(link.signing) for link in links)
        for link in links:
            if sysid in link.vehicles:
                return bool(link.signing) or sysid in link.codec.keys
        return False

    def _start_recording(self, links: list[Any]) -> str:
        """Record every vehicle on the links into the flight database (and a .tlog beside it)."""
        recorder_cls = backend.optional("telemetry.recorder", "Recorder")
        if recorder_cls is None:
            self.record_problem = _("flights are not recorded: telemetry.recorder is missing")
            return self.record_problem
        recorder = recorder_cls(self.record_db, deployment_id=self.deployment_id).start()
        self._stack.callback(recorder.stop)  # closed after the listener is removed (LIFO)
        for link in links:
            self._stack.callback(recorder.attach(link).remove)
        self.recorder = recorder
        return _("recording flights into {db}").format(db=self.record_db)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.link = None
            self.links = []
        self._stack.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def _vehicles(self) -> dict[int, Any]:
        out: dict[int, Any] = {}
        for link in self.links:
            for k, v in link.vehicles.items():
                out.setdefault(int(k), v)  # the first link that heard it carries its commands
        return out

    def snapshot(self) -> list[VehicleView]:
        views = []
        for sysid, v in self._vehicles().items():
            signed = bool(v.link.signing) or sysid in v.link.codec.keys
            state = v.state
            ready = self.ready.ready(sysid, str(getattr(state, "autopilot", "generic")))
            views.append(view_of(state, ready, signed, self.boots.boots(sysid)))
        return sorted(views, key=lambda v: v.sysid)

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
        if name == "send_key":
            return self._send_key(sysid, **kwargs)
        handlers: dict[str, Callable[..., str]] = {
            "upload": self._upload,
            "download": self._download,
            "goto": self._goto,
            "wait_ready": self._wait_ready,
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

    def _takeoff(self, vehicle: Any, alt_m: float = 20.0, items: Any = None) -> str:
        """Take off to ``alt_m`` above home, or, with the mission on board (``items``) holding a
        take-off item, to that item's altitude above home, as ``fly`` does (the guard walked
        the mission from there)."""
        if items is not None and any(it.command == CMD_NAV_TAKEOFF for it in items):
            home = vehicle.state.home
            alt_m = takeoff_alt_above_home_m(items, alt_m, home[2] if home else math.nan)
            vehicle.takeoff(alt_m=float(alt_m))
            return _("climbing to {alt:.0f} m (the mission's take-off)").format(alt=alt_m)
        vehicle.takeoff(alt_m=float(alt_m))
        return _("climbing to {alt:.0f} m").format(alt=alt_m)

    def _arm(self, vehicle: Any) -> str:
        """Arm; a refusal raises :class:`ArmingDenied` with the autopilot's PreArm text."""
        since = time.monotonic()
        switched = leave_unarmable_mode(vehicle)  # ArduCopter still in AUTO or RTL
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
        if switched is not None:
            return _("accepted (switched to {mode}: the vehicle does not arm in {old})").format(
                mode=switched[1], old=switched[0]
            )
        return _("accepted")

    def _wait_ready(
        self,
        vehicle: Any,
        timeout_s: float = READY_WAIT_S,
        on_message: Callable[[str], None] | None = None,
    ) -> str:
        """Wait for the firmware's "ready to arm", passing on its PreArm messages as they change.

        Raises :class:`LinkTimeout` naming the last PreArm message when ``timeout_s`` has
        passed (nothing is armed then), :class:`LinkError` when the link is closed meanwhile.
        """
        try:
            vehicle.wait_ready_to_arm(float(timeout_s), on_message=on_message)
        except LinkTimeout as exc:
            if "terrain" not in str(exc).lower() or vehicle.sysid in self._terrain:
                raise
            # ArduCopter (RTL_ALT_TYPE 1, terrain-frame items) waits for terrain data, which
            # the cockpit sends only from a sortie's DEM
            raise LinkTimeout(
                _(
                    "{error}: the vehicle waits for terrain data; plan the sortie with a DEM "
                    "and upload it again (the cockpit sends the vehicle its terrain from the DEM)"
                ).format(error=exc)
            ) from exc
        return _("ready to arm")

    def _send_key(self, sysid: int, key_file: str | Path) -> str:
        """SETUP_SIGNING with the key in ``key_file`` to vehicle ``sysid`` (0: every vehicle).

        The link layer sends it only over a secure (USB/serial) or already signed link and
        raises :class:`SafetyViolation` otherwise; each vehicle must then answer signed.
        """
        from dronekit_plzen.signing_keys import read_key_file

        key = read_key_file(key_file)
        vehicles = self._vehicles()
        targets = sorted(vehicles) if sysid == 0 else [sysid]
        if not targets:
            raise BadInputError(_("no vehicles on the link"))
        for s in targets:
            self.vehicle(s).setup_signing(key)
        return ngettext(
            "signing key sent; vehicle {sysids} now answers signed",
            "signing key sent; vehicles {sysids} now answer signed",
            len(targets),
        ).format(sysids=", ".join(str(s) for s in targets))

    def _serve_terrain(self, vehicle: Any, dem: Any) -> None:
        """Answer the vehicle's terrain requests from the sortie's DEM for the rest of the
        session, as ``fly --dem`` does (ArduCopter arms with RTL_ALT_TYPE 1 or terrain-frame
        items only once its terrain database is filled)."""
        with self._lock:
            if dem is None or vehicle.sysid in self._terrain or self._closed:
                return
            self._terrain.add(vehicle.sysid)
            self._stack.enter_context(terrain_server(vehicle.link, vehicle, dem))

    def _upload(self, vehicle: Any, sortie: SortieView, takeoff_alt_m: float | None = None) -> str:
        """Check one sortie against this vehicle, upload and verify it (and its geofence).

        The guard runs again with the vehicle's HOME_POSITION and GPS position (and, for an
        ArduCopter, the pilot's take-off altitude ``takeoff_alt_m`` the mission starts from);
        the link layer refuses items its clearance does not cover. Nothing unvalidated is ever
        sent.
        """
        if not isinstance(sortie, SortieView):
            raise BadInputError(_("only a validated sortie can be uploaded"))
        st = vehicle.state
        position = (st.lat_deg, st.lon_deg) if st.position_known else None
        rtl = vehicle_rtl_params(vehicle)  # as fly reads them: one guard at every door
        on_board: str | None = None
        if not sortie.mission.rally_points:  # the vehicle's own stay on board: check them
            mission = copy.deepcopy(sortie.mission)
            on_board = vehicle_rally(vehicle, [mission])
            if on_board is not None:
                sortie = dataclasses.replace(sortie, mission=mission)
        try:
            takeoff = takeoff_alt_m if vehicle.autopilot == "ardupilot" else None
            items, cleared = clear_at_vehicle(
                sortie, st.home, position, rtl, takeoff, vehicle.autopilot
            )
        except SafetyViolation:
            self.refused_at_vehicle.add(vehicle.sysid)  # the pilot may override it
            raise
        vehicle.upload_mission(items, verify=True, clearance=cleared)  # downloads back, compares
        self._serve_terrain(vehicle, sortie.inputs.dem)
        fence = list(sortie.mission.fence_items())
        if fence:
            vehicle.upload_mission(fence, MISSION_TYPE_FENCE, verify=True)
        # the plan's own rally points go with it; the vehicle's own (read above) stay as they are
        rally = upload_rally(vehicle, sortie.mission) if on_board is None else 0
        text = ngettext(
            "{n} item uploaded and verified", "{n} items uploaded and verified", len(items)
        ).format(n=len(items))
        if sortie.resumed_from is not None:
            text = _("sortie {label} resumed at item {item}: {text}").format(
                label=sortie.label, item=sortie.resumed_from + 1, text=text
            )
        elif sortie.count > 1:
            text = _("sortie {label}: {text}").format(label=sortie.label, text=text)
        if fence:
            text += "; " + _("geofence uploaded")
        if rally:
            text += "; " + ngettext(
                "{n} rally point uploaded", "{n} rally points uploaded", rally
            ).format(n=rally)
        elif on_board is not None:  # the pilot learns where RTL may go besides home
            text += "; " + on_board
        if takeoff is not None and not any(it.command == CMD_NAV_TAKEOFF for it in items):
            # ArduCopter starts it where the pilot's take-off leaves it: the guard walked that
            text += "; " + _("cleared from a take-off to {alt:.0f} m: take off to it").format(
                alt=takeoff
            )
        if cleared.override is not None:
            text += "; " + _("SAFETY OVERRIDE by {by}: {reason}").format(
                by=cleared.override.by, reason=cleared.override.reason
            )
        return text

    def _download(self, vehicle: Any) -> Any:
        """The mission the vehicle holds (what it flies), as a message and the items."""
        items = vehicle.download_mission()
        text = ngettext("{n} item on board", "{n} items on board", len(items)).format(n=len(items))
        try:  # the geofence it holds: after a reconnect, a sortie's fence need not be sent again
            fence: list[Any] | None = list(vehicle.download_mission(MISSION_TYPE_FENCE))
        except (ProtocolError, LinkError, LinkTimeout) as exc:  # not known: uploaded again
            log.info("vehicle %s: geofence not read back: %s", vehicle.sysid, exc)
            fence = None
        return OnBoard(text, vehicle.sysid, list(items), fence)

    def _goto(self, vehicle: Any, lat_deg: float, lon_deg: float, alt_m: float) -> str:
        """Fly to a confirmed target (guided reposition; altitude above home)."""
        vehicle.goto(float(lat_deg), float(lon_deg), float(alt_m))
        return _("flying to {lat:.6f}, {lon:.6f} at {alt:.0f} m").format(
            lat=lat_deg, lon=lon_deg, alt=alt_m
        )


class OnBoard(str):
    """A download's message that also carries the items (the commander emits only text)."""

    sysid: int
    items: list[Any]
    fence: list[Any] | None  # the geofence it holds; None when it could not be read

    def __new__(
        cls, text: str, sysid: int, items: list[Any], fence: list[Any] | None = None
    ) -> OnBoard:
        obj = super().__new__(cls, text)
        obj.sysid = sysid
        obj.items = items
        obj.fence = fence
        return obj


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
