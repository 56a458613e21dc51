"""PDAL's ``writers.gdal`` gridding (``lidar.pdal_grid``): PDAL's DTM recipe runs unchanged.

A pipeline written for PDAL (``filters.smrf``, ``filters.range Classification[2:2]``,
``writers.gdal`` with ``output_type`` ``idw``) was refused ("unknown option 'output_type'"). The
statistics are checked against a brute-force reference written from PDAL's documentation and
``GDALGrid`` (every point against every cell centre), on fixed clouds and as a property.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import given
from hypothesis import strategies as st
from pyproj import CRS

from dronekit_plzen.errors import BadInputError
from lidar import pipeline
from lidar.cloud import PointCloud
from lidar.io import read_cloud, write_cloud
from lidar.pdal_grid import OUTPUT_TYPES, PdalGrid, grid_stats


def reference(
    x: np.ndarray,
    y: np.ndarray,
    v: np.ndarray,
    g: PdalGrid,
    *,
    radius: float,
    power: float = 1.0,
    window: int = 0,
    binmode: bool = False,
) -> dict[str, np.ndarray]:
    """Every point against every cell centre, as PDAL's documentation describes the bands."""
    w, h, res = g.width, g.height, g.res
    near: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for px, py, pv in zip(x, y, v):
        own = (math.floor((px - g.origin_x) / res), math.floor((py - g.origin_y) / res))
        for i in range(w):
            for j in range(h):
                dx, dy = g.origin_x + (i + 0.5) * res - px, g.origin_y + (j + 0.5) * res - py
                d = math.sqrt(dx * dx + dy * dy)  # as PDAL's GDALGrid::distance
                if (binmode and (i, j) == own) or (not binmode and d < radius):
                    near.setdefault((i, j), []).append((float(pv), d))
    out = {k: np.full((h, w), np.nan) for k in OUTPUT_TYPES}
    out["count"][:] = 0
    for (i, j), pairs in near.items():
        r = h - 1 - j
        vals = np.array([a for a, _ in pairs])
        ds = np.array([b for _, b in pairs])
        out["min"][r, i], out["max"][r, i] = vals.min(), vals.max()
        out["mean"][r, i], out["stdev"][r, i] = vals.mean(), vals.std()
        out["count"][r, i] = len(vals)
        on = np.flatnonzero(ds == 0)
        # 1 / d^power, scaled by the nearest point's (any power: no overflow to inf / inf)
        weights = (ds[ds > 0].min() / ds[ds > 0]) ** power if (ds > 0).any() else ds[:0]
        out["idw"][r, i] = (
            vals[on[0]] if len(on) else (vals[ds > 0] * weights).sum() / weights.sum()
        )
    if window:
        has = out["count"] > 0
        before = {k: a.copy() for k, a in out.items()}
        for r in range(h):
            for c in range(w):
                if has[r, c]:
                    continue
                acc = dict.fromkeys((k for k in OUTPUT_TYPES if k != "count"), 0.0)
                wsum = 0.0
                for rr in range(max(0, r - window), min(h, r + window + 1)):
                    for cc in range(max(0, c - window), min(w, c + window + 1)):
                        if has[rr, cc]:
                            d = max(abs(rr - r), abs(cc - c))
                            wsum += 1.0 / d
                            for k in acc:
                                acc[k] += before[k][rr, cc] / d
                if wsum > 0:
                    for k in acc:
                        out[k][r, c] = acc[k] / wsum
    return out


def _same(ours: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> None:
    for k in OUTPUT_TYPES:
        assert np.array_equal(np.isnan(ours[k]), np.isnan(ref[k])), k
        assert np.allclose(ours[k], ref[k], rtol=0, atol=1e-9, equal_nan=True), k


@pytest.mark.parametrize("seed", range(12))
def test_the_bands_equal_a_brute_force_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    res = float(rng.choice([0.5, 1.0, 2.0]))
    # the corners (0, 0) and (12, 9) fix the grid's origin at (0, 0)
    x = np.concatenate([[0.0, 12.0], rng.uniform(0, 12, n)])
    y = np.concatenate([[0.0, 9.0], rng.uniform(0, 9, n)])
    v = rng.normal(300.0, 2.0, n + 2)
    if seed % 3 == 0:  # points on cell centres: the cell takes their value in the idw band
        x[2:5] = np.floor(x[2:5] / res) * res + 0.5 * res
        y[2:5] = np.floor(y[2:5] / res) * res + 0.5 * res
    g = PdalGrid.covering(x.min(), y.min(), x.max(), y.max(), res)
    assert (g.origin_x, g.origin_y) == (0.0, 0.0)
    kw = {
        "radius": float(rng.choice([res * math.sqrt(2), res * 0.7, res * 2.3])),
        "power": float(rng.choice([1.0, 2.0])),
        "window": int(rng.choice([0, 1, 2])),
        "binmode": seed % 5 == 4,
    }
    ours = grid_stats(
        x,
        y,
        v,
        g,
        OUTPUT_TYPES,
        radius=kw["radius"],
        power=kw["power"],
        window_size=kw["window"],
        binmode=kw["binmode"],
    )
    _same(ours, reference(x, y, v, g, **kw))


def test_a_point_exactly_a_radius_away_is_left_out() -> None:
    """PDAL counts a point closer than the radius: the middle cell's centre lies exactly √2
    from both points, so neither counts there (their squared distance 2.0 is below the squared
    radius 2.0000000000000004: the square root is compared, as PDAL does)."""
    x, y, v = np.array([0.5, 2.5]), np.array([0.5, 2.5]), np.array([1.0, 4.0])
    g = PdalGrid(0.0, 0.0, 1.0, 3, 3)
    out = grid_stats(x, y, v, g, ("count",), radius=math.sqrt(2.0))["count"]
    assert out[1, 1] == 0.0
    assert np.array_equal(out, reference(x, y, v, g, radius=math.sqrt(2.0))["count"])


def test_equal_heights_have_no_spread() -> None:
    """Found by ``make fuzz``: three equal heights of -12 m in a cell had a standard deviation
    of 6e-8 m (a sum of squares less the squared mean); Welford's updates, as PDAL's, give 0."""
    pts = [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, -1.1662186671316732)]
    pts += [(1.75, 1.25, -12.0)] * 3
    x, y, v = (np.array(c, dtype=np.float64) for c in zip(*pts))
    g = PdalGrid.covering(x.min(), y.min(), x.max(), y.max(), 0.5)
    ours = grid_stats(x, y, v, g, OUTPUT_TYPES, radius=0.25)
    _same(ours, reference(x, y, v, g, radius=0.25))
    assert np.nanmin(ours["stdev"]) == 0.0


@given(
    pts=st.lists(
        st.tuples(
            st.floats(0, 20, allow_nan=False),
            st.floats(0, 15, allow_nan=False),
            st.floats(-50, 50, allow_nan=False),
        ),
        min_size=1,
        max_size=25,
    ),
    res=st.sampled_from([0.5, 1.0, 3.0]),
    k=st.sampled_from([0.5, math.sqrt(2), 2.0]),
    window=st.integers(0, 2),
)
def test_the_bands_equal_the_reference_on_any_cloud(
    pts: list[tuple[float, float, float]], res: float, k: float, window: int
) -> None:
    x, y, v = (np.array(c, dtype=np.float64) for c in zip(*pts))
    g = PdalGrid.covering(x.min(), y.min(), x.max(), y.max(), res)
    ours = grid_stats(x, y, v, g, OUTPUT_TYPES, radius=k * res, window_size=window)
    _same(ours, reference(x, y, v, g, radius=k * res, window=window))


def _cloud_file(path: Path, n: int = 4000, seed: int = 3) -> PointCloud:
    rng = np.random.default_rng(seed)
    x = 458_000 + rng.uniform(0, 60, n)
    y = 5_510_000 + rng.uniform(0, 40, n)
    z = 320 + 0.05 * (x - 458_000) + rng.normal(0, 0.02, n)
    cls = np.full(n, 2, np.uint8)
    cls[: n // 4] = 1  # a quarter is not ground: filters.range takes it out
    z[: n // 4] += 5.0
    cloud = PointCloud(x, y, z, {"classification": cls}, crs=CRS.from_epsg(32633))
    write_cloud(cloud, path)
    return cloud


def test_pdals_dtm_recipe_runs_unchanged(tmp_path: Path) -> None:
    src = tmp_path / "cloud.laz"
    _cloud_file(src)
    doc = [
        str(src),
        {"type": "filters.range", "limits": "Classification[2:2]"},
        {
            "type": "writers.gdal",
            "filename": "dtm.tif",
            "output_type": "idw,min",
            "resolution": 2.0,
            "window_size": 2,
            "gdalopts": "COMPRESS=DEFLATE,TILED=YES",
            "metadata": "SOURCE=test,OPERATOR=SITMP",
        },
    ]
    (tmp_path / "p.json").write_text(json.dumps(doc))
    rep = pipeline.run(pipeline.load(tmp_path / "p.json"))
    (out,) = rep.outputs
    assert out["bands"] == ["min", "idw"] and out["product"] == "pdal-grid"  # PDAL's order
    ground = read_cloud(src)  # the points as the writer saw them
    keep = ground.classification == 2
    gx, gy, gz = ground.x[keep], ground.y[keep], ground.z[keep]
    g = PdalGrid.covering(gx.min(), gy.min(), gx.max(), gy.max(), 2.0)
    ref = reference(gx, gy, gz, g, radius=2.0 * math.sqrt(2), window=2)
    with rasterio.open(tmp_path / "dtm.tif") as f:
        assert f.descriptions == ("min", "idw")
        assert f.dtypes == ("float64", "float64") and f.nodata == -9999.0
        assert f.crs == rasterio.crs.CRS.from_epsg(32633)
        assert (
            (f.width, f.height)
            == (g.width, g.height)
            == (
                math.floor((gx.max() - gx.min()) / 2) + 1,
                math.floor((gy.max() - gy.min()) / 2) + 1,
            )
        )
        assert f.transform.c == gx.min() and f.transform.f == gy.min() + 2.0 * g.height
        assert f.profile["compress"] == "deflate" and f.profile["tiled"]
        assert f.tags()["SOURCE"] == "test" and f.tags()["OPERATOR"] == "SITMP"
        for band, name in ((1, "min"), (2, "idw")):
            a = f.read(band)
            want = np.where(np.isnan(ref[name]), -9999.0, ref[name])
            assert np.allclose(a, want, rtol=0, atol=1e-9)


def test_a_fixed_grid_and_the_data_types(tmp_path: Path) -> None:
    """``origin_x``/``origin_y``/``width``/``height`` and ``bounds`` fix the grid (points outside
    still reach the cells within the radius, as in PDAL's GDALGrid); integer types are rounded,
    their nodata PDAL's (-9999, 9999 unsigned, 255 for uint8)."""
    src = tmp_path / "cloud.las"
    cloud = _cloud_file(src)

    def run(name: str, **opts: object) -> rasterio.DatasetReader:
        writer = {"type": "writers.gdal", "filename": str(tmp_path / name), "resolution": 1, **opts}
        pipeline.run(pipeline.parse([str(src), writer]))
        return rasterio.open(tmp_path / name)

    with run(
        "fixed.tif", output_type="count", origin_x=458_010, origin_y=5_510_005, width=7, height=3
    ) as f:
        assert (f.width, f.height) == (7, 3) and f.descriptions == ("count",)
        assert (f.transform.c, f.transform.f) == (458_010, 5_510_008)
        inside = (
            (cloud.x >= 458_010)
            & (cloud.x < 458_017)
            & (cloud.y >= 5_510_005)
            & (cloud.y < 5_510_008)
        )
        assert f.read(1).sum() > inside.sum()  # the radius reaches over each cell's edges
    with run("bounds.tif", output_type="max", bounds="([458010, 458020], [5510005, 5510010])") as f:
        assert (f.width, f.height) == (11, 6)
    with run("i16.tif", output_type="mean", data_type="int16", binmode=True) as f:
        a = f.read(1)
        assert f.dtypes == ("int16",) and f.nodata == -9999
        assert set(np.unique(a[a != -9999])) <= set(range(315, 330))  # rounded heights
    with run("u8.tif", output_type="count", data_type="uint8", override_srs="EPSG:5514") as f:
        assert f.nodata == 255 and f.crs == rasterio.crs.CRS.from_epsg(5514)


def test_without_pdals_options_the_writer_makes_our_dtm(tmp_path: Path) -> None:
    """No gridding option: the writer computes ``product`` (the DTM by default), as before."""
    src = tmp_path / "cloud.las"
    _cloud_file(src)
    writer = {"type": "writers.gdal", "filename": str(tmp_path / "d.tif")}
    rep = pipeline.run(pipeline.parse([str(src), writer]))
    assert rep.outputs[0]["product"] == "dtm"
    with rasterio.open(tmp_path / "d.tif") as f:
        assert f.count == 1 and f.dtypes == ("float32",)


def _hag_nn_reference(cloud: PointCloud, count: int, max_distance: float) -> np.ndarray:
    """PDAL's HagNnFilter point by point (allow_extrapolation true, its default)."""
    g = cloud.classification == 2
    gx, gy, gz = cloud.x[g], cloud.y[g], cloud.z[g]
    out = np.zeros(len(cloud))
    for i in np.flatnonzero(~g):
        d2 = (gx - cloud.x[i]) ** 2 + (gy - cloud.y[i]) ** 2
        order = np.argsort(d2, kind="stable")[:count]
        near = order[0]
        if (gx[near] == cloud.x[i] and gy[near] == cloud.y[i]) or count == 1:
            z1 = gz[near]
        else:
            keep = [j for j in order if not (max_distance > 0 and d2[j] > max_distance**2)]
            w = np.array([1.0 / d2[j] for j in keep])
            z1 = float((w * gz[keep]).sum() / w.sum()) if len(keep) else cloud.z[i]
        out[i] = cloud.z[i] - z1
    return out


@pytest.mark.parametrize(("count", "max_distance"), [(1, 0.0), (4, 0.0), (6, 1.5)])
def test_hag_nn_equals_pdals_filter(tmp_path: Path, count: int, max_distance: float) -> None:
    from lidar.stages import HagNnOptions, apply_hag_nn

    cloud = _cloud_file(tmp_path / "c.las", n=600, seed=count)
    hag = apply_hag_nn(cloud, HagNnOptions(count=count, max_distance=max_distance))
    want = _hag_nn_reference(cloud, count, max_distance)
    assert np.allclose(hag.dims["HeightAboveGround"], want, rtol=0, atol=1e-9)
    assert (hag.dims["HeightAboveGround"][cloud.classification == 2] == 0).all()


def test_pdals_chm_recipe_runs_unchanged(tmp_path: Path) -> None:
    """filters.hag_nn, then writers.gdal gridding HeightAboveGround, and filters.ferry putting
    the heights into Z (PDAL's documented examples)."""
    src = tmp_path / "cloud.las"
    cloud = _cloud_file(src)
    doc = [
        str(src),
        {"type": "filters.hag_nn"},
        {
            "type": "writers.gdal",
            "filename": str(tmp_path / "chm.tif"),
            "dimension": "HeightAboveGround",
            "output_type": "max",
            "resolution": 2,
        },
    ]
    pipeline.run(pipeline.parse(doc))
    with rasterio.open(tmp_path / "chm.tif") as f:
        top = f.read(1, masked=True)
    assert 4.5 < float(top.max()) < 5.5  # the objects stand 5 m over the slope
    doc = [
        str(src),
        {"type": "filters.hag_nn", "count": 3},
        {"type": "filters.ferry", "dimensions": "HeightAboveGround=>Z, =>Marker"},
        {"type": "writers.las", "filename": str(tmp_path / "heights.las")},
    ]
    pipeline.run(pipeline.parse(doc))
    back = read_cloud(tmp_path / "heights.las")
    ground = cloud.classification == 2
    assert np.abs(back.z[ground]).max() < 0.01  # ground at height 0 (to the file's scale)
    assert back.z[~ground].min() > 4.0 and (back.dims["Marker"] == 0).all()


def _elm_reference(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, cell: float, thr: float
) -> np.ndarray:
    """PDAL's ELMFilter::cull, point by point: per cell, ascending heights; the lowest is noise
    while the next one is at least the threshold above it."""
    noise = np.zeros(len(z), bool)
    cells: dict[tuple[int, int], list[int]] = {}
    for i in range(len(z)):
        key = (math.floor((x[i] - x.min()) / cell), math.floor((y[i] - y.min()) / cell))
        cells.setdefault(key, []).append(i)
    for ids in cells.values():
        ids.sort(key=lambda i: (z[i], i))
        for a, b in itertools.pairwise(ids):
            if abs(z[a] - z[b]) < thr:
                break
            noise[a] = True
    return noise


@pytest.mark.parametrize("seed", range(6))
def test_elm_marks_the_low_points_pdal_marks(seed: int) -> None:
    from lidar.stages import elm_noise

    rng = np.random.default_rng(seed)
    n = 3000
    x, y = rng.uniform(0, 80, n), rng.uniform(0, 60, n)
    z = 300 + rng.normal(0, 0.3, n)
    low = rng.choice(n, 40, replace=False)
    z[low] -= rng.uniform(0.5, 30, 40)  # some far below (noise), some within the threshold
    got = elm_noise(x, y, z, 10.0, 1.0)
    assert np.array_equal(got, _elm_reference(x, y, z, 10.0, 1.0))
    assert 10 < got.sum() <= 40
    high = elm_noise(x, y, -z, 10.0, 1.0)  # maximum: the same walk from the top
    assert np.array_equal(high, _elm_reference(x, y, -z, 10.0, 1.0))


def test_pdals_ground_recipe_runs_as_written(tmp_path: Path) -> None:
    """PDAL's documented ground recipe: assign every class 0, ELM and the outlier filter mark
    noise (class 7), SMRF ignores it, the range keeps the ground. The assignment, ELM and
    SMRF's ignore had been refused."""
    src = tmp_path / "cloud.las"
    cloud = _cloud_file(src, n=6000)
    z = cloud.z.copy()
    z[:5] -= 25.0  # five points deep below the terrain: low noise
    write_cloud(replace(cloud, z=z), src)
    doc = [
        str(src),
        {"type": "filters.assign", "assignment": "Classification[:]=0"},
        {"type": "filters.elm"},
        {"type": "filters.outlier"},
        {"type": "filters.smrf", "ignore": "Classification[7:7]", "slope": 0.2, "window": 16},
        {"type": "filters.range", "limits": "Classification[2:2]"},
        {"type": "writers.las", "filename": str(tmp_path / "ground.las")},
    ]
    rep = pipeline.run(pipeline.parse(doc))
    ground = read_cloud(tmp_path / "ground.las")
    assert 3000 < len(ground) < 6000 and rep.points_out == len(ground)
    assert ground.z.min() > 310.0  # the noise, about 300 m, is not ground (the terrain: 320)
    # the noise, as ELM marked it, kept its class through SMRF
    marked = pipeline.run(
        pipeline.parse([*doc[:5], {"type": "writers.las", "filename": str(tmp_path / "all.las")}])
    )
    assert marked.points_out == 6000
    allc = read_cloud(tmp_path / "all.las")
    assert set(np.flatnonzero(allc.classification == 7)) >= set(range(5))


@pytest.mark.parametrize(
    ("opts", "expected"),
    [
        ({"assignment": "Classification[:]=0"}, lambda c: np.zeros(len(c))),
        (
            {"assignment": ["Classification[:]=0", "Classification[0:0]=5"]},
            lambda c: np.full(len(c), 5),
        ),
        ({"value": "Classification = 9"}, lambda c: np.full(len(c), 9)),
        ({"classification": 3}, lambda c: np.full(len(c), 3)),
        (
            {"assignment": "Z[:320]=0"},
            None,  # the heights below 320 m set to 0, the classes as they were
        ),
    ],
)
def test_filters_assign_as_pdal(tmp_path: Path, opts: dict[str, object], expected: object) -> None:
    from lidar.stages import AssignOptions, apply_assign

    cloud = _cloud_file(tmp_path / "c.las", n=200)
    out = apply_assign(cloud, AssignOptions(**opts))  # type: ignore[arg-type]
    if expected is None:
        assert np.array_equal(out.z, np.where(cloud.z <= 320, 0.0, cloud.z))
        assert np.array_equal(out.classification, cloud.classification)
    else:
        assert np.array_equal(out.classification, expected(cloud))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"value": "Classification = 2 WHERE Z > 300"}, "PDAL's WHERE expressions"),
        ({"assignment": "Classification=2"}, "is not Dimension[min:max]=value"),
        ({"assignment": "Classification[:]=300"}, "classification must be 0–255"),
        ({"classification": 2, "value": "Classification = 2"}, "give one of classification"),
    ],
)
def test_filters_assign_refuses_what_it_cannot_do(opts: dict[str, object], message: str) -> None:

    with pytest.raises(BadInputError) as err:
        pipeline.parse(["in.las", {"type": "filters.assign", **opts}, "out.las"])
    assert message in str(err.value)


def test_pdals_stage_plumbing_tags_inputs_and_untyped_files(tmp_path: Path) -> None:
    """``tag``, ``inputs`` naming the stage before, ``user_data`` and a stage given by its
    filename alone (PDAL infers readers.las / writers.las) are read as PDAL reads them; inputs
    that merge or branch are refused, naming the stage."""
    src = tmp_path / "cloud.las"
    _cloud_file(src)
    doc = {
        "pipeline": [
            {"filename": str(src), "tag": "A"},
            {"type": "filters.range", "limits": "Classification[2:2]", "inputs": ["A"], "tag": "B"},
            {"type": "filters.decimation", "step": 2, "inputs": "B", "user_data": {"by": "SITMP"}},
            {"filename": str(tmp_path / "out.laz")},
        ]
    }
    rep = pipeline.run(pipeline.parse(doc))
    assert rep.points_out == 1500 and len(read_cloud(tmp_path / "out.laz")) == 1500
    doc["pipeline"][2]["inputs"] = "A"  # type: ignore[index]
    with pytest.raises(BadInputError, match="stage 3: inputs 'A': only a chain of stages runs"):
        pipeline.parse(doc)


def test_voxel_center_nearest_neighbor_as_pdal(tmp_path: Path) -> None:
    """PDAL's filters.voxelcenternearestneighbor: per voxel (from the cloud's minimum) the point
    nearest the voxel's centre, brute force as the reference."""
    cloud = _cloud_file(tmp_path / "c.las", n=2000)
    out = tmp_path / "v.las"
    doc = [
        str(tmp_path / "c.las"),
        {"type": "filters.voxelcenternearestneighbor", "cell": 4.0},
        str(out),
    ]
    pipeline.run(pipeline.parse(doc))
    got = read_cloud(out)
    xyz = np.column_stack([cloud.x, cloud.y, cloud.z])
    lo = xyz.min(axis=0)
    best: dict[tuple[int, ...], tuple[float, int]] = {}
    for i, p in enumerate(xyz):
        key = tuple(int(v) for v in np.floor((p - lo) / 4.0))
        d = float(((p - (lo + (np.array(key) + 0.5) * 4.0)) ** 2).sum())
        if key not in best or d < best[key][0]:
            best[key] = (d, i)
    want = np.sort(cloud.x[[i for _d, i in best.values()]])
    assert np.allclose(np.sort(got.x), want, atol=0.001)


def _greedy_reference(xyz: np.ndarray, radius: float) -> np.ndarray:
    """PDAL's SampleFilter without its voxels: in order, a point stays when every point kept
    before it is at least the radius away."""
    keep = np.zeros(len(xyz), bool)
    kept = np.zeros((0, 3))
    for i, p in enumerate(xyz):
        if not len(kept) or (((kept - p) ** 2).sum(axis=1) >= radius * radius).all():
            keep[i] = True
            kept = np.vstack([kept, p])
    return keep


@pytest.mark.parametrize("radius", [0.3, 1.0, 2.5])
def test_filters_sample_keeps_what_pdal_keeps(tmp_path: Path, radius: float) -> None:
    from lidar.filters import poisson_sample

    rng = np.random.default_rng(int(radius * 10))
    xyz = np.column_stack(
        [rng.uniform(0, 30, 3000), rng.uniform(0, 20, 3000), rng.uniform(0, 4, 3000)]
    )
    xyz[50:150] = xyz[0]  # copies of one point
    keep = poisson_sample(xyz[:, 0], xyz[:, 1], xyz[:, 2], radius)
    assert np.array_equal(keep, _greedy_reference(xyz, radius))
    # in a pipeline: cell is PDAL's other way to give it (radius = cell·√3/2), dimension flags
    src = tmp_path / "c.las"
    _cloud_file(src, n=2000)
    flagged = tmp_path / "f.las"
    doc = [
        str(src),
        {"type": "filters.sample", "cell": radius * 2 / math.sqrt(3), "dimension": "Keep"},
        {"type": "writers.las", "filename": str(flagged), "extra_dims": "Keep=uint8"},
    ]
    pipeline.run(pipeline.parse(doc))
    back = read_cloud(flagged)
    want = _greedy_reference(np.column_stack([back.x, back.y, back.z]), radius)
    assert len(back) == 2000 and np.array_equal(back.dims["Keep"] == 1, want)


@given(
    pts=st.lists(
        st.tuples(
            st.floats(-5, 5, allow_nan=False),
            st.floats(-5, 5, allow_nan=False),
            st.floats(-2, 2, allow_nan=False),
        ),
        min_size=1,
        max_size=60,
    ),
    radius=st.sampled_from([0.1, 0.5, 1.0, 3.0]),
)
def test_filters_sample_equals_the_greedy_rule_on_any_cloud(
    pts: list[tuple[float, float, float]], radius: float
) -> None:
    from lidar.filters import poisson_sample

    xyz = np.array(pts, dtype=np.float64)
    keep = poisson_sample(xyz[:, 0], xyz[:, 1], xyz[:, 2], radius)
    assert np.array_equal(keep, _greedy_reference(xyz, radius))


# ---- session 44: writers.gdal found from outside (a hang, overflowing weights, gdalopts) ------


def _window_fill_shifted(grids: dict[str, np.ndarray], has: np.ndarray, size: int) -> None:
    """The window fill as it was (the weighted sums shifted cell offset by cell offset: cells ×
    window² steps), kept as the reference of the FFT's."""
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


@pytest.mark.parametrize("seed", range(24))
def test_the_window_fill_equals_the_shifted_sums(seed: int) -> None:
    """The FFT's fill equals the sums cell offset by cell offset (1e-9 relative), on grids of
    every shape (a row, a column, smaller than the window), windows 1 to 100, few donors and
    many; a cell with no donor within the window stays empty whatever the round-off."""
    from lidar.pdal_grid import _window_fill

    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 90, 2))
    if seed % 6 == 0:
        h = 1
    size = int(rng.choice([1, 2, 3, 7, 25, 100]))
    has = rng.random((h, w)) < float(rng.choice([0.002, 0.02, 0.2, 0.8]))
    if seed % 4 == 0:  # a single donor in a corner: the far cells have none
        has[:] = False
        has[-1, 0] = True
    grids = {
        "min": rng.normal(300.0, 20.0, (h, w)),
        "idw": rng.normal(-5.0, 0.1, (h, w)),
        "stdev": rng.exponential(0.05, (h, w)),
        "count": has * 3.0,
    }
    for k in ("min", "idw", "stdev"):
        grids[k][~has] = np.nan
    if seed % 5 == 1 and has.any():  # a donor that is no number spoils what it reaches
        grids["idw"][np.argwhere(has)[0][0], np.argwhere(has)[0][1]] = np.nan
    ours = {k: a.copy() for k, a in grids.items()}
    want = {k: a.copy() for k, a in grids.items()}
    _window_fill(ours, has.copy(), size)
    _window_fill_shifted(want, has.copy(), size)
    for k in grids:
        assert np.array_equal(np.isnan(ours[k]), np.isnan(want[k])), k
        assert np.allclose(ours[k], want[k], rtol=1e-9, atol=0, equal_nan=True), k


@pytest.mark.timeout(120)
def test_a_wide_window_on_a_fine_grid_takes_seconds() -> None:
    """Found from outside: resolution 0.09 over a 90 m cloud with window_size 100 (a grid of
    1000 × 1000 cells) hung (cells × window² steps, hours); the fill is now a pair of FFT
    correlations. A few cells are checked against the sums written out."""
    import time

    rng = np.random.default_rng(7)
    n = 3000
    x, y = rng.uniform(0, 90, n), rng.uniform(0, 90, n)
    v = rng.normal(300.0, 3.0, n)
    g = PdalGrid.covering(0.0, 0.0, 90.0, 90.0, 0.09)
    assert (g.width, g.height) == (1001, 1001)
    t0 = time.perf_counter()
    ours = grid_stats(x, y, v, g, OUTPUT_TYPES, radius=0.09, window_size=100)
    assert time.perf_counter() - t0 < 30
    plain = grid_stats(x, y, v, g, OUTPUT_TYPES, radius=0.09)
    has = plain["count"] > 0
    assert (~has).sum() > 900_000  # nearly every cell is filled from the window
    for r, c in rng.integers(0, 1001, (20, 2)):
        rows, cols = slice(max(0, r - 100), r + 101), slice(max(0, c - 100), c + 101)
        dr, dc = np.meshgrid(
            np.arange(rows.start, min(1001, rows.stop)) - r,
            np.arange(cols.start, min(1001, cols.stop)) - c,
            indexing="ij",
        )
        d = np.maximum(np.abs(dr), np.abs(dc)).astype(float)
        near = has[rows, cols] & (d > 0)
        for k in ("min", "idw", "stdev"):
            if has[r, c]:
                assert ours[k][r, c] == plain[k][r, c]
                continue
            wgt = 1.0 / d[near]
            want = (plain[k][rows, cols][near] * wgt).sum() / wgt.sum()
            assert ours[k][r, c] == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("power", [400.0, 1e4, 1e308])
def test_a_large_idw_power_leaves_the_nearest_points_value(power: float) -> None:
    """Found from outside: power 400 (or 1e308) overflowed the weights 1 / d^power (inf / inf,
    or 0 / 0): cells with points came out as nodata, exit 0. The sums are now taken relative to
    the nearest point's weight: a large power tends to the nearest point's value, and a point
    on a cell's centre still gives its value (the first such point's, as in PDAL)."""
    x = np.array([0.5, 0.8, 1.5, 1.1, 2.5, 2.5, 2.45, 2.2])
    y = np.array([0.5, 0.5, 1.2, 1.8, 2.5, 2.5, 0.55, 0.8])
    v = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 70.0, 60.0, 80.0])
    g = PdalGrid(0.0, 0.0, 1.0, 3, 3)
    ours = grid_stats(x, y, v, g, ("idw", "count"), radius=1.5, power=power)
    ref = reference(x, y, v, g, radius=1.5, power=power)
    has = ours["count"] > 0
    assert has.all() and not np.isnan(ours["idw"]).any()
    assert np.allclose(ours["idw"], ref["idw"], rtol=1e-12, atol=0)
    assert ours["idw"][2, 0] == 10.0  # a point on the centre of the south-west cell
    assert ours["idw"][0, 2] == 50.0  # two on the north-east centre: the first one's value
    # (1.5, 1.2) is the nearest to (1.5, 1.5): 0.3 away, (1.1, 1.8) 0.5 (weighing 0.6^power)
    want = 30.0 if power > 1e3 else (30.0 + 40.0 * 0.6**power) / (1.0 + 0.6**power)
    assert ours["idw"][1, 1] == pytest.approx(want, rel=1e-12)
    # 0.07 from the south-east centre: 0.07^-400 was inf
    assert ours["idw"][2, 2] == pytest.approx(60.0, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_ordinary_idw_powers_keep_their_values(seed: int) -> None:
    """The rescaled sums give what 1 / d^power gave for the usual powers (1e-12 relative)."""
    rng = np.random.default_rng(seed)
    n = 60
    x, y = rng.uniform(0, 8, n), rng.uniform(0, 6, n)
    v = rng.normal(300.0, 5.0, n)
    g = PdalGrid.covering(0.0, 0.0, 8.0, 6.0, 1.0)
    for power in (1.0, 2.0, 0.5, 3.0):
        ours = grid_stats(x, y, v, g, ("idw",), radius=2.0, power=power)["idw"]
        near = {}
        for r, c in itertools.product(range(g.height), range(g.width)):
            d = np.hypot(x - (c + 0.5), y - (g.height - 1 - r + 0.5))
            close = d < 2.0
            if close.any():
                near[r, c] = (v[close] / d[close] ** power).sum() / (1 / d[close] ** power).sum()
        assert len(near) == np.isfinite(ours).sum()
        for (r, c), want in near.items():
            assert ours[r, c] == pytest.approx(want, rel=1e-12)


def test_a_huge_radius_is_refused_in_few_digits() -> None:
    """Found from outside: radius 1e308 was refused with a 300-digit number of cells."""
    x, y, v = np.array([0.5, 1.5]), np.array([0.5, 1.5]), np.array([1.0, 2.0])
    g = PdalGrid(0.0, 0.0, 1.0, 2, 2)
    for radius in (1e308, 1e20):
        with pytest.raises(BadInputError) as err:
            grid_stats(x, y, v, g, ("min",), radius=radius)
        assert len(err.value.message) < 160, err.value.message
        assert "a radius of 1e+" in err.value.message
    # a radius within the visits' limit but 40 km over a 2 x 2 grid: the loops keep to the
    # grid (they had walked 80,001² cells per point, minutes)
    out = grid_stats(x, y, v, g, ("min", "count"), radius=40_000.0)
    assert np.array_equal(out["count"], np.full((2, 2), 2.0))
    assert np.array_equal(out["min"], np.full((2, 2), 1.0))


@pytest.mark.parametrize(
    ("gdalopts", "message"),
    [
        ("count=1", "gdalopts 'count' is not a GDAL creation option but the writer's own "
         "setting: give output_type instead"),
        ("dtype=uint8", "gdalopts 'dtype' is not a GDAL creation option but the writer's own "
         "setting: give data_type instead"),
        ("nodata=abc", "give nodata instead"),
        ("crs=EPSG:999999", "give override_srs or default_srs instead"),
        ("transform=foo", "give resolution with bounds or origin_x/origin_y instead"),
        ("width=100000", "give width or bounds instead"),
        ("HEIGHT=3", "gdalopts 'HEIGHT' is not"),
        ("COMPRESS=DEFLATE,driver=PNG", "give gdaldriver instead"),
        (["TILED=YES", "mode=r"], "gdalopts 'mode' is not a GDAL creation option but the "
         "writer's own setting"),
        ("PREDICTOR=3", "gdalopts PREDICTOR=3: GDAL cannot write int16 bands with them: "
         "PREDICTOR=3 is only supported with Float32 or Float64"),
        ("COMPRESS=JPEG", "gdalopts COMPRESS=JPEG: GDAL cannot write int16 bands with them"),
    ],
)  # fmt: skip
def test_gdalopts_are_creation_options_only(tmp_path: Path, gdalopts: object, message: str) -> None:
    """Found from outside: gdalopts were merged over the writer's own settings (driver, count,
    dtype, nodata, crs, transform, width…): internal errors, "disk full?", a file read back
    different. In PDAL they are GDAL's creation options; the others are refused, naming the
    option to give instead, when the pipeline is checked (nothing is computed or written)."""
    src = tmp_path / "cloud.las"
    _cloud_file(src, n=200)
    out = tmp_path / "w.tif"
    writer = {
        "type": "writers.gdal",
        "filename": str(out),
        "output_type": "min",
        "data_type": "int16",
        "gdalopts": gdalopts,
    }
    with pytest.raises(BadInputError) as err:
        pipeline.parse([str(src), writer])
    assert message in str(err.value)
    assert not out.exists()
    if "cannot write" in message:
        return
    from lidar.products import write_pdal_grid
    from lidar.stages import GdalWriterOptions

    opts = GdalWriterOptions(filename=str(out), output_type="min", gdalopts=gdalopts)  # type: ignore[arg-type]
    with pytest.raises(BadInputError) as err:  # the writer itself refuses them too
        write_pdal_grid(read_cloud(src), opts)
    assert message in str(err.value)
    assert not out.exists()


@pytest.mark.parametrize("nodata", [1e39, 1e308, -1e300, 3.4028236e38])
def test_a_nodata_beyond_float32_is_refused(nodata: float) -> None:
    """Found from outside: nodata 1e308 with data_type float32 was an internal error (rasterio's
    range check) after the gridding."""
    writer = {
        "type": "writers.gdal",
        "filename": "w.tif",
        "output_type": "min",
        "data_type": "float32",
        "nodata": nodata,
    }
    with pytest.raises(BadInputError) as err:
        pipeline.parse(["in.las", writer])
    assert f"nodata {nodata:g} does not fit data_type float32" in str(err.value)


def test_float32s_least_value_is_a_nodata(tmp_path: Path) -> None:
    """-3.4028235e38 (GDAL's print of float32's least value, a common nodata) is float32's: the
    file holds it."""
    src = tmp_path / "cloud.las"
    _cloud_file(src, n=200)
    writer = {
        "type": "writers.gdal",
        "filename": str(tmp_path / "w.tif"),
        "output_type": "min",
        "data_type": "float32",
        "nodata": -3.4028235e38,
        "resolution": 0.5,
    }
    pipeline.run(pipeline.parse([str(src), writer]))
    with rasterio.open(tmp_path / "w.tif") as f:
        assert f.nodata == float(np.finfo(np.float32).min)
        assert (f.read(1) == np.finfo(np.float32).min).any()


def test_true_is_no_resolution() -> None:
    """A JSON true where writers.gdal takes a number was taken as 1."""
    for key in ("resolution", "radius", "power", "window_size", "nodata"):
        with pytest.raises(BadInputError, match=f"option '{key}' has the wrong type"):
            pipeline.parse(["in.las", {"type": "writers.gdal", "filename": "w.tif", key: True}])
