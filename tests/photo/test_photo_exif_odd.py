"""Odd metadata as real cameras write it, made here byte by byte, read by ``photo.exif``.

Each case mirrors a file of the public sample sets the reader was swept over (exif-samples,
metadata-extractor-images, exiftool's test images, OpenSfM/ODM data): GPS as one rational, Ref
tags typed BYTE/UNDEFINED, 0/0 rationals, a Canon compact known only by FocalPlaneXResolution,
a DJI multispectral 16-bit TIFF with its XMP after the pixels, a header claiming 900 megapixels.
The EXIF/TIFF bytes are written by :func:`tiff_bytes` below (struct, little-endian), so the
expected values are the numbers written, not what another parser says.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import pytest
from photo_testkit import Entry, claim_size, tiff_bytes
from PIL import Image

from dronekit_plzen.errors import BadInputError
from photo.exif import PhotoSkip, read_photo, read_photos
from photo.pipeline import Job, ProcessOptions, SilentProgress, step_read


def dms(deg: int, minutes: int, sec_x100: int) -> tuple[tuple[int, int], ...]:
    return ((deg, 1), (minutes, 1), (sec_x100, 100))


#: Plzeň, north-east: 49° 44' 52.30" N, 13° 22' 40.50" E
LAT = 49 + 44 / 60 + 52.30 / 3600
LON = 13 + 22 / 60 + 40.50 / 3600
CAMERA: list[Entry] = [(0x010F, "ASCII", "DJI"), (0x0110, "ASCII", "FC350")]
FOCAL: list[Entry] = [(0x920A, "RATIONAL", ((361, 100),))]
GPS_OK: list[Entry] = [
    (0x0001, "ASCII", "N"),
    (0x0002, "RATIONAL", dms(49, 44, 5230)),
    (0x0003, "ASCII", "E"),
    (0x0004, "RATIONAL", dms(13, 22, 4050)),
    (0x0006, "RATIONAL", ((35050, 100),)),
]


def jpeg(
    path: Path,
    gps: list[Entry] = GPS_OK,
    exif: list[Entry] = FOCAL,
    ifd0: list[Entry] = CAMERA,
    size: tuple[int, int] = (64, 48),
) -> Path:
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 120, 60)).save(
        buf, "JPEG", exif=b"Exif\0\0" + tiff_bytes(ifd0, exif, gps)
    )
    path.write_bytes(buf.getvalue())
    return path


def _replace(entries: list[Entry], *new: Entry) -> list[Entry]:
    tags = {t for t, _, _ in new}
    return [e for e in entries if e[0] not in tags] + list(new)


# --- GPS -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gps", "lat", "lon"),
    [
        # one rational: decimal degrees (was "GPS position in EXIF is malformed")
        (
            _replace(
                GPS_OK, (2, "RATIONAL", ((4974786, 100000),)), (4, "RATIONAL", ((1337, 100),))
            ),
            49.74786,
            13.37,
        ),
        # Ref typed UNDEFINED / BYTE instead of ASCII (was read as north/east)
        (_replace(GPS_OK, (1, "UNDEFINED", b"S\0"), (3, "BYTE", (ord("W"),))), -LAT, -LON),
        (_replace(GPS_OK, (1, "BYTE", b"S\0"), (3, "UNDEFINED", b"W")), -LAT, -LON),
        # lower-case ASCII
        (_replace(GPS_OK, (1, "ASCII", "s"), (3, "ASCII", "w")), -LAT, -LON),
        # degrees and minutes only
        (_replace(GPS_OK, (2, "RATIONAL", ((49, 1), (4487, 100)))), 49 + 44.87 / 60, LON),
    ],
    ids=["single-rational", "ref-undefined-byte", "ref-byte-undefined", "ref-lower", "two-values"],
)
def test_gps_forms(tmp_path: Path, gps: list[Entry], lat: float, lon: float) -> None:
    m = read_photo(jpeg(tmp_path / "g.jpg", gps=gps))
    assert m.lat_deg == pytest.approx(lat, abs=1e-9)
    assert m.lon_deg == pytest.approx(lon, abs=1e-9)


@pytest.mark.parametrize(
    ("ref", "alt"),
    [
        ((0x0005, "BYTE", (1,)), -350.5),
        ((0x0005, "BYTE", (0,)), 350.5),
        ((0x0005, "UNDEFINED", b"\x01"), -350.5),
        ((0x0005, "ASCII", "1"), -350.5),  # text instead of BYTE
    ],
    ids=["byte-1", "byte-0", "undefined-1", "ascii-1"],
)
def test_altitude_below_sea_level(tmp_path: Path, ref: Entry, alt: float) -> None:
    m = read_photo(jpeg(tmp_path / "a.jpg", gps=_replace(GPS_OK, ref)))
    assert m.alt_m == pytest.approx(alt)


def test_altitude_zero_denominator_is_no_altitude(tmp_path: Path) -> None:
    """InfiRay/Leica write GPSAltitude 0/0: the position stays, the altitude is None, not NaN."""
    m = read_photo(jpeg(tmp_path / "a.jpg", gps=_replace(GPS_OK, (6, "RATIONAL", ((0, 0),)))))
    assert m.alt_m is None
    assert m.lat_deg == pytest.approx(LAT)


@pytest.mark.parametrize(
    ("gps", "reason"),
    [
        # Nikon D5000 / Leica T / InfiRay: every rational 0/0 (was "invalid (nan, nan)")
        (
            _replace(GPS_OK, (2, "RATIONAL", ((0, 0),) * 3), (4, "RATIONAL", ((0, 0),) * 3)),
            "GPS position in EXIF is empty (a zero denominator: no fix)",
        ),
        # FLIR Vue Pro: 0/1 everywhere with S/W (was "invalid (-0.0, -0.0)")
        (
            _replace(
                GPS_OK,
                (1, "ASCII", "S"),
                (2, "RATIONAL", ((0, 1),) * 3),
                (3, "ASCII", "W"),
                (4, "RATIONAL", ((0, 1),) * 3),
            ),
            "GPS position in EXIF is 0, 0 (no fix)",
        ),
        (
            _replace(GPS_OK, (2, "RATIONAL", dms(149, 0, 0))),
            "GPS position in EXIF is invalid (149.000000, 13.377917)",
        ),
        (_replace(GPS_OK, (2, "ASCII", "unknown")), "GPS position in EXIF is malformed"),
    ],
    ids=["zero-denominators", "zero-zero", "out-of-range", "text"],
)
def test_unusable_gps_is_named(tmp_path: Path, gps: list[Entry], reason: str) -> None:
    with pytest.raises(PhotoSkip) as exc:
        read_photo(jpeg(tmp_path / "g.jpg", gps=gps))
    assert str(exc.value) == reason


# --- focal length ----------------------------------------------------------------------------


def test_focal_from_focal_plane_resolution(tmp_path: Path) -> None:
    """ODM's snowpeak set (Canon IXUS 125 HS): no FocalLengthIn35mmFilm, not in the database,
    but FocalPlaneXResolution 18962.96 px/inch at 4608 px: a 6.17 mm sensor (1/2.3")."""
    exif: list[Entry] = [
        (0x920A, "RATIONAL", ((43, 10),)),
        (0xA20E, "RATIONAL", ((512000000, 27000),)),  # 18962.96 px per inch
        (0xA210, "SHORT", (2,)),
        (0xA002, "LONG", (4608,)),  # the camera's width: this copy was resized to 64 px
        (0xA003, "LONG", (3456,)),
    ]
    ifd0: list[Entry] = [(0x010F, "ASCII", "Canon"), (0x0110, "ASCII", "Canon IXUS 125 HS")]
    m = read_photo(jpeg(tmp_path / "c.jpg", exif=exif, ifd0=ifd0, size=(64, 48)))
    px_per_mm = 512000000 / 27000 / 25.4 * 64 / 4608
    assert m.focal_source == "exif_mm+focal_plane"
    assert m.focal_px == pytest.approx(4.3 * px_per_mm)
    assert 64 / px_per_mm == pytest.approx(6.17, abs=0.01)  # the sensor width it implies


def test_implausible_focal_plane_is_not_used(tmp_path: Path) -> None:
    """FinePix S2 Pro: 106.7 px/inch at 3600 px would be an 857 mm wide sensor."""
    exif: list[Entry] = [
        (0x920A, "RATIONAL", ((24, 10),)),
        (0xA20E, "RATIONAL", ((1067296, 10000),)),
        (0xA210, "SHORT", (2,)),
        (0xA002, "LONG", (3600,)),
    ]
    ifd0: list[Entry] = [(0x010F, "ASCII", "FUJIFILM"), (0x0110, "ASCII", "FinePixS2Pro")]
    with pytest.raises(PhotoSkip, match="unknown camera FUJIFILM FinePixS2Pro"):
        read_photo(jpeg(tmp_path / "f.jpg", exif=exif, ifd0=ifd0))


def test_upright_pixels_keep_the_focal_length(tmp_path: Path) -> None:
    """A DJI photo turned upright by a viewer (portrait pixels, Orientation 1): the database's
    sensor width is the long side, so the focal length in pixels must not change."""
    land = read_photo(jpeg(tmp_path / "l.jpg", size=(64, 48)))
    port = read_photo(jpeg(tmp_path / "p.jpg", size=(48, 64)))
    assert land.focal_source == port.focal_source == "exif_mm+sensor_db"
    assert port.focal_px == pytest.approx(land.focal_px) == pytest.approx(3.61 / 6.17 * 64)


# --- pixels: size, depth, XMP in TIFF --------------------------------------------------------


def test_decompression_bomb_is_skipped(tmp_path: Path) -> None:
    """A header claiming 900 megapixels: Pillow refuses it (was an uncaught exception)."""
    p = jpeg(tmp_path / "big.jpg")
    p.write_bytes(claim_size(p.read_bytes(), 30000, 30000))
    good, bad = read_photos([p])
    assert not good
    assert bad[0].reason == "image too large (over 179 megapixels): downscale it first"


def test_large_photo_reads_without_a_warning(tmp_path: Path) -> None:
    """100 megapixels (a Phase One iXM-100 frame): read at 1/8 scale, no warning line."""
    p = jpeg(tmp_path / "big.jpg")
    p.write_bytes(claim_size(p.read_bytes(), 11664, 8750))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # DecompressionBombWarning would raise here
        m = read_photo(p)
    assert (m.width_px, m.height_px) == (11664, 8750)


def _tiff_photo(
    path: Path, bits: int, xmp: bytes | None = None, size: tuple[int, int] = (64, 48)
) -> Path:
    w, h = size
    spp = 1 if bits == 16 else 3
    pixels = bytes(w * h * spp * bits // 8)
    ifd0: list[Entry] = [
        *CAMERA,
        (256, "SHORT", (w,)),
        (257, "SHORT", (h,)),
        (258, "SHORT", (bits,) * spp),
        (259, "SHORT", (1,)),
        (262, "SHORT", (1 if spp == 1 else 2,)),
        (273, "LONG", (8,)),
        (277, "SHORT", (spp,)),
        (278, "SHORT", (h,)),
        (279, "LONG", (len(pixels),)),
    ]
    if xmp is not None:
        ifd0.append((700, "BYTE", xmp))
    path.write_bytes(tiff_bytes(ifd0, FOCAL, GPS_OK, blob=pixels))
    return path


def test_sixteen_bit_tiff_is_skipped_by_the_local_engine(tmp_path: Path) -> None:
    """P4 Multispectral band TIFFs are 16-bit: the local engine reads pixels as 8-bit, where
    Pillow clips them all to white, so its input selection skips them (NodeODM takes them)."""
    p = _tiff_photo(tmp_path / "band.tif", 16)
    with Image.open(p) as im:
        assert im.mode.startswith("I;16")  # the file is what it claims
    meta = read_photo(p)
    assert meta.sample_bits == 16 and meta.lat_deg == pytest.approx(LAT)
    job = Job(paths=[p], opts=ProcessOptions(out_dir=tmp_path / "o"), progress=SilentProgress())
    with pytest.raises(BadInputError) as exc:
        step_read(job)
    assert job.skipped[0].reason == (
        "16-bit samples (the local engine would read them as white): "
        "save it as 8-bit RGB, or use --engine nodeodm"
    )
    assert "band.tif: skipped: 16-bit samples" in str(exc.value)


def test_eight_bit_tiff_reads_gps(tmp_path: Path) -> None:
    m = read_photo(_tiff_photo(tmp_path / "rgb.tif", 8))
    assert m.sample_bits == 8
    assert (m.lat_deg, m.lon_deg, m.alt_m) == (pytest.approx(LAT), pytest.approx(LON), 350.5)


def test_xmp_after_the_pixels_of_a_tiff(tmp_path: Path) -> None:
    """DJI's TIFFs keep the XMP (tag 700) after the pixel data, past the first 256 KiB."""
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        b'drone-dji:RelativeAltitude="+120.99" drone-dji:GimbalPitchDegree="-89.90" '
        b'drone-dji:FlightYawDegree="-48.20"/></rdf:RDF></x:xmpmeta>'
    )
    p = _tiff_photo(tmp_path / "x.tif", 8, xmp=xmp, size=(400, 300))
    assert p.read_bytes().find(b"drone-dji:") > 256 * 1024
    m = read_photo(p)
    assert (m.relative_alt_m, m.gimbal_pitch_deg, m.flight_yaw_deg) == (120.99, -89.9, -48.2)
    assert math.isclose(m.lat_deg, LAT)
