"""CLI for recording, import, flights, deployments and reports (work in progress)."""

from __future__ import annotations

import click


@click.command(name="record")
def record() -> None:
    """Record telemetry."""


@click.command(name="import")
def import_logs() -> None:
    """Import flight logs."""


@click.group(name="flights")
def flights() -> None:
    """List and show flights."""


@click.group(name="deployments")
def deployments() -> None:
    """Manage deployments."""


@click.group(name="report")
def report() -> None:
    """Reports."""
