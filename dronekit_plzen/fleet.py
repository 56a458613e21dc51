"""Fleet control: many links, many vehicles, one call per operation, a result per vehicle.

Operations run concurrently (one worker thread per vehicle for the duration of the call) and
never raise for a single vehicle's failure: each vehicle gets a :class:`VehicleResult` carrying
the error and its protocol code (``MAV_RESULT`` / ``MAV_MISSION_RESULT``) so that a pilot sees
at once which drones did not start, pause or return.

>>> urls = ["udpin://127.0.0.1:14540", "udpin://127.0.0.1:14541"]
>>> with Fleet.connect(urls) as fleet:  # doctest: +SKIP
...     fleet.wait_vehicles(2, timeout_s=10)
...     cleared = {key: clear_for_flight(m, dem=dem).sorties[0] for key, m in plan.items()}
...     results = fleet.upload(cleared)  # each sortie carries its Clearance
...     fleet.launch_all(planned_start_delays(cleared))  # arm and start, staggered as planned

ArduCopters whose missions have no take-off item start them in the air: take them off first
(:meth:`Fleet.takeoff_all`) to the altitude the guard walked them from
(``clear_for_flight(..., takeoff_alt_m=alt)``; ``fly`` and the GUI do the same).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dronekit_plzen import rtl_cone
from dronekit_plzen.errors import (
    BadInputError,
    CommandError,
    DronekitPlzenError,
    LinkTimeout,
    MissionTransferError,
)
from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.link import Link, Vehicle, connect
from dronekit_plzen.link.modes import MISSION_MODES, arming_mode
from dronekit_plzen.link.state import VehicleState, apply_message
from dronekit_plzen.mission_items import MissionItem
from dronekit_plzen.rtl_cone import RtlParams
from dronekit_plzen.safety import Clearance, Override

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VehicleResult:
    """What one operation did on one vehicle."""

    key: str
    sysid: int
    ok: bool
    error: str | None = None
    #: MAV_RESULT or MAV_MISSION_RESULT when the vehicle refused; None otherwise
    code: int | None = None
    duration_s: float = 0.0
    value: Any = None


def vehicle_key(v: Vehicle) -> str:
    """A fleet-wide name: ``<url>#<sysid>`` (system ids repeat across links)."""
    return f"{v.link.name}#{v.sysid}"


class Fleet:
    """Vehicles on several links. Closing the fleet closes the links it opened."""

    def __init__(self, links: Iterable[Link] = (), *, owns_links: bool = False) -> None:
        self.links: list[Link] = list(links)
        self._owns = owns_links

    @classmethod
    def connect(cls, urls: Sequence[str], **kwargs: Any) -> Fleet:
        """Open one link per URL (``connect`` keyword arguments apply to all)."""
        links: list[Link] = []
        try:
            for url in urls:
                links.append(connect(url, **kwargs))
        except DronekitPlzenError:
            for link in links:
                link.close()
            raise
        return cls(links, owns_links=True)

    def close(self) -> None:
        if self._owns:
            for link in self.links:
                link.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def vehicles(self) -> dict[str, Vehicle]:
        """key → vehicle, in link order then system id."""
        out: dict[str, Vehicle] = {}
        for link in self.links:
            for sysid in sorted(link.vehicles):
                v = link.vehicles[sysid]
                out[vehicle_key(v)] = v
        return out

    def wait_vehicles(self, n: int, timeout_s: float = 10.0) -> list[Vehicle]:
        """Wait until ``n`` vehicles are known; on every link at least one vehicle is awaited."""
        deadline = time.monotonic() + timeout_s
        for link in self.links:
            link.wait_vehicle(timeout_s=max(0.0, deadline - time.monotonic()))
        vs = list(self.vehicles.values())
        while len(vs) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LinkTimeout(
                    _("{found} of {n} vehicles heard within {t:.0f} s").format(
                        found=len(vs), n=n, t=timeout_s
                    )
                )
            for _msg in self.links[0].messages({"HEARTBEAT"}, timeout_s=min(remaining, 0.5)):
                break
            vs = list(self.vehicles.values())
        return vs

    def _resolve(self, target: str | Vehicle) -> Vehicle:
        if isinstance(target, Vehicle):
            return target
        vs = self.vehicles
        if target not in vs:
            raise BadInputError(_("no vehicle {key} in the fleet").format(key=target))
        return vs[target]

    def for_each(
        self,
        fn: Callable[[Vehicle], Any],
        vehicles: Iterable[str | Vehicle] | None = None,
    ) -> dict[str, VehicleResult]:
        """Run ``fn(vehicle)`` on every (or the given) vehicle at once; a result per vehicle."""
        targets = [self._resolve(t) for t in (vehicles if vehicles is not None else self.vehicles)]
        if not targets:
            return {}
        with ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="fleet") as pool:
            futures = {vehicle_key(v): pool.submit(_run_one, fn, v) for v in targets}
            return {k: f.result() for k, f in futures.items()}

    def upload(
        self,
        missions: Mapping[str | Vehicle, Sequence[MissionItem] | Any],
        *,
        verify: bool = True,
        mission_type: int = 0,
        clearances: Mapping[str | Vehicle, Clearance] | None = None,
        override: Override | None = None,
    ) -> dict[str, VehicleResult]:
        """Upload one mission per vehicle (a planner's split), each under its safety clearance.

        A value is a list of items, a Mission (``.items``), or one sortie of a
        :class:`missions.validation.FlightClearance` (``.items`` and ``.clearance``), which
        carries its own clearance. Otherwise ``clearances`` gives the
        :class:`~dronekit_plzen.safety.Clearance` per vehicle; ``override`` (with its reason) lets
        unvalidated missions through and is recorded in each result's ``value`` (the Clearance
        the link layer accepted). A mission without either is refused per vehicle
        (``SafetyViolation``, nothing sent), like every upload of a flight path.
        """
        plan = {vehicle_key(self._resolve(k)): _items_of(m) for k, m in missions.items()}
        given: dict[str, Clearance | None] = {
            vehicle_key(self._resolve(k)): getattr(m, "clearance", None)
            for k, m in missions.items()
        }
        for k, c in (clearances or {}).items():
            given[vehicle_key(self._resolve(k))] = c
        return self.for_each(
            lambda v: v.upload_mission(
                plan[vehicle_key(v)],
                mission_type,
                verify,
                clearance=given.get(vehicle_key(v)),
                override=override,
            ),
            list(plan),
        )

    def wait_ready_all(
        self,
        timeout_s: float = 60.0,
        vehicles: Iterable[str | Vehicle] | None = None,
        on_message: Callable[[Vehicle, str], None] | None = None,
    ) -> dict[str, VehicleResult]:
        """Wait, all at once, until every vehicle is ready to arm (its PreArm texts passed on)."""

        def one(v: Vehicle) -> Any:
            cb = (lambda text: on_message(v, text)) if on_message is not None else None
            return v.wait_ready_to_arm(timeout_s, on_message=cb)

        return self.for_each(one, vehicles)

    def arm_all(
        self, vehicles: Iterable[str | Vehicle] | None = None, *, wait_ready_s: float = 60.0
    ) -> dict[str, VehicleResult]:
        """Wait until each vehicle is ready to arm (up to ``wait_ready_s``; 0: not), then arm.

        An ArduCopter still in a mode that refuses to arm (AUTO or RTL, where it landed) is
        switched to GUIDED first (:func:`leave_unarmable_mode`). A vehicle that does not get
        ready, or refuses to arm, fails with the firmware's reason; the others go on (the
        results say which).
        """

        return self.for_each(lambda v: _arm(v, wait_ready_s), vehicles)

    def launch_all(
        self,
        delays_s: Mapping[str | Vehicle, float] | None = None,
        vehicles: Iterable[str | Vehicle] | None = None,
        *,
        wait_ready_s: float = 60.0,
        cancel: threading.Event | None = None,
    ) -> dict[str, VehicleResult]:
        """Arm and start every (or the given) vehicle's mission, each after its delay.

        ``delays_s`` (seconds from now, per vehicle; :func:`planned_start_delays` reads them
        from the plans) staggers drones that share a launch point: ``plan poa`` gives each a
        start delay so that no two are over one cell at once, take-off included. A vehicle is
        armed only when its time comes (a copter armed on the ground disarms itself after some
        seconds: ArduCopter's DISARM_DELAY, PX4's COM_DISARM_PRFLT), then started as
        :meth:`arm_all` and :meth:`start_all` do. Setting ``cancel`` before a vehicle's time
        stops its start (nothing is sent to it; its result says so). Delays are checked before
        anything is sent: a negative, infinite or NaN one is a :class:`BadInputError`.
        """
        wait: dict[str, float] = {}
        for k, d in (delays_s or {}).items():
            if not (isinstance(d, int | float) and math.isfinite(d) and 0.0 <= d <= MAX_DELAY_S):
                raise BadInputError(
                    _("a start delay must be 0 to {m:g} s, got {d!r}").format(m=MAX_DELAY_S, d=d),
                    where=vehicle_key(self._resolve(k)),
                )
            wait[vehicle_key(self._resolve(k))] = float(d)
        stop = cancel if cancel is not None else threading.Event()

        def one(v: Vehicle) -> Any:
            delay = wait.get(vehicle_key(v), 0.0)
            if stop.wait(delay) if delay > 0 else stop.is_set():
                raise CancelledStart(_("start cancelled before its planned time; nothing sent"))
            _arm(v, wait_ready_s)  # as arm_all, then start_all
            return v.start_mission()

        return self.for_each(one, vehicles)

    def takeoff_all(
        self, alt_m: float, vehicles: Iterable[str | Vehicle] | None = None
    ) -> dict[str, VehicleResult]:
        return self.for_each(lambda v: v.takeoff(alt_m), vehicles)

    def start_all(
        self, vehicles: Iterable[str | Vehicle] | None = None
    ) -> dict[str, VehicleResult]:
        return self.for_each(lambda v: v.start_mission(), vehicles)

    def pause_all(
        self, vehicles: Iterable[str | Vehicle] | None = None
    ) -> dict[str, VehicleResult]:
        return self.for_each(lambda v: v.pause_mission(), vehicles)

    def continue_all(
        self, vehicles: Iterable[str | Vehicle] | None = None
    ) -> dict[str, VehicleResult]:
        return self.for_each(lambda v: v.continue_mission(), vehicles)

    def rtl_all(self, vehicles: Iterable[str | Vehicle] | None = None) -> dict[str, VehicleResult]:
        return self.for_each(lambda v: v.rtl(), vehicles)

    def land_all(self, vehicles: Iterable[str | Vehicle] | None = None) -> dict[str, VehicleResult]:
        return self.for_each(lambda v: v.land(), vehicles)


#: the longest start delay :meth:`Fleet.launch_all` takes (a plan's are seconds to minutes)
MAX_DELAY_S = 3600.0


class CancelledStart(DronekitPlzenError):
    """A staggered start was cancelled before its time (:meth:`Fleet.launch_all`)."""


def planned_start_delays(missions: Mapping[Any, Any]) -> dict[Any, float]:
    """Each vehicle's planned start delay in seconds, for :meth:`Fleet.launch_all`: the
    ``start_delay_s`` a plan gives a vehicle's first sortie (``plan poa``'s missions carry it
    in their metadata); 0 for a later sortie (it starts when the pilot sends it) or a plan
    without one. A value is a Mission or a sortie of :func:`missions.clearance.clear_for_flight`
    (``.mission``, ``.index``), as :meth:`Fleet.upload` takes them."""
    out: dict[Any, float] = {}
    for key, m in missions.items():
        mission = getattr(m, "mission", m)
        meta = getattr(mission, "metadata", None) or {}
        value = meta.get("start_delay_s") if getattr(m, "index", 1) == 1 else None
        if isinstance(value, int | float) and math.isfinite(value) and value > 0:
            out[key] = float(value)
        else:
            out[key] = 0.0
    return out


def _arm(v: Vehicle, wait_ready_s: float) -> Any:
    """Wait until ``v`` is ready to arm (up to ``wait_ready_s``; 0: not), leave a mode it
    refuses to arm in, arm it."""
    if wait_ready_s > 0:
        v.wait_ready_to_arm(wait_ready_s)
    leave_unarmable_mode(v)
    return v.arm()


def _items_of(m: Any) -> list[MissionItem]:
    items = getattr(m, "items", m)
    if callable(items):  # a Mapping passed by mistake
        raise BadInputError(_("a mission must be a list of MissionItem or a Mission"))
    out = list(items)
    if not all(isinstance(it, MissionItem) for it in out):
        raise BadInputError(_("a mission must be a list of MissionItem or a Mission"))
    return out


def _run_one(fn: Callable[[Vehicle], Any], v: Vehicle) -> VehicleResult:
    t0 = time.monotonic()
    key = vehicle_key(v)
    try:
        value = fn(v)
    except CommandError as exc:
        return VehicleResult(key, v.sysid, False, str(exc), exc.result, time.monotonic() - t0)
    except MissionTransferError as exc:
        return VehicleResult(
            key, v.sysid, False, str(exc), exc.mission_result, time.monotonic() - t0
        )
    except DronekitPlzenError as exc:
        return VehicleResult(key, v.sysid, False, str(exc), None, time.monotonic() - t0)
    return VehicleResult(key, v.sysid, True, None, None, time.monotonic() - t0, value)


def leave_unarmable_mode(v: Vehicle) -> tuple[str, str] | None:
    """Switch ``v`` out of a mode it refuses to arm in (an ArduCopter still in the AUTO or RTL
    it landed in, :func:`dronekit_plzen.link.modes.arming_mode`) before arming it: ``(old,
    new)`` mode when it switched, None when it may arm as it is. ``fly``, the GUI's Arm and
    :meth:`Fleet.arm_all` all arm through it."""
    old = v.state.mode
    new = arming_mode(v.autopilot, old)
    if new is None:
        return None
    log.info("vehicle %s: mode %s does not allow arming: switching to %s", v.sysid, old, new)
    v.set_mode(new)
    return old or "?", new


def vehicle_rtl_params(v: Vehicle) -> RtlParams | None:
    """Everything the vehicle's RTL depends on, read from the vehicle: PX4 RTL_RETURN_ALT,
    RTL_CONE_ANG, RTL_MIN_DIST, NAV_ACC_RAD, RTL_TYPE; ArduCopter RTL_ALT, RTL_CONE_SLOPE,
    RTL_CLIMB_MIN, WPNAV_RADIUS, the altitude fence, RTL_ALT_TYPE and TERRAIN_SPACING
    (:data:`dronekit_plzen.rtl_cone.PARAM_NAMES`). None when the return altitude itself cannot
    be read (the profile's values are checked instead); another value that cannot be read keeps
    the firmware's default and is logged."""
    if v.autopilot not in rtl_cone.AUTOPILOTS:
        return None
    names = rtl_cone.PARAM_NAMES[v.autopilot]
    # read together: a name this firmware version lacks costs the shared 3 s once, not 2 s each
    values = v.get_params(names, timeout_s=3.0)
    for name in names:
        if name not in values:
            log.warning("vehicle %s: %s not read: its default is assumed", v.sysid, name)
    if names[0] not in values:
        return None
    if not math.isfinite(values[names[0]]) or values[names[0]] < 0:
        return None
    # the cone is trusted only when all of it was read (else the ceiling is the full climb)
    known = all(n in values for n in rtl_cone.CONE_PARAM_NAMES[v.autopilot])
    return rtl_cone.from_param_values(v.autopilot, values, from_vehicle=known)


def dem_heights(dem: Any) -> Callable[[Any, Any], Any]:
    """Heights (metres AMSL) at WGS84 (lat, lon) from a DEM: a GeoTIFF path read a window
    around the points at a time (a terrain block is about 3 km across), or a loaded raster
    (anything with ``sample(lon, lat)``); NaN outside it."""
    import numpy as np

    from missions.terrain import Raster

    if hasattr(dem, "sample"):
        return lambda lat, lon: dem.sample(lon, lat)
    path = dem

    def heights(lat: Any, lon: Any) -> Any:
        bbox = (float(np.min(lon)), float(np.min(lat)), float(np.max(lon)), float(np.max(lat)))
        try:
            r = Raster.open(path, bbox_lonlat=bbox, margin_m=100.0)
        except BadInputError:  # the block lies outside the DEM
            return np.full(np.shape(lat), np.nan)
        return r.sample(lon, lat)

    return heights


def terrain_server(link: Any, v: Vehicle, dem: Any) -> Any:
    """Serve ``v``'s terrain requests (ArduPilot's TERRAIN_REQUEST) from the DEM (a path or a
    raster, :func:`dem_heights`), as a context manager (a null one without a DEM or for PX4,
    which asks for none)."""
    from dronekit_plzen.link.terrain import TerrainServer

    if dem is None or v.autopilot != "ardupilot":
        return contextlib.nullcontext()
    return TerrainServer(link, dem_heights(dem), sysid=v.sysid)


#: how PX4's navigator says it has run out of mission items ("Mission finished, loitering",
#: "Mission finished, landed")
PX4_MISSION_FINISHED_TEXT = "Mission finished"
#: MISSION_CURRENT.mission_state (MAVLink MISSION_STATE): flying it, and run to its end
MISSION_STATE_ACTIVE = 3
MISSION_STATE_COMPLETE = 5


@dataclass
class MissionCompletion:
    """Whether the vehicle flew its mission to the end, from what it reports while flying.

    ``goal`` is the last item it must reach: the last NAV item before the closing RTL,
    landing or unlimited loiter (a vehicle that returns by a failsafe, a geofence breach or
    the pilot's switch lands too, but short of it). Only MISSION_CURRENT and
    MISSION_ITEM_REACHED received in a mission mode count: in RTL PX4 may fly the mission's
    own landing items (RTL_TYPE 1) or the mission backwards (2, 4), which is no progress, and
    the values the link held before the flight may be an earlier mission's.

    >>> from dronekit_plzen.mission_items import MissionItem
    >>> items = [MissionItem(22), MissionItem(16), MissionItem(178), MissionItem(16),
    ...          MissionItem(20)]  # take-off, waypoint, speed, waypoint, RTL
    >>> done = MissionCompletion.of(items)
    >>> done.goal
    3
    >>> done.seen("MISSION_CURRENT", 3, "AUTO"); done.complete  # flying to the last waypoint
    False
    >>> done.seen("MISSION_CURRENT", 4, "AUTO.RTL"); done.complete  # a failsafe's RTL
    False
    >>> done.progress()  # numbered from 1, as QGroundControl numbers the items
    'after item 3, not reaching item 4'
    >>> done.seen("MISSION_ITEM_REACHED", 3, "AUTO.MISSION"); done.complete
    True
    >>> lossy = MissionCompletion.of(items)  # the last reach lost; the mission said complete
    >>> lossy.seen("MISSION_CURRENT", 3, "AUTO", 3); lossy.seen("MISSION_CURRENT", 3, "AUTO", 5)
    >>> lossy.complete
    True
    >>> stale = MissionCompletion.of(items)  # "complete" before this flight said active
    >>> stale.seen("MISSION_CURRENT", 1, "AUTO", 5); stale.complete
    False
    >>> lost = MissionCompletion.of(items)  # PX4 main lost the reach; its navigator says it
    >>> lost.seen("MISSION_CURRENT", 3, "AUTO.MISSION"); lost.said("Mission finished, loitering")
    >>> lost.complete
    True
    >>> px4 = MissionCompletion.of(items)  # PX4: "complete" comes after the switch to RTL
    >>> px4.seen("MISSION_CURRENT", 3, "AUTO.MISSION", 3); px4.seen("MISSION_CURRENT", 4,
    ...     "AUTO.RTL", 5); px4.complete
    True
    """

    goal: int
    furthest: int = -1
    entered: bool = False
    left_in: str | None = None
    #: a MISSION_CURRENT in a mission mode said the mission active (see :meth:`seen`)
    active_seen: bool = False
    #: the autopilot's reports followed so far, as the link reduces them (:meth:`follow`)
    reports: VehicleState = field(default_factory=lambda: VehicleState(sysid=0))

    @classmethod
    def of(cls, items: list[Any]) -> MissionCompletion:
        from dronekit_plzen.mission_items import (
            CMD_NAV_LAND,
            CMD_NAV_LOITER_UNLIM,
            CMD_NAV_RETURN_TO_LAUNCH,
            NAV_COMMANDS,
        )

        # the mission's own end: a return, a landing, or a loiter the pilot ends (the firmware
        # never reports it reached)
        closing = (CMD_NAV_RETURN_TO_LAUNCH, CMD_NAV_LAND, CMD_NAV_LOITER_UNLIM)
        nav = [k for k, it in enumerate(items) if it.command in NAV_COMMANDS]
        while len(nav) > 1 and items[nav[-1]].command in closing:
            nav.pop()
        return cls(goal=nav[-1] if nav else -1)

    def seen(self, msg_type: str, index: int, mode: str | None, mission_state: int = 0) -> None:
        """A MISSION_CURRENT (the item flown to) or MISSION_ITEM_REACHED (an item reached),
        in the mission's own indices, received while the vehicle was in ``mode``.

        A MISSION_CURRENT whose ``mission_state`` says the mission is complete (ArduPilot 4.5+:
        ``AP_Mission`` ran out of items; PX4 since its extended MISSION_CURRENT: the navigator's
        mission result "finished", also once it has switched to the RTL of a closing item;
        PX4 v1.16 leaves it at 0), after one in a mission mode that said it active, counts as
        its last item reached: a MISSION_ITEM_REACHED lost on a lossy link does not make a flown
        mission look cut short (and flown again from there). A "complete" never seen active is
        an earlier mission's, and does not count; a failsafe's RTL is never "complete"."""
        self.mode(mode)
        if msg_type == "MISSION_CURRENT" and mission_state == MISSION_STATE_COMPLETE:
            if self.active_seen:
                self.furthest = max(self.furthest, self.goal)
            return
        if mode not in MISSION_MODES or index < 0:
            return
        if msg_type == "MISSION_CURRENT" and mission_state == MISSION_STATE_ACTIVE:
            self.active_seen = True
        reached = index if msg_type == "MISSION_ITEM_REACHED" else index - 1
        self.furthest = max(self.furthest, reached)

    def follow(self, msg: Any, compid: int) -> None:
        """One message from the vehicle, in the order the link received them: a HEARTBEAT of
        its autopilot (component ``compid``) sets the mode, and MISSION_CURRENT and
        MISSION_ITEM_REACHED count in the mode the link stamps them with (the last heartbeat's,
        :func:`dronekit_plzen.link.state.reach_mode`), however late they are read. (PX4 reports
        its last waypoint reached and switches to RTL within the same second; judged by the
        mode when the reader got to it, the reach could be lost.)"""
        kind = msg.get_type()
        if kind not in ("HEARTBEAT", "MISSION_CURRENT", "MISSION_ITEM_REACHED", "STATUSTEXT"):
            return
        if msg.get_srcComponent() != compid:  # a gimbal's or a camera's, not the autopilot's
            return
        if kind == "STATUSTEXT":
            text = msg.text.decode("utf-8", "replace") if isinstance(msg.text, bytes) else msg.text
            self.said(str(text))
            return
        self.reports = r = apply_message(self.reports, msg, 0.0)
        if kind == "HEARTBEAT":
            self.mode(r.mode)
        elif kind == "MISSION_CURRENT":
            self.seen(kind, r.mission_seq, r.mission_seq_mode, r.mission_state)
        else:
            self.seen(kind, r.last_item_reached, r.item_reached_mode)

    def said(self, text: str) -> None:
        """A status text of the autopilot. PX4's navigator says "Mission finished" (loitering
        or landed) when it has run out of items (``MissionBase::advance_mission``; never on a
        failsafe's RTL): after this flight entered a mission mode, the mission was flown to its
        end. PX4 ``main`` can lose a MISSION_ITEM_REACHED: its extended MISSION_CURRENT reads
        the navigator's mission result in a second place, which takes the update the reach was
        to be sent from (seen on SITL: a finished sortie reported cut short)."""
        if self.entered and text.startswith(PX4_MISSION_FINISHED_TEXT):
            self.furthest = max(self.furthest, self.goal)

    def mode(self, mode: str | None) -> None:
        """The vehicle's mode now; the first other mode after a mission mode is where it left
        the mission (at its end, or short of it)."""
        if mode in MISSION_MODES:
            self.entered = True
        elif self.entered and self.left_in is None and mode:
            self.left_in = mode

    @property
    def complete(self) -> bool:
        return self.furthest >= self.goal

    def progress(self) -> str:
        """How far a mission cut short got, in the words ``fly`` and the GUI say it: "after
        item 3, not reaching item 7" (items numbered from 1, as QGroundControl and Mission
        Planner number them: :attr:`furthest` and :attr:`goal` + 1), "before reaching item 1"
        when no item was reached."""
        if self.furthest < 0:
            return _("before reaching item 1")
        return _("after item {item}, not reaching item {goal}").format(
            item=self.furthest + 1, goal=self.goal + 1
        )


MISSION_TYPE_RALLY = 2


def vehicle_rally(v: Vehicle, missions: list[Any]) -> str | None:
    """Make the guard check the rally points the vehicle will return to. A plan with rally
    points uploads them with the sortie (:func:`upload_rally`); a plan without any leaves
    the vehicle's own on board, so they are read from it and put in every sortie here. Returns
    the note saying so (None: nothing read)."""
    if any(m.rally_points for m in missions):
        return None
    from missions.formats._common import rally_from_items

    try:
        points = rally_from_items(v.download_mission(MISSION_TYPE_RALLY))
    except DronekitPlzenError as exc:
        log.warning("vehicle %s: rally points not read (%s)", v.sysid, exc)
        return None
    if not points:
        return None
    for m in missions:
        m.rally_points = list(points)
    return ngettext(
        "the vehicle holds {n} rally point: checked as a place RTL may return to",
        "the vehicle holds {n} rally points: checked as places RTL may return to",
        len(points),
    ).format(n=len(points))


def upload_rally(v: Vehicle, mission: Any) -> int:
    """Upload the plan's rally points (verified), as QGroundControl uploads a .plan's; 0 when
    the plan has none (the vehicle's own stay, and were checked)."""
    items = list(mission.rally_items())
    if items:
        v.upload_mission(items, MISSION_TYPE_RALLY, verify=True)
    return len(items)


__all__ = [
    "MISSION_MODES",
    "Fleet",
    "MissionCompletion",
    "VehicleResult",
    "dem_heights",
    "leave_unarmable_mode",
    "terrain_server",
    "upload_rally",
    "vehicle_key",
    "vehicle_rally",
    "vehicle_rtl_params",
]
