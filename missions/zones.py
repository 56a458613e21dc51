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

import contextlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from dronekit_plzen.errors import BadInputError, DronekitPlzenError
from dronekit_plzen.geo import WGS84, transform
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import json_int, read_input_bytes, read_reason
from dronekit_plzen.outputs import note_input

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

        return shapely.transform(_within_reach(self.geometry, epsg), fn)

    def limits_amsl(self, ground_m: Any, geoid_offset_m: float = 0.0) -> tuple[Any, Any]:
        """Lower and upper limits as AMSL metres given the ground elevation(s) below."""

        def conv(v: float, ref: str) -> Any:
            if ref == "AGL":
                return ground_m + v
            if ref == "WGS84":
                return v - geoid_offset_m
            return v + 0.0 * ground_m

        return conv(self.lower_m, self.lower_ref), conv(self.upper_m, self.upper_ref)


# ----------------------------------------------------------------------------- parsing
# Every value read from the file is checked where it is read; anything else that goes wrong
# inside one feature (a list where an object belongs, a missing key) is caught by _guard and
# named with the feature, so a malformed file is always one BadInputError, never a traceback.

#: largest circle radius accepted (m): a zone is a local thing
MAX_RADIUS_M = 500_000.0


def _within_reach(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    """A zone wider than a few degrees (a country, or a whole-world PROHIBITED test zone),
    clipped to the metric CRS's area of use widened by 3° and densified: its far corners
    projected into a UTM zone folded the polygon so that it no longer held the mission inside
    it (exit 0 for a mission in a prohibited zone)."""
    x0, y0, x1, y1 = geom.bounds
    if x1 - x0 <= 6 and y1 - y0 <= 6:
        return geom
    from pyproj import CRS

    aou = CRS.from_epsg(epsg).area_of_use
    if aou is None:
        return geom
    box = shapely.box(
        max(aou.west - 3, -180),
        max(aou.south - 3, -89),
        min(aou.east + 3, 180),
        min(aou.north + 3, 89),
    )
    return shapely.segmentize(geom.intersection(box), 0.05)


@contextlib.contextmanager
def _guard(where: str) -> Iterator[None]:
    try:
        yield
    except DronekitPlzenError:
        raise
    except KeyError as exc:
        raise BadInputError(
            _("malformed zone: missing {key}").format(key=exc), where=where
        ) from exc
    except (TypeError, ValueError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise BadInputError(_("malformed zone: {err}").format(err=exc), where=where) from exc


def _obj(v: Any, what: str, where: str) -> dict[str, Any]:
    """``v`` if it is a JSON object (None counts as empty), else a BadInputError."""
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise BadInputError(
            _("{what} must be a JSON object, got {v}").format(what=what, v=_short(v)),
            where=where,
        )
    return v


def _list(v: Any, what: str, where: str) -> list[Any]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise BadInputError(
            _("{what} must be a JSON list, got {v}").format(what=what, v=_short(v)), where=where
        )
    return v


def _short(v: Any, n: int = 40) -> str:
    r = repr(v)
    return r if len(r) <= n else r[: n - 1] + "…"


def _dt(v: Any, where: str) -> datetime | None:
    if v in (None, ""):
        return None
    try:
        d = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInputError(_("bad date-time {v!r}").format(v=v), where=where) from exc
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def _tm(v: Any, where: str) -> time:
    try:
        return time.fromisoformat(str(v).replace("Z", ""))
    except ValueError as exc:
        raise BadInputError(_("bad time {v!r}").format(v=v), where=where) from exc


def _windows(items: Any, where: str) -> tuple[Window, ...]:
    if not items:
        return ()
    out = []
    for a in items if isinstance(items, list) else [items]:
        if not isinstance(a, dict):
            raise BadInputError(_("applicability must be an object"), where=where)
        if str(a.get("permanent", "")).upper() == "YES":
            return ()
        scheds = []
        for s in _list(a.get("schedule"), "schedule", where):
            s = _obj(s, "a schedule", where)
            days = s.get("day", ["ANY"])
            days = [days] if isinstance(days, str) else _list(days, "day", where)
            days = tuple(str(d).upper() for d in days)
            unknown = [d for d in days if d not in (*_DAYS, "ANY")]
            if unknown:
                raise BadInputError(
                    _("unknown day {d!r} (one of {days}, ANY)").format(
                        d=unknown[0], days=", ".join(_DAYS)
                    ),
                    where=where,
                )
            scheds.append(
                Schedule(
                    days,
                    _tm(s.get("startTime", "00:00"), where),
                    _tm(s.get("endTime", "23:59:59"), where),
                )
            )
        start, end = _dt(a.get("startDateTime"), where), _dt(a.get("endDateTime"), where)
        if start is not None and end is not None and end < start:
            raise BadInputError(
                _("applicability ends ({end}) before it starts ({start})").format(
                    start=start.isoformat(), end=end.isoformat()
                ),
                where=where,
            )
        out.append(Window(start, end, tuple(scheds)))
    return tuple(out)


def _restriction(v: Any, where: str) -> str:
    r = str(v or "PROHIBITED").upper()
    if r not in RESTRICTIONS:
        raise BadInputError(
            _("unknown restriction {v!r} (one of {restrictions})").format(
                v=v, restrictions=", ".join(RESTRICTIONS)
            ),
            where=where,
        )
    return r


def _number(v: Any, what: str, where: str) -> float:
    """A finite number from the file (a JSON number or a numeric string)."""
    try:
        f = float(v) if not isinstance(v, bool) else math.nan
    except (TypeError, ValueError):
        f = math.nan
    if not math.isfinite(f):
        raise BadInputError(
            _("{what} must be a finite number, got {v}").format(what=what, v=_short(v)),
            where=where,
        )
    return f


def _limit(v: Any, uom: str, default: float, what: str = "limit", where: str = "") -> float:
    if v is None:
        return default
    f = _number(v, what, where)
    return f * FT if uom.upper() in ("FT", "FEET") else f


def _uom(v: Any, where: str) -> str:
    u = str(v).upper()
    if u not in ("M", "FT", "FEET"):
        raise BadInputError(_("unknown unit {v} (M or FT)").format(v=_short(v)), where=where)
    return u


def _ref(v: Any, where: str, default: str = "AGL") -> str:
    r = str(v or default).upper()
    if r not in REFERENCES:
        raise BadInputError(_("unknown vertical reference {v!r}").format(v=v), where=where)
    return r


def _limits(
    lower: Any, upper: Any, lower_ref: Any, upper_ref: Any, uom: Any, where: str
) -> dict[str, Any]:
    u = _uom(uom, where)
    lim: dict[str, Any] = dict(
        lower_m=_limit(lower, u, 0.0, "lowerLimit", where),
        lower_ref=_ref(lower_ref, where),
        upper_m=_limit(upper, u, float("inf"), "upperLimit", where),
        upper_ref=_ref(upper_ref, where),
    )
    if lim["lower_ref"] == lim["upper_ref"] and lim["lower_m"] > lim["upper_m"]:
        raise BadInputError(
            _("the lower limit {lo:g} m is above the upper limit {up:g} m").format(
                lo=lim["lower_m"], up=lim["upper_m"]
            ),
            where=where,
        )
    return lim


def _lonlat(v: Any, where: str) -> tuple[float, float]:
    pos = _list(v, "a position", where)
    if len(pos) < 2:
        raise BadInputError(
            _("a position needs [lon, lat], got {v}").format(v=_short(v)), where=where
        )
    lon, lat = _number(pos[0], "longitude", where), _number(pos[1], "latitude", where)
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise BadInputError(
            _("position ({lon:g}, {lat:g}) is not WGS84 lon/lat").format(lon=lon, lat=lat),
            where=where,
        )
    return lon, lat


def _circle(center: Any, radius: Any, where: str) -> tuple[float, float, float]:
    lon, lat = _lonlat(center, where)
    r = _number(radius, "radius", where)
    if not 0.0 < r <= MAX_RADIUS_M:
        raise BadInputError(
            _("circle radius {r:g} m must be above 0 and at most {m:g} m").format(
                r=r, m=MAX_RADIUS_M
            ),
            where=where,
        )
    return lon, lat, r


def _circle_geom(lon: float, lat: float, r: float) -> BaseGeometry:
    from dronekit_plzen.geo import destination

    b = np.linspace(0.0, 360.0, 73)[:-1]
    lo, la = destination(np.full(b.shape, lon), np.full(b.shape, lat), b, np.full(b.shape, r))
    return Polygon(list(zip(lo.tolist(), la.tolist())))


def _checked(geom: BaseGeometry, where: str) -> BaseGeometry:
    if geom.is_empty or not geom.is_valid:
        from shapely.validation import explain_validity

        raise BadInputError(
            _("invalid zone geometry: {reason}").format(reason=explain_validity(geom)), where=where
        )
    x0, y0, x1, y1 = geom.bounds
    if not (x0 >= -180.0 and x1 <= 180.0 and y0 >= -90.0 and y1 <= 90.0):
        raise BadInputError(
            _("zone coordinates ({x:g}, {y:g}) are not WGS84 lon/lat").format(
                x=x1 if x1 > 180 else x0, y=y1 if y1 > 90 else y0
            ),
            where=where,
        )
    return geom


def _all_finite(v: Any) -> bool:
    """Whether every number in nested lists is finite (checked before shapely sees them)."""
    if isinstance(v, list):
        return all(_all_finite(x) for x in v)
    return not isinstance(v, float) or math.isfinite(v)


def _polygon(g: dict[str, Any], where: str) -> BaseGeometry:
    coords = g.get("coordinates")
    if not isinstance(coords, list) or not coords:
        raise BadInputError(_("{t} without coordinates").format(t=g.get("type")), where=where)
    if not _all_finite(coords):
        raise BadInputError(
            _("the zone has a non-finite coordinate (NaN or infinity)"), where=where
        )
    return _checked(shape({"type": g["type"], "coordinates": coords}), where)


def _common(f: dict[str, Any], props: dict[str, Any], where: str) -> dict[str, Any]:
    reason = props.get("reason", []) or []
    return dict(
        name=str(props.get("name", "")),
        windows=_windows(props.get("limitedApplicability") or props.get("applicability"), where),
        message=str(props.get("message", "")),
        reason=tuple(
            str(r)
            for r in ([reason] if isinstance(reason, str) else _list(reason, "reason", where))
        ),
    )


def _ed269_feature(f: Any, k: int, src: str) -> list[Zone]:
    where = f"{src}: feature {k + 1}"
    f = _obj(f, _("a feature"), where)
    where = f"{src}: feature {k + 1} ({f.get('identifier', '?')})"
    zones: list[Zone] = []
    with _guard(where):
        common: dict[str, Any] = dict(
            identifier=str(f.get("identifier", f"zone-{k + 1}")),
            restriction=_restriction(f.get("restriction"), where),
            source=src,
            **_common(f, f, where),
        )
        geoms = f.get("geometry")
        if not isinstance(geoms, list) or not geoms:
            raise BadInputError(_("ED-269 feature needs a 'geometry' list of volumes"), where=where)
        for g in geoms:
            g = _obj(g, _("a volume"), where)
            hp = _obj(g.get("horizontalProjection"), "horizontalProjection", where)
            lim = _limits(
                g.get("lowerLimit"),
                g.get("upperLimit"),
                g.get("lowerVerticalReference"),
                g.get("upperVerticalReference"),
                g.get("uomDimensions", "M"),
                where,
            )
            if hp.get("type") == "Circle":
                lon, lat, r = _circle(hp.get("center"), hp.get("radius"), where)
                geom = _circle_geom(lon, lat, r)
                zones.append(Zone(geometry=geom, circle=(lon, lat, r), **common, **lim))
            elif hp.get("type") in ("Polygon", "MultiPolygon"):
                zones.append(Zone(geometry=_polygon(hp, where), **common, **lim))
            else:
                raise BadInputError(
                    _("horizontalProjection type {t!r} is not Polygon or Circle").format(
                        t=hp.get("type")
                    ),
                    where=where,
                )
    return zones


def _from_ed269(doc: dict[str, Any], src: str) -> list[Zone]:
    feats = _list(doc.get("features"), "features", src)
    return [z for k, f in enumerate(feats) for z in _ed269_feature(f, k, src)]


def _geojson_feature(f: Any, k: int, src: str) -> list[Zone]:
    f = _obj(f, _("a feature"), f"{src}: feature {k + 1}")
    props = _obj(f.get("properties"), "properties", f"{src}: feature {k + 1}")
    ident = str(props.get("identifier", props.get("id", f.get("id", f"zone-{k + 1}"))))
    where = f"{src}: feature {k + 1} ({ident})"
    zones: list[Zone] = []
    with _guard(where):
        g = f.get("geometry")
        if not isinstance(g, dict):
            raise BadInputError(_("feature without geometry"), where=where)
        plain = "restriction" not in props and "layer" not in g
        parts = (
            _list(g.get("geometries"), "geometries", where)
            if g.get("type") == "GeometryCollection"
            else [g]
        )
        if not parts:
            raise BadInputError(_("GeometryCollection without geometries"), where=where)
        common: dict[str, Any] = dict(
            identifier=ident,
            restriction="PROHIBITED" if plain else _restriction(props.get("restriction"), where),
            source=src,
            extra={k2: v for k2, v in props.items() if k2 in ("illustrative", "note", "country")},
            **_common(f, props, where),
        )
        for part in parts:
            part = _obj(part, _("a geometry"), where)
            layer = _obj(part.get("layer"), "layer", where)
            lim = _limits(
                layer.get("lower", props.get("lowerLimit")),
                layer.get("upper", props.get("upperLimit")),
                layer.get("lowerReference", props.get("lowerVerticalReference")),
                layer.get("upperReference", props.get("upperVerticalReference")),
                layer.get("uom", props.get("uomDimensions", "m")),
                where,
            )
            ext = _obj(part.get("extent"), "extent", where)
            if part.get("type") == "Point" and str(ext.get("subType", "")).lower() == "circle":
                lon, lat, r = _circle(part.get("coordinates"), ext.get("radius"), where)
                geom = _circle_geom(lon, lat, r)
                zones.append(Zone(geometry=geom, circle=(lon, lat, r), **common, **lim))
            elif part.get("type") in ("Polygon", "MultiPolygon"):
                zones.append(Zone(geometry=_polygon(part, where), **common, **lim))
            else:
                raise BadInputError(
                    _("zone geometry {part_type!r} is not an area").format(
                        part_type=part.get("type")
                    ),
                    where=where,
                )
    return zones


def _from_geojson(doc: dict[str, Any], src: str) -> list[Zone]:
    crs = doc.get("crs")
    if crs is not None:
        name = (_obj(crs, "crs", src).get("properties") or {}).get("name", "")
        if "CRS84" not in str(name) and not str(name).upper().endswith(("4326", "WGS84")):
            raise BadInputError(
                _("zones must be in WGS84 lon/lat; the file declares the CRS {crs}").format(
                    crs=_short(name)
                ),
                where=src,
            )
    if doc.get("type") == "FeatureCollection":
        feats = doc.get("features")
        if not isinstance(feats, list):
            raise BadInputError(_("a FeatureCollection needs a 'features' list"), where=src)
    else:
        feats = [doc]
    return [z for k, f in enumerate(feats) for z in _geojson_feature(f, k, src)]


def parse_zones(doc: Any, src: str = "<zones>") -> list[Zone]:
    if not isinstance(doc, dict):
        raise BadInputError(_("zones file must hold a JSON object"), where=src)
    feats = doc.get("features")
    if doc.get("type") in ("FeatureCollection", "Feature"):
        return _from_geojson(doc, src)
    if isinstance(feats, list):
        return _from_ed269(doc, src)
    raise BadInputError(
        _("neither ED-269 JSON (features) nor GeoJSON (FeatureCollection)"), where=src
    )


def load_zones(path: str | Path) -> list[Zone]:
    """Read an ED-269 JSON, ED-318 GeoJSON or plain GeoJSON zones file.

    Raises :class:`BadInputError` (one line, naming the file and the feature) for anything
    that is not a well-formed zones file.
    """
    note_input(path)  # never replaced by an output of the same command
    p = Path(path)
    try:
        raw = read_input_bytes(p)
    except FileNotFoundError as exc:
        raise BadInputError(_("zones file not found"), where=str(p)) from exc
    except OSError as exc:
        raise BadInputError(
            _("cannot read the zones file: {reason}").format(reason=read_reason(exc)),
            where=str(p),
        ) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(
            _("not a UTF-8 JSON file (byte 0x{b:02x} at offset {o})").format(
                b=raw[exc.start], o=exc.start
            ),
            where=str(p),
        ) from exc
    try:
        doc = json.loads(text, parse_int=json_int)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            _("invalid JSON at line {lineno}, column {colno}").format(
                lineno=exc.lineno, colno=exc.colno
            ),
            where=str(p),
        ) from exc
    except RecursionError as exc:
        raise BadInputError(_("JSON nested too deeply"), where=str(p)) from exc
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
