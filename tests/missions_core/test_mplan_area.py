"""Search-area input: formats, CRS, validation with locations, repair."""

from __future__ import annotations

import json
import zipfile

import pytest

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError, UnknownCRSError
from missions.area import InvalidAreaError, load_area, parse_area

SQUARE = [[13.37, 49.74], [13.38, 49.74], [13.38, 49.75], [13.37, 49.75], [13.37, 49.74]]
HOLE = [[13.374, 49.744], [13.376, 49.744], [13.376, 49.746], [13.374, 49.746], [13.374, 49.744]]


def test_mplan_geojson_polygon_with_hole_and_feature_collection():
    poly = {"type": "Polygon", "coordinates": [SQUARE, HOLE]}
    a = parse_area(poly)
    assert a.crs_epsg == 4326
    assert len(a.geom_lonlat.interiors) == 1
    fc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": poly, "properties": {}}],
    }
    b = parse_area(json.dumps(fc))
    assert b.area_m2 == pytest.approx(a.area_m2)
    # outer 0.01° x 0.01° at 49.745° N minus 0.002° x 0.002° hole
    w = geo.geodesic_distance_m(13.37, 49.745, 13.38, 49.745)
    h = geo.geodesic_distance_m(13.37, 49.74, 13.37, 49.75)
    assert a.area_m2 == pytest.approx(w * h * (1 - 0.04), rel=2e-3)


def test_mplan_multipolygon_and_wkt_and_coordinate_list():
    mp = {
        "type": "MultiPolygon",
        "coordinates": [
            [SQUARE],
            [[[13.39, 49.74], [13.40, 49.74], [13.40, 49.75], [13.39, 49.74]]],
        ],
    }
    a = parse_area(mp)
    assert a.geom_lonlat.geom_type == "MultiPolygon"
    w = parse_area("POLYGON((13.37 49.74, 13.38 49.74, 13.38 49.75, 13.37 49.75, 13.37 49.74))")
    c = parse_area("49.74, 13.37; 49.74, 13.38; 49.75, 13.38; 49.75, 13.37")
    assert w.area_m2 == pytest.approx(c.area_m2, rel=1e-9)


def test_mplan_sjtsk_detected_and_explicit(tmp_path):
    x, y = geo.lonlat_to_sjtsk([13.37, 13.38, 13.38, 13.37], [49.74, 49.74, 49.75, 49.75])
    ring = ", ".join(f"{a:.3f} {b:.3f}" for a, b in zip([*x, x[0]], [*y, y[0]]))
    a = parse_area(f"POLYGON(({ring}))")
    assert a.crs_epsg == 5514
    ref = parse_area("POLYGON((13.37 49.74, 13.38 49.74, 13.38 49.75, 13.37 49.75, 13.37 49.74))")
    assert a.area_m2 == pytest.approx(ref.area_m2, rel=1e-4)
    e = parse_area(f"SRID=5514;POLYGON(({ring}))")
    assert e.geom_lonlat.equals_exact(a.geom_lonlat, 1e-9)
    # GeoJSON legacy crs member
    gj = {
        "type": "Polygon",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::5514"}},
        "coordinates": [[[float(p), float(q)] for p, q in zip([*x, x[0]], [*y, y[0]])]],
    }
    p = tmp_path / "a.geojson"
    p.write_text(json.dumps(gj))
    assert load_area(p).crs_epsg == 5514


def test_mplan_utm_needs_crs():
    wkt = "POLYGON((383000 5511000, 384000 5511000, 384000 5512000, 383000 5511000))"
    with pytest.raises(UnknownCRSError, match="no CRS was given"):
        parse_area(wkt)
    a = parse_area(wkt, crs="EPSG:32633")
    assert a.area_m2 == pytest.approx(500_000.0, rel=1e-6)


def test_mplan_kml_and_kmz(tmp_path):
    kml = f"""<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>
    <Placemark><Polygon><outerBoundaryIs><LinearRing><coordinates>
    {" ".join(f"{a},{b},0" for a, b in SQUARE)}</coordinates></LinearRing></outerBoundaryIs>
    <innerBoundaryIs><LinearRing><coordinates>{" ".join(f"{a},{b}" for a, b in HOLE)}
    </coordinates></LinearRing></innerBoundaryIs></Polygon></Placemark></Document></kml>"""
    (tmp_path / "a.kml").write_text(kml)
    with zipfile.ZipFile(tmp_path / "a.kmz", "w") as z:
        z.writestr("doc.kml", kml)
    a = load_area(tmp_path / "a.kml")
    b = load_area(tmp_path / "a.kmz")
    assert len(a.geom_lonlat.interiors) == 1
    assert a.area_m2 == pytest.approx(b.area_m2)
    (tmp_path / "bad.kmz").write_bytes(b"not a zip")
    with pytest.raises(BadInputError, match="KMZ"):
        load_area(tmp_path / "bad.kmz")


def test_mplan_self_intersection_names_crossing_point():
    bowtie = "POLYGON((13.0 49.0, 13.1 49.1, 13.1 49.0, 13.0 49.1, 13.0 49.0))"
    with pytest.raises(InvalidAreaError) as ei:
        parse_area(bowtie)
    (p,) = ei.value.problems
    assert p.kind == "self-intersection"
    assert p.lon == pytest.approx(13.05) and p.lat == pytest.approx(49.05)
    assert "13.05" in str(ei.value)
    fixed = parse_area(bowtie, repair=True)
    assert fixed.geom_lonlat.geom_type == "MultiPolygon"
    assert len(fixed.geom_lonlat.geoms) == 2
    assert any("Self-intersection" in r and "2 polygon" in r for r in fixed.repairs)


@pytest.mark.parametrize(
    ("coords", "kind", "vertex"),
    [
        ([[13.37, 49.74], [13.38, 49.74], [13.38, 49.75]], "unclosed-ring", 2),
        ([[13.37, 49.74], [13.38, 49.74], [13.37, 49.74]], "too-few-points", None),
        ([[13.37, 49.74], [13.38, 49.74], [13.39, 49.74], [13.37, 49.74]], "zero-area", None),
        (
            [
                [13.37, 49.74],
                [13.38, 49.74],
                [13.38, 49.75],
                [13.39, 49.76],
                [13.38, 49.75],
                [13.37, 49.75],
                [13.37, 49.74],
            ],
            "spike",
            3,
        ),
    ],
)
def test_mplan_invalid_rings_are_named(coords, kind, vertex):
    with pytest.raises(InvalidAreaError) as ei:
        parse_area({"type": "Polygon", "coordinates": [coords]})
    kinds = [p.kind for p in ei.value.problems]
    assert kind in kinds
    p = ei.value.problems[kinds.index(kind)]
    assert p.vertex == vertex
    assert p.lon is not None and 13.3 < p.lon < 13.4


def test_mplan_repair_closes_ring_and_removes_spike():
    a = parse_area({"type": "Polygon", "coordinates": [SQUARE[:-1]]}, repair=True)
    assert a.repairs == ("closed the exterior ring",)
    spiky = [
        [13.37, 49.74],
        [13.38, 49.74],
        [13.38, 49.75],
        [13.39, 49.76],
        [13.38, 49.75],
        [13.37, 49.75],
        [13.37, 49.74],
    ]
    b = parse_area({"type": "Polygon", "coordinates": [spiky]}, repair=True)
    assert any("spike" in r for r in b.repairs)
    ref = parse_area({"type": "Polygon", "coordinates": [SQUARE]})
    assert b.area_m2 == pytest.approx(ref.area_m2, rel=1e-9)
    with pytest.raises(InvalidAreaError):
        parse_area(
            {"type": "Polygon", "coordinates": [[[13.37, 49.74], [13.38, 49.74], [13.37, 49.74]]]},
            repair=True,
        )


def test_mplan_bad_inputs():
    with pytest.raises(BadInputError, match="not valid JSON"):
        parse_area("{nope", fmt="geojson")
    with pytest.raises(BadInputError, match="LineString"):
        parse_area({"type": "LineString", "coordinates": [[0, 0], [1, 1]]})
    with pytest.raises(BadInputError, match="coordinate 2"):
        parse_area("49.74, 13.37; banana; 49.75, 13.38")
    with pytest.raises(BadInputError, match="cannot read"):
        load_area("/nonexistent/area.geojson")
