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

Compiled (numba): one pass over the points, each into the cells within its reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

FloatArray = NDArray[np.float64]

#: PDAL's band order
OUTPUT_TYPES = ("min", "max", "mean", "idw", "count", "stdev")
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

    def cells(wanted: bool, fill: float = 0.0) -> FloatArray:
        """A statistic's accumulator (empty when not asked for: the kernel skips it)."""
        return np.full(n_cells if wanted else 0, fill)

    want = set(outputs)
    vmin, vmax = cells("min" in want, np.inf), cells("max" in want, -np.inf)
    # the mean and the squared deviations' sum by Welford's updates, as PDAL's GDALGrid: a
    # sum of squares less the squared mean gave 6e-8 m for three equal heights (make fuzz)
    mean, m2 = cells(bool(want & {"mean", "stdev"})), cells("stdev" in want)
    idw_num, idw_den = cells("idw" in want), cells("idw" in want)
    exact = cells("idw" in want, np.nan)
    # the inverse-distance sums about a reference value (heights far from 0 keep their digits)
    ref = float(np.median(values[: min(len(values), 10_000)])) if len(values) else 0.0
    reach = 0 if binmode else math.ceil(radius / res) + 1
    if (2 * reach + 1) ** 2 * len(x) > MAX_VISITS:
        raise BadInputError(
            _(
                "a radius of {r:g} reaches {n} cells around each of {p:,} points: give a smaller "
                "radius or a coarser resolution"
            ).format(r=radius, n=(2 * reach + 1) ** 2, p=len(x))
        )
    _accumulate(
        np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(y, dtype=np.float64),
        np.ascontiguousarray(values, dtype=np.float64),
        grid.origin_x,
        grid.origin_y,
        res,
        w,
        h,
        radius,
        power,
        reach,
        binmode,
        ref,
        count,
        vmin,
        vmax,
        mean,
        m2,
        idw_num,
        idw_den,
        exact,
    )
    has = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = {
            "min": lambda: vmin,
            "max": lambda: vmax,
            "mean": lambda: mean,
            "idw": lambda: np.where(np.isnan(exact), idw_num / idw_den + ref, exact),
            "stdev": lambda: np.sqrt(m2 / np.where(has, count, 1.0)),
        }
        out = {k: np.where(has, stats[k](), np.nan) for k in want if k != "count"}
    if "count" in want:
        out["count"] = count
    grids = {k: a.reshape(h, w) for k, a in out.items()}
    if window_size > 0:
        _window_fill(grids, has.reshape(h, w), window_size)
    return {k: grids[k] for k in OUTPUT_TYPES if k in grids}


@numba.njit(cache=True, nogil=True)
def _accumulate(
    x: FloatArray,
    y: FloatArray,
    v: FloatArray,
    ox: float,
    oy: float,
    res: float,
    w: int,
    h: int,
    radius: float,
    power: float,
    reach: int,
    binmode: bool,
    ref: float,
    count: FloatArray,
    vmin: FloatArray,
    vmax: FloatArray,
    mean: FloatArray,
    m2: FloatArray,
    idw_num: FloatArray,
    idw_den: FloatArray,
    exact: FloatArray,
) -> None:
    """Each point into every cell whose centre lies within ``radius`` (its own cell only in
    ``binmode``), cells in north-up order; an empty array is a statistic not asked for. Sums
    are taken about ``ref``; min, max and a centre's exact value are the points' own; the mean
    and the squared deviations by Welford's updates."""
    r2 = radius * radius
    for p in range(x.shape[0]):
        px, py, pv = x[p], y[p], v[p]
        i0 = math.floor((px - ox) / res)
        j0 = math.floor((py - oy) / res)
        for dj in range(-reach, reach + 1):
            cj = j0 + dj
            if cj < 0 or cj >= h:
                continue
            cy = oy + (cj + 0.5) * res - py
            for di in range(-reach, reach + 1):
                ci = i0 + di
                if ci < 0 or ci >= w:
                    continue
                dx = ox + (ci + 0.5) * res - px
                d2 = dx * dx + cy * cy
                if not binmode and (d2 > r2 * 1.000001 or not math.sqrt(d2) < radius):
                    continue  # (PDAL compares the square root, as here, not the square)
                k = (h - 1 - cj) * w + ci
                count[k] += 1.0
                if vmin.shape[0]:
                    vmin[k] = min(vmin[k], pv)
                if vmax.shape[0]:
                    vmax[k] = max(vmax[k], pv)
                c = pv - ref
                if mean.shape[0]:
                    delta = pv - mean[k]
                    mean[k] += delta / count[k]
                    if m2.shape[0]:
                        m2[k] += delta * (pv - mean[k])
                if idw_num.shape[0]:
                    if d2 == 0.0:
                        if math.isnan(exact[k]):  # the first point on the centre
                            exact[k] = pv
                    else:
                        wgt = 1.0 / math.sqrt(d2) if power == 1.0 else d2 ** (-0.5 * power)
                        idw_num[k] += wgt * c
                        idw_den[k] += wgt


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
