"""Run every benchmark in bench/ (one process each, one after the other) and summarise.

Each benchmark measures our code against a peer in the same run (raw pymavlink parsing and
encoding, MAVSDK-Python, whitebox-workflows, QGroundControl's and Mission Planner's sweep-angle
rules) and writes ``bench/results/<name>.json``; this script collects them into
``bench/results/summary.json``.

    .venv/bin/python bench/run_all.py [--only sim,link]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {
    "missions": "bench_missions.py",
    "sim": "bench_sim.py",
    "link": "bench_link.py",
    "telemetry": "bench_telemetry.py",
    "lidar": "bench_lidar.py",
    "grid": "bench_grid.py",
    "poa": "bench_poa.py",
    "photo": "bench_photo.py",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(BENCHES), help="comma-separated benchmark names")
    args = ap.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
        return 2
    (HERE / "results").mkdir(exist_ok=True)
    summary: dict[str, object] = {}
    failed = []
    for name in names:
        print(f"=== {name}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / BENCHES[name])], cwd=HERE.parent)
        wall = time.perf_counter() - t0
        result_file = HERE / "results" / f"{name}.json"
        entry: dict[str, object] = {"exit_code": rc, "wall_s": round(wall, 1)}
        if result_file.exists():
            entry["results"] = json.loads(result_file.read_text(encoding="utf-8"))
        if rc != 0:
            failed.append(name)
        summary[name] = entry
    (HERE / "results" / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"summary: {HERE / 'results' / 'summary.json'}")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
