"""UAS geographical zones: EUROCAE ED-269 JSON, ED-318 GeoJSON and plain no-fly GeoJSON.

Everything becomes a list of :class:`Zone` (a horizontal projection as a shapely geometry in
WGS84 lon/lat, circles kept as centre + radius and polygonised in a metric CRS when tested),
vertical limits with their reference (``AGL``, ``AMSL`` or ``WGS84``, metres or feet), the
restriction kind (``PROHIBITED``, ``REQ_AUTHORISATION``, ``CONDITIONAL``,
``NO_RESTRICTION``) and applicability windows (permanent, or start/end with optional weekly
schedules, in UTC).

Recognised inputs:

* ED-269: an object with ``features`` whose members have ``identifier``, ``restriction``,
  ``applicability`` and ``geometry`` (a list of volumes with ``horizontalProjection`` of type
  ``Polygon`` or ``Circle`` (``center`` [lon, lat], ``radius`` m), ``lowerLimit``,
  ``upperLimit``, ``lowerVerticalReference``, ``upperVerticalReference``, ``uomDimensions``);
* ED-318 GeoJSON: a ``FeatureCollection`` whose geometries carry the EUROCONTROL
  LayeredGeoJSON ``layer`` (``upper``, ``upperReference``, ``lower``, ``lowerReference``,
  ``uom``) and, for circles, a ``Point`` with ``extent`` {``subType``: ``Circle``,
  ``radius``}; properties ``identifier``, ``name``, ``restriction``, ``limitedApplicability``;
* plain GeoJSON polygons: every polygon is a PROHIBITED zone from the ground to the sky.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import WGS84, transform

RESTRICTIONS = ("PROHIBITED", "REQ_AUTHORISATION", "CONDITIONAL", "NO_RESTRICTION")
REFERENCES = ("AGL", "AMSL", "WGS84")
FT = 0.3048
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@dataclass(frozen=True)
class Schedule:
    days: tuple[str, ...]  # MON..SUN, or ("ANY",)
    start: time
    end: time

    def contains(self, t: datetime) -> bool:
        day = _DAYS[t.weekday()]
        if "ANY" not in self.days and day not in self.days:
            return False
        tt = t.time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= tt <= self.end
        return tt >= self.start or tt <= self.end  # over midnight


@dataclass(frozen=True)
class Window:
    """When a zone applies: ``start``..``end`` (None = open), optionally only on schedules."""

    start: datetime | None = None
    end: datetime | None = None
    schedules: tuple[Schedule, ...] = ()

    def contains(self, t: datetime) -> bool:
        if self.start and t < self.start:
            return False
        if self.end and t > self.end:
            return False
        return not self.schedules or any(s.contains(t) for s in self.schedules)


@dataclass(frozen=True)
class Zone:
    identifier: str
    name: str
    restriction: str
    geometry: BaseGeometry  # lon/lat; for circles a small polygon for display
    lower_m: float = 0.0
    lower_ref: str = "AGL"
    upper_m: float = float("inf")
    upper_ref: str = "AGL"
    windows: tuple[Window, ...] = ()  # empty = permanent
    circle: tuple[float, float, float] | None = None  # lon, lat, radius_m
    message: str = ""
    reason: tuple[str, ...] = ()
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def active(self, start: datetime, end: datetime | None = None) -> bool:
        """Whether the zone applies at any time in ``start``..``end`` (checked every minute
        of a window when schedules are involved, capped at 24 h)."""
        if not self.windows:
            return True
        end = end or start
        if end <= start:
            return any(w.contains(start) for w in self.windows)
        steps = min(int((end - start).total_seconds() // 60) + 1, 1441)
        span = (end - start) / max(steps - 1, 1)
        return any(w.contains(start + span * i) for i in range(steps) for w in self.windows)

    def metric_geometry(self, epsg: int) -> BaseGeometry:
        """The horizontal projection in a metric CRS (circles as 256-gons)."""
        if self.circle is not None:
            lon, lat, r = self.circle
            cx, cy = transform([lon], [lat], WGS84, epsg)
            return Point(float(cx[0]), float(cy[0])).buffer(r, quad_segs=64)

        def fn(xy: Any) -> Any:
            x, y = transform(xy[:, 0], xy[:, 1], WGS84, epsg)
            return np.column_stack([x, y])

        return shapely.transform(self.geometry, fn)

    def limits_amsl(self, ground_m: Any, geoid_offset_m: float = 0.0) -> tuple[Any, Any]:
        """Lower and upper limits as AMSL metres given the ground elevation(s) below."""

        def conv(v: float, ref: str) -> Any:
            if ref == "AGL":
                return ground_m + v
            if ref == "WGS84":
                return v - geoid_offset_m
            return v + 0.0 * ground_m

        return conv(self.lower_m, self.lower_ref), conv(self.upper_m, self.upper_ref)


def _dt(v: Any, where: str) -> datetime | None:
    if v in (None, ""):
        return None
    try:
        d = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInputError(f"bad date-time {v!r}", where=where) from exc
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def _tm(v: Any, where: str) -> time:
    try:
        return time.fromisoformat(str(v).replace("Z", ""))
    except ValueError as exc:
        raise BadInputError(f"bad time {v!r}", where=where) from exc


def _windows(items: Any, where: str) -> tuple[Window, ...]:
    if not items:
        return ()
    out = []
    for a in items if isinstance(items, list) else [items]:
        if not isinstance(a, dict):
            raise BadInputError("applicability must be an object", where=where)
        if str(a.get("permanent", "")).upper() == "YES":
            return ()
        scheds = []
        for s in a.get("schedule", []) or []:
            days = s.get("day", ["ANY"])
            days = tuple(d.upper() for d in ([days] if isinstance(days, str) else days))
            scheds.append(
                Schedule(
                    days,
                    _tm(s.get("startTime", "00:00"), where),
                    _tm(s.get("endTime", "23:59:59"), where),
                )
            )
        out.append(
            Window(
                _dt(a.get("startDateTime"), where), _dt(a.get("endDateTime"), where), tuple(scheds)
            )
        )
    return tuple(out)


def _restriction(v: Any, where: str) -> str:
    r = str(v or "PROHIBITED").upper()
    if r not in RESTRICTIONS:
        raise BadInputError(
            f"unknown restriction {v!r} (one of {', '.join(RESTRICTIONS)})", where=where
        )
    return r


def _limit(v: Any, uom: str, default: float) -> float:
    if v is None:
        return default
    f = float(v)
    return f * FT if uom.upper() in ("FT", "FEET") else f


def _ref(v: Any, where: str, default: str = "AGL") -> str:
    r = str(v or default).upper()
    if r not in REFERENCES:
        raise BadInputError(f"unknown vertical reference {v!r}", where=where)
    return r


def _circle_geom(lon: float, lat: float, r: float) -> BaseGeometry:
    from dronekit_plzen.geo import destination

    b = np.linspace(0.0, 360.0, 73)[:-1]
    lo, la = destination(np.full(b.shape, lon), np.full(b.shape, lat), b, np.full(b.shape, r))
    return Polygon(list(zip(lo.tolist(), la.tolist())))


def _checked(geom: BaseGeometry, where: str) -> BaseGeometry:
    if geom.is_empty or not geom.is_valid:
        from shapely.validation import explain_validity

        raise BadInputError(f"invalid zone geometry: {explain_validity(geom)}", where=where)
    return geom


def _from_ed269(doc: dict[str, Any], src: str) -> list[Zone]:
    zones = []
    for k, f in enumerate(doc.get("features", [])):
        where = f"{src}: feature {k + 1} ({f.get('identifier', '?')})"
        common: dict[str, Any] = dict(
            identifier=str(f.get("identifier", f"zone-{k + 1}")),
            name=str(f.get("name", "")),
            restriction=_restriction(f.get("restriction"), where),
            windows=_windows(f.get("applicability"), where),
            message=str(f.get("message", "")),
            reason=tuple(f.get("reason", []) or []),
            source=src,
        )
        geoms = f.get("geometry")
        if not isinstance(geoms, list) or not geoms:
            raise BadInputError("ED-269 feature needs a 'geometry' list of volumes", where=where)
        for g in geoms:
            uom = str(g.get("uomDimensions", "M"))
            hp = g.get("horizontalProjection") or {}
            lim: dict[str, Any] = dict(
                lower_m=_limit(g.get("lowerLimit"), uom, 0.0),
                lower_ref=_ref(g.get("lowerVerticalReference"), where),
                upper_m=_limit(g.get("upperLimit"), uom, float("inf")),
                upper_ref=_ref(g.get("upperVerticalReference"), where),
            )
            try:
                if hp.get("type") == "Circle":
                    lon, lat = (float(v) for v in hp["center"])
                    r = float(hp["radius"])
                    zones.append(
                        Zone(
                            geometry=_circle_geom(lon, lat, r),
                            circle=(lon, lat, r),
                            **common,
                            **lim,
                        )
                    )
                else:
                    zones.append(Zone(geometry=_checked(shape(hp), where), **common, **lim))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise BadInputError(f"bad horizontalProjection: {exc}", where=where) from exc
    return zones


def _from_geojson(doc: dict[str, Any], src: str) -> list[Zone]:
    zones = []
    feats = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
    for k, f in enumerate(feats):
        props = f.get("properties") or {}
        ident = str(props.get("identifier", props.get("id", f.get("id", f"zone-{k + 1}"))))
        where = f"{src}: feature {k + 1} ({ident})"
        g = f.get("geometry")
        if not isinstance(g, dict):
            raise BadInputError("feature without geometry", where=where)
        plain = "restriction" not in props and "layer" not in g
        parts = g["geometries"] if g.get("type") == "GeometryCollection" else [g]
        common: dict[str, Any] = dict(
            identifier=ident,
            name=str(props.get("name", "")),
            restriction="PROHIBITED" if plain else _restriction(props.get("restriction"), where),
            windows=_windows(
                props.get("limitedApplicability") or props.get("applicability"), where
            ),
            message=str(props.get("message", "")),
            reason=tuple(props.get("reason", []) or []),
            source=src,
            extra={k2: v for k2, v in props.items() if k2 in ("illustrative", "note", "country")},
        )
        for part in parts:
            layer = part.get("layer") or {}
            uom = str(layer.get("uom", props.get("uomDimensions", "m")))
            lim: dict[str, Any] = dict(
                lower_m=_limit(layer.get("lower", props.get("lowerLimit")), uom, 0.0),
                lower_ref=_ref(
                    layer.get("lowerReference", props.get("lowerVerticalReference")), where
                ),
                upper_m=_limit(layer.get("upper", props.get("upperLimit")), uom, float("inf")),
                upper_ref=_ref(
                    layer.get("upperReference", props.get("upperVerticalReference")), where
                ),
            )
            ext = part.get("extent") or {}
            try:
                if part.get("type") == "Point" and str(ext.get("subType", "")).lower() == "circle":
                    lon, lat = (float(v) for v in part["coordinates"][:2])
                    r = float(ext["radius"])
                    zones.append(
                        Zone(
                            geometry=_circle_geom(lon, lat, r),
                            circle=(lon, lat, r),
                            **common,
                            **lim,
                        )
                    )
                elif part.get("type") in ("Polygon", "MultiPolygon"):
                    clean = {"type": part["type"], "coordinates": part["coordinates"]}
                    zones.append(Zone(geometry=_checked(shape(clean), where), **common, **lim))
                else:
                    raise BadInputError(
                        f"zone geometry {part.get('type')!r} is not an area", where=where
                    )
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise BadInputError(f"bad zone geometry: {exc}", where=where) from exc
    return zones


def parse_zones(doc: Any, src: str = "<zones>") -> list[Zone]:
    if not isinstance(doc, dict):
        raise BadInputError("zones file must hold a JSON object", where=src)
    feats = doc.get("features")
    if doc.get("type") in ("FeatureCollection", "Feature"):
        return _from_geojson(doc, src)
    if isinstance(feats, list):
        return _from_ed269(doc, src)
    raise BadInputError("neither ED-269 JSON (features) nor GeoJSON (FeatureCollection)", where=src)


def load_zones(path: str | Path) -> list[Zone]:
    """Read an ED-269 JSON, ED-318 GeoJSON or plain GeoJSON zones file."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise BadInputError("zones file not found", where=str(p)) from exc
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}", where=str(p)
        ) from exc
    return parse_zones(doc, str(p))


def sample_zones_path(kind: str = "geojson") -> Path:
    """The shipped ILLUSTRATIVE (not official) zones around Plzeň: ``geojson`` (ED-318) or
    ``ed269``."""
    name = "plzen_sample.geojson" if kind == "geojson" else "plzen_sample_ed269.json"
    return Path(__file__).parent / "data" / "zones" / name


def restricting(zones: Iterable[Zone], *, authorised: Sequence[str] = ()) -> list[Zone]:
    """Zones that forbid flight without more: PROHIBITED, and REQ_AUTHORISATION unless its
    identifier is in ``authorised``."""
    return [
        z
        for z in zones
        if z.restriction == "PROHIBITED"
        or (z.restriction == "REQ_AUTHORISATION" and z.identifier not in authorised)
    ]
