"""Validation of the request form: raw form fields in, a :class:`NewRequest` or every problem out.

Pure: no database, no web framework. ``t`` translates a message into the page's language, so
every problem reads in Czech or English beside the field it concerns.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import parse_coordinate
from missions.area import HOME_REGION_LONLAT
from telemetry.requests import (
    REQUEST_CATEGORIES,
    REQUEST_ORGANISATIONS,
    SUBJECT_CATEGORIES,
    URGENCIES,
    NewRequest,
)

Translate = Callable[[str], str]

MAX_TEXT = {"location": 200, "contact_name": 120, "subject_description": 2000, "notes": 2000}
MAX_VERTICES = 500
MAX_AREA_KM2 = 100.0
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()/-]{7,22}$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: a one-line name (user name, pilot, drone): no control characters, no line breaks, and no
#: invisible format characters (a bidi override makes a name read differently than stored)
_NAME_BAD_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
#: where the portal's requests may lie: the unit's home region, the Czech Republic (12.09-18.86
#: E, 48.55-51.06 N) with a margin, as the area reader uses it; a point elsewhere is a typing
#: slip or swapped latitude and longitude
SERVICE_AREA = HOME_REGION_LONLAT


@dataclass
class FormResult:
    """The validated request, or the problems keyed by field name (never both)."""

    request: NewRequest | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return "" if value is None else str(value).strip()


def check_name(value: str, t: Translate, limit: int) -> str:
    """A one-line name (a user name, a pilot, a drone) stripped, or :class:`BadInputError`
    when it holds control or invisible format characters or is longer than ``limit``."""
    return _checked(value, t, limit, _NAME_BAD_RE)


def check_text(value: str, t: Translate, limit: int) -> str:
    """A free text (a reason, a note) stripped, or :class:`BadInputError` when it holds control
    characters (line breaks and tabs are allowed) or is longer than ``limit``."""
    return _checked(value, t, limit, _CONTROL_RE)


def _checked(value: str, t: Translate, limit: int, bad: re.Pattern[str]) -> str:
    value = value.strip()
    if bad.search(value):
        raise BadInputError(t("the text contains control characters"))
    if len(value) > limit:
        raise BadInputError(t("at most {n} characters").format(n=limit))
    return value


def check_in_service_area(lon: float, lat: float, t: Translate) -> None:
    """Refuse a position outside the Czech Republic, naming a likely swap of lat and lon."""
    w, s, e, n = SERVICE_AREA
    if w <= lon <= e and s <= lat <= n:
        return
    text = t("the position {lat:.5f}, {lon:.5f} lies outside the Czech Republic").format(
        lat=lat, lon=lon
    )
    if w <= lat <= e and s <= lon <= n:
        text += "; " + t("are latitude and longitude swapped?")
    raise BadInputError(text)


def parse_geometry(text: str, t: Translate) -> tuple[str, float, float, str | None]:
    """A GeoJSON Point or Polygon (lon/lat) from the map → (kind, lon, lat, polygon JSON)."""
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise BadInputError(t("the drawn shape could not be read")) from None
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
    if not isinstance(doc, dict) or doc.get("type") not in ("Point", "Polygon"):
        raise BadInputError(t("draw a point or an area (polygon) on the map"))
    try:
        geom = shape(doc)
    except Exception:  # shapely raises several kinds for malformed coordinates
        raise BadInputError(t("the drawn shape could not be read")) from None
    coords = list(geom.exterior.coords) if doc["type"] == "Polygon" else list(geom.coords)
    if not coords or any(
        not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90)
        for x, y, *_z in coords
    ):
        raise BadInputError(t("the coordinates lie outside WGS84 longitude/latitude"))
    if doc["type"] == "Point":
        check_in_service_area(float(geom.x), float(geom.y), t)
        return "point", float(geom.x), float(geom.y), None
    if len(doc.get("coordinates") or ()) > 1:  # holes would be dropped: refuse, do not guess
        raise BadInputError(t("an area with holes cannot be requested; draw its outline only"))
    if len(coords) - 1 < 3 or len(coords) > MAX_VERTICES:
        raise BadInputError(t("an area needs 3 to {n} corners").format(n=MAX_VERTICES - 1))
    if not geom.is_valid:
        raise BadInputError(t("the area crosses itself") + f" ({explain_validity(geom)})")
    for x, y, *_z in coords:
        check_in_service_area(float(x), float(y), t)
    from dronekit_plzen.geo import lonlat_to_utm

    c = geom.centroid
    xs, ys = lonlat_to_utm([p[0] for p in coords], [p[1] for p in coords])
    area_m2 = 0.5 * abs(sum(xs[i] * ys[i + 1] - xs[i + 1] * ys[i] for i in range(len(coords) - 1)))
    if area_m2 > MAX_AREA_KM2 * 1e6:
        raise BadInputError(
            t("the area is larger than {n} km²; split it into smaller requests").format(
                n=f"{MAX_AREA_KM2:g}"
            )
        )
    clean = {"type": "Polygon", "coordinates": [[[float(x), float(y)] for x, y, *_z in coords]]}
    return "area", float(c.x), float(c.y), json.dumps(clean)


def parse_position(text: str, t: Translate) -> tuple[float, float]:
    """A typed position (WGS84 decimal, DMS, S-JTSK) → (lon, lat)."""
    try:
        lon, lat = parse_coordinate(text)
    except BadInputError as exc:
        raise BadInputError(
            t(
                "cannot read the position; write e.g. 49.7475, 13.3776 or 49°44'51\"N 13°22'39\"E "
                "or S-JTSK 823456 1069876"
            )
            + f" ({exc.message})"
        ) from None
    check_in_service_area(lon, lat, t)
    return lon, lat


def parse_local_time(text: str, t: Translate, *, now: datetime | None = None) -> str:
    """``YYYY-MM-DDTHH:MM`` (browser local time of the Czech Republic, CET/CEST) → UTC ISO."""
    from zoneinfo import ZoneInfo

    try:
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=ZoneInfo("Europe/Prague"))
        utc = dt.astimezone(timezone.utc)  # OverflowError at year 1 or 9999 near midnight
    except (ValueError, OverflowError):
        raise BadInputError(t("write the time as YYYY-MM-DD HH:MM")) from None
    now = now or datetime.now(timezone.utc)
    if utc > now + timedelta(minutes=10):
        raise BadInputError(t("the last-known-position time lies in the future"))
    if utc < now - timedelta(days=30):
        raise BadInputError(t("the last-known-position time is more than 30 days ago"))
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_request(
    form: Mapping[str, Any],
    t: Translate,
    *,
    allowed_organisations: tuple[str, ...] = REQUEST_ORGANISATIONS,
    now: datetime | None = None,
) -> FormResult:
    """Check every field of the request form; returns all problems at once."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}

    for name, choices in (
        ("organisation", allowed_organisations),
        ("category", REQUEST_CATEGORIES),
        ("urgency", URGENCIES),
    ):
        v = _text(form, name)
        if v not in choices:
            errors[name] = t("choose one of the offered values")
        values[name] = v

    for name, limit in MAX_TEXT.items():
        v = _text(form, name)
        if _CONTROL_RE.search(v):
            errors[name] = t("the text contains control characters")
        elif len(v) > limit:
            errors[name] = t("at most {n} characters").format(n=limit)
        values[name] = v or None
    for name in ("location", "contact_name"):
        if not values[name] and name not in errors:
            errors[name] = t("this field is required")

    phone = _text(form, "contact_phone")
    if not phone:
        errors["contact_phone"] = t("this field is required")
    elif not _PHONE_RE.match(phone):
        errors["contact_phone"] = t("a telephone number: digits, spaces and a leading +")
    values["contact_phone"] = phone

    geometry, position = _text(form, "geometry"), _text(form, "position")
    lon = lat = None
    area_json = None
    try:
        if geometry:
            _kind, lon, lat, area_json = parse_geometry(geometry, t)
        elif position:
            lon, lat = parse_position(position, t)
        else:
            errors["geometry"] = t("draw the point or the area on the map, or type a position")
    except BadInputError as exc:
        errors["geometry" if geometry else "position"] = exc.message

    if values.get("category") == "sar":
        subject = _text(form, "subject_category")
        if subject not in SUBJECT_CATEGORIES:
            errors["subject_category"] = t("a search needs the missing person's category")
        values["subject_category"] = subject or None
        if not values["subject_description"] and "subject_description" not in errors:
            errors["subject_description"] = t("describe the missing person (age, clothing)")
        lkp_time = _text(form, "lkp_time")
        if not lkp_time:
            errors["lkp_time"] = t("a search needs the time of the last known position")
        else:
            try:
                values["lkp_time"] = parse_local_time(lkp_time, t, now=now)
            except BadInputError as exc:
                errors["lkp_time"] = exc.message
        lkp = _text(form, "lkp")
        if lkp:
            try:
                values["lkp_lon_deg"], values["lkp_lat_deg"] = parse_position(lkp, t)
            except BadInputError as exc:
                errors["lkp"] = exc.message
        elif lon is not None:
            values["lkp_lon_deg"], values["lkp_lat_deg"] = lon, lat
    else:
        values["subject_category"] = values["subject_description"] = None

    if errors:
        return FormResult(errors=errors)
    assert lon is not None and lat is not None
    return FormResult(
        request=NewRequest(
            organisation=values["organisation"],
            category=values["category"],
            urgency=values["urgency"],
            location=values["location"],
            lat_deg=lat,
            lon_deg=lon,
            contact_name=values["contact_name"],
            contact_phone=phone,
            area_geojson=area_json,
            subject_category=values.get("subject_category"),
            subject_description=values.get("subject_description"),
            lkp_lat_deg=values.get("lkp_lat_deg"),
            lkp_lon_deg=values.get("lkp_lon_deg"),
            lkp_time=values.get("lkp_time"),
            notes=values.get("notes"),
        )
    )
