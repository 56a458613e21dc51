"""The in-memory point cloud: coordinate arrays plus named dimensions, CRS and units.

Stages are pure functions over these arrays; a :class:`PointCloud` only carries them together
with what a writer needs to reproduce the file faithfully (point format, LAS version, scales).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS

FloatArray = NDArray[np.float64]

#: ASPRS LAS classification codes used by the pipeline
CREATED = 0
UNCLASSIFIED = 1
GROUND = 2
LOW_VEGETATION = 3
MEDIUM_VEGETATION = 4
HIGH_VEGETATION = 5
BUILDING = 6
NOISE = 7
WATER = 9


@dataclass(frozen=True)
class PointCloud:
    """Points as arrays of equal length.

    ``x``, ``y``, ``z`` are float64 in the CRS's units (``xy_unit_m``/``z_unit_m`` metres per
    unit: 0.3048006 for US survey feet). ``dims`` holds every other LAS dimension by its laspy
    name (``classification``, ``intensity``, ``return_number``, ``number_of_returns``, ...).
    """

    x: FloatArray
    y: FloatArray
    z: FloatArray
    dims: dict[str, np.ndarray] = field(default_factory=dict)
    crs: CRS | None = None
    xy_unit_m: float = 1.0
    z_unit_m: float = 1.0
    point_format: int = 6
    las_version: str = "1.4"
    scales: tuple[float, float, float] | None = None
    source: str = ""

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def dim(self, name: str, default: Any = 0) -> np.ndarray:
        """The dimension ``name``, or an array filled with ``default`` when the file lacks it."""
        arr = self.dims.get(name)
        if arr is None:
            dtype = np.uint8 if isinstance(default, int) else np.float64
            return np.full(len(self), default, dtype=dtype)
        return arr

    @property
    def classification(self) -> NDArray[np.uint8]:
        return self.dim("classification", CREATED).astype(np.uint8, copy=False)

    def with_dims(self, **dims: np.ndarray) -> PointCloud:
        """A copy with some dimensions replaced or added."""
        new = dict(self.dims)
        new.update(dims)
        return replace(self, dims=new)

    def select(self, mask: NDArray[np.bool_] | NDArray[np.intp] | slice) -> PointCloud:
        """The subset of points chosen by a boolean mask, index array or slice (a view)."""
        return replace(
            self,
            x=self.x[mask],
            y=self.y[mask],
            z=self.z[mask],
            dims={k: v[mask] for k, v in self.dims.items()},
        )

    def bounds(self) -> tuple[float, float, float, float, float, float]:
        """(minx, miny, minz, maxx, maxy, maxz); NaNs for an empty cloud."""
        if len(self) == 0:
            return (float("nan"),) * 6  # type: ignore[return-value]
        return (
            float(self.x.min()),
            float(self.y.min()),
            float(self.z.min()),
            float(self.x.max()),
            float(self.y.max()),
            float(self.z.max()),
        )


def concat(clouds: list[PointCloud]) -> PointCloud:
    """Concatenate clouds with the same CRS and dimensions (the first one's metadata is kept)."""
    if not clouds:
        raise ValueError("nothing to concatenate")
    first = clouds[0]
    names = [k for k in first.dims if all(k in c.dims for c in clouds)]
    return replace(
        first,
        x=np.concatenate([c.x for c in clouds]),
        y=np.concatenate([c.y for c in clouds]),
        z=np.concatenate([c.z for c in clouds]),
        dims={k: np.concatenate([c.dims[k] for c in clouds]) for k in names},
    )
