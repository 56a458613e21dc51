"""``dronekit-plzen train``: run a scored exercise for a student, report, replay, sightings."""

from __future__ import annotations

import math
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from dronekit_plzen.cliutil import FiniteFloatRange, app, info
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _, get_language, ngettext

DEFAULT_OUT = Path("training")


@click.group(
    name="train", help=_("Simulator training: scored exercises, instructor reports, replays.")
)
def train() -> None:
    """The ``train`` command group (its help is the translated text above)."""


@train.command(name="list", help=_("List the bundled exercises."))
def list_cmd() -> None:
    from dronekit_plzen.training.exercise import list_exercises, load_exercise

    lang = get_language()
    for name in list_exercises():
        ex = load_exercise(name)
        click.echo(f"{name}: {ex.text(ex.title, lang)}")


@train.command(name="check", help=_("Validate an exercise file and print its rules and faults."))
@click.argument("exercise")
@click.option("--seed", type=int, default=None, help=_("Override the exercise's seed."))
def check_cmd(exercise: str, seed: int | None) -> None:
    from dronekit_plzen.training.exercise import load_exercise

    ex = load_exercise(exercise, seed=seed)
    n_rules, n_faults, n_vehicles = len(ex.rules), len(ex.faults), ex.fleet.vehicles
    click.echo(
        _("{name}: valid ({rules}, {faults}, {vehicles}, seed {seed})").format(
            name=ex.name,
            rules=ngettext("{n} rule", "{n} rules", n_rules).format(n=n_rules),
            faults=ngettext("{n} fault", "{n} faults", n_faults).format(n=n_faults),
            vehicles=ngettext("{n} vehicle", "{n} vehicles", n_vehicles).format(n=n_vehicles),
            seed=ex.fleet.seed,
        )
    )
    for f in ex.faults:
        veh = "*" if f.vehicle is None else str(f.vehicle + 1)
        kind = type(f.fault).__name__
        click.echo(
            _("  fault {id}: {kind} on vehicle {veh} when {when}").format(
                id=f.id, kind=kind, veh=veh, when=f.trigger.describe()
            )
        )
    for r in ex.rules:
        whole = float(r.points).is_integer()  # "1 points" was printed; 1.5 takes the plural
        click.echo(
            ngettext(
                "  rule {id}: {type} ({points:g} point)",
                "  rule {id}: {type} ({points:g} points)",
                int(r.points) if whole else 5,
            ).format(id=r.id, type=r.type, points=r.points)
        )


def _path(raw: str, option: str) -> Path:
    """A folder option's path (``--out ''`` had been the current folder)."""
    if not raw.strip():
        raise BadInputError(_("{option}: the path is empty").format(option=option))
    return Path(raw)


def _ports_line(port_offset: int, autopilot: str, i: int) -> str:
    from simulators.fleet import vehicle_ports

    ports = vehicle_ports(autopilot, port_offset, i)
    if autopilot == "px4":
        return _(
            "vehicle {n}: ground station UDP {gcs} (QGroundControl), API UDP {api} (GUI, MAVSDK)"
        ).format(n=i + 1, gcs=ports["gcs_remote"], api=ports["api_remote"])
    return _("vehicle {n}: TCP {tcp} (MAVProxy, GUI), ground station UDP {gcs}").format(
        n=i + 1, tcp=ports["tcp"], gcs=ports["gcs_remote"]
    )


@train.command(
    name="run",
    help=_(
        "Run EXERCISE for one student: simulator up, briefing, record, score at the end.\n\n"
        "The session ends when every drone has flown and landed, at the exercise's time limit, or "
        "on Ctrl+C; it is then scored from the recording."
    ),
)
@click.argument("exercise")
@click.option("--student", required=True, help=_("The student's name (the report's key)."))
@click.option(
    "--speedup",
    type=FiniteFloatRange(min=0.1, max=100.0),  # NaN had crashed the simulator, then hung
    default=1.0,
    show_default=True,
    help=_("Simulated seconds per wall-clock second."),
)
@click.option("--seed", type=int, default=None, help=_("Override the exercise's seed."))
@click.option(
    "--port-offset",
    type=click.IntRange(0, 40000),
    default=0,
    show_default=True,
    help=_("Added to every port (one student per offset: 0, 100, 200...)."),
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(),
    default=str(DEFAULT_OUT),
    show_default=True,
    help=_("Folder of the class's sessions."),
)
@click.option(
    "--max-wall",
    "max_wall_s",
    type=FiniteFloatRange(min=1.0),
    default=None,
    help=_("End the session after this many wall-clock seconds."),
)
def run_cmd(
    exercise: str,
    student: str,
    speedup: float,
    seed: int | None,
    port_offset: int,
    out_dir: str,
    max_wall_s: float | None,
) -> None:
    from dronekit_plzen.training.exercise import load_exercise

    ex = load_exercise(exercise, seed=seed)  # every problem reported before anything starts
    from dronekit_plzen.training.report import score_table
    from dronekit_plzen.training.session import (
        abandon,
        check_not_crashed,
        check_student,
        finish,
        new_session,
        score_session,
        start,
        wait_end,
    )

    check_student(student)
    out = _path(out_dir, "--out")
    s = new_session(ex, student, out, speedup=speedup, port_offset=port_offset)
    lang = get_language()
    quiet = app().quiet
    if not quiet:
        click.echo(f"== {ex.text(ex.title, lang)} ==")
        click.echo(ex.text(ex.briefing, lang))
        if ex.mission:
            pts = "; ".join(f"{a:.6f}, {b:.6f} @ {c:g} m" for a, b, c in ex.mission)
            click.echo(_("suggested route: {points}").format(points=pts))
    old = {}

    def _on_signal(_sig: int, _frame: FrameType | None) -> None:
        s.stop.set()

    if threading.current_thread() is threading.main_thread():
        old = {sg: signal.signal(sg, _on_signal) for sg in (signal.SIGINT, signal.SIGTERM)}
    started = False
    try:
        try:
            start(s)
            started = True
        except BaseException:
            abandon(s)  # no session.json of a session that never ran
            raise
        for i in range(ex.fleet.vehicles):
            info(_ports_line(port_offset, ex.fleet.autopilot, i))
        info(
            _("session {folder} running at {x:g}x; Ctrl+C ends it").format(
                folder=s.folder, x=speedup
            )
        )
        ended = wait_end(s, wall_timeout_s=max_wall_s if max_wall_s else math.inf)
    finally:
        if started:
            finish(s)
        for sg, h in old.items():
            signal.signal(sg, h)
    check_not_crashed(s)
    info(_("session ended ({why}) after {t:.0f} s of simulated time").format(why=ended, t=s.end_s))
    results = score_session(s.folder, ex)
    click.echo(score_table(results, sum(r.points for r in ex.rules)))


@train.command(name="report", help=_("Per-student HTML reports and the class summary CSV."))
@click.option(
    "--sessions",
    "sessions_dir",
    type=click.Path(),
    default=str(DEFAULT_OUT),
    show_default=True,
    help=_("Folder of the class's sessions."),
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(),
    default=None,
    help=_("Where to write the reports [default: the sessions folder]."),
)
def report_cmd(sessions_dir: str, out_dir: str | None) -> None:
    from dronekit_plzen.training.report import write_reports

    root = _path(sessions_dir, "--sessions")
    out = root if out_dir is None else _path(out_dir, "--out")
    written = write_reports(root, out, lang=get_language())
    for p in written:
        click.echo(str(p))


@train.command(
    name="replay",
    help=_("Re-send a session's recorded telemetry to a ground station, as the student saw it."),
)
@click.argument("session", type=click.Path(path_type=Path))
@click.option(
    "--to",
    "url",
    default="udpout://127.0.0.1:14550",
    show_default=True,
    help=_("Where to re-send the recorded MAVLink (a ground station's port)."),
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0.0),
    default=1.0,
    show_default=True,
    help=_("Replay speed (0: as fast as possible)."),
)
def replay_cmd(session: Path, url: str, speed: float) -> None:
    from dronekit_plzen.training.replay import recording_damage, replay_session

    if not (speed == 0 or MIN_REPLAY_SPEED <= speed <= MAX_REPLAY_SPEED):  # NaN too
        # (1e-300 overflowed the clock: an internal error)
        raise BadInputError(
            _("--speed must be 0 (as fast as possible) or {lo:g} to {hi:g}, got {v:g}").format(
                lo=MIN_REPLAY_SPEED, hi=MAX_REPLAY_SPEED, v=speed
            )
        )

    damage = recording_damage(session)
    n = replay_session(session, url, speed=speed)
    info(_("{n} messages replayed to {url}").format(n=n, url=url))
    if damage:  # a truncated recording had been replayed in part without a word
        info(
            _("{path}: the recording is damaged: {damage}; the rest of it was replayed").format(
                path=session, damage=damage
            )
        )


#: the slowest and fastest a session is replayed at (× real time; 0: as fast as possible)
MIN_REPLAY_SPEED = 0.01
MAX_REPLAY_SPEED = 1000.0


@train.command(
    name="sighting", help=_("Report a sighting at POSITION (LAT,LON) to the running exercise.")
)
@click.argument("position")
@click.option(
    "--port-offset",
    type=click.IntRange(0, 40000),
    default=0,
    show_default=True,
    help=_("The port offset the exercise runs with (train run --port-offset)."),
)
@click.option(
    "--vehicle",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help=_("The drone that saw it (1 = the first)."),
)
def sighting_cmd(position: str, port_offset: int, vehicle: int) -> None:
    from dronekit_plzen.geo import parse_coordinate
    from dronekit_plzen.training.replay import report_sighting

    try:
        lon, lat = parse_coordinate(position)
    except BadInputError as exc:
        raise BadInputError(_("POSITION: {exc}").format(exc=exc)) from None
    echo = report_sighting(lat, lon, port_offset=port_offset, vehicle=vehicle)
    info(
        _("sighting {lat:.6f}, {lon:.6f} reported; the vehicle says: {text}").format(
            lat=lat, lon=lon, text=echo
        )
    )
