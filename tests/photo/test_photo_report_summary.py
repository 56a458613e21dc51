"""The photogrammetry report's summary: the main figures named, with units, in either language,
and nothing made up for a figure the report lacks (a NodeODM job's report has fewer)."""

from __future__ import annotations

from photo.products import HEIGHT_DATUM, summary_rows

REPORT = {
    "images_total": 57,
    "images_registered": 56,
    "images_skipped": 1,
    "mean_reprojection_error_px": 1.0224,
    "gps_residual_rms_m": {"e": 0.58, "n": 0.54, "u": 1.524, "horizontal": 0.794},
    "gsd_cm": 11.709,
    "resolution_cm": 11.709,
    "dsm_resolution_m": 0.4078,
    "surface": "dense",
    "covered_area_m2": 102107.14,
    "points_sparse": 36539,
    "points_dense": 2562742,
    "crs": "EPSG:32617",
    "height_datum": HEIGHT_DATUM,
    "times_s": {"features": 69.4, "mapping": 117.2, "orthophoto": 90.0},
}


def test_the_summary_names_each_figure_with_its_unit() -> None:
    from dronekit_plzen.i18n import set_language

    set_language("en")
    rows = dict(summary_rows(REPORT))
    assert rows["Photos registered"] == "56 of 57 (1 skipped)"
    assert rows["Mean reprojection error"] == "1.02 px"
    assert rows["Position against GPS (RMS)"] == "0.79 m horizontal, 1.52 m vertical"
    assert rows["Ground sampling distance"] == "11.7 cm/px, orthophoto 11.7 cm"
    assert rows["Area covered"] == "102 107 m² (10.21 ha)"
    assert rows["Dense points"] == "2 562 742"
    assert rows["Heights"] == HEIGHT_DATUM
    assert rows["Processing time"] == "4.6 min"
    try:
        set_language("cs")
        czech = dict(summary_rows(REPORT))
    finally:
        set_language("en")
    assert czech["Zařazené snímky"] == "56 z 57 (vynecháno 1)"
    assert czech["Výšky"] == "výška GPS ze snímků (EXIF)"


def test_a_figure_the_report_lacks_is_left_out() -> None:
    rows = dict(summary_rows({"images_total": 10, "images_registered": 10, "crs": "EPSG:5514"}))
    assert set(rows) == {"Photos registered", "Coordinate system"}
    assert summary_rows({"mean_reprojection_error_px": float("nan")}) == []
