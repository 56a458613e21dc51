"""Whole-path validation: zones between legal waypoints, 120 m over a valley, endurance, ..."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from dronekit_plzen.errors import BadInputError, SafetyViolation
from dronekit_plzen.geo import transform
from dronekit_plzen.mission_items import MissionItem
from missions.formats import load_mission, save_mission
from missions.model import AUTOPILOT_ARDUPILOT, FenceCircle, FencePolygon, Mission
from missions.terrain import Raster
from missions.validation import guard, trajectory, validate
from missions.zones import load_zones, parse_zones, sample_zones_path

from .conftest import ORIGIN_LONLAT, offset, wp

MONDAY = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
BORY = (13.3640, 49.7305)


def _line_mission(
    a: tuple[float, float],
    b: tuple[float, float],
    alt: float,
    home_alt: float = 330.0,
    rtl: bool = True,
) -> Mission:
    items = [MissionItem(22, 3, alt_m=alt), wp(a, alt), wp(b, alt)]
    if rtl:
        items.append(MissionItem(20, 2))
    return Mission(items=items, home=(a[0], a[1], home_alt))


def test_leg_crossing_a_prohibited_zone_between_legal_waypoints_is_caught() -> None:
    zones = load_zones(sample_zones_path())
    bory = {z.identifier: z for z in zones}["CZ-ILL-BORY"]
    a, b = offset(BORY, -900, 0), offset(BORY, 900, 0)
    assert not bory.geometry.contains(Point(a)) and not bory.geometry.contains(Point(b))
    m = Mission(
        items=[MissionItem(22, 3, alt_m=50.0), wp(a, 50.0), wp(b, 50.0), MissionItem(21, 3)],
        home=(a[0], a[1], 330.0),
    )
    r = validate(m, zones=zones, when=MONDAY)
    assert not r.ok
    hits = [v for v in r.violations if v.rule == "zone_prohibited"]
    assert len(hits) == 1 and "CZ-ILL-BORY" in hits[0].message
    assert hits[0].item_index == 2  # the leg flown towards item 2
    assert bory.geometry.buffer(1e-4).contains(Point(hits[0].lon, hits[0].lat))
    # the same waypoints alone (a mission that only visits them) are legal: the leg is the issue
    only_wps = validate(_line_mission(a, a, 50.0), zones=zones, when=MONDAY)
    assert only_wps.ok, only_wps.violations


def test_zone_vertical_limits_and_time_windows() -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"identifier": "LOW", "restriction": "PROHIBITED"},
                "geometry": {
                    "type": "Point",
                    "coordinates": list(ORIGIN_LONLAT),
                    "extent": {"subType": "Circle", "radius": 200},
                    "layer": {
                        "lower": 0,
                        "lowerReference": "AGL",
                        "upper": 40,
                        "upperReference": "AGL",
                        "uom": "m",
                    },
                },
            },
            {
                "type": "Feature",
                "properties": {
                    "identifier": "EVT",
                    "restriction": "PROHIBITED",
                    "limitedApplicability": [
                        {
                            "startDateTime": "2026-09-18T14:00:00Z",
                            "endDateTime": "2026-09-20T22:00:00Z",
                        }
                    ],
                },
                "geometry": {
                    "type": "Point",
                    "coordinates": list(offset(ORIGIN_LONLAT, 600, 0)),
                    "extent": {"subType": "Circle", "radius": 100},
                },
            },
        ],
    }
    zones = parse_zones(doc)
    a, b = offset(ORIGIN_LONLAT, -500, 0), offset(ORIGIN_LONLAT, 900, 0)
    assert validate(
        _line_mission(a, b, 60.0), zones=zones, when=MONDAY
    ).ok  # above LOW, EVT inactive
    r = validate(_line_mission(a, b, 30.0), zones=zones, when=MONDAY)
    assert [v.message.split()[3] for v in r.violations] == ["LOW", "LOW"]  # out and back
    r = validate(
        _line_mission(a, b, 60.0), zones=zones, when=datetime(2026, 9, 19, 12, tzinfo=timezone.utc)
    )
    assert {v.message.split()[3] for v in r.violations} == {"EVT"}
    # a flight that starts before the window but is still airborne in it is caught
    late = datetime(2026, 9, 18, 13, 58, tzinfo=timezone.utc)
    assert not validate(_line_mission(a, b, 60.0), zones=zones, when=late).ok


def test_authorisation_zone_and_conditional_warning() -> None:
    zones = load_zones(sample_zones_path("ed269"))
    hems = (13.3800, 49.7661)
    m = _line_mission(offset(hems, -1500, 0), offset(hems, 1500, 0), 50.0)
    r = validate(m, zones=zones, when=MONDAY)
    assert [v.rule for v in r.violations] == ["zone_authorisation", "zone_authorisation"]
    assert validate(m, zones=zones, when=MONDAY, authorised_zones=["CZ-ILL-FNL-HEMS"]).ok
    skoda = (13.362, 49.739)
    w = validate(
        _line_mission(offset(skoda, -1500, 0), offset(skoda, 1500, 0), 50.0),
        zones=zones,
        when=MONDAY,
    )
    assert w.ok and {v.rule for v in w.warnings} == {"zone_conditional"}


def test_more_than_120_m_over_a_valley_from_a_dem(make_dem) -> None:
    # plateau at 450 m with a 600 m wide, 200 m deep valley running north-south
    def valley(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        return 450.0 - 200.0 * np.clip(1.0 - np.abs(dx) / 300.0, 0.0, 1.0) ** 0.5 + 0 * dy

    dem = Raster.open(make_dem(valley))
    a, b = offset(ORIGIN_LONLAT, -1500, 0), offset(ORIGIN_LONLAT, 1500, 0)
    m = _line_mission(a, b, 100.0, home_alt=450.0)
    assert validate(m).ok  # without the DEM nothing is wrong: both waypoints are 100 m up
    r = validate(m, dem=dem)
    high = [v for v in r.violations if v.rule == "max_agl"]
    assert len(high) == 2  # out and back over the valley
    for v in high:
        x, _y = transform([v.lon], [v.lat], 4326, 32633)
        cx, _ = transform([ORIGIN_LONLAT[0]], [ORIGIN_LONLAT[1]], 4326, 32633)
        assert abs(x[0] - cx[0]) < 60.0  # worst point over the valley floor
        # distance to the closest terrain (the valley side), brute force over the profile
        r_m = np.linspace(-300.0, 300.0, 60001)
        expected = np.hypot(r_m, 550.0 - valley(r_m, 0 * r_m)).min()
        assert 275.0 < expected < 290.0
        assert v.value == pytest.approx(expected, abs=1.5) and v.limit == 120.0
    assert r.max_agl_m == pytest.approx(300.0, abs=3.0)  # vertically above the floor
    # flying along the plateau only is fine
    assert validate(_line_mission(a, offset(ORIGIN_LONLAT, -400, 0), 100.0, 450.0), dem=dem).ok


def test_120_m_without_dem_against_home() -> None:
    a, b = ORIGIN_LONLAT, offset(ORIGIN_LONLAT, 300, 0)
    assert validate(_line_mission(a, b, 119.0)).ok
    r = validate(_line_mission(a, b, 130.0))
    assert {v.rule for v in r.violations} == {"max_agl"}
    assert any("no DEM" in n for n in r.notes)


def test_endurance_with_reserve() -> None:
    a = ORIGIN_LONLAT
    m = _line_mission(a, offset(a, 4000, 0), 50.0)
    m.cruise_speed_m_s = 10.0
    tr = trajectory(m)
    # 8 km at 10 m/s with a stop at each waypoint, plus a 50 m climb and descent
    assert 800.0 < tr.duration_s < 900.0
    assert validate(m, endurance_s=1300.0, reserve_fraction=0.25).ok
    r = validate(m, endurance_s=1000.0, reserve_fraction=0.25)
    (v,) = r.violations
    assert (
        v.rule == "endurance"
        and v.limit == 750.0
        and v.value == pytest.approx(tr.duration_s, abs=0.1)
    )


def test_max_distance_from_home_vlos() -> None:
    a = ORIGIN_LONLAT
    r = validate(_line_mission(a, offset(a, 800, 0), 50.0), max_distance_m=500.0)
    (v,) = r.violations
    assert v.rule == "max_distance" and v.value == pytest.approx(800.0, abs=2.0)


def test_geofence_leg_leaving_a_concave_inclusion_fence() -> None:
    o = ORIGIN_LONLAT
    ring = [
        offset(o, e, n)
        for e, n in [
            (-1000, -1000),
            (1000, -1000),
            (1000, 1000),
            (200, 1000),
            (0, -200),
            (-200, 1000),
            (-1000, 1000),
        ]
    ]
    a, b = offset(o, -600, 800), offset(o, 600, 800)
    m = _line_mission(a, b, 50.0)
    m.fence_polygons = [FencePolygon(tuple(ring))]
    r = validate(m)
    assert [v.rule for v in r.violations] == [
        "geofence",
        "geofence",
    ]  # out and back through the notch
    m.fence_polygons = [FencePolygon(tuple(ring[:3] + ring[-1:]))]
    m.fence_circles = [FenceCircle(offset(o, 0, 800), 50.0, inclusion=False)]
    assert [v.message for v in validate(m).violations] == ["inside an exclusion geofence"] * 2
    # ArduPilot needs every inclusion fence, PX4 any of them
    m.fence_circles = [FenceCircle(a, 300.0)]
    assert validate(m).ok
    m.autopilot = AUTOPILOT_ARDUPILOT
    assert not validate(m).ok


def test_dsm_clearance(make_dem) -> None:
    def dsm(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        return 330.0 + np.where((np.abs(dx) < 50) & (np.abs(dy) < 50), 42.0, 0.0)

    surf = Raster.open(make_dem(dsm, res_m=5.0, half_m=1500.0))
    a, b = offset(ORIGIN_LONLAT, -500, 0), offset(ORIGIN_LONLAT, 500, 0)
    r = validate(_line_mission(a, b, 50.0, 330.0), dsm=surf)
    assert {v.rule for v in r.violations} == {"dsm_clearance"}
    assert min(v.value for v in r.violations) == pytest.approx(8.0, abs=0.5)
    assert validate(_line_mission(a, b, 60.0, 330.0), dsm=surf).ok


def test_guard_refuses_then_records_the_override(tmp_path: Path) -> None:
    zones = load_zones(sample_zones_path())
    m = _line_mission(offset(BORY, -900, 0), offset(BORY, 900, 0), 50.0)
    r = validate(m, zones=zones, when=MONDAY)
    with pytest.raises(SafetyViolation) as ei:
        guard(m, r)
    assert ei.value.exit_code == 3 and ei.value.violations == r.violations
    with pytest.raises(BadInputError, match="--reason"):
        guard(m, r, override=True, reason=" ")
    g = guard(
        m,
        r,
        override=True,
        reason="police request, prison director consented",
        who="pilot7",
        now=datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc),
    )
    ov = g.metadata["safety_override"]
    assert ov["by"] == "pilot7" and ov["at"] == "2026-11-23T09:00:00+00:00"
    assert ov["rules"] == ["zone_prohibited"] and "CZ-ILL-BORY" in ov["violations"][0]
    for name, fmt in (
        ("o.plan", None),
        ("o.geojson", None),
        ("o.kml", None),
        ("o_dji.kmz", "wpml"),
        ("o.waypoints", None),
        ("o.csv", None),
    ):
        back = load_mission(save_mission(g, tmp_path / name, format=fmt))
        assert back.metadata["safety_override"]["reason"] == ov["reason"], name
    assert (
        json.loads((tmp_path / "o.plan").read_text())["dronekitPlzen"]["metadata"][
            "safety_override"
        ]["by"]
        == "pilot7"
    )
    with zipfile.ZipFile(tmp_path / "o_dji.kmz") as z:
        assert "pilot7" in z.read("wpmz/res/dronekit_plzen.json").decode()


def test_real_sample_mission_reports_unresolved_altitude(shared_data: Path) -> None:
    m = load_mission(shared_data / "missions/qgc_ArduPilotSITL-ArduCopter.plan")
    r = validate(m)
    rules = [v.rule for v in r.violations]
    assert "altitude_unresolved" in rules and "max_agl" in rules  # item 3 is 150 m above home
    high = next(v for v in r.violations if v.rule == "max_agl")
    assert high.value == pytest.approx(150.0) and high.item_index == 3


@settings(max_examples=30, deadline=None)
@given(
    e=st.floats(-800, 800),
    n=st.floats(-800, 800),
    r=st.floats(20, 300),
    bearing=st.floats(0, 360),
    length=st.floats(100, 2000),
)
def test_property_a_leg_is_caught_iff_it_crosses_the_zone(
    e: float, n: float, r: float, bearing: float, length: float
) -> None:
    """Two waypoints outside a circular prohibited zone: the leg between them is flagged exactly
    when it passes through the circle (sampling every 5 m; a 3 m band around the edge is not
    judged)."""
    import math

    from shapely.geometry import LineString
    from shapely.geometry import Point as P

    o = ORIGIN_LONLAT
    b = math.radians(bearing)
    a_xy = (-length / 2 * math.sin(b), -length / 2 * math.cos(b))
    b_xy = (length / 2 * math.sin(b), length / 2 * math.cos(b))
    centre = P(e, n)
    assume(centre.distance(P(a_xy)) > r + 10 and centre.distance(P(b_xy)) > r + 10)
    d = LineString([a_xy, b_xy]).distance(centre)
    assume(abs(d - r) > 3.0)
    c = offset(o, e, n)
    zones = parse_zones(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"identifier": "C", "restriction": "PROHIBITED"},
                    "geometry": {
                        "type": "Point",
                        "coordinates": list(c),
                        "extent": {"subType": "Circle", "radius": r},
                    },
                }
            ],
        }
    )
    a, bb = offset(o, *a_xy), offset(o, *b_xy)
    m = Mission(items=[wp(a, 50.0), wp(bb, 50.0)], home=(a[0], a[1], 300.0))
    rep = validate(m, zones=zones, when=MONDAY)
    hit = any(v.rule == "zone_prohibited" for v in rep.violations)
    assert hit == (d < r)
