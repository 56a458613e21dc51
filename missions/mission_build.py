"""Turn a metric :class:`~missions.patterns.base.PathPlan` into a :class:`~missions.model.Mission`.

Items (MAVLink semantics, altitudes relative to home, ``MAV_FRAME_GLOBAL_RELATIVE_ALT``):
``NAV_TAKEOFF`` at the launch point, ``DO_CHANGE_SPEED``, then the path as ``NAV_WAYPOINT``\\ s
(yaw ``param4`` NaN = unchanged). Camera:

* ``trigger="distance"``: ``DO_SET_CAM_TRIGG_DIST(d, 0, 1)`` after the waypoint starting each
  search run and ``DO_SET_CAM_TRIGG_DIST(0, 0, 1)`` after the one ending it (as
  QGroundControl: trigger once at both ends);
* ``"waypoint"``: a waypoint at every photo position followed by ``IMAGE_START_CAPTURE(0, 0, 1)``;
* ``"hover"``: the same, each photo waypoint holding ``hover_s`` seconds (hover-and-capture).

The mission ends with ``NAV_RETURN_TO_LAUNCH`` (``end="rtl"``) or ``NAV_LAND`` (``"land"``).
Each item's ``meta["role"]`` says what it is and ``meta["path_index"]`` which path point it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from shapely.geometry import LineString

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.mission_items import (
    CMD_DO_CHANGE_SPEED,
    CMD_DO_SET_CAM_TRIGG_DIST,
    CMD_IMAGE_START_CAPTURE,
    CMD_NAV_LAND,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_MISSION,
    MissionItem,
)
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.patterns.base import SEARCH, TRANSIT, TURN, FloatArray, PathPlan
from missions.vehicles import Vehicle

TRIGGERS = ("distance", "waypoint", "hover", "none")
_ROLE = {SEARCH: "search", TURN: "turn", TRANSIT: "transit"}
MAV_AUTOPILOT_GENERIC = 0


@dataclass(frozen=True)
class MissionOptions:
    trigger: str = "distance"
    hover_s: float = 1.0
    end: str = "rtl"  # "rtl" | "land" | "none"

    def __post_init__(self) -> None:
        if self.trigger not in TRIGGERS:
            raise BadInputError(
                _("trigger must be one of {triggers}").format(triggers=", ".join(TRIGGERS))
            )
        if self.end not in ("rtl", "land", "none"):
            raise BadInputError(_("end must be 'rtl', 'land' or 'none'"))
        if self.hover_s < 0:
            raise BadInputError(_("hover time must not be negative"))


def search_runs(path: PathPlan) -> list[FloatArray]:
    """Maximal runs of consecutive SEARCH segments as polylines (in path order)."""
    runs: list[FloatArray] = []
    cur: list[int] = []
    for i, k in enumerate(path.seg_kind):
        if k == SEARCH:
            if not cur:
                cur = [i]
            cur.append(i + 1)
        elif cur:
            runs.append(path.xy[cur])
            cur = []
    if cur:
        runs.append(path.xy[cur])
    return runs


def _wp(
    lon: float, lat: float, alt: float, role: str, idx: int, hold_s: float = 0.0
) -> MissionItem:
    return MissionItem(
        command=CMD_NAV_WAYPOINT,
        frame=FRAME_GLOBAL_RELATIVE_ALT,
        param1=hold_s,
        param4=math.nan,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        meta={"role": role, "path_index": idx},
    )


def _cmd(command: int, *params: float, role: str) -> MissionItem:
    p = [*params, 0.0, 0.0, 0.0, 0.0][:4]
    return MissionItem(
        command=command,
        frame=FRAME_MISSION,
        param1=p[0],
        param2=p[1],
        param3=p[2],
        param4=p[3],
        meta={"role": role},
    )


def build_mission(
    path: PathPlan,
    alt_m: float,
    home: tuple[float, float] | None,
    vehicle: Vehicle,
    trigger_distance_m: float | None,
    options: MissionOptions,
    metadata: dict[str, Any] | None = None,
) -> Mission:
    """The mission for ``path`` flown at ``alt_m`` above home (see the module doc)."""
    xy = path.xy
    lon, lat = geo.transform(xy[:, 0], xy[:, 1], path.epsg, geo.WGS84)
    home_ll = home if home is not None else (float(lon[0]), float(lat[0]))
    items: list[MissionItem] = [
        MissionItem(
            command=CMD_NAV_TAKEOFF,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=home_ll[1],
            lon_deg=home_ll[0],
            alt_m=alt_m,
            meta={"role": "takeoff"},
        ),
        _cmd(CMD_DO_CHANGE_SPEED, 1.0, vehicle.cruise_speed_m_s, -1.0, role="speed"),
    ]
    cam = trigger_distance_m is not None and options.trigger != "none"
    kinds = path.seg_kind
    n = len(xy)
    shots = cam and options.trigger in ("waypoint", "hover")
    between: dict[int, FloatArray] = {}
    at_vertex: set[int] = set()
    if shots:
        assert trigger_distance_m is not None
        between, at_vertex = _photo_plan(path, trigger_distance_m)
    hold_s = options.hover_s if options.trigger == "hover" else 0.0
    for i in range(n):
        prev_k = int(kinds[i - 1]) if i > 0 else None
        next_k = int(kinds[i]) if i < n - 1 else None
        role = _ROLE.get(next_k if next_k is not None else -1, "end")
        starts = next_k == SEARCH and prev_k != SEARCH
        ends = prev_k == SEARCH and next_k != SEARCH
        if i in between:  # photo waypoints strictly between path points i-1 and i
            pts = between[i]
            plon, plat = geo.transform(pts[:, 0], pts[:, 1], path.epsg, geo.WGS84)
            for x, y in zip(plon, plat):
                items.append(_wp(float(x), float(y), alt_m, "photo", i - 1, hold_s))
                items.append(_cmd(CMD_IMAGE_START_CAPTURE, 0.0, 0.0, 1.0, 0.0, role="photo"))
        shoot_here = shots and i in at_vertex
        items.append(
            _wp(float(lon[i]), float(lat[i]), alt_m, role, i, hold_s if shoot_here else 0.0)
        )
        if shoot_here:
            items.append(_cmd(CMD_IMAGE_START_CAPTURE, 0.0, 0.0, 1.0, 0.0, role="photo"))
        if cam and options.trigger == "distance":
            if starts:
                items.append(
                    _cmd(
                        CMD_DO_SET_CAM_TRIGG_DIST,
                        trigger_distance_m or 0.0,
                        0.0,
                        1.0,
                        role="camera-on",
                    )
                )
            elif ends:
                items.append(_cmd(CMD_DO_SET_CAM_TRIGG_DIST, 0.0, 0.0, 1.0, role="camera-off"))
    if options.end == "rtl":
        items.append(
            MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION, meta={"role": "rtl"})
        )
    elif options.end == "land":
        items.append(
            MissionItem(
                command=CMD_NAV_LAND,
                frame=FRAME_GLOBAL_RELATIVE_ALT,
                param4=math.nan,
                lat_deg=float(lat[-1]),
                lon_deg=float(lon[-1]),
                alt_m=0.0,
                meta={"role": "land"},
            )
        )
    autopilot = {"px4": AUTOPILOT_PX4, "ardupilot": AUTOPILOT_ARDUPILOT}.get(
        vehicle.autopilot, MAV_AUTOPILOT_GENERIC
    )
    return Mission(
        items=items,
        home=(home_ll[0], home_ll[1], 0.0),
        autopilot=autopilot,
        cruise_speed_m_s=vehicle.cruise_speed_m_s,
        hover_speed_m_s=min(vehicle.cruise_speed_m_s, 5.0),
        metadata=dict(metadata or {}),
    )


def _photo_plan(path: PathPlan, d_m: float) -> tuple[dict[int, FloatArray], set[int]]:
    """Where to shoot along each search run, at the stations of
    :func:`missions.patterns.sar.photos_along` (every ``d_m`` from the run's start, plus its
    end): {path index i: points strictly between i-1 and i} and the path indices shot at."""
    between: dict[int, FloatArray] = {}
    at_vertex: set[int] = set()
    kinds = path.seg_kind
    i = 0
    n = len(kinds)
    while i < n:
        if kinds[i] != SEARCH:
            i += 1
            continue
        j = i
        while j < n and kinds[j] == SEARCH:
            j += 1
        idx = np.arange(i, j + 1)  # path points of the run
        pts = path.xy[idx]
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
        length = float(cum[-1])
        st = np.arange(0.0, length + 1e-9, d_m)
        if length - st[-1] > 1e-3:
            st = np.append(st, length)
        near = np.abs(st[:, None] - cum[None, :]) <= 1e-3
        hit_v = near.any(axis=0)
        at_vertex.update(int(k) for k in idx[hit_v])
        free = st[~near.any(axis=1)]
        seg = np.clip(np.searchsorted(cum, free, side="right") - 1, 0, len(cum) - 2)
        for k in np.unique(seg):
            s_k = free[seg == k]
            a, b = pts[k], pts[k + 1]
            u = (b - a) / max(float(cum[k + 1] - cum[k]), 1e-12)
            between[int(idx[k + 1])] = a + u * (s_k - cum[k])[:, None]
        i = j
    return between, at_vertex


def path_line(path: PathPlan) -> LineString:
    return LineString(path.xy)
