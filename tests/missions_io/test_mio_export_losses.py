"""Nothing a plan says is lost silently on export: each writer carries it, writes it beside the
file and says so, warns where the loss cannot change the flight, or refuses with one line.

In process: round trips per writer (write → read → same planning speed, fence, rally points,
jumps, or a refusal). Through the real CLI: one subprocess per case (the contract of
tests/test_bad_inputs.py): the exit code (2 bad input, 3 unsafe, 0 with a warning), exactly
one ``error:`` line (or one ``WARNING`` line) matching the case, no traceback, and only the
expected files written.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.mission_items import MissionItem
from missions.formats import load_mission, save_mission
from missions.model import FenceCircle, FencePolygon, Mission, RallyPoint
from missions.validation import validate

HOME = (13.3776, 49.7475, 310.0)
A = (13.3790, 49.7480)
B = (13.3800, 49.7490)
C = (13.3785, 49.7495)
FENCE = FencePolygon(((13.370, 49.740), (13.390, 49.740), (13.390, 49.760), (13.370, 49.760)))
KEEP_OUT = FenceCircle((13.3830, 49.7500), 40.0, inclusion=False)
RALLY = RallyPoint(13.3770, 49.7470, 30.0)


def _wp(p: tuple[float, float], alt: float = 50.0, cmd: int = 16, **kw: float) -> MissionItem:
    return MissionItem(cmd, 3, lon_deg=p[0], lat_deg=p[1], alt_m=alt, **kw)  # type: ignore[arg-type]


def _takeoff() -> MissionItem:
    return MissionItem(22, 3, lon_deg=HOME[0], lat_deg=HOME[1], alt_m=40.0)


def _mission(items: list[MissionItem], **kw: object) -> Mission:
    return Mission(items=items, home=HOME, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- planning speed


@pytest.mark.parametrize(
    ("vehicle_type", "cruise", "hover", "p1", "flown"),
    [
        (1, 14.0, 5.0, 0.0, 14.0),  # fixed wing: its cruise speed, as airspeed
        (2, 4.0, 5.0, 1.0, 4.0),  # quad planned slower than its hover speed: the cruise speed
        # QGC's multirotor defaults: the cruise speed the guard timed (never the slower hover
        # speed: the flight would last longer than the endurance check allowed); a vehicle
        # profile caps it (plan convert --vehicle)
        (2, 15.0, 5.0, 1.0, 15.0),
    ],
    ids=["fixed-wing", "quad-slow", "qgc-multirotor-defaults"],
)
def test_waypoints_command_the_planning_speed(
    tmp_path: Path, vehicle_type: int, cruise: float, hover: float, p1: float, flown: float
) -> None:
    """QGC WPL has no cruise speed: it was lost (read back as 10 m/s, ArduPilot flew its own
    default). The file now starts with QGroundControl's speed item, ArduPilot flies it, and
    reading it back gives the speed the guard then times every leg with."""
    m = _mission(
        [_takeoff(), _wp(A), _wp(B), MissionItem(20, 2)],
        vehicle_type=vehicle_type,
        cruise_speed_m_s=cruise,
        hover_speed_m_s=hover,
    )
    p = save_mission(m, tmp_path / "s.waypoints")
    line = p.read_text().splitlines()[2].split("\t")
    assert line[:4] == ["1", "0", "2", "178"]  # seq 1, frame MAV_FRAME_MISSION, DO_CHANGE_SPEED
    assert [float(v) for v in line[4:8]] == [p1, flown, -1.0, 0.0]
    back = load_mission(p)
    assert back.cruise_speed_m_s == flown and back.items[0].param2 == flown
    assert back.items[1:] == m.items
    if flown == cruise:  # the guard times the read-back file exactly as the plan
        assert validate(back).duration_s == pytest.approx(validate(m).duration_s)
    else:  # slower: never a shorter flight than the plan's
        assert validate(back).duration_s > validate(m).duration_s


def test_waypoints_speed_item_keeps_do_jump_targets(tmp_path: Path) -> None:
    m = _mission(
        [_takeoff(), _wp(A), _wp(B), MissionItem(177, 2, param1=1.0, param2=2.0)],
        cruise_speed_m_s=4.0,
    )
    back = load_mission(save_mission(m, tmp_path / "j.waypoints"))
    assert back.items[4].command == 177 and back.items[4].param1 == 2.0  # A, one later
    assert validate(back).duration_s == pytest.approx(validate(m).duration_s)


def test_waypoints_add_no_speed_nobody_stated(tmp_path: Path) -> None:
    """A mission that commands its speed keeps its items; a QGC WPL file without a speed
    command (Mission Planner's) is re-written without one: the model's default 10 m/s was not
    said by anyone, and ArduPilot keeps flying its own default speed."""
    planned = _mission([_takeoff(), MissionItem(178, 2, 1.0, 6.0, -1.0), _wp(A), _wp(B)])
    back = load_mission(save_mission(planned, tmp_path / "p.waypoints"))
    assert back.items == planned.items and back.cruise_speed_m_s == 6.0
    src = tmp_path / "mp.waypoints"
    src.write_text(
        "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t49.7475\t13.3776\t310\t1\n"
        "1\t0\t3\t16\t0\t0\t0\t0\t49.748\t13.379\t50\t1\n"
    )
    m = load_mission(src)
    out = save_mission(m, tmp_path / "again.waypoints")
    assert len(out.read_text().splitlines()) == 3
    # the same through a .plan (cruiseSpeed written) and back
    via = load_mission(save_mission(m, tmp_path / "via.plan"))
    assert [it.command for it in load_mission(save_mission(via, out)).items] == [16]


def test_csv_carries_cruise_and_hover_speed(tmp_path: Path) -> None:
    m = _mission([_takeoff(), _wp(A)], cruise_speed_m_s=7.5, hover_speed_m_s=3.0)
    p = save_mission(m, tmp_path / "s.csv")
    back = load_mission(p)
    assert (back.cruise_speed_m_s, back.hover_speed_m_s) == (7.5, 3.0)
    assert back.items == m.items
    # a CSV of an older version (no speed rows) says it stated no speed: none is invented
    old = tmp_path / "old.csv"
    old.write_text("".join(ln for ln in p.read_text().splitlines(True) if "speed," not in ln))
    assert load_mission(old).metadata == {"speed_source": "unknown"}
    bad = tmp_path / "bad.csv"
    bad.write_text(p.read_text().replace("178,2,0.0,7.5,", "178,2,0.0,-7.5,"))
    with pytest.raises(BadInputError, match=r"bad\.csv:\d+.*speed row needs a speed > 0"):
        load_mission(bad)


# ------------------------------------------------------------------- geofence, rally points


def test_waypoints_write_fence_and_rally_beside_the_mission(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """QGC WPL has no fence: the export dropped it, so the file read back passed a leg the
    fence forbids. Now Mission Planner's fence and rally files are written beside it (with a
    warning saying where), and reading the mission takes them back."""
    m = _mission(
        [_takeoff(), _wp(A), _wp(B)],
        fence_polygons=[FENCE],
        fence_circles=[KEEP_OUT],
        rally_points=[RALLY],
    )
    with caplog.at_level(logging.WARNING):
        p = save_mission(m, tmp_path / "f.waypoints")
    fence, rally = tmp_path / "f.fence.waypoints", tmp_path / "f.rally.waypoints"
    assert [r.getMessage() for r in caplog.records] == [
        f"a QGC WPL mission cannot hold the geofence: written to {fence}; upload it as the "
        "vehicle's fence (Mission Planner: Fence list, Load File)",
        f"a QGC WPL mission cannot hold rally points: written to {rally}; upload them as the "
        "vehicle's rally points (Mission Planner: Rally list, Load File)",
    ]
    assert {ln.split("\t")[3] for ln in fence.read_text().splitlines()[2:]} == {"5001", "5004"}
    assert rally.read_text().splitlines()[2].split("\t")[3] == "5100"
    assert "5001" not in p.read_text()  # the mission file stays uploadable as a mission
    back = load_mission(p)
    assert back.fence_polygons == [FENCE] and back.fence_circles == [KEEP_OUT]
    assert back.rally_points == [RALLY]
    # a leg out of the fence is still found in the read-back file
    out = _mission([_takeoff(), _wp((13.395, 49.75))], fence_polygons=[FENCE])
    again = load_mission(save_mission(out, tmp_path / "out.waypoints"))
    assert "geofence" in {v.rule for v in validate(again).violations}
    # written again without them: no stale fence or rally file is left to be read back
    save_mission(_mission([_takeoff(), _wp(A)]), p)
    assert not fence.exists() and not rally.exists()
    assert load_mission(p).fence_polygons == []


@pytest.mark.parametrize("fmt", ["plan", "waypoints", "kml", "kmz", "geojson", "csv"])
def test_fence_only_plan_round_trips(tmp_path: Path, fmt: str) -> None:
    """A plan of only a geofence (QGC saves them) written to KML or GeoJSON could not be read
    back ('no waypoints and no single LineString path')."""
    m = _mission([], fence_polygons=[FENCE], fence_circles=[KEEP_OUT], rally_points=[RALLY])
    ext = {"kmz": ".kmz", "waypoints": ".waypoints"}.get(fmt, f".{fmt}")
    back = load_mission(save_mission(m, tmp_path / f"fence{ext}", format=fmt), format=fmt)
    assert back.items == [] and back.home == pytest.approx(HOME)
    assert back.fence_polygons == [FENCE] and back.fence_circles == [KEEP_OUT]
    assert back.rally_points == [RALLY]


def test_wpml_keeps_fence_and_rally_and_says_dji_ignores_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    m = _mission(
        [_takeoff(), _wp(A), _wp(B)],
        fence_polygons=[FENCE],
        fence_circles=[KEEP_OUT],
        rally_points=[RALLY],
    )
    with caplog.at_level(logging.WARNING):
        p = save_mission(m, tmp_path / "f_dji.kmz", format="wpml")
    assert len(caplog.records) == 1
    assert "DJI Pilot 2 will not enforce them" in caplog.records[0].getMessage()
    back = load_mission(p)
    assert back.fence_polygons == [FENCE] and back.fence_circles == [KEEP_OUT]
    assert back.rally_points == [RALLY]
    with pytest.raises(BadInputError, match="needs at least two waypoints; this mission has 0"):
        save_mission(_mission([], fence_polygons=[FENCE]), tmp_path / "x.kmz", format="wpml")


# ----------------------------------------------------------------------------- DJI DO_JUMP


def _placemarks(p: Path) -> list[tuple[float, float]]:
    with zipfile.ZipFile(p) as z:
        text = z.read("wpmz/waylines.wpml").decode()
    pts = re.findall(r"<coordinates>([^<]+)</coordinates>", text)
    return [(float(a), float(b)) for a, b in (s.split(",") for s in pts)]


def test_wpml_unrolls_do_jump_as_the_autopilot_flies_it(tmp_path: Path) -> None:
    """DJI waylines cannot repeat: the DO_JUMP was dropped, so the aircraft flew the loop once
    while the guard had checked (and timed) it three times."""
    m = _mission(
        [
            _takeoff(),
            _wp(A),
            _wp(B),
            MissionItem(177, 2, param1=1.0, param2=2.0),
            _wp(C),
            MissionItem(20, 2),
        ]
    )
    p = save_mission(m, tmp_path / "loop_dji.kmz", format="wpml")
    assert _placemarks(p) == [A, B, A, B, A, B, C]
    back = load_mission(p)
    assert not any(it.command == 177 for it in back.items)
    orig, flown = validate(m), validate(back)
    assert flown.length_m == pytest.approx(orig.length_m, rel=1e-3)
    assert flown.duration_s == pytest.approx(orig.duration_s, rel=0.05)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            [_wp(A), _wp(B), MissionItem(177, 2, param1=0.0, param2=-1.0)],
            r"item 3: DO_JUMP repeats without end \(repeat -1\)",
        ),
        (
            [_wp(A), _wp(B), MissionItem(177, 2, param1=9.0, param2=1.0)],
            r"item 3: DO_JUMP to item 10, which the mission does not have",
        ),
        (
            [_wp(A), _wp(B), MissionItem(177, 2, param1=0.0, param2=6000.0)],
            r"more than 10000 items",
        ),
        (
            [_wp(A), _wp(B, cmd=18, param1=3.0), _wp(C)],
            r"item 2: command 18 moves the aircraft in a way a DJI wayline cannot",
        ),
    ],
    ids=["endless", "no-target", "too-long", "loiter-turns"],
)
def test_wpml_refuses_what_it_cannot_fly(
    tmp_path: Path, items: list[MissionItem], message: str
) -> None:
    with pytest.raises(BadInputError, match=message):
        save_mission(_mission(items), tmp_path / "x.kmz", format="wpml")
    assert not (tmp_path / "x.kmz").exists()


# --------------------------------------------------------------------- messages of readers


def test_frame_2_waypoint_is_malformed(
    tmp_path: Path,
) -> None:
    p = tmp_path / "f2.waypoints"
    p.write_text(
        "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t49.7475\t13.3776\t310\t1\n"
        "1\t0\t2\t16\t0\t0\t0\t0\t49.748\t13.379\t50\t1\n"
    )
    with pytest.raises(BadInputError) as exc:
        load_mission(p)
    assert str(exc.value) == (
        f"{p}: item 1: NAV_WAYPOINT (16) is in frame 2 (MAV_FRAME_MISSION), which gives no "
        "position or altitude, but a NAV_WAYPOINT needs both: the file is malformed (use frame "
        "0 above sea level, 3 above home or 10 above terrain)"
    )


# ------------------------------------------------------------------- the CLI, one per case


@dataclass(frozen=True)
class Case:
    """argv (``{d}`` inputs folder, ``{o}`` a fresh output folder) and what must happen."""

    id: str
    argv: tuple[str, ...]
    code: int
    pattern: str  # the error line (exit != 0) or the one WARNING line (exit 0)
    creates: tuple[str, ...] = ()


def _plan(items: list[dict[str, object]], **extra: object) -> str:
    mission = {
        "cruiseSpeed": 15,
        "firmwareType": 3,
        "hoverSpeed": 5,
        "items": items,
        "plannedHomePosition": [HOME[1], HOME[0], HOME[2]],
        "vehicleType": 2,
        "version": 2,
    }
    return json.dumps({"fileType": "Plan", "version": 1, "mission": mission, **extra})


def _si(jid: int, cmd: int, frame: int, p: list[float | None]) -> dict[str, object]:
    return {
        "type": "SimpleItem",
        "autoContinue": True,
        "command": cmd,
        "doJumpId": jid,
        "frame": frame,
        "params": p,
    }


def _nav(jid: int, at: tuple[float, float], cmd: int = 16, frame: int = 3) -> dict[str, object]:
    return _si(jid, cmd, frame, [0, 0, 0, None, at[1], at[0], 50])


_GEOFENCE = {
    "geoFence": {
        "circles": [],
        "polygons": [
            {"inclusion": True, "polygon": [[la, lo] for lo, la in FENCE.vertices], "version": 1}
        ],
        "version": 2,
    }
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("losses")
    takeoff = _si(1, 22, 3, [0, 0, 0, None, HOME[1], HOME[0], 40])
    loop = [takeoff, _nav(2, A), _nav(3, B)]
    (d / "endless.plan").write_text(_plan([*loop, _si(4, 177, 2, [2, -1, 0, 0, 0, 0, 0])]))
    (d / "turns.plan").write_text(_plan([takeoff, _nav(2, A), _nav(3, B, cmd=18), _nav(4, C)]))
    (d / "fenced.plan").write_text(_plan(loop, **_GEOFENCE))
    (d / "fence_only.plan").write_text(_plan([], **_GEOFENCE))
    (d / "frame2.waypoints").write_text(
        "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t49.7475\t13.3776\t310\t1\n"
        "1\t0\t2\t16\t0\t0\t0\t0\t49.748\t13.379\t50\t1\n"
    )
    (d / "cmd116.waypoints").write_text(
        "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t49.7475\t13.3776\t310\t1\n"
        "1\t0\t3\t16\t0\t0\t0\t0\t49.748\t13.379\t50\t1\n"
        "2\t0\t2\t116\t0\t0\t0\t0\t0\t0\t0\t1\n"
    )
    return d


CASES = [
    Case(
        "wpml-endless-jump",
        ("plan", "convert", "{d}/endless.plan", "{o}/x.kmz", "--to", "wpml"),
        2,
        r"^error: item 4: DO_JUMP repeats without end \(repeat -1\); DJI WPML cannot repeat",
    ),
    Case(
        "wpml-loiter-turns",
        ("plan", "convert", "{d}/turns.plan", "{o}/x.kmz", "--to", "wpml"),
        2,
        r"^error: item 3: command 18 moves the aircraft in a way a DJI wayline cannot",
    ),
    Case(
        "wpml-fence-only",
        ("plan", "convert", "{d}/fence_only.plan", "{o}/x.kmz", "--to", "wpml"),
        2,
        r"^error: DJI WPML needs at least two waypoints; this mission has 0$",
    ),
    Case(
        "wpml-fence-warns",
        ("plan", "convert", "{d}/fenced.plan", "{o}/x.kmz", "--to", "wpml"),
        0,
        r"^WARNING .*DJI WPML carries no geofence or rally points: DJI Pilot 2 will not enforce",
        ("x.kmz",),
    ),
    Case(
        "waypoints-fence-beside",
        ("plan", "convert", "{d}/fenced.plan", "{o}/x.waypoints"),
        0,
        r"^WARNING .*cannot hold the geofence: written to .*/x\.fence\.waypoints; upload it",
        ("x.fence.waypoints", "x.waypoints", "x.waypoints.meta.json"),
    ),
    Case(
        "frame2-waypoint",
        ("plan", "validate", "{d}/frame2.waypoints"),
        2,
        r"^error: .*frame2\.waypoints: item 1: NAV_WAYPOINT \(16\) is in frame 2 "
        r"\(MAV_FRAME_MISSION\), which gives no position or altitude",
    ),
    Case(
        "unnamed-command-116",
        ("plan", "validate", "{d}/cmd116.waypoints"),
        3,
        r"^error: .*cmd116\.waypoints is unsafe: 1 problem \(\[unchecked_command\] \(item 2\) "
        r"command 116 is not one the safety guard can check",
    ),
]

_BAD = re.compile(r"Traceback|internal error|RuntimeWarning", re.M)
_CLI = (sys.executable, "-m", "dronekit_plzen")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_export_loss_cli(case: Case, inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    argv = [a.format(d=inputs, o=out) for a in case.argv]
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    env.pop("DKP_DEBUG", None)
    proc = subprocess.run(
        [*_CLI, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    detail = f"exit {proc.returncode}, stderr:\n{proc.stderr}"
    assert proc.returncode == case.code, detail
    assert not _BAD.search(proc.stderr), detail
    lines = proc.stderr.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("error:")]
    warnings = [ln for ln in lines if ln.startswith("WARNING")]
    if case.code:
        assert len(errors) == 1 and not warnings, detail
        assert re.search(case.pattern, errors[0]), f"{case.pattern!r} not in {errors[0]!r}"
    else:
        assert not errors and len(warnings) == 1, detail
        assert re.search(case.pattern, warnings[0]), f"{case.pattern!r} not in {warnings[0]!r}"
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert left == sorted(case.creates), f"files left behind: {left}"


def test_convert_commands_no_faster_than_the_vehicle_was_timed(
    inputs: Path, tmp_path: Path
) -> None:
    """A QGC multirotor plan says cruiseSpeed 15 m/s; the guard times px4-quad at its 5 m/s.
    The converted QGC WPL commands 5 m/s, and the .plan states it."""
    src = tmp_path / "fast.plan"
    plan = json.loads((inputs / "fenced.plan").read_text())
    plan["mission"]["vehicleType"] = 1  # fixed wing: the flight speed is the cruise speed
    src.write_text(json.dumps(plan))
    for name in ("c.waypoints", "c.plan"):
        proc = subprocess.run(
            [*_CLI, "plan", "convert", str(src), str(tmp_path / name), "--vehicle", "px4-quad"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        back = load_mission(tmp_path / name)
        assert back.cruise_speed_m_s == 5.0
    first = (tmp_path / "c.waypoints").read_text().splitlines()[2].split("\t")
    assert first[3] == "178" and float(first[5]) == 5.0
    assert math.isclose(load_mission(src).cruise_speed_m_s, 15.0)


def test_convert_says_which_speed_the_waypoints_file_commands(inputs: Path, tmp_path: Path) -> None:
    """A QGC multirotor plan (cruiseSpeed 15, hoverSpeed 5) converted to QGC WPL without a
    vehicle commands 15 m/s: the pilot is told, and told how to cap it; with --vehicle, the
    vehicle's speed is said and there is nothing to warn about."""

    def convert(*extra: str) -> str:
        proc = subprocess.run(
            [*_CLI, "plan", "convert", str(inputs / "fenced.plan"), str(tmp_path / "c.waypoints"),
             *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    err = convert()
    assert "the file starts with a speed command of 15 m/s" in err
    assert "give --vehicle NAME to cap it" in err
    err = convert("--vehicle", "px4-quad")
    assert "the file starts with a speed command of 5 m/s" in err
    assert "fixed-wing default" not in err
