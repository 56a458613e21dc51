"""Compiled kernel of the POA planner's receding horizon (:func:`missions.poa_search.plan_one`).

One drone's greedy walk over the coarse footprint grid: at every step the best of all
no-reversal move sequences ``horizon`` long (discounted, each cell counted once), or a jump to
the block of cells with the best probability per unit of distance when that promises more. The
walk is inherently sequential (each step zeroes what it covers), so it is a loop; compiled it
costs microseconds per step instead of the tens a NumPy step costs in Python.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@numba.njit(cache=True, nogil=True)
def _zero(
    inner: FloatArray, vn: FloatArray, block: FloatArray, h: int, a: int, b: int, half_b: int
) -> None:
    """Cell (a, b) covered: its value leaves the grid, the scores and the block sums."""
    rows, cols = inner.shape
    if a < 0 or a >= rows or b < 0 or b >= cols:
        return
    old = inner[a, b]
    if old != 0.0:
        inner[a, b] = 0.0
        vn[a + h, b + h] = 0.0
        for i in range(max(a - half_b, 0), min(a + half_b + 1, rows)):
            for j in range(max(b - half_b, 0), min(b + half_b + 1, cols)):
                block[i, j] -= old


@numba.njit(cache=True, nogil=True)
def _visit(
    v: FloatArray,
    inner: FloatArray,
    vn: FloatArray,
    nb: FloatArray,
    block: FloatArray,
    h: int,
    a: int,
    b: int,
    half_b: int,
    wall_bonus: float,
) -> None:
    """The drone steps onto (a, b): zero it; its neighbours are worth ``wall_bonus`` more."""
    _zero(inner, vn, block, h, a, b, half_b)
    r, q = a + h, b + h
    rr, cc = v.shape
    for i in range(max(r - 1, 0), min(r + 2, rr)):
        for j in range(max(q - 1, 0), min(q + 2, cc)):
            if wall_bonus != 0.0:
                nb[i, j] += wall_bonus
            vn[i, j] = v[i, j] * nb[i, j]


@numba.njit(cache=True, nogil=True)
def receding_horizon(
    values: FloatArray,
    block: FloatArray,
    r0: int,
    c0: int,
    steps: float,
    cum: IntArray,
    weight: FloatArray,
    jump_factor: float,
    wall_bonus: float,
    half_b: int,
    block_area: float,
) -> FloatArray:
    """Cells (row, col) visited from (r0, c0) within ``steps`` cell lengths.

    ``values``: probability per coarse cell (read only); ``block``: its sums over the
    ``2 half_b + 1`` square around each cell (updated in place); ``cum`` (S, h, 2): cumulative
    offsets of the move sequences, in tree order (4 first moves, then 3 each, as
    :func:`missions.poa_search._sequences` builds them); ``weight`` (S, h): discount × whether
    the step enters a new cell; ``block_area``: cells per block (the jump rate's distance
    offset)."""
    rows, cols = values.shape
    n_seq, h = weight.shape
    # padded copy: outside the grid a step costs a lot, so no bounds checks per step
    v = np.full((rows + 2 * h, cols + 2 * h), -1.0)
    v[h : rows + h, h : cols + h] = values
    inner = v[h : rows + h, h : cols + h]
    nb = np.ones_like(v)
    vn = v.copy()
    width = cols + 2 * h
    vn_flat = vn.reshape(-1)
    # the sequences form a tree: node j of level k is the first k + 1 moves of sequence
    # j * stride, and its parent is node j // 3 of level k - 1; each prefix is scored once
    t_off = np.zeros((h, n_seq), dtype=np.int64)
    t_w = np.zeros((h, n_seq))
    cnt = 4
    for k in range(h):
        stride = n_seq // cnt
        for j in range(cnt):
            t_off[k, j] = (cum[j * stride, k, 0] + h) * width + (cum[j * stride, k, 1] + h)
            t_w[k, j] = weight[j * stride, k]
        cnt *= 3
    a_s = np.empty(n_seq)
    b_s = np.empty(n_seq)
    # every vertex after the first costs at least one cell length (a jump at least 2), and a
    # step is taken only while one more fits: at most floor(steps) + 1 vertices follow it
    pts = np.empty((max(int(steps), 0) + 2, 2))
    pr, pc = r0, c0
    _visit(v, inner, vn, nb, block, h, pr, pc, half_b, wall_bonus)
    pts[0, 0] = pr
    pts[0, 1] = pc
    n = 1
    used = 0.0
    last_jump_rate = np.inf
    while used + 1.0 <= steps + 1e-9:
        base = pr * width + pc
        for j in range(4):
            a_s[j] = vn_flat[t_off[0, j] + base] * t_w[0, j]
        cnt = 4
        for k in range(1, h):
            cnt *= 3
            for j in range(cnt):
                b_s[j] = a_s[j // 3] + vn_flat[t_off[k, j] + base] * t_w[k, j]
            a_s, b_s = b_s, a_s
        best = 0
        for i in range(n_seq):
            if a_s[i] > a_s[best]:
                best = i
        best_score = a_s[best]
        local_rate = max(best_score, 0.0) / h
        walk = local_rate > 0 and local_rate >= last_jump_rate and n % 4 != 0
        jumped = False
        if not walk:
            # the block with the best probability per unit of distance (beyond the next cell,
            # within what is left of the budget); a cell that cannot beat the best so far is
            # skipped before its distance is taken: no cell nearer than 2 counts, so
            # block / (2 + block_area) bounds its rate, and the answer is the plain argmax
            left = steps - used
            tr, tc, t_rate, t_dist = 0, 0, 0.0, 0.0
            first = True
            for i in range(rows):
                for j in range(cols):
                    if not first and max(block[i, j], 0.0) / (2.0 + block_area) <= t_rate:
                        continue
                    d = math.hypot(i - pr, j - pc)
                    rate = block[i, j] / (d + block_area)
                    if d < 2.0 or d > left:
                        rate = 0.0
                    if first or rate > t_rate:
                        t_rate, tr, tc, t_dist = rate, i, j, d
                        first = False
            last_jump_rate = t_rate * jump_factor
            jumped = t_rate > jump_factor * local_rate and t_rate > 0
            if jumped:
                # fly straight there: what the line passes over is covered on the way
                m = max(2, math.ceil(t_dist * 4) + 1)
                step = 1.0 / (m - 1)
                for k in range(m):
                    t = 1.0 if k == m - 1 else k * step
                    _zero(
                        inner,
                        vn,
                        block,
                        h,
                        int(np.rint(pr + (tr - pr) * t)),
                        int(np.rint(pc + (tc - pc) * t)),
                        half_b,
                    )
                used += t_dist
                pr, pc = tr, tc
            elif best_score <= 0.0:
                break  # nothing left within reach
        if not jumped:
            pr += cum[best, 0, 0]
            pc += cum[best, 0, 1]
            _visit(v, inner, vn, nb, block, h, pr, pc, half_b, wall_bonus)
            used += 1.0
        pts[n, 0] = pr
        pts[n, 1] = pc
        n += 1
    return pts[:n].copy()


@numba.njit(cache=True, nogil=True)
def burn_polygons(
    px: FloatArray,
    py: FloatArray,
    ring_start: IntArray,
    poly_ring: IntArray,
    out: NDArray[np.uint8],
) -> None:
    """Set ``out`` to 1 on every pixel whose centre is inside one of the polygons.

    Coordinates are in pixel units (column, row from the top-left corner); ring ``i`` is
    vertices ``ring_start[i]`` … ``ring_start[i + 1] - 1`` (closed: the last repeats the
    first) and polygon ``p`` is rings ``poly_ring[p]`` … ``poly_ring[p + 1] - 1`` (shell and
    holes, filled even-odd). GDAL's scanline rule (``GDALdllImageFilledPolygon``, as
    :func:`rasterio.features.rasterize` without ``all_touched``): at each row's centre line the
    edges crossing it (half-open in y, horizontal ones skipped) give the x intersections, and
    the pixels from ``floor(x_a + 0.5)`` up to before ``floor(x_b + 0.5)`` of each pair burn;
    a horizontal edge lying on a centre line below its ring's inside burns its span as well
    (:func:`_burn_flat_edges`)."""
    h, w = out.shape
    n_poly = poly_ring.shape[0] - 1
    count = np.zeros(h + 1, dtype=np.int64)  # per row: where its crossings start in ``xs``
    fill = np.zeros(h, dtype=np.int64)
    xs = np.empty(1024)
    for p in range(n_poly):
        v0 = ring_start[poly_ring[p]]
        v1 = ring_start[poly_ring[p + 1]]
        if v1 - v0 < 3:
            continue
        ymin, ymax = np.inf, -np.inf
        finite = True
        for i in range(v0, v1):
            finite &= math.isfinite(px[i]) and math.isfinite(py[i])
            ymin = min(ymin, py[i])
            ymax = max(ymax, py[i])
        if not finite:  # a polygon with a NaN or infinite vertex covers nothing
            continue
        _burn_flat_edges(px, py, ring_start, poly_ring, p, out)
        r_lo = max(math.ceil(ymin - 0.5), 0)
        r_hi = min(math.ceil(ymax - 0.5), h)  # rows r_lo … r_hi - 1
        if r_hi <= r_lo:
            continue
        n_rows = r_hi - r_lo
        # each edge's crossings go to the rows it spans (work: the crossings, not rows × edges)
        count[: n_rows + 1] = 0
        for ring in range(poly_ring[p], poly_ring[p + 1]):
            for i in range(ring_start[ring], ring_start[ring + 1] - 1):
                ya, yb = min(py[i], py[i + 1]), max(py[i], py[i + 1])
                a = max(math.ceil(ya - 0.5), r_lo)
                b = min(math.ceil(yb - 0.5), r_hi)  # rows a … b - 1: ya <= r + .5 < yb
                for r in range(a, b):
                    count[r - r_lo + 1] += 1
        for r in range(1, n_rows + 1):
            count[r] += count[r - 1]
        if xs.shape[0] < count[n_rows]:
            xs = np.empty(2 * count[n_rows])
        fill[:n_rows] = count[:n_rows]
        for ring in range(poly_ring[p], poly_ring[p + 1]):
            for i in range(ring_start[ring], ring_start[ring + 1] - 1):
                ya, yb = py[i], py[i + 1]
                xa, xb = px[i], px[i + 1]
                if ya > yb:
                    ya, yb = yb, ya
                    xa, xb = xb, xa
                a = max(math.ceil(ya - 0.5), r_lo)
                b = min(math.ceil(yb - 0.5), r_hi)
                for r in range(a, b):
                    yc = r + 0.5
                    if yc < ya or yc >= yb:  # rounding at the ends: the rule decides
                        continue
                    xs[fill[r - r_lo]] = xa + (yc - ya) * (xb - xa) / (yb - ya)
                    fill[r - r_lo] += 1
        for r in range(r_lo, r_hi):
            lo, hi = count[r - r_lo], fill[r - r_lo]
            for i in range(lo + 1, hi):  # insertion sort: a few crossings per row
                x = xs[i]
                j = i - 1
                while j >= lo and xs[j] > x:
                    xs[j + 1] = xs[j]
                    j -= 1
                xs[j + 1] = x
            for i in range(lo, hi - 1, 2):
                c0 = max(math.floor(xs[i] + 0.5), 0)
                c1 = min(math.floor(xs[i + 1] + 0.5), w)
                for c in range(c0, c1):
                    out[r, c] = 1


@numba.njit(cache=True, nogil=True)
def _burn_flat_edges(
    px: FloatArray,
    py: FloatArray,
    ring_start: IntArray,
    poly_ring: IntArray,
    p: int,
    out: NDArray[np.uint8],
) -> None:
    """GDAL's one addition to the half-open scanline: a horizontal edge lying exactly on a row's
    centre line, with the ring's own inside above it, burns its own span, with the same rule
    in x (found by fuzzing: a footprint whose lower edge ran through sub-cell centres, and a
    swath with a flat step on one, each burned one sub-cell less than GDAL; then a swath whose
    holes' top edges lay on centre lines burned a sub-row too many, as every flat edge was
    burned). A shell's bottom edge burns here; a hole's top edge does not (the hole's inside
    is below it)."""
    h, w = out.shape
    for ring in range(poly_ring[p], poly_ring[p + 1]):
        # GDAL burns the edges it walks right to left with every ring turned clockwise on the
        # map (as its result shows, whichever way a ring is given): where the ring's own inside
        # lies above the edge on the raster. Twice the signed area in pixel units (y down):
        # positive for a ring clockwise on the map.
        area2 = 0.0
        for i in range(ring_start[ring], ring_start[ring + 1] - 1):
            area2 += px[i] * py[i + 1] - px[i + 1] * py[i]
        for i in range(ring_start[ring], ring_start[ring + 1] - 1):
            y = py[i]
            if y != py[i + 1] or (px[i] > px[i + 1]) != (area2 > 0.0):
                continue
            r = math.floor(y - 0.5)
            if y - 0.5 != r or r < 0 or r >= h:
                continue
            xa, xb = min(px[i], px[i + 1]), max(px[i], px[i + 1])
            c0 = max(math.floor(xa + 0.5), 0)
            c1 = min(math.floor(xb + 0.5), w)
            for c in range(c0, c1):
                out[r, c] = 1


@numba.njit(cache=True, nogil=True)
def block_share(m: NDArray[np.uint8], k: int, out: FloatArray) -> None:
    """``out[r, c]`` (zero on entry) = the share of ``m``'s ``k``×``k`` block (r, c) that is set."""
    h, w = out.shape
    kk = float(k * k)
    for r in range(h):
        for i in range(r * k, r * k + k):
            for c in range(w):
                s = 0
                for j in range(c * k, c * k + k):
                    s += m[i, j]
                out[r, c] += s
        for c in range(w):
            out[r, c] /= kk


@numba.njit(cache=True, nogil=True)
def two_opt_order(ent: FloatArray, ext: FloatArray, start: FloatArray, rounds: int) -> IntArray:
    """2-opt over tracks flown in turn from ``start`` (the end free), each given by its entry
    and exit (n, 2): every round the best move (the stretch i..j flown backwards, each track in
    it reversed) over all pairs, while it shortens the transits by more than 1e-9 cell; the
    same moves, in the same order, as the NumPy formulation in
    :func:`missions.poa_search._two_opt` made (a tie goes to the lowest i, then j). Returns the
    order as track numbers, ``~k`` for track k flown backwards."""
    n = ent.shape[0]
    order = np.arange(n)
    en = ent.copy()
    ex = ext.copy()
    for _round in range(rounds):
        best = 0.0
        bi, bj = 0, 0
        for i in range(n):
            if i == 0:
                px, py = start[0], start[1]
            else:
                px, py = ex[i - 1, 0], ex[i - 1, 1]
            into = math.hypot(en[i, 0] - px, en[i, 1] - py)
            for j in range(i, n):
                if j == n - 1:
                    out_old = 0.0
                    out_new = 0.0
                else:
                    out_old = math.hypot(en[j + 1, 0] - ex[j, 0], en[j + 1, 1] - ex[j, 1])
                    out_new = math.hypot(en[j + 1, 0] - en[i, 0], en[j + 1, 1] - en[i, 1])
                d = (math.hypot(ex[j, 0] - px, ex[j, 1] - py) + out_new) - (into + out_old)
                if d < best:
                    best, bi, bj = d, i, j
        if best > -1e-9:
            break
        a, b = bi, bj
        while a < b:
            for k in range(2):
                t = en[a, k]
                en[a, k] = ex[b, k]
                ex[b, k] = t
                t = ex[a, k]
                ex[a, k] = en[b, k]
                en[b, k] = t
            t2 = order[a]
            order[a] = ~order[b]
            order[b] = ~t2
            a += 1
            b -= 1
        if a == b:
            for k in range(2):
                t = en[a, k]
                en[a, k] = ex[a, k]
                ex[a, k] = t
            order[a] = ~order[a]
    return order


@numba.njit(cache=True, nogil=True)
def nearest_first_order(entry: FloatArray, exits: FloatArray, start: FloatArray) -> IntArray:
    """Regions visited nearest entry first from ``start``: ``entry`` (regions, 4, 2) holds the
    four ways into each region, ``exits`` (regions, 4, 2) where each way leaves it. Returns, per
    visit, region × 4 + the entry taken; a tie goes to the lowest region, then entry (as
    ``np.argmin`` over the regions × entries table)."""
    n = entry.shape[0]
    left = np.ones(n, dtype=np.bool_)
    out = np.empty(n, dtype=np.int64)
    px, py = start[0], start[1]
    for v in range(n):
        best = np.inf
        bk, be = -1, 0
        for k in range(n):
            if not left[k]:
                continue
            for e in range(4):
                g = math.hypot(entry[k, e, 0] - px, entry[k, e, 1] - py)
                if g < best:
                    best, bk, be = g, k, e
        if bk < 0:  # only NaN distances left: the first region left, as argmin over inf
            for k in range(n):
                if left[k]:
                    bk = k
                    break
        left[bk] = False
        out[v] = bk * 4 + be
        px, py = exits[bk, be, 0], exits[bk, be, 1]
    return out
