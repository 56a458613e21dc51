"""Mission files: the real QGC samples, round trips for every format, bad input."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from dronekit_plzen.errors import BadInputError, CorruptFileError
from dronekit_plzen.mission_items import MissionItem
from missions.formats import FORMATS, load_mission, save_mission
from missions.formats.qgc_plan import dump_plan, parse_plan
from missions.formats.waypoints import parse_waypoints
from missions.model import FenceCircle, FencePolygon, Mission, RallyPoint

PLAN = "missions/qgc_ArduPilotSITL-ArduCopter.plan"
WPL = "missions/qgc_MissionPlanner.waypoints"
EXT = {
    "plan": ".plan",
    "waypoints": ".waypoints",
    "kml": ".kml",
    "kmz": ".kmz",
    "geojson": ".geojson",
    "wpml": ".kmz",
    "csv": ".csv",
}


def same(a: MissionItem, b: MissionItem) -> bool:
    if math.isnan(a.alt_m) or math.isnan(b.alt_m):
        if not (math.isnan(a.alt_m) and math.isnan(b.alt_m)):
            return False
        a, b = a.with_(alt_m=0.0), b.with_(alt_m=0.0)
    return a.same_as(b, pos_tol_deg=1e-9, alt_tol_m=1e-6) and a.frame == b.frame


def assert_missions_equal(a: Mission, b: Mission, *, meta: bool = True) -> None:
    assert len(a.items) == len(b.items)
    for k, (x, y) in enumerate(zip(a.items, b.items)):
        assert same(x, y), (k, x, y)
        if meta:
            assert x.meta == y.meta, k
    assert a.home == pytest.approx(b.home)
    assert a.fence_polygons == b.fence_polygons
    assert a.fence_circles == b.fence_circles
    assert a.rally_points == b.rally_points
    assert a.metadata == b.metadata


def plzen_mission() -> Mission:
    home = (13.3776, 49.7475, 310.0)
    items = [
        MissionItem(22, 3, lat_deg=49.7475, lon_deg=13.3776, alt_m=40.0, param4=math.nan),
        MissionItem(178, 2, param1=1.0, param2=8.0, param3=-1.0),
        MissionItem(16, 3, lat_deg=49.7501234, lon_deg=13.3712345, alt_m=60.0, param1=2.5),
        MissionItem(206, 2, param1=12.5, param3=1.0),
        MissionItem(16, 3, lat_deg=49.7523456, lon_deg=13.3698765, alt_m=60.0),
        MissionItem(206, 2, param1=0.0),
        MissionItem(19, 3, param1=15.0, lat_deg=49.751, lon_deg=13.372, alt_m=50.0),
        MissionItem(177, 2, param1=2.0, param2=1.0),
        MissionItem(16, 0, lat_deg=49.749, lon_deg=13.375, alt_m=370.0),
        MissionItem(20, 2),
    ]
    return Mission(
        items=items,
        home=home,
        fence_polygons=[
            FencePolygon(((13.36, 49.74), (13.39, 49.74), (13.39, 49.76), (13.36, 49.76))),
            FencePolygon(((13.372, 49.748), (13.374, 49.748), (13.373, 49.749)), inclusion=False),
        ],
        fence_circles=[
            FenceCircle((13.3776, 49.7475), 1500.0),
            FenceCircle((13.38, 49.75), 50.0, False),
        ],
        rally_points=[RallyPoint(13.376, 49.746, 30.0)],
        metadata={"pattern": "test", "safety_override": {"by": "pilot", "reason": "exercise"}},
    )


# ----------------------------------------------------------------------------- real samples


def test_real_plan_sample_loads_with_pinned_items(shared_data: Path) -> None:
    m = load_mission(shared_data / PLAN)
    assert [it.command for it in m.items] == [22, 16, 178, 16, 201, 16, 19, 16, 82, 16, 21]
    assert [it.frame for it in m.items] == [3, 3, 2, 0, 3, 0, 3, 10, 3, 3, 3]
    assert m.home == (149.16523, -35.363261, 584.0)
    assert m.autopilot == 3 and m.vehicle_type == 2 and m.cruise_speed_m_s == 15.0
    assert (m.items[1].lat_deg, m.items[1].lon_deg, m.items[1].alt_m) == (
        -35.3497863,
        149.1817532,
        60.0,
    )
    assert math.isnan(m.items[1].param4)  # yaw null in the file
    assert m.items[2].param2 == 10.0  # DO_CHANGE_SPEED to 10 m/s
    assert m.items[3].alt_m == 734.0  # AMSL item
    assert m.items[6].param1 == 30.0 and m.items[6].param3 == 50.0  # LOITER_TIME 30 s
    # QGC "calculated above terrain" item without terrain data: altitude unresolved, kept as such
    assert math.isnan(m.items[5].alt_m) and m.items[5].meta["above_terrain_m"] == 80.0
    assert m.fence_polygons == [] and m.rally_points == []


def test_real_plan_sample_re_exports_identically(shared_data: Path, tmp_path: Path) -> None:
    m = load_mission(shared_data / PLAN)
    out = save_mission(m, tmp_path / "again.plan")
    again = load_mission(out)
    assert_missions_equal(m, again)
    src = json.loads((shared_data / PLAN).read_text())
    dst = json.loads(out.read_text())
    for a, b in zip(src["mission"]["items"], dst["mission"]["items"]):
        assert a["params"] == b["params"] and a["command"] == b["command"]
        assert a.get("AltitudeMode") == b.get("AltitudeMode")
        assert a.get("Altitude") == b.get("Altitude")


@pytest.mark.parametrize("fmt", ["kml", "kmz", "geojson", "csv"])
def test_real_plan_sample_to_every_lossless_format(
    shared_data: Path, tmp_path: Path, fmt: str
) -> None:
    m = load_mission(shared_data / PLAN)
    again = load_mission(save_mission(m, tmp_path / f"x{EXT[fmt]}", format=fmt), format=fmt)
    assert_missions_equal(m, again)


def test_real_waypoints_sample(shared_data: Path, tmp_path: Path) -> None:
    m = load_mission(shared_data / WPL)
    assert m.home == (-122.103167, 47.660459, 5.21)
    assert len(m.items) == 5
    assert all(it.command == 16 and it.frame == 3 and it.alt_m == 100.0 for it in m.items)
    assert (m.items[0].lat_deg, m.items[0].lon_deg) == (47.661298, -122.103274)
    assert (m.items[4].lat_deg, m.items[4].lon_deg) == (47.660459, -122.105538)
    out = save_mission(m, tmp_path / "x.waypoints")
    lines = out.read_text().splitlines()
    assert lines[0] == "QGC WPL 110" and len(lines) == 7
    assert lines[1].split("\t")[:4] == ["0", "1", "0", "16"]
    assert_missions_equal(m, load_mission(out))
    # and into a .plan QGroundControl opens
    plan = json.loads(save_mission(m, tmp_path / "x.plan").read_text())
    assert plan["fileType"] == "Plan" and len(plan["mission"]["items"]) == 5
    assert plan["mission"]["plannedHomePosition"] == [47.660459, -122.103167, 5.21]


def test_waypoints_cannot_carry_unresolved_altitude(shared_data: Path, tmp_path: Path) -> None:
    m = load_mission(shared_data / PLAN)
    with pytest.raises(BadInputError, match="item 6 has no resolved altitude"):
        save_mission(m, tmp_path / "x.waypoints")
    assert not (tmp_path / "x.waypoints").exists()


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", ["plan", "kml", "kmz", "geojson", "csv"])
def test_round_trip_full_mission(tmp_path: Path, fmt: str) -> None:
    m = plzen_mission()
    again = load_mission(save_mission(m, tmp_path / f"m{EXT[fmt]}", format=fmt), format=fmt)
    assert_missions_equal(m, again)


def test_geojson_and_csv_name_every_altitude_datum(tmp_path: Path) -> None:
    """Found from outside: the GeoJSON path's third coordinate (RFC 7946: height above the
    ellipsoid) was 40-60 m above home and 370 m AMSL in one line, nothing saying which; the
    CSV's alt_m too. Each altitude now names its datum; the files read back as before."""
    import csv

    m = plzen_mission()  # items above home, one AMSL; home AMSL known
    gj = json.loads(save_mission(m, tmp_path / "m.geojson", format="geojson").read_text())
    by_role: dict[str, list[dict[str, object]]] = {}
    for f in gj["features"]:
        by_role.setdefault(f["properties"]["role"], []).append(f["properties"])
    assert by_role["path"][0]["z_datum"] == "mixed: see each item's alt_datum"
    assert by_role["home"][0]["alt_datum"] == "AMSL"
    datums = {p["index"]: p.get("alt_datum") for p in by_role["item"]}
    assert datums[0] == datums[2] == "above home" and datums[8] == "AMSL"
    assert "alt_datum" not in by_role["item"][1]  # DO_CHANGE_SPEED: no position
    rows = list(csv.DictReader(save_mission(m, tmp_path / "m.csv", format="csv").open()))
    assert [r["alt_datum"] for r in rows[:4]] == ["AMSL", "above home", "", "above home"]
    assert rows[9]["alt_datum"] == "AMSL"
    # one datum: named on the path; a home whose altitude no DEM gave says so
    m.items = [it for it in m.items if it.frame != 0]
    m.metadata["home_amsl_source"] = "unknown"
    gj = json.loads(save_mission(m, tmp_path / "n.geojson", format="geojson").read_text())
    props = {f["properties"]["role"]: f["properties"] for f in gj["features"]}
    assert props["path"]["z_datum"] == "above home" and props["home"]["alt_datum"] == "unknown"
    rows = list(csv.DictReader(save_mission(m, tmp_path / "n.csv", format="csv").open()))
    assert rows[0]["kind"] == "home" and rows[0]["alt_datum"] == "unknown"
    assert_missions_equal(m, load_mission(tmp_path / "n.csv"))


def test_round_trip_waypoints_items_home_and_sidecar_metadata(tmp_path: Path) -> None:
    m = plzen_mission()
    p = save_mission(m, tmp_path / "m.waypoints")
    again = load_mission(p)
    assert [same(a, b) for a, b in zip(m.items, again.items)] == [True] * len(m.items)
    assert again.home == m.home and again.metadata == m.metadata
    # DO_JUMP target: index 2 in the mission is sequence 3 in the file (home at 0)
    row = p.read_text().splitlines()[9].split("\t")
    assert row[3] == "177" and float(row[4]) == 3.0


def test_plan_do_jump_uses_qgc_jump_ids() -> None:
    doc = json.loads(dump_plan(plzen_mission()))
    jump = doc["mission"]["items"][7]
    assert jump["command"] == 177 and jump["params"][0] == 3  # doJumpId of item index 2
    assert doc["mission"]["items"][2]["doJumpId"] == 3
    assert parse_plan(json.dumps(doc)).items[7].param1 == 2.0


def test_plan_geofence_and_rally_layout() -> None:
    doc = json.loads(dump_plan(plzen_mission()))
    poly = doc["geoFence"]["polygons"][0]
    assert poly["inclusion"] is True and poly["polygon"][0] == [49.74, 13.36]
    circ = doc["geoFence"]["circles"][1]
    assert circ == {
        "circle": {"center": [49.75, 13.38], "radius": 50.0},
        "inclusion": False,
        "version": 1,
    }
    assert doc["rallyPoints"]["points"] == [[49.746, 13.376, 30.0]]
    assert doc["dronekitPlzen"]["metadata"]["safety_override"]["reason"] == "exercise"


def test_plan_complex_survey_item_is_flattened() -> None:
    inner = [
        {
            "type": "SimpleItem",
            "command": 16,
            "frame": 3,
            "autoContinue": True,
            "params": [0, 0, 0, None, 49.75 + k * 1e-3, 13.37, 50],
        }
        for k in range(4)
    ] + [
        {
            "type": "SimpleItem",
            "command": 206,
            "frame": 2,
            "autoContinue": True,
            "params": [12, 0, 1, 0, 0, 0, 0],
        }
    ]
    doc = {
        "fileType": "Plan",
        "version": 1,
        "groundStation": "QGroundControl",
        "mission": {
            "version": 2,
            "firmwareType": 12,
            "vehicleType": 2,
            "plannedHomePosition": [49.75, 13.37, 300],
            "items": [
                {
                    "type": "SimpleItem",
                    "command": 22,
                    "frame": 3,
                    "doJumpId": 1,
                    "autoContinue": True,
                    "params": [0, 0, 0, None, 49.75, 13.37, 30],
                },
                {
                    "type": "ComplexItem",
                    "complexItemType": "survey",
                    "version": 5,
                    "doJumpId": 2,
                    "polygon": [[49.75, 13.37], [49.76, 13.37], [49.76, 13.38]],
                    "TransectStyleComplexItem": {"Items": inner, "CameraCalc": {}},
                },
                {
                    "type": "SimpleItem",
                    "command": 177,
                    "frame": 2,
                    "doJumpId": 7,
                    "autoContinue": True,
                    "params": [2, 1, 0, 0, 0, 0, 0],
                },
            ],
        },
        "geoFence": {"version": 2, "polygons": [], "circles": []},
        "rallyPoints": {"version": 2, "points": []},
    }
    m = parse_plan(json.dumps(doc))
    assert [it.command for it in m.items] == [22, 16, 16, 16, 16, 206, 177]
    assert m.items[3].meta["qgc_complex"] == "survey"
    assert m.items[6].param1 == 1.0  # DO_JUMP to the survey's first flattened item
    del doc["mission"]["items"][1]["TransectStyleComplexItem"]["Items"]
    with pytest.raises(BadInputError, match="complex item 'survey' has no generated items"):
        parse_plan(json.dumps(doc), "x.plan")


def test_wpml_kmz_structure_and_round_trip(tmp_path: Path) -> None:
    items = [
        MissionItem(22, 3, alt_m=35.0),
        MissionItem(16, 3, lat_deg=49.75, lon_deg=13.37, alt_m=60.0),
        MissionItem(206, 2, param1=15.0, param3=1.0),
        MissionItem(178, 2, param1=1.0, param2=7.0, param3=-1.0),
        MissionItem(16, 3, lat_deg=49.751, lon_deg=13.371, alt_m=60.0),
        MissionItem(16, 3, param1=5.0, lat_deg=49.752, lon_deg=13.372, alt_m=65.0),
        MissionItem(206, 2, param1=0.0),
        MissionItem(2000, 2, param3=1.0),
        MissionItem(20, 2),
    ]
    m = Mission(
        items=items,
        home=(13.369, 49.749, 320.0),
        cruise_speed_m_s=9.0,
        metadata={"safety_override": {"reason": "drill"}},
    )
    p = save_mission(m, tmp_path / "m_dji.kmz", format="wpml")
    with zipfile.ZipFile(p) as z:
        assert {"wpmz/template.kml", "wpmz/waylines.wpml"} <= set(z.namelist())
        wl = etree.fromstring(z.read("wpmz/waylines.wpml"))
    ns = {"k": "http://www.opengis.net/kml/2.2", "wpml": "http://www.dji.com/wpmz/1.0.2"}
    assert wl.findtext(".//wpml:missionConfig/wpml:finishAction", namespaces=ns) == "goHome"
    assert wl.findtext(".//wpml:missionConfig/wpml:globalRTHHeight", namespaces=ns) == "65"
    assert wl.findtext(".//wpml:missionConfig/wpml:takeOffSecurityHeight", namespaces=ns) == "35"
    assert (
        wl.findtext(".//k:Folder/wpml:executeHeightMode", namespaces=ns) == "relativeToStartPoint"
    )
    pms = wl.findall(".//k:Placemark", ns)
    assert [pm.findtext("wpml:executeHeight", namespaces=ns) for pm in pms] == ["60", "60", "65"]
    assert [pm.findtext("wpml:waypointSpeed", namespaces=ns) for pm in pms] == ["7", "7", "7"]
    trig = pms[0].find("wpml:actionGroup/wpml:actionTrigger", ns)
    assert trig.findtext("wpml:actionTriggerType", namespaces=ns) == "multipleDistance"
    assert trig.findtext("wpml:actionTriggerParam", namespaces=ns) == "15"
    assert pms[0].findtext("wpml:actionGroup/wpml:actionGroupEndIndex", namespaces=ns) == "2"
    funcs = [a.text for a in pms[2].iter(f"{{{ns['wpml']}}}actionActuatorFunc")]
    assert funcs == ["hover", "takePhoto"]
    # read back: the canonical MAVLink form (speed change after the first waypoint)
    back = load_mission(p)
    assert back.metadata == m.metadata and back.home == m.home
    assert [it.command for it in back.items] == [22, 16, 206, 178, 16, 16, 2000, 206, 20]
    assert back.items[5].param1 == 5.0 and back.items[2].param1 == 15.0
    assert back.items[3].param2 == 7.0
    # and export → import → export is stable
    p2 = save_mission(back, tmp_path / "again_dji.kmz", format="wpml")
    with zipfile.ZipFile(p) as a, zipfile.ZipFile(p2) as b:
        assert a.read("wpmz/waylines.wpml") == b.read("wpmz/waylines.wpml")


def test_wpml_amsl_items_converted_with_home(tmp_path: Path) -> None:
    m = Mission(
        items=[
            MissionItem(16, 0, lat_deg=49.75, lon_deg=13.37, alt_m=380.0),
            MissionItem(16, 3, lat_deg=49.751, lon_deg=13.37, alt_m=50.0),
        ],
        home=(13.369, 49.749, 320.0),
    )
    back = load_mission(save_mission(m, tmp_path / "a.kmz", format="wpml"))
    assert [it.alt_m for it in back.items if it.command == 16] == [60.0, 50.0]
    with pytest.raises(BadInputError, match="home altitude"):
        save_mission(Mission(items=m.items), tmp_path / "b.kmz", format="wpml")


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("a.plan", "{not json", "invalid JSON"),
        ("b.plan", '{"fileType": "Mission", "version": 1}', "fileType must be 'Plan'"),
        (
            "c.plan",
            '{"fileType": "Plan", "version": 1, "mission": {"items": '
            '[{"type": "SimpleItem", "command": 16, "frame": 3, "params": [0, 0]}]}}',
            "mission item 1",
        ),
        (
            "d.waypoints",
            "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t49\t13\t300\t1\n"
            "1\t0\t3\t16\t0\t0\t0\t0\t49.1\tx\t50\t1\n",
            "d.waypoints:3",
        ),
        ("e.waypoints", "hello\n", "e.waypoints:1"),
        ("f.csv", "kind,command\nmission,16\n", "lacks columns"),
        ("g.geojson", '{"type": "FeatureCollection", "features": []}', "no mission items"),
    ],
)
def test_bad_files_name_the_place(tmp_path: Path, name: str, text: str, fragment: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(BadInputError) as ei:
        load_mission(p)
    assert fragment in str(ei.value) and name in str(ei.value)


def test_corrupt_kmz_and_unknown_extension(tmp_path: Path) -> None:
    p = tmp_path / "x.kmz"
    p.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(CorruptFileError):
        load_mission(p)
    q = tmp_path / "x.gpx"
    q.write_text("<gpx/>")
    with pytest.raises(BadInputError, match=r"extension '\.gpx'"):
        load_mission(q)


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    p = save_mission(plzen_mission(), tmp_path / "keep.waypoints")
    before = p.read_bytes()
    bad = plzen_mission()
    bad.items.append(MissionItem(16, 3, lat_deg=49.7, lon_deg=13.3, alt_m=math.nan))
    with pytest.raises(BadInputError, match="item 11 has no resolved altitude"):
        save_mission(bad, p)
    assert p.read_bytes() == before
    assert sorted(f.name for f in tmp_path.iterdir()) == [
        "keep.fence.waypoints",
        "keep.rally.waypoints",
        "keep.waypoints",
        "keep.waypoints.meta.json",
    ]


# ----------------------------------------------------------------------------- property test

coord = st.floats(min_value=-80, max_value=80, allow_nan=False)
param = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=32), st.just(math.nan)
)
item_st = st.builds(
    MissionItem,
    command=st.sampled_from([16, 17, 19, 21, 22, 82, 178, 206, 2000]),
    frame=st.sampled_from([0, 2, 3, 10]),
    param1=st.floats(min_value=0, max_value=100, allow_nan=False),
    param2=param,
    param3=param,
    param4=param,
    lat_deg=coord,
    lon_deg=st.floats(min_value=-179, max_value=179, allow_nan=False),
    alt_m=st.floats(min_value=-100, max_value=5000, allow_nan=False),
    autocontinue=st.booleans(),
).filter(lambda it: not (it.frame == 2 and it.command in (16, 17, 19, 82)))  # malformed


lonlat_st = st.tuples(st.floats(-179, 179, allow_nan=False), st.floats(-80, 80, allow_nan=False))
fence_poly_st = st.builds(
    FencePolygon, st.lists(lonlat_st, min_size=3, max_size=6).map(tuple), st.booleans()
)
fence_circle_st = st.builds(FenceCircle, lonlat_st, st.floats(1, 1e5), st.booleans())
rally_st = st.builds(RallyPoint, st.floats(-179, 179), st.floats(-80, 80), st.floats(-50, 500))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    items=st.lists(item_st, min_size=1, max_size=12),
    # a home at exactly 0°N 0°E is the "home not set" placeholder of ArduPilot and of plan
    # generators, read as no home (tests/missions_io/test_mio_real_files.py)
    home=st.tuples(st.floats(-179, 179), st.floats(-80, 80), st.floats(-100, 3000)).filter(
        lambda h: (h[0], h[1]) != (0.0, 0.0)
    ),
    polys=st.lists(fence_poly_st, max_size=3),
    circles=st.lists(fence_circle_st, max_size=3),
    rally=st.lists(rally_st, max_size=3),
)
def test_property_export_import_equal(
    tmp_path: Path,
    items: list[MissionItem],
    home: tuple[float, float, float],
    polys: list[FencePolygon],
    circles: list[FenceCircle],
    rally: list[RallyPoint],
) -> None:
    m = Mission(
        items=items,
        home=home,
        fence_polygons=polys,
        fence_circles=circles,
        rally_points=rally,
        metadata={"k": [1, 2]},
    )
    for fmt in ("plan", "waypoints", "kml", "kmz", "geojson", "csv"):
        again = load_mission(save_mission(m, tmp_path / f"p{EXT[fmt]}", format=fmt), format=fmt)
        back = again.items
        if fmt == "waypoints" and len(back) == len(items) + 1:
            # QGC WPL: the planning speed as QGroundControl's speed item, first
            assert back[0].command == 178 and back[0].param2 == again.cruise_speed_m_s
            back = [it.with_(param1=it.param1 - 1) if it.command == 177 else it for it in back[1:]]
        assert len(back) == len(items), fmt
        assert all(same(a, b) for a, b in zip(items, back)), fmt
        assert again.home == pytest.approx(home), fmt
        assert again.metadata == m.metadata, fmt
        # every format carries the fence and rally points (QGC WPL in files beside it)
        assert again.fence_polygons == polys, fmt
        assert again.fence_circles == circles, fmt
        assert again.rally_points == rally, fmt


def test_every_registered_format_is_tested() -> None:
    assert set(FORMATS) == {"plan", "waypoints", "kml", "kmz", "geojson", "wpml", "csv"}


def test_parse_waypoints_accepts_spaces() -> None:
    m = parse_waypoints(
        "QGC WPL 110\n0 1 0 16 0 0 0 0 49.0 13.0 300 1\n1 0 3 16 0 0 0 0 49.1 13.1 50 1\n"
    )
    assert m.home == (13.0, 49.0, 300.0) and m.items[0].alt_m == 50.0


def test_foreign_geojson_and_kml_lines_become_waypoints(tmp_path: Path) -> None:
    g = tmp_path / "line.geojson"
    g.write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[13.37, 49.74, 50], [13.38, 49.745, 60]],
                },
            }
        )
    )
    m = load_mission(g)
    assert [(it.command, it.frame, it.alt_m) for it in m.items] == [(16, 3, 50.0), (16, 3, 60.0)]
    k = tmp_path / "line.kml"
    k.write_text(
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        "<Placemark><LineString><altitudeMode>absolute</altitudeMode><coordinates>"
        "13.37,49.74,400 13.38,49.745,410</coordinates></LineString></Placemark>"
        "</Document></kml>"
    )
    m = load_mission(k)
    assert [(it.frame, it.lon_deg, it.alt_m) for it in m.items] == [
        (0, 13.37, 400.0),
        (0, 13.38, 410.0),
    ]


def test_malformed_wpml_names_the_file(tmp_path: Path) -> None:
    p = save_mission(plzen_mission(), tmp_path / "m_dji.kmz", format="wpml")
    with zipfile.ZipFile(p) as z:
        text = z.read("wpmz/waylines.wpml").decode().replace("<wpml:index>1<", "<wpml:index>x<")
    bad = tmp_path / "bad_dji.kmz"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("wpmz/waylines.wpml", text)
    with pytest.raises(BadInputError) as ei:
        load_mission(bad)
    assert "bad_dji.kmz!wpmz/waylines.wpml" in str(ei.value)


@pytest.mark.parametrize("fmt", ["plan", "kml", "geojson", "csv"])
def test_fence_with_repeated_first_vertex_round_trips(tmp_path: Path, fmt: str) -> None:
    poly = FencePolygon(((13.0, 49.0), (13.1, 49.0), (13.1, 49.1), (13.0, 49.0)))
    m = Mission(
        items=[MissionItem(16, 3, lat_deg=49.05, lon_deg=13.05, alt_m=30.0)],
        home=(13.0, 49.0, 300.0),
        fence_polygons=[poly],
    )
    again = load_mission(save_mission(m, tmp_path / f"f{EXT[fmt]}", format=fmt), format=fmt)
    assert again.fence_polygons == [poly]


def test_waypoints_nav_item_at_nan_nan_is_here() -> None:
    """MAVLink's "no value" for a take-off's or a landing's position (nan, nan: where the
    aircraft is) reads as 0, 0, ArduPilot's "here", as the .plan reader reads QGC's null."""
    text = (
        "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t49.7401\t13.3701\t300\t1\n"
        "1\t0\t3\t22\t0\t0\t0\t0\tnan\tnan\t30\t1\n"
        "2\t0\t3\t16\t0\t0\t0\t0\t49.7405\t13.3705\t30\t1\n"
        "3\t0\t3\t21\t0\t0\t0\t0\tnan\tnan\t0\t1\n"
        "4\t0\t2\t178\t1\t5\t-1\t0\tnan\tnan\tnan\t1\n"
    )
    m = parse_waypoints(text, "here.waypoints")
    assert [(it.lat_deg, it.lon_deg) for it in m.items[:3]] == [
        (0.0, 0.0),
        (49.7405, 13.3705),
        (0.0, 0.0),
    ]
    assert not m.items[0].has_position and not m.items[2].has_position
    assert math.isnan(m.items[3].lat_deg)  # a DO command's x/y: no value, sent as such


def test_kml_draws_each_altitude_from_its_datum(tmp_path: Path) -> None:
    """Google Earth reads ``absolute`` as above sea level: heights above a home of known
    altitude are drawn so (60 m over a 310 m home at 370 m), AMSL items as they are, and
    heights above a home of unknown altitude above the ground (they had been drawn 60 m above
    sea level, 250 m under Plzeň), the path saying why."""
    from dataclasses import replace

    ns = {"k": "http://www.opengis.net/kml/2.2"}

    def drawn(m: Mission) -> tuple[etree._Element, list[tuple[str, float]]]:
        root = etree.parse(str(save_mission(m, tmp_path / "m.kml", format="kml"))).getroot()
        points = []
        for pt in root.iterfind(".//k:Folder[k:name='Waypoints']//k:Point", ns):
            z = float(pt.findtext("k:coordinates", namespaces=ns).split(",")[2])
            points.append((pt.findtext("k:altitudeMode", namespaces=ns), z))
        return root, points

    known = plzen_mission()  # home 310 m stated: relative items drawn above sea level
    root, points = drawn(known)
    assert ("absolute", 370.0) in points and ("absolute", 350.0) in points
    assert points[-1] == ("absolute", 370.0)  # the AMSL waypoint as it is
    assert root.findtext(".//k:LineString/k:altitudeMode", namespaces=ns) == "absolute"
    rel = [it for it in known.items if it.frame != 0]
    unknown = replace(known, home=(13.3776, 49.7475, 0.0), items=rel)  # the 0.0 placeholder
    root, points = drawn(unknown)
    assert points and all(mode == "relativeToGround" for mode, _z in points), points
    assert ("relativeToGround", 60.0) in points
    path = root.find(".//k:Placemark[k:LineString]", ns)
    assert path.findtext("k:LineString/k:altitudeMode", namespaces=ns) == "relativeToGround"
    assert "home's altitude is unknown" in path.findtext("k:description", namespaces=ns)
    assert load_mission(tmp_path / "m.kml").items == unknown.items  # reads back unchanged
