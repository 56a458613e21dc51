"""Geodesy for the toolkit, over pyproj and vectorised over numpy arrays.

Coordinates are WGS84 longitude/latitude on the outside; planning happens in a metric CRS
(UTM, 33N for Plzeň, or the Czech national grid S-JTSK / Krovak East North, EPSG:5514).
Everything here works with ``PROJ_NETWORK=OFF`` (no grid downloads).

Transformers are cached per thread (pyproj's advice: a ``Transformer`` is not to be shared
between threads), keyed by an immutable recipe.

Examples
--------
>>> e, n = lonlat_to_utm(13.3776, 49.7475)
>>> round(float(e)), round(float(n))
(383122, 5511820)
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Geod, Transformer
from pyproj.enums import TransformDirection
from pyproj.exceptions import CRSError

from dronekit_plzen.errors import BadInputError, UnknownCRSError
from dronekit_plzen.i18n import _

WGS84 = 4326
SJTSK = 5514  # S-JTSK / Krovak East North
UTM33N = 32633
PLZEN_LON_LAT = (13.3776, 49.7475)

_GEOD = Geod(ellps="WGS84")
_local = threading.local()

FloatArray = NDArray[np.float64]


def as_crs(crs: Any) -> CRS:
    """Return a :class:`pyproj.CRS` for an EPSG code, ``"EPSG:nnnn"``, WKT, PROJ string or CRS.

    Raises :class:`UnknownCRSError` naming what was given when it cannot be identified.
    """
    if isinstance(crs, CRS):
        return crs
    try:
        return CRS.from_user_input(crs)
    except (CRSError, TypeError, ValueError) as exc:
        raise UnknownCRSError(
            _("unknown coordinate reference system {crs!r}").format(crs=crs)
        ) from exc


def _crs_key(crs: Any) -> str:
    c = as_crs(crs)
    epsg = c.to_epsg(min_confidence=100)
    return f"EPSG:{epsg}" if epsg else c.to_wkt()


def transformer(src: Any, dst: Any) -> Transformer:
    """A cached, thread-local ``Transformer`` from ``src`` to ``dst`` with x=east/lon order."""
    cache: dict[tuple[str, str], Transformer] | None = getattr(_local, "cache", None)
    if cache is None:
        cache = {}
        _local.cache = cache
    key = (_crs_key(src), _crs_key(dst))
    tr = cache.get(key)
    if tr is None:
        tr = Transformer.from_crs(as_crs(src), as_crs(dst), always_xy=True)
        cache[key] = tr
    return tr


def transform(x: ArrayLike, y: ArrayLike, src: Any, dst: Any) -> tuple[FloatArray, FloatArray]:
    """Transform arrays of x (east, lon) and y (north, lat) from ``src`` to ``dst``."""
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape:
        raise BadInputError(
            _("x and y have different shapes {shape_x} and {shape_y}").format(
                shape_x=xa.shape, shape_y=ya.shape
            )
        )
    ox, oy = transformer(src, dst).transform(xa, ya)
    ox = np.asarray(ox, dtype=np.float64)
    oy = np.asarray(oy, dtype=np.float64)
    if np.any(~np.isfinite(ox[np.isfinite(xa)])) or np.any(~np.isfinite(oy[np.isfinite(ya)])):
        bad = np.flatnonzero(~(np.isfinite(ox) & np.isfinite(oy)))
        i = int(bad[0])
        raise BadInputError(
            _("coordinate #{i} ({x}, {y}) cannot be transformed from {src} to {dst}").format(
                i=i, x=float(xa.flat[i]), y=float(ya.flat[i]), src=_crs_key(src), dst=_crs_key(dst)
            )
        )
    return ox, oy


def utm_epsg_for(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone containing ``(lon, lat)`` (32633 for Plzeň).

    Honours the Norway and Svalbard exceptions.
    """
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        raise BadInputError(_("no UTM zone for lon={lon}, lat={lat}").format(lon=lon, lat=lat))
    zone = int((lon + 180.0) // 6.0) + 1
    zone = min(zone, 60)
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        zone = 32
    if 72.0 <= lat < 84.0:
        for lo, hi, z in ((0.0, 9.0, 31), (9.0, 21.0, 33), (21.0, 33.0, 35), (33.0, 42.0, 37)):
            if lo <= lon < hi:
                zone = z
    return (32600 if lat >= 0 else 32700) + zone


#: the most a metric CRS may stretch or shrink distances where it is used (UTM: 0.04 %, S-JTSK
#: Křovák: 0.01 % in Czechia; Web Mercator: 55 % at Plzeň's latitude)
MAX_SCALE_ERROR = 0.01


def scale_error(crs: Any, lon: float, lat: float) -> float:
    """How much a projected ``crs`` stretches (or shrinks) a distance at ``lon``, ``lat``: the
    larger of its meridional and parallel scale factors' difference from 1 (0 for a true
    metre; ``inf`` where it cannot be computed). A CRS in feet counts its units too (a foot
    is 0.3048 of the metre a distance is planned in).

    >>> round(scale_error("EPSG:32633", 13.37, 49.74), 4)
    0.0002
    >>> round(scale_error("EPSG:3857", 13.37, 49.74), 2)
    0.55
    """
    from pyproj import Proj

    c = as_crs(crs)
    unit = (c.axis_info[0].unit_conversion_factor if c.axis_info else 1.0) or 1.0
    try:
        f = Proj(c).get_factors(lon, lat)
        k = (f.meridional_scale, f.parallel_scale)
    except Exception:  # pyproj raises several kinds for points outside a projection
        return math.inf
    if not all(math.isfinite(v) and v > 0 for v in k):
        return math.inf
    return max(abs(v / unit - 1.0) for v in k)


def utm_epsg_for_area(lon: ArrayLike, lat: ArrayLike) -> int:
    """UTM zone for an area: the zone of the centre of its bounding box."""
    lo = np.asarray(lon, dtype=np.float64)
    la = np.asarray(lat, dtype=np.float64)
    if lo.size == 0:
        raise BadInputError(_("empty area: no coordinates to choose a UTM zone from"))
    return utm_epsg_for(float((lo.min() + lo.max()) / 2.0), float((la.min() + la.max()) / 2.0))


def lonlat_to_utm(
    lon: ArrayLike, lat: ArrayLike, epsg: int | None = None
) -> tuple[FloatArray, FloatArray]:
    """WGS84 lon/lat → UTM easting/northing in metres (zone from the data unless given)."""
    code = epsg or utm_epsg_for_area(lon, lat)
    return transform(lon, lat, WGS84, code)


def utm_to_lonlat(
    easting: ArrayLike, northing: ArrayLike, epsg: int = UTM33N
) -> tuple[FloatArray, FloatArray]:
    """UTM easting/northing → WGS84 lon/lat."""
    return transform(easting, northing, epsg, WGS84)


def lonlat_to_sjtsk(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS84 lon/lat → S-JTSK Krovak East North (EPSG:5514), both negative in Czechia."""
    return transform(lon, lat, WGS84, SJTSK)


def sjtsk_to_lonlat(east: ArrayLike, north: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """S-JTSK (EPSG:5514) east/north → WGS84 lon/lat."""
    return transform(east, north, SJTSK, WGS84)


@dataclass(frozen=True)
class LocalFrame:
    """A local East-North-Up frame tangent to the WGS84 ellipsoid at an origin.

    ``h0_m`` is the ellipsoidal height of the origin. Exact (geocentric rotation via PROJ's
    ``topocentric`` operation), not a flat-earth approximation.
    """

    lat0_deg: float
    lon0_deg: float
    h0_m: float = 0.0

    def _tr(self) -> Transformer:
        cache: dict[tuple[float, float, float], Transformer] | None = getattr(_local, "enu", None)
        if cache is None:
            cache = {}
            _local.enu = cache
        key = (self.lat0_deg, self.lon0_deg, self.h0_m)
        tr = cache.get(key)
        if tr is None:
            pipe = (
                "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
                "+step +proj=cart +ellps=WGS84 "
                f"+step +proj=topocentric +ellps=WGS84 +lon_0={self.lon0_deg!r} "
                f"+lat_0={self.lat0_deg!r} +h_0={self.h0_m!r}"
            )
            tr = Transformer.from_pipeline(pipe)
            cache[key] = tr
        return tr

    def to_enu(
        self, lon: ArrayLike, lat: ArrayLike, h_m: ArrayLike = 0.0
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """WGS84 lon/lat/ellipsoidal height → east, north, up in metres."""
        lo, la, hh = np.broadcast_arrays(
            np.asarray(lon, np.float64), np.asarray(lat, np.float64), np.asarray(h_m, np.float64)
        )
        e, n, u = self._tr().transform(lo, la, hh)
        return np.asarray(e), np.asarray(n), np.asarray(u)

    def from_enu(
        self, east_m: ArrayLike, north_m: ArrayLike, up_m: ArrayLike = 0.0
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """East, north, up in metres → WGS84 lon, lat, ellipsoidal height."""
        e, n, u = np.broadcast_arrays(
            np.asarray(east_m, np.float64),
            np.asarray(north_m, np.float64),
            np.asarray(up_m, np.float64),
        )
        lo, la, hh = self._tr().transform(e, n, u, direction=TransformDirection.INVERSE)
        return np.asarray(lo), np.asarray(la), np.asarray(hh)


def distance_bearing(
    lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Geodesic distance (m) and initial bearing (degrees clockwise from north, 0..360)."""
    az, _baz, dist = _GEOD.inv(
        np.asarray(lon1, np.float64),
        np.asarray(lat1, np.float64),
        np.asarray(lon2, np.float64),
        np.asarray(lat2, np.float64),
    )
    return np.asarray(dist, np.float64), np.mod(np.asarray(az, np.float64), 360.0)


def geodesic_distance_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> Any:
    """Geodesic distance in metres on WGS84 (vectorised)."""
    return distance_bearing(lon1, lat1, lon2, lat2)[0]


def margin_deg(margin_m: float, south: float, north: float) -> tuple[float, float]:
    """(longitude, latitude) degrees that are at least ``margin_m`` metres on the ground over
    the latitudes ``south``..``north`` (a degree of longitude is cos(latitude) of a degree of
    latitude; taken at the edge farthest from the equator, at most 85°).

    >>> [round(d, 5) for d in margin_deg(500.0, 49.73, 49.74)]
    [0.00695, 0.00449]
    """
    dlat = margin_m / 111_320.0
    far = min(max(abs(south), abs(north)) + dlat, 85.0)
    return dlat / math.cos(math.radians(far)), dlat


def path_length_m(lon: ArrayLike, lat: ArrayLike) -> float:
    """Geodesic length of a polyline in metres."""
    lo = np.asarray(lon, np.float64)
    la = np.asarray(lat, np.float64)
    if lo.size < 2:
        return 0.0
    return float(np.sum(geodesic_distance_m(lo[:-1], la[:-1], lo[1:], la[1:])))


def destination(
    lon: ArrayLike, lat: ArrayLike, bearing_deg: ArrayLike, distance_m: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Point reached from (lon, lat) along a geodesic with the given bearing and distance."""
    lo, la, _ = _GEOD.fwd(
        np.asarray(lon, np.float64),
        np.asarray(lat, np.float64),
        np.asarray(bearing_deg, np.float64),
        np.asarray(distance_m, np.float64),
    )
    return np.asarray(lo, np.float64), np.asarray(la, np.float64)


# --------------------------------------------------------------------------- parsing

_NUM = r"[-+]?\d+(?:[.,]\d+)?"
_DMS_RE = re.compile(
    r"""^\s*(?P<h1>[NSEW])?\s*(?P<d>\d+(?:\.\d+)?)\s*(?:°|d|\s)\s*
        (?:(?P<m>\d+(?:\.\d+)?)\s*(?:'|′|m|\s)\s*)?
        (?:(?P<s>\d+(?:\.\d+)?)\s*(?:"|″|''|s)?\s*)?(?P<h2>[NSEW])?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)


def _parse_angle(text: str, what: str) -> tuple[float, str | None]:
    t = text.strip().replace(",", ".")
    try:
        return float(t), None
    except ValueError:
        pass
    m = _DMS_RE.match(t)
    if not m:
        raise BadInputError(
            _("cannot read {what} {text!r} as degrees or DMS").format(what=what, text=text.strip())
        )
    hemi = (m.group("h1") or m.group("h2") or "").upper() or None
    d = float(m.group("d"))
    mi = float(m.group("m") or 0.0)
    s = float(m.group("s") or 0.0)
    if mi >= 60 or s >= 60:
        raise BadInputError(
            _("minutes and seconds must be below 60 in {text!r}").format(text=text.strip())
        )
    val = d + mi / 60.0 + s / 3600.0
    if hemi in ("S", "W"):
        val = -val
    return val, hemi


def _split_pair(text: str) -> tuple[str, str]:
    t = text.strip()
    for sep in (";", ", ", ","):
        if sep in t:
            a, b = t.split(sep, 1)
            if sep == "," and (t.count(",") > 1 or re.fullmatch(r"\s*[-+]?\d+,\d+\s*", t)):
                # "50,13,5": 50 and 13.5, or 50.13 and 5? "49,7": 49.7, or 49 and 7?
                raise BadInputError(
                    _(
                        "cannot tell which comma in {text!r} is a decimal comma and which "
                        "separates the coordinates: write 'LAT, LON' (with a space) or 'LAT;LON'"
                    ).format(text=text)
                )
            return a, b
    # "49°44'51"N 13°22'39"E" or "49.7 13.3": split before the second hemisphere or at spaces
    letters = [m.start() for m in re.finditer(r"[NSEWnsew]", t)]
    if len(letters) == 2:
        if letters[0] == 0:  # hemisphere letters first: "N 49 44 51 E 13 22 39"
            return t[: letters[1]], t[letters[1] :]
        return t[: letters[0] + 1], t[letters[0] + 1 :]
    parts = t.split()
    if len(parts) == 2:
        return parts[0], parts[1]
    raise BadInputError(
        _("cannot split {text!r} into two coordinates (use 'LAT, LON')").format(text=text)
    )


def parse_coordinate(text: str) -> tuple[float, float]:
    """Parse a position typed by a person; return ``(lon, lat)`` in WGS84 degrees.

    Accepted forms:

    * decimal degrees ``"49.7475, 13.3776"`` (latitude first, as people write them);
    * DMS ``"49°44'51\\"N 13°22'39\\"E"``, also with hemisphere letters first;
    * S-JTSK pairs, recognised by their size: the Czech convention ``"Y X"`` with positive
      values (``"823456.12 1069876.5"``), or EPSG:5514 East/North with negative values;
      prefix with ``"EPSG:5514:"`` or ``"sjtsk:"`` to be explicit.

    >>> lon, lat = parse_coordinate("49.7475, 13.3776")
    >>> (lon, lat)
    (13.3776, 49.7475)
    """
    raw = text
    t = text.strip()
    forced_sjtsk = False
    low = t.lower()
    for pre in ("epsg:5514:", "sjtsk:", "s-jtsk:"):
        if low.startswith(pre):
            t = t[len(pre) :]
            forced_sjtsk = True
            break
    a_txt, b_txt = _split_pair(t)
    a, ha = _parse_angle(a_txt, _("the first coordinate"))
    b, hb = _parse_angle(b_txt, _("the second coordinate"))
    if forced_sjtsk or (abs(a) > 1000.0 and abs(b) > 1000.0):
        if a > 0 and b > 0:  # Czech convention: Y (west), X (south), positive
            east, north = -a, -b
        else:
            east, north = a, b
        if not (-950_000 < east < -400_000 and -1_350_000 < north < -900_000):
            raise BadInputError(
                _("S-JTSK coordinate {raw!r} lies outside the Czech and Slovak area").format(
                    raw=raw.strip()
                )
            )
        lon_a, lat_a = sjtsk_to_lonlat(east, north)
        return float(lon_a), float(lat_a)
    if ha in ("E", "W") or hb in ("N", "S"):
        lon, lat = a, b
    else:
        lat, lon = a, b
    if not (-90.0 <= lat <= 90.0):
        raise BadInputError(
            _("latitude {lat} out of range in {raw!r}").format(lat=lat, raw=raw.strip())
        )
    if not (-180.0 <= lon <= 180.0):
        raise BadInputError(
            _("longitude {lon} out of range in {raw!r}").format(lon=lon, raw=raw.strip())
        )
    return lon, lat


def format_dms(lat: float, lon: float) -> str:
    """Format a position as DMS with hemisphere letters (one-decimal seconds)."""

    def one(v: float, pos: str, neg: str) -> str:
        h = pos if v >= 0 else neg
        v = abs(v)
        d = math.floor(v)
        m = math.floor((v - d) * 60)
        s = (v - d - m / 60) * 3600
        if s >= 59.95:
            s = 0.0
            m += 1
        if m == 60:
            m = 0
            d += 1
        return f"{d}°{m:02d}'{s:04.1f}\"{h}"

    return f"{one(lat, 'N', 'S')} {one(lon, 'E', 'W')}"


#: ArduPilot's metres per degE7 of latitude (AP_Math/definitions.h LATLON_TO_M)
AP_LATLON_TO_M = 0.011131884502145034


def ap_from_degree(lat_deg: ArrayLike, lon_deg: ArrayLike) -> tuple[Any, Any, Any, Any]:
    """(reference lat, lon in degE7, metres north, metres east) of WGS84 points from the whole
    degree south-west of them, as ArduPilot's terrain code measures (``calculate_grid_info``:
    ``Location::get_distance_NE``, the longitude scaled at the mean latitude)."""
    la = np.asarray(lat_deg, np.float64)
    lo = np.asarray(lon_deg, np.float64)
    ref_lat, ref_lon = np.floor(la) * 1e7, np.floor(lo) * 1e7
    la7, lo7 = la * 1e7, lo * 1e7
    scale = np.maximum(np.cos(np.radians((la7 + ref_lat) / 2e7)), 0.01)
    return (
        ref_lat,
        ref_lon,
        (la7 - ref_lat) * AP_LATLON_TO_M,
        (lo7 - ref_lon) * AP_LATLON_TO_M * scale,
    )


def ap_node_latlon(
    ref_lat_e7: NDArray[np.float64] | float,
    ref_lon_e7: NDArray[np.float64] | float,
    north_m: ArrayLike,
    east_m: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(lat, lon) in degrees of the point ``north_m``/``east_m`` from a whole-degree reference
    as ArduPilot measures it (``Location::get_distance_NE``: the longitude scaled by the cosine
    of the latitude half-way between the reference and the point), which is where its terrain
    lookup (``AP_Terrain::calculate_grid_info``) expects a grid node."""
    lat_e7 = ref_lat_e7 + np.asarray(north_m, np.float64) / AP_LATLON_TO_M
    scale = np.maximum(np.cos(np.radians((lat_e7 + ref_lat_e7) / 2 * 1e-7)), 0.01)
    lon_e7 = ref_lon_e7 + np.asarray(east_m, np.float64) / (AP_LATLON_TO_M * scale)
    return np.asarray(lat_e7 * 1e-7, np.float64), np.asarray(lon_e7 * 1e-7, np.float64)
