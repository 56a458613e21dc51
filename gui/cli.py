"""CLI for `dronekit-plzen gui` (work in progress in this session)."""

from __future__ import annotations

import click


@click.command(name="gui")
def gui() -> None:
    """Open the desktop application."""
