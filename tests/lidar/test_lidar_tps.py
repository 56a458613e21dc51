"""The regularised thin-plate surface (``lidar.tps``) and the ground growth built on it
(``lidar.ground.grow_ground``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lidar import tps
from lidar.ground import SMRFParams, smrf


def _dense_normal_equations(
    g: tps.NodeGrid, x: np.ndarray, y: np.ndarray, z: np.ndarray, lam: float
) -> np.ndarray:
    """The same surface the long way: the point × node bilinear matrix written out, the second
    differences as explicit rows, a dense solve."""
    n = g.nx * g.ny
    a = np.zeros((x.size, n))
    for k in range(x.size):
        fx, fy = (x[k] - g.x0) / g.h, (y[k] - g.y0) / g.h
        i, j = int(np.floor(fx)), int(np.floor(fy))
        u, v = fx - i, fy - j
        a[k, j * g.nx + i] += (1 - u) * (1 - v)
        a[k, j * g.nx + i + 1] += u * (1 - v)
        a[k, (j + 1) * g.nx + i] += (1 - u) * v
        a[k, (j + 1) * g.nx + i + 1] += u * v
    rows = []
    for j in range(g.ny):
        for i in range(g.nx):
            if 0 < i < g.nx - 1:  # f_xx
                r = np.zeros(n)
                r[j * g.nx + i - 1 : j * g.nx + i + 2] = (1, -2, 1)
                rows.append(r)
            if 0 < j < g.ny - 1:  # f_yy
                r = np.zeros(n)
                r[[(j - 1) * g.nx + i, j * g.nx + i, (j + 1) * g.nx + i]] = (1, -2, 1)
                rows.append(r)
            if i < g.nx - 1 and j < g.ny - 1:  # f_xy, counted twice
                r = np.zeros(n)
                r[[j * g.nx + i, j * g.nx + i + 1, (j + 1) * g.nx + i, (j + 1) * g.nx + i + 1]] = (
                    1,
                    -1,
                    -1,
                    1,
                )
                rows.append(np.sqrt(2.0) * r)
    d = np.array(rows)
    z0 = float(np.median(z))
    m = a.T @ a + lam / g.h**2 * (d.T @ d) + 1e-9 * np.eye(n)
    return np.linalg.solve(m, a.T @ (z - z0)).reshape(g.ny, g.nx) + z0


def test_the_surface_is_the_least_squares_thin_plate_written_out() -> None:
    """The per-cell sums and the sparse assembly give what the matrix written out gives."""
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 17, 300), rng.uniform(0, 13, 300)
    z = 200 + np.sin(x / 3) + 0.1 * y + rng.normal(0, 0.05, 300)
    g = tps.NodeGrid.covering(0, 0, 17, 13, 2.0)
    want = _dense_normal_equations(g, x, y, z, 0.1)
    got = tps.thin_plate(g, x, y, z, 0.1)
    assert np.allclose(got, want, atol=1e-6)


def test_the_compiled_sums_and_samples_follow_the_mask_and_the_grid_edges() -> None:
    """The surface through the points of a mask is the surface through those points alone, and
    the surface sampled at indexed points (compiled, no copies) is what ``sample`` gives, also
    for points beyond the grid's last cells (clipped to them)."""
    rng = np.random.default_rng(8)
    x, y = rng.uniform(0, 40, 2000), rng.uniform(0, 30, 2000)
    z = 90 + 0.3 * x + np.cos(y / 4) + rng.normal(0, 0.05, 2000)
    g = tps.NodeGrid.covering(0, 0, 40, 30, 2.5)
    keep = rng.random(2000) < 0.6
    got = tps.thin_plate(g, x, y, z, 0.1, keep)
    want = tps.thin_plate(g, x[keep], y[keep], z[keep], 0.1)
    assert np.allclose(got, want, rtol=0, atol=1e-9)
    px = np.concatenate([x, [-5.0, 60.0, 20.0]])
    py = np.concatenate([y, [10.0, 50.0, -8.0]])
    idx = np.array([5, 0, 1999, 2000, 2001, 2002, 7, 7])
    assert np.array_equal(g.sample_at(got, px, py, idx), g.sample(got, px[idx], py[idx]))


def test_a_plane_is_kept_and_continued_across_a_gap() -> None:
    """A plane bends nowhere: the surface is the plane, also over a 60 m hole in the points
    (where a nearest or harmonic fill would be flat)."""
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 300, 40_000), rng.uniform(0, 200, 40_000)
    keep = np.hypot(x - 150, y - 100) > 30
    x, y = x[keep], y[keep]
    z = 310 + 0.3 * x - 0.2 * y
    g = tps.NodeGrid.covering(0, 0, 300, 200, 2.0)
    f = tps.thin_plate(g, x, y, z, 0.1)
    gx = g.x0 + g.h * np.arange(g.nx)
    gy = g.y0 + g.h * np.arange(g.ny)
    plane = 310 + 0.3 * gx[None, :] - 0.2 * gy[:, None]
    assert np.abs(f - plane).max() < 1e-4
    assert abs(g.sample(f, np.array([150.0]), np.array([100.0]))[0] - (310 + 45 - 20)) < 1e-4


def test_a_large_grid_is_solved_by_gradients_from_a_coarse_surface() -> None:
    """A grid larger than one LU solve takes is solved by conjugate gradients started from the
    surface on a coarser grid: on a curved surface with gaps of up to 40 m it is within 5 cm
    of the exact solve, and from the exact surface it stays there."""
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 400, 60_000), rng.uniform(0, 300, 60_000)
    keep = (np.hypot(x - 200, y - 150) > 20) & (np.hypot(x - 80, y - 220) > 12)
    x, y = x[keep], y[keep]
    z = 300 + 5 * np.sin(x / 60) * np.cos(y / 45) + rng.normal(0, 0.05, x.size)
    g = tps.NodeGrid.covering(0, 0, 400, 300, 2.0)
    exact = tps.thin_plate(g, x, y, z, 0.1, lu_max=1000)
    two_level = tps.thin_plate(g, x, y, z, 0.1, lu_max=64)
    assert np.abs(two_level - exact).max() < 0.05
    warm = tps.thin_plate(g, x, y, z, 0.1, lu_max=64, start=exact)
    assert np.abs(warm - exact).max() < 0.01


def test_the_compiled_gradients_solve_what_scipy_solves() -> None:
    """``smrf_kernels.jacobi_cg`` (single-threaded, no BLAS) against a dense solve of the same
    symmetric positive definite system, from zero and from the answer; a zero right-hand side
    gives zero, and a matrix that is not positive definite stops instead of running on."""
    import scipy.sparse as sp

    from lidar.smrf_kernels import jacobi_cg

    rng = np.random.default_rng(5)
    b_ = sp.random(300, 300, density=0.02, random_state=6, format="csr")
    m = (b_.T @ b_ + sp.diags(rng.uniform(0.5, 2.0, 300))).tocsr()
    rhs = rng.normal(size=300)
    exact = np.linalg.solve(m.toarray(), rhs)
    x, steps = jacobi_cg(m.indptr, m.indices, m.data, rhs, np.zeros(300), 1e-10, 1000)
    assert np.abs(x - exact).max() < 1e-8 and 0 < steps < 300
    again, steps = jacobi_cg(m.indptr, m.indices, m.data, rhs, exact, 1e-8, 1000)
    assert steps == 0 and np.array_equal(again, exact)
    zero, _ = jacobi_cg(m.indptr, m.indices, m.data, np.zeros(300), rng.normal(size=300), 1e-6, 10)
    assert not zero.any()
    neg = (-m).tocsr()
    x, steps = jacobi_cg(neg.indptr, neg.indices, neg.data, rhs, np.zeros(300), 1e-10, 1000)
    assert np.isfinite(x).all() and steps < 1000


def test_the_compiled_gradients_give_the_same_bits_on_one_core_or_all() -> None:
    """The rows are shared by the cores, the sums taken block by block in a fixed order: a
    surface of 2 × 2048 + 7 rows solves to the same bits on one thread as on all."""
    import numba
    import scipy.sparse as sp

    from lidar.smrf_kernels import CG_BLOCK_ROWS, jacobi_cg

    n = 2 * CG_BLOCK_ROWS + 7
    rng = np.random.default_rng(9)
    m = (sp.diags(rng.uniform(1.0, 2.0, n)) + sp.diags([-0.4, -0.4], [-1, 1], shape=(n, n))).tocsr()
    rhs = rng.normal(size=n)
    every = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = jacobi_cg(m.indptr, m.indices, m.data, rhs, np.zeros(n), 1e-12, 500)
    finally:
        numba.set_num_threads(every)
    many = jacobi_cg(m.indptr, m.indices, m.data, rhs, np.zeros(n), 1e-12, 500)
    assert one[1] == many[1] > 3 and np.array_equal(one[0], many[0])


def test_no_surface_far_from_the_points_or_from_too_few() -> None:
    """Beyond 32 nodes (64 m here) from every point the plate would only continue a slope from
    far away: no surface there (NaN), nor anywhere from fewer than 10 points."""
    x, y = np.array([1.0, 5.0, 3.0] * 10), np.array([1.0, 1.0, 4.0] * 10)
    z = np.full(30, 100.0)
    g = tps.NodeGrid.covering(0, 0, 600, 5, 2.0)
    f = tps.thin_plate(g, x, y, z, 0.1)
    assert np.allclose(f[:, :30], 100.0) and np.isnan(f[:, 40:]).all()
    assert np.isnan(tps.thin_plate(g, x, y, z, 0.1, mask=np.zeros(30, bool))).all()
    assert np.isnan(tps.thin_plate(g, x[:9], y[:9], z[:9], 0.1)).all()


def _hillside(seed: int = 4) -> tuple[np.ndarray, ...]:
    """A 0.35-steep hillside with a crest, 1 point/m² (airborne): truth 1 for ground, with a
    12 × 12 m shed 3 m high and bushes 0.8 m high on the slope."""
    rng = np.random.default_rng(seed)
    n = 60_000
    x, y = rng.uniform(0, 300, n), rng.uniform(0, 200, n)
    ground = 300 + 0.35 * x - 0.0008 * (x - 120) ** 2 + rng.normal(0, 0.05, n)
    z = ground.copy()
    shed = (np.abs(x - 120) < 6) & (np.abs(y - 100) < 6)
    bush = (np.abs(x - 110) < 3) & (np.abs(y - 60) < 3)
    z[shed] += 3.0
    z[bush] += 0.8
    return x, y, z, ~(shed | bush)


def test_the_growth_takes_what_continues_the_ground_and_nothing_above_it() -> None:
    """``grow_ground`` on its own: the ground has a 50 m cut across the slope (as SMRF at a
    gentle slope leaves on banks and crests); of the points offered there it takes the ground,
    which the thin plate continues, and neither the shed nor the bushes."""
    from lidar.ground import grow_ground

    x, y, z, truth = _hillside()
    band = (x > 95) & (x < 145)
    ground = truth & ~band
    offered = band.copy()
    grown = grow_ground(x, y, z, ground, offered, SMRFParams())
    assert grown[band & truth].mean() > 0.99
    assert not grown[~truth].any()
    assert (grown | ~ground).all()  # it only adds
    once = grow_ground(x, y, z, ground, offered, SMRFParams(grow_rounds=1))
    assert (once <= grown).all()
    assert not grow_ground(x, y, z, ground, offered, SMRFParams(grow_rounds=0))[band].any()


def test_smrf_grows_its_ground_by_its_steep_answer() -> None:
    """``smrf`` with the growth is the plain filter's ground grown (``grow_ground``) by what
    the steeper slope accepts on the first grid and the gentle one does not."""
    from lidar.grid import masked_bounds
    from lidar.ground import grow_ground

    x, y, z, truth = _hillside(6)
    p = SMRFParams()
    plain = smrf(x, y, z, dataclasses.replace(p, grow_slope=0.0))
    steep = smrf(x, y, z, dataclasses.replace(p, slope=p.grow_slope, grids=1, grow_slope=0.0))
    want = grow_ground(x, y, z, plain, steep & ~plain, p, x.size, masked_bounds(x, y, None))
    got = smrf(x, y, z, p)
    assert np.array_equal(got, want)
    shed = (np.abs(x - 120) < 6) & (np.abs(y - 100) < 6)
    assert not got[shed].any()
    # (the bushes, 0.8 m on a 0.35 slope, are within SMRF's threshold grown by the slope,
    # 0.5 + 1.25 × 0.35 m: plain SMRF takes them too)
    assert (got & ~truth).sum() <= (plain & ~truth).sum() + 2


def test_the_growth_is_the_same_in_feet() -> None:
    """Every length of the growth is scaled with the unit (the bending weight, an area, by
    its square): the terraces in US survey feet are classified as in metres."""
    x, y, z, _truth = _hillside(5)
    ft = 1200.0 / 3937.0
    p = SMRFParams()
    metres = smrf(x, y, z, p)
    feet = smrf(x / ft, y / ft, z / ft, p.scaled(ft))
    assert (metres == feet).mean() > 0.999
    assert dataclasses.replace(p, grow_lambda=1.0).scaled(ft).grow_lambda == pytest.approx(
        1.0 / ft**2
    )


def test_the_pipeline_turns_the_growth_off_and_plain_smrf_has_none() -> None:
    """``filters.smrf`` takes ``grow_slope`` (0: no growth); ``single_grid`` is Pingel's SMRF
    as published, without it."""
    from lidar.cloud import GROUND, PointCloud
    from lidar.stages import SMRFOptions, apply_smrf

    x, y, z, _truth = _hillside(7)
    cloud = PointCloud(x=x, y=y, z=z, dims={"classification": np.ones(x.size, np.uint8)})
    off = apply_smrf(cloud, SMRFOptions(grow_slope=0.0)).classification == GROUND
    assert np.array_equal(off, smrf(x, y, z, SMRFParams(grow_slope=0.0)))
    on = apply_smrf(cloud, SMRFOptions()).classification == GROUND
    assert np.array_equal(on, smrf(x, y, z, SMRFParams()))
    plain = apply_smrf(cloud, SMRFOptions(single_grid=True)).classification == GROUND
    assert np.array_equal(plain, smrf(x, y, z, SMRFParams(grids=1, grow_slope=0.0, clean_rounds=0)))
    assert SMRFOptions(grow_slope=-0.4).check()


@st.composite
def _plane_points(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """A few to a few hundred points anywhere in a 1–150 m square (duplicates and lines
    included), on a plane of any tilt up to 2."""
    n = draw(st.integers(3, 300))
    side = draw(st.floats(1.0, 150.0))
    coords = st.floats(0.0, 1.0, allow_nan=False)
    xy = np.array(draw(st.lists(st.tuples(coords, coords), min_size=n, max_size=n))) * side
    a, b = draw(st.floats(-2, 2)), draw(st.floats(-2, 2))
    return xy[:, 0], xy[:, 1], 250.0 + a * xy[:, 0] + b * xy[:, 1], np.array([a, b])


@settings(max_examples=60, deadline=None)
@given(_plane_points(), st.sampled_from([1.0, 2.0, 7.0]))
def test_any_points_on_a_plane_give_the_plane_or_no_surface(
    pts: tuple[np.ndarray, ...], h: float
) -> None:
    """Whatever the points (a few, repeated, on one line), the surface is finite where it is
    given, never more than a millimetre off their plane at the points, and NaN only where it
    has too few points or none within reach."""
    x, y, z, _ab = pts
    g = tps.NodeGrid.covering(float(x.min()), float(y.min()), float(x.max()), float(y.max()), h)
    f = tps.thin_plate(g, x, y, z, 0.1, lu_max=48)
    if x.size < tps.MIN_POINTS:
        assert np.isnan(f).all()
        return
    at = g.sample(f, x, y)
    assert np.isfinite(at).all()
    assert np.abs(at - z).max() < 1e-3 * max(1.0, float(np.ptp(z)))
