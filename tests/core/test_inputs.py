"""Input documents are read with a size limit; a damaged zip member is one clear error."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from dronekit_plzen.errors import BadInputError, CorruptFileError
from dronekit_plzen.inputs import read_input_bytes, read_zip_member


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    p = tmp_path / "area.geojson"
    p.write_bytes(b"x" * 3000)
    assert read_input_bytes(p, limit=3000) == b"x" * 3000
    with pytest.raises(BadInputError, match=r"area\.geojson: the document is 0 MiB, over the"):
        read_input_bytes(p, limit=2999)
    with pytest.raises(FileNotFoundError):  # the caller words it
        read_input_bytes(tmp_path / "none.geojson")


def test_a_zip_member_is_inflated_at_most_to_the_limit(tmp_path: Path) -> None:
    p = tmp_path / "m.kmz"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("doc.kml", b"<kml>" + b" " * 5000 + b"</kml>")
    with zipfile.ZipFile(p) as z:
        assert len(read_zip_member(z, "doc.kml", str(p))) == 5011
        with pytest.raises(BadInputError, match=r"m\.kmz!doc\.kml: the document is"):
            read_zip_member(z, "doc.kml", str(p), limit=5000)


def test_a_damaged_zip_member_is_a_corrupt_file(tmp_path: Path) -> None:
    p = tmp_path / "m.kmz"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("doc.kml", bytes(range(256)) * 200)
    raw = bytearray(p.read_bytes())
    start = 30 + len("doc.kml")  # the local header, then the deflated data
    raw[start + 10 : start + 60] = b"\xff" * 50
    p.write_bytes(bytes(raw))
    with zipfile.ZipFile(p) as z, pytest.raises(CorruptFileError, match="damaged zip member"):
        read_zip_member(z, "doc.kml", str(p))


def test_a_named_pipe_or_a_device_is_refused_before_it_is_opened(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``plan survey --area FIFO`` had waited for ever for a writer; ``/dev/zero`` was read to
    the 256 MiB limit. Both are refused at once, naming the file (one subprocess: the CLI)."""
    import os
    import subprocess
    import sys

    fifo = tmp_path / "area.geojson"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        with pytest.raises(BadInputError, match="not a regular file"):
            read_input_bytes(path)
    run = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", "plan", "survey", "--area", str(fifo),
         "--camera", "mavic3t-thermal", "--alt-m", "60", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: {fifo}: it is not a regular file (a named pipe or a device)"
    ]
