"""LiDAR bad inputs in process: grids too large, broken headers, no CRS, quiet readers, outputs.

The CLI-level table (one error line, exit codes, no file left) is tests/test_bad_inputs.py;
these tests pin the library behaviour behind it.
"""

from __future__ import annotations

import logging
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from pyproj import CRS

from dronekit_plzen.errors import BadInputError, CorruptFileError, LinkError
from lidar.cloud import PointCloud
from lidar.grid import check_grid_size, memory_budget
from lidar.io import las_info, read_cloud, write_cloud
from lidar.products import grid_for, write_product
from lidar.tiling import run_tiled

UTM33 = CRS.from_epsg(32633)


def _cloud(x: np.ndarray, y: np.ndarray, crs: CRS | None = UTM33) -> PointCloud:
    n = len(x)
    return PointCloud(
        x=x.astype(np.float64),
        y=y.astype(np.float64),
        z=np.full(n, 300.0) + np.sin(x),
        dims={
            "return_number": np.ones(n, np.uint8),
            "number_of_returns": np.ones(n, np.uint8),
            "classification": np.full(n, 2, np.uint8),
        },
        crs=crs,
        source="test.las",
    )


def _local(n: int = 400) -> PointCloud:
    rng = np.random.default_rng(3)
    return _cloud(400_000 + rng.uniform(0, 30, n), 5_500_000 + rng.uniform(0, 30, n))


def test_grid_size_is_checked_before_allocating() -> None:
    c = _local()
    far = _cloud(np.r_[c.x, c.x + 1_000_000], np.r_[c.y, c.y + 1_000_000])
    t0 = time.perf_counter()
    with pytest.raises(BadInputError) as ei:
        grid_for(far, 1.0)
    assert time.perf_counter() - t0 < 1.0  # refused by arithmetic, not by a MemoryError
    msg = str(ei.value)
    assert msg.startswith("test.las: the grid is too large: the points span 1,000,0")
    for needle in ("at 1 m per cell", "cells needing about", "TiB"):
        assert needle in msg
    # the budget, or less when the machine has less memory available at the moment
    assert "over the budget of" in msg or "this machine has available" in msg
    assert grid_for(c, 1.0).rows > 0  # the ordinary cloud is fine


def test_memory_budget_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    assert memory_budget(64) == 64 * 1024**2
    monkeypatch.setenv("DKP_LIDAR_MEMORY_MB", "32")
    assert memory_budget() == 32 * 1024**2
    with pytest.raises(BadInputError, match=r"over the budget of 32\.0 MiB"):
        check_grid_size((0, 0, 1000, 1000), 0.1)
    monkeypatch.setenv("DKP_LIDAR_MEMORY_MB", "lots")
    with pytest.raises(BadInputError, match="DKP_LIDAR_MEMORY_MB must be a number of MiB"):
        memory_budget()
    with pytest.raises(BadInputError, match="positive number of MiB"):
        memory_budget(float("nan"))


def test_ground_filter_refuses_a_huge_grid(tmp_path: Path) -> None:
    from lidar.stages import SMRFOptions, apply_smrf

    c = _local()
    far = _cloud(np.r_[c.x, c.x + 500_000], np.r_[c.y, c.y + 500_000])
    with pytest.raises(BadInputError, match="the grid is too large"):
        apply_smrf(far, SMRFOptions())


def _patched(src: Path, dst: Path, offset: int, value: float) -> Path:
    raw = bytearray(src.read_bytes())
    struct.pack_into("<d", raw, offset, value)
    dst.write_bytes(bytes(raw))
    return dst


def test_nan_scale_and_offset_are_named(tmp_path: Path) -> None:
    ok = write_cloud(_local(), tmp_path / "ok.las")
    bad_scale = _patched(ok, tmp_path / "s.las", 131, float("nan"))
    with pytest.raises(CorruptFileError, match=r"s\.las: the header's X scale is nan"):
        las_info(bad_scale)
    bad_offset = _patched(ok, tmp_path / "o.las", 171, float("inf"))
    with pytest.raises(CorruptFileError, match=r"o\.las: the header's Z offset is inf"):
        read_cloud(bad_offset)
    zero_scale = _patched(ok, tmp_path / "z.las", 139, 0.0)
    with pytest.raises(CorruptFileError, match=r"Y scale is 0\.0: it must be a positive"):
        read_cloud(zero_scale)


def test_truncated_laz_is_one_error_without_library_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = write_cloud(_local(3000), tmp_path / "ok.laz")
    cut = tmp_path / "cut.laz"
    cut.write_bytes(p.read_bytes()[: p.stat().st_size * 2 // 3])
    with caplog.at_level(logging.DEBUG), pytest.raises(CorruptFileError, match="truncated"):
        read_cloud(cut)
    assert not [r for r in caplog.records if r.name.startswith("laspy")]
    with caplog.at_level(logging.DEBUG):  # the silencing ends with the block
        logging.getLogger("laspy.lasreader").warning("after the block")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("laspy")] == [
        "after the block"
    ]


def test_las_without_crs_warns_and_crs_option_sets_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import rasterio

    from lidar import pipeline

    c = _local()
    src = write_cloud(_cloud(c.x, c.y, crs=None), tmp_path / "nocrs.las")
    out = tmp_path / "dsm.tif"
    doc = [str(src), {"type": "writers.gdal", "filename": str(out), "product": "dsm"}]
    with caplog.at_level(logging.WARNING):
        pipeline.run(pipeline.parse(doc))
    warned = [r.getMessage() for r in caplog.records if r.name == "lidar.products"]
    assert warned == [f"no CRS in {src}; {out} will have none; give --crs EPSG:…"]
    with rasterio.open(out) as ds:
        assert ds.crs is None
    caplog.clear()
    reader = {"type": "readers.las", "filename": str(src), "spatialreference": "EPSG:32633"}
    with caplog.at_level(logging.WARNING):
        pipeline.run(pipeline.parse([reader, doc[1]]))
    assert not [r for r in caplog.records if r.name == "lidar.products"]
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 32633


def test_wrong_extension_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"dsm\.png: the extension must be \.tif or \.tiff"):
        write_product(_local(), "dsm", tmp_path / "dsm.png")
    with pytest.raises(BadInputError, match=r"the extension must be \.las or \.laz"):
        write_cloud(_local(), tmp_path / "cloud.tif")
    assert list(tmp_path.iterdir()) == []


def test_unreachable_scheduler_fails_fast(tmp_path: Path) -> None:
    import socket

    src = write_cloud(_local(), tmp_path / "ok.las")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    with pytest.raises(LinkError, match=f"cannot reach the Dask scheduler tcp://127.0.0.1:{port}"):
        run_tiled(src, tmp_path / "tiles", scheduler=f"tcp://127.0.0.1:{port}")
    assert time.perf_counter() - t0 < 15.0
    assert not (tmp_path / "tiles").exists()  # nothing made before the check
    with pytest.raises(BadInputError, match="not a Dask scheduler address"):
        run_tiled(src, tmp_path / "tiles", scheduler="garbage://x")
    # the pool's size beside a scheduler had been dropped without a word
    with pytest.raises(BadInputError, match="--workers is for the local process pool"):
        run_tiled(src, tmp_path / "tiles", workers=2, scheduler=f"tcp://127.0.0.1:{port}")
    assert not (tmp_path / "tiles").exists()


@pytest.mark.parametrize(
    ("stage", "needle"),
    [
        ({"type": "filters.voxel", "cell": float("nan")}, "option 'cell' must be a finite number"),
        ({"type": "filters.smrf", "window": float("inf")}, "option 'window' must be a finite"),
        (
            {"type": "filters.crop", "bounds": [0.0, 0.0, float("nan"), 1.0]},
            "option 'bounds' must be a finite number",
        ),
        (
            {"type": "writers.gdal", "filename": "x.tif", "resolution": float("nan")},
            "option 'resolution' must be a finite number",
        ),
        (
            {"type": "writers.gdal", "filename": "x.geojson", "product": "contours", "interval": 0},
            "the contour interval must be positive",
        ),
    ],
)
def test_non_finite_options_are_refused(
    tmp_path: Path, stage: dict[str, object], needle: str
) -> None:
    from lidar import pipeline

    src = write_cloud(_local(), tmp_path / "ok.las")
    doc = [str(src), stage, str(tmp_path / "out.laz")]
    with pytest.raises(BadInputError, match=needle):
        pipeline.parse(doc, base_dir=tmp_path)


def test_a_bug_of_ours_is_told_from_a_readers_verdict(tmp_path: Path) -> None:
    """The readers catch a library's assorted errors broadly and name the file as damaged; a
    NameError of our own in the same block was reported as "not a readable LAS/LAZ file:
    name 'quiet' is not defined" (exit 2, the user blamed the file). They now re-raise what
    ``raised_by_library`` says is ours (the CLI reports an internal error)."""
    import laspy

    from dronekit_plzen.errors import raised_by_library
    from lidar.io import _at_scale

    garbage = tmp_path / "garbage.las"
    garbage.write_bytes(b"NOTLAS" + bytes(range(256)) * 2)  # laspy itself refuses it
    with pytest.raises(CorruptFileError, match="not a readable LAS/LAZ file"):
        read_cloud(garbage)
    with pytest.raises(laspy.LaspyException) as verdict:
        laspy.open(str(garbage))
    assert raised_by_library(verdict.value)
    with pytest.raises(TypeError) as bug:  # raised in a frame of lidar.io: ours
        _at_scale("848899.7", 0.01)  # type: ignore[arg-type]
    assert not raised_by_library(bug.value)
