"""CLI for `dronekit-plzen lidar` (work in progress in this session)."""

from __future__ import annotations

import click


@click.group(name="lidar")
def lidar() -> None:
    """Process LiDAR point clouds."""
