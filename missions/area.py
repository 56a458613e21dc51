"""Search-area input: read, check, repair and project a polygon area.

Accepted inputs (:func:`load_area` for files, :func:`parse_area` for text/objects):

* GeoJSON ``Polygon``/``MultiPolygon`` (holes included), ``Feature``, ``FeatureCollection``
  (all polygonal features are merged), with an optional legacy ``crs`` member;
* KML (``Polygon`` with ``outerBoundaryIs``/``innerBoundaryIs``) and KMZ (zipped KML);
* WKT ``POLYGON``/``MULTIPOLYGON`` (optionally ``SRID=nnnn;`` prefixed, EWKT);
* coordinate lists: ``"lat,lon; lat,lon; ..."`` or one coordinate per line (any format
  :func:`dronekit_plzen.geo.parse_coordinate` reads), or a sequence of ``(x, y)`` pairs.

Coordinates may be in any CRS; with no CRS given, lon/lat values are taken as WGS84 and negative
metre values inside the Czech extent as S-JTSK (EPSG:5514). Anything else raises
:class:`~dronekit_plzen.errors.UnknownCRSError`.

Problems are reported before any shapely object is built, naming the polygon, ring and vertex
(and the crossing point in lon/lat for self-intersections): :class:`InvalidAreaError` carries the
list of :class:`AreaProblem`. :func:`repair_rings`/:func:`load_area(..., repair=True)` fix them
and say what changed.

Example
-------
>>> a = parse_area("POLYGON((13.37 49.74, 13.38 49.74, 13.38 49.75, 13.37 49.75, 13.37 49.74))")
>>> a.crs_epsg, round(a.area_m2 / 1e6, 3)
(4326, 0.801)
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError, UnknownCRSError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import json_int, read_input_bytes, read_reason, read_zip_member
from dronekit_plzen.outputs import note_input
from missions.area_readers import (
    _NUM,
    RawPolygon,
    _closed,
    _coordinate_list,
    _geojson_polygons,
    _kml_polygons,
    _wkt_polygons,
)

SPIKE_ANGLE_DEG = 1.0


@dataclass(frozen=True)
class AreaProblem:
    """One defect of an input area. ``lon``/``lat`` locate it (WGS84) when known."""

    kind: str  # "too-few-points" | "unclosed-ring" | "zero-area" | "spike" | "self-intersection"
    # | "duplicate-point" | "hole-outside" | "invalid"
    message: str
    polygon: int = 0
    ring: int = 0  # 0 = exterior, k = k-th hole
    vertex: int | None = None
    lon: float | None = None
    lat: float | None = None

    def __str__(self) -> str:
        parts = [_("polygon {n}").format(n=self.polygon + 1)] if self.polygon else []
        parts.append(_("exterior ring") if self.ring == 0 else _("hole {n}").format(n=self.ring))
        if self.vertex is not None:
            parts.append(_("vertex {n}").format(n=self.vertex + 1))
        where = ", ".join(parts)
        if self.lon is not None and self.lat is not None:
            where += " " + _("at lon {lon:.7f}, lat {lat:.7f}").format(lon=self.lon, lat=self.lat)
        return f"{self.message} ({where})"


class InvalidAreaError(BadInputError):
    """The search area geometry is invalid; ``problems`` lists every defect found."""

    def __init__(self, problems: Sequence[AreaProblem], *, where: str | None = None) -> None:
        self.problems = list(problems)
        msg = "invalid search area: " + "; ".join(str(p) for p in self.problems)
        msg += " (use repair to fix it)"
        super().__init__(msg, where=where)


@dataclass(frozen=True)
class Area:
    """A valid polygonal search area.

    ``geom_lonlat`` is a shapely Polygon or MultiPolygon in WGS84 lon/lat; ``crs_epsg`` the CRS
    the input was given in (``None`` when it has no EPSG code: ``crs_wkt`` then holds it);
    ``repairs`` describes what :func:`repair_rings` changed (empty when nothing was needed).
    """

    geom_lonlat: Polygon | MultiPolygon
    crs_epsg: int | None = geo.WGS84
    crs_wkt: str | None = None
    repairs: tuple[str, ...] = ()
    name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: what the reader changed that the user should know, one line each (a dense boundary
    #: simplified for planning)
    warnings: tuple[str, ...] = ()

    @property
    def metric_epsg(self) -> int:
        """UTM zone EPSG for planning (the zone of the area's bounding-box centre)."""
        x0, y0, x1, y1 = self.geom_lonlat.bounds
        return geo.utm_epsg_for((x0 + x1) / 2.0, (y0 + y1) / 2.0)

    def to_metric(self, epsg: int | None = None) -> tuple[Polygon | MultiPolygon, int]:
        """The area projected to ``epsg`` (default: :attr:`metric_epsg`), and that EPSG."""
        code = epsg or self.metric_epsg
        return project_geometry(self.geom_lonlat, geo.WGS84, code), code

    @property
    def area_m2(self) -> float:
        g, _ = self.to_metric()
        return float(g.area)

    @property
    def polygons(self) -> list[Polygon]:
        g = self.geom_lonlat
        return list(g.geoms) if isinstance(g, MultiPolygon) else [g]


def project_geometry(geom: Any, src: Any, dst: Any) -> Any:
    """Reproject any shapely geometry (vectorised over all its coordinates)."""
    coords = shapely.get_coordinates(geom)
    if coords.size == 0:
        return geom
    x, y = geo.transform(coords[:, 0], coords[:, 1], src, dst)
    return shapely.set_coordinates(geom, np.column_stack([x, y]))


def to_lonlat(geom: Any, epsg: int) -> Any:
    """Metric geometry in ``epsg`` → WGS84 lon/lat."""
    return project_geometry(geom, epsg, geo.WGS84)


# ----------------------------------------------------------------------------- CRS detection


def detect_crs(xy: np.ndarray) -> int:
    """Guess the CRS of coordinates with no declared CRS: 4326 for lon/lat, 5514 for S-JTSK.

    Raises :class:`UnknownCRSError` for anything else (projected metres of unknown zone).
    """
    if xy.size == 0:
        raise BadInputError(_("empty area: no coordinates"))
    x, y = xy[:, 0], xy[:, 1]
    if np.all(np.abs(x) <= 180.0) and np.all(np.abs(y) <= 90.0):
        return geo.WGS84
    if np.all((x > -950_000) & (x < -400_000)) and np.all((y > -1_300_000) & (y < -900_000)):
        return geo.SJTSK
    i = int(np.argmax((np.abs(x) > 180.0) | (np.abs(y) > 90.0)))
    raise UnknownCRSError(
        _(
            "coordinate ({x:g}, {y:g}) is not WGS84 lon/lat and no CRS was given; "
            "name the CRS (for example EPSG:32633 or EPSG:5514)"
        ).format(x=x[i], y=y[i])
    )


def _epsg_of(crs: Any) -> tuple[int | None, str | None]:
    c = geo.as_crs(crs)
    code = c.to_epsg(min_confidence=70)
    return (int(code), None) if code else (None, c.to_wkt())


# ----------------------------------------------------------------------------- parsing


def parse_area(
    source: Any,
    *,
    crs: Any = None,
    fmt: str | None = None,
    repair: bool = False,
    where: str = "area",
) -> Area:
    """Build an :class:`Area` from text (GeoJSON, KML, WKT, coordinate list), a GeoJSON dict,
    a shapely geometry or a sequence of ``(x, y)`` pairs.

    ``crs`` overrides the CRS (EPSG code, ``"EPSG:5514"``, WKT); otherwise it is read from the
    input (GeoJSON ``crs``, EWKT ``SRID``) or detected (:func:`detect_crs`). ``fmt`` forces
    ``"geojson"``, ``"kml"``, ``"wkt"`` or ``"coords"``. Raises :class:`InvalidAreaError` listing
    the defects unless ``repair`` is true, in which case :attr:`Area.repairs` says what changed.
    """
    declared: Any = None
    polys: list[RawPolygon]
    if isinstance(source, BaseGeometry):
        polys = _shapely_rings(source, where)
    elif isinstance(source, dict):
        polys, declared = _geojson_polygons(source, where)
    elif isinstance(source, (bytes, str)):
        text = _decode(source, where) if isinstance(source, bytes) else source
        s = text.lstrip()
        kind = fmt or (
            "geojson"
            if s.startswith("{")
            else "kml"
            if s.startswith("<")
            else "wkt"
            if re.match(r"(?i)(SRID=\d+;)?\s*(MULTI)?POLYGON", s)
            else "coords"
        )
        if kind == "geojson":
            try:
                obj = json.loads(text, parse_int=json_int)
            except json.JSONDecodeError as exc:
                raise BadInputError(
                    _("not valid JSON: {msg} at line {lineno} column {colno}").format(
                        msg=exc.msg, lineno=exc.lineno, colno=exc.colno
                    ),
                    where=where,
                ) from exc
            except RecursionError as exc:
                raise BadInputError(_("JSON nested too deeply"), where=where) from exc
            polys, declared = _geojson_polygons(obj, where)
        elif kind == "kml":
            polys, declared = _kml_polygons(text, where), geo.WGS84
        elif kind == "wkt":
            polys, declared = _wkt_polygons(text, where)
        elif kind == "coords":
            polys, declared = _coordinate_list(text, where), geo.WGS84
        else:
            raise BadInputError(_("unknown area format {fmt!r}").format(fmt=fmt), where=where)
    elif isinstance(source, (Sequence, np.ndarray)):
        arr = np.asarray(source, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise BadInputError(_("a coordinate list needs (x, y) pairs"), where=where)
        polys = [[_closed([(float(a), float(b)) for a, b in arr[:, :2]])]]
    else:
        raise BadInputError(
            _("cannot read an area from {type_name}").format(type_name=type(source).__name__),
            where=where,
        )
    return _finish(polys, crs if crs is not None else declared, repair, where)


def load_area(path: str | Path, *, crs: Any = None, repair: bool = False) -> Area:
    """Read an area file: ``.geojson``/``.json``, ``.kml``, ``.kmz``, ``.wkt``, ``.txt``/``.csv``
    (coordinate list). See :func:`parse_area` for ``crs`` and ``repair``."""
    note_input(path)  # never replaced by an output of the same command
    p = Path(path)
    where = str(p)
    try:
        data = read_input_bytes(p)
    except OSError as exc:
        raise BadInputError(
            _("cannot read the area file: {strerror}").format(strerror=read_reason(exc)),
            where=where,
        ) from exc
    suffix = p.suffix.lower()
    if suffix == ".kmz":
        try:
            with zipfile.ZipFile(p) as z:
                names = [n for n in z.namelist() if n.lower().endswith(".kml")]
                if not names:
                    raise BadInputError(_("KMZ contains no .kml file"), where=where)
                main = "doc.kml" if "doc.kml" in names else names[0]
                data = read_zip_member(z, main, where)
        except zipfile.BadZipFile as exc:
            raise BadInputError(
                _("not a valid KMZ (zip) file: {exc}").format(exc=exc), where=where
            ) from exc
        suffix = ".kml"
    fmt = {
        ".geojson": "geojson",
        ".json": "geojson",
        ".kml": "kml",
        ".wkt": "wkt",
    }.get(suffix)
    area = parse_area(data, crs=crs, fmt=fmt, repair=repair, where=where)
    return replace(area, name=p.stem)


def _shapely_rings(g: BaseGeometry, where: str) -> list[RawPolygon]:
    if isinstance(g, Polygon):
        rings = [g.exterior, *g.interiors]
        return [[[(float(c[0]), float(c[1])) for c in r.coords] for r in rings]]
    if isinstance(g, MultiPolygon):
        return [r for p in g.geoms for r in _shapely_rings(p, where)]
    raise BadInputError(
        _("a {geom_type} is not a polygon area").format(geom_type=g.geom_type), where=where
    )


# ----------------------------------------------------------------------------- checking


def _lonlat_fn(crs: Any) -> Any:
    def f(x: float, y: float) -> tuple[float, float]:
        lo, la = geo.transform([x], [y], crs, geo.WGS84)
        return float(lo[0]), float(la[0])

    return f


def check_rings(polys: list[RawPolygon], crs: Any = geo.WGS84) -> list[AreaProblem]:
    """Every defect of raw rings (coordinates in ``crs``), located in lon/lat."""
    ll = _lonlat_fn(crs)
    probs: list[AreaProblem] = []
    for pi, rings in enumerate(polys):
        for ri, ring in enumerate(rings):
            what = "exterior ring" if ri == 0 else "hole"
            pts = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
            closed = len(pts) >= 2 and np.array_equal(pts[0], pts[-1])
            core = pts[:-1] if closed else pts
            distinct = _distinct_up_to_3(core)
            if distinct < 3:
                lon, lat = ll(*pts[0]) if len(pts) else (None, None)
                probs.append(
                    AreaProblem(
                        "too-few-points",
                        f"{what} has {distinct} distinct points, a polygon needs at least 3",
                        pi,
                        ri,
                        None,
                        lon,
                        lat,
                    )
                )
                continue
            if not closed:
                lon, lat = ll(*pts[-1])
                probs.append(
                    AreaProblem(
                        "unclosed-ring",
                        f"{what} is not closed (last point differs from the first)",
                        pi,
                        ri,
                        len(pts) - 1,
                        lon,
                        lat,
                    )
                )
            dup = np.flatnonzero(np.all(core == np.roll(core, -1, axis=0), axis=1))
            for v in dup[:3]:
                lon, lat = ll(*core[v])
                probs.append(
                    AreaProblem("duplicate-point", "repeated vertex", pi, ri, int(v), lon, lat)
                )
            for v in _spikes(core):
                lon, lat = ll(*core[v])
                probs.append(
                    AreaProblem(
                        "spike",
                        "spike: the boundary goes out and straight back",
                        pi,
                        ri,
                        int(v),
                        lon,
                        lat,
                    )
                )
            if _collinear(core):
                lon, lat = ll(*core[0])
                probs.append(
                    AreaProblem(
                        "zero-area",
                        f"{what} has zero area (all points on a line)",
                        pi,
                        ri,
                        None,
                        lon,
                        lat,
                    )
                )
    if probs:
        return probs
    # topology: self-intersections, holes outside, ...
    for pi, rings in enumerate(polys):
        poly = _polygon(rings)
        if poly.is_valid:
            continue
        reason = explain_validity(poly)
        m = re.search(r"\[\s*(" + _NUM + r")\s+(" + _NUM + r")\s*\]", reason)
        lon = lat = None
        if m:
            lon, lat = ll(float(m.group(1)), float(m.group(2)))
        kind = (
            "self-intersection"
            if "elf-intersection" in reason
            else "hole-outside"
            if "Hole lies outside" in reason
            else "invalid"
        )
        text = reason.split("[")[0].strip()
        label = {
            "self-intersection": "the boundary crosses itself",
            "hole-outside": "a hole lies outside the exterior ring",
        }.get(kind, text)
        probs.append(AreaProblem(kind, f"{label} ({text})", pi, 0, None, lon, lat))
    return probs


def _polygon(rings: RawPolygon) -> Polygon:
    """A shapely polygon of raw rings, built from arrays (from lists of tuples shapely walks
    every point in Python: 13 s for a ring of 2 million vertices)."""
    return Polygon(
        np.asarray(rings[0], dtype=np.float64).reshape(-1, 2),
        [np.asarray(h, dtype=np.float64).reshape(-1, 2) for h in rings[1:]],
    )


def _distinct_up_to_3(p: np.ndarray) -> int:
    """How many distinct points ``p`` holds, counted up to 3 (all a ring check needs; sorting
    2 million points to count them all took seconds)."""
    if len(p) == 0:
        return 0
    other = np.any(p != p[0], axis=1)
    if not other.any():
        return 1
    second = p[int(np.argmax(other))]
    return 3 if bool(np.any(other & np.any(p != second, axis=1))) else 2


def _shoelace(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _collinear(p: np.ndarray) -> bool:
    """True when all points lie on one line (zero area whatever the order)."""
    c = p - p.mean(axis=0)
    scale = float(np.abs(c).max())
    if scale == 0.0:
        return True
    sv = np.linalg.svd(c / scale, compute_uv=False)
    return bool(sv[-1] <= 1e-9 * sv[0])


def _spikes(core: np.ndarray) -> list[int]:
    """Vertices where the boundary turns back by nearly 180° (a zero-width spike)."""
    if len(core) < 3:
        return []
    a = np.roll(core, 1, axis=0) - core
    b = np.roll(core, -1, axis=0) - core
    na = np.hypot(a[:, 0], a[:, 1])
    nb = np.hypot(b[:, 0], b[:, 1])
    ok = (na > 0) & (nb > 0)
    cosang = np.where(ok, np.sum(a * b, axis=1) / np.where(ok, na * nb, 1.0), -1.0)
    ang = np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))
    return [int(i) for i in np.flatnonzero(ok & (ang < SPIKE_ANGLE_DEG))]


def repair_rings(polys: list[RawPolygon]) -> tuple[Polygon | MultiPolygon, list[str]]:
    """Fix raw rings and describe every change (closing, duplicates, spikes, crossings)."""
    notes: list[str] = []
    fixed: list[Polygon] = []
    for pi, rings in enumerate(polys):
        clean: list[np.ndarray] = []
        for ri, ring in enumerate(rings):
            what = ("exterior ring" if ri == 0 else f"hole {ri}") + (
                f" of polygon {pi + 1}" if len(polys) > 1 else ""
            )
            pts = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
            if len(pts) >= 2 and not np.array_equal(pts[0], pts[-1]):
                notes.append(f"closed the {what}")
            elif len(pts) >= 2:
                pts = pts[:-1]
            keep = np.ones(len(pts), dtype=bool)
            keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
            if (~keep).any():
                notes.append(f"removed {int((~keep).sum())} repeated vertices from the {what}")
            pts = pts[keep]
            removed = 0
            while len(pts) >= 3:
                sp = _spikes(pts)
                if not sp:
                    break
                pts = np.delete(pts, sp[0], axis=0)
                removed += 1
            if removed:
                notes.append(f"removed {removed} spike vertices from the {what}")
            if _distinct_up_to_3(pts) < 3 or _collinear(pts):
                notes.append(f"dropped the {what}: fewer than 3 points or zero area")
                if ri == 0:
                    break
                continue
            clean.append(pts)
        if not clean or len(clean[0]) < 3:
            continue
        poly = Polygon(clean[0], clean[1:])
        if not poly.is_valid:
            reason = explain_validity(poly)
            mv = shapely.make_valid(poly)
            parts = [g for g in shapely.get_parts(mv) if isinstance(g, Polygon) and g.area > 0]
            notes.append(
                f"made polygon {pi + 1} valid ({reason.replace('[', ' at [')} in input "
                f"coordinates): it is now {len(parts)} polygon(s), "
                f"{100.0 * sum(g.area for g in parts) / max(abs(_shoelace(clean[0])), 1e-300):.0f}"
                " % of the signed input area"
                if _shoelace(clean[0]) != 0
                else f"made polygon {pi + 1} valid ({reason.replace('[', ' at [')} in input "
                f"coordinates): it is now {len(parts)} polygon(s)"
            )
            fixed.extend(parts)
        else:
            fixed.append(poly)
    if not fixed:
        raise InvalidAreaError(
            [AreaProblem("zero-area", "nothing of the area is left after repair")]
        )
    u = shapely.union_all(fixed) if len(fixed) > 1 else fixed[0]
    geom = _polygonal(u)
    return geom, notes


def _polygonal(g: BaseGeometry) -> Polygon | MultiPolygon:
    if isinstance(g, (Polygon, MultiPolygon)):
        return g
    parts = [p for p in shapely.get_parts(g) if isinstance(p, Polygon)]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _decode(data: bytes, where: str) -> str:
    """UTF-8 text of an area file (a BOM is fine); anything else is named, not a traceback."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(
            _("not a UTF-8 text file (byte 0x{b:02x} at offset {o}): is it really {kind}?").format(
                b=data[exc.start], o=exc.start, kind=_("GeoJSON, KML, WKT or a coordinate list")
            ),
            where=where,
        ) from exc


#: largest area the planner accepts (km²): 20 km around a launch point is about 1,260 km²
MAX_AREA_KM2 = 2_000.0
#: smallest area accepted (m²): anything smaller is a unit or coordinate mistake (a 1 cm² area
#: came out as a "survey" of two photos at one point); to photograph one spot, plan a waypoint
MIN_AREA_M2 = 1.0
#: vertices an area may have at all: more is refused before any geometry is built (2 million
#: vertices already take about 1 GB while they are read)
MAX_AREA_VERTICES = 5_000_000
#: an area of more vertices is simplified for planning (Douglas-Peucker, topology kept) within
#: :data:`SIMPLIFY_TOLERANCE_M` metres of its boundary, with a warning saying so: far below any
#: sensor's swath or a drone's position error, and planning time grows faster than the vertex
#: count (2 million vertices planned for minutes)
SIMPLIFY_ABOVE_VERTICES = 10_000
SIMPLIFY_TOLERANCE_M = 0.1
#: vertices an area may still have once simplified: beyond that it is refused
MAX_PLAN_VERTICES = 100_000


def _finish(polys: list[RawPolygon], crs: Any, repair: bool, where: str) -> Area:
    try:
        return _finish_checked(polys, crs, repair, where)
    except BadInputError as exc:
        if exc.where is None:  # a helper that does not know the file: name it here
            exc.where = where
        raise


def _finish_checked(polys: list[RawPolygon], crs: Any, repair: bool, where: str) -> Area:
    count = sum(len(r) for rings in polys for r in rings)
    if count > MAX_AREA_VERTICES:
        raise BadInputError(
            _(
                "the area has {n:,} vertices, more than {max:,}: simplify it first (for "
                "example with ogr2ogr -simplify 0.1 in a metric CRS)"
            ).format(n=count, max=MAX_AREA_VERTICES),
            where=where,
        )
    flat = np.asarray([pt for rings in polys for r in rings for pt in r], dtype=np.float64)
    flat = flat.reshape(-1, 2)
    bad_xy = np.flatnonzero(~np.all(np.isfinite(flat), axis=1))
    if bad_xy.size:
        x, y = flat[bad_xy[0]]
        raise BadInputError(
            _(
                "the area has a non-finite coordinate (NaN or infinity): {vertex} is ({x}, {y})"
            ).format(vertex=_vertex_name(polys, int(bad_xy[0])), x=x, y=y),
            where=where,
        )
    if crs is None:
        crs = detect_crs(flat)
    epsg, wkt = _epsg_of(crs)
    src = epsg if epsg is not None else wkt
    if epsg == geo.WGS84:
        bad = np.flatnonzero((np.abs(flat[:, 0]) > 180) | (np.abs(flat[:, 1]) > 90))
        if bad.size:
            x, y = flat[bad[0]]
            raise BadInputError(
                _("coordinate ({x:g}, {y:g}) is out of lon/lat range").format(x=x, y=y), where=where
            )
    problems = check_rings(polys, src)
    notes: list[str] = []
    if problems:
        if not repair:
            raise InvalidAreaError(problems, where=where)
        geom, notes = repair_rings(polys)
    else:
        geom = _polygonal(
            MultiPolygon([_polygon(r) for r in polys]) if len(polys) > 1 else _polygon(polys[0])
        )
        if isinstance(geom, MultiPolygon) and not geom.is_valid:
            if not repair:
                raise InvalidAreaError(
                    [AreaProblem("invalid", "polygons overlap (" + explain_validity(geom) + ")")],
                    where=where,
                )
            geom = _polygonal(shapely.union_all(list(geom.geoms)))
            notes.append("merged overlapping polygons")
    geom_ll = project_geometry(geom, src, geo.WGS84) if epsg != geo.WGS84 else geom
    geom_ll = shapely.normalize(geom_ll) if not geom_ll.is_valid else geom_ll
    if not geom_ll.is_valid or geom_ll.area == 0:
        raise InvalidAreaError(
            [AreaProblem("invalid", "the area is not a valid polygon after projection")],
            where=where,
        )
    area = Area(geom_ll, epsg, wkt, tuple(notes))
    _check_extent(area, where)
    area = _simplified(area, where)
    if epsg == geo.WGS84:
        _check_not_swapped(area, where)
    return area


#: the unit's home region (Czechia with a margin), lon/lat: only used to recognise swapped input
HOME_REGION_LONLAT = (11.8, 48.4, 19.2, 51.2)


def _in_region(x0: float, y0: float, x1: float, y1: float) -> bool:
    rx0, ry0, rx1, ry1 = HOME_REGION_LONLAT
    return rx0 <= x0 and x1 <= rx1 and ry0 <= y0 and y1 <= ry1


def _check_not_swapped(area: Area, where: str) -> None:
    """Refuse lon/lat given as lat/lon: outside the home region, but inside it when swapped.

    GeoJSON and WKT are (longitude, latitude); a list copied from a map as "49.74, 13.37" is the
    other way round and lands in the Gulf of Aden. Elsewhere in the world nothing is assumed.
    """
    x0, y0, x1, y1 = area.geom_lonlat.bounds
    if not _in_region(x0, y0, x1, y1) and _in_region(y0, x0, y1, x1):
        raise BadInputError(
            _(
                "the area lies at {lat:.4f}, {lon:.4f} (lat, lon), far from the Czech Republic, "
                "but at {lon:.4f}, {lat:.4f} when swapped: latitude and longitude swapped? "
                "(GeoJSON and WKT are longitude first)"
            ).format(lat=(y0 + y1) / 2, lon=(x0 + x1) / 2),
            where=where,
        )


def _vertex_name(polys: list[RawPolygon], k: int) -> str:
    """The ``k``-th point of all the rings in order, named: "vertex 3 of hole 1 of polygon 2"."""
    for pi, rings in enumerate(polys):
        for ri, ring in enumerate(rings):
            if k < len(ring):
                what = (
                    _("vertex {v} of the exterior ring").format(v=k + 1)
                    if ri == 0
                    else _("vertex {v} of hole {h}").format(v=k + 1, h=ri)
                )
                if len(polys) > 1:
                    what = _("{what} of polygon {p}").format(what=what, p=pi + 1)
                return what
            k -= len(ring)
    return _("vertex {v} of the exterior ring").format(v=k + 1)


def _simplified(area: Area, where: str) -> Area:
    """The area with at most :data:`SIMPLIFY_ABOVE_VERTICES` vertices left as it is; a denser
    one simplified within :data:`SIMPLIFY_TOLERANCE_M` of its boundary, with a warning."""
    n = int(shapely.get_num_coordinates(area.geom_lonlat))
    if n <= SIMPLIFY_ABOVE_VERTICES:
        return area
    metric, code = area.to_metric()
    # plain Douglas-Peucker is 25 times faster; the topology-keeping variant only when it broke
    # the polygon (a narrow neck or a hole closer to the boundary than the tolerance)
    simple = shapely.simplify(metric, SIMPLIFY_TOLERANCE_M, preserve_topology=False)
    if simple.is_empty or not simple.is_valid:
        simple = shapely.simplify(metric, SIMPLIFY_TOLERANCE_M, preserve_topology=True)
    m = int(shapely.get_num_coordinates(simple))
    if m > MAX_PLAN_VERTICES:
        raise BadInputError(
            _(
                "the area has {n:,} vertices, still {m:,} when simplified to {tol:g} m (at most "
                "{max:,}): split it into smaller areas or simplify it further"
            ).format(n=n, m=m, tol=SIMPLIFY_TOLERANCE_M, max=MAX_PLAN_VERTICES),
            where=where,
        )
    geom = to_lonlat(simple, code)
    if not geom.is_valid:  # the way back to lon/lat moved two close vertices across
        geom = shapely.make_valid(geom)
    note = _(
        "{where}: the area's {n:,} vertices were simplified to {m:,} for planning (the boundary "
        "moved at most {tol:g} m, far below any sensor's swath)"
    ).format(where=where, n=n, m=m, tol=SIMPLIFY_TOLERANCE_M)
    return replace(area, geom_lonlat=_polygonal(geom), warnings=(*area.warnings, note))


def _check_extent(area: Area, where: str) -> None:
    """Refuse an area no drone mission could cover (wrong CRS, swapped or garbage coordinates)."""
    x0, y0, x1, y1 = area.geom_lonlat.bounds
    km2 = area.area_m2 / 1e6 if (x1 - x0) < 20 and (y1 - y0) < 20 else math.inf
    if km2 * 1e6 < MIN_AREA_M2:
        raise BadInputError(
            _(
                "the area is only {a:.2g} m², smaller than {min:g} m²: wrong units or "
                "coordinates? (to photograph one spot, plan a waypoint)"
            ).format(a=km2 * 1e6, min=MIN_AREA_M2),
            where=where,
        )
    if km2 > MAX_AREA_KM2:
        size = (
            _("{w:.1f}° × {h:.1f}°").format(w=x1 - x0, h=y1 - y0)
            if km2 == math.inf
            else (_("{a:,.0f} km²").format(a=km2))
        )
        raise BadInputError(
            _(
                "the area is too large for a drone mission ({size}, at most {max:,.0f} km²): "
                "wrong CRS or coordinates?"
            ).format(size=size, max=MAX_AREA_KM2),
            where=where,
        )


def area_from_metric(geom: Polygon | MultiPolygon, epsg: int, name: str = "") -> Area:
    """Wrap a metric polygon (e.g. a part from :mod:`missions.split`) as an :class:`Area`."""
    return Area(_polygonal(to_lonlat(geom, epsg)), geo.WGS84, None, (), name=name)


def describe(problems: Sequence[AreaProblem]) -> str:
    """One line per problem (for CLI output)."""
    return "\n".join(str(p) for p in problems)
