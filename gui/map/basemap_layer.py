"""The basemap tile layer: tiles under everything, fetched by worker threads, never blocking.

The layer asks :mod:`dronekit_plzen.basemap` for the tiles the view shows (cache, offline packs,
then the network unless the configuration's ``basemap_online`` is off); the workers hand the
bytes back through a queued signal and the tiles are placed in the scene on the GUI thread.
Tiles of the previous zoom stay until the new ones have arrived, so zooming never shows an
empty map.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PyQt5.QtCore import QObject, QRectF, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QPixmap, QTransform
from PyQt5.QtWidgets import QGraphicsPixmapItem, QGraphicsView

from dronekit_plzen.basemap import (
    MBTiles,
    TileCache,
    TileFetcher,
    TileId,
    TileSource,
    default_cache_dir,
    get_source,
    tile_bounds,
    tiles_in_rect,
    zoom_for_resolution,
)
from dronekit_plzen.basemap.grid import tile_size_m
from dronekit_plzen.config import load_config
from dronekit_plzen.errors import DronekitPlzenError

log = logging.getLogger(__name__)

#: z value of tile ``z`` is BASE_Z + z: under the rasters (−50) and every vector layer (≥ 0)
BASE_Z = -100.0
#: at most this many tiles are asked for at once (a 4K screen shows ~150)
MAX_VISIBLE = 300
#: tiles kept in the scene (older ones are dropped, they stay in the disk cache)
MAX_KEPT = 600


@dataclass
class BasemapSettings:
    """What the layer shows, from the environment (``DKP_BASEMAP``, …) or the layer switcher."""

    source: str | None = "osm"  #: a source key or None (no basemap)
    online: bool = False  #: fetch missing tiles from the network (``from_env``: on by default)
    packs: list[Path] = field(default_factory=list)  #: offline MBTiles packs
    cache_dir: Path | None = None

    @classmethod
    def from_env(cls, env: Any = None) -> BasemapSettings:
        """``DKP_BASEMAP`` (a source key or ``none``), ``DKP_BASEMAP_PACKS`` (MBTiles paths
        separated by ``os.pathsep``), ``DKP_TILE_CACHE``, and online or not from the
        configuration's ``basemap_online`` (``DKP_BASEMAP_ONLINE``): online unless set off, as
        QGroundControl does; tiles still come from the cache and the packs first."""
        env = os.environ if env is None else env
        key = env.get("DKP_BASEMAP", "osm").strip() or "osm"
        packs = [Path(p) for p in env.get("DKP_BASEMAP_PACKS", "").split(os.pathsep) if p]
        try:
            online = load_config(env=env).basemap_online
        except DronekitPlzenError as exc:  # the CLI refuses a bad configuration before this
            log.warning("basemap offline: %s", exc)
            online = False
        return cls(
            source=None if key.lower() == "none" else key,
            online=online,
            packs=packs,
            cache_dir=default_cache_dir(env),
        )


class _Workers(QObject):
    """Two daemon threads fetching tiles from a queue; results come back as a signal."""

    tileReady = pyqtSignal(int, object, object)  # generation, TileId, bytes | None

    def __init__(self, n: int = 2):
        super().__init__()
        self._queue: queue.Queue[tuple[int, TileFetcher, TileId] | None] = queue.Queue()
        self._generation = 0
        self._lock = threading.Lock()
        self._n = n
        self._threads: list[threading.Thread] = []

    def new_generation(self) -> int:
        """Forget queued requests (the view moved on): the next ones belong to a new view."""
        with self._lock:
            self._generation += 1
            return self._generation

    def request(self, generation: int, fetcher: TileFetcher, tile: TileId) -> None:
        if not self._threads:  # started on the first request: a map without tiles has none
            self._threads = [
                threading.Thread(target=self._run, name=f"tiles-{i}", daemon=True)
                for i in range(self._n)
            ]
            for t in self._threads:
                t.start()
        self._queue.put((generation, fetcher, tile))

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            generation, fetcher, tile = job
            with self._lock:
                stale = generation != self._generation
            data = None if stale else fetcher.get(tile)
            try:
                self.tileReady.emit(generation, tile, None if stale else data)
            except RuntimeError:  # the layer was deleted while a tile was on its way
                return

    def stop(self, *_args: Any) -> None:
        for _t in self._threads:
            self._queue.put(None)


class BasemapLayer(QObject):
    """Tiles of one source drawn under the canvas' layers."""

    tilesChanged = pyqtSignal()

    def __init__(self, view: QGraphicsView, settings: BasemapSettings | None = None):
        super().__init__(view)
        self.view = view
        self.settings = settings or BasemapSettings(source=None)
        self.source: TileSource | None = None
        self.fetcher: TileFetcher | None = None
        self.opacity = 1.0
        self.visible = True
        self.items: dict[TileId, QGraphicsPixmapItem] = {}
        self._pending: set[TileId] = set()
        self._failed: set[TileId] = set()
        self._generation = 0
        self._packs: list[MBTiles] = []
        self._workers = _Workers()
        self._workers.tileReady.connect(  # type: ignore[call-arg]
            self._tile_ready, Qt.ConnectionType.QueuedConnection
        )
        self.destroyed.connect(self._workers.stop)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self.update_view)
        self.configure(self.settings)

    # ------------------------------------------------------------------ configuration
    def configure(self, settings: BasemapSettings, source: TileSource | None = None) -> None:
        """Show ``settings.source`` (or the given ``source``, e.g. a local server's)."""
        self.settings = settings
        for pack in self._packs:
            pack.close()
        self._packs = []
        for p in settings.packs:
            try:
                self._packs.append(MBTiles(p))
            except Exception as exc:  # a broken pack must not take the map down
                log.warning("offline pack %s not usable: %s", p, exc)
        if source is None and settings.source:
            try:
                source = get_source(settings.source)
            except Exception as exc:
                log.warning("%s", exc)
        self.source = source
        if source is None:
            self.fetcher = None
        else:
            cache = TileCache(settings.cache_dir or default_cache_dir(), source)
            self.fetcher = TileFetcher(source, cache, self._packs, offline=not settings.online)
        self.clear()
        self.schedule()

    @property
    def attribution(self) -> str:
        return self.source.attribution if self.source is not None and self.items else ""

    def set_opacity(self, opacity: float) -> None:
        self.opacity = max(0.0, min(1.0, opacity))
        for item in self.items.values():
            item.setOpacity(self.opacity)

    def set_visible(self, visible: bool) -> None:
        self.visible = visible
        for item in self.items.values():
            item.setVisible(visible)
        self.schedule()

    def clear(self) -> None:
        scene = self.view.scene()
        for item in self.items.values():
            if scene is not None:
                scene.removeItem(item)
        self.items.clear()
        self._pending.clear()
        self._failed.clear()
        self._generation = self._workers.new_generation()

    def shutdown(self) -> None:
        self._workers.stop()
        for pack in self._packs:
            pack.close()
        self._packs = []

    # ------------------------------------------------------------------ loading
    def schedule(self) -> None:
        """Update soon (view changes come in bursts while panning)."""
        self._timer.start()

    def visible_tiles(self) -> list[TileId]:
        """The tiles of the current zoom that cover the viewport."""
        if self.source is None:
            return []
        vp = self.view.viewport()
        if vp is None:
            return []
        rect = self.view.mapToScene(vp.rect()).boundingRect()
        upp = rect.width() / max(vp.width(), 1)
        z = min(zoom_for_resolution(upp), self.source.max_zoom)
        z = max(z, self.source.min_zoom)
        tiles = tiles_in_rect(rect.left(), -rect.bottom(), rect.right(), -rect.top(), z)
        if len(tiles) > MAX_VISIBLE:
            return []
        return tiles

    def update_view(self) -> None:
        if self.fetcher is None or not self.visible:
            return
        wanted = self.visible_tiles()
        if not wanted:
            return
        z = wanted[0].z
        self._generation = self._workers.new_generation()
        self._pending.clear()
        for tile in wanted:
            if tile in self.items or tile in self._failed:
                continue
            self._pending.add(tile)
            self._workers.request(self._generation, self.fetcher, tile)
        if not self._pending:
            self._drop_other_zooms(z, set(wanted))

    def _drop_other_zooms(self, z: int, keep: set[TileId]) -> None:
        """Once the zoom's tiles are all here, older zooms' tiles go (and the oldest ones)."""
        scene = self.view.scene()
        for tile in [t for t in self.items if t.z != z and t not in keep]:
            item = self.items.pop(tile)
            if scene is not None:
                scene.removeItem(item)
        if len(self.items) > MAX_KEPT:
            for tile in [t for t in self.items if t not in keep][: len(self.items) - MAX_KEPT]:
                item = self.items.pop(tile)
                if scene is not None:
                    scene.removeItem(item)

    def _tile_ready(self, generation: int, tile: TileId, data: bytes | None) -> None:
        if generation != self._generation:
            return
        self._pending.discard(tile)
        scene = self.view.scene()
        if data is None or scene is None:
            if data is None:
                self._failed.add(tile)
        else:
            pixmap = QPixmap()
            if pixmap.loadFromData(data):
                self._place(tile, pixmap)
            else:
                self._failed.add(tile)
        if not self._pending:
            self._drop_other_zooms(tile.z, set(self.visible_tiles()))
            self.tilesChanged.emit()

    def _place(self, tile: TileId, pixmap: QPixmap) -> None:
        west, _s, _e, north = tile_bounds(tile.z, tile.x, tile.y)
        item = QGraphicsPixmapItem(pixmap)
        scale = tile_size_m(tile.z) / max(pixmap.width(), 1)
        item.setTransform(QTransform.fromScale(scale, scale))
        item.setPos(west, -north)
        item.setZValue(BASE_Z + tile.z)
        item.setOpacity(self.opacity)
        item.setVisible(self.visible)
        item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        old = self.items.get(tile)
        scene = self.view.scene()
        if old is not None and scene is not None:
            scene.removeItem(old)
        if scene is not None:
            scene.addItem(item)
        self.items[tile] = item

    def tile_rect(self, tile: TileId) -> QRectF:
        """The scene rectangle of a tile (for tests and tools)."""
        west, south, east, north = tile_bounds(tile.z, tile.x, tile.y)
        return QRectF(west, -north, east - west, north - south)
