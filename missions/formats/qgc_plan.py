"""QGroundControl ``.plan`` files (``fileType`` "Plan", version 1; mission version 2).

Read: SimpleItems; ComplexItems (survey, CorridorScan, StructureScan, ...) are **flattened** into
the simple items QGroundControl generated and stored under ``TransectStyleComplexItem.Items``
(each flattened item's ``meta`` names the complex item it came from); a complex item without
stored items is an error naming it. Geofence polygons and circles (version 2) and rally points.

QGroundControl altitude modes (``AltitudeMode``): 0 mixed, 1 relative to home, 2 AMSL,
3 "calculated above terrain" (frame 0 with the AMSL altitude filled in from terrain data;
``params[6]`` may be ``null`` when QGC had no terrain data), 4 terrain frame. A mode-3 item
without an AMSL altitude is read with ``alt_m`` NaN and ``meta["above_terrain_m"]`` set;
:func:`missions.terrain.resolve_above_terrain` fills it from a DEM.

``DO_JUMP``: QGC stores the target's ``doJumpId``; :class:`~missions.model.Mission` uses the
0-based index into ``Mission.items`` (PX4 sequence numbers; ArduPilot's are one higher because
of home at 0). The mapping is done here in both directions.

Our metadata (pattern, metrics, safety override) goes into a top-level ``"dronekitPlzen"`` key,
which QGroundControl ignores.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import json_int
from dronekit_plzen.mission_items import (
    CMD_DO_JUMP,
    FRAME_GLOBAL,
    FRAME_GLOBAL_INT,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_GLOBAL_RELATIVE_ALT_INT,
    FRAME_GLOBAL_TERRAIN_ALT,
    FRAME_GLOBAL_TERRAIN_ALT_INT,
    MissionItem,
)
from missions.formats._common import (
    atomic_write_text,
    json_safe,
    note_speed,
    num,
    num_or_none,
    read_text,
    speed_stated,
    start_speed,
)
from missions.model import FenceCircle, FencePolygon, Mission, RallyPoint

ALT_MODE_RELATIVE = 1
ALT_MODE_AMSL = 2
ALT_MODE_CALC_ABOVE_TERRAIN = 3
ALT_MODE_TERRAIN_FRAME = 4

_FRAME_TO_ALT_MODE = {
    FRAME_GLOBAL: ALT_MODE_AMSL,
    FRAME_GLOBAL_INT: ALT_MODE_AMSL,
    FRAME_GLOBAL_RELATIVE_ALT: ALT_MODE_RELATIVE,
    FRAME_GLOBAL_RELATIVE_ALT_INT: ALT_MODE_RELATIVE,
    FRAME_GLOBAL_TERRAIN_ALT: ALT_MODE_TERRAIN_FRAME,
    FRAME_GLOBAL_TERRAIN_ALT_INT: ALT_MODE_TERRAIN_FRAME,
}


def _item_params(d: dict[str, Any], where: str) -> list[Any]:
    """The 7 MAVLink parameters of a SimpleItem in any of the forms QGroundControl reads: the
    current ``params`` of 7; the older ``params`` of 4 plus ``coordinate`` [lat, lon, alt]; the
    oldest ``param1``..``param4`` keys plus ``coordinate`` (type ``missionItem``)."""
    params = d.get("params")
    coord = d.get("coordinate")
    if isinstance(params, list) and len(params) == 7:
        return params
    if coord is not None:
        if not isinstance(coord, list) or len(coord) != 3:
            raise BadInputError(_("SimpleItem 'coordinate' needs [lat, lon, alt]"), where=where)
        if isinstance(params, list) and len(params) == 4:
            return [*params, *coord]
        if params is None and all(f"param{k}" in d for k in range(1, 5)):
            return [d[f"param{k}"] for k in range(1, 5)] + list(coord)
    raise BadInputError(
        _("SimpleItem needs 'params' with 7 values (or 4 values and a 'coordinate')"), where=where
    )


def _whole(v: Any) -> int:
    """A command or frame number: 16.7 was read as 16 (the file is damaged, not rounded)."""
    if isinstance(v, float) and not v.is_integer():
        raise ValueError(_("{v!r} is not a whole number").format(v=v))
    return int(v)


def _simple_item(d: dict[str, Any], where: str) -> tuple[MissionItem, int | None]:
    params = _item_params(d, where)
    try:
        command = _whole(d["command"])
        frame = _whole(d["frame"])
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise BadInputError(
            _("SimpleItem needs integer 'command' and 'frame' ({exc})").format(exc=exc), where=where
        ) from exc
    p = [num(v, where, f"params[{k}]") for k, v in enumerate(params)]
    meta: dict[str, Any] = {}
    alt = p[6]
    mode = d.get("AltitudeMode")
    if mode == ALT_MODE_CALC_ABOVE_TERRAIN:
        meta["qgc_altitude_mode"] = ALT_MODE_CALC_ABOVE_TERRAIN
        meta["above_terrain_m"] = num(d.get("Altitude"), where, "Altitude")
        amsl = d.get("AMSLAltAboveTerrain")
        if math.isnan(alt) and amsl is not None:
            alt = num(amsl, where, "AMSLAltAboveTerrain")
    jump_id = d.get("doJumpId", d.get("id"))  # "id": the oldest .mission form
    item = MissionItem(
        command=command,
        frame=frame,
        param1=p[0],
        param2=p[1],
        param3=p[2],
        param4=p[3],
        lat_deg=0.0 if math.isnan(p[4]) else p[4],
        lon_deg=0.0 if math.isnan(p[5]) else p[5],
        alt_m=alt,
        autocontinue=bool(d.get("autoContinue", True)),
        meta=meta,
    )
    return item, (int(jump_id) if isinstance(jump_id, int | float) else None)


# complex items whose generated items QGroundControl does not store in the file: it builds
# them from the shape each time it loads the plan
def _unstored_complex(kind: str) -> str | None:
    """What a complex item QGroundControl builds when it loads the plan is (in the current
    language), None for another kind."""
    return {
        "StructureScan": _("a structure scan"),
        "fwLandingPattern": _("a fixed-wing landing pattern"),
        "vtolLandingPattern": _("a VTOL landing pattern"),
    }.get(kind)


def _complex_items(d: dict[str, Any], where: str) -> list[dict[str, Any]]:
    kind = d.get("complexItemType", "?")
    tsc = d.get("TransectStyleComplexItem")
    items = tsc.get("Items") if isinstance(tsc, dict) else d.get("Items")
    if not isinstance(items, list) or not items:
        what = _unstored_complex(str(kind))
        if what is not None:
            raise BadInputError(
                _(
                    "complex item {kind!r} ({what}) cannot be checked: "
                    "QGroundControl does not store its waypoints in the .plan file but builds them "
                    "when it loads the plan; upload it from QGroundControl and save the vehicle's "
                    "mission (QGC WPL .waypoints), or replan it here"
                ).format(kind=kind, what=what),
                where=where,
            )
        raise BadInputError(
            _(
                "complex item {kind!r} has no generated items stored; open and save the plan "
                "in QGroundControl 4.x, or replan it here"
            ).format(kind=kind),
            where=where,
        )
    return items


def _load_items(raw_items: list[Any], path: str) -> list[MissionItem]:
    items: list[MissionItem] = []
    jump_ids: dict[int, int] = {}
    for i, d in enumerate(raw_items):
        where = f"{path}: mission item {i + 1}"
        if not isinstance(d, dict):
            raise BadInputError(_("mission item is not an object"), where=where)
        typ = d.get("type")
        if typ in ("SimpleItem", "missionItem"):  # missionItem: the oldest .mission files
            it, jid = _simple_item(d, where)
            if jid is not None:
                jump_ids[jid] = len(items)
            items.append(it)
        elif typ == "ComplexItem":
            kind = str(d.get("complexItemType", "?"))
            first = len(items)
            for k, sub in enumerate(_complex_items(d, where)):
                it, _jid = _simple_item(sub, f"{where} ({kind} item {k + 1})")
                items.append(it.with_(meta={**it.meta, "qgc_complex": kind, "qgc_complex_no": i}))
            jid = d.get("doJumpId")
            if isinstance(jid, int):
                jump_ids[jid] = first
        else:
            raise BadInputError(_("unknown item type {typ!r}").format(typ=typ), where=where)
    out = []
    for k, it in enumerate(items):
        if it.command == CMD_DO_JUMP:
            target = int(it.param1) if math.isfinite(it.param1) else None
            if target is None or target not in jump_ids:
                raise BadInputError(
                    _("DO_JUMP to doJumpId {target}, which no item has").format(
                        target=f"{it.param1:g}" if target is None else target
                    ),
                    where=f"{path}: item {k + 1}",
                )
            it = it.with_(param1=float(jump_ids[target]))
        out.append(it)
    return out


class _Constant:
    """Where ``NaN``/``Infinity`` stood in the JSON text (found after parsing, with its path)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _constant_at(doc: Any) -> tuple[str, str] | None:
    """The first ``NaN``/``Infinity`` of ``doc`` in file order, and its path
    (``mission.plannedHomePosition[0]``)."""
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        v, at = stack.pop()
        if isinstance(v, _Constant):
            return v.name, at
        if isinstance(v, dict):
            stack.extend((x, f"{at}.{k}" if at else str(k)) for k, x in reversed(v.items()))
        elif isinstance(v, list):
            stack.extend((x, f"{at}[{i}]") for i, x in reversed(list(enumerate(v))))
    return None


def _load_json(text: str, path: str) -> Any:
    seen: list[str] = []

    def constant(name: str) -> Any:
        seen.append(name)
        return _Constant(name)

    try:
        doc = json.loads(text, parse_constant=constant, parse_int=json_int)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            _("invalid JSON: {msg} (line {lineno}, column {colno})").format(
                msg=exc.msg, lineno=exc.lineno, colno=exc.colno
            ),
            where=path,
        ) from exc
    except RecursionError as exc:
        raise BadInputError(_("JSON nested too deeply"), where=path) from exc
    if seen:
        found = _constant_at(doc)
        name, at = found if found else (seen[0], "")
        msg = _("{c} is not valid JSON (a .plan writes a missing value as null)").format(c=name)
        if at:
            msg += _("; found at {at}").format(at=at)
        raise BadInputError(msg, where=path)
    return doc


#: mission object versions this reader knows (QGroundControl writes 2; it reads 1 and 2)
_MISSION_VERSIONS = (1, 2)


def parse_plan(text: str, path: str = "<plan>") -> Mission:
    """Parse the JSON text of a ``.plan`` file into a :class:`Mission`."""
    doc = _load_json(text, path)
    if not isinstance(doc, dict) or doc.get("fileType") != "Plan":
        raise BadInputError(_("not a QGroundControl plan (fileType must be 'Plan')"), where=path)
    if doc.get("version") != 1:
        raise BadInputError(
            _("unsupported plan version {version!r} (need 1)").format(version=doc.get("version")),
            where=path,
        )
    mis = doc.get("mission")
    if not isinstance(mis, dict) or not isinstance(mis.get("items"), list):
        raise BadInputError(_("plan has no 'mission.items' list"), where=path)
    if "version" in mis and mis["version"] not in _MISSION_VERSIONS:
        raise BadInputError(
            _(
                "unsupported mission version {version!r} (QGroundControl writes 2): "
                "its items may not mean what this reader takes them to"
            ).format(version=mis["version"]),
            where=path,
        )
    try:
        return _mission_from(doc, mis, path)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        if isinstance(exc, BadInputError):
            raise
        raise BadInputError(_("malformed plan: {exc}").format(exc=exc), where=path) from exc


def parse_legacy_mission(text: str, path: str = "<mission>") -> Mission:
    """The JSON ``.mission`` files of QGroundControl before 3.2 (no ``fileType``; version
    ``"1.0"`` with ``missionItem`` s and an item as home, or 2 with 4 ``params`` and a
    ``coordinate`` per item and the home as [lat, lon, alt])."""
    doc = _load_json(text, path)
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise BadInputError(_("not a QGroundControl .mission file (no 'items' list)"), where=path)
    if doc.get("fileType") not in (None, "Mission"):
        raise BadInputError(
            _("not a .mission file (fileType {file_type!r})").format(file_type=doc["fileType"]),
            where=path,
        )
    if doc.get("complexItems"):
        raise BadInputError(
            _(
                "the survey ('complexItems') of this old .mission file stores no waypoints: open "
                "it in QGroundControl and save it as a .plan, or replan it here"
            ),
            where=path,
        )
    mis = dict(doc)
    hp = doc.get("plannedHomePosition")
    if isinstance(hp, dict):  # version 1: the home is a mission item
        if hp.get("coordinate") is None:
            del mis["plannedHomePosition"]
        else:
            mis["plannedHomePosition"] = hp["coordinate"]
    if "firmwareType" not in mis and isinstance(doc.get("MAV_AUTOPILOT"), int):
        mis["firmwareType"] = doc["MAV_AUTOPILOT"]
    try:
        return _mission_from({}, mis, path)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        if isinstance(exc, BadInputError):
            raise
        raise BadInputError(
            _("malformed .mission file: {exc}").format(exc=exc), where=path
        ) from exc


def _latlon(v: Any, path: str, what: str) -> tuple[float, float]:
    """(lon, lat) of a QGC [lat, lon, ...] pair."""
    if not isinstance(v, list) or len(v) < 2:
        raise BadInputError(_("{what} needs [lat, lon]").format(what=what), where=path)
    lon = num(v[1], path, _("{what} longitude").format(what=what))
    lat = num(v[0], path, _("{what} latitude").format(what=what))
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise BadInputError(
            _("{what} has no latitude/longitude: {v!r}").format(what=what, v=v), where=path
        )
    return lon, lat


def _planned_home(mis: dict[str, Any], path: str) -> tuple[float, float, float] | None:
    """(lon, lat, alt) of ``plannedHomePosition`` [lat, lon, alt], None when there is none.

    QGroundControl writes three JSON numbers, an unknown (NaN) value as ``null``; [0, 0, 0] is
    what tools with no home to give write. Anything else is a damaged file, named with the
    field (a string, an object, a list of one or five values, ``true`` for a latitude were read
    as no home or as latitude 1, with exit 0).
    """
    if "plannedHomePosition" not in mis:
        return None
    hp = mis["plannedHomePosition"]
    if not isinstance(hp, list) or len(hp) not in (2, 3):
        raise BadInputError(
            _("plannedHomePosition must be [latitude, longitude, altitude], got {v}").format(
                v=_json_short(hp)
            ),
            where=path,
        )
    vals = [*hp, None][:3]
    names = (_("latitude"), _("longitude"), _("altitude"))
    for v, name in zip(vals, names):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise BadInputError(
                _("plannedHomePosition: the {what} is {v}, not a number").format(
                    what=name, v=_json_short(v)
                ),
                where=path,
            )
        if v is not None and not math.isfinite(v):
            raise BadInputError(
                _("plannedHomePosition: the {what} is {v}, not a finite number").format(
                    what=name, v=v
                ),
                where=path,
            )
    lat, lon, alt = vals
    if lat is None and lon is None:  # QGroundControl's unknown coordinate
        return None
    if lat is None or lon is None:
        raise BadInputError(
            _("plannedHomePosition: the {what} is null").format(
                what=names[0] if lat is None else names[1]
            ),
            where=path,
        )
    if (lat, lon) == (0, 0):  # 0/0: written by tools that had no home to give
        return None
    return float(lon), float(lat), 0.0 if alt is None else float(alt)


def _json_short(v: Any, n: int = 40) -> str:
    """``v`` as the JSON text it was read from (``null``, not ``None``), cut to ``n``."""
    try:
        text = json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= n else text[: n - 1] + "…"


def _mission_from(doc: dict[str, Any], mis: dict[str, Any], path: str) -> Mission:
    items = _load_items(mis["items"], path)
    home = _planned_home(mis, path)
    fence = doc.get("geoFence") or {}
    if not isinstance(fence, dict):
        raise BadInputError(_("'geoFence' is not an object"), where=path)
    raw_polys = list(fence.get("polygons", []) or [])
    legacy = fence.get("polygon")  # geoFence version 1: one inclusion polygon of [lat, lon]
    if isinstance(legacy, list) and legacy:
        raw_polys.append({"polygon": legacy, "inclusion": True})
    polys = []
    for k, p in enumerate(raw_polys):
        where = f"{path}: geoFence polygon {k + 1}"
        verts = p.get("polygon") if isinstance(p, dict) else None
        if not isinstance(verts, list) or len(verts) < 3:
            raise BadInputError(_("geofence polygon needs 3 or more vertices"), where=where)
        polys.append(
            FencePolygon(
                tuple(_latlon(v, where, _("vertex")) for v in verts),
                bool(p.get("inclusion", True)),
            )
        )
    circles = []
    for k, c in enumerate(fence.get("circles", []) or []):
        try:
            circ = c["circle"]
            circles.append(
                FenceCircle(
                    (float(circ["center"][1]), float(circ["center"][0])),
                    float(circ["radius"]),
                    bool(c.get("inclusion", True)),
                )
            )
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise BadInputError(
                _("geofence circle is malformed ({exc})").format(exc=exc),
                where=f"{path}: geoFence circle {k + 1}",
            ) from exc
    rally = []
    for k, r in enumerate((doc.get("rallyPoints") or {}).get("points", []) or []):
        where = f"{path}: rally point {k + 1}"
        if not isinstance(r, list) or len(r) < 3:
            raise BadInputError(_("rally point needs [lat, lon, alt]"), where=where)
        lon, lat = _latlon(r, where, _("rally point"))
        rally.append(RallyPoint(lon, lat, num(r[2], where, _("rally point altitude"))))
    ours = doc.get("dronekitPlzen") or {}
    m = Mission(
        items=items,
        home=home,
        fence_polygons=polys,
        fence_circles=circles,
        rally_points=rally,
        metadata=dict(ours.get("metadata") or {}),
    )
    if isinstance(mis.get("firmwareType"), int):
        m.autopilot = mis["firmwareType"]
    if isinstance(mis.get("vehicleType"), int):
        m.vehicle_type = mis["vehicleType"]
    has_cruise = isinstance(mis.get("cruiseSpeed"), int | float)
    if has_cruise:
        m.cruise_speed_m_s = float(mis["cruiseSpeed"])
    # (a plan we wrote from a file that stated no speed keeps saying so in our metadata)
    commanded = start_speed(items) is not None
    note_speed(m.metadata, commanded or (has_cruise and speed_stated(m.metadata)))
    if isinstance(mis.get("hoverSpeed"), int | float):
        m.hover_speed_m_s = float(mis["hoverSpeed"])
    return m


def read_plan(path: Path) -> Mission:
    return parse_plan(read_text(path), str(path))


def _item_json(it: MissionItem, jump_id: int, index_to_jump: dict[int, int]) -> dict[str, Any]:
    p1 = it.param1
    if it.command == CMD_DO_JUMP:
        p1 = float(index_to_jump.get(int(p1), int(p1) + 1))
    d: dict[str, Any] = {}
    alt: float | None = num_or_none(it.alt_m)
    if it.frame in _FRAME_TO_ALT_MODE:
        mode = _FRAME_TO_ALT_MODE[it.frame]
        altitude = num_or_none(it.alt_m)
        amsl_above_terrain = None
        if it.meta.get("qgc_altitude_mode") == ALT_MODE_CALC_ABOVE_TERRAIN:
            mode = ALT_MODE_CALC_ABOVE_TERRAIN
            altitude = it.meta.get("above_terrain_m")
            amsl_above_terrain = alt
        d["AMSLAltAboveTerrain"] = amsl_above_terrain
        d["Altitude"] = altitude
        d["AltitudeMode"] = mode
    d.update(
        {
            "autoContinue": bool(it.autocontinue),
            "command": it.command,
            "doJumpId": jump_id,
            "frame": it.frame,
            "params": [
                num_or_none(p1),
                num_or_none(it.param2),
                num_or_none(it.param3),
                num_or_none(it.param4),
                it.lat_deg,
                it.lon_deg,
                alt,
            ],
            "type": "SimpleItem",
        }
    )
    return d


def dump_plan(mission: Mission) -> str:
    """The ``.plan`` JSON text of a mission (complex items are written flattened)."""
    index_to_jump = {k: k + 1 for k in range(len(mission.items))}
    items = [_item_json(it, k + 1, index_to_jump) for k, it in enumerate(mission.items)]
    if mission.home is not None:
        home = [mission.home[1], mission.home[0], mission.home[2]]
    else:
        first = next((it for it in mission.items if it.has_position), None)
        home = [first.lat_deg, first.lon_deg, 0.0] if first else [0.0, 0.0, 0.0]
    doc: dict[str, Any] = {
        "fileType": "Plan",
        "geoFence": {
            "circles": [
                {
                    "circle": {"center": [c.center[1], c.center[0]], "radius": c.radius_m},
                    "inclusion": c.inclusion,
                    "version": 1,
                }
                for c in mission.fence_circles
            ],
            "polygons": [
                {
                    "inclusion": p.inclusion,
                    "polygon": [[lat, lon] for lon, lat in p.vertices],
                    "version": 1,
                }
                for p in mission.fence_polygons
            ],
            "version": 2,
        },
        "groundStation": "dronekit-plzen",
        "mission": {
            "cruiseSpeed": mission.cruise_speed_m_s,
            "firmwareType": mission.autopilot,
            "globalPlanAltitudeMode": 1,
            "hoverSpeed": mission.hover_speed_m_s,
            "items": items,
            "plannedHomePosition": home,
            "vehicleType": mission.vehicle_type,
            "version": 2,
        },
        "rallyPoints": {
            "points": [[r.lat_deg, r.lon_deg, r.alt_m] for r in mission.rally_points],
            "version": 2,
        },
        "version": 1,
    }
    if mission.metadata:
        doc["dronekitPlzen"] = {"version": 1, "metadata": json_safe(mission.metadata)}
    return json.dumps(doc, indent=4, ensure_ascii=False, allow_nan=False) + "\n"


def write_plan(mission: Mission, path: Path) -> Path:
    return atomic_write_text(path, dump_plan(mission))
