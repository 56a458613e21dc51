"""End to end on the Toledo subset: figures of the model and of every product.

One CLI run (the session fixture ``processed``) and checks on what it wrote: the model's
figures in report.json, the orthophoto's georeferencing and content, the DSM, the LAZ (read by
the LiDAR pipeline), the cameras GeoJSON and the HTML report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from dronekit_plzen.geo import transform
from photo.exif import read_photos

Processed = Any  # the session fixture's result (tests/photo/conftest.py)

# one worker builds the processed capture once (make test runs --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("heavy")]  # see tests/training


def _gps_utm(processed: Processed) -> np.ndarray:
    photos, _bad = read_photos(sorted(processed.images.iterdir()))
    e, n = transform([p.lon_deg for p in photos], [p.lat_deg for p in photos], 4326, 32617)
    return np.column_stack([e, n, [p.alt_m for p in photos]])


def test_model_figures(processed: Processed) -> None:
    rep = processed.report
    assert rep["engine"] == "local"
    assert rep["images_total"] == len(processed.subset)
    assert rep["images_registered"] == len(processed.subset)  # all of a well-overlapped set
    assert 0.1 < rep["mean_reprojection_error_px"] < 1.5
    g = rep["gps_residual_rms_m"]
    # Phantom 3 GPS is metre-class: the model cannot agree with it better than its noise
    assert g["horizontal"] < 2.0 and g["u"] < 3.0
    assert rep["points_sparse"] > 500
    # the focal length is held at its EXIF value (3.61 mm / 6.17 mm × 800 px)
    (cam,) = rep["cameras"]
    assert cam["focal_px"] == pytest.approx(3.61 / 6.17 * 800, rel=1e-3)
    assert abs(cam["params"][3]) < 0.05  # radial distortion small and refined
    # GSD: the flight height (~100 m above the ground of the model) over the focal length
    assert 15.0 < rep["gsd_cm"] < 35.0
    assert rep["crs"] == "EPSG:32617"
    assert set(rep["times_s"]) >= {"features", "matching", "mapping", "orthophoto"}
    # the DSM comes from CPU stereo: many more points than the sparse model
    assert rep["surface"] == "dense" and rep["dense_pairs"] >= 3
    assert rep["points_dense"] > 50 * rep["points_sparse"]
    assert any("semi-global matching" in w for w in rep["warnings"])
    # the residuals are after the final bundle adjustment with the GPS priors; the figure
    # before it is reported too. Seven photos are too few to refine a principal point.
    before = rep["gps_residual_before_final_ba_rms_m"]
    assert before["horizontal"] < 2.0
    assert rep["principal_point_shift_px"] == {"DJI_FC350_800x600_f468px": 0.0}
    # true orthophoto: almost every cell has a photo that sees it unoccluded
    assert 0.0 <= rep["orthophoto_hidden_fraction"] < 0.05
    # made at the GSD: its estimated memory fits the budget
    m = rep["orthophoto_memory"]
    assert not m["coarsened"] and m["resolution_cm"] == pytest.approx(rep["resolution_cm"], 1e-4)
    assert 0 < m["estimated_peak_mb"] <= m["budget_mb"]
    # the CLI separates the ground with the LiDAR package's SMRF: dtm.tif beside the DSM
    assert rep["dtm"]["made"] and rep["outputs"]["dtm"].endswith("dtm.tif")


def test_dtm_with_the_lidar_ground_filter(processed: Processed) -> None:
    """The LiDAR package's SMRF on the photo cloud: dtm.tif below the DSM, ground class."""
    from lidar.io import read_cloud

    out = processed.out
    info = processed.report["dtm"]
    assert info["made"] and 0.2 < info["ground_fraction"] < 0.98, info
    assert processed.report["outputs"]["dtm"] == str(out / "dtm.tif")
    with rasterio.open(out / "dtm.tif") as dt, rasterio.open(out / "dsm.tif") as ds:
        assert dt.crs.to_epsg() == 32617 and dt.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert dt.transform == ds.transform
        t, s = dt.read(1, masked=True), ds.read(1, masked=True)
    both = ~t.mask & ~s.mask
    diff = (s - t).filled(np.nan)[both]
    # the terrain is under the surface: trees and the house stand above it, open ground on it
    assert np.nanpercentile(diff, 10) > -0.5 and np.nanpercentile(diff, 95) > 3.0
    cls = np.asarray(read_cloud(out / "points.laz").dims["classification"])
    assert (cls == 2).sum() == info["ground_points"]


def test_orthophoto_georeferenced_over_the_photos(processed: Processed) -> None:
    gps = _gps_utm(processed)
    with rasterio.open(processed.out / "orthophoto.tif") as ds:
        assert ds.crs.to_epsg() == 32617
        assert ds.count == 4 and ds.dtypes[0] == "uint8"
        assert ds.profile.get("tiled") or ds.block_shapes[0][0] < ds.height
        assert ds.overviews(1), "a COG has overviews"
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        b = ds.bounds
        assert b.left < gps[:, 0].min() and b.right > gps[:, 0].max()
        assert b.bottom < gps[:, 1].min() and b.top > gps[:, 1].max()
        assert ds.res[0] == pytest.approx(processed.report["resolution_cm"] / 100.0)
        alpha = ds.read(4)
        rgb = ds.read([1, 2, 3])
        # every camera looks down at a covered pixel
        rows, cols = rasterio.transform.rowcol(ds.transform, gps[:, 0], gps[:, 1])
        assert np.all(alpha[np.asarray(rows), np.asarray(cols)] == 255)
    valid = alpha == 255
    assert valid.mean() > 0.6
    assert np.all(rgb[:, ~valid] == 0)
    # real imagery: texture everywhere, not a flat fill
    assert rgb[:, valid].std() > 20.0
    covered = valid.sum() * (processed.report["resolution_cm"] / 100.0) ** 2
    assert covered == pytest.approx(processed.report["covered_area_m2"], rel=1e-6)


def test_dsm_below_the_cameras(processed: Processed) -> None:
    gps = _gps_utm(processed)
    with rasterio.open(processed.out / "dsm.tif") as ds:
        assert ds.crs.to_epsg() == 32617
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        z = ds.read(1, masked=True)
    assert z.count() > 0.4 * z.size  # measured cells only; the rest is no-data
    height = gps[:, 2].mean() - float(np.ma.median(z))
    # trees and the house stand out of the ground by several metres
    assert float(np.percentile(z.compressed(), 99) - np.percentile(z.compressed(), 5)) > 8.0
    # focal 468 px × GSD ≈ flight height; Toledo was flown at about 100 m above the ground
    expected = processed.report["gsd_cm"] / 100.0 * 3.61 / 6.17 * 800
    assert height == pytest.approx(expected, rel=0.05)
    assert 60.0 < height < 140.0


def test_points_laz_read_by_the_lidar_pipeline(processed: Processed) -> None:
    from lidar.io import las_info, read_cloud

    info = las_info(processed.out / "points.laz")
    assert "32617" in str(info["crs"])
    cloud = read_cloud(processed.out / "points.laz")
    assert len(cloud) == processed.report["points_dense"]
    assert {"red", "green", "blue"} <= set(cloud.dims)
    assert np.ptp(cloud.dims["red"]) > 10000  # 16-bit colours from the photos
    gps = _gps_utm(processed)
    assert gps[:, 0].min() - 150 < np.median(cloud.x) < gps[:, 0].max() + 150


def test_cameras_geojson(processed: Processed) -> None:
    fc = json.loads((processed.out / "cameras.geojson").read_text())
    cams = [f for f in fc["features"] if f["properties"]["kind"] == "camera"]
    fps = [f for f in fc["features"] if f["properties"]["kind"] == "footprint"]
    assert len(cams) == len(processed.subset) == len(fps)
    gps = _gps_utm(processed)
    for f in cams:
        p = f["properties"]
        i = np.argmin(np.hypot(gps[:, 0] - p["x_m"], gps[:, 1] - p["y_m"]))
        assert np.hypot(gps[i, 0] - p["x_m"], gps[i, 1] - p["y_m"]) < 4.0
        # the height names its datum: the photos' EXIF GPS altitude, which it stays close to
        assert p["z_datum"] == "GPS altitude of the photos (EXIF)"
        assert abs(gps[i, 2] - p["z_m"]) < 5.0
        assert p["off_nadir_deg"] < 15.0  # a nadir capture
        lon, lat = f["geometry"]["coordinates"]
        assert -83.71 < lon < -83.69 and 41.54 < lat < 41.56
    ring = fps[0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5


def test_report_html(processed: Processed) -> None:
    page = (processed.out / "report.html").read_text(encoding="utf-8")
    assert "mean_reprojection_error_px" in page and "orthophoto_preview.png" in page
    assert (processed.out / "orthophoto_preview.png").stat().st_size > 10_000
    on_disk = json.loads((processed.out / "report.json").read_text())
    assert on_disk["images_registered"] == processed.report["images_registered"]
    assert on_disk["height_datum"] == "GPS altitude of the photos (EXIF)"
    # the main figures named with their units before the field-by-field table
    n = len(processed.subset)
    summary = page.split('<table class="summary">')[1].split("</table>")[0]
    for text in (
        f"<th>Photos registered</th><td>{n} of {n} (0 skipped)</td>",
        "<th>Position against GPS (RMS)</th>",
        " m horizontal, ",
        "<th>Ground sampling distance</th>",
        "<th>Coordinate system</th><td>EPSG:32617</td>",
        "<th>Heights</th><td>GPS altitude of the photos (EXIF)</td>",
    ):
        assert text in summary, (text, summary)
    assert not list(processed.out.glob(".photo-work-*")), "the work folder is removed"


def test_projected_onto_a_given_dem(processed: Processed, tmp_path: Path) -> None:
    """``--dem``: the orthophoto is projected onto the given surface (here the first run's DSM)
    instead of the photo model's; a DEM of another place is refused before any matching."""
    from photo_testkit import run_cli

    out = tmp_path / "dem_run"
    dem = processed.out / "dsm.tif"
    proc = run_cli(
        "photo", "process", str(processed.images), "-o", str(out), "--dem", str(dem),
        "--max-image-px", "800", "--features", "2048", "--no-dense", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["surface"] == "dem", rep["surface"]
    assert rep["images_registered"] == len(processed.subset)
    with rasterio.open(out / "orthophoto.tif") as o, rasterio.open(dem) as d:
        assert o.crs == d.crs
        ob, db = o.bounds, d.bounds
        # the orthophoto lies over the DEM (the same ground), not somewhere else
        assert ob.left < db.right and db.left < ob.right and ob.bottom < db.top
    # the same DEM moved 50 km east: no photo lies on it, refused after reading the metadata
    far = tmp_path / "far.tif"
    with rasterio.open(dem) as d:
        profile = d.profile
        data = d.read(1)
        t = d.transform
    profile.update(transform=rasterio.Affine(t.a, t.b, t.c + 50_000, t.d, t.e, t.f))
    with rasterio.open(far, "w", **profile) as f:
        f.write(data, 1)
    proc = run_cli("photo", "process", str(processed.images), "-o", str(tmp_path / "x"),
                   "--dem", str(far))  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "far.tif: the DEM does not cover the photographed area" in proc.stderr
    assert "matching" not in proc.stderr
