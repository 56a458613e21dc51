"""Raster products: COG files with CRS and nodata, hole-free DTM, DSM/CHM, volumes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from shapely.geometry import MultiPoint, Point

from lidar.cloud import GROUND, PointCloud
from lidar.grid import GridSpec, cell_stat, inpaint_linear
from lidar.products import grid_for, product, write_product
from lidar.raster import (
    contours,
    dsm,
    hillshade,
    idw_surface,
    planar_surface,
    read_geotiff,
    tin_surface,
    volume_between,
    write_geotiff,
)
from lidar.synthetic import Scene, terrain_z


@pytest.fixture(scope="module")
def truth_classified(scene: Scene) -> PointCloud:
    return scene.cloud.with_dims(classification=scene.truth)


def test_tin_reproduces_a_plane_and_fills_gaps() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 50, 3000), rng.uniform(0, 50, 3000)
    keep = ~((x > 20) & (x < 30) & (y > 20) & (y < 30))  # a 10 m hole in the data
    z = 100 + 0.2 * x - 0.1 * y
    grid = GridSpec.covering(0, 0, 50, 50, 1.0)
    s = tin_surface(grid, x[keep], y[keep], z[keep])
    cx, cy = grid.centres()
    hull = MultiPoint(np.column_stack([x[keep], y[keep]])).convex_hull
    inside = np.array(
        [hull.contains(Point(a, b)) for a, b in zip(cx.ravel()[::7], cy.ravel()[::7])]
    )
    assert np.isfinite(s.ravel()[::7][inside]).all()  # no holes inside the hull
    ok = np.isfinite(s)
    err = np.abs(s[ok] - (100 + 0.2 * cx[ok] - 0.1 * cy[ok]))
    assert np.percentile(err, 95) < 1e-3  # linear on the TIN (the hole included)
    assert err.max() < 0.5  # rim cells outside the centroids' hull take the nearest value
    hole = (cx > 22) & (cx < 28) & (cy > 22) & (cy < 28)
    assert np.abs(s[hole] - (100 + 0.2 * cx[hole] - 0.1 * cy[hole])).max() < 1e-3
    i = idw_surface(grid, x[keep], y[keep], z[keep])
    ie = np.abs(i - (100 + 0.2 * cx - 0.1 * cy))
    assert np.nanpercentile(ie, 50) < 0.1 and np.nanmax(ie) < 1.0  # IDW flattens at the rim


def test_the_dtm_of_sparse_points_on_a_slope_is_the_slope() -> None:
    """Sparse ground (a third of the cells hold a point) on a plane rising 0.5 m per metre north
    and 0.2 m per metre east. The DTM had taken the slope along each axis between two
    neighbouring centroids alone; two centroids close together across a cell edge, offset
    along the other axis, gave slopes of 10-50 and spikes of metres (1.06 m here, 11 m on
    Topography.laz). The plane fitted to the centroids around a cell is the plane itself where
    they fix it; where they do not (two centroids), it stays within their heights."""
    rng = np.random.default_rng(7)
    n = 1250
    x, y = rng.uniform(0, 50, n), rng.uniform(0, 50, n)
    z = 300.0 + 0.2 * x + 0.5 * y
    grid = GridSpec.covering(0, 0, 50, 50, 1.0)
    s = planar_surface(grid, x, y, z)
    cx, cy = grid.centres()
    r, c = grid.index(x, y)
    held = np.zeros(s.shape, dtype=bool)
    held[r, c] = True
    err = np.abs(s - (300.0 + 0.2 * cx + 0.5 * cy))
    assert held.mean() < 0.4 and np.nanmax(err[held]) < 0.35, np.nanmax(err[held])
    assert np.nanmedian(err[held]) < 0.02  # the plane itself, its slope shrunk by the ridge


def test_the_dtm_of_a_real_cloud_stays_with_its_ground_points(shared_data: Path) -> None:
    """Topography.laz (73 k points, its own ground class): in every cell holding ground, the
    DTM lies within the heights of the ground points within 1.5 m of the cell's centre (0.5 m
    to spare). The per-axis slopes had put cells up to 8 m outside them."""
    import laspy

    las = laspy.read(shared_data / "lidar" / "Topography.laz")
    x, y, z = (np.asarray(a, dtype=np.float64) for a in (las.x, las.y, las.z))
    ground = np.asarray(las.classification) == GROUND
    grid = GridSpec.covering(x.min(), y.min(), x.max(), y.max(), 1.0)
    s = planar_surface(grid, x, y, z, ground)
    r, c = grid.index(x[ground], y[ground])
    held = np.zeros(s.shape, dtype=bool)
    held[r, c] = True
    cx, cy = grid.centres()
    from scipy.spatial import cKDTree

    near = cKDTree(np.column_stack([x[ground], y[ground]])).query_ball_point(
        np.column_stack([cx[held], cy[held]]), r=1.5
    )
    zg = z[ground]
    lo = np.array([zg[k].min() for k in near])
    hi = np.array([zg[k].max() for k in near])
    v = s[held]
    outside = np.maximum(np.maximum(lo - v, v - hi), 0.0)
    assert held.sum() > 7000 and outside.max() < 0.5, outside.max()


def test_dtm_cog_has_crs_nodata_and_truth(
    truth_classified: PointCloud, scene: Scene, tmp_path: Path
) -> None:
    out = tmp_path / "dtm.tif"
    info = write_product(truth_classified, "dtm", out, resolution_m=1.0)
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32633
        assert src.nodata == -9999.0
        assert src.res == (1.0, 1.0)
        assert src.profile["tiled"] and src.overviews(1) is not None
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    a, grid, _crs = read_geotiff(out)
    cx, cy = grid.centres()
    err = a - terrain_z(cx, cy, scene.origin)
    assert np.sqrt(np.nanmean(err**2)) < 0.1
    assert info["valid_cells"] > 0.99 * grid.rows * grid.cols
    assert not list(tmp_path.glob("*.part"))


def test_dsm_chm_and_hillshade(truth_classified: PointCloud, scene: Scene) -> None:
    g = grid_for(truth_classified, 1.0)
    dsm = product(truth_classified, "dsm", g)
    dtm = product(truth_classified, "dtm", g)
    chm = product(truth_classified, "chm", g)
    assert np.all(chm[np.isfinite(chm)] >= 0)
    # the tallest trees are ≤ 25 m, buildings ≤ 18 m + roof pitch: the CHM sees them
    assert 15.0 < np.nanmax(chm) < 30.0
    from lidar.grid import cell_stat

    c = truth_classified
    objects = c.classification != GROUND
    open_cells = cell_stat(g, c.x[objects], c.y[objects], c.x[objects], "count") == 0
    assert open_cells.sum() > 1000
    assert np.nanpercentile(chm[open_cells], 95) < 0.5  # bare ground has no canopy
    assert np.allclose(chm, np.clip(dsm - dtm, 0, None), equal_nan=True)
    hs = hillshade(dtm, g.res)
    assert np.nanmin(hs) >= 0 and np.nanmax(hs) <= 255 and np.nanstd(hs) > 1


def test_the_local_planes_are_the_weighted_least_squares_planes() -> None:
    """The compiled plane fit, checked cell by cell against the fit written out: weights 2 for
    the cell and 1 for each neighbour holding points, the ridge on the slopes, and the value
    kept within the heights where the centroids are too few or on one line."""
    from lidar import raster

    rng = np.random.default_rng(11)
    rows, cols = 9, 12
    grid = GridSpec(left=100.0, top=50.0, res=1.0, rows=rows, cols=cols)
    rr, cc = np.mgrid[0:rows, 0:cols]
    hit = rng.random((rows, cols)) < 0.6
    hit[4, :] = True
    hit[3, :] = hit[5, :] = False  # a strip one cell wide: centroids on one line
    hit[3, 0] = hit[5, 0] = True
    mx = np.where(hit, grid.left + cc + rng.uniform(0.1, 0.9, hit.shape), np.nan)
    my = np.where(hit, grid.top - rr - rng.uniform(0.1, 0.9, hit.shape), np.nan)
    mz = np.where(hit, 7.0 + 0.3 * mx - 0.2 * my + rng.normal(0, 0.4, hit.shape), np.nan)
    got = raster._local_planes(grid, mx, my, mz, hit)
    assert np.array_equal(np.isfinite(got), hit)
    clipped = 0
    for r, c in zip(*np.nonzero(hit), strict=True):
        cx, cy = grid.left + c + 0.5, grid.top - r - 0.5
        a, w, dzs = [], [], []
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                i, j = r + dr, c + dc
                if 0 <= i < rows and 0 <= j < cols and hit[i, j]:
                    a.append([1.0, mx[i, j] - cx, my[i, j] - cy])
                    w.append(2.0 if dr == dc == 0 else 1.0)
                    dzs.append(mz[i, j] - mz[r, c])
        am, wm, dz = np.array(a), np.diag(w), np.array(dzs)
        m = am.T @ wm @ am + raster.PLANE_RIDGE * np.sum(w) * np.diag([0.0, 1.0, 1.0])
        want = mz[r, c] + np.linalg.solve(m, am.T @ wm @ dz)[0]
        mean = (np.array(w) @ am[:, 1:]) / np.sum(w)
        d = am[:, 1:] - mean
        spread = np.linalg.eigvalsh((d.T * w) @ d / np.sum(w))[0]
        nb = mz[r, c] + dz
        if spread < raster.PLANE_MIN_SPREAD:
            want = np.clip(want, nb.min(), nb.max())
            clipped += want in (nb.min(), nb.max())
        assert got[r, c] == pytest.approx(want, abs=1e-9), (r, c)
    assert clipped > 0


def test_dsm_fills_its_gaps_from_the_cells_around_them_inside_the_hull() -> None:
    """The DSM's gaps are filled as the DTM's are (bridged on the grid, the rest from a TIN of
    the cells bordering them), not by a Delaunay of every cell: a plane comes back exact, a one-
    cell gap between a roof and the ground takes the bridge's value, and cells beyond the first
    returns' hull stay empty."""
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 60, 6000), rng.uniform(0, 40, 6000)
    keep = ~((x > 20) & (x < 32) & (y > 10) & (y < 22))  # a 12 m hole (a pond)
    x, y = x[keep], y[keep]
    z = 300 + 0.3 * x - 0.2 * y
    first = np.ones(x.shape, dtype=bool)
    first[::5] = False  # last returns lower down do not count
    z = np.where(first, z, z - 7.0)
    grid = GridSpec.covering(0, 0, 80, 40, 1.0)  # 20 m east of the data: outside the hull
    got = dsm(grid, x, y, z, first)
    cx, cy = grid.centres()
    plane = 300 + 0.3 * cx - 0.2 * cy
    assert np.all(np.isnan(got[cx > 61]))
    inside = (cx > 1) & (cx < 59) & (cy > 1) & (cy < 39)
    assert np.isfinite(got[inside]).all()
    assert np.abs(got[inside] - plane[inside]).max() < 0.25  # the highest point of each cell
    hole = (cx > 22) & (cx < 30) & (cy > 12) & (cy < 20)
    top = cell_stat(grid, x, y, z, "max", first)
    assert np.allclose(got[hole], inpaint_linear(top)[hole])
    # a roof at 10 m, a one-cell gap, ground at 0 along a row: the bridge gives the middle
    cols = np.array([0.5, 1.5, 2.5, 4.5, 5.5, 6.5])
    xr = np.concatenate([cols, cols, cols])
    yr = np.repeat([0.5, 1.5, 2.5], cols.size)
    zr = np.where(xr < 3.0, 10.0, 0.0)
    small = GridSpec.covering(0, 0, 7, 3, 1.0)
    row = dsm(small, xr, yr, zr, np.ones(xr.shape, dtype=bool))
    r, c = small.index(np.full(3, 3.5), np.array([0.5, 1.5, 2.5]))
    assert np.allclose(row[r, c], 5.0)


def test_hillshade_lights_slopes_facing_the_sun() -> None:
    grid = GridSpec.covering(0, 0, 20, 20, 1.0)
    cx, cy = grid.centres()
    facing_nw = 100 + 0.5 * cx - 0.5 * cy  # descends toward the north-west (the sun at 315°)
    facing_se = 100 - 0.5 * cx + 0.5 * cy
    assert np.nanmean(hillshade(facing_nw, 1.0)) > 200
    assert np.nanmean(hillshade(facing_se, 1.0)) < 60


def test_contours_geojson(truth_classified: PointCloud, tmp_path: Path) -> None:
    out = tmp_path / "c.geojson"
    info = write_product(truth_classified, "contours", out, resolution_m=2.0, interval=5.0)
    doc = json.loads(out.read_text())
    assert doc["type"] == "FeatureCollection" and info["features"] == len(doc["features"]) > 3
    levels = {f["properties"]["elevation"] for f in doc["features"]}
    assert all(abs(v / 5.0 - round(v / 5.0)) < 1e-9 for v in levels)
    assert doc["crs"]["properties"]["name"] == "EPSG:32633"


def test_volume_of_a_known_stockpile() -> None:
    grid = GridSpec.covering(0, 0, 100, 100, 0.5)
    cx, cy = grid.centres()
    base = np.full(cx.shape, 300.0)
    r = np.hypot(cx - 50, cy - 50)
    top = base + np.clip(10.0 - r, 0, None)  # a cone: radius 10 m, height 10 m
    v = volume_between(top, base, 0.25)
    assert v["fill_m3"] == pytest.approx(np.pi * 10**2 * 10 / 3, rel=0.01)
    assert v["cut_m3"] == 0.0
    dug = volume_between(base, top, 0.25)
    assert dug["cut_m3"] == pytest.approx(v["fill_m3"])


def test_contours_of_a_plane() -> None:
    grid = GridSpec.covering(0, 0, 10, 10, 1.0)
    cx, _cy = grid.centres()
    fc = contours(grid, cx * 1.0, 2.0)
    for f in fc["features"]:
        xs = np.array(f["geometry"]["coordinates"])[:, 0]
        assert np.allclose(xs, f["properties"]["elevation"])


def test_geotiff_round_trip(tmp_path: Path) -> None:
    grid = GridSpec(1000.0, 2000.0, 2.0, 3, 4)
    a = np.arange(12, dtype=float).reshape(3, 4)
    a[1, 1] = np.nan
    from pyproj import CRS

    p = write_geotiff(tmp_path / "r.tif", a, grid, CRS.from_epsg(5514))
    b, g2, crs = read_geotiff(p)
    assert g2 == grid and crs is not None and crs.to_epsg() == 5514
    assert np.isnan(b[1, 1]) and np.allclose(b[np.isfinite(a)], a[np.isfinite(a)])
    assert GROUND == 2


def test_density_and_intensity(truth_classified: PointCloud, scene: Scene) -> None:
    g = grid_for(truth_classified, 2.0)
    dens = product(truth_classified, "density", g)
    n_m2 = len(truth_classified) / (scene.size_m[0] * scene.size_m[1])
    inner = dens[2:-2, 2:-2]
    assert np.nanmean(inner) == pytest.approx(n_m2, rel=0.05)
    inten = product(truth_classified, "intensity", g)
    roofs = truth_classified.classification == 6
    # roofs were generated darker (≈150) than the ground (≈300)
    from lidar.grid import cell_stat

    roof_cells = (
        cell_stat(
            g,
            truth_classified.x[roofs],
            truth_classified.y[roofs],
            truth_classified.x[roofs],
            "count",
        )
        > 3
    )
    assert np.nanmedian(inten[roof_cells]) < 200 < np.nanmedian(inten[~roof_cells])
