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

Compiled (numba): one pass over the points, each into the cells within its reach; the window
fill by FFT correlations.
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
    # Shepard's sums relative to the nearest point's weight (its squared distance in idw_d2)
    idw_num, idw_den = cells("idw" in want), cells("idw" in want)
    idw_d2 = cells("idw" in want, np.inf)
    exact = cells("idw" in want, np.nan)
    # the inverse-distance sums about a reference value (heights far from 0 keep their digits)
    ref = float(np.median(values[: min(len(values), 10_000)])) if len(values) else 0.0
    # the cells a point's radius spans each way (held to 2^53: the kernel keeps to the grid)
    span = radius / res
    reach = 0 if binmode else (math.ceil(span) + 1 if span < 2.0**53 else 2**53)
    reached = (2 * reach + 1) ** 2
    if reached * len(x) > MAX_VISITS:
        raise BadInputError(
            _(
                "a radius of {r:g} reaches {n} cells around each of {p:,} points: give a smaller "
                "radius or a coarser resolution"
            ).format(r=radius, n=str(reached) if reached < 10**15 else f"{reached:.3g}", p=len(x))
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
        idw_d2,
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
    idw_d2: FloatArray,
    exact: FloatArray,
) -> None:
    """Each point into every cell whose centre lies within ``radius`` (its own cell only in
    ``binmode``), cells in north-up order; an empty array is a statistic not asked for. Sums
    are taken about ``ref``; min, max and a centre's exact value are the points' own; the mean
    and the squared deviations by Welford's updates; the inverse-distance sums relative to the
    weight of the nearest point yet (rescaled when a nearer one comes, as a streaming softmax),
    so that no ``power`` overflows them."""
    r2 = radius * radius
    half = 0.5 * power
    for p in range(x.shape[0]):
        px, py, pv = x[p], y[p], v[p]
        # the point's cell (held to ±2^60 cells: far beyond the grid is as good as further)
        i0 = math.floor(min(max((px - ox) / res, -(2.0**60)), 2.0**60))
        j0 = math.floor(min(max((py - oy) / res, -(2.0**60)), 2.0**60))
        for cj in range(max(j0 - reach, 0), min(j0 + reach, h - 1) + 1):
            cy = oy + (cj + 0.5) * res - py
            for ci in range(max(i0 - reach, 0), min(i0 + reach, w - 1) + 1):
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
                        continue
                    # the weights relative to the nearest point's, (d_near / d)^power <= 1:
                    # no power overflows them, a large one leaves the nearest points' mean
                    if d2 < idw_d2[k]:
                        if idw_den[k] > 0.0:  # a nearer point: the sums rescaled to it
                            f = _ratio_power(d2 / idw_d2[k], half)
                            idw_num[k] *= f
                            idw_den[k] *= f
                        idw_d2[k] = d2
                        wgt = 1.0
                    else:
                        wgt = _ratio_power(idw_d2[k] / d2, half)
                    idw_num[k] += wgt * c
                    idw_den[k] += wgt


@numba.njit(cache=True, nogil=True, inline="always")
def _ratio_power(ratio: float, half: float) -> float:
    """``ratio ** half`` for a ratio of squared distances (0 < ratio <= 1): a distance ratio to
    the power, the common powers without ``pow``."""
    if half == 0.5:
        return math.sqrt(ratio)
    if half == 1.0:
        return ratio
    return ratio**half


def _window_fill(grids: dict[str, FloatArray], has: NDArray[np.bool_], size: int) -> None:
    """PDAL's fallback: an empty cell takes the inverse-(Chebyshev-)distance weighted mean of
    the cells with points within ``size`` cells; ``count`` is left as it is.

    The weighted sums of every cell are two correlations with the weights (the donors' values,
    and their mask), taken by FFT tile by tile: seconds, where cell by cell it took cells ×
    window² steps. Whether a cell has a donor at all is found exactly (a maximum filter of the
    mask), so that FFT round-off never fills a cell that has none."""
    from scipy import ndimage

    h, w = has.shape
    bands = [k for k in grids if k != "count"]
    if not bands or has.all() or not has.any():
        return
    span = 2 * size + 1
    near = ndimage.maximum_filter(has.view(np.uint8), size=span, mode="constant") > 0
    fill = ~has & near
    if not fill.any():
        return
    # each band about its donors' mean (FFT round-off scales with the values' size); a donor
    # that is no number spoils the cells within its reach, as in PDAL's sums
    refs: list[float] = []
    spoilt: list[NDArray[np.bool_] | None] = []
    for k in bands:
        ok = has & np.isfinite(grids[k])
        refs.append(float(grids[k][ok].mean()) if ok.any() else 0.0)
        bad = has & ~ok
        spoilt.append(
            ndimage.maximum_filter(bad.view(np.uint8), size=span, mode="constant") > 0
            if bad.any()
            else None
        )
    conv = _WindowSums(size)
    for r0 in range(0, h, _FILL_TILE):
        for c0 in range(0, w, _FILL_TILE):
            r1, c1 = min(h, r0 + _FILL_TILE), min(w, c0 + _FILL_TILE)
            want = fill[r0:r1, c0:c1]
            if not want.any():
                continue
            # the donors within reach of the tile (none beyond the grid)
            a0, a1 = max(0, r0 - size), min(h, r1 + size)
            b0, b1 = max(0, c0 - size), min(w, c1 + size)
            at = (a0 - r0 + size, b0 - c0 + size)
            src = has[a0:a1, b0:b1]
            wsum = conv.sums(src, at, (r1 - r0, c1 - c0))[want]
            for k, ref, spoils in zip(bands, refs, spoilt):
                v = grids[k][a0:a1, b0:b1]
                donors = np.where(src & np.isfinite(v), v - ref, 0.0)
                value = ref + conv.sums(donors, at, (r1 - r0, c1 - c0))[want] / wsum
                if spoils is not None:
                    value[spoils[r0:r1, c0:c1][want]] = np.nan
                grids[k][r0:r1, c0:c1][want] = value


#: the cells along a tile of the window fill (its FFTs are of this plus twice the window)
_FILL_TILE = 2048


class _WindowSums:
    """Sums of a tile's cells' neighbours within ``size`` cells weighted 1 / (Chebyshev
    distance), the cell itself not counted: a correlation by FFT (the weights' transform kept
    for each transform size)."""

    def __init__(self, size: int) -> None:
        d = np.abs(np.arange(-size, size + 1))
        cheb = np.maximum(d[:, None], d[None, :]).astype(np.float64)
        cheb[size, size] = np.inf  # the cell itself
        self.size = size
        self.kernel = 1.0 / cheb  # symmetric: the convolution is the correlation
        self._spectra: dict[tuple[int, int], NDArray[np.complex128]] = {}

    def sums(
        self,
        values: NDArray[np.float64] | NDArray[np.bool_],
        at: tuple[int, int],
        out: tuple[int, int],
    ) -> FloatArray:
        """The weighted neighbour sums of the ``out`` cells of a tile whose neighbourhood
        (``size`` cells beyond it each way, zero where nothing is given) holds ``values`` from
        row, column ``at``."""
        from scipy import fft

        s = self.size
        n = (out[0] + 2 * s, out[1] + 2 * s)
        # a circular convolution of length >= n wraps only into the cells that are not kept
        shape = (fft.next_fast_len(n[0], True), fft.next_fast_len(n[1], True))
        spectrum = self._spectra.get(shape)
        if spectrum is None:
            spectrum = fft.rfft2(self.kernel, shape)
            self._spectra[shape] = spectrum
        padded = np.zeros(shape)
        padded[at[0] : at[0] + values.shape[0], at[1] : at[1] + values.shape[1]] = values
        full = fft.irfft2(fft.rfft2(padded, workers=-1) * spectrum, shape, workers=-1)
        return full[2 * s : 2 * s + out[0], 2 * s : 2 * s + out[1]]
