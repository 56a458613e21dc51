"""Geozones: ED-269 JSON, ED-318 GeoJSON, plain GeoJSON; the illustrative Plzeň sample."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dronekit_plzen.errors import BadInputError
from missions.zones import load_zones, parse_zones, restricting, sample_zones_path


def _utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def test_sample_files_are_marked_illustrative() -> None:
    for kind in ("geojson", "ed269"):
        p = sample_zones_path(kind)
        text = p.read_text(encoding="utf-8")
        assert "ILLUSTRATIVE, NOT OFFICIAL" in text
        zones = load_zones(p)
        assert all("ILLUSTRATIVE" in z.name for z in zones)
        assert {z.identifier for z in zones} >= {
            "CZ-ILL-LKLN-ATZ",
            "CZ-ILL-BORY",
            "CZ-ILL-FNL-HEMS",
            "CZ-ILL-SKODA",
        }


def test_ed269_and_ed318_samples_describe_the_same_zones() -> None:
    a = {z.identifier: z for z in load_zones(sample_zones_path("geojson"))}
    b = {z.identifier: z for z in load_zones(sample_zones_path("ed269"))}
    assert a.keys() == b.keys()
    for k in a:
        za, zb = a[k], b[k]
        assert (za.restriction, za.lower_m, za.lower_ref, za.upper_m, za.upper_ref) == (
            zb.restriction,
            zb.lower_m,
            zb.lower_ref,
            zb.upper_m,
            zb.upper_ref,
        )
        assert za.circle == zb.circle and za.windows == zb.windows
        assert za.geometry.symmetric_difference(zb.geometry).area < 1e-12
    lkln = a["CZ-ILL-LKLN-ATZ"]
    assert lkln.circle == (13.2747, 49.6757, 5500.0) and lkln.restriction == "REQ_AUTHORISATION"
    assert a["CZ-ILL-BORY"].restriction == "PROHIBITED" and a["CZ-ILL-BORY"].upper_m == 150.0


def test_circle_projection_area() -> None:
    z = {z.identifier: z for z in load_zones(sample_zones_path())}["CZ-ILL-LKLN-ATZ"]
    g = z.metric_geometry(32633)
    assert g.area == pytest.approx(math.pi * 5500.0**2, rel=2e-4)


def test_applicability_windows_and_schedules() -> None:
    z = {z.identifier: z for z in load_zones(sample_zones_path())}
    skoda, event = z["CZ-ILL-SKODA"], z["CZ-ILL-EVENT-NAMREP"]
    assert skoda.active(_utc(2026, 11, 23, 10))  # Monday 10:00
    assert not skoda.active(_utc(2026, 11, 22, 10))  # Sunday
    assert not skoda.active(_utc(2026, 11, 23, 23))  # Monday night
    assert skoda.active(_utc(2026, 11, 22, 20), _utc(2026, 11, 23, 7))  # overnight flight
    assert not event.active(_utc(2026, 11, 23, 10))
    assert event.active(_utc(2026, 9, 19, 12))
    assert z["CZ-ILL-BORY"].active(_utc(2000, 1, 1))  # permanent


def test_units_references_and_plain_geojson() -> None:
    ed269 = {
        "features": [
            {
                "identifier": "T1",
                "name": "feet",
                "restriction": "REQ_AUTHORISATION",
                "applicability": [{"permanent": "YES"}],
                "geometry": [
                    {
                        "uomDimensions": "FT",
                        "lowerLimit": 100,
                        "lowerVerticalReference": "AMSL",
                        "upperLimit": 1000,
                        "upperVerticalReference": "AMSL",
                        "horizontalProjection": {
                            "type": "Polygon",
                            "coordinates": [
                                [[13.0, 49.0], [13.1, 49.0], [13.1, 49.1], [13.0, 49.0]]
                            ],
                        },
                    }
                ],
            }
        ]
    }
    (z,) = parse_zones(ed269)
    assert z.lower_m == pytest.approx(30.48) and z.upper_m == pytest.approx(304.8)
    lo, hi = z.limits_amsl(250.0)
    assert (lo, hi) == pytest.approx((30.48, 304.8))
    plain = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "x"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[13.0, 49.0], [13.1, 49.0], [13.1, 49.1], [13.0, 49.0]]],
                },
            }
        ],
    }
    (p,) = parse_zones(plain)
    assert p.restriction == "PROHIBITED" and math.isinf(p.upper_m) and p.lower_m == 0.0
    assert p.limits_amsl(300.0)[0] == 300.0  # AGL lower limit over 300 m ground
    assert [x.identifier for x in restricting([z, p])] == ["T1", "zone-1"]
    assert [x.identifier for x in restricting([z, p], authorised=["T1"])] == ["zone-1"]


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (
            {"features": [{"identifier": "Z9", "restriction": "MAYBE", "geometry": []}]},
            "unknown restriction",
        ),
        ({"features": [{"identifier": "Z8", "restriction": "PROHIBITED"}]}, "Z8"),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"identifier": "Z7", "restriction": "PROHIBITED"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                        },
                    }
                ],
            },
            "Z7",
        ),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_zone_files(tmp_path: Path, doc: object, fragment: str) -> None:
    p = tmp_path / "z.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(BadInputError) as ei:
        load_zones(p)
    assert fragment in str(ei.value) and "z.json" in str(ei.value)
