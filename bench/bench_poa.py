"""Benchmark probability-driven search (issue 16) against the classic patterns.

Maps: the Koester 2008 ring model around an LKP (hiker and dementia, temperate flat) on a
1.8 km radius at 30 m cells, with corridors (trails, a road and streams holding the find-location
shares of :data:`missions.poa_map.FIND_SHARES`, forest edges ×1.5), a lake and a cliff band at
zero; two random layouts per subject, each as is ("open"), with a reservoir shore 250 m from the
LKP ("shore") and with the launch point 600 m from the LKP ("access-600m"). Drones: 1 and 3, a
total budget of 100 km (split equally), a thermal camera footprint (``mavic3t-thermal`` at 50 m
AGL). The "oracle" figure is an upper bound: the most probable cells of the whole swept area
(``oracle_gain_pct``: the most any plan could gain over the best baseline on that map).
Every plan is scored by the same overlap-exact function
(:func:`missions.poa_cover.covered_probability`) at equal path length (each baseline truncated
to the same per-drone budget, transit from the launch point included).

Baselines (best radius of several tried, r* = √(B·W/π) the disc the budget can sweep):

* expanding square (``missions.patterns.sar.expanding_square_path``) from the LKP;
* spiral: the perimeter spiral (``perimeter_path``) over the circle, flown outside-in, and an
  outward Archimedean spiral from the LKP (arms one footprint apart);
* parallel track (``creeping_line_path``, legs along the major axis) over the circle;
* greedy (as in SAR benchmarks such as SAREnv): footprint-wide steps to the richest of the 8
  neighbouring cells, straight to the nearest cell with probability left when none has any;
  drones one after the other on what the earlier left, from the launch point;
* for 3 drones: each single-drone pattern cut into 3 consecutive pieces (each drone flies to its
  piece), and sector splitting: the circle cut into 3 sectors, each drone a parallel track or a
  perimeter spiral over its own sector.

Run: ``.venv/bin/python bench/bench_poa.py`` → ``bench/results/poa.json``; with ``--sarenv DIR``
(a SAREnv checkout) our planner on SAREnv's maps against SAREnv's own baselines instead
(``scripts/sarenv_bench.py``), written to the ``sarenv`` key of the same file.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import LineString, Point, Polygon

from missions.camera import get_camera
from missions.patterns.sar import creeping_line_path, expanding_square_path, perimeter_path
from missions.poa import plan_poa
from missions.poa_cover import Footprint, covered_probability, truncate
from missions.poa_map import PoaGrid, apply_features, quartiles_km, ring_grid

OUT = Path(__file__).resolve().parent / "results" / "poa.json"
EPSG = 32633
LKP = (380_000.0, 5_510_000.0)


def synthetic_map(
    seed: int,
    subject: str = "hiker",
    radius_m: float = 1800.0,
    cell_m: float = 30.0,
    shore: bool = False,
) -> PoaGrid:
    """Ring model × corridors (trails, streams, forest edges), a lake and a cliff at zero;
    ``shore``: the LKP 250 m from the shore of a reservoir filling one side of the map."""
    rng = np.random.default_rng(seed)
    grid = ring_grid(LKP, quartiles_km(subject, "flat"), radius_m, cell_m, EPSG)
    feats: list[tuple[str, Any]] = []
    for k in range(3):  # trails leaving the LKP area, wandering
        ang = rng.uniform(0, 2 * math.pi)
        p = np.array(LKP) + rng.uniform(0, 300) * np.array([math.cos(ang), math.sin(ang)])
        pts = [p.copy()]
        heading = ang + rng.uniform(-1, 1)
        for _ in range(40):
            heading += rng.normal(0, 0.25)
            p = p + 60.0 * np.array([math.cos(heading), math.sin(heading)])
            pts.append(p.copy())
        feats.append(("path" if k else "road", LineString(pts)))
    for _ in range(2):  # streams: smooth meanders across the map
        y0 = rng.uniform(-radius_m, radius_m) * 0.7
        xs = np.linspace(-radius_m, radius_m, 60)
        ys = y0 + 200 * np.sin(xs / rng.uniform(250, 500) + rng.uniform(0, 6))
        rot = rng.uniform(0, math.pi)
        c, s = math.cos(rot), math.sin(rot)
        feats.append(
            ("stream", LineString(np.column_stack([c * xs - s * ys, s * xs + c * ys]) + LKP))
        )
    for _ in range(3):  # forests (their edges count)
        ctr = np.array(LKP) + rng.uniform(-radius_m, radius_m, 2) * 0.8
        feats.append(("forest", Point(ctr).buffer(rng.uniform(200, 450), quad_segs=6)))
    ang = rng.uniform(0, 2 * math.pi)
    lake_c = np.array(LKP) + rng.uniform(500, 1100) * np.array([math.cos(ang), math.sin(ang)])
    feats.append(("water", Point(lake_c).buffer(rng.uniform(150, 300))))
    a2 = ang + rng.uniform(1.5, 4.5)
    cl = np.array(LKP) + 900 * np.array([math.cos(a2), math.sin(a2)])
    feats.append(("cliff", LineString([cl - np.array([300, 100]), cl + np.array([300, 100])])))
    if shore:
        a3 = rng.uniform(0, 2 * math.pi)
        u = np.array([math.cos(a3), math.sin(a3)])
        c3 = np.array(LKP) + u * (250 + 3 * radius_m)
        feats.append(("water", Point(c3).buffer(3 * radius_m, quad_segs=64)))
    return apply_features(grid, feats)


def _archimedes(c: tuple[float, float], spacing: float, length: float) -> np.ndarray:
    """Outward spiral r = spacing·θ/2π from ``c``, about ``length`` metres long."""
    th_max = math.sqrt(4 * math.pi * length / spacing) + 2 * math.pi
    th = np.linspace(0, th_max, int(th_max * 12) + 2)
    r = spacing * th / (2 * math.pi)
    return np.column_stack([c[0] + r * np.sin(th), c[1] + r * np.cos(th)])


_LAUNCH = [LKP]


def _from_launch(xy: np.ndarray) -> np.ndarray:
    return np.vstack([np.array(_LAUNCH[0])[None], xy])


def _pieces(xy: np.ndarray, n: int, budget: float) -> list[np.ndarray]:
    """A single path's first n·budget metres as n consecutive pieces, each flown from the LKP
    (transit included in the drone's budget)."""
    if n == 1:
        return [truncate(_from_launch(xy), budget)]
    d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    out, start = [], 0.0
    for _ in range(n):
        s = np.linspace(start, min(start + budget, d[-1]), 400)
        seg = np.column_stack([np.interp(s, d, xy[:, 0]), np.interp(s, d, xy[:, 1])])
        transit = float(np.hypot(*(seg[0] - np.array(_LAUNCH[0]))))
        seg = truncate(_from_launch(seg), budget)
        out.append(seg)
        start += budget - transit
    return out


def _sector(r: float, i: int, n: int) -> Polygon:
    a = np.linspace(2 * math.pi * i / n, 2 * math.pi * (i + 1) / n, 30)
    ring = [LKP] + [(LKP[0] + r * math.sin(t), LKP[1] + r * math.cos(t)) for t in a]
    return Polygon(ring)


def baselines(n: int, budget: float, fp: Footprint, radius_m: float) -> dict[str, list[Any]]:
    """Candidate paths per baseline family (each candidate: a list of n per-drone paths)."""
    w = fp.across_m
    r_star = math.sqrt(n * budget * w / math.pi)
    radii = sorted({min(radius_m, r_star * f) for f in (0.7, 0.85, 1.0, 1.2)} | {radius_m})
    fam: dict[str, list[Any]] = {
        "expanding-square": [],
        "spiral-archimedes": [],
        "spiral-perimeter": [],
        "parallel-track": [],
    }
    if n > 1:
        fam["sector-parallel"] = []
        fam["sector-spiral"] = []
    for r in radii:
        circle = Point(LKP).buffer(r, quad_segs=32)
        sq = expanding_square_path(LKP, EPSG, w, radius_m=r).xy
        fam["expanding-square"].append(_pieces(sq, n, budget))
        fam["spiral-perimeter"].append(_pieces(perimeter_path(circle, EPSG, w).xy, n, budget))
        fam["parallel-track"].append(
            _pieces(creeping_line_path(circle, EPSG, w, legs_along="major").xy, n, budget)
        )
        if n > 1:
            fam["sector-parallel"].append(
                [
                    truncate(
                        _from_launch(
                            creeping_line_path(_sector(r, i, n), EPSG, w, legs_along="major").xy
                        ),
                        budget,
                    )
                    for i in range(n)
                ]
            )
            fam["sector-spiral"].append(
                [
                    truncate(_from_launch(perimeter_path(_sector(r, i, n), EPSG, w).xy), budget)
                    for i in range(n)
                ]
            )
    fam["spiral-archimedes"].append(_pieces(_archimedes(LKP, w, n * budget * 1.1), n, budget))
    return fam


def greedy(
    grid: PoaGrid, n: int, budget: float, fp: Footprint, launch: tuple[float, float]
) -> list[np.ndarray]:
    """The greedy baseline of SAR benchmarks (e.g. SAREnv's): steps of one footprint width to
    whichever of the 8 neighbouring cells holds the most probability not yet covered; when none
    holds any, straight to the nearest cell that does. Drones one after the other on what the
    earlier ones left, each from the launch point."""
    c = fp.across_m
    x, y = grid.centres()
    qx = np.floor((x - launch[0]) / c + 0.5).astype(int)
    ry = np.floor((launch[1] - y) / c + 0.5).astype(int)
    q0, r0 = -qx.min(), -ry.min()
    v = np.zeros((ry.max() + r0 + 1, qx.max() + q0 + 1))
    np.add.at(v, (np.repeat(ry + r0, len(x)), np.tile(qx + q0, len(y))), grid.prob.ravel())
    rows, cols = v.shape
    rr, cc = np.mgrid[0:rows, 0:cols]
    steps = [(dr, dq) for dr in (-1, 0, 1) for dq in (-1, 0, 1) if dr or dq]
    out = []
    for _ in range(n):
        pos, used = (r0, q0), 0.0
        v[pos] = 0.0
        pts = [pos]
        while True:
            nb = [
                (v[pos[0] + dr, pos[1] + dq], math.hypot(dr, dq), (pos[0] + dr, pos[1] + dq))
                for dr, dq in steps
                if 0 <= pos[0] + dr < rows and 0 <= pos[1] + dq < cols
            ]
            val, d, nxt = max(nb)
            if val <= 0.0:
                if not v.any():
                    break
                dist = np.where(v > 0, np.hypot(rr - pos[0], cc - pos[1]), np.inf)
                t = np.unravel_index(int(np.argmin(dist)), v.shape)
                d, nxt = float(dist[t]), (int(t[0]), int(t[1]))
            if (used + d) * c > budget:
                break
            used += d
            pos = nxt
            v[pos] = 0.0
            pts.append(pos)
        cells = np.asarray(pts, dtype=float)
        xy = np.column_stack(
            [launch[0] + (cells[:, 1] - q0) * c, launch[1] - (cells[:, 0] - r0) * c]
        )
        out.append(truncate(xy, budget))
    return out


def oracle(grid: PoaGrid, total_budget_m: float, fp: Footprint) -> float:
    """Upper bound: the most probable cells of the total swept area, wherever they are."""
    k = int(total_budget_m * fp.across_m / grid.cell_m**2)
    return float(np.sort(grid.prob.ravel())[::-1][:k].sum())


def compare(
    grid: PoaGrid,
    n: int,
    total_budget_m: float,
    fp: Footprint,
    launch: tuple[float, float] = LKP,
) -> dict[str, Any]:
    """Our plan and every baseline family's best candidate, scored alike (the baselines are
    centred on the LKP and flown from ``launch``)."""
    _LAUNCH[0] = launch
    budget = total_budget_m / n
    radius = grid.shape[0] * grid.cell_m / 2.0
    t0 = time.perf_counter()
    plan = plan_poa(grid, launch, [fp] * n, [50.0] * n, budget, curve_points=0)
    ours_t = time.perf_counter() - t0
    ours = covered_probability(grid, [p.xy for p in plan.paths], [fp] * n)
    assert all(p.length_m <= budget + 1e-6 for p in plan.paths)
    res: dict[str, Any] = {
        "poa": round(ours, 4),
        "poa_plan_time_s": round(ours_t, 2),
        "poa_plan_cpu_s": round(plan.plan_cpu_s, 2),
    }
    for name, cands in baselines(n, budget, fp, radius).items():
        scores = [covered_probability(grid, c, [fp] * n) for c in cands]
        res[name] = round(max(scores), 4)
    res["greedy"] = round(
        covered_probability(grid, greedy(grid, n, budget, fp, launch), [fp] * n), 4
    )
    best = max(v for k, v in res.items() if not k.startswith("poa"))
    res["best_baseline"] = best
    res["gain_pct"] = round(100.0 * (ours / best - 1.0), 1)
    orc = oracle(grid, total_budget_m, fp)
    res["oracle_upper_bound"] = round(orc, 4)
    # headroom: how far above the best baseline any plan could be at most (path continuity
    # ignored); below 10 % the issue's +10 % goal cannot be met on that map at all
    res["oracle_gain_pct"] = round(100.0 * (orc / best - 1.0), 1)
    res["poa_share_of_oracle"] = round(ours / orc, 3)
    return res


def sarenv_main(argv: list[str]) -> None:
    """``--sarenv DIR``: our planner on SAREnv's maps against SAREnv's baselines
    (``scripts/sarenv_bench.py``); the results go to the ``sarenv`` key of ``poa.json``."""
    import argparse
    import importlib.util
    import sys

    ap = argparse.ArgumentParser(prog="bench_poa.py")
    ap.add_argument("--sarenv", type=Path, required=True, help="a SAREnv checkout")
    ap.add_argument(
        "--sarenv-python",
        default=os.environ.get("SARENV_PYTHON", "/work/data/sarenv-venv/bin/python"),
        help="Python of a venv with SAREnv's dependencies (numpy scipy shapely geopandas)",
    )
    ap.add_argument("--sizes", default="medium", help="comma-separated: small,medium,large")
    ap.add_argument("--items", default=None, help="comma-separated item ids (default: all)")
    a = ap.parse_args(argv)
    path = Path(__file__).resolve().parents[1] / "scripts" / "sarenv_bench.py"
    spec = importlib.util.spec_from_file_location("sarenv_bench", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    res = mod.run(
        a.sarenv,
        a.sarenv_python,
        sizes=tuple(a.sizes.split(",")),
        items=a.items.split(",") if a.items else None,
    )
    res["summary"]["load_average_1min"] = os.getloadavg()[0]
    doc = json.loads(OUT.read_text()) if OUT.exists() else {}
    doc["sarenv"] = res
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1))
    print(json.dumps(res["summary"], indent=1))


def main() -> None:
    import sys

    if any(a.startswith("--sarenv") for a in sys.argv[1:]):
        sarenv_main(sys.argv[1:])
        return
    cam = get_camera("mavic3t-thermal")
    across, along = cam.footprint_m(50.0)
    fp = Footprint(across, along)
    runs = []
    scenarios = {  # name: (reservoir shore near the LKP, launch offset from the LKP in m)
        "open": (False, 0.0),
        "shore": (True, 0.0),
        "access-600m": (False, 600.0),
    }
    for subject in ("hiker", "dementia"):
        for seed in range(2):
            for sc, (shore, off) in scenarios.items():
                grid = synthetic_map(seed, subject, shore=shore)
                launch = (LKP[0] + off, LKP[1])
                for n in (1, 3):
                    r = compare(grid, n, 100_000.0, fp, launch)
                    r.update(subject=subject, seed=seed, scenario=sc, drones=n)
                    print(json.dumps(r), flush=True)
                    runs.append(r)
    gains = [r["gain_pct"] for r in runs]
    out = {
        "setup": {
            "map": "ring model (Koester 2008) + corridors, 1.8 km radius, 30 m cells",
            "camera": f"mavic3t-thermal at 50 m: {across:.1f} x {along:.1f} m",
            "total_budget_m": 100_000,
        },
        "runs": runs,
        "summary": {
            "runs": len(runs),
            "runs_gain_ge_10_pct": sum(g >= 10.0 for g in gains),
            "runs_oracle_gain_ge_10_pct": sum(r["oracle_gain_pct"] >= 10.0 for r in runs),
            "mean_share_of_oracle": round(
                float(np.mean([r["poa_share_of_oracle"] for r in runs])), 3
            ),
            "min_gain_pct": min(gains),
            "mean_gain_pct": round(float(np.mean(gains)), 1),
            "max_plan_time_s": max(r["poa_plan_time_s"] for r in runs),
            "max_plan_cpu_s": max(r["poa_plan_cpu_s"] for r in runs),
            "load_average_1min": os.getloadavg()[0],
            "by_scenario_mean_gain_pct": {
                sc: round(float(np.mean([r["gain_pct"] for r in runs if r["scenario"] == sc])), 1)
                for sc in scenarios
            },
        },
    }
    if OUT.exists():  # keep the SAREnv figures of an earlier ``--sarenv`` run
        old = json.loads(OUT.read_text())
        if "sarenv" in old:
            out["sarenv"] = old["sarenv"]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1))
    print(json.dumps(out["summary"], indent=1))


if __name__ == "__main__":
    main()
