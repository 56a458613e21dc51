"""Planning in the GUI with the real planner, validator and file formats."""

from __future__ import annotations

import os
from dataclasses import replace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt5.QtWidgets import QDialogButtonBox

from dronekit_plzen.i18n import set_language
from gui.mainwindow import MainWindow
from gui.plan_widgets import OverrideDialog
from missions.formats import load_mission
from missions.zones import sample_zones_path

REPO = Path(__file__).resolve().parents[2]
#: README screenshots are refreshed only on request (DKP_DOCS_SCREENSHOTS=1); a plain test run
#: writes them to its temporary folder and leaves the clone as it was
DOCS_IMG = REPO / "docs" / "img"
SAR_AREA = REPO / "dronekit_plzen" / "demo" / "data" / "sar_area_bolevec.geojson"


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    set_language("en")
    win = MainWindow(tmp_path / "flights.sqlite")
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    with qtbot.waitSignal(win.plan_panel.areaLoaded, timeout=20_000):
        win.plan_panel.load_area(SAR_AREA)
    with qtbot.waitSignal(win.plan_panel.zonesLoaded, timeout=20_000):
        win.plan_panel.load_zones(sample_zones_path("geojson"))
    yield win


def _select(combo, data: str) -> None:  # type: ignore[no-untyped-def]
    idx = combo.findData(data)
    assert idx >= 0, data
    combo.setCurrentIndex(idx)


def _metrics_table(panel) -> dict[str, str]:  # type: ignore[no-untyped-def]
    t = panel.metrics
    return {t.item(r, 0).text(): t.item(r, 1).text() for r in range(t.rowCount())}


def _plan(qtbot, panel):  # type: ignore[no-untyped-def]
    """Press Plan; wait for the result or fail with the error the panel reported."""
    assert panel.plan_button.isEnabled()
    views: list[object] = []
    errors: list[str] = []
    panel.planReady.connect(views.append)
    panel.statusMessage.connect(lambda m: errors.append(m) if m.startswith("Error") else None)
    panel.plan_button.click()
    qtbot.waitUntil(lambda: bool(views or errors), timeout=120_000)
    assert not errors, errors
    return views[0]


def _plan_too_high(qtbot, panel):  # type: ignore[no-untyped-def]
    """A creeping line at 150 m, above the EU open category's 120 m: a plan with findings."""
    _select(panel.pattern, "creeping-line")
    _select(panel.camera, "mavic3t-thermal")
    _select(panel.spacing_mode, "spacing")
    panel.spacing_m.setValue(60.0)
    panel.alt_m.setValue(150.0)
    return _plan(qtbot, panel)


def test_survey_plan_drawn_with_metrics_validated_and_exported(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    panel = window.plan_panel
    _select(panel.pattern, "survey")
    _select(panel.camera, "mavic3t-thermal")
    panel.alt_m.setValue(80.0)
    panel.side_overlap.setValue(30.0)
    panel.front_overlap.setValue(30.0)
    view = _plan(qtbot, panel)
    # drawn: one path for the one drone, following the mission's waypoints, footprints, home
    paths = window.map.layer_items("paths")
    assert len(paths) == 1
    assert paths[0].path().elementCount() == len(view.paths[0]) >= 10
    assert len(window.map.layer_items("footprints")) == 1
    assert len(window.map.layer_items("homes")) == 1
    # every planned vertex is inside (or on) the area's bounds
    lons = [p[0] for p in view.paths[0]]
    lats = [p[1] for p in view.paths[0]]
    assert min(lons) > 13.386 and max(lons) < 13.4115
    assert min(lats) > 49.7935 and max(lats) < 49.8085
    # metrics shown as the planner computed them
    m = view.metrics
    table = _metrics_table(panel)
    assert table["Path length"] == f"{m['path_length_m']:.0f} m"
    assert table["Photos"] == str(m["photo_count"])
    assert table["GSD"] == f"{m['gsd_cm']:.2f} cm/px"
    assert table["Coverage"] == f"{m['coverage_pct']:.1f} %"
    assert m["coverage_pct"] >= 99.5
    s = round(m["flight_time_s"])
    assert table["Flight time"] == f"{s // 60} min {s % 60:02d} s"
    assert int(table["Sorties"]) >= 1
    # validation ran against the sample zones and the 120 m rule: 80 m over Bolevec is fine
    assert view.validated and view.violations == []
    assert panel.validation_label.text() == "Validation passed"
    assert window.statusBar().currentMessage() == "Plan ready; validation passed."
    assert not panel.override_button.isEnabled()
    # export in QGC .plan and read back with the file-format reader: one file per sortie
    # (one battery each), each validated with the vehicle's endurance
    target = tmp_path / "bolevec.plan"
    with qtbot.waitSignal(panel.statusMessage, timeout=20_000) as done:
        panel.export(target, "plan")
    assert "Exported" in done.args[0]
    sorties = view.sorties[0]
    assert len(sorties) == int(table["Sorties"])
    files = (
        [target]
        if len(sorties) == 1
        else [tmp_path / f"bolevec_s{k + 1}.plan" for k in range(len(sorties))]
    )
    for path, sortie in zip(files, sorties, strict=True):
        back = load_mission(path)
        assert len(back.items) == len(sortie.items)
        assert back.metadata["validation"]["ok"] is True
        assert "endurance" in back.metadata["validation"]["checked"]


def test_unsafe_plan_needs_explicit_override_with_reason(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    panel = window.plan_panel
    view = _plan_too_high(qtbot, panel)
    assert view.validated and view.violations
    assert any("agl" in v.rule.lower() for v in view.violations)
    assert panel.validation_label.text().startswith("Validation FAILED")
    assert "FAILED validation" in window.statusBar().currentMessage()
    assert panel.violations.count() == len(view.violations)
    # violation markers on the map; clicking a finding centres the map on it
    located = [v for v in view.violations if v.lon is not None]
    assert len(window.map.layer_items("violations")) >= len(located) > 0
    row = next(i for i, v in enumerate(view.violations) if v.lon is not None)
    with qtbot.waitSignal(panel.centreRequested) as centred:
        panel.violations.itemClicked.emit(panel.violations.item(row))
    assert window.map.metres_per_pixel() <= 2.0  # zoomed in on the finding
    lon, lat = window.map.view_center_lonlat()
    assert lon == pytest.approx(centred.args[0], abs=2e-4)
    assert lat == pytest.approx(centred.args[1], abs=2e-4)
    # export is refused while unsafe
    target = tmp_path / "unsafe.plan"
    with qtbot.waitSignal(panel.statusMessage) as refused:
        panel.export(target, "plan")
    assert "refused" in refused.args[0]
    assert not target.exists()
    # the override dialog needs both the confirmation and a reason
    assert panel.override_button.isEnabled()
    dlg = OverrideDialog(view.violations)
    qtbot.addWidget(dlg)
    ok = dlg.buttons.button(QDialogButtonBox.Ok)
    assert not ok.isEnabled()
    dlg.reason.setPlainText("HZS commander asked for 150 m to clear the smoke")
    assert not ok.isEnabled()
    dlg.confirm.setChecked(True)
    assert ok.isEnabled()
    panel.apply_override(dlg.reason_text())
    with qtbot.waitSignal(panel.statusMessage, timeout=20_000) as done:
        panel.export(target, "plan")
    assert "Exported" in done.args[0]
    n = len(view.sorties[0])
    first = target if n == 1 else tmp_path / "unsafe_s1.plan"
    meta = load_mission(first).metadata
    assert meta["validation"]["ok"] is False
    assert meta["safety_override"]["reason"] == "HZS commander asked for 150 m to clear the smoke"
    assert meta["safety_override"]["violations"]
    # the override is a clearance for every unsafe sortie, logged in the fly panel too
    assert all(s.overridden for s in window.fly_panel.sorties[0])
    log = window.fly_panel.log.lines()
    assert any("SAFETY OVERRIDE" in line and "clear the smoke" in line for line in log)


def test_expanding_square_from_a_datum_picked_on_the_map(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow
) -> None:
    panel = window.plan_panel
    _select(panel.pattern, "expanding-square")
    _select(panel.camera, "mavic3t-thermal")
    _select(panel.spacing_mode, "spacing")
    panel.spacing_m.setValue(50.0)
    panel.radius_m.setValue(300.0)
    panel.alt_m.setValue(60.0)
    panel.start_picking("datum")
    window.map.clicked.emit(13.3990, 49.8010)
    assert panel.datum == (13.3990, 49.8010)
    assert len(window.map.layer_items("draft")) >= 1
    view = _plan(qtbot, panel)
    # the first search leg starts at the datum; legs S, S, 2S, 2S, …
    path = view.paths[0]
    assert any(abs(lon - 13.3990) < 1e-5 and abs(lat - 49.8010) < 1e-5 for lon, lat in path)
    assert view.metrics["spacing_m"] == pytest.approx(50.0)
    assert len(window.map.layer_items("paths")) == 1


def test_three_drones_split_the_area_each_in_its_colour(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow
) -> None:
    from gui.mapcanvas import drone_colour

    panel = window.plan_panel
    _select(panel.pattern, "survey")
    _select(panel.camera, "mavic3t-thermal")
    panel.alt_m.setValue(80.0)
    panel.side_overlap.setValue(30.0)
    panel.front_overlap.setValue(30.0)
    panel.drones.setValue(3)
    view = _plan(qtbot, panel)
    assert len(view.missions) == 3 and len(view.paths) == 3
    items = window.map.layer_items("paths")
    assert [it.pen().color().name() for it in items] == [drone_colour(i).name() for i in range(3)]
    parts = [r.metrics for r in view.raw]
    m = view.metrics
    # fleet figures: lengths and photos add up, the time is the longest flight
    assert m["path_length_m"] == pytest.approx(sum(p.path_length_m for p in parts))
    assert m["photo_count"] == sum(p.photo_count for p in parts)
    assert m["flight_time_s"] == pytest.approx(max(p.flight_time_s for p in parts))
    assert m["area_m2"] == pytest.approx(sum(p.area_m2 for p in parts))
    assert m["coverage_pct"] >= 99.0
    assert _metrics_table(panel)["Drones"] == "3"
    # the fly panel got the three missions, in order
    assert window.fly_panel.missions == view.missions


def test_export_names_and_fleet_metrics() -> None:
    from gui.backend import export_paths, fleet_metrics

    assert export_paths(Path("/x/m.plan"), "plan", 1) == [Path("/x/m.plan")]
    assert export_paths(Path("/x/m"), "wpml", 2) == [
        Path("/x/m_d1_dji.kmz"),
        Path("/x/m_d2_dji.kmz"),
    ]
    parts = [
        {
            "path_length_m": 1000.0,
            "flight_time_s": 300.0,
            "photo_count": 10,
            "area_m2": 1e5,
            "coverage_pct": 100.0,
            "pod": 0.8,
            "alt_m": 60.0,
            "turns": 4,
            "sorties": 1,
        },
        {
            "path_length_m": 3000.0,
            "flight_time_s": 900.0,
            "photo_count": 30,
            "area_m2": 3e5,
            "coverage_pct": 96.0,
            "pod": 0.6,
            "alt_m": 60.0,
            "turns": 8,
            "sorties": 2,
        },
    ]
    m = fleet_metrics(parts)
    assert m["path_length_m"] == 4000.0 and m["photo_count"] == 40 and m["sorties"] == 3
    assert m["flight_time_s"] == 900.0  # the drones fly at once: the longest flight
    assert m["coverage_pct"] == pytest.approx(97.0)  # weighted by area
    assert m["pod"] == pytest.approx(0.65)
    assert m["alt_m"] == 60.0


def test_open_a_qgc_plan_file_to_fly(qtbot, window: MainWindow, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    path = shared_data / "missions" / "qgc_ArduPilotSITL-ArduCopter.plan"
    expected = load_mission(path)
    views: list[object] = []
    window.plan_panel.planReady.connect(views.append)
    window.plan_panel.open_mission(path)
    qtbot.waitUntil(lambda: bool(views), timeout=60_000)
    view = views[0]
    n = len(expected.waypoints_lonlat_alt())
    assert len(view.paths[0]) == n >= 2  # type: ignore[attr-defined]
    assert window.map.layer_items("paths")[0].path().elementCount() == n
    # a QGroundControl file does not say how it was planned: the form keeps its values, and
    # says it is for a new plan
    assert window.plan_panel.mission_label.text() == (
        f"{path.name} (planned elsewhere: the form is for a new plan)"
    )
    assert view.validated  # type: ignore[attr-defined]
    assert [it.command for it in window.fly_panel.missions[0].items] == [
        it.command for it in expected.items
    ]
    assert "Path length" in _metrics_table(window.plan_panel)


def test_an_opened_file_shows_how_it_was_planned(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, shared_data: Path, tmp_path: Path
) -> None:
    """The toolkit's own files say how they were planned: the form shows it (it had kept its
    own 60 m beside a file flown at 85 m, and its own camera)."""
    from missions.formats import save_mission

    mission = load_mission(shared_data / "missions" / "qgc_ArduPilotSITL-ArduCopter.plan")
    mission.metadata.update(
        pattern="expanding-square",
        camera="mavic3t-thermal",
        vehicle="mavic3t",
        alt_m=85.0,
        target="person",
    )
    path = save_mission(mission, tmp_path / "ours.plan")
    panel = window.plan_panel
    assert panel.pattern.currentData() == "survey" and panel.alt_m.value() == 60.0
    views: list[object] = []
    panel.planReady.connect(views.append)
    panel.open_mission(path)
    qtbot.waitUntil(lambda: bool(views), timeout=60_000)
    assert panel.mission_label.text() == "ours.plan"
    assert panel.pattern.currentData() == "expanding-square"
    assert panel.camera.currentData() == "mavic3t-thermal"
    assert panel.vehicle.currentData() == "mavic3t"
    assert panel.by_alt.isChecked() and panel.alt_m.value() == 85.0
    assert panel.plan_view is views[0]  # the file's plan is shown, not a new one


def test_backend_gsd_and_pod_requests_reach_the_planner() -> None:
    from gui import backend
    from gui.models import PlanRequest
    from missions.camera import get_camera

    area, _geom = backend.load_area(SAR_AREA)
    by_gsd = backend.plan(
        PlanRequest(
            pattern="survey",
            area=area,
            camera="mavic3e-wide",
            gsd_cm=3.0,
            side_overlap_pct=60.0,
            front_overlap_pct=70.0,
        )
    )
    assert by_gsd.metrics["gsd_cm"] == pytest.approx(3.0, rel=1e-3)
    assert by_gsd.metrics["alt_m"] == pytest.approx(get_camera("mavic3e-wide").alt_for_gsd_m(3.0))
    by_pod = backend.plan(
        PlanRequest(
            pattern="creeping-line",
            area=area,
            camera="mavic3t-thermal",
            alt_m=60.0,
            pod=0.8,
            target="person",
        )
    )
    assert by_pod.metrics["pod"] == pytest.approx(0.8, abs=0.01)
    # an unknown pattern and a corridor without a centreline are clear errors
    with pytest.raises(ValueError, match="unknown pattern"):
        backend.plan(PlanRequest(pattern="zigzag", area=area))
    with pytest.raises(ValueError, match="centreline"):
        backend.plan(PlanRequest(pattern="corridor", area=area, camera="mavic3e-wide", alt_m=50))


def test_corridor_along_a_centreline_drawn_on_the_map(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow
) -> None:
    panel = window.plan_panel
    _select(panel.pattern, "corridor")
    _select(panel.camera, "mavic3e-wide")
    panel.alt_m.setValue(60.0)
    panel.width_m.setValue(80.0)
    assert not panel.plan_button.isEnabled()  # no centreline yet
    panel.line_button.click()
    assert panel.picking == "line"
    line = [(13.380, 49.790), (13.390, 49.792), (13.400, 49.791)]
    for lon, lat in line:
        window.map.clicked.emit(lon, lat)
    assert panel.line_label.text() == "3 points"
    panel.line_button.click()  # finish
    assert panel.picking is None and panel.polyline == line
    assert len(window.map.layer_items("draft")) >= 1
    view = _plan(qtbot, panel)
    # the flight lines run along the centreline, within the corridor's half width (+ turns)
    from shapely.geometry import LineString, Point

    from dronekit_plzen.geo import lonlat_to_utm

    e, n = lonlat_to_utm([p[0] for p in line], [p[1] for p in line], 32633)
    axis = LineString(list(zip(e, n)))
    pe, pn = lonlat_to_utm([p[0] for p in view.paths[0]], [p[1] for p in view.paths[0]], 32633)
    far = max(axis.distance(Point(a, b)) for a, b in zip(pe, pn))
    assert far < 80.0
    assert view.metrics["path_length_m"] > axis.length


def test_probability_search_around_a_last_known_position(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    """The Plan tab plans a probability search as ``plan poa`` does: the POA map of the missing
    person's category around the LKP shown as a heat layer, one path per drone from the launch
    point within its length, every sortie through the guard, the map exported with the plans."""
    import rasterio

    panel = window.plan_panel
    _select(panel.pattern, "poa")
    _select(panel.camera, "mavic3t-thermal")
    panel.alt_m.setValue(50.0)
    panel.drones.setValue(2)
    panel.budget_km.setValue(3.0)
    assert panel.drones.isEnabled() and panel.subject.isEnabled()
    assert not panel.radius_m.isEnabled()  # the map reaches the category's 95 % distance
    assert panel.datum_button.text() == "Pick last known position on map"
    assert not panel.plan_button.isEnabled()  # a loaded area is no LKP
    panel.start_picking("datum")
    window.map.clicked.emit(13.3990, 49.8010)
    panel.start_picking("launch")
    window.map.clicked.emit(13.4000, 49.8000)
    marks = [i.toolTip() for i in window.map.layer_items("draft")]
    assert "last known position" in marks and "datum" not in marks
    # the category is the pilot's choice, never a default
    assert panel.subject.currentData() is None
    with qtbot.waitSignal(panel.statusMessage, timeout=10_000) as msg:
        panel.plan_button.click()
    assert msg.args[0] == "Pick the missing person's category first." and not panel.planning
    _select(panel.subject, "child-4-6")
    _select(panel.terrain, "urban")  # a child lost in town is found nearer: 95 % within 3.4 km
    view = _plan(qtbot, panel)
    assert len(view.paths) == 2 and view.validated and view.violations == []
    launch = (13.4000, 49.8000)
    for path in view.paths:
        assert path[0] == pytest.approx(launch, abs=1e-6)
    for r in view.raw:
        assert r.metrics.search_length_m <= 3000.0 + 1e-6
    table = _metrics_table(panel)
    covered = float(table["Probability covered"].rstrip(" %"))
    assert 0.0 < covered < 100.0
    assert covered == pytest.approx(100.0 * view.metrics["probability_covered"], abs=0.06)
    assert "Expected time to detection" in table and "Photos" not in table
    # the map under the paths, as a heat layer
    name = "poa_child-4-6.tif"
    assert name in window.map.rasters and window.map.rasters[name][1].kind == "heat"
    with rasterio.open(view.poa_path) as src:
        assert float(src.read(1).sum()) == pytest.approx(1.0, abs=1e-6)
        assert src.width * src.res[0] / 2 == pytest.approx(3400.0, abs=60.0)
    # the README's picture: the form's search fields in view, the map over the paths
    scroll = panel.parentWidget()
    while scroll is not None and not hasattr(scroll, "ensureWidgetVisible"):
        scroll = scroll.parentWidget()
    if scroll is not None:
        scroll.ensureWidgetVisible(panel.budget_km)
    window.map.focus_on(13.3990, 49.8010, max_mpp=3.0)
    qtbot.wait(300)
    shots = DOCS_IMG if os.environ.get("DKP_DOCS_SCREENSHOTS") == "1" else tmp_path
    assert window.grab().save(str(shots / "gui-probability-search.png"))
    # exported: each drone's sorties and the map beside them
    target = tmp_path / "search.plan"
    with qtbot.waitSignal(panel.statusMessage, timeout=20_000) as done:
        panel.export(target, "plan")
    assert "Exported" in done.args[0]
    files = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("search"))
    assert "search_poa.tif" in files
    plans = [f for f in files if f.endswith(".plan")]
    assert len(plans) == sum(len(row) for row in view.sorties)
    for f in plans:
        back = load_mission(tmp_path / f)
        assert back.metadata["validation"]["ok"] is True
        assert back.metadata["pattern"] == "poa"
        assert back.metadata["poa_map"] == "search_poa.tif"  # beside it, not the window's copy


def _cover_file(path: Path, lkp: tuple[float, float], features: list[dict]) -> Path:
    """A land-cover GeoJSON in lon/lat, coordinates in metres east/north of ``lkp``."""
    import json
    import math

    lon0, lat0 = lkp
    k_lat = 1.0 / 111_320.0
    k_lon = k_lat / math.cos(math.radians(lat0))

    def ll(coords: list) -> list:
        if coords and isinstance(coords[0], (int, float)):
            return [lon0 + coords[0] * k_lon, lat0 + coords[1] * k_lat]
        return [ll(c) for c in coords]

    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": f["properties"],
                "geometry": {"type": f["type"], "coordinates": ll(f["coordinates"])},
            }
            for f in features
        ],
    }
    path.write_text(json.dumps(doc))
    return path


def test_a_probability_search_follows_the_land_cover(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    """The land cover of ``plan poa-map --features`` in the Plan tab: a path draws the
    probability to it, a lake has none; drawn on the map; a refused file leaves the one loaded
    before; without it the map is the rings alone. (The GUI had planned the rings alone.)"""
    import numpy as np
    import rasterio
    from pyproj import Transformer

    lkp = (13.3990, 49.8010)
    lake = [[[400, -200], [800, -200], [800, 200], [400, 200], [400, -200]]]
    cover = _cover_file(
        tmp_path / "cover.geojson",
        lkp,
        [
            {
                "type": "LineString",
                "coordinates": [[0, 0], [0, 2500]],
                "properties": {"kind": "path"},
            },
            {"type": "Polygon", "coordinates": lake, "properties": {"natural": "water"}},
            {"type": "Point", "coordinates": [10, 10], "properties": {"amenity": "bench"}},
        ],
    )
    panel = window.plan_panel
    assert not panel.features_button.isEnabled()  # a survey has no land cover
    _select(panel.pattern, "poa")
    assert panel.features_button.isEnabled() and not panel.features_clear.isEnabled()
    assert panel.features_label.text() == "none: by distance alone"
    with qtbot.waitSignal(panel.featuresLoaded, timeout=20_000):
        panel.load_features(cover)
    assert panel.features_label.text() == "cover.geojson: paths 1, water 1"  # the bench: no kind
    assert panel.features_clear.isEnabled()
    drawn = {i.data(0): i.toolTip() for i in window.map.layer_items("landcover")}
    assert drawn == {"path": "paths", "water": "water"}
    # a refused file: one line naming it, the land cover loaded before stays
    for bad, why in (
        (tmp_path / "broken.geojson", "cannot read features"),
        (
            _cover_file(
                tmp_path / "benches.geojson",
                lkp,
                [{"type": "Point", "coordinates": [0, 0], "properties": {"amenity": "bench"}}],
            ),
            "no land-cover feature of a known kind",
        ),
    ):
        if bad.name == "broken.geojson":
            bad.write_text('{"type": "FeatureCollection", "features": [')
        with qtbot.waitSignal(panel.statusMessage, timeout=20_000) as msg:
            panel.load_features(bad)
        assert msg.args[0].startswith("Error: ") and bad.name in msg.args[0], msg.args[0]
        assert why in msg.args[0], msg.args[0]
        assert panel.features_path == cover
    _select(panel.camera, "mavic3t-thermal")
    panel.alt_m.setValue(50.0)
    panel.budget_km.setValue(3.0)
    _select(panel.subject, "child-4-6")
    _select(panel.terrain, "urban")
    panel.start_picking("datum")
    window.map.clicked.emit(*lkp)
    view = _plan(qtbot, panel)
    assert view.validated and view.violations == []

    def cells(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probabilities, east, north of each cell's centre from the LKP in metres)"""
        with rasterio.open(path) as src:
            prob, t = src.read(1), src.transform
            x0, y0 = Transformer.from_crs(4326, src.crs, always_xy=True).transform(*lkp)
        rows, cols = np.indices(prob.shape)
        return prob, t.c + (cols + 0.5) * t.a - x0, t.f + (rows + 0.5) * t.e - y0

    prob, east, north = cells(view.poa_path)
    assert float(prob.sum()) == pytest.approx(1.0, abs=1e-6)
    in_lake = (east > 430) & (east < 770) & (np.abs(north) < 170)
    assert in_lake.sum() > 50 and float(prob[in_lake].max()) == 0.0  # not searched
    on_path = (np.abs(east) <= 15) & (north > 500) & (north < 2000)  # the column the path is in
    mirror = (np.abs(east) <= 15) & (north < -500) & (north > -2000)  # the same rings, no path
    assert float(prob[on_path].mean()) > 3.0 * float(prob[mirror].mean())  # 3.3 × measured
    # taken away: the rings alone again, the layer gone
    panel.clear_features()
    assert panel.features_label.text() == "none: by distance alone"
    assert window.map.layer_items("landcover") == [] and panel.request().features is None
    bare = _plan(qtbot, panel)
    prob2, _e, _n = cells(bare.poa_path)
    assert float(prob2[in_lake].min()) > 0.0
    # loaded again, the label follows a language switch
    with qtbot.waitSignal(panel.featuresLoaded, timeout=20_000):
        panel.load_features(cover)
    window.switch_language("cs")
    try:
        assert panel.features_label.text() == "cover.geojson: cesty 1, voda 1"
    finally:
        window.switch_language("en")


def test_a_probability_search_refuses_what_it_cannot_plan(tmp_path: Path) -> None:
    """One line naming the problem, before any planning: no LKP, no category, a launch point
    outside the map (it had named a temporary file and asked whether latitude and longitude
    were swapped)."""
    from dronekit_plzen.errors import BadInputError
    from gui import backend
    from gui.models import PlanRequest

    base = PlanRequest(
        pattern="poa",
        area=None,
        camera="mavic3t-thermal",
        alt_m=50.0,
        datum=(13.3776, 49.7475),
        subject="child-4-6",
        budget_m=3000.0,
    )
    cases = [
        (replace(base, datum=None), "needs the last known position: pick it on the map"),
        (replace(base, subject=None), "pick the missing person's category"),
        (replace(base, budget_m=float("nan")), "give the path length per drone (Path per drone)"),
        (
            replace(base, subject="snowboarder"),
            "no statistics for snowboarder in terrain 'flat'; known: mountain",
        ),
        (
            replace(base, launch=(14.5, 50.1)),
            "the launch point is 89.6 km from the last known position, outside the "
            "probability map (it reaches 6.6 km): pick a launch point nearer",
        ),
    ]
    for req, message in cases:
        with pytest.raises(BadInputError) as err:
            backend.plan(req, tmp_path)
        assert message in str(err.value)


def test_the_findings_follow_a_language_switch(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow
) -> None:
    """The guard writes its findings in the language of the time: after a switch they are
    written again (the list and the map's markers), the plan and its clearances unchanged."""
    panel = window.plan_panel
    view = _plan_too_high(qtbot, panel)
    english = [panel.violations.item(i).text() for i in range(panel.violations.count())]
    assert english and view.violations

    def markers() -> list[str]:
        return sorted(i.toolTip() for i in window.map.layer_items("violations"))

    before = markers()
    try:
        with qtbot.waitSignal(panel.findingsRetranslated, timeout=1_000):
            window.switch_language("cs")  # at once: the panel never shows both languages
        czech = [panel.violations.item(i).text() for i in range(panel.violations.count())]
        assert len(czech) == len(english) and czech != english
        assert panel.validation_label.text().startswith("Kontrola")
        assert markers() != before and len(markers()) == len(before)
        new = panel.plan_view
        assert new is not view and new.missions is view.missions
        assert [v.rule for v in new.violations] == [v.rule for v in view.violations]
        assert [s.clearance for r in new.sorties for s in r] == [
            s.clearance for r in view.sorties for s in r
        ]
        assert panel.override_button.isEnabled()
    finally:
        set_language("en")
