"""The planning facade: mission items (MAVLink semantics), triggers, sorties, multi-drone split."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import box

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.mission_items import (
    CMD_DO_CHANGE_SPEED,
    CMD_DO_SET_CAM_TRIGG_DIST,
    CMD_IMAGE_START_CAPTURE,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
)
from missions.area import area_from_metric, parse_area, project_geometry
from missions.metrics import mission_time_s
from missions.patterns.base import segments_inside
from missions.planner import plan_survey
from missions.split import DroneSpec, plan_split
from missions.vehicles import get_vehicle

E0, N0 = 383_000.0, 5_511_000.0
RECT = area_from_metric(box(E0, N0, E0 + 400, N0 + 300), 32633)

# ~1.5 km2 at Boleveský rybník, Plzeň-Bolevec, with the pond as a hole (the demo's area)
BOLEVEC = {
    "type": "Polygon",
    "coordinates": [
        [
            [13.380, 49.770],
            [13.398, 49.770],
            [13.400, 49.780],
            [13.392, 49.782],
            [13.385, 49.781],
            [13.378, 49.777],
            [13.380, 49.770],
        ],
        [
            [13.386, 49.774],
            [13.392, 49.7735],
            [13.393, 49.777],
            [13.387, 49.7775],
            [13.386, 49.774],
        ],
    ],
}


def test_mplan_distance_trigger_mission_items():
    r = plan_survey(
        RECT, camera="mavic3e-wide", alt_m=60.0, angle_deg=90.0, epsg=32633, home=(13.3776, 49.7475)
    )
    items = r.mission.items
    assert items[0].command == CMD_NAV_TAKEOFF and items[0].alt_m == 60.0
    assert items[1].command == CMD_DO_CHANGE_SPEED
    assert items[1].param2 == get_vehicle("mavic3e").cruise_speed_m_s
    assert items[-1].command == CMD_NAV_RETURN_TO_LAUNCH
    wps = [it for it in items if it.command == CMD_NAV_WAYPOINT]
    assert all(w.frame == FRAME_GLOBAL_RELATIVE_ALT and w.alt_m == 60.0 for w in wps)
    trig = [it for it in items if it.command == CMD_DO_SET_CAM_TRIGG_DIST]
    n = r.plan.info["transects"]
    assert len(trig) == 2 * n
    d = get_camera_trigger(r)
    assert [t.param1 for t in trig] == [d, 0.0] * n
    assert all(t.param3 == 1.0 for t in trig)
    assert r.mission.home == (13.3776, 49.7475, 0.0)
    assert r.metrics.coverage_pct == pytest.approx(100.0)
    # spacing and GSD by hand: 60 m, 17.3 mm, 5280 px, 12.29 mm
    gsd = 60 * 17.3 * 100 / (5280 * 12.29)
    assert r.metrics.gsd_cm == pytest.approx(gsd)
    assert r.metrics.spacing_m == pytest.approx(5280 * gsd / 100 * 0.3)


def get_camera_trigger(r):
    return r.metrics.trigger_distance_m


def test_mplan_waypoint_and_hover_trigger():
    r = plan_survey(
        RECT, camera="mavic3e-wide", alt_m=60.0, angle_deg=90.0, epsg=32633, trigger="waypoint"
    )
    caps = [it for it in r.mission.items if it.command == CMD_IMAGE_START_CAPTURE]
    assert len(caps) == r.metrics.photo_count
    assert all(c.param3 == 1.0 for c in caps)
    h = plan_survey(
        RECT,
        camera="mavic3e-wide",
        alt_m=60.0,
        angle_deg=90.0,
        epsg=32633,
        trigger="hover",
        hover_s=2.0,
    )
    holds = [it for it in h.mission.items if it.command == CMD_NAV_WAYPOINT and it.param1 == 2.0]
    assert len(holds) == h.metrics.photo_count
    assert h.metrics.flight_time_s > r.metrics.flight_time_s + 2.0 * h.metrics.photo_count
    with pytest.raises(BadInputError):
        plan_survey(RECT, camera="mavic3e-wide", alt_m=60.0, trigger="flash")


def test_mplan_gsd_input_and_errors():
    r = plan_survey(RECT, camera="p1-35mm", gsd_cm=1.0, epsg=32633, angle_deg=0.0)
    assert r.metrics.gsd_cm == pytest.approx(1.0)
    assert r.metrics.alt_m == pytest.approx(8192 * 1.0 * 35.0 / (35.9 * 100))
    with pytest.raises(BadInputError, match="altitude"):
        plan_survey(RECT, camera="p1-35mm")
    with pytest.raises(BadInputError, match="target"):
        plan_survey(RECT, camera="p1-35mm", alt_m=50.0, wanted_pod=0.8)


def test_mplan_sorties_cut_long_mission():
    big = area_from_metric(box(E0, N0, E0 + 1500, N0 + 1000), 32633)
    veh = get_vehicle("px4-quad")
    home = (13.39, 49.7475)
    r = plan_survey(
        big,
        spacing_m=100.0,
        alt_m=50.0,
        vehicle=veh,
        trigger="none",
        epsg=32633,
        home=home,
        angle_deg=90.0,
    )
    assert r.metrics.sorties == len(r.sorties) >= 3
    assert len(r.resume_points) == r.metrics.sorties - 1
    assert len(r.metrics.sortie_times_s) == r.metrics.sorties
    assert max(r.metrics.sortie_times_s) <= veh.usable_endurance_s
    assert r.metrics.total_time_s > r.metrics.flight_time_s  # every sortie flies from home
    assert math.ceil(r.metrics.flight_time_s / veh.usable_endurance_s) <= r.metrics.sorties
    for s in r.sorties:
        assert s.items[0].command == CMD_NAV_TAKEOFF
        assert s.items[-1].command == CMD_NAV_RETURN_TO_LAUNCH
    # each sortie fits one battery by the time model
    from missions.planner import _home_xy
    from missions.sorties import cut_sorties

    hxy = _home_xy(home, 32633)
    parts, _ = cut_sorties(r.plan, veh, 50.0, hxy)
    assert all(mission_time_s(p, veh, 50.0, hxy) <= veh.usable_endurance_s for p in parts)
    assert sum(p.length_m for p in parts) == pytest.approx(r.plan.length_m, rel=1e-9)


def test_mplan_split_three_thermal_drones_bolevec():
    area = parse_area(BOLEVEC)
    drones = [
        DroneSpec("mavic3t", (13.379, 49.769)),
        DroneSpec("mavic3t", (13.399, 49.769)),
        DroneSpec("mavic3t", (13.390, 49.783)),
    ]
    sp = plan_split(
        area, drones, pattern="survey", camera="mavic3t-thermal", target="person", wanted_pod=0.8
    )
    assert len(sp.plans) == 3
    area_m, epsg = area.to_metric()
    parts = [project_geometry(p, 4326, epsg) for p in sp.parts_lonlat]
    assert sum(p.area for p in parts) == pytest.approx(area_m.area, rel=1e-6)
    assert shapely.union_all(parts).symmetric_difference(area_m).area < 1.0
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert parts[a].intersection(parts[b]).area < 1.0
    times = np.array([p.metrics.flight_time_s for p in sp.plans])
    assert times.max() / times.min() < 1.2
    for p, part in zip(sp.plans, parts):
        assert p.metrics.pod == pytest.approx(0.8)
        assert p.metrics.alt_m <= 94.8
        assert p.mission.home[:2] in [d.launch for d in drones]
        assert segments_inside(area_m, p.plan.search_segments()).all()
        assert segments_inside(part, p.plan.search_segments(), tol_m=0.1).all()
        assert p.metrics.coverage_pct >= 99.5
    layered = plan_split(
        area,
        drones,
        pattern="survey",
        camera="mavic3t-thermal",
        target="person",
        wanted_pod=0.8,
        alt_layers_m=[70.0, 80.0, 90.0],
        rounds=1,
    )
    assert [p.metrics.alt_m for p in layered.plans] == [70.0, 80.0, 90.0]


@pytest.mark.parametrize("pattern", ["corridor", "perimeter"])
def test_mplan_waypoint_capture_positions_match_photos(pattern):
    from dronekit_plzen import geo
    from missions.planner import plan_corridor, plan_perimeter

    if pattern == "corridor":
        r = plan_corridor(
            [(13.37, 49.74), (13.38, 49.745), (13.39, 49.743)],
            120.0,
            alt_m=60.0,
            camera="mavic3e-wide",
            trigger="waypoint",
        )
    else:
        r = plan_perimeter(
            RECT,
            alt_m=60.0,
            camera="mavic3t-thermal",
            spacing_m=50.0,
            trigger="waypoint",
            epsg=32633,
        )
    items = r.mission.items
    shots = [items[k - 1] for k, it in enumerate(items) if it.command == CMD_IMAGE_START_CAPTURE]
    assert len(shots) == r.metrics.photo_count == len(r.plan.photos_xy)
    x, y = geo.transform([s.lon_deg for s in shots], [s.lat_deg for s in shots], 4326, r.epsg)
    assert np.allclose(np.column_stack([x, y]), r.plan.photos_xy, atol=0.05)


def test_mplan_multipolygon_parts_and_capability_split():
    two = shapely.MultiPolygon(
        [box(E0, N0, E0 + 300, N0 + 200), box(E0 + 500, N0, E0 + 800, N0 + 200)]
    )
    area = area_from_metric(two, 32633)
    r = plan_survey(area, camera="mavic3e-wide", alt_m=60.0, angle_deg=90.0, epsg=32633)
    assert segments_inside(two, r.plan.search_segments()).all()
    assert r.metrics.coverage_pct == pytest.approx(100.0)
    kinds = r.plan.seg_kind
    assert (kinds == 0).sum() >= 1  # one transit between the parts
    big = area_from_metric(box(E0, N0, E0 + 1200, N0 + 900), 32633)
    fleet = [DroneSpec("px4-quad", (13.37, 49.74)), DroneSpec("m30t", (13.37, 49.74))]
    kw = dict(spacing_m=60.0, alt_m=60.0, trigger="none", rounds=3)
    eq = plan_split(
        big, fleet, weighting="equal", rounds=1, spacing_m=60.0, alt_m=60.0, trigger="none"
    )
    cap = plan_split(big, fleet, weighting="capability", **kw)
    # the faster M30T gets the larger part, and the longest flight is shorter than an equal split
    a_px4, a_m30 = (p.metrics.area_m2 for p in cap.plans)
    assert a_m30 > 1.3 * a_px4
    assert cap.longest_flight_s < eq.longest_flight_s


def test_sorties_of_a_path_of_many_shallow_turns_pass_the_guards_endurance_check():
    # a POA walk: 1,200 legs of 60 m turning 10° left and right. The guard times each leg from
    # standstill to standstill; sorties cut by stopping at corners (> 20°) only were 15 % longer
    # than that and failed the guard (plan poa on a 1.8 km map exited 3)
    from missions.mission_build import MissionOptions
    from missions.patterns.base import SEARCH, PathPlan
    from missions.pipeline import finalize_mission
    from missions.plan_core import finish, resolve_sensor

    veh = get_vehicle("px4-quad")
    heading = np.radians(6.0 * np.arange(1200))  # 20 turns round a 570 m circle
    steps = 60.0 * np.column_stack([np.sin(heading), np.cos(heading)])
    xy = np.vstack([[0.0, 0.0], np.cumsum(steps, axis=0)]) + np.array([E0, N0])
    path = PathPlan(xy, np.full(len(xy) - 1, SEARCH, dtype=np.int8), 32633, info={})
    lon, lat = geo.transform([E0], [N0], 32633, geo.WGS84)
    home = (float(lon[0]), float(lat[0]))
    sensor = resolve_sensor(None, alt_m=50.0, spacing_m=40.0, target=None, trigger="none")
    r = finish(
        path,
        sensor,
        veh,
        pattern="poa",
        area_m=None,
        home=home,
        options=MissionOptions(trigger="none"),
    )
    assert len(r.sorties) >= 5
    for s in r.sorties:
        _m, report = finalize_mission(s, vehicle=veh, max_range_m=None)
        assert report.ok
