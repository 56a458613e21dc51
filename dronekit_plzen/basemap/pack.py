"""Prepare an offline pack: every tile of a region and zoom range into one MBTiles file."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dronekit_plzen.basemap.cache import TileFetcher, TileFetchError
from dronekit_plzen.basemap.grid import TileId, check_bbox, check_zooms, count_tiles, tiles_in_bbox
from dronekit_plzen.basemap.mbtiles import MBTiles
from dronekit_plzen.basemap.sources import TileSource
from dronekit_plzen.errors import BadInputError, one_line
from dronekit_plzen.geo import margin_deg
from dronekit_plzen.i18n import _

BBox = tuple[float, float, float, float]
#: no pack holds more tiles, whatever ``--max-tiles`` says (about 20 GB of tiles; the GUI and
#: the portal read one tile at a time, and a pack of a country at zoom 19 is billions)
HARD_MAX_PACK_TILES = 1_000_000


@dataclass
class PackResult:
    path: Path
    tiles: int  #: tiles written
    missing: list[str] = field(default_factory=list)  #: why tiles could not be had
    #: an existing pack left in place because the new one lacks tiles (it is discarded)
    kept_previous: bool = False


def parse_zooms(text: str) -> range:
    """``"10-17"`` or ``"15"`` → a range of zoom levels."""
    try:
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-", 1))
        else:
            lo = hi = int(text)
    except ValueError:
        raise BadInputError(
            _("zoom must be a level or a range like 10-17, got {text!r}").format(text=text),
            where="--zoom",
        ) from None
    if hi < lo:
        raise BadInputError(
            _("zoom range {text!r} goes downwards").format(text=text), where="--zoom"
        )
    zooms = range(lo, hi + 1)
    check_zooms(zooms, "--zoom")
    return zooms


def parse_bbox(text: str) -> BBox:
    """``"west,south,east,north"`` in degrees."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise BadInputError(
            _("the bounding box must be four numbers west,south,east,north, got {text!r}").format(
                text=text
            ),
            where="--bbox",
        ) from None
    bbox = (w, s, e, n)
    check_bbox(bbox, "--bbox")
    return bbox


def area_bbox(path: Path, margin_m: float = 0.0) -> BBox:
    """The lon/lat bounding box of a GeoJSON or WKT area file, ``margin_m`` metres wider on
    every side (a degree of longitude is cos(latitude) of a degree of latitude: at Plzeň a
    margin of 500 m taken as 500/111,320 degrees on both axes was 323 m east and west)."""
    from shapely import wkt
    from shapely.errors import ShapelyError
    from shapely.geometry import shape

    if not path.is_file():
        raise BadInputError(_("area file not found"), where=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(
            _("cannot read the area file: {err}").format(err=exc), where=str(path)
        ) from exc
    try:
        if text.lstrip().startswith(("{", "[")):
            doc = json.loads(text)
            feats = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
            geoms = [shape(f.get("geometry", f)) for f in feats or []]
        else:
            geoms = [wkt.loads(text)]
    except (ValueError, TypeError, AttributeError, KeyError, ShapelyError, RecursionError) as exc:
        err = one_line(exc)  # a parser may quote the whole (one-line, megabytes long) file
        if isinstance(exc, RecursionError):
            err = _("nested too deeply")
        raise BadInputError(
            _("not a GeoJSON or WKT area: {err}").format(
                err=err if len(err) <= 200 else err[:200] + "…"
            ),
            where=str(path),
        ) from None
    geoms = [g for g in geoms if not g.is_empty]
    if not geoms:
        raise BadInputError(_("the area file has no geometry"), where=str(path))
    w, s, e, n = (
        min(g.bounds[0] for g in geoms),
        min(g.bounds[1] for g in geoms),
        max(g.bounds[2] for g in geoms),
        max(g.bounds[3] for g in geoms),
    )
    dlon, dlat = margin_deg(margin_m, s, n)
    w, s, e, n = w - dlon, s - dlat, e + dlon, n + dlat
    if math.isfinite(w + s + e + n) and (w == e or s == n):
        raise BadInputError(
            _("the area is a point or a straight line; give it a margin (--margin-m)"),
            where=str(path),
        )
    bbox = (w, s, e, n)
    check_bbox(bbox, str(path))
    return bbox


def pack_region(
    fetcher: TileFetcher,
    bbox: BBox,
    zooms: range,
    out: Path,
    *,
    max_tiles: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PackResult:
    """Fetch every tile of ``bbox`` at ``zooms`` (cache first) into the MBTiles file ``out``.

    Refuses (:class:`BadInputError`) more tiles than ``max_tiles`` (the source's limit by
    default: tile servers forbid bulk downloads). Tiles that cannot be had are listed in
    :attr:`PackResult.missing`; a new pack holds the rest (none is written when no tile could
    be had), but an existing ``out`` is then left
    as it was (:attr:`PackResult.kept_previous`): it is replaced only by a complete pack, and
    never half-written (the pack is built beside it and renamed).
    """
    total = check_pack(fetcher.source, bbox, zooms, max_tiles)
    result = PackResult(out, 0)
    # written beside the target and renamed over it at the end: a pack that fails midway (a
    # full disk, Ctrl-C) leaves what was there before untouched
    part = out.with_name(f".{out.name}.part")
    part.unlink(missing_ok=True)
    try:
        with MBTiles(part, "w") as pack:
            _fill(pack, fetcher, bbox, zooms, total, result, progress)
        if result.missing and out.exists():
            result.kept_previous = True  # a complete old pack beats a new one with holes
        elif result.tiles or not result.missing:
            os.replace(part, out)  # (a pack of no tile at all is not written: nothing to show)
    finally:
        part.unlink(missing_ok=True)
    result.path = out
    return result


def check_pack(src: TileSource, bbox: BBox, zooms: range, max_tiles: int | None) -> int:
    """The number of tiles a pack of ``bbox`` at ``zooms`` holds; refuses (before any work)
    zooms the source has not and more tiles than ``max_tiles`` (default: the source's limit:
    tile servers forbid bulk downloads)."""
    check_bbox(bbox)
    check_zooms(zooms)
    if zooms.start < src.min_zoom or zooms.stop - 1 > src.max_zoom:
        raise BadInputError(
            _("{source} has zoom levels {lo}..{hi}").format(
                source=src.key, lo=src.min_zoom, hi=src.max_zoom
            ),
            where="--zoom",
        )
    total = count_tiles(bbox, zooms)
    limit = src.max_pack_tiles if max_tiles is None else max_tiles
    if total > HARD_MAX_PACK_TILES:
        raise BadInputError(
            _(
                "the pack would hold {n} tiles; no pack holds more than {limit}: "
                "use a smaller region or fewer zoom levels"
            ).format(n=total, limit=HARD_MAX_PACK_TILES),
            where="--zoom",
        )
    if total > limit:
        raise BadInputError(
            _(
                "the pack would hold {n} tiles, more than the limit of {limit} for {source}: "
                "use a smaller region or fewer zoom levels"
            ).format(n=total, limit=limit, source=src.key),
            where="--zoom",
        )
    return total


def _fill(
    pack: MBTiles,
    fetcher: TileFetcher,
    bbox: BBox,
    zooms: range,
    total: int,
    result: PackResult,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Metadata, then every tile of ``bbox`` at ``zooms`` (cache first), 256 per write."""
    src = fetcher.source
    pack.set_metadata(
        {
            "name": src.name,
            "format": src.extension,
            "bounds": ",".join(f"{v:.6f}" for v in bbox),
            "center": f"{(bbox[0] + bbox[2]) / 2:.6f},{(bbox[1] + bbox[3]) / 2:.6f},{zooms.start}",
            "minzoom": zooms.start,
            "maxzoom": zooms.stop - 1,
            "type": "baselayer",
            "version": "1.3",
            "attribution": src.attribution,
            "description": f"dronekit-plzen offline pack of {src.key}",
            "source": src.key,
        }
    )
    batch: list[tuple[TileId, bytes]] = []
    for i, tile in enumerate(tiles_in_bbox(bbox, zooms), start=1):
        try:
            batch.append((tile, fetcher.fetch(tile)))
        except TileFetchError as exc:
            result.missing.append(str(exc))
        if len(batch) >= 256:
            result.tiles += pack.put_many(batch)
            batch = []
        if progress is not None:
            progress(i, total)
    result.tiles += pack.put_many(batch)
