"""Point filters: crop, outliers, voxel thinning, ranges and returns, reprojection."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from dronekit_plzen.errors import BadInputError
from lidar.classify import eigen_features
from lidar.filters import (
    crop_bounds_mask,
    crop_polygon_mask,
    radius_outliers,
    range_mask,
    reproject,
    returns_mask,
    statistical_outliers,
    voxel_thin,
)
from lidar.synthetic import Scene


def test_crop_polygon_and_bounds() -> None:
    x, y = np.meshgrid(np.arange(0, 10.0), np.arange(0, 10.0))
    x, y = x.ravel(), y.ravel()
    tri = "POLYGON ((0 0, 9 0, 0 9, 0 0))"
    m = crop_polygon_mask(x, y, tri)
    assert m.sum() == 55  # the lattice points on or below x + y = 9
    assert crop_bounds_mask(x, y, (2, 2, 4, 5)).sum() == 3 * 4
    with pytest.raises(BadInputError, match="invalid"):
        crop_polygon_mask(x, y, "POLYGON ((0 0, 5 5, 5 0, 0 5, 0 0))")  # a bow tie


def test_outliers_find_isolated_points() -> None:
    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 10, (5000, 3)) * [1, 1, 0.1]
    far = np.array([[5, 5, 40.0], [1, 9, -30.0]])
    xyz = np.vstack([pts, far])
    s = statistical_outliers(xyz)
    r = radius_outliers(xyz, radius=1.0, min_k=2)
    assert s[-2:].all() and r[-2:].all()
    assert s[:-2].mean() < 0.01 and r[:-2].mean() < 0.01


def test_radius_outliers_equal_a_k_d_trees_count_within_the_radius() -> None:
    # now the min_k-th nearest against the radius (a ball count cost every pair of a dense
    # spot): the same mask as counting with a k-d tree, with a crowd, copies and far points
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(3)
    field = rng.uniform(0, 50, (20_000, 3)) * [1, 1, 0.1]
    crowd = rng.normal(25, 0.01, (3000, 3))
    copies = np.repeat([[10.0, 10.0, 1.0]], 500, axis=0)
    far = np.array([[-400.0, 0.0, 0.0], [25.0, 25.0, 300.0]])
    xyz = np.vstack([field, crowd, copies, far]) + np.array([640_000.0, 5_500_000.0, 300.0])
    tree = cKDTree(xyz - xyz.min(axis=0))
    for radius, min_k in [
        (0.5, 2),
        (1.0, 5),
        (0.2, 1),
        (3.0, 30),
        (1e6, 2),
        (1.0, 0),
        (1.0, 10**6),
    ]:
        count = tree.query_ball_point(tree.data, r=radius, return_length=True) - 1
        got = radius_outliers(xyz, radius=radius, min_k=min_k)
        assert np.array_equal(got, count < min_k), (radius, min_k)


def test_voxel_keeps_one_point_per_voxel() -> None:
    rng = np.random.default_rng(4)
    xyz = rng.uniform(0, 4, (20000, 3))
    keep = voxel_thin(xyz, 1.0)
    assert len(keep) == 64
    ijk = np.floor(xyz[keep]).astype(int)
    assert len({tuple(v) for v in ijk}) == 64


def test_ranges_and_returns(scene: Scene) -> None:
    c = scene.cloud.with_dims(classification=scene.truth)
    m = range_mask(c, "Classification[2:2], Classification[6:6]")
    assert np.array_equal(m, np.isin(scene.truth, [2, 6]))
    m2 = range_mask(c, "Classification[2:6], !Classification[3:5]")
    assert np.array_equal(m2, np.isin(scene.truth, [2, 6]))
    last = returns_mask(c.dims["return_number"], c.dims["number_of_returns"], "last")
    assert np.all(c.dims["return_number"][last] == c.dims["number_of_returns"][last])
    with pytest.raises(BadInputError):
        range_mask(c, "Classification(2)")


def test_reproject_utm_to_sjtsk_and_back(scene: Scene) -> None:
    c = scene.cloud
    s = reproject(c, "EPSG:5514")
    back = reproject(s, "EPSG:32633")
    # PROJ picks datum operations per direction: the round trip closes to ~1.2 mm
    assert np.max(np.hypot(back.x - c.x, back.y - c.y)) < 0.005
    assert np.array_equal(s.z, c.z)
    # distances are (nearly) preserved between two conformal projections at Plzeň
    d_utm = np.hypot(c.x[1] - c.x[0], c.y[1] - c.y[0])
    d_kr = np.hypot(s.x[1] - s.x[0], s.y[1] - s.y[0])
    assert d_kr == pytest.approx(d_utm, rel=1e-3)


def test_reproject_feet_to_metres_converts_heights() -> None:
    from lidar.io import read_cloud

    az = read_cloud("/work/shared/data/lidar/autzen_trim.laz")
    m = reproject(az, "EPSG:32610")
    assert m.z_unit_m == 1.0
    assert np.allclose(m.z, az.z * 0.3048, atol=1e-3)


def test_planarity_of_a_roof_versus_a_crown() -> None:
    rng = np.random.default_rng(5)
    roof = np.column_stack([rng.uniform(0, 10, 500), rng.uniform(0, 10, 500), np.full(500, 10.0)])
    crown = rng.normal(0, 2, (500, 3)) + np.array([30.0, 30.0, 15.0])
    f = eigen_features(np.vstack([roof, crown]), k=12)
    assert np.median(f["scattering"][:500]) < 0.01 < np.median(f["scattering"][500:])
    assert np.median(f["verticality"][:500]) < 0.05
    assert shapely is not None


def test_ranges_as_pdal_writes_them(scene: Scene) -> None:
    """PDAL's own forms: ``Name![lo:hi]`` negates (the ``!`` after the name), ``(``/``)``
    leave a bound out, an empty bound is open; a range upside down keeps no point in PDAL,
    silently: refused, named."""
    c = scene.cloud.with_dims(classification=scene.truth)
    t = scene.truth
    assert np.array_equal(range_mask(c, "Classification![2:2]"), t != 2)
    assert np.array_equal(range_mask(c, "!Classification[2:2]"), t != 2)
    assert np.array_equal(range_mask(c, "Classification(2:6)"), (t > 2) & (t < 6))
    assert np.array_equal(range_mask(c, "Classification[2:6)"), (t >= 2) & (t < 6))
    assert np.array_equal(range_mask(c, "Classification(:3]"), t <= 3)
    z = np.asarray(c.z)
    mid = float(np.median(z))
    assert np.array_equal(range_mask(c, f"Z({mid}:]"), z > mid)
    for bad in ("Z[10:5]", "Z(5:5]", "Z![10:5]", "!Z![1:2]", "Z[1:2", "[1:2]", "Z[1:2]x"):
        with pytest.raises(BadInputError) as e:
            range_mask(c, bad)
        assert repr(bad) in e.value.message
