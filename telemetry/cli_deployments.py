"""CLI: ``deployments create|list|show|update|link-flight``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import echo_json
from dronekit_plzen.i18n import _, ngettext
from telemetry.cli_common import DB_OPTION as _DB
from telemetry.cli_common import ROW_ID, creating_database, flight_json
from telemetry.cli_common import db_path_or_default as _db


# -- deployments -----------------------------------------------------------------------------------
@click.group(name="deployments", help=_("Register and manage IZS deployments."))
def deployments() -> None:
    """The ``deployments`` command group (its help is the translated text above)."""


def _dep_json(d: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(d)


@deployments.command(name="create", help=_("Register a deployment request."))
@_DB
@click.option(
    "--organisation",
    "--org",
    required=True,
    help=_("Organisation: HZS, PCR, ZZS, MP, KRIZ, OTHER."),
)
@click.option(
    "--category", required=True, help=_("Category: sar, fire, flood, accident, exercise, ...")
)
@click.option("--location", required=True, help=_("Place name."))
@click.option("--at", "position", help=_("Position LAT,LON (any format plan accepts)."))
@click.option("--requested-at", help=_("Request time, ISO 8601 (default now, UTC)."))
@click.option("--notes", help=_("Notes, free text."))
@click.option("--json", "as_json", is_flag=True, help=_("JSON output."))
def deployments_create(
    db_path: Path | None,
    organisation: str,
    category: str,
    location: str,
    position: str | None,
    requested_at: str | None,
    notes: str | None,
    as_json: bool,
) -> None:
    from dronekit_plzen.geo import parse_coordinate
    from telemetry.deployments import create_deployment
    from telemetry.store import open_store

    lon = lat = None
    if position:
        lon, lat = parse_coordinate(position)
    with creating_database(_db(db_path)), open_store(_db(db_path)) as store:
        d = create_deployment(
            store,
            organisation=organisation,
            category=category,
            location=location,
            requested_at=requested_at,
            lat_deg=lat,
            lon_deg=lon,
            notes=notes,
        )
    if as_json:
        echo_json(_dep_json(d))
    else:
        click.echo(f"{_('deployment')} #{d.id} {d.organisation} {d.category} {d.location}")


@deployments.command(name="list", help=_("List deployments."))
@_DB
@click.option("--year", type=int, help=_("Requested in this year."))
@click.option("--status", help=_("Only this status."))
@click.option("--json", "as_json", is_flag=True, help=_("JSON output."))
def deployments_list(
    db_path: Path | None, year: int | None, status: str | None, as_json: bool
) -> None:
    from telemetry.deployments import list_deployments
    from telemetry.store import open_store

    with open_store(_db(db_path), readonly=True) as store:
        rows = list_deployments(store, year=year, status=status)
    if as_json:
        echo_json([_dep_json(d) for d in rows])
        return
    for d in rows:
        click.echo(
            f"#{d.id:<4} {d.requested_at}  {d.organisation:<5} {d.category:<12} "
            f"{d.status:<11} {d.location}"
        )


@deployments.command(name="show", help=_("One deployment with its flights and status history."))
@click.argument("deployment_id", type=ROW_ID)
@_DB
@click.option("--json", "as_json", is_flag=True, help=_("JSON output."))
def deployments_show(deployment_id: int, db_path: Path | None, as_json: bool) -> None:
    from telemetry.deployments import get_deployment
    from telemetry.store import open_store

    with open_store(_db(db_path), readonly=True) as store:
        d = get_deployment(store, deployment_id)
        fl = store.flights(deployment_id=deployment_id)
        hist = store.query(
            "SELECT from_status, to_status, at FROM deployment_status_log "
            "WHERE deployment_id = ? ORDER BY id",
            (deployment_id,),
        )
    data = _dep_json(d) | {"flights": [flight_json(f) for f in fl], "history": hist}
    if as_json:
        echo_json(data)
        return
    for k, v in _dep_json(d).items():
        click.echo(f"{k:>17}: {'' if v is None else v}")
    for f in fl:
        click.echo(f"  {_('flight')} #{f['id']} {f['start_utc']} {f['duration_s'] or 0:.0f} s")


@deployments.command(
    name="update", help=_("Change a deployment's status (validated), outcome or notes.")
)
@click.argument("deployment_id", type=ROW_ID)
@_DB
@click.option(
    "--status", help=_("New status: requested → accepted → in_progress → completed | cancelled.")
)
@click.option("--outcome", help=_("Outcome (found, not found, area mapped, ...)."))
@click.option("--notes", help=_("Replace the notes."))
@click.option("--location", help=_("Correct the place name."))
@click.option("--at", "at", help=_("Time of the status change, ISO 8601 (default now)."))
@click.option("--requested-at", help=_("Correct the request time, ISO 8601."))
@click.option("--json", "as_json", is_flag=True, help=_("JSON output."))
def deployments_update(
    deployment_id: int,
    db_path: Path | None,
    status: str | None,
    outcome: str | None,
    notes: str | None,
    location: str | None,
    at: str | None,
    requested_at: str | None,
    as_json: bool,
) -> None:
    from telemetry.deployments import update_deployment
    from telemetry.store import open_store

    with open_store(_db(db_path), create=False) as store:
        d = update_deployment(
            store,
            deployment_id,
            status=status,
            outcome=outcome,
            notes=notes,
            location=location,
            at=at,
            requested_at=requested_at,
        )
    if as_json:
        echo_json(_dep_json(d))
    else:
        click.echo(f"{_('deployment')} #{d.id}: {d.status}")


@deployments.command(name="link-flight", help=_("Attribute flights to a deployment."))
@click.argument("deployment_id", type=ROW_ID)
@click.argument("flight_ids", type=ROW_ID, nargs=-1, required=True)
@_DB
def deployments_link(deployment_id: int, flight_ids: tuple[int, ...], db_path: Path | None) -> None:
    from telemetry.deployments import link_flights
    from telemetry.store import open_store

    with open_store(_db(db_path), create=False) as store:
        moved = link_flights(store, deployment_id, flight_ids)
    for fid, before in sorted(moved.items()):
        click.echo(_("flight #{f} moved from deployment #{d}").format(f=fid, d=before), err=True)
    n = len(flight_ids)
    click.echo(
        ngettext(
            "{n} flight linked to deployment #{id}", "{n} flights linked to deployment #{id}", n
        ).format(n=n, id=deployment_id)
    )
