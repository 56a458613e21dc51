"""Terrain model (DTM) from the reconstructed cloud: ground points separated, then gridded.

The ground filter is not written here: the toolkit's LiDAR package has SMRF and CSF
(``lidar.ground.smrf``), and the import contracts keep the domain packages ``photo`` and
``lidar`` independent. So :func:`dtm_from_cloud` takes the filter as a function
``(x, y, z) -> ground mask`` (:data:`GroundFilter`), and the application layer (the demo, or
the CLI once the contract lets ``photo`` use ``lidar``) hands ``lidar.ground.smrf`` in. Pure
arrays in and out.

Ground can be separated when enough of the cloud is ground and it spreads over the area: a
capture of roofs only, or a cloud too sparse for a morphological filter, gives no DTM
(``None`` with the reason) rather than a DSM under another name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dronekit_plzen.i18n import _
from photo.surface import Grid, grid_dsm

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: a ground filter: x, y, z (metres, 1-D) → True where the point is ground
GroundFilter = Callable[[FloatArray, FloatArray, FloatArray], BoolArray]

#: fewest ground points, and smallest ground share of the cloud, for a DTM
MIN_GROUND_POINTS = 200
MIN_GROUND_FRACTION = 0.05
#: the ground points must touch this share of the DSM's measured cells (at 4 × the cell size)
MIN_GROUND_SPREAD = 0.25


@dataclass(frozen=True)
class Dtm:
    z: FloatArray  # (rows, cols) model heights on the DSM grid, NaN where not measured
    ground: BoolArray  # per point of the cloud: ground
    ground_points: int
    ground_fraction: float


def dtm_from_cloud(
    xyz: FloatArray,
    grid: Grid,
    ground_filter: GroundFilter,
    measured: BoolArray | None = None,
) -> tuple[Dtm | None, str]:
    """The DTM on ``grid`` from the ground points of ``xyz``, or None and why not.

    ``measured`` (same shape as the grid) limits the DTM to where the DSM was measured; under
    buildings and trees inside it the terrain is interpolated between ground points.
    """
    if len(xyz) < MIN_GROUND_POINTS:
        return None, _("too few points to separate the ground")
    ground = np.asarray(ground_filter(xyz[:, 0], xyz[:, 1], xyz[:, 2]), dtype=bool)
    n = int(ground.sum())
    frac = n / len(xyz)
    if n < MIN_GROUND_POINTS or frac < MIN_GROUND_FRACTION:
        return None, _(
            "the ground filter found too little ground ({pct:.1f} % of the cloud)"
        ).format(pct=100.0 * frac)
    gxyz = xyz[ground]
    coarse = grid.resampled(grid.res * 4.0)
    col = np.floor((gxyz[:, 0] - coarse.left) / coarse.res).astype(np.int64)
    row = np.floor((coarse.top - gxyz[:, 1]) / coarse.res).astype(np.int64)
    ok = (col >= 0) & (col < coarse.cols) & (row >= 0) & (row < coarse.rows)
    touched = np.zeros((coarse.rows, coarse.cols), dtype=bool)
    touched[row[ok], col[ok]] = True
    acol = np.floor((xyz[:, 0] - coarse.left) / coarse.res).astype(np.int64)
    arow = np.floor((coarse.top - xyz[:, 1]) / coarse.res).astype(np.int64)
    aok = (acol >= 0) & (acol < coarse.cols) & (arow >= 0) & (arow < coarse.rows)
    anywhere = np.zeros_like(touched)
    anywhere[arow[aok], acol[aok]] = True
    spread = float(touched.sum()) / max(int(anywhere.sum()), 1)
    if spread < MIN_GROUND_SPREAD:
        return None, _("the ground points cover only {pct:.0f} % of the area").format(
            pct=100.0 * spread
        )
    z = grid_dsm(gxyz, grid)
    if measured is not None:
        z = np.where(measured, z, np.nan)
    return Dtm(z=z, ground=ground, ground_points=n, ground_fraction=frac), ""
