"""Compile the toolkit's numba kernels once, at install (``make setup``), into their on-disk
cache (``__pycache__`` beside each module): otherwise the first POA plan or ground filter after
an install pays the compilation (seconds to tens of seconds on a busy 2-core machine) inside
the time a pilot or a benchmark measures. Each kernel runs on a tiny input of the types the
toolkit passes."""

from __future__ import annotations

import time

import numpy as np


def main() -> None:
    t = time.perf_counter()
    from lidar.ground import SMRFParams, smrf
    from missions.poa_cover import Footprint, coverage_fraction, swept_pieces
    from missions.poa_map import PoaGrid
    from missions.poa_search import _nearest_first, _two_opt, plan_one

    rng = np.random.default_rng(0)
    plan_one(rng.random((12, 12)), (6, 6), 30.0, jump_factor=2.0, wall_bonus=1.0)
    start = np.zeros(2)
    _two_opt(_nearest_first([[(0, 0, 2)], [(3, 1, 4), (4, 2, 5)]], start), start)  # region order
    grid = PoaGrid(np.full((20, 20), 1 / 400), 0.0, 300.0, 15.0, 32633)
    path = np.array([[20.0, 20.0], [250.0, 200.0], [40.0, 260.0]])
    for disc in (False, True):
        coverage_fraction(grid, swept_pieces(path, Footprint(30.0, 20.0, disc=disc), raw=True))
    xs, ys = np.meshgrid(np.arange(0, 40.0, 0.7), np.arange(0, 40.0, 0.7))
    x, y = xs.ravel(), ys.ravel()
    z = 0.05 * x + np.where((abs(x - 20) < 5) & (abs(y - 20) < 5), 6.0, 0.0)
    for grids in (1, 4):
        ground = smrf(x, y, z, SMRFParams(grids=grids), threads=1)
    from lidar.grid import GridSpec
    from lidar.raster import planar_surface
    from lidar.tps import NodeGrid

    planar_surface(GridSpec.covering(0, 0, 40, 40, 1.0), x, y, z, ground)  # the DTM's kernels
    nodes = NodeGrid.covering(0, 0, 40, 40, 2.5)
    nodes.sample_at(np.zeros((nodes.ny, nodes.nx)), x, y, np.flatnonzero(~ground))
    import scipy.sparse as sp

    from lidar.smrf_kernels import jacobi_cg

    m = sp.identity(4, format="csr")
    jacobi_cg(m.indptr, m.indices, m.data, np.ones(4), np.zeros(4), 1e-6, 10)
    print(f"numba kernels compiled and cached in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
