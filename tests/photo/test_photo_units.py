"""Unit tests of the pure steps on synthetic scenes with known truth (fast)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycolmap
import pytest
import rasterio
from rasterio.transform import from_origin

from dronekit_plzen.errors import BadInputError
from photo import georef
from photo.ortho import View, gsd_m, orthophoto
from photo.surface import Grid, coverage, grid_dsm, sample_dem, sample_raster

NADIR = np.diag([1.0, -1.0, -1.0])  # camera x = east, y = south, z = down


def _view(name: str, centre: tuple[float, float, float], f: float = 500.0) -> View:
    cam = pycolmap.Camera.create_from_model_name(1, "SIMPLE_PINHOLE", f, 400, 300)
    c = np.asarray(centre, dtype=np.float64)
    return View(name, NADIR.copy(), -NADIR @ c, cam, name)


def _checker(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where((np.floor(x) + np.floor(y)) % 2 == 0, 230, 20).astype(np.uint8)


def _render(view: View) -> np.ndarray:
    """The image a camera sees of the checkerboard plane z = 0 (pixel centres at +0.5)."""
    w, h = view.size
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    rays = (
        np.column_stack(
            [
                np.asarray(view.camera.cam_from_img(np.column_stack([u.ravel(), v.ravel()]))),
                np.ones(u.size),
            ]
        )
        @ view.rotation
    )
    c = view.centre
    s = -c[2] / rays[:, 2]
    g = _checker(c[0] + s * rays[:, 0], c[1] + s * rays[:, 1]).reshape(h, w)
    return np.dstack([g, g, g])


def test_orthophoto_reproduces_the_ground_and_picks_the_nadir_view() -> None:
    a = _view("a", (0.0, 0.0, 50.0))
    b = _view("b", (15.0, 0.0, 50.0))
    images = {"a": _render(a), "b": np.full((300, 400, 3), (200, 0, 0), np.uint8)}
    grid = Grid.covering(-18.0, -12.0, 30.0, 12.0, 0.1)
    z = np.zeros((grid.rows, grid.cols))
    rgb, alpha, best = orthophoto([a, b], z, grid, lambda v: images[v.name].astype(np.uint8))
    xs, ys = grid.centres()
    gx, gy = np.meshgrid(xs, ys)
    near_a = (np.abs(gx) < 4) & (np.abs(gy) < 6)
    truth = _checker(gx, gy)
    # away from square edges the ortho is the checkerboard, with little of b's red blended in
    inner = near_a & (np.abs(gx - np.round(gx)) > 0.15) & (np.abs(gy - np.round(gy)) > 0.15)
    assert np.mean(np.abs(rgb[..., 1][inner].astype(int) - truth[inner]) < 25) > 0.97
    r0, c0 = int((grid.top - 0.05) / 0.1), int((0.05 - grid.left) / 0.1)
    assert best[r0, c0] == 0
    assert best[r0, c0 + 150] == 1  # at x = 15 m, b is straight above
    assert alpha[near_a].min() == 255
    far = gx > 29.0  # beyond both footprints (a reaches 20 m, b 35 m: inside b)
    assert alpha[far].min() == 255
    outside = np.abs(gy) > 11.9  # a and b see |y| <= 15 m: covered
    assert alpha[outside].min() == 255
    assert gsd_m([a, b], 0.0) == pytest.approx(0.1)


def test_footprint_of_a_nadir_camera() -> None:
    fp = _view("a", (10.0, 20.0, 50.0)).footprint(0.0)
    assert np.allclose(fp, [[-10, 35], [30, 35], [30, 5], [-10, 5]])


def test_grid_dsm_fills_holes_and_keeps_steps() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 50, (4000, 2))
    z = 0.1 * xy[:, 0] + np.where((xy[:, 0] > 20) & (xy[:, 0] < 30), 6.0, 0.0)
    grid = Grid.covering(0, 0, 50, 50, 1.0)
    dsm = grid_dsm(np.column_stack([xy, z]), grid)
    assert np.isfinite(dsm).all()
    xs, _ys = grid.centres()
    col = dsm[25]
    assert col[np.abs(xs - 10.5).argmin()] == pytest.approx(1.05, abs=0.3)
    assert col[np.abs(xs - 25.5).argmin()] == pytest.approx(8.55, abs=0.4)
    cov = coverage(np.column_stack([xy, z]), Grid.covering(-20, 0, 50, 50, 1.0), 2.0)
    assert cov[:, 25:].all() and not cov[:, :15].any()


def test_sample_dem_into_model_coordinates(tmp_path: Path) -> None:
    path = tmp_path / "dem.tif"
    left, top = 289000.0, 4603000.0
    z = np.add.outer(np.arange(100.0), np.zeros(100)) + 180.0  # 1 m/row rising southwards
    with rasterio.open(path, "w", driver="GTiff", width=100, height=100, count=1,
                       dtype="float64", crs="EPSG:32617",
                       transform=from_origin(left, top, 1.0, 1.0)) as ds:  # fmt: skip
        ds.write(z, 1)
    frame = georef.Frame(crs=georef.as_crs(32617), origin_m=(left + 50, top - 50, 100.0))
    grid = Grid.covering(-20, -20, 20, 20, 2.0)
    got = sample_dem(str(path), frame, grid)
    _xs, ys = grid.centres()
    expect = (top - (ys + frame.origin_m[1])) - 0.5 + 180.0 - 100.0
    assert np.allclose(got[:, 5], expect, atol=0.6)
    assert (
        sample_raster(got, grid, np.array([0.0]), np.array([100.0]))[0]
        != sample_raster(got, grid, np.array([0.0]), np.array([0.0]))[0]
    )
    with pytest.raises(BadInputError):
        sample_dem(str(tmp_path), frame, grid)


def test_output_crs(toledo_dir: Path) -> None:
    from photo.exif import read_photo

    p = [read_photo(toledo_dir / "DJI_0061.JPG")]
    assert georef.output_crs(p).to_epsg() == 32617
    assert georef.output_crs(p, "EPSG:26917").to_epsg() == 26917
    xyz = georef.gps_positions(p, georef.output_crs(p))
    assert 270_000 < xyz[0, 0] < 280_000 and xyz[0, 2] == pytest.approx(119.7)
    with pytest.raises(BadInputError, match="area of use"):
        georef.output_crs(p, "EPSG:5514")
