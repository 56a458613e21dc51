"""IAMSAR patterns, corridor and perimeter: leg lengths and geometry with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, box

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError
from missions.area import area_from_metric
from missions.metrics import seg_lengths, turn_angles_deg
from missions.patterns.sar import (
    corridor_path,
    creeping_line_path,
    expanding_square_legs,
    expanding_square_path,
    perimeter_path,
    sector_path,
)
from missions.planner import plan_expanding_square, plan_sector


def test_mplan_expanding_square_legs():
    assert expanding_square_legs(100.0, legs=7) == [100, 100, 200, 200, 300, 300, 400]
    p = expanding_square_path((0.0, 0.0), 32633, 100.0, legs=6, first_bearing_deg=0.0)
    assert np.allclose(
        p.xy,
        [[0, 0], [0, 100], [100, 100], [100, -100], [-100, -100], [-100, 200], [200, 200]],
        atol=1e-9,
    )
    assert np.allclose(turn_angles_deg(p.xy), 90.0)
    # to a radius: every side of the square at k*S >= R - S/2, the last leg cut at the corner
    r = expanding_square_path((0.0, 0.0), 32633, 100.0, radius_m=200.0)
    assert np.allclose(seg_lengths(r.xy), [100, 100, 200, 200, 300, 300, 400, 400, 400])
    assert np.allclose(r.xy.min(axis=0), [-200, -200]) and np.allclose(r.xy.max(axis=0), 200)
    with pytest.raises(BadInputError):
        expanding_square_legs(100.0)


def test_mplan_expanding_square_mission_in_lonlat():
    res = plan_expanding_square(
        (13.3776, 49.7475), spacing_m=50.0, legs=8, alt_m=40.0, first_bearing_deg=90.0
    )
    wps = res.mission.waypoints_lonlat_alt()[1:]  # after the takeoff
    lon = np.array([w[0] for w in wps])
    lat = np.array([w[1] for w in wps])
    d = geo.geodesic_distance_m(lon[:-1], lat[:-1], lon[1:], lat[1:])
    assert np.allclose(d, [50, 50, 100, 100, 150, 150, 200, 200], atol=0.2)
    assert res.mission.items[-1].command == 20  # RTL


def test_mplan_sector_search():
    p = sector_path((0.0, 0.0), 32633, 500.0, first_bearing_deg=0.0)
    assert len(p.xy) == 10
    assert np.allclose(seg_lengths(p.xy), 500.0)
    assert np.allclose(p.xy[[0, 3, 6, 9]], 0.0, atol=1e-9)  # back through the datum
    ang = turn_angles_deg(p.xy)
    # 120° turns at the outer points, straight on through the datum
    assert np.allclose(ang, [120, 120, 0, 120, 120, 0, 120, 120], atol=1e-9)
    two = sector_path((0.0, 0.0), 32633, 500.0, second_pattern=True)
    assert len(two.xy) == 19
    first_out = np.degrees(np.arctan2(*two.xy[10]))  # bearing of the 2nd pattern's first leg
    assert first_out == pytest.approx(30.0)
    res = plan_sector((13.3776, 49.7475), 300.0, alt_m=50.0)
    assert res.metrics.path_length_m == pytest.approx(9 * 300.0, rel=1e-3)


def test_mplan_creeping_line_and_parallel_track():
    rect = box(0, 0, 1000, 400)  # major axis east-west
    cs = creeping_line_path(rect, 32633, 100.0)
    xs = sorted({round(x, 6) for x in cs.search_segments()[:, :, 0].ravel()})
    assert xs == [50, 150, 250, 350, 450, 550, 650, 750, 850, 950]  # first S/2 inside
    ps = creeping_line_path(rect, 32633, 100.0, legs_along="major")
    ys = sorted({round(y, 6) for y in ps.search_segments()[:, :, 1].ravel()})
    assert ys == [50, 150, 250, 350]
    assert np.allclose(seg_lengths(ps.xy)[ps.seg_kind == 1], 1000.0)


def test_mplan_corridor():
    line = LineString([(0, 0), (1000, 0)])
    p, poly = corridor_path(line, 32633, 100.0, 25.0)
    ys = sorted({round(y, 6) for y in p.xy[:, 1]})
    assert ys == [-37.5, -12.5, 12.5, 37.5]
    assert p.info["tracks"] == 4
    assert np.allclose(seg_lengths(p.xy)[p.seg_kind == 1], 1000.0)
    assert poly.area == pytest.approx(100_000.0)


def test_mplan_perimeter_spiral():
    sq = box(0, 0, 200, 200)
    p = perimeter_path(sq, 32633, 40.0)
    assert p.info["rings"] == 2  # offsets 20 and 60 m: squares of 160 and 80 m sides
    search = seg_lengths(p.xy)[p.seg_kind == 1].sum()
    assert search == pytest.approx(4 * 160 + 4 * 80, abs=1e-6)
    # every ring is inside the area
    assert shapely.covers(sq, LineString(p.xy))


def test_mplan_sar_grid_in_area():
    area = area_from_metric(box(383000, 5511000, 384000, 5511400), 32633)
    from missions.planner import plan_creeping_line

    r = plan_creeping_line(area, spacing_m=100.0, alt_m=50.0, epsg=32633)
    assert r.mission.metadata["pattern"] == "creeping-line"
    assert r.metrics.search_length_m == pytest.approx(10 * 400.0, abs=0.5)
