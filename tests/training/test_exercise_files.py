"""Exercise files: every bundled one is valid; bad ones fail with one line naming file and field;
the same exercise and seed give the same faults, gusts and target (deterministic replays)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.training.exercise import list_exercises, load_exercise
from dronekit_plzen.training.recording import Event, Recording, VehicleTrack
from dronekit_plzen.training.rules import score
from dronekit_plzen.training.session import Session, build_fleet, placed_target
from simulators.scenario import gust_schedule

GOOD = """\
title: {en: Test, cs: Zkouška}
briefing: {en: Fly., cs: Leťte.}
fleet: {autopilot: px4, vehicles: 1, home: [49.7477, 13.3776, 311.0], seed: 4}
faults:
  - {id: drop, type: link, loss: 1.0, duration_s: 10, at_waypoint: 1}
rules:
  - {id: rtl, type: mode_within, after: {fault: drop}, modes: [rtl], within_s: 10}
"""

#: one subprocess per case: (name, file text or None for GOOD, CLI args, words of the error line)
BAD_CLI = [
    ("bad_yaml", "title: {en: a\nrules: [", [], "bad_yaml.yaml: not valid YAML"),
    (
        "unknown_fault",
        GOOD.replace("type: link", "type: meteor"),
        [],
        "faults[1]: unknown fault type 'meteor'",
    ),
    (
        "unknown_rule",
        GOOD.replace("type: mode_within", "type: be_nice"),
        [],
        "rules[0]: unknown rule type 'be_nice'",
    ),
    (
        "missing_home",
        GOOD.replace("home: [49.7477, 13.3776, 311.0], ", ""),
        [],
        "fleet: missing field 'home'",
    ),
    ("bad_seed_file", GOOD.replace("seed: 4", "seed: -4"), [], "fleet.seed: must be an integer"),
    ("bad_seed_cli", None, ["--seed", "-1"], "--seed: must be an integer 0..4294967295"),
]
#: the same validation in-process (fast): (name, file text, words of the message)
BAD_FILES = [
    ("missing_rules", GOOD.split("rules:")[0], "missing field 'rules'"),
    ("missing_cs", GOOD.replace(", cs: Leťte.", ""), "briefing.cs: missing or empty text"),
    (
        "two_triggers",
        GOOD.replace("at_waypoint: 1", "at_waypoint: 1, at_s: 5"),
        "give exactly one trigger",
    ),
    ("unknown_fault_id", GOOD.replace("{fault: drop}", "{fault: dorp}"), "unknown fault id 'dorp'"),
    (
        "bad_number",
        GOOD.replace("within_s: 10", "within_s: soon"),
        "rules[0].within_s: must be a number",
    ),
    ("bad_mode", GOOD.replace("modes: [rtl]", "modes: [panic]"), "unknown mode group 'panic'"),
    (
        "bad_when_absent",
        GOOD.replace("within_s: 10", "within_s: 10, when_absent: maybe"),
        "rules[0].when_absent: must be not_evaluated or pass, got 'maybe'",
    ),
    (
        "unknown_field",
        GOOD.replace("within_s: 10", "within_s: 10, colour: red"),
        "rules[0].colour: not a field",
    ),
    (
        "bad_vehicle",
        GOOD.replace("at_waypoint: 1", "at_waypoint: 1, vehicle: 3"),
        "vehicle must be an index 0..0",
    ),
    (  # found from outside: "valid"
        "route_1e308_m_up",
        GOOD + "mission: [[49.748, 13.378, 1e308]]\n",
        "mission[0][2]: 1e+308 m above home is above the 120 m a suggested route may fly",
    ),
    (
        "route_far_away",
        GOOD + "mission: [[89.9, 170.0, 40]]\n",
        "mission[0]: 89.9, 170 is 4,499 km from the fleet's home, more than the 20 km",
    ),
    (
        "target_swapped",
        GOOD + "target: {lat: 13.3776, lon: 49.7477}\n",
        "target: 13.3776, 49.7477 is",
    ),
    (
        "bad_sensor",
        GOOD.replace("type: link, loss: 1.0", "type: sensor_failure, sensor: lidar"),
        "sensor must be one of",
    ),
]


@pytest.mark.parametrize("name,text,args,words", BAD_CLI, ids=[b[0] for b in BAD_CLI])
def test_bad_exercise_exit_2(
    tmp_path: Path, name: str, text: str | None, args: list[str], words: str
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(GOOD if text is None else text, encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dronekit_plzen",
            "train",
            "run",
            str(path),
            "--student",
            "A",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert words in lines[0], lines[0]


@pytest.mark.parametrize("name,text,words", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_exercise_file(tmp_path: Path, name: str, text: str, words: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInputError) as err:
        load_exercise(path)
    msg = str(err.value)
    assert msg.startswith(f"{name}.yaml: ") and words in msg and "\n" not in msg, msg


def test_bundled_exercises_valid_and_cover_the_syllabus() -> None:
    names = list_exercises()
    assert len(names) >= 8
    kinds = set()
    for n in names:
        ex = load_exercise(n)
        assert ex.title["cs"] != ex.title["en"] and ex.briefing["cs"] and ex.rules
        assert 49.6 < ex.fleet.home[0] < 49.8 and 13.2 < ex.fleet.home[1] < 13.5  # Plzeň
        kinds |= {r.type for r in ex.rules} | {f.trigger.kind for f in ex.faults}
    assert {
        "no_arm_during_fault",
        "sighting",
        "coverage",
        "min_separation",
        "prohibited_zone",
    } <= kinds
    assert {"at_s", "at_waypoint", "distance_from_home_m", "airborne_s"} <= kinds
    assert load_exercise("two_drone_search").fleet.vehicles == 2
    with pytest.raises(BadInputError, match="unknown exercise 'nope'"):
        load_exercise("nope")


def _fly_in_lockstep(name: str, seed: int | None = None) -> tuple[list, list, tuple]:
    """Build the exercise's fleet (no sockets), fly out 400 m east in simulated time."""
    ex = load_exercise(name, seed=seed)
    s = Session(ex, "det", Path("unused"), lockstep=True)
    fleet = build_fleet(s)
    fleet.run_for(6.0)
    for v in fleet.vehicles:
        vm = v.model
        assert vm.arm() == 0 and vm.takeoff(vm.geo.alt0_m + vm.home[2] + 40.0) == 0
    fleet.run_for(15.0)
    for v in fleet.vehicles:
        vm = v.model
        lat, lon, alt = vm.geo.to_lla(vm.pos[0] + 400.0, vm.pos[1], vm.pos[2])
        assert vm.reposition(lat, lon, alt, -1.0, True) == 0
    fleet.run_for(80.0)
    assert s.driver is not None
    fired, _sightings, _det = s.driver.log()
    states = tuple(
        (round(v.state.lat_deg, 9), round(v.state.lon_deg, 9), v.state.mode) for v in fleet.vehicles
    )
    return fired, [(f.at_s, f.fault) for f in fleet.schedule], states


def test_same_exercise_and_seed_same_faults() -> None:
    a = _fly_in_lockstep("low_battery_far")
    b = _fly_in_lockstep("low_battery_far")
    assert a == b
    fired = a[0]
    assert [f.id for f in fired] == ["cell_failure"] and fired[
        0
    ].trigger == "distance_from_home_m=300 m"
    assert 25 < fired[0].t_s < 80
    # gusts and the target are drawn from the seed alone
    g1 = gust_schedule(21, 600, 8, 20, 225, 40)
    assert g1 == gust_schedule(21, 600, 8, 20, 225, 40) and g1 != gust_schedule(
        22, 600, 8, 20, 225, 40
    )
    sq = load_exercise("expanding_square_target")
    assert placed_target(sq) == placed_target(load_exercise("expanding_square_target"))
    assert placed_target(sq) != placed_target(load_exercise("expanding_square_target", seed=99))


def test_gusty_exercise_replays_identically() -> None:
    a = _fly_in_lockstep("sar_wind_grid")
    assert a == _fly_in_lockstep("sar_wind_grid")
    assert a[1] and a[1] != _fly_in_lockstep("sar_wind_grid", seed=5)[1]


def _track(
    k: int, t: np.ndarray, lat: np.ndarray, lon: np.ndarray, alt: float, events: list[Event]
) -> VehicleTrack:
    n = t.size
    return VehicleTrack(
        k, k + 1, t, lat, lon, np.full(n, alt), np.full(n, 50.0), np.ones(n), events
    )


def test_rules_on_a_synthetic_recording() -> None:
    """Pure scoring: a coverage grid half flown, a too-high sample, two drones too close."""
    ex = load_exercise("two_drone_search")
    (la0, lo0), (la1, lo1) = ex.area[0], ex.area[2]
    t = np.arange(0.0, 100.0, 0.5)
    lat = la0 + (la1 - la0) * 0.25 + np.zeros_like(t)
    lon = lo0 + (lo1 - lo0) * t / 100.0
    ev = [Event(0.0, "armed", "", 0, la0, lo0), Event(100.0, "disarmed", "", 0, la0, lo0)]
    v0 = _track(0, t, lat, lon, 50.0, ev)
    v1 = _track(1, t, lat + 1e-4, lon, 52.0, ev)  # 11 m north, 2 m higher: too close
    rec = Recording({0: v0, 1: v1}, [], None, [(la0, lo0), (la0, lo0)], 100.0)
    res = {r.id: r for r in score(rec, ex)}
    assert not res["coverage"].passed and "needed 95 %" in res["coverage"].reason
    sep = res["separation"]
    assert not sep.passed and sep.t_s == 0.0 and "11 m apart" in sep.reason
    assert not res["landed_home"].passed


def test_no_flight_scores_nothing() -> None:
    """A student who never takes off does not pass "never above 120 m" and the like."""
    ex = load_exercise("geofence_breach")
    t = np.arange(0.0, 30.0, 0.5)
    home = ex.fleet.home[:2]
    v = _track(0, t, np.full(t.size, home[0]), np.full(t.size, home[1]), 0.0, [])
    res = score(Recording({0: v}, [], None, [home], 30.0), ex)
    assert res and all(not r.passed and r.reason == "no drone took off" for r in res)


@pytest.mark.parametrize(
    "lang,exercise,expected",
    [
        ("en", "two_drone_search", "(4 rules, 1 fault, 2 vehicles, seed 29)"),
        ("en", "gps_loss_altitude", "(3 rules, 1 fault, 1 vehicle, seed 7)"),
        ("cs", "two_drone_search", "(4 pravidla, 1 porucha, 2 drony, seed 29)"),
        ("cs", "gps_loss_altitude", "(3 pravidla, 1 porucha, 1 dron, seed 7)"),
    ],
)
def test_check_counts_in_each_language_plural_forms(
    capsys: pytest.CaptureFixture[str], lang: str, exercise: str, expected: str
) -> None:
    """`train check` counts with the language's plural forms (Czech has three)."""
    from dronekit_plzen.cli.main import main
    from dronekit_plzen.i18n import set_language

    try:
        code = main(["--lang", lang, "train", "check", exercise])
    finally:
        set_language("en")
    out = capsys.readouterr().out
    assert code == 0, out
    assert expected in out.splitlines()[0], out
    # a rule's points too ("1 points" was printed)
    one = {"en": "(1 point)", "cs": "(1 bod)"}[lang]
    assert any(line.endswith(one) for line in out.splitlines()), out


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("garbage.tlog", bytes(range(256)) * 16, "garbage.tlog: not a MAVLink telemetry log"),
        ("empty", None, "empty: no recorded session (session.tlog) here"),
    ],
)
def test_replay_of_what_is_no_recording_exit_2(
    tmp_path: Path, name: str, content: bytes | None, words: str
) -> None:
    """A file with no MAVLink in it was "0 messages replayed", exit 0."""
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", "train", "replay", str(path), "--speed", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], proc.stderr


#: found from outside: a damaged session folder was an internal error (exit 1)
BAD_SESSIONS = [
    ("garbage-json", ["report"], "garbage", "session.json: not a session record (session.json)"),
    ("no-seed", ["report"], "{}", "session.json: the session record's 'seed' is missing"),
    ("seed-text", ["report"], '{"seed": "x"}', "the session record's 'seed' is missing or not"),
    ("no-t0", ["report"], '{"seed": 5}', "the session record's 'vehicles' is missing"),
    (
        "junk-db",
        ["report"],
        '{"seed": 5, "vehicles": 1, "t0_s": 1700000000, "student": "a", "exercise": "e", '
        '"end_s": 1, "started_utc": "x", "ended_by": "x", "homes": [[49.7, 13.3]], '
        '"target": null, "faults": []}',
        "session.db: the session's recording is empty or damaged (not a SQLite database)",
    ),
    ("speed-1e-300", ["replay", "--speed", "1e-300"], None, "--speed must be 0 (as fast as"),
    ("speed-nan", ["replay", "--speed", "nan"], None, "got nan"),
]


@pytest.mark.parametrize("name,cmd,meta,words", BAD_SESSIONS, ids=[b[0] for b in BAD_SESSIONS])
def test_damaged_session_folders_exit_2(
    tmp_path: Path, name: str, cmd: list[str], meta: str | None, words: str
) -> None:
    folder = tmp_path / "sessions" / "s1"
    folder.mkdir(parents=True)
    (folder / "exercise.yaml").write_text(GOOD, encoding="utf-8")
    (folder / "score.json").write_text("{}", encoding="utf-8")
    (folder / "session.json").write_text(meta or "{}", encoding="utf-8")
    (folder / "session.db").write_text("junk", encoding="utf-8")
    where = ["--sessions", str(tmp_path / "sessions")] if cmd[0] == "report" else [str(folder)]
    proc = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", "train", cmd[0], *where, *cmd[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert words in lines[0], lines[0]


def test_the_ports_a_student_is_told_are_the_ones_the_simulator_opens() -> None:
    """``train run`` tells the student where to connect; the numbers come from the simulator's
    own port plan (SITL's conventions: ArduPilot TCP 5760 + 10 per vehicle, PX4 API UDP
    14540 + vehicle, the ground station on 14550), moved by the exercise's port offset."""
    from dronekit_plzen.training.cli import _ports_line
    from simulators.fleet import vehicle_ports

    assert vehicle_ports("ardupilot", 10, 2) == {"tcp": 5790, "tcp2": 5792, "gcs_remote": 14560}
    assert vehicle_ports("px4", 10, 1)["api_remote"] == 14551
    assert _ports_line(10, "ardupilot", 2) == (
        "vehicle 3: TCP 5790 (MAVProxy, GUI), ground station UDP 14560"
    )
    assert _ports_line(10, "px4", 1) == (
        "vehicle 2: ground station UDP 14560 (QGroundControl), API UDP 14551 (GUI, MAVSDK)"
    )
