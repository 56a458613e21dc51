"""Helpers shared by several test folders (importable as ``dkp_testkit``: tests/conftest.py puts
this folder on ``sys.path``). Real files only: GeoTIFF DEMs written with rasterio."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import Affine

from dronekit_plzen.geo import transform

#: a point in a forest west of Plzeň, away from the sample zones (lon, lat)
FOREST_LONLAT = (13.2600, 49.7700)

DemFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def offset(lonlat: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    """(lon, lat) ``east_m``/``north_m`` metres from ``lonlat`` (UTM 33N)."""
    x, y = transform([lonlat[0]], [lonlat[1]], 4326, 32633)
    lo, la = transform([float(x[0]) + east_m], [float(y[0]) + north_m], 32633, 4326)
    return float(lo[0]), float(la[0])


def write_geotiff(
    path: Path,
    fn: DemFn,
    *,
    epsg: int = 32633,
    center_lonlat: tuple[float, float] = FOREST_LONLAT,
    half_m: float = 3000.0,
    res_m: float = 10.0,
    nodata: float | None = -9999.0,
) -> Path:
    """A GeoTIFF around ``center_lonlat`` whose value at metric (x, y) is ``fn(dx, dy)``
    (metres east/north of the centre, in the raster's CRS)."""
    cx, cy = transform([center_lonlat[0]], [center_lonlat[1]], 4326, epsg)
    x0, y1 = float(cx[0]) - half_m, float(cy[0]) + half_m
    n = int(2 * half_m / res_m)
    xs = x0 + (np.arange(n) + 0.5) * res_m
    ys = y1 - (np.arange(n) + 0.5) * res_m
    gx, gy = np.meshgrid(xs, ys)
    data = fn(gx - float(cx[0]), gy - float(cy[0])).astype(np.float32)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=n,
        width=n,
        count=1,
        dtype="float32",
        crs=f"EPSG:{epsg}",
        transform=Affine(res_m, 0.0, x0, 0.0, -res_m, y1),
        nodata=nodata,
    ) as ds:
        ds.write(data, 1)
    return path


def sigint_as_at_a_terminal() -> None:
    """``preexec_fn`` for a child that a test interrupts with SIGINT: pytest-xdist's workers
    ignore SIGINT and an ignored signal stays ignored across exec, so the child would never see
    the Ctrl-C a pilot's terminal sends; restore the default disposition first."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
