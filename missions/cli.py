"""CLI for `dronekit-plzen plan` (work in progress in this session)."""

from __future__ import annotations

import click


@click.group(name="plan")
def plan() -> None:
    """Plan survey grids and IAMSAR search patterns."""
