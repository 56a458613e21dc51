"""``dronekit-plzen status``: watch the fleet live (mode, battery, position, link quality)."""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import app, echo_json, refuse_given
from dronekit_plzen.errors import BadInputError, LinkError, LinkTimeout
from dronekit_plzen.i18n import _
from dronekit_plzen.link import VehicleState

#: the longest ``--wait`` and ``--interval``: an hour
MAX_WAIT_S = 3600.0


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


def _num(value: float, fmt: str) -> str:
    """A reading as the table shows it: "?" while the vehicle has not reported it (NaN)."""
    return fmt.format(value) if math.isfinite(value) else "?"


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
        _("alt m above home"),
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
            _num(st.lat_deg, "{:.6f}"),
            _num(st.lon_deg, "{:.6f}"),
            _num(st.relative_alt_m, "{:.1f}"),
            f"{_num(st.battery_remaining_pct, '{:.0f}%')} {_num(st.battery_voltage_v, '{:.1f} V')}",
            f"{st.gps_fix_type}/{st.satellites}",
            # the item flown to, numbered from 1 as QGroundControl numbers it
            "—" if st.mission_seq < 0 else f"{st.mission_seq + 1}/{st.mission_count}",
            f"{st.heartbeat_age_s:.1f}",
            f"{st.packet_loss_pct:.0f}",
        )
    return t


@click.command(name="status", help=_("Show the fleet live: mode, battery, position, link quality."))
@click.option(
    "--connect", "urls", multiple=True, required=True, help=_("Link URL; repeat for several links.")
)
@click.option(
    "--json", "as_json", is_flag=True, help=_("Print the states as JSON (implies --once).")
)
@click.option("--once", is_flag=True, help=_("Print once and exit."))
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=5.0,
    show_default=True,
    help=_("Seconds to listen for vehicles (and their telemetry) before printing."),
)
@click.option(
    "--interval",
    type=float,
    default=1.0,
    show_default=True,
    help=_("Seconds between refreshes of the live table."),
)
@click.option(
    "--signing-key-file",
    type=click.Path(path_type=Path),
    default=None,
    help=_("Sign with (and require) the MAVLink 2 key in this owner-only file."),
)
def status(
    urls: tuple[str, ...],
    as_json: bool,
    once: bool,
    wait_s: float,
    interval: float,
    signing_key_file: Path | None = None,
) -> None:
    from dronekit_plzen.fleet import Fleet

    # 1e308 and infinity overflowed the link's timer (internal error); NaN, 0 and negative
    # values silently listened for 0.1 s
    for opt, value in (("--wait", wait_s), ("--interval", interval)):
        if not 0 < value <= MAX_WAIT_S:
            raise BadInputError(
                _("{opt} must be more than 0 and at most {hi:g} s, got {v:g}").format(
                    opt=opt, hi=MAX_WAIT_S, v=value
                )
            )
    if once or as_json:  # the refresh interval of a table printed once had been dropped
        refuse_given(
            {"interval": "--interval"},
            _("--interval is the live table's refresh: not used with --once or --json"),
        )
    gcs = app().config.gcs_system_id
    with Fleet.connect(list(urls), system_id=gcs, signing_key_file=signing_key_file) as fleet:
        deadline = time.monotonic() + wait_s
        silent: list[LinkError | LinkTimeout] = []
        for link in fleet.links:  # a silent link (of several) is no reason to show none
            try:
                link.wait_vehicle(timeout_s=max(0.1, deadline - time.monotonic()))
            except (LinkError, LinkTimeout) as exc:
                silent.append(exc)
        # let telemetry (position, battery) arrive before the first print, within --wait in
        # all: a vehicle that never sends a position is shown without one ("?"), and a link
        # full of system ids (a broken radio) costs no extra time per id
        for v in fleet.vehicles.values():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                v.wait_for(lambda s: s.position_known, remaining)
            except (LinkError, LinkTimeout):
                continue
        rows = [(k, v.state) for k, v in fleet.vehicles.items()]
        if not rows and len(silent) == 1:
            raise silent[0]  # names the link and why (a TCP peer that closed)
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
