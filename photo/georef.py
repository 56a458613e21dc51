"""Georeferencing: GPS positions into the output CRS, a robust similarity onto them, residuals.

The model coordinates are the output CRS minus :attr:`Frame.origin_m` (kept small for the
bundle adjustment and for float32 rasters); :meth:`Frame.to_world` adds it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyproj import CRS

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import as_crs, transform, utm_epsg_for_area
from dronekit_plzen.i18n import _
from photo.exif import PhotoMeta
from photo.sfm import ReconstructionError


@dataclass(frozen=True)
class Frame:
    """The output CRS and the origin subtracted from model coordinates (metres)."""

    crs: CRS
    origin_m: tuple[float, float, float]

    def to_world(self, xyz: np.ndarray) -> np.ndarray:
        return np.asarray(xyz, dtype=np.float64) + np.asarray(self.origin_m)

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model x/y → WGS84 lon/lat."""
        ox, oy, _oz = self.origin_m
        return transform(np.asarray(x) + ox, np.asarray(y) + oy, self.crs, 4326)


def output_crs(photos: Sequence[PhotoMeta], crs: Any = None) -> CRS:
    """The CRS asked for (must be projected, in metres), or the capture's UTM zone."""
    if crs is None or crs == "":
        lon = np.array([p.lon_deg for p in photos])
        lat = np.array([p.lat_deg for p in photos])
        return as_crs(utm_epsg_for_area(unwrap_lon(lon), lat))
    c = as_crs(crs)
    horizontal = c.sub_crs_list[0] if c.sub_crs_list else c  # a compound CRS: its 2D part
    area = c.area_of_use or horizontal.area_of_use
    if photos and area is not None:
        w, s, e, n = area.bounds
        mlon = float(np.median([p.lon_deg for p in photos]))
        mlat = float(np.median([p.lat_deg for p in photos]))
        if not (w - 1.0 <= mlon <= e + 1.0 and s - 1.0 <= mlat <= n + 1.0):
            raise BadInputError(
                _("the photos ({lat:.4f}, {lon:.4f}) lie outside the area of use of {crs}").format(
                    lat=mlat, lon=mlon, crs=c.name
                ),
                where="--crs",
            )
    if c.is_compound:  # the heights are the photos' GPS altitudes: no height is converted
        raise BadInputError(
            _(
                "{crs} has a vertical datum, but the heights are the photos' GPS altitudes, not "
                "converted to it; give its horizontal part, {h}"
            ).format(crs=c.name, h=horizontal.to_string()),
            where="--crs",
        )
    if not c.is_projected:
        raise BadInputError(
            _("--crs must be a projected CRS in metres, not {crs}").format(crs=c.name)
        )
    unit = c.axis_info[0].unit_name if c.axis_info else ""
    if unit not in ("metre", "meter"):
        raise BadInputError(
            _("--crs must be in metres, {crs} is in {unit}").format(crs=c.name, unit=unit)
        )
    if photos:
        check_scale(photos, horizontal)
    return c


def unwrap_lon(lon_deg: np.ndarray) -> np.ndarray:
    """Longitudes of one capture made continuous across the antimeridian and put back in
    -180..180 around their centre: a capture over 180° (Fiji, Chukotka, the Aleutians) has
    longitudes -179.9998 and 179.9998 whose plain midpoint, 0°, chose a UTM zone on the other
    side of the Earth (EPSG:32630, northings of 15,000 km, outside the zone's area)."""
    lon = np.asarray(lon_deg, dtype=np.float64)
    if lon.size == 0:
        return lon
    ref = float(lon[0])
    near = ref + (lon - ref + 180.0) % 360.0 - 180.0  # each within 180° of the first
    centre = (near.min() + near.max()) / 2.0
    shift = 360.0 * np.floor((centre + 180.0) / 360.0)  # the centre back into -180..180
    return np.clip(near - shift, -180.0, 180.0)


#: largest scale error of an output CRS at the photos: beyond it the orthophoto's cells, the
#: GSD and the areas are wrong (Web Mercator at Plzeň: 53 %; UTM at a zone's edge: 0.1 %)
MAX_SCALE_ERROR = 0.01


def scale_error(crs: CRS, lon_deg: float, lat_deg: float) -> float:
    """How far (a fraction) ``crs`` stretches or shrinks lengths at a point in the worst
    direction: Tissot's indicatrix axes against 1; inf where the projection is undefined."""
    from pyproj import Proj
    from pyproj.exceptions import ProjError

    try:
        f = Proj(crs).get_factors(lon_deg, lat_deg)
    except (ProjError, RuntimeError, ValueError):
        return float("inf")
    a, b = float(f.tissot_semimajor), float(f.tissot_semiminor)
    if not (np.isfinite(a) and np.isfinite(b)):
        return float("inf")
    return max(abs(a - 1.0), abs(b - 1.0))


def check_scale(photos: Sequence[PhotoMeta], crs: CRS) -> None:
    """Fail when ``crs`` distorts lengths at the photos by more than :data:`MAX_SCALE_ERROR`
    (Web Mercator, a projection for another place): every metre of the products is wrong."""
    lon = np.array([p.lon_deg for p in photos])
    lat = np.array([p.lat_deg for p in photos])
    err = scale_error(crs, float(np.median(lon)), float(np.median(lat)))
    if err > MAX_SCALE_ERROR:
        shown = "∞" if not np.isfinite(err) else f"{err * 100.0:.1f}"
        raise BadInputError(
            _(
                "{crs} distorts lengths at the photos by {pct} % (at most {most:.0f} % is "
                "accepted): use a CRS made for this area, e.g. EPSG:{utm}"
            ).format(
                crs=crs.name,
                pct=shown,
                most=MAX_SCALE_ERROR * 100.0,
                utm=utm_epsg_for_area(lon, lat),
            ),
            where="--crs",
        )


def gps_positions(photos: Sequence[PhotoMeta], crs: CRS) -> np.ndarray:
    """(N, 3) GPS positions in ``crs``; a missing altitude is the capture's median altitude."""
    lon = np.array([p.lon_deg for p in photos])
    lat = np.array([p.lat_deg for p in photos])
    alt = np.array([np.nan if p.alt_m is None else p.alt_m for p in photos], dtype=np.float64)
    if np.all(np.isnan(alt)):
        alt[:] = 100.0
    alt = np.where(np.isnan(alt), np.nanmedian(alt), alt)
    x, y = transform(lon, lat, 4326, crs)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise BadInputError(
            _("the photos' positions lie outside the area of {crs}").format(crs=crs.name)
        )
    return np.column_stack([x, y, alt])


def make_frame(world_xyz: np.ndarray, crs: CRS) -> Frame:
    o = np.round(np.asarray(world_xyz, dtype=np.float64).mean(axis=0))
    return Frame(crs=crs, origin_m=(float(o[0]), float(o[1]), float(o[2])))


@dataclass(frozen=True)
class Alignment:
    scale: float
    inliers: int
    total: int
    residual_rms_m: tuple[float, float, float]  # E, N, U
    residual_rms_h_m: float
    residuals_m: np.ndarray  # (N, 3) per registered photo, in the order of ``names``
    names: tuple[str, ...] = ()


def similarity_lsq(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The similarity (scale, rotation, translation) taking ``src`` onto ``dst`` in least
    squares (Umeyama 1991: the SVD of their cross-covariance, the reflection excluded); None when
    the source points lie on a line or a point (no rotation is fixed)."""
    src, dst = np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64)
    if len(src) < 3:
        return None
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - ms, dst - md
    var = float((a**2).sum()) / len(src)
    u, sv, vt = np.linalg.svd(b.T @ a / len(src))
    if var <= 0.0 or sv[1] <= 1e-9 * sv[0]:
        return None
    fix = np.diag([1.0, 1.0, 1.0 if np.linalg.det(u) * np.linalg.det(vt) > 0 else -1.0])
    rot = u @ fix @ vt
    scale = float((sv * np.diag(fix)).sum()) / var
    return scale, rot, md - scale * rot @ ms


def align(rec: Any, prior_xyz: dict[str, np.ndarray], max_error_m: float = 5.0) -> Alignment:
    """Move ``rec`` (in place) by a LO-RANSAC similarity of its camera centres onto the priors.

    The priors are model coordinates (output CRS minus origin). Fewer than three registered
    photos cannot fix a similarity: :class:`ReconstructionError`.
    """
    import pycolmap

    names, src, dst = [], [], []
    for im in rec.images.values():
        if im.has_pose and im.name in prior_xyz:
            names.append(im.name)
            src.append(im.projection_center())
            dst.append(prior_xyz[im.name])
    if len(src) < 3:
        raise ReconstructionError(_("fewer than three photos registered: cannot georeference"))
    s, d = np.asarray(src), np.asarray(dst)
    ransac = pycolmap.RANSACOptions()
    ransac.max_error = max_error_m
    ransac.random_seed = 0
    # pycolmap's stub says Sim3d; the binding returns {"tgt_from_src", "num_inliers", ...}
    res: Any = pycolmap.estimate_sim3d_robust(s, d, ransac)
    if res is not None:
        sim, inliers = res["tgt_from_src"], int(np.sum(res["inlier_mask"]))
    else:
        # COLMAP's estimator gives up on targets in one plane: GPS heights all equal, or all
        # missing (filled with one value). Latitude and longitude still place a model whose
        # centres are not on a line: the least-squares similarity (Umeyama 1991)
        fit = similarity_lsq(s, d)
        if fit is None:
            raise ReconstructionError(_("the model could not be aligned to the GPS positions"))
        scale, rot, shift = fit
        sim = pycolmap.Sim3d(scale, pycolmap.Rotation3d(rot), shift)
        err = np.linalg.norm(scale * s @ rot.T + shift - d, axis=1)
        inliers = int(np.count_nonzero(err <= max_error_m))
    rec.transform(sim)
    moved = np.array([rec.find_image_with_name(n).projection_center() for n in names])
    r = moved - d
    rms = np.sqrt(np.mean(r**2, axis=0))
    return Alignment(
        scale=float(sim.scale),
        inliers=inliers,
        total=len(names),
        residual_rms_m=(float(rms[0]), float(rms[1]), float(rms[2])),
        residual_rms_h_m=float(np.sqrt(np.mean(r[:, 0] ** 2 + r[:, 1] ** 2))),
        residuals_m=r,
        names=tuple(names),
    )
