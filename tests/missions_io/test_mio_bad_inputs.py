"""Every planning reader turns a malformed file into one BadInputError naming the file.

Areas (GeoJSON, KML/KMZ, WKT, coordinate lists), zones (ED-269, ED-318/GeoJSON) and terrain
GeoTIFFs: garbage bytes, wrong JSON shapes, NaN/inf, empty geometries, absurd extents, unknown
or local CRSs, damaged rasters. Nothing else may escape (no UnicodeDecodeError, ValueError,
AttributeError, ProjError, GEOSException), and GDAL's warnings do not reach the log.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from dronekit_plzen.errors import BadInputError
from missions.area import load_area
from missions.formats import load_mission
from missions.terrain import Raster
from missions.zones import load_zones

SQ = [[13.37, 49.74], [13.38, 49.74], [13.38, 49.75], [13.37, 49.75], [13.37, 49.74]]
NAN = float("nan")
JUNK = bytes(range(128, 256)) * 3


def _fc(geometry: object, **extra: object) -> str:
    feature = {"type": "Feature", "properties": {}, "geometry": geometry}
    return json.dumps({"type": "FeatureCollection", "features": [feature], **extra})


def _poly(coords: object) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": coords}


AREAS: list[tuple[str, str | bytes, str]] = [
    ("junk.geojson", JUNK, "not a UTF-8 text file"),
    ("junk.kml", JUNK, "not a UTF-8 text file"),
    ("junk.txt", JUNK, "not a UTF-8 text file"),
    ("empty.geojson", b"", "not valid JSON"),
    ("deep.geojson", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (
        "nan.geojson",
        _fc(_poly([[[13.37, 49.74], [NAN, 49.74], [13.38, 49.75], SQ[0]]])),
        "non-finite coordinate",
    ),
    ("inf.wkt", "POLYGON ((1e400 2, 3 4, 5 6, 1e400 2))", "non-finite coordinate"),
    ("empty_poly.geojson", _fc(_poly([])), "polygon without coordinates"),
    ("ring_not_list.geojson", _fc(_poly([5])), "a polygon ring must be a list"),
    (
        "str_coord.geojson",
        _fc(_poly([[["a", "b"], [1, 2], [3, 4], ["a", "b"]]])),
        "bad coordinate in polygon ring",
    ),
    (
        "huge.geojson",
        _fc(_poly([[[0, 40], [15, 40], [15, 55], [0, 55], [0, 40]]])),
        "the area is too large for a drone mission",
    ),
    (
        "world.geojson",
        _fc(_poly([[[-180, -85], [180, -85], [180, 85], [-180, 85], [-180, -85]]])),
        "the area is too large for a drone mission",
    ),
    (
        "unknown_crs.geojson",
        _fc(_poly([SQ]), crs={"type": "name", "properties": {"name": "EPSG:999999"}}),
        "unknown coordinate reference system 'EPSG:999999'",
    ),
    (
        "bad_crs.geojson",
        _fc(_poly([SQ]), crs={"type": "name", "properties": [1]}),
        "'crs' member does not name a CRS",
    ),
    (
        "features_str.geojson",
        json.dumps({"type": "FeatureCollection", "features": "x"}),
        "needs a 'features' list",
    ),
    (
        "feature_int.geojson",
        json.dumps({"type": "FeatureCollection", "features": [1]}),
        "feature 0 is not a GeoJSON object",
    ),
    (
        "gc.geojson",
        json.dumps({"type": "GeometryCollection", "geometries": 3}),
        "needs a 'geometries' list",
    ),
    (
        "point.geojson",
        json.dumps({"type": "Point", "coordinates": [1, 2]}),
        "is not a polygon area",
    ),
    (
        "nopoly.kml",
        "<kml><Point><coordinates>13,49</coordinates></Point></kml>",
        "no Polygon in the KML",
    ),
    ("entities.kml", '<!DOCTYPE k [<!ENTITY a "aaaa">]><kml>&a;</kml>', "DTD entity"),
    ("junk.kmz", b"PK junk", "not a valid KMZ"),
    ("broken.wkt", "POLYGON ((1 2, 3 4", "unbalanced parentheses"),
    ("coords.txt", "49.74,13.37\n49.74,abc\n", "coordinate 2"),
]


@pytest.mark.parametrize(("name", "data", "needle"), AREAS, ids=[a[0] for a in AREAS])
def test_bad_area_file(tmp_path: Path, name: str, data: str | bytes, needle: str) -> None:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    with pytest.raises(BadInputError) as ei:
        load_area(p)
    assert str(ei.value).startswith(str(p)), str(ei.value)
    assert needle in str(ei.value)


def _ed269(**vol: object) -> str:
    v = {"horizontalProjection": _poly([SQ]), "lowerLimit": 0, "upperLimit": 120, **vol}
    return json.dumps({"features": [{"identifier": "Z1", "geometry": [v]}]})


def _ed318(geometry: object, **props: object) -> str:
    feature = {
        "type": "Feature",
        "properties": {"restriction": "PROHIBITED", **props},
        "geometry": geometry,
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


ZONES: list[tuple[str, str | bytes, str]] = [
    ("junk.json", JUNK, "not a UTF-8 JSON file"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("abc.json", _ed269(upperLimit="abc"), "upperLimit must be a finite number, got 'abc'"),
    ("nan_limit.json", _ed269(lowerLimit=NAN), "lowerLimit must be a finite number"),
    (
        "inverted.json",
        _ed269(lowerLimit=200, upperLimit=100),
        "the lower limit 200 m is above the upper limit 100 m",
    ),
    ("uom.json", _ed269(uomDimensions="parsecs"), "unknown unit"),
    ("hp_str.json", _ed269(horizontalProjection="x"), "horizontalProjection must be a JSON"),
    ("hp_type.json", _ed269(horizontalProjection={"type": "Blob"}), "is not Polygon or Circle"),
    (
        "circle_nan.json",
        _ed269(horizontalProjection={"type": "Circle", "center": [NAN, 49], "radius": 9}),
        "longitude must be a finite number",
    ),
    (
        "circle_r.json",
        _ed269(horizontalProjection={"type": "Circle", "center": [13, 49], "radius": -5}),
        "circle radius -5 m must be above 0",
    ),
    (
        "circle_lat.json",
        _ed269(horizontalProjection={"type": "Circle", "center": [13, 149], "radius": 5}),
        "is not WGS84 lon/lat",
    ),
    (
        "poly_nan.json",
        _ed269(horizontalProjection=_poly([[[13, 49], [NAN, 49], [13, 50], [13, 49]]])),
        "non-finite coordinate",
    ),
    (
        "poly_lat.json",
        _ed269(horizontalProjection=_poly([[[13, 149], [14, 149], [14, 150], [13, 149]]])),
        "are not WGS84 lon/lat",
    ),
    (
        "volume_int.json",
        json.dumps({"features": [{"identifier": "Z", "geometry": [1]}]}),
        "a volume must be a JSON object",
    ),
    ("feature_int.json", json.dumps({"features": [1]}), "a feature must be a JSON object"),
    (
        "schedule.json",
        json.dumps(
            {
                "features": [
                    {
                        "identifier": "Z",
                        "applicability": [{"schedule": [{"day": "FUNDAY"}]}],
                        "geometry": [{"horizontalProjection": _poly([SQ])}],
                    }
                ]
            }
        ),
        "unknown day 'FUNDAY'",
    ),
    ("no_features.json", json.dumps({"type": "FeatureCollection"}), "needs a 'features' list"),
    (
        "props_list.json",
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": [1], "geometry": _poly([SQ])}],
            }
        ),
        "properties must be a JSON object",
    ),
    (
        "layer_abc.json",
        _ed318({**_poly([SQ]), "layer": {"upper": "abc"}}),
        "upperLimit must be a finite number",
    ),
    (
        "gc_empty.json",
        _ed318({"type": "GeometryCollection", "geometries": []}),
        "GeometryCollection without geometries",
    ),
    (
        "circle_inf.json",
        _ed318(
            {
                "type": "Point",
                "coordinates": [13, 49],
                "extent": {"subType": "Circle", "radius": 1e400},
            }
        ),
        "radius must be a finite number",
    ),
    (
        "sjtsk.json",
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "EPSG:5514"}},
                "features": [],
            }
        ),
        "zones must be in WGS84 lon/lat",
    ),
]


@pytest.mark.parametrize(("name", "data", "needle"), ZONES, ids=[z[0] for z in ZONES])
def test_bad_zones_file(tmp_path: Path, name: str, data: str | bytes, needle: str) -> None:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    with pytest.raises(BadInputError) as ei:
        load_zones(p)
    assert str(ei.value).startswith(str(p)), str(ei.value)
    assert needle in str(ei.value)
    assert str(ei.value).count(str(p)) == 1  # named once, not nested in a second message


def _tif(path: Path, crs: str | None, data: np.ndarray | None = None, **kw: object) -> Path:
    a = np.full((20, 20), 300.0, np.float32) if data is None else data
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=a.shape[1],
        height=a.shape[0],
        count=1,
        dtype=a.dtype,
        crs=crs,
        nodata=kw.get("nodata"),
        transform=kw.get("transform") or from_origin(13.36, 49.76, 0.001, 0.001),
    ) as dst:
        dst.write(a, 1)
    return path


def _dems(d: Path) -> list[tuple[Path, str]]:
    ok = _tif(d / "ok.tif", "EPSG:4326").read_bytes()
    corrupt = bytearray(ok)
    corrupt[200:400] = bytes(range(200))
    (d / "corrupt.tif").write_bytes(bytes(corrupt))
    (d / "cut.tif").write_bytes(ok[: len(ok) // 2])
    (d / "junk.tif").write_bytes(JUNK)
    (d / "folder.tif").mkdir()
    local = 'LOCAL_CS["site grid",UNIT["metre",1]]'
    return [
        (
            _tif(d / "local.tif", local, transform=from_origin(0, 99, 1, 1)),
            "CRS 'site grid' cannot be related to WGS84",
        ),
        (_tif(d / "nocrs.tif", None), "terrain raster has no CRS"),
        (
            _tif(d / "nodata.tif", "EPSG:4326", np.full((20, 20), -1.0, np.float32), nodata=-1.0),
            "no elevation data",
        ),
        (d / "corrupt.tif", "damaged GeoTIFF"),
        (d / "cut.tif", "damaged GeoTIFF"),
        (d / "junk.tif", "cannot read the terrain raster"),
        (d / "folder.tif", "the terrain file is a directory"),
    ]


@pytest.mark.parametrize("bbox", [None, (13.365, 49.745, 13.37, 49.75)], ids=["whole", "window"])
def test_bad_terrain_raster(
    tmp_path: Path,
    bbox: tuple[float, float, float, float] | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dems = _dems(tmp_path)
    # rasterio's one-time set-up (PROJ data search, first environment) logs at DEBUG in the
    # first test of a worker process that relates two CRSs: done here, not under the capture
    Raster.open(tmp_path / "ok.tif", bbox_lonlat=bbox)
    for path, needle in dems:
        caplog.clear()
        with caplog.at_level(logging.DEBUG), pytest.raises(BadInputError) as ei:
            Raster.open(path, bbox_lonlat=bbox)
        assert str(ei.value).startswith(str(path)), str(ei.value)
        assert needle in str(ei.value), (path.name, str(ei.value))
        assert not [r for r in caplog.records if r.name.startswith("rasterio")], path.name


def test_nan_waypoint_and_directory_missions(tmp_path: Path) -> None:
    wp = tmp_path / "nan.waypoints"
    wp.write_text(
        "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t49.74\t13.37\t300\t1\n"
        "1\t0\t3\t16\t0\t0\t0\t0\tnan\t13.37\t30\t1\n"
    )
    with pytest.raises(BadInputError, match=r"the position \(nan, 13\.37\) is not a latitude"):
        load_mission(wp)
    plan = tmp_path / "nan.plan"
    plan.write_text('{"fileType": "Plan", "version": 1, "mission": {"items": [NaN]}}')
    with pytest.raises(BadInputError, match="NaN is not valid JSON"):
        load_mission(plan)
    with pytest.raises(BadInputError, match="a directory, not a mission file"):
        load_mission(tmp_path)
