"""KML and KMZ export/import: the flight path, waypoints, area, footprints, geofence, rally.

Written for Google Earth / QGIS: a ``Document`` with folders ``Path``, ``Waypoints``,
``Area``, ``Footprints``, ``Geofence``, ``Rally``. Each waypoint ``Placemark`` carries every
MAVLink field in ``ExtendedData`` so the mission reads back exactly; the document's
``ExtendedData`` holds the mission settings and our metadata (JSON) including any safety
override. The displayed path and points are drawn above sea level (``absolute``: items relative
to home shifted by the home's altitude) or, for items above the terrain and above a home whose
altitude is unknown, above the ground (``relativeToGround``). A KML without our waypoint data
but with one ``LineString`` is read as waypoints (``absolute`` → AMSL frame,
``relativeToGround`` → terrain frame, otherwise relative to home). KMZ is the same document
zipped as ``doc.kml``.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

from lxml import etree
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from dronekit_plzen.errors import BadInputError, CorruptFileError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import read_input_bytes, read_reason, read_zip_member
from dronekit_plzen.mission_items import (
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_GLOBAL_TERRAIN_ALT,
    MissionItem,
    canonical_frame,
)
from missions.formats._common import (
    ITEM_FIELDS,
    atomic_write_bytes,
    home_alt_datum,
    item_from_dict,
    item_to_dict,
    json_safe,
    moved_to,
    note_speed,
)
from missions.model import FenceCircle, FencePolygon, Mission, RallyPoint

KML_NS = "http://www.opengis.net/kml/2.2"
_K = f"{{{KML_NS}}}"


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    e = etree.SubElement(parent, _K + tag, **attrs)
    if text is not None:
        e.text = text
    return e


def _data(parent: etree._Element, values: dict[str, Any]) -> None:
    ext = _el(parent, "ExtendedData")
    for k, v in values.items():
        d = _el(ext, "Data", name=k)
        _el(d, "value", v if isinstance(v, str) else json.dumps(v, allow_nan=False))


def _coords(pts: list[tuple[float, ...]]) -> str:
    return " ".join(",".join(repr(float(c)) for c in p) for p in pts)


def _polygon(parent: etree._Element, poly: Polygon) -> None:
    pg = _el(parent, "Polygon")
    ob = _el(_el(pg, "outerBoundaryIs"), "LinearRing")
    _el(ob, "coordinates", _coords(list(poly.exterior.coords)))
    for hole in poly.interiors:
        ib = _el(_el(pg, "innerBoundaryIs"), "LinearRing")
        _el(ib, "coordinates", _coords(list(hole.coords)))


def _geom_placemark(folder: etree._Element, name: str, geom: BaseGeometry) -> None:
    pm = _el(folder, "Placemark")
    _el(pm, "name", name)
    polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    parent = _el(pm, "MultiGeometry") if len(polys) > 1 else pm
    for p in polys:
        if isinstance(p, Polygon):
            _polygon(parent, p)


def _drawn(mission: Mission, it: MissionItem, home_known: bool) -> tuple[str, float]:
    """The KML altitude mode and height an item is drawn at: above sea level when its
    altitude is AMSL or above a home of known altitude; above the ground when it is above
    the terrain, or above a home whose altitude is unknown (drawn "absolute", 60 m above a
    home at Plzeň's 310 m had been 250 m underground in Google Earth)."""
    alt = 0.0 if math.isnan(it.alt_m) else it.alt_m
    frame = canonical_frame(it.frame)
    if frame == FRAME_GLOBAL_TERRAIN_ALT:
        return "relativeToGround", alt
    if frame == FRAME_GLOBAL_RELATIVE_ALT:
        if home_known and mission.home is not None:
            return "absolute", alt + mission.home[2]
        return "relativeToGround", alt
    return "absolute", alt


def mission_to_kml(
    mission: Mission,
    *,
    area: BaseGeometry | None = None,
    footprints: list[BaseGeometry] | None = None,
    coverage: BaseGeometry | None = None,
    gaps: BaseGeometry | None = None,
) -> bytes:
    root = etree.Element(_K + "kml", nsmap={None: KML_NS})
    doc = _el(root, "Document")
    _el(doc, "name", str(mission.metadata.get("name", "dronekit-plzen mission")))
    _data(
        doc,
        {
            "dkp_version": "1",
            "dkp_home": list(mission.home) if mission.home else None,
            "dkp_autopilot": mission.autopilot,
            "dkp_vehicle_type": mission.vehicle_type,
            "dkp_cruise_speed_m_s": mission.cruise_speed_m_s,
            "dkp_hover_speed_m_s": mission.hover_speed_m_s,
            "dkp_metadata": json_safe(mission.metadata),
        },
    )
    positioned = [it for it in mission.items if it.has_position]
    home_known = home_alt_datum(mission) == "AMSL"
    if len(positioned) >= 2:
        f = _el(doc, "Folder")
        _el(f, "name", "Path")
        pm = _el(f, "Placemark")
        _el(pm, "name", "Flight path")
        drawn = [_drawn(mission, it, home_known) for it in positioned]
        modes = {mode for mode, _alt in drawn}
        if not home_known and any(
            canonical_frame(it.frame) == FRAME_GLOBAL_RELATIVE_ALT for it in positioned
        ):
            _el(
                pm,
                "description",
                _(
                    "Heights above home, drawn above the ground: the home's altitude is "
                    "unknown (plan with a terrain model to draw them above sea level)"
                ),
            )
        ls = _el(pm, "LineString")
        # one mode a line: a mix (AMSL items beside ones above a home of unknown height) is
        # drawn above sea level, each waypoint below in its own mode
        _el(ls, "altitudeMode", modes.pop() if len(modes) == 1 else "absolute")
        heights = [alt for _mode, alt in drawn]
        pts: list[tuple[float, ...]] = [
            (it.lon_deg, it.lat_deg, z) for it, z in zip(positioned, heights, strict=True)
        ]
        _el(ls, "coordinates", _coords(pts))
    f = _el(doc, "Folder")
    _el(f, "name", "Waypoints")
    for k, it in enumerate(mission.items):
        pm = _el(f, "Placemark")
        _el(pm, "name", f"{k} cmd {it.command}")
        _data(pm, {"dkp_index": k, **json_safe(item_to_dict(it))})
        if it.has_position:
            pt = _el(pm, "Point")
            mode, alt = _drawn(mission, it, home_known)
            _el(pt, "altitudeMode", mode)
            _el(pt, "coordinates", _coords([(it.lon_deg, it.lat_deg, alt)]))
    if area is not None:
        fa = _el(doc, "Folder")
        _el(fa, "name", "Area")
        _geom_placemark(fa, "Search area", area)
    if footprints:
        ff = _el(doc, "Folder")
        _el(ff, "name", "Footprints")
        for k, fp in enumerate(footprints):
            _geom_placemark(ff, f"footprint {k}", fp)
    if coverage is not None:
        fc = _el(doc, "Folder")
        _el(fc, "name", "Coverage")
        _geom_placemark(fc, "covered", coverage)
    if gaps is not None and not gaps.is_empty:
        fg = _el(doc, "Folder")
        _el(fg, "name", "Gaps")
        _geom_placemark(fg, "gaps", gaps)
    if mission.fence_polygons or mission.fence_circles:
        fg = _el(doc, "Folder")
        _el(fg, "name", "Geofence")
        for p in mission.fence_polygons:
            pm = _el(fg, "Placemark")
            _el(pm, "name", "inclusion" if p.inclusion else "exclusion")
            _data(pm, {"dkp_fence": "polygon", "inclusion": p.inclusion})
            # the ring written as given plus the closing vertex (exact round trip)
            ob = _el(_el(_el(pm, "Polygon"), "outerBoundaryIs"), "LinearRing")
            _el(ob, "coordinates", _coords([*p.vertices, p.vertices[0]]))
        for c in mission.fence_circles:
            pm = _el(fg, "Placemark")
            _el(pm, "name", "inclusion circle" if c.inclusion else "exclusion circle")
            _data(pm, {"dkp_fence": "circle", "inclusion": c.inclusion, "radius_m": c.radius_m})
            _el(_el(pm, "Point"), "coordinates", _coords([c.center]))
    if mission.rally_points:
        fr = _el(doc, "Folder")
        _el(fr, "name", "Rally")
        for r in mission.rally_points:
            pm = _el(fr, "Placemark")
            _el(pm, "name", "rally")
            _data(pm, {"dkp_rally": True, "alt_m": r.alt_m})
            _el(_el(pm, "Point"), "coordinates", _coords([(r.lon_deg, r.lat_deg)]))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _ext(pm: etree._Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in pm.findall(f"{_K}ExtendedData/{_K}Data"):
        v = d.findtext(f"{_K}value")
        if v is None:
            continue
        try:
            out[d.get("name", "")] = json.loads(v)
        except json.JSONDecodeError:
            out[d.get("name", "")] = v
    return out


#: the fields of a mission item placemark that must be there: a missing one would be taken
#: as 0 (a hold of 0 s, a waypoint at latitude 0)
_REQUIRED_ITEM_FIELDS = tuple(f for f in ITEM_FIELDS if f not in ("autocontinue", "mission_type"))


def _check_item_fields(ext: dict[str, Any], where: str) -> None:
    """A mission item placemark (ours: ``dkp_index`` and ``command``) holds every field of the
    item and nothing else: a renamed or dropped ``Data`` (an edit in another program) would
    leave that field at its default without a word."""
    unknown = sorted(set(ext) - {"dkp_index", "meta", *ITEM_FIELDS})
    if unknown:
        raise BadInputError(
            _(
                "mission item Data {names} is not a field of a mission item ({fields}): "
                "the file was edited or damaged"
            ).format(
                names=", ".join(repr(n[:40]) for n in unknown[:3]), fields=", ".join(ITEM_FIELDS)
            ),
            where=where,
        )
    missing = [f for f in _REQUIRED_ITEM_FIELDS if f not in ext]
    if missing:
        raise BadInputError(
            _(
                "mission item lacks Data {names} (a Data without a value counts as missing): "
                "the file was edited or damaged"
            ).format(names=", ".join(repr(n) for n in missing)),
            where=where,
        )


def _parse_coords(text: str | None, where: str) -> list[tuple[float, ...]]:
    pts = []
    for tok in (text or "").split():
        try:
            pts.append(tuple(float(v) for v in tok.split(",")))
        except ValueError as exc:
            raise BadInputError(
                _("bad KML coordinate {tok!r}").format(tok=tok), where=where
            ) from exc
    return pts


def parse_kml(data: bytes, path: str = "<kml>") -> Mission:
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        raise BadInputError(_("invalid XML: {exc}").format(exc=exc), where=path) from exc
    doc = root.find(f"{_K}Document")
    if doc is None:
        doc = root
    m = Mission()
    top = _ext(doc)
    if top.get("dkp_home"):
        m.home = tuple(float(v) for v in top["dkp_home"])  # type: ignore[assignment]
    m.autopilot = int(top.get("dkp_autopilot", m.autopilot))
    m.vehicle_type = int(top.get("dkp_vehicle_type", m.vehicle_type))
    m.cruise_speed_m_s = float(top.get("dkp_cruise_speed_m_s", m.cruise_speed_m_s))
    m.hover_speed_m_s = float(top.get("dkp_hover_speed_m_s", m.hover_speed_m_s))
    m.metadata = dict(top.get("dkp_metadata") or {})
    if "dkp_cruise_speed_m_s" not in top:
        note_speed(m.metadata, False)
    items: list[tuple[int, MissionItem]] = []
    lines: list[tuple[str, list[tuple[float, ...]]]] = []
    for k, pm in enumerate(root.iter(f"{_K}Placemark")):
        where = f"{path}: Placemark {k + 1}"
        ext = _ext(pm)
        if "dkp_index" in ext and "command" in ext:
            _check_item_fields(ext, where)
            it = item_from_dict(
                {f: ext.get(f) for f in ITEM_FIELDS if f in ext} | {"meta": ext.get("meta")}, where
            )
            drawn = pm.findtext(f"{_K}Point/{_K}coordinates")
            if drawn and drawn.strip():
                c = _parse_coords(drawn, where)[0]
                it = moved_to(it, c[0], c[1], where)
            items.append((int(ext["dkp_index"]), it))
        elif ext.get("dkp_fence") == "polygon":
            ring = _parse_coords(pm.findtext(f".//{_K}outerBoundaryIs//{_K}coordinates"), where)
            if ring and ring[0] == ring[-1]:
                ring = ring[:-1]
            m.fence_polygons.append(
                FencePolygon(tuple((p[0], p[1]) for p in ring), bool(ext.get("inclusion", True)))
            )
        elif ext.get("dkp_fence") == "circle":
            c = _parse_coords(pm.findtext(f".//{_K}coordinates"), where)[0]
            m.fence_circles.append(
                FenceCircle((c[0], c[1]), float(ext["radius_m"]), bool(ext.get("inclusion", True)))
            )
        elif ext.get("dkp_rally"):
            c = _parse_coords(pm.findtext(f".//{_K}coordinates"), where)[0]
            m.rally_points.append(RallyPoint(c[0], c[1], float(ext.get("alt_m", 0.0))))
        else:
            ls = pm.find(f".//{_K}LineString")
            if ls is not None:
                mode = (ls.findtext(f"{_K}altitudeMode") or "clampToGround").strip()
                lines.append((mode, _parse_coords(ls.findtext(f"{_K}coordinates"), where)))
    items.sort(key=lambda t: t[0])
    m.items = [it for _, it in items]
    if not m.items and len(lines) == 1:
        mode, pts = lines[0]
        frame = {"absolute": FRAME_GLOBAL, "relativeToGround": FRAME_GLOBAL_TERRAIN_ALT}.get(
            mode, FRAME_GLOBAL_RELATIVE_ALT
        )
        m.items = [
            MissionItem(
                CMD_NAV_WAYPOINT,
                frame,
                lon_deg=p[0],
                lat_deg=p[1],
                alt_m=p[2] if len(p) > 2 else 0.0,
            )
            for p in pts
        ]
    # a plan of only a geofence (or rally points) has no items: it reads back as such
    if not (m.items or m.fence_polygons or m.fence_circles or m.rally_points):
        raise BadInputError(_("no waypoints and no single LineString path in this KML"), where=path)
    return m


def read_kml(path: Path) -> Mission:
    try:
        data = read_input_bytes(path)
    except FileNotFoundError as exc:
        raise BadInputError(_("file not found"), where=str(path)) from exc
    except OSError as exc:
        raise BadInputError(
            _("cannot read: {reason}").format(reason=read_reason(exc)), where=str(path)
        ) from exc
    return parse_kml(data, str(path))


def write_kml(mission: Mission, path: Path, **extras: Any) -> Path:
    return atomic_write_bytes(path, mission_to_kml(mission, **extras))


def write_kmz(mission: Mission, path: Path, **extras: Any) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("doc.kml", mission_to_kml(mission, **extras))
    return atomic_write_bytes(path, buf.getvalue())


def open_kmz(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise BadInputError(_("file not found"), where=str(path)) from exc
    except zipfile.BadZipFile as exc:
        raise CorruptFileError(
            _("not a valid KMZ (zip) file: {exc}").format(exc=exc), where=str(path)
        ) from exc


def read_kmz(path: Path) -> Mission:
    with open_kmz(path) as z:
        names = [n for n in z.namelist() if n.lower().endswith(".kml")]
        if not names:
            raise BadInputError(_("KMZ contains no .kml document"), where=str(path))
        name = "doc.kml" if "doc.kml" in names else names[0]
        return parse_kml(read_zip_member(z, name, str(path)), f"{path}!{name}")
