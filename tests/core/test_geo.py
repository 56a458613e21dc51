"""Geodesy: known points against pyproj's explicit pipelines, round trips, parsing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from pyproj.transformer import TransformerGroup

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError, UnknownCRSError

# Plzeň: náměstí Republiky, the Líně airport (LKLN), Bolevecký rybník, Černice
POINTS = np.array(
    [
        (13.3776, 49.7475),
        (13.2745, 49.6763),
        (13.3990, 49.7790),
        (13.4420, 49.7170),
    ]
)


def test_utm_zone_for_plzen_and_edge_cases() -> None:
    assert geo.utm_epsg_for(13.3776, 49.7475) == 32633
    assert geo.utm_epsg_for(-70.0, -33.0) == 32719
    assert geo.utm_epsg_for(5.0, 60.0) == 32632  # Norway exception
    assert geo.utm_epsg_for(15.0, 78.0) == 32633  # Svalbard
    with pytest.raises(BadInputError):
        geo.utm_epsg_for(13.0, 85.0)


def test_utm_matches_explicit_proj_pipeline_to_the_centimetre() -> None:
    pipe = Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        "+step +proj=utm +zone=33 +ellps=WGS84"
    )
    e_ref, n_ref = pipe.transform(POINTS[:, 0], POINTS[:, 1])
    e, n = geo.lonlat_to_utm(POINTS[:, 0], POINTS[:, 1])
    assert np.max(np.abs(e - e_ref)) < 0.01
    assert np.max(np.abs(n - n_ref)) < 0.01
    # pinned value for the city centre (metres)
    assert e[0] == pytest.approx(383122.069, abs=0.01)
    assert n[0] == pytest.approx(5511820.296, abs=0.01)


def test_sjtsk_matches_czech_epsg_operation_to_the_centimetre() -> None:
    group = TransformerGroup(4326, 5514, always_xy=True)
    czech = [t for t in group.transformers if "S-JTSK to WGS 84 (5)" in t.description]
    assert czech, "EPSG operation 'S-JTSK to WGS 84 (5)' must be available offline"
    e_ref, n_ref = czech[0].transform(POINTS[:, 0], POINTS[:, 1])
    e, n = geo.lonlat_to_sjtsk(POINTS[:, 0], POINTS[:, 1])
    assert np.max(np.abs(e - e_ref)) < 0.01
    assert np.max(np.abs(n - n_ref)) < 0.01
    # Krovak East North is negative in Czechia; the centre of Plzeň is about (-822399, -1069697)
    assert e[0] == pytest.approx(-822398.63, abs=0.01)
    assert n[0] == pytest.approx(-1069697.40, abs=0.01)


def test_round_trips_on_arrays() -> None:
    rng = np.random.default_rng(7)
    lon = 13.2 + rng.random(1000) * 0.4
    lat = 49.6 + rng.random(1000) * 0.3
    e, n = geo.lonlat_to_utm(lon, lat)
    lo2, la2 = geo.utm_to_lonlat(e, n)
    assert np.max(np.abs(lo2 - lon)) < 1e-9 and np.max(np.abs(la2 - lat)) < 1e-9
    x, y = geo.lonlat_to_sjtsk(lon, lat)
    lo3, la3 = geo.sjtsk_to_lonlat(x, y)
    # 2D Helmert round trip: below a centimetre (1e-7 degrees is about 1.1 cm)
    assert np.max(np.abs(lo3 - lon)) < 1e-7 and np.max(np.abs(la3 - lat)) < 1e-7
    frame = geo.LocalFrame(49.7475, 13.3776, 350.0)
    ee, nn, uu = frame.to_enu(lon, lat, 400.0)
    lo4, la4, h4 = frame.from_enu(ee, nn, uu)
    assert np.max(np.abs(la4 - lat)) < 1e-9
    assert np.max(np.abs(lo4 - lon)) < 1e-9 and np.max(np.abs(h4 - 400.0)) < 1e-6


def test_enu_against_geodesic() -> None:
    frame = geo.LocalFrame(49.7475, 13.3776, 0.0)
    lon, lat = geo.destination(13.3776, 49.7475, 90.0, 1000.0)
    e, n, u = frame.to_enu(lon, lat, 0.0)
    assert float(e) == pytest.approx(1000.0, abs=0.05)
    assert abs(float(n)) < 0.1  # geodesic heading east bends south of the tangent plane's east
    assert float(u) == pytest.approx(-(1000.0**2) / (2 * 6_378_000), abs=0.02)  # Earth curvature


def test_distance_and_bearing() -> None:
    d, b = geo.distance_bearing(13.3776, 49.7475, 13.3776, 49.7575)
    assert float(d) == pytest.approx(1112.243, abs=0.01)
    assert float(b) == pytest.approx(0.0, abs=1e-9)
    d2, b2 = geo.distance_bearing(13.3776, 49.7475, 13.2745, 49.6763)
    assert 10_000 < float(d2) < 11_000  # LKLN is about 10 km south-west
    assert 220 < float(b2) < 230
    assert geo.path_length_m([13.0, 13.0, 13.0], [49.0, 49.01, 49.02]) == pytest.approx(
        2 * 1111.95, rel=2e-3
    )


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=-179.0, max_value=179.0),
    st.floats(min_value=-79.0, max_value=83.0),
)
def test_utm_round_trip_anywhere(lon: float, lat: float) -> None:
    epsg = geo.utm_epsg_for(lon, lat)
    e, n = geo.lonlat_to_utm(lon, lat, epsg)
    lo, la = geo.utm_to_lonlat(e, n, epsg)
    assert abs(float(lo) - lon) < 1e-7 and abs(float(la) - lat) < 1e-7


@pytest.mark.parametrize(
    ("text", "lon", "lat"),
    [
        ("49.7475, 13.3776", 13.3776, 49.7475),
        ("49.7475 13.3776", 13.3776, 49.7475),
        ("49,7475; 13,3776", 13.3776, 49.7475),
        ("49°44'51\"N 13°22'39.4\"E", 13.3776111, 49.7475),
        ("13°22'39.4\"E 49°44'51\"N", 13.3776111, 49.7475),
        ("N 49 44 51 E 13 22 39", 13.3775, 49.7475),
        ("49°44′51″S, 13°22′39.4″W", -13.3776111, -49.7475),
    ],
)
def test_parse_degrees_and_dms(text: str, lon: float, lat: float) -> None:
    got = geo.parse_coordinate(text)
    assert got[0] == pytest.approx(lon, abs=1e-6)
    assert got[1] == pytest.approx(lat, abs=1e-6)


def test_parse_sjtsk_both_conventions() -> None:
    lon, lat = geo.parse_coordinate("-822398.63, -1069697.40")
    assert (lon, lat) == pytest.approx((13.3776, 49.7475), abs=1e-6)
    lon2, lat2 = geo.parse_coordinate("822398.63 1069697.40")  # Czech Y X, positive
    assert (lon2, lat2) == pytest.approx((13.3776, 49.7475), abs=1e-6)
    lon3, lat3 = geo.parse_coordinate("EPSG:5514:-822398.63,-1069697.40")
    assert (lon3, lat3) == pytest.approx((13.3776, 49.7475), abs=1e-6)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("91.0, 13.0", "latitude 91.0 out of range"),
        ("49.7, 200", "longitude 200.0 out of range"),
        ("abc, 13.0", "cannot read the first coordinate 'abc'"),
        ("49°75'00\"N 13°00'00\"E", "below 60"),
        ("13.5", "cannot split"),
        ("91,0", "which comma in '91,0' is a decimal comma"),
        # was read as 50, 13.5 (or is it 50.13, 5?)
        ("50,13,5", "which comma in '50,13,5' is a decimal comma"),
        ("49,7475,13,3776", "which comma in '49,7475,13,3776' is a decimal comma"),
        ("100000 200000", "outside the Czech and Slovak area"),
    ],
)
def test_parse_errors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(BadInputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        geo.parse_coordinate(text)


def test_unknown_crs_is_reported() -> None:
    with pytest.raises(UnknownCRSError, match="EPSG:999999"):
        geo.transform([0.0], [0.0], "EPSG:999999", 4326)


def test_format_dms() -> None:
    assert geo.format_dms(49.7475, 13.3776) == "49°44'51.0\"N 13°22'39.4\"E"
    assert geo.format_dms(-0.5, -0.5) == "0°30'00.0\"S 0°30'00.0\"W"
