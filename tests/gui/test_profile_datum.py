"""The altitude profile says its datum: above mean sea level when home has an altitude (from the
plan or the DEM), above home when it has none (the axis was labelled "m AMSL" for a profile
drawn relative to home at 0 m)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
from dkp_testkit import FOREST_LONLAT, offset, write_geotiff

from dronekit_plzen.mission_items import MissionItem
from gui.profile import ProfileChart
from gui.profile_data import mission_profile
from missions.model import Mission
from missions.terrain import Raster


def _mission(home_alt_m: float) -> Mission:
    a, b = offset(FOREST_LONLAT, 100, 0), offset(FOREST_LONLAT, 300, 0)
    items = [
        MissionItem(command=16, lon_deg=a[0], lat_deg=a[1], alt_m=40.0),
        MissionItem(command=16, lon_deg=b[0], lat_deg=b[1], alt_m=40.0),
    ]
    return Mission(items=items, home=(*FOREST_LONLAT, home_alt_m))


def test_home_without_an_altitude_draws_the_profile_above_home() -> None:
    prof = mission_profile(_mission(0.0))  # 0.0: the placeholder of an unknown altitude
    assert prof is not None and not prof.home_known and not prof.has_dem
    assert prof.home_amsl_m == 0.0 and np.nanmax(prof.alt_amsl_m) == 40.0


def test_a_stated_home_altitude_or_a_dem_gives_the_profile_its_amsl_datum(tmp_path: Path) -> None:
    stated = mission_profile(_mission(331.5))
    assert stated is not None and stated.home_known and stated.home_amsl_m == 331.5
    dem_path = write_geotiff(tmp_path / "flat.tif", lambda x, y: np.full_like(x, 352.0))
    dem = Raster.open(dem_path)
    from_dem = mission_profile(_mission(0.0), dem)
    assert from_dem is not None and from_dem.home_known and from_dem.home_amsl_m == 352.0


def test_the_axis_label_names_the_datum(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PyQt5.QtGui import QColor

    chart = ProfileChart()
    qtbot.addWidget(chart)
    labels = []
    for home_alt_m in (0.0, 331.5):
        chart.set_profile(mission_profile(_mission(home_alt_m)), QColor("blue"))
        assert not chart.grab().isNull()  # painted with it
        labels.append(chart.axis_label())
    assert labels == ["m above home", "m AMSL"]
