"""Every command of a mission is either flown on paper by the guard, known not to move the
aircraft, or refused as unchecked: a spline waypoint at 400 m or an unknown command number
must never pass as OK (both did: the guard skipped any command it did not model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dronekit_plzen.mission_items import (
    CMD_DO_SET_ROI,
    CMD_IMAGE_START_CAPTURE,
    CMD_NAV_LOITER_TO_ALT,
    CMD_NAV_PAYLOAD_PLACE,
    CMD_NAV_SPLINE_WAYPOINT,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
    MissionItem,
)
from missions.model import Mission
from missions.trajectory import trajectory
from missions.validation import validate

from .conftest import GROUND_M, ORIGIN, last_error, offset, run_cli, simple_items


def _mission(extra: MissionItem, at: int = 2) -> Mission:
    items = simple_items(ORIGIN, [offset(ORIGIN, 100, 0), offset(ORIGIN, 200, 0)], 60.0)
    items.insert(at, extra)
    return Mission(items=items, home=(ORIGIN[0], ORIGIN[1], GROUND_M))


def _placed(command: int, alt_m: float, east_m: float = 150.0, **params: float) -> MissionItem:
    lon, lat = offset(ORIGIN, east_m, 0)
    return MissionItem(
        command=command,
        frame=FRAME_GLOBAL_RELATIVE_ALT,
        lon_deg=lon,
        lat_deg=lat,
        alt_m=alt_m,
        **params,
    )


@pytest.mark.parametrize("command", [CMD_NAV_SPLINE_WAYPOINT, CMD_NAV_LOITER_TO_ALT])
def test_positioned_nav_commands_are_flown_and_checked(command: int) -> None:
    """ArduCopter flies a spline waypoint (82) to its position: at 400 m it breaks 120 m AGL."""
    rep = validate(_mission(_placed(command, 400.0)))
    assert not rep.ok
    high = [v for v in rep.violations if v.rule == "max_agl"]
    assert high and high[0].item_index == 2
    # the spline's 3-D curve climbs past 400 m before it turns down to the next waypoint
    assert high[0].value == pytest.approx(400.0, abs=1) or (command == 82 and high[0].value > 400)
    assert validate(_mission(_placed(command, 60.0))).ok


def test_a_spline_leg_reaches_its_position_along_the_firmwares_curve() -> None:
    tr = trajectory(_mission(_placed(CMD_NAV_SPLINE_WAYPOINT, 60.0, east_m=900.0)))
    east = tr.x[tr.item == 2] - tr.home_xy[0]
    assert east[-1] == pytest.approx(900.0, abs=1.0)
    # it arrives heading back west, to the next waypoint at 200 m: out past 900 m first
    assert east.max() > 920.0
    assert not any("spline" in n for n in tr.notes)  # the curve is flown, not a straight line


def _corner_mission(fence: bool) -> Mission:
    """The mission of the real-firmware check (``test_spline_flown_as_the_guard_predicts``):
    a waypoint 100 m north, splines to 100 m north 100 m east and to 100 m east, back home;
    ArduCopter 4.7 SITL flew its corner out to 125.5 m north."""

    def at(cmd: int, east: float, north: float) -> MissionItem:
        lon, lat = offset(ORIGIN, east, north)
        return MissionItem(command=cmd, frame=3, lon_deg=lon, lat_deg=lat, alt_m=20.0)

    items = simple_items(ORIGIN, [offset(ORIGIN, 0, 100)], 20.0)
    items[2:2] = [
        at(CMD_NAV_SPLINE_WAYPOINT, 100, 100),
        at(CMD_NAV_SPLINE_WAYPOINT, 100, 0),
        at(CMD_NAV_WAYPOINT, 0, 0),
    ]
    m = Mission(items=items, home=(ORIGIN[0], ORIGIN[1], GROUND_M))
    if fence:  # 115 m north: the waypoints and straight legs inside, the curve's corner not
        from missions.model import FencePolygon

        corners = [(-20, -20), (120, -20), (120, 115), (-20, 115)]
        m.fence_polygons = [FencePolygon(tuple(offset(ORIGIN, e, n) for e, n in corners))]
    return m


def test_the_spline_corner_is_checked_where_the_firmware_flies_it() -> None:
    tr = trajectory(_corner_mission(fence=False))
    north = tr.y[(tr.item == 2) | (tr.item == 3)] - tr.home_xy[1]
    assert north.max() == pytest.approx(125.0, abs=1.5)  # flown: 125.5 m
    rep = validate(_corner_mission(fence=True))
    fence = [v for v in rep.violations if v.rule == "geofence"]
    assert fence and fence[0].item_index == 2, rep.violations


def test_payload_place_descends_to_the_ground_and_climbs_back() -> None:
    m = _mission(_placed(CMD_NAV_PAYLOAD_PLACE, 60.0, param1=0.0))
    tr = trajectory(m)
    at = tr.item == 2
    assert tr.alt[at].min() == pytest.approx(GROUND_M, abs=0.01)
    assert tr.alt[at][-1] == pytest.approx(GROUND_M + 60.0)
    limited = trajectory(_mission(_placed(CMD_NAV_PAYLOAD_PLACE, 60.0, param1=20.0)))
    assert limited.alt[limited.item == 2].min() == pytest.approx(GROUND_M + 40.0, abs=0.01)
    assert validate(m).ok  # the descent is a landing-like phase, not a clearance breach


@pytest.mark.parametrize(
    "command", [CMD_DO_SET_ROI, CMD_IMAGE_START_CAPTURE, 178, 112, 115, 206, 2500, 42600]
)
def test_commands_that_do_not_move_the_aircraft_pass(command: int) -> None:
    assert validate(_mission(MissionItem(command=command, param1=1.0))).ok


@pytest.mark.parametrize(
    ("command", "name"),
    [(30999, "30999"), (176, "DO_SET_MODE (176)"), (179, "DO_SET_HOME (179)"),
     (92, "NAV_GUIDED_ENABLE (92)"), (207, "DO_FENCE_ENABLE (207)"), (601, "DO_JUMP_TAG (601)")],
)  # fmt: skip
def test_commands_the_guard_cannot_fly_are_unsafe(command: int, name: str) -> None:
    rep = validate(_mission(MissionItem(command=command)))
    bad = [v for v in rep.violations if v.rule == "unchecked_command"]
    assert not rep.ok and len(bad) == 1
    assert bad[0].item_index == 2 and name in bad[0].message
    assert "commands" in rep.checked


def test_plan_validate_refuses_an_unknown_command_and_convert_records_the_override(
    tmp_path: Path,
) -> None:
    """The CLI door: exit 3 with the item named; writing it needs an override, recorded."""
    lon, lat = offset(ORIGIN, 100, 0)
    wpl = tmp_path / "odd.waypoints"
    rows = [
        f"0\t1\t0\t{CMD_NAV_WAYPOINT}\t0\t0\t0\t0\t{ORIGIN[1]:.7f}\t{ORIGIN[0]:.7f}\t{GROUND_M}\t1",
        "1\t0\t3\t22\t0\t0\t0\t0\t0\t0\t30\t1",
        f"2\t0\t3\t{CMD_NAV_WAYPOINT}\t0\t0\t0\t0\t{lat:.7f}\t{lon:.7f}\t40\t1",
        "3\t0\t3\t30999\t0\t0\t0\t0\t0\t0\t0\t1",
        "4\t0\t3\t20\t0\t0\t0\t0\t0\t0\t0\t1",
    ]
    wpl.write_text("QGC WPL 110\n" + "\n".join(rows) + "\n")
    code, out, err = run_cli("plan", "validate", str(wpl), "--json")
    assert code == 3, err
    rep = json.loads(out)
    assert [(v["rule"], v["item_index"]) for v in rep["violations"]] == [("unchecked_command", 2)]
    assert "unchecked_command" in last_error(err) and "30999" in last_error(err)
    dest = tmp_path / "odd.plan"
    code, _o, err = run_cli("plan", "convert", str(wpl), str(dest))
    assert code == 3 and not dest.exists(), err
    code, _o, err = run_cli(
        "plan", "convert", str(wpl), str(dest), "--override-safety", "--reason", "test rig"
    )
    assert code == 0, err
    plan = json.loads(dest.read_text())
    assert [i["command"] for i in plan["mission"]["items"]][2] == 30999
    assert "test rig" in json.dumps(plan)


@pytest.mark.parametrize(("repeat", "rules"), [(3, ["max_agl"]), (30_000, ["unchecked_command"])])
def test_items_after_a_do_jump_loop_are_checked_or_the_plan_is_unsafe(
    repeat: int, rules: list[str]
) -> None:
    """A 400 m waypoint after a loop repeated 60,000 times was never reached on paper, and the
    mission passed as OK with a note; now it is checked, or refused when the walk cannot end
    (here 30,000 times round four items: ArduPilot's repeat count is an int16)."""
    items = simple_items(ORIGIN, [offset(ORIGIN, 100, 0), offset(ORIGIN, 110, 0)], 40.0)
    items.insert(3, MissionItem(command=177, param1=0, param2=repeat, frame=2))  # DO_JUMP
    lon, lat = offset(ORIGIN, 200, 0)
    items.insert(4, MissionItem(command=CMD_NAV_WAYPOINT, lon_deg=lon, lat_deg=lat, alt_m=400.0))
    rep = validate(Mission(items=items, home=(ORIGIN[0], ORIGIN[1], GROUND_M)))
    assert sorted({v.rule for v in rep.violations}) == rules
    if repeat > 3:
        (bad,) = rep.violations
        assert "not to its end" in bad.message and bad.item_index in (0, 1, 2, 3)


@pytest.mark.parametrize(("alt_m", "rules"), [(400.0, ["max_agl"]), (0.0, [])])
def test_a_waypoint_without_a_position_is_flown_where_the_aircraft_is(
    alt_m: float, rules: list[str]
) -> None:
    """Latitude = longitude = 0: ArduCopter climbs in place to the altitude (0: keeps its own).
    The guard skipped such items, so a 400 m climb passed as OK."""
    here = MissionItem(command=CMD_NAV_WAYPOINT, alt_m=alt_m)
    m = _mission(here)
    rep = validate(m)
    assert sorted({v.rule for v in rep.violations}) == rules
    tr = trajectory(m)
    at = tr.item == 2
    assert tr.alt[at][-1] == pytest.approx(GROUND_M + (alt_m or 60.0))
    assert tr.x[at][-1] == pytest.approx(tr.x[tr.item == 1][-1])  # where item 1 left it


def test_a_loiter_circle_is_checked_all_the_way_round() -> None:
    """LOITER_TURNS with a 300 m radius 100 m from home: the circle reaches 400 m from home.
    Only its centre was checked, so a 250 m distance limit passed."""
    lon, lat = offset(ORIGIN, 100, 0)
    circle = MissionItem(
        command=18, param1=2, param3=300.0, lon_deg=lon, lat_deg=lat, alt_m=60.0
    )  # NAV_LOITER_TURNS
    m = _mission(circle)
    far = [v for v in validate(m, max_distance_m=250.0).violations if v.rule == "max_distance"]
    assert far and far[0].value == pytest.approx(400.0, abs=2.0)
    assert validate(m, max_distance_m=420.0).ok
    tr = trajectory(m)
    at = tr.item == 2
    r = np.hypot(tr.x[at] - (tr.home_xy[0] + 100), tr.y[at] - tr.home_xy[1])
    assert r.max() == pytest.approx(300.0, abs=0.5)
    plain = trajectory(_mission(circle.with_(param3=0.0)))  # CIRCLE_RADIUS 10 m
    assert plain.duration_s < tr.duration_s
