"""Shared fixtures of the photo tests: a small overlapping Toledo subset, processed once.

Seven FC350 photos of one corner of the Toledo capture (two flight lines), downscaled to
800 × 600 with their EXIF kept, so that the whole pipeline runs in a few seconds. The result
is produced once per session by the real CLI (``python -m dronekit_plzen photo process``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # photo_testkit

from photo_testkit import run_cli

SUBSET = ("DJI_0064", "DJI_0065", "DJI_0072", "DJI_0074", "DJI_0081", "DJI_0083", "DJI_0084")
WIDTH_PX = 800


@pytest.fixture(scope="session")
def toledo_dir(shared_data: Path) -> Path:
    d = shared_data / "photos" / "toledo"
    assert d.is_dir(), d
    return d


@pytest.fixture(scope="session")
def toledo_small(toledo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The subset, downscaled to 800 px wide, EXIF (GPS, focal length, camera) kept."""
    from PIL import Image

    out = tmp_path_factory.mktemp("toledo_small")
    for name in SUBSET:
        with Image.open(toledo_dir / f"{name}.JPG") as im:
            exif = im.info["exif"]
            small = im.resize((WIDTH_PX, WIDTH_PX * 3 // 4), Image.Resampling.LANCZOS)
        small.save(out / f"{name}.JPG", quality=92, exif=exif)
    return out


@dataclass(frozen=True)
class Processed:
    out: Path
    report: dict[str, Any]
    images: Path
    subset: tuple[str, ...] = SUBSET


@pytest.fixture(scope="session")
def processed(toledo_small: Path, tmp_path_factory: pytest.TempPathFactory) -> Processed:
    """The subset processed by the CLI (local engine); its report from ``--json``."""
    out = tmp_path_factory.mktemp("photo_out") / "run"
    proc = run_cli(
        "photo", "process", str(toledo_small), "-o", str(out),
        "--max-image-px", "800", "--features", "2048", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return Processed(out=out, report=json.loads(proc.stdout), images=toledo_small)
