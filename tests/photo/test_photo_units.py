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
    res = orthophoto([a, b], z, grid, lambda v: images[v.name].astype(np.uint8))
    rgb, alpha, best = res.rgb, res.alpha, res.best
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
    # a vertical datum the heights are not converted to (they had been labelled NAVD88, exit 0)
    with pytest.raises(BadInputError, match="give its horizontal part, EPSG:32617"):
        georef.output_crs(p, "EPSG:32617+5703")


def test_true_orthophoto_takes_the_unoccluded_view_behind_a_tall_box() -> None:
    """A 20 m box at x = 8..12 m hides the ground at x = 12..20 m from camera a (above x = 0).

    a is the more nadir view there, b (above x = 40 m) sees it clear: a true orthophoto takes
    b's colour; without the DSM's occlusion test a's (the box's side) would be smeared there.
    """
    a = _view("a", (0.0, 0.0, 50.0), f=250.0)
    b = _view("b", (40.0, 0.0, 50.0), f=250.0)
    colours = {"a": (255, 0, 0), "b": (0, 0, 255)}

    def load(v: View) -> np.ndarray:
        return np.full((300, 400, 3), colours[v.name], np.uint8)

    dsm_grid = Grid.covering(-30.0, -20.0, 60.0, 20.0, 0.5)
    xs, ys = dsm_grid.centres()
    gx, gy = np.meshgrid(xs, ys)
    box = (gx > 8.0) & (gx < 12.0) & (np.abs(gy) < 3.0)
    dsm = np.where(box, 20.0, 0.0)
    grid = Grid.covering(-30.0, -20.0, 60.0, 20.0, 0.25)
    ox, oy = np.meshgrid(*grid.centres())
    z = sample_raster(dsm, dsm_grid, ox, oy)
    row = np.abs(grid.centres()[1] - 0.1).argmin()
    x = grid.centres()[0]
    behind = (x > 13.0) & (x < 18.5)  # hidden from a by the box (to 20 m, less the tolerance)
    roof = (x > 8.6) & (x < 11.4)
    front = (x > -10.0) & (x < 7.0)  # hidden from b, seen by a

    plain = orthophoto([a, b], z, grid, load)
    assert (plain.best[row, behind] == 0).all()  # no occlusion test: a wins, wrongly

    res = orthophoto([a, b], z, grid, load, dsm=dsm, dsm_grid=dsm_grid)
    assert (res.best[row, behind] == 1).all()
    assert (res.rgb[row, behind, 2] > 240).all() and (res.rgb[row, behind, 0] < 15).all()
    assert (res.best[row, roof] == 0).all() and (res.best[row, front] == 0).all()
    assert (res.rgb[row, front, 0] > 240).all()
    assert res.alpha[row, behind].min() == 255 and not res.hidden[row].any()
    # hidden from both: only the foot of the box's long walls (their cells' heights interpolated)
    hid = res.hidden
    assert (np.abs(np.abs(oy[hid]) - 3.0) < 0.5).all() and (np.abs(ox[hid] - 10.0) < 2.0).all()
    # seam: the colour changes from a to b over a few cells at the occlusion edge, not in one
    blend = (res.rgb[row, :, 0] > 20) & (res.rgb[row, :, 2] > 20) & (x > 19.0) & (x < 24.0)
    assert blend.any()
    # a third view that only sees the hidden strip through the box: counted as hidden
    only_a = orthophoto([a], z, grid, load, dsm=dsm, dsm_grid=dsm_grid)
    assert only_a.hidden[row, behind].all() and only_a.alpha[row, behind].min() == 255
    assert 0.0 < only_a.hidden_fraction < 0.2


def test_dtm_from_a_photo_cloud_with_the_lidar_ground_filter() -> None:
    """The LiDAR package's SMRF separates ground from a 6 m house in a photo-like cloud."""
    from lidar.ground import smrf
    from photo.dtm import dtm_from_cloud

    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 60, (15_000, 2))
    house = (np.abs(xy[:, 0] - 30) < 6) & (np.abs(xy[:, 1] - 30) < 6)
    z = 0.05 * xy[:, 0] + np.where(house, 6.0, 0.0) + rng.normal(0, 0.05, len(xy))
    grid = Grid.covering(0, 0, 60, 60, 1.0)
    dtm, why = dtm_from_cloud(np.column_stack([xy, z]), grid, smrf)
    assert dtm is not None, why
    assert not dtm.ground[house].any() and dtm.ground[~house].mean() > 0.9
    xs, ys = grid.centres()
    r, c = np.abs(ys - 30).argmin(), np.abs(xs - 30).argmin()
    assert dtm.z[r, c] == pytest.approx(1.5, abs=0.3)  # terrain under the house, interpolated
    # roofs only: no ground to separate, no DTM
    none, why = dtm_from_cloud(np.column_stack([xy, z])[:100], grid, smrf)
    assert none is None and "too few" in why


def test_final_bundle_adjustment_with_gps_priors_recovers_the_principal_point() -> None:
    """COLMAP's synthetic scene, its principal point put 12 px off: the priors bring it back."""
    from photo.sfm import SfmOptions, refine_with_priors

    pycolmap.logging.minloglevel = 2
    o = pycolmap.SyntheticDatasetOptions()
    o.num_rigs, o.num_cameras_per_rig, o.num_frames_per_rig, o.num_points3D = 1, 1, 12, 300
    o.camera_width, o.camera_height, o.camera_params = 800, 600, [700.0, 400.0, 300.0, 0.0]
    rec = pycolmap.synthesize_dataset(o)
    gps = {im.name: np.asarray(im.projection_center()) for im in rec.images.values()}
    sigma = 0.01 * float(np.ptp(np.array(list(gps.values())), axis=0).max())
    opts = SfmOptions(prior_sigma_h_m=sigma, prior_sigma_v_m=sigma)
    few = pycolmap.Reconstruction(rec)
    rec.cameras[1].principal_point_x = 412.0
    res = refine_with_priors(rec, gps, opts)
    assert res.usable and res.cameras_fixed == ()
    assert rec.cameras[1].principal_point_x == pytest.approx(400.0, abs=0.05)
    assert res.principal_point_shift_px[1] == pytest.approx(12.0, abs=0.05)
    assert rec.cameras[1].focal_length == pytest.approx(700.0)  # the focal length stays fixed
    # a camera with fewer photos than min_photos_principal_point keeps its intrinsics
    few.cameras[1].principal_point_x = 412.0
    res = refine_with_priors(few, gps, SfmOptions(min_photos_principal_point=13))
    assert res.cameras_fixed == (1,) and few.cameras[1].principal_point_x == 412.0


def test_skipped_photos_beyond_ten_are_counted_not_listed_on_the_console() -> None:
    from pathlib import Path

    from photo.exif import SkippedPhoto
    from photo.pipeline import skip_lines

    skipped = [SkippedPhoto(Path(f"/cap/thumb_{k:04d}.jpg"), "no EXIF metadata") for k in range(25)]
    lines = skip_lines(skipped)
    assert len(lines) == 11
    assert lines[0] == "/cap/thumb_0000.jpg: skipped: no EXIF metadata"
    assert lines[-1] == (
        "15 more photos skipped (-v lists them, and so does report.json when the run completes)"
    )
    assert skip_lines(skipped[:10]) == [s.message() for s in skipped[:10]]
    assert skip_lines(skipped[:11])[-1].startswith("1 more photo skipped ")


def test_the_least_squares_similarity_places_a_model_on_gps_heights_all_equal() -> None:
    """COLMAP's robust estimator gave up on targets in one plane (GPS altitudes all equal or
    all missing: "could not be aligned", exit 1); latitude and longitude still place the model."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(3)
    src = rng.normal(size=(9, 3)) * [40.0, 40.0, 1.0]  # a survey's centres: nearly a plane
    rot = Rotation.from_euler("xyz", [3.0, -2.0, 35.0], degrees=True).as_matrix()
    dst = 2.5 * src @ rot.T + [100.0, 200.0, 120.0]
    scale, r, t = georef.similarity_lsq(src, dst)
    assert scale == pytest.approx(2.5) and np.allclose(r, rot) and np.allclose(t, [100, 200, 120])
    flat = dst.copy()
    flat[:, 2] = 120.0  # every height the same
    scale, r, t = georef.similarity_lsq(src, flat)
    assert np.linalg.det(r) == pytest.approx(1.0)  # a rotation, never a mirror
    moved = scale * src @ r.T + t
    assert np.abs(moved[:, :2] - flat[:, :2]).max() < 0.05 * np.ptp(flat[:, 0])
    line = np.column_stack([np.arange(5.0), np.zeros(5), np.zeros(5)])  # no rotation fixed
    assert georef.similarity_lsq(line, line + 1.0) is None
