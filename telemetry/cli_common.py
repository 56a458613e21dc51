"""What the telemetry CLI modules share: the --db option, the new-database guard and the public
flight JSON."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import app, info
from dronekit_plzen.i18n import _

#: a stored row's id (flight, deployment, pilot): what SQLite's INTEGER holds, from 1; a
#: larger number is a usage error, not an overflow inside the query
ROW_ID = click.IntRange(1, 2**63 - 1)

DB_OPTION = click.option(
    "--db", "db_path", type=click.Path(path_type=Path), help=_("SQLite flight database.")
)


def db_path_or_default(db_path: Path | None) -> Path:
    return db_path or app().config.db_path


@contextlib.contextmanager
def creating_database(db: Path) -> Iterator[Callable[[], None]]:
    """Around a command that writes to the flight database ``db``, which it may create.

    When the command creates it, it says so on stderr once ("created a new flight database
    at …"), so that a typo in ``--db``'s file name is seen: when the command succeeds, or
    earlier when it calls the ``announce`` it is given (a long-running command, before its
    work starts). When the command fails before that, a database it created and left empty
    is removed again: a refused command leaves no new empty database (and no line but its
    error).
    """
    path = Path(db).expanduser()
    new = not path.exists()
    said = False

    def announce() -> None:
        nonlocal said
        if new and not said and path.exists():
            said = True
            info(_("created a new flight database at {path}").format(path=path))

    try:
        yield announce
    except BaseException:
        from telemetry.store import remove_if_empty

        # a database already announced is the user's; an unannounced one with records (an
        # import that failed half-way) stays, and is announced now
        if new and not said and path.exists() and not remove_if_empty(path):
            announce()
        raise
    announce()


def flight_json(row: dict[str, Any]) -> dict[str, Any]:
    """The public JSON form of one flight (``flights list --json``)."""
    return {
        "id": row["id"],
        "vehicle": row["vehicle"],
        "start_time_utc": row["start_utc"],
        "end_time_utc": row["end_utc"],
        "takeoff_time_utc": row["takeoff_utc"],
        "landing_time_utc": row["landing_utc"],
        "duration_s": row["duration_s"],
        "airborne_s": row["airborne_s"],
        "distance_m": row["distance_m"],
        "max_height_m": row["max_height_m"],
        "max_distance_m": row["max_distance_m"],
        "battery_used_pct": row["battery_used_pct"],
        "start_lat": row["start_lat"],
        "start_lon": row["start_lon"],
        "end_lat": row["end_lat"],
        "end_lon": row["end_lon"],
        "source_file": row["source_file"],
        "ground_run": bool(row["ground_run"]),
        "complete": bool(row["complete"]),
        "deployment_id": row["deployment_id"],
    }
