"""Shared fixtures for the LiDAR tests: small synthetic scenes with known truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from lidar.io import write_cloud
from lidar.synthetic import Scene, make_scene


@pytest.fixture(scope="session")
def scene() -> Scene:
    """A 140 m × 140 m scene at 5 pulses/m²: slopes, ridge, steep rise, buildings, trees."""
    return make_scene((140.0, 140.0), 5.0, seed=11)


@pytest.fixture(scope="session")
def scene_laz(scene: Scene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("lidar") / "scene.laz"
    write_cloud(scene.cloud, p)
    return p
