"""Synthetic LiDAR scenes with known truth, for tests, the demo and benchmarks.

The terrain has a regional slope, a ridge, a steep (35 %) valley side and gentle undulation;
on it stand flat-roofed buildings, trees with crowns (first returns) that let some pulses reach
the ground (last returns), low shrubs, and high and low noise points. The truth class of
every point and the terrain height function are returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS

from lidar.cloud import (
    BUILDING,
    GROUND,
    HIGH_VEGETATION,
    LOW_VEGETATION,
    MEDIUM_VEGETATION,
    NOISE,
    PointCloud,
)

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Scene:
    """A synthetic cloud, its true classes and its origin (for :func:`terrain_z`)."""

    cloud: PointCloud
    truth: NDArray[np.uint8]
    origin: tuple[float, float]
    size_m: tuple[float, float]


def terrain_z(x: FloatArray, y: FloatArray, origin: tuple[float, float] = (0.0, 0.0)) -> FloatArray:
    """The true terrain height at (x, y) in metres."""
    u = np.asarray(x) - origin[0]
    v = np.asarray(y) - origin[1]
    z = 350.0 + 0.04 * u + 0.02 * v
    z = z + 12.0 * np.exp(-(((u - 0.3 * v - 120.0) / 35.0) ** 2))  # a ridge
    z = z + 0.35 * np.clip(v - 140.0, 0.0, 60.0)  # a steep (35 %) rise in the north
    z = z + 1.5 * np.sin(u / 23.0) * np.cos(v / 31.0)
    return np.asarray(z)


def make_scene(
    size_m: tuple[float, float] = (200.0, 200.0),
    density_per_m2: float = 10.0,
    *,
    seed: int = 7,
    origin: tuple[float, float] = (383_000.0, 5_511_000.0),
    crs: int | None = 32633,
    n_buildings: int | None = None,
    n_trees: int | None = None,
    noise_fraction: float = 0.002,
) -> Scene:
    """Generate a scene of ``size_m`` (width, height) with ``density_per_m2`` pulses per m².

    >>> s = make_scene((60.0, 60.0), 4.0, seed=1)
    >>> len(s.cloud) > 10000, int((s.truth == 2).sum() > 0)
    (True, 1)
    """
    rng = np.random.default_rng(seed)
    w, h = size_m
    area = w * h
    n = int(area * density_per_m2)
    u = rng.uniform(0, w, n)
    v = rng.uniform(0, h, n)
    ground = terrain_z(u, v)
    z = ground + rng.normal(0, 0.03, n)
    cls = np.full(n, GROUND, dtype=np.uint8)
    rn = np.ones(n, dtype=np.uint8)
    nr = np.ones(n, dtype=np.uint8)
    intensity = rng.normal(300, 40, n).clip(0, 65535)

    nb = n_buildings if n_buildings is not None else max(1, int(area / 4000))
    for _ in range(nb):
        bw, bh = rng.uniform(12, 40, 2) * min(1.0, min(w, h) / 120.0)
        cx, cy = rng.uniform(bw, w - bw), rng.uniform(bh, h - bh)
        ang = rng.uniform(0, np.pi)
        du, dv = u - cx, v - cy
        a = du * np.cos(ang) + dv * np.sin(ang)
        b = -du * np.sin(ang) + dv * np.cos(ang)
        inside = (np.abs(a) < bw / 2) & (np.abs(b) < bh / 2)
        base = terrain_z(np.array([cx]), np.array([cy]))[0]
        roof_h = rng.uniform(5.0, 18.0)
        pitch = rng.uniform(0.0, 0.5)  # flat or gabled roofs
        z = np.where(inside, base + roof_h + pitch * (bh / 2 - np.abs(b)), z)
        cls[inside] = BUILDING
        intensity[inside] = rng.normal(150, 20, int(inside.sum()))

    nt = n_trees if n_trees is not None else int(area / 150)
    tx, ty = rng.uniform(0, w, nt), rng.uniform(0, h, nt)
    th = rng.uniform(4.0, 25.0, nt)
    tr = th * rng.uniform(0.2, 0.35, nt)
    from scipy.spatial import cKDTree

    if nt > 0:
        d, idx = cKDTree(np.column_stack([tx, ty])).query(np.column_stack([u, v]), k=1)
    else:
        tx, ty, th, tr = (np.ones(1) * -1e9,) * 2 + (np.ones(1),) * 2
        d, idx = np.full(n, np.inf), np.zeros(n, dtype=np.intp)
    free = (cls == GROUND) & (d < tr[idx])
    hit_crown = free & (rng.uniform(0, 1, n) < 0.7)
    frac = 1.0 - (d / tr[idx]) ** 2
    crown_z = ground + th[idx] * (0.55 + 0.45 * np.sqrt(np.clip(frac, 0, 1)))
    crown_z = crown_z - rng.uniform(0, 0.3, n) * th[idx] * hit_crown
    hag = crown_z - ground
    z = np.where(hit_crown, crown_z, z)
    veg_cls = np.where(hag < 2.0, MEDIUM_VEGETATION, HIGH_VEGETATION)
    cls[hit_crown] = veg_cls[hit_crown]
    # pulses through a crown also leave a last return on the ground
    through = hit_crown & (rng.uniform(0, 1, n) < 0.4)
    k = int(through.sum())
    rn[hit_crown] = 1
    nr[hit_crown] = np.where(through[hit_crown], 2, 1)

    shrub = (cls == GROUND) & (rng.uniform(0, 1, n) < 0.05)
    z = np.where(shrub, ground + rng.uniform(0.3, 1.5, n), z)
    cls[shrub] = np.where(z[shrub] - ground[shrub] < 0.5, LOW_VEGETATION, MEDIUM_VEGETATION)

    gu, gv = u[through], v[through]
    gz = terrain_z(gu, gv) + rng.normal(0, 0.03, k)
    m = int(n * noise_fraction)
    nu, nv = rng.uniform(0, w, m), rng.uniform(0, h, m)
    nz = terrain_z(nu, nv) + np.where(
        rng.uniform(0, 1, m) < 0.5, -rng.uniform(3, 15, m), rng.uniform(40, 120, m)
    )

    X = np.concatenate([u, gu, nu]) + origin[0]
    Y = np.concatenate([v, gv, nv]) + origin[1]
    Z = np.concatenate([z, gz, nz])
    truth = np.concatenate([cls, np.full(k, GROUND, np.uint8), np.full(m, NOISE, np.uint8)])
    rnum = np.concatenate([rn, np.full(k, 2, np.uint8), np.ones(m, np.uint8)])
    nret = np.concatenate([nr, np.full(k, 2, np.uint8), np.ones(m, np.uint8)])
    inten = np.concatenate(
        [intensity, rng.normal(300, 40, k).clip(0), rng.normal(80, 10, m).clip(0)]
    )
    order = rng.permutation(X.size)
    cloud = PointCloud(
        x=X[order],
        y=Y[order],
        z=Z[order],
        dims={
            "classification": np.zeros(X.size, np.uint8),
            "return_number": rnum[order],
            "number_of_returns": nret[order],
            "intensity": inten[order].astype(np.uint16),
        },
        crs=CRS.from_epsg(crs) if crs else None,
        point_format=6,
        las_version="1.4",
        scales=(0.001, 0.001, 0.001),
        source="synthetic",
    )
    return Scene(cloud, truth[order], origin, size_m)


def ground_errors(
    truth_ground: NDArray[np.bool_], pred_ground: NDArray[np.bool_]
) -> dict[str, float]:
    """Sithole & Vosselman errors: Type I (ground rejected), Type II (object accepted), total,
    and Cohen's kappa, in percent (kappa as a fraction)."""
    t = truth_ground.astype(bool)
    p = pred_ground.astype(bool)
    n = t.size
    a = float((t & p).sum())
    b = float((t & ~p).sum())
    c = float((~t & p).sum())
    d = float((~t & ~p).sum())
    po = (a + d) / n
    pe = ((a + b) * (a + c) + (c + d) * (b + d)) / (n * n)
    return {
        "type1_pct": 100.0 * b / max(a + b, 1.0),
        "type2_pct": 100.0 * c / max(c + d, 1.0),
        "total_pct": 100.0 * (b + c) / n,
        "kappa": (po - pe) / (1.0 - pe) if pe < 1 else 1.0,
    }
