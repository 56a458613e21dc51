"""The orthophoto's memory: built tile by tile, its peak is bounded and predicted (fast).

The step used to hold grid-sized float64 arrays per photo (about 250 bytes a cell: 16 GB for
the 65 M cells of 11 snowpeak photos at their 3.3 cm GSD) while its guard assumed 16 bytes.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pycolmap
import pytest

from dronekit_plzen.errors import BadInputError
from photo import ortho, pipeline
from photo.ortho import View, memory_estimate, orthophoto
from photo.surface import Grid, sample_raster

NADIR = np.diag([1.0, -1.0, -1.0])  # camera x = east, y = south, z = down


def _view(
    name: str, centre: tuple[float, float, float], f: float, w: int = 400, h: int = 300
) -> View:
    cam = pycolmap.Camera.create_from_model_name(1, "SIMPLE_PINHOLE", f, w, h)
    c = np.asarray(centre, dtype=np.float64)
    return View(name, NADIR.copy(), -NADIR @ c, cam, name)


def _photos(names: str, w: int = 400, h: int = 300) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {n: rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for n in names}


def _box_scene() -> tuple[list[View], np.ndarray, Grid, np.ndarray, Grid]:
    """Two photos over a 20 m box on a gently waved ground (occlusion, feathering, blending)."""
    views = [_view("a", (0.0, 0.0, 50.0), 250.0), _view("b", (40.0, 0.0, 50.0), 250.0)]
    dsm_grid = Grid.covering(-30.0, -20.0, 60.0, 20.0, 0.5)
    gx, gy = np.meshgrid(*dsm_grid.centres())
    box = (gx > 8.0) & (gx < 12.0) & (np.abs(gy) < 3.0)
    dsm = np.where(box, 20.0, 0.0) + 0.3 * np.sin(gx / 3.0)
    grid = Grid.covering(-30.0, -20.0, 60.0, 20.0, 0.25)
    z = sample_raster(dsm, dsm_grid, *np.meshgrid(*grid.centres()))
    return views, z, grid, dsm, dsm_grid


def _same(a: ortho.OrthoResult, b: ortho.OrthoResult) -> None:
    np.testing.assert_array_equal(a.rgb, b.rgb)
    np.testing.assert_array_equal(a.alpha, b.alpha)
    np.testing.assert_array_equal(a.best, b.best)
    np.testing.assert_array_equal(a.hidden, b.hidden)


def test_tiled_orthophoto_equals_the_untiled_one() -> None:
    views, z, grid, dsm, dsm_grid = _box_scene()
    photos = _photos("ab")
    decodes: list[str] = []

    def load(v: View) -> np.ndarray:
        decodes.append(v.name)
        return photos[v.name].copy()

    whole = orthophoto(views, z, grid, load, dsm=dsm, dsm_grid=dsm_grid, tile=100_000)
    assert whole.hidden.any() and (whole.best == 1).any() and (whole.best == 0).any()
    decodes.clear()
    tiled = orthophoto(views, z, grid, load, dsm=dsm, dsm_grid=dsm_grid, tile=50)
    _same(whole, tiled)
    assert sorted(decodes) == ["a", "b"]  # each photo decoded once, kept while tiles need it
    # heights sampled from the DSM tile by tile: the same as a grid-sized surface
    _same(whole, orthophoto(views, None, grid, load, dsm=dsm, dsm_grid=dsm_grid, tile=64))
    # room for one photo only: dropped and decoded again, the same result
    decodes.clear()
    small = orthophoto(
        views, z, grid, load, dsm=dsm, dsm_grid=dsm_grid, tile=50, image_cache_bytes=1
    )
    _same(whole, small)
    assert len(decodes) > 2
    # no occlusion test
    _same(orthophoto(views, z, grid, load, tile=100_000), orthophoto(views, z, grid, load, tile=50))


def _peak(views: list[View], half: float, photos: dict[str, np.ndarray]) -> tuple[int, int]:
    """tracemalloc peak of an orthophoto over ±``half`` m at 10 cm, and its estimate."""
    grid = Grid.covering(-half, -half, half, half, 0.1)
    z = np.zeros((grid.rows, grid.cols))  # the caller's surface: not the step's memory
    tracemalloc.start()
    try:
        res = orthophoto(views, z, grid, lambda v: photos[v.name].copy(), tile=256)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.alpha.min() == 255
    return peak, memory_estimate(grid, views, None, tile=256)


def test_orthophoto_working_memory_is_bounded_and_predicted() -> None:
    """Two photos that both see all of 300² and 700² cells: the step's peak grows by the
    output's 7 bytes a cell (the old step held ~250 bytes a cell: 16 GB on snowpeak)."""
    views = [_view("a", (0.0, 0.0, 300.0), 100.0), _view("b", (3.0, 0.0, 300.0), 100.0)]
    photos = _photos("ab")
    small, est_small = _peak(views, 15.0, photos)
    big, est_big = _peak(views, 35.0, photos)
    assert (big - small) / (700**2 - 300**2) < 12.0
    for peak, est in ((small, est_small), (big, est_big)):
        assert peak <= est <= 1.5 * peak


def _job(tmp_path: Path, budget_mb: int, views: list[View]) -> pipeline.Job:
    opts = pipeline.ProcessOptions(out_dir=tmp_path, ortho_memory_mb=budget_mb)
    job = pipeline.Job(paths=[], opts=opts, progress=pipeline.SilentProgress())
    job.views = views
    return job


def test_orthophoto_cell_is_coarsened_to_the_memory_budget(tmp_path: Path) -> None:
    """600 m × 600 m at the 1 cm GSD would be 3600 M cells (the old guard refused, and 150 M
    cells passed it while needing ~37 GB); now the cell is coarsened to fit, and said so."""
    views = [_view("a", (0.0, 0.0, 50.0), 5000.0)]
    lo, hi = np.array([-300.0, -300.0]), np.array([300.0, 300.0])
    job = _job(tmp_path, 512, views)
    grid = pipeline.ortho_grid(job, lo, hi, 0.01)
    need = pipeline.ortho_memory_bytes(grid, views, pipeline.image_cache_bytes(job.opts))
    assert need <= 512 * 1024 * 1024
    assert 0.09 < grid.res < 0.12  # 16 bytes a cell written: 33 M cells, not much fewer
    m = job.ortho_memory
    assert m["coarsened"] and m["resolution_cm_wanted"] == 1.0 and m["budget_mb"] == 512
    assert m["resolution_cm"] == pytest.approx(grid.res * 100.0, abs=1e-3)
    assert m["estimated_peak_mb_wanted"] > 10_000
    assert any("memory budget of 512 MB" in w for w in job.warnings)
    # what fits is left as it is
    job = _job(tmp_path, 512, views)
    assert pipeline.ortho_grid(job, lo, hi, 0.5).res == 0.5
    assert not job.ortho_memory["coarsened"] and not job.warnings


def test_photos_too_large_for_the_budget_are_one_clear_error(tmp_path: Path) -> None:
    huge = [_view("a", (0.0, 0.0, 50.0), 5000.0, w=20000, h=15000)]  # 900 MB decoded
    job = _job(tmp_path, 1024, huge)
    with pytest.raises(BadInputError, match="too large for the orthophoto's memory budget"):
        pipeline.ortho_grid(job, np.array([0.0, 0.0]), np.array([10.0, 10.0]), 0.5)
    errs = pipeline.ProcessOptions(tmp_path, ortho_memory_mb=100).check()
    assert "at least 256, got 100" in errs[0]


def test_writing_the_orthophoto_makes_no_full_size_copy(tmp_path: Path) -> None:
    """The COG is written band by band and the preview from every k-th cell (before: a 4-band
    and an RGBA copy of the whole orthophoto, 8 bytes a cell on top of what the step held)."""
    import rasterio
    from pyproj import CRS

    from photo import products

    n = 2400
    rgb = np.zeros((n, n, 3), dtype=np.uint8)
    rgb[::7, :, 0] = 200
    alpha = np.full((n, n), 255, dtype=np.uint8)
    alpha[:, :100] = 0
    grid = Grid(0.0, float(n), 1.0, n, n)
    tracemalloc.start()
    try:
        products.write_orthophoto(
            tmp_path / "o.tif", rgb, alpha, grid, CRS.from_epsg(32633), (0.0, 0.0, 0.0)
        )
        cog = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        products.write_preview_png(tmp_path / "o.png", rgb, alpha)
        png = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # measured: 2.8 and 2.2 bytes a cell (every 2nd cell here); before: 8.8 and 4.9
    assert cog < 4 * n * n and png < 3 * n * n
    with rasterio.open(tmp_path / "o.tif") as src:
        np.testing.assert_array_equal(src.read(1), rgb[..., 0])
        np.testing.assert_array_equal(src.read(4), alpha)
    from PIL import Image

    with Image.open(tmp_path / "o.png") as im:
        assert im.mode == "RGBA" and max(im.size) <= 1200
