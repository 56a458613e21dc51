"""IAMSAR search patterns and line patterns in a metric CRS (IAMSAR Manual vol. II, ch. 5).

* expanding square (SS) from a datum: legs S, S, 2S, 2S, 3S, ... turning 90° right;
* sector search (VS) from a datum with radius R: 9 legs of R with 120° right turns through the
  datum; an optional second pattern rotated 30°;
* creeping line (CS) / parallel track (PS) over an area: tracks S apart, the first S/2 inside the
  edge, legs parallel to the minor axis advancing along the major axis (CS) or parallel to the
  major axis (PS);
* corridor along a polyline with a width; perimeter spiral by inward offsets.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from missions.patterns.base import (
    SEARCH,
    TURN,
    FloatArray,
    InsideRouter,
    PathPlan,
    routing_domain,
)
from missions.patterns.survey import plan_survey_path

MAX_LEGS = 10_000


def _unit(bearing_deg: float) -> FloatArray:
    b = math.radians(bearing_deg)
    return np.array([math.sin(b), math.cos(b)])


def expanding_square_legs(
    spacing_m: float, radius_m: float | None = None, legs: int | None = None
) -> list[float]:
    """Leg lengths S, S, 2S, 2S, ...: ``legs`` of them, or until every side of the square is
    at least ``radius_m - S/2`` from the datum (tracks then cover the radius)."""
    if spacing_m <= 0:
        raise BadInputError(
            _("track spacing must be positive, got {spacing_m} m").format(spacing_m=spacing_m)
        )
    if legs is None and radius_m is None:
        raise BadInputError(_("expanding square needs a radius or a number of legs"))
    if legs is not None:
        if legs < 1 or legs > MAX_LEGS:
            raise BadInputError(
                _("number of legs must be in 1..{max_legs}, got {legs}").format(
                    max_legs=MAX_LEGS, legs=legs
                )
            )
        return [spacing_m * (i // 2 + 1) for i in range(legs)]
    assert radius_m is not None
    if radius_m <= 0:
        raise BadInputError(
            _("radius must be positive, got {radius_m} m").format(radius_m=radius_m)
        )
    # after 4k + 1 legs all four sides of the square are k*S from the datum; the last leg is
    # cut where it reaches the corner (its full length would only overshoot the radius)
    k = max(1, math.ceil((radius_m - spacing_m / 2.0) / spacing_m - 1e-9))
    n = 4 * k + 1
    if n > MAX_LEGS:
        raise BadInputError(
            _("radius {radius_m} m needs {n} legs at spacing {spacing_m} m").format(
                radius_m=radius_m, n=n, spacing_m=spacing_m
            )
        )
    out = [spacing_m * (i // 2 + 1) for i in range(n)]
    out[-1] = 2 * k * spacing_m
    return out


def expanding_square_path(
    datum_xy: tuple[float, float],
    epsg: int,
    spacing_m: float,
    *,
    radius_m: float | None = None,
    legs: int | None = None,
    first_bearing_deg: float = 0.0,
    turn: str = "right",
) -> PathPlan:
    """Expanding square from ``datum_xy``; the first leg on ``first_bearing_deg``."""
    lengths = expanding_square_legs(spacing_m, radius_m, legs)
    sign = 1.0 if turn == "right" else -1.0
    pts = [np.asarray(datum_xy, dtype=np.float64)]
    for i, length in enumerate(lengths):
        pts.append(pts[-1] + _unit(first_bearing_deg + sign * 90.0 * i) * length)
    xy = np.asarray(pts)
    return PathPlan(
        xy,
        np.full(len(xy) - 1, SEARCH, dtype=np.int8),
        epsg,
        info={"spacing_m": spacing_m, "legs": len(lengths), "leg_lengths_m": lengths},
    )


def sector_points(datum_xy: FloatArray, radius_m: float, first_bearing_deg: float) -> FloatArray:
    """The 10 waypoints of one sector search (3 triangles through the datum, 120° turns)."""
    d = np.asarray(datum_xy, dtype=np.float64)
    b = first_bearing_deg
    offs = [None, 0, 60, None, 240, 300, None, 120, 180, None]
    return np.asarray([d if o is None else d + radius_m * _unit(b + o) for o in offs])


def sector_path(
    datum_xy: tuple[float, float],
    epsg: int,
    radius_m: float,
    *,
    first_bearing_deg: float = 0.0,
    second_pattern: bool = False,
) -> PathPlan:
    """Sector search from ``datum_xy``; ``second_pattern`` adds one rotated 30° right."""
    if radius_m <= 0:
        raise BadInputError(
            _("sector radius must be positive, got {radius_m} m").format(radius_m=radius_m)
        )
    d = np.asarray(datum_xy, dtype=np.float64)
    xy = sector_points(d, radius_m, first_bearing_deg)
    if second_pattern:
        xy = np.concatenate([xy, sector_points(d, radius_m, first_bearing_deg + 30.0)[1:]])
    return PathPlan(
        xy,
        np.full(len(xy) - 1, SEARCH, dtype=np.int8),
        epsg,
        info={"radius_m": radius_m, "legs": len(xy) - 1, "second_pattern": second_pattern},
    )


def major_axis_bearing_deg(area: Polygon | MultiPolygon) -> float:
    """Bearing (0..180) of the long side of the area's minimum rotated rectangle."""
    rect = np.asarray(area.minimum_rotated_rectangle.exterior.coords)  # type: ignore[union-attr]
    d = np.diff(rect, axis=0)[:2]
    i = int(np.argmax(np.hypot(d[:, 0], d[:, 1])))
    return float(np.degrees(np.arctan2(d[i, 0], d[i, 1])) % 180.0)


def creeping_line_path(
    area: Polygon | MultiPolygon,
    epsg: int,
    spacing_m: float,
    *,
    legs_along: str = "minor",
    start_xy: tuple[float, float] | None = None,
    trigger_distance_m: float | None = None,
    router: InsideRouter | None = None,
    reach_m: float | None = None,
) -> PathPlan:
    """Creeping line (``legs_along="minor"``: legs parallel to the minor axis, advancing along
    the major axis) or parallel track (``"major"``); the first track S/2 inside the edge."""
    if legs_along not in ("minor", "major"):
        raise BadInputError(_("legs_along must be 'minor' or 'major'"))
    major = major_axis_bearing_deg(area)
    angle = major if legs_along == "major" else (major + 90.0) % 180.0
    plan = plan_survey_path(
        area,
        epsg,
        spacing_m,
        angle,
        trigger_distance_m=trigger_distance_m,
        start_xy=start_xy,
        first_offset_m=spacing_m / 2.0,
        router=router,
        reach_m=reach_m,
    )
    plan.info["pattern"] = "creeping-line" if legs_along == "minor" else "parallel-track"
    plan.info["major_axis_deg"] = major
    return plan


def corridor_path(
    line: LineString,
    epsg: int,
    width_m: float,
    spacing_m: float,
    *,
    trigger_distance_m: float | None = None,
) -> tuple[PathPlan, Polygon]:
    """Tracks parallel to ``line`` ``spacing_m`` apart across ``width_m``, flown back and forth;
    returns the path and the corridor polygon."""
    if width_m <= 0 or spacing_m <= 0:
        raise BadInputError(_("corridor width and spacing must be positive"))
    if line.length <= 0:
        raise BadInputError(_("the corridor polyline has zero length"))
    n = max(1, math.ceil(width_m / spacing_m - 1e-9))
    offsets = (np.arange(n) - (n - 1) / 2.0) * spacing_m
    tracks: list[FloatArray] = []
    for i, off in enumerate(offsets):
        g = line if abs(off) < 1e-9 else shapely.offset_curve(line, float(off), join_style="mitre")
        parts = [p for p in shapely.get_parts(g) if p.length > 0]
        if not parts:
            continue
        c = np.asarray(max(parts, key=lambda p: p.length).coords)
        # offset_curve keeps the direction; fly odd tracks backwards
        tracks.append(c if i % 2 == 0 else c[::-1])
    pts: list[FloatArray] = []
    kinds: list[int] = []
    for tr in tracks:
        if pts:
            kinds.append(TURN)
        pts.extend(tr)
        kinds.extend([SEARCH] * (len(tr) - 1))
    xy = np.asarray(pts)
    poly = line.buffer(width_m / 2.0, cap_style="flat", join_style="mitre")
    photos, heads = photos_along(tracks, trigger_distance_m)
    return (
        PathPlan(
            xy,
            np.asarray(kinds, dtype=np.int8),
            epsg,
            photos,
            heads,
            info={"spacing_m": spacing_m, "tracks": len(tracks), "width_m": width_m},
        ),
        poly,
    )


def perimeter_path(
    area: Polygon | MultiPolygon,
    epsg: int,
    spacing_m: float,
    *,
    start_xy: tuple[float, float] | None = None,
    trigger_distance_m: float | None = None,
    router: InsideRouter | None = None,
    max_rings: int = 1000,
) -> PathPlan:
    """Perimeter spiral: rings offset inward by S/2, 3S/2, ... flown outside-in."""
    if spacing_m <= 0:
        raise BadInputError(
            _("spacing must be positive, got {spacing_m} m").format(spacing_m=spacing_m)
        )
    router = router or InsideRouter(routing_domain(area))
    rings: list[FloatArray] = []
    d = spacing_m / 2.0
    for _ring in range(max_rings):
        g = area.buffer(-d, join_style="mitre")
        if g.is_empty:
            break
        for p in shapely.get_parts(g):
            if isinstance(p, Polygon) and not p.is_empty:
                rings.extend(np.asarray(r.coords) for r in (p.exterior, *p.interiors))
        d += spacing_m
    if not rings:  # smaller than the spacing: fly its centre line
        c = area.representative_point()
        rings = [np.array([[c.x, c.y], [c.x, c.y]])]
    pos = np.asarray(start_xy if start_xy is not None else rings[0][0], dtype=np.float64)
    pts: list[FloatArray] = [pos[None]]
    kinds: list[int] = []
    flown: list[FloatArray] = []
    for ring in rings:
        core = ring[:-1] if len(ring) > 2 else ring
        i = int(np.argmin(np.hypot(*(core - pos).T)))
        ordered = np.concatenate([core[i:], core[:i], core[i : i + 1]])
        if np.hypot(*(ordered[0] - pos)) > 1e-9:
            leg = router.route(pos, ordered[0])
            pts.append(leg[1:])
            kinds.extend([TURN] * (len(leg) - 1))
        pts.append(ordered[1:])
        kinds.extend([SEARCH] * (len(ordered) - 1))
        flown.append(ordered)
        pos = ordered[-1]
    photos, heads = photos_along(flown, trigger_distance_m)
    return PathPlan(
        np.concatenate(pts),
        np.asarray(kinds, dtype=np.int8),
        epsg,
        photos,
        heads,
        info={"spacing_m": spacing_m, "rings": len(rings)},
    )


def photos_along(
    polylines: list[FloatArray], trigger_m: float | None
) -> tuple[FloatArray, FloatArray]:
    """Photo positions every ``trigger_m`` along each polyline (plus its end) and headings."""
    if trigger_m is None or not polylines:
        return np.zeros((0, 2)), np.zeros(0)
    if trigger_m <= 0:
        raise BadInputError(
            _("trigger distance must be positive, got {trigger_m} m").format(trigger_m=trigger_m)
        )
    xs: list[FloatArray] = []
    hs: list[FloatArray] = []
    for pl in polylines:
        if len(pl) < 2:
            continue
        line = LineString(pl)
        s = np.arange(0.0, line.length + 1e-9, trigger_m)
        if line.length - s[-1] > 1e-3:
            s = np.append(s, line.length)
        p = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
        q = shapely.get_coordinates(
            shapely.line_interpolate_point(line, np.minimum(s + 0.5, line.length))
        )
        r = shapely.get_coordinates(shapely.line_interpolate_point(line, np.maximum(s - 0.5, 0)))
        d = q - r
        xs.append(p)
        hs.append(np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0)
    if not xs:
        return np.zeros((0, 2)), np.zeros(0)
    return np.concatenate(xs), np.concatenate(hs)
