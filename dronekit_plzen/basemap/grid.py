"""The EPSG:3857 (Web Mercator) tile grid: lon/lat ↔ tile numbers and tile bounds (no I/O).

XYZ numbering (the OpenStreetMap / Google scheme, and the WMTS ``GoogleMapsCompatible`` matrix
set): zoom ``z`` has ``2**z × 2**z`` tiles of 256 px; column ``x`` grows east, row ``y`` grows
south from 85.0511° N. MBTiles stores the TMS row ``2**z - 1 - y`` (rows grow north).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

#: half the width of the Web Mercator world in metres (π × the WGS84 semi-major axis)
ORIGIN_M = math.pi * 6_378_137.0
#: the latitude where the square Web Mercator world ends
MAX_LAT = 85.0511287798066
TILE_PX = 256
MAX_ZOOM = 22

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, order=True)
class TileId:
    """One XYZ tile."""

    z: int
    x: int
    y: int

    @property
    def tms_y(self) -> int:
        """The row as MBTiles/TMS count it (from the south)."""
        return (1 << self.z) - 1 - self.y


def lonlat_to_mercator(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """EPSG:3857 x/y metres of WGS84 points (latitude clipped to the square world)."""
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.clip(np.asarray(lat, dtype=np.float64), -MAX_LAT, MAX_LAT)
    x = np.radians(lon_a) * 6_378_137.0
    y = np.log(np.tan(np.pi / 4 + np.radians(lat_a) / 2)) * 6_378_137.0
    return x, y


def mercator_to_lonlat(x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS84 lon/lat of EPSG:3857 points."""
    x_a = np.asarray(x, dtype=np.float64)
    y_a = np.asarray(y, dtype=np.float64)
    lon = np.degrees(x_a / 6_378_137.0)
    lat = np.degrees(2 * np.arctan(np.exp(y_a / 6_378_137.0)) - np.pi / 2)
    return lon, lat


def tile_size_m(z: int) -> float:
    """Width of one tile at zoom ``z`` in Web Mercator metres."""
    return 2 * ORIGIN_M / (1 << z)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of tile ``z/x/y`` in EPSG:3857 metres."""
    size = tile_size_m(z)
    west = -ORIGIN_M + x * size
    north = ORIGIN_M - y * size
    return west, north - size, west + size, north


def tile_at(lon: float, lat: float, z: int) -> TileId:
    """The tile of zoom ``z`` containing lon/lat."""
    x, y = lonlat_to_mercator([lon], [lat])
    n = 1 << z
    size = tile_size_m(z)
    col = int(np.clip(np.floor((x[0] + ORIGIN_M) / size), 0, n - 1))
    row = int(np.clip(np.floor((ORIGIN_M - y[0]) / size), 0, n - 1))
    return TileId(z, col, row)


def check_bbox(bbox: tuple[float, float, float, float], where: str = "bbox") -> None:
    """Raise :class:`BadInputError` unless ``bbox`` is (west, south, east, north) degrees."""
    west, south, east, north = bbox
    if not all(math.isfinite(v) for v in bbox):
        raise BadInputError(_("the bounding box has a non-finite number"), where=where)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadInputError(
            _(
                "the bounding box must be west,south,east,north in degrees "
                "with west < east and south < north"
            ),
            where=where,
        )


def check_zooms(zooms: range, where: str = "zoom") -> None:
    if len(zooms) == 0 or zooms.start < 0 or zooms.stop - 1 > MAX_ZOOM:
        raise BadInputError(_("zoom levels must lie in 0..{max}").format(max=MAX_ZOOM), where=where)


def tile_range(bbox: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) inclusive tile numbers of zoom ``z`` covering ``bbox`` (lon/lat)."""
    west, south, east, north = bbox
    a = tile_at(west, north, z)
    b = tile_at(east, south, z)
    return a.x, a.y, b.x, b.y


def count_tiles(bbox: tuple[float, float, float, float], zooms: range) -> int:
    total = 0
    for z in zooms:
        x0, y0, x1, y1 = tile_range(bbox, z)
        total += (x1 - x0 + 1) * (y1 - y0 + 1)
    return total


def tiles_in_bbox(bbox: tuple[float, float, float, float], zooms: range) -> Iterator[TileId]:
    """Every tile of ``zooms`` covering ``bbox``, zoom by zoom, row by row."""
    for z in zooms:
        x0, y0, x1, y1 = tile_range(bbox, z)
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                yield TileId(z, x, y)


def tiles_in_rect(
    west_m: float, south_m: float, east_m: float, north_m: float, z: int
) -> list[TileId]:
    """Tiles of zoom ``z`` covering a rectangle in EPSG:3857 metres (what a map view shows)."""
    n = 1 << z
    size = tile_size_m(z)
    x0 = max(0, math.floor((west_m + ORIGIN_M) / size))
    x1 = min(n - 1, math.floor((east_m + ORIGIN_M) / size))
    y0 = max(0, math.floor((ORIGIN_M - north_m) / size))
    y1 = min(n - 1, math.floor((ORIGIN_M - south_m) / size))
    return [TileId(z, x, y) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]


def zoom_for_resolution(metres_per_pixel: float, max_zoom: int = MAX_ZOOM) -> int:
    """The zoom whose tiles show at least ``metres_per_pixel`` (Web Mercator metres) detail.

    >>> zoom_for_resolution(156543.03392804097)
    0
    """
    if not (metres_per_pixel > 0 and math.isfinite(metres_per_pixel)):
        return 0
    z0 = 2 * ORIGIN_M / TILE_PX
    z = math.ceil(math.log2(z0 / metres_per_pixel) - 1e-9)
    return int(min(max(z, 0), max_zoom))
