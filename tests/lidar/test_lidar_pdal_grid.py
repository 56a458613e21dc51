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
        weights = 1.0 / ds[ds > 0] ** power
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
