"""GeoJSON (RFC 7946) export and import of a mission with its area, footprints and coverage.

One ``FeatureCollection``; every feature has a ``role`` property:

* ``path``: the flight path as a ``LineString`` (lon, lat, alt_m in the items' frames, named
  by its ``z_datum``: "above home", "AMSL" or "above terrain"; not RFC 7946's ellipsoid);
* ``item``: one ``Point`` (or ``null`` geometry) per mission item with every MAVLink field, so
  the mission reads back exactly;
* ``home``, ``fence`` (Polygon, ``inclusion``), ``fence_circle`` (Point, ``radius_m``),
  ``rally``;
* ``area``, ``footprint``, ``coverage``, ``gap``: optional planning products.

Mission-level data (autopilot, vehicle type, speeds, metadata such as a safety override) sits in
the foreign member ``"dronekit_plzen"`` of the collection. Reading a GeoJSON that has no
``item`` features but one ``LineString`` makes waypoints from its vertices (altitude from the
third coordinate, relative to home).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import json_int
from dronekit_plzen.mission_items import (
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
    MissionItem,
    alt_datum,
)
from missions.formats._common import (
    atomic_write_text,
    home_alt_datum,
    item_from_dict,
    item_to_dict,
    json_safe,
    moved_to,
    note_speed,
    read_text,
)
from missions.model import FenceCircle, FencePolygon, Mission, RallyPoint


def _feature(geom: dict[str, Any] | None, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geom, "properties": props}


def mission_to_geojson(
    mission: Mission,
    *,
    area: BaseGeometry | None = None,
    footprints: list[BaseGeometry] | None = None,
    coverage: BaseGeometry | None = None,
    gaps: BaseGeometry | None = None,
) -> dict[str, Any]:
    feats: list[dict[str, Any]] = []
    path = [list(p) for p in mission.waypoints_lonlat_alt()]
    # RFC 7946 reads a third coordinate as height above the ellipsoid; ours are the items'
    # altitudes in their frames, so the path and every item name their datum
    datums = {alt_datum(it.frame) for it in mission.items if it.has_position}
    z_datum = datums.pop() if len(datums) == 1 else "mixed: see each item's alt_datum"
    if any(not math.isfinite(p[2]) for p in path):  # unresolved altitudes: a 2-D path
        path = [p[:2] for p in path]
    if len(path) >= 2:
        props: dict[str, Any] = {"name": str(mission.metadata.get("name", "mission"))}
        if len(path[0]) == 3:
            props["z_datum"] = z_datum
        feats.append(_feature({"type": "LineString", "coordinates": path}, role="path", **props))
    if mission.home is not None:
        home = list(mission.home)
        extra = {"alt_datum": home_alt_datum(mission)} if len(home) == 3 else {}
        feats.append(_feature({"type": "Point", "coordinates": home}, role="home", **extra))
    for k, it in enumerate(mission.items):
        geom = (
            {"type": "Point", "coordinates": [it.lon_deg, it.lat_deg]} if it.has_position else None
        )
        datum = {"alt_datum": alt_datum(it.frame)} if it.has_position else {}
        feats.append(_feature(geom, role="item", index=k, **json_safe(item_to_dict(it)), **datum))
    for p in mission.fence_polygons:
        ring = [list(v) for v in p.vertices] + [list(p.vertices[0])]
        feats.append(
            _feature(
                {"type": "Polygon", "coordinates": [ring]}, role="fence", inclusion=p.inclusion
            )
        )
    for c in mission.fence_circles:
        feats.append(
            _feature(
                {"type": "Point", "coordinates": list(c.center)},
                role="fence_circle",
                radius_m=c.radius_m,
                inclusion=c.inclusion,
            )
        )
    for r in mission.rally_points:
        feats.append(
            _feature(
                {"type": "Point", "coordinates": [r.lon_deg, r.lat_deg]},
                role="rally",
                alt_m=r.alt_m,
            )
        )
    if area is not None:
        feats.append(_feature(json_safe(mapping(area)), role="area"))
    for k, fp in enumerate(footprints or []):
        feats.append(_feature(json_safe(mapping(fp)), role="footprint", index=k))
    if coverage is not None:
        feats.append(_feature(json_safe(mapping(coverage)), role="coverage"))
    if gaps is not None and not gaps.is_empty:
        feats.append(_feature(json_safe(mapping(gaps)), role="gap"))
    return {
        "type": "FeatureCollection",
        "features": feats,
        "dronekit_plzen": {
            "version": 1,
            "autopilot": mission.autopilot,
            "vehicle_type": mission.vehicle_type,
            "cruise_speed_m_s": mission.cruise_speed_m_s,
            "hover_speed_m_s": mission.hover_speed_m_s,
            "metadata": json_safe(mission.metadata),
        },
    }


def dump_geojson(mission: Mission, **extras: Any) -> str:
    doc = mission_to_geojson(mission, **extras)
    return json.dumps(doc, ensure_ascii=False, allow_nan=False) + "\n"


def parse_geojson(text: str, path: str = "<geojson>") -> Mission:
    try:
        doc = json.loads(text, parse_int=json_int)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            _("invalid JSON: {msg} (line {lineno}, column {colno})").format(
                msg=exc.msg, lineno=exc.lineno, colno=exc.colno
            ),
            where=path,
        ) from exc
    if not isinstance(doc, dict):
        raise BadInputError(_("GeoJSON must be an object"), where=path)
    if doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    if doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise BadInputError(_("GeoJSON mission must be a FeatureCollection"), where=path)
    m = Mission()
    ours = doc.get("dronekit_plzen") or {}
    if ours:
        m.autopilot = int(ours.get("autopilot", m.autopilot))
        m.vehicle_type = int(ours.get("vehicle_type", m.vehicle_type))
        m.cruise_speed_m_s = float(ours.get("cruise_speed_m_s", m.cruise_speed_m_s))
        m.hover_speed_m_s = float(ours.get("hover_speed_m_s", m.hover_speed_m_s))
        m.metadata = dict(ours.get("metadata") or {})
    if "cruise_speed_m_s" not in ours:
        note_speed(m.metadata, False)
    items: list[tuple[int, MissionItem]] = []
    lines: list[list[list[float]]] = []
    for k, f in enumerate(doc["features"]):
        where = f"{path}: feature {k + 1}"
        if not isinstance(f, dict):
            raise BadInputError(_("feature is not an object"), where=where)
        props = f.get("properties") or {}
        geom = f.get("geometry") or {}
        role = props.get("role")
        coords: Any = geom.get("coordinates") if isinstance(geom, dict) else None
        try:
            if role == "item":
                it = item_from_dict(props, where)
                if isinstance(geom, dict) and geom.get("type") == "Point" and coords:
                    it = moved_to(it, coords[0], coords[1], where)
                items.append((int(props.get("index", len(items))), it))
            elif role == "home":
                c = coords or [0, 0, 0]
                m.home = (float(c[0]), float(c[1]), float(c[2]) if len(c) > 2 else 0.0)
            elif role == "fence":
                ring = coords[0][:-1] if coords[0][0] == coords[0][-1] else coords[0]
                m.fence_polygons.append(
                    FencePolygon(
                        tuple((float(x), float(y)) for x, y, *_ in ring),
                        bool(props.get("inclusion", True)),
                    )
                )
            elif role == "fence_circle":
                m.fence_circles.append(
                    FenceCircle(
                        (float(coords[0]), float(coords[1])),
                        float(props["radius_m"]),
                        bool(props.get("inclusion", True)),
                    )
                )
            elif role == "rally":
                m.rally_points.append(
                    RallyPoint(float(coords[0]), float(coords[1]), float(props.get("alt_m", 0.0)))
                )
            elif role is None and geom.get("type") == "LineString":
                lines.append(coords)
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise BadInputError(
                _("malformed {role}: {exc}").format(role=role or _("feature"), exc=exc), where=where
            ) from exc
    items.sort(key=lambda t: t[0])
    m.items = [it for _, it in items]
    if not m.items and len(lines) == 1:
        m.items = [
            MissionItem(
                CMD_NAV_WAYPOINT,
                FRAME_GLOBAL_RELATIVE_ALT,
                lon_deg=float(c[0]),
                lat_deg=float(c[1]),
                alt_m=float(c[2]) if len(c) > 2 else 0.0,
            )
            for c in lines[0]
        ]
    # a plan of only a geofence (or rally points) has no items: it reads back as such
    if not (m.items or m.fence_polygons or m.fence_circles or m.rally_points):
        raise BadInputError(
            _("no mission items (features with role 'item') and no single LineString path"),
            where=path,
        )
    return m


def read_geojson(path: Path) -> Mission:
    return parse_geojson(read_text(path), str(path))


def write_geojson(mission: Mission, path: Path, **extras: Any) -> Path:
    return atomic_write_text(path, dump_geojson(mission, **extras))


def read_geojson_layers(path: Path, role: str) -> list[BaseGeometry]:
    """Geometries of one role (``footprint``, ``area``, ``gap`` ...) from one of our files."""
    doc = json.loads(read_text(path), parse_int=json_int)
    return [
        shape(f["geometry"])
        for f in doc.get("features", [])
        if (f.get("properties") or {}).get("role") == role and f.get("geometry")
    ]
