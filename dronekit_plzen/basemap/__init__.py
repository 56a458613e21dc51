"""Basemap tile sources, on-disk tile cache and offline packs (MBTiles).

Shared by the GUI and the web portal.

No Qt and no network at import: :mod:`~dronekit_plzen.basemap.sources` names the servers,
:mod:`~dronekit_plzen.basemap.grid` does the EPSG:3857 tile arithmetic,
:mod:`~dronekit_plzen.basemap.cache` fetches (cache → packs → network),
:mod:`~dronekit_plzen.basemap.mbtiles` reads and writes offline packs and
:mod:`~dronekit_plzen.basemap.pack` prepares one for a region.
"""

from dronekit_plzen.basemap.cache import (
    USER_AGENT,
    TileCache,
    TileFetcher,
    TileFetchError,
    default_cache_dir,
)
from dronekit_plzen.basemap.grid import TileId, tile_bounds, tiles_in_rect, zoom_for_resolution
from dronekit_plzen.basemap.mbtiles import MBTiles
from dronekit_plzen.basemap.pack import PackResult, pack_region
from dronekit_plzen.basemap.sources import SOURCES, TileSource, available_sources, get_source

__all__ = [
    "SOURCES",
    "USER_AGENT",
    "MBTiles",
    "PackResult",
    "TileCache",
    "TileFetchError",
    "TileFetcher",
    "TileId",
    "TileSource",
    "available_sources",
    "default_cache_dir",
    "get_source",
    "pack_region",
    "tile_bounds",
    "tiles_in_rect",
    "zoom_for_resolution",
]
