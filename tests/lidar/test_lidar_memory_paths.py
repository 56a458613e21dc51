"""The low-memory paths: masked grids instead of masked copies, block-wise sorts and hulls."""

from __future__ import annotations

import numpy as np

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
