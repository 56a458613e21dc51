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
  waypoints;
* a NAV command's latitude and longitude both ``nan`` (MAVLink's "no value": where the
  aircraft is) read as 0, 0, the way ArduPilot and Mission Planner write "here" and the way the
  ``.plan`` reader reads QGroundControl's ``null``.

A ``.mission`` file holding JSON is QGroundControl's format before 3.2 and is read by
:func:`missions.formats.qgc_plan.parse_legacy_mission`.

What the format cannot hold is written so that nothing the plan says is lost:

* our metadata (e.g. a safety override) goes beside the file as ``NAME.waypoints.meta.json``;
* the geofence and the rally points go beside it as ``NAME.fence.waypoints`` and
  ``NAME.rally.waypoints``, the QGC WPL files Mission Planner saves and loads from its Fence
  and Rally lists (a home line, then ``NAV_FENCE_*`` or ``NAV_RALLY_POINT`` lines); a mission
  upload does not carry them, so the writer says where they went. Reading ``NAME.waypoints``
  takes them back from there;
* the planning speed: a mission that does not command its speed before its first leg starts
  with the ``DO_CHANGE_SPEED`` QGroundControl writes for a plan's flight speed (its
  ``SpeedSection``: frame 2, ground speed, no throttle change), so ArduPilot flies the speed
  the safety guard timed the flight with (its cruise speed, capped by the vehicle's; never a
  speed no file stated: see ``metadata["speed_source"]``). Reading takes
  the mission's planning speed from the first such command (as QGroundControl does).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
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
    NAV_COMMANDS,
    MissionItem,
)
from missions.formats._common import (
    atomic_write_text,
    fence_from_items,
    note_speed,
    rally_from_items,
    read_sidecar,
    read_text,
    remove_output,
    sidecar_metadata,
    speed_item,
    speed_stated,
    start_speed,
    take_autopilot,
    write_sidecar,
)
from missions.model import AUTOPILOT_ARDUPILOT, Mission

log = logging.getLogger(__name__)

HEADER = "QGC WPL 110"


def _f(x: float) -> str:
    """Shortest text that reads back as the same float (``nan`` for NaN)."""
    if math.isnan(x):
        return "nan"
    if x == int(x) and abs(x) < 1e15:
        return f"{x:.6f}"
    return repr(float(x))


def _home_line(mission: Mission) -> str:
    if mission.home is not None:
        lon, lat, alt = mission.home
    else:
        first = next((it for it in mission.items if it.has_position), None)
        lon, lat, alt = (first.lon_deg, first.lat_deg, 0.0) if first else (0.0, 0.0, 0.0)
    return "\t".join(
        ["0", "1", str(FRAME_GLOBAL), "16", *["0"] * 4, _f(lat), _f(lon), _f(alt), "1"]
    )


def _item_line(seq: int, it: MissionItem, p1: float) -> str:
    fields = [
        str(seq),
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
    return "\t".join(fields)


def _flies(mission: Mission) -> bool:
    return any(it.command in NAV_COMMANDS for it in mission.items)


def flown_items(mission: Mission) -> list[MissionItem]:
    """The items as written: with QGroundControl's speed item first when the mission does not
    command its speed before its first leg (``DO_JUMP`` targets shifted to match)."""
    if (
        not _flies(mission)
        or start_speed(mission.items) is not None
        or not speed_stated(mission.metadata)
    ):
        return list(mission.items)
    # the cruise speed: the one the guard timed the legs with (capped by the vehicle's in
    # plan convert --vehicle); never the slower hover speed, which would make the flight last
    # longer than the endurance check allowed
    speed = mission.cruise_speed_m_s
    if not (math.isfinite(speed) and speed > 0):
        raise BadInputError(
            _("the mission's planning speed {v} m/s is not a speed").format(v=speed)
        )
    shifted = [
        it.with_(param1=it.param1 + 1) if it.command == CMD_DO_JUMP else it for it in mission.items
    ]
    return [speed_item(speed, mission.vehicle_type), *shifted]


def dump_waypoints(mission: Mission) -> str:
    """The ``QGC WPL 110`` text of the mission (its geofence and rally points not included:
    see :func:`dump_fence` and :func:`dump_rally`)."""
    lines = [HEADER, _home_line(mission)]
    items = flown_items(mission)
    shift = len(items) - len(mission.items)
    for k, it in enumerate(items, start=1):
        if it.has_position and math.isnan(it.alt_m):
            raise BadInputError(
                _(
                    "item {item} has no resolved altitude (QGC 'above terrain' without "
                    "terrain data); resolve it with a DEM first (plan convert --dem)"
                ).format(item=k - shift)
            )
        p1 = it.param1 + 1 if it.command == CMD_DO_JUMP else it.param1
        lines.append(_item_line(k, it, p1))
    return "\n".join(lines) + "\n"


def _dump_side(mission: Mission, items: list[MissionItem]) -> str | None:
    """A Mission Planner side file: the home line, then ``items`` (``None`` without any)."""
    if not items:
        return None
    lines = [HEADER, _home_line(mission)]
    lines += [_item_line(k, it, it.param1) for k, it in enumerate(items, start=1)]
    return "\n".join(lines) + "\n"


def dump_fence(mission: Mission) -> str | None:
    """Mission Planner's fence file for the mission's geofence (``None`` without a fence)."""
    return _dump_side(mission, mission.fence_items())


def dump_rally(mission: Mission) -> str | None:
    """Mission Planner's rally file for the mission's rally points (``None`` without any)."""
    return _dump_side(mission, mission.rally_items())


def fence_path(path: Path) -> Path:
    """``survey.waypoints`` → ``survey.fence.waypoints``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.fence{p.suffix or '.waypoints'}")


def rally_path(path: Path) -> Path:
    """``survey.waypoints`` → ``survey.rally.waypoints``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.rally{p.suffix or '.waypoints'}")


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
            _("not a waypoint file: first line must be 'QGC WPL 110'"), where=f"{path}:1"
        )
    version = lines[0].split()[-1]
    if version not in ("110", "120"):
        raise BadInputError(
            _("unsupported QGC WPL version {version}").format(version=version), where=f"{path}:1"
        )
    # 110 (ArduPilot) keeps home at index 0; 120 (old QGroundControl) has no home line
    first = 1 if version == "110" else 0
    home = None
    home_line = False  # the ArduPilot convention: mission seq 0 is the home
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
            raise BadInputError(
                _("expected 12 fields, found {n}").format(n=len(f)), where=f"{path}:{lineno}"
            )
        try:
            idx, _cur, frame, cmd = (int(v) for v in f[:4])
            vals = [float(v) for v in f[4:11]]
            ac = int(float(f[11]))
        except (ValueError, OverflowError) as exc:  # OverflowError: autocontinue "inf"
            raise BadInputError(
                _("not a number: {exc}").format(exc=exc), where=f"{path}:{lineno}"
            ) from exc
        if idx != expected:
            raise BadInputError(
                _("index {idx} out of order (expected {expected})").format(
                    idx=idx, expected=expected
                ),
                where=f"{path}:{lineno}",
            )
        expected += 1
        if idx == 0 and first == 1 and cmd == CMD_NAV_WAYPOINT:
            # ArduPilot's home; 0/0 is its "home not set" placeholder
            home_line = True
            if (vals[4], vals[5]) != (0.0, 0.0):
                home = (vals[5], vals[4], vals[6])
            continue
        if cmd in NAV_COMMANDS and math.isnan(vals[4]) and math.isnan(vals[5]):
            vals[4] = vals[5] = 0.0  # "no value": where the aircraft is, ArduPilot's 0, 0
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
    if home_line:
        # a home at seq 0 is ArduPilot's mission layout (Mission Planner, MAVProxy): the guard
        # walks it as ArduPilot flies it unless told otherwise (PX4 keeps no home item)
        m.autopilot = AUTOPILOT_ARDUPILOT
    speed = start_speed(items)
    if speed is not None:
        m.cruise_speed_m_s = speed
    m.fence_polygons, m.fence_circles = fence_from_items(fence, path)
    m.rally_points = rally_from_items(rally)
    return m


def _is_side_file(path: Path) -> bool:
    return Path(path).stem.endswith((".fence", ".rally"))


def read_waypoints(path: Path) -> Mission:
    text = read_text(path)
    legacy = text.lstrip().startswith("{")
    if legacy:
        # a JSON ``.mission`` of QGroundControl before 3.2, not a waypoint list
        from missions.formats.qgc_plan import parse_legacy_mission

        m = parse_legacy_mission(text, str(path))
    else:
        m = parse_waypoints(text, str(path))
    found = dict(m.metadata)
    if not _is_side_file(path):
        for side in (fence_path(path), rally_path(path)):
            if side.is_file():
                extra = parse_waypoints(read_text(side), str(side))
                m.fence_polygons += extra.fence_polygons
                m.fence_circles += extra.fence_circles
                m.rally_points += extra.rally_points
    m.metadata = read_sidecar(path)
    take_autopilot(m)  # recorded beside the file by our writer (the format has no field)
    if legacy:
        note_speed(m.metadata, speed_stated(found))
    else:  # (a file that flies nothing has no speed to state)
        note_speed(m.metadata, start_speed(m.items) is not None or not _flies(m))
    return m


def _write_side(path: Path, text: str | None, message: str) -> None:
    """Write (or, with nothing to write, remove a stale) fence or rally file beside a mission."""
    if text is None:
        remove_output(path)  # a stale one, removed with the job's other outputs
        return
    atomic_write_text(path, text)
    log.warning(message.format(p=path))


def write_waypoints(mission: Mission, path: Path) -> Path:
    side_name = _is_side_file(path)
    if side_name and (mission.fence_polygons or mission.fence_circles or mission.rally_points):
        raise BadInputError(
            _(
                "{name} is the name of a fence or rally file beside a mission: give the "
                "mission another name"
            ).format(name=Path(path).name),
            where=str(path),
        )
    atomic_write_text(path, dump_waypoints(mission))
    write_sidecar(path, sidecar_metadata(mission))
    if not side_name:
        _write_side(
            fence_path(path),
            dump_fence(mission),
            _(
                "a QGC WPL mission cannot hold the geofence: written to {p}; upload it as the "
                "vehicle's fence (Mission Planner: Fence list, Load File)"
            ),
        )
        _write_side(
            rally_path(path),
            dump_rally(mission),
            _(
                "a QGC WPL mission cannot hold rally points: written to {p}; upload them as the "
                "vehicle's rally points (Mission Planner: Rally list, Load File)"
            ),
        )
    return path
