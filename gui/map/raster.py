"""Local GeoTIFFs as map layers: reprojected to the map's Web Mercator, rendered to RGBA.

No Qt here: :func:`render_geotiff` returns an RGBA ``uint8`` array and its EPSG:3857 bounds; the
canvas wraps it in an image item. Three renderings:

* ``rgb``: a colour orthophoto (bands 1-3, stretched from 2 to 98 % when not 8-bit);
* ``hillshade``: a single-band DTM/DSM lit from the north-west, the way relief maps are read;
* ``heat``: a single-band probability (POA) map: transparent where zero, yellow to dark red as
  the probability grows, normalised to the raster's maximum.

``auto`` picks ``rgb`` for three or more bands, ``heat`` for a single band of values in [0, 1]
whose sum is about one (what the POA helper writes), else ``hillshade``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from dronekit_plzen.errors import (
    BadInputError,
    CorruptFileError,
    UnknownCRSError,
    raster_read_reason,
)
from dronekit_plzen.i18n import _

KINDS = ("auto", "rgb", "hillshade", "heat")
#: the longest side of the rendered image (a city-wide raster is shown decimated)
MAX_SIDE_PX = 2048


@dataclass(frozen=True)
class RasterImage:
    """A rendered raster: RGBA rows × cols × 4 and its (west, south, east, north) in EPSG:3857."""

    rgba: NDArray[np.uint8]
    bounds: tuple[float, float, float, float]
    kind: str
    path: str


def _stretch(band: NDArray[np.float64]) -> NDArray[np.uint8]:
    finite = band[np.isfinite(band)]
    if finite.size == 0:
        return np.zeros(band.shape, np.uint8)
    lo, hi = np.percentile(finite, [2, 98])
    if hi <= lo:
        hi = lo + 1.0
    out = np.clip((band - lo) / (hi - lo), 0, 1) * 255
    return np.nan_to_num(out).astype(np.uint8)


def hillshade(
    dem: NDArray[np.float64], cell_m: float, azimuth_deg: float = 315.0, altitude_deg: float = 45.0
) -> NDArray[np.float64]:
    """Lambertian shading 0..1 of a DEM with square cells of ``cell_m`` metres (NaN stays NaN)."""
    filled = np.where(np.isfinite(dem), dem, np.nanmean(dem) if np.isfinite(dem).any() else 0.0)
    dy, dx = np.gradient(filled, cell_m)
    slope = np.arctan(np.hypot(dx, dy))
    aspect = np.arctan2(-dx, dy)  # rows grow south: dy is the southward gradient
    az = math.radians(360.0 - azimuth_deg + 90.0)
    alt = math.radians(altitude_deg)
    shade = np.sin(alt) * np.cos(slope) + np.cos(alt) * np.sin(slope) * np.cos(az - aspect)
    shade = np.clip(shade, 0.0, 1.0)
    return np.where(np.isfinite(dem), shade, np.nan)


def heat_colours(p: NDArray[np.float64]) -> NDArray[np.uint8]:
    """RGBA of a probability map: transparent at 0, yellow → orange → dark red at the maximum."""
    finite = np.where(np.isfinite(p), p, 0.0)
    top = float(finite.max()) if finite.size else 0.0
    t = finite / top if top > 0 else finite
    t = np.clip(t, 0.0, 1.0)
    r = 255 - 80 * t
    g = 230 * (1 - t) ** 1.2
    b = 40 * (1 - t)
    a = np.where(t > 0.002, 60 + 170 * np.sqrt(t), 0)
    return np.stack([r, g, b, a], axis=-1).astype(np.uint8)


def guess_kind(bands: int, data: NDArray[np.float64], cells_per_sample: float = 1.0) -> str:
    """``rgb``, ``heat`` or ``hillshade`` (see the module); ``data`` may be decimated, each
    sample standing for ``cells_per_sample`` cells of the file."""
    if bands >= 3:
        return "rgb"
    finite = data[np.isfinite(data)]
    total = finite.sum() * cells_per_sample
    if finite.size and finite.min() >= 0 and finite.max() <= 1 and abs(total - 1) < 0.05:
        return "heat"
    return "hillshade"


#: half the Web Mercator world's width (metres): a raster beyond it is not on the Earth
MERCATOR_HALF_M = 20_037_508.34
#: the widest raster shown (a whole region's orthophoto is a few hundred km)
MAX_EXTENT_M = 2_000_000.0


def _check_crs(crs: object, where: str) -> None:
    """A CRS the map can reproject from (a local or engineering CRS cannot be placed)."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError, ProjError

    from dronekit_plzen.geo import transformer

    try:
        wkt = crs.to_wkt()  # type: ignore[attr-defined]
        transformer(wkt, "EPSG:3857")
    except (ProjError, CRSError) as exc:
        try:
            name = CRS.from_wkt(wkt).name
        except CRSError:
            name = str(crs)[:40]
        raise UnknownCRSError(
            _(
                "the raster's CRS {name!r} cannot be placed on the map (a local or engineering "
                "CRS?); reproject the raster to a known CRS such as EPSG:5514"
            ).format(name=name),
            where=where,
        ) from exc


def _check_extent(t: object, width: int, height: int, where: str) -> None:
    """The raster, in Web Mercator, lies on the Earth and is not wider than a region."""
    a, c, e, f = t.a, t.c, t.e, t.f  # type: ignore[attr-defined]
    west, north = c, f
    east, south = c + a * width, f + e * height
    finite = all(math.isfinite(v) for v in (west, north, east, south))
    on_earth = finite and all(abs(v) <= MERCATOR_HALF_M * 1.01 for v in (west, east))
    on_earth = on_earth and all(abs(v) <= MERCATOR_HALF_M * 1.01 for v in (south, north))
    size = max(abs(east - west), abs(north - south)) if finite else math.inf
    if on_earth and size <= MAX_EXTENT_M:
        return
    raise BadInputError(
        _(
            "the raster is {size} km across or lies off the Earth (at most {limit:,.0f} km): "
            "wrong CRS or georeference?"
        ).format(
            size=f"{size / 1000:,.0f}" if math.isfinite(size) else "∞", limit=MAX_EXTENT_M / 1000
        ),
        where=where,
    )


def render_geotiff(path: Path, kind: str = "auto", max_side_px: int = MAX_SIDE_PX) -> RasterImage:
    """Read ``path``, reproject it to EPSG:3857 and render it as ``kind`` (see the module)."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, reproject

    if kind not in KINDS:
        raise BadInputError(
            _("unknown raster rendering {kind!r} (known: {known})").format(
                kind=kind, known=", ".join(KINDS)
            )
        )
    p = Path(path)
    if p.is_dir():
        raise BadInputError(_("the raster file is a directory"), where=str(p))
    if not p.is_file():
        raise BadInputError(_("raster file not found"), where=str(p))
    try:
        with rasterio.open(p) as ds:
            if ds.crs is None:
                raise BadInputError(_("the raster has no CRS"), where=str(p))
            _check_crs(ds.crs, str(p))
            n_bands = 3 if ds.count >= 3 else 1
            # read at most about the rendered size (GDAL decimates, using overviews when the
            # file has them): a 100,000-pixel-wide raster had been read whole, tens of GB
            step = max(1.0, max(ds.width, ds.height) / (2 * max_side_px))
            src_w = max(1, round(ds.width / step))
            src_h = max(1, round(ds.height / step))
            src_transform = ds.transform @ ds.transform.scale(ds.width / src_w, ds.height / src_h)
            dst_transform, width, height = calculate_default_transform(
                ds.crs, "EPSG:3857", src_w, src_h, *ds.bounds
            )
            _check_extent(dst_transform, width, height, str(p))
            factor = max(1.0, max(width, height) / max_side_px)
            width = max(1, int(width / factor))
            height = max(1, int(height / factor))
            dst_transform = dst_transform @ dst_transform.scale(factor, factor)
            out = np.full((n_bands, height, width), np.nan, dtype=np.float64)
            sum_src = None
            for b in range(n_bands):
                src = (
                    ds.read(b + 1, masked=True, out_shape=(src_h, src_w))
                    .astype(np.float64)
                    .filled(np.nan)
                )
                if b == 0 and n_bands == 1 and kind in ("auto", "heat"):
                    sum_src = src
                reproject(
                    src,
                    out[b],
                    src_transform=src_transform,
                    src_crs=ds.crs,
                    src_nodata=np.nan,
                    dst_transform=dst_transform,
                    dst_crs="EPSG:3857",
                    dst_nodata=np.nan,
                    resampling=Resampling.bilinear,
                )
    except rasterio.errors.RasterioError as exc:
        raise CorruptFileError(
            _("cannot read the raster: {err}").format(err=raster_read_reason(exc)), where=str(p)
        ) from exc
    if kind == "auto":
        cells = (ds.width * ds.height) / (src_w * src_h) if sum_src is not None else 1.0
        kind = guess_kind(n_bands, sum_src if sum_src is not None else out[0], cells)
    valid = np.all(np.isfinite(out), axis=0)
    if kind == "rgb":
        rgb = [
            np.nan_to_num(out[i]).clip(0, 255).astype(np.uint8)
            if np.nanmax(out[i]) <= 255
            else _stretch(out[i])
            for i in range(min(3, n_bands))
        ]
        while len(rgb) < 3:
            rgb.append(rgb[0])
        alpha = np.where(valid, 255, 0).astype(np.uint8)
        rgba = np.stack([*rgb, alpha], axis=-1)
    elif kind == "hillshade":
        cell = abs(dst_transform.a) * math.cos(
            math.atan(math.sinh(dst_transform.f / 6_378_137.0))  # ground metres at the top row
        )
        shade = hillshade(out[0], max(cell, 1e-6))
        grey = np.nan_to_num(60 + 195 * shade).astype(np.uint8)
        rgba = np.stack([grey, grey, grey, np.where(valid, 255, 0).astype(np.uint8)], axis=-1)
    else:
        rgba = heat_colours(out[0])
    west = dst_transform.c
    north = dst_transform.f
    east = west + dst_transform.a * width
    south = north + dst_transform.e * height
    return RasterImage(np.ascontiguousarray(rgba), (west, south, east, north), kind, str(p))
