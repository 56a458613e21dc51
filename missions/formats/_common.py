"""Helpers shared by the mission file formats: item dictionaries, fence grouping, safe writes."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import read_input_bytes, read_reason
from dronekit_plzen.mission_items import (
    CMD_DO_CHANGE_SPEED,
    CMD_DO_JUMP,
    CMD_NAV_FENCE_CIRCLE_EXCLUSION,
    CMD_NAV_FENCE_CIRCLE_INCLUSION,
    CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
    CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
    CMD_NAV_RALLY_POINT,
    CMD_NAV_TAKEOFF,
    FRAME_MISSION,
    MISSION_TYPE_MISSION,
    NAV_COMMANDS,
    MissionItem,
)
from dronekit_plzen.outputs import remove_output
from missions.model import (
    AUTOPILOT_CODES,
    AUTOPILOT_NAMES,
    FenceCircle,
    FencePolygon,
    Mission,
    RallyPoint,
)

log = logging.getLogger(__name__)

#: keys of a mission item's dictionary form (GeoJSON properties, KML ExtendedData, CSV columns)
ITEM_FIELDS = (
    "command",
    "frame",
    "param1",
    "param2",
    "param3",
    "param4",
    "lat_deg",
    "lon_deg",
    "alt_m",
    "autocontinue",
    "mission_type",
)


#: MAV_TYPE_FIXED_WING: QGroundControl's speed item changes the airspeed (0) of a fixed-wing
#: vehicle and the ground speed (1) of anything else
MAV_TYPE_FIXED_WING = 1


#: metadata key: ``"unknown"`` when the file a mission was read from stated no planning speed
#: (a QGC WPL mission without a speed command, a foreign KML/GeoJSON line, an old CSV), so the
#: model's default speed is not later written as if the plan had said it
SPEED_SOURCE = "speed_source"


def note_speed(metadata: dict[str, Any], stated: bool) -> None:
    """Record in ``metadata`` whether the file stated the planning speed."""
    if stated:
        metadata.pop(SPEED_SOURCE, None)
    else:
        metadata[SPEED_SOURCE] = "unknown"


def speed_stated(metadata: dict[str, Any]) -> bool:
    return metadata.get(SPEED_SOURCE) != "unknown"


def start_speed(items: Iterable[MissionItem]) -> float | None:
    """The horizontal speed a mission commands before its first leg, or ``None``.

    The first ``DO_CHANGE_SPEED`` (air or ground speed, param1 0 or 1, a speed > 0 in param2)
    met before any NAV command other than a take-off (and before any ``DO_JUMP``). This is
    where QGroundControl puts its "Flight speed" (``SpeedSection``, the first item) and where
    our planner puts the vehicle's speed (after the take-off). Without it the aircraft flies the
    legs at its own default speed and a file's planning speed is an estimate only.
    """
    for it in items:
        if it.command == CMD_DO_CHANGE_SPEED:
            if it.param1 in (0.0, 1.0) and math.isfinite(it.param2) and it.param2 > 0:
                return float(it.param2)
        elif it.command == CMD_DO_JUMP or (
            it.command in NAV_COMMANDS and it.command != CMD_NAV_TAKEOFF
        ):
            return None
    return None


def speed_item(speed_m_s: float, vehicle_type: int) -> MissionItem:
    """The ``DO_CHANGE_SPEED`` item QGroundControl writes for a plan's flight speed
    (``SpeedSection``): frame 2, ground speed (air speed for a fixed-wing), no throttle change,
    absolute."""
    return MissionItem(
        CMD_DO_CHANGE_SPEED,
        FRAME_MISSION,
        param1=0.0 if vehicle_type == MAV_TYPE_FIXED_WING else 1.0,
        param2=float(speed_m_s),
        param3=-1.0,
        param4=0.0,
        meta={"role": "speed"},
    )


def num_or_none(x: float) -> float | None:
    """JSON has no NaN: write ``None`` (``null``) for NaN, as QGroundControl does."""
    return None if isinstance(x, float) and math.isnan(x) else x


def num(x: Any, where: str, what: str) -> float:
    """A float from JSON/XML/CSV text; ``null``/empty/``nan`` become NaN."""
    if x is None or (isinstance(x, str) and x.strip().lower() in ("", "nan", "null", "none")):
        return math.nan
    if isinstance(x, bool):
        return float(x)
    try:
        return float(x)
    except (TypeError, ValueError) as exc:
        raise BadInputError(
            _("{what} is not a number: {x!r}").format(what=what, x=x), where=where
        ) from exc


def item_to_dict(it: MissionItem) -> dict[str, Any]:
    d: dict[str, Any] = {
        "command": it.command,
        "frame": it.frame,
        "param1": num_or_none(it.param1),
        "param2": num_or_none(it.param2),
        "param3": num_or_none(it.param3),
        "param4": num_or_none(it.param4),
        "lat_deg": num_or_none(it.lat_deg),
        "lon_deg": num_or_none(it.lon_deg),
        "alt_m": num_or_none(it.alt_m),
        "autocontinue": bool(it.autocontinue),
        "mission_type": it.mission_type,
    }
    if it.meta:
        d["meta"] = it.meta
    return d


def _as_bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes")
    return bool(v)


def item_from_dict(d: dict[str, Any], where: str) -> MissionItem:
    try:
        command = int(float(d["command"]))
        frame = int(float(d.get("frame", 3)))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInputError(
            _("mission item needs integer 'command' and 'frame': {exc}").format(exc=exc),
            where=where,
        ) from exc
    meta = d.get("meta") or {}
    if isinstance(meta, str) and meta.strip():
        try:
            meta = json.loads(meta)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise BadInputError(
                _("the item's meta is not JSON: {exc}").format(exc=exc), where=where
            ) from None
    if not isinstance(meta, dict):
        if meta not in ("", None):
            raise BadInputError(
                _("the item's meta is not a JSON object (it is {kind})").format(
                    kind=type(meta).__name__
                ),
                where=where,
            )
        meta = {}
    return MissionItem(
        command=command,
        frame=frame,
        param1=num(d.get("param1", 0.0), where, "param1"),
        param2=num(d.get("param2", 0.0), where, "param2"),
        param3=num(d.get("param3", 0.0), where, "param3"),
        param4=num(d.get("param4", 0.0), where, "param4"),
        lat_deg=num(d.get("lat_deg", 0.0), where, "lat_deg"),
        lon_deg=num(d.get("lon_deg", 0.0), where, "lon_deg"),
        alt_m=num(d.get("alt_m", 0.0), where, "alt_m"),
        autocontinue=_as_bool(d.get("autocontinue", True)),
        mission_type=int(float(d.get("mission_type", MISSION_TYPE_MISSION) or 0)),
        meta=dict(meta),
    )


def fence_from_items(
    items: Iterable[MissionItem], where: str = "fence"
) -> tuple[list[FencePolygon], list[FenceCircle]]:
    """Rebuild fence polygons and circles from MAVLink fence items (vertex count in param1)."""
    polys: list[FencePolygon] = []
    circles: list[FenceCircle] = []
    pending: list[tuple[float, float]] = []
    pending_cmd = 0
    expected = 0
    for i, it in enumerate(items):
        if it.command in (CMD_NAV_FENCE_CIRCLE_INCLUSION, CMD_NAV_FENCE_CIRCLE_EXCLUSION):
            circles.append(
                FenceCircle(
                    (it.lon_deg, it.lat_deg),
                    float(it.param1),
                    it.command == CMD_NAV_FENCE_CIRCLE_INCLUSION,
                )
            )
            continue
        if it.command not in (
            CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
        ):
            continue  # return point etc.: not kept by the model
        if not pending:
            # param1 is the count (a uint8 on ArduPilot); NaN or 1e30 is no count
            finite = math.isfinite(it.param1) and abs(it.param1) < 256
            expected = int(it.param1) if finite else 0
            pending_cmd = it.command
            if expected < 3:
                raise BadInputError(
                    _("fence polygon with {expected} vertices").format(
                        expected=expected if finite else f"{it.param1:g}"
                    ),
                    where=f"{where} #{i}",
                )
        elif it.command != pending_cmd:
            raise BadInputError(_("fence polygon vertices of mixed kinds"), where=f"{where} #{i}")
        pending.append((it.lon_deg, it.lat_deg))
        if len(pending) == expected:
            polys.append(
                FencePolygon(tuple(pending), pending_cmd == CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION)
            )
            pending = []
    if pending:
        raise BadInputError(
            _("fence polygon has {n_pending} of its {expected} vertices").format(
                n_pending=len(pending), expected=expected
            ),
            where=where,
        )
    return polys, circles


def rally_from_items(items: Iterable[MissionItem]) -> list[RallyPoint]:
    return [
        RallyPoint(it.lon_deg, it.lat_deg, it.alt_m)
        for it in items
        if it.command == CMD_NAV_RALLY_POINT
    ]


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write to a temporary file beside ``path`` and rename: a crash never leaves half a file.

    The folder is created if needed. A path that cannot be written is reported by
    :mod:`dronekit_plzen.outputs`: ``cannot write <path>: <reason>``, exit 2 for a path the
    user got wrong (no permission, a file in the way), 1 for a full disk or an I/O error.
    """
    from dronekit_plzen.outputs import prepare_output_dir, write_bytes

    path = Path(path)
    prepare_output_dir(path.parent)
    return write_bytes(path, data)


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_text(path: Path) -> str:
    try:
        return read_input_bytes(path).decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise BadInputError(_("file not found"), where=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise BadInputError(
            _("not UTF-8 text (byte {start})").format(start=exc.start), where=str(path)
        ) from exc
    except OSError as exc:
        raise BadInputError(
            _("cannot read: {reason}").format(reason=read_reason(exc)), where=str(path)
        ) from exc


def sidecar_path(path: Path) -> Path:
    """``mission.waypoints`` → ``mission.waypoints.meta.json`` (for formats with no metadata)."""
    return Path(path).with_name(Path(path).name + ".meta.json")


def write_sidecar(path: Path, metadata: dict[str, Any]) -> None:
    side = sidecar_path(path)
    if metadata:
        atomic_write_text(
            side, json.dumps({"metadata": json_safe(metadata)}, indent=2, ensure_ascii=False)
        )
    else:  # a stale sidecar of an earlier mission under this name (with the job's outputs)
        remove_output(side)


#: the sidecar's key for the autopilot a mission is written for (a format without a field for
#: it: QGC WPL, CSV), and the names it takes
SIDECAR_AUTOPILOT = "autopilot"


def sidecar_metadata(mission: Mission) -> dict[str, Any]:
    """The metadata a sidecar keeps: the mission's, and the autopilot it is written for (the
    guard's rules differ: ArduPilot's inclusion fences must all hold the path, PX4's one)."""
    name = AUTOPILOT_NAMES.get(mission.autopilot)
    return {**mission.metadata, SIDECAR_AUTOPILOT: name} if name else dict(mission.metadata)


def take_autopilot(mission: Mission) -> None:
    """The autopilot our writer recorded in the sidecar, taken out of the metadata."""
    flown = mission.metadata.pop(SIDECAR_AUTOPILOT, None)
    if flown in AUTOPILOT_CODES:
        mission.autopilot = AUTOPILOT_CODES[flown]


def read_sidecar(path: Path) -> dict[str, Any]:
    side = sidecar_path(path)
    if not side.exists():
        return {}
    try:
        data = json.loads(read_text(side))
    except json.JSONDecodeError as exc:
        raise BadInputError(
            _("invalid JSON at line {lineno}").format(lineno=exc.lineno), where=str(side)
        ) from exc
    meta = data.get("metadata", {}) if isinstance(data, dict) else {}
    return dict(meta) if isinstance(meta, dict) else {}


def json_safe(o: Any) -> Any:
    """Metadata made JSON-safe: NaN/inf → None, tuples → lists, unknown objects → str."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): json_safe(v) for k, v in o.items()}
    if isinstance(o, list | tuple | set | frozenset):
        return [json_safe(v) for v in o]
    if o is None or isinstance(o, bool | int | str):
        return o
    if hasattr(o, "tolist"):
        return json_safe(o.tolist())
    if hasattr(o, "isoformat"):
        return o.isoformat()
    return str(o)


def home_alt_datum(mission: Mission) -> str:
    """The datum of the home's altitude as a file names it: "AMSL", or "unknown" when no DEM,
    vehicle or plan gave it (the clearance's own rule, ``missions.clearance.home_amsl_source``:
    a 0.0 without a record is the old placeholder)."""
    from missions.clearance import HOME_UNKNOWN, home_amsl_source

    return "unknown" if home_amsl_source(mission) == HOME_UNKNOWN else "AMSL"


#: a point's geometry this far (degrees, about 1 cm) from the place its item records was moved
MOVED_DEG = 1e-7


def moved_to(it: MissionItem, lon: Any, lat: Any, where: str) -> MissionItem:
    """An item whose point was moved in a GIS (QGIS, Google Earth): the file's geometry holds
    the new place, its recorded fields the old one, which had been read without a word. The
    geometry is what the user sees and edits: it is taken, and said."""
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        return it
    if not (math.isfinite(lon) and math.isfinite(lat)) or not it.has_position:
        return it
    if max(abs(lon - it.lon_deg), abs(lat - it.lat_deg)) <= MOVED_DEG:
        return it
    log.warning(
        _("{w}: the point was moved to {lat:.7f}, {lon:.7f} (the item said {lat0:.7f}, "
          "{lon0:.7f}): the point's place is taken").format(
            w=where, lat=lat, lon=lon, lat0=it.lat_deg, lon0=it.lon_deg
        )
    )  # fmt: skip
    return it.with_(lon_deg=lon, lat_deg=lat)
