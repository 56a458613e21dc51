"""DJI WPML KMZ (``wpmz/template.kml`` + ``wpmz/waylines.wpml``) for DJI Pilot 2 aircraft.

Follows DJI's Cloud API "DJI WPML" documents (namespace ``http://www.dji.com/wpmz/1.0.2``):
``wpml:missionConfig`` (flyToWaylineMode, finishAction, exitOnRCLost, executeRCLostAction,
takeOffSecurityHeight, globalTransitionalSpeed, droneInfo, payloadInfo) and one ``Folder`` per
wayline whose ``Placemark`` s carry ``wpml:index``, ``wpml:executeHeight`` (waylines) or
``wpml:height`` (template), ``wpml:waypointSpeed``, heading/turn parameters and
``wpml:actionGroup`` s.

MAVLink → WPML mapping (and back, so a mission in this canonical form reads back equal):

* NAV_TAKEOFF → ``takeOffSecurityHeight`` above the take-off point (an AMSL take-off less the
  home's altitude; read back as a TAKEOFF at the current position);
* NAV_WAYPOINT / NAV_LOITER_TIME → a Placemark; a hold time → a ``hover`` action (read back as
  a WAYPOINT with its hold time in param1);
* DO_CHANGE_SPEED after waypoint k → ``waypointSpeed`` of waypoint k (the leg leaving it);
* DO_SET_CAM_TRIGG_DIST d > 0 after waypoint k … d = 0 after waypoint j → an action group
  k..j triggered ``multipleDistance`` every d metres with ``takePhoto``;
* IMAGE_START_CAPTURE of one image / DO_DIGICAM_CONTROL after waypoint k → ``takePhoto`` on
  ``reachPoint``;
* NAV_RETURN_TO_LAUNCH → ``finishAction`` ``goHome``; NAV_LAND → ``autoLand`` (DJI lands
  where the wayline ends: a LAND with a place of its own more than a metre from the last
  waypoint adds a waypoint there, at the height of the one before).

Read from DJI's files also: ``multipleTiming`` with ``takePhoto`` → IMAGE_START_CAPTURE with
that interval after the group's first waypoint, IMAGE_STOP_CAPTURE after its last;
``startRecord`` / ``stopRecord`` on reaching a point → VIDEO_START / VIDEO_STOP_CAPTURE. Any
other action (gimbal, zoom, panorama, yaw …) is named in a warning, not read.

Heights: items relative to home → ``relativeToStartPoint``; AMSL items are converted to
relative with the mission's home altitude; terrain-frame items (all of them) →
``realTimeFollowSurface`` (Mavic 3 Enterprise series only).

What a DJI wayline cannot say:

* ``DO_JUMP``: a wayline cannot repeat, so the loop is written out (unrolled) as ArduPilot and
  PX4 fly it, each jump taken its repeat count of times; the file holds the path the safety
  guard checked (it expands the same jumps). An endless jump, a jump to an item the mission
  does not have, or more than :data:`MAX_UNROLLED_ITEMS` items unrolled are refused;
* other NAV commands (loiter turns/unlimited/to altitude, spline waypoints, delays, payload
  place) change the flight path or its time: refused, one line naming the item;
* commands that do not move the aircraft (ROI, gimbal, servo ...) are dropped with a warning
  naming them, and listed in ``wpmz/res/dronekit_plzen.json``;
* the geofence and rally points: DJI Pilot 2 does not take them from a wayline file. They are
  kept in ``wpmz/res/dronekit_plzen.json`` (read back from there, so a check of the file still
  sees the fence) and a warning says the aircraft will not enforce them.

``wpmz/res/dronekit_plzen.json`` also holds our metadata (a safety override included).
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import geodesic_distance_m
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import read_zip_member
from dronekit_plzen.mission_items import (
    CMD_DO_CHANGE_SPEED,
    CMD_DO_DIGICAM_CONTROL,
    CMD_DO_JUMP,
    CMD_DO_SET_CAM_TRIGG_DIST,
    CMD_IMAGE_START_CAPTURE,
    CMD_IMAGE_STOP_CAPTURE,
    CMD_NAV_LAND,
    CMD_NAV_LOITER_TIME,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    CMD_VIDEO_START_CAPTURE,
    CMD_VIDEO_STOP_CAPTURE,
    FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_GLOBAL_TERRAIN_ALT,
    NAV_COMMANDS,
    MissionItem,
    canonical_frame,
)
from missions.formats._common import (
    atomic_write_bytes,
    fence_from_items,
    item_from_dict,
    item_to_dict,
    json_safe,
    rally_from_items,
)
from missions.formats.kml import KML_NS, open_kmz
from missions.model import Mission

log = logging.getLogger(__name__)

WPML_NS = "http://www.dji.com/wpmz/1.0.2"
_K = f"{{{KML_NS}}}"

#: (droneEnumValue, droneSubEnumValue, payloadEnumValue) from DJI's enumeration tables
DJI_MODELS: dict[str, tuple[int, int, int]] = {
    "M3E": (77, 0, 66),
    "M3T": (77, 1, 67),
    "M3M": (77, 2, 68),
    "M30": (67, 0, 52),
    "M30T": (67, 1, 53),
    "M300_H20T": (60, 0, 43),
    "M350_H20T": (89, 0, 43),
}


#: at most this many items once ``DO_JUMP`` loops are written out
MAX_UNROLLED_ITEMS = 10_000


def _too_long() -> BadInputError:
    return BadInputError(
        _(
            "DJI WPML cannot repeat a loop, and the DO_JUMP loops of this mission written out "
            "are more than {n} items: shorten the loops or use another format"
        ).format(n=MAX_UNROLLED_ITEMS)
    )


def unroll_jumps(items: list[MissionItem]) -> list[tuple[int, MissionItem]]:
    """The items in the order the autopilot flies them, ``DO_JUMP`` loops written out.

    Each jump is taken its repeat count (param2, truncated to a whole number as the autopilots
    store it) of times before the mission goes on past it, its counter kept for the whole
    mission (ArduPilot's and PX4's rule, and the safety guard's). Returns (index in ``items``,
    item) pairs without the jumps.
    """
    out: list[tuple[int, MissionItem]] = []
    taken: dict[int, int] = {}
    k = 0
    steps = 0
    while k < len(items):
        steps += 1
        if len(out) > MAX_UNROLLED_ITEMS or steps > 10 * MAX_UNROLLED_ITEMS:
            raise _too_long()
        it = items[k]
        if it.command != CMD_DO_JUMP:
            out.append((k, it))
            k += 1
            continue
        target, repeat = it.param1, it.param2
        if not math.isfinite(repeat) or repeat < 0:
            raise BadInputError(
                _(
                    "item {k}: DO_JUMP repeats without end (repeat {r:g}); DJI WPML cannot "
                    "repeat a loop: give the jump a repeat count"
                ).format(k=k + 1, r=repeat)
            )
        if not (math.isfinite(target) and target == int(target) and 0 <= target < len(items)):
            raise BadInputError(
                _("item {k}: DO_JUMP to item {t:g}, which the mission does not have").format(
                    k=k + 1, t=target + 1
                )
            )
        if taken.get(k, 0) < int(repeat):
            taken[k] = taken.get(k, 0) + 1
            k = int(target)
        else:
            k += 1
    if len(out) > MAX_UNROLLED_ITEMS:
        raise _too_long()
    return out


@dataclass
class _Wp:
    lon: float
    lat: float
    height_m: float
    speed_m_s: float
    hover_s: float = 0.0
    photo: bool = False
    frame: int = FRAME_GLOBAL_RELATIVE_ALT


@dataclass
class _Wayline:
    wps: list[_Wp] = field(default_factory=list)
    dist_groups: list[tuple[int, int, float]] = field(default_factory=list)  # start, end, metres
    takeoff_m: float = 20.0
    finish: str = "noAction"
    speed_m_s: float = 10.0
    height_mode: str = "relativeToStartPoint"
    dropped: list[int] = field(default_factory=list)


#: a LAND this far from the last waypoint lands somewhere else: a waypoint of its own (m)
LAND_APART_M = 1.0


def _has_position(it: Any) -> bool:
    """A LAND's own place (0, 0 or NaN: land where the aircraft is)."""
    lat, lon = it.lat_deg, it.lon_deg
    return math.isfinite(lat) and math.isfinite(lon) and (lat, lon) != (0.0, 0.0)


def _to_wayline(mission: Mission) -> _Wayline:
    wl = _Wayline(speed_m_s=mission.cruise_speed_m_s)
    speed = mission.cruise_speed_m_s
    trig_start: tuple[int, float] | None = None
    frames = {
        canonical_frame(it.frame)
        for it in mission.items
        if it.command in (CMD_NAV_WAYPOINT, CMD_NAV_LOITER_TIME)
    }
    if FRAME_GLOBAL_TERRAIN_ALT in frames:
        if frames != {FRAME_GLOBAL_TERRAIN_ALT}:
            raise BadInputError(_("WPML cannot mix terrain-following and other height frames"))
        wl.height_mode = "realTimeFollowSurface"

    def above_takeoff(k: int, it: Any) -> float:
        """A height as DJI takes it: above the take-off point (an AMSL one less home's)."""
        if canonical_frame(it.frame) != FRAME_GLOBAL:
            return float(it.alt_m)
        if mission.home is None:
            raise BadInputError(
                _("item {k}: AMSL altitude needs the mission's home altitude for WPML").format(
                    k=k + 1
                )
            )
        return float(it.alt_m - mission.home[2])

    for k, it in unroll_jumps(mission.items):
        cmd = it.command
        if cmd == CMD_NAV_TAKEOFF:
            # an AMSL take-off of 340 m over a home at 310 m had been written as 340 m above it
            wl.takeoff_m = min(1500.0, max(2.0, above_takeoff(k, it)))
        elif cmd in (CMD_NAV_WAYPOINT, CMD_NAV_LOITER_TIME):
            h = above_takeoff(k, it)
            hover = it.param1 if math.isfinite(it.param1) and it.param1 > 0 else 0.0
            wl.wps.append(_Wp(it.lon_deg, it.lat_deg, h, speed, hover, frame=it.frame))
        elif cmd == CMD_DO_CHANGE_SPEED and it.param2 > 0:
            speed = float(it.param2)
            if wl.wps:
                wl.wps[-1].speed_m_s = speed
            else:
                wl.speed_m_s = speed
        elif cmd == CMD_DO_SET_CAM_TRIGG_DIST:
            at = max(len(wl.wps) - 1, 0)
            if trig_start is not None:
                wl.dist_groups.append((trig_start[0], at, trig_start[1]))
                trig_start = None
            if it.param1 > 0:
                trig_start = (at, float(it.param1))
        elif (
            cmd == CMD_IMAGE_START_CAPTURE and 1 <= it.param3 < 2  # one image (NaN: not)
        ) or cmd == CMD_DO_DIGICAM_CONTROL:
            if wl.wps:
                wl.wps[-1].photo = True
            else:
                wl.dropped.append(k)
        elif cmd == CMD_NAV_RETURN_TO_LAUNCH:
            wl.finish = "goHome"
        elif cmd == CMD_NAV_LAND:
            # DJI lands where the wayline ends: a LAND with a place of its own (650 m on had
            # been dropped) becomes the last waypoint, at the height of the one before
            last_wp = wl.wps[-1] if wl.wps else None
            if (
                last_wp is not None
                and _has_position(it)
                and float(geodesic_distance_m(last_wp.lon, last_wp.lat, it.lon_deg, it.lat_deg))
                > LAND_APART_M
            ):
                wl.wps.append(
                    _Wp(it.lon_deg, it.lat_deg, last_wp.height_m, speed, 0.0, frame=last_wp.frame)
                )
            wl.finish = "autoLand"
        elif cmd in NAV_COMMANDS:
            raise BadInputError(
                _(
                    "item {k}: command {c} moves the aircraft in a way a DJI wayline cannot "
                    "(loiter, spline, delay or payload place): replace it with waypoints or "
                    "use another format"
                ).format(k=k + 1, c=cmd)
            )
        elif k not in wl.dropped:
            wl.dropped.append(k)
    if trig_start is not None:
        wl.dist_groups.append((trig_start[0], max(len(wl.wps) - 1, 0), trig_start[1]))
    if len(wl.wps) < 2:
        raise BadInputError(
            _("DJI WPML needs at least two waypoints; this mission has {n}").format(n=len(wl.wps))
        )
    if wl.dropped:
        log.warning(
            _(
                "DJI WPML has no equivalent of items {items} (commands {cmds}): not in the "
                "wayline; they do not move the aircraft"
            ).format(
                items=", ".join(str(k + 1) for k in wl.dropped),
                cmds=", ".join(sorted({str(mission.items[k].command) for k in wl.dropped})),
            )
        )
    if mission.fence_polygons or mission.fence_circles or mission.rally_points:
        log.warning(
            _(
                "DJI WPML carries no geofence or rally points: DJI Pilot 2 will not enforce "
                "them (they are kept in the file's wpmz/res/dronekit_plzen.json); the path was "
                "checked against the fence before writing"
            )
        )
    return wl


def _w(parent: etree._Element, tag: str, text: Any = None) -> etree._Element:
    e = etree.SubElement(parent, f"{{{WPML_NS}}}{tag}")
    if text is not None:
        e.text = text if isinstance(text, str) else _num(text)
    return e


def _num(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    f = float(v)
    return str(int(f)) if f == int(f) and abs(f) < 1e12 else repr(f)


def _mission_config(doc: etree._Element, wl: _Wayline, model: str) -> None:
    mc = _w(doc, "missionConfig")
    _w(mc, "flyToWaylineMode", "safely")
    _w(mc, "finishAction", wl.finish)
    _w(mc, "exitOnRCLost", "executeLostAction")
    _w(mc, "executeRCLostAction", "goBack")
    _w(mc, "takeOffSecurityHeight", wl.takeoff_m)
    _w(mc, "globalTransitionalSpeed", min(15.0, wl.speed_m_s))
    # climb to at least the highest planned height before returning home
    rth = max([wl.takeoff_m, 20.0, *(wp.height_m for wp in wl.wps)])
    _w(mc, "globalRTHHeight", min(1500.0, rth))
    drone, sub, payload = DJI_MODELS.get(model, DJI_MODELS["M3E"])
    di = _w(mc, "droneInfo")
    _w(di, "droneEnumValue", drone)
    _w(di, "droneSubEnumValue", sub)
    pi = _w(mc, "payloadInfo")
    _w(pi, "payloadEnumValue", payload)
    _w(pi, "payloadPositionIndex", 0)


def _action_group(
    pm: etree._Element,
    gid: int,
    start: int,
    end: int,
    trigger: str,
    actions: list[tuple[str, dict[str, Any]]],
    param: float | None = None,
) -> None:
    ag = _w(pm, "actionGroup")
    _w(ag, "actionGroupId", gid)
    _w(ag, "actionGroupStartIndex", start)
    _w(ag, "actionGroupEndIndex", end)
    _w(ag, "actionGroupMode", "sequence")
    tr = _w(ag, "actionTrigger")
    _w(tr, "actionTriggerType", trigger)
    if param is not None:
        _w(tr, "actionTriggerParam", param)
    for aid, (func, params) in enumerate(actions):
        a = _w(ag, "action")
        _w(a, "actionId", aid)
        _w(a, "actionActuatorFunc", func)
        ap = _w(a, "actionActuatorFuncParam")
        for key, val in params.items():
            _w(ap, key, val)


def _document(wl: _Wayline, model: str, template: bool) -> bytes:
    root = etree.Element(_K + "kml", nsmap={None: KML_NS, "wpml": WPML_NS})
    doc = etree.SubElement(root, _K + "Document")
    if template:
        now_ms = int(time.time() * 1000)
        _w(doc, "author", "dronekit-plzen")
        _w(doc, "createTime", now_ms)
        _w(doc, "updateTime", now_ms)
    _mission_config(doc, wl, model)
    folder = etree.SubElement(doc, _K + "Folder")
    if template:
        _w(folder, "templateType", "waypoint")
        _w(folder, "templateId", 0)
        cs = _w(folder, "waylineCoordinateSysParam")
        _w(cs, "coordinateMode", "WGS84")
        _w(
            cs,
            "heightMode",
            wl.height_mode if wl.height_mode != "realTimeFollowSurface" else "aboveGroundLevel",
        )
        _w(folder, "autoFlightSpeed", wl.speed_m_s)
        _w(folder, "globalHeight", wl.wps[0].height_m)
        _w(folder, "caliFlightEnable", 0)
        _w(folder, "gimbalPitchMode", "usePointSetting")
        gh = _w(folder, "globalWaypointHeadingParam")
        _w(gh, "waypointHeadingMode", "followWayline")
        _w(folder, "globalWaypointTurnMode", "toPointAndStopWithDiscontinuityCurvature")
        _w(folder, "globalUseStraightLine", 1)
    else:
        _w(folder, "templateId", 0)
        _w(folder, "executeHeightMode", wl.height_mode)
        _w(folder, "waylineId", 0)
        _w(folder, "autoFlightSpeed", wl.speed_m_s)
    gid = 0
    for i, wp in enumerate(wl.wps):
        pm = etree.SubElement(folder, _K + "Placemark")
        pt = etree.SubElement(pm, _K + "Point")
        etree.SubElement(pt, _K + "coordinates").text = f"{wp.lon!r},{wp.lat!r}"
        _w(pm, "index", i)
        if template:
            # relative mode: DJI Pilot 2 shows both; the ellipsoid height is not known here
            _w(pm, "ellipsoidHeight", wp.height_m)
            _w(pm, "height", wp.height_m)
            _w(pm, "useGlobalHeight", 0)
            _w(pm, "useGlobalSpeed", 0)
            _w(pm, "waypointSpeed", wp.speed_m_s)
            _w(pm, "useGlobalHeadingParam", 1)
            _w(pm, "useGlobalTurnParam", 1)
            _w(pm, "useStraightLine", 1)
            _w(pm, "gimbalPitchAngle", -90)  # nadir, as the planner's footprints assume
        else:
            _w(pm, "executeHeight", wp.height_m)
            _w(pm, "waypointSpeed", wp.speed_m_s)
            hp = _w(pm, "waypointHeadingParam")
            _w(hp, "waypointHeadingMode", "followWayline")
            tp = _w(pm, "waypointTurnParam")
            _w(tp, "waypointTurnMode", "toPointAndStopWithDiscontinuityCurvature")
            _w(tp, "waypointTurnDampingDist", 0)
        reach: list[tuple[str, dict[str, Any]]] = []
        if wp.hover_s > 0:
            reach.append(("hover", {"hoverTime": wp.hover_s}))
        if wp.photo:
            reach.append(("takePhoto", {"payloadPositionIndex": 0}))
        if reach:
            _action_group(pm, gid, i, i, "reachPoint", reach)
            gid += 1
        for start, end, dist in wl.dist_groups:
            if start == i:
                _action_group(
                    pm,
                    gid,
                    start,
                    end,
                    "multipleDistance",
                    [("takePhoto", {"payloadPositionIndex": 0})],
                    dist,
                )
                gid += 1
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def mission_to_wpml_kmz(mission: Mission, *, model: str | None = None) -> bytes:
    """The KMZ bytes for DJI Pilot 2 (``model`` one of :data:`DJI_MODELS`, default M3E)."""
    wl = _to_wayline(mission)
    model = model or str(mission.metadata.get("dji_model", "M3E"))
    if model not in DJI_MODELS:
        raise BadInputError(
            _("unknown DJI model {model!r} (known: {dji_models})").format(
                model=model, dji_models=", ".join(DJI_MODELS)
            )
        )
    res = {
        "generator": "dronekit-plzen",
        "home": list(mission.home) if mission.home else None,
        "dropped_items": wl.dropped,
        "metadata": json_safe(mission.metadata),
    }
    if mission.fence_polygons or mission.fence_circles:
        res["fence_items"] = [json_safe(item_to_dict(it)) for it in mission.fence_items()]
    if mission.rally_points:
        res["rally_items"] = [json_safe(item_to_dict(it)) for it in mission.rally_items()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("wpmz/template.kml", _document(wl, model, template=True))
        z.writestr("wpmz/waylines.wpml", _document(wl, model, template=False))
        z.writestr("wpmz/res/dronekit_plzen.json", json.dumps(res, indent=2, allow_nan=False))
    return buf.getvalue()


def write_wpml(mission: Mission, path: Path, **_extras: Any) -> Path:
    return atomic_write_bytes(path, mission_to_wpml_kmz(mission))


class UnsupportedHeightMode(BadInputError):
    """A wayline whose height mode this reader cannot turn into MAVLink altitudes."""


#: WPML height modes → MAVLink frames (``executeHeightMode`` of waylines, ``heightMode`` of a
#: template): EGM96 heights are above sea level; aboveGroundLevel (template) and
#: realTimeFollowSurface are heights above the terrain
_HEIGHT_MODES = {
    "relativeToStartPoint": FRAME_GLOBAL_RELATIVE_ALT,
    "EGM96": FRAME_GLOBAL,
    "realTimeFollowSurface": FRAME_GLOBAL_TERRAIN_ALT,
    "aboveGroundLevel": FRAME_GLOBAL_TERRAIN_ALT,
}


def _mode_help(mode: str) -> str:
    """Why a height mode is not read, in the current language."""
    if mode == "WGS84":
        return _(
            "heights above the WGS84 ellipsoid, and no geoid model is bundled to turn them "
            "into heights above sea level"
        )
    return _("unknown mode")


def _wfind(e: etree._Element, path: str) -> str | None:
    """Text of a ``wpml:`` child whatever the WPML version in the namespace."""
    cur: list[etree._Element] = [e]
    for part in path.split("/"):
        nxt: list[etree._Element] = []
        for c in cur:
            nxt.extend(
                ch for ch in c if isinstance(ch.tag, str) and etree.QName(ch).localname == part
            )
        cur = nxt
    return cur[0].text.strip() if cur and cur[0].text else None


def _children(e: etree._Element, name: str) -> list[etree._Element]:
    return [ch for ch in e if isinstance(ch.tag, str) and etree.QName(ch).localname == name]


def _f(text: str | None, where: str, what: str) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise BadInputError(
            _("missing or bad {what}: {text!r}").format(what=what, text=text), where=where
        ) from exc


def parse_wpml(
    data: bytes, where: str, *, home: tuple[float, float, float] | None = None
) -> Mission:
    """A WPML document (waylines.wpml or template.kml) as a MAVLink-semantics mission."""
    try:
        return _parse_wpml(data, where, home=home)
    except (ValueError, TypeError, IndexError) as exc:
        if isinstance(exc, BadInputError):
            raise
        raise BadInputError(_("malformed WPML: {exc}").format(exc=exc), where=where) from exc


def _parse_wpml(
    data: bytes, where: str, *, home: tuple[float, float, float] | None = None
) -> Mission:
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        raise BadInputError(_("invalid XML: {exc}").format(exc=exc), where=where) from exc
    doc = root.find(f"{_K}Document")
    if doc is None:
        raise BadInputError(_("no KML Document"), where=where)
    mc = next(iter(_children(doc, "missionConfig")), None)
    if mc is None:
        raise BadInputError(_("no wpml:missionConfig"), where=where)
    m = Mission(home=home)
    ref = _wfind(mc, "takeOffRefPoint")  # "lat,lon,ellipsoid height" of the take-off point
    if m.home is None and ref:
        parts = ref.split(",")
        if len(parts) >= 2:
            lat, lon = (
                _f(parts[0], where, "takeOffRefPoint"),
                _f(parts[1], where, "takeOffRefPoint"),
            )
            # the height is above the ellipsoid, not sea level: the home altitude stays unknown
            m.home = (lon, lat, 0.0)
    takeoff = _f(_wfind(mc, "takeOffSecurityHeight") or "20", where, "takeOffSecurityHeight")
    items = [MissionItem(CMD_NAV_TAKEOFF, FRAME_GLOBAL_RELATIVE_ALT, alt_m=takeoff)]
    dropped: list[tuple[int, str, str]] = []  # (waypoint, trigger, action) not read
    for folder in doc.findall(f"{_K}Folder"):
        mode = (
            _wfind(folder, "executeHeightMode")
            or _wfind(folder, "waylineCoordinateSysParam/heightMode")
            or "relativeToStartPoint"
        )
        if mode not in _HEIGHT_MODES:
            raise UnsupportedHeightMode(
                _(
                    "height mode {mode!r} is not supported ({mode_help}); "
                    "export the route with heights relative to the take-off point "
                    "(relativeToStartPoint) or above sea level (EGM96)"
                ).format(mode=mode, mode_help=_mode_help(mode)),
                where=where,
            )
        frame = _HEIGHT_MODES[mode]
        global_height = _wfind(folder, "globalHeight")
        m.cruise_speed_m_s = _f(_wfind(folder, "autoFlightSpeed") or "10", where, "autoFlightSpeed")
        speed = m.cruise_speed_m_s
        pms = sorted(folder.findall(f"{_K}Placemark"), key=lambda p: int(_wfind(p, "index") or 0))
        ends: dict[int, int] = {}
        stops: dict[int, int] = {}
        for pm in pms:
            idx = int(_wfind(pm, "index") or 0)
            pw = f"{where}: waypoint {idx}"
            coords = (pm.findtext(f"{_K}Point/{_K}coordinates") or "").strip().split(",")
            if len(coords) < 2:
                raise BadInputError(_("waypoint without coordinates"), where=pw)
            lon, lat = _f(coords[0], pw, _("longitude")), _f(coords[1], pw, _("latitude"))
            h_text = _wfind(pm, "executeHeight") or _wfind(pm, "height")
            if _wfind(pm, "useGlobalHeight") == "1" and global_height is not None:
                h_text = global_height  # a template's waypoint at the route's height
            h = _f(h_text, pw, "executeHeight")
            w_text = _wfind(pm, "waypointSpeed")
            if w_text is None or _wfind(pm, "useGlobalSpeed") == "1":
                w_text = str(m.cruise_speed_m_s)
            wspeed = _f(w_text, pw, "waypointSpeed")
            hover = 0.0
            photo = False
            dist_start: float | None = None
            timed: float | None = None
            after: list[MissionItem] = []  # video starts and stops on reaching the point
            for ag in _children(pm, "actionGroup"):
                trig = _wfind(ag, "actionTrigger/actionTriggerType")
                funcs = [(_wfind(a, "actionActuatorFunc"), a) for a in _children(ag, "action")]
                end = int(_wfind(ag, "actionGroupEndIndex") or idx)
                if trig == "reachPoint":
                    for fn, a in funcs:
                        if fn == "hover":
                            hover = _f(
                                _wfind(a, "actionActuatorFuncParam/hoverTime"), pw, "hoverTime"
                            )
                        elif fn == "takePhoto":
                            photo = True
                        elif fn in _VIDEO_COMMANDS:
                            after.append(MissionItem(_VIDEO_COMMANDS[fn], 2))
                        else:
                            dropped.append((idx, trig, fn or "?"))
                elif trig == "multipleDistance":
                    dist_start = _f(
                        _wfind(ag, "actionTrigger/actionTriggerParam"), pw, "actionTriggerParam"
                    )
                    ends[end] = ends.get(end, 0) + 1
                    dropped += [(idx, trig, fn or "?") for fn, _a in funcs if fn != "takePhoto"]
                elif trig == "multipleTiming" and any(fn == "takePhoto" for fn, _a in funcs):
                    # a photo every t seconds to the group's last waypoint: MAVLink's interval
                    # capture (IMAGE_START_CAPTURE's param2), stopped there (it had been dropped)
                    timed = _f(
                        _wfind(ag, "actionTrigger/actionTriggerParam"), pw, "actionTriggerParam"
                    )
                    stops[end] = stops.get(end, 0) + 1
                    dropped += [(idx, trig, fn or "?") for fn, _a in funcs if fn != "takePhoto"]
                else:
                    dropped += [(idx, trig or "?", fn or "?") for fn, _a in funcs]
            items.append(
                MissionItem(
                    CMD_NAV_WAYPOINT, frame, param1=hover, lon_deg=lon, lat_deg=lat, alt_m=h
                )
            )
            items += after
            if photo:
                items.append(MissionItem(CMD_IMAGE_START_CAPTURE, 2, param3=1.0))
            if timed is not None:
                items.append(MissionItem(CMD_IMAGE_START_CAPTURE, 2, param2=timed, param3=0.0))
            for _stop in range(stops.pop(idx, 0)):
                items.append(MissionItem(CMD_IMAGE_STOP_CAPTURE, 2))
            if dist_start is not None:
                items.append(
                    MissionItem(CMD_DO_SET_CAM_TRIGG_DIST, 2, param1=dist_start, param3=1.0)
                )
            for _end in range(ends.pop(idx, 0)):
                items.append(MissionItem(CMD_DO_SET_CAM_TRIGG_DIST, 2, param1=0.0))
            if wspeed != speed:
                items.append(
                    MissionItem(CMD_DO_CHANGE_SPEED, 2, param1=1.0, param2=wspeed, param3=-1.0)
                )
                speed = wspeed
    if not any(it.command == CMD_NAV_WAYPOINT for it in items):
        raise BadInputError(_("no wayline with waypoints"), where=where)
    if dropped:  # a gimbal's turn, a zoom, a panorama: said, not dropped without a word
        log.warning(
            _("{w}: DJI actions without a mission item here, not read: {a}").format(
                w=where,
                a=", ".join(f"{fn} ({trig}, waypoint {i})" for i, trig, fn in dropped[:8])
                + (", …" if len(dropped) > 8 else ""),
            )
        )
    finish = _wfind(mc, "finishAction")
    if finish == "goHome":
        items.append(MissionItem(CMD_NAV_RETURN_TO_LAUNCH, 2))
    elif finish == "autoLand":
        items.append(MissionItem(CMD_NAV_LAND, FRAME_GLOBAL_RELATIVE_ALT))
    m.items = items
    return m


def _restore_fence_and_rally(m: Mission, meta: dict[str, Any], where: str) -> None:
    """The geofence and rally points our writer keeps beside the wayline."""
    for key in ("fence_items", "rally_items"):
        raw = meta.get(key) or []
        if not isinstance(raw, list) or not all(isinstance(d, dict) for d in raw):
            raise BadInputError(_("'{key}' is not a list of items").format(key=key), where=where)
        items = [item_from_dict(d, f"{where}: {key} {k + 1}") for k, d in enumerate(raw)]
        if key == "fence_items":
            m.fence_polygons, m.fence_circles = fence_from_items(items, where)
        else:
            m.rally_points = rally_from_items(items)


#: DJI's video actions on reaching a waypoint and the MAVLink commands they are
_VIDEO_COMMANDS = {"startRecord": CMD_VIDEO_START_CAPTURE, "stopRecord": CMD_VIDEO_STOP_CAPTURE}


def _member(names: set[str], base: str) -> str | None:
    """``wpmz/<base>`` as DJI writes it, else ``<base>`` anywhere in the archive."""
    if f"wpmz/{base}" in names:
        return f"wpmz/{base}"
    return next((n for n in sorted(names) if n.rsplit("/", 1)[-1] == base), None)


def read_wpml(path: Path) -> Mission:
    with open_kmz(path) as z:
        names = set(z.namelist())
        meta: dict[str, Any] = {}
        res = _member(names, "dronekit_plzen.json")
        if res is not None:
            try:
                meta = json.loads(read_zip_member(z, res, str(path)))
            except json.JSONDecodeError as exc:
                raise BadInputError(
                    _("bad metadata: {exc}").format(exc=exc), where=f"{path}!{res}"
                ) from exc
        home = tuple(meta["home"]) if meta.get("home") else None
        waylines, template = _member(names, "waylines.wpml"), _member(names, "template.kml")
        if waylines is None and template is None:
            raise BadInputError(
                _("KMZ has neither wpmz/waylines.wpml nor wpmz/template.kml"), where=str(path)
            )
        # waylines in ellipsoid heights: the template's waypoints hold the same route with the
        # heights the pilot planned (relative, above ground or EGM96)
        first: UnsupportedHeightMode | None = None
        for name in (waylines, template):
            if name is None:
                continue
            try:
                m = parse_wpml(read_zip_member(z, name, str(path)), f"{path}!{name}", home=home)  # type: ignore[arg-type]
            except UnsupportedHeightMode as exc:
                if first is None and name == waylines and template is not None:
                    first = exc
                    continue
                raise first or exc from None
            except BadInputError:
                if first is not None:
                    raise first from None
                raise
            m.metadata = dict(meta.get("metadata") or {})
            _restore_fence_and_rally(m, meta, f"{path}!{res}")
            if first is not None:
                m.metadata.setdefault("wpml_heights_from", name)
            return m
        if first is not None:
            raise first
    raise BadInputError(_("KMZ has no wayline"), where=str(path))


def is_wpml_kmz(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(
                n.startswith("wpmz/") or n.rsplit("/", 1)[-1] == "waylines.wpml"
                for n in z.namelist()
            )
    except (zipfile.BadZipFile, OSError):
        return False
