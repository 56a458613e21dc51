"""Tiled processing: buffered tiles mosaic without seams, on a process pool and on Dask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lidar.io import read_cloud
from lidar.products import grid_for, product
from lidar.raster import read_geotiff
from lidar.stages import OutlierOptions, SMRFOptions, apply_outlier, apply_smrf
from lidar.tiling import plan_tiles, run_tiled


@pytest.fixture(scope="module")
def untiled_dtm(scene_laz: Path) -> np.ndarray:
    c = apply_smrf(apply_outlier(read_cloud(scene_laz), OutlierOptions()), SMRFOptions())
    return product(c, "dtm", grid_for(c, 1.0))


def test_plan_tiles_cover_bounds_with_buffers() -> None:
    tiles = plan_tiles((0.0, 0.0, 250.0, 120.0), 100.0, 10.0, (0.0, 0.0))
    assert len(tiles) == 3 * 2
    t = tiles[0]
    assert t.buffered == (t.core[0] - 10, t.core[1] - 10, t.core[2] + 10, t.core[3] + 10)


def _compare(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    both = np.isfinite(a) & np.isfinite(b)
    assert both.sum() > 0.99 * np.isfinite(a).sum()
    d = np.abs(a[both] - b[both])
    assert np.percentile(d, 99) < 0.05  # seamless: the mosaic equals the untiled DTM
    assert d.mean() < 0.01


def test_tiled_dtm_equals_untiled_on_a_process_pool(
    scene_laz: Path, untiled_dtm: np.ndarray, tmp_path: Path
) -> None:
    res = run_tiled(
        scene_laz,
        tmp_path,
        tile_size_m=70.0,
        buffer_m=45.0,
        resolution_m=1.0,
        products=("dtm",),
        workers=2,
        chunk_size=40_000,
        classified=True,
    )
    assert res["tiles"] >= 4 and res["points_in_tiles"] > res["points"]
    tiled, _grid, crs = read_geotiff(res["products"]["dtm"])
    assert crs is not None and crs.to_epsg() == 32633
    _compare(untiled_dtm, tiled)
    # every point lands in exactly one classified core tile
    n = sum(len(read_cloud(p)) for p in (tmp_path / "scene_tiles").glob("*.laz"))
    assert n == res["points"]
    assert not list(tmp_path.glob(".tiles-*"))  # the work folder is cleaned up


def test_tiled_dtm_on_a_dask_cluster(
    scene_laz: Path, untiled_dtm: np.ndarray, tmp_path: Path
) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        res = run_tiled(
            scene_laz,
            tmp_path,
            tile_size_m=70.0,
            buffer_m=45.0,
            products=("dtm",),
            scheduler=cluster.scheduler_address,
        )
    assert res["scheduler"] == "dask" and res["tiles"] >= 4
    tiled, _g, _c = read_geotiff(res["products"]["dtm"])
    _compare(untiled_dtm, tiled)
