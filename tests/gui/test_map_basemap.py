"""The map's basemap, raster layers and projection on real widgets offscreen.

Tiles come from a real HTTP server on 127.0.0.1 (``http.server`` in a thread) serving PNGs the
test paints, and from an MBTiles pack written by the toolkit; screenshots of the canvas are
checked for the served colours where the tiles lie.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import functools
import http.server
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QPointF
from PyQt5.QtGui import QColor, QImage
from rasterio.transform import from_origin

from dronekit_plzen.basemap import MBTiles, TileId, get_source
from dronekit_plzen.basemap.grid import tile_at, tiles_in_bbox
from gui.map.basemap_layer import BasemapSettings
from gui.mapcanvas import MapCanvas

PLZEN = (13.3776, 49.7475)
Z = 15
#: the tile under Plzeň's centre is red, its neighbours blue
RED, BLUE = QColor(230, 20, 20), QColor(20, 40, 220)


def png(colour: QColor) -> bytes:
    img = QImage(256, 256, QImage.Format_RGB32)
    img.fill(colour)
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    img.save(buf, "PNG")
    return bytes(data)


@pytest.fixture(scope="module")
def tile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("tiles")
    centre = tile_at(*PLZEN, Z)
    red, blue = png(RED), png(BLUE)
    for z in (Z - 1, Z, Z + 1):
        c = tile_at(*PLZEN, z)
        for dx in range(-3, 4):
            for dy in range(-3, 4):
                t = TileId(z, c.x + dx, c.y + dy)
                p = root / str(z) / str(t.x) / f"{t.y}.png"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(red if (z, t.x, t.y) == (Z, centre.x, centre.y) else blue)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
    server.shutdown()
    server.server_close()


def _canvas(qtbot, settings: BasemapSettings, source=None) -> MapCanvas:  # type: ignore[no-untyped-def]
    canvas = MapCanvas(basemap=BasemapSettings(source=None))
    qtbot.addWidget(canvas)
    canvas.resize(640, 480)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.basemap.configure(settings, source)
    return canvas


def _show_tile_zoom(canvas: MapCanvas, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Look at Plzeň at zoom 15's resolution and wait for the tiles."""
    with qtbot.waitSignal(canvas.basemap.tilesChanged, timeout=10_000):
        canvas.resetTransform()
        upp = 2 * 20037508.342789244 / 2**Z / 256  # scene metres per tile pixel at zoom 15
        canvas.scale(1 / upp, 1 / upp)
        canvas.center_on_lonlat(*PLZEN)


def _pixel_at(img: QImage, canvas: MapCanvas, lon: float, lat: float) -> QColor:
    x, y = canvas.projection.point_to_scene(lon, lat)
    p = canvas.mapFromScene(QPointF(x, y))
    return QColor(img.pixel(p.x(), p.y()))


def _close(a: QColor, b: QColor, tol: int = 12) -> bool:
    return all(abs(u - v) <= tol for u, v in zip(a.getRgb()[:3], b.getRgb()[:3]))


def test_tiles_from_a_local_server_are_drawn_where_they_lie(  # type: ignore[no-untyped-def]
    qtbot, tile_server: str, tmp_path: Path
) -> None:
    src = replace(get_source("osm", env={}), url=tile_server)
    settings = BasemapSettings(source="osm", online=True, cache_dir=tmp_path / "cache")
    canvas = _canvas(qtbot, settings, src)
    _show_tile_zoom(canvas, qtbot)
    assert canvas.basemap.items and all(t.z == Z for t in canvas.basemap.items)
    shot = canvas.grab()
    shot.save(str(tmp_path / "basemap.png"))
    img = shot.toImage()
    centre = tile_at(*PLZEN, Z)
    rect = canvas.basemap.tile_rect(centre)
    inside = canvas.projection.point_to_lonlat(rect.center().x(), rect.center().y())
    assert _close(_pixel_at(img, canvas, *inside), RED)  # the red tile where it belongs
    east = canvas.projection.point_to_lonlat(rect.right() + rect.width() / 2, rect.center().y())
    assert _close(_pixel_at(img, canvas, *east), BLUE)  # its neighbour blue
    # the tiles are now in the cache: offline, a new map shows them without the server
    cached = tmp_path / "cache" / "osm" / str(Z) / str(centre.x) / f"{centre.y}.png"
    assert cached.is_file()
    assert "OpenStreetMap" in canvas.basemap.attribution
    # opacity reaches the tiles; hiding the layer hides them
    canvas.set_layer_opacity("basemap", 0.3)
    assert all(it.opacity() == pytest.approx(0.3) for it in canvas.basemap.items.values())
    canvas.set_layer_visible("basemap", False)
    assert not any(it.isVisible() for it in canvas.basemap.items.values())


def test_the_map_is_online_by_default_and_offline_when_configured(  # type: ignore[no-untyped-def]
    qtbot, tile_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing configured (the test server stands in for OSM): the GUI's map fetches the tiles
    monkeypatch.delenv("DKP_BASEMAP_ONLINE")
    monkeypatch.setenv("DKP_BASEMAP_URL_OSM", tile_server)
    monkeypatch.setenv("DKP_TILE_CACHE", str(tmp_path / "cache"))
    canvas = MapCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(640, 480)
    canvas.show()
    qtbot.waitExposed(canvas)
    assert canvas.basemap.settings.online
    _show_tile_zoom(canvas, qtbot)
    assert _close(_pixel_at(canvas.grab().toImage(), canvas, *PLZEN), RED)
    from gui.map.layer_panel import LayerPanel

    panel = LayerPanel(canvas)
    qtbot.addWidget(panel)
    assert panel.online.isChecked()  # the layer switcher shows it (and can turn it off)
    # offline from the environment or the configuration file; the environment wins
    cfg = tmp_path / "cfg" / "dronekit-plzen" / "config.toml"
    cfg.parent.mkdir(parents=True)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    assert BasemapSettings.from_env(env).online
    assert not BasemapSettings.from_env({**env, "DKP_BASEMAP_ONLINE": "0"}).online
    cfg.write_text("basemap_online = false\n", encoding="utf-8")
    assert not BasemapSettings.from_env(env).online
    assert BasemapSettings.from_env({**env, "DKP_BASEMAP_ONLINE": "1"}).online
    # a bad value is refused by the configuration (the CLI's one-line error); the map stays offline
    cfg.write_text('basemap_online = "sometimes"\n', encoding="utf-8")
    from dronekit_plzen.config import load_config
    from dronekit_plzen.errors import ConfigError

    with pytest.raises(ConfigError, match="basemap_online must be true or false"):
        load_config(env=env)
    assert not BasemapSettings.from_env(env).online


def test_offline_pack_serves_the_map_without_any_server(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pack = tmp_path / "plzen.mbtiles"
    bbox = (PLZEN[0] - 0.02, PLZEN[1] - 0.01, PLZEN[0] + 0.02, PLZEN[1] + 0.01)
    red = png(RED)
    with MBTiles(pack, "w") as mb:
        mb.set_metadata({"name": "test", "format": "png", "minzoom": Z, "maxzoom": Z})
        mb.put_many((t, red) for t in tiles_in_bbox(bbox, range(Z, Z + 1)))
    # a URL nobody answers: only the pack can have drawn the tiles
    src = replace(get_source("osm", env={}), url="http://127.0.0.1:9/{z}/{x}/{y}.png")
    settings = BasemapSettings(source="osm", online=False, packs=[pack], cache_dir=tmp_path)
    canvas = _canvas(qtbot, settings, src)
    _show_tile_zoom(canvas, qtbot)
    img = canvas.grab().toImage()
    assert _close(_pixel_at(img, canvas, *PLZEN), RED)
    assert not (tmp_path / "osm").exists()  # nothing fetched, nothing cached


def _write_tif(path: Path, data: np.ndarray, *, crs: str = "EPSG:32633") -> None:
    """A GeoTIFF of ``data`` (bands × rows × cols) with 2 m cells around Plzeň (UTM 33N)."""
    from dronekit_plzen.geo import lonlat_to_utm

    e, n = lonlat_to_utm([PLZEN[0]], [PLZEN[1]], 32633)
    bands, rows, cols = data.shape
    transform = from_origin(float(e[0]) - cols, float(n[0]) + rows, 2.0, 2.0)
    with rasterio.open(
        path, "w", driver="GTiff", width=cols, height=rows, count=bands,
        dtype=data.dtype, crs=crs, transform=transform,
    ) as ds:  # fmt: skip
        ds.write(data)


def test_geotiff_layers_orthophoto_hillshade_and_poa_heat_map(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    canvas = _canvas(qtbot, BasemapSettings(source=None))
    ortho = tmp_path / "ortho.tif"
    rgb = np.zeros((3, 100, 100), np.uint8)
    rgb[0], rgb[1], rgb[2] = 30, 200, 60  # a green field
    _write_tif(ortho, rgb)
    name = canvas.add_raster(ortho, opacity=1.0)
    assert canvas.rasters[name][1].kind == "rgb"
    w, s, e, n = canvas.raster_bounds_lonlat(name)
    assert w < PLZEN[0] < e and s < PLZEN[1] < n  # reprojected from UTM to where it lies
    canvas.focus_on(*PLZEN, max_mpp=1.0)
    img = canvas.grab().toImage()
    assert _close(_pixel_at(img, canvas, *PLZEN), QColor(30, 200, 60), tol=6)
    # a DTM (a slope) is drawn as hillshade: grey, brighter on the north-west-facing side
    dem = tmp_path / "dtm.tif"
    yy, xx = np.mgrid[0:100, 0:100]
    _write_tif(dem, (350 + 0.5 * xx + 0.0 * yy).astype(np.float32)[None])
    dtm = canvas.add_raster(dem, opacity=1.0)
    assert canvas.rasters[dtm][1].kind == "hillshade"
    grey = canvas.rasters[dtm][1].rgba[40:60, 40:60]
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 3] == 255).all()
    # a POA map (single band, sums to 1) is a heat map, transparent where the probability is 0
    poa = np.zeros((1, 100, 100), np.float32)
    poa[0, 40:60, 40:60] = 1.0 / 400
    poa_path = tmp_path / "poa.tif"
    _write_tif(poa_path, poa)
    heat = canvas.add_raster(poa_path, opacity=0.9)
    image = canvas.rasters[heat][1]
    assert image.kind == "heat"
    rows, cols = image.rgba.shape[:2]
    assert image.rgba[rows // 2, cols // 2, 3] > 100  # the likely cell is coloured
    assert image.rgba[2, 2, 3] == 0  # the rest shows the map below
    canvas.grab().save(str(tmp_path / "layers.png"))
    canvas.remove_raster(dtm)
    assert dtm not in canvas.rasters


def test_a_plan_in_canberra_is_drawn_true_and_zoomable(qtbot) -> None:  # type: ignore[no-untyped-def]
    canvas = _canvas(qtbot, BasemapSettings(source=None))
    # a north-south leg and an east-west leg near Canberra (UTM zone 55 S)
    path = [(149.13, -35.30), (149.13, -35.29), (149.14, -35.29)]
    canvas.show_plan([path], [], [path[0]])
    canvas.fit_all()
    mpp = canvas.metres_per_pixel()
    assert 0.5 < mpp < 10.0  # a 1.1 km plan fills the view, not a 2000 km scale
    lon, lat = canvas.view_center_lonlat()
    assert lon == pytest.approx(149.135, abs=0.01) and lat == pytest.approx(-35.295, abs=0.01)
    # north is up: the north-south leg is vertical, the east-west leg horizontal
    a, b, c = (canvas.mapFromScene(QPointF(*canvas.projection.point_to_scene(*p))) for p in path)
    assert abs(a.x() - b.x()) <= 1 and b.y() < a.y()
    assert abs(b.y() - c.y()) <= 1 and c.x() > b.x()
    canvas.zoom_by(1.5)
    assert canvas.metres_per_pixel() == pytest.approx(mpp / 1.5, rel=1e-3)
    # even from a view fitted to half the world, the wheel zooms back in
    canvas.fitInView(canvas.sceneRect())
    far = canvas.metres_per_pixel()
    assert far > 5000.0
    canvas.zoom_by(1.25)
    assert canvas.metres_per_pixel() < far


def test_vehicle_footprint_and_map_clicked(qtbot) -> None:  # type: ignore[no-untyped-def]
    canvas = _canvas(qtbot, BasemapSettings(source=None))
    ring = [(13.37, 49.74), (13.38, 49.74), (13.38, 49.745), (13.37, 49.745)]
    canvas.set_vehicle_footprint(2, ring)
    canvas.set_vehicle_footprint(2, [(x + 0.01, y) for x, y in ring])  # moves, not a second one
    items = canvas.layer_items("camera")
    assert len(items) == 1
    x, _y = canvas.projection.point_to_scene(13.385, 49.7425)
    assert items[0].boundingRect().left() == pytest.approx(
        canvas.projection.point_to_scene(13.38, 49.74)[0], abs=1.0
    )
    assert items[0].polygon().containsPoint(QPointF(x, _y), 0)
    canvas.set_vehicle_footprint(2, None)
    assert canvas.layer_items("camera") == []
    canvas.center_on_lonlat(*PLZEN)
    from PyQt5.QtCore import QPoint, Qt

    with qtbot.waitSignal(canvas.mapClicked) as blocker:
        qtbot.mouseClick(canvas.viewport(), Qt.LeftButton, pos=QPoint(320, 240))
    lon, lat = blocker.args
    assert lon == pytest.approx(PLZEN[0], abs=0.002) and lat == pytest.approx(PLZEN[1], abs=0.002)
