"""``dronekit-plzen fly``: fly one mission with pre-flight checks.

``fly`` connects, waits for the vehicle, checks GPS, battery and health, clears every sortie
with the planner's guard (:func:`missions.clearance.clear_for_flight`: terrain, zones, 120 m
AGL, endurance per sortie with the profile's reserve, plausibility; the vehicle's HOME_POSITION
is the altitude datum; refused with exit 3 unless ``--override-safety --reason``), uploads and
verifies the sortie under its clearance, arms (a refusal names the vehicle's PreArm reasons),
takes off, starts it and shows progress until the vehicle has landed and disarmed (exit 0).
A vehicle silent for longer than ``--link-loss-s`` ends ``fly`` with exit 1. Ctrl-C asks whether
to return to launch; with no terminal and no answer it returns to launch.
"""

from __future__ import annotations

import contextlib
import math
import select
import sys
import time
from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cli.fly_sorties import (
    FlightWatch,
    SortieProgress,
    arm_or_explain,
    clear_sorties,
    load_sorties,
    resume_mission,
)
from dronekit_plzen.cliutil import app, echo_json, given_options, info
from dronekit_plzen.errors import (
    BadInputError,
    DronekitPlzenError,
    LinkError,
    MissionIncomplete,
    SafetyViolation,
)
from dronekit_plzen.fleet import (
    MissionCompletion,
    leave_unarmable_mode,
    terrain_server,
    upload_rally,
    vehicle_rally,
    vehicle_rtl_params,
)
from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.link import Link, Vehicle, VehicleState, connect
from dronekit_plzen.mission_items import (
    CMD_NAV_TAKEOFF,
    command_name,
    takeoff_alt_above_home_m,
)

GPS_FIX_3D = 3


def preflight_problems(
    st: VehicleState, *, min_battery_pct: float, min_satellites: int
) -> list[str]:
    """Reasons not to take off, from one state snapshot (empty list = go)."""
    problems = []
    if st.gps_fix_type < GPS_FIX_3D:
        problems.append(_("no 3D GPS fix (fix type {fix})").format(fix=st.gps_fix_type))
    if st.satellites < min_satellites:
        problems.append(
            _("only {n} satellites (need {m})").format(n=st.satellites, m=min_satellites)
        )
    if math.isnan(st.battery_remaining_pct) or st.battery_remaining_pct < min_battery_pct:
        problems.append(
            _("battery {pct}% below {min:g}%").format(
                pct="?" if math.isnan(st.battery_remaining_pct) else int(st.battery_remaining_pct),
                min=min_battery_pct,
            )
        )
    if not st.healthy:
        problems.append(
            _("sensors unhealthy (SYS_STATUS mask {m:#x})").format(m=st.sensors_unhealthy)
        )
    if st.home is None:
        problems.append(_("home position not set"))
    if st.armed:
        problems.append(_("vehicle is already armed"))
    return problems


def _load_mission(path: Path) -> Any:
    from missions.formats import load_mission

    return load_mission(path)


def _answer_without_terminal(text: str, default: bool, timeout_s: float) -> bool | None:
    """Ask on a pipe: the answer line, or None on end of input or no answer in time."""
    click.echo(f"{text} [{'Y/n' if default else 'y/N'}]: ", err=True, nl=False)
    try:
        ready, _w, _x = select.select([sys.stdin], [], [], timeout_s)
    except (OSError, ValueError):
        return None
    line = sys.stdin.readline() if ready else ""
    click.echo("", err=True)
    ans = line.strip().lower()
    if not line:
        return None
    if ans in ("y", "yes", "a", "ano"):
        return True
    if ans in ("n", "no", "ne"):
        return False
    return default


def ask_rtl(v: Vehicle, confirm: Any = None, *, answer_timeout_s: float = 10.0) -> bool:
    """Ctrl-C during a flight: ask, then command RTL if the pilot says so.

    With no terminal (a service, a pipe) an answer line is still read, but end of input or no
    answer within ``answer_timeout_s`` means RTL: an interrupted flight is never left unattended.
    """
    text = _("Interrupted. Return to launch now?")
    yes: bool | None
    if confirm is not None:
        yes = bool(confirm(text, default=True, err=True))
    elif sys.stdin is not None and sys.stdin.isatty():
        try:
            yes = click.confirm(text, default=True, err=True)
        except click.exceptions.Abort:
            yes = None
    else:
        yes = _answer_without_terminal(text, True, answer_timeout_s)
    if yes is None:
        info(_("no answer: returning to launch"))
        yes = True
    if yes:
        v.rtl()
        info(_("RTL commanded; the vehicle is returning."))
        return True
    info(_("Vehicle left in its current mode."))
    return False


def _ready(
    v: Vehicle,
    wait_s: float,
    min_battery_pct: float,
    min_satellites: int,
    wait_ready_s: float = 60.0,
) -> Any:
    """Wait for the firmware's ready-to-arm (showing its PreArm messages), then check."""
    v.wait_ready_to_arm(
        wait_ready_s, on_message=lambda text: info(_("vehicle: {text}").format(text=text))
    )
    st = v.wait_for(
        lambda s: s.home is not None and s.gps_fix_type >= GPS_FIX_3D and s.position_known,
        wait_s,
        _("GPS fix and home position"),
    )
    problems = preflight_problems(
        st, min_battery_pct=min_battery_pct, min_satellites=min_satellites
    )
    if problems and st.implausible:  # a reading missing because it was nonsense: say which
        problems.append(st.implausible)
    if problems:
        raise SafetyViolation(_("pre-flight check failed: {p}").format(p="; ".join(problems)))
    return st


def fly_sortie(
    link: Link,
    v: Vehicle,
    sortie: Any,
    *,
    n_sorties: int = 1,
    takeoff_alt_m: float = 20.0,
    timeout_s: float = 3600.0,
    link_loss_s: float = 30.0,
    interactive: bool | None = None,
    on_stop: Any = None,
    send_rally: bool = True,
) -> dict[str, Any]:
    """Upload one cleared sortie (:class:`missions.clearance.SortieClearance`), fly it, land.

    ``on_stop(item)`` is called with the last item reached when the flight is interrupted
    (Ctrl-C, a vehicle lost), so that the sortie can be resumed there. ``send_rally``: upload
    the plan's rally points with it (False when they were read from the vehicle: they stay).
    """
    items = list(sortie.items)
    label = _("sortie {k} of {n}: ").format(k=sortie.index, n=n_sorties) if n_sorties > 1 else ""
    info(label + _("uploading {n} items").format(n=len(items)))
    t0 = time.monotonic()
    granted = v.upload_mission(items, verify=True, clearance=sortie.clearance)
    if send_rally and (n_rally := upload_rally(v, sortie.mission)):
        info(
            ngettext("{n} rally point uploaded", "{n} rally points uploaded", n_rally).format(
                n=n_rally
            )
        )
    took_s = time.monotonic() - t0  # a short mission takes hundredths of a second, not "0.0 s"
    info(
        _("mission uploaded and verified in {t} s").format(
            t=f"{took_s:.1f}" if took_s >= 1.0 else f"{took_s:.2f}"
        )
    )
    if switched := leave_unarmable_mode(v):
        # ArduCopter stays in the mode it landed in (AUTO after the mission's RTL), which
        # refuses to arm ("Arm: AUTO mode not armable"); it takes off in GUIDED anyway
        info(
            _("mode {old} does not allow arming: switching to {new}").format(
                old=switched[0], new=switched[1]
            )
        )
    arm_or_explain(v)
    if v.autopilot == "ardupilot":
        home = sortie.mission.home or v.state.home
        alt = takeoff_alt_above_home_m(items, takeoff_alt_m, home[2] if home else math.nan)
        v.takeoff(alt)
        # the mission starts where the guard walked it from: at the take-off altitude (within
        # a metre), not on the way up
        v.wait_for(
            lambda s: s.relative_alt_m > max(0.8 * alt, alt - 1.0),
            120,
            _("take-off"),
        )
    v.start_mission()
    info(_("mission started"))
    started = time.monotonic()
    watch = FlightWatch(
        v,
        len(items),
        link_loss_s=link_loss_s,
        interactive=sys.stderr.isatty() if interactive is None else interactive,
        echo=info,
    )
    done = MissionCompletion.of(items)
    try:
        with link.subscribe(sysid=v.sysid, maxsize=1000) as sub:
            done.mode(v.state.mode)
            airborne = False
            while True:
                st = v.state
                airborne = airborne or st.in_air or st.relative_alt_m > 2.0
                watch.step(st)
                if airborne and not st.armed and not st.in_air:
                    break
                if time.monotonic() - started > timeout_s:
                    raise DronekitPlzenError(
                        _("flight did not end within {t:.0f} s").format(t=timeout_s)
                    )
                # what is queued, in order (a reach counts in the mode it came in); at most
                # 1000 before the vehicle's state is looked at again
                wait_s = 1.0
                for _n in range(1000):
                    got = sub.get(wait_s)
                    if got is None:
                        break
                    if hasattr(got[0], "get_type"):
                        done.follow(got[0], v.compid)
                    wait_s = 0.0
    except KeyboardInterrupt:
        if on_stop is not None:
            on_stop(v.state.mission_seq)
        ask_rtl(v)
        raise click.exceptions.Exit(130) from None
    except LinkError:
        if on_stop is not None:
            on_stop(v.state.mission_seq)
        raise
    st = v.state
    summary = {
        "sortie": sortie.index,
        "items": len(items),
        "flight_s": round(time.monotonic() - started, 1),
        "landed": {"lat_deg": st.lat_deg, "lon_deg": st.lon_deg},
        "completed": done.complete,
        "validation": sortie.mission.metadata.get("validation", {}),
        "clearance": granted.to_dict() if granted else None,
        "statustexts": [s.text for s in st.statustexts[-5:]],
    }
    if not done.complete:
        # landed short of the mission's end: a failsafe (battery, link, geofence) or the
        # pilot's switch brought it back; the rest is not searched, and must not count as done
        if on_stop is not None:
            on_stop(done.furthest + 1)
        summary["last_item_reached"] = max(done.furthest, 0)
        summary["left_mission_in"] = done.left_in or st.mode or None
        cut = MissionIncomplete(
            _(
                "the vehicle landed before the end of the mission: it left it in mode {mode} "
                "{progress}{why}; the rest was not flown: run fly again to fly it"
            ).format(
                mode=done.left_in or st.mode or "?",
                progress=done.progress(),
                why=_last_warning(st, started),
            )
        )
        cut.summary = summary  # what was flown, for --json
        raise cut
    return summary


def _last_warning(st: VehicleState, since_s: float) -> str:
    """The vehicle's last warning since ``since_s`` (STATUSTEXT of severity WARNING or worse)
    as " (TEXT)", or ""."""
    texts = [t.text for t in st.statustexts if t.time_s >= since_s and t.severity <= 4]
    return f" ({texts[-1]})" if texts else ""


def _show_warnings(fc: Any) -> None:
    """What the guard warns of (a conditional zone entered) before the flight, as ``plan
    validate`` prints it: the sortie may fly, the pilot reads it first."""
    n = len(fc.sorties)
    for s in fc.sorties:
        label = _("sortie {k} of {n}: ").format(k=s.index, n=n) if n > 1 else ""
        for w in s.report.warnings:
            info(f"{label}{_('warning')} {w}")


def _record_cleared(fc: Any, db_path: Path | None, sysid: int) -> None:
    """Keep every cleared sortie, with its validation and any override, in the flight database.

    The flight itself is recorded by ``record``; this keeps what was cleared to fly and who
    overrode what. A database that cannot be written does not stop the flight (a warning).
    """
    if db_path is None:
        return
    from missions.formats.qgc_plan import dump_plan
    from telemetry.store import open_store

    try:
        with open_store(db_path) as store:
            for s in fc.sorties:
                store.save_mission(
                    dump_plan(s.mission), name=f"fly: vehicle {sysid} sortie {s.index}"
                )
    except DronekitPlzenError as exc:
        info(
            _("warning: the cleared mission was not recorded in the flight database: {e}").format(
                e=exc
            )
        )


def _stopped(progress: SortieProgress, k: int, item: int, mission: Any) -> None:
    """Remember where sortie ``k`` stopped, as an item index of the original sortie file."""
    offset = int(mission.metadata.get("resumed_at_item", 0))
    if offset:  # a resumed sortie: take-off (and speed) then the original items from offset
        prefix = int(mission.metadata.get("resumed_prefix", 0))
        item = offset + max(item - prefix, 0)
    if item > 0:
        progress.mark_stopped(k, item)


def _ask_next(k: int, n: int) -> bool:
    text = _("Sortie {k} of {n} landed. Fly sortie {m} now (battery swapped)?").format(
        k=k, n=n, m=k + 1
    )
    if sys.stdin is not None and sys.stdin.isatty():
        try:
            return bool(click.confirm(text, default=False, err=True))
        except click.exceptions.Abort:
            return False
    return bool(_answer_without_terminal(text, False, 1.0))


def _profile(name: str | None, mission: Any, autopilot: str | None = None) -> Any:
    """The vehicle profile the endurance is checked with: ``--profile``, else the plan's, else
    the generic quadcopter of the vehicle's autopilot (``autopilot``; None: not known yet, the
    name is only checked)."""
    from missions.vehicles import get_vehicle

    default = "ardupilot-quad" if autopilot == "ardupilot" else "px4-quad"
    key = name or mission.metadata.get("vehicle") or default
    veh = get_vehicle(key, app().config.vehicle_dir)
    if not name and not mission.metadata.get("vehicle") and autopilot is not None:
        info(
            _(
                "endurance checked with the default profile {key} (choose one with --profile)"
            ).format(key=key)
        )
    return veh


#: the limits of fly's numeric options: (lowest, lowest allowed itself, highest). A take-off
#: is at most the 120 m AGL limit; a heartbeat at least every 5 s keeps the vehicle's GCS
#: failsafe (ArduPilot's FS_GCS_TIMEOUT is 5 s) from firing, and more than 50 a second floods
#: the link; a flight of a day, a vehicle silent for an hour, an hour's wait to be ready
#: already mean something is wrong
_LIMITS: dict[str, tuple[float, bool, float]] = {
    "--min-battery": (0.0, True, 100.0),
    "--takeoff-alt": (0.0, False, 120.0),
    "--timeout": (0.0, False, 86_400.0),
    "--heartbeat-hz": (0.2, True, 50.0),
    "--link-loss-s": (0.0, False, 3_600.0),
    "--max-range-m": (0.0, False, math.inf),
    "--max-distance-m": (0.0, False, math.inf),
    "--max-launch-offset-m": (0.0, False, math.inf),
    "--wait-ready": (0.0, True, 3_600.0),
    "--wait-vehicle": (0.0, False, 3_600.0),
    "--vehicle": (1, True, 255),
}


def check_option(name: str, value: float | None) -> None:
    """Refuse a value of ``fly``'s option ``name`` outside :data:`_LIMITS` (None: not given).

    >>> check_option("--heartbeat-hz", 0.0)
    Traceback (most recent call last):
    ...
    dronekit_plzen.errors.BadInputError: --heartbeat-hz must be from 0.2 to 50, got 0
    """
    if value is None:
        return
    lo, lo_ok, hi = _LIMITS[name]
    if not math.isfinite(value):
        raise BadInputError(_("{opt} must be a finite number, got {v}").format(opt=name, v=value))
    if math.isinf(hi) and not lo_ok and value <= lo:
        raise BadInputError(_("{opt} must be > 0, got {v:g}").format(opt=name, v=value))
    if (value < lo if lo_ok else value <= lo) or value > hi:
        text = (
            _("{opt} must be from {lo:g} to {hi:g}, got {v:g}")
            if lo_ok
            else _("{opt} must be more than {lo:g} and at most {hi:g}, got {v:g}")
        )
        raise BadInputError(text.format(opt=name, lo=lo, hi=hi, v=value))


def _check_url(url: str) -> None:
    """A connection string that cannot reach a vehicle, refused before any file is read."""
    from dronekit_plzen.link.url import parse_url

    parse_url(url)


def _open_guard_inputs(missions: list[Any], dem: Path | None, zones: Path | None) -> Any:
    """The terrain model (around the missions) and the geozones, read before connecting."""
    from missions.clearance import open_terrain
    from missions.zones import load_zones

    return open_terrain(dem, missions), load_zones(zones) if zones else None


@click.command(
    name="fly",
    help=_(
        "Validate, upload, verify and fly MISSION_PATH (.plan, .waypoints, ...) until landed.\n\n"
        "A plan written as sorties (NAME_sortie1.plan, NAME_sortie2.plan, ...) is flown one sortie"
        " per battery: the next one is offered after landing, and a later fly resumes with it."
    ),
)
@click.argument("mission_path", type=click.Path(path_type=Path))
@click.option(
    "--connect", "url", required=True, help=_("Link URL: udpin://, udpout://, tcp:// or serial://.")
)
@click.option("--vehicle", "sysid", type=int, default=None, help=_("System id of the vehicle."))
@click.option("--override-safety", is_flag=True, help=_("Fly a mission that fails validation."))
@click.option("--reason", default=None, help=_("Why the safety override is justified (recorded)."))
@click.option(
    "--min-battery",
    type=float,
    default=30.0,
    show_default=True,
    help=_("Lowest battery charge to take off, in percent."),
)
@click.option(
    "--takeoff-alt",
    type=float,
    default=20.0,
    show_default=True,
    help=_("Take-off altitude in metres when the mission has no take-off item (ArduPilot)."),
)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=3600.0,
    show_default=True,
    help=_("Longest flight, in seconds, before fly gives up with an error."),
)
@click.option(
    "--heartbeat-hz",
    type=float,
    default=1.0,
    show_default=True,
    help=_("Rate of our ground-station heartbeat in Hz."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Print the flight summary as JSON."))
@click.option("--dem", type=click.Path(path_type=Path), default=None, help=_("Terrain GeoTIFF."))
@click.option("--zones", type=click.Path(path_type=Path), default=None, help=_("Geozones file."))
@click.option(
    "--profile",
    default=None,
    help=_("Vehicle profile for the endurance check (see plan vehicles)."),
)
@click.option("--sortie", type=int, default=None, help=_("Sortie to fly (default: the next one)."))
@click.option(
    "--link-loss-s",
    type=float,
    default=30.0,
    show_default=True,
    help=_("Give up on a vehicle silent this long (exit 1)."),
)
@click.option(
    "--max-range-m",
    type=float,
    default=20_000.0,
    show_default=True,
    help=_("Plausibility: no point farther than this from the launch point."),
)
@click.option(
    "--max-distance-m", type=float, default=None, help=_("Maximum distance from home (VLOS).")
)
@click.option(
    "--max-launch-offset-m",
    type=float,
    default=1_000.0,
    show_default=True,
    help=_("Plausibility: the planned launch point at most this far from the vehicle."),
)
@click.option(
    "--wait-ready",
    "wait_ready_s",
    type=click.FloatRange(min=0.0),
    default=60.0,
    show_default=True,
    help=_("Seconds to wait for the vehicle to be ready to arm (its PreArm messages are shown)."),
)
@click.option(
    "--wait-vehicle",
    "wait_vehicle_s",
    type=float,
    default=15.0,
    show_default=True,
    help=_("Seconds to wait for the vehicle's first heartbeat (a radio link slow to come up)."),
)
@click.option(
    "--signing-key-file",
    type=click.Path(path_type=Path),
    default=None,
    help=_("Sign with (and require) the MAVLink 2 key in this owner-only file."),
)
def fly(
    mission_path: Path,
    url: str,
    sysid: int | None,
    override_safety: bool,
    reason: str | None,
    min_battery: float,
    takeoff_alt: float,
    timeout_s: float,
    heartbeat_hz: float,
    as_json: bool,
    dem: Path | None,
    zones: Path | None,
    profile: str | None,
    sortie: int | None,
    link_loss_s: float,
    max_range_m: float,
    max_distance_m: float | None,
    max_launch_offset_m: float,
    wait_ready_s: float = 60.0,
    wait_vehicle_s: float = 15.0,
    signing_key_file: Path | None = None,
) -> None:
    # every option, the plan, the terrain, the zones and the profile are checked before the
    # link is opened: a bad input fails at once, not after waiting for a vehicle
    if override_safety and not (reason and reason.strip()):
        raise BadInputError(_("--override-safety needs --reason explaining why"))
    for name, value in (
        ("--min-battery", min_battery),
        ("--takeoff-alt", takeoff_alt),
        ("--timeout", timeout_s),
        ("--heartbeat-hz", heartbeat_hz),
        ("--link-loss-s", link_loss_s),
        ("--max-range-m", max_range_m),
        ("--max-distance-m", max_distance_m),
        ("--max-launch-offset-m", max_launch_offset_m),
        ("--wait-ready", wait_ready_s),
        ("--wait-vehicle", wait_vehicle_s),
        ("--vehicle", sysid),
    ):
        check_option(name, value)
    _check_url(url)
    found, base = load_sorties(mission_path, _load_mission)
    missions = [m for _p, m in found]
    for p, m in found:
        if not m.items:
            raise BadInputError(_("the mission has no items"), where=str(p))
    if given_options({"takeoff_alt": "--takeoff-alt"}):
        # the mission's own take-off item wins (the guard walked that climb); the altitude
        # asked for had been dropped without a word
        for p, m in found:
            home_amsl = m.home[2] if m.home is not None else math.nan
            alt = takeoff_alt_above_home_m(m.items, math.nan, home_amsl)
            if math.isfinite(alt):  # NaN: no take-off item with an altitude (the option's case)
                k = next(k for k, it in enumerate(m.items) if it.command == CMD_NAV_TAKEOFF)
                raise BadInputError(
                    _(
                        "--takeoff-alt is for a mission without a take-off item; this one takes "
                        "off at item {k} ({alt:g} m above home): change it in the plan"
                    ).format(k=k + 1, alt=alt),
                    where=str(p),
                )
    n = len(missions)
    progress = SortieProgress.for_plan(mission_path, base)
    first = sortie if sortie is not None else (progress.next_sortie(n) or 1)
    if not 1 <= first <= n:
        raise BadInputError(_("--sortie must be 1..{n}, got {k}").format(n=n, k=first))
    if sortie is None and progress.partial is not None and progress.partial[0] == first:
        resumed = resume_mission(missions[first - 1], progress.partial[1])
        if resumed is not None:
            at = int(resumed.metadata["resumed_at_item"])
            info(
                _(
                    "resuming sortie {k} where it stopped, on its way to item {i}: that leg is "
                    "flown again from item {s}"
                ).format(k=first, i=progress.partial[1] + 1, s=at + 1)
            )
            replayed = resumed.items[: int(resumed.metadata["resumed_prefix"])]
            if names := [
                command_name(it.command) for it in replayed if it.command != CMD_NAV_TAKEOFF
            ]:
                info(
                    _("settings made before item {s}, replayed first: {names}").format(
                        s=at + 1, names=", ".join(names)
                    )
                )
            missions[first - 1] = resumed
        else:
            info(
                _("sortie {k} stopped on its way to item {i}: flown again from its start").format(
                    k=first, i=progress.partial[1] + 1
                )
            )
    cfg = app().config
    gcs = cfg.gcs_system_id
    terrain, zone_list = _open_guard_inputs(missions, dem or cfg.dem_file, zones or cfg.zones_file)
    _profile(profile, missions[0])  # a bad --profile fails before the link is opened
    flown: list[dict[str, Any]] = []
    dem_path = dem or cfg.dem_file
    with (
        connect(
            url, system_id=gcs, heartbeat_hz=heartbeat_hz, signing_key_file=signing_key_file
        ) as link,
        contextlib.ExitStack() as stack,
    ):
        v = link.wait_vehicle(sysid, timeout_s=wait_vehicle_s)
        info(
            _("vehicle {sysid} ({ap}) on {url}").format(
                sysid=v.sysid, ap=v.autopilot, url=link.spec
            )
        )
        # ArduCopter asks for terrain (RTL_ALT_TYPE 1, terrain-frame items): served from the DEM
        tsrv = stack.enter_context(terrain_server(link, v, dem_path))
        try:
            st = _ready(v, 15.0, min_battery, 6, wait_ready_s)
        except DronekitPlzenError as exc:
            if dem_path is None and "terrain" in str(exc).lower():
                # ArduCopter with RTL_ALT_TYPE 1 or terrain-frame items waits for terrain
                # data from the ground station (TERRAIN_REQUEST), which fly serves from a DEM
                info(
                    _(
                        "the vehicle waits for terrain data: give --dem DEM.tif and fly "
                        "sends it the terrain of the area"
                    )
                )
            if getattr(tsrv, "missing", None) is not None:
                info(
                    _(
                        "the vehicle asked for terrain the DEM {p} does not cover (around "
                        "{lat:.5f}, {lon:.5f}): give a DEM of the whole area"
                    ).format(p=dem_path, lat=tsrv.missing[0], lon=tsrv.missing[1])
                )
            raise
        veh_profile = _profile(profile, missions[0], v.autopilot)
        if rally_note := vehicle_rally(v, missions):
            info(rally_note)
        fc = clear_sorties(
            missions,
            st,
            dem=terrain,
            zones=zone_list,
            profile=veh_profile,
            override=override_safety,
            reason=reason,
            max_range_m=max_range_m,
            max_distance_m=max_distance_m or cfg.max_distance_m,
            max_launch_offset_m=max_launch_offset_m,
            rtl=vehicle_rtl_params(v),
            takeoff_alt_m=takeoff_alt,
        )
        for ov in fc.overrides:
            info(
                _("SAFETY OVERRIDE recorded: by {by} at {at}: {reason}; {v}").format(
                    by=ov.by, at=ov.at, reason=ov.reason, v="; ".join(ov.violations)
                )
            )
        _show_warnings(fc)
        _record_cleared(fc, cfg.db_path, v.sysid)
        k = first
        cut: MissionIncomplete | None = None
        while True:
            s = fc.sorties[k - 1]
            try:
                summary = fly_sortie(
                    link,
                    v,
                    s,
                    n_sorties=n,
                    takeoff_alt_m=takeoff_alt,
                    timeout_s=timeout_s,
                    link_loss_s=link_loss_s,
                    on_stop=lambda item, k=k, m=s.mission: _stopped(progress, k, item, m),
                    send_rally=rally_note is None,
                )
            except MissionIncomplete as exc:  # reported below, with what was flown
                flown.append(exc.summary or {})
                cut = exc
                break
            flown.append(summary)
            if n > 1 or progress.partial is not None:  # (a resumed single sortie: done now)
                progress.mark_done(k)
            nxt = progress.next_sortie(n) if n > 1 else None
            if nxt is None:
                break
            if not _ask_next(k, n):
                info(
                    _("sortie {m} of {n} is next: run fly again (it resumes there)").format(
                        m=nxt, n=n
                    )
                )
                break
            k = nxt
            _ready(v, 60.0, min_battery, 6, wait_ready_s)
    last = flown[-1]
    result = {
        "vehicle": v.sysid,
        "autopilot": v.autopilot,
        "sorties": n,
        "flown": flown,
        "items": last["items"],
        "flight_s": last["flight_s"],
        "landed": last["landed"],
        "validation": last["validation"],
        "home_amsl_source": fc.home_source,
        "statustexts": last["statustexts"],
    }
    result["completed"] = cut is None
    if override_safety and fc.overrides:
        result["safety_override"] = fc.overrides[0].to_dict()
    if as_json:
        echo_json(result)
    if cut is not None:
        raise cut  # exit 1, the one line saying what was not flown
    if not as_json:
        click.echo(_("landed and disarmed after {t:.0f} s").format(t=last["flight_s"]))
