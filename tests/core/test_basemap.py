"""Basemaps: the EPSG:3857 tile grid, sources, the tile cache, MBTiles packs and the CLI.

Tiles come from a real HTTP server on 127.0.0.1 (``http.server`` in a thread) serving PNGs the
test writes; no traffic leaves the machine.
"""

from __future__ import annotations

import functools
import http.server
import io
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dronekit_plzen.basemap import (
    USER_AGENT,
    MBTiles,
    TileCache,
    TileFetcher,
    TileFetchError,
    TileId,
    get_source,
    pack_region,
    tile_bounds,
    tiles_in_rect,
    zoom_for_resolution,
)
from dronekit_plzen.basemap.grid import (
    count_tiles,
    lonlat_to_mercator,
    mercator_to_lonlat,
    tile_at,
)
from dronekit_plzen.basemap.pack import area_bbox, parse_zooms
from dronekit_plzen.errors import BadInputError

#: a small region of Plzeň (Bory), 3 × 3 tiles at zoom 15
BBOX = (13.355, 49.730, 13.375, 49.740)


def png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(buf, "PNG")
    return buf.getvalue()


class _Handler(http.server.SimpleHTTPRequestHandler):
    seen: list[tuple[str, str]]

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("User-Agent", "")))
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list]]:
    """``(url template, requests seen)`` of a tile server with zooms 14-16 around BBOX."""
    root = tmp_path_factory.mktemp("tiles")
    for z in (14, 15, 16):
        x0, y0 = tile_at(BBOX[0], BBOX[3], z).x, tile_at(BBOX[0], BBOX[3], z).y
        x1, y1 = tile_at(BBOX[2], BBOX[1], z).x, tile_at(BBOX[2], BBOX[1], z).y
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                p = root / str(z) / str(x) / f"{y}.png"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(png((z * 10, x % 256, y % 256)))
    (root / "bad").mkdir()
    (root / "bad" / "0.png").write_text("<html>quota exceeded</html>")
    seen: list[tuple[str, str]] = []
    handler = type("H", (_Handler,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png", seen
    server.shutdown()
    server.server_close()


def test_grid_round_trip_and_known_tile() -> None:
    lon = np.array([13.3776, -149.9, 0.0])
    lat = np.array([49.7475, -35.3, 0.0])
    x, y = lonlat_to_mercator(lon, lat)
    lon2, lat2 = mercator_to_lonlat(x, y)
    assert np.allclose(lon2, lon) and np.allclose(lat2, lat)
    # Plzeň's centre is in OSM tile 15/17601/11148 (rows counted from 85.05° N)
    t = tile_at(13.3776, 49.7475, 15)
    assert (t.x, t.y) == (17601, 11148)
    w, s, e, n = tile_bounds(15, t.x, t.y)
    px, py = lonlat_to_mercator([13.3776], [49.7475])
    assert w <= px[0] < e and s <= py[0] < n
    assert t.tms_y == 2**15 - 1 - 11148
    assert zoom_for_resolution(156543.03392804097) == 0
    assert zoom_for_resolution(2.0) == 17  # 1.19 m/px at z17: at least the detail asked for
    assert len(tiles_in_rect(w + 1, s + 1, e - 1, n - 1, 15)) == 1
    assert count_tiles(BBOX, range(15, 16)) == 3 * 3


def test_sources_and_overrides() -> None:
    osm = get_source("osm", env={})
    assert osm.tile_url(15, 1, 2) == "https://tile.openstreetmap.org/15/1/2.png"
    orto = get_source("cuzk-orto", env={})
    url = orto.tile_url(15, 17601, 11204)
    assert url.startswith("https://geoportal.cuzk.cz/WMTS_ORTOFOTO/WMTService.aspx?")
    assert "LAYER=orto" in url and "TILEMATRIX=15&TILEROW=11204&TILECOL=17601" in url
    assert "TILEMATRIXSET=wgs84:pseudomercator:epsg:3857" in url
    assert "LAYER=zm" in get_source("cuzk-zm", env={}).tile_url(1, 0, 0)
    local = get_source("osm", env={"DKP_BASEMAP_URL_OSM": "http://127.0.0.1:1/{z}/{x}/{y}.png"})
    assert local.tile_url(3, 4, 5) == "http://127.0.0.1:1/3/4/5.png"
    with pytest.raises(BadInputError, match="unknown tile source 'google'"):
        get_source("google")


def test_fetch_caches_and_works_offline(tile_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, seen = tile_server
    src = get_source("osm", env={"DKP_BASEMAP_URL_OSM": url})
    cache = TileCache(tmp_path / "cache", src)
    tile = tile_at(13.365, 49.735, 15)
    before = len(seen)
    data = TileFetcher(src, cache).fetch(tile)
    assert Image.open(io.BytesIO(data)).getpixel((10, 10)) == (150, tile.x % 256, tile.y % 256)
    assert cache.path(tile) == tmp_path / "cache" / "osm" / "15" / str(tile.x) / f"{tile.y}.png"
    assert cache.path(tile).read_bytes() == data
    assert seen[before:] == [(f"/15/{tile.x}/{tile.y}.png", USER_AGENT)]  # honest User-Agent
    # offline: the cache answers, nothing is sent; an uncached tile is refused with the reason
    offline = TileFetcher(src, cache, offline=True)
    assert offline.fetch(tile) == data
    assert len(seen) == before + 1
    other = TileId(15, tile.x + 1, tile.y)
    with pytest.raises(TileFetchError, match="not cached and the map is offline"):
        offline.fetch(other)
    assert offline.get(other) is None
    # a server error and a non-image answer are errors, not cached garbage
    with pytest.raises(TileFetchError, match="404"):
        TileFetcher(src, cache).fetch(TileId(12, 0, 0))
    bad = get_source("osm", env={"DKP_BASEMAP_URL_OSM": url.replace("{z}/{x}/{y}", "bad/{x}")})
    with pytest.raises(TileFetchError, match="did not send an image"):
        TileFetcher(bad, TileCache(tmp_path / "c2", bad)).fetch(TileId(1, 0, 0))
    assert not (tmp_path / "c2").exists()


def test_pack_region_to_mbtiles_and_read_it_back(tile_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, _seen = tile_server
    src = get_source("osm", env={"DKP_BASEMAP_URL_OSM": url})
    out = tmp_path / "bory.mbtiles"
    fetcher = TileFetcher(src, TileCache(tmp_path / "cache", src))
    res = pack_region(fetcher, BBOX, range(14, 16), out)
    expected = count_tiles(BBOX, range(14, 16))
    assert res.tiles == expected and not res.missing
    with MBTiles(out) as pack:
        meta = pack.metadata
        assert meta["format"] == "png" and meta["minzoom"] == "14" and meta["maxzoom"] == "15"
        assert pack.bounds() == pytest.approx(BBOX)
        assert pack.count() == expected
        tile = tile_at(13.365, 49.735, 15)
        assert pack.get(tile) == fetcher.fetch(tile)
        assert pack.get(TileId(15, 0, 0)) is None
    # the TMS row flip, as any MBTiles reader sees it (raw SQL)
    import sqlite3

    with sqlite3.connect(out) as db:
        rows = db.execute(
            "SELECT tile_row FROM tiles WHERE zoom_level=15 AND tile_column=?", (tile.x,)
        ).fetchall()
    assert (2**15 - 1 - tile.y,) in rows
    # a pack serves a fetcher with no cache and no network
    offline = TileFetcher(src, None, [MBTiles(out)], offline=True)
    assert offline.fetch(tile) == fetcher.fetch(tile)
    # too many tiles for the source's policy: refused before anything is fetched
    with pytest.raises(BadInputError, match="more than the limit"):
        pack_region(fetcher, (12.0, 49.0, 14.0, 50.5), range(10, 17), tmp_path / "big.mbtiles")


def test_mbtiles_rejects_what_is_not_one(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="offline pack not found"):
        MBTiles(tmp_path / "none.mbtiles")
    junk = tmp_path / "junk.mbtiles"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(BadInputError, match="not an MBTiles"):
        MBTiles(junk)


def test_a_damaged_or_odd_pack_is_refused_or_reads_as_missing_tiles(tmp_path: Path) -> None:
    """Found from outside: a pack without the MBTiles columns opened and then failed on every
    tile (a 500 per tile in the portal); a NULL tile was a TypeError, a number 5 zero bytes; a
    pack damaged inside raised sqlite3's DatabaseError from get()."""
    import sqlite3

    from dronekit_plzen.errors import CorruptFileError

    def sqlite_file(name: str, sql: str) -> Path:
        path = tmp_path / name
        with sqlite3.connect(path) as con:
            con.executescript(sql)
        return path

    for sql in (
        "CREATE TABLE tiles (a); CREATE TABLE metadata (b);",
        "CREATE TABLE metadata (name, value); CREATE VIEW tiles AS SELECT 1 AS x;",
    ):
        with pytest.raises(BadInputError, match="not an MBTiles file: no such column"):
            MBTiles(sqlite_file("columns.mbtiles", sql))
        (tmp_path / "columns.mbtiles").unlink()
    odd = sqlite_file(
        "odd.mbtiles",
        "CREATE TABLE tiles (zoom_level, tile_column, tile_row, tile_data); "
        "CREATE TABLE metadata (name, value); "
        "INSERT INTO tiles VALUES (1, 0, 1, NULL), (1, 1, 1, 'text'), (1, 0, 0, 5);",
    )
    with MBTiles(odd) as pack:
        assert [pack.get(TileId(1, x, y)) for x, y in ((0, 0), (1, 0), (0, 1))] == [None] * 3
    damaged = tmp_path / "damaged.mbtiles"
    tile = b"\x89PNG\r\n\x1a\n" + bytes(3000)
    with MBTiles(damaged, "w") as pack:
        pack.put_many([(TileId(10, x, y), tile) for x in range(30) for y in range(30)])
    data = bytearray(damaged.read_bytes())
    data[20_000:60_000] = b"\xff" * 40_000
    damaged.write_bytes(bytes(data))
    with MBTiles(damaged) as pack:
        assert pack.get(TileId(10, 5, 5)) is None and pack.get(TileId(10, 29, 29)) is None
        with pytest.raises(CorruptFileError, match="damaged"):
            pack.count()


def test_zoom_and_area_parsing(tmp_path: Path) -> None:
    assert parse_zooms("10-17") == range(10, 18)
    assert parse_zooms("15") == range(15, 16)
    area = tmp_path / "a.geojson"
    area.write_text(
        '{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": '
        "[[[13.36, 49.73], [13.37, 49.73], [13.37, 49.74], [13.36, 49.73]]]}}"
    )
    assert area_bbox(area) == pytest.approx((13.36, 49.73, 13.37, 49.74))
    # a margin in metres on every side: longitude degrees are shorter at Plzeň (it had been
    # 500/111,320 degrees both ways: 323 m east and west)
    from dronekit_plzen.geo import geodesic_distance_m

    w, s, e, n = area_bbox(area, 500.0)
    assert geodesic_distance_m(w, 49.74, 13.36, 49.74) >= 499.0
    assert geodesic_distance_m(13.37, 49.74, e, 49.74) >= 499.0
    assert geodesic_distance_m(13.36, s, 13.36, 49.73) == pytest.approx(500.0, abs=3.0)
    assert geodesic_distance_m(13.36, 49.74, 13.36, n) == pytest.approx(500.0, abs=3.0)
    p = _cli("basemap", "pack", "--bbox", "13.36,49.73,13.37,49.74", "--margin-m", "500",
             "--offline", "-o", str(tmp_path / "x.mbtiles"))  # fmt: skip
    assert p.returncode == 2 and "--margin-m widens --area" in p.stderr, p.stderr


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full,
    )


def test_cli_pack_end_to_end(tile_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, _seen = tile_server
    env = {"DKP_BASEMAP_URL_OSM": url, "DKP_TILE_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "region.mbtiles"
    res = _cli("basemap", "pack", "--source", "osm", "--bbox", ",".join(map(str, BBOX)),
               "--zoom", "14-16", "-o", str(out), env=env)  # fmt: skip
    assert res.returncode == 0, res.stderr
    n = count_tiles(BBOX, range(14, 17))
    assert f"{n} tiles written" in res.stdout
    with MBTiles(out) as pack:
        assert pack.count() == n
    assert (tmp_path / "cache" / "osm" / "16").is_dir()
    listing = _cli("basemap", "sources", env=env)
    assert listing.returncode == 0 and "cuzk-orto" in listing.stdout and url in listing.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--bbox", "1,2", "-o", "x.mbtiles"], 2, "--bbox: the bounding box must be four"),
        (["--bbox", "14,50,13,49", "-o", "x.mbtiles"], 2, "west < east"),
        (["--bbox", "13,49,14,50", "--zoom", "17-10", "-o", "x.mbtiles"], 2, "goes downwards"),
        (["--bbox", "13,49,14,50", "--zoom", "a", "-o", "x.mbtiles"], 2, "--zoom: zoom must"),
        (["--bbox", "13,49,14,50", "--zoom", "3-30", "-o", "x.mbtiles"], 2, "0..22"),
        (["--source", "gmaps", "--bbox", "13,49,14,50", "-o", "x.mbtiles"], 2, "unknown tile"),
        (["-o", "x.mbtiles"], 2, "exactly one of --bbox or --area"),
        (["--area", "missing.geojson", "-o", "x.mbtiles"], 2, "area file not found"),
        (["--bbox", "12,49,14,50.5", "--zoom", "10-17", "-o", "x.mbtiles"], 2, "limit"),
        (
            ["--bbox", "13.36,49.73,13.37,49.74", "--zoom", "15", "--offline", "-o", "x.mbtiles"],
            1,
            "not cached and the map is offline",
        ),
        # found from outside: any existing file at -o was deleted before the pack started
        # (an area GeoJSON became an SQLite file), /proc was exit 1, a negative limit passed
        (["--bbox", "13,49,14,50", "--zoom", "10", "-o", "area.geojson"], 2, "must be .mbtiles"),
        (["--bbox", "13,49,14,50", "--zoom", "10", "-o", "/proc/x.mbtiles"], 2, "cannot write"),
        (["--bbox", "13,49,14,50", "--max-tiles", "-1", "-o", "x.mbtiles"], 2, "x>=1"),
        # second sweep: a JSON area nested 200 000 deep was an internal RecursionError, one
        # starting with "[" quoted the whole file; a point area without a margin was "west <
        # east"; --max-tiles 10**15 let a pack of the world at zoom 0-19 start
        (["--area", "deep.json", "-o", "x.mbtiles"], 2, "nested too deeply"),
        (["--area", "deep-list.json", "-o", "x.mbtiles"], 2, "nested too deeply"),
        (["--area", "area.geojson", "--margin-m", "0", "-o", "x.mbtiles"], 2, "a point or a"),
        (
            [
                "--bbox",
                "-180,-85,180,85",
                "--zoom",
                "0-19",
                "--max-tiles",
                "1000000000000000",
                "--offline",
                "-o",
                "x.mbtiles",
            ],
            2,
            "no pack holds more than 1000000",
        ),
        (["--bbox", "500,49,501,50", "-o", "x.mbtiles"], 2, "west < east"),
        (["--bbox", "nan,49,14,50", "-o", "x.mbtiles"], 2, "non-finite"),
        (["--bbox", "13,49,14,50", "--zoom", "-1", "-o", "x.mbtiles"], 2, "zoom must be"),
        (["--area", "area.geojson", "--margin-m", "nan", "-o", "x.mbtiles"], 2, "margin must"),
        (["--area", "area.geojson", "--margin-m", "1e308", "-o", "x.mbtiles"], 2, "at most 50000"),
        (["--area", "binary.geojson", "-o", "x.mbtiles"], 2, "cannot read the area file"),
        (["--bbox", "13,49,14,50", "--zoom", "10", "-o", "folder.mbtiles"], 2, "a directory"),
    ],
)
def test_cli_bad_inputs(args: list[str], code: int, message: str, tmp_path: Path) -> None:
    area = tmp_path / "area.geojson"
    area.write_text('{"type": "Point", "coordinates": [13.37, 49.74]}')
    (tmp_path / "deep.json").write_text('{"type": "Polygon", "coordinates": ' + "[" * 200_000)
    (tmp_path / "deep-list.json").write_text("[" * 200_000 + "]" * 200_000)
    (tmp_path / "binary.geojson").write_bytes(bytes(range(128, 256)) * 20)
    (tmp_path / "folder.mbtiles").mkdir()
    env = {
        "DKP_TILE_CACHE": str(tmp_path / "empty-cache"),
        "DKP_BASEMAP_URL_OSM": "http://127.0.0.1:9/{z}/{x}/{y}.png",
    }
    res = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", "basemap", "pack", *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**__import__("os").environ, **env},
    )  # fmt: skip
    assert res.returncode == code, res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr  # (no progress bar when stderr is not a terminal)
    assert area.read_text().startswith('{"type": "Point"')  # an existing file is never deleted
    # found from outside: an offline pack of no cached tile left a 20 kB pack of 0 tiles
    assert not (tmp_path / "x.mbtiles").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_a_failed_pack_leaves_the_previous_pack_untouched(tile_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, _seen = tile_server
    env = {"DKP_BASEMAP_URL_OSM": url, "DKP_TILE_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "region.mbtiles"
    bbox = ",".join(map(str, BBOX))
    assert _cli("basemap", "pack", "--bbox", bbox, "--zoom", "14", "-o", str(out),
                env=env).returncode == 0  # fmt: skip
    before = out.read_bytes()
    offline = {"DKP_TILE_CACHE": str(tmp_path / "empty"), "DKP_BASEMAP_URL_OSM": url}
    res = _cli("basemap", "pack", "--bbox", bbox, "--zoom", "15", "--offline", "-o", str(out),
               env=offline)  # fmt: skip
    assert res.returncode == 1 and "not cached" in res.stderr
    assert "the existing pack is kept as it was" in res.stderr
    assert out.read_bytes() == before  # not replaced by a pack with holes (here: all holes)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]
