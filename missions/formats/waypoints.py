"""The plain-text ``QGC WPL 110`` mission format (Mission Planner, QGroundControl, MAVProxy).

One item per line, tab separated: ``INDEX CURRENT FRAME COMMAND P1 P2 P3 P4 LAT LON ALT
AUTOCONTINUE``. Line index 0 is the home position (AMSL, frame 0), as ArduPilot keeps it; it
becomes :attr:`Mission.home` and is not a mission item. ``DO_JUMP`` targets in the file are
sequence numbers counting home as 0, so they are one more than our 0-based item indices.

Read as the tools that write it do:

* lines starting with ``#`` are comments (MAVProxy, ArduPilot's autotest missions);
* ``QGC WPL 120`` (old QGroundControl) has no home line: index 0 is the first mission item and
  ``DO_JUMP`` targets are our indices;
* an index-0 line that is not a ``NAV_WAYPOINT`` (a ``TAKEOFF`` written by a PX4 tool, a fence
  vertex) is a mission item, not a home; a home at latitude = longitude = 0 is ArduPilot's
  "home not set" placeholder and gives no home;
* fence items (``NAV_FENCE_*``, Mission Planner's fence files) and rally points
  (``NAV_RALLY_POINT``, its rally files) become the mission's geofence and rally points, not
  waypoints.

A ``.mission`` file holding JSON is QGroundControl's format before 3.2 and is read by
:func:`missions.formats.qgc_plan.parse_legacy_mission`.

The format carries no metadata; our metadata (e.g. a safety override) is written beside the
file as ``NAME.waypoints.meta.json`` and read back from there.
"""

from __future__ import annotations

import math
from pathlib import Path

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.mission_items import (
    CMD_DO_JUMP,
    CMD_NAV_FENCE_CIRCLE_EXCLUSION,
    CMD_NAV_FENCE_CIRCLE_INCLUSION,
    CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
    CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
    CMD_NAV_FENCE_RETURN_POINT,
    CMD_NAV_RALLY_POINT,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL,
    MISSION_TYPE_FENCE,
    MISSION_TYPE_RALLY,
    MissionItem,
)
from missions.formats._common import (
    atomic_write_text,
    fence_from_items,
    rally_from_items,
    read_sidecar,
    read_text,
    write_sidecar,
)
from missions.model import Mission

HEADER = "QGC WPL 110"


def _f(x: float) -> str:
    """Shortest text that reads back as the same float (``nan`` for NaN)."""
    if math.isnan(x):
        return "nan"
    if x == int(x) and abs(x) < 1e15:
        return f"{x:.6f}"
    return repr(float(x))


def dump_waypoints(mission: Mission) -> str:
    lines = [HEADER]
    if mission.home is not None:
        lon, lat, alt = mission.home
    else:
        first = next((it for it in mission.items if it.has_position), None)
        lon, lat, alt = (first.lon_deg, first.lat_deg, 0.0) if first else (0.0, 0.0, 0.0)
    lines.append(
        "\t".join(["0", "1", str(FRAME_GLOBAL), "16", *["0"] * 4, _f(lat), _f(lon), _f(alt), "1"])
    )
    for k, it in enumerate(mission.items, start=1):
        if it.has_position and math.isnan(it.alt_m):
            raise BadInputError(
                f"item {k - 1} has no resolved altitude (QGC 'above terrain' without terrain "
                "data); resolve it with a DEM first (plan convert --dem)"
            )
        p1 = it.param1 + 1 if it.command == CMD_DO_JUMP else it.param1
        fields = [
            str(k),
            "0",
            str(it.frame),
            str(it.command),
            _f(p1),
            _f(it.param2),
            _f(it.param3),
            _f(it.param4),
            _f(it.lat_deg),
            _f(it.lon_deg),
            _f(it.alt_m),
            "1" if it.autocontinue else "0",
        ]
        lines.append("\t".join(fields))
    return "\n".join(lines) + "\n"


_FENCE_COMMANDS = frozenset(
    {
        CMD_NAV_FENCE_RETURN_POINT,
        CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
        CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
        CMD_NAV_FENCE_CIRCLE_INCLUSION,
        CMD_NAV_FENCE_CIRCLE_EXCLUSION,
    }
)


def parse_waypoints(text: str, path: str = "<waypoints>") -> Mission:
    lines = text.splitlines()
    if not lines or not lines[0].strip().startswith("QGC WPL"):
        raise BadInputError(
            "not a waypoint file: first line must be 'QGC WPL 110'", where=f"{path}:1"
        )
    version = lines[0].split()[-1]
    if version not in ("110", "120"):
        raise BadInputError(f"unsupported QGC WPL version {version}", where=f"{path}:1")
    # 110 (ArduPilot) keeps home at index 0; 120 (old QGroundControl) has no home line
    first = 1 if version == "110" else 0
    home = None
    items: list[MissionItem] = []
    fence: list[MissionItem] = []
    rally: list[MissionItem] = []
    expected = 0
    seq_to_index: dict[int, int] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        f = line.split()
        if len(f) != 12:
            raise BadInputError(f"expected 12 fields, found {len(f)}", where=f"{path}:{lineno}")
        try:
            idx, _cur, frame, cmd = (int(v) for v in f[:4])
            vals = [float(v) for v in f[4:11]]
            ac = int(float(f[11]))
        except ValueError as exc:
            raise BadInputError(f"not a number: {exc}", where=f"{path}:{lineno}") from exc
        if idx != expected:
            raise BadInputError(
                f"index {idx} out of order (expected {expected})", where=f"{path}:{lineno}"
            )
        expected += 1
        if idx == 0 and first == 1 and cmd == CMD_NAV_WAYPOINT:
            # ArduPilot's home; 0/0 is its "home not set" placeholder
            if (vals[4], vals[5]) != (0.0, 0.0):
                home = (vals[5], vals[4], vals[6])
            continue
        it = MissionItem(
            command=cmd,
            frame=frame,
            param1=vals[0],
            param2=vals[1],
            param3=vals[2],
            param4=vals[3],
            lat_deg=vals[4],
            lon_deg=vals[5],
            alt_m=vals[6],
            autocontinue=bool(ac),
        )
        if cmd in _FENCE_COMMANDS:
            fence.append(it.with_(mission_type=MISSION_TYPE_FENCE))
        elif cmd == CMD_NAV_RALLY_POINT:
            rally.append(it.with_(mission_type=MISSION_TYPE_RALLY))
        else:
            seq_to_index[idx] = len(items)
            items.append(it)
    # DO_JUMP targets are the file's sequence numbers: our index of that item (fence, rally
    # and home lines take no index here); a target no item has keeps the plain offset
    for k, it in enumerate(items):
        if it.command == CMD_DO_JUMP:
            t = it.param1
            target = seq_to_index.get(int(t)) if math.isfinite(t) and t == int(t) else None
            items[k] = it.with_(param1=float(target) if target is not None else t - first)
    m = Mission(items=items, home=home)
    m.fence_polygons, m.fence_circles = fence_from_items(fence, path)
    m.rally_points = rally_from_items(rally)
    return m


def read_waypoints(path: Path) -> Mission:
    text = read_text(path)
    if text.lstrip().startswith("{"):
        # a JSON ``.mission`` of QGroundControl before 3.2, not a waypoint list
        from missions.formats.qgc_plan import parse_legacy_mission

        m = parse_legacy_mission(text, str(path))
    else:
        m = parse_waypoints(text, str(path))
    m.metadata = read_sidecar(path)
    return m


def write_waypoints(mission: Mission, path: Path) -> Path:
    atomic_write_text(path, dump_waypoints(mission))
    write_sidecar(path, mission.metadata)
    return path
