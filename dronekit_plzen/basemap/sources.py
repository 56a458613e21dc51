"""Tile sources: OpenStreetMap (XYZ) and the ČÚZK orthophoto and base map (WMTS), all EPSG:3857.

A :class:`TileSource` is a frozen recipe for a tile's URL; nothing here opens a socket. The URL
of each source can be replaced for a local tile server or a mirror with the environment variable
``DKP_BASEMAP_URL_<KEY>`` (``DKP_BASEMAP_URL_OSM``, ``DKP_BASEMAP_URL_CUZK_ORTO``, …), e.g.
``http://127.0.0.1:8080/{z}/{x}/{y}.png``; the tests serve tiles that way.

The ČÚZK services (https://geoportal.cuzk.cz) are WMTS 1.0.0 in KVP encoding; their
``wgs84:pseudomercator:epsg:3857`` matrix set is the Google/OSM grid, so tile ``z/x/y`` is
``TILEMATRIX=z&TILECOL=x&TILEROW=y``. ``orto`` is the Ortofoto ČR, ``zm`` the Základní mapa ČR
(the topographic map drawn from ZABAGED).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

_CUZK_KVP = (
    "?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}&STYLE=default"
    "&TILEMATRIXSET={matrix_set}&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&FORMAT={mime}"
)


@dataclass(frozen=True)
class TileSource:
    """Where the tiles of one basemap come from and how to name them."""

    key: str  #: short name: ``osm``, ``cuzk-orto``, ``cuzk-zm``
    name: str  #: what the layer switcher shows
    url: str  #: template with ``{z}``, ``{x}``, ``{y}`` (and for WMTS ``{layer}``, …)
    kind: str = "xyz"  #: ``xyz`` or ``wmts`` (KVP GetTile)
    min_zoom: int = 0
    max_zoom: int = 19
    attribution: str = ""
    mime: str = "image/png"
    layer: str = ""  #: WMTS layer identifier
    matrix_set: str = ""  #: WMTS tile matrix set of the EPSG:3857 grid
    #: the provider's usage policy forbids bulk downloads (OSM: no offline packs of big regions)
    max_pack_tiles: int = 50_000

    @property
    def extension(self) -> str:
        return "jpg" if self.mime == "image/jpeg" else "png"

    @property
    def env_var(self) -> str:
        return "DKP_BASEMAP_URL_" + self.key.upper().replace("-", "_")

    def tile_url(self, z: int, x: int, y: int) -> str:
        """The URL of tile ``z/x/y`` (XYZ numbering)."""
        return self.url.format(
            z=z, x=x, y=y, layer=self.layer, matrix_set=self.matrix_set, mime=self.mime
        )


SOURCES: dict[str, TileSource] = {
    s.key: s
    for s in (
        TileSource(
            key="osm",
            name="OpenStreetMap",
            url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            max_zoom=19,
            attribution="© OpenStreetMap contributors (ODbL)",
            max_pack_tiles=10_000,
        ),
        TileSource(
            key="cuzk-orto",
            name="ČÚZK Ortofoto ČR",
            url="https://geoportal.cuzk.cz/WMTS_ORTOFOTO/WMTService.aspx" + _CUZK_KVP,
            kind="wmts",
            max_zoom=20,
            attribution="© ČÚZK, Ortofoto ČR",
            mime="image/jpeg",
            layer="orto",
            matrix_set="wgs84:pseudomercator:epsg:3857",
        ),
        TileSource(
            key="cuzk-zm",
            name="ČÚZK Základní mapa ČR (ZABAGED)",
            url="https://geoportal.cuzk.cz/WMTS_ZM/WMTService.aspx" + _CUZK_KVP,
            kind="wmts",
            max_zoom=19,
            attribution="© ČÚZK, Základní mapa ČR",
            mime="image/png",
            layer="zm",
            matrix_set="wgs84:pseudomercator:epsg:3857",
        ),
    )
}


def available_sources(env: Mapping[str, str] | None = None) -> dict[str, TileSource]:
    """The tile sources with the URL overrides of the environment applied."""
    env = os.environ if env is None else env
    out = {}
    for key, src in SOURCES.items():
        url = env.get(src.env_var)
        out[key] = replace(src, url=url) if url else src
    return out


def get_source(key: str, env: Mapping[str, str] | None = None) -> TileSource:
    """The source called ``key`` or :class:`BadInputError` listing the known ones."""
    sources = available_sources(env)
    if key not in sources:
        raise BadInputError(
            _("unknown tile source {key!r} (known: {known})").format(
                key=key, known=", ".join(sorted(sources))
            ),
            where="--source",
        )
    return sources[key]
