"""The map's projection: WGS84 lon/lat ↔ scene coordinates (no Qt here).

The canvas draws in Web Mercator (EPSG:3857), the projection of the basemap tiles, with scene
``y = -northing`` so that north is up on a screen whose y axis points down. It is defined over
the whole world, so a plan in Canberra is drawn as correctly as one in Plzeň (a fixed UTM zone
drew plans far from it rotated). Web Mercator is conformal: shapes and angles are true, and a
scene metre is ``cos(latitude)`` ground metres, which :meth:`MapProjection.ground_scale` gives
for the scale bar. Everything the canvas keeps is stored in lon/lat; the projection is applied
once when an item is drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dronekit_plzen.basemap.grid import lonlat_to_mercator, mercator_to_lonlat
from dronekit_plzen.geo import WGS84, lonlat_to_sjtsk, transform

#: Plzeň city centre (náměstí Republiky), the initial view
PLZEN_LONLAT = (13.3776, 49.7475)
WEB_MERCATOR = 3857


@dataclass(frozen=True)
class MapProjection:
    """Lon/lat ↔ scene metres in ``epsg`` (Web Mercator); immutable, shareable across threads."""

    epsg: int = WEB_MERCATOR

    @classmethod
    def for_lonlat(cls, lon: float, lat: float) -> MapProjection:
        """The projection to show data at lon/lat: Web Mercator everywhere."""
        return cls(WEB_MERCATOR)

    def to_scene(
        self, lon: ArrayLike, lat: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Scene x (easting m) and y (minus northing m) of WGS84 points."""
        if self.epsg == WEB_MERCATOR:
            e, n = lonlat_to_mercator(lon, lat)
        else:
            e, n = transform(lon, lat, WGS84, self.epsg)
        return e, -n

    def to_lonlat(
        self, x: ArrayLike, y: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """WGS84 lon/lat of scene points."""
        north = -np.asarray(y, dtype=np.float64)
        if self.epsg == WEB_MERCATOR:
            return mercator_to_lonlat(x, north)
        return transform(x, north, self.epsg, WGS84)

    def point_to_scene(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self.to_scene([lon], [lat])
        return float(x[0]), float(y[0])

    def point_to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self.to_lonlat([x], [y])
        return float(lon[0]), float(lat[0])

    def ground_scale(self, lat: float) -> float:
        """Ground metres per scene metre at latitude ``lat``."""
        if self.epsg == WEB_MERCATOR:
            return max(math.cos(math.radians(lat)), 1e-6)
        return 1.0


def sjtsk_of(lon: float, lat: float) -> tuple[float, float]:
    """S-JTSK (EPSG:5514) east/north of a WGS84 point, as the city's GIS shows them."""
    e, n = lonlat_to_sjtsk([lon], [lat])
    return float(e[0]), float(n[0])


def nice_scale_length_m(metres_per_pixel: float, target_px: float = 120.0) -> float:
    """The largest 1-2-5 × 10^k length that fits in ``target_px`` pixels (for the scale bar).

    >>> nice_scale_length_m(1.0)
    100.0
    """
    if not np.isfinite(metres_per_pixel) or metres_per_pixel <= 0:
        return 0.0
    want = metres_per_pixel * target_px
    exp = np.floor(np.log10(want))
    best = 10.0**exp
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10.0**exp <= want:
            best = m * 10.0**exp
    return float(best)


def format_distance(metres: float) -> str:
    """``850 m`` or ``1.2 km`` / ``2 km`` for the scale bar and metrics."""
    if metres >= 1000.0:
        km = metres / 1000.0
        return f"{km:.0f} km" if km >= 10 or km == int(km) else f"{km:.1f} km"
    if metres >= 1.0:
        return f"{metres:.0f} m"
    return f"{metres * 100:.0f} cm"
