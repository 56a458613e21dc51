"""Options and small helpers shared by the ``plan`` commands (see :mod:`missions.cli`)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import app, given_options, info
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import parse_coordinate
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import json_int

F = Callable[..., Any]


def settings() -> Any:
    return app().config


def parse_when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInputError(_("--when must be an ISO date-time, got {t!r}").format(t=text)) from exc
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def open_zones(path: Path | None) -> Any:
    from missions.zones import load_zones

    p = path or settings().zones_file
    return load_zones(p) if p else None


def open_terrain(path: Path | None, default: Path | None = None, around: Sequence[Any] = ()) -> Any:
    """Open a DEM/DSM (the flag, else the configured default) around the missions only."""
    from missions.terrain import Raster, missions_bbox

    p = path or default
    if not p:
        return None
    bbox = missions_bbox(around)
    try:
        return Raster.open(p, bbox_lonlat=bbox)
    except BadInputError as exc:
        if "outside" not in exc.message:
            raise
        raise BadInputError(
            _("the mission lies outside the terrain model: latitude and longitude swapped?"),
            where=str(p),
        ) from exc


def parse_point(text: str, what: str) -> tuple[float, float]:
    try:
        return parse_coordinate(text)
    except BadInputError as exc:
        raise BadInputError(f"{what}: {exc}") from exc


def guard_options() -> list[Any]:
    """The guard's inputs every plan-writing command shares (zones, time, VLOS, range)."""
    return [
        click.option(
            "--zones",
            type=click.Path(path_type=Path),
            default=None,
            help=_("Geozones: ED-269 JSON, ED-318 or plain GeoJSON."),
        ),
        click.option("--when", default=None, help=_("Planned take-off time (ISO, UTC).")),
        click.option(
            "--max-distance-m",
            type=float,
            default=None,
            help=_("Maximum distance from home (VLOS)."),
        ),
        click.option(
            "--authorised",
            multiple=True,
            help=_("Identifier of a zone you hold an authorisation for."),
        ),
        click.option(
            "--max-range-m",
            type=float,
            default=20_000.0,
            show_default=True,
            help=_("Plausibility: no point farther than this from the launch point."),
        ),
    ]


def common_outputs(f: F) -> F:
    opts = [
        click.option(
            "--out",
            "out_dir",
            type=click.Path(path_type=Path),
            required=True,
            help=_("Output folder."),
        ),
        click.option(
            "--format",
            "formats",
            default="plan,waypoints,kml,geojson,wpml,csv",
            show_default=True,
            help=_("Comma-separated output formats."),
        ),
        click.option("--name", default=None, help=_("File name stem (default: the pattern).")),
        click.option("--json", "as_json", is_flag=True, help=_("Print the metrics as JSON.")),
        click.option("--vehicle", default=None, help=_("Vehicle profile (see plan vehicles).")),
        click.option("--home", default=None, help=_("Launch point LAT,LON (default: none).")),
        click.option("--speed-m-s", type=float, default=None, help=_("Cruise speed.")),
        click.option(
            "--dem",
            type=click.Path(path_type=Path),
            default=None,
            help=_("Terrain model GeoTIFF (terrain following, 120 m check)."),
        ),
        click.option(
            "--dsm",
            type=click.Path(path_type=Path),
            default=None,
            help=_("Surface model GeoTIFF (clearance check)."),
        ),
        click.option(
            "--terrain",
            type=click.Choice(["follow", "frame", "none"]),
            default="follow",
            show_default=True,
            help=_(
                "With --dem: add waypoints along the terrain, or use the terrain frame (ArduPilot)."
            ),
        ),
        click.option(
            "--agl-tolerance-m",
            type=float,
            default=5.0,
            show_default=True,
            help=_("Terrain following tolerance."),
        ),
        *guard_options(),
        *override_end_options(),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def sensor_options(f: F) -> F:
    opts = [
        click.option("--camera", default=None, help=_("Camera profile (see plan cameras).")),
        click.option("--alt-m", type=float, default=None, help=_("Height above ground.")),
        click.option("--gsd-cm", type=float, default=None, help=_("Wanted GSD in cm/px.")),
        click.option(
            "--side-overlap", type=float, default=70.0, show_default=True, help=_("Side overlap %.")
        ),
        click.option(
            "--front-overlap",
            type=float,
            default=80.0,
            show_default=True,
            help=_("Front overlap %."),
        ),
        click.option("--spacing-m", type=float, default=None, help=_("Track spacing S.")),
        click.option(
            "--pod",
            type=float,
            default=None,
            help=_("Wanted probability of detection (0-1), with --target."),
        ),
        click.option("--target", default=None, help=_("Search target, e.g. person.")),
        click.option(
            "--trigger",
            type=click.Choice(["distance", "waypoint", "hover", "none"]),
            default=None,
            help=_("Camera triggering."),
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def area_options(f: F) -> F:
    opts = [
        click.option(
            "--area",
            "area_path",
            type=click.Path(path_type=Path),
            required=True,
            help=_("Area: GeoJSON, KML/KMZ, WKT or a coordinate list."),
        ),
        click.option("--crs", default=None, help=_("CRS of the area file (e.g. EPSG:5514).")),
        click.option("--repair", is_flag=True, help=_("Repair an invalid area and say how.")),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def read_area(area_path: Path, crs: str | None, repair: bool) -> Any:
    from missions.area import load_area

    area = load_area(area_path, crs=crs, repair=repair)
    for r in area.repairs:
        info(_("repaired: {r}").format(r=r))
    for w in area.warnings:
        info(_("warning: {w}").format(w=w))
    return area


#: the options that set the track spacing, each a different rule (one may be given)
SPACING_OPTIONS = {"spacing_m": "--spacing-m", "pod": "--pod", "side_overlap": "--side-overlap"}


def sensor_kw(o: dict[str, Any]) -> dict[str, Any]:
    spacing = given_options(SPACING_OPTIONS)
    if len(spacing) > 1:
        raise BadInputError(
            _("{opts} each set the track spacing: give one of them").format(opts=", ".join(spacing))
        )
    kw: dict[str, Any] = {}
    if o.get("camera"):
        from missions.camera import get_camera

        kw["camera"] = get_camera(o["camera"], settings().camera_dir)
    for src, dst in (
        ("alt_m", "alt_m"),
        ("spacing_m", "spacing_m"),
        ("target", "target"),
        ("pod", "wanted_pod"),
        ("trigger", "trigger"),
    ):
        if o.get(src) is not None:
            kw[dst] = o[src]
    if o.get("gsd_cm") is not None:
        if o.get("alt_m") is not None:
            raise BadInputError(_("give --alt-m or --gsd-cm, not both"))
        if "camera" not in kw:
            raise BadInputError(_("--gsd-cm needs --camera"))
        kw["alt_m"] = kw["camera"].alt_for_gsd_m(o["gsd_cm"])
    return kw


def vehicle_profile(name: str | None) -> Any:
    if not name:
        return None
    from missions.vehicles import get_vehicle

    return get_vehicle(name, settings().vehicle_dir)


def read_polyline(p: Path) -> list[tuple[float, float]]:
    """The first line in a GeoJSON, KML or WKT file, as WGS84 (lon, lat)."""
    import warnings

    from shapely import wkt
    from shapely.errors import ShapelyError
    from shapely.geometry import LineString, MultiLineString, shape

    from missions.formats._common import read_text

    text = read_text(p)
    geoms: list[Any] = []
    try:
        # a NaN coordinate is named below, with its vertex, not as numpy's "invalid value"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if p.suffix.lower() in (".geojson", ".json"):
                doc = json.loads(text, parse_int=json_int)
                feats = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
                for f in feats or []:
                    g = f.get("geometry") if f.get("type") == "Feature" else f
                    if g:
                        geoms.append(shape(g))
            elif p.suffix.lower() == ".kml":
                for c in re.findall(r"<LineString>.*?<coordinates>(.*?)</coordinates>", text, re.S):
                    pts = [tuple(float(v) for v in t.split(",")[:2]) for t in c.split()]
                    geoms.append(LineString(pts))
            else:
                geoms.append(wkt.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError, ShapelyError) as exc:
        raise BadInputError(_("cannot read a line: {exc}").format(exc=exc), where=str(p)) from exc
    for g in geoms:
        if isinstance(g, MultiLineString):
            g = g.geoms[0]
        if isinstance(g, LineString) and len(g.coords) >= 2:
            line = [(float(x), float(y)) for x, y, *_rest in g.coords]
            _check_line_lonlat(line, str(p))
            return line
    raise BadInputError(_("no line with two or more points found"), where=str(p))


def _check_line_lonlat(pts: Sequence[tuple[float, float]], where: str) -> None:
    """Every vertex of a line read from a file is a finite WGS84 lon/lat (NaN reached the UTM
    zone lookup: "no UTM zone for lon=nan", naming neither the file nor the vertex)."""
    for k, (x, y) in enumerate(pts):
        if not (math.isfinite(x) and math.isfinite(y)):
            raise BadInputError(
                _("vertex {k} of the line is ({x}, {y}): not a finite number").format(
                    k=k + 1, x=x, y=y
                ),
                where=where,
            )
        if not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
            raise BadInputError(
                _(
                    "vertex {k} of the line ({x:g}, {y:g}) is not a longitude/latitude (the "
                    "line must be in WGS84, longitude first)"
                ).format(k=k + 1, x=x, y=y),
                where=where,
            )


def _names_a_file(text: str) -> bool:
    """Whether ``text`` is the path of an existing file (a name too long for the file system,
    or one the system cannot look at, is not)."""
    try:
        return Path(text).exists()
    except (OSError, ValueError):
        return False


def parse_polyline(text: str) -> list[tuple[float, float]]:
    if _names_a_file(text):
        return read_polyline(Path(text))
    pts = []
    for k, s in enumerate(t for t in text.split(";") if t.strip()):
        if re.search(r"(?i)\b[-+]?(nan|inf(inity)?)\b", s):
            raise BadInputError(
                _("--polyline: point {k} ({s!r}) is not a finite position").format(
                    k=k + 1, s=s.strip()
                )
            )
        pts.append(parse_point(s, "--polyline"))
    if len(pts) < 2:
        raise BadInputError(_("--polyline needs at least two points 'LAT,LON;LAT,LON'"))
    return pts


#: option name → (smallest allowed value, whether the smallest itself is allowed)
_LIMITS: dict[str, tuple[float, bool]] = {
    "drones": (1, True),
    "legs": (1, True),
    "alt_m": (0.0, False),
    "gsd_cm": (0.0, False),
    "spacing_m": (0.0, False),
    "radius_m": (0.0, False),
    "width_m": (0.0, False),
    "speed_m_s": (0.0, False),
    "agl_tolerance_m": (0.0, False),
    "max_distance_m": (0.0, False),
    "max_range_m": (0.0, False),
    "max_agl_m": (0.0, False),
    "turnaround_m": (0.0, True),
    "min_clearance_m": (0.0, True),
    "side_overlap": (0.0, True),
    "front_overlap": (0.0, True),
    "pod": (0.0, False),
}


#: the largest length a metre option may take: beyond any flight (a 1e308 m turnaround overflowed
#: the path's arithmetic; a 10,000 km spacing is a typo, not a plan)
MAX_LENGTH_M = 1_000_000.0

#: metre options with their own upper limit and message (the search budget: the longest plan;
#: the altitude: the guard's flight altitude)
_OWN_LENGTH_LIMITS = ("budget_m", "home_amsl_m", "alt_m")

#: the most drones one plan splits its area or probability between (the deconfliction gives each
#: its own altitude layer; a count of 2**63 built its layer list for ever)
MAX_DRONES = 50

#: the longest ``--name``: the file names add ``_sortie12.waypoints`` and the like, and a file
#: system takes 255 bytes per name
MAX_NAME_CHARS = 120

#: options in degrees: a bearing or sweep angle beyond a full turn either way is no bearing
_ANGLES = ("first_bearing", "angle")


def check_name(name: str | None) -> None:
    """``--name`` is a file name stem: no folder part (it wrote beside or above ``--out``)."""
    if name is None:
        return
    if name in (".", "..") or any(c in name for c in "/\\") or not name.isprintable():
        raise BadInputError(
            _("--name must be a file name without a folder, got {v!r}").format(v=name)
        )
    if len(name.encode("utf-8")) > MAX_NAME_CHARS:
        raise BadInputError(
            _("--name is too long for a file name ({n} bytes, at most {m})").format(
                n=len(name.encode("utf-8")), m=MAX_NAME_CHARS
            )
        )


def check_sizes(o: dict[str, Any]) -> None:
    """Zero or negative counts and sizes are bad input (exit 2), named by their option; so is
    any number option that is NaN or infinite (NaN passes every comparison: a NaN VLOS limit
    or turnaround was a mission written with exit 0)."""
    for key, v in o.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise BadInputError(
                _("--{opt} must be a finite number, got {v}").format(opt=key.replace("_", "-"), v=v)
            )
    for key in _ANGLES:
        v = o.get(key)
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                continue
        if isinstance(v, float) and abs(v) > 360:
            raise BadInputError(
                _("--{opt} must be an angle from -360 to 360°, got {v:g}").format(
                    opt=key.replace("_", "-"), v=v
                )
            )
    check_name(o.get("name"))
    amsl = o.get("home_amsl_m")
    if amsl is not None and not -500 <= amsl <= 9_000:  # 1e308 validated as "0 m above ground"
        raise BadInputError(
            _("--home-amsl-m: altitude {v:g} m AMSL is not on the Earth's surface").format(v=amsl)
        )
    drones = o.get("drones")
    if isinstance(drones, int) and not isinstance(drones, bool) and drones > MAX_DRONES:
        raise BadInputError(
            _("--drones {n} is more than one plan can split between (at most {m})").format(
                n=drones, m=MAX_DRONES
            )
        )
    for key, (low, inclusive) in _LIMITS.items():
        v = o.get(key)
        if v is None or isinstance(v, bool):
            continue
        if (v < low) if inclusive else (v <= low):
            rel = ">=" if inclusive else ">"
            raise BadInputError(
                _("--{opt} must be {rel} {low:g}, got {v:g}").format(
                    opt=key.replace("_", "-"), rel=rel, low=low, v=v
                )
            )
    for key, v in o.items():
        if (
            key.endswith("_m")
            and key not in _OWN_LENGTH_LIMITS
            and isinstance(v, float | int)
            and not isinstance(v, bool)
            and abs(v) > MAX_LENGTH_M
        ):
            raise BadInputError(
                _("--{opt} {v:g} m is beyond any flight (at most {m:g} m)").format(
                    opt=key.replace("_", "-"), v=v, m=MAX_LENGTH_M
                )
            )
    for key in ("side_overlap", "front_overlap"):
        v = o.get(key)
        if v is not None and v >= 100:
            raise BadInputError(
                _("--{opt} must be below 100 %, got {v:g}").format(opt=key.replace("_", "-"), v=v)
            )
    if o.get("pod") is not None and o["pod"] >= 1:
        raise BadInputError(_("--pod must be below 1, got {v:g}").format(v=o["pod"]))


def check_range(
    launches: Sequence[tuple[float, float]],
    target: Any,
    max_range_m: float | None,
    what: str,
) -> None:
    """Plausibility before planning: ``target`` (a shapely geometry in lon/lat) within
    ``max_range_m`` of every launch point (lon, lat); else :class:`SafetyViolation` (exit 3)
    suggesting swapped coordinates."""
    if not launches or max_range_m is None:
        return
    from shapely.geometry import Point
    from shapely.ops import nearest_points

    from dronekit_plzen.errors import SafetyViolation, Violation
    from dronekit_plzen.geo import geodesic_distance_m

    for lon, lat in launches:
        p = nearest_points(target, Point(lon, lat))[0]
        near = (p.x, p.y)
        d = float(geodesic_distance_m(lon, lat, near[0], near[1]))
        if d > max_range_m:
            msg = _(
                "the {what} is {km:.0f} km from the launch point {lat:.5f}, {lon:.5f} (limit "
                "{lim:g} km): latitude and longitude swapped?"
            ).format(what=what, km=d / 1000, lat=lat, lon=lon, lim=max_range_m / 1000)
            raise SafetyViolation(
                "[plausibility] " + msg,
                violations=[Violation("plausibility", msg, lat=lat, lon=lon, value=round(d, 1))],
            )


def override_end_options() -> list[Any]:
    """``--override-safety``, ``--reason`` and ``--end``: the options every writing door shares."""
    return [
        click.option(
            "--override-safety",
            is_flag=True,
            help=_("Write an unsafe mission anyway (needs --reason; recorded)."),
        ),
        click.option("--reason", default=None, help=_("Why the safety override is needed.")),
        click.option(
            "--end",
            type=click.Choice(["rtl", "land", "none"]),
            default="rtl",
            show_default=True,
            help=_("What the mission ends with."),
        ),
    ]
