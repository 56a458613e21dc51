"""The POA planner's receding-horizon walk (:func:`missions.poa_search.plan_one`), compiled in
:mod:`missions.poa_kernels`: the same walk as the NumPy reference it replaced, step for step,
within the grid and the budget."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import uniform_filter

from missions.poa_search import (
    BLOCK,
    GAMMA,
    HORIZON,
    RH_VARIANTS,
    _sequences,
    _simplify,
    plan_one,
)


def _reference(
    values: np.ndarray, start: tuple[int, int], steps: float, jump_factor: float, wall: float
) -> np.ndarray:
    """The walk in NumPy, one step per loop turn (the implementation before the kernel; the
    sequence scores summed move by move, as the kernel sums them)."""
    h = HORIZON
    cum, first = _sequences(h)
    weight = first * GAMMA ** np.arange(h)
    rows, cols = values.shape
    v = np.full((rows + 2 * h, cols + 2 * h), -1.0)
    v[h:-h, h:-h] = values
    inner = v[h:-h, h:-h]
    nb = np.ones_like(v)
    vn = v.copy()
    width = cols + 2 * h
    offs = (cum[..., 0] + h) * width + (cum[..., 1] + h)
    block = uniform_filter(values, size=BLOCK, mode="constant") * (BLOCK * BLOCK)
    hb = BLOCK // 2

    def zero(a: int, b: int) -> None:
        if not (0 <= a < rows and 0 <= b < cols):
            return
        old = inner[a, b]
        if old:
            inner[a, b] = 0.0
            vn[a + h, b + h] = 0.0
            block[max(a - hb, 0) : a + hb + 1, max(b - hb, 0) : b + hb + 1] -= old

    def visit(p: np.ndarray) -> None:
        zero(int(p[0]), int(p[1]))
        r, q = p[0] + h, p[1] + h
        nb[r - 1 : r + 2, q - 1 : q + 2] += wall
        vn[r - 1 : r + 2, q - 1 : q + 2] = (
            v[r - 1 : r + 2, q - 1 : q + 2] * nb[r - 1 : r + 2, q - 1 : q + 2]
        )

    pos = np.array(start, dtype=np.int64)
    visit(pos)
    pts = [pos.astype(np.float64)]
    used, last_jump = 0.0, math.inf
    rr, cc = np.mgrid[0:rows, 0:cols]
    while used + 1.0 <= steps + 1e-9:
        vals = vn.ravel()[offs + (pos[0] * width + pos[1])]
        score = vals[:, 0] * weight[:, 0]
        for k in range(1, h):
            score = score + vals[:, k] * weight[:, k]
        best = int(np.argmax(score))
        local = max(float(score[best]), 0.0) / h
        if not (local > 0 and local >= last_jump and len(pts) % 4):
            d = np.hypot(rr - pos[0], cc - pos[1])
            rate = block / (d + BLOCK * BLOCK)
            rate[(d < 2.0) | (d > steps - used)] = 0.0
            t = np.unravel_index(int(np.argmax(rate)), rate.shape)
            last_jump = float(rate[t]) * jump_factor
            if rate[t] > jump_factor * local and rate[t] > 0:
                target = np.array(t, dtype=np.int64)
                n = max(2, math.ceil(float(d[t]) * 4) + 1)
                for s in np.linspace(0.0, 1.0, n):
                    a, b = np.rint(pos + (target - pos) * s).astype(np.int64)
                    zero(int(a), int(b))
                used += float(d[t])
                pos = target
                pts.append(pos.astype(np.float64))
                continue
            if score[best] <= 0.0:
                break
        pos = pos + cum[best, 0]
        visit(pos)
        used += 1.0
        pts.append(pos.astype(np.float64))
    return _simplify(np.asarray(pts))


def _grids(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, int], float, int]:
    rows = draw(st.integers(3, 24))
    cols = draw(st.integers(3, 24))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["uniform", "sparse", "blobs", "ties"]))
    if kind == "uniform":
        values = rng.random((rows, cols))
    elif kind == "sparse":
        values = rng.random((rows, cols)) * (rng.random((rows, cols)) < 0.15)
    elif kind == "blobs":
        values = uniform_filter(rng.random((rows, cols)) ** 6, size=3)
    else:  # many equal values: ties broken the same way
        values = rng.integers(0, 3, (rows, cols)).astype(np.float64)
    start = (draw(st.integers(0, rows - 1)), draw(st.integers(0, cols - 1)))
    steps = draw(st.floats(0.0, 3.0 * rows * cols / 2, allow_nan=False))
    variant = draw(st.integers(0, len(RH_VARIANTS) - 1))
    return values, start, steps, variant


@settings(max_examples=60)
@given(st.composite(_grids)())
def test_the_compiled_walk_is_the_reference_walk(case: tuple) -> None:  # type: ignore[type-arg]
    values, start, steps, variant = case
    jf, wall, _focus = RH_VARIANTS[variant]
    before = values.copy()
    got = plan_one(values, start, steps, jump_factor=jf, wall_bonus=wall)
    np.testing.assert_array_equal(values, before)  # the caller's map is not touched
    want = _reference(values.copy(), start, steps, jf, wall)
    np.testing.assert_array_equal(got, want)
    # from the start, on the grid, within the budget
    assert tuple(got[0]) == start
    rows, cols = values.shape
    assert ((got >= 0) & (got < [rows, cols])).all()
    length = float(np.hypot(*np.diff(got, axis=0).T).sum()) if len(got) > 1 else 0.0
    assert length <= steps + 1e-6


def test_no_budget_no_walk() -> None:
    values = np.ones((8, 8))
    for steps in (0.0, 0.99, -3.0):  # a hybrid's head can leave less than nothing
        np.testing.assert_array_equal(plan_one(values, (3, 4), steps), [[3.0, 4.0]])


def test_the_walk_follows_a_ridge_and_jumps_to_a_far_block() -> None:
    values = np.zeros((30, 40))
    values[5, 2:20] = 1.0  # a ridge beside the start
    values[25:30, 33:38] = 3.0  # a rich block far away
    pts = plan_one(values, (5, 2), 120.0, jump_factor=2.0, wall_bonus=1.0)
    cells = {(int(r), int(c)) for r, c in pts}
    assert (5, 19) in cells or any(r == 5 and c >= 18 for r, c in cells)
    # it reaches the far block and the path is no longer than the budget
    assert any(r >= 25 and c >= 33 for r, c in cells)
    assert float(np.hypot(*np.diff(pts, axis=0).T).sum()) <= 120.0 + 1e-9
