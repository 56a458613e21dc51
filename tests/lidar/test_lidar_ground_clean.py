"""The clean-up of SMRF's ground (``lidar.ground_clean``): a compiled k-nearest-neighbour plane
per ground point, checked against a k-d tree and numpy, and what it drops and keeps; the raised
islands, checked against a brute-force pair search and scipy's connected components."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from lidar import ground_clean
from lidar.cloud import GROUND
from lidar.ground import SMRFParams, smrf
from lidar.ground_clean import clean_ground, drop_raised_islands, mean_spacing, plane_heights
from lidar.synthetic import ground_errors, make_scene


def _reference(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Height over the plane of the k nearest others and their scatter, by a k-d tree and
    numpy on the same float32 offsets the kernel uses; and which points are comparable (no
    tie at the k-th neighbour, neighbours not on one line)."""
    f = [(v - v.min()).astype(np.float32).astype(np.float64) for v in (x, y, z)]
    xy = np.column_stack(f[:2])
    n = len(x)
    kk = min(k + 2, n)
    d, nb = cKDTree(xy).query(xy, k=kk)
    d, nb = d.reshape(n, kk), nb.reshape(n, kk)
    hgt, sc, ok = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool)
    for i in range(n):
        keep = nb[i] != i
        others, dist = nb[i][keep][:k], d[i][keep]
        if len(others) < 3:
            ok[i] = True  # too few: NaN expected
            continue
        tie = len(dist) > k and abs(dist[k] - dist[k - 1]) < 1e-6
        dx, dy = f[0][others] - f[0][i], f[1][others] - f[1][i]
        a = np.column_stack([np.ones_like(dx), dx, dy])
        m = a.T @ a + 1e-9 * np.eye(3)
        coef = np.linalg.solve(m, a.T @ f[2][others])
        r = f[2][others] - a @ coef
        hgt[i] = f[2][i] - coef[0]
        sc[i] = 1.4826 * np.median(np.abs(r - np.median(r)))
        ok[i] = not tie and np.linalg.cond(m) < 1e6
    return hgt, sc, ok


def _check(x: np.ndarray, y: np.ndarray, z: np.ndarray, k: int) -> None:
    got_h, got_s = plane_heights(x, y, z, k)
    want_h, want_s, ok = _reference(x, y, z, k)
    assert np.array_equal(np.isnan(got_h[ok]), np.isnan(want_h[ok]))
    fin = ok & np.isfinite(want_h)
    tol = 1e-3 * max(1.0, float(np.ptp(z)))
    assert np.allclose(got_h[fin], want_h[fin], atol=tol)
    assert np.allclose(got_s[fin], want_s[fin], atol=tol)


def test_the_neighbours_planes_equal_a_kd_tree_and_numpy() -> None:
    rng = np.random.default_rng(4)
    # a rough slope with bushes, exact duplicates, a dense cluster and far stragglers
    x, y = rng.uniform(0, 80, 5000), rng.uniform(0, 50, 5000)
    z = 0.3 * x + 0.05 * rng.standard_normal(5000) + np.where(rng.random(5000) < 0.05, 0.4, 0)
    cx, cy = rng.normal(40, 0.3, 400), rng.normal(25, 0.3, 400)
    x = np.concatenate([x, x[:40], cx, [-900.0, 1500.0]]) + 640_000.0
    y = np.concatenate([y, y[:40], cy, [0.0, 2000.0]]) + 5_500_000.0
    z = np.concatenate([z, z[:40] + 0.2, 0.3 * cx + 1.0, [300.0, 0.0]]) + 300.0
    for k in (3, 8, 24):
        _check(x, y, z, k)


def test_small_and_degenerate_point_sets() -> None:
    h, s = plane_heights(np.zeros(0), np.zeros(0), np.zeros(0), 8)
    assert h.size == 0 and s.size == 0
    h, s = plane_heights(np.arange(3.0), np.zeros(3), np.zeros(3), 8)
    assert np.isnan(h).all()  # two others: no plane
    line = np.arange(200.0)
    _check(line, 2.0 * line, 0.1 * line, 8)  # one line: no tilt across it
    same = np.zeros(30)
    h, s = plane_heights(same, same, same, 8)
    assert np.allclose(h, 0.0) and np.allclose(s, 0.0)


def test_neighbours_are_ranked_by_float64_distances() -> None:
    # found by make fuzz: squared distances ranked in float32 (5738.0625 and 5738.0627 m² are
    # one float32) took a point 1 mm farther for the 24th neighbour: a plane 1 cm off
    x = np.array([0.0] * 22 + [101.0, 101.0, 75.75, 0.0])
    y = np.array([0.0] * 21 + [0.0123291016, 0.0, 50.5, 0.0, 0.0])
    z = np.zeros(26)
    z[21] = 1.0
    _check(x, y, z, 24)


@st.composite
def _clouds(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A few to a few hundred points in a 1-500 m square, heights on a tilted plane with
    bumps (repeated points and lines come up)."""
    n = draw(st.integers(1, 300))
    side = draw(st.floats(1.0, 500.0))
    unit = st.floats(0.0, 1.0, allow_nan=False)
    pts = np.array(draw(st.lists(st.tuples(unit, unit, unit), min_size=n, max_size=n)))
    tilt = draw(st.floats(-2.0, 2.0))
    x, y = pts[:, 0] * side, pts[:, 1] * side
    return x, y, tilt * x + np.round(pts[:, 2], 1)


@settings(max_examples=80, deadline=None)
@given(_clouds(), st.sampled_from([3, 5, 24]))
def test_any_cloud_gives_the_reference_planes(cloud: tuple[np.ndarray, ...], k: int) -> None:
    _check(*cloud, k)


def test_a_crowd_gets_its_planes_on_a_grid_of_its_own() -> None:
    # a scanner left running on the take-off spot: 20,000 points within a few decimetres
    # beside a field of 1 point/m². The crowd's cell was read whole for each of its points
    # (200,000: 42 s); now its points are settled on a grid of their own, exactly: the planes
    # equal a float64 k-d tree and numpy (the speed is pinned by the LiDAR bad-input table's
    # crowd row)
    rng = np.random.default_rng(11)
    m, n = 5000, 20_000
    fx, fy = rng.uniform(0, 70, m), rng.uniform(0, 70, m)
    cx, cy = rng.normal(35, 0.1, n), rng.normal(35, 0.1, n)
    x = np.concatenate([fx, cx]) + 640_000.0
    y = np.concatenate([fy, cy]) + 5_500_000.0
    z = np.concatenate([0.1 * fx + rng.normal(0, 0.05, m), 4.0 + rng.normal(0, 0.05, n)])
    k = 24
    got_h, got_s = plane_heights(x, y, z, k)
    xy = np.column_stack([x - 640_000.0, y - 5_500_000.0])
    which = np.r_[np.arange(0, m, 250), np.arange(m, m + n, 97)]
    _d, nb = cKDTree(xy).query(xy[which], k=k + 1)
    for i, row in zip(which, nb, strict=True):
        others = row[row != i][:k]
        a = np.column_stack([np.ones(k), xy[others] - xy[i]])
        coef = np.linalg.lstsq(a, z[others], rcond=None)[0]
        r = z[others] - a @ coef
        assert got_h[i] == pytest.approx(z[i] - coef[0], abs=1e-4), i
        assert got_s[i] == pytest.approx(1.4826 * np.median(np.abs(r - np.median(r))), abs=1e-4)
    # the clean-up on it (its screen of points low in their cells before the crowd's grid)
    g = clean_ground(x, y, z, np.ones(m + n, bool), k=k, above=0.2, spread=3.0, rounds=1)
    assert np.array_equal(g, ~(got_h > 0.2 + 3.0 * got_s))


def _bushy_slope(rough_m: float) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(8)
    n = 20_000
    x, y = rng.uniform(0, 100, n), rng.uniform(0, 100, n)
    z = 0.35 * x + 2.0 * np.sin(y / 15.0) + rough_m * rng.standard_normal(n)
    # low vegetation: single returns and small shrubs (a metre across, a few points)
    bush = rng.random(n) < 0.02
    for cx, cy in rng.uniform(10, 90, (60, 2)):
        bush |= np.hypot(x - cx, y - cy) < 0.5
    z = z + np.where(bush, rng.uniform(0.3, 0.6, n), 0.0)
    return x, y, z, bush


def test_low_bushes_leave_the_ground_and_rough_sloping_ground_stays() -> None:
    # what SMRF's 0.5 m threshold lets through: bushes 0.3-0.6 m up on a 35 % slope
    x, y, z, bush = _bushy_slope(0.03)
    kept = clean_ground(x, y, z, np.ones(len(x), bool), k=24, above=0.2, spread=3.0, rounds=1)
    assert (~kept[bush]).mean() > 0.8
    assert (~kept[~bush]).mean() < 0.005
    # rough ground (10 cm scatter) is judged by its own scatter: almost nothing goes
    x, y, z, _bush = _bushy_slope(0.10)
    z[_bush] -= 0.45  # no bushes here
    kept = clean_ground(x, y, z, np.ones(len(x), bool), k=24, above=0.2, spread=3.0, rounds=1)
    assert (~kept).mean() < 0.002
    # only ground leaves the ground, and no rounds change nothing
    part = np.arange(len(x)) % 2 == 0
    assert not (clean_ground(x, y, z, part, k=24, above=0.2, spread=3.0, rounds=1) & ~part).any()
    same = clean_ground(x, y, z, part, k=24, above=0.2, spread=3.0, rounds=0)
    assert np.array_equal(same, part)


def test_smrf_cleans_its_ground_by_default() -> None:
    s = make_scene((120.0, 120.0), 4.0, seed=5, n_buildings=10, n_trees=0)
    x, y, z = s.cloud.x, s.cloud.y, s.cloud.z
    truth = s.truth == GROUND
    on = ground_errors(truth, smrf(x, y, z))
    off = ground_errors(truth, smrf(x, y, z, SMRFParams(clean_rounds=0)))
    # measured Type II 3.0 against 5.8 %, Type I unchanged
    assert on["type2_pct"] < 0.7 * off["type2_pct"]
    assert on["type1_pct"] <= off["type1_pct"] + 0.05


def test_points_low_over_their_lowest_neighbour_are_not_judged_and_nothing_changes() -> None:
    # clean_ground computes planes only for points at least `above` over the lowest point of
    # their 3 x 3 cells (CSite4: 13 % of its ground); the answer is that of every plane
    s = make_scene((120.0, 120.0), 4.0, seed=5, n_buildings=10, n_trees=60)
    x, y, z = s.cloud.x, s.cloud.y, s.cloud.z
    smrf_ground = smrf(x, y, z, SMRFParams(clean_rounds=0))
    cases = [(x, y, z, smrf_ground)]
    for rough in (0.03, 0.10):
        bx, by, bz, _bush = _bushy_slope(rough)
        cases.append((bx, by, bz, np.ones(len(bx), bool)))
    for cx, cy, cz, g in cases:
        got = clean_ground(cx, cy, cz, g, k=24, above=0.2, spread=3.0, rounds=1)
        idx = np.flatnonzero(g)
        hgt, sc = plane_heights(cx[idx], cy[idx], cz[idx], 24)
        want = g.copy()
        want[idx[hgt > 0.2 + 3.0 * sc]] = False
        assert np.array_equal(got, want)
        assert (g & ~got).any()


# ---------------------------------------------------------------------------- raised islands
def _islands_reference(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, g: np.ndarray, step: float, area: float
) -> np.ndarray:
    """drop_raised_islands by every pair of ground points (numpy, on the float32 offsets the
    kernel uses) and scipy's connected components."""
    out = g.copy()
    idx = np.flatnonzero(g)
    n = len(idx)
    if n < 2:
        return out
    f = [(v[idx] - v[idx].min()).astype(np.float32).astype(np.float64) for v in (x, y, z)]
    spacing = mean_spacing(x[idx], y[idx])
    r = ground_clean.ISLAND_RADIUS * spacing
    i, j = np.triu_indices(n, 1)
    ex, ey = f[0][j] - f[0][i], f[1][j] - f[1][i]
    d2 = ex * ex + ey * ey
    dz = f[2][i] - f[2][j]
    a = np.abs(dz)
    step_, slope = step, ground_clean.ISLAND_SLOPE
    joined = (a <= step_) | ((a - step_) ** 2 <= slope * slope * d2)
    near = d2 <= r * r
    link = near & joined
    m = coo_matrix((np.ones(link.sum()), (i[link], j[link])), shape=(n, n))
    _nc, comp = connected_components(m, directed=False)
    size = np.bincount(comp)
    cutp = near & ~joined & (comp[i] != comp[j])
    cut = np.bincount(comp[i[cutp]], minlength=len(size)) + np.bincount(
        comp[j[cutp]], minlength=len(size)
    )
    hi = np.where(dz[cutp] > 0, comp[i[cutp]], comp[j[cutp]])
    up = np.bincount(hi, minlength=len(size))
    island = (cut > 0) & (up >= ground_clean.ISLAND_UP * cut) & (size * spacing**2 <= area)
    out[idx[island[comp]]] = False
    return out


def _raised_scene(seed: int) -> tuple[np.ndarray, ...]:
    """Ground on a 10 % slope (0.7 m spacing) with a flat roof 4 m up (8 × 8 m, a 0.5 m gap
    to the ground all round: the wall), a plateau 4 m up (30 × 30 m), a courtyard 3 m down
    (8 × 8 m) and a ramp up to a terrace (12 × 12 m, 3 m up)."""
    rng = np.random.default_rng(seed)
    n = 40_000
    x, y = rng.uniform(0, 140, n), rng.uniform(0, 140, n)
    roof = (np.abs(x - 20) < 4) & (np.abs(y - 20) < 4)
    wall = (np.abs(x - 20) < 4.5) & (np.abs(y - 20) < 4.5) & ~roof
    plateau = (np.abs(x - 80) < 15) & (np.abs(y - 30) < 15)
    pwall = (np.abs(x - 80) < 15.5) & (np.abs(y - 30) < 15.5) & ~plateau
    yard = (np.abs(x - 30) < 4) & (np.abs(y - 90) < 4)
    ywall = (np.abs(x - 30) < 4.5) & (np.abs(y - 90) < 4.5) & ~yard
    keep = ~(wall | pwall | ywall)
    x, y = x[keep], y[keep]
    roof, plateau, yard = roof[keep], plateau[keep], yard[keep]
    # the terrace: flat 3 m up within 6 m of (100, 100), a ramp of 0.5 over the next 6 m
    d = np.maximum(np.abs(x - 100), np.abs(y - 100))
    terrace = np.clip((12 - d) / 6, 0, 1) * 3.0
    z = 0.1 * x + 0.02 * rng.standard_normal(len(x)) + terrace
    z = z + np.where(roof | plateau, 4.0, 0.0) - np.where(yard, 3.0, 0.0)
    return x, y, z, roof, plateau, yard, terrace > 0


def test_a_raised_roof_leaves_the_ground_and_plateaus_courtyards_and_terraces_stay() -> None:
    x, y, z, roof, plateau, yard, terrace = _raised_scene(2)
    g = np.ones(len(x), bool)
    kept = drop_raised_islands(x, y, z, g, step=0.2, area=150.0)
    assert not kept[roof].any()  # 64 m²: an island
    assert kept[~roof].all()  # the plateau is larger than 150 m², the yard below its rim
    assert kept[plateau].all() and kept[yard].all() and kept[terrace].all()
    # a larger limit takes the plateau (900 m²) too; none leaves nothing
    big = drop_raised_islands(x, y, z, g, step=0.2, area=1000.0)
    assert not big[plateau].any() and big[yard].all() and big[terrace].all()
    assert np.array_equal(drop_raised_islands(x, y, z, g, step=0.2, area=0.0), g)
    # only ground leaves the ground
    part = np.arange(len(x)) % 3 != 0
    assert not (drop_raised_islands(x, y, z, part, step=0.2, area=150.0) & ~part).any()


def test_the_islands_equal_every_pair_and_scipy_components() -> None:
    x, y, z, _roof, _p, _y, _t = _raised_scene(5)
    sub = np.random.default_rng(1).random(len(x)) < 0.12  # ~4,000 points: 8 M pairs
    x, y, z = x[sub], y[sub], z[sub]
    g = np.ones(len(x), bool)
    g[::7] = False
    for area in (50.0, 150.0, 1000.0):
        got = drop_raised_islands(x, y, z, g, step=0.2, area=area)
        assert np.array_equal(got, _islands_reference(x, y, z, g, 0.2, area))
    # a dense patch with a raised island beside far stragglers: too many cells for a dense
    # table, the occupied cells' keys are searched
    rng = np.random.default_rng(6)
    px, py = rng.uniform(0, 60, 3000), rng.uniform(0, 60, 3000)
    pz = 0.1 * px + np.where(np.hypot(px - 30, py - 30) < 5, 4.0, 0.0)
    sx, sy = rng.uniform(0, 20_000, 30), rng.uniform(0, 20_000, 30)
    x, y = np.r_[px, sx], np.r_[py, sy]
    z = np.r_[pz, rng.uniform(0, 5, 30)]
    h = ground_clean.ISLAND_RADIUS * mean_spacing(x, y) / ground_clean.ISLAND_SPLIT
    assert (20_000 / h) ** 2 > ground_clean.DENSE_CELLS * len(x)
    g = np.ones(len(x), bool)
    got = drop_raised_islands(x, y, z, g, step=0.2, area=150.0)
    assert np.array_equal(got, _islands_reference(x, y, z, g, 0.2, 150.0))
    assert not got[:3000][np.hypot(px - 30, py - 30) < 5].any()


@settings(max_examples=80, deadline=None)
@given(_clouds(), st.sampled_from([0.0, 0.2, 1.0]), st.sampled_from([5.0, 150.0, 1e5]))
def test_any_cloud_gives_the_reference_islands(
    cloud: tuple[np.ndarray, ...], step: float, area: float
) -> None:
    x, y, z = cloud
    g = np.ones(len(x), bool)
    got = drop_raised_islands(x, y, z, g, step=step, area=area)
    assert np.array_equal(got, _islands_reference(x, y, z, g, step, area))


def test_smrf_drops_raised_islands_of_its_ground() -> None:
    # a 40 × 40 m roof 6 m up is wider than SMRF's window: two thirds of it stay ground after
    # the opening, the growth and the clean-up; as an island (limit raised above its 1,600 m²)
    # it leaves, and without the step it stays
    rng = np.random.default_rng(3)
    n = 60_000
    x, y = rng.uniform(0, 150, n), rng.uniform(0, 150, n)
    roof = (np.abs(x - 75) < 20) & (np.abs(y - 75) < 20)
    keep = ~((np.abs(x - 75) < 20.5) & (np.abs(y - 75) < 20.5) & ~roof)
    x, y, roof = x[keep], y[keep], roof[keep]
    z = 0.05 * x + 0.03 * rng.standard_normal(len(x)) + np.where(roof, 6.0, 0.0)
    off = smrf(x, y, z, SMRFParams(island_area=0.0))
    on = smrf(x, y, z, SMRFParams(island_area=2000.0))
    assert off[roof].mean() > 0.5 and off[~roof].all()
    assert not on[roof].any() and on[~roof].all()
    # the default (150 m²) keeps what is larger
    assert np.array_equal(smrf(x, y, z), off)
    # in US survey feet: the step scaled with the unit, the area with its square
    ft = 1200.0 / 3937.0
    p = SMRFParams(island_area=2000.0).scaled(ft)
    assert p.island_step == pytest.approx(0.2 / ft) and p.island_area == pytest.approx(2000 / ft**2)
    feet = smrf(x / ft, y / ft, z / ft, p)
    assert not feet[roof].any() and (feet[~roof]).mean() > 0.999
