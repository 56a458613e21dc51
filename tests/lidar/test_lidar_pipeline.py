"""Pipelines: complete validation before running, in-memory and streamed runs, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import laspy
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from dronekit_plzen.cli.main import cli
from dronekit_plzen.errors import BadInputError
from lidar import pipeline
from lidar.io import read_cloud

LIDAR = Path("/work/shared/data/lidar")


def test_validation_reports_every_problem_before_running(tmp_path: Path) -> None:
    doc = {
        "pipeline": [
            str(tmp_path / "missing.laz"),
            {"type": "filters.smrf", "slop": 0.2, "cell": "big"},
            {"type": "filters.nonsense"},
            {"type": "filters.csf", "rigidness": 7},
            {"type": "filters.reproject", "out_srs": "EPSG:999999"},
            {"type": "writers.gdal", "filename": str(tmp_path / "no" / "dtm.tif"), "product": "x"},
        ]
    }
    with pytest.raises(BadInputError) as ei:
        pipeline.parse(doc)
    msg = str(ei.value)
    for needle in (
        "missing.laz",
        "'slop'",
        "'cell'",
        "filters.nonsense",
        "rigidness",
        "999999",
        "/no does not exist",
        "product must be",
    ):
        assert needle in msg, needle
    assert list(tmp_path.iterdir()) == []  # nothing ran, nothing written


def test_pipeline_without_writer_is_rejected() -> None:
    with pytest.raises(BadInputError, match="no writer"):
        pipeline.parse([str(LIDAR / "MixedConifer.laz"), {"type": "filters.smrf"}])


def test_yaml_pipeline_in_memory(tmp_path: Path) -> None:
    doc = {
        "pipeline": [
            {"type": "readers.las", "filename": str(LIDAR / "MixedConifer.laz")},
            {"type": "filters.outlier", "method": "radius", "radius": 3.0, "min_k": 1},
            {"type": "filters.smrf"},
            {"type": "filters.hag"},
            {"type": "filters.range", "limits": "HeightAboveGround[2:]"},
            {"type": "writers.las", "filename": "trees.laz"},
            {"type": "writers.gdal", "filename": "dsm.tif", "product": "dsm", "resolution": 2.0},
        ]
    }
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(doc))
    pipe = pipeline.load(p)
    assert not pipe.streamable
    rep = pipeline.run(pipe)
    out = read_cloud(tmp_path / "trees.laz")
    assert rep.points_in == 37657 and 0 < len(out) == rep.points_out < 37657
    assert out.dims["HeightAboveGround"].min() >= 2.0
    assert (tmp_path / "dsm.tif").exists()


def test_streamed_pipeline_reprojects_to_sjtsk_chunk_by_chunk(
    tmp_path: Path, scene_laz: Path
) -> None:
    doc = [
        {"type": "readers.las", "filename": str(scene_laz), "chunk_size": 50_000},
        {"type": "filters.reproject", "out_srs": "EPSG:5514"},
        {"type": "writers.las", "filename": str(tmp_path / "sjtsk.laz")},
    ]
    pipe = pipeline.parse(doc)
    assert pipe.streamable
    reports = list(pipeline.iter_run(pipe))
    assert reports[-1].streamed and len(reports) > 2
    src = read_cloud(scene_laz)
    out = read_cloud(tmp_path / "sjtsk.laz")
    assert out.crs is not None and out.crs.to_epsg() == 5514
    # Plzeň in S-JTSK (Krovak East North): x ≈ −826 km, y ≈ −1 069 km
    assert -840_000 < out.x.min() < -810_000 and -1_080_000 < out.y.min() < -1_060_000
    from dronekit_plzen.geo import transform

    bx, by = transform(out.x, out.y, 5514, 32633)
    assert np.max(np.abs(bx - src.x)) < 0.01 and np.max(np.abs(by - src.y)) < 0.01


def test_cli_ground_dtm_json(tmp_path: Path) -> None:
    runner = CliRunner()
    src = str(LIDAR / "MixedConifer.laz")
    r = runner.invoke(
        cli, ["lidar", "ground", src, "-o", str(tmp_path / "g.laz"), "--method", "csf", "--json"]
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["points_in"] == 37657 and [s["stage"] for s in d["stages"]][2] == "filters.csf"
    assert int((np.asarray(laspy.read(tmp_path / "g.laz").classification) == 2).sum()) > 3000
    r = runner.invoke(
        cli, ["lidar", "dtm", src, "-o", str(tmp_path / "dtm.tif"), "--resolution", "2", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)["outputs"][0]
    assert out["product"] == "dtm" and out["valid_cells"] > 0
    r = runner.invoke(cli, ["lidar", "info", src, "--json"])
    assert json.loads(r.stdout)["point_count"] == 37657


def test_cli_volume_and_diff(tmp_path: Path) -> None:
    from lidar.grid import GridSpec
    from lidar.raster import write_geotiff

    g = GridSpec(0.0, 10.0, 1.0, 10, 10)
    write_geotiff(tmp_path / "a.tif", np.full((10, 10), 12.0), g, None)
    write_geotiff(tmp_path / "b.tif", np.full((10, 10), 10.0), g, None)
    r = CliRunner().invoke(
        cli, ["lidar", "volume", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"), "--json"]
    )
    assert json.loads(r.stdout)["fill_m3"] == pytest.approx(200.0)
    r = CliRunner().invoke(
        cli,
        [
            "lidar",
            "diff",
            str(tmp_path / "a.tif"),
            str(tmp_path / "b.tif"),
            "-o",
            str(tmp_path / "d.tif"),
            "--json",
        ],
    )
    assert json.loads(r.stdout)["mean"] == pytest.approx(2.0)


@pytest.mark.parametrize("content", [b"", b"garbage" * 50])
def test_cli_bad_input_one_line_no_traceback_no_output(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.laz"
    bad.write_bytes(content)
    out = tmp_path / "dtm.tif"
    r = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", "lidar", "dtm", str(bad), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "bad.laz" in r.stderr
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["bad.laz"]


def test_cli_truncated_file_leaves_no_partial_output(tmp_path: Path) -> None:
    src = (LIDAR / "Topography.laz").read_bytes()
    bad = tmp_path / "cut.laz"
    bad.write_bytes(src[: int(len(src) * 0.7)])
    r = CliRunner().invoke(
        cli, ["lidar", "reproject", str(bad), "-o", str(tmp_path / "o.laz"), "--to", "EPSG:4326"]
    )
    from dronekit_plzen.errors import CorruptFileError

    # the CLI's main() turns this into one line and exit code 2 (checked above)
    assert isinstance(r.exception, CorruptFileError) and r.exception.exit_code == 2
    assert "cut.laz" in str(r.exception)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.laz"]


def test_demo_products_writes_four_cogs(tmp_path: Path) -> None:
    import rasterio

    from lidar.products import demo_products

    res = demo_products(LIDAR / "MixedConifer.laz", tmp_path / "out", resolution_m=2.0)
    assert res["points"] == 37657 and res["ground_points"] > 3000
    for k in ("dtm", "dsm", "chm", "hillshade"):
        with rasterio.open(res[k]) as src:
            assert src.crs.to_epsg() == 26912 and src.res == (2.0, 2.0)
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    with rasterio.open(res["chm"]) as src:
        chm = src.read(1, masked=True)
    # MixedConifer is a conifer stand: canopy up to ~30 m
    assert 20.0 < float(chm.max()) < 40.0


def test_cli_ground_failing_at_the_dtm_leaves_earlier_outputs_as_they_were(
    tmp_path: Path,
) -> None:
    """`lidar ground -o g.laz --dtm d.tif` whose DTM fails (a real input: two points, no ground
    for the DTM) writes neither file: a ground cloud already there (an earlier run's) stays as
    it was, and no temporary file is left."""
    header = laspy.LasHeader(point_format=1, version="1.2")
    header.scales = np.array([0.01, 0.01, 0.01])
    header.offsets = np.array([500_000.0, 4_500_000.0, 0.0])
    rec = laspy.ScaleAwarePointRecord.zeros(2, header=header)
    rec.x, rec.y, rec.z = [500_000.0, 500_050.0], [4_500_000.0, 4_500_050.0], [300.0, 301.0]
    two = tmp_path / "in" / "two.las"
    two.parent.mkdir()
    with laspy.open(str(two), mode="w", header=header) as w:
        w.write_points(rec)
    out = tmp_path / "out"
    out.mkdir()
    old = b"an earlier run's ground cloud"
    (out / "g.laz").write_bytes(old)
    args = ["lidar", "ground", "-o", str(out / "g.laz"), "--dtm", str(out / "d.tif")]
    r = CliRunner().invoke(cli, [*args[:2], str(two), *args[2:]])
    assert isinstance(r.exception, BadInputError), r.output
    assert "no ground points" in str(r.exception)
    assert (out / "g.laz").read_bytes() == old
    assert sorted(p.name for p in out.iterdir()) == ["g.laz"]
    # and when every stage succeeds, both are written
    src = str(LIDAR / "MixedConifer.laz")
    r = CliRunner().invoke(cli, [*args[:2], src, *args[2:], "--resolution", "2"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["d.tif", "g.laz"]
    assert laspy.read(out / "g.laz").header.point_count == 37657


def test_a_pdal_pipeline_runs_as_written_crop_bounds_and_reprojection(tmp_path: Path) -> None:
    """Found from outside: PDAL's own spelling of a crop (``"bounds": "([xmin, xmax], [ymin,
    ymax])"``) and of a reprojection (``filters.reprojection``) were refused ("wrong type",
    "unknown stage type"): a pipeline written for PDAL now runs unchanged, with the same points
    as ours spelt our way; PDAL's 3-D bounds crop the heights too."""
    src = LIDAR / "Topography.laz"

    def run(*stages: dict[str, object]) -> np.ndarray:
        out = tmp_path / "out.laz"
        pipeline.run(pipeline.parse([str(src), *stages, str(out)]))
        c = read_cloud(out)
        return np.column_stack([c.x, c.y, c.z])

    ours = run({"type": "filters.crop", "bounds": [273400, 5274400, 273500, 5274500]})
    pdal = run({"type": "filters.crop", "bounds": "([273400, 273500], [5274400, 5274500])"})
    assert 1000 < len(ours) < 73403 and np.array_equal(ours, pdal)
    z_lo, z_hi = np.percentile(ours[:, 2], [25, 75])
    pdal3 = run(
        {"type": "filters.crop", "bounds": f"([273400,273500],[5274400,5274500],[{z_lo},{z_hi}])"}
    )
    inside = (ours[:, 2] >= z_lo) & (ours[:, 2] <= z_hi)
    assert 0 < len(pdal3) < len(ours) and np.array_equal(pdal3, ours[inside])
    reproject = run({"type": "filters.reproject", "out_srs": "EPSG:4326"})
    reprojection = run({"type": "filters.reprojection", "out_srs": "EPSG:4326"})
    assert np.array_equal(reproject, reprojection) and np.abs(reproject[:, 1]).max() < 90


@pytest.mark.parametrize(
    "bounds",
    [
        "garbage",
        "([273400, nan], [5274400, 5274500])",
        "([273500, 273400], [5274400, 5274500])",  # min above max
        "([0, 1], [0, 1], [5, 4])",
        "([0, 1])",
        [1, 2, 3],
    ],
)
def test_bad_crop_bounds_are_refused_before_anything_runs(tmp_path: Path, bounds: object) -> None:
    doc = [str(LIDAR / "Topography.laz"), {"type": "filters.crop", "bounds": bounds}, "o.laz"]
    with pytest.raises(BadInputError, match=r"stage 2 \(filters.crop\): bounds"):
        pipeline.parse(doc, base_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
