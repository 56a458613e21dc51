"""One student's training session: simulator, recorder, end of session, score.

Steps (each a small function over a :class:`Session`): :func:`build_fleet` (the exercise's
simulator fleet on the usual ports shifted by ``port_offset``), :func:`start` (recorder tapped
into every vehicle, in-process, so a link-loss fault never hides anything from the instructor),
:func:`wait_end` (all flights landed, the time limit, or a stop request), :func:`finish` (writes
``session.json``), then :func:`score_session` scores from the SQLite recording.

Session folder: ``<out>/<student>/<exercise>-<UTC stamp>/`` with ``session.db`` (telemetry
database), ``session.tlog`` (raw MAVLink, for ``train replay``), ``session.json`` (exercise, seed,
faults fired, target) and ``score.json``.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymavlink.dialects.v20 import ardupilotmega as mav

from dronekit_plzen.errors import BadInputError, DronekitPlzenError
from dronekit_plzen.i18n import _
from dronekit_plzen.training.exercise import Exercise
from dronekit_plzen.training.recording import load_recording
from dronekit_plzen.training.records import read_session_meta
from dronekit_plzen.training.rules import RuleResult, score
from simulators.faults import Brief, SteadyWind
from simulators.fleet import SimFleet
from simulators.physics import Geodetic
from simulators.scenario import ScenarioDriver, Target, gust_schedule

#: what the recorder asks of every vehicle (simulated Hz): enough to score, light on the CPU
RECORD_RATES_HZ = {
    mav.MAVLINK_MSG_ID_HEARTBEAT: 2.0,
    mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 4.0,
    mav.MAVLINK_MSG_ID_SYS_STATUS: 1.0,
    mav.MAVLINK_MSG_ID_BATTERY_STATUS: 0.5,
}
#: simulated seconds every vehicle must stay disarmed after its flight before the session ends
SETTLE_S = 5.0


#: the longest student name taken (a name, not a file: 10 kB had been stored as it came)
MAX_STUDENT_CHARS = 100


def check_student(name: str) -> str:
    """The student's name as typed, refused when it cannot be a name: not UTF-8 (it had been
    stored, and every later ``train report`` of the class failed on it), control characters
    (terminal escapes in every report), too long, or nothing a folder name can hold."""
    shown = Brief(name)
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):  # undecodable bytes (surrogateescape)
        raise BadInputError(_("student name {text!r} is not UTF-8 text").format(text=shown))
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise BadInputError(
            _("student name {text!r} contains control characters").format(text=shown)
        )
    if len(name) > MAX_STUDENT_CHARS:
        raise BadInputError(
            _("student name {text!r} is longer than {n} characters").format(
                text=shown, n=MAX_STUDENT_CHARS
            )
        )
    slug(name)
    return name


def slug(text: str) -> str:
    """``text`` as a folder or file name: letters without their accents (``Jiří Malý`` and
    ``Jiří Malá`` had both been ``Ji-Mal``), digits, ``._-``."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", plain.strip()).strip("-.")
    if not s:
        raise BadInputError(
            _("student name {text!r} has no usable characters").format(text=Brief(text))
        )
    return s[:60]


@dataclass
class Session:
    """Mutable state of one running session (owned by the thread that runs it)."""

    exercise: Exercise
    student: str
    folder: Path
    speedup: float = 1.0
    port_offset: int = 0
    lockstep: bool = False
    #: stream to a ground station on UDP 14550 (+offset); tests that only use 14540 turn it off
    gcs_link: bool = True
    #: simulator step (simulated s); tests use a coarser step to save CPU
    dt_s: float = 0.02
    fleet: SimFleet | None = None
    driver: ScenarioDriver | None = None
    recorder: Any = None
    target: tuple[float, float] | None = None
    t0_s: float = 0.0
    end_s: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)
    ended_by: str = ""

    @property
    def db_path(self) -> Path:
        return self.folder / "session.db"

    @property
    def tlog_path(self) -> Path:
        return self.folder / "session.tlog"


def placed_target(ex: Exercise) -> tuple[float, float] | None:
    """The target position, moved by up to ``jitter_m`` drawn from the exercise seed."""
    t = ex.target
    if t is None:
        return None
    if t.jitter_m <= 0:
        return t.lat_deg, t.lon_deg
    rng = np.random.default_rng([ex.fleet.seed, 19, 2])
    r = t.jitter_m * math.sqrt(float(rng.uniform()))
    a = float(rng.uniform(0.0, 2 * math.pi))
    lat, lon, _ = Geodetic(t.lat_deg, t.lon_deg, 0.0).to_lla(r * math.sin(a), r * math.cos(a), 0.0)
    return lat, lon


def build_fleet(s: Session) -> SimFleet:
    ex, fs = s.exercise, s.exercise.fleet
    w = fs.wind
    schedule = gust_schedule(
        fs.seed, ex.time_limit_s, w.gusts_max_m_s, w.gusts_every_s, w.from_deg, w.gusts_spread_deg
    )
    fleet = SimFleet(
        n_vehicles=fs.vehicles,
        autopilot=fs.autopilot,
        home=fs.home,
        speedup=s.speedup,
        lockstep=s.lockstep,
        seed=fs.seed,
        port_offset=s.port_offset,
        faults=schedule,
        spacing_m=fs.spacing_m,
        boot_settle_s=fs.boot_settle_s,
        gcs_link=s.gcs_link,
        dt_s=s.dt_s,
    )
    for v in fleet.vehicles:
        for name, value in fs.params.items():
            try:
                v.model.set_param(name, value)
            except BadInputError as exc:
                raise BadInputError(
                    _("{path}: fleet.params.{name}: {exc}").format(path=ex.path, name=name, exc=exc)
                ) from None
        if w.speed_m_s > 0:
            v._apply(SteadyWind(w.speed_m_s, w.from_deg))
    s.target = placed_target(ex)
    targets = []
    if s.target is not None and ex.target is not None:
        targets = [Target(*s.target, ex.target.detect_radius_m, ex.target.max_alt_m)]
    s.driver = ScenarioDriver(ex.faults, targets).attach(fleet)
    s.fleet = fleet
    return fleet


def _tap(s: Session, fleet: SimFleet) -> None:
    """A recording link inside every vehicle: bytes → decoded → recorder, on the sim clock."""
    for v in fleet.vehicles:
        parser = mav.MAVLink(None)
        parser.robust_parsing = True
        vm = v.model

        def send(data: bytes, parser: Any = parser, vm: Any = vm) -> None:
            for msg in parser.parse_buffer(data) or ():
                s.recorder.on_message(msg, s.t0_s + vm.t_s)

        def add(v: Any = v, send: Any = send) -> None:
            link = v.server.add_link("record", send)
            link.reset_streams(False)
            for mid, hz in RECORD_RATES_HZ.items():
                link.set_interval(mid, 1.0 / hz)

        fleet.call(add)


def start(s: Session) -> None:
    """Open the folder, the recorder and the simulator (sockets on the usual ports)."""
    from telemetry.recorder import Recorder

    s.folder.mkdir(parents=True, exist_ok=True)
    fleet = s.fleet or build_fleet(s)
    s.t0_s = math.floor(time.time())
    s.recorder = Recorder(s.db_path, tlog_path=s.tlog_path, commit_interval_s=0.5).start()
    _tap(s, fleet)  # before the scheduler runs: nothing is missed
    fleet.start()


def _all_done(s: Session, fleet: SimFleet, flew: set[int], since: dict[int, float]) -> bool:
    t = fleet.sim_time_s
    for v in fleet.vehicles:
        st = v.state
        if st.armed and not st.landed:  # a flight: off the ground (a forced arm is not one)
            flew.add(v.index)
        if st.armed:
            since.pop(v.index, None)
        elif v.index in flew:
            since.setdefault(v.index, t)
    if not flew or any(v.index not in flew for v in fleet.vehicles):
        return False
    return all(t - since.get(v.index, math.inf) >= SETTLE_S for v in fleet.vehicles)


def wait_end(s: Session, *, wall_timeout_s: float = math.inf) -> str:
    """Block until every vehicle flew and landed, the time limit, ``stop`` or the wall timeout."""
    fleet = s.fleet
    assert fleet is not None
    flew: set[int] = set()
    since: dict[int, float] = {}
    deadline = time.monotonic() + wall_timeout_s

    def over() -> bool:
        return (
            s.stop.is_set()
            or fleet.sim_time_s >= s.exercise.time_limit_s
            or _all_done(s, fleet, flew, since)
            or time.monotonic() > deadline
        )

    while not fleet.wait_until(lambda: over() or fleet.crashed is not None, 0.5):
        if fleet.crashed is not None:  # its clock stopped: the session had waited for ever
            break
    if fleet.crashed is not None:
        s.ended_by = "simulator crashed"
    elif s.stop.is_set():
        s.ended_by = "stopped"
    elif fleet.sim_time_s >= s.exercise.time_limit_s:
        s.ended_by = "time limit"
    elif time.monotonic() > deadline:
        s.ended_by = "wall timeout"
    else:
        s.ended_by = "landed"
    return s.ended_by


def finish(s: Session) -> dict[str, Any]:
    """Stop the simulator and the recorder; write and return ``session.json``."""
    fleet, driver = s.fleet, s.driver
    assert fleet is not None and driver is not None
    fleet.stop()
    s.end_s = fleet.sim_time_s
    s.recorder.stop()
    fired, sightings, detections = driver.log()
    ex = s.exercise
    homes = []
    for v in fleet.vehicles:
        st = v.state
        homes.append([st.home_lat_deg, st.home_lon_deg])
    data = {
        "student": s.student,
        "exercise": ex.name,
        "exercise_path": ex.path,
        "title": ex.title,
        "seed": ex.fleet.seed,
        "autopilot": ex.fleet.autopilot,
        "vehicles": ex.fleet.vehicles,
        "speedup": s.speedup,
        "port_offset": s.port_offset,
        "t0_s": s.t0_s,
        "end_s": round(s.end_s, 3),
        "ended_by": s.ended_by,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s.t0_s)),
        "homes": homes,
        "target": list(s.target) if s.target else None,
        "faults": [f.__dict__ for f in fired],
        "sightings": [x.__dict__ for x in sightings],
        "detections": [x.__dict__ for x in detections],
    }
    (s.folder / "session.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    if ex.source:  # the exercise as flown, for scoring and reports later
        shutil.copyfile(ex.source, s.folder / "exercise.yaml")
    return data


def score_session(folder: Path, ex: Exercise) -> list[RuleResult]:
    """Score a finished session from its recording; writes ``score.json``."""
    meta = read_session_meta(folder)
    rec = load_recording(folder / "session.db", meta)
    results = score(rec, ex)
    total = sum(r.points for r in results)
    out = {
        "student": meta["student"],
        "exercise": meta["exercise"],
        "seed": meta["seed"],
        "points": total,
        "max_points": sum(r.points for r in ex.rules),
        "rules": [r.as_dict() for r in results],
    }
    (folder / "score.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    return results


def new_session(
    ex: Exercise,
    student: str,
    out_dir: Path,
    *,
    speedup: float = 1.0,
    port_offset: int = 0,
    lockstep: bool = False,
    gcs_link: bool = True,
    dt_s: float = 0.02,
) -> Session:
    """A session of ``ex`` for ``student`` in a new folder of its own under ``out_dir``.

    The folder is created here, atomically: two sessions started in the same second (the same
    student twice, or two names of one slug) had shared one folder, and the second's
    recording and session.json replaced the first's.
    """
    from dronekit_plzen.outputs import output_error, prepare_output_dir

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    parent = prepare_output_dir(out_dir / slug(student))
    n = 1
    while True:
        folder = parent / (f"{ex.name}-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            folder.mkdir()
            break
        except FileExistsError:
            n += 1
        except OSError as exc:
            raise output_error(folder, exc) from exc
    return Session(
        ex,
        student,
        folder,
        speedup=speedup,
        port_offset=port_offset,
        lockstep=lockstep,
        gcs_link=gcs_link,
        dt_s=dt_s,
    )


def abandon(s: Session) -> None:
    """A session that did not start (a port in use): stop what did start and remove its
    folder, which it had left with a session.json of a flight that never was."""
    if s.fleet is not None:
        s.fleet.stop()
    if s.recorder is not None:
        s.recorder.stop()
    shutil.rmtree(s.folder, ignore_errors=True)


def run_session(s: Session, *, wall_timeout_s: float = math.inf) -> list[RuleResult]:
    """Start, wait for the end, finish and score (the simulator always stops).

    A simulator that crashed is :class:`DronekitPlzenError` (its session.json says so; it is
    not scored)."""
    try:
        start(s)
    except BaseException:
        abandon(s)
        raise
    try:
        wait_end(s, wall_timeout_s=wall_timeout_s)
    finally:
        finish(s)
    check_not_crashed(s)
    return score_session(s.folder, s.exercise)


def check_not_crashed(s: Session) -> None:
    if s.fleet is not None and s.fleet.crashed is not None:
        raise DronekitPlzenError(
            _("the simulator stopped: {e}").format(e=s.fleet.crashed or type(s.fleet.crashed))
        )
