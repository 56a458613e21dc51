"""LAS/LAZ I/O: round trips, CRS records, units, chunking and damaged files."""

from __future__ import annotations

import shutil
from pathlib import Path

import laspy
import numpy as np
import pytest
from pyproj import CRS

from dronekit_plzen.errors import BadInputError, CorruptFileError, UnknownCRSError
from lidar.io import iter_chunks, las_info, read_cloud, write_cloud
from lidar.synthetic import make_scene

LIDAR = Path("/work/shared/data/lidar")


@pytest.mark.parametrize(
    ("fmt", "version", "suffix"), [(3, "1.2", ".laz"), (1, "1.3", ".las"), (6, "1.4", ".laz")]
)
def test_round_trip_keeps_points_scales_and_crs(
    tmp_path: Path, fmt: int, version: str, suffix: str
) -> None:
    from dataclasses import replace

    s = make_scene((40.0, 40.0), 3.0, seed=2)
    cloud = replace(s.cloud, point_format=fmt, las_version=version, scales=(0.01, 0.01, 0.01))
    cloud = cloud.with_dims(classification=s.truth)
    out = write_cloud(cloud, tmp_path / f"c{suffix}")
    h = laspy.read(out).header
    assert f"{h.version.major}.{h.version.minor}" == version
    assert h.point_format.id == fmt
    assert np.allclose(h.scales, 0.01)
    assert h.parse_crs().to_epsg() == 32633
    back = read_cloud(out)
    assert len(back) == len(cloud)
    assert np.max(np.abs(back.x - cloud.x)) <= 0.005 + 1e-9
    assert np.max(np.abs(back.z - cloud.z)) <= 0.005 + 1e-9
    assert np.array_equal(back.classification, s.truth)
    assert back.crs is not None and back.crs.to_epsg() == 32633


def test_extra_dimension_written_as_extra_bytes(tmp_path: Path) -> None:
    s = make_scene((20.0, 20.0), 2.0, seed=3)
    hag = np.linspace(0, 10, len(s.cloud))
    out = write_cloud(s.cloud.with_dims(HeightAboveGround=hag), tmp_path / "h.laz")
    back = read_cloud(out)
    assert np.allclose(back.dims["HeightAboveGround"], hag)


def test_real_samples_crs_units_and_counts() -> None:
    topo = las_info(LIDAR / "Topography.laz")
    assert topo["point_count"] == 73403 and CRS(topo["crs"]).to_epsg() == 2949
    assert topo["xy_unit_m"] == 1.0
    mc = read_cloud(LIDAR / "MixedConifer.laz")
    assert len(mc) == 37657 and mc.crs is not None and mc.crs.to_epsg() == 26912
    assert int((mc.classification == 2).sum()) == 5820
    az = read_cloud(LIDAR / "autzen_trim.laz")
    # Oregon Lambert in feet: horizontal and vertical units are feet, not metres
    assert az.xy_unit_m == pytest.approx(0.3048, abs=1e-5)
    assert az.z_unit_m == pytest.approx(0.3048, abs=1e-5)
    assert int((az.classification == 2).sum()) == 26107


def test_chunks_equal_whole_read() -> None:
    whole = read_cloud(LIDAR / "MixedConifer.laz")
    chunks = list(iter_chunks(LIDAR / "MixedConifer.laz", chunk_size=10_000))
    assert [len(c) for c in chunks] == [10_000, 10_000, 10_000, 7_657]
    assert np.array_equal(np.concatenate([c.z for c in chunks]), whole.z)


def test_empty_file_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.laz"
    p.write_bytes(b"")
    with pytest.raises(CorruptFileError) as ei:
        read_cloud(p)
    assert "empty.laz" in str(ei.value) and "empty" in str(ei.value)


def test_not_a_las_file(tmp_path: Path) -> None:
    p = tmp_path / "junk.laz"
    p.write_bytes(b"this is not a point cloud" * 100)
    with pytest.raises(CorruptFileError, match=r"junk\.laz"):
        read_cloud(p)


def test_truncated_laz_is_reported(tmp_path: Path) -> None:
    src = (LIDAR / "Topography.laz").read_bytes()
    p = tmp_path / "cut.laz"
    p.write_bytes(src[: len(src) // 2])
    with pytest.raises(CorruptFileError, match=r"cut\.laz"):
        read_cloud(p)


def test_corrupted_laz_body_is_reported(tmp_path: Path) -> None:
    src = bytearray((LIDAR / "MixedConifer.laz").read_bytes())
    rng = np.random.default_rng(0)
    idx = rng.integers(4000, len(src) - 100, 3000)
    for i in idx:
        src[i] ^= 0xFF
    p = tmp_path / "bad.laz"
    p.write_bytes(bytes(src))
    with pytest.raises(CorruptFileError, match=r"bad\.laz"):
        read_cloud(p)


def test_wrong_and_unknown_crs(tmp_path: Path) -> None:
    # Oregon coordinates declared as S-JTSK (Czechia): outside the CRS's area of use
    with pytest.raises(UnknownCRSError, match="area of use"):
        read_cloud(LIDAR / "autzen_trim.laz", crs="EPSG:5514")
    with pytest.raises(UnknownCRSError, match="EPSG:999999"):
        read_cloud(LIDAR / "MixedConifer.laz", crs="EPSG:999999")


def test_failed_write_leaves_no_partial_output(tmp_path: Path) -> None:
    s = make_scene((20.0, 20.0), 2.0, seed=3)
    from dataclasses import replace

    huge = replace(s.cloud, x=s.cloud.x * 1e6, scales=(0.001, 0.001, 0.001))
    target = tmp_path / "out.laz"
    with pytest.raises(BadInputError):
        write_cloud(huge, target)
    assert list(tmp_path.iterdir()) == []


def test_missing_output_directory(tmp_path: Path) -> None:
    s = make_scene((20.0, 20.0), 2.0, seed=3)
    with pytest.raises(Exception, match="does not exist"):
        write_cloud(s.cloud, tmp_path / "nope" / "out.laz")


def test_copy_of_sample_reads_like_original(tmp_path: Path) -> None:
    p = tmp_path / "copy.laz"
    shutil.copy(LIDAR / "MixedConifer.laz", p)
    assert las_info(p)["point_count"] == 37657


def test_crs_without_epsg_written_as_wkt(tmp_path: Path) -> None:
    az = read_cloud(LIDAR / "autzen_trim.laz")  # Oregon Lambert (ft), no EPSG code
    out = write_cloud(az.select(np.arange(2000)), tmp_path / "az.laz")
    back = read_cloud(out)
    assert back.crs is not None and back.crs.equals(az.crs)
    assert back.xy_unit_m == pytest.approx(0.3048, abs=1e-5)
