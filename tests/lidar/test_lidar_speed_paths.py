"""The fast paths: exact voxel-hash neighbours, chunked LAS I/O, one-pass ground + rasters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import laspy
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.spatial import cKDTree

from dronekit_plzen.cli.main import cli
from lidar.io import read_cloud, write_cloud
from lidar.knn import mean_knn_distance
from lidar.raster import read_geotiff

LIDAR = Path("/work/shared/data/lidar")


def _tree_mean(xyz: np.ndarray, k: int) -> np.ndarray:
    d, _i = cKDTree(xyz).query(xyz, k=k + 1)
    return np.asarray(d[:, 1:].mean(axis=1))


def test_voxel_neighbours_equal_a_kd_tree_with_far_noise_and_duplicates() -> None:
    rng = np.random.default_rng(3)
    ground = np.column_stack([rng.uniform(0, 60, 6000), rng.uniform(0, 40, 6000), np.zeros(6000)])
    ground[:, 2] = 0.2 * ground[:, 0] + rng.normal(0, 0.05, 6000)
    crowns = rng.normal([30, 20, 15], [3, 3, 2], (800, 3))
    far = np.array([[30.0, 20.0, 400.0], [-500.0, 0.0, 0.0], [10.0, 10.0, 80.0]])  # the tree
    dups = ground[:50].copy()  # exact duplicates: distance 0 neighbours
    xyz = np.vstack([ground, crowns, far, dups]) + np.array([640_000.0, 5_500_000.0, 300.0])
    for k in (1, 8):
        got = mean_knn_distance(xyz, k)
        assert np.allclose(got, _tree_mean(xyz, k), atol=2e-3)  # float32 offsets: < 2 mm


def test_voxel_neighbours_small_and_degenerate_clouds() -> None:
    assert np.isnan(mean_knn_distance(np.zeros((3, 3)), 8)).all()  # fewer points than k
    same = np.zeros((20, 3))
    assert np.allclose(mean_knn_distance(same, 8), 0.0)
    line = np.column_stack([np.arange(100.0), np.zeros(100), np.zeros(100)])
    assert np.allclose(mean_knn_distance(line, 2), _tree_mean(line, 2))


def test_voxel_neighbours_of_a_crowd_equal_a_kd_tree() -> None:
    # a scanner left running on the take-off spot: a dense ball (points a millimetre apart)
    # inside a field of 1 point/m², and copies of one point inside the ball. The crowd's voxel
    # was read whole for each of its points (200,000: 90 s); its points now get a grid of
    # their own (crowds within it another), exactly
    rng = np.random.default_rng(12)
    field = np.column_stack([rng.uniform(0, 70, 5000), rng.uniform(0, 70, 5000)])
    field = np.column_stack([field, 0.1 * field[:, 0]])
    ball = rng.normal([35.0, 35.0, 4.0], 0.05, (30_000, 3))
    copies = np.repeat([[35.0, 35.0, 4.0]], 600, axis=0)
    xyz = np.vstack([field, ball, copies]) + np.array([640_000.0, 5_500_000.0, 300.0])
    for k in (1, 8):
        want = _tree_mean(xyz - xyz.min(axis=0), k)
        got = mean_knn_distance(xyz, k)
        assert np.allclose(got, want, rtol=1e-3, atol=1e-5)


def test_chunked_read_and_write_equal_whole(tmp_path: Path) -> None:
    whole = read_cloud(LIDAR / "MixedConifer.laz")
    parts = read_cloud(LIDAR / "MixedConifer.laz", chunk_size=10_000)  # 4 chunks filled in
    assert np.array_equal(parts.x, whole.x) and np.array_equal(parts.z, whole.z)
    for k, v in whole.dims.items():
        assert np.array_equal(parts.dims[k], v), k
    out = write_cloud(whole, tmp_path / "c.laz", chunk_size=7_000)
    back = laspy.read(out)
    assert len(back.points) == len(whole)
    assert np.allclose(np.asarray(back.z), whole.z, atol=1e-3)
    assert np.array_equal(np.asarray(back.classification), whole.classification)


def test_ground_dtm_dsm_chm_in_one_pass(tmp_path: Path) -> None:
    src = str(LIDAR / "MixedConifer.laz")
    paths = {p: tmp_path / f"{p}.tif" for p in ("dtm", "dsm", "chm")}
    args = ["lidar", "ground", src, "-o", str(tmp_path / "g.laz"), "--resolution", "2"]
    for name, path in paths.items():
        args += [f"--{name}", str(path)]
    r = CliRunner().invoke(cli, [*args, "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    names = [s["stage"] for s in rep["stages"]]
    # one read, ground once, then the writers; every stage timed
    assert names.count("readers.las") == 1 and names.count("filters.smrf") == 1
    assert names[-4:] == ["writers.las", "writers.gdal", "writers.gdal", "writers.gdal"]
    assert all(s["seconds"] >= 0 and s["peak_rss_mb"] > 0 for s in rep["stages"])
    assert [o["product"] for o in rep["outputs"][1:]] == ["dtm", "dsm", "chm"]
    dtm, g1, _c = read_geotiff(paths["dtm"])
    dsm, g2, _c = read_geotiff(paths["dsm"])
    chm, g3, _c = read_geotiff(paths["chm"])
    assert g1 == g2 == g3
    ok = np.isfinite(chm)
    assert ok.sum() > 1000
    assert np.allclose(chm[ok], np.clip(dsm - dtm, 0, None)[ok], atol=1e-3)  # float32 COGs
    assert float(np.nanmax(chm)) > 5.0  # a conifer forest
    g = np.asarray(laspy.read(tmp_path / "g.laz").classification)
    assert int((g == 2).sum()) > 3000


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--dtm", "{tmp}/dtm.png"], "dtm.png"),
        (["--chm", "{tmp}/missing/chm.tif"], "missing"),
        (["--dsm", "{tmp}/dsm.tif", "--resolution", "-1"], "resolution"),
    ],
)
def test_one_pass_bad_outputs_one_line_exit_2(
    tmp_path: Path, extra: list[str], needle: str
) -> None:
    src = str(LIDAR / "MixedConifer.laz")
    args = [a.format(tmp=tmp_path) for a in extra]
    cmd = [sys.executable, "-m", "dronekit_plzen", "lidar", "ground", src]
    r = subprocess.run(
        [*cmd, "-o", str(tmp_path / "g.laz"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], r.stderr
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------- gap filling and the opening
def test_short_gaps_are_bridged_on_the_grid_and_a_plane_stays_exact() -> None:
    from lidar.grid import BRIDGE_SPAN, bridge_gaps, inpaint_linear

    assert BRIDGE_SPAN == 2
    rows, cols = np.mgrid[0:40, 0:50].astype(float)
    plane = 7.0 + 0.3 * cols - 0.2 * rows
    a = plane.copy()
    a[5, 10] = np.nan  # one cell: bridged along its row, column and diagonals
    a[20, 10:14] = np.nan  # four cells in a row, valid above and below: bridged by columns
    a[25:35, 25:40] = np.nan  # a wide hole: left to the TIN
    b = bridge_gaps(a, passes=1)
    assert b[5, 10] == pytest.approx(plane[5, 10], abs=1e-12)
    assert np.allclose(b[20, 10:14], plane[20, 10:14], atol=1e-12)
    assert np.isnan(b[30, 32])  # the middle of the wide hole is not bridged
    assert np.array_equal(b[np.isfinite(a)], a[np.isfinite(a)])  # valid cells untouched
    f = inpaint_linear(a)
    assert np.isfinite(f).all()
    assert np.abs(f - plane).max() < 1e-2  # the TIN's vertices are jittered by 0.1 %


def test_inpaint_linear_is_linear_on_a_sparse_plane_with_a_hole() -> None:
    from lidar.grid import inpaint_linear

    rng = np.random.default_rng(5)
    rows, cols = np.mgrid[0:80, 0:90].astype(float)
    plane = 100.0 - 0.15 * cols + 0.4 * rows
    a = plane.copy()
    a[rng.random(a.shape) < 0.7] = np.nan  # a sparse cloud: 30 % of the cells hold points
    a[30:55, 20:60] = np.nan  # a removed building
    for edge in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        a[edge] = plane[edge]  # the hull is the whole grid: no nearest-value rim
    f = inpaint_linear(a)
    assert np.abs(f - plane).max() < 0.05
    ok = np.isfinite(a)
    assert np.array_equal(f[ok], a[ok])


def test_progressive_filter_equals_opening_each_opening_again() -> None:
    """The chained erosion (one step per radius) gives the same objects, to the bit, as opening
    the previous opening with each radius (Pingel's description), ties and edges included."""
    from lidar.ground import opening, progressive_filter

    def reference(surface: np.ndarray, slope: float, radius: int) -> np.ndarray:
        obj = np.zeros(surface.shape, dtype=bool)
        prev = surface
        for r in range(1, radius + 1):
            cur = opening(prev, r)
            obj |= (prev - cur) > slope * r
            prev = cur
        return obj

    rng = np.random.default_rng(11)
    for case in range(24):
        shape = (int(rng.integers(1, 45)), int(rng.integers(1, 45)))
        s = rng.normal(size=shape).cumsum(axis=0) + rng.uniform(0, 3) * rng.normal(size=shape)
        if case % 3 == 0:
            s = np.round(s)  # plateaus: ties everywhere
        radius = int(rng.integers(1, 19))
        got = progressive_filter(s, 1.0, 0.15, radius)
        assert np.array_equal(got, reference(s, 0.15, radius)), case


def _plane_with_roof(path: Path, ground_class: bool) -> None:
    """A 60 m square of ground with a 10 m roof; class 2 on the ground when asked."""
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 60, 20000), rng.uniform(0, 60, 20000)
    roof = (np.abs(x - 30) < 8) & (np.abs(y - 30) < 8)
    z = 200 + 0.05 * x + np.where(roof, 10.0, 0.0)
    h = laspy.LasHeader(point_format=1, version="1.2")
    h.scales = [0.01, 0.01, 0.01]
    h.offsets = [0, 0, 0]
    las = laspy.LasData(h)
    las.x, las.y, las.z = x + 500000, y + 5500000, z
    las.classification = np.where(roof | (not ground_class), 1, 2).astype(np.uint8)
    las.write(path)


@pytest.mark.parametrize(
    ("classified", "method", "kept"),
    [(True, None, True), (False, None, False), (True, "smrf", False), (True, "existing", None)],
)
def test_dtm_keeps_the_files_ground_unless_asked(
    tmp_path: Path, classified: bool, method: str | None, kept: bool | None
) -> None:
    """`lidar ground` then `lidar dtm`: the second command reads the ground the first wrote
    (auto), not classifying it again; a cloud with no ground is classified; `smrf` forces it."""
    src = tmp_path / "in.las"
    _plane_with_roof(src, classified)
    args = [
        "lidar",
        "dtm",
        str(src),
        "-o",
        str(tmp_path / "dtm.tif"),
        "--json",
        "--crs",
        "EPSG:32633",
    ]
    if method:
        args += ["--ground-method", method]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    rows = {s["stage"]: s for s in json.loads(r.stdout)["stages"]}
    if kept is None:
        assert "filters.smrf" not in rows
    else:
        assert bool(rows["filters.smrf"].get("skipped")) is kept
        assert bool(rows["filters.outlier"].get("skipped")) is kept
    dtm, _g, _c = read_geotiff(tmp_path / "dtm.tif")
    assert float(np.nanmax(dtm)) < 204.0  # the roof is never ground
    r2 = CliRunner().invoke(cli, args[:-2] if method else args)
    assert r2.exit_code == 0
