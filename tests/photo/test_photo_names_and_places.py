"""File names, camera names and places an outside check fed ``photo process``.

Each test failed on the code before it: a photo whose file name is not UTF-8 (a card read with
a Windows-1250 reader) stopped COLMAP's feature extraction with an internal error, then
report.json; a Make tag typed BYTE or a Model holding ``/`` went into a workspace folder name;
``photo process DIR -o DIR`` run twice took the first run's orthophoto.tif as a photo and
refused to write it at the end; a capture over the antimeridian was put in a UTM zone on the
other side of the Earth.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from photo_testkit import Entry, tiff_bytes
from PIL import Image

from photo import georef, products, sfm
from photo.exif import read_photo, read_photos
from photo.pipeline import expand_inputs

GPS: list[Entry] = [
    (1, "ASCII", "N"),
    (2, "RATIONAL", ((49, 1), (44, 1), (5230, 100))),
    (3, "ASCII", "E"),
    (4, "RATIONAL", ((13, 1), (22, 1), (4050, 100))),
    (6, "RATIONAL", ((350, 1),)),
]


def _jpeg(
    path: Path | bytes, ifd0: list[Entry] | None = None, shade: int = 60, focal_mm_100: int = 361
) -> Path:
    ifd0 = ifd0 or [(0x010F, "ASCII", "DJI"), (0x0110, "ASCII", "FC350")]
    exif: list[Entry] = [(0x920A, "RATIONAL", ((focal_mm_100, 100),)), (0xA405, "SHORT", (20,))]
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, shade)).save(
        buf, "JPEG", exif=b"Exif\0\0" + tiff_bytes(ifd0, exif, GPS)
    )
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return Path(os.fsdecode(path))


def test_a_file_name_that_is_not_utf8_gets_a_utf8_job_name(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/DJI_\xff\xfe0064.JPG"  # Windows-1250 bytes, not UTF-8
    path = _jpeg(raw)
    (meta,), bad = read_photos([path])
    assert not bad
    assert meta.job_name == "DJI_\ufffd\ufffd0064.JPG"
    sfm.image_name(meta).encode("utf-8")  # COLMAP's image names must be UTF-8 (was a TypeError)
    assert meta.path == path  # the file itself is still read by its real name


def test_json_products_with_such_a_name_are_utf8(tmp_path: Path) -> None:
    """report.json and cameras.geojson name the photos: it was a UnicodeEncodeError."""
    name = os.fsdecode(b"DJI_\xff0064.JPG")
    products.write_json(tmp_path / "r.json", {"skipped": [{"file": name}], name: 1})
    text = (tmp_path / "r.json").read_bytes().decode("utf-8")  # strict
    clean = "DJI_\ufffd0064.JPG"
    assert json.loads(text) == {"skipped": [{"file": clean}], clean: 1}
    products.write_report_html(tmp_path / "r.html", {"warnings": [name], "skipped": []}, None)
    assert "DJI_\ufffd0064.JPG" in (tmp_path / "r.html").read_bytes().decode("utf-8")


def test_odd_camera_names_make_one_plain_workspace_folder(tmp_path: Path) -> None:
    """Make typed BYTE was read as the text "b'DJI\\x00'"; a "/" in Model made nested
    workspace folders."""
    ifd0: list[Entry] = [(0x010F, "BYTE", b"DJI\0"), (0x0110, "ASCII", "FC350/../x")]
    meta = read_photo(_jpeg(tmp_path / "a.jpg", ifd0))
    assert meta.make == "DJI"
    assert meta.camera_key == "DJI_FC350-..-X_64x48_f37px"
    assert "/" not in meta.camera_key


def test_one_camera_at_two_focal_lengths_is_two_sets_of_intrinsics(tmp_path: Path) -> None:
    """A zoom (or a digital zoom) at 2x: the photos had been given the wide ones' focal length
    (grouped by make, model and size), and placed 55 m off their GPS heights, exit 0."""
    wide = read_photo(_jpeg(tmp_path / "wide.jpg"))
    tele = read_photo(_jpeg(tmp_path / "tele.jpg", focal_mm_100=722))
    assert tele.focal_px == pytest.approx(2 * wide.focal_px)
    assert wide.camera_key != tele.camera_key
    assert wide.camera_key == read_photo(_jpeg(tmp_path / "wide2.jpg", shade=90)).camera_key


def test_the_output_folder_given_as_the_photos_folder_leaves_out_its_products(
    tmp_path: Path,
) -> None:
    """``photo process DIR -o DIR``, run again: the first run's orthophoto.tif, dsm.tif,
    dtm.tif and preview were photos of the second, which then refused to write them
    ("it is an input of this command") after all the work."""
    for i in range(3):
        _jpeg(tmp_path / f"DJI_000{i}.JPG", shade=i)
    for name in ("orthophoto.tif", "dsm.tif", "dtm.tif", "orthophoto_preview.png"):
        (tmp_path / name).write_bytes(b"II*\0")
    photos = [f"DJI_000{i}.JPG" for i in range(3)]
    assert [p.name for p in expand_inputs([tmp_path], tmp_path)] == photos
    assert [p.name for p in expand_inputs([tmp_path], tmp_path / ".")] == photos
    # another output folder: the folder's files are all candidates, as before
    assert len(expand_inputs([tmp_path], tmp_path / "out")) == 7


def test_a_photo_given_as_a_symlink_loop_is_named_not_missing(tmp_path: Path) -> None:
    os.symlink("loop.jpg", tmp_path / "loop.jpg")
    assert expand_inputs([tmp_path / "loop.jpg"]) == [tmp_path / "loop.jpg"]
    _good, (bad,) = read_photos([tmp_path / "loop.jpg"])
    assert bad.reason == "cannot be read (too many symbolic links (a loop?))"


@pytest.mark.parametrize(
    ("lons", "zones"),
    [
        ((179.9998, -179.9998, -179.9997, 179.9999), (1, 60)),  # over the antimeridian
        ((179.8, 179.9), (60,)),
        ((-179.9, -179.8), (1,)),
        ((13.37, 13.38), (33,)),
    ],
    ids=["antimeridian", "zone-60", "zone-1", "plzen"],
)
def test_utm_zone_of_a_capture(lons: tuple[float, ...], zones: tuple[int, ...]) -> None:
    """A capture over 180° chose EPSG:32630 (the midpoint of -179.9998 and 179.9998 is 0°):
    the products came out at northings of 15,000 km, outside that zone's area."""
    crs = georef.output_crs([_meta(lon, 41.5) for lon in lons])
    epsg = crs.to_epsg()
    assert epsg is not None and epsg - 32600 in zones
    lon = np.array(lons)
    assert georef.scale_error(crs, float(lon[0]), 41.5) < 1e-3


def _meta(lon: float, lat: float) -> object:
    from photo.exif import PhotoMeta

    return PhotoMeta(
        path=Path("x.jpg"), make="DJI", model="FC350", width_px=4000, height_px=3000,
        lat_deg=lat, lon_deg=lon, alt_m=100.0, focal_mm=3.61, focal_35mm=None,
        focal_px=2340.0, focal_source="exif_mm+sensor_db",
    )  # fmt: skip
