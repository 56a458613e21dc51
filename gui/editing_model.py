"""Plan edits as pure functions (no Qt): area vertices and holes, waypoints, launch points.

Every function returns a new value and leaves its input untouched, so the undo stack can keep
the states before and after an edit. Keys:

* an area vertex is ``(polygon, ring, vertex)``: ring 0 is the outline, ring k the k-th hole;
* a waypoint is ``(drone, sortie, item)``: 0-based drone and sortie, the item's index in that
  sortie's mission (only ``MAV_CMD_NAV_WAYPOINT`` items with a position are edited);
* a launch point is the 0-based drone.

An edited mission loses its clearance and any safety override: it is validated again.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from shapely.geometry import MultiPolygon, Polygon

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

LonLat = tuple[float, float]
VertexKey = tuple[int, int, int]
WaypointKey = tuple[int, int, int]
Drones = tuple[tuple[Any, ...], ...]  # per drone, its sortie missions (missions.model.Mission)

CMD_NAV_WAYPOINT = 16
#: metadata an edit makes stale: the mission must be validated (and overridden) again
_STALE = ("clearance", "safety_override", "validation")


# ----------------------------------------------------------------------------- geometry helpers
def _polygons(area: Any) -> list[Polygon]:
    if area is None or area.is_empty:
        return []
    return list(area.geoms) if isinstance(area, MultiPolygon) else [area]


def _rings(poly: Polygon) -> list[list[LonLat]]:
    rings = [list(poly.exterior.coords)[:-1]]
    rings += [list(r.coords)[:-1] for r in poly.interiors]
    return [[(float(x), float(y)) for x, y, *_z in ring] for ring in rings]


def _rebuild(polys: list[list[list[LonLat]]]) -> Polygon | MultiPolygon:
    out = [Polygon(rings[0], rings[1:]) for rings in polys]
    return out[0] if len(out) == 1 else MultiPolygon(out)


def _local_xy(lon: Any, lat: Any, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    """Metres east/north on a small equirectangular patch (for picking tolerances only)."""
    k = 111_320.0
    return np.asarray(lon) * k * math.cos(math.radians(lat0)), np.asarray(lat) * k


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, axis=1) / np.maximum(np.sum(ab * ab, axis=1), 1e-12), 0, 1)
    closest = a + ab * t[:, None]
    return np.hypot(*(p - closest).T)


# ----------------------------------------------------------------------------- the area
def area_vertices(area: Any) -> list[tuple[VertexKey, float, float]]:
    """Every vertex of the area with its key, for the editing handles."""
    return [
        ((p, r, i), lon, lat)
        for p, poly in enumerate(_polygons(area))
        for r, ring in enumerate(_rings(poly))
        for i, (lon, lat) in enumerate(ring)
    ]


def move_vertex(area: Any, key: VertexKey, to: LonLat) -> Polygon | MultiPolygon:
    p, r, i = key
    polys = [_rings(poly) for poly in _polygons(area)]
    polys[p][r][i] = (float(to[0]), float(to[1]))
    return _rebuild(polys)


def insert_vertex(area: Any, after: VertexKey, at: LonLat) -> Polygon | MultiPolygon:
    """A new vertex after ``after`` (between it and the next one of its ring)."""
    p, r, i = after
    polys = [_rings(poly) for poly in _polygons(area)]
    polys[p][r].insert(i + 1, (float(at[0]), float(at[1])))
    return _rebuild(polys)


def delete_vertex(area: Any, key: VertexKey) -> Polygon | MultiPolygon:
    """Remove a vertex; a hole left with fewer than three goes, an outline cannot."""
    p, r, i = key
    polys = [_rings(poly) for poly in _polygons(area)]
    ring = polys[p][r]
    if len(ring) <= 3:
        if r == 0:
            raise BadInputError(_("the area needs at least three corners"))
        del polys[p][r]
    else:
        del ring[i]
    return _rebuild(polys)


def add_hole(area: Any, ring: Sequence[LonLat]) -> Polygon | MultiPolygon:
    """Cut a hole (a pond, a building) out of the polygon that contains it."""
    if len(ring) < 3:
        raise BadInputError(_("a hole needs at least three corners"))
    hole = Polygon(ring)
    polys = _polygons(area)
    for k, poly in enumerate(polys):
        if poly.contains(hole.representative_point()):
            rings = [_rings(q) for q in polys]
            rings[k].append([(float(x), float(y)) for x, y in ring])
            return _rebuild(rings)
    raise BadInputError(_("the hole must lie inside the area"))


def new_area(ring: Sequence[LonLat]) -> Polygon:
    if len(ring) < 3:
        raise BadInputError(_("the area needs at least three corners"))
    poly = Polygon([(float(x), float(y)) for x, y in ring])
    if poly.area <= 0:
        raise BadInputError(_("the area has no surface"))
    return poly


def nearest_edge(area: Any, at: LonLat, tol_m: float) -> VertexKey | None:
    """The edge of the area (key of its first vertex) within ``tol_m`` of ``at``, or None."""
    best: tuple[float, VertexKey] | None = None
    for p, poly in enumerate(_polygons(area)):
        for r, ring in enumerate(_rings(poly)):
            a = np.asarray(ring)
            b = np.roll(a, -1, axis=0)
            ax, ay = _local_xy(a[:, 0], a[:, 1], at[1])
            bx, by = _local_xy(b[:, 0], b[:, 1], at[1])
            px, py = _local_xy(at[0], at[1], at[1])
            d = _segment_distance(np.tile([px, py], (len(a), 1)), np.c_[ax, ay], np.c_[bx, by])
            i = int(np.argmin(d))
            if d[i] <= tol_m and (best is None or d[i] < best[0]):
                best = (float(d[i]), (p, r, i))
    return None if best is None else best[1]


# ----------------------------------------------------------------------------- waypoints
def _edited(mission: Any, items: list[Any], **changes: Any) -> Any:
    meta = {k: v for k, v in mission.metadata.items() if k not in _STALE}
    meta["edited"] = True
    return replace(mission, items=items, metadata=meta, **changes)


def waypoints(drones: Drones) -> list[tuple[WaypointKey, float, float]]:
    """Every editable waypoint with its key."""
    return [
        ((d, s, i), it.lon_deg, it.lat_deg)
        for d, sorties in enumerate(drones)
        for s, m in enumerate(sorties)
        for i, it in enumerate(m.items)
        if it.command == CMD_NAV_WAYPOINT and it.has_position
    ]


def paths(drones: Drones) -> list[list[LonLat]]:
    """Each drone's path through its sorties' waypoints, for drawing."""
    out: list[list[LonLat]] = [[] for _d in drones]
    for (d, _s, _i), lon, lat in waypoints(drones):
        out[d].append((lon, lat))
    return out


def _with_mission(drones: Drones, d: int, s: int, mission: Any) -> Drones:
    row = list(drones[d])
    row[s] = mission
    out = list(drones)
    out[d] = tuple(row)
    return tuple(out)


def move_waypoint(drones: Drones, key: WaypointKey, to: LonLat) -> Drones:
    d, s, i = key
    m = drones[d][s]
    items = list(m.items)
    items[i] = items[i].with_(lon_deg=float(to[0]), lat_deg=float(to[1]))
    return _with_mission(drones, d, s, _edited(m, items))


def insert_waypoint(drones: Drones, after: WaypointKey, at: LonLat) -> Drones:
    """A waypoint after ``after``, at its altitude and in its frame."""
    d, s, i = after
    m = drones[d][s]
    items = list(m.items)
    new = items[i].with_(lon_deg=float(at[0]), lat_deg=float(at[1]), meta={"inserted": True})
    items.insert(i + 1, new)
    return _with_mission(drones, d, s, _edited(m, items))


def delete_waypoint(drones: Drones, key: WaypointKey) -> Drones:
    d, s, i = key
    m = drones[d][s]
    left = [k for k, _lo, _la in waypoints(((m,),)) if k[2] != i]
    if not left:
        raise BadInputError(_("a sortie needs at least one waypoint"))
    items = [it for k, it in enumerate(m.items) if k != i]
    return _with_mission(drones, d, s, _edited(m, items))


def nearest_leg(drones: Drones, at: LonLat, tol_m: float) -> WaypointKey | None:
    """The leg nearest ``at`` within ``tol_m`` (key of its first waypoint), or None."""
    best: tuple[float, WaypointKey] | None = None
    wps = waypoints(drones)
    for (k1, lo1, la1), (k2, lo2, la2) in itertools.pairwise(wps):
        if k1[:2] != k2[:2]:
            continue  # legs are within one sortie
        ax, ay = _local_xy(lo1, la1, at[1])
        bx, by = _local_xy(lo2, la2, at[1])
        px, py = _local_xy(at[0], at[1], at[1])
        dist = float(
            _segment_distance(np.array([[px, py]]), np.array([[ax, ay]]), np.array([[bx, by]]))[0]
        )
        if dist <= tol_m and (best is None or dist < best[0]):
            best = (dist, k1)
    return None if best is None else best[1]


# ----------------------------------------------------------------------------- launch points
def homes(drones: Drones) -> list[LonLat]:
    out = []
    for sorties in drones:
        h = sorties[0].home if sorties else None
        if h is not None:
            out.append((float(h[0]), float(h[1])))
    return out


def move_home(drones: Drones, d: int, to: LonLat) -> Drones:
    """Drone ``d`` launches from ``to``: its home and the items placed at the old home move."""
    out = drones
    for s, m in enumerate(drones[d]):
        old = m.home
        items = list(m.items)
        if old is not None:
            items = [
                it.with_(lon_deg=float(to[0]), lat_deg=float(to[1]))
                if it.has_position
                and it.command != CMD_NAV_WAYPOINT
                and abs(it.lon_deg - old[0]) < 1e-9
                and abs(it.lat_deg - old[1]) < 1e-9
                else it
                for it in items
            ]
        alt = old[2] if old is not None else 0.0
        out = _with_mission(out, d, s, _edited(m, items, home=(float(to[0]), float(to[1]), alt)))
    return out
