"""``dronekit-plzen basemap``: list tile sources, prepare offline packs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dronekit_plzen.basemap.cache import TileCache, TileFetcher, TileFetchError, default_cache_dir
from dronekit_plzen.basemap.grid import count_tiles
from dronekit_plzen.basemap.mbtiles import MBTiles
from dronekit_plzen.basemap.pack import (
    area_bbox,
    check_pack,
    pack_region,
    parse_bbox,
    parse_zooms,
)
from dronekit_plzen.basemap.sources import available_sources, get_source
from dronekit_plzen.cliutil import app, refuse_given
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.outputs import check_output_path

#: a margin wider than this is a typing slip (a region is given by its area, not its margin)
MAX_MARGIN_M = 50_000.0


@click.group(help=_("Basemap tiles: sources, the tile cache and offline packs (MBTiles)."))
def basemap() -> None:
    """The ``basemap`` command group (its help is the translated text above)."""


@basemap.command("sources", help=_("List the tile sources and where their tiles come from."))
def sources_cmd() -> None:
    for key, src in available_sources().items():
        click.echo(f"{key:<10} {src.kind:<5} z{src.min_zoom}-{src.max_zoom}  {src.name}")
        click.echo(f"{'':<10} {src.url}")
        click.echo(f"{'':<10} {src.attribution}  ({_('override')}: ${src.env_var})")
    click.echo(_("tile cache: {path}").format(path=default_cache_dir()))


@basemap.command(
    "pack",
    help=_(
        "Prepare an offline pack of a region before a flight (tiles come from the cache first)."
    ),
)
@click.option("--source", "source_key", default="osm", show_default=True, help=_("Tile source."))
@click.option("--bbox", help=_("Region as west,south,east,north degrees."))
@click.option(
    "--area", "area_file", type=click.Path(path_type=Path), help=_("Region of a GeoJSON/WKT area.")
)
@click.option(
    "--margin-m",
    type=float,
    default=500.0,
    show_default=True,
    help=_("Margin around --area in metres."),
)
@click.option(
    "--zoom", "zoom_text", default="10-17", show_default=True, help=_("Zoom levels, e.g. 10-17.")
)
@click.option(
    "--max-tiles",
    type=click.IntRange(min=1),
    help=_("Refuse packs of more tiles than this (default: the source's limit)."),
)
@click.option("--offline", is_flag=True, help=_("Only tiles already in the cache."))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help=_("Output MBTiles file.")
)
def pack_cmd(
    source_key: str,
    bbox: str | None,
    area_file: Path | None,
    margin_m: float,
    zoom_text: str,
    max_tiles: int | None,
    offline: bool,
    output: Path,
) -> None:
    source = get_source(source_key)
    zooms = parse_zooms(zoom_text)
    if (bbox is None) == (area_file is None):
        raise BadInputError(_("give the region with exactly one of --bbox or --area"), where="pack")
    if not (margin_m >= 0):
        raise BadInputError(_("the margin must be 0 or more metres"), where="--margin-m")
    if margin_m > MAX_MARGIN_M:  # (1e308 m passed as a margin, then read as a bad bbox)
        raise BadInputError(
            _("the margin is at most {n} metres").format(n=f"{MAX_MARGIN_M:.0f}"),
            where="--margin-m",
        )
    if bbox is not None:  # --margin-m had been dropped without a word
        refuse_given(
            {"margin_m": "--margin-m"},
            _("--margin-m widens --area; a --bbox is the region as given"),
        )
    region = parse_bbox(bbox) if bbox is not None else area_bbox(area_file, margin_m)  # type: ignore[arg-type]
    # an .mbtiles target only, checked before any work; an existing pack is replaced only when
    # the new one is complete (written beside it, then renamed); nothing else is ever deleted
    check_output_path(output, suffixes=(".mbtiles",))
    check_pack(source, region, zooms, max_tiles)
    fetcher = TileFetcher(source, TileCache(default_cache_dir(), source), offline=offline)
    if app().quiet or not sys.stderr.isatty():  # a bar only for a person at a terminal
        result = pack_region(fetcher, region, zooms, output, max_tiles=max_tiles)
    else:
        with click.progressbar(
            length=count_tiles(region, zooms), label=_("Tiles"), file=sys.stderr
        ) as bar:

            def progress(_i: int, _total: int) -> None:
                bar.update(1)

            result = pack_region(
                fetcher, region, zooms, output, max_tiles=max_tiles, progress=progress
            )
    if not result.kept_previous and result.tiles:
        click.echo(
            ngettext(
                "{n} tile written to {path}", "{n} tiles written to {path}", result.tiles
            ).format(n=result.tiles, path=result.path)
        )
    if result.missing:
        msg = ngettext(
            "{n} tile missing from the pack, the first: {first}",
            "{n} tiles missing from the pack, the first: {first}",
            len(result.missing),
        ).format(n=len(result.missing), first=result.missing[0])
        if result.kept_previous:
            msg += "; " + _("the existing pack is kept as it was")
        raise TileFetchError(msg, where=str(output))
    with MBTiles(output) as check:
        if check.count() != result.tiles:
            raise BadInputError(_("the pack does not hold what was written"), where=str(output))
