"""PDAL's ``writers.las`` options: a pipeline written for PDAL lays out its file as PDAL would.

``forward``, ``minor_version``, ``dataformat_id``, ``scale_*``/``offset_*`` (numbers or
``auto``), ``a_srs``, ``compression``, the identifying fields, ``extra_dims``, ``vlrs`` and
``discard_high_return_numbers`` were refused ("unknown option"); numbers written as text
(``"scale_x": "0.01"``, PDAL reads them) were "the wrong type".
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import laspy
import numpy as np
import pytest
from pyproj import CRS

from dronekit_plzen.errors import BadInputError
from lidar import pipeline

PROJECT = "6f1c8a52-5d3e-4e0b-9c7e-2b8f4a1d9e33"


def _source(path: Path, *, fmt: int = 3, version: str = "1.2", returns: int = 1) -> None:
    """A small cloud with a header of its own, a classification lookup VLR (PDAL forwards
    it) and a VLR of another program's."""
    rng = np.random.default_rng(7)
    n = 500
    header = laspy.LasHeader(point_format=fmt, version=version)
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.array([458_000.0, 5_510_000.0, 0.0])
    header.system_identifier = "RIEGL VQ-1560"
    header.generating_software = "RiPROCESS 1.9"
    header.creation_date = dt.date(2024, 5, 17)
    header.uuid = uuid.UUID(PROJECT)
    header.file_source_id = 7
    header.add_crs(CRS.from_epsg(32633))
    header.vlrs.append(
        laspy.VLR("LASF_Spec", 0, "Classification lookup", b"\x02ground" + b"\0" * 8)
    )
    header.vlrs.append(laspy.VLR("RIEGL", 77, "flight lines", b"line 12"))
    las = laspy.LasData(header)
    las.x = 458_000 + rng.uniform(0, 50, n)
    las.y = 5_510_000 + rng.uniform(0, 50, n)
    las.z = 320 + rng.uniform(0, 5, n)
    high = np.arange(n) < n // 2  # the first half: the return number asked for
    las.return_number = np.where(high, returns, 1).astype(np.uint8)
    las.number_of_returns = np.where(high, returns, 1).astype(np.uint8)
    las.write(str(path))


def _run(tmp_path: Path, src: Path, writer: dict[str, object]) -> pipeline.RunReport:
    doc = [str(src), {"type": "writers.las", **writer}]
    (tmp_path / "p.json").write_text(json.dumps(doc))
    return pipeline.run(pipeline.load(tmp_path / "p.json"))


def test_a_pdal_writer_lays_out_the_file_as_asked(tmp_path: Path) -> None:
    src = tmp_path / "src.las"
    _source(src)
    (tmp_path / "notes.bin").write_bytes(b"field notes")
    rep = _run(
        tmp_path,
        src,
        {
            "filename": "out.laz",
            "compression": "laszip",
            "forward": "all",
            "minor_version": "4",  # text, as PDAL pipelines often have it
            "dataformat_id": 7,
            "scale_x": "0.01",
            "scale_y": 0.01,
            "scale_z": "auto",
            "offset_x": "auto",
            "offset_y": 5_500_000,
            "software_id": "dronekit-plzen",
            "vlrs": [
                {"user_id": "SITMP", "record_id": 1, "description": "note", "data": "aGk="},
                {"user_id": "SITMP", "record_id": 2, "filename": "notes.bin", "evlr": True},
            ],
        },
    )
    assert not rep.streamed  # an "auto" offset needs the whole cloud's extent first
    ref = laspy.read(str(src))
    out = laspy.read(str(tmp_path / "out.laz"))
    h = out.header
    assert (h.version.minor, h.point_format.id) == (4, 7)  # given: over the forwarded 1.2 / 3
    assert h.system_identifier == "RIEGL VQ-1560"  # forwarded
    assert h.generating_software == "dronekit-plzen"  # given
    assert h.creation_date == dt.date(2024, 5, 17) and str(h.uuid) == PROJECT
    assert h.file_source_id == 7
    assert list(h.scales[:2]) == [0.01, 0.01] and h.offsets[1] == 5_500_000
    assert h.offsets[0] == ref.x.min()  # auto: the minimum
    assert h.scales[2] == pytest.approx((ref.z.max() - h.offsets[2]) / (2**31 - 1))
    vlrs = {(v.user_id, v.record_id): v for v in h.vlrs}
    assert ("LASF_Spec", 0) in vlrs and vlrs[("RIEGL", 77)].record_data_bytes() == b"line 12"
    assert vlrs[("SITMP", 1)].record_data_bytes() == b"hi"
    assert [(v.user_id, v.record_id) for v in out.evlrs] == [("SITMP", 2)]
    assert out.evlrs[0].record_data_bytes() == b"field notes"
    assert CRS.from_user_input(h.parse_crs()) == CRS.from_epsg(32633)
    assert list(out.point_format.extra_dimension_names) == []  # format 3's fields: no extras
    assert np.array_equal(out.scan_angle, np.rint(ref.scan_angle_rank / 0.006))
    assert np.abs(out.x - ref.x).max() <= 0.005 + 1e-9 and np.abs(out.z - ref.z).max() < 1e-6


def test_the_defaults_keep_the_source_and_a_srs_names_the_crs(tmp_path: Path) -> None:
    """No option: the source's format, version and scales (PDAL would write 0.01 and format 3
    or 7; ours loses nothing). ``a_srs`` names the CRS written (no reprojection)."""
    src = tmp_path / "src.las"
    _source(src)
    rep = _run(tmp_path, src, {"filename": "plain.las", "a_srs": "EPSG:5514"})
    assert rep.streamed
    out = laspy.read(str(tmp_path / "plain.las"))
    assert (out.header.version.minor, out.header.point_format.id) == (2, 3)
    assert list(out.header.scales) == [0.001] * 3
    assert CRS.from_user_input(out.header.parse_crs()) == CRS.from_epsg(5514)
    assert out.header.system_identifier != "RIEGL VQ-1560"  # not forwarded unless asked


def test_return_numbers_a_format_cannot_hold(tmp_path: Path) -> None:
    """Formats 0–5 keep 3 bits of return number: return 9 cannot be stored. It is refused,
    or with ``discard_high_return_numbers`` those points are left out (PDAL's option)."""
    src = tmp_path / "src14.las"
    _source(src, fmt=6, version="1.4", returns=9)
    with pytest.raises(BadInputError, match="250 points have return numbers above 7"):
        _run(tmp_path, src, {"filename": "legacy.las", "dataformat_id": 1})
    assert not (tmp_path / "legacy.las").exists()
    rep = _run(
        tmp_path,
        src,
        {"filename": "legacy.las", "dataformat_id": 1, "discard_high_return_numbers": "true"},
    )
    kept = laspy.read(str(tmp_path / "legacy.las"))
    assert kept.header.point_count == 250 and set(kept.return_number) == {1}
    assert rep.outputs[0]["file"].endswith("legacy.las")


@pytest.mark.parametrize(
    ("writer", "message"),
    [
        ({"where": "Classification = 2"}, "expression 'Classification = 2': cannot read"),
        ({"pdal_metadata": True}, "pdal_metadata: PDAL's own metadata"),
        ({"dataformat_id": 5}, "dataformat_id 5: point formats 0–3 and 6–8 are written"),
        ({"dataformat_id": 6, "minor_version": 2}, "point format 6 needs LAS 1.4, not 1.2"),
        ({"compression": "false", "filename": "x.laz"}, "compression is false but the file"),
        ({"compression": True}, "compression writes LAZ: name the file .laz"),
        ({"software_id": "x" * 40}, "software_id must be at most 32 ASCII characters"),
        ({"project_id": "not-a-uuid"}, "project_id must be a UUID"),
        ({"scale_x": "big"}, "scale_x must be a number or auto, got 'big'"),
        ({"scale": 0.01, "scale_y": 0.01}, "give scale or scale_x/scale_y/scale_z, not both"),
        ({"forward": "header,bogus"}, "forward 'bogus' is not one of"),
        ({"extra_dims": "Amplitude=complex"}, "extra_dims 'Amplitude=complex' is not NAME=TYPE"),
        ({"creation_doy": 366, "creation_year": 2023}, "creation_doy 366 is not a day of 2023"),
        (
            {"vlrs": [{"user_id": "u", "record_id": 1, "metadata": "k"}]},
            "vlrs[0]: metadata VLRs",
        ),
        ({"vlrs": [{"user_id": "u", "record_id": 1, "data": "%%%"}]}, "vlrs[0]: data is not"),
        ({"a_srs": "EPSG:99999"}, "a_srs: unknown CRS 'EPSG:99999'"),
    ],
)
def test_a_refused_writer_option_is_named_before_anything_runs(
    tmp_path: Path, writer: dict[str, object], message: str
) -> None:
    src = tmp_path / "src.las"
    _source(src)
    doc = [str(src), {"type": "writers.las", "filename": str(tmp_path / "x.las"), **writer}]
    with pytest.raises(BadInputError) as err:
        pipeline.parse(doc)
    assert message in str(err.value)
    assert not list(tmp_path.glob("x.la*"))


def test_extra_dims_names_what_is_written(tmp_path: Path) -> None:
    src = tmp_path / "src.las"
    _source(src)
    hag = {"type": "filters.hag"}
    smrf = {"type": "filters.smrf"}
    out = tmp_path / "hag.las"
    writer = {"type": "writers.las", "filename": str(out), "extra_dims": "HeightAboveGround=float"}
    pipeline.run(pipeline.parse([str(src), smrf, hag, writer]))
    las = laspy.read(str(out))
    assert list(las.point_format.extra_dimension_names) == ["HeightAboveGround"]
    assert las["HeightAboveGround"].dtype == np.float32
    writer["extra_dims"] = "Reflectance=double"
    with pytest.raises(BadInputError, match="extra_dims: the cloud has no dimension Reflectance"):
        pipeline.run(pipeline.parse([str(src), writer]))


def test_pdals_reader_options_and_decimation(tmp_path: Path) -> None:
    """readers.las's ``override_srs``, ``default_srs``, ``nosrs``, ``count`` (PDAL's names; they
    were unknown options) and filters.decimation."""
    from laspy.vlrs.vlrlist import VLRList

    from lidar.io import read_cloud

    src = tmp_path / "src.las"
    _source(src)  # in UTM 33N
    bare = tmp_path / "bare.las"
    las = laspy.read(str(src))
    las.header.vlrs = VLRList(v for v in las.header.vlrs if v.user_id != "LASF_Projection")
    las.write(str(bare))  # the same points without a CRS

    def run(reader: dict[str, object], *stages: dict[str, object], stream: bool = True) -> object:
        out = tmp_path / "r.las"
        doc = [
            {"type": "readers.las", **reader},
            *stages,
            {"type": "writers.las", "filename": str(out)},
        ]
        pipe = pipeline.parse(doc)
        rep = pipeline.run(pipe, stream=stream and pipe.streamable)
        return read_cloud(out), rep

    utm = CRS.from_epsg(32633)
    cloud, _ = run({"filename": str(src), "default_srs": "EPSG:5514"})
    assert cloud.crs == utm  # the file names one: the default is not used
    assert read_cloud(bare, check_crs=False).crs is None
    cloud, _ = run({"filename": str(bare), "default_srs": "EPSG:32633"})
    assert cloud.crs == utm  # the file names none: the default is its CRS
    cloud, _ = run({"filename": str(src), "nosrs": "true", "default_srs": "EPSG:32633"})
    assert cloud.crs == utm
    with pytest.raises(BadInputError, match="lie outside the area of use of S-JTSK"):
        run({"filename": str(src), "override_srs": "EPSG:5514"})  # metres of UTM in S-JTSK
    for stream in (True, False):
        cloud, rep = run(
            {"filename": str(src), "count": "120", "threads": 4, "use_eb_vlr": True}, stream=stream
        )
        assert len(cloud) == 120 and rep.points_in == 120  # type: ignore[attr-defined]
        assert np.array_equal(cloud.x, las.x[:120])
    empty = tmp_path / "empty.las"
    laspy.LasData(laspy.LasHeader(point_format=3, version="1.2")).write(str(empty))
    for stream in (True, False):
        with pytest.raises(BadInputError, match="the point cloud is empty"):
            run({"filename": str(empty), "count": 10}, stream=stream)
    cloud, rep = run(
        {"filename": str(src)}, {"type": "filters.decimation", "step": 3, "offset": 1, "limit": 5}
    )
    assert not rep.streamed  # type: ignore[attr-defined]
    assert np.array_equal(cloud.x, las.x[[1, 4, 7, 10, 13]])
    with pytest.raises(BadInputError, match="give one of spatialreference, override_srs"):
        pipeline.parse(
            [
                {
                    "type": "readers.las",
                    "filename": str(src),
                    "spatialreference": "EPSG:32633",
                    "override_srs": "EPSG:32633",
                },
                "o.las",
            ]
        )
