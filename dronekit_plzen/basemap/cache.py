"""Getting tiles: the on-disk cache, offline packs and (optionally) the network.

:class:`TileFetcher` looks for a tile in the cache (``<cache>/<source>/<z>/<x>/<y>.<ext>``),
then in the offline packs given to it, and only then, unless it is offline, asks the source's
server with an honest User-Agent and keeps the answer in the cache. It is safe to call from
several worker threads (files are written atomically; each request is independent).
"""

from __future__ import annotations

import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from dronekit_plzen import __version__
from dronekit_plzen.basemap.grid import TileId
from dronekit_plzen.basemap.sources import TileSource
from dronekit_plzen.errors import DronekitPlzenError
from dronekit_plzen.i18n import _

log = logging.getLogger(__name__)

USER_AGENT = (
    f"dronekit-plzen/{__version__} (SITMP Plzen drone unit ground station; "
    "+https://opendata.plzen.eu)"
)

#: the first bytes of the image formats a tile server may answer with
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF", b"GIF8")


class TileFetchError(DronekitPlzenError):
    """A tile could not be had (offline and not cached, a server error, not an image)."""


class TileStore(Protocol):
    """Anything that can hand out a stored tile (a cache, an MBTiles pack)."""

    def get(self, tile: TileId) -> bytes | None: ...


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$DKP_TILE_CACHE``, else ``$XDG_CACHE_HOME/dronekit-plzen/tiles`` (``~/.cache/...``)."""
    env = os.environ if env is None else env
    if env.get("DKP_TILE_CACHE"):
        return Path(env["DKP_TILE_CACHE"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
    return Path(base) / "dronekit-plzen" / "tiles"


def is_image(data: bytes) -> bool:
    return any(data.startswith(m) for m in _IMAGE_MAGIC)


class TileCache:
    """Tiles of one source on disk: ``<root>/<source key>/<z>/<x>/<y>.<ext>``."""

    def __init__(self, root: Path, source: TileSource):
        self.root = Path(root)
        self.source = source

    def path(self, tile: TileId) -> Path:
        return (
            self.root
            / self.source.key
            / str(tile.z)
            / str(tile.x)
            / f"{tile.y}.{self.source.extension}"
        )

    def get(self, tile: TileId) -> bytes | None:
        try:
            return self.path(tile).read_bytes()
        except OSError:
            return None

    def put(self, tile: TileId, data: bytes) -> None:
        """Store a tile atomically (a reader never sees half a file)."""
        p = self.path(tile)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, p)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise


class TileFetcher:
    """Cache → offline packs → network (unless ``offline``), for one source."""

    def __init__(
        self,
        source: TileSource,
        cache: TileCache | None = None,
        packs: Sequence[TileStore] = (),
        *,
        offline: bool = False,
        timeout_s: float = 10.0,
    ):
        self.source = source
        self.cache = cache
        self.packs = list(packs)
        self.offline = offline
        self.timeout_s = timeout_s

    def get(self, tile: TileId) -> bytes | None:
        """The tile's bytes, or ``None`` when it cannot be had (logged, never raised)."""
        try:
            return self.fetch(tile)
        except TileFetchError as exc:
            log.debug("%s", exc)
            return None

    def fetch(self, tile: TileId) -> bytes:
        """The tile's bytes or :class:`TileFetchError` saying why not."""
        if not self.source.min_zoom <= tile.z <= self.source.max_zoom:
            raise TileFetchError(
                _("zoom {z} is outside {source}'s levels {lo}..{hi}").format(
                    z=tile.z,
                    source=self.source.key,
                    lo=self.source.min_zoom,
                    hi=self.source.max_zoom,
                )
            )
        for store in ([self.cache] if self.cache is not None else []) + self.packs:
            data = store.get(tile)
            if data:
                return data
        if self.offline:
            raise TileFetchError(
                _("tile {z}/{x}/{y} of {source} is not cached and the map is offline").format(
                    z=tile.z, x=tile.x, y=tile.y, source=self.source.key
                )
            )
        data = self.download(tile)
        if self.cache is not None:
            try:
                self.cache.put(tile, data)
            except OSError as exc:
                log.warning("tile cache not writable: %s", exc)
        return data

    def download(self, tile: TileId) -> bytes:
        url = self.source.tile_url(tile.z, tile.x, tile.y)
        req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                data = resp.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason: object = getattr(exc, "reason", None) or exc
            if isinstance(exc, urllib.error.HTTPError):
                reason = f"HTTP {exc.code} {exc.reason}"
            raise TileFetchError(
                _("tile {z}/{x}/{y} of {source}: {reason}").format(
                    z=tile.z, x=tile.x, y=tile.y, source=self.source.key, reason=reason
                ),
                where=url,
            ) from exc
        if not is_image(data):
            raise TileFetchError(
                _("tile {z}/{x}/{y} of {source}: the server did not send an image").format(
                    z=tile.z, x=tile.x, y=tile.y, source=self.source.key
                ),
                where=url,
            )
        return data
