"""Bad input and misuse of ``train`` and ``sim``: one clear error line, the right exit code.

An outside tester's sweep (2026-12-05). Each case runs the real CLI as a subprocess on files
made here and checks the exit code, that stderr is exactly one line matching the case's
pattern (no traceback, no internal error), that the command ended within ``max_s`` (a named
pipe or a NaN speed-up had hung it), and that the session folders it read are unchanged (a
report must not damage recorded sessions). Every case failed before its fix: the comment says
how.

The report cases read copies of one real session, recorded once by ``train run`` (20 s of
simulated time at 100x on a free loopback port offset), damaged in one way each.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dkp_testkit import free_simulator_offset

GOOD = """\
title: {en: Test, cs: Zkouška}
briefing: {en: Fly., cs: Leťte.}
fleet: {autopilot: px4, vehicles: 1, home: [49.7477, 13.3776, 311.0], seed: 4}
time_limit_s: 20
faults:
  - {id: drop, type: link, loss: 1.0, duration_s: 10, at_waypoint: 1}
rules:
  - {id: rtl, type: mode_within, after: {fault: drop}, modes: [rtl], within_s: 10}
"""
SIM_GOOD = "vehicles: 1\nhome: [49.7477, 13.3776, 311.0]\n"
#: the files of a recorded session (the SQLite WAL is checkpointed away in the fixture)
SESSION_FILES = ("exercise.yaml", "score.json", "session.db", "session.json", "session.tlog")


def _edit(old: str, new: str, base: str = GOOD) -> str:
    assert old in base, old
    return base.replace(old, new)


def _bomb(levels: int) -> str:
    """A "billion laughs" YAML: ``levels`` anchors, each nine of the one before, inside a
    field that takes any value (``fleet.params``)."""
    defs = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    defs += [f"&l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]" for k in range(1, levels)]
    return _edit("seed: 4}", "seed: 4, params: {A: [" + ", ".join(defs) + "]}}")


#: exercise files of the table: name -> text (bytes: written as they are)
EXERCISES: dict[str, str | bytes] = {
    "good": GOOD,
    "deep": "rules: " + "[" * 5000 + "]" * 5000 + "\n",
    "bomb": _bomb(7),
    "dup_key": GOOD + "rules:\n  - {id: other, type: max_alt}\n",
    "empty": "",
    "home_alt_1e308": _edit("311.0]", "1.0e+308]"),
    "time_limit_1e308": _edit("time_limit_s: 20", "time_limit_s: 1.0e+308"),
    "gusts_every_1e-9": _edit(
        "seed: 4}", "seed: 4, wind: {gusts_max_m_s: 5, gusts_every_s: 1.0e-9}}"
    ),
    "wind_1e308": _edit("seed: 4}", "seed: 4, wind: {speed_m_s: 1.0e+308}}"),
    "param_unknown": _edit("seed: 4}", "seed: 4, params: {NAV_DLL_ACTION: 2}}"),
    "target_jitter_1e308": GOOD + "target: {lat: 49.748, lon: 13.378, jitter_m: 1.0e+308}\n",
    "area_5000km": GOOD + "area: [[49.7, 13.3], [49.7, 80.0], [10.0, 80.0]]\n",
    "area_flat": GOOD + "area: [[49.747, 13.377], [49.748, 13.378], [49.749, 13.379]]\n",
    "zones_twice": GOOD
    + "zones:\n"
    + "  - {name: z, polygon: [[49.74, 13.37], [49.74, 13.38], [49.75, 13.38]]}\n"
    + "  - {name: z, polygon: [[49.70, 13.30], [49.70, 13.31], [49.71, 13.31]]}\n",
    "name_traversal": "name: ../../../escaped\n" + GOOD,
    "waypoint_1.5": _edit("at_waypoint: 1}", "at_waypoint: 1.5}"),
    "battery_500": _edit("at_waypoint: 1}", "battery_below_pct: 500}"),
    "points_inf": _edit("within_s: 10}", "within_s: 10, points: .inf}"),
    "gust_1e308": _edit(
        "type: link, loss: 1.0, duration_s: 10", "type: wind_gust, speed_m_s: 1.0e+308"
    ),
}
#: ``sim --exercise`` files (simulators/exercises' format)
SIM_EXERCISES: dict[str, str] = {
    "sim_home_nan": "vehicles: 1\nhome: [.nan, 13.3776, 311.0]\n",
    "sim_falts": SIM_GOOD + "falts: [{at_s: 1, type: reboot}]\n",
    "sim_param_text": SIM_GOOD + "params: {px4: {NAV_DLL_ACT: two}}\n",
    "sim_param_px5": SIM_GOOD + "params: {px5: {NAV_DLL_ACT: 2}}\n",
    "sim_vehicles_1.9": "vehicles: 1.9\nhome: [49.7477, 13.3776, 311.0]\n",
    "sim_deep": "faults: " + "[" * 5000 + "]" * 5000 + "\n",
}


@dataclass(frozen=True)
class Case:
    """argv: ``{d}`` the inputs folder, ``{o}`` a fresh output folder, ``{port}`` a free port
    offset, ``{s}`` the copied sessions folder (report cases)."""

    id: str
    argv: tuple[str | bytes, ...]
    code: int
    pattern: str
    usage: bool = False
    max_s: float = 15.0
    #: a damage done to the copied session before the run (report cases); None: no copy
    damage: Callable[[Path], None] | None = None
    fsize: int | None = None  # RLIMIT_FSIZE: the disk is "full" after that many bytes
    busy: bool = False  # the simulator's API port is taken by another program
    stdout: str | None = None  # a pattern of stdout (cases that succeed)
    files: tuple[str, ...] = field(default=())  # files the case leaves under {o}


def _json(name: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        p = folder / name
        data = json.loads(p.read_text(encoding="utf-8"))
        change(data)
        p.write_text(json.dumps(data), encoding="utf-8")

    return damage


def _write(name: str, content: str | bytes | None) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        p = folder / name
        if content is None:
            p.unlink()
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")

    return damage


def _intact(folder: Path) -> None:
    """The session as recorded."""


def _impossible_latitude(folder: Path) -> None:
    """A sample at latitude 1e308 (a damaged or edited recording: the recorder stores none)."""
    with sqlite3.connect(folder / "session.db") as conn:
        conn.execute("UPDATE samples SET lat_deg = 1e308 WHERE id = (SELECT MIN(id) FROM samples)")
    conn.close()


def _second_session_without(name: str) -> Callable[[Path], None]:
    """A class of two sessions; the second has lost ``name``."""

    def damage(folder: Path) -> None:
        other = folder.parent / "other"
        shutil.copytree(folder, other)
        (other / name).unlink()

    return damage


def _no(name: str) -> Callable[[dict], None]:
    return lambda d: d.pop(name)


def _set(name: str, value: object) -> Callable[[dict], None]:
    return lambda d: d.__setitem__(name, value)


CHECK = ("train", "check")
RUN = ("train", "run", "{d}/good.yaml", "--speedup", "100", "--port-offset", "{port}")
REPORT = ("train", "report", "--sessions", "{s}", "--out", "{o}/rep")

CASES = [
    # ---- exercise files: train check ---------------------------------------------------
    Case(  # RecursionError: internal error, exit 1
        "deep-nesting",
        (*CHECK, "{d}/deep.yaml"),
        2,
        r"deep\.yaml: not valid YAML: nested deeper than 32 levels \(line 1, column",
    ),
    Case(  # 9**7 values: a 33 MB error line (9**9 had taken 40 s and 3 GB, then MemoryError)
        "billion-laughs",
        (*CHECK, "{d}/bomb.yaml"),
        2,
        r"bomb\.yaml: not valid YAML: more than 100,000 values \(each use of an alias",
    ),
    Case(  # the second rules: had silently replaced the first: "valid"
        "duplicate-key",
        (*CHECK, "{d}/dup_key.yaml"),
        2,
        r"dup_key\.yaml: not valid YAML: duplicate key 'rules' \(line 9, column 1\)",
    ),
    Case(  # a named pipe: read for ever
        "named-pipe",
        (*CHECK, "{d}/fifo.yaml"),
        2,
        r"fifo\.yaml: not a regular file \(a named pipe or a device\?\)",
        max_s=5.0,
    ),
    Case(  # /dev/zero: read until the memory was exhausted
        "device",
        (*CHECK, "/dev/zero"),
        2,
        r"/dev/zero: not a regular file",
        max_s=5.0,
    ),
    Case(  # "must be a mapping, got NoneType"
        "empty-file",
        (*CHECK, "{d}/empty.yaml"),
        2,
        r"empty\.yaml: the file is empty \(an exercise is a YAML mapping\)",
    ),
    Case(  # valid; train run: the scheduler crashed, the session was scored, exit 0
        "home-altitude-1e308",
        (*CHECK, "{d}/home_alt_1e308.yaml"),
        2,
        r"fleet\.home\[2\]: must be -500 to 9000, got 1e\+308",
    ),
    Case(
        "time-limit-1e308",
        (*CHECK, "{d}/time_limit_1e308.yaml"),
        2,
        r"time_limit_s: must be 0 to 86400, got 1e\+308",
    ),
    Case(  # valid; train run: gusts drawn until MemoryError
        "gusts-every-nanosecond",
        (*CHECK, "{d}/gusts_every_1e-9.yaml"),
        2,
        r"fleet\.wind\.gusts_every_s: must be a number ≥ 1, got 1e-09",
    ),
    Case(  # valid; the drone was blown to latitude 1e288 and scored
        "wind-1e308",
        (*CHECK, "{d}/wind_1e308.yaml"),
        2,
        r"fleet\.wind\.speed_m_s: must be 0 to 40, got 1e\+308",
    ),
    Case(  # valid for check; train run then stopped after the briefing
        "param-misspelt",
        (*CHECK, "{d}/param_unknown.yaml"),
        2,
        r"fleet\.params\.NAV_DLL_ACTION: unknown parameter NAV_DLL_ACTION",
    ),
    Case(  # valid; the target at NaN, and every sighting passed
        "target-jitter-1e308",
        (*CHECK, "{d}/target_jitter_1e308.yaml"),
        2,
        r"target\.jitter_m: must be 0 to 1000, got 1e\+308",
    ),
    Case(  # valid; coverage scoring of 10^12 cells after the flight
        "area-5000-km",
        (*CHECK, "{d}/area_5000km.yaml"),
        2,
        r"area\[1\]: 49\.7, 80 is 4,\d{3} km from the fleet's home",
    ),
    Case(  # valid; "never flew over the area" whatever was flown
        "area-on-a-line",
        (*CHECK, "{d}/area_flat.yaml"),
        2,
        r"area: not a valid polygon \(its corners lie on a line or its sides cross\)",
    ),
    Case(  # valid; a prohibited_zone rule took the first
        "zone-name-twice",
        (*CHECK, "{d}/zones_twice.yaml"),
        2,
        r"zones\[1\]: duplicate zone name 'z'",
    ),
    Case(  # valid; train run wrote the session outside --out
        "name-path-traversal",
        (*CHECK, "{d}/name_traversal.yaml"),
        2,
        r"name: letters, digits, '\.', '_' and '-' .*got '\.\./\.\./\.\./escaped'",
    ),
    Case(  # valid; fired at waypoint 1
        "waypoint-1.5",
        (*CHECK, "{d}/waypoint_1.5.yaml"),
        2,
        r"faults\[1\]: at_waypoint must be a mission item number 0\.\.65535, got 1\.5",
    ),
    Case(  # valid; fired at power-on
        "battery-below-500-pct",
        (*CHECK, "{d}/battery_500.yaml"),
        2,
        r"faults\[1\]: battery_below_pct is a percentage 0\.\.100, got 500",
    ),
    Case(  # valid; the class's percentages were NaN
        "points-infinite",
        (*CHECK, "{d}/points_inf.yaml"),
        2,
        r"rules\[0\]\.points: must be a number > 0, got inf",
    ),
    Case(  # valid
        "gust-1e308",
        (*CHECK, "{d}/gust_1e308.yaml"),
        2,
        r"faults\[1\]: field 'speed_m_s' must be 0 to 40, got 1e\+308",
    ),
    # ---- sim --exercise / --faults -----------------------------------------------------
    Case(  # scheduler crashed: three lines, exit 1
        "sim-home-nan",
        ("sim", "--exercise", "{d}/sim_home_nan.yaml", "--port-offset", "{port}"),
        2,
        r"sim_home_nan\.yaml\.home\[0\]: must be a number, got nan",
    ),
    Case(  # ran without the faults
        "sim-misspelt-faults",
        ("sim", "--exercise", "{d}/sim_falts.yaml", "--port-offset", "{port}"),
        2,
        r"sim_falts\.yaml: unknown field 'falts'",
    ),
    Case(  # internal error: ValueError
        "sim-param-text",
        ("sim", "--exercise", "{d}/sim_param_text.yaml", "--port-offset", "{port}"),
        2,
        r"params\.px4\.NAV_DLL_ACT: must be a number, got 'two'",
    ),
    Case(  # ran without them
        "sim-param-flavour",
        ("sim", "--exercise", "{d}/sim_param_px5.yaml", "--port-offset", "{port}"),
        2,
        r"sim_param_px5\.yaml: params must map px4/ardupilot to name: value",
    ),
    Case(  # ran with 1 vehicle
        "sim-vehicles-1.9",
        ("sim", "--exercise", "{d}/sim_vehicles_1.9.yaml", "--port-offset", "{port}"),
        2,
        r"\.vehicles: must be an integer 1\.\.200, got 1\.9",
    ),
    Case(  # internal error: RecursionError
        "sim-exercise-deep",
        ("sim", "--exercise", "{d}/sim_deep.yaml", "--port-offset", "{port}"),
        2,
        r"sim_deep\.yaml: not valid YAML: nested deeper than 32 levels",
    ),
    Case(  # ran; drone 2's link loss never happened
        "sim-exercise-too-few-vehicles",
        ("sim", "--exercise", "link_loss", "--vehicles", "1", "--port-offset", "{port}"),
        2,
        r"--vehicles 1: the exercise link_loss injects a fault into vehicle 2",
    ),
    Case(  # a named pipe: read for ever
        "sim-faults-named-pipe",
        ("sim", "--faults", "{d}/fifo.yaml", "--port-offset", "{port}"),
        2,
        r"fifo\.yaml: not a regular file",
        max_s=5.0,
    ),
    Case(  # "vehicle: yes" had been vehicle 1 (the simulator then ran)
        "sim-faults-vehicle-yes",
        ("sim", "--faults", "{d}/vehicle_yes.yaml", "--vehicles", "2", "--port-offset", "{port}"),
        2,
        r"vehicle must be an index 0\.\.1, got True",
    ),
    # ---- train run -----------------------------------------------------------------------
    Case(  # stored; every later train report of the class was an internal error
        "student-not-utf8",
        (*RUN, "--student", b"J\xff\xfen", "--out", "{o}"),
        2,
        r"student name 'J\\udcff\\udcfen' is not UTF-8 text",
    ),
    Case(  # stored with its terminal escape
        "student-escape",
        (*RUN, "--student", "a\x1b[2Jb", "--out", "{o}"),
        2,
        r"student name 'a\\x1b\[2Jb' contains control characters",
    ),
    Case(
        "student-10-kB",
        (*RUN, "--student", "A" * 10_000, "--out", "{o}"),
        2,
        r"student name 'AAAA.*… is longer than 100 characters",
    ),
    Case(  # internal error: FileNotFoundError
        "run-out-proc",
        (*RUN, "--student", "x", "--out", "/proc/dkp_x"),
        2,
        r"^error: cannot write /proc/dkp_x/x: ",
    ),
    Case(  # internal error: NotADirectoryError
        "run-out-file",
        (*RUN, "--student", "x", "--out", "{d}/good.yaml"),
        2,
        r"cannot write .*good\.yaml/x: a part of the path is not a directory",
    ),
    Case(  # the session was put in the current folder
        "run-out-empty",
        (*RUN, "--student", "x", "--out", ""),
        2,
        r"--out: the path is empty",
    ),
    Case(  # the scheduler crashed, then the session waited for ever
        "run-speedup-nan",
        ("train", "run", "{d}/good.yaml", "--speedup", "nan", "--student", "x", "--out", "{o}"),
        2,
        r"Invalid value for '--speedup': nan is not a finite number",
        usage=True,
        max_s=5.0,
    ),
    Case(  # accepted: never a wall timeout
        "run-max-wall-nan",
        (*RUN, "--student", "x", "--out", "{o}", "--max-wall", "nan"),
        2,
        r"Invalid value for '--max-wall': nan is not a finite number",
        usage=True,
    ),
    Case(  # exit 1 as now, but a session.json of a session that never ran was left
        "run-port-in-use",
        (*RUN, "--student", "x", "--out", "{o}"),
        1,
        r"cannot bind port \(Address already in use\); try another --port-offset",
        busy=True,
    ),
    # ---- train report --------------------------------------------------------------------
    Case(  # exit 0, "nan" in class.csv
        "report-score-nan",
        REPORT,
        2,
        r"score\.json: the session record's 'points' is missing or not valid: nan",
        damage=_json("score.json", _set("points", float("nan"))),
    ),
    Case(  # internal error: KeyError
        "report-score-no-rules",
        REPORT,
        2,
        r"score\.json: .*'rules' is missing or not valid",
        damage=_json("score.json", _no("rules")),
    ),
    Case(  # internal error: KeyError
        "report-session-no-homes",
        REPORT,
        2,
        r"session\.json: .*'homes' is missing or not valid",
        damage=_json("session.json", _no("homes")),
    ),
    Case(  # internal error: UnicodeEncodeError, half the reports written
        "report-student-not-utf8",
        REPORT,
        2,
        r"session\.json: the session record's 'student' is missing or not valid: 'J\\udcffn'",
        damage=_json("session.json", _set("student", "J\udcffn")),
    ),
    Case(  # reported with another exercise's map and title
        "report-other-exercise",
        REPORT,
        2,
        r"score\.json: the score is not one of this session's exercise",
        damage=_write(
            "exercise.yaml",
            GOOD.replace("id: rtl", "id: return"),
        ),
    ),
    Case(  # the store wrote its tables into it (the session changed), scored "no flight"
        "report-db-empty",
        REPORT,
        2,
        r"session\.db: the session's recording is empty or damaged \(not a SQLite database\)",
        damage=_write("session.db", b""),
    ),
    Case(  # internal error: ValueError (NaN pixels in the map)
        "report-db-impossible-latitude",
        REPORT,
        2,
        r"session\.db: the recording holds an impossible latitude: 1e\+308 \(a damaged file\)",
        damage=_impossible_latitude,
    ),
    Case(  # the session was silently left out of its student's report
        "report-exercise-lost",
        REPORT,
        2,
        r"other: a session without its exercise \(exercise\.yaml\)",
        damage=_second_session_without("exercise.yaml"),
    ),
    Case(  # internal error: FileExistsError
        "report-out-file",
        ("train", "report", "--sessions", "{s}", "--out", "{d}/good.yaml"),
        2,
        r"cannot write .*good\.yaml: it exists and is not a directory",
        damage=_intact,
    ),
    Case(  # internal error: FileNotFoundError
        "report-out-proc",
        ("train", "report", "--sessions", "{s}", "--out", "/proc/dkp_x"),
        2,
        r"^error: cannot write /proc/dkp_x: ",
        damage=_intact,
    ),
    Case(  # internal error: OSError (file too large); the first reports were left
        "report-disk-full",
        REPORT,
        1,
        r"cannot write .*: the file is too large for the file system or the size limit",
        damage=_intact,
        fsize=1000,
    ),
    Case(  # "no scored training sessions found": a session whose scoring was cut short
        "report-unscored-session",
        REPORT,
        0,
        r"^$",
        damage=_write("score.json", None),
        stdout=r"report-Jan-Novak\.html\n.*class\.csv",
        files=("rep/class.csv", "rep/report-Jan-Novak.html"),
    ),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("train_bad")
    for name, text in {**EXERCISES, **SIM_EXERCISES}.items():
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (d / f"{name}.yaml").write_bytes(data)
    (d / "vehicle_yes.yaml").write_text("faults: [{at_s: 1, type: reboot, vehicle: yes}]\n")
    os.mkfifo(d / "fifo.yaml")
    return d


def _env() -> dict[str, str]:
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    env.pop("DKP_DEBUG", None)
    return env


@pytest.fixture(scope="module")
def recorded(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real session of the good exercise (nobody flies: 20 simulated s at 100x)."""
    out = tmp_path_factory.mktemp("recorded")
    off = free_simulator_offset()
    proc = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", "--quiet", "train", "run",
         str(inputs / "good.yaml"), "--student", "Jan Novák", "--speedup", "100",
         "--port-offset", str(off), "--out", str(out)],
        capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (folder,) = out.glob("*/*")  # <student>/<exercise>-<stamp>
    with sqlite3.connect(folder / "session.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    return folder


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name in SESSION_FILES
    }


_BAD_LINE = re.compile(r"^Traceback|internal error|^ERROR |^WARNING ", re.M)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_gives_one_clear_error(
    case: Case, inputs: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    sessions = tmp_path / "sessions"
    if case.damage is not None:
        src = request.getfixturevalue("recorded")
        folder = sessions / "Jan-Novak" / src.name
        folder.mkdir(parents=True)
        for name in SESSION_FILES:
            shutil.copyfile(src / name, folder / name)
        case.damage(folder)
    before = _snapshot(sessions)
    off = free_simulator_offset()
    argv = [
        a if isinstance(a, bytes) else a.format(d=inputs, o=out, port=off, s=sessions)
        for a in case.argv
    ]
    blocker = None
    if case.busy:  # vehicle 1's API port (PX4: 14580 + offset), as another program would
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind(("127.0.0.1", 14580 + off))
    limit = case.fsize
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "dronekit_plzen", *argv],
            capture_output=True,
            env=_env(),
            timeout=60,
            cwd=tmp_path,
            preexec_fn=(
                (lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
                if limit
                else None
            ),
        )
    finally:
        if blocker is not None:
            blocker.close()
    took = time.monotonic() - t0
    err = proc.stderr.decode("utf-8", "replace").strip()
    stdout = proc.stdout.decode("utf-8", "replace")
    detail = f"exit {proc.returncode}, stderr:\n{err[:2000]}"
    assert proc.returncode == case.code, detail
    assert not _BAD_LINE.search(err), detail
    assert len(err) < 1000, f"an error line of {len(err)} characters"
    lines = err.splitlines()
    if case.code == 0:
        assert not lines, detail
        assert case.stdout is not None and re.search(case.stdout, stdout, re.S), stdout
    else:
        assert len(lines) == 1, detail
        if case.usage:
            assert "--help'" in lines[0], detail
        assert re.search(case.pattern, lines[0]), f"{case.pattern!r} not in {lines[0]!r}"
    assert took < case.max_s, f"took {took:.1f} s"
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert left == sorted(case.files), f"files left behind: {left}"
    assert _snapshot(sessions) == before, "a recorded session was changed"
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob("*/escaped*"))


def _run_cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *argv],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=timeout,
    )


def _copy_session(src: Path, dst: Path, student: str) -> None:
    dst.mkdir(parents=True)
    for name in SESSION_FILES:
        shutil.copyfile(src / name, dst / name)
    for name in ("session.json", "score.json"):
        data = json.loads((dst / name).read_text(encoding="utf-8"))
        data["student"] = student
        (dst / name).write_text(json.dumps(data), encoding="utf-8")


def test_students_of_one_slug_get_a_report_each(recorded: Path, tmp_path: Path) -> None:
    """Both had been ``report-Ji-Mal.html``: the second student's report replaced the first's."""
    sessions = tmp_path / "s"
    _copy_session(recorded, sessions / "a" / "s1", "Jiří Malý")
    _copy_session(recorded, sessions / "b" / "s1", "Jiří Malá")
    _copy_session(recorded, sessions / "c" / "s1", "Jiří Mala")
    proc = _run_cli("train", "report", "--sessions", str(sessions), "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    reports = sorted(p.name for p in (tmp_path / "r").glob("report-*.html"))
    assert len(reports) == 3 and "report-Jiri-Maly.html" in reports, reports
    texts = {
        (tmp_path / "r" / n).read_text(encoding="utf-8").split("<h1>")[1][:60] for n in reports
    }
    assert len(texts) == 3, texts  # each report is its own student's


def test_a_session_still_recording_is_named_as_left_out(recorded: Path, tmp_path: Path) -> None:
    """A folder with a recording but no session.json (running, or killed) had been skipped
    without a word: its student's report quietly missed the flight."""
    sessions = tmp_path / "s"
    _copy_session(recorded, sessions / "a" / "done", "Jan Novák")
    running = sessions / "a" / "running"
    running.mkdir()
    shutil.copyfile(recorded / "session.db", running / "session.db")
    proc = _run_cli("train", "report", "--sessions", str(sessions), "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(running)), proc.stderr
    assert "left out: no session.json" in lines[0], lines[0]


def test_sessions_started_in_one_second_get_a_folder_each(tmp_path: Path) -> None:
    """Two ``train run`` of one student (or of two names of one slug) started in the same
    second had been given one folder: the second's recording replaced the first's."""
    from dronekit_plzen.training.exercise import load_exercise
    from dronekit_plzen.training.session import new_session

    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    ex = load_exercise(tmp_path / "good.yaml")
    for _attempt in range(3):  # the two calls fall in one second (almost always at once)
        a = new_session(ex, "Jiří Malá", tmp_path / "out")
        b = new_session(ex, "Jiří Mala", tmp_path / "out")
        if a.folder.name.split("-")[1][:16] == b.folder.name.split("-")[1][:16]:
            break
    assert a.folder != b.folder and a.folder.is_dir() and b.folder.is_dir()


@contextlib.contextmanager
def _running(exercise: Path, out: Path) -> Iterator[int]:
    """``train run`` of ``exercise`` for student "s" into ``out``, up (its simulator running)
    for the block; yields its port offset."""
    off = free_simulator_offset()
    run = subprocess.Popen(
        [sys.executable, "-m", "dronekit_plzen", "train", "run", str(exercise),
         "--student", "s", "--port-offset", str(off), "--out", str(out), "--max-wall", "30"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    try:
        assert run.stderr is not None
        for line in run.stderr:  # the simulator is up once the session says it runs
            if "running at" in line:
                break
        yield off
    finally:
        run.terminate()
        run.wait(timeout=30)


def test_sighting_far_from_the_exercise_is_refused(inputs: Path, tmp_path: Path) -> None:
    """Latitude and longitude swapped had been recorded as the student's first sighting,
    which the sighting rule scores (no second chance). Refused before anything is sent."""
    with _running(inputs / "good.yaml", tmp_path) as off:
        t0 = time.monotonic()
        proc = _run_cli("train", "sighting", "13.377600; 49.747700", "--port-offset", str(off))
        took = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(
        r"POSITION: 13\.3776, 49\.7477 is 5,\d{3} km from the fleet's home", lines[0]
    ), proc.stderr
    assert took < 10, f"took {took:.1f} s"
    (folder,) = (tmp_path / "s").iterdir()
    assert "Sighting" not in (folder / "session.tlog").read_bytes().decode("latin-1")


@pytest.mark.parametrize("autopilot", ["ardupilot", "px4"])
def test_a_sighting_reaches_the_exercises_vehicle(tmp_path: Path, autopilot: str) -> None:
    """``train sighting`` in a running exercise of either autopilot: the vehicle confirms it
    and the session records it. An ArduPilot vehicle is reached on its SERIAL1 port (TCP
    5762 + offset, as on SITL; the student's ground station holds SERIAL0), a PX4 one on its API
    port; it had reached PX4 vehicles only (an ArduPilot exercise waited 10 s for a heartbeat
    on PX4's port and failed)."""
    exercise = tmp_path / "ex.yaml"
    exercise.write_text(_edit("autopilot: px4", f"autopilot: {autopilot}"), encoding="utf-8")
    with _running(exercise, tmp_path / "out") as off:
        proc = _run_cli("train", "sighting", "49.748000,13.377600", "--port-offset", str(off))
    assert proc.returncode == 0, proc.stderr
    assert "the vehicle says: Sighting 49.748000 13.377600" in proc.stderr, proc.stderr
    (folder,) = (tmp_path / "out" / "s").iterdir()
    assert "Sighting 49.748000 13.377600" in (folder / "session.tlog").read_bytes().decode(
        "latin-1"
    )


def test_replay_of_a_damaged_recording_says_so(recorded: Path, tmp_path: Path) -> None:
    """A recording cut short (a full disk, a killed recorder) had been replayed in part with
    nothing said but the count: the instructor took it for the whole flight."""
    data = (recorded / "session.tlog").read_bytes()
    cut = tmp_path / "cut.tlog"
    cut.write_bytes(data[: len(data) // 2 + 3])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gcs:  # the ground station
        gcs.bind(("127.0.0.1", 0))
        port = gcs.getsockname()[1]
        proc = _run_cli(
            "train", "replay", str(cut), "--speed", "0", "--to", f"udpout://127.0.0.1:{port}"
        )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and "messages replayed to" in lines[0], proc.stderr
    assert re.search(
        r"cut\.tlog: the recording is damaged: \d+ unreadable bytes, 0 frames with a bad "
        # the cut lands in a frame or in its record's timestamp, as the recording's timing fell
        r"checksum, first at byte [\d,]+: truncated (MAVLink frame|record) at end of file",
        lines[1],
    ), lines[1]
