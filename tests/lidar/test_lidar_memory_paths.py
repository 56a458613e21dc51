"""The low-memory paths: masked grids instead of masked copies, block-wise sorts and hulls."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from lidar import knn, raster
from lidar.grid import GridSpec, cell_stat, masked_bounds
from lidar.ground import smrf
from lidar.synthetic import Scene

REPO = Path(__file__).resolve().parents[2]


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


_HULL_MEMORY = """
import sys
import numpy as np
from scipy.spatial import ConvexHull
from lidar import raster
ConvexHull(np.random.default_rng(0).random((10, 2)))  # Qhull loaded before the baseline
with np.load(sys.argv[1]) as f:
    x, y, mask, cx, cy = (f[k] for k in ("x", "y", "mask", "cx", "cy"))
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024.0
open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) starts again from here
base = status("VmRSS:")
raster._inside_hull(x, y, cx, cy, mask, block=1 << 20)
print(status("VmHWM:") - base)
"""


def _hull_cloud(n: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(5)
    r, t = 100.0 * np.sqrt(rng.random(n)), rng.random(n) * 2 * np.pi
    x, y = 500.0 + r * np.cos(t), 800.0 + r * np.sin(t)
    mask = rng.random(n) < 0.7
    cx, cy = (a.ravel() for a in np.meshgrid(np.arange(390.0, 611.0), np.arange(690.0, 911.0)))
    return x, y, mask, cx, cy


def test_hull_of_the_blocks_hulls_equals_the_whole_hull() -> None:
    import shapely

    x, y, mask, cx, cy = _hull_cloud(3 * raster.HULL_BLOCK + 123)
    got = raster._inside_hull(x, y, cx, cy, mask, block=1 << 20)
    hull = shapely.MultiPoint(np.column_stack([x[mask], y[mask]])).convex_hull
    assert np.array_equal(got, shapely.intersects_xy(hull, cx, cy))
    assert 0 < got.sum() < got.size


def test_hull_memory_stays_small_whatever_block_the_caller_passes(tmp_path: Path) -> None:
    # Qhull's memory grows with its input: a caller's block of 1 M points (420,000 masked) took
    # 19.6 MiB; at most HULL_BLOCK points a call, 3.3 MiB (measured in a fresh process)
    cloud = tmp_path / "cloud.npz"
    x, y, mask, cx, cy = _hull_cloud(600_000)
    np.savez(cloud, x=x, y=y, mask=mask, cx=cx, cy=cy)
    out = subprocess.run(
        [sys.executable, "-c", _HULL_MEMORY, str(cloud)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    assert float(out.stdout) < 8.0, out.stdout
