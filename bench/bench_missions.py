"""Benchmark the mission planner (issue 3).

* time to plan a survey over a ~10 km² concave area with 5 holes (target < 1 s);
* path length against the lower bound area ÷ spacing, turns, cells;
* the ``auto`` sweep angle against 0° (QGroundControl's default) and the longest-side angle
  (Mission Planner's rule) on the same polygons: flight time, path length and turns.

Run: ``.venv/bin/python bench/bench_missions.py`` → ``bench/results/missions.json``.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon

from missions.area import area_from_metric
from missions.patterns.angle import longest_side_angle_deg
from missions.planner import plan_survey

E0, N0 = 375_000.0, 5_505_000.0  # south-west of Plzeň, UTM 33N
OUT = Path(__file__).resolve().parent / "results" / "missions.json"


def concave_area_with_holes() -> Polygon:
    """A ~10 km² U-shaped (concave) area with a notch and 5 holes (ponds, a village)."""
    outer = [
        (0, 0),
        (4200, 0),
        (4400, 1500),
        (4000, 3300),
        (2900, 3300),
        (2700, 1300),
        (1700, 1200),
        (1500, 3000),
        (200, 3200),
        (-300, 1600),
    ]
    holes = [
        shapely.Point(600, 600).buffer(180, quad_segs=4),
        shapely.Point(3300, 800).buffer(250, quad_segs=4),
        shapely.box(700, 1900, 1000, 2300),
        shapely.Point(3500, 2400).buffer(200, quad_segs=3),
        shapely.box(2000, 300, 2400, 550),
    ]
    poly = Polygon(outer, [h.exterior.coords for h in holes])
    assert poly.is_valid
    return shapely.affinity.translate(poly, E0, N0)


def random_polygons(n: int, seed: int = 3) -> list[Polygon]:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        k = int(rng.integers(5, 10))
        ang = np.sort(rng.uniform(0, 2 * math.pi, k))
        r = rng.uniform(600, 1400, k)
        p = Polygon(np.column_stack([np.sin(ang) * r, np.cos(ang) * r]))
        if p.is_valid and p.area > 1e6:
            out.append(shapely.affinity.translate(p, E0, N0))
    return out


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    """Median wall time; CPU time of the same runs in CPU_TIMES (the machine may be shared)."""
    times = []
    res = None
    cpu = []
    for _ in range(repeat):
        t = time.perf_counter()
        c = time.process_time()
        res = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    CPU_TIMES.append(statistics.median(cpu))
    return statistics.median(times), res


CPU_TIMES: list[float] = []


def main() -> None:
    poly = concave_area_with_holes()
    area = area_from_metric(poly, 32633)
    kw = dict(
        camera="mavic3e-wide",
        alt_m=120.0,
        side_overlap_pct=70.0,
        front_overlap_pct=80.0,
        vehicle="mavic3e",
        epsg=32633,
    )
    t_plan, _r = timed(lambda: plan_survey(area, compute_coverage=False, **kw))
    t_cov, rc = timed(lambda: plan_survey(area, **kw), repeat=1)
    t_fixed, _ = timed(lambda: plan_survey(area, angle_deg=0.0, compute_coverage=False, **kw))
    m = rc.metrics  # type: ignore[attr-defined]
    main_res = {
        "area_km2": round(poly.area / 1e6, 3),
        "holes": len(poly.interiors),
        "plan_time_s_auto_angle": round(t_plan, 3),
        "plan_time_s_fixed_angle": round(t_fixed, 3),
        "plan_time_s_with_coverage": round(t_cov, 3),
        "plan_cpu_s_auto_angle": round(CPU_TIMES[0], 3),
        "plan_cpu_s_with_coverage": round(CPU_TIMES[1], 3),
        "plan_cpu_s_fixed_angle": round(CPU_TIMES[2], 3),
        "target_s": 1.0,
        "spacing_m": round(m.spacing_m, 2),
        "angle_deg": m.angle_deg,
        "cells": m.cells,
        "path_length_m": round(m.path_length_m, 1),
        "search_length_m": round(m.search_length_m, 1),
        "lower_bound_m": round(m.lower_bound_length_m, 1),
        "path_over_lower_bound": round(m.path_length_m / m.lower_bound_length_m, 4),
        "turns": m.turns,
        "photos": m.photo_count,
        "coverage_pct": round(m.coverage_pct, 3),
        "flight_time_min": round(m.flight_time_s / 60.0, 1),
        "sorties_mavic3e": m.sorties,
    }
    rows = []
    for i, p in enumerate([poly, *random_polygons(6)]):
        a = area_from_metric(p, 32633)
        row: dict[str, object] = {
            "polygon": "concave-5-holes" if i == 0 else f"random-{i}",
            "area_km2": round(p.area / 1e6, 3),
        }
        for name, ang in (
            ("auto", "auto"),
            ("zero", 0.0),
            ("longest_side", longest_side_angle_deg(p)),
        ):
            res = plan_survey(a, angle_deg=ang, compute_coverage=False, **kw)
            mm = res.metrics
            row[name] = {
                "angle_deg": round(float(mm.angle_deg), 1),
                "flight_time_min": round(mm.flight_time_s / 60.0, 2),
                "path_length_km": round(mm.path_length_m / 1000.0, 3),
                "turns": mm.turns,
            }
        rows.append(row)

    def gain(key: str) -> float:
        return round(
            statistics.mean(
                1 - r["auto"]["flight_time_min"] / r[key]["flight_time_min"]
                for r in rows  # type: ignore[index]
            )
            * 100.0,
            2,
        )

    summary = {
        "auto_time_saving_vs_zero_pct_mean": gain("zero"),
        "auto_time_saving_vs_longest_side_pct_mean": gain("longest_side"),
        "auto_never_slower_than_zero": all(
            r["auto"]["flight_time_min"] <= r["zero"]["flight_time_min"] for r in rows
        ),  # type: ignore[index]
        "auto_never_slower_than_longest_side": all(
            r["auto"]["flight_time_min"] <= r["longest_side"]["flight_time_min"]  # type: ignore[index]
            for r in rows
        ),
    }
    out = {"survey_10km2": main_res, "angles": rows, "angle_summary": summary}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1))
    print(json.dumps(main_res, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
