"""COPC input: bounds queries through the octree, CRS, scales/offsets, damaged files.

There is no COPC sample in the shared data and laspy cannot write COPC, so the files are made by
``copc_fixture.write_copc`` (a spec-following test writer) and first checked against laspy's own
``CopcReader`` and its plain LAZ reader before ``lidar.io`` is tested on them.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import laspy
import numpy as np
import pytest
from pyproj import CRS

from dronekit_plzen.errors import BadInputError, CorruptFileError
from lidar.cloud import PointCloud
from lidar.io import las_info, read_cloud, read_copc, write_cloud


def _load_writer() -> ModuleType:
    # tests are not a package (pytest --import-mode=importlib): load the helper by path
    name = "lidar_copc_fixture"
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("copc_fixture.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


fixture = _load_writer()

X0, Y0 = 383_000.0, 5_510_000.0  # UTM 33N, Plzeň
SCALES = (0.01, 0.01, 0.001)
OFFSETS = (382_900.0, 5_509_950.0, 250.0)


class Source:
    """The numpy cloud written to the COPC file, quantised as the file stores it."""

    def __init__(self, seed: int, n: int) -> None:
        rng = np.random.default_rng(seed)
        self.x_raw = X0 + rng.uniform(0.0, 120.0, n)
        self.y_raw = Y0 + rng.uniform(0.0, 90.0, n)
        self.z_raw = 320.0 + 8.0 * np.sin(self.x_raw / 15.0) + rng.uniform(0.0, 25.0, n)
        self.intensity = rng.integers(0, 65535, n).astype(np.uint16)
        self.classification = rng.choice(np.array([1, 2, 3, 5, 6], np.uint8), n)
        self.gps_time = 4.0e5 + np.arange(n, dtype=np.float64) * 1e-3  # unique: a point id

        def q(v: np.ndarray, i: int) -> np.ndarray:
            return np.round((v - OFFSETS[i]) / SCALES[i]) * SCALES[i] + OFFSETS[i]

        self.x, self.y, self.z = q(self.x_raw, 0), q(self.y_raw, 1), q(self.z_raw, 2)

    def ids(self, gps_time: np.ndarray) -> np.ndarray:
        return np.round((gps_time - 4.0e5) * 1e3).astype(np.int64)


@pytest.fixture(scope="module")
def src() -> Source:
    return Source(seed=7, n=6000)


@pytest.fixture(scope="module")
def copc(src: Source, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("copc") / "plzen.copc.laz"
    return fixture.write_copc(
        path,
        src.x_raw,
        src.y_raw,
        src.z_raw,
        scales=SCALES,
        offsets=OFFSETS,
        crs=CRS.from_epsg(32633),
        levels=3,
        intensity=src.intensity,
        classification=src.classification,
        gps_time=src.gps_time,
    )


def _same_points(cloud: PointCloud, src: Source, want: np.ndarray) -> None:
    """``cloud`` holds exactly the source points ``want`` (indices), coordinates and attributes."""
    ids = src.ids(cloud.dims["gps_time"])
    order = np.argsort(ids)
    assert np.array_equal(ids[order], np.sort(want))
    idx = ids[order]
    assert np.allclose(cloud.x[order], src.x[idx], rtol=0, atol=1e-6)
    assert np.allclose(cloud.y[order], src.y[idx], rtol=0, atol=1e-6)
    assert np.allclose(cloud.z[order], src.z[idx], rtol=0, atol=1e-7)
    assert np.array_equal(cloud.dims["intensity"][order], src.intensity[idx])
    assert np.array_equal(cloud.dims["classification"][order], src.classification[idx])


# --- the writer makes a valid COPC file (checked with laspy's readers) ------------------------


def test_fixture_writes_valid_copc(copc: Any, src: Source) -> None:
    path = copc.path
    raw = path.read_bytes()
    assert raw[:4] == b"LASF" and raw[24:26] == bytes([1, 4])
    assert raw[104] & 0x3F == 6 and raw[104] & 0x80  # PDRF 6, LAZ bit
    assert raw[377:381] == b"copc" and raw[393:395] == bytes([1, 0])  # info VLR at offset 375
    with laspy.CopcReader.open(path) as r:
        assert isinstance(r.header.vlrs[0], laspy.copc.CopcInfoVlr)
        assert r.copc_info.hierarchy_root_offset == copc.hierarchy_offset
        assert r.copc_info.hierarchy_root_size == 32 * len(copc.nodes)
        assert r.copc_info.gps_min == src.gps_time.min()
        assert r.copc_info.gps_max == src.gps_time.max()
        assert r.header.parse_crs().to_epsg() == 32633
        everything = r.query()
        assert len(everything) == len(src.x)
        assert len(r.query(level=0)) == copc.nodes[(0, 0, 0, 0)]
    levels = {k[0] for k in copc.nodes}
    assert levels == {0, 1, 2}
    assert sum(copc.nodes.values()) == len(src.x)
    # COPC is plain variable-chunk LAZ 1.4: laspy's ordinary reader sees every point
    las = laspy.read(path)
    ids = src.ids(np.asarray(las.gps_time))
    assert np.array_equal(np.sort(ids), np.arange(len(src.x)))
    assert np.allclose(np.asarray(las.x), src.x[ids], rtol=0, atol=1e-6)
    assert np.array_equal(np.asarray(las.intensity), src.intensity[ids])


def test_bounds_query_skips_octree_nodes(copc: Any) -> None:
    path = copc.path
    with laspy.CopcReader.open(path) as r:
        q = laspy.copc.Bounds(mins=np.array([X0, Y0, 0.0]), maxs=np.array([X0 + 20, Y0 + 15, 1e4]))
        nodes = laspy.copc.load_octree_for_query(r.source, r.copc_info, r.root_page, q)
    populated = [k for k, n in copc.nodes.items() if n]
    read = [n for n in nodes if n.point_count]
    assert 0 < len(read) < len(populated) / 2
    assert {n.key.level for n in read} == {0, 1, 2}


# --- lidar.io.read_copc ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bounds",
    [
        (X0 + 10.0, Y0 + 10.0, X0 + 40.0, Y0 + 30.0),
        (X0 + 100.0, Y0 - 5.0, X0 + 130.0, Y0 + 5.0),  # a corner, partly outside the data
        (X0 - 1.0, Y0 - 1.0, X0 + 121.0, Y0 + 91.0),  # everything
        (X0 + 500.0, Y0 + 500.0, X0 + 600.0, Y0 + 600.0),  # nothing
    ],
)
def test_read_copc_returns_exactly_the_points_in_bounds(
    copc: Any, src: Source, bounds: tuple[float, float, float, float]
) -> None:
    cloud = read_copc(copc.path, bounds)
    x0, y0, x1, y1 = bounds
    mask = (src.x >= x0) & (src.x <= x1) & (src.y >= y0) & (src.y <= y1)
    assert len(cloud) == int(mask.sum())
    _same_points(cloud, src, np.flatnonzero(mask))


def test_bounds_between_storage_steps_are_exact(copc: Any, src: Source) -> None:
    # each edge 0.4 storage steps (0.01 m) beyond a stored point: laspy's integer filter rounds the
    # edge onto that point and keeps it, read_copc must drop it
    def pick(v: np.ndarray, lo: float, hi: float, other: np.ndarray, olo: float, ohi: float) -> int:
        inside = np.flatnonzero((v > lo) & (v < hi) & (other > olo) & (other < ohi))
        return int(inside[0])

    a = pick(src.x, X0 + 10, X0 + 11, src.y, Y0 + 25, Y0 + 35)
    b = pick(src.x, X0 + 69, X0 + 70, src.y, Y0 + 25, Y0 + 35)
    c = pick(src.y, Y0 + 20, Y0 + 21, src.x, X0 + 20, X0 + 60)
    d = pick(src.y, Y0 + 44, Y0 + 45, src.x, X0 + 20, X0 + 60)
    b4 = (src.x[a] + 0.004, src.y[c] + 0.004, src.x[b] - 0.004, src.y[d] - 0.004)
    mask = (src.x >= b4[0]) & (src.x <= b4[2]) & (src.y >= b4[1]) & (src.y <= b4[3])
    assert not mask[[a, b, c, d]].any()
    with laspy.CopcReader.open(copc.path) as r:
        rounded = r.query(bounds=laspy.copc.Bounds(mins=np.array(b4[:2]), maxs=np.array(b4[2:])))
    assert {a, b, c, d} <= set(src.ids(np.asarray(rounded.gps_time)).tolist())
    cloud = read_copc(copc.path, b4)
    _same_points(cloud, src, np.flatnonzero(mask))


def test_read_copc_edges_are_inclusive(copc: Any, src: Source) -> None:
    i = 123
    b = (src.x[i], src.y[i], src.x[i], src.y[i])  # a zero-area box on one stored point
    cloud = read_copc(copc.path, b)
    _same_points(cloud, src, np.flatnonzero((src.x == src.x[i]) & (src.y == src.y[i])))


def test_read_copc_keeps_crs_scales_and_metadata(copc: Any) -> None:
    cloud = read_copc(copc.path, (X0, Y0, X0 + 50, Y0 + 50))
    assert cloud.crs is not None and cloud.crs.to_epsg() == 32633
    assert cloud.scales == SCALES
    assert cloud.point_format == 6 and cloud.las_version == "1.4"
    assert cloud.xy_unit_m == 1.0 and cloud.source == str(copc.path)
    # a user CRS overrides the header's
    other = read_copc(copc.path, (X0, Y0, X0 + 5, Y0 + 5), crs="EPSG:32633", check_crs=False)
    assert other.crs is not None and other.crs.to_epsg() == 32633


def test_offsets_are_honoured(tmp_path: Path, src: Source) -> None:
    # the same points stored against a different offset and scale come back at the same place
    p = tmp_path / "shifted.copc.laz"
    fixture.write_copc(
        p,
        src.x_raw,
        src.y_raw,
        src.z_raw,
        scales=(0.001, 0.001, 0.001),
        offsets=(X0 + 60.0, Y0 + 45.0, 300.0),
        crs=CRS.from_epsg(32633),
        gps_time=src.gps_time,
    )
    b = (X0 + 30.0, Y0 + 30.0, X0 + 90.0, Y0 + 60.0)
    cloud = read_copc(p, b)
    mask = (src.x_raw >= b[0]) & (src.x_raw <= b[2]) & (src.y_raw >= b[1]) & (src.y_raw <= b[3])
    ids = src.ids(cloud.dims["gps_time"])
    # points within half a millimetre of the box edge may fall either side once quantised
    near_edge = (
        np.minimum.reduce(
            [
                np.abs(src.x_raw - b[0]),
                np.abs(src.x_raw - b[2]),
                np.abs(src.y_raw - b[1]),
                np.abs(src.y_raw - b[3]),
            ]
        )
        <= 0.0005
    )
    assert set(ids) ^ set(np.flatnonzero(mask)) <= set(np.flatnonzero(near_edge))
    assert cloud.scales == (0.001, 0.001, 0.001)
    assert np.max(np.abs(cloud.x - src.x_raw[ids])) <= 0.0005 + 1e-9
    assert np.max(np.abs(cloud.y - src.y_raw[ids])) <= 0.0005 + 1e-9
    assert np.max(np.abs(cloud.z - src.z_raw[ids])) <= 0.0005 + 1e-9


@pytest.mark.parametrize("fmt", [7, 8])
def test_point_formats_7_and_8(tmp_path: Path, fmt: int) -> None:
    s = Source(seed=fmt, n=800)
    p = tmp_path / f"f{fmt}.copc.laz"
    fixture.write_copc(
        p,
        s.x_raw,
        s.y_raw,
        s.z_raw,
        scales=SCALES,
        offsets=OFFSETS,
        crs=CRS.from_epsg(32633),
        point_format=fmt,
        levels=2,
        intensity=s.intensity,
        classification=s.classification,
        gps_time=s.gps_time,
    )
    b = (X0 + 20.0, Y0 + 20.0, X0 + 80.0, Y0 + 60.0)
    cloud = read_copc(p, b)
    assert cloud.point_format == fmt and "red" in cloud.dims
    mask = (s.x >= b[0]) & (s.x <= b[2]) & (s.y >= b[1]) & (s.y <= b[3])
    _same_points(cloud, s, np.flatnonzero(mask))


def test_empty_upper_nodes(tmp_path: Path) -> None:
    # the spec allows entries with pointCount 0 (no points here, but children have some)
    s = Source(seed=3, n=1500)
    p = tmp_path / "sparse-top.copc.laz"
    layout = fixture.write_copc(
        p,
        s.x_raw,
        s.y_raw,
        s.z_raw,
        scales=SCALES,
        offsets=OFFSETS,
        crs=CRS.from_epsg(32633),
        levels=3,
        intensity=s.intensity,
        classification=s.classification,
        gps_time=s.gps_time,
        empty_levels=(0, 1),
    )
    assert {k[0] for k, n in layout.nodes.items() if n == 0} == {0, 1}
    assert {k[0] for k, n in layout.nodes.items() if n} == {2}
    b = (X0 + 30.0, Y0 + 10.0, X0 + 95.0, Y0 + 50.0)
    mask = (s.x >= b[0]) & (s.x <= b[2]) & (s.y >= b[1]) & (s.y <= b[3])
    _same_points(read_copc(p, b), s, np.flatnonzero(mask))
    _same_points(read_cloud(p), s, np.arange(len(s.x)))


def test_paged_hierarchy(tmp_path: Path, src: Source) -> None:
    p = tmp_path / "paged.copc.laz"
    layout = fixture.write_copc(
        p,
        src.x_raw,
        src.y_raw,
        src.z_raw,
        scales=SCALES,
        offsets=OFFSETS,
        crs=CRS.from_epsg(32633),
        levels=3,
        intensity=src.intensity,
        classification=src.classification,
        gps_time=src.gps_time,
        paged=True,
    )
    assert layout.child_pages >= 4
    with laspy.CopcReader.open(p) as r:
        refs = [e for e in r.root_page.entries.values() if e.point_count == -1]
    assert len(refs) == layout.child_pages
    b = (X0 + 5.0, Y0 + 50.0, X0 + 65.0, Y0 + 88.0)
    mask = (src.x >= b[0]) & (src.x <= b[2]) & (src.y >= b[1]) & (src.y <= b[3])
    _same_points(read_copc(p, b), src, np.flatnonzero(mask))
    # a child page said to lie past the end of the file: laspy would find an empty page (and
    # silently no points there); read_copc names the damage
    data = bytearray(p.read_bytes())
    root = data[layout.hierarchy_offset : layout.hierarchy_offset + layout.hierarchy_size]
    for i in range(0, len(root), 32):
        if struct.unpack_from("<i", root, i + 28)[0] == -1:
            struct.pack_into("<Q", data, layout.hierarchy_offset + i + 16, len(data) + 1000)
            break
    bad = tmp_path / "badpage.copc.laz"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=r"badpage\.copc\.laz"):
        read_copc(bad, (X0 - 1.0, Y0 - 1.0, X0 + 121.0, Y0 + 91.0))


def test_read_cloud_reads_whole_copc_file(copc: Any, src: Source) -> None:
    cloud = read_cloud(copc.path)
    assert len(cloud) == len(src.x)
    assert cloud.crs is not None and cloud.crs.to_epsg() == 32633
    assert cloud.scales == SCALES and cloud.point_format == 6
    _same_points(cloud, src, np.arange(len(src.x)))
    info = las_info(copc.path)
    assert info["point_count"] == len(src.x) and info["compressed"]
    assert info["vlrs"][0] == "CopcInfoVlr"
    assert np.allclose(info["offsets"], OFFSETS)


def test_chunks_outside_the_query_are_never_read(copc: Any, src: Source, tmp_path: Path) -> None:
    # wipe the LAZ chunk of a leaf far from the query: read_copc must not notice, a full read must
    path = copc.path
    with laspy.CopcReader.open(path) as r:
        entries = dict(r.root_page.entries)
    far = max(
        (e for e in entries.values() if e.key.level == 2 and e.point_count > 0),
        key=lambda e: (e.key.x, e.key.y),
    )
    data = bytearray(path.read_bytes())
    data[far.offset : far.offset + far.byte_size] = bytes(far.byte_size)
    p = tmp_path / "wiped.copc.laz"
    p.write_bytes(bytes(data))
    b = (X0, Y0, X0 + 15.0, Y0 + 15.0)
    mask = (src.x >= b[0]) & (src.x <= b[2]) & (src.y >= b[1]) & (src.y <= b[3])
    _same_points(read_copc(p, b), src, np.flatnonzero(mask))
    with pytest.raises(CorruptFileError, match=r"wiped\.copc\.laz.*damaged"):
        read_cloud(p)  # a sequential read decodes every chunk and trips over the wiped one


# --- bad input ---------------------------------------------------------------------------------


def test_plain_laz_is_not_copc(tmp_path: Path, src: Source) -> None:
    cloud = PointCloud(x=src.x, y=src.y, z=src.z, dims={}, crs=CRS.from_epsg(32633))
    p = write_cloud(cloud, tmp_path / "plain.laz")
    with pytest.raises(BadInputError, match=r"plain\.laz.*not a COPC file"):
        read_copc(p, (X0, Y0, X0 + 10, Y0 + 10))


def test_bad_bounds(copc: Any) -> None:
    with pytest.raises(BadInputError, match="min <= max"):
        read_copc(copc.path, (X0 + 10, Y0, X0, Y0 + 10))
    with pytest.raises(BadInputError, match="min <= max"):
        read_copc(copc.path, (X0, Y0, float("nan"), Y0 + 10))


def _cut(copc: Any, where: str) -> int:
    size = copc.path.stat().st_size
    return {
        "hierarchy": size - 40,  # inside the hierarchy EVLR
        "evlr-header": copc.hierarchy_offset - 20,
        "points": copc.point_data_offset + 1500,
        "vlrs": 500,  # inside the COPC info VLR
        "header": 200,
    }[where]


@pytest.mark.parametrize("where", ["hierarchy", "evlr-header", "points", "vlrs", "header"])
def test_truncated_copc_is_reported(copc: Any, tmp_path: Path, where: str) -> None:
    p = tmp_path / f"cut-{where}.copc.laz"
    p.write_bytes(copc.path.read_bytes()[: _cut(copc, where)])
    with pytest.raises(CorruptFileError, match=rf"cut-{where}\.copc\.laz.*truncated") as ei:
        read_copc(p, (X0, Y0, X0 + 120, Y0 + 90))
    assert ei.value.offset == p.stat().st_size
    with pytest.raises(CorruptFileError, match=rf"cut-{where}\.copc\.laz"):
        read_cloud(p)
    with pytest.raises(CorruptFileError, match=rf"cut-{where}\.copc\.laz"):
        las_info(p)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_info_on_copc(copc: Any, tmp_path: Path, src: Source) -> None:
    ok = _cli("lidar", "info", "--json", str(copc.path))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["point_count"] == len(src.x)
    p = tmp_path / "cut.copc.laz"
    p.write_bytes(copc.path.read_bytes()[: _cut(copc, "hierarchy")])
    r = _cli("lidar", "info", str(p))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert "cut.copc.laz" in lines[0] and "truncated" in lines[0]
    assert r.stdout == ""
