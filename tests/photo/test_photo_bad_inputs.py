"""``photo process`` bad inputs, second table: what an outside tester tries.

Same contract as :mod:`test_photo_cli`: one subprocess per case on inputs made here, the exit
code, stderr ending in exactly one ``error: ...`` line matching the case, no traceback, no
Pillow warning lines, no product written. A bad photo among two good ones is named in the
"only 2 usable photos" line with the reason it was skipped. The comment above a case says what
it did before it was fixed; a case without one was already handled.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from photo_testkit import Entry, claim_size, one_error_line, tiff_bytes
from PIL import Image

PRODUCTS = ("orthophoto.tif", "dsm.tif", "points.laz", "report.json")
#: a line of COLMAP's C++ logger (glog): ``E20261204 16:04:24.091176 140474545171328 sfm.cc:…``
GLOG_LINE = re.compile(r"^[IWEF]\d{8} \d\d:\d\d:\d\d\.\d+ +\d+ ")
SKIPPED = r"only 2 usable photos \(at least 3 are needed\); .*{file}: skipped: "


@dataclass(frozen=True)
class Case:
    id: str
    #: ``{one}``, ``{one2}``, ``{one3}``: good Toledo photos; ``{o}``: the output folder; other
    #: names: files made by the ``inputs`` fixture
    argv: tuple[str, ...]
    code: int
    pattern: str
    #: a file size limit (``ulimit -f``, KiB): a disk that fills up
    fsize_kib: int | None = None


def bad_photo(case_id: str, stem: str, reason: str) -> Case:
    """A bad photo ``{stem}.jpg`` given with two good ones: skipped, for ``reason``."""
    argv = ("photo", "process", "{%s}" % stem, "{one}", "{one2}", "-o", "{o}")  # noqa: UP031
    return Case(case_id, argv, 2, SKIPPED.format(file=re.escape(stem + ".jpg")) + reason)


PLZEN: tuple[str, ...] = ("photo", "process", "{plzen}", "-o", "{o}")
THREE: tuple[str, ...] = ("photo", "process", "{one}", "{one2}", "{one3}", "-o", "{o}")

CASES = [
    # --- files that are not photos ------------------------------------------------------------
    bad_photo("bomb-60k", "bomb", r"image too large \(over 179 megapixels\)"),
    bad_photo("truncated-half", "half", r"not a readable image \(image file is truncated"),
    bad_photo("zero-bytes", "empty", r"not an image file"),
    bad_photo("png-renamed", "png", r"no EXIF metadata$"),
    bad_photo("heic-renamed", "heic", r"not an image file"),
    # was taken as a folder of photos and silently dropped
    Case("folder-named-jpg", ("photo", "process", "{dirjpg}", "{one}", "{one2}", "-o", "{o}"), 2,
         r"dir\.jpg: no photos \(\.jpg, .*\) directly in this folder"),
    # was "no images given": the photos are in DCIM/100MEDIA
    Case("dcim-folder", ("photo", "process", "{dcim}", "-o", "{o}"), 2,
         r"DCIM: no photos .* its subfolders are not searched"),
    # hung for ever: the read of a named pipe waits for a writer
    bad_photo("named-pipe", "pipe", r"not a regular file \(a folder, named pipe or device\)$"),
    # was "internal error: RuntimeError: Symlink loop from ..."
    bad_photo("symlink-loop", "symloop",
              r"cannot be read \(too many symbolic links \(a loop\?\)\)$"),
    # was read to the end: the memory filled up
    Case("dev-zero", ("photo", "process", "/dev/zero", "{one}", "{one2}", "-o", "{o}"), 2,
         r"only 2 usable photos .*/dev/zero: skipped: not a regular file"),
    # was taken as a fourth view with no baseline, its GPS position counted twice
    Case("copy-of-a-photo", ("photo", "process", "{one}", "{copy}", "{one2}", "-o", "{o}"), 2,
         r"only 2 usable photos .*DJI_0061 - Copy\.JPG: skipped: a copy of .*DJI_0061\.JPG "
         r"\(the same bytes\)$"),
    # --- EXIF blocks -----------------------------------------------------------------------
    # these three printed Pillow's UserWarning and its source line on stderr
    bad_photo("exif-truncated", "exifcut",
              r"no GPS position in EXIF \(the EXIF block is corrupt: Truncated File Read\)"),
    bad_photo("exif-entry-count", "exifcount",
              r"no EXIF metadata \(the EXIF block is corrupt: Corrupt EXIF data"),
    bad_photo("exif-tag-past-end", "exiflen",
              r"no EXIF metadata \(the EXIF block is corrupt: Tag data larger than file"),
    bad_photo("exif-gps-ifd-loop", "loop", r"no GPS position in EXIF$"),
    # --- GPS -----------------------------------------------------------------------------
    bad_photo("gps-zero-denominator", "inf", r"GPS position in EXIF is empty"),
    bad_photo("gps-lat-91", "lat91", r"GPS position in EXIF is invalid \(91\.000000, "),
    bad_photo("gps-null-island", "null", r"GPS position in EXIF is 0, 0"),
    # these three were taken: "no model could be built" (exit 1) after the matching
    bad_photo("gps-alt-1e9", "alt1e9", r"GPS altitude in EXIF is implausible \(1000000000 m"),
    bad_photo("gps-alt-minus-1e6", "altneg",
              r"GPS altitude in EXIF is implausible \(-1000000 m"),
    bad_photo("gps-ref-garbage", "ref", r"GPS latitude reference in EXIF is 'Q', not N or S"),
    # --- camera ----------------------------------------------------------------------------
    bad_photo("focal-zero", "f0", r"unknown camera DJI FC350 and no FocalLengthIn35mmFilm"),
    # these three were taken with a focal length of 1e10 px, 1.85 px, 0.6 px
    bad_photo("focal-1e9-mm", "fbig", r"focal length in EXIF is implausible \(5\.61e\+09 mm"),
    bad_photo("focal-35mm-1", "f35", r"focal length in EXIF is implausible \(1 mm"),
    bad_photo("one-pixel", "tiny", r"image too small \(1 × 1 pixels"),
    # --- options ---------------------------------------------------------------------------
    Case("resolution-nan", ("photo", "process", "{one}", "-o", "{o}", "--resolution-cm", "nan"),
         2, r"--resolution-cm must be between"),
    # the next three were an "internal error: TypeError" at feature extraction, or no limit
    Case("max-image-px-huge", ("photo", "process", "{one}", "-o", "{o}", "--max-image-px",
                               "99999999999999999999"), 2, r"--max-image-px must be at most 20000"),
    Case("features-huge", ("photo", "process", "{one}", "-o", "{o}", "--features",
                           "99999999999999999999"), 2, r"--features must be at most 200000"),
    Case("ortho-memory-huge", ("photo", "process", "{one}", "-o", "{o}", "--ortho-memory-mb",
                               "99999999999999999999"), 2,
         r"--ortho-memory-mb must be at most this computer's memory"),
    # an empty -o / photo path was the current folder
    Case("out-empty", ("photo", "process", "{one}", "-o", ""), 2, r"the output path is empty"),
    Case("photo-path-empty", ("photo", "process", "", "{one}", "-o", "{o}"), 2,
         r"an empty path is given as a photo or folder"),
    Case("out-in-proc", ("photo", "process", "{one}", "-o", "/proc/x/out"), 2,
         r"cannot write /proc/x/out"),
    # was "internal error: ValueError: Invalid IPv6 URL"
    Case("node-broken-ipv6", ("photo", "process", "{one}", "-o", "{o}", "--engine", "nodeodm",
                              "--node", "http://[::1"), 2, r"--node must be an http\(s\) URL"),
    # --- CRS -------------------------------------------------------------------------------
    # Web Mercator / a projection centred elsewhere: products 34 % / 56 % too large (exit 0)
    Case("crs-web-mercator", (*THREE, "--crs", "EPSG:3857"), 2,
         r"--crs: WGS 84 / Pseudo-Mercator distorts lengths at the photos by 33\.\d % "
         r".* e\.g\. EPSG:32617"),
    Case("crs-far-projection", (*THREE, "--crs", "+proj=ortho +lat_0=49 +lon_0=13"), 2,
         r"--crs: .* distorts lengths at the photos by"),
    # a compound CRS had no area of use checked: Toledo in Krovák, "GSD 0.0 cm" (exit 0); a
    # vertical datum is refused now (the GPS heights are not converted to it)
    Case("crs-compound-elsewhere", (*THREE, "--crs", "EPSG:5514+5705"), 2,
         r"--crs: S-JTSK / Krovak East North \+ Baltic 1977 height has a vertical datum, but the "
         r"heights are the photos' GPS altitudes, not converted to it; give its horizontal part, "
         r"EPSG:5514"),
    Case("crs-local-wkt", (*THREE, "--crs", 'ENGCRS["site",EDATUM["s"],CS[Cartesian,2],'
                           'AXIS["x",east],AXIS["y",north],LENGTHUNIT["metre",1]]'), 2,
         r"--crs must be a projected CRS in metres, not site"),
    # --- the capture -----------------------------------------------------------------------
    # these two were found after the matching: "no model could be built", "could not be aligned"
    Case("photos-240-km-apart", ("photo", "process", "{spread}", "-o", "{o}"), 2,
         r"brno\.jpg: the photos' GPS positions span \d+ km, more than one capture"),
    Case("photos-one-position", ("photo", "process", "{same}", "-o", "{o}"), 2,
         r"the photos all have the same GPS position \(within 0\.\d m\)"),
    # three plain green photos: COLMAP finds nothing to map; its own log line
    # "E20261204 16:04:24.091176 … sfm.cc:310] Failed to create any sparse model" came first
    Case("photos-without-features", PLZEN, 1,
         r"^error: no model could be built: the photos do not overlap enough or have too few "
         r"features$"),
    Case("same-file-three-times", ("photo", "process", "{one}", "{one}", "{one}", "-o", "{o}"), 2,
         r"only 1 usable photo .*DJI_0061\.JPG: skipped: the same file is given twice "
         r"\(and 1 more skipped\)"),
    # --- a full disk ----------------------------------------------------------------------
    # COLMAP's database code aborted the process on the first features (exit 134, a C++ stack
    # dump on stderr, the .photo-work-* folder left in the output folder)
    Case("full-disk-300-kib", THREE, 1,
         r"^error: not enough space in .*/out: the COLMAP database of 3 photos takes about "
         r"[\d.]+ MB in one file, the file size limit \(ulimit -f\) is 0\.3 MB$", fsize_kib=300),
    Case("full-disk-3000-kib", THREE, 1,
         r"^error: not enough space in .*/out: .* the file size limit \(ulimit -f\) is 2\.9 MB$",
         fsize_kib=3000),
    # --- --dem -----------------------------------------------------------------------------
    Case("dem-elsewhere", (*THREE, "--dem", "{dem_plzen}"), 2,
         r"dem_plzen\.tif: the DEM does not cover the photographed area"),
    # these two were found after the matching (minutes on a real set)
    Case("dem-all-nodata", (*PLZEN, "--dem", "{dem_nodata}"), 2,
         r"dem_nodata\.tif: the DEM has no data under any photo position"),
    # was taken: the orthophoto covered 10 m² (exit 0)
    Case("dem-undeclared-nodata", (*PLZEN, "--dem", "{dem_huge}"), 2,
         r"dem_huge\.tif: the DEM holds heights of 3e\+38 m .* is its no-data value declared"),
    # was read, then replaced by this run's dsm.tif
    Case("dem-is-the-output-dsm", ("photo", "process", "{plzen}", "-o", "{prev}", "--dem",
                                   "{prev}/dsm.tif"), 2,
         r"prev/dsm\.tif: --dem is the dsm\.tif this run writes into"),
]  # fmt: skip


def _dms(deg: float) -> tuple[tuple[int, int], ...]:
    d = int(deg)
    m = int((deg - d) * 60)
    s = round(((deg - d) * 60 - m) * 60 * 100)
    return ((d, 1), (m, 1), (s, 100))


CAMERA: list[Entry] = [(0x010F, "ASCII", "DJI"), (0x0110, "ASCII", "FC350")]
FOCAL: list[Entry] = [(0x920A, "RATIONAL", ((361, 100),))]


def gps(lat: float = 49.7479, lon: float = 13.3779, alt: tuple[int, int] = (350, 1)) -> list[Entry]:
    return [
        (1, "ASCII", "N"),
        (2, "RATIONAL", _dms(lat)),
        (3, "ASCII", "E"),
        (4, "RATIONAL", _dms(lon)),
        (6, "RATIONAL", (alt,)),
    ]


def _replace(entries: list[Entry], *new: Entry) -> list[Entry]:
    tags = {t for t, _, _ in new}
    return [e for e in entries if e[0] not in tags] + list(new)


def jpeg(
    path: Path,
    gps_tags: list[Entry] | None = None,
    exif: list[Entry] = FOCAL,
    size: tuple[int, int] = (160, 120),
    exif_block: bytes | None = None,
) -> str:
    block = exif_block or b"Exif\0\0" + tiff_bytes(
        CAMERA, exif, gps() if gps_tags is None else gps_tags
    )
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 120, 60)).save(buf, "JPEG", exif=block)
    path.write_bytes(buf.getvalue())
    return str(path)


def _dem(path: Path, z: float, nodata: float | None = None) -> str:
    """A 50 × 50 GeoTIFF (EPSG:4326, 0.0005° cells) over Plzeň holding ``z`` everywhere."""
    import rasterio
    from rasterio.transform import Affine

    data = np.full((50, 50), z, dtype=np.float32)
    with rasterio.open(
        path, "w", driver="GTiff", width=50, height=50, count=1, dtype="float32",
        crs="EPSG:4326", transform=Affine(0.0005, 0.0, 13.365, 0.0, -0.0005, 49.76), nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(data, 1)
    return str(path)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, toledo_dir: Path) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad_inputs")
    raw = (toledo_dir / "DJI_0061.JPG").read_bytes()
    files: dict[str, str] = {}

    def put(stem: str, data: bytes) -> None:
        (d / f"{stem}.jpg").write_bytes(data)
        files[stem] = str(d / f"{stem}.jpg")

    def photo(stem: str, **kw: object) -> None:
        files[stem] = jpeg(d / f"{stem}.jpg", **kw)  # type: ignore[arg-type]

    put("bomb", claim_size(raw, 60000, 60000))
    put("half", raw[: len(raw) // 2])
    put("empty", b"")
    buf = io.BytesIO()
    Image.new("RGB", (160, 120)).save(buf, "PNG")
    put("png", buf.getvalue())
    put("heic", b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(100))
    os.mkfifo(d / "pipe.jpg")
    files["pipe"] = str(d / "pipe.jpg")
    os.symlink("symloop.jpg", d / "symloop.jpg")
    files["symloop"] = str(d / "symloop.jpg")
    shutil.copy(toledo_dir / "DJI_0061.JPG", d / "DJI_0061 - Copy.JPG")
    files["copy"] = str(d / "DJI_0061 - Copy.JPG")
    good = b"Exif\0\0" + tiff_bytes(CAMERA, FOCAL, gps())
    photo("exifcut", exif_block=good[:40])
    head = b"Exif\0\0II*\0\x08\0\0\0"  # TIFF header, IFD0 at byte 8
    photo("exifcount", exif_block=head + b"\xff\xff")  # 65535 entries, none there
    entry = (0x010F).to_bytes(2, "little") + b"\2\0" + (0x7FFFFFFF).to_bytes(4, "little")
    photo("exiflen", exif_block=head + b"\1\0" + entry + b"d\0\0\0" + bytes(4))
    gps_self = (0x8825).to_bytes(2, "little") + b"\4\0\1\0\0\0\x08\0\0\0"  # GPS IFD = IFD0
    photo("loop", exif_block=head + b"\1\0" + gps_self + bytes(4))
    g = gps()
    photo("inf", gps_tags=_replace(g, (2, "RATIONAL", ((1, 0), (0, 1), (0, 1)))))
    photo("lat91", gps_tags=_replace(g, (2, "RATIONAL", _dms(91.0))))
    photo("null", gps_tags=_replace(g, (2, "RATIONAL", _dms(0.0)), (4, "RATIONAL", _dms(0.0))))
    photo("alt1e9", gps_tags=gps(alt=(1_000_000_000, 1)))
    photo("altneg", gps_tags=_replace(gps(alt=(1_000_000, 1)), (5, "BYTE", (1,))))
    photo("ref", gps_tags=_replace(g, (1, "ASCII", "Q")))
    photo("f0", exif=[(0x920A, "RATIONAL", ((0, 1),))])
    photo("fbig", exif=[(0x920A, "RATIONAL", ((1_000_000_000, 1),))])
    photo("f35", exif=[(0xA405, "SHORT", (1,))])
    photo("tiny", size=(1, 1))
    (d / "dir.jpg").mkdir()
    (d / "DCIM" / "100MEDIA").mkdir(parents=True)
    shutil.copy(toledo_dir / "DJI_0061.JPG", d / "DCIM" / "100MEDIA")
    # three photos over Plzeň (160 × 120: the local engine takes them), two in Plzeň and one
    # in Brno (240 km), three at one position; DEMs over Plzeň
    for sub, places in {
        "plzen": [(49.7479, 13.3779), (49.7482, 13.3785), (49.7476, 13.3791)],
        "spread": [(49.7479, 13.3779), (49.7482, 13.3785), (49.1951, 16.6068)],
        "same": [(49.7479, 13.3779)] * 3,
    }.items():
        (d / sub).mkdir()
        for i, (lat, lon) in enumerate(places):
            name = "brno.jpg" if lon > 16 else f"p{i}.jpg"
            # three shots at one position differ in their time (the same bytes: a copy)
            taken: list[Entry] = [(0x9003, "ASCII", f"2024:05:01 10:00:0{i}")]
            jpeg(
                d / sub / name,
                gps(lat, lon, (350 + i % 2, 1) if sub != "same" else (350, 1)),
                exif=[*FOCAL, *taken],
            )
        files[sub] = str(d / sub)
    files["dem_plzen"] = _dem(d / "dem_plzen.tif", 350.0)
    files["dem_nodata"] = _dem(d / "dem_nodata.tif", -9999.0, nodata=-9999.0)
    files["dem_huge"] = _dem(d / "dem_huge.tif", 3e38)
    (d / "prev").mkdir()
    shutil.copy(d / "dem_plzen.tif", d / "prev" / "dsm.tif")
    return {
        **files,
        "dirjpg": str(d / "dir.jpg"),
        "dcim": str(d / "DCIM"),
        "prev": str(d / "prev"),
        "one": str(toledo_dir / "DJI_0061.JPG"),
        "one2": str(toledo_dir / "DJI_0062.JPG"),
        "one3": str(toledo_dir / "DJI_0063.JPG"),
    }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, inputs: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    prev_dsm = Path(inputs["prev"]) / "dsm.tif"
    before = prev_dsm.read_bytes()
    argv = [a.format_map({"o": out, **inputs}) for a in case.argv]
    lines = one_error_line(argv, case.code, case.pattern, case.fsize_kib)
    assert not [ln for ln in lines if "UserWarning" in ln or "warnings.warn" in ln], lines
    assert not [ln for ln in lines if GLOG_LINE.match(ln)], lines  # COLMAP's C++ log
    assert not any(ln.startswith("error") for ln in lines[:-1])
    for name in PRODUCTS:
        assert not (out / name).exists()
    assert not list(out.glob(".photo-work-*"))  # nor the COLMAP workspace
    assert prev_dsm.read_bytes() == before  # the --dem given is never replaced


def test_colmaps_log_is_kept_in_the_workspace_not_on_the_console(
    inputs: dict[str, str], tmp_path: Path
) -> None:
    """COLMAP's reason stays reachable: with ``-v`` as one INFO line of ours, with
    ``--keep-work`` in the workspace's ``colmap.log.*``; glog writes no files in TMPDIR."""
    import os
    import subprocess
    import sys

    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    out = tmp_path / "out"
    argv = ["-v", "photo", "process", inputs["plzen"], "-o", str(out), "--keep-work"]
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *argv],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1, proc.stderr
    assert lines[-1].startswith("error: no model could be built"), proc.stderr
    assert not [ln for ln in lines if GLOG_LINE.match(ln)], lines
    assert [ln for ln in lines if re.match(r"INFO photo\.sfm: COLMAP: sfm\.cc:\d+\] ", ln)], lines
    (log,) = out.glob(".photo-work-*/colmap.log.*")
    assert "Failed to create any sparse model" in log.read_text()
    assert not [p.name for p in tmp.iterdir() if ".log." in p.name]


def _three(inputs: dict[str, str]) -> list[str]:
    return [inputs["one"], inputs["one2"], inputs["one3"]]


def test_a_disk_without_room_for_the_run_is_refused_before_colmap(
    inputs: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The free space of the output folder below the run's estimate (the COLMAP database and the
    products): one line naming the folder, the estimate and what is free; nothing left."""
    from collections import namedtuple

    import photo.pipeline as pipeline
    from dronekit_plzen.errors import StorageError

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(pipeline.shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 10**6, 10**6))
    extracted: list[object] = []
    monkeypatch.setattr(pipeline.sfm, "extract", lambda *a, **k: extracted.append(a))
    out = tmp_path / "out"
    with pytest.raises(StorageError) as exc:
        pipeline.process(_three(inputs), pipeline.ProcessOptions(out_dir=out))
    assert re.fullmatch(
        rf"not enough space in {re.escape(str(out))}: this run writes about \d+ MB \(the COLMAP "
        r"database of 3 photos and the products\), 1\.0 MB are free",
        str(exc.value),
    ), exc.value
    assert exc.value.exit_code == 1 and not extracted
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("fail", "pattern"),
    [
        (OSError(28, "No space left on device"), r"/images: no space left on the device$"),
        (RuntimeError("[database_sqlite.cc:603] SQLite error: disk I/O error"),
         r"/colmap\.db: the file could not be written completely \(disk full\?\)$"),
    ],
    ids=["oserror-enospc", "colmap-sqlite-error"],
)  # fmt: skip
def test_a_write_failure_in_the_workspace_is_one_line_and_removes_it(
    fail: Exception,
    pattern: str,
    inputs: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The disk filling up after the check (another program's files): the workspace's links
    (an OSError) or COLMAP's database where pycolmap raises (a RuntimeError) were an internal
    error naming ``OSError`` / ``RuntimeError``; now ``cannot write <file>: <reason>``."""
    import photo.pipeline as pipeline
    from dronekit_plzen.errors import StorageError

    def extract(photos: object, db: Path, root: Path, *a: object, **k: object) -> None:
        if isinstance(fail, OSError):
            raise OSError(fail.errno, fail.strerror, str(root))
        raise fail

    monkeypatch.setattr(pipeline.sfm, "extract", extract)
    out = tmp_path / "out"
    with pytest.raises(StorageError) as exc:
        pipeline.process(_three(inputs), pipeline.ProcessOptions(out_dir=out))
    assert re.search(rf"^cannot write {re.escape(str(out))}/\.photo-work-[^/]+" + pattern,
                     str(exc.value)), exc.value  # fmt: skip
    assert list(out.iterdir()) == []  # the workspace is removed


def test_more_than_ten_skipped_photos_are_listed_with_v_when_no_report_is_written(
    inputs: dict[str, str], tmp_path: Path
) -> None:
    """Every photo skipped: the console counted the photos beyond the tenth "(report.json lists
    every skipped photo and why)", but a run that stops there writes no report.json. With -v
    each one is listed; the count line says so."""
    folder = tmp_path / "thumbs"
    folder.mkdir()
    for k in range(12):
        Image.new("RGB", (64, 48)).save(folder / f"thumb_{k:02d}.jpg")
    out = tmp_path / "out"
    for verbose in ((), ("-v",)):
        lines = one_error_line(
            [*verbose, "photo", "process", str(folder), "-o", str(out)], 2,
            r"only 0 usable photos .*thumb_00\.jpg: skipped: no EXIF metadata "
            r"\(and 11 more skipped\)$",
        )  # fmt: skip
        assert not (out / "report.json").exists()
        assert not [ln for ln in lines if "report.json lists" in ln], lines
        count = [ln for ln in lines if "more photos skipped" in ln]
        assert count == ["WARNING photo.pipeline: 2 more photos skipped (-v lists them, and so "
                         "does report.json when the run completes)"], lines  # fmt: skip
        named = [k for k in range(12) if any(f"thumb_{k:02d}.jpg: skipped" in ln for ln in lines)]
        assert named == list(range(12 if verbose else 10)), lines
