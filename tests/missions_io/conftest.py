"""Fixtures for the mission I/O, terrain, zones and validation tests: real GeoTIFFs in tmp."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dkp_testkit import FOREST_LONLAT, DemFn, offset, write_geotiff

from dronekit_plzen.mission_items import MissionItem

ORIGIN_LONLAT = FOREST_LONLAT

__all__ = ["ORIGIN_LONLAT", "DemFn", "make_dem", "offset", "wp", "write_geotiff"]


@pytest.fixture
def make_dem(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(fn: DemFn, **kw: object) -> Path:
        return write_geotiff(tmp_path / f"dem{next(counter)}.tif", fn, **kw)  # type: ignore[arg-type]

    return make


def wp(lonlat: tuple[float, float], alt_m: float, frame: int = 3, cmd: int = 16) -> MissionItem:
    return MissionItem(cmd, frame, lon_deg=lonlat[0], lat_deg=lonlat[1], alt_m=alt_m)
