"""Basemap tiles for the portal's map, from the same cache and offline packs as the GUI.

The browser asks ``/tiles/<source>/<z>/<x>/<y>.png``; :class:`TileService` answers from the
tile cache (``dronekit_plzen.basemap``), then from the offline MBTiles packs, and reaches the
tile server only when started with ``online=True`` (the portal is offline by default, so it
works in a command post without internet once the region was packed).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from dronekit_plzen.basemap.cache import TileCache, TileFetcher, default_cache_dir
from dronekit_plzen.basemap.grid import MAX_ZOOM, TileId
from dronekit_plzen.basemap.mbtiles import MBTiles
from dronekit_plzen.basemap.sources import TileSource, available_sources


class TileService:
    """Thread-safe tile lookup for the web server (one fetcher per source)."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        packs: Sequence[Path] = (),
        *,
        online: bool = False,
    ):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.online = online
        self.sources: dict[str, TileSource] = available_sources()
        self._packs = [MBTiles(p) for p in packs]
        self._fetchers: dict[str, TileFetcher] = {}
        self._lock = threading.Lock()

    def _fetcher(self, source: TileSource) -> TileFetcher:
        with self._lock:
            f = self._fetchers.get(source.key)
            if f is None:
                f = TileFetcher(
                    source,
                    TileCache(self.cache_dir, source),
                    self._packs,
                    offline=not self.online,
                )
                self._fetchers[source.key] = f
            return f

    def get(self, source_key: str, z: int, x: int, y: int) -> tuple[bytes, str] | None:
        """(tile bytes, MIME type) or None (unknown source, outside the grid, not available)."""
        source = self.sources.get(source_key)
        if source is None or not 0 <= z <= MAX_ZOOM or not (0 <= x < 1 << z and 0 <= y < 1 << z):
            return None
        data = self._fetcher(source).get(TileId(z, x, y))
        return None if data is None else (data, source.mime)

    def close(self) -> None:
        for p in self._packs:
            p.close()
