"""Height above ground and object classes (ASPRS 3/4/5 vegetation, 6 building).

Local geometry comes from a vectorised eigen-analysis of each point's k nearest neighbours
(scipy ``cKDTree`` plus batched ``numpy.linalg.eigh``): roofs are planar (a small smallest
eigenvalue), crowns are volumetric and scattered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from lidar.cloud import (
    BUILDING,
    GROUND,
    HIGH_VEGETATION,
    LOW_VEGETATION,
    MEDIUM_VEGETATION,
    NOISE,
    UNCLASSIFIED,
)
from lidar.grid import GridSpec, bilinear, check_grid_size
from lidar.raster import tin_surface

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def ground_surface(
    x: FloatArray, y: FloatArray, z: FloatArray, ground: BoolArray, cell: float
) -> tuple[GridSpec, FloatArray]:
    """A gap-free TIN ground surface on a grid of ``cell`` covering all points."""
    bounds = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    check_grid_size(bounds, cell)  # before the grid is allocated
    grid = GridSpec.covering(*bounds, cell)
    surf = tin_surface(grid, x[ground], y[ground], z[ground], fill_outside=True)
    return grid, surf


def height_above_ground(
    x: FloatArray, y: FloatArray, z: FloatArray, ground: BoolArray, *, cell: float = 0.5
) -> FloatArray:
    """Height of every point above the TIN of the ground points (ground points get ~0).

    >>> import numpy as np
    >>> x = np.array([0.0, 10, 0, 10, 5]); y = np.array([0.0, 0, 10, 10, 5])
    >>> z = np.array([1.0, 2, 1, 2, 9.5]); g = np.array([1, 1, 1, 1, 0], bool)
    >>> round(float(height_above_ground(x, y, z, g, cell=1.0)[4]), 1)
    8.0
    """
    if not ground.any():
        raise ValueError("no ground points: classify ground first")
    grid, surf = ground_surface(x, y, z, ground, cell)
    return np.asarray(z - bilinear(grid, surf, x, y))


def eigen_features(xyz: FloatArray, *, k: int = 10, batch: int = 200_000) -> dict[str, FloatArray]:
    """Per-point covariance features of the ``k`` nearest neighbours (incl. the point).

    Returns ``linearity``, ``planarity``, ``scattering`` (from sorted eigenvalues λ1 ≥ λ2 ≥ λ3,
    normalised by λ1) and ``verticality`` (1 − |n_z| of the normal).
    """
    n = xyz.shape[0]
    out = {name: np.zeros(n) for name in ("linearity", "planarity", "scattering", "verticality")}
    if n < 3:
        return out
    kk = min(k, n)
    batch = max(1, min(batch, 2_400_000 // kk))  # the (b, k, 3) neighbours: about 60 MB
    from scipy.spatial import cKDTree

    tree = cKDTree(xyz, balanced_tree=False, compact_nodes=False)
    for s in range(0, n, batch):
        e = min(n, s + batch)
        _d, idx = tree.query(xyz[s:e], k=kk, workers=-1)
        nb = xyz[idx]  # (b, k, 3)
        nb = nb - nb.mean(axis=1, keepdims=True)
        cov = np.einsum("bki,bkj->bij", nb, nb) / kk
        w, v = np.linalg.eigh(cov)  # ascending
        l1 = np.maximum(w[:, 2], 1e-12)
        out["linearity"][s:e] = (w[:, 2] - w[:, 1]) / l1
        out["planarity"][s:e] = (w[:, 1] - w[:, 0]) / l1
        out["scattering"][s:e] = w[:, 0] / l1
        out["verticality"][s:e] = 1.0 - np.abs(v[:, 2, 0])
    return out


@dataclass(frozen=True)
class ClassifyParams:
    """Thresholds in metres: vegetation bands by HAG, buildings by planarity and flatness."""

    min_height: float = 0.15
    low_veg_max: float = 0.5
    medium_veg_max: float = 2.0
    building_min_height: float = 2.0
    k: int = 12
    building_planarity: float = 0.1
    building_scattering: float = 0.03
    max_roof_verticality: float = 0.5


def classify_objects(
    xyz: FloatArray,
    hag: FloatArray,
    classification: NDArray[np.uint8],
    params: ClassifyParams | None = None,
) -> NDArray[np.uint8]:
    """Assign classes 3/4/5 (vegetation bands by HAG) and 6 (planar, near-horizontal roofs
    higher than ``building_min_height``) to points that are neither ground nor noise."""
    p = params or ClassifyParams()
    cls = classification.astype(np.uint8, copy=True)
    free = (cls != GROUND) & (cls != NOISE)
    cls[free] = UNCLASSIFIED
    cls[free & (hag >= p.min_height)] = LOW_VEGETATION
    cls[free & (hag >= p.low_veg_max)] = MEDIUM_VEGETATION
    high = free & (hag >= p.medium_veg_max)
    cls[high] = HIGH_VEGETATION
    tall = np.flatnonzero(free & (hag >= p.building_min_height))
    if tall.size >= 3:
        f = eigen_features(xyz[tall], k=p.k)
        roof = (
            (f["planarity"] >= p.building_planarity)
            & (f["scattering"] <= p.building_scattering)
            & (f["verticality"] <= p.max_roof_verticality)
        )
        # a roof is a neighbourhood of roof-like points: majority vote over the k neighbours
        from scipy.spatial import cKDTree

        tree = cKDTree(xyz[tall])
        _d, idx = tree.query(xyz[tall], k=min(p.k, tall.size), workers=-1)
        vote = roof[idx].mean(axis=1) >= 0.5
        cls[tall[vote]] = BUILDING
    return cls
