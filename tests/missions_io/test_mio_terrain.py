"""Terrain: real GeoTIFFs in several CRSs, bilinear sampling, terrain following."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import transform
from dronekit_plzen.mission_items import MissionItem
from missions.formats import load_mission, save_mission
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.terrain import Raster, follow_terrain, resolve_above_terrain, to_terrain_frame

from .conftest import ORIGIN_LONLAT, offset, wp


@pytest.mark.parametrize("epsg", [32633, 5514])
def test_bilinear_is_exact_on_a_plane_in_any_crs(make_dem, epsg: int) -> None:
    path = make_dem(lambda dx, dy: 300.0 + 0.05 * dx - 0.02 * dy, epsg=epsg, res_m=25.0)
    dem = Raster.open(path)
    rng = np.random.default_rng(1)
    pts = [offset(ORIGIN_LONLAT, e, n) for e, n in rng.uniform(-2500, 2500, (200, 2))]
    lon = np.array([p[0] for p in pts])
    lat = np.array([p[1] for p in pts])
    cx, cy = transform([ORIGIN_LONLAT[0]], [ORIGIN_LONLAT[1]], 4326, epsg)
    x, y = transform(lon, lat, 4326, epsg)
    expected = 300.0 + 0.05 * (x - cx[0]) - 0.02 * (y - cy[0])
    np.testing.assert_allclose(dem.sample(lon, lat), expected, atol=1e-3)
    assert dem.resolution_m() == pytest.approx(25.0)


def test_geographic_raster_and_nodata(tmp_path: Path) -> None:
    data = np.full((20, 30), 500.0, np.float32)
    data[5, 7] = -32768.0
    p = tmp_path / "geo.tif"
    with rasterio.open(
        p,
        "w",
        driver="GTiff",
        height=20,
        width=30,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=Affine(0.01, 0.0, 13.0, 0.0, -0.01, 50.0),
        nodata=-32768.0,
    ) as ds:
        ds.write(data, 1)
    dem = Raster.open(p)
    z = dem.sample([13.155, 13.5, 13.0755], [49.905, 49.9, 49.9445])
    assert z[0] == pytest.approx(500.0)
    assert math.isnan(z[1])  # outside
    assert math.isnan(z[2])  # next to the nodata pixel
    assert dem.resolution_m() == pytest.approx(1113.2, rel=1e-3)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_missing_and_crs_less_rasters(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not found"):
        Raster.open(tmp_path / "none.tif")
    p = tmp_path / "nocrs.tif"
    with rasterio.open(p, "w", driver="GTiff", height=4, width=4, count=1, dtype="float32") as ds:
        ds.write(np.zeros((4, 4), np.float32), 1)
    with pytest.raises(BadInputError, match="no CRS"):
        Raster.open(p)


def _profile(
    m: Mission, dem: Raster, step: float = 5.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distance, alt AMSL, ground) along the waypoints of ``m`` every ``step`` metres."""
    pts = [(it.lon_deg, it.lat_deg, it.alt_m) for it in m.items if it.command == 16]
    x, y = transform([p[0] for p in pts], [p[1] for p in pts], 4326, 32633)
    z = np.array([p[2] for p in pts])
    d = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    s = np.arange(0.0, d[-1], step)
    sx, sy, sz = np.interp(s, d, x), np.interp(s, d, y), np.interp(s, d, z)
    lo, la = transform(sx, sy, 32633, 4326)
    return s, sz, dem.sample(lo, la)


def test_follow_terrain_keeps_height_within_tolerance_and_rates(make_dem) -> None:
    # a ridge 90 m high across the leg, and a gentle slope
    path = make_dem(lambda dx, dy: 320.0 + 0.02 * dy + 90.0 * np.exp(-((dx / 400.0) ** 2)))
    dem = Raster.open(path)
    a = offset(ORIGIN_LONLAT, -2000, 0)
    b = offset(ORIGIN_LONLAT, 2000, 300)
    m = Mission(
        items=[MissionItem(22, 3, alt_m=30.0), wp(a, 60.0), wp(b, 60.0), MissionItem(20, 2)],
        home=(a[0], a[1], 320.0),
        cruise_speed_m_s=10.0,
    )
    out = follow_terrain(m, dem, tolerance_m=3.0, climb_rate_m_s=3.0, descent_rate_m_s=2.0)
    added = out.metadata["terrain_following"]["added_waypoints"]
    assert added >= 4 and len(out.items) == len(m.items) + added
    assert out.items[0].command == 22 and out.items[-1].command == 20
    assert all(it.frame == 0 for it in out.items if it.command == 16)
    s, alt, ground = _profile(out, dem)
    agl = alt - ground
    assert agl.min() >= 60.0 - 3.0 - 0.5  # never below the wanted height (minus tolerance)
    # where the terrain is gentle, the height stays close to 60 m
    far = np.abs(s - s[-1] / 2) > 1200
    assert np.abs(agl[far] - 60.0).max() <= 3.5
    # climb and descent gradients honoured between consecutive waypoints
    pts = [it for it in out.items if it.command == 16]
    x, y = transform([p.lon_deg for p in pts], [p.lat_deg for p in pts], 4326, 32633)
    grad = np.diff([p.alt_m for p in pts]) / np.hypot(np.diff(x), np.diff(y))
    assert grad.max() <= 0.3 + 1e-3 and grad.min() >= -0.2 - 1e-3


def test_follow_terrain_leaving_the_dem_is_an_error(make_dem) -> None:
    dem = Raster.open(make_dem(lambda dx, dy: 300.0 + 0 * dx, half_m=500.0))
    m = Mission(items=[wp(ORIGIN_LONLAT, 50.0), wp(offset(ORIGIN_LONLAT, 2000, 0), 50.0)])
    with pytest.raises(BadInputError, match="leaves the DEM"):
        follow_terrain(m, dem)


def test_terrain_frame_only_where_supported() -> None:
    m = Mission(
        items=[MissionItem(22, 3, alt_m=20.0), wp(ORIGIN_LONLAT, 50.0)],
        autopilot=AUTOPILOT_ARDUPILOT,
    )
    out = to_terrain_frame(m)
    assert out.items[1].frame == 10 and out.items[1].alt_m == 50.0 and out.items[0].frame == 3
    m.autopilot = AUTOPILOT_PX4
    with pytest.raises(BadInputError, match="does not fly MAV_FRAME_GLOBAL_TERRAIN_ALT"):
        to_terrain_frame(m)


def test_resolve_qgc_above_terrain_item_from_a_dem(shared_data: Path, tmp_path: Path) -> None:
    m = load_mission(shared_data / "missions/qgc_ArduPilotSITL-ArduCopter.plan")
    it = m.items[5]
    p = tmp_path / "canberra.tif"
    with rasterio.open(
        p,
        "w",
        driver="GTiff",
        height=100,
        width=100,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=Affine(0.005, 0.0, 149.0, 0.0, -0.005, -35.2),
    ) as ds:
        ds.write(np.full((100, 100), 600.0, np.float32), 1)
    resolved = resolve_above_terrain(m, Raster.open(p))
    assert resolved.items[5].alt_m == pytest.approx(680.0)
    assert resolved.items[5].lat_deg == it.lat_deg
    back = load_mission(save_mission(resolved, tmp_path / "r.waypoints"))
    # (the plan's first leg has no speed command: the WPL starts with QGC's speed item)
    assert back.items[0].command == 178
    assert back.items[6].alt_m == pytest.approx(680.0) and back.items[6].frame == 0


def test_windowed_read_matches_the_full_raster(make_dem) -> None:
    path = make_dem(lambda dx, dy: 300.0 + 0.05 * dx + 10.0 * np.sin(dy / 200.0), res_m=10.0)
    full = Raster.open(path)
    a, b = offset(ORIGIN_LONLAT, -300, -200), offset(ORIGIN_LONLAT, 400, 250)
    part = Raster.open(path, bbox_lonlat=(a[0], a[1], b[0], b[1]), margin_m=100.0)
    assert part.data.size < full.data.size / 10
    rng = np.random.default_rng(3)
    pts = [
        offset(ORIGIN_LONLAT, e, n)
        for e, n in zip(rng.uniform(-350, 450, 100), rng.uniform(-250, 300, 100))
    ]
    lon, lat = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    np.testing.assert_allclose(part.sample(lon, lat), full.sample(lon, lat), atol=1e-4)
    far = offset(ORIGIN_LONLAT, 2500, 0)
    assert np.isnan(part.sample([far[0]], [far[1]])[0]) and not np.isnan(
        full.sample([far[0]], [far[1]])[0]
    )
    away = offset(ORIGIN_LONLAT, 50_000, 0)
    with pytest.raises(BadInputError, match="outside the terrain raster"):
        Raster.open(path, bbox_lonlat=(away[0], away[1], away[0], away[1]))
