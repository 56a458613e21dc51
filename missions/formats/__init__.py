"""Mission files: QGroundControl ``.plan``, ``QGC WPL 110`` ``.waypoints``, KML/KMZ, GeoJSON,
DJI WPML KMZ and CSV, behind two functions::

    from missions.formats import load_mission, save_mission
    m = load_mission("survey.plan")
    save_mission(m, "out/survey.geojson", area=area_lonlat, footprints=fps)
    save_mission(m, "out/survey_dji.kmz", format="wpml")

The format comes from ``format`` or the file name (``.kmz`` holding ``wpmz/`` is read as WPML).
Writes are atomic (temporary file + rename).

Nothing a plan says is lost silently: each writer carries it, or writes it beside the file and
says so, or warns where the loss cannot change the flight, or refuses (one line, exit 2):

* ``plan``, ``kml``/``kmz``, ``geojson``: everything (items and jumps, cruise and hover speed,
  geofence, rally points, metadata);
* ``csv``: everything (the speeds as ``speed`` rows; metadata in ``NAME.csv.meta.json``);
* ``waypoints``: items and jumps; the cruise speed as QGroundControl's ``DO_CHANGE_SPEED``
  first item when the mission does not command its speed (ArduPilot flies it; read back as the
  planning speed); the geofence and rally points in ``NAME.fence.waypoints`` and
  ``NAME.rally.waypoints`` beside it, with a warning (Mission Planner's fence and rally files);
  metadata in ``NAME.waypoints.meta.json``; the hover speed is not carried (QGroundControl's
  estimate for multirotors, not used by the guard or flown);
* ``wpml``: ``DO_JUMP`` loops unrolled; loiters, splines, delays refused; the cruise speed as
  ``autoFlightSpeed``; commands that do not move the aircraft dropped with a warning; the
  geofence and rally points kept in ``wpmz/res/dronekit_plzen.json`` with a warning that DJI
  Pilot 2 does not enforce them.

A plan of only a geofence (no items) reads back from every format but DJI WPML, which needs
two waypoints and refuses it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.mission_items import (
    FRAME_MISSION,
    MAX_ABS_ALT_M,
    MAX_COMMAND,
    MAX_FRAME,
    POSITION_COMMANDS,
    command_name,
)
from dronekit_plzen.outputs import note_input
from missions.formats import csvfmt, geojson, kml, qgc_plan, waypoints, wpml
from missions.model import Mission
from missions.trajectory import check_altitudes


@dataclass(frozen=True)
class Format:
    name: str
    extension: str  # the extension written by default
    reader: Callable[[Path], Mission]
    writer: Callable[..., Path]
    takes_extras: bool = False  # writer accepts area/footprints/coverage/gaps


def _plan_w(m: Mission, p: Path, **_: Any) -> Path:
    return qgc_plan.write_plan(m, p)


def _wp_w(m: Mission, p: Path, **_: Any) -> Path:
    return waypoints.write_waypoints(m, p)


def _csv_w(m: Mission, p: Path, **_: Any) -> Path:
    return csvfmt.write_csv(m, p)


FORMATS: dict[str, Format] = {
    "plan": Format("plan", ".plan", qgc_plan.read_plan, _plan_w),
    "waypoints": Format("waypoints", ".waypoints", waypoints.read_waypoints, _wp_w),
    "kml": Format("kml", ".kml", kml.read_kml, kml.write_kml, True),
    "kmz": Format("kmz", ".kmz", kml.read_kmz, kml.write_kmz, True),
    "geojson": Format("geojson", ".geojson", geojson.read_geojson, geojson.write_geojson, True),
    "wpml": Format("wpml", ".kmz", wpml.read_wpml, wpml.write_wpml),
    "csv": Format("csv", ".csv", csvfmt.read_csv, _csv_w),
}

_BY_EXT = {
    ".plan": "plan",
    ".waypoints": "waypoints",
    ".mission": "waypoints",
    ".txt": "waypoints",
    ".kml": "kml",
    ".kmz": "kmz",
    ".geojson": "geojson",
    ".json": "geojson",
    ".csv": "csv",
    ".wpml": "wpml",
}

#: file name suffix the CLI uses for each format in an output folder
OUTPUT_NAMES = {
    "plan": ".plan",
    "waypoints": ".waypoints",
    "kml": ".kml",
    "kmz": ".kmz",
    "geojson": ".geojson",
    "wpml": "_dji.kmz",
    "csv": ".csv",
}


def format_for(path: Path, format: str | None = None, *, reading: bool = False) -> Format:
    """The :class:`Format` named ``format`` or implied by ``path``'s extension."""
    if format:
        key = format.lower().lstrip(".")
        if key not in FORMATS:
            raise BadInputError(
                _("unknown mission format {format!r} (known: {formats})").format(
                    format=format, formats=", ".join(FORMATS)
                )
            )
        return FORMATS[key]
    ext = Path(path).suffix.lower()
    if ext not in _BY_EXT:
        raise BadInputError(
            _(
                "cannot tell the mission format from the extension {ext!r}; "
                "use one of {by_ext} or name the format"
            ).format(ext=ext or _("(none)"), by_ext=", ".join(sorted(_BY_EXT))),
            where=str(path),
        )
    key = _BY_EXT[ext]
    if key == "kmz" and (reading and wpml.is_wpml_kmz(Path(path))):
        key = "wpml"
    return FORMATS[key]


def check_name_fits(path: Path, format: str) -> None:
    """Refuse writing ``format`` under a name whose known extension says another format (a
    .waypoints text written as out.kml, which every reader then took for KML); an unknown
    extension is what naming the format is for."""
    want = format_for(path, format).name
    named = _BY_EXT.get(Path(path).suffix.lower())
    if named is None or named == want or (named, want) == ("kmz", "wpml"):
        return
    raise BadInputError(
        _("the name says {named}, not {want}: name it {ext} or leave out --to").format(
            named=named, want=want, ext=FORMATS[want].extension
        ),
        where=str(path),
    )


def load_mission(path: str | Path, format: str | None = None) -> Mission:
    """Read a mission file of any supported format."""
    note_input(path)  # never replaced by an output of the same command
    p = Path(path)
    if not p.exists():
        raise BadInputError(_("file not found"), where=str(p))
    if p.is_dir():
        raise BadInputError(_("a directory, not a mission file"), where=str(p))
    mission = format_for(p, format, reading=True).reader(p)
    _check_items(mission, str(p))
    check_altitudes(mission, str(p))
    return mission


#: commands whose latitude/longitude is the place to fly to (no "current position" meaning)
_PLACE_COMMANDS = frozenset({16, 17, 18, 19, 31, 82})


def _check_items(mission: Mission, where: str) -> None:
    """Refuse what no autopilot could be sent: a command or frame number MAVLink cannot carry,
    an item whose latitude/longitude is not a finite lon/lat (NaN, inf, 200°; a take-off or a
    landing "here" is 0, 0), a home that is not a place, or nothing to place the mission at
    all."""
    if mission.home is not None:
        hlon, hlat, halt = mission.home
        if not (
            math.isfinite(hlat) and math.isfinite(hlon) and abs(hlat) <= 90 and abs(hlon) <= 180
        ):
            raise BadInputError(
                _("the home position ({lat}, {lon}) is not a latitude/longitude").format(
                    lat=hlat, lon=hlon
                ),
                where=where,
            )
        if not (math.isnan(halt) or abs(halt) <= MAX_ABS_ALT_M):
            raise BadInputError(
                _("the home altitude {a:g} m is not an altitude (a damaged file?)").format(a=halt),
                where=where,
            )
    elif not any(it.has_position for it in mission.items):
        raise BadInputError(_("mission has no home and no positioned items"), where=where)
    for i, it in enumerate(mission.items):
        if not (0 <= it.command <= MAX_COMMAND and 0 <= it.frame <= MAX_FRAME):
            raise BadInputError(
                _(
                    "item {i}: command {c:.6g} in frame {f:.6g} is not a MAVLink command "
                    "(command 0–65535, frame 0–255)"
                ).format(i=i + 1, c=it.command, f=it.frame),
                where=where,
            )
        if it.command not in POSITION_COMMANDS:
            continue
        if it.command in _PLACE_COMMANDS and it.frame == FRAME_MISSION:
            name = command_name(it.command)
            raise BadInputError(
                _(
                    "item {i}: {name} ({c}) is in frame 2 (MAV_FRAME_MISSION), which gives no "
                    "position or altitude, but a {name} needs both: the file is malformed (use "
                    "frame 0 above sea level, 3 above home or 10 above terrain)"
                ).format(i=i + 1, name=name, c=it.command),
                where=where,
            )
        lat, lon = it.lat_deg, it.lon_deg
        if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
            raise BadInputError(
                _("item {i}: the position ({lat}, {lon}) is not a latitude/longitude").format(
                    i=i + 1, lat=lat, lon=lon
                ),
                where=where,
            )


def save_mission(
    mission: Mission,
    path: str | Path,
    format: str | None = None,
    **extras: Any,
) -> Path:
    """Write ``mission`` to ``path``; ``extras`` (``area``, ``footprints``, ``coverage``,
    ``gaps`` as lon/lat shapely geometries) go into the formats that can show them.

    This function does not validate: callers that write for flight go through
    :func:`missions.validation.guard` first (the CLI does).
    """
    fmt = format_for(Path(path), format)
    if fmt.takes_extras:
        return fmt.writer(mission, Path(path), **{k: v for k, v in extras.items() if v is not None})
    return fmt.writer(mission, Path(path))


__all__ = ["FORMATS", "OUTPUT_NAMES", "Format", "format_for", "load_mission", "save_mission"]
