"""SAREnv items → GeoTIFF → ``plan poa`` (issue 16's outside check), and ``plan poa`` on maps
as real ones come: NaN nodata, huge rasters, probability out of the vehicle's reach. No network
and no SAREnv data: a tiny item in SAREnv's layout is written to tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from dronekit_plzen.errors import BadInputError
from missions.poa import plan_poa
from missions.poa_cover import Footprint, covered_probability, read_prob_map
from missions.poa_map import PoaGrid

REPO = Path(__file__).resolve().parents[2]
CONVERTER = REPO / "scripts" / "sarenv_to_geotiff.py"
LON, LAT = 13.3776, 49.7475  # Plzeň: UTM 33N
N, CELL = 100, 30.0  # a 3 km master map


def _utm(lon: float, lat: float) -> tuple[float, float]:
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True).transform(lon, lat)
    return float(x), float(y)


def _item(tmp_path: Path, lfs: bool = False) -> Path:
    """A SAREnv item: ``heatmap.npy`` with row 0 at the SOUTH edge, the metadata in
    ``features.geojson`` (or, ``lfs``, a Git LFS pointer there instead)."""
    d = tmp_path / "sarenv_dataset" / "7"
    d.mkdir(parents=True)
    cx, cy = _utm(LON, LAT)
    r = N * CELL / 2
    heat = np.full((N, N), 1e-6)
    heat[75:85, 70:80] = 1.0  # north-east of the centre: rows count northwards
    np.save(d / "heatmap.npy", heat / heat.sum())
    if lfs:
        (d / "features.geojson").write_text(
            "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n"
        )
    else:
        meta = {
            "type": "FeatureCollection",
            "features": [],
            "center_point": [LON, LAT],
            "meter_per_bin": CELL,
            "bounds": [cx - r, cy - r, cx + r, cy + r],
            "climate": "temperate",
            "environment_type": "flat",
        }
        (d / "features.geojson").write_text(json.dumps(meta))
    return d


def _convert(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CONVERTER), *args], capture_output=True, text=True, timeout=120
    )


def test_poa_sarenv_item_converts_north_up_and_plan_poa_reads_it(tmp_path: Path) -> None:
    item = _item(tmp_path)
    tif = tmp_path / "poa.tif"
    r = _convert(str(item), "-o", str(tif), "--size", "master", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["epsg"] == 32633 and res["shape"] == [N, N]
    with rasterio.open(tif) as ds:
        assert ds.crs.to_epsg() == 32633
        assert ds.transform.a == pytest.approx(CELL) and ds.transform.e == pytest.approx(-CELL)
        a = ds.read(1)
        row, col = np.unravel_index(int(np.argmax(a)), a.shape)
        x, y = ds.xy(row, col)
    cx, cy = _utm(LON, LAT)
    assert x > cx + 500 and y > cy + 500  # the hot block stays north-east after the flip
    out = tmp_path / "out"
    p = subprocess.run(
        [
            *(sys.executable, "-m", "dronekit_plzen", "plan", "poa", "--poa", str(tif)),
            *("--drones", "1", "--budget-m", "4000", "--alt-m", "80", "--fov-deg", "45", "--disc"),
            *("--launch", res["launch"], "--out", str(out), "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["drones"][0]["path_length_m"] <= 4000.0
    assert rep["probability_covered"] > 0.5  # it found the block
    gj = json.loads((out / "poa.geojson").read_text())
    first = gj["features"][0]["geometry"]["coordinates"][0]
    assert first == pytest.approx([LON, LAT], abs=1e-6)  # from the launch point


def test_poa_sarenv_crop_matches_the_loader(tmp_path: Path) -> None:
    # the "small" size of flat/temperate is a 0.6 km circle: 40 × 40 cells, outside zeroed,
    # not renormalised, extent = the circle's bounds
    item = _item(tmp_path)
    tif = tmp_path / "small.tif"
    r = _convert(str(item), "-o", str(tif), "--size", "small", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["shape"] == [40, 40] and res["cell_m"] == [30.0, 30.0]
    assert 0 < res["probability_in_crop"] < 1.0
    with rasterio.open(tif) as ds:
        a = ds.read(1)
        cx, cy = _utm(LON, LAT)
        assert ds.transform.c == pytest.approx(cx - 600.0)
        assert ds.transform.f == pytest.approx(cy + 600.0)
    assert a[0, 0] == 0.0 and a[20, 20] > 0.0  # corners outside the circle


def test_poa_sarenv_lfs_pointer_needs_the_centre(tmp_path: Path) -> None:
    item = _item(tmp_path, lfs=True)
    tif = tmp_path / "poa.tif"
    r = _convert(str(item), "-o", str(tif))
    assert r.returncode == 2 and "LFS" in r.stderr and "Traceback" not in r.stderr
    r = _convert(
        *(str(item), "-o", str(tif), "--size", "master", "--center", f"{LON},{LAT}"),
        *("--climate", "temperate", "--environment", "flat", "--json"),
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["shape"] == [N, N]


def _tif(path: Path, a: np.ndarray, nodata: float | None = None) -> Path:
    prof = {
        "driver": "GTiff",
        "height": a.shape[0],
        "width": a.shape[1],
        "count": 1,
        "dtype": "float64",
        "crs": "EPSG:32633",
        "transform": from_origin(380_000.0, 5_512_000.0, 30.0, 30.0),
    }
    if nodata is not None:
        prof["nodata"] = nodata
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(a, 1)
    return path


def test_poa_map_nan_is_no_data_and_sums_are_normalised(tmp_path: Path) -> None:
    a = np.full((40, 40), 7.0)
    a[:10] = np.nan  # NaN without a declared nodata value
    g = read_prob_map(_tif(tmp_path / "nan.tif", a))
    assert g.prob.sum() == pytest.approx(1.0) and (g.prob[:10] == 0).all()
    a[:10] = np.inf
    with pytest.raises(BadInputError, match="infinite"):
        read_prob_map(_tif(tmp_path / "inf.tif", a))


def test_poa_map_huge_raster_is_block_averaged(tmp_path: Path) -> None:
    a = np.zeros((120, 120))
    a[60:90, 0:30] = 1.0
    g = read_prob_map(_tif(tmp_path / "big.tif", a), max_cells=1000)  # a "huge" 14 400 cells
    assert g.prob.size <= 1000 and g.prob.sum() == pytest.approx(1.0)
    assert g.cell_m * g.shape[1] == pytest.approx(3600.0, rel=0.02)  # same extent
    x, _y = g.centres()
    w = g.prob.sum(axis=0)
    assert (x * w).sum() == pytest.approx(380_000.0 + 450.0, abs=100.0)  # mass kept in place


def test_poa_only_searches_within_reach(tmp_path: Path) -> None:
    a = np.full((120, 120), 1e-9)
    a[:, 100:] = 1.0  # the probability 3 km east of the launch point
    g = read_prob_map(_tif(tmp_path / "far.tif", a))
    launch = (380_000.0 + 150.0, 5_512_000.0 - 1800.0)
    fp = Footprint(60.0, 60.0)
    with pytest.raises(BadInputError, match="no probability within 1000 m"):
        a2 = np.zeros_like(a)
        a2[:, 100:] = 1.0
        plan_poa(
            read_prob_map(_tif(tmp_path / "far0.tif", a2)),
            launch,
            [fp],
            [50.0],
            3000.0,
            curve_points=0,
            reach_m=1000.0,
        )
    p = plan_poa(g, launch, [fp], [50.0], 3000.0, curve_points=0, reach_m=1000.0)
    d = np.hypot(p.paths[0].xy[:, 0] - launch[0], p.paths[0].xy[:, 1] - launch[1])
    assert d.max() <= 1000.0 + 60.0


def test_poa_disc_footprint_sweeps_a_round_capped_strip() -> None:
    # SAREnv's sensor: detection within r of the point below; along a line the swept area is
    # the strip 2r wide plus two half discs, whatever the heading
    g = PoaGrid(np.full((200, 200), 1.0 / 40_000), 0.0, 2000.0, 10.0, 32633)
    fp = Footprint(60.0, 60.0, disc=True)
    for xy in (
        np.array([[500.0, 1000.0], [1500.0, 1000.0]]),
        np.array([[600.37, 600.11], [1300.29, 1250.53]]),
    ):
        length = float(np.hypot(*(xy[1] - xy[0])))
        want = (length * 60.0 + np.pi * 30.0**2) / 4e6
        assert covered_probability(g, [xy], [fp]) == pytest.approx(want, rel=0.01)
    square = covered_probability(
        g, [np.array([[500.0, 1000.0], [1500.0, 1000.0]])], [Footprint(60.0, 60.0)]
    )
    assert square > covered_probability(g, [np.array([[500.0, 1000.0], [1500.0, 1000.0]])], [fp])
