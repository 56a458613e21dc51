"""PDAL's ``writers.gdal`` gridding: per-cell statistics of the points near each cell's centre.

A pipeline written for PDAL (``filters.smrf`` → ``filters.range Classification[2:2]`` →
``writers.gdal`` with ``output_type`` ``idw`` or ``min``) runs here unchanged and gives the same
raster. The rules are PDAL's (its ``writers.gdal`` documentation and ``GDALGrid``):

- the grid's lower-left corner is the points' (minx, miny), ``floor(extent / resolution) + 1``
  cells each way (or the cells ``bounds`` / ``origin_x``, ``origin_y``, ``width``, ``height``
  give); rows run north to south in the file;
- a point adds to every cell whose centre lies closer than ``radius`` (default resolution × √2;
  ``binmode``: only to the cell it lies in);
- the bands, in PDAL's order: ``min``, ``max``, ``mean``, ``idw`` (Shepard's inverse distance
  weighting, weights 1 / d^power; a point on a cell's centre gives the cell its value), ``count``,
  ``stdev`` (population);
- an empty cell is filled, when ``window_size`` > 0, from the cells that had points within that
  many cells (Chebyshev distance d, weights 1 / d, every band but ``count``); otherwise it is
  nodata.

Vectorised: the cells around the points are visited offset by offset (25 offsets for the default
radius), each over every point of a chunk at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

FloatArray = NDArray[np.float64]

#: PDAL's band order
OUTPUT_TYPES = ("min", "max", "mean", "idw", "count", "stdev")
#: points handled at once (a few arrays of this length per offset)
CHUNK = 1_000_000
#: the largest grid accepted, in cells (PDAL's limit is the int range; this is a memory limit:
#: about 9 arrays of 8 bytes a cell)
MAX_CELLS = 400_000_000
#: the most point-cell pairs looked at (points × cells in reach of the radius): hours beyond
MAX_VISITS = 20_000_000_000


@dataclass(frozen=True)
class PdalGrid:
    """A grid as PDAL lays it: lower-left corner, cell size, cells across and up."""

    origin_x: float
    origin_y: float
    res: float
    width: int
    height: int

    @property
    def top(self) -> float:
        return self.origin_y + self.res * self.height

    @classmethod
    def covering(cls, minx: float, miny: float, maxx: float, maxy: float, res: float) -> PdalGrid:
        """PDAL's grid over a box: the corner at (minx, miny), floor(extent / res) + 1 cells."""
        width = math.floor((maxx - minx) / res) + 1
        height = math.floor((maxy - miny) / res) + 1
        if width * height > MAX_CELLS:
            raise BadInputError(
                _(
                    "a grid of {w:,} × {h:,} cells of {r:g} is too large: give a coarser "
                    "resolution or bounds"
                ).format(w=width, h=height, r=res)
            )
        return cls(minx, miny, res, width, height)


def parse_output_types(value: str | list[str] | None) -> tuple[str, ...]:
    """PDAL's ``output_type`` (a comma list, a list, or ``all``; default ``all``) in band order."""
    items = [value] if isinstance(value, str) else list(value or ["all"])
    wanted: set[str] = set()
    for item in items:
        for name in str(item).split(","):
            name = name.strip()
            if name == "all":
                wanted.update(OUTPUT_TYPES)
            elif name in OUTPUT_TYPES:
                wanted.add(name)
            else:
                raise BadInputError(
                    _("output_type {t!r} is not one of {known}").format(
                        t=name, known=", ".join((*OUTPUT_TYPES, "all"))
                    )
                )
    return tuple(t for t in OUTPUT_TYPES if t in wanted)


def grid_stats(
    x: FloatArray,
    y: FloatArray,
    values: FloatArray,
    grid: PdalGrid,
    outputs: tuple[str, ...],
    *,
    radius: float,
    power: float = 1.0,
    window_size: int = 0,
    binmode: bool = False,
) -> dict[str, FloatArray]:
    """Each requested statistic as a (height, width) array, row 0 the northern one; NaN where a
    cell has no value (``count`` is 0 there)."""
    w, h, res = grid.width, grid.height, grid.res
    n_cells = w * h
    count = np.zeros(n_cells)
    need_mean = "mean" in outputs or "stdev" in outputs
    vmin = np.full(n_cells, np.inf) if "min" in outputs else None
    vmax = np.full(n_cells, -np.inf) if "max" in outputs else None
    # sums about a reference value: no cancellation in the variance of heights far from 0
    ref = float(np.median(values[: min(len(values), 10_000)])) if len(values) else 0.0
    vsum = np.zeros(n_cells) if need_mean else None
    vsq = np.zeros(n_cells) if "stdev" in outputs else None
    idw_num = np.zeros(n_cells) if "idw" in outputs else None
    idw_den = np.zeros(n_cells) if "idw" in outputs else None
    exact = np.full(n_cells, np.nan) if "idw" in outputs else None
    reach = 0 if binmode else math.ceil(radius / res) + 1
    if (2 * reach + 1) ** 2 * len(x) > MAX_VISITS:
        raise BadInputError(
            _(
                "a radius of {r:g} reaches {n} cells around each of {p:,} points: give a smaller "
                "radius or a coarser resolution"
            ).format(r=radius, n=(2 * reach + 1) ** 2, p=len(x))
        )
    offsets = [(di, dj) for dj in range(-reach, reach + 1) for di in range(-reach, reach + 1)]
    for lo in range(0, len(x), CHUNK):
        px, py = x[lo : lo + CHUNK], y[lo : lo + CHUNK]
        raw = values[lo : lo + CHUNK]
        pv = raw - ref
        i0 = np.floor((px - grid.origin_x) / res).astype(np.int64)
        j0 = np.floor((py - grid.origin_y) / res).astype(np.int64)
        for di, dj in offsets:
            ci, cj = i0 + di, j0 + dj
            d = np.hypot(
                grid.origin_x + (ci + 0.5) * res - px, grid.origin_y + (cj + 0.5) * res - py
            )
            ok = (ci >= 0) & (ci < w) & (cj >= 0) & (cj < h)
            if not binmode:
                ok &= d < radius
            if not ok.any():
                continue
            cell = ((h - 1 - cj[ok]) * w + ci[ok]).astype(np.int64)  # north-up rows
            v, r, dd = pv[ok], raw[ok], d[ok]
            count += np.bincount(cell, minlength=n_cells)
            if vmin is not None:
                np.minimum.at(vmin, cell, r)
            if vmax is not None:
                np.maximum.at(vmax, cell, r)
            if vsum is not None:
                vsum += np.bincount(cell, weights=v, minlength=n_cells)
            if vsq is not None:
                vsq += np.bincount(cell, weights=v * v, minlength=n_cells)
            if idw_num is not None and idw_den is not None and exact is not None:
                on = dd == 0.0
                if on.any():  # a point on the centre gives the cell its value (the first one)
                    first, at = np.unique(cell[on], return_index=True)
                    fresh = np.isnan(exact[first])
                    exact[first[fresh]] = r[on][at][fresh]
                wgt = np.zeros_like(dd)
                wgt[~on] = dd[~on] ** -power
                idw_num += np.bincount(cell, weights=wgt * v, minlength=n_cells)
                idw_den += np.bincount(cell, weights=wgt, minlength=n_cells)
    has = count > 0
    out: dict[str, FloatArray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        if vmin is not None:
            out["min"] = np.where(has, vmin, np.nan)
        if vmax is not None:
            out["max"] = np.where(has, vmax, np.nan)
        mean = vsum / np.where(has, count, 1.0) if vsum is not None else None
        if mean is not None and "mean" in outputs:
            out["mean"] = np.where(has, mean + ref, np.nan)
        if idw_num is not None and idw_den is not None and exact is not None:
            idw = np.where(np.isnan(exact), idw_num / idw_den + ref, exact)
            out["idw"] = np.where(has, idw, np.nan)
        if "count" in outputs:
            out["count"] = count.copy()
        if vsq is not None and mean is not None:
            var = np.maximum(vsq / np.where(has, count, 1.0) - mean * mean, 0.0)
            out["stdev"] = np.where(has, np.sqrt(var), np.nan)
    grids = {k: a.reshape(h, w) for k, a in out.items()}
    if window_size > 0:
        _window_fill(grids, has.reshape(h, w), window_size)
    return {k: grids[k] for k in OUTPUT_TYPES if k in grids}


def _window_fill(grids: dict[str, FloatArray], has: NDArray[np.bool_], size: int) -> None:
    """PDAL's fallback: an empty cell takes the inverse-(Chebyshev-)distance weighted mean of
    the cells with points within ``size`` cells; ``count`` is left as it is."""
    h, w = has.shape
    empty = ~has
    if not empty.any() or not has.any():
        return
    bands = [k for k in grids if k != "count"]
    acc = {k: np.zeros((h, w)) for k in bands}
    wsum = np.zeros((h, w))
    donors = {k: np.where(has, grids[k], 0.0) for k in bands}
    for dy in range(-size, size + 1):
        for dx in range(-size, size + 1):
            if dx == 0 and dy == 0:
                continue
            wgt = 1.0 / max(abs(dx), abs(dy))
            # target rows/cols [t0:t1], their donors shifted by (dy, dx)
            ty0, ty1 = max(0, -dy), min(h, h - dy)
            tx0, tx1 = max(0, -dx), min(w, w - dx)
            if ty0 >= ty1 or tx0 >= tx1:
                continue
            src_has = has[ty0 + dy : ty1 + dy, tx0 + dx : tx1 + dx]
            wsum[ty0:ty1, tx0:tx1] += wgt * src_has
            for k in bands:
                acc[k][ty0:ty1, tx0:tx1] += (
                    wgt * donors[k][ty0 + dy : ty1 + dy, tx0 + dx : tx1 + dx]
                )
    fill = empty & (wsum > 0)
    for k in bands:
        grids[k][fill] = acc[k][fill] / wsum[fill]
