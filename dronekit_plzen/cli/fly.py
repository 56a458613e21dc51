"""``dronekit-plzen fly`` and ``status``: fly one mission with pre-flight checks; watch the fleet.

``fly`` connects, waits for the vehicle, checks GPS, battery and health, validates the mission
with the planner's rules (zones, 120 m AGL; refused unless ``--override-safety --reason``),
uploads and verifies it, arms, takes off, starts it and shows live progress until the vehicle
has landed and disarmed (exit 0). Ctrl-C asks whether to return to launch.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import app, echo_json, info
from dronekit_plzen.errors import BadInputError, DronekitPlzenError, LinkError, SafetyViolation
from dronekit_plzen.i18n import _
from dronekit_plzen.link import Link, Vehicle, VehicleState, connect
from dronekit_plzen.mission_items import CMD_NAV_TAKEOFF, MissionItem

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


def _validate(mission: Any, st: VehicleState, override: bool, reason: str | None) -> dict[str, Any]:
    """The planner's validation against zones, DEM and the 120 m rule; raise unless overridden."""
    from missions.validation import guard, validate

    cfg = app().config
    if mission.home is None and st.home is not None:
        lat, lon, alt = st.home
        mission.home = (lon, lat, alt)
    report = validate(mission, zones=cfg.zones_file, dem=cfg.dem_file)
    guard(mission, report, override=override, reason=reason)
    return dict(mission.metadata.get("validation", {}))


def _takeoff_alt(items: list[MissionItem], default_m: float) -> float:
    for it in items:
        if it.command == CMD_NAV_TAKEOFF and it.alt_m > 0:
            return float(it.alt_m)
    return default_m


def ask_rtl(v: Vehicle, confirm: Any = click.confirm) -> bool:
    """Ctrl-C during a flight: ask, then command RTL if the pilot says so."""
    if confirm(_("Interrupted. Return to launch now?"), default=True, err=True):
        v.rtl()
        info(_("RTL commanded; the vehicle is returning."))
        return True
    info(_("Vehicle left in its current mode."))
    return False


def _progress_line(st: VehicleState, n_items: int) -> str:
    return _(
        "item {seq}/{n}  mode {mode}  alt {alt:.1f} m  battery {bat}%  link {age:.1f} s"
    ).format(
        seq=max(st.mission_seq, 0),
        n=n_items,
        mode=st.mode,
        alt=0.0 if math.isnan(st.relative_alt_m) else st.relative_alt_m,
        bat="?" if math.isnan(st.battery_remaining_pct) else int(st.battery_remaining_pct),
        age=st.heartbeat_age_s,
    )


def fly_mission(
    link: Link,
    items: list[MissionItem],
    *,
    sysid: int | None,
    validate_fn: Any,
    min_battery_pct: float = 30.0,
    min_satellites: int = 6,
    takeoff_alt_m: float = 20.0,
    timeout_s: float = 3600.0,
    wait_s: float = 15.0,
) -> dict[str, Any]:
    """Everything ``fly`` does after loading the mission; returns the flight summary."""
    v = link.wait_vehicle(sysid, timeout_s=wait_s)
    info(_("vehicle {sysid} ({ap}) on {url}").format(sysid=v.sysid, ap=v.autopilot, url=link.spec))
    st = v.wait_for(
        lambda s: s.home is not None and s.gps_fix_type >= GPS_FIX_3D and s.position_known,
        wait_s,
        _("GPS fix and home position"),
    )
    problems = preflight_problems(
        st, min_battery_pct=min_battery_pct, min_satellites=min_satellites
    )
    if problems:
        raise SafetyViolation(_("pre-flight check failed: {p}").format(p="; ".join(problems)))
    validation = validate_fn(st)
    info(_("uploading {n} items").format(n=len(items)))
    t0 = time.monotonic()
    v.upload_mission(items, verify=True)
    info(_("mission uploaded and verified in {t:.1f} s").format(t=time.monotonic() - t0))
    v.arm()
    if v.autopilot == "ardupilot":
        v.takeoff(_takeoff_alt(items, takeoff_alt_m))
        v.wait_for(
            lambda s: s.relative_alt_m > 0.8 * _takeoff_alt(items, takeoff_alt_m),
            120,
            _("take-off"),
        )
    v.start_mission()
    info(_("mission started"))
    started = time.monotonic()
    last = ""
    try:
        with link.subscribe(sysid=v.sysid, maxsize=1000) as sub:
            airborne = False
            while True:
                st = v.state
                airborne = airborne or st.in_air or st.relative_alt_m > 2.0
                line = _progress_line(st, len(items))
                if line != last:
                    info(line)
                    last = line
                if airborne and not st.armed and not st.in_air:
                    break
                if time.monotonic() - started > timeout_s:
                    raise DronekitPlzenError(
                        _("flight did not end within {t:.0f} s").format(t=timeout_s)
                    )
                if sub.get(1.0) is None and not v.connected:
                    info(_("no heartbeat for {age:.1f} s").format(age=st.heartbeat_age_s))
    except KeyboardInterrupt:
        ask_rtl(v)
        raise click.exceptions.Exit(130) from None
    st = v.state
    return {
        "vehicle": v.sysid,
        "autopilot": v.autopilot,
        "items": len(items),
        "flight_s": round(time.monotonic() - started, 1),
        "landed": {"lat_deg": st.lat_deg, "lon_deg": st.lon_deg},
        "validation": validation,
        "statustexts": [s.text for s in st.statustexts[-5:]],
    }


@click.command(name="fly")
@click.argument("mission_path", type=click.Path(path_type=Path))
@click.option("--connect", "url", required=True, help="udpin://, udpout://, tcp://, serial://")
@click.option("--vehicle", "sysid", type=int, default=None, help="System id of the vehicle.")
@click.option("--override-safety", is_flag=True, help="Fly a mission that fails validation.")
@click.option("--reason", default=None, help="Why the safety override is justified (recorded).")
@click.option("--min-battery", type=float, default=30.0, show_default=True, help="Percent.")
@click.option("--takeoff-alt", type=float, default=20.0, show_default=True, help="Metres.")
@click.option("--timeout", "timeout_s", type=float, default=3600.0, show_default=True)
@click.option("--heartbeat-hz", type=float, default=1.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the flight summary as JSON.")
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
) -> None:
    """Upload, verify and fly MISSION_PATH (.plan, .waypoints, ...) until landed."""
    if override_safety and not (reason and reason.strip()):
        raise BadInputError(_("--override-safety needs --reason explaining why"))
    mission = _load_mission(mission_path)
    items = list(mission.items)
    if not items:
        raise BadInputError(_("the mission has no items"), where=str(mission_path))

    def validate_fn(st: VehicleState) -> dict[str, Any]:
        result = _validate(mission, st, override_safety, reason)
        if "safety_override" in mission.metadata:
            info(_("SAFETY OVERRIDE recorded: {o}").format(o=mission.metadata["safety_override"]))
            result["safety_override"] = mission.metadata["safety_override"]
        return result

    gcs = app().config.gcs_system_id
    with connect(url, system_id=gcs, heartbeat_hz=heartbeat_hz) as link:
        summary = fly_mission(
            link,
            items,
            sysid=sysid,
            validate_fn=validate_fn,
            min_battery_pct=min_battery,
            takeoff_alt_m=takeoff_alt,
            timeout_s=timeout_s,
        )
    if as_json:
        echo_json(summary)
    else:
        click.echo(_("landed and disarmed after {t:.0f} s").format(t=summary["flight_s"]))


def state_row(key: str, st: VehicleState) -> dict[str, Any]:
    """One vehicle as plain data (``status --json``)."""
    d = asdict(st)
    d.pop("extra", None)
    d.pop("last_heartbeat_s", None)
    d.pop("last_message_s", None)
    d["statustexts"] = [s.text for s in st.statustexts[-5:]]
    d["key"] = key
    d["landed_state"] = st.landed_state_name
    return d


def _table(rows: list[tuple[str, VehicleState]]) -> Any:
    from rich.table import Table

    t = Table(title=_("Fleet"))
    for col in (
        _("vehicle"),
        _("autopilot"),
        _("mode"),
        _("armed"),
        _("lat"),
        _("lon"),
        _("alt m"),
        _("battery"),
        _("GPS"),
        _("item"),
        _("heartbeat s"),
        _("loss %"),
    ):
        t.add_column(col)
    for key, st in rows:
        t.add_row(
            key,
            st.autopilot,
            st.mode,
            _("yes") if st.armed else _("no"),
            f"{st.lat_deg:.6f}",
            f"{st.lon_deg:.6f}",
            f"{st.relative_alt_m:.1f}",
            f"{st.battery_remaining_pct:.0f}% {st.battery_voltage_v:.1f} V",
            f"{st.gps_fix_type}/{st.satellites}",
            f"{st.mission_seq}/{st.mission_count}",
            f"{st.heartbeat_age_s:.1f}",
            f"{st.packet_loss_pct:.0f}",
        )
    return t


@click.command(name="status")
@click.option("--connect", "urls", multiple=True, required=True, help="Repeat for several links.")
@click.option("--json", "as_json", is_flag=True, help="Print the states as JSON (implies --once).")
@click.option("--once", is_flag=True, help="Print once and exit.")
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds to listen for vehicles (and their telemetry) before printing.",
)
@click.option("--interval", type=float, default=1.0, show_default=True)
def status(
    urls: tuple[str, ...], as_json: bool, once: bool, wait_s: float, interval: float
) -> None:
    """Show the fleet live: mode, battery, position, link quality."""
    from dronekit_plzen.fleet import Fleet

    gcs = app().config.gcs_system_id
    with Fleet.connect(list(urls), system_id=gcs) as fleet:
        deadline = time.monotonic() + wait_s
        for link in fleet.links:
            try:
                link.wait_vehicle(timeout_s=max(0.1, deadline - time.monotonic()))
            except LinkError:
                continue
        # let telemetry (position, battery) arrive before the first print
        for v in fleet.vehicles.values():
            try:
                v.wait_for(lambda s: s.position_known, max(0.1, deadline - time.monotonic()))
            except LinkError:
                continue
        rows = [(k, v.state) for k, v in fleet.vehicles.items()]
        if not rows:
            raise LinkError(
                _("no vehicle heard within {t:.0f} s").format(t=wait_s), where=", ".join(urls)
            )
        if as_json:
            echo_json([state_row(k, st) for k, st in rows])
            return
        from rich.console import Console
        from rich.live import Live

        console = Console()
        if once:
            console.print(_table(rows))
            return
        try:
            with Live(_table(rows), console=console, refresh_per_second=4) as live:
                while True:
                    next(fleet.links[0].messages(timeout_s=interval), None)
                    live.update(_table([(k, v.state) for k, v in fleet.vehicles.items()]))
        except KeyboardInterrupt:
            return
