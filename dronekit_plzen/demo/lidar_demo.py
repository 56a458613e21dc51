"""The LiDAR half of the demo: a sample cloud to DTM, DSM, CHM and hillshade."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lidar" / "Topography.laz"


def run_lidar_demo(out_dir: Path, input_path: Path | None, resolution_m: float) -> dict[str, Any]:
    """Process ``input_path`` (default: the Topography.laz sample beside the clone, else a
    synthetic scene written by :mod:`lidar.synthetic`) into products in ``out_dir``."""
    from dronekit_plzen.outputs import prepare_output_dir
    from lidar.products import demo_products

    prepare_output_dir(out_dir)
    src = input_path
    if src is None:
        if SAMPLE.exists():
            src = SAMPLE
        else:
            src = _synthetic(out_dir / "synthetic_scene.laz")
    res = demo_products(src, out_dir, resolution_m=resolution_m)
    res["input"] = str(src)
    return res


def _synthetic(path: Path) -> Path:
    from lidar.io import write_cloud
    from lidar.synthetic import make_scene

    write_cloud(make_scene((300.0, 300.0), 8.0).cloud, path)
    return path
