"""Mission files that read or wrote something other than they said (found from outside in
session 43: every one exited 0). Each test fails on the code before the fix."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import pytest

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.mission_items import (
    CMD_IMAGE_START_CAPTURE,
    CMD_IMAGE_STOP_CAPTURE,
    CMD_NAV_LAND,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    CMD_VIDEO_START_CAPTURE,
    FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT,
    MissionItem,
)
from missions.formats import load_mission, save_mission
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, FencePolygon, Mission
from missions.validation import validate

HOME = (13.3776, 49.7475, 310.0)  # lon, lat, AMSL


def _wp(lat: float, lon: float, alt: float, frame: int = FRAME_GLOBAL_RELATIVE_ALT) -> MissionItem:
    return MissionItem(CMD_NAV_WAYPOINT, frame, lat_deg=lat, lon_deg=lon, alt_m=alt)


def _flight(*tail: MissionItem) -> Mission:
    """A take-off to 30 m, two waypoints 50 m above home, then ``tail``."""
    return Mission(
        home=HOME,
        items=[
            MissionItem(CMD_NAV_TAKEOFF, FRAME_GLOBAL_RELATIVE_ALT, alt_m=30.0),
            _wp(49.748, 13.378, 50.0),
            _wp(49.749, 13.379, 50.0),
            *tail,
        ],
    )


def test_a_wpml_takeoff_above_sea_level_is_written_above_the_takeoff_point(tmp_path: Path):
    # 340 m AMSL over a home at 310 m had been written as takeOffSecurityHeight 340 (above the
    # take-off point), and the toolkit's own reader then found the plan 340 m high: unsafe
    m = Mission(
        home=HOME,
        items=[
            MissionItem(CMD_NAV_TAKEOFF, FRAME_GLOBAL, alt_m=340.0),
            _wp(49.748, 13.378, 360.0, FRAME_GLOBAL),
            _wp(49.749, 13.379, 360.0, FRAME_GLOBAL),
            MissionItem(CMD_NAV_RETURN_TO_LAUNCH, 2),
        ],
    )
    out = tmp_path / "m.kmz"
    save_mission(m, out, "wpml")
    with zipfile.ZipFile(out) as z:
        wpml = next(z.read(n).decode() for n in z.namelist() if n.endswith("waylines.wpml"))
    assert "<wpml:takeOffSecurityHeight>30" in wpml
    back = load_mission(out)
    takeoff = next(it for it in back.items if it.command == CMD_NAV_TAKEOFF)
    assert takeoff.alt_m == pytest.approx(30.0) and takeoff.frame == FRAME_GLOBAL_RELATIVE_ALT
    assert validate(back).ok


def test_a_land_with_a_place_of_its_own_is_the_wpml_last_waypoint(tmp_path: Path):
    # DJI's autoLand lands where the wayline ends: a LAND 650 m on had been dropped
    land = MissionItem(CMD_NAV_LAND, FRAME_GLOBAL_RELATIVE_ALT, lat_deg=49.75, lon_deg=13.37)
    for last, extra in ((land, 1), (MissionItem(CMD_NAV_LAND, FRAME_GLOBAL_RELATIVE_ALT), 0)):
        m = _flight(last)
        out = tmp_path / f"land{extra}.kmz"
        save_mission(m, out, "wpml")
        back = load_mission(out)
        wps = [it for it in back.items if it.command == CMD_NAV_WAYPOINT]
        assert len(wps) == 2 + extra and back.items[-1].command == CMD_NAV_LAND
        if extra:  # at the landing place, at the height of the waypoint before it
            assert (wps[-1].lat_deg, wps[-1].lon_deg) == pytest.approx((49.75, 13.37))
            assert wps[-1].alt_m == pytest.approx(50.0)


@pytest.mark.parametrize("autopilot", [AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4])
def test_a_csv_keeps_the_autopilot_and_with_it_the_guards_verdict(
    tmp_path: Path, autopilot: int
) -> None:
    # CSV had been read back as PX4 whatever it was written for; ArduPilot's inclusion fences
    # must all hold the path, PX4's any one: an unsafe ArduPilot plan came back "OK"
    square = ((13.376, 49.746), (13.380, 49.746), (13.380, 49.750), (13.376, 49.750))
    west = ((13.376, 49.746), (13.3785, 49.746), (13.3785, 49.750), (13.376, 49.750))
    m = Mission(
        home=HOME,
        autopilot=autopilot,
        items=[
            MissionItem(CMD_NAV_TAKEOFF, FRAME_GLOBAL_RELATIVE_ALT, alt_m=30.0),
            _wp(49.748, 13.3782, 40.0),
            _wp(49.7485, 13.3795, 40.0),  # outside the western fence, inside the square
            MissionItem(CMD_NAV_RETURN_TO_LAUNCH, 2),
        ],
        fence_polygons=[FencePolygon(square, True), FencePolygon(west, True)],
    )
    out = tmp_path / "m.csv"
    save_mission(m, out)
    back = load_mission(out)
    assert back.autopilot == autopilot
    assert validate(back).ok == validate(m).ok == (autopilot == AUTOPILOT_PX4)


def test_a_csv_altitude_keeps_its_datum(tmp_path: Path) -> None:
    head = "kind,command,frame,lat_deg,lon_deg,alt_m,alt_datum\n"
    home = "home,16,0,49.7475,13.3776,250,AMSL\n"
    # no frame column: the datum column says it (it had been taken above home: 90 m AMSL,
    # 160 m below the home, "OK, max 90 m above ground")
    (tmp_path / "amsl.csv").write_text(
        "kind,command,lat_deg,lon_deg,alt_m,alt_datum\nhome,16,49.7475,13.3776,250,AMSL\n"
        "mission,16,49.748,13.378,90,AMSL\n"
    )
    m = load_mission(tmp_path / "amsl.csv")
    assert m.items[0].frame == FRAME_GLOBAL and m.items[0].alt_m == 90.0
    assert not validate(m).ok
    for name, row, why in (
        ("conflict", "mission,16,3,49.748,13.378,90,AMSL\n", "frame 3 is above home, but "),
        ("unknown", "mission,16,,49.748,13.378,90,sea\n", "alt_datum 'sea' is not one of"),
    ):
        (tmp_path / f"{name}.csv").write_text(head + home + row)
        with pytest.raises(BadInputError, match=why):
            load_mission(tmp_path / f"{name}.csv")
    (tmp_path / "none.csv").write_text(
        "kind,command,lat_deg,lon_deg,alt_m\nmission,16,49.748,13.378,90\n"
    )
    with pytest.raises(BadInputError, match="the item's altitude has no datum"):
        load_mission(tmp_path / "none.csv")


def test_dji_timed_photos_and_video_are_read_and_other_actions_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a photo every 2 s, a video start and a gimbal turn had all been dropped without a word
    def group(gid: int, end: int, trigger: str, actions: str, param: str = "") -> str:
        p = f"<wpml:actionTriggerParam>{param}</wpml:actionTriggerParam>" if param else ""
        return (
            f"<wpml:actionGroup><wpml:actionGroupId>{gid}</wpml:actionGroupId>"
            f"<wpml:actionGroupStartIndex>0</wpml:actionGroupStartIndex>"
            f"<wpml:actionGroupEndIndex>{end}</wpml:actionGroupEndIndex>"
            f"<wpml:actionTrigger><wpml:actionTriggerType>{trigger}</wpml:actionTriggerType>{p}"
            f"</wpml:actionTrigger>{actions}</wpml:actionGroup>"
        )

    def action(func: str) -> str:
        func = f"<wpml:actionActuatorFunc>{func}</wpml:actionActuatorFunc>"
        return f"<wpml:action>{func}</wpml:action>"

    def placemark(i: int, lon: float, lat: float, groups: str = "") -> str:
        return (
            f"<Placemark><Point><coordinates>{lon},{lat}</coordinates></Point>"
            f"<wpml:index>{i}</wpml:index><wpml:executeHeight>60</wpml:executeHeight>"
            f"<wpml:waypointSpeed>8</wpml:waypointSpeed>{groups}</Placemark>"
        )

    first = placemark(
        0,
        13.378,
        49.748,
        group(0, 1, "multipleTiming", action("takePhoto"), "2")
        + group(1, 0, "reachPoint", action("startRecord") + action("gimbalRotate")),
    )
    wpml = (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2" '
        'xmlns:wpml="http://www.dji.com/wpmz/1.0.2"><Document><wpml:missionConfig>'
        "<wpml:finishAction>goHome</wpml:finishAction>"
        "<wpml:takeOffSecurityHeight>20</wpml:takeOffSecurityHeight></wpml:missionConfig>"
        "<Folder><wpml:executeHeightMode>relativeToStartPoint</wpml:executeHeightMode>"
        f"<wpml:autoFlightSpeed>8</wpml:autoFlightSpeed>{first}"
        f"{placemark(1, 13.379, 49.749)}</Folder></Document></kml>"
    )
    kmz = tmp_path / "dji.kmz"
    with zipfile.ZipFile(kmz, "w") as z:
        z.writestr("wpmz/waylines.wpml", wpml)
    with caplog.at_level(logging.WARNING):
        m = load_mission(kmz)
    cmds = [it.command for it in m.items]
    assert cmds == [
        CMD_NAV_TAKEOFF,
        CMD_NAV_WAYPOINT,
        CMD_VIDEO_START_CAPTURE,
        CMD_IMAGE_START_CAPTURE,
        CMD_NAV_WAYPOINT,
        CMD_IMAGE_STOP_CAPTURE,
        CMD_NAV_RETURN_TO_LAUNCH,
    ]
    timed = m.items[3]
    assert timed.param2 == 2.0 and timed.param3 == 0.0  # every 2 s, until stopped
    assert "gimbalRotate (reachPoint, waypoint 0)" in caplog.text


@pytest.mark.parametrize("fmt", ["geojson", "kml"])
def test_a_point_moved_in_a_gis_is_read_where_it_was_moved(
    tmp_path: Path, fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    # the recorded fields had won over the point the user had dragged in QGIS
    m = _flight()
    out = tmp_path / f"m.{fmt}"
    save_mission(m, out)
    assert load_mission(out).items[1].lat_deg == 49.748  # unmoved: as recorded, no warning
    assert "was moved" not in caplog.text
    text = out.read_text()
    if fmt == "geojson":
        doc = json.loads(text)
        for f in doc["features"]:
            if f["properties"].get("role") == "item" and f["properties"].get("index") == 1:
                f["geometry"]["coordinates"] = [13.4, 49.76]
        out.write_text(json.dumps(doc))
    else:  # the item's Point, not the path's line through it
        from lxml import etree

        kml = "{http://www.opengis.net/kml/2.2}"
        root = etree.fromstring(out.read_bytes())
        for pm in root.iter(f"{kml}Placemark"):
            data = {d.get("name"): d.findtext(f"{kml}value") for d in pm.iter(f"{kml}Data")}
            point = pm.find(f"{kml}Point/{kml}coordinates")
            if data.get("dkp_index") == "1" and point is not None:
                point.text = point.text.replace("13.378,49.748,", "13.4,49.76,")
        out.write_bytes(etree.tostring(root))
    with caplog.at_level(logging.WARNING):
        back = load_mission(out)
    assert (back.items[1].lat_deg, back.items[1].lon_deg) == (49.76, 13.4)
    assert "the point was moved to 49.7600000, 13.4000000" in caplog.text


def test_a_mission_that_flies_nowhere_says_so() -> None:
    report = validate(Mission(home=HOME, items=[]))
    assert "the mission has no item that flies the aircraft: nothing to fly" in report.notes
