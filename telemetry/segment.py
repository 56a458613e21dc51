"""Flight segmentation and per-flight summaries: pure functions over numpy arrays.

A *flight* is one armed interval (arm → disarm). Inside it, the vehicle is *airborne* while its
height above home (the height at arming) exceeds ``takeoff_height_m`` or its ground speed exceeds
``takeoff_speed_m_s``, for at least ``min_airborne_s``. An armed interval that is never airborne
is a *ground run* (motor test, aborted take-off) and is flagged as such.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from dronekit_plzen import geo


@dataclass(frozen=True)
class SegmentParams:
    takeoff_height_m: float = 1.5
    takeoff_speed_m_s: float = 3.0
    min_airborne_s: float = 2.0
    landed_height_m: float = 0.5
    #: a gap longer than this in the armed samples splits the interval (lost link, log gap)
    max_gap_s: float = 60.0


DEFAULT_PARAMS = SegmentParams()


@dataclass(frozen=True)
class Segment:
    start: int  #: first sample of the armed interval
    stop: int  #: one past the last sample
    takeoff: int | None  #: sample index of the take-off (None: ground run)
    landing: int | None  #: None also when the log ends in the air (no landing was seen)
    #: the log ends while armed, or a gap in it follows (armed again after it): the flight's
    #: end (and perhaps its landing) is not in it
    open_end: bool = False
    #: the samples begin after a gap in the log, the vehicle armed on both sides: its arming
    #: (and perhaps its take-off) is not in them
    open_start: bool = False

    @property
    def complete(self) -> bool:
        """Arming to disarming all in the log."""
        return not (self.open_end or self.open_start)

    @property
    def ground_run(self) -> bool:
        return self.takeoff is None


def height_above_home(rel_alt_m: np.ndarray) -> np.ndarray:
    """Height relative to the first finite value (the height at arming)."""
    h = np.asarray(rel_alt_m, dtype=float)
    finite = np.flatnonzero(np.isfinite(h))
    return h - h[finite[0]] if finite.size else h


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2])]


def _pieces(t: np.ndarray, up: np.ndarray, max_gap_s: float) -> list[tuple[int, int]]:
    """One armed run's samples (times ``t``, airborne ``up``) as ``[start, stop)`` pieces, cut
    at its gaps longer than ``max_gap_s`` except where the vehicle is airborne on both sides
    of the gap: a flight seen to go on across a lost link (a ground station's log) is one
    flight with a hole in its track, not two flights with a landing and a take-off made up at
    the hole."""
    gaps = np.flatnonzero(np.diff(t) > max_gap_s) + 1
    cuts = [0, *gaps[~(up[gaps - 1] & up[gaps])].tolist(), t.size]
    return [(c0, c1) for c0, c1 in itertools.pairwise(cuts) if c1 > c0]


def find_flights(
    t_s: np.ndarray,
    armed: np.ndarray,
    rel_alt_m: np.ndarray,
    groundspeed_m_s: np.ndarray,
    params: SegmentParams = DEFAULT_PARAMS,
) -> list[Segment]:
    """Segment one vehicle's samples (sorted by time) into flights.

    An armed run is cut where the log has a gap longer than ``max_gap_s`` (a lost link, a
    pause in logging) unless the vehicle was airborne on both sides. A piece that ends at such
    a gap is :attr:`Segment.open_end`, one that begins after it :attr:`Segment.open_start`:
    neither gets a landing or a take-off at the gap (one had been made up at the gap's first
    sample, mid-air)."""
    t = np.asarray(t_s, dtype=float)
    a = np.asarray(armed, dtype=bool)
    out: list[Segment] = []
    if a.size == 0:
        return out
    edges = np.flatnonzero(np.diff(np.concatenate(([0], a.astype(np.int8), [0]))))
    for rs, re_ in zip(edges[::2].tolist(), edges[1::2].tolist()):
        # heights above the run's first (the height at arming), for every piece of the run
        hh_run = np.nan_to_num(height_above_home(rel_alt_m[rs:re_]), nan=0.0)
        gs_run = np.nan_to_num(np.asarray(groundspeed_m_s[rs:re_], dtype=float), nan=0.0)
        up_run = (hh_run > params.takeoff_height_m) | (gs_run > params.takeoff_speed_m_s)
        for ps, pe in _pieces(t[rs:re_], up_run, params.max_gap_s):
            s, e = rs + ps, rs + pe
            # armed at the log's last sample (a cut log: a full card, a crash, a copy cut
            # short) or before a gap: the piece's end is not its flight's end
            open_end = e == t.size or e < re_
            open_start = s > rs
            hh = hh_run[s - rs : e - rs]
            up = up_run[s - rs : e - rs]
            runs = [
                (i, j) for i, j in _runs(up) if t[s + j - 1] - t[s + i] >= params.min_airborne_s
            ]
            if not runs:
                out.append(Segment(s, e, None, None, open_end, open_start))
                continue
            first, last = runs[0][0], runs[-1][1] - 1
            low = hh <= params.landed_height_m
            before = np.flatnonzero(low[:first])
            after = np.flatnonzero(low[last:])
            takeoff = int(before[-1]) if before.size else 0
            # no landing seen: the disarm ends a flight, the log's end or a gap does not (a
            # landing had been made up at the last sample of a log cut 5 m up, moving, armed)
            landing: int | None = (
                int(after[0]) + last if after.size else (None if open_end else e - s - 1)
            )
            out.append(
                Segment(
                    s,
                    e,
                    s + takeoff,
                    None if landing is None else s + landing,
                    open_end,
                    open_start,
                )
            )
    return out


@dataclass(frozen=True)
class FlightSummary:
    start_t_s: float
    end_t_s: float
    takeoff_t_s: float | None
    landing_t_s: float | None
    duration_s: float
    airborne_s: float
    distance_m: float
    max_height_m: float
    max_distance_m: float
    battery_used_pct: float | None
    battery_used_mah: float | None
    start_lat: float | None
    start_lon: float | None
    end_lat: float | None
    end_lon: float | None
    home_lat: float | None
    home_lon: float | None
    home_alt_m: float | None
    ground_run: bool
    sample_count: int
    path: dict[str, Any]  #: GeoJSON LineString (lon, lat, alt AMSL m: :data:`TRACK_Z_DATUM`)

    def to_row(self) -> dict[str, Any]:
        """Columns of the ``flights`` table."""
        return {
            "start_utc": iso_utc(self.start_t_s),
            "end_utc": iso_utc(self.end_t_s),
            "takeoff_utc": None if self.takeoff_t_s is None else iso_utc(self.takeoff_t_s),
            "landing_utc": None if self.landing_t_s is None else iso_utc(self.landing_t_s),
            "duration_s": round(self.duration_s, 3),
            "airborne_s": round(self.airborne_s, 3),
            "distance_m": round(self.distance_m, 2),
            "max_height_m": round(self.max_height_m, 2),
            "max_distance_m": round(self.max_distance_m, 2),
            "battery_used_pct": self.battery_used_pct,
            "battery_used_mah": self.battery_used_mah,
            "start_lat": self.start_lat,
            "start_lon": self.start_lon,
            "end_lat": self.end_lat,
            "end_lon": self.end_lon,
            "home_lat": self.home_lat,
            "home_lon": self.home_lon,
            "home_alt_m": self.home_alt_m,
            "ground_run": int(self.ground_run),
            "sample_count": self.sample_count,
            "path_geojson": _json(self.path),
        }


def iso_utc(t_s: float) -> str:
    dt = datetime.fromtimestamp(float(t_s), tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


#: the datum of a stored track's third coordinate (the position fixes' altitude); a GeoJSON
#: written from it names it, as RFC 7946 would read a bare one as height above the ellipsoid
TRACK_Z_DATUM = "AMSL"


def track_datum(path: dict[str, Any] | None) -> dict[str, str]:
    """``{"z_datum": "AMSL"}`` for a track with heights, else nothing (a 2-D track)."""
    coords = (path or {}).get("coordinates") or []
    return {"z_datum": TRACK_Z_DATUM} if any(len(c) > 2 for c in coords) else {}


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj, separators=(",", ":"))


def _opt(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _deg(x: float) -> float | None:
    """A latitude or longitude to 1e-7 degrees, MAVLink's own resolution (1 cm): 1491657211
    sent in 1e-7 degrees reads 149.1657211, not the binary float's 149.16572109999998."""
    v = _opt(x)
    return None if v is None else round(v, 7)


def _first_last(v: np.ndarray) -> tuple[float, float]:
    idx = np.flatnonzero(np.isfinite(v))
    if idx.size == 0:
        return math.nan, math.nan
    return float(v[idx[0]]), float(v[idx[-1]])


def decimate(n: int, max_points: int) -> np.ndarray:
    """Indices keeping at most ``max_points`` of ``n``, evenly spread, first and last kept."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def summarize(
    cols: dict[str, np.ndarray], seg: Segment, *, max_path_points: int = 1000
) -> FlightSummary:
    """Summary of one flight from the vehicle's sample columns and its segment."""
    sl = slice(seg.start, seg.stop)
    t = cols["t_s"][sl]
    lat, lon, alt = cols["lat_deg"][sl], cols["lon_deg"][sl], cols["alt_amsl_m"][sl]
    h = height_above_home(cols["rel_alt_m"][sl])
    pos = np.isfinite(lat) & np.isfinite(lon)
    pidx = np.flatnonzero(pos)
    if seg.takeoff is not None and seg.landing is not None:
        a, b = seg.takeoff - seg.start, seg.landing - seg.start + 1
    elif seg.takeoff is not None:  # airborne to the end of a cut log
        a, b = seg.takeoff - seg.start, t.size
    else:
        a, b = 0, t.size
    fly = np.zeros(t.size, dtype=bool)
    fly[a:b] = True
    fp = np.flatnonzero(pos & fly)
    distance = geo.path_length_m(lon[fp], lat[fp]) if fp.size > 1 else 0.0
    if pidx.size:
        home_lat, home_lon, home_alt = float(lat[pidx[0]]), float(lon[pidx[0]]), float(alt[pidx[0]])
        dist_home = geo.geodesic_distance_m(
            np.full(pidx.size, home_lon), np.full(pidx.size, home_lat), lon[pidx], lat[pidx]
        )
        max_dist = float(np.max(dist_home))
        start = (float(lat[pidx[0]]), float(lon[pidx[0]]))
        end = (float(lat[pidx[-1]]), float(lon[pidx[-1]]))
    else:
        home_lat = home_lon = home_alt = math.nan
        max_dist = 0.0
        start = end = (math.nan, math.nan)
    hf = h[np.isfinite(h)]
    max_h = float(hf.max()) if hf.size else 0.0
    p0, p1 = _first_last(cols["battery_pct"][sl])
    m0, m1 = _first_last(cols["consumed_mah"][sl])
    keep = pidx[decimate(pidx.size, max_path_points)]
    coords = [
        [round(float(lon[i]), 7), round(float(lat[i]), 7)]
        + ([round(float(alt[i]), 2)] if math.isfinite(alt[i]) else [])
        for i in keep
    ]
    path = {"type": "LineString", "coordinates": coords}
    takeoff_t = None if seg.takeoff is None else float(cols["t_s"][seg.takeoff])
    landing_t = None if seg.landing is None else float(cols["t_s"][seg.landing])
    return FlightSummary(
        start_t_s=float(t[0]),
        end_t_s=float(t[-1]),
        takeoff_t_s=takeoff_t,
        landing_t_s=landing_t,
        duration_s=float(t[-1] - t[0]),
        airborne_s=(
            0.0
            if takeoff_t is None
            else (landing_t if landing_t is not None else float(t[-1])) - takeoff_t
        ),  # a cut log: airborne at least to its end
        distance_m=float(distance),
        max_height_m=max(max_h, 0.0),
        max_distance_m=max_dist,
        battery_used_pct=_opt(p0 - p1),
        battery_used_mah=_opt(m1 - m0),
        start_lat=_deg(start[0]),
        start_lon=_deg(start[1]),
        end_lat=_deg(end[0]),
        end_lon=_deg(end[1]),
        home_lat=_deg(home_lat),
        home_lon=_deg(home_lon),
        home_alt_m=_opt(home_alt),
        ground_run=seg.ground_run,
        sample_count=int(t.size),
        path=path,
    )


def camera_coverage(
    lon: np.ndarray,
    lat: np.ndarray,
    height_m: np.ndarray,
    heading_deg: np.ndarray,
    hfov_deg: float,
    vfov_deg: float,
) -> tuple[float, dict[str, Any] | None]:
    """Union of nadir camera footprints at the trigger points: (area m², GeoJSON in lon/lat)."""
    import shapely
    from shapely.geometry import mapping

    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(height_m) & (height_m > 0)
    if not ok.any():
        return 0.0, None
    lo, la, hm = lon[ok], lat[ok], height_m[ok]
    hd = np.nan_to_num(np.asarray(heading_deg, dtype=float)[ok], nan=0.0)
    epsg = geo.utm_epsg_for_area(lo, la)
    e, n = geo.lonlat_to_utm(lo, la, epsg)
    half_w = hm * math.tan(math.radians(hfov_deg) / 2)
    half_h = hm * math.tan(math.radians(vfov_deg) / 2)
    # corners in the camera frame (x right, y forward), rotated by the heading (clockwise)
    cx = np.stack([-half_w, half_w, half_w, -half_w], axis=1)
    cy = np.stack([half_h, half_h, -half_h, -half_h], axis=1)
    th = np.radians(hd)[:, None]
    ex = e[:, None] + cx * np.cos(th) + cy * np.sin(th)
    ny = n[:, None] - cx * np.sin(th) + cy * np.cos(th)
    polys = shapely.polygons(np.stack([ex, ny], axis=2))
    union = shapely.union_all(polys)
    area = float(union.area)
    back = shapely.transform(
        union, lambda xy: np.column_stack(geo.utm_to_lonlat(xy[:, 0], xy[:, 1], epsg))
    )
    return area, dict(mapping(back))
