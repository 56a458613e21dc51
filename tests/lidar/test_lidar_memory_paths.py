"""The low-memory paths: masked grids instead of masked copies, block-wise sorts and hulls."""

from __future__ import annotations

import numpy as np
import pytest

from lidar import knn, raster
from lidar.grid import GridSpec, cell_stat, masked_bounds
from lidar.ground import smrf
from lidar.synthetic import Scene


def test_masked_grid_statistics_equal_the_subset(scene: Scene) -> None:
    c = scene.cloud
    mask = np.random.default_rng(1).random(len(c)) < 0.6
    b = masked_bounds(c.x, c.y, mask)
    assert b == (c.x[mask].min(), c.y[mask].min(), c.x[mask].max(), c.y[mask].max())
    g = GridSpec.covering(*b, 2.0)
    for how in ("min", "max", "mean", "count"):
        got = cell_stat(g, c.x, c.y, c.z, how, mask)
        want = cell_stat(g, c.x[mask], c.y[mask], c.z[mask], how)
        assert np.array_equal(got, want, equal_nan=True), how


def test_smrf_candidates_read_in_place_equal_the_subset(scene: Scene) -> None:
    c = scene.cloud
    cand = np.random.default_rng(2).random(len(c)) < 0.8
    whole = smrf(c.x, c.y, c.z, candidates=cand)
    sub = smrf(c.x[cand], c.y[cand], c.z[cand])
    assert not whole[~cand].any()
    assert np.array_equal(whole[cand], sub)
    # many blocks: the same answer
    assert np.array_equal(smrf(c.x, c.y, c.z, candidates=cand, block=4096), whole)


def test_dtm_from_a_mask_with_block_hulls_equals_the_copy(scene: Scene) -> None:
    c = scene.cloud
    ground = scene.truth == 2
    g = GridSpec.covering(*masked_bounds(c.x, c.y), 1.0)
    want = raster.planar_surface(g, c.x[ground], c.y[ground], c.z[ground])
    assert np.array_equal(raster.planar_surface(g, c.x, c.y, c.z, ground), want, equal_nan=True)
    got = raster.planar_surface(g, c.x, c.y, c.z, ground, block=5000)  # hull of the blocks' hulls
    # the same cells filled; sums taken block by block differ in the last bits only
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.allclose(got, want, rtol=0, atol=1e-9, equal_nan=True)


def test_block_wise_voxel_sort_gives_the_same_neighbours(scene: Scene) -> None:
    c = scene.cloud
    whole = knn.mean_knn_distance_xyz(c.x, c.y, c.z, 8)
    assert np.array_equal(knn.mean_knn_distance_xyz(c.x, c.y, c.z, 8, block=3000), whole)
    assert np.isfinite(whole).all()


def test_hull_takes_qhull_a_bounded_block_and_equals_the_whole_hull(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Qhull's memory grows with its input: whatever block the caller passes, one call takes at
    # most HULL_BLOCK points, and the hull of the blocks' hulls is the hull of all the points
    import scipy.spatial
    import shapely

    rng = np.random.default_rng(5)
    n = 3 * raster.HULL_BLOCK + 123
    r, t = 100.0 * np.sqrt(rng.random(n)), rng.random(n) * 2 * np.pi
    x, y = 500.0 + r * np.cos(t), 800.0 + r * np.sin(t)
    mask = rng.random(n) < 0.7
    cx, cy = (a.ravel() for a in np.meshgrid(np.arange(390.0, 611.0), np.arange(690.0, 911.0)))
    sizes: list[int] = []
    real = scipy.spatial.ConvexHull

    def spy(pts, *a, **k):  # type: ignore[no-untyped-def]
        sizes.append(len(pts))
        return real(pts, *a, **k)

    monkeypatch.setattr(scipy.spatial, "ConvexHull", spy)
    got = raster._inside_hull(x, y, cx, cy, mask, block=1 << 20)
    assert max(sizes) <= raster.HULL_BLOCK
    hull = shapely.MultiPoint(np.column_stack([x[mask], y[mask]])).convex_hull
    assert np.array_equal(got, shapely.intersects_xy(hull, cx, cy))
    assert 0 < got.sum() < got.size
