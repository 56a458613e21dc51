"""Readers of raw polygon rings from GeoJSON, KML, WKT and coordinate lists.

They return rings as lists of (x, y) tuples, unvalidated, so that :mod:`missions.area` can
name every defect (unclosed ring, too few points, spikes, crossings) before building shapely
geometry.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

Ring = list[tuple[float, float]]
#: a polygon as rings: [exterior, hole, hole, ...]; a multipolygon is a list of those
RawPolygon = list[Ring]


def _geojson_polygons(obj: Any, where: str, depth: int = 0) -> tuple[list[RawPolygon], Any]:
    """Raw polygons and the legacy ``crs`` member (or None) of a GeoJSON object."""
    if not isinstance(obj, dict) or "type" not in obj:
        raise BadInputError(_("not a GeoJSON object (no 'type')"), where=where)
    if depth > 8:
        raise BadInputError(_("GeoJSON objects nested too deeply"), where=where)
    crs = None
    c = obj.get("crs")
    if c is not None:
        props = c.get("properties") if isinstance(c, dict) else None
        name = props.get("name") if isinstance(props, dict) else None
        if not isinstance(name, str | int) or isinstance(name, bool):
            example = '{"type": "name", "properties": {"name": "EPSG:5514"}}'
            raise BadInputError(
                _("the GeoJSON 'crs' member does not name a CRS (expected {example})").format(
                    example=example
                ),
                where=where,
            )
        crs = name
    t = obj["type"]
    out: list[RawPolygon] = []
    if t == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list):
            raise BadInputError(_("a FeatureCollection needs a 'features' list"), where=where)
        for i, f in enumerate(feats):
            if not isinstance(f, dict):
                raise BadInputError(
                    _("feature {i} is not a GeoJSON object").format(i=i), where=where
                )
            g = f.get("geometry")
            if isinstance(g, dict) and g.get("type") in (
                "Polygon",
                "MultiPolygon",
                "GeometryCollection",
            ):
                out.extend(_geojson_polygons(g, f"{where} feature {i}", depth + 1)[0])
    elif t == "Feature":
        g = obj.get("geometry")
        if not g:
            raise BadInputError(_("GeoJSON Feature has no geometry"), where=where)
        out.extend(_geojson_polygons(g, where, depth + 1)[0])
    elif t == "GeometryCollection":
        geoms = obj.get("geometries")
        if not isinstance(geoms, list):
            raise BadInputError(_("a GeometryCollection needs a 'geometries' list"), where=where)
        for g in geoms:
            if isinstance(g, dict) and g.get("type") in ("Polygon", "MultiPolygon"):
                out.extend(_geojson_polygons(g, where, depth + 1)[0])
    elif t == "Polygon":
        out.append(_rings(obj.get("coordinates"), where))
    elif t == "MultiPolygon":
        polys = obj.get("coordinates")
        if not isinstance(polys, list):
            raise BadInputError(_("polygon without coordinates"), where=where)
        out.extend(_rings(p, where) for p in polys)
    else:
        raise BadInputError(_("GeoJSON {t} is not a polygon area").format(t=t), where=where)
    if not out:
        raise BadInputError(_("no Polygon or MultiPolygon in the GeoJSON"), where=where)
    return out, crs


def _rings(coords: Any, where: str) -> RawPolygon:
    if not isinstance(coords, list) or not coords:
        raise BadInputError(_("polygon without coordinates"), where=where)
    rings: RawPolygon = []
    for r in coords:
        if not isinstance(r, list):
            raise BadInputError(
                _("a polygon ring must be a list of [x, y] positions, got {v!r}").format(
                    v=_short(r)
                ),
                where=where,
            )
        try:
            rings.append([(float(p[0]), float(p[1])) for p in r])
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise BadInputError(
                _("bad coordinate in polygon ring: {exc}").format(exc=exc), where=where
            ) from exc
    return rings


def _short(v: Any, n: int = 40) -> str:
    r = repr(v)
    return r if len(r) <= n else r[: n - 1] + "…"


def _kml_polygons(text: bytes | str, where: str) -> list[RawPolygon]:
    if "<!ENTITY" in (text if isinstance(text, str) else text.decode("utf-8", "replace")):
        raise BadInputError(_("KML with DTD entity declarations is not accepted"), where=where)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise BadInputError(_("not valid KML: {exc}").format(exc=exc), where=where) from exc

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    def ring_of(el: ET.Element) -> Ring:
        for sub in el.iter():
            if local(sub.tag) == "coordinates" and sub.text:
                pts: Ring = []
                for tok in sub.text.split():
                    parts = tok.split(",")
                    try:
                        pts.append((float(parts[0]), float(parts[1])))
                    except (ValueError, IndexError) as exc:
                        raise BadInputError(
                            _("bad KML coordinate {tok!r}").format(tok=tok), where=where
                        ) from exc
                return pts
        return []

    out: list[RawPolygon] = []
    for el in root.iter():
        if local(el.tag) != "Polygon":
            continue
        outer: Ring = []
        holes: list[Ring] = []
        for child in el:
            name = local(child.tag)
            if name == "outerBoundaryIs":
                outer = ring_of(child)
            elif name == "innerBoundaryIs":
                holes.append(ring_of(child))
        out.append([outer, *holes])
    if not out:
        raise BadInputError(_("no Polygon in the KML"), where=where)
    return out


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
#: a WKT coordinate as PostGIS may write it: a number, NaN or an infinity (NaN is refused with
#: its vertex once the rings are read)
_WKT_NUM = rf"(?:{_NUM}|(?i:[-+]?(?:nan|inf(?:inity)?))(?![\w.]))"
_WKT_TOKEN = re.compile(
    rf"(?P<paren>[(),])|(?P<xy>{_WKT_NUM}(?:\s+{_WKT_NUM}){{1,3}})(?=\s*[(),]|\s*$)|(?P<junk>[^\s(),][^(),]*)"
)


def _wkt_polygons(text: str, where: str) -> tuple[list[RawPolygon], int | None]:
    s = text.strip()
    srid = None
    m = re.match(r"(?i)SRID=(\d+);", s)
    if m:
        srid = int(m.group(1))
        s = s[m.end() :]
    m = re.match(r"(?i)\s*(MULTIPOLYGON|POLYGON)\s*(ZM|Z|M)?\s*", s)
    if not m:
        raise BadInputError(_("WKT is not a POLYGON or MULTIPOLYGON"), where=where)
    body = s[m.end() :]
    # nest the parentheses into lists of numbers; anything else between them is named (it was
    # skipped: "nan 49.74" dropped a vertex and the ring was reported as too short)
    stack: list[list[Any]] = [[]]
    for t in _WKT_TOKEN.finditer(body):
        tok = t.group()
        if tok == "(":
            new: list[Any] = []
            stack[-1].append(new)
            stack.append(new)
        elif tok == ")":
            if len(stack) == 1:
                raise BadInputError(_("unbalanced parentheses in WKT"), where=where)
            stack.pop()
        elif tok == ",":
            continue
        elif t.lastgroup == "xy":
            nums = [float(v) for v in tok.split()]
            stack[-1].append((nums[0], nums[1]))
        elif len(stack) == 1:
            raise BadInputError(
                _("the WKT polygon is EMPTY")
                if tok.strip().upper() == "EMPTY"
                else _("{tok} in the WKT, outside its parentheses").format(tok=_short(tok.strip())),
                where=where,
            )
        else:
            raise BadInputError(
                _("WKT vertex {v} of a ring is {tok}, not a position (2 to 4 numbers)").format(
                    v=len(stack[-1]) + 1, tok=_short(tok.strip())
                ),
                where=where,
            )
    if len(stack) != 1 or not stack[0]:
        raise BadInputError(_("unbalanced parentheses in WKT"), where=where)
    top = stack[0][0]
    polys = [top] if m.group(1).upper() == "POLYGON" else top
    return [[list(r) for r in p] for p in polys], srid


def _coordinate_list(text: str, where: str) -> list[RawPolygon]:
    items = [t.strip() for t in re.split(r"[;\n]", text) if t.strip()]
    ring: Ring = []
    for i, t in enumerate(items):
        try:
            ring.append(geo.parse_coordinate(t))
        except BadInputError as exc:
            raise BadInputError(
                _("coordinate {n} {t!r}: {message}").format(n=i + 1, t=t, message=exc.message),
                where=where,
            ) from exc
    return [[_closed(ring)]]


def _closed(ring: Ring) -> Ring:
    """A plain list of points is a ring to close (not a defect, unlike an open GeoJSON ring)."""
    return [*ring, ring[0]] if len(ring) >= 3 and ring[0] != ring[-1] else ring
