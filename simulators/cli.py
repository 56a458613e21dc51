"""CLI for `dronekit-plzen sim` (work in progress in this session)."""

from __future__ import annotations

import click


@click.command(name="sim")
def sim() -> None:
    """Run the MAVLink multicopter simulator fleet."""
