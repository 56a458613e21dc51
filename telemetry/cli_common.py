"""What the telemetry CLI modules share: the --db option and the public flight JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import app
from dronekit_plzen.i18n import _

#: a stored row's id (flight, deployment, pilot): what SQLite's INTEGER holds, from 1; a
#: larger number is a usage error, not an overflow inside the query
ROW_ID = click.IntRange(1, 2**63 - 1)

DB_OPTION = click.option(
    "--db", "db_path", type=click.Path(path_type=Path), help=_("SQLite flight database.")
)


def db_path_or_default(db_path: Path | None) -> Path:
    return db_path or app().config.db_path


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
