"""Terrain: DEM/DSM GeoTIFFs in any CRS, bilinear sampling, terrain following.

:class:`Raster` holds one band in memory with its affine transform and CRS (read once with
rasterio, the only I/O here); :meth:`Raster.sample` is vectorised bilinear interpolation at
WGS84 lon/lat (transformed to the raster's CRS with pyproj), NaN outside the raster or on
nodata.

Terrain following, two ways:

* :func:`follow_terrain` adds waypoints along each leg so the height above ground stays within
  ``tolerance_m`` of the wanted height, honouring the climb and descent rates (the profile is
  raised where the vehicle could not climb in time or descend fast enough: never lower);
* :func:`to_terrain_frame` rewrites items into ``MAV_FRAME_GLOBAL_TERRAIN_ALT`` for autopilots
  that fly it from their own terrain data (ArduPilot; PX4 missions do not accept that frame).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dronekit_plzen.errors import (
    BadInputError,
    CorruptFileError,
    UnknownCRSError,
    raster_read_reason,
)
from dronekit_plzen.geo import (
    WGS84,
    ap_from_degree,
    ap_node_latlon,
    margin_deg,
    transform,
    utm_epsg_for_area,
)
from dronekit_plzen.i18n import _
from dronekit_plzen.mission_items import (
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_GLOBAL_TERRAIN_ALT,
    MissionItem,
    canonical_frame,
)
from dronekit_plzen.outputs import note_input
from dronekit_plzen.quiet_logs import quiet
from missions.model import AUTOPILOT_ARDUPILOT, Mission

FloatArray = NDArray[np.float64]

#: autopilots whose missions accept MAV_FRAME_GLOBAL_TERRAIN_ALT
TERRAIN_FRAME_AUTOPILOTS = frozenset({AUTOPILOT_ARDUPILOT})


#: elevations a terrain or surface model can hold (the Dead Sea shore, Everest with a mast)
MIN_ELEVATION_M = -1_000
MAX_ELEVATION_M = 11_000


@dataclass(frozen=True)
class Raster:
    """A single-band elevation raster in memory (metres AMSL)."""

    data: NDArray[np.floating[Any]]  # rows × cols (float32 to save memory), NaN for nodata
    transform: tuple[float, float, float, float, float, float]  # GDAL order a,b,c,d,e,f
    crs: Any  # pyproj-compatible CRS (WKT)
    path: str = "<raster>"

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        bbox_lonlat: tuple[float, float, float, float] | None = None,
        margin_m: float = 1000.0,
    ) -> Raster:
        """Read band 1 of a GeoTIFF (any CRS); nodata becomes NaN.

        With ``bbox_lonlat`` (min lon, min lat, max lon, max lat) only the window covering it
        plus ``margin_m`` is read, so a city-wide 1 m DEM does not have to fit in memory.
        """
        import rasterio
        from rasterio.windows import Window, from_bounds

        p = Path(path)
        note_input(p)  # never replaced by an output of the same command
        if not p.exists():
            raise BadInputError(_("terrain file not found"), where=str(p))
        if p.is_dir():
            raise BadInputError(_("the terrain file is a directory"), where=str(p))
        with _GdalMessages() as gdal:
            try:
                with rasterio.open(p) as ds:
                    if gdal.damage():  # GDAL opened the file but found damaged tags
                        raise CorruptFileError(
                            _("damaged GeoTIFF: {msg}").format(msg=gdal.damage()), where=str(p)
                        )
                    if ds.crs is None:
                        raise UnknownCRSError(_("terrain raster has no CRS"), where=str(p))
                    _check_geotransform(ds.transform, str(p))
                    crs_wkt = ds.crs.to_wkt()
                    _check_crs_usable(crs_wkt, str(p))
                    window = None
                    if bbox_lonlat is not None:
                        lo0, la0, lo1, la1 = bbox_lonlat
                        xs, ys = transform(
                            [lo0, lo1, lo0, lo1], [la0, la0, la1, la1], WGS84, crs_wkt
                        )
                        mx = my = margin_m
                        if ds.crs.is_geographic:  # a degree of longitude is cos(lat) shorter
                            mx, my = margin_deg(margin_m, la0, la1)
                        w = from_bounds(
                            xs.min() - mx, ys.min() - my, xs.max() + mx, ys.max() + my, ds.transform
                        )
                        full = Window(0, 0, ds.width, ds.height)
                        c0, r0 = math.floor(w.col_off), math.floor(w.row_off)
                        c1 = math.ceil(w.col_off + w.width)
                        r1 = math.ceil(w.row_off + w.height)
                        try:
                            window = Window(c0, r0, c1 - c0, r1 - r0).intersection(full)
                        except (ValueError, rasterio.errors.WindowError):
                            raise BadInputError(
                                _("the mission lies outside the terrain raster"), where=str(p)
                            ) from None
                    arr = ds.read(1, masked=True, window=window)
                    data = np.ma.filled(arr.astype(np.float32), np.nan)
                    t = ds.transform
                    c, f = t.c, t.f
                    if window is not None:  # origin of the window (rasterio's window_transform)
                        c += window.col_off * t.a + window.row_off * t.b
                        f += window.col_off * t.d + window.row_off * t.e
            except rasterio.errors.RasterioError as exc:
                # rasterio's own words for cells it cannot read are "Read failed. See previous
                # exception for details": GDAL's reason is below it, a copy cut short said so
                detail = raster_read_reason(exc, gdal.first())
                raise CorruptFileError(
                    _("cannot read the terrain raster: {e}").format(e=detail), where=str(p)
                ) from exc
        if not np.isfinite(data).any():
            raise BadInputError(
                _("the terrain raster has no elevation data (every cell is nodata)")
                if window is None
                else _("the terrain raster has no elevation data around the mission"),
                where=str(p),
            )
        fin = data[np.isfinite(data)]
        for v in (float(fin.min()), float(fin.max())):
            # 1e30 or -1e6 in the cells (an undeclared nodata): every item was then refused as
            # "not a flight altitude" without naming the raster, or a DSM "clearance" of -1e30 m
            if not MIN_ELEVATION_M <= v <= MAX_ELEVATION_M:
                raise BadInputError(
                    _(
                        "the terrain raster holds an elevation of {v:g} m, not on the Earth "
                        "({lo:,} to {hi:,} m): an undeclared nodata value or another unit?"
                    ).format(v=v, lo=MIN_ELEVATION_M, hi=MAX_ELEVATION_M),
                    where=str(p),
                )
        return cls(data, (t.a, t.b, c, t.d, t.e, f), crs_wkt, str(p))

    def sample_xy(self, x: ArrayLike, y: ArrayLike) -> FloatArray:
        """Bilinear interpolation at raster-CRS coordinates (pixel centres are the nodes)."""
        a, b, c, d, e, f = self.transform
        det = a * e - b * d
        xa = np.asarray(x, np.float64) - c
        ya = np.asarray(y, np.float64) - f
        col = (e * xa - b * ya) / det - 0.5
        row = (-d * xa + a * ya) / det - 0.5
        nrow, ncol = self.data.shape
        c0 = np.floor(col)
        r0 = np.floor(row)
        fc = col - c0
        fr = row - r0
        # at the last row/column, snap inside so edge pixels still sample
        c0 = np.where((col >= ncol - 1) & (col <= ncol - 0.5), ncol - 2, c0)
        r0 = np.where((row >= nrow - 1) & (row <= nrow - 0.5), nrow - 2, r0)
        c0 = np.where((col < 0) & (col >= -0.5), 0, c0)
        r0 = np.where((row < 0) & (row >= -0.5), 0, r0)
        fc = np.clip(col - c0, 0.0, 1.0)
        fr = np.clip(row - r0, 0.0, 1.0)
        inside = (col >= -0.5) & (col <= ncol - 0.5) & (row >= -0.5) & (row <= nrow - 0.5)
        inside &= np.isfinite(col) & np.isfinite(row)
        if ncol < 2 or nrow < 2:
            raise BadInputError(_("terrain raster needs at least 2×2 pixels"), where=self.path)
        ci = np.clip(c0, 0, ncol - 2).astype(np.intp)
        ri = np.clip(r0, 0, nrow - 2).astype(np.intp)
        z00 = self.data[ri, ci]
        z01 = self.data[ri, ci + 1]
        z10 = self.data[ri + 1, ci]
        z11 = self.data[ri + 1, ci + 1]
        top = z00 * (1 - fc) + z01 * fc
        bot = z10 * (1 - fc) + z11 * fc
        out = top * (1 - fr) + bot * fr
        return np.where(inside, out, np.nan)

    def sample(self, lon: ArrayLike, lat: ArrayLike) -> FloatArray:
        """Elevation at WGS84 lon/lat (vectorised), NaN outside the raster or on nodata."""
        lo = np.asarray(lon, np.float64)
        la = np.asarray(lat, np.float64)
        if lo.size == 0:
            return np.zeros(lo.shape)
        x, y = transform(lo, la, WGS84, self.crs)
        return self.sample_xy(x, y)

    def resolution_m(self) -> float:
        """Pixel size in metres (the CRS's linear unit is assumed metric, degrees converted)."""
        a, b, _c, d, e, _f = self.transform
        px = math.hypot(a, d)
        py = math.hypot(b, e)
        res = min(px, py)
        from pyproj import CRS

        if CRS.from_user_input(self.crs).is_geographic:
            res *= 111_320.0
        return float(res)


class _GdalMessages:
    """Collect GDAL's warnings (logged by rasterio) instead of letting them reach the console.

    The CLI shows log records of WARNING and above; a damaged GeoTIFF would print raw GDAL
    lines before our error. Inside the block this thread's rasterio records are kept here (see
    :mod:`dronekit_plzen.quiet_logs`) so the one error raised can quote the first of them.
    """

    def __init__(self) -> None:
        self._block = quiet("rasterio")
        self._records: list[logging.LogRecord] = []

    @property
    def messages(self) -> list[str]:
        return [r.getMessage() for r in self._records if r.levelno >= logging.WARNING]

    def first(self) -> str:
        if not self.messages:
            return ""
        msg = self.messages[0]
        return msg.split(": ", 1)[1] if msg.startswith("CPLE_") and ": " in msg else msg

    def damage(self) -> str:
        """The first message that says the file is damaged (not a mere oddity), or ''."""
        for msg in self.messages:
            low = msg.lower()
            if any(k in low for k in ("corrupt", "io error", "bogus", "failed", "truncat")):
                return msg.split(": ", 1)[1] if msg.startswith("CPLE_") and ": " in msg else msg
        return ""

    def __enter__(self) -> _GdalMessages:
        self._records = self._block.__enter__()
        return self

    def __exit__(
        self,
        typ: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._block.__exit__(typ, exc, tb)


def _check_geotransform(t: Any, where: str) -> None:
    """Pixels with a size on the ground: a geotransform of zero-size (or NaN) pixels cannot
    place a cell (rasterio divided by zero, printed its warnings, then "Bounds and transform are
    inconsistent")."""
    coeffs = (t.a, t.b, t.c, t.d, t.e, t.f)
    det = t.a * t.e - t.b * t.d
    if all(math.isfinite(v) for v in coeffs) and math.isfinite(det) and det != 0.0:
        return
    raise BadInputError(
        _(
            "the terrain raster's geotransform is degenerate: its pixels have no area on the "
            "ground (a={a:g}, b={b:g}, d={d:g}, e={e:g}); georeference the raster again"
        ).format(a=t.a, b=t.b, d=t.d, e=t.e),
        where=where,
    )


def _check_crs_usable(crs_wkt: str, where: str) -> None:
    """Fail when the raster's CRS cannot be related to WGS84 (a local or engineering CRS)."""
    from pyproj.exceptions import CRSError, ProjError

    from dronekit_plzen.geo import transformer

    try:
        transformer(crs_wkt, WGS84)
    except (ProjError, CRSError) as exc:
        from pyproj import CRS

        try:
            name = CRS.from_wkt(crs_wkt).name
        except CRSError:
            name = crs_wkt[:40]
        raise UnknownCRSError(
            _(
                "the terrain raster's CRS {name!r} cannot be related to WGS84 (a local or "
                "engineering CRS?); reproject the raster to a known CRS such as EPSG:5514"
            ).format(name=name),
            where=where,
        ) from exc


def open_raster(path: str | Path | None, mission: Mission | None = None) -> Raster | None:
    """Open a DEM/DSM, only around ``mission`` when given (None for no path)."""
    if path is None:
        return None
    return Raster.open(path, bbox_lonlat=mission_bbox(mission) if mission else None)


#: ArduCopter's TERRAIN_SPACING default (metres between the nodes of its terrain grid)
AP_TERRAIN_SPACING_M = 100.0


def ardupilot_terrain(
    dem: Raster, lon: ArrayLike, lat: ArrayLike, spacing_m: float = AP_TERRAIN_SPACING_M
) -> FloatArray:
    """The terrain height ArduPilot flies above at WGS84 (lon, lat) when its terrain database
    holds ``dem`` (what ``fly --dem`` serves, :mod:`dronekit_plzen.link.terrain`):
    ``AP_Terrain::height_amsl`` interpolates bilinearly between the nodes of a grid every
    ``spacing_m`` metres (TERRAIN_SPACING) aligned on whole degrees, so a crest narrower than
    the grid is flown lower than the DEM has it. NaN where a node is outside the DEM."""
    lo = np.asarray(lon, np.float64)
    ref_lat, ref_lon, dn, de = ap_from_degree(lat, lo)
    ix, iy = np.floor(dn / spacing_m), np.floor(de / spacing_m)
    fx, fy = dn / spacing_m - ix, de / spacing_m - iy
    corners = [(a, b) for a in (0, 1) for b in (0, 1)]
    nla, nlo = zip(
        *(
            ap_node_latlon(ref_lat, ref_lon, (ix + a) * spacing_m, (iy + b) * spacing_m)
            for a, b in corners
        ),
        strict=True,
    )
    h = dem.sample(np.concatenate(nlo), np.concatenate(nla)).reshape(4, -1)
    h00, h01, h10, h11 = h  # (a, b): a north, b east
    out = (h00 * (1 - fy) + h01 * fy) * (1 - fx) + (h10 * (1 - fy) + h11 * fy) * fx
    return np.asarray(out.reshape(lo.shape), np.float64)


def mission_bbox(mission: Mission) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of the home and every positioned item."""
    pts = [(it.lon_deg, it.lat_deg) for it in mission.items if it.has_position]
    if mission.home is not None:
        pts.append((mission.home[0], mission.home[1]))
    if not pts:
        return None
    lo = [p[0] for p in pts]
    la = [p[1] for p in pts]
    return min(lo), min(la), max(lo), max(la)


def missions_bbox(missions: Sequence[Mission]) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) around several missions (``None``: no positions)."""
    boxes = [b for b in (mission_bbox(m) for m in missions) if b is not None]
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def resolve_above_terrain(mission: Mission, dem: Raster) -> Mission:
    """Fill AMSL altitudes of items planned "above terrain" (QGC altitude mode 3) from a DEM."""
    items = []
    for k, it in enumerate(mission.items):
        if "above_terrain_m" in it.meta and math.isnan(it.alt_m):
            z = float(dem.sample([it.lon_deg], [it.lat_deg])[0])
            if math.isnan(z):
                raise BadInputError(
                    _("item {k} at {lat_deg:.6f}, {lon_deg:.6f} lies outside the DEM").format(
                        k=k + 1, lat_deg=it.lat_deg, lon_deg=it.lon_deg
                    ),
                    where=dem.path,
                )
            it = it.with_(alt_m=z + float(it.meta["above_terrain_m"]))
        items.append(it)
    return _copy(mission, items)


def _copy(mission: Mission, items: list[MissionItem]) -> Mission:
    from dataclasses import replace

    return replace(mission, items=items, metadata=dict(mission.metadata))


def _simplify(d: FloatArray, z: FloatArray, tol: float) -> list[int]:
    """Indices of profile points kept so the linear interpolation stays within ``tol``."""
    keep = {0, len(d) - 1}
    stack = [(0, len(d) - 1)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        seg = np.arange(i + 1, j)
        t = (d[seg] - d[i]) / max(d[j] - d[i], 1e-9)
        err = np.abs(z[seg] - (z[i] + t * (z[j] - z[i])))
        k = int(np.argmax(err))
        if err[k] > tol:
            m = int(seg[k])
            keep.add(m)
            stack += [(i, m), (m, j)]
    return sorted(keep)


def follow_terrain(
    mission: Mission,
    dem: Raster,
    *,
    agl_m: float | None = None,
    tolerance_m: float = 5.0,
    climb_rate_m_s: float = 3.0,
    descent_rate_m_s: float = 2.0,
    speed_m_s: float | None = None,
    step_m: float | None = None,
) -> Mission:
    """Insert waypoints so each leg keeps ``agl_m`` (default: each item's own altitude taken as
    its wanted height above ground) within ``tolerance_m``; output items are AMSL (frame 0).

    Vertical feasibility: at ``speed_m_s`` the path may rise at most ``climb_rate/speed`` per
    metre flown and sink at most ``descent_rate/speed``; where the terrain is steeper the
    profile is raised (a climb starts early enough, a descent is delayed), never lowered.
    """
    if tolerance_m <= 0:
        raise BadInputError(_("terrain tolerance must be positive"))
    v = speed_m_s or mission.cruise_speed_m_s
    up = climb_rate_m_s / v
    down = descent_rate_m_s / v
    step = step_m or max(2.0, min(20.0, dem.resolution_m()))
    nav = [
        k
        for k, it in enumerate(mission.items)
        if it.command == CMD_NAV_WAYPOINT and it.has_position
    ]
    if len(nav) < 2:
        return _copy(mission, list(mission.items))
    lon = np.array([mission.items[k].lon_deg for k in nav])
    lat = np.array([mission.items[k].lat_deg for k in nav])
    epsg = utm_epsg_for_area(lon, lat)
    x, y = transform(lon, lat, WGS84, epsg)
    want = np.array(
        [agl_m if agl_m is not None else mission.items[k].alt_m for k in nav], dtype=np.float64
    )
    # the whole profile along all consecutive nav legs, sampled every `step`
    seg_len = np.hypot(np.diff(x), np.diff(y))
    n_per = np.maximum(1, np.ceil(seg_len / step).astype(int))
    px = [np.array([x[0]])]
    py = [np.array([y[0]])]
    pw = [np.array([want[0]])]
    for i, n in enumerate(n_per):
        t = np.arange(1, n + 1) / n
        px.append(x[i] + t * (x[i + 1] - x[i]))
        py.append(y[i] + t * (y[i + 1] - y[i]))
        pw.append(want[i] + t * (want[i + 1] - want[i]))
    X, Y, W = (np.concatenate(a) for a in (px, py, pw))
    plon, plat = transform(X, Y, epsg, WGS84)
    ground = dem.sample(plon, plat)
    if np.any(np.isnan(ground)):
        i = int(np.flatnonzero(np.isnan(ground))[0])
        raise BadInputError(
            _("path leaves the DEM at {plat:.6f}, {plon:.6f}").format(plat=plat[i], plon=plon[i]),
            where=dem.path,
        )
    dist = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(X), np.diff(Y)))])
    target = ground + W
    # climb limit (start climbing early): z[i] = max_j>=i (target[j] - up*(d[j]-d[i]));
    # descent limit (descend late): z[i] = max_j<=i (z[j] - down*(d[i]-d[j])). Both only raise.
    climb = np.maximum.accumulate((target - up * dist)[::-1])[::-1] + up * dist
    z = np.maximum.accumulate(climb + down * dist) - down * dist
    vertex_idx = np.concatenate([[0], np.cumsum(n_per)])
    keep = set(vertex_idx.tolist())
    for a, b in itertools.pairwise(vertex_idx):
        keep.update(int(a) + k for k in _simplify(dist[a : b + 1], z[a : b + 1], tolerance_m))
    kept = sorted(keep)
    # rebuild the item list: original items, nav waypoints replaced by AMSL ones, new ones between
    out: list[MissionItem] = []
    nav_pos = {k: j for j, k in enumerate(nav)}
    for k, it in enumerate(mission.items):
        if k not in nav_pos:
            out.append(it)
            continue
        j = nav_pos[k]
        if j > 0:
            lo_i, hi_i = vertex_idx[j - 1], vertex_idx[j]
            for p in kept:
                if lo_i < p < hi_i:
                    out.append(
                        MissionItem(
                            CMD_NAV_WAYPOINT,
                            FRAME_GLOBAL,
                            lat_deg=float(plat[p]),
                            lon_deg=float(plon[p]),
                            alt_m=round(float(z[p]), 2),
                            meta={"terrain_follow": True},
                        )
                    )
        vi = int(vertex_idx[j])
        out.append(it.with_(frame=FRAME_GLOBAL, alt_m=round(float(z[vi]), 2)))
    res = _copy(mission, out)
    res.metadata["terrain_following"] = {
        "mode": "waypoints",
        "agl_m": agl_m,
        "tolerance_m": tolerance_m,
        "added_waypoints": len(out) - len(mission.items),
        "dem": dem.path,
    }
    return res


def to_terrain_frame(mission: Mission, agl_m: float | None = None) -> Mission:
    """Items with a position → ``MAV_FRAME_GLOBAL_TERRAIN_ALT`` (height above terrain).

    Only for autopilots that accept it (:data:`TERRAIN_FRAME_AUTOPILOTS`); relative items keep
    their number as the height above ground unless ``agl_m`` is given.
    """
    if mission.autopilot not in TERRAIN_FRAME_AUTOPILOTS:
        raise BadInputError(
            _(
                "this autopilot does not fly MAV_FRAME_GLOBAL_TERRAIN_ALT missions; "
                "use terrain following by waypoints"
            )
        )
    out = []
    for k, it in enumerate(mission.items):
        if it.has_position and it.command == CMD_NAV_WAYPOINT:
            if canonical_frame(it.frame) == FRAME_GLOBAL and agl_m is None:
                raise BadInputError(
                    _("item {k} is AMSL; give the height above ground").format(k=k + 1)
                )
            it = it.with_(
                frame=FRAME_GLOBAL_TERRAIN_ALT, alt_m=agl_m if agl_m is not None else it.alt_m
            )
        out.append(it)
    res = _copy(mission, out)
    res.metadata["terrain_following"] = {"mode": "frame", "agl_m": agl_m}
    return res


def amsl_altitudes(mission: Mission, dem: Raster | None, home_amsl_m: float) -> list[float]:
    """AMSL altitude of every positioned item (NaN where it cannot be known)."""
    out = []
    for it in mission.items:
        f = canonical_frame(it.frame)
        if f == FRAME_GLOBAL_RELATIVE_ALT:
            out.append(home_amsl_m + it.alt_m)
        elif f == FRAME_GLOBAL_TERRAIN_ALT:
            g = float(dem.sample([it.lon_deg], [it.lat_deg])[0]) if dem else math.nan
            out.append(g + it.alt_m)
        else:
            out.append(it.alt_m)
    return out
