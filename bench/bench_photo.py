"""Benchmark: the photogrammetry pipeline on the Toledo capture (57 DJI photos, two cameras).

Runs ``photo.pipeline.process`` in a subprocess per configuration and records wall time, time
per image, peak resident memory, photos registered, mean reprojection error, camera position
RMS against GPS (E/N/U; after the final bundle adjustment with the GPS priors, and before it,
after the similarity alone), the principal-point shift that adjustment made, the share of the
orthophoto no photo sees unoccluded, the DTM (the LiDAR package's SMRF on the photo cloud) and
the per-stage times. ODM's published figures for comparison: all
photos of a well-overlapped capture registered, reprojection error below about 1 px, relative
orthophoto accuracy of 1–3 × GSD (docs.opendronemap.org, "Ground Control Points" / accuracy).

Usage: ``python bench/bench_photo.py [--images DIR] [--max-image-px 1600] [--features 8192]
[--out bench/results/photo.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = ROOT.parent / "shared" / "data" / "photos" / "toledo"


def run_one(images: str, out_dir: str, max_px: int, features: int) -> dict:
    """In this process (called in a child): run the job, return the figures."""
    sys.path.insert(0, str(ROOT))
    from lidar.ground import smrf
    from photo.pipeline import ProcessOptions, process
    from photo.sfm import SfmOptions

    t0 = time.perf_counter()
    rep = process(
        [images],
        ProcessOptions(
            out_dir=Path(out_dir),
            sfm=SfmOptions(max_image_px=max_px, max_features=features),
            ground_filter=smrf,
        ),
    )
    wall = time.perf_counter() - t0
    return {
        "wall_s": round(wall, 1),
        "seconds_per_image": round(wall / max(rep["images_usable"], 1), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "images_total": rep["images_total"],
        "images_registered": rep["images_registered"],
        "mean_reprojection_error_px": rep["mean_reprojection_error_px"],
        "gps_residual_rms_m": rep["gps_residual_rms_m"],
        "gps_residual_before_final_ba_rms_m": rep["gps_residual_before_final_ba_rms_m"],
        "principal_point_shift_px": rep["principal_point_shift_px"],
        "orthophoto_hidden_fraction": rep["orthophoto_hidden_fraction"],
        "dtm": rep["dtm"],
        "points_dense": rep["points_dense"],
        "surface": rep["surface"],
        "gsd_cm": rep["gsd_cm"],
        "covered_area_m2": rep["covered_area_m2"],
        "points_sparse": rep["points_sparse"],
        "cameras": rep["cameras"],
        "times_s": rep["times_s"],
        "warnings": rep["warnings"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default=str(DEFAULT_IMAGES))
    ap.add_argument("--max-image-px", type=int, default=1600)
    ap.add_argument("--features", type=int, default=8192)
    ap.add_argument("--keep", default=None, help="keep the products in this folder")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "photo.json"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_one(args.images, args.child_out, args.max_image_px, args.features)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or tmp
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--images",
            args.images,
            "--max-image-px",
            str(args.max_image_px),
            "--features",
            str(args.features),
            "--child-out",
            out_dir,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(proc.returncode)
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
    result = {
        "benchmark": "photo: Toledo capture, local engine (pycolmap CPU)",
        "images": args.images,
        "max_image_px": args.max_image_px,
        "features": args.features,
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "figures": figures,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    main()
