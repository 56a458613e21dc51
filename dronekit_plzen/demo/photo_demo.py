"""The photogrammetry part of the demo: a Toledo subset to orthophoto, DSM, cloud and report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TOLEDO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "photos" / "toledo"

#: twenty FC350 photos, three overlapping flight lines in the south of the Toledo capture
SUBSET = tuple(f"DJI_{n:04d}.JPG" for n in range(61, 81))


def demo_images(images: Path | None, all_photos: bool) -> list[Path]:
    """The photos the demo processes: the given folder, or the Toledo subset (or all of it)."""
    from dronekit_plzen.errors import BadInputError
    from dronekit_plzen.i18n import _

    folder = images or TOLEDO
    if not folder.is_dir():
        raise BadInputError(
            _("the Toledo sample photos are not beside the clone; give --images FOLDER"),
            where=str(folder),
        )
    if images is not None or all_photos:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    return [folder / n for n in SUBSET if (folder / n).is_file()]


def run_photo_demo(
    out_dir: Path,
    images: Path | None = None,
    all_photos: bool = False,
    progress: Any = None,
    max_image_px: int = 1200,
) -> dict[str, Any]:
    """Process the demo photos into ``out_dir`` with the local engine; return the report."""
    from lidar.ground import smrf
    from photo.pipeline import ProcessOptions, process
    from photo.sfm import SfmOptions

    files = demo_images(images, all_photos)
    opts = ProcessOptions(
        out_dir=out_dir,
        sfm=SfmOptions(max_image_px=max_image_px, max_features=4096),
        ground_filter=smrf,  # the LiDAR package's SMRF separates the ground for dtm.tif
    )
    return process(files, opts, progress)
