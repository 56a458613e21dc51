"""Benchmark: PDAL-style gridding (``writers.gdal``) against whitebox-workflows, same run.

A synthetic cloud (terrain with trees and buildings, ``lidar.synthetic``) is gridded at 1 m two
ways, each by ours and by whitebox-workflows' nearest equivalent, in child processes that
alternate so both see the same load:

- inverse-distance weighting (power 1) of the points within 1.414 m of each cell's centre:
  ours ``writers.gdal`` ``output_type`` ``idw`` (PDAL's rule), whitebox
  ``lidar_idw_interpolation`` (weight 1, search radius 1.414);
- the lowest point per cell: ours ``output_type`` ``min`` with ``binmode``, whitebox
  ``lidar_block_minimum``.

The ratio ours / whitebox (seconds, median of the runs) is the figure; the file read and the
GeoTIFF write are inside both timings. Results: ``bench/results/grid.json``.

    .venv/bin/python bench/bench_grid.py [--points 2000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RADIUS = 1.414


def make_cloud(points: int, path: Path) -> None:
    from lidar.io import write_cloud
    from lidar.synthetic import make_scene

    side = (points / 5.0) ** 0.5  # 5 pulses a square metre
    scene = make_scene((side, side), 5.0, seed=3)
    write_cloud(scene.cloud, path)


def run_ours(las: Path, out: Path, kind: str) -> float:
    from lidar import pipeline

    writer: dict[str, Any] = {"type": "writers.gdal", "filename": str(out), "resolution": 1.0}
    if kind == "idw":
        writer.update(output_type="idw", radius=RADIUS)
    else:
        writer.update(output_type="min", binmode=True)
    pipe = pipeline.parse([str(las), writer])
    t0 = time.perf_counter()
    pipeline.run(pipe)
    return time.perf_counter() - t0


def run_whitebox(las: Path, out: Path, kind: str) -> float:
    import whitebox_workflows as wbw

    wbe = wbw.WbEnvironment()
    wbe.verbose = False
    tools = wbe.lidar.interpolation_gridding
    t0 = time.perf_counter()
    # file to file, as its tools run: the read and the write inside the time, as ours
    if kind == "idw":
        tools.lidar_idw_interpolation(
            input=str(las), resolution=1.0, weight=1.0, search_radius=RADIUS, output=str(out)
        )
    else:
        tools.lidar_block_minimum(input=str(las), resolution=1.0, output=str(out))
    return time.perf_counter() - t0


def _child(who: str, kind: str, las: Path, out: Path) -> float:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            who,
            "--kind",
            kind,
            "--las",
            str(las),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE.parent,
    )
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", choices=["ours", "whitebox"])
    ap.add_argument("--kind", choices=["idw", "min"], default="idw")
    ap.add_argument("--las")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.child:
        fn = run_ours if a.child == "ours" else run_whitebox
        if a.child == "ours":  # the compiled kernel loads from its cache before the clock
            import numpy as np

            from lidar.pdal_grid import PdalGrid, grid_stats

            one = np.zeros(1)
            grid_stats(one, one, one, PdalGrid(0, 0, 1, 1, 1), ("min",), radius=1.0)
        print(json.dumps({"seconds": fn(Path(a.las), Path(a.out), a.kind)}))
        return
    results: dict[str, Any] = {"points": a.points, "repeat": a.repeat, "radius": RADIUS}
    with tempfile.TemporaryDirectory() as tmp:
        las = Path(tmp) / "cloud.laz"
        make_cloud(a.points, las)
        from lidar.io import las_info

        results["points"] = las_info(las)["point_count"]
        for kind in ("idw", "min"):
            times: dict[str, list[float]] = {"ours": [], "whitebox": []}
            for i in range(a.repeat):
                for who in ("ours", "whitebox"):
                    out = Path(tmp) / f"{who}_{kind}_{i}.tif"
                    times[who].append(_child(who, kind, las, out))
            med = {w: statistics.median(t) for w, t in times.items()}
            results[kind] = {
                "seconds": times,
                "median_s": med,
                "ratio_time_ours_over_whitebox": med["ours"] / med["whitebox"],
                "points_per_s_ours": results["points"] / med["ours"],
            }
            print(
                f"{kind}: ours {med['ours']:.2f} s, whitebox {med['whitebox']:.2f} s, "
                f"ours/whitebox time {med['ours'] / med['whitebox']:.2f}",
                flush=True,
            )
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "grid.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
