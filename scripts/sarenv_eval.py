"""SAREnv's own baselines and likelihood score, run in SAREnv's environment (not ours).

Run by ``scripts/sarenv_bench.py`` in a subprocess with a separate virtual environment that has
SAREnv's analytics dependencies (numpy, scipy, shapely, geopandas); it imports
``sarenv/analytics/paths.py`` and ``metrics.py`` straight from a SAREnv checkout (by file path:
the package's ``__init__`` pulls in OSM download tools not needed here) and never imports this
project. Reads one JSON job on stdin::

    {"sarenv_root": ".../sarenv", "heatmap_npy": "crop.npy" (row 0 south, SAREnv's layout),
     "bounds": [minx, miny, maxx, maxy], "center_xy": [x, y], "radius_m": r,
     "meter_per_bin": 30, "drones": n, "budget_m": total, "fov_deg": 45, "alt_m": 80,
     "paths": {"name": [[[x, y], ...], ...]}}   # extra plans to score (e.g. ours)

and writes JSON to stdout: ``{"scores": {name: likelihood}, "paths": {name: [[[x, y], ...]]}}``
for SAREnv's Spiral, Concentric, Pizza and Greedy (generated exactly as SAREnv's evaluator
calls them: ``PathGeneratorConfig`` defaults, the total budget, split per drone by SAREnv), the
same flown from the launch point (``NAME@launch``: the centre prepended, cut at the per-drone
budget) and for every extra plan, all scored by ``PathEvaluator.calculate_all_metrics`` (the
``total_likelihood_score``: heatmap cells whose centre lies within ``alt·tan(fov/2)`` of a point
sampled every ``ceil(meter_per_bin/2)`` m along any path, each cell once).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any


def _load(root: Path, rel: str, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, root / rel)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> int:
    job = json.load(sys.stdin)
    import geopandas as gpd
    import numpy as np
    from shapely.geometry import LineString

    root = Path(job["sarenv_root"])
    paths = _load(root, "sarenv/analytics/paths.py", "sarenv_paths")
    metrics = _load(root, "sarenv/analytics/metrics.py", "sarenv_metrics")
    heat = np.load(job["heatmap_npy"])
    bounds = tuple(job["bounds"])
    cx, cy = job["center_xy"]
    n, budget = int(job["drones"]), float(job["budget_m"])
    fov, alt = float(job["fov_deg"]), float(job["alt_m"])
    # SAREnv's PathGeneratorConfig defaults (evaluator.py)
    params = {
        "center_x": cx,
        "center_y": cy,
        "max_radius": float(job["radius_m"]),
        "probability_map": heat,
        "bounds": bounds,
        "num_drones": n,
        "budget": budget,
        "fov_deg": fov,
        "altitude": alt,
        "overlap": 0.0,
        "path_point_spacing_m": 10.0,
        "transition_distance_m": 50.0,
        "border_gap_m": 15.0,
    }
    gens = {
        "Spiral": paths.generate_spiral_path,
        "Concentric": paths.generate_concentric_circles_path,
        "Pizza": paths.generate_pizza_zigzag_path,
        "Greedy": paths.generate_greedy_path,
    }
    victims = gpd.GeoDataFrame(geometry=[], crs=None)
    ev = metrics.PathEvaluator(heat, bounds, victims, fov, alt, job["meter_per_bin"])
    scores: dict[str, float] = {}
    out_paths: dict[str, list[list[list[float]]]] = {}
    plans: dict[str, list[Any]] = {}
    from shapely.ops import substring

    for name, gen in gens.items():
        plans[name] = list(gen(**params))
        # the same paths flown under the rule "every drone starts at the launch point" (the
        # transit to a piece's start counted in its budget): SAREnv's multi-drone split hands
        # later drones a piece starting mid-pattern, with no transit
        launched = []
        for p in plans[name]:
            q = LineString([(cx, cy), *p.coords]) if not p.is_empty else p
            launched.append(substring(q, 0, budget / n) if q.length > budget / n else q)
        plans[f"{name}@launch"] = launched
    for name, pl in job.get("paths", {}).items():
        plans[name] = [LineString(p) if len(p) > 1 else LineString() for p in pl]
    for name, pl in plans.items():
        res = ev.calculate_all_metrics(pl, 0.999)
        scores[name] = float(res["total_likelihood_score"])
        if name.split("@")[0] in gens:
            out_paths[name] = [[list(c) for c in p.coords] for p in pl]
    json.dump({"scores": scores, "paths": out_paths}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
