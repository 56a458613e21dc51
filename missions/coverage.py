"""Coverage audit of any mission file against an area.

``covered = ∪ camera footprints`` (photos found from the mission's own camera commands:
distance triggering with ``DO_SET_CAM_TRIGG_DIST`` along the legs it is on, single captures
``IMAGE_START_CAPTURE``/``DO_DIGICAM_CONTROL`` at the waypoint before them) or, without a camera,
the swath of a sensor ``swath_m`` wide along the flight legs. ``coverage % = area(covered ∩
area) / area(area)``; the gaps are ``area − covered``.

Footprints use the item's height (relative to home; AMSL or terrain frames converted with the
home elevation or a DEM), a nadir camera and the leg's heading, landscape by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import WGS84, transform
from dronekit_plzen.i18n import _
from dronekit_plzen.mission_items import (
    CMD_DO_DIGICAM_CONTROL,
    CMD_DO_SET_CAM_TRIGG_DIST,
    CMD_IMAGE_START_CAPTURE,
    CMD_NAV_LAND,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    FRAME_GLOBAL,
    FRAME_GLOBAL_TERRAIN_ALT,
    canonical_frame,
)
from missions.model import Mission
from missions.terrain import Raster

FloatArray = NDArray[np.float64]


@dataclass
class CoverageResult:
    coverage_pct: float
    area_m2: float
    covered_m2: float
    gaps_m2: float
    photos: int
    method: str  # "footprints" | "swath"
    epsg: int
    covered_lonlat: BaseGeometry
    gaps_lonlat: BaseGeometry
    footprints_lonlat: list[Polygon]

    def to_dict(self) -> dict[str, Any]:
        return {
            "coverage_pct": round(self.coverage_pct, 3),
            "area_m2": round(self.area_m2, 1),
            "covered_m2": round(self.covered_m2, 1),
            "gaps_m2": round(self.gaps_m2, 1),
            "gap_polygons": len(_polys(self.gaps_lonlat)),
            "photos": self.photos,
            "method": self.method,
        }


def _polys(g: BaseGeometry) -> list[Polygon]:
    if g.is_empty:
        return []
    if isinstance(g, Polygon):
        return [g]
    if isinstance(g, MultiPolygon):
        return list(g.geoms)
    return [p for p in getattr(g, "geoms", []) if isinstance(p, Polygon)]


def _project(g: BaseGeometry, src: Any, dst: Any) -> BaseGeometry:
    def fn(xy: Any) -> Any:
        if len(xy) == 0:
            return xy
        x, y = transform(xy[:, 0], xy[:, 1], src, dst)
        return np.column_stack([x, y])

    return shapely.transform(g, fn)  # type: ignore[no-any-return]


def photo_positions(
    mission: Mission, epsg: int, *, dem: Raster | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, list[FloatArray]]:
    """Photos (x, y), heading (deg), height above ground (m) and the flight legs (metric)."""
    home_alt = mission.home[2] if mission.home else 0.0
    px: list[float] = []
    py: list[float] = []
    ph: list[float] = []
    pa: list[float] = []
    legs: list[FloatArray] = []
    prev: tuple[float, float, float] | None = None
    trig = 0.0
    carry = 0.0  # distance flown since the last distance-triggered photo
    pos = [(k, it) for k, it in enumerate(mission.items) if it.has_position]
    if not pos:
        raise BadInputError(_("mission has no positioned items"))
    xs, ys = transform([it.lon_deg for _k, it in pos], [it.lat_deg for _k, it in pos], WGS84, epsg)
    xy = {k: (float(x), float(y)) for (k, _it), x, y in zip(pos, xs, ys)}

    def height(k: int) -> float:
        it = mission.items[k]
        f = canonical_frame(it.frame)
        if f == FRAME_GLOBAL_TERRAIN_ALT:
            return it.alt_m
        if dem is not None:
            g = float(dem.sample([it.lon_deg], [it.lat_deg])[0])
            base = it.alt_m if f == FRAME_GLOBAL else home_alt + it.alt_m
            if not math.isnan(g):
                return base - g
        return it.alt_m - home_alt if f == FRAME_GLOBAL else it.alt_m

    heading = 0.0
    for k, it in enumerate(mission.items):
        cmd = it.command
        if cmd == CMD_DO_SET_CAM_TRIGG_DIST:
            trig = max(0.0, float(it.param1))
            carry = trig if (trig > 0 and it.param3 >= 1 and prev) else 0.0
            if trig > 0 and it.param3 >= 1 and prev:  # trigger once immediately
                px.append(prev[0])
                py.append(prev[1])
                ph.append(heading)
                pa.append(prev[2])
                carry = 0.0
            continue
        if (
            cmd == CMD_IMAGE_START_CAPTURE and 1 <= it.param3 < 2  # one image (NaN: not)
        ) or cmd == CMD_DO_DIGICAM_CONTROL:
            if prev:
                px.append(prev[0])
                py.append(prev[1])
                ph.append(heading)
                pa.append(prev[2])
            continue
        if k not in xy or cmd in (CMD_NAV_TAKEOFF, CMD_NAV_RETURN_TO_LAUNCH, CMD_NAV_LAND):
            if cmd in (CMD_NAV_RETURN_TO_LAUNCH, CMD_NAV_LAND):
                prev = None
            continue
        cur = (*xy[k], height(k))
        if prev is not None:
            dx, dy = cur[0] - prev[0], cur[1] - prev[1]
            length = math.hypot(dx, dy)
            if length > 0:
                heading = math.degrees(math.atan2(dx, dy)) % 360.0
                legs.append(np.array([prev[:2], cur[:2]]))
                if trig > 0:
                    s = np.arange(trig - carry, length + 1e-9, trig)
                    if s.size:
                        t = s / length
                        px.extend((prev[0] + t * dx).tolist())
                        py.extend((prev[1] + t * dy).tolist())
                        ph.extend([heading] * s.size)
                        pa.extend((prev[2] + t * (cur[2] - prev[2])).tolist())
                        carry = length - float(s[-1])
                    else:
                        carry += length
        prev = cur
    return np.column_stack([px, py]) if px else np.zeros((0, 2)), np.array(ph), np.array(pa), legs


def audit_coverage(
    mission: Mission,
    area_lonlat: BaseGeometry,
    *,
    camera: Any = None,
    swath_m: float | None = None,
    footprints_lonlat: list[BaseGeometry] | None = None,
    dem: Raster | None = None,
    landscape: bool = True,
    epsg: int | None = None,
) -> CoverageResult:
    """Coverage of ``area_lonlat`` by the mission's footprints (or swath); see module doc.

    ``camera`` is a :class:`missions.camera.Camera` (its ``footprint_m(alt_m)`` gives the
    across/along-track size); ``footprints_lonlat`` (e.g. from our GeoJSON export) are used
    as they are when given.
    """
    from dronekit_plzen.geo import utm_epsg_for_area
    from missions.metrics import footprints

    x0, y0, x1, y1 = area_lonlat.bounds
    code = epsg or utm_epsg_for_area([x0, x1], [y0, y1])
    area_m = _project(area_lonlat, WGS84, code)
    if area_m.area <= 0:
        raise BadInputError(_("the area has no surface"))
    photos = 0
    fps_m: list[BaseGeometry] = []
    if footprints_lonlat:
        fps_m = [_project(f, WGS84, code) for f in footprints_lonlat]
        photos = len(fps_m)
        method = "footprints"
    else:
        pxy, head, agl, legs = photo_positions(mission, code, dem=dem)
        if camera is not None and len(pxy):
            method = "footprints"
            photos = len(pxy)
            sizes = np.array([camera.footprint_m(max(a, 0.0), landscape) for a in agl])
            for s in np.unique(sizes, axis=0):
                sel = np.all(sizes == s, axis=1)
                fps_m.extend(footprints(pxy[sel], head[sel], float(s[0]), float(s[1])).tolist())
        elif swath_m is not None and swath_m > 0:
            method = "swath"
            fps_m = [LineString(leg).buffer(swath_m / 2.0, cap_style="flat") for leg in legs]
        else:
            raise BadInputError(
                _("no photos found: give --camera (with a triggering mission) or --swath-m")
            )
    covered = shapely.union_all(fps_m) if fps_m else Polygon()
    inter = area_m.intersection(covered)
    gaps = area_m.difference(covered)
    gaps = (
        shapely.union_all([g for g in _polys(gaps) if g.area > 1e-3]) if not gaps.is_empty else gaps
    )
    return CoverageResult(
        coverage_pct=100.0 * float(inter.area) / float(area_m.area),
        area_m2=float(area_m.area),
        covered_m2=float(inter.area),
        gaps_m2=float(gaps.area),
        photos=photos,
        method=method,
        epsg=code,
        covered_lonlat=_project(inter, code, WGS84),
        gaps_lonlat=_project(gaps, code, WGS84),
        footprints_lonlat=[_project(f, code, WGS84) for f in fps_m]
        if method == "footprints"
        else [],
    )


def gaps_geojson(result: CoverageResult) -> dict[str, Any]:
    """The gaps as a GeoJSON FeatureCollection (one polygon per gap, with its area)."""
    from shapely.geometry import mapping

    feats = []
    gaps_m = _project(result.gaps_lonlat, WGS84, result.epsg)
    for k, (g, gm) in enumerate(zip(_polys(result.gaps_lonlat), _polys(gaps_m))):
        feats.append(
            {
                "type": "Feature",
                "geometry": mapping(g),
                "properties": {"role": "gap", "index": k, "area_m2": round(float(gm.area), 2)},
            }
        )
    return {
        "type": "FeatureCollection",
        "features": feats,
        "dronekit_plzen": {"coverage": result.to_dict()},
    }
