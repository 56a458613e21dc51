"""The guard walks a mission as the firmware that flies it flies each item.

At the flying doors (``fly``, the GUI's upload) that is the vehicle's autopilot, whatever the
plan file says it was written for: a Mission Planner ``.waypoints`` file states no autopilot and
was walked as PX4 flies it (its default), so on an ArduCopter an altitude-0 waypoint ("keep the
altitude") was refused as a descent to the ground, a take-off placed away from the launch point
was walked as a flight to it, and circles left from their centre. A ``.waypoints`` file with a
home line (ArduPilot's layout) now reads as ArduPilot, and our writer records the autopilot in
the file's sidecar.
"""

from __future__ import annotations

from pathlib import Path

from dronekit_plzen.mission_items import (
    CMD_NAV_LAND,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
    MissionItem,
)
from missions.clearance import clear_for_flight
from missions.formats import load_mission, save_mission
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission

from .conftest import GROUND_M, ORIGIN

LON, LAT = ORIGIN
MISSION_PLANNER = Path(__file__).parents[2] / "../shared/data/missions/qgc_MissionPlanner.waypoints"


def _keep_altitude_mission(autopilot: int) -> Mission:
    """Take-off to 30 m, a waypoint 200 m north at altitude 0 (ArduPilot: keep 30 m; PX4: down
    to the home's height), a landing there."""
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL_RELATIVE_ALT, alt_m=30.0),
        MissionItem(
            command=CMD_NAV_WAYPOINT,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=LAT + 200.0 / 111_200.0,
            lon_deg=LON,
            alt_m=0.0,
        ),
        MissionItem(command=CMD_NAV_LAND),
    ]
    m = Mission(items=items, home=(LON, LAT, GROUND_M))
    m.autopilot = autopilot
    return m


def test_the_vehicle_s_autopilot_is_the_one_walked() -> None:
    m = _keep_altitude_mission(AUTOPILOT_PX4)
    as_planned = clear_for_flight(m, raise_on_unsafe=False)
    assert not as_planned.sorties[0].report.ok  # PX4: down to the ground on the way north
    flown = clear_for_flight(m, raise_on_unsafe=False, flown_by="ardupilot")
    assert flown.sorties[0].report.ok, flown.sorties[0].report.violations
    assert flown.sorties[0].mission.autopilot == AUTOPILOT_ARDUPILOT
    assert any("written for px4; checked as ardupilot flies it" in n for n in flown.notes)
    # and the other way round
    back = clear_for_flight(
        _keep_altitude_mission(AUTOPILOT_ARDUPILOT), raise_on_unsafe=False, flown_by="px4"
    )
    assert not back.sorties[0].report.ok
    same = clear_for_flight(m, raise_on_unsafe=False, flown_by="px4")
    assert not any("written for" in n for n in same.notes)


def test_waypoints_files_read_as_the_autopilot_they_are_written_for(tmp_path: Path) -> None:
    assert load_mission(MISSION_PLANNER).autopilot == AUTOPILOT_ARDUPILOT  # a home line
    old_qgc = tmp_path / "old.waypoints"  # QGC WPL 120: no home line
    old_qgc.write_text(
        "QGC WPL 120\n0\t1\t3\t22\t0\t0\t0\t0\t0\t0\t20\t1\n"
        f"1\t0\t3\t16\t0\t0\t0\t0\t{LAT + 0.001}\t{LON}\t20\t1\n"
    )
    assert load_mission(old_qgc).autopilot == AUTOPILOT_PX4
    for ap in (AUTOPILOT_PX4, AUTOPILOT_ARDUPILOT):  # ours: recorded beside the file
        p = save_mission(_keep_altitude_mission(ap), tmp_path / f"m{ap}.waypoints")
        back = load_mission(p)
        assert back.autopilot == ap and "autopilot" not in back.metadata


def test_plan_validate_walks_it_as_the_named_vehicle_s_autopilot(tmp_path: Path) -> None:
    from .conftest import run_cli

    plan = save_mission(_keep_altitude_mission(AUTOPILOT_PX4), tmp_path / "keep.plan")
    code, _out, err = run_cli("plan", "validate", str(plan))
    assert code == 3, err
    code, _out, err = run_cli("plan", "validate", str(plan), "--vehicle", "ardupilot-quad")
    assert code == 0, err
    assert "checked as ardupilot flies it" in err
