"""Probability-of-area (POA) map around a last known position from lost-person statistics.

Ring model
----------
Source: Robert J. Koester, *Lost Person Behavior: A Search and Rescue Guide on Where to Look -
for Land, Air and Water*, dbS Productions, Charlottesville VA, 2008 (ISBN 978-1-879471-39-9),
the subject-category tables "Distance from IPP" built from the International Search & Rescue
Incident Database (ISRID). For each subject category and terrain the book gives the straight-line
distance from the initial planning point (IPP, here the LKP) within which 25 %, 50 %, 75 % and
95 % of the subjects were found (:data:`RING_TABLE`, kilometres).

The distance distribution is the piecewise-linear CDF through ``(0, 0), (q25, .25), (q50, .50),
(q75, .75), (q95, .95)``, continued beyond q95 with the q75→q95 slope until it reaches 1. Each
ring's probability is spread evenly over the ring's area (no preferred direction), so the density
at distance ``r`` is ``F'(r) / (2 π r)``. Cells take the density integrated over their area
(``SUPERSAMPLE``² points per cell); the map is cut at ``radius_m`` (default: the q95 distance)
and normalised to sum to 1.

Features (optional, ``--features``)
-----------------------------------
Koester 2008 also tabulates *where* subjects were found (the "find location" tables: on a
road, a trail or other linear feature, in a drainage, in woodland, ...). Linear features are a
tiny part of the area but hold a large share of the finds, so the map puts a fixed share of the
probability on each kind of feature present (:data:`FIND_SHARES`, spread over the feature's band
by the ring density) and the rest on the remaining ground, again by the ring density. The shares
used are the all-category find-location proportions as transcribed in the SAREnv benchmark
(``sarenv/utils/lost_person_behavior.py``, ``FEATURE_PROBABILITIES``, after Koester 2008):
linear feature (path, trail) 25 %, road 13 %, drainage (stream) 12 %, woodland 7 %. A share
whose feature kind is absent from the map goes to the remaining ground. Forest edges (±20 m)
weigh ×1.5 within the ground share (a planning assumption: subjects rest at edges and cover is
thin there); water bodies and cliff bands (±10 m) are excluded (0: not searchable for a person on
the ground from the air; the water-search category is separate). A feature's kind is read from a
``kind`` property (``path``, ``road``, ``stream``, ``forest``, ``water``, ``cliff``) or from
OpenStreetMap tags (``highway``, ``waterway``, ``natural``, ``landuse``).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import json_int
from dronekit_plzen.outputs import note_input

FloatArray = NDArray[np.float64]

#: (subject, terrain) → distance from the IPP in km within which 25/50/75/95 % were found
#: (Koester 2008, ISRID, the "Distance from IPP" table of each subject category; the book
#: prints each figure in miles and km, these are the km). Terrain: "mountain"/"flat" =
#: temperate climate, "dry-*" = dry climate, "urban". Rows are those that two independent
#: public transcriptions of the tables give alike (a SAR planning library's ``LPB`` distance
#: table and a lost-person-behaviour app's profile table with the case counts ``n``); where
#: they differ, the book's pairing of miles and km decides: dementia flat 50 % is 0.6 mi =
#: 1.0 km (one transcription has 0.8). Case counts (n) from the latter, for judging a row.
#: An earlier version of this table was wrong for every category but hiker: miles read as
#: km (dementia, child 1-3), another terrain's row (child 4-6 urban as mountain) and
#: despondent rows matching neither transcription.
RING_TABLE: dict[tuple[str, str], tuple[float, float, float, float]] = {
    ("hiker", "mountain"): (1.1, 3.1, 5.8, 18.3),  # n = 568
    ("hiker", "flat"): (0.6, 1.8, 3.2, 9.9),  # n = 274
    ("hiker", "dry-mountain"): (1.6, 3.2, 6.5, 19.3),  # n = 221
    ("hiker", "dry-flat"): (1.3, 2.1, 6.6, 13.1),  # n = 58
    ("child-1-3", "mountain"): (0.2, 0.3, 0.6, 4.5),  # n = 58
    ("child-1-3", "flat"): (0.2, 0.3, 1.0, 3.2),  # n = 61
    ("child-4-6", "mountain"): (0.2, 0.8, 1.5, 3.7),  # n = 38
    ("child-4-6", "flat"): (0.2, 0.6, 1.5, 6.6),  # n = 90
    ("child-4-6", "urban"): (0.1, 0.5, 1.0, 3.4),  # n = 25
    ("child-7-9", "mountain"): (0.8, 1.6, 3.2, 11.3),  # n = 38
    ("child-7-9", "flat"): (0.2, 0.8, 2.0, 8.0),  # n = 79
    ("child-7-9", "urban"): (0.2, 0.5, 1.5, 5.2),  # n = 22
    ("child-10-12", "mountain"): (0.8, 1.6, 3.2, 9.0),  # n = 72
    ("child-10-12", "flat"): (0.4, 1.6, 4.8, 10.0),  # n = 57
    ("child-10-12", "urban"): (0.3, 1.5, 2.9, 5.8),  # n = 18
    ("child-13-15", "mountain"): (0.8, 2.1, 4.8, 21.4),  # n = 74
    ("child-13-15", "flat"): (0.6, 1.3, 3.2, 10.0),  # n = 80
    ("dementia", "mountain"): (0.3, 0.8, 1.9, 8.3),  # n = 95
    ("dementia", "flat"): (0.3, 1.0, 2.4, 12.8),  # n = 175
    ("dementia", "urban"): (0.3, 1.1, 3.2, 12.6),  # n = 336
    ("despondent", "mountain"): (0.3, 1.1, 3.2, 21.6),  # n = 103
    ("despondent", "flat"): (0.3, 0.8, 2.3, 17.3),  # n = 193
    ("despondent", "urban"): (0.1, 0.5, 1.5, 13.1),  # n = 96
    ("autistic", "flat"): (0.6, 1.6, 3.7, 15.2),  # n = 20
    ("autistic", "urban"): (0.3, 1.0, 3.8, 8.0),  # n = 16
    ("mental-illness", "mountain"): (0.6, 2.3, 8.3, 14.6),  # n = 23
    ("mental-illness", "flat"): (0.8, 1.0, 2.3, 8.1),  # n = 23
    ("mental-illness", "urban"): (0.3, 0.6, 1.5, 12.5),  # n = 38
    ("intellectual-disability", "mountain"): (0.6, 1.6, 3.2, 11.3),  # n = 31
    ("intellectual-disability", "flat"): (0.3, 1.0, 2.1, 11.8),  # n = 36
    ("intellectual-disability", "urban"): (0.3, 0.8, 3.7, 9.9),  # n = 44
    ("hunter", "mountain"): (1.0, 2.1, 4.8, 17.2),  # n = 355
    ("hunter", "flat"): (0.6, 1.6, 3.1, 13.7),  # n = 465
    ("angler", "mountain"): (0.3, 1.5, 5.5, 9.9),  # n = 25
    ("angler", "flat"): (0.8, 1.6, 3.9, 14.9),  # n = 62
    ("camper", "mountain"): (0.2, 2.2, 3.0, 39.5),  # n = 17
    ("camper", "flat"): (0.2, 1.1, 3.2, 12.8),  # n = 18
    ("gatherer", "mountain"): (1.5, 3.2, 6.4, 12.9),  # n = 94
    ("mountain-biker", "mountain"): (3.1, 4.0, 11.3, 25.0),  # n = 25
    ("skier-nordic", "mountain"): (1.6, 3.5, 6.4, 19.6),  # n = 29
    ("snowboarder", "mountain"): (1.6, 3.2, 6.2, 15.4),  # n = 31
}
SUBJECT_ALIASES = {
    "child": "child-4-6",
    "alzheimer": "dementia",
    "suicidal": "despondent",
    "autism": "autistic",
    "mental-disability": "intellectual-disability",
}
SUBJECTS = sorted({s for s, _t in RING_TABLE})
TERRAINS = ("flat", "mountain", "dry-flat", "dry-mountain", "urban")
QUANTILES = (0.25, 0.50, 0.75, 0.95)
SUPERSAMPLE = 4

#: kind → half-width (m) of the band the feature covers (0: the polygon itself)
FEATURE_BANDS: dict[str, float] = {
    "path": 15.0,
    "road": 15.0,
    "stream": 15.0,
    "forest": 0.0,
    "forest-edge": 20.0,
    "water": 0.0,
    "cliff": 10.0,
}
#: share of the probability on each feature kind (find-location proportions, see above)
FIND_SHARES: dict[str, float] = {"path": 0.25, "road": 0.13, "stream": 0.12, "forest": 0.07}
#: multiplicative weights within the ground share; 0 excludes
FEATURE_WEIGHTS: dict[str, float] = {"forest-edge": 1.5, "water": 0.0, "cliff": 0.0}


@dataclass(frozen=True)
class PoaGrid:
    """A north-up probability grid: ``prob`` (rows north→south), ``x0, y0`` the upper-left
    corner, ``cell_m`` the square cell size, ``crs`` anything :func:`dronekit_plzen.geo.as_crs`
    takes."""

    prob: FloatArray
    x0: float
    y0: float
    cell_m: float
    crs: Any

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.prob.shape[0]), int(self.prob.shape[1]))

    def centres(self) -> tuple[FloatArray, FloatArray]:
        ny, nx = self.shape
        x = self.x0 + (np.arange(nx, dtype=np.float64) + 0.5) * self.cell_m
        y = self.y0 - (np.arange(ny, dtype=np.float64) + 0.5) * self.cell_m
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def quartiles_km(subject: str, terrain: str = "flat") -> tuple[float, float, float, float]:
    """The table row for ``subject`` (or an alias such as ``child``) in ``terrain``."""
    s = SUBJECT_ALIASES.get(subject.strip().lower(), subject.strip().lower())
    t = terrain.strip().lower()
    if s not in SUBJECTS:
        raise BadInputError(
            _("unknown subject category {s!r}; known: {k}").format(
                s=subject, k=", ".join([*SUBJECTS, *SUBJECT_ALIASES])
            )
        )
    if (s, t) not in RING_TABLE:
        known = ", ".join(tt for ss, tt in RING_TABLE if ss == s)
        raise BadInputError(
            _("no statistics for {s} in terrain {t!r}; known: {k}").format(s=s, t=terrain, k=known)
        )
    return RING_TABLE[(s, t)]


def ring_cdf(r_m: FloatArray, q_km: tuple[float, float, float, float]) -> FloatArray:
    """P(distance ≤ r): piecewise linear through the quartiles, then the last slope to 1."""
    q = np.asarray(q_km, dtype=np.float64) * 1000.0
    slope = (0.95 - 0.75) / (q[3] - q[2])
    r_end = q[3] + 0.05 / slope
    xs = np.concatenate([[0.0], q, [r_end]])
    ps = np.concatenate([[0.0], QUANTILES, [1.0]])
    return np.asarray(np.interp(np.asarray(r_m, dtype=np.float64), xs, ps))


def ring_density(r_m: FloatArray, q_km: tuple[float, float, float, float]) -> FloatArray:
    """Probability per m² at distance ``r_m``: F'(r) / (2 π r)."""
    q = np.asarray(q_km, dtype=np.float64) * 1000.0
    xs = np.concatenate([[0.0], q])
    ps = np.concatenate([[0.0], QUANTILES])
    slopes = np.diff(ps) / np.diff(xs)
    tail = slopes[-1]
    r_end = q[3] + 0.05 / tail
    r = np.asarray(r_m, dtype=np.float64)
    i = np.clip(np.searchsorted(xs, r, side="right") - 1, 0, len(slopes) - 1)
    f = np.where(r > r_end, 0.0, np.where(r >= q[3], tail, slopes[i]))
    return np.asarray(f / (2.0 * np.pi * np.maximum(r, 1e-6)))


def ring_grid(
    centre_xy: tuple[float, float],
    q_km: tuple[float, float, float, float],
    radius_m: float,
    cell_m: float,
    crs: Any,
) -> PoaGrid:
    """The ring model on a square grid centred on ``centre_xy`` (metric), cut at ``radius_m``."""
    if not (radius_m > 0 and cell_m > 0 and math.isfinite(radius_m) and math.isfinite(cell_m)):
        raise BadInputError(_("radius and cell size must be positive"))
    if radius_m < 2 * cell_m:  # fewer than 4×4 cells: no ring left to model
        raise BadInputError(
            _("a cell of {c:g} m is too large for a radius of {r:g} m (at most {m:g} m)").format(
                c=cell_m, r=radius_m, m=radius_m / 2
            )
        )
    n = math.ceil(radius_m / cell_m)
    if 2 * n > 4000:
        raise BadInputError(
            _("{n:,}×{n:,} cells is too many: use a larger cell size").format(n=2 * n)
        )
    x0 = centre_xy[0] - n * cell_m
    y0 = centre_xy[1] + n * cell_m
    k = SUPERSAMPLE
    off = (np.arange(2 * n * k) + 0.5) * cell_m / k
    xs = off - n * cell_m
    ys = n * cell_m - off
    r = np.hypot(xs[None, :], ys[:, None])
    d = ring_density(r, q_km) * (r <= radius_m)
    mass = d.reshape(2 * n, k, 2 * n, k).mean(axis=(1, 3)) * cell_m * cell_m
    total = mass.sum()
    if not total > 0:
        raise BadInputError(_("the map is empty (all zero)"))
    return PoaGrid(mass / total, x0, y0, cell_m, crs)


def _kind(props: dict[str, Any], geom_type: str) -> str | None:
    k = str(props.get("kind") or "").strip().lower()
    if k in ("path", "trail", "track", "footway"):
        return "path"
    if k in FEATURE_BANDS:
        return k
    hw, ww = props.get("highway"), props.get("waterway")
    nat, lu = props.get("natural"), props.get("landuse")
    if hw:
        return "path" if hw in ("path", "track", "footway", "bridleway", "cycleway") else "road"
    if ww in ("river", "stream", "canal", "ditch", "drain") and "Line" in geom_type:
        return "stream"
    if nat == "water" or ww == "riverbank" or lu in ("reservoir", "basin"):
        return "water"
    if nat == "cliff":
        return "cliff"
    if nat == "wood" or lu == "forest":
        return "forest"
    return None


def read_features(path: Path, crs: Any) -> list[tuple[str, Any]]:
    """(kind, shapely geometry in ``crs``) of every feature of a known kind in a .gpkg or
    .geojson file (all layers of a GeoPackage)."""
    note_input(path)  # never replaced by an output of the same command
    import pyogrio
    import shapely

    if not path.exists():
        raise BadInputError(_("no such file"), where=str(path))
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(path)]
        out: list[tuple[str, Any]] = []
        for layer in layers:
            # NaN coordinates and rings that do not close: named below, per feature (OGR
            # and GEOS would only warn on stderr, or fail naming none)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                meta, _fids, wkb, fields = pyogrio.raw.read(path, layer=layer)
                geoms = shapely.from_wkb(wkb, on_invalid="ignore")
            src = meta.get("crs") or "EPSG:4326"
            names = list(meta["fields"])
            tr = geo.transformer(src, crs)
            name = layer if len(layers) > 1 else None
            if name is None and pyogrio.read_info(path).get("driver") == "GeoJSON":
                _geojson_check(path, wkb, geoms)
            for i, g in enumerate(geoms):
                if g is None and wkb[i] is not None:
                    _unreadable(wkb[i], i, name, str(path))
            _check_coordinates(geoms, geo.as_crs(src).is_geographic, name, str(path))
            for i, g in enumerate(geoms):
                if g is None or g.is_empty:
                    continue
                props = {n: fields[j][i] for j, n in enumerate(names)}
                kind = _kind(props, g.geom_type)
                if kind is None:
                    continue
                g2 = shapely.transform(
                    g, lambda c, t=tr: np.column_stack(t.transform(c[:, 0], c[:, 1]))
                )
                out.append((kind, g2))
    except BadInputError:
        raise
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise BadInputError(_("cannot read features: {e}").format(e=exc), where=str(path)) from exc
    return out


def _feature_name(i: int, layer: str | None) -> str:
    return (
        _("feature {i} of layer {layer}").format(i=i + 1, layer=layer)
        if layer
        else _("feature {i}").format(i=i + 1)
    )


def _unreadable(wkb: bytes, i: int, layer: str | None, where: str) -> None:
    """Refuse a feature whose geometry GEOS cannot build (a polygon ring that does not close,
    too few points), naming it and GEOS's reason."""
    import shapely

    try:
        shapely.from_wkb(wkb)
    except shapely.errors.GEOSException as exc:
        reason = str(exc).split("Exception: ", 1)[-1]
        if "do not form a closed linestring" in reason:
            reason = _("a polygon ring does not end where it starts")
        elif "Invalid number of points in LinearRing" in reason:
            reason = _("a polygon ring has fewer than 4 points")
        elif "point array must contain 0 or >1 elements" in reason:
            reason = _("a line has a single point")
        reason = " ".join(reason.split())
    else:  # pragma: no cover - on_invalid="ignore" returned None for a reason GEOS gives
        reason = "?"
    raise BadInputError(
        _("{feature}: its geometry is not valid ({reason})").format(
            feature=_feature_name(i, layer), reason=reason
        ),
        where=where,
    )


#: GeoJSON geometry types and how deep their coordinates nest (RFC 7946, 3.1)
_GEOJSON_DEPTH = {
    "Point": 1,
    "MultiPoint": 2,
    "LineString": 2,
    "MultiLineString": 3,
    "Polygon": 3,
    "MultiPolygon": 4,
}


#: geometries OGR builds whole or not at all (a bad coordinate loses the whole geometry)
_ALL_OR_NOTHING = ("Point", "LineString")


def _geojson_check(path: Path, wkb: Any, built: Any) -> None:
    """OGR's GeoJSON reader gives no geometry, or one without the part, and no warning, for
    what it cannot build (a coordinate written as text, a point of one number, an unknown
    type, a bad hole of a polygon or member of a multi-polygon): such a feature was left out of
    the map, or its hole filled, with exit 0 (water not excluded, a path not weighted). Refuse
    the first feature OGR did not build whole, naming it and what is wrong. ``wkb`` and
    ``built``: what OGR gave, in the file's order, and its geometries (None where OGR gave
    none, or GEOS could not build it: :func:`_unreadable` names that). Only features with
    several parts are counted position by position, and only a lost or short one is walked
    coordinate by coordinate (a 35 MB file of paths: no walk at all)."""
    import shapely

    needed = [
        w is None or (g is not None and g.geom_type not in _ALL_OR_NOTHING)
        for w, g in zip(wkb, built, strict=True)
    ]
    if not any(needed):
        return
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"), parse_int=json_int)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return  # OGR read it and we cannot: its verdict stands
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        feats = doc.get("features")
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        feats = [doc]
    else:
        feats = [{"geometry": doc}]
    if not isinstance(feats, list):
        return
    for i, f in enumerate(feats[: len(built)]):
        g = f.get("geometry") if isinstance(f, dict) else None
        if not needed[i] or g is None:
            continue
        if isinstance(g, dict) and [] in (g.get("coordinates"), g.get("geometries")):
            continue  # an empty geometry (RFC 7946, 3.1): nothing to draw
        if built[i] is not None and _positions(g) == shapely.get_num_coordinates(built[i]):
            continue  # built whole
        reason = _geojson_problem(g) or _("GDAL cannot build it")
        raise BadInputError(
            _("{feature}: its geometry cannot be read ({reason})").format(
                feature=_feature_name(i, None), reason=reason
            ),
            where=str(path),
        )


def _positions(geom: Any, depth: int = 0) -> int:
    """The number of positions a GeoJSON geometry holds, counted by its rings and lines
    (-1 when it is not nested as its type says).

    >>> _positions({"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [0, 1], [0, 0]]]]})
    4
    """
    if not isinstance(geom, dict) or depth > 16:
        return -1
    kind = geom.get("type")
    if kind == "GeometryCollection":
        parts = geom.get("geometries")
        counts = [_positions(p, depth + 1) for p in parts] if isinstance(parts, list) else [-1]
        return -1 if -1 in counts else sum(counts)
    levels = _GEOJSON_DEPTH.get(str(kind), 0) - 1
    c = geom.get("coordinates")
    if levels < 0 or not isinstance(c, list):
        return -1
    if levels == 0:
        return 1
    lists = [c]
    for _level in range(levels - 1):
        if not all(isinstance(e, list) for e in lists):
            return -1
        lists = [e for sub in lists for e in sub]
    if not all(isinstance(e, list) for e in lists):
        return -1
    return sum(len(e) for e in lists)


def _geojson_problem(geom: Any, depth: int = 0) -> str:
    """What is wrong with a GeoJSON geometry ("" if nothing is).

    >>> _geojson_problem({"type": "Point", "coordinates": [13.4, "x"]})
    "coordinate 'x' is not a number"
    >>> _geojson_problem({"type": "Polygon", "coordinates": "abc"})
    'its coordinates are not nested as a Polygon'
    >>> _geojson_problem({"type": "Point", "coordinates": [13.4]})
    'a position has fewer than 2 numbers'
    >>> _geojson_problem({"type": "Blob", "coordinates": [1, 2]})
    "unknown geometry type 'Blob'"
    """
    if not isinstance(geom, dict):
        return _("it is not a GeoJSON object")
    kind = geom.get("type")
    if kind == "GeometryCollection":
        parts = geom.get("geometries")
        if not isinstance(parts, list) or depth > 16:
            return _("its geometries are not a list")
        for part in parts:
            reason = _geojson_problem(part, depth + 1)
            if reason:
                return reason
        return ""
    if kind not in _GEOJSON_DEPTH:
        return _("unknown geometry type {kind!r}").format(kind=kind)
    return _positions_problem(geom.get("coordinates"), _GEOJSON_DEPTH[str(kind)], str(kind))


def _positions_problem(c: Any, depth: int, kind: str) -> str:
    """The first thing wrong in ``c`` as a ``kind``'s coordinates, ``depth`` lists deep ("" if
    nothing is)."""
    if not isinstance(c, list):
        return _("its coordinates are not nested as a {kind}").format(kind=kind)
    if depth == 1:
        for v in c:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return _("coordinate {value} is not a number").format(value=repr(v)[:40])
        if len(c) < 2:
            return _("a position has fewer than 2 numbers")
        return ""
    for e in c:
        reason = _positions_problem(e, depth - 1, kind)
        if reason:
            return reason
    return ""


def _check_coordinates(geoms: Any, lonlat: bool, layer: str | None, where: str) -> None:
    """Refuse the first feature with a NaN or infinite vertex (its geometry was rasterised as
    if the vertex were not there, and the map written with exit 0), and in a file in lon/lat
    (``lonlat``) one with a vertex beyond ±180° / ±90° (a GeoJSON of projected coordinates
    without a ``crs`` member, GeoJSON's CRS being WGS84 lon/lat, was read as degrees and its
    lake transformed to nowhere). Every feature's vertices at once."""
    import shapely

    xy, idx = shapely.get_coordinates(geoms, return_index=True)
    finite = np.isfinite(xy).all(axis=1)
    bad = np.flatnonzero(~finite)
    if bad.size:
        i = int(idx[bad[0]])
        k = int(bad[0] - np.searchsorted(idx, i))  # the vertex's place in its feature
        x, y = xy[bad[0]]
        raise BadInputError(
            _("{feature}: vertex {k} is ({x}, {y}), not a finite coordinate").format(
                feature=_feature_name(i, layer), k=k + 1, x=x, y=y
            ),
            where=where,
        )
    if not lonlat:
        return
    bad = np.flatnonzero((np.abs(xy[:, 0]) > 180.0) | (np.abs(xy[:, 1]) > 90.0))
    if bad.size:
        x, y = xy[bad[0]]
        raise BadInputError(
            _(
                "{feature}: vertex ({x:.10g}, {y:.10g}) is not a longitude and latitude, which "
                "the file says its coordinates are (projected coordinates? name their CRS in the "
                "file)"
            ).format(feature=_feature_name(int(idx[bad[0]]), layer), x=x, y=y),
            where=where,
        )


def _fractions(grid: PoaGrid, features: list[tuple[str, Any]]) -> dict[str, FloatArray]:
    """Per kind, the fraction of every cell inside the kind's band (``SUPERSAMPLE``² sub-cells)."""
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    ny, nx = grid.shape
    k = SUPERSAMPLE
    tr = from_origin(grid.x0, grid.y0, grid.cell_m / k, grid.cell_m / k)
    shapes: dict[str, list[Any]] = {}
    for kind, g in features:
        shapes.setdefault(kind, []).append(g)
        if kind == "forest":
            shapes.setdefault("forest-edge", []).append(g.boundary)
    out: dict[str, FloatArray] = {}
    for kind, geoms in shapes.items():
        half = FEATURE_BANDS[kind]
        polys = [g.buffer(half) if half > 0 else g for g in geoms]
        polys = [p for p in polys if not p.is_empty and p.area > 0]
        if not polys:
            continue
        m = rasterize(polys, out_shape=(ny * k, nx * k), transform=tr, fill=0, default_value=1)
        out[kind] = m.reshape(ny, k, nx, k).mean(axis=(1, 3))
    return out


def apply_features(grid: PoaGrid, features: list[tuple[str, Any]]) -> PoaGrid:
    """The ring map with the find-location shares and the weights of the features applied."""
    frac = _fractions(grid, features)
    ring = grid.prob
    keep = np.ones_like(ring)
    for kind, w in FEATURE_WEIGHTS.items():
        if kind in frac:
            keep *= 1.0 + (w - 1.0) * frac[kind]
    keep_only = np.where(keep > 0, 1.0, 0.0) * np.minimum(keep, 1.0)  # exclusions only
    shares = {k: s for k, s in FIND_SHARES.items() if k in frac}
    out = np.zeros_like(ring)
    on_feature = np.zeros_like(ring)
    for kind, share in shares.items():
        m = ring * frac[kind] * keep_only
        if m.sum() > 0:
            out += share * m / m.sum()
            on_feature = np.maximum(on_feature, frac[kind])
        else:
            shares[kind] = 0.0
    ground = ring * (1.0 - on_feature) * keep
    rest = 1.0 - sum(shares.values())
    if ground.sum() > 0:
        out += rest * ground / ground.sum()
    total = out.sum()
    if not total > 0:
        raise BadInputError(_("the features exclude the whole map"))
    return PoaGrid(out / total, grid.x0, grid.y0, grid.cell_m, grid.crs)


def build_poa(
    lkp_lonlat: tuple[float, float],
    subject: str,
    *,
    terrain: str = "flat",
    radius_m: float | None = None,
    cell_m: float = 30.0,
    crs: str | None = None,
    features: Path | None = None,
) -> tuple[PoaGrid, dict[str, Any]]:
    """The POA grid and its metadata (source, quartiles, weights)."""
    lon, lat = lkp_lonlat
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise BadInputError(_("the LKP is not a finite position"))
    q = quartiles_km(subject, terrain)
    if crs is None:
        target: Any = geo.utm_epsg_for(lon, lat)
    else:
        try:
            target = geo.as_crs(crs)
        except Exception as exc:  # pyproj's CRSError and friends: bad input either way
            raise BadInputError(_("unknown CRS {c!r}").format(c=crs)) from exc
        if not target.is_projected:
            raise BadInputError(_("the CRS {c} is not metric (projected)").format(c=crs))
        if (err := geo.scale_error(target, lon, lat)) > geo.MAX_SCALE_ERROR:
            # rings measured in its units would be drawn too small or too large on the ground
            raise BadInputError(
                _(
                    "the CRS {c} does not measure distances in metres at the LKP (they are "
                    "off by {p:.0%}): give UTM, S-JTSK (EPSG:5514) or leave --crs out"
                ).format(c=crs, p=err)
            )
    x, y = geo.transform([lon], [lat], geo.WGS84, target)
    r = float(radius_m) if radius_m is not None else q[3] * 1000.0
    grid = ring_grid((float(x[0]), float(y[0])), q, r, cell_m, target)
    meta: dict[str, Any] = {
        "source": "Koester 2008, Lost Person Behavior (ISRID), distance from IPP",
        "subject": subject,
        "terrain": terrain,
        "quartiles_km": list(q),
        "radius_m": r,
        "cell_m": cell_m,
        "lkp_lonlat": [lon, lat],
    }
    if features is not None:
        feats = read_features(Path(features), target)
        grid = apply_features(grid, feats)
        meta["features"] = {"file": str(features), "count": len(feats)}
        meta["find_shares"] = FIND_SHARES
        meta["feature_weights"] = FEATURE_WEIGHTS
    return grid, meta


def write_poa(grid: PoaGrid, path: Path, meta: dict[str, Any] | None = None) -> Path:
    """Write a float32 single-band GeoTIFF (atomic; the path checked first)."""
    import json

    import rasterio
    from rasterio._err import CPLE_BaseError
    from rasterio.transform import from_origin

    from dronekit_plzen.outputs import atomic_output, check_output_path, library_write_errors

    target = check_output_path(path, suffixes=(".tif", ".tiff"))
    ny, nx = grid.shape
    profile = {
        "driver": "GTiff",
        "height": ny,
        "width": nx,
        "count": 1,
        "dtype": "float32",
        "crs": geo.as_crs(grid.crs).to_wkt(),
        "transform": from_origin(grid.x0, grid.y0, grid.cell_m, grid.cell_m),
        "compress": "deflate",
    }
    with (  # a full disk: one error naming the cause, not libtiff's lines and "unknown error"
        atomic_output(target) as tmp,
        library_write_errors(target, tmp, (rasterio.errors.RasterioError, CPLE_BaseError)),
        rasterio.open(tmp, "w", **profile) as dst,
    ):
        dst.write(grid.prob.astype(np.float32), 1)
        dst.update_tags(
            POA="probability of area, sums to 1", **{"POA_META": json.dumps(meta or {})}
        )
    return target
