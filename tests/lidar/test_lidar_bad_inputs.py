"""LiDAR bad inputs through the real CLI: one ``error:`` line, the right exit code, data kept.

The same contract as tests/test_bad_inputs.py, for the cases an outside probe found: every case
runs ``python -m dronekit_plzen lidar ...`` as a subprocess (in the inputs folder, so ``./x``
paths work) on small synthetic files made here, and checks

* the exit code (2 bad input, 0 for the warning and success cases);
* exactly one ``error:`` line on stderr matching the case's pattern (none for exit 0), no
  ``Traceback``, no ``internal error``, no Python warning (``RuntimeWarning``);
* every input file byte-for-byte unchanged (SHA-256) and no file added to the inputs folder;
* no file left in the case's output folder, unless the case expects one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import laspy
import numpy as np
import pytest
import rasterio
from dkp_testkit import run_dkp
from pyproj import CRS
from rasterio.transform import from_origin

from lidar.io import write_cloud


@dataclass(frozen=True)
class Case:
    """argv (``{d}`` inputs folder, ``{o}`` a fresh output folder) and what must happen."""

    id: str
    argv: tuple[str, ...]
    code: int
    pattern: str  # the error line (exit != 0) or the one warning line (``warns``)
    creates: tuple[str, ...] = ()  # files the case does write (success cases)
    warns: bool = False  # exit 0 with exactly one WARNING line matching the pattern
    env: dict[str, str] = field(default_factory=dict)
    max_s: float | None = None
    fsize_kib: int | None = None  # a file size limit (``ulimit -f``): a disk that fills up


def _las(path: Path, x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None) -> None:
    header = laspy.LasHeader(point_format=1, version="1.2")
    header.scales = np.array([0.01, 0.01, 0.01])
    header.offsets = np.array([500_000.0, 4_500_000.0, 0.0])
    header.add_crs(CRS.from_epsg(26912))  # NAD83 / UTM zone 12N, as the probe's files
    rec = laspy.ScaleAwarePointRecord.zeros(len(x), header=header)
    rec.x, rec.y = x, y
    rec.z = 300.0 + np.sin(x) + np.cos(y) if z is None else z
    rec.return_number[:] = 1
    rec.number_of_returns[:] = 1
    rec.classification[:] = 2
    with laspy.open(str(path), mode="w", header=header) as w:
        w.write_points(rec)


def _tif(path: Path, a: np.ndarray, crs: str | None, *, geo: bool = False) -> None:
    t = from_origin(13.3, 49.7, 1e-4, 1e-4) if geo else from_origin(500_000, 4_500_100, 1, 1)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=a.shape[1],
        height=a.shape[0],
        count=1,
        dtype="float32",
        crs=crs,
        transform=t,
        nodata=None if np.isnan(a).all() else -9999.0,
    ) as dst:
        dst.write(a.astype(np.float32), 1)


def _patch(src: Path, dst: Path, fmt: str, offset: int, value: float) -> None:
    raw = bytearray(src.read_bytes())
    struct.pack_into(fmt, raw, offset, value)
    dst.write_bytes(bytes(raw))


def _empty_wkt(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    """A cloud whose only CRS record is a WKT record with no WKT in it (an empty quoted string)."""
    from laspy.vlrs.known import WktCoordinateSystemVlr

    header = laspy.LasHeader(point_format=1, version="1.2")
    header.scales = np.array([0.01, 0.01, 0.01])
    header.offsets = np.array([500_000.0, 4_500_000.0, 0.0])
    header.vlrs.append(WktCoordinateSystemVlr("''"))  # as warsaw_small.las: two apostrophes
    rec = laspy.ScaleAwarePointRecord.zeros(len(x), header=header)
    rec.x, rec.y, rec.z = x, y, 300.0 + np.sin(x)
    with laspy.open(str(path), mode="w", header=header) as w:
        w.write_points(rec)


def _pointwise(src: Path, dst: Path) -> None:
    """``src`` with its LASzip record's compressor set to 1 (point-wise, no chunks)."""
    raw = bytearray(src.read_bytes())
    header_size, _start, count = struct.unpack_from("<HII", raw, 94)
    pos = header_size
    for _i in range(count):
        user = bytes(raw[pos + 2 : pos + 18]).rstrip(b"\0")
        length = struct.unpack_from("<H", raw, pos + 20)[0]
        if user == b"laszip encoded":
            struct.pack_into("<H", raw, pos + 54, 1)
        pos += 54 + length
    dst.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every input of the table, made once (a 90 m cloud of 3000 points, rasters of 20 × 20)."""
    d = tmp_path_factory.mktemp("lidar_bad_inputs")
    rng = np.random.default_rng(5)
    n = 3000
    x, y = 500_000 + rng.uniform(0, 90, n), 4_500_000 + rng.uniform(0, 90, n)
    _las(d / "inp.las", x, y)
    las = laspy.read(str(d / "inp.las"))
    las.write(str(d / "inp.laz"))
    _las(
        d / "same_points.las", np.full(50, 500_010.0), np.full(50, 4_500_010.0), np.full(50, 300.0)
    )
    _las(d / "zero_points.las", np.zeros(0), np.zeros(0), np.zeros(0))
    m = 30_000  # one scan line: points 1 cm apart along x, all at one y
    _las(
        d / "scan_line.las",
        500_000 + np.arange(m) * 0.01,
        np.full(m, 4_500_000.0),
        300 + rng.uniform(0, 1, m),
    )
    _las(d / "flat.las", x, y, np.full(n, 300.5))
    (d / "link.las").symlink_to("inp.las")
    # the header's point count (LAS 1.2: offset 107) says 2**32 - 1
    _patch(d / "inp.las", d / "huge_count.las", "<I", 107, 4294967295)
    _patch(d / "inp.laz", d / "huge_count.laz", "<I", 107, 4294967295)
    _patch(d / "inp.las", d / "nan_bounds.las", "<d", 179, float("nan"))  # max X
    full = (d / "inp.las").read_bytes()
    (d / "cut.las").write_bytes(full[: len(full) * 2 // 3])
    # quirks of real files (PDAL's test data): a garbage VLR count (garbage_nVariableLength.las),
    # a VLR longer than the room before the points (bad_vlr_count.las), an empty WKT record
    # (warsaw_small.las), a sparse cloud over kilometres (simple.las), LASzip 1.x point-wise
    _patch(d / "inp.las", d / "garbage_nvlr.las", "<I", 100, 1_069_128_089)
    _patch(d / "inp.las", d / "long_vlr.las", "<H", 227 + 20, 60_000)
    _empty_wkt(d / "empty_wkt.las", x, y)
    # LAS 1.4 whose first EVLR lies at byte 2**64 - 1: beyond any offset a file can seek to
    h14 = laspy.LasHeader(point_format=6, version="1.4")
    h14.offsets, h14.scales = np.array([500_000.0, 4_500_000.0, 0.0]), np.full(3, 0.01)
    laspy.LasData(h14).write(str(d / "l14.las"))
    _patch(d / "l14.las", d / "evlr_far.las", "<Q", 235, 2**64 - 1)
    _patch(d / "evlr_far.las", d / "evlr_far.las", "<I", 243, 1)
    big = np.random.default_rng(6)
    _las(
        d / "sparse.las",
        500_000 + big.uniform(0, 4000, 1000),
        4_500_000 + big.uniform(0, 4000, 1000),
    )
    _las(d / "two.las", np.array([500_000.0, 500_050.0]), np.array([4_500_000.0, 4_500_050.0]))
    # one point 400,000 times (a broken conversion, a frozen position) half a metre over a
    # field of 100,000 points
    _las(
        d / "copies.las",
        np.concatenate([500_000 + big.uniform(0, 316, 100_000), np.full(400_000, 500_150.0)]),
        np.concatenate([4_500_000 + big.uniform(0, 316, 100_000), np.full(400_000, 4_500_150.0)]),
        np.concatenate([300 + big.normal(0, 0.05, 100_000), np.full(400_000, 300.5)]),
    )
    # a scanner left running on the take-off spot: 300,000 points in a ball of 30 cm beside
    # 100,000 over a field
    ball = big.normal(0.0, 0.3, (300_000, 3))
    _las(
        d / "crowd.las",
        np.concatenate([500_000 + big.uniform(0, 316, 100_000), 500_150 + ball[:, 0]]),
        np.concatenate([4_500_000 + big.uniform(0, 316, 100_000), 4_500_150 + ball[:, 1]]),
        np.concatenate([300 + big.normal(0, 0.05, 100_000), 300.5 + ball[:, 2]]),
    )
    _pointwise(d / "inp.laz", d / "pointwise.laz")
    # damaged scales and offsets (LAS 1.2: X/Y/Z scale at 131/139/147, X offset at 155)
    _patch(d / "inp.las", d / "scale_huge.las", "<d", 131, 1e300)
    _patch(d / "inp.laz", d / "scale_huge_z.laz", "<d", 147, 1e300)
    _patch(d / "inp.las", d / "scale_1e10.las", "<d", 139, 1e10)
    _patch(d / "inp.las", d / "scale_tiny.las", "<d", 131, 1e-300)
    _patch(d / "inp.las", d / "scale_zero_y.las", "<d", 139, 0.0)
    _patch(d / "inp.las", d / "scale_1e-9.las", "<d", 131, 1e-9)  # 90 m need 9e10 steps
    _patch(d / "inp.las", d / "offset_huge.las", "<d", 155, 1e300)
    _patch(d / "inp.las", d / "offset_far.las", "<d", 163, 5e9)  # Y: 4.5e6 is out of reach
    noise = laspy.read(str(d / "inp.las"))
    noise.classification[:] = 7  # every point noise: the ground filter leaves them so
    noise.write(str(d / "all_noise.las"))
    a = 300.0 + rng.uniform(0, 1, (20, 20))
    _tif(d / "d1.tif", a, "EPSG:26912")
    _tif(d / "d1b.tif", a + 1, "EPSG:26912")
    _tif(d / "allnodata.tif", np.full((20, 20), -9999.0), "EPSG:26912")
    _tif(d / "allnan.tif", np.full((20, 20), np.nan), "EPSG:26912")
    _tif(d / "crs5514.tif", a, "EPSG:5514")
    _tif(d / "geo_top.tif", a + 1, "EPSG:4326", geo=True)
    _tif(d / "geo_base.tif", a, "EPSG:4326", geo=True)
    (d / "p.json").write_text(
        json.dumps(["inp.las", {"type": "writers.las", "filename": "inp.las"}])
    )
    (d / "p2.json").write_text(
        json.dumps(
            [
                "inp.las",
                {"type": "writers.gdal", "filename": "same.tif", "product": "dsm"},
                {"type": "writers.gdal", "filename": "./same.tif", "product": "dtm"},
            ]
        )
    )
    (d / "vox.json").write_text(
        json.dumps(["inp.las", {"type": "filters.voxel", "cell": 1e308}, "v.las"])
    )
    (d / "scale.json").write_text(
        json.dumps(["inp.las", {"type": "writers.las", "filename": "s.las", "scale": 1e300}])
    )
    (d / "multi.json").write_text(
        json.dumps(
            [
                "inp.las",
                {"type": "filters.bogus"},
                {"type": "filters.voxel", "cell": -1},
                {"type": "writers.las", "filename": "/nonexistent-dir/v.las"},
            ]
        )
    )
    # pipelines whose options made a hang, gigabytes or an internal error (one stage each)
    for name, stage in (
        ("smrf_window_1e4", {"type": "filters.smrf", "window": 1e4}),
        ("smrf_window_1e308", {"type": "filters.smrf", "window": 1e308}),
        ("smrf_window_cells", {"type": "filters.smrf", "window": 100, "cell": 0.05}),
        ("smrf_grow_slope_negative", {"type": "filters.smrf", "grow_slope": -0.4}),
        ("classify_k0", {"type": "filters.classify", "k": 0}),
        ("classify_k1e9", {"type": "filters.classify", "k": 1_000_000_000}),
        ("hag_cell_1e308", {"type": "filters.hag", "cell": 1e308}),
        ("range_nan", {"type": "filters.range", "limits": "Z[nan:nan]"}),
        ("range_upside_down", {"type": "filters.range", "limits": "Z[10:5]"}),
        ("crop_empty", {"type": "filters.crop", "polygon": "POLYGON EMPTY"}),
        ("outlier_mean_k_5000", {"type": "filters.outlier", "mean_k": 5000}),
        ("outlier_min_k_1e5", {"type": "filters.outlier", "method": "radius", "min_k": 100_000}),
    ):
        (d / f"{name}.json").write_text(json.dumps(["inp.las", stage, "out.las"]))
    # PDAL's writers.gdal gridding options (the writer is stage 2; nothing may be written)
    refused = tmp_path_factory.mktemp("gdal_refused")
    for name, extra in (
        ("gdal_output_median", {"output_type": "min,median"}),
        ("gdal_product_and_output", {"product": "dsm", "output_type": "max"}),
        ("gdal_driver_png", {"gdaldriver": "PNG"}),
        ("gdal_data_type_cplx", {"data_type": "complex64"}),
        ("gdal_origin_alone", {"origin_x": 500_000.0}),
        ("gdal_gdalopts_bad", {"gdalopts": "COMPRESS"}),
        ("gdal_radius_zero", {"output_type": "idw", "radius": 0}),
        ("gdal_srs_unknown", {"override_srs": "EPSG:99999"}),
        ("gdal_dimension_missing", {"output_type": "mean", "dimension": "Reflectance"}),
        ("gdal_radius_huge", {"output_type": "idw", "radius": 1e6}),
        ("gdal_nodata_uint8", {"output_type": "count", "data_type": "uint8", "nodata": -1}),
        # session 43: GDAL creation options that are the writer's own settings (internal errors)
        ("gdal_opts_count", {"output_type": "all", "gdalopts": "count=1"}),
        ("gdal_opts_dtype", {"output_type": "min", "gdalopts": "dtype=uint8"}),
        ("gdal_opts_crs", {"output_type": "min", "gdalopts": "crs=EPSG:999999"}),
        ("gdal_opts_driver", {"output_type": "min", "gdalopts": "driver=PNG"}),
        (
            "gdal_opts_predictor",
            {"output_type": "count", "data_type": "int16", "gdalopts": "PREDICTOR=3"},
        ),
        ("gdal_nodata_f32_huge", {"output_type": "min", "data_type": "float32", "nodata": 1e308}),
        ("gdal_radius_1e308", {"output_type": "min", "radius": 1e308}),
    ):
        writer = {"type": "writers.gdal", "filename": str(refused / f"{name}.tif"), **extra}
        (d / f"{name}.json").write_text(json.dumps(["inp.las", writer]))
    # PDAL's writers.las options
    for name, extra in (
        ("las_where", {"where": "Classification == 2 &&"}),
        ("las_format_5", {"dataformat_id": 5}),
        ("las_laz_uncompressed", {"compression": "false"}),
        ("las_scale_text", {"scale_x": "fine"}),
        ("las_returns_legacy", {"dataformat_id": 0, "minor_version": 2}),
    ):
        writer = {"type": "writers.las", "filename": str(refused / f"{name}.laz"), **extra}
        (d / f"{name}.json").write_text(json.dumps(["returns9.las", writer]))
    # session 43: found from outside (a sweep of PDAL pipelines' options)
    (d / "laughs.yaml").write_text(
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "pipeline: [inp.las, {type: writers.gdal, filename: o.tif, output_type: [*b, *b]}]\n"
    )
    (d / "loop.yaml").write_text("pipeline: &p [inp.las, *p]\n")
    (d / "selfpipe.las").write_text(json.dumps(["inp.las", "selfpipe.las"]))
    (d / "blob.laz").write_bytes(b"not a point cloud, a VLR's payload")
    vlr_self = {"user_id": "a", "record_id": 1, "filename": "blob.laz"}
    (d / "vlr_self.json").write_text(
        json.dumps(["inp.las", {"type": "writers.las", "filename": "blob.laz", "vlrs": [vlr_self]}])
    )
    vlr_zero = {"user_id": "a", "record_id": 1, "filename": "/dev/zero"}
    evlr_no = {"user_id": "a", "record_id": 1, "data": "AAAA", "evlr": "no"}
    evlr_12 = {"user_id": "a", "record_id": 1, "data": "AAAA", "evlr": True}
    long_name = "x" * 300 + ".laz"
    for name, stages in (
        ("vlr_zero", [{"type": "writers.las", "filename": "v.laz", "vlrs": [vlr_zero]}]),
        ("evlr_no", [{"type": "writers.las", "filename": "v.laz", "vlrs": [evlr_no]}]),
        (
            "evlr_las12",
            [{"type": "writers.las", "filename": "v.laz", "minor_version": 2, "vlrs": [evlr_12]}],
        ),
        ("ferry_x_intensity", [{"type": "filters.ferry", "dimensions": "X=>Intensity"}, "v.las"]),
        ("assign_70000", [{"type": "filters.assign", "value": "Intensity = 70000"}, "v.las"]),
        ("assign_userdata", [{"type": "filters.assign", "assignment": "UserData[:]=300"}, "v.las"]),
        ("elm_cell_tiny", [{"type": "filters.elm", "cell": 1e-300}, "v.las"]),
        ("csf_step_tiny", [{"type": "filters.csf", "step": 0.02}, "v.las"]),
        ("smrf_cell_tiny", [{"type": "filters.smrf", "cell": 1e-300, "window": 1e-300}, "v.las"]),
        (
            "crop_overflow",
            [
                {"type": "filters.crop", "polygon": "POLYGON((0 0,1e308 0,1e308 1e308,0 0))"},
                "o.las",
            ],
        ),
        (
            "crop_nan",
            [{"type": "filters.crop", "polygon": "POLYGON((0 0,nan 1,1 1,0 0))"}, "o.las"],
        ),
        ("voxel_cell_true", [{"type": "filters.voxel", "cell": True}, "v.las"]),
        (
            "expression_deep",
            [{"type": "filters.expression", "expression": "(" * 300 + "Z>1" + ")" * 300}, "v.las"],
        ),
        ("writer_name_long", [long_name]),
    ):
        (d / f"{name}.json").write_text(json.dumps(["inp.las", *stages]))
    (d / "reader_name_long.json").write_text(json.dumps([long_name, "v.las"]))
    for name, stage in (
        ("decimation_step_huge", {"type": "filters.decimation", "step": 2**63}),
        ("decimation_offset_huge", {"type": "filters.decimation", "offset": 10**30}),
    ):
        out = str(tmp_path_factory.mktemp("decimated") / f"{name}.las")
        (d / f"{name}.json").write_text(json.dumps(["inp.las", stage, out]))
    r9 = laspy.LasHeader(point_format=6, version="1.4")
    r9.offsets, r9.scales = np.array([500_000.0, 4_500_000.0, 0.0]), np.full(3, 0.01)
    nine = laspy.LasData(r9)
    nine.x, nine.y, nine.z = x[:100], y[:100], np.full(100, 300.0)
    nine.return_number = np.full(100, 9, np.uint8)
    nine.number_of_returns = np.full(100, 9, np.uint8)
    nine.write(str(d / "returns9.las"))
    # the radius outlier filter counted every point within its radius: every pair of the
    # copies (and of the whole cloud for a radius of a kilometre)
    written = tmp_path_factory.mktemp("pipeline_out")  # not among the inputs
    for name, radius in (("radius_copies", 1.0), ("radius_1km", 1000.0)):
        stage = {"type": "filters.outlier", "method": "radius", "radius": radius}
        out = str(written / f"{name}.las")
        (d / f"{name}.json").write_text(json.dumps(["copies.las", stage, out]))
    (d / "chunk0.json").write_text(
        json.dumps([{"type": "readers.las", "filename": "inp.las", "chunk_size": 0}, "out.las"])
    )
    # a sparse 200,000 × 200,000 GeoTIFF of a few kB: reading it needed 149 GiB
    with rasterio.open(
        d / "huge.tif",
        "w",
        driver="GTiff",
        width=200_000,
        height=200_000,
        count=1,
        dtype="float32",
        crs="EPSG:26912",
        transform=from_origin(500_000, 4_500_100, 1, 1),
        tiled=True,
        blockxsize=2048,
        blockysize=2048,
        compress="deflate",
        sparse_ok=True,
    ) as dst:
        dst.write(np.ones((1, 256, 256), np.float32), window=((0, 256), (0, 256)))
    _tif(d / "fill_1e38.tif", np.full((20, 20), 1e38), "EPSG:26912")  # no nodata tag
    _tif(d / "d1_nocrs.tif", a + 1, None)
    # damaged header fields: point format (byte 104), version minor (25), min X (187)
    _patch(d / "inp.las", d / "format_99.las", "<B", 104, 99)
    _patch(d / "inp.las", d / "version_1_9.las", "<B", 25, 9)
    _patch(d / "inp.las", d / "min_x_1e9.las", "<d", 187, 1e9)
    return d


L = ("lidar",)
IN_OUT = ("{d}/inp.las", "-o", "{o}/x.tif")
CONTOURS = ("{d}/inp.las", "-o", "{o}/c.geojson", "--product", "contours")
GDAL2 = r"invalid pipeline: stage 2 \(writers\.gdal\): "
SAME_AS_INPUT = r"^error: .*inp\.las: the output is the input file .*inp\.las \(-o\)"

CASES = [
    # ---- 0. quirks of real files (PDAL's test data) ------------------------------------------
    *[
        Case(
            f"{cmd}-garbage-vlr-count",
            (*L, cmd, "{d}/garbage_nvlr.las", *extra),
            2,
            r"^error: .*garbage_nvlr\.las.*: the header counts 1,069,128,089 VLRs, but only "
            r"\d+ bytes lie between the header and the point data$",
            max_s=30,
        )
        for cmd, extra in (("info", ()), ("ground", ("-o", "{o}/g.las")))
    ],
    Case(  # was a traceback: "cannot fit 'int' into an offset-sized integer" from seek
        "info-evlr-offset-beyond-any-file",
        (*L, "info", "{d}/evlr_far.las"),
        2,
        r"^error: .*evlr_far\.las.*: not a readable LAS/LAZ file: the header's record offsets "
        r"are invalid$",
    ),
    Case(
        "info-vlr-into-points",
        (*L, "info", "{d}/long_vlr.las"),
        2,
        r"^error: .*long_vlr\.las.*: VLR 1 of \d runs into the point data \(byte \d+\)$",
    ),
    Case(  # found from outside: both were dropped without a word
        "raster-intensity-with-contour-options",
        (
            *L,
            "raster",
            *IN_OUT,
            "--product",
            "intensity",
            "--interval",
            "5",
            "--ground-method",
            "csf",
        ),
        2,
        r"^error: --interval, --ground-method: not used by --product intensity$",
    ),
    Case(  # found from outside: the cell asked for was dropped without a word
        "ground-resolution-without-a-raster",
        (*L, "ground", "{d}/inp.las", "-o", "{o}/g.las", "--resolution", "0.5"),
        2,
        r"^error: --resolution is the cell of --dtm, --dsm and --chm: give one of them$",
    ),
    Case(
        "ground-empty-wkt-is-no-crs",
        (*L, "ground", "{d}/empty_wkt.las", "-o", "{o}/g.las"),
        0,
        r"empty_wkt\.las: the header's CRS record is empty; the file has no CRS$",
        creates=("g.las",),
        warns=True,
    ),
    Case(
        "ground-sparse-cloud",
        (*L, "ground", "{d}/sparse.las", "-o", "{o}/g.las", "--dtm", "{o}/d.tif"),
        0,
        r"a sparse cloud \(9\d\d points, about 1\d\d units apart\): the ground filter's "
        r"grid has cells of \d\d\.?\d* instead of 1$",
        creates=("g.las", "d.tif"),
        warns=True,
        max_s=90,
    ),
    Case(  # the outlier filter's and the raised islands' neighbour searches took all pairs
        # of the copies: 200,000 of them ran for 3 minutes (now seconds); the clean-up's
        # planes, for copies over the ground, too (400,000: minutes)
        "ground-copies-of-one-point",
        (*L, "ground", "{d}/copies.las", "-o", "{o}/g.las"),
        0,
        "",
        creates=("g.las",),
        max_s=60,
    ),
    Case(  # the outlier filter's and the clean-up's neighbour searches read the whole crowd
        # for each of its points: 276 s (now a few seconds)
        "ground-crowd-of-points",
        (*L, "ground", "{d}/crowd.las", "-o", "{o}/g.las"),
        0,
        "",
        creates=("g.las",),
        max_s=60,
    ),
    Case(
        "ground-two-points-no-ground",
        (*L, "ground", "{d}/two.las", "-o", "{o}/g.las", "--dtm", "{o}/d.tif"),
        2,
        r"^error: .*two\.las.*: no ground points \(class 2\) among 2 points: a ground filter "
        r"\(filters\.smrf, filters\.csf\) has not run or found none",
        # the classified cloud was left written when the DTM stage failed; now the pipeline's
        # outputs are put in place together or not at all
    ),
    Case(
        "ground-laz-pointwise",
        (*L, "ground", "{d}/pointwise.laz", "-o", "{o}/g.las"),
        2,
        r"^error: .*pointwise\.laz.*: LAZ compressed point-wise without chunks \(LASzip 1\.x, "
        r"compressor 1\) cannot be read here",
    ),
    Case(  # found from outside: minutes (the noise filter's k-NN ring search, a nil area)
        "dsm-scan-line",
        (*L, "dsm", "{d}/scan_line.las", "-o", "{o}/d.tif"),
        0,
        "",
        creates=("d.tif",),
        max_s=30,
    ),
    # ---- 1. an output that is an input, two outputs that are one file -------------------
    *[
        Case(f"{cmd}-o-input", (*L, cmd, "{d}/inp.las", "-o", "{d}/inp.las"), 2, SAME_AS_INPUT)
        for cmd in ("ground", "classify", "hag", "thin")
    ],
    Case(
        "reproject-o-input",
        (*L, "reproject", "{d}/inp.las", "-o", "{d}/inp.las", "--to", "EPSG:32612"),
        2,
        SAME_AS_INPUT,
    ),
    Case(
        "reproject-o-dot-input",
        (*L, "reproject", "inp.las", "-o", "./inp.las", "--to", "EPSG:32612"),
        2,
        r"^error: \./inp\.las: the output is the input file inp\.las \(-o\)",
    ),
    Case(
        "reproject-o-symlink-to-input",
        (*L, "reproject", "{d}/inp.las", "-o", "{d}/link.las", "--to", "EPSG:32612"),
        2,
        r"^error: .*link\.las: the output is the input file .*inp\.las \(-o\)",
    ),
    Case(
        "diff-o-input",
        (*L, "diff", "{d}/d1.tif", "{d}/d1b.tif", "-o", "{d}/d1.tif"),
        2,
        r"^error: .*d1\.tif: the output is the input file .*d1\.tif \(-o\)",
    ),
    Case(
        "diff-o-second-input",
        (*L, "diff", "{d}/d1.tif", "{d}/d1b.tif", "-o", "d1b.tif"),
        2,
        r"^error: d1b\.tif: the output is the input file .*d1b\.tif \(-o\)",
    ),
    Case(
        "pipeline-writer-is-reader",
        (*L, "pipeline", "{d}/p.json"),
        2,
        r"^error: invalid pipeline: .*inp\.las: the output is the input file .*inp\.las "
        r"\(stage 2 \(writers\.las\)\)",
    ),
    Case(
        "pipeline-two-writers-one-file",
        (*L, "pipeline", "{d}/p2.json"),
        2,
        r"^error: invalid pipeline: .*same\.tif: stage 2 \(writers\.gdal\) and stage 3 "
        r"\(writers\.gdal\) name the same file",
    ),
    Case(
        "ground-dtm-dsm-same-file",
        (
            *L,
            "ground",
            "{d}/inp.las",
            "-o",
            "{o}/g.las",
            "--dtm",
            "{o}/a.tif",
            "--dsm",
            "{o}/a.tif",
        ),
        2,
        r"^error: .*a\.tif: --dtm and --dsm name the same file: one output would overwrite",
    ),
    # ---- 3. a header that claims more points than the file holds -----------------------
    Case(
        "dtm-huge-count",
        (*L, "dtm", "{d}/huge_count.las", "-o", "{o}/h.tif"),
        2,
        r"^error: .*huge_count\.las: truncated or damaged: the header says 4,294,967,295 "
        r"points, the file holds at most 3,000$",
        max_s=30.0,
    ),
    Case(
        "products-huge-count",
        (*L, "products", "{d}/huge_count.las", "-o", "{o}/p"),
        2,
        r"huge_count\.las: truncated or damaged: the header says 4,294,967,295 points",
        max_s=30.0,
    ),
    Case(
        "dtm-huge-count-laz",
        (*L, "dtm", "{d}/huge_count.laz", "-o", "{o}/h.tif"),
        2,
        r"huge_count\.laz: truncated or damaged: the header says 4,294,967,295 points, the "
        r"file holds at most 50,000$",
        max_s=30.0,
    ),
    Case(
        "dsm-cut-las",
        (*L, "dsm", "{d}/cut.las", "-o", "{o}/d.tif"),
        2,
        r"cut\.las: truncated or damaged: the header says 3,000 points, the file holds at most",
    ),
    Case(
        "info-huge-count-warns",
        (*L, "info", "{d}/huge_count.las"),
        0,
        r"^WARNING .*huge_count\.las: truncated or damaged: the header says 4,294,967,295",
        warns=True,
    ),
    Case(
        "info-nan-bounds-warns",
        (*L, "info", "{d}/nan_bounds.las"),
        0,
        r"^WARNING .*nan_bounds\.las: the header's bounds are not finite numbers$",
        warns=True,
    ),
    # ---- 4. resolutions and memory budgets that overflow -------------------------------
    Case(
        "dtm-resolution-1e-300",
        (*L, "dtm", "{d}/inp.las", "-o", "{o}/x.tif", "--resolution", "1e-300"),
        2,
        r"^error: .*inp\.las: the grid is too large: the points span 90 m × 90 m, at 1e-300 m "
        r"per cell .* (over the budget of|this machine has available)",  # as memory is now
    ),
    Case(
        "dtm-budget-1e308",
        (*L, "dtm", "{d}/inp.las", "-o", "{o}/x.tif", "--memory-budget", "1e308"),
        0,
        "",
        creates=("x.tif",),
    ),
    Case(
        "dtm-budget-env-1e308",
        (*L, "dtm", "{d}/inp.las", "-o", "{o}/x.tif"),
        0,
        "",
        creates=("x.tif",),
        env={"DKP_LIDAR_MEMORY_MB": "1e308"},
    ),
    Case(
        "dtm-budget-above-ram",
        (*L, "dtm", *IN_OUT, "--memory-budget", "1e9", "--resolution", "0.001"),
        2,
        r"^error: .*inp\.las: the grid is too large: .* cells needing about [\d.]+ TiB of "
        r"memory, more than the [\d.]+ [KMGT]iB this machine has available",
        max_s=30.0,
    ),
    # ---- 5. a cell as large as the cloud -------------------------------------------------
    *[
        Case(
            f"{cmd}-resolution-{res}",
            (*L, cmd, "{d}/inp.las", "-o", "{o}/x.tif", "--resolution", res),
            2,
            rf"^error: .*inp\.las: --resolution {re.escape(f'{float(res):g}')} m is too coarse "
            r"for the cloud's extent of \d\d\.\d\d m × \d\d\.\d\d m: the raster would have \d × \d "
            r"cells, at least 2 × 2",
        )
        for cmd, res in (("dtm", "1e308"), ("dtm", "1e9"), ("dsm", "1e308"))
    ],
    # ---- 6. a cloud on one spot; products leave nothing behind ---------------------------
    Case(
        "products-resolution-1e9",
        (*L, "products", "{d}/inp.las", "-o", "{o}/outp", "--resolution", "1e9"),
        2,
        r"inp\.las: --resolution 1e\+09 m is too coarse",
    ),
    Case(
        "products-same-points",
        (*L, "products", "{d}/same_points.las", "-o", "{o}/outp"),
        2,
        r"same_points\.las: all points lie at one spot \(500010\.000, 4500010\.000\): the "
        r"cloud has no extent",
    ),
    Case(
        "raster-hillshade-same-points",
        (*L, "raster", "{d}/same_points.las", "-o", "{o}/h.tif", "--product", "hillshade"),
        2,
        r"same_points\.las: all points lie at one spot",
    ),
    # ---- 7. contour intervals ------------------------------------------------------------
    *[
        Case(
            f"contours-interval-{iv}",
            (*L, "raster", *CONTOURS, f"--interval={iv}"),
            2,
            rf"^error: --interval {re.escape(f'{float(iv):g}')} m gives [\d,]+ contour levels "
            r"over the heights [\d.]+ to [\d.]+ m, more than 1,000; use an --interval of at "
            r"least [\d.]+ m$",
            max_s=30.0,
        )
        for iv in ("1e-9", "1e-6", "1e-4")
    ],
    Case(
        "contours-flat-warns",
        (*L, "raster", "{d}/flat.las", "-o", "{o}/c.geojson", "--product", "contours"),
        0,
        r"^WARNING .*no contour lines in .*c\.geojson: the heights cross no multiple of 1 m$",
        warns=True,
        creates=("c.geojson",),
    ),
    # ---- 8. rasters with no common data, another CRS, degrees ---------------------------
    *[
        Case(
            f"diff-{name}",
            (*L, "diff", f"{{d}}/{name}.tif", "{d}/d1.tif", "-o", "{o}/x.tif"),
            2,
            rf"^error: the two rasters share no cells with data: .*{name}\.tif and .*d1\.tif$",
        )
        for name in ("allnodata", "allnan")
    ],
    Case(
        "volume-allnodata",
        (*L, "volume", "{d}/allnodata.tif", "{d}/d1.tif"),
        2,
        r"^error: the two rasters share no cells with data",
    ),
    Case(
        "diff-other-crs",
        (*L, "diff", "{d}/crs5514.tif", "{d}/d1.tif", "-o", "{o}/x.tif"),
        2,
        r"^error: rasters are in different CRSs: .*crs5514\.tif is in S-JTSK / Krovak East "
        r"North, .*d1\.tif in NAD83 / UTM zone 12N$",
    ),
    Case(
        "volume-other-crs",
        (*L, "volume", "{d}/crs5514.tif", "{d}/d1.tif"),
        2,
        r"^error: rasters are in different CRSs: .*crs5514\.tif is in S-JTSK",
    ),
    Case(
        "volume-degrees",
        (*L, "volume", "{d}/geo_top.tif", "{d}/geo_base.tif"),
        2,
        r"^error: .*geo_top\.tif: the raster is in degrees \(WGS 84\): reproject it to a "
        r"metric CRS",
    ),
    # ---- 9. lesser: no points, one-line pipelines, absurd voxels, tile options ---------
    *[
        Case(
            f"{cmd}-zero-points",
            (*L, cmd, "{d}/zero_points.las", "-o", *out),
            2,
            r"^error: .*zero_points\.las: the point cloud is empty$",
        )
        for cmd, out in (
            ("dtm", ("{o}/z.tif",)),
            ("classify", ("{o}/z.las",)),
            ("products", ("{o}/zp",)),
            ("reproject", ("{o}/z.las", "--to", "EPSG:4326")),
        )
    ],
    Case(
        "pipeline-errors-one-line",
        (*L, "pipeline", "{d}/multi.json"),
        2,
        r"^error: invalid pipeline: stage 2: unknown stage type 'filters\.bogus' .*; stage 3 "
        r"\(filters\.voxel\): cell must be positive; stage 4 \(writers\.las\): cannot write "
        r"/nonexistent-dir/v\.las",
    ),
    Case(
        "pipeline-voxel-1e308",
        (*L, "pipeline", "{d}/vox.json"),
        2,
        r"^error: invalid pipeline: stage 2 \(filters\.voxel\): cell must be at most "
        r"1,000,000 m, got 1e\+308$",
    ),
    *[
        Case(
            f"tile-workers-{w}",
            (*L, "tile", "{d}/inp.las", "-o", "{o}/tiles", "--workers", w),
            2,
            rf"^error: --workers must be at least 1, got {w}$",
        )
        for w in ("0", "-1")
    ],
    Case(  # an internal error (OverflowError: Python int too large to convert to C int)
        "tile-workers-2**63",
        (*L, "tile", "{d}/inp.las", "-o", "{o}/tiles", "--workers", "9223372036854775808"),
        2,
        r"^error: --workers must be at most 256, got 9223372036854775808$",
    ),
    Case(  # the voxel indices overflowed: 4 of 110,000 points kept, exit 0
        "thin-voxel-1e-300",
        (*L, "thin", "{d}/inp.las", "-o", "{o}/t.las", "--voxel", "1e-300"),
        2,
        r"^error: .*inp\.las: voxel size 1e-300 \(in the CRS's units\) is far below the "
        r"cloud's precision",
    ),
    Case(
        "tile-buffer-1e9",
        (*L, "tile", "{d}/inp.las", "-o", "{o}/tiles", "--buffer", "1e9"),
        2,
        r"^error: --buffer 1e\+09 m is larger than --tile-size 250 m",
    ),
    # ---- 10. header scales and offsets that cannot give real coordinates -----------------
    # 1e300 overflowed every X to infinity (a grid of "inf PiB", a numpy RuntimeWarning, or a
    # written cloud of nonsense); 1e-300 put every point on the offset; a Z scale of 1e300 in a
    # LAZ gave a DTM of heights 1e302 m, exit 0
    *[
        Case(
            f"{cmd}-scale-{name}",
            (*L, cmd, f"{{d}}/{name}", *extra),
            2,
            rf"^error: .*{re.escape(name)}: the header's {axis} scale is {shown}: it must lie "
            r"between 1e-10 and 1000 \(0\.01 and 0\.001 are usual\)$",
        )
        for name, axis, shown in (
            ("scale_huge.las", "X", r"1e\+300"),
            ("scale_huge_z.laz", "Z", r"1e\+300"),
            ("scale_1e10.las", "Y", r"1e\+10"),
            ("scale_tiny.las", "X", "1e-300"),
        )
        for cmd, extra in (
            ("info", ()),
            ("dtm", ("-o", "{o}/d.tif")),
            ("ground", ("-o", "{o}/g.las")),
            ("thin", ("-o", "{o}/t.las", "--voxel", "1")),
        )
    ],
    Case(
        "dsm-scale-zero",
        (*L, "dsm", "{d}/scale_zero_y.las", "-o", "{o}/d.tif"),
        2,
        r"^error: .*scale_zero_y\.las: the header's Y scale is 0\.0: it must be a positive",
    ),
    Case(
        "ground-offset-1e300",
        (*L, "ground", "{d}/offset_huge.las", "-o", "{o}/g.las"),
        2,
        r"^error: .*offset_huge\.las: the header's X offset is 1e\+300: no coordinate reference "
        r"system has coordinates that far from 0 \(at most 1e\+10\)$",
    ),
    Case(
        "dtm-scale-cannot-reach-bounds",
        (*L, "dtm", "{d}/scale_1e-9.las", "-o", "{o}/d.tif"),
        2,
        r"^error: .*scale_1e-9\.las: the header's X scale 1e-09 and offset 500000 give "
        r"coordinates 499997\.8525 to 500002\.1475 only, not its X bounds 500000 to "
        r"5000[89]\d(\.\d+)?: the scale or the offset is damaged$",
    ),
    Case(
        "info-offset-cannot-reach-bounds",
        (*L, "info", "{d}/offset_far.las"),
        2,
        r"^error: .*offset_far\.las: the header's Y scale 0\.01 and offset 5e\+09 give "
        r"coordinates 4978525164 to 5021474836 only, not its Y bounds 4500000\.\d+ to "
        r"4500089\.\d+: the scale or the offset is damaged$",
    ),
    Case(
        "pipeline-writer-scale-1e300",
        (*L, "pipeline", "{d}/scale.json"),
        2,
        r"^error: invalid pipeline: stage 2 \(writers\.las\): scale is 1e\+300: it must lie "
        r"between 1e-10 and 1000",
    ),
    # ---- 11. ground on no points, or finding none ---------------------------------------
    # a cloud of no points was written back empty with exit 0 (ground, thin), while dtm,
    # classify and the streamed commands refused it
    *[
        Case(
            f"{cmd}-zero-points{tag}",
            (*L, cmd, "{d}/zero_points.las", "-o", *out),
            2,
            r"^error: .*zero_points\.las: the point cloud is empty$",
        )
        for cmd, tag, out in (
            ("ground", "", ("{o}/z.las",)),
            ("ground", "-with-dtm", ("{o}/z.las", "--dtm", "{o}/z.tif")),
            ("thin", "", ("{o}/z.las", "--voxel", "1")),
        )
    ],
    # the cloud is written (every point keeps its class, as PDAL writes it), but no longer
    # silently: the ground filter found nothing, and a DTM of it is refused
    Case(
        "ground-all-noise-warns",
        (*L, "ground", "{d}/all_noise.las", "-o", "{o}/g.las"),
        0,
        r"^WARNING .*g\.las: the ground filter found no ground \(class 2\) among 3,000 points "
        r"\(3,000 of them noise, class 7\): a DTM cannot be made from this cloud$",
        creates=("g.las",),
        warns=True,
    ),
    Case(
        "ground-two-points-warns",
        (*L, "ground", "{d}/two.las", "-o", "{o}/g.las"),
        0,
        r"^WARNING .*g\.las: the ground filter found no ground \(class 2\) among 2 points",
        creates=("g.las",),
        warns=True,
    ),
    Case(
        "dtm-all-noise",
        (*L, "dtm", "{d}/all_noise.las", "-o", "{o}/d.tif"),
        2,
        r"^error: .*all_noise\.las: no ground points \(class 2\) among 3,000 points",
    ),
    # ---- 12. pipeline options out of range (a hang, gigabytes, internal errors, 0 points) --
    *[
        Case(
            f"pipeline-{name}",
            (*L, "pipeline", f"{{d}}/{name}.json"),
            2,
            rf"^error: invalid pipeline: stage {stage} \({typ}\): {why}$",
            max_s=30,
        )
        for name, stage, typ, why in (
            ("smrf_window_1e4", 2, r"filters\.smrf", r"window must be at most 500 m, got 10000"),
            (
                "smrf_window_1e308",
                2,
                r"filters\.smrf",
                r"window must be at most 500 m, got 1e\+308",
            ),
            (
                "smrf_window_cells",
                2,
                r"filters\.smrf",
                r"window 100 m is 2,000 cells of 0\.05 m: at most 1,000 .*",
            ),
            (
                "smrf_grow_slope_negative",
                2,
                r"filters\.smrf",
                r"cell, window and threshold must be positive; slope, grow_slope and cut not "
                r"negative",
            ),
            (
                "classify_k0",
                2,
                r"filters\.classify",
                r"k must be between 3 and 100 neighbours, got 0",
            ),
            (
                "classify_k1e9",
                2,
                r"filters\.classify",
                r"k must be between 3 and 100 neighbours, got 1,000,000,000",
            ),
            (
                "hag_cell_1e308",
                2,
                r"filters\.hag",
                r"cell must be at most 1,000,000 m, got 1e\+308",
            ),
            (
                "chunk0",
                1,
                r"readers\.las",
                r"chunk_size must be between 1,000 and 100,000,000 points, got 0",
            ),
            ("range_nan", 2, r"filters\.range", r"bad range 'Z\[nan:nan\]': a limit is NaN"),
            (  # kept no point, silently (PDAL too)
                "range_upside_down",
                2,
                r"filters\.range",
                r"bad range 'Z\[10:5\]': its lower limit is above its upper one: no value fits",
            ),
            (
                "crop_empty",
                2,
                r"filters\.crop",
                r"crop polygon is empty \(it encloses no area\)",
            ),
            (
                "outlier_mean_k_5000",
                2,
                r"filters\.outlier",
                r"mean_k and min_k must be at most 100, got 5,000: every point's 5,000 nearest "
                r"neighbours cost time as their square",
            ),
            (
                "outlier_min_k_1e5",
                2,
                r"filters\.outlier",
                r"mean_k and min_k must be at most 100, got 100,000: every point's 100,000 "
                r"nearest neighbours cost time as their square",
            ),
        )
    ],
    *[
        Case(
            f"pipeline-{name}",
            (*L, "pipeline", f"{{d}}/{name}.json"),
            2,
            rf"^error: {why}$",
        )
        for name, why in (
            (
                "gdal_output_median",
                r"invalid pipeline: stage 2 \(writers\.gdal\): output_type 'median' is not one "
                r"of min, max, mean, idw, count, stdev, all",
            ),
            (
                "gdal_product_and_output",
                r"invalid pipeline: stage 2 \(writers\.gdal\): product 'dsm' and PDAL's gridding "
                r"\(output_type\) are two ways to make the raster: give one",
            ),
            (
                "gdal_driver_png",
                r"invalid pipeline: stage 2 \(writers\.gdal\): gdaldriver 'PNG': only GTiff "
                r"\(GeoTIFF\) is written",
            ),
            (
                "gdal_data_type_cplx",
                r"invalid pipeline: stage 2 \(writers\.gdal\): data_type 'complex64' is not one "
                r"of double, .*",
            ),
            (
                "gdal_origin_alone",
                r"invalid pipeline: stage 2 \(writers\.gdal\): give all or none of origin_x, "
                r"origin_y, width and height",
            ),
            (
                "gdal_gdalopts_bad",
                r"invalid pipeline: stage 2 \(writers\.gdal\): 'COMPRESS' is not NAME=VALUE "
                r"\(gdalopts and metadata are NAME=VALUE,…\)",
            ),
            (
                "gdal_radius_zero",
                r"invalid pipeline: stage 2 \(writers\.gdal\): radius must be positive",
            ),
            (
                "gdal_srs_unknown",
                r"invalid pipeline: stage 2 \(writers\.gdal\): override_srs: unknown CRS "
                r"'EPSG:99999'",
            ),
            (  # at run time: the dimensions are the cloud's
                "gdal_dimension_missing",
                r".*inp\.las: the cloud has no dimension 'Reflectance'",
            ),
            (
                "las_where",
                r"invalid pipeline: stage 2 \(writers\.las\): expression 'Classification == 2 "
                r"&&': a value is missing at character 23",
            ),
            (
                "las_format_5",
                r"invalid pipeline: stage 2 \(writers\.las\): dataformat_id 5: point formats "
                r"0–3 and 6–8 are written \(4, 5, 9 and 10 carry waveforms\)",
            ),
            (
                "las_laz_uncompressed",
                r"invalid pipeline: stage 2 \(writers\.las\): compression is false but the file "
                r"is named \.laz",
            ),
            (
                "las_scale_text",
                r"invalid pipeline: stage 2 \(writers\.las\): scale_x must be a number or auto, "
                r"got 'fine'",
            ),
            (  # named before writing (laspy would raise OverflowError mid-write)
                "las_returns_legacy",
                r".*returns9\.las: 100 points have return numbers above 7, which point format 0 "
                r"cannot hold: give discard_high_return_numbers, or dataformat_id 6 or higher",
            ),
            (
                "gdal_nodata_uint8",
                r"invalid pipeline: stage 2 \(writers\.gdal\): nodata -1 does not fit data_type "
                r"uint8",
            ),
            (  # a radius of a million metres at 1 m cells: every point visits 4e12 cells
                "gdal_radius_huge",
                r"a radius of 1e\+06 reaches [\d,]+ cells around each of 3,000 points: give a "
                r"smaller radius or a coarser resolution",
            ),
            *[
                (f"gdal_opts_{key}", rf"{GDAL2}gdalopts '{key}' is not .*: give {instead} instead$")
                for key, instead in (
                    ("count", "output_type"),
                    ("dtype", "data_type"),
                    ("crs", "override_srs or default_srs"),
                    ("driver", "gdaldriver"),
                )
            ],
            (  # GDAL's refusal had been "disk full?" (exit 1)
                "gdal_opts_predictor",
                rf"{GDAL2}gdalopts PREDICTOR=3: GDAL cannot write int16 bands with them: "
                r"PREDICTOR=3 is only supported with Float32 or Float64\.",
            ),
            ("gdal_nodata_f32_huge", rf"{GDAL2}nodata 1e\+308 does not fit data_type float32$"),
            (  # its cell count had 33 digits
                "gdal_radius_1e308",
                r"a radius of 1e\+308 reaches 3\.25e\+32 cells around each of 3,000 points: give a "
                r"smaller radius or a coarser resolution",
            ),
        )
    ],
    *[
        Case(  # 500,000 points, 400,000 of them copies of one: minutes (now seconds)
            f"pipeline-{name}",
            (*L, "pipeline", f"{{d}}/{name}.json"),
            0,
            "",
            max_s=60,
        )
        for name in ("radius_copies", "radius_1km")
    ],
    # ---- 12b. pipelines found from outside in session 43 (tracebacks, 6 GB, a hang, exit 0
    # with the pipeline file or a VLR's source overwritten, wrapped values, cleared classes)
    *[
        Case(f"pipeline-{name}", (*L, "pipeline", f"{{d}}/{name}.{ext}"), 2, why, max_s=60)
        for name, ext, why in (
            (
                "laughs",
                "yaml",
                r"laughs\.yaml: pipeline is not valid JSON/YAML: YAML aliases \(\*name\) are "
                r"not read \(line 2, column 8\)$",
            ),
            ("loop", "yaml", r"loop\.yaml: .*YAML aliases \(\*name\) are not read"),
            (
                "selfpipe",
                "las",
                r"the output is the input file .*selfpipe\.las \(stage 2 \(writers\.las\)\)",
            ),
            ("vlr_self", "json", r"the output is the input file .*blob\.laz"),
            (
                "vlr_zero",
                "json",
                r"stage 2 \(writers\.las\): cannot read vlrs\[0\]: not a regular file: "
                r"/dev/zero$",
            ),
            ("evlr_no", "json", r"vlrs\[0\]: evlr must be true or false, got 'no'$"),
            (
                "evlr_las12",
                "json",
                r"an extended VLR \(evlr\) needs LAS 1\.4, not 1\.2: give minor_version 4$",
            ),
            (
                "ferry_x_intensity",
                "json",
                r"inp\.las: stage 2 \(filters\.ferry\): Intensity holds 0 to 65,535: "
                r"[\d,.]+ \(from X\) does not fit$",
            ),
            (
                "assign_70000",
                "json",
                r"stage 2 \(filters\.assign\): Intensity holds 0 to 65,535: 70,000 does not fit$",
            ),
            (
                "assign_userdata",
                "json",
                r"stage 2 \(filters\.assign\): UserData holds 0 to 255: 300 does not fit$",
            ),
            (
                "elm_cell_tiny",
                "json",
                r"stage 2 \(filters\.elm\): cell 1e-300 is far below the cloud's extent",
            ),
            (
                "csf_step_tiny",
                "json",
                r"stage 2 \(filters\.csf\): the cloth did not reach the ground \(step 0\.02, "
                r"500 iterations\): give a larger step",
            ),
            (
                "smrf_cell_tiny",
                "json",
                r"stage 2 \(filters\.smrf\): cell must be at least 0\.001 m, got 1e-300$",
            ),
            (
                "crop_overflow",
                "json",
                r"filters\.crop\): crop polygon has coordinates beyond ±1e\+10, outside any CRS$",
            ),
            ("crop_nan", "json", r"filters\.crop\): crop polygon is invalid"),
            ("voxel_cell_true", "json", r"option 'cell' has the wrong type \(True\)$"),
            ("expression_deep", "json", r"nested more than 100 levels deep"),
            ("writer_name_long", "json", r"cannot write .*x\.laz: the file name is too long"),
            ("reader_name_long", "json", r"stage 1 \(readers\.las\): cannot read .*x\.laz: "),
        )
    ],
    Case(
        "pipeline-dev-zero",
        (*L, "pipeline", "/dev/zero"),
        2,
        r"^error: /dev/zero: cannot read pipeline: not a regular file$",
    ),
    *[
        Case(f"pipeline-{name}", (*L, "pipeline", f"{{d}}/{name}.json"), 0, "")
        for name in ("decimation_step_huge", "decimation_offset_huge")
    ],
    Case(  # an internal error (OverflowError), where lidar products refused it
        "tile-resolution-1e308",
        (*L, "tile", "{d}/inp.las", "-o", "{o}/tiles", "--resolution", "1e308"),
        2,
        r"^error: .*inp\.las: --resolution 1e\+308 m is too coarse for the cloud's extent",
    ),
    # ---- 13. rasters too large to read, heights that are no elevations, no CRS ----------
    Case(  # MemoryError: Unable to allocate 149 GiB
        "volume-huge-raster",
        (*L, "volume", "{d}/huge.tif", "{d}/huge.tif"),
        2,
        r"^error: .*huge\.tif: the raster is too large: 200,000 × 200,000 cells need about "
        r"[\d.]+ TiB of memory, more than the budget of [\d.]+ [KMGT]iB",
        max_s=30,
    ),
    Case(
        "diff-huge-raster-other-grid",
        (*L, "diff", "{d}/d1.tif", "{d}/huge.tif", "-o", "{o}/x.tif"),
        2,
        r"^error: rasters are on different grids: .*d1\.tif and .*huge\.tif$",
        max_s=30,
    ),
    Case(  # fill_m3 8e41, exit 0
        "volume-heights-1e38",
        (*L, "volume", "{d}/fill_1e38.tif", "{d}/d1.tif"),
        2,
        r"^error: .*fill_1e38\.tif: the raster has heights up to 1e\+38 m, beyond ±100,000 m: "
        r"not elevations",
    ),
    Case(
        "volume-one-raster-without-crs-warns",
        (*L, "volume", "{d}/d1_nocrs.tif", "{d}/d1.tif"),
        0,
        r"^WARNING .*d1_nocrs\.tif has no CRS: taken to be in NAD83 / UTM zone 12N as "
        r".*d1\.tif, whose grid it shares",
        warns=True,
    ),
    # ---- 14. a CRS the coordinates cannot be in; header fields no specification defines --
    Case(  # metres taken for degrees: a GeoTIFF labelled EPSG:4326 at "500000 degrees", exit 0
        "dsm-crs-proj-longlat",
        (*L, "dsm", "{d}/inp.las", "-o", "{o}/x.tif", "--crs", "+proj=longlat"),
        2,
        r"^error: .*inp\.las: the data \(500\d+\.\d, 4500\d+\.\d\) lie outside the area of use "
        r"of \+proj=longlat .*: wrong CRS\?$",
    ),
    *[
        Case(
            f"{cmd}-{name}",
            (*L, cmd, f"{{d}}/{name}.las", *extra),
            2,
            rf"^error: .*{name}\.las: {why}$",
        )
        for name, why in (
            (
                "format_99",
                r"the header's point data format is 99 \(byte 104\): unknown \(formats 0 to "
                r"10 are defined\)",
            ),
            (
                "version_1_9",
                r"the header's LAS version is 1\.9: unknown \(versions 1\.0 to 1\.4 are "
                r"defined\)",
            ),
            (
                "min_x_1e9",
                r"the header's X bounds are inconsistent: the minimum 1000000000 lies above the "
                r"maximum 5000[89]\d(\.\d+)?",
            ),
        )
        for cmd, extra in (("info", ()), ("dsm", ("-o", "{o}/d.tif")))
    ],
    # ---- 15. a disk that fills up (a file size limit): one line naming the cause, exit 1 --
    *[
        Case(
            f"{tag}-disk-full",
            argv,
            1,
            rf"^error: cannot write .*{target}: the file is too large for the file system or "
            r"the size limit$",
            fsize_kib=kib,
            max_s=90,
        )
        for tag, argv, target, kib in (
            ("dtm", (*L, "dtm", *IN_OUT, "--resolution", "0.3"), r"x\.tif", 20),
            ("chm", (*L, "chm", *IN_OUT, "--resolution", "0.3"), r"x\.tif", 20),
            (
                "intensity",
                (*L, "raster", *IN_OUT, "--product", "intensity", "--resolution", "0.3"),
                r"x\.tif",
                4,  # intensities all 0: a file of 10 kB
            ),
            (
                "hillshade",
                (*L, "raster", *IN_OUT, "--product", "hillshade", "--resolution", "0.2"),
                r"x\.tif",
                20,
            ),
            ("ground", (*L, "ground", "{d}/inp.las", "-o", "{o}/g.laz"), r"g\.laz", 8),
            (
                "ground-dtm",
                (*L, "ground", "{d}/inp.las", "-o", "{o}/g.laz", "--dtm", "{o}/d.tif"),
                r"g\.laz",
                8,
            ),
            ("products", (*L, "products", "{d}/inp.las", "-o", "{o}/p"), r"p/inp_\w+\.tif", 20),
            (
                "tile",
                (
                    *L,
                    "tile",
                    "{d}/inp.las",
                    "-o",
                    "{o}/t",
                    "--tile-size",
                    "50",
                    "--buffer",
                    "5",
                    "--workers",
                    "1",
                ),
                r"/t",
                8,
            ),
            (
                "poa-map",
                (
                    "plan",
                    "poa-map",
                    "--lkp",
                    "49.74,13.37",
                    "--subject",
                    "hiker",
                    "-o",
                    "{o}/p.tif",
                ),
                r"p\.tif",
                20,
            ),
        )
    ],
]

_BAD = re.compile(r"Traceback|internal error|Warning:|RuntimeWarning", re.M)


def _digest(d: Path) -> dict[str, str]:
    """Name → SHA-256 of every file in ``d`` (a symlink by its target's bytes)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.iterdir() if p.is_file()}


def _run_fsize(
    argv: list[str], cwd: Path, kib: int
) -> tuple[subprocess.CompletedProcess[str], float]:
    """As :func:`run_dkp`, under a file size limit of ``kib`` KiB (``ulimit -f``: writes beyond
    it fail with EFBIG, as on a full disk; Python ignores SIGXFSZ)."""
    import resource
    import time

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (kib * 1024, kib * 1024))

    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    for name in ("DKP_DEBUG", "DKP_LIDAR_MEMORY_MB"):
        env.pop(name, None)
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *argv],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120, preexec_fn=limit,
    )  # fmt: skip
    return proc, time.monotonic() - t0


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_lidar_bad_input(case: Case, inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    argv = [a.format(d=inputs, o=out) for a in case.argv]
    before = _digest(inputs)
    if case.fsize_kib is None:
        proc, took = run_dkp(argv, inputs, env=case.env, drop=("DKP_LIDAR_MEMORY_MB",))
    else:
        proc, took = _run_fsize(argv, inputs, case.fsize_kib)
    detail = f"exit {proc.returncode}, stderr:\n{proc.stderr}"
    assert proc.returncode == case.code, detail
    assert not _BAD.search(proc.stderr), detail
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    if case.code:
        assert len(errors) == 1, detail
        assert len(proc.stderr.strip().splitlines()) == 1, detail
        assert re.search(case.pattern, errors[0]), f"{case.pattern!r} not in {errors[0]!r}"
    else:
        assert not errors, detail
    if case.warns:
        warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("WARNING")]
        assert len(warnings) == 1, detail
        assert re.search(case.pattern, warnings[0]), f"{case.pattern!r} not in {warnings[0]!r}"
    if case.max_s is not None:
        assert took < case.max_s, f"took {took:.1f} s"
    assert _digest(inputs) == before  # no input changed, none added, none removed
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert left == sorted(case.creates), f"files left behind: {left}"


# ---- in process: the library behind the table ---------------------------------------------


def test_reproject_to_degrees_and_back_keeps_every_point(inputs: Path, tmp_path: Path) -> None:
    """0.01 m scales kept for degrees put all points on one spot: the scales follow the CRS."""
    from lidar import pipeline

    geo, back = tmp_path / "geo.las", tmp_path / "back.las"
    for src, dst, crs in ((inputs / "inp.las", geo, "EPSG:4326"), (geo, back, "EPSG:26912")):
        doc = [str(src), {"type": "filters.reproject", "out_srs": crs}, str(dst)]
        pipeline.run(pipeline.parse(doc))
    a, g, b = (laspy.read(str(p)) for p in (inputs / "inp.las", geo, back))
    assert g.header.scales[0] <= 1e-7  # about a centimetre or finer in degrees
    assert abs(g.header.offsets[0] - float(np.min(g.x))) < 1.0  # offsets near the data

    def unique_xy(las: laspy.LasData) -> int:
        return len(np.unique(np.column_stack([las.X, las.Y]), axis=0))

    assert unique_xy(g) == unique_xy(b) == unique_xy(a) == len(a.points)
    assert np.abs(np.asarray(b.x) - np.asarray(a.x)).max() < 0.01
    assert np.abs(np.asarray(b.y) - np.asarray(a.y)).max() < 0.01
    assert np.abs(np.asarray(b.z) - np.asarray(a.z)).max() < 0.01


def test_products_leave_no_partial_set_and_keep_older_files(inputs: Path, tmp_path: Path) -> None:
    """A real failure midway: the disk fills (a file-size limit below the largest product) while
    the products are written; nothing of the new set appears and an older file stays."""
    import resource

    def run(out: Path, limit: int | None) -> subprocess.CompletedProcess[str]:
        pre = (
            None
            if limit is None
            else (lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
        )
        return subprocess.run(
            [sys.executable, "-m", "dronekit_plzen", "lidar", "products",
             str(inputs / "inp.las"), "-o", str(out)],
            capture_output=True, text=True, timeout=120, preexec_fn=pre,
        )  # fmt: skip

    full = tmp_path / "full"
    assert run(full, None).returncode == 0
    sizes = sorted(p.stat().st_size for p in full.iterdir() if p.is_file())
    out = tmp_path / "p"
    out.mkdir()
    old = out / "inp_dtm.tif"
    old.write_bytes(b"an older DTM")
    p = run(out, sizes[-1] - 1)  # the largest product cannot be written
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
    assert sorted(q.name for q in out.iterdir()) == ["inp_dtm.tif"], p.stderr  # no temp left
    assert old.read_bytes() == b"an older DTM"


def test_overflowing_sizes_are_plain_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from dronekit_plzen.errors import BadInputError
    from lidar.grid import _ram_bytes, check_grid_size, memory_budget
    from lidar.raster import MAX_CONTOUR_LEVELS, contour_levels

    ram = _ram_bytes()
    assert ram is None or memory_budget(1e308) == ram  # capped, no OverflowError
    monkeypatch.setenv("DKP_LIDAR_MEMORY_MB", "1e308")
    assert ram is None or memory_budget() == ram
    with pytest.raises(BadInputError, match="over the budget"):
        check_grid_size((0.0, 0.0, 90.0, 90.0), 1e-300, budget_bytes=2**30)
    with pytest.raises(BadInputError, match="this machine has available"):
        check_grid_size((0.0, 0.0, 90.0, 90.0), 1e-5, budget_bytes=2**62)
    with pytest.raises(BadInputError, match=r"span 1e\+300 m × 10 m") as err:  # not 301 digits
        check_grid_size((0.0, 0.0, 1e300, 10.0), 1.0, budget_bytes=2**30)
    assert len(str(err.value)) < 300
    assert len(contour_levels(0.0, 999.0, 1.0)) == MAX_CONTOUR_LEVELS
    for interval in (0.5, 1e-12, 1e-300, 1e-310):
        with pytest.raises(BadInputError, match="more than 1,000") as err:
            contour_levels(0.0, 999.0, interval)
        assert len(str(err.value)) < 200  # 1e-300 printed a count of 300 digits


def test_outputs_are_compared_as_files(inputs: Path, tmp_path: Path) -> None:
    from dronekit_plzen.errors import BadInputError
    from lidar.paths import check_outputs, same_file

    hard = tmp_path / "hard.las"
    os.link(inputs / "inp.las", hard)
    assert same_file(hard, inputs / "inp.las")
    assert same_file(inputs / "link.las", inputs / "inp.las")
    assert not same_file(tmp_path / "new.las", inputs / "inp.las")
    with pytest.raises(BadInputError, match=r"the output is the input file .*inp\.las \(-o\)"):
        check_outputs([("-o", hard)], [inputs / "inp.las"])
    check_outputs([("-o", tmp_path / "a.las"), ("--dtm", tmp_path / "a.tif")], [inputs / "inp.las"])


def test_extra_bytes_arrays_survive_a_rewrite(tmp_path: Path) -> None:
    """PDAL's extrabytes.las has array extra dimensions (3 × uint16 "Colors"): writing them
    back failed with "could not broadcast (n, 3) into (n,)"."""
    from lidar.io import read_cloud

    header = laspy.LasHeader(point_format=3, version="1.2")
    header.add_extra_dim(laspy.ExtraBytesParams(name="Colors", type="3u2"))
    header.add_extra_dim(laspy.ExtraBytesParams(name="Flags", type="2i1"))
    header.add_extra_dim(laspy.ExtraBytesParams(name="Time", type="u8"))
    n = 50
    rec = laspy.ScaleAwarePointRecord.zeros(n, header=header)
    rng = np.random.default_rng(1)
    rec.x, rec.y, rec.z = rng.uniform(0, 10, n), rng.uniform(0, 10, n), rng.uniform(0, 1, n)
    rec["Colors"] = rng.integers(0, 65535, (n, 3))
    rec["Flags"] = rng.integers(-100, 100, (n, 2))
    rec["Time"] = rng.integers(0, 2**40, n)
    src, dst = tmp_path / "eb.las", tmp_path / "eb_out.laz"
    with laspy.open(str(src), mode="w", header=header) as w:
        w.write_points(rec)
    write_cloud(read_cloud(src), dst)
    a, b = laspy.read(str(src)), laspy.read(str(dst))
    for name in ("Colors", "Flags", "Time"):
        assert np.array_equal(np.asarray(a[name]), np.asarray(b[name])), name


def test_info_bounds_carry_no_float_noise(inputs: Path) -> None:
    """Header bounds are shown at the scale's precision: 848899.7, not 848899.7000000001."""
    from lidar.io import _at_scale

    assert _at_scale(848899.7000000001, 0.01) == 848899.7
    assert _at_scale(39.01259900000001, 1e-4) == 39.012599  # finer offsets are kept
    assert _at_scale(float("nan"), 0.01) != _at_scale(float("nan"), 0.01)


def test_sparse_cloud_smrf_cell_and_dtm_path() -> None:
    """A cloud of one point per 16,000 m²: SMRF coarsens its grid (and finds the plane's
    points ground); the TIN DTM of the points is the plane."""
    from lidar.grid import GridSpec
    from lidar.ground import SMRFParams, smrf, sparse_cell
    from lidar.raster import planar_surface

    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 90, 3000), rng.uniform(0, 90, 3000)  # the table's cloud
    assert sparse_cell(x, y, None, 1.0) == 1.0
    # two dense tiles 500 km apart: sparse over the extent, dense where the points are
    far_x, far_y = np.r_[x, x + 500_000], np.r_[y, y + 500_000]
    assert sparse_cell(far_x, far_y, None, 1.0) == 1.0
    x, y = rng.uniform(0, 4000, 1000), rng.uniform(0, 4000, 1000)
    assert 25 < sparse_cell(x, y, None, 1.0) < 40  # about 126 m between points
    assert sparse_cell(x, y, np.arange(1000) < 2, 1.0) == 1.0  # too few candidates
    z = 100.0 + 0.01 * x - 0.02 * y
    g = smrf(x, y, z, SMRFParams(), threads=1)
    assert g.mean() > 0.95
    grid = GridSpec.covering(0, 0, 4000, 4000, 10.0)
    dtm = planar_surface(grid, x, y, z)
    cx, cy = grid.centres()
    ok = np.isfinite(dtm)
    assert ok.mean() > 0.9
    err = np.abs(dtm[ok] - (100.0 + 0.01 * cx[ok] - 0.02 * cy[ok]))
    assert np.quantile(err, 0.99) < 1e-3  # the TIN of a plane (the hull's rim: nearest value)
