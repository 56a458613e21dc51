"""Photo metadata: EXIF of the real Toledo photos, DJI XMP, the camera database, bad photos."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from PIL import Image

from photo.exif import (
    CAMERAS,
    PhotoSkip,
    focal_px_for,
    lookup_sensor,
    parse_dji_xmp,
    read_photo,
    read_photos,
)

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
    b'drone-dji:AbsoluteAltitude="+412.50" drone-dji:RelativeAltitude="+80.10" '
    b'drone-dji:GimbalRollDegree="+0.00" drone-dji:GimbalYawDegree="-35.40" '
    b'drone-dji:FlightPitchDegree="+2.10" drone-dji:FlightYawDegree="-34.90">'
    b"<drone-dji:GimbalPitchDegree>-89.90</drone-dji:GimbalPitchDegree>"
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
)


def _with_xmp(jpeg: bytes, xmp: bytes) -> bytes:
    """Insert an XMP APP1 segment right after the JPEG's SOI marker."""
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    seg = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + seg + jpeg[2:]


def test_toledo_fc350(toledo_dir: Path) -> None:
    p = read_photo(toledo_dir / "DJI_0061.JPG")
    assert (p.make, p.model, p.width_px, p.height_px) == ("DJI", "FC350", 1600, 1200)
    assert p.lat_deg == pytest.approx(41.548596, abs=1e-5)
    assert p.lon_deg == pytest.approx(-83.698649, abs=1e-5)  # west is negative
    assert p.alt_m == pytest.approx(119.7)
    assert p.focal_mm == pytest.approx(3.61) and p.focal_35mm == 20.0
    assert p.focal_px == pytest.approx(3.61 / 6.17 * 1600)
    assert p.focal_source == "exif_mm+sensor_db"
    assert p.camera_key == "DJI_FC350_1600x1200_f936px"
    assert p.gimbal_pitch_deg is None  # the 2015 set carries no XMP


def test_toledo_two_cameras(toledo_dir: Path) -> None:
    good, bad = read_photos(sorted(toledo_dir.glob("*.JPG")))
    assert not bad and len(good) == 57
    keys = {p.camera_key for p in good}
    assert keys == {"DJI_FC350_1600x1200_f936px", "DJI_FC300X_1600x1200_f936px"}
    assert sum(p.model == "FC300X" for p in good) == 10


def test_focal_from_35mm_uses_the_diagonal() -> None:
    f, src = focal_px_for("Acme", "X1", 4000, 3000, 8.8, 24.0) or (0.0, "")
    assert src == "exif_35mm"
    assert f == pytest.approx(24.0 / math.hypot(36, 24) * 5000)
    assert focal_px_for("Acme", "X1", 4000, 3000, 8.8, None) is None


def test_camera_database() -> None:
    assert lookup_sensor("DJI", "FC6310", 5472).width_mm == 13.2
    assert lookup_sensor("Hasselblad", "L1D-20c", 5472).width_mm == 13.2
    assert lookup_sensor("DJI", "M30T", 640).width_mm == pytest.approx(7.68)  # thermal core
    assert lookup_sensor("DJI", "M30T", 4000).width_mm == 6.4  # wide camera
    assert lookup_sensor("DJI", "FC999", 4000) is None
    assert all(s.width_mm > s.height_mm > 0 and s.note for s in CAMERAS.values())


def test_dji_xmp_attribute_and_element_forms() -> None:
    x = parse_dji_xmp(XMP)
    assert x == {
        "gimbal_pitch_deg": -89.9,
        "gimbal_yaw_deg": -35.4,
        "gimbal_roll_deg": 0.0,
        "flight_pitch_deg": 2.1,
        "flight_yaw_deg": -34.9,
        "relative_alt_m": 80.1,
    }
    assert parse_dji_xmp(b'drone-dji:GimbalPitchDegree="nan-ish"') == {}


def test_xmp_read_from_a_real_photo(toledo_dir: Path, tmp_path: Path) -> None:
    raw = (toledo_dir / "DJI_0062.JPG").read_bytes()
    p = tmp_path / "x.jpg"
    p.write_bytes(_with_xmp(raw, XMP))
    meta = read_photo(p)
    assert meta.gimbal_pitch_deg == -89.9 and meta.relative_alt_m == 80.1
    assert meta.model == "FC350"


def _bad_files(toledo_dir: Path, d: Path) -> dict[str, str]:
    """file name → expected reason fragment."""
    src = toledo_dir / "DJI_0063.JPG"
    raw = src.read_bytes()
    (d / "truncated.jpg").write_bytes(raw[: len(raw) // 3])
    (d / "notes.jpg").write_text("not a photo")
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(buf, format="JPEG")
    (d / "noexif.jpg").write_bytes(buf.getvalue())
    with Image.open(src) as im:
        exif = im.getexif()
        small = im.resize((160, 120))
    nogps = Image.Exif()
    nogps[0x010F], nogps[0x0110] = "DJI", "FC350"
    small.save(d / "nogps.jpg", exif=nogps.tobytes())
    exif[0x0110] = "FC999"
    ifd = exif.get_ifd(0x8769)
    ifd.pop(0xA405, None)
    small.save(d / "unknown.jpg", exif=exif.tobytes())
    return {
        "truncated.jpg": "not a readable image",
        "notes.jpg": "not an image file (JPEG, TIFF or PNG)",
        "noexif.jpg": "no EXIF",
        "nogps.jpg": "no GPS",
        "unknown.jpg": "unknown camera DJI FC999",
    }


def test_bad_photos_named_and_skipped(toledo_dir: Path, tmp_path: Path) -> None:
    expected = _bad_files(toledo_dir, tmp_path)
    good_one = toledo_dir / "DJI_0064.JPG"
    paths = [tmp_path / n for n in expected] + [good_one, good_one]
    good, bad = read_photos(paths)
    assert [p.path for p in good] == [good_one]
    reasons = {s.path.name: s.reason for s in bad}
    for name, frag in expected.items():
        assert frag in reasons[name], (name, reasons[name])
    assert "given twice" in reasons["DJI_0064.JPG"]
    assert all(str(s.path) in s.message() for s in bad)
    with pytest.raises(PhotoSkip):
        read_photo(tmp_path / "missing.jpg")


def test_same_file_name_from_two_flights_is_used_under_a_unique_name(
    toledo_dir: Path, tmp_path: Path
) -> None:
    """DJI numbers each flight's folder from DJI_0001: two folders' DJI_0001.JPG are two photos
    (the second was skipped as "the same file name"), the same file given twice is one."""
    import shutil

    a, b = tmp_path / "100MEDIA", tmp_path / "101MEDIA"
    a.mkdir()
    b.mkdir()
    shutil.copy(toledo_dir / "DJI_0064.JPG", a / "DJI_0001.JPG")
    shutil.copy(toledo_dir / "DJI_0065.JPG", b / "DJI_0001.JPG")
    good, bad = read_photos([a / "DJI_0001.JPG", b / "DJI_0001.JPG", a / "DJI_0001.JPG"])
    assert [p.job_name for p in good] == ["DJI_0001.JPG", "DJI_0001-101MEDIA.JPG"]
    assert [(s.path, s.reason) for s in bad] == [
        (a / "DJI_0001.JPG", "the same file is given twice")
    ]
    from photo.sfm import image_name

    assert len({image_name(p) for p in good}) == 2
