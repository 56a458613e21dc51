"""Mission files as real tools write them (QGroundControl, Mission Planner, ArduPilot's autotest,
MAVSDK, DJI Pilot 2): each case is a few lines in the form a real file found in the wild had,
and each failed, was misread or was refused for a wrong reason before its fix."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from dronekit_plzen.cli.main import main
from dronekit_plzen.errors import BadInputError
from missions.formats import load_mission
from missions.model import Mission
from missions.validation import validate

HOME = "0\t1\t0\t16\t0\t0\t0\t0\t-35.363262\t149.165237\t584.000000\t1\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# ----------------------------------------------------------------------- QGC WPL text files


def test_waypoints_comment_lines_are_skipped(tmp_path: Path) -> None:
    """ArduPilot's autotest missions (and MAVProxy) annotate items with '#' lines: the file
    was refused with 'expected 12 fields, found 14'."""
    p = _write(
        tmp_path,
        "items.txt",
        "QGC WPL 110\n# home\n"
        + HOME
        + "# takeoff\n1\t0\t3\t22\t0\t0\t0\t0\t0\t0\t20\t1\n"
        + "  # an indented note\n2\t0\t3\t16\t0\t0\t0\t0\t-35.362\t149.165\t20\t1\n",
    )
    m = load_mission(p)
    assert [it.command for it in m.items] == [22, 16]
    assert m.home == pytest.approx((149.165237, -35.363262, 584.0))
    # the same file's arc waypoint is reported by name, not as a bare number
    arc = m.items[1].with_(command=36)
    rep = validate(Mission(items=[m.items[0], arc], home=m.home))
    assert any("NAV_ARC_WAYPOINT (36)" in v.message for v in rep.violations)


def test_wpl_120_has_no_home_line(tmp_path: Path) -> None:
    """Old QGroundControl wrote 'QGC WPL 120' with no home: index 0 is the first item, not a
    home, and DO_JUMP targets are item indices (the first item was dropped as a 'home')."""
    p = _write(
        tmp_path,
        "old.txt",
        "QGC WPL 120\n"
        "0\t1\t3\t22\t0\t0\t0\t0\t-35.3630\t149.1652\t20\t1\n"
        "1\t0\t3\t16\t0\t0\t0\t0\t-35.3620\t149.1652\t20\t1\n"
        "2\t0\t3\t177\t1\t2\t0\t0\t0\t0\t0\t1\n",
    )
    m = load_mission(p)
    assert m.home is None
    assert [it.command for it in m.items] == [22, 16, 177]
    assert m.items[2].param1 == 1.0  # the jump goes to the waypoint, index 1


def test_wpl_index_0_that_is_not_a_waypoint_is_an_item(tmp_path: Path) -> None:
    """MAVSDK's Mission Planner sample starts with a TAKEOFF at index 0: it was taken as the
    home (its 15 m as the home altitude AMSL) and the take-off dropped."""
    p = _write(
        tmp_path,
        "mavsdk.txt",
        "QGC WPL 110\n"
        "0\t1\t5\t22\t0\t0\t0\t0\t47.3978101\t8.5455380\t15\t1\n"
        "1\t0\t5\t16\t0\t0\t0\t0\t47.3977992\t8.5454669\t15\t1\n"
        "2\t0\t5\t20\t0\t0\t0\t0\t47.3977774\t8.5453247\t0\t1\n",
    )
    m = load_mission(p)
    assert m.home is None
    assert [it.command for it in m.items] == [22, 16, 20]
    rep = validate(m)
    # the AMSL altitudes cannot be checked without a home altitude: said once, with its cause
    msgs = [v.message for v in rep.violations if v.rule == "altitude_unresolved"]
    assert msgs and all("home altitude is unknown" in s for s in msgs)


def test_wpl_home_at_zero_zero_is_no_home(tmp_path: Path) -> None:
    """ArduPilot writes home 0/0/0 when it has none: the mission was placed at 0°N 0°E and
    passed validation ('OK: 3 samples')."""
    p = _write(
        tmp_path,
        "takeoff_agl.txt",
        "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t0\t0\t0\t1\n1\t0\t10\t22\t0\t0\t0\t0\t0\t0\t10\t1\n",
    )
    with pytest.raises(BadInputError, match="no home and no positioned items"):
        load_mission(p)


def test_wpl_fence_and_rally_items_become_fence_and_rally(tmp_path: Path) -> None:
    """Mission Planner saves fences and rally points as QGC WPL files: the fence vertices were
    mission items ('command 5001 is not one the safety guard can check'), now the geofence;
    a DO_JUMP after a fence line still reaches its target."""
    p = _write(
        tmp_path,
        "fence.waypoints",
        "QGC WPL 110\n" + HOME + "1\t0\t3\t5001\t3\t0\t0\t0\t-35.3618\t149.1660\t0\t1\n"
        "2\t0\t3\t5001\t3\t0\t0\t0\t-35.3618\t149.1640\t0\t1\n"
        "3\t0\t3\t5001\t3\t0\t0\t0\t-35.3640\t149.1650\t0\t1\n"
        "4\t0\t3\t5100\t0\t0\t0\t0\t-35.3630\t149.1650\t30\t1\n"
        "5\t0\t3\t16\t0\t0\t0\t0\t-35.3625\t149.1652\t20\t1\n"
        "6\t0\t3\t16\t0\t0\t0\t0\t-35.3628\t149.1648\t20\t1\n"
        "7\t0\t3\t177\t5\t1\t0\t0\t0\t0\t0\t1\n",
    )
    m = load_mission(p)
    assert [it.command for it in m.items] == [16, 16, 177]
    assert m.items[2].param1 == 0.0  # line 5 is our item 0
    assert len(m.fence_polygons) == 1 and len(m.fence_polygons[0].vertices) == 3
    assert m.rally_points and m.rally_points[0].alt_m == 30.0
    assert validate(m).ok


# ----------------------------------------------------------------- QGroundControl JSON files


def test_legacy_json_mission_files_are_read(tmp_path: Path) -> None:
    """QGroundControl's .mission files before 3.2 are JSON: they were read as waypoint text
    ('first line must be QGC WPL 110')."""
    v2 = {
        "firmwareType": 3,
        "groundStation": "QGroundControl",
        "items": [
            {
                "autoContinue": True,
                "command": 22,
                "coordinate": [47.6601377, -122.2941193, 20],
                "doJumpId": 1,
                "frame": 3,
                "params": [0, 0, 0, 0],
                "type": "SimpleItem",
            },
            {
                "autoContinue": True,
                "command": 16,
                "coordinate": [47.6602394, -122.2937156, 25],
                "doJumpId": 2,
                "frame": 3,
                "params": [0, 0, 0, 0],
                "type": "SimpleItem",
            },
            {
                "autoContinue": True,
                "command": 177,
                "coordinate": [0, 0, 0],
                "doJumpId": 3,
                "frame": 2,
                "params": [2, 1, 0, 0],
                "type": "SimpleItem",
            },
        ],
        "plannedHomePosition": [47.6601377, -122.2941193, 12.5],
        "version": 2,
    }
    m = load_mission(_write(tmp_path, "v2.mission", json.dumps(v2)))
    assert [it.command for it in m.items] == [22, 16, 177]
    assert m.items[1].lat_deg == 47.6602394 and m.items[1].alt_m == 25
    assert m.items[2].param1 == 1.0  # doJumpId 2 is item 1
    assert m.home == pytest.approx((-122.2941193, 47.6601377, 12.5))
    assert m.autopilot == 3

    def v1_item(i: int, cmd: int, lat: float, lon: float, alt: float, frame: int) -> dict:
        return {
            "autoContinue": True,
            "command": cmd,
            "coordinate": [lat, lon, alt],
            "frame": frame,
            "id": i,
            "param1": 0,
            "param2": 0,
            "param3": 0,
            "param4": 0,
            "type": "missionItem",
        }

    v1 = {
        "MAV_AUTOPILOT": 3,
        "groundStation": "QGroundControl",
        "items": [v1_item(1, 16, 34.469587, -112.534801, 90, 3)],
        "plannedHomePosition": v1_item(0, 16, 34.577822, -112.469101, 584.38, 0),
        "version": "1.0",
    }
    m1 = load_mission(_write(tmp_path, "v1.mission", json.dumps(v1)))
    assert [(it.command, it.alt_m) for it in m1.items] == [(16, 90)]
    assert m1.home == pytest.approx((-112.469101, 34.577822, 584.38))


def _plan(items: list[dict], **extra: object) -> str:
    mission = {
        "items": items,
        "plannedHomePosition": [47.633389, -122.090763, 20],
        "vehicleType": 2,
        "version": 2,
    }
    mission.update(extra.pop("mission", {}))  # type: ignore[call-overload]
    return json.dumps({"fileType": "Plan", "version": 1, "mission": mission, **extra})


def test_plan_item_with_coordinate_and_four_params(tmp_path: Path) -> None:
    """QGroundControl's own SectionTest.plan keeps items as 4 'params' plus a 'coordinate',
    which QGroundControl still reads: it was refused ('needs params with 7 values')."""
    item = {
        "autoContinue": True,
        "command": 16,
        "coordinate": [47.63369112, -122.08925023, 20],
        "doJumpId": 1,
        "frame": 3,
        "params": [0, 0, 0, None],
        "type": "SimpleItem",
    }
    m = load_mission(_write(tmp_path, "section.plan", _plan([item])))
    it = m.items[0]
    assert (it.lat_deg, it.lon_deg, it.alt_m, it.frame) == (47.63369112, -122.08925023, 20, 3)


def test_plan_unknown_mission_version_is_refused(tmp_path: Path) -> None:
    item = {
        "command": 16,
        "frame": 3,
        "params": [0, 0, 0, 0, 47.6, -122.0, 20],
        "type": "SimpleItem",
    }
    p = _write(tmp_path, "v7.plan", _plan([item], mission={"version": 7}))
    with pytest.raises(BadInputError, match="unsupported mission version 7"):
        load_mission(p)


def test_plan_geofence_version_1_polygon_is_kept(tmp_path: Path) -> None:
    """Plans of QGroundControl 3.x keep one fence polygon under 'geoFence.polygon': it was
    ignored, so a mission leaving that fence passed."""
    items = [
        {
            "command": 16,
            "frame": 3,
            "params": [0, 0, 0, 0, lat, lon, 20],
            "type": "SimpleItem",
            "doJumpId": k + 1,
        }
        for k, (lat, lon) in enumerate([(47.6334, -122.0905), (47.6400, -122.0905)])
    ]
    fence = {"polygon": [[47.632, -122.092], [47.635, -122.092], [47.635, -122.089]], "version": 1}
    m = load_mission(_write(tmp_path, "fence1.plan", _plan(items, geoFence=fence)))
    assert len(m.fence_polygons) == 1 and m.fence_polygons[0].inclusion
    assert "geofence" in {v.rule for v in validate(m).violations}


def test_plan_complex_item_qgc_does_not_store_is_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A StructureScan keeps no generated items in any QGroundControl version: the error told
    the pilot to re-save the plan in QGroundControl 4.x, which does not help."""
    scan = {
        "type": "ComplexItem",
        "complexItemType": "StructureScan",
        "polygon": [[47.398, 8.546], [47.398, 8.547], [47.397, 8.546]],
        "version": 3,
    }
    p = _write(tmp_path, "scan.plan", _plan([scan]))
    code = main(["plan", "validate", str(p)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "StructureScan" in err[0] and "does not store its waypoints" in err[0]
    assert "scan.plan" in err[0] and "4.x" not in err[0]


def test_plan_home_at_zero_zero_is_no_home(tmp_path: Path) -> None:
    """A generator's plan with home [0, 0, 0] and only a camera command was 'OK' at 0°N 0°E."""
    item = {"command": 203, "frame": 2, "params": [1, 0, 0, 0, 1, 0, 0], "type": "SimpleItem"}
    p = _write(tmp_path, "digicam.plan", _plan([item], mission={"plannedHomePosition": [0, 0, 0]}))
    with pytest.raises(BadInputError, match="no home and no positioned items"):
        load_mission(p)


# ------------------------------------------------------------------------------ DJI WPML KMZ

_WPML_NS = 'xmlns="http://www.opengis.net/kml/2.2" xmlns:wpml="http://www.dji.com/wpmz/1.0.6"'


def _placemark(k: int, lon: float, lat: float, body: str) -> str:
    return (
        f"<Placemark><Point><coordinates>{lon},{lat}</coordinates></Point>"
        f"<wpml:index>{k}</wpml:index>{body}</Placemark>"
    )


def _kmz(path: Path, members: dict[str, str]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    path.write_bytes(buf.getvalue())
    return path


def _dji_route(prefix: str) -> dict[str, str]:
    """DJI Pilot 2's export: waylines in WGS84 ellipsoid heights, the template above ground."""
    config = (
        "<wpml:missionConfig><wpml:finishAction>goHome</wpml:finishAction>"
        "<wpml:takeOffSecurityHeight>10</wpml:takeOffSecurityHeight>"
        "<wpml:takeOffRefPoint>48.190141,11.499985,541.27</wpml:takeOffRefPoint>"
        "</wpml:missionConfig>"
    )
    pts = [(11.499985, 48.190141), (11.500300, 48.190300)]
    waylines = "".join(
        _placemark(k, lon, lat, "<wpml:executeHeight>561.3</wpml:executeHeight>")
        for k, (lon, lat) in enumerate(pts)
    )
    template = "".join(
        _placemark(
            k,
            lon,
            lat,
            "<wpml:height>5</wpml:height><wpml:useGlobalHeight>1</wpml:useGlobalHeight>",
        )
        for k, (lon, lat) in enumerate(pts)
    )
    return {
        f"{prefix}waylines.wpml": f"<kml {_WPML_NS}><Document>{config}<Folder>"
        "<wpml:executeHeightMode>WGS84</wpml:executeHeightMode>"
        f"<wpml:autoFlightSpeed>5</wpml:autoFlightSpeed>{waylines}</Folder></Document></kml>",
        f"{prefix}template.kml": f"<kml {_WPML_NS}><Document>{config}<Folder>"
        "<wpml:templateType>waypoint</wpml:templateType><wpml:waylineCoordinateSysParam>"
        "<wpml:heightMode>aboveGroundLevel</wpml:heightMode></wpml:waylineCoordinateSysParam>"
        "<wpml:autoFlightSpeed>5</wpml:autoFlightSpeed><wpml:globalHeight>20</wpml:globalHeight>"
        f"{template}</Folder></Document></kml>",
    }


@pytest.mark.parametrize("prefix", ["wpmz/", ""])
def test_wpml_in_ellipsoid_heights_is_read_from_its_template(tmp_path: Path, prefix: str) -> None:
    """DJI Pilot 2 writes waylines in WGS84 ellipsoid heights: the route was refused although
    the template holds it with the heights the pilot planned (here 20 m above ground, the
    route's global height). Members at the archive's root were read as a plain KML."""
    m = load_mission(_kmz(tmp_path / f"dji{len(prefix)}.kmz", _dji_route(prefix)))
    wps = [it for it in m.items if it.command == 16]
    assert len(wps) == 2 and all(it.frame == 10 and it.alt_m == 20 for it in wps)
    assert m.home is not None and m.home[:2] == pytest.approx((11.499985, 48.190141))
    assert m.home[2] == 0.0  # the take-off point's height is ellipsoidal: its altitude unknown


def test_wpml_in_ellipsoid_heights_without_a_usable_template_is_refused(tmp_path: Path) -> None:
    members = _dji_route("wpmz/")
    members["wpmz/template.kml"] = (
        f"<kml {_WPML_NS}><Document><wpml:missionConfig/></Document></kml>"
    )
    with pytest.raises(BadInputError, match=r"'WGS84' is not supported.*ellipsoid"):
        load_mission(_kmz(tmp_path / "wgs84.kmz", members))


# ---------------------------------------------------------------------------------- validation


def test_takeoff_in_a_frame_without_datum_is_named_as_such(tmp_path: Path) -> None:
    """QGroundControl's old .mission files take off in frame 2 (MAV_FRAME_MISSION) at the
    current position: the report said 'resolve above terrain with a DEM' instead of naming
    the frame."""
    p = _write(
        tmp_path,
        "old.waypoints",
        "QGC WPL 110\n" + HOME + "1\t0\t2\t22\t0\t0\t0\t0\t0\t0\t30\t1\n"
        "2\t0\t3\t16\t0\t0\t0\t0\t-35.3620\t149.1652\t30\t1\n",
    )
    rep = validate(load_mission(p))
    first = next(v for v in rep.violations if v.item_index == 0)
    assert first.rule == "altitude_unresolved" and "no altitude datum" in first.message
