"""``dronekit-plzen sim``: run the simulator fleet until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from dronekit_plzen.cliutil import FiniteFloatRange, app, info, refuse_given
from dronekit_plzen.errors import BadInputError, DronekitPlzenError
from dronekit_plzen.geo import parse_coordinate
from dronekit_plzen.i18n import _


def parse_home(text: str) -> tuple[float, float, float]:
    """``LAT,LON[,ALT]`` (any format parse_coordinate accepts, plus an optional AMSL altitude)."""
    parts = [p.strip() for p in text.split(",")]
    alt = 310.0
    coord = text
    if len(parts) == 3:
        coord = ",".join(parts[:2])
        try:
            alt = float(parts[2])
        except ValueError:
            raise BadInputError(
                _("--home: altitude {alt!r} is not a number (metres AMSL)").format(alt=parts[2])
            ) from None
    try:
        lon, lat = parse_coordinate(coord)
    except BadInputError as exc:
        raise BadInputError(_("--home: {exc}").format(exc=exc)) from None
    if not -500.0 <= alt <= 9000.0:  # below the Dead Sea or above Everest: a slip
        raise BadInputError(
            _("--home: altitude {alt:g} m AMSL is not on the Earth's surface").format(alt=alt)
        )
    return lat, lon, alt


def check_bind(host: str) -> None:
    """``--bind`` must be an IP address of this machine (the simulator never resolves names:
    a typo must not bind somewhere unexpected)."""
    import ipaddress
    import socket

    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise BadInputError(
            _("--bind: {h!r} is not an IP address (e.g. 127.0.0.1)").format(h=host)
        ) from None
    fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, 0))
        except OSError:
            raise BadInputError(
                _("--bind: {h} is not an address of this machine").format(h=host)
            ) from None


@click.command(name="sim", help=_("Run the MAVLink multicopter simulator fleet."))
@click.option(
    "--vehicles",
    "-n",
    "n_vehicles",
    type=click.IntRange(1, 200),
    default=1,
    show_default=True,
    help=_("Number of vehicles."),
)
@click.option(
    "--home",
    default="49.7475,13.3776,310",
    show_default=True,
    help=_("LAT,LON[,ALT] of vehicle 0 (WGS84, ALT m AMSL)."),
)
@click.option(
    "--autopilot",
    type=click.Choice(["px4", "ardupilot"]),
    default="px4",
    show_default=True,
    help=_("Firmware flavour."),
)
@click.option(
    "--speedup",
    type=FiniteFloatRange(min=0.01, max=1000),
    default=1.0,
    show_default=True,
    help=_("Real-time factor."),
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help=_("Random seed (GPS noise, radio faults)."),
)
@click.option(
    "--lockstep", is_flag=True, help=_("Run as fast as possible (deterministic for a seed).")
)
@click.option(
    "--port-offset",
    type=click.IntRange(0, 40000),
    default=0,
    show_default=True,
    help=_("Added to every port."),
)
@click.option(
    "--bind", "bind_host", default="127.0.0.1", show_default=True, help=_("Local address to bind.")
)
@click.option(
    "--faults",
    "faults_file",
    type=click.Path(path_type=Path),
    help=_("Fault schedule (JSON or YAML)."),
)
@click.option(
    "--boot-settle",
    "boot_settle_s",
    type=click.FloatRange(min=0.0, max=600.0),
    default=None,
    help=_(
        "Simulated seconds after boot before ready to arm "
        "[default: as the firmware, ArduCopter 40, PX4 4.5]."
    ),
)
@click.option("--no-gcs-link", is_flag=True, help=_("Do not stream to the GCS port 14550."))
@click.option("--exercise", help=_("Training exercise: a bundled name or a YAML file."))
@click.option("--list-exercises", is_flag=True, help=_("List the bundled exercises and exit."))
@click.option(
    "--signing-key-file",
    type=click.Path(path_type=Path),
    default=None,
    help=_("MAVLink 2 signing key (owner-only file: 64 hex digits, 32 raw bytes or a passphrase)."),
)
def sim(
    n_vehicles: int,
    home: str,
    autopilot: str,
    speedup: float,
    seed: int,
    lockstep: bool,
    port_offset: int,
    bind_host: str,
    faults_file: Path | None,
    boot_settle_s: float | None,
    no_gcs_link: bool,
    exercise: str | None,
    list_exercises: bool,
    signing_key_file: Path | None,
) -> None:
    from simulators import exercises as ex
    from simulators.faults import load_schedule
    from simulators.fleet import SimFleet

    if list_exercises:
        for name in ex.list_exercises():
            e = ex.load_exercise(name)
            click.echo(_("exercise {name}: {title}").format(name=name, title=e.title))
        return
    ctx = click.get_current_context()

    def given(param: str) -> bool:
        return ctx.get_parameter_source(param) is not click.core.ParameterSource.DEFAULT

    if lockstep:  # --speedup had been dropped: lockstep runs as fast as the CPU allows
        refuse_given(
            {"speedup": "--speedup"},
            _("--speedup paces the real-time mode; --lockstep runs as fast as it can: give one"),
        )
    key = None
    if signing_key_file is not None:
        from dronekit_plzen.signing_keys import read_key_file

        key = read_key_file(signing_key_file)
    home_lla = parse_home(home)
    check_bind(bind_host)
    exc = ex.load_exercise(exercise) if exercise else None
    if exc is not None and not given("n_vehicles"):
        n_vehicles = exc.vehicles
    if exc is not None:
        needed = max((f.vehicle + 1 for f in exc.faults if f.vehicle is not None), default=0)
        if n_vehicles < needed:  # its faults on a missing vehicle had never fired
            raise BadInputError(
                _(
                    "--vehicles {n}: the exercise {name} injects a fault into vehicle {needed}"
                ).format(n=n_vehicles, name=exc.name, needed=needed)
            )
    # checked against the vehicles that will fly (an exercise's 3, not --vehicles' default 1)
    schedule = load_schedule(faults_file, n_vehicles) if faults_file else []
    common: dict[str, Any] = dict(
        speedup=speedup,
        lockstep=lockstep,
        seed=seed,
        bind_host=bind_host,
        port_offset=port_offset,
        gcs_link=not no_gcs_link,
        boot_settle_s=boot_settle_s,
    )
    if exc is not None:
        fleet = SimFleet.from_exercise(
            exc,
            autopilot=autopilot if given("autopilot") else None,
            n_vehicles=n_vehicles,
            home=home_lla if given("home") else exc.home,
            **common,
        )
        fleet.schedule = sorted([*fleet.schedule, *schedule], key=lambda f: f.at_s)
        autopilot = fleet.autopilot
    else:
        fleet = SimFleet(
            n_vehicles=n_vehicles, autopilot=autopilot, home=home_lla, faults=schedule, **common
        )
    if key is not None:
        for v in fleet.vehicles:
            v.set_signing_key(key)
    stop = threading.Event()

    def _on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    fleet.start()
    try:
        quiet = app().quiet
        for i, v in enumerate(fleet.vehicles):
            ports = ", ".join(f"{k}={p}" for k, p in fleet.ports(i).items())
            if not quiet:
                info(
                    _("vehicle {sysid} ({autopilot}): {ports}").format(
                        sysid=v.sysid, autopilot=autopilot, ports=ports
                    )
                )
        if not quiet and key is not None:
            info(_("MAVLink 2 signing on: unsigned commands are refused"))
        if not quiet:
            info(_("simulator running; press Ctrl+C to stop"))
        while not stop.wait(0.5):
            if fleet.crashed is not None:
                raise DronekitPlzenError(
                    _("the simulator stopped: {e}").format(e=fleet.crashed or type(fleet.crashed))
                )
    finally:
        fleet.stop()
        for s, h in old.items():
            signal.signal(s, h)
        if not app().quiet:
            info(
                _("simulator stopped after {t:.1f} s of simulated time").format(t=fleet.sim_time_s)
            )
