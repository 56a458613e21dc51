"""CLI for `dronekit-plzen fly` and `status` (work in progress in this session)."""

from __future__ import annotations

import click


@click.command(name="fly")
def fly() -> None:
    """Upload, verify and fly a mission."""


@click.command(name="status")
def status() -> None:
    """Show the fleet live."""
