"""``photo process`` bad inputs: one subprocess per case, one ``error:`` line, the exit code.

Each case runs the real CLI on inputs made here and checks the exit code, that stderr ends in
exactly one ``error: ...`` line matching the case (no traceback, no ``internal error``) and
that no product was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from photo_testkit import claim_size, one_error_line, run_cli, tiff_bytes
from PIL import Image

PRODUCTS = ("orthophoto.tif", "dsm.tif", "points.laz", "report.json")


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # {bad}: folder of bad photos, {one}: one good photo, {o}: output
    code: int
    pattern: str


CASES = [
    Case("no-images", ("photo", "process", "-o", "{o}"), 2, r"no images given"),
    Case("missing-file", ("photo", "process", "{bad}/nope.jpg", "-o", "{o}"), 2,
         r"nope\.jpg: no such file or directory"),
    Case("all-bad", ("photo", "process", "{bad}", "-o", "{o}"), 2,
         r"only 0 usable photos \(at least 3 are needed\); .*: skipped: .* \(and \d more "),
    Case("too-few", ("photo", "process", "{one}", "-o", "{o}"), 2, r"only 1 usable photo "),
    Case("out-is-a-file", ("photo", "process", "{one}", "-o", "{bad}/notes.jpg"), 2,
         r"cannot write .*notes\.jpg: it exists and is not a directory"),
    Case("out-under-a-file", ("photo", "process", "{one}", "-o", "{bad}/notes.jpg/out"), 2,
         r"cannot write .*notes\.jpg/out"),
    # was found only after the photos were matched (minutes on a real set)
    Case("dem-garbage", ("photo", "process", "{one}", "-o", "{o}", "--dem", "{bad}/notes.jpg"), 2,
         r"notes\.jpg: not a readable raster"),
    Case("unknown-crs", ("photo", "process", "{one}", "-o", "{o}", "--crs", "EPSG:999999"), 2,
         r"unknown coordinate reference system"),
    Case("geographic-crs", ("photo", "process", "{one}", "-o", "{o}", "--crs", "EPSG:4326"), 2,
         r"--crs must be a projected CRS in metres"),
    Case("crs-elsewhere", ("photo", "process", "{bad}", "{one}", "{one2}", "{one3}", "-o", "{o}",
                           "--crs", "EPSG:5514"), 2,
         r"--crs: the photos \(41\.54\d+, -83\.69\d+\) lie outside the area of use of S-JTSK"),
    Case("bad-resolution", ("photo", "process", "{one}", "-o", "{o}", "--resolution-cm", "0"), 2,
         r"--resolution-cm must be between"),
    Case("tiny-ortho-memory", ("photo", "process", "{one}", "-o", "{o}", "--ortho-memory-mb",
                               "100"), 2, r"--ortho-memory-mb must be at least 256, got 100"),
    Case("missing-dem", ("photo", "process", "{one}", "-o", "{o}", "--dem", "{bad}/dem.tif"), 2,
         r"--dem .*dem\.tif: no such file"),
    Case("nodeodm-without-node", ("photo", "process", "{one}", "-o", "{o}", "--engine", "nodeodm"),
         2, r"--engine nodeodm needs --node URL"),
    Case("nodeodm-bad-url", ("photo", "process", "{one}", "-o", "{o}", "--engine", "nodeodm",
                             "--node", "ftp://x"), 2, r"--node must be an http\(s\) URL"),
    # a header claiming 900 megapixels: was a DecompressionBombError traceback
    Case("too-large", ("photo", "process", "{big}", "{one}", "{one2}", "-o", "{o}"), 2,
         r"only 2 usable photos .*big\.jpg: skipped: image too large \(over 179 megapixels\)"),
    # a 16-bit band TIFF (P4 Multispectral): was taken, and read as white for the orthophoto
    Case("sixteen-bit", ("photo", "process", "{band}", "{one}", "{one2}", "-o", "{o}"), 2,
         r"only 2 usable photos .*band\.tif: skipped: 16-bit samples .*--engine nodeodm"),
    Case("nodeodm-refused", ("photo", "process", "{one}", "{one2}", "{one3}", "-o", "{o}",
                             "--engine", "nodeodm", "--node", "http://127.0.0.1:9"), 1,
         r"127\.0\.0\.1:9: cannot reach the node"),
]  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, toledo_dir: Path) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad_photos")
    (d / "notes.jpg").write_text("not a photo")
    raw = (toledo_dir / "DJI_0061.JPG").read_bytes()
    (d / "cut.jpg").write_bytes(raw[:5000])
    odd = tmp_path_factory.mktemp("odd_photos")
    (odd / "big.jpg").write_bytes(claim_size(raw, 30000, 30000))
    with Image.open(toledo_dir / "DJI_0061.JPG") as im:
        exif = im.getexif()
    pixels = bytes(64 * 48 * 2)
    tags = [(0x010F, "ASCII", exif[0x010F]), (0x0110, "ASCII", exif[0x0110])]
    tags += [(256, "SHORT", (64,)), (257, "SHORT", (48,)), (258, "SHORT", (16,))]
    tags += [(259, "SHORT", (1,)), (262, "SHORT", (1,)), (273, "LONG", (8,))]
    tags += [(277, "SHORT", (1,)), (278, "SHORT", (48,)), (279, "LONG", (len(pixels),))]
    gps = [(1, "ASCII", "N"), (2, "RATIONAL", ((41, 1), (32, 1), (5500, 100)))]
    gps += [(3, "ASCII", "W"), (4, "RATIONAL", ((83, 1), (41, 1), (5500, 100)))]
    focal = [(0xA405, "SHORT", (20,))]
    (odd / "band.tif").write_bytes(tiff_bytes(tags, focal, gps, blob=pixels))
    return {
        "big": str(odd / "big.jpg"),
        "band": str(odd / "band.tif"),
        "bad": str(d),
        "one": str(toledo_dir / "DJI_0061.JPG"),
        "one2": str(toledo_dir / "DJI_0062.JPG"),
        "one3": str(toledo_dir / "DJI_0063.JPG"),
    }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, inputs: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    lines = one_error_line([a.format(o=out, **inputs) for a in case.argv], case.code, case.pattern)
    assert not any(ln.startswith("error") for ln in lines[:-1])
    for name in PRODUCTS:
        assert not (out / name).exists()


def test_czech_error(tmp_path: Path) -> None:
    proc = run_cli("--lang", "cs", "photo", "process", "-o", str(tmp_path / "o"), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith("nebyly zadány žádné snímky")
