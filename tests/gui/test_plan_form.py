"""The planning form: the wheel scrolls the panel (not the spin boxes), findings are shown in
full with the checks that ran, the DEM control, and one Czech term for the area."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from dkp_testkit import zone_file
from PyQt5.QtCore import QPoint, QPointF, Qt
from PyQt5.QtGui import QWheelEvent
from PyQt5.QtWidgets import QAction, QApplication, QScrollArea

from dronekit_plzen.i18n import _, set_language
from gui.mainwindow import MainWindow
from missions.zones import sample_zones_path

REPO = Path(__file__).resolve().parents[2]
SAR_AREA = REPO / "dronekit_plzen" / "demo" / "data" / "sar_area_bolevec.geojson"


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    set_language("en")
    win = MainWindow(tmp_path / "flights.sqlite")
    qtbot.addWidget(win)
    win.resize(1300, 700)  # short: the plan panel needs its scroll bar
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.fly_panel.shutdown()


def _wheel(widget, steps: int = -1) -> None:  # type: ignore[no-untyped-def]
    pos = QPointF(widget.rect().center())
    ev = QWheelEvent(
        pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(widget, ev)


def test_wheel_over_a_spin_box_scrolls_the_panel_not_the_value(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    panel = window.plan_panel
    panel.drones.setValue(3)
    scroll = next(w for w in window.findChildren(QScrollArea) if w.widget() is panel)
    bar = scroll.verticalScrollBar()
    assert bar.maximum() > 0
    before = bar.value()
    for box in (panel.drones, panel.alt_m, panel.pattern):
        assert box.focusPolicy() == Qt.StrongFocus  # the wheel alone never focuses it
    value = panel.pattern.currentIndex()
    _wheel(panel.drones)
    _wheel(panel.pattern)
    assert panel.drones.value() == 3  # was: 3 → 1 while scrolling the panel
    assert panel.pattern.currentIndex() == value
    assert bar.value() > before  # the panel scrolled instead
    # clicked into (focused), the wheel sets the value as usual
    panel.drones.setFocus()
    qtbot.waitUntil(panel.drones.hasFocus, timeout=2000)
    _wheel(panel.drones, steps=1)
    assert panel.drones.value() == 4


def test_findings_in_full_with_the_checks_run_and_the_dem_control(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    panel = window.plan_panel
    with qtbot.waitSignal(panel.areaLoaded, timeout=20_000):
        panel.load_area(SAR_AREA)
    with qtbot.waitSignal(panel.zonesLoaded, timeout=20_000):
        panel.load_zones(sample_zones_path("geojson"))
    qtbot.waitUntil(lambda: panel.camera.count() > 0, timeout=10_000)
    panel.max_distance_m = 300.0  # a short VLOS limit: findings with long messages
    with qtbot.waitSignal(panel.planReady, timeout=120_000) as blocker:
        panel.plan_button.click()
    view = blocker.args[0]
    assert view.violations
    findings = panel.validation.findings
    assert findings.wordWrap() and findings.textElideMode() == Qt.ElideNone
    first = findings.item(0)
    assert first.text() == first.toolTip()
    assert view.violations[0].message in first.text()  # the whole message, not cut
    checks = panel.validation.checks.text()
    assert checks.startswith("Checks run: ") and "VLOS distance" in checks
    assert "battery endurance" in checks and "geozones" in checks
    shot = panel.validation.grab()
    shot.save(str(tmp_path / "findings.png"))
    # the DEM control: no DEM says so; a chosen one is named and validated against
    assert "no DEM" in panel.dem_label.text()
    panel.dem_path = tmp_path / "dtm.tif"
    assert panel.dem_label.text() == "dtm.tif"
    assert panel.request().dem == tmp_path / "dtm.tif"
    panel.dem_path = None
    assert "no DEM" in panel.dem_label.text()


def test_czech_calls_the_area_oblast_everywhere() -> None:
    po = REPO / "dronekit_plzen" / "locale" / "cs" / "LC_MESSAGES" / "gui.po"
    text = po.read_text(encoding="utf-8")
    msgstrs = [ln for ln in text.splitlines() if ln.startswith("msgstr")]
    assert not [ln for ln in msgstrs if "Plocha" in ln or "plocha " in ln.lower()[:20]]
    set_language("cs")
    try:
        assert _("Area") == "Oblast"
        assert _("Load area…") == "Načíst oblast…"
        assert _("Draw area") == "Nakreslit oblast"
    finally:
        set_language("en")


def test_a_qgc_plan_far_away_is_zoomed_to_and_stays_zoomable(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, shared_data: Path
) -> None:
    """ArduPilot SITL's plan lies at Canberra (UTM 55 S): once it jumped to a 2000 km scale
    where neither the wheel nor Ctrl++ zoomed."""
    panel = window.plan_panel
    with qtbot.waitSignal(panel.planReady, timeout=60_000) as blocker:
        panel.open_mission(shared_data / "missions" / "qgc_ArduPilotSITL-ArduCopter.plan")
    view = blocker.args[0]
    lon, lat = window.map.view_center_lonlat()
    lons = [p[0] for p in view.paths[0]]
    lats = [p[1] for p in view.paths[0]]
    assert min(lons) <= lon <= max(lons) and min(lats) <= lat <= max(lats)
    before = window.map.metres_per_pixel()
    assert before < 50.0
    zoom_in = next(a for a in window.findChildren(QAction) if a.text() == "Zoom in")
    zoom_in.trigger()  # Ctrl++
    assert window.map.metres_per_pixel() == pytest.approx(before / 1.5, rel=1e-3)
    _wheel(window.map.viewport(), steps=1)
    assert window.map.metres_per_pixel() == pytest.approx(before / 1.5 / 1.25, rel=1e-3)


def _dense_area(path: Path, n: int = 12_000) -> Path:
    """A disc of ``n`` vertices (radius about 250 m) north of Bolevec: over the 10,000 the
    planner keeps as they are, so the area reader simplifies it with a warning."""
    import json
    import math

    lon0, lat0 = 13.398, 49.80
    ring = [
        [
            lon0 + 0.0035 * math.cos(2 * math.pi * k / n),
            lat0 + 0.00225 * math.sin(2 * math.pi * k / n),
        ]
        for k in range(n)
    ]
    ring.append(ring[0])
    geom = {"type": "Polygon", "coordinates": [ring]}
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": geom}))
    return path


def test_area_and_zone_warnings_are_listed_in_amber_not_hidden(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    """The CLI prints the area reader's and the validator's warnings; the GUI listed only the
    failures, so a simplified area or a conditional zone went unseen by the pilot."""
    panel = window.plan_panel
    messages: list[str] = []
    panel.statusMessage.connect(messages.append)
    with qtbot.waitSignal(panel.areaLoaded, timeout=60_000):
        panel.load_area(_dense_area(tmp_path / "dense.geojson"))
    findings = panel.validation.findings
    assert findings.count() == 1
    item = findings.item(0)
    assert item.text().startswith("Warning – area: ") and "simplified to" in item.text()
    assert item.foreground().color().name() == "#e65100"
    assert messages[-1] == "Area loaded: dense.geojson, with 1 warning (see the list)."
    with qtbot.waitSignal(panel.zonesLoaded, timeout=20_000):
        panel.load_zones(
            zone_file(tmp_path / "zones.geojson", "CONDITIONAL", identifier="CZ-TEST-COND")
        )
    qtbot.waitUntil(lambda: panel.camera.count() > 0, timeout=10_000)
    with qtbot.waitSignal(panel.planReady, timeout=120_000) as blocker:
        panel.plan_button.click()
    view = blocker.args[0]
    assert not view.violations and view.validated
    rules = [w.rule for w in view.warnings]
    assert rules[0] == "area" and any(r.endswith("zone_conditional") for r in rules)
    texts = [findings.item(i).text() for i in range(findings.count())]
    assert any("enters conditional zone" in t and t.startswith("Warning – ") for t in texts)
    assert panel.validation.label.text() == "Validation passed"
    # how it was checked without a DEM, as the CLI prints it
    checks = panel.validation.checks.text()
    assert "\nNotes: home altitude unknown: heights checked relative to home; no DEM: " in checks
    n = len(view.warnings)
    assert messages[-1] == f"Plan ready; validation passed with {n} warnings (see the list)."
    shot = panel.validation.grab()
    shot.save(str(tmp_path / "warnings.png"))
    set_language("cs")
    try:
        assert _("Warning") == "Varování"
    finally:
        set_language("en")


def _pick(combo, key: str) -> None:  # type: ignore[no-untyped-def]
    combo.setCurrentIndex(combo.findData(key))
    assert combo.currentData() == key


def test_the_fields_a_choice_sets_show_what_it_gives(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow
) -> None:
    """Found from outside: beside a thermal camera at 80 m (10.5 cm/px, tracks 20.3 m apart) the
    form showed "GSD 2.00 cm/px" and "Spacing 40.00 m", its defaults; a GSD typed while the
    altitude was chosen was ignored; the sector offered a spacing and a POD it cannot use."""
    from missions.camera import get_camera
    from missions.planner import resolve_sensor

    panel = window.plan_panel
    qtbot.waitUntil(lambda: panel.camera.count() > 0, timeout=10_000)
    cam = get_camera("mavic3t-thermal")
    _pick(panel.camera, "mavic3t-thermal")
    _pick(panel.pattern, "survey")
    panel.by_alt.setChecked(True)
    panel.alt_m.setValue(80.0)
    assert panel.alt_m.isEnabled() and not panel.gsd_cm.isEnabled()
    assert panel.gsd_cm.value() == pytest.approx(cam.gsd_cm(80.0), abs=0.006)
    _pick(panel.spacing_mode, "overlap")
    panel.side_overlap.setValue(50.0)
    assert panel.spacing_m.value() == pytest.approx(cam.line_spacing_m(80.0, 50.0), abs=0.006)
    pod_50 = resolve_sensor(cam, alt_m=80.0, side_overlap_pct=50.0, target="person").pod
    assert panel.pod.value() == pytest.approx(100.0 * pod_50, abs=0.006)
    # a person too small to be seen at 400 m: no POD (the 80 m figure is not left standing);
    # the spacing still follows the overlap
    panel.alt_m.setValue(400.0)
    assert panel.pod.text() == "—"
    assert panel.spacing_m.value() == pytest.approx(cam.line_spacing_m(400.0, 50.0), abs=0.006)
    _pick(panel.spacing_mode, "pod")  # an input again: its default, not 1 %
    assert panel.pod.text() == "80.00 %" and panel.pod.isEnabled()
    assert panel.spacing_m.text() == "—"  # no spacing sees a person from 400 m
    _pick(panel.spacing_mode, "overlap")
    panel.alt_m.setValue(80.0)
    assert panel.pod.value() == pytest.approx(100.0 * pod_50, abs=0.006)
    # the GSD chosen: the altitude shows what it gives, beyond the input range if need be
    panel.by_gsd.setChecked(True)
    assert panel.gsd_cm.isEnabled() and not panel.alt_m.isEnabled()
    panel.gsd_cm.setValue(5.0)
    assert panel.alt_m.value() == pytest.approx(cam.alt_for_gsd_m(5.0), abs=0.006)
    p1 = get_camera("p1-35mm")
    _pick(panel.camera, "p1-35mm")
    panel.gsd_cm.setValue(40.0)
    assert p1.alt_for_gsd_m(40.0) > 500.0
    assert panel.alt_m.value() == pytest.approx(p1.alt_for_gsd_m(40.0), abs=0.006)
    _pick(panel.camera, "mavic3t-thermal")
    panel.by_alt.setChecked(True)
    assert panel.alt_m.maximum() == 500.0 and panel.alt_m.value() <= 500.0
    panel.alt_m.setValue(60.0)
    # a wanted POD sets the spacing
    _pick(panel.spacing_mode, "pod")
    panel.pod.setValue(90.0)
    want = resolve_sensor(cam, alt_m=60.0, wanted_pod=0.9, target="person").spacing_m
    assert panel.spacing_m.value() == pytest.approx(want, abs=0.006)
    assert panel.pod.isEnabled() and not panel.spacing_m.isEnabled()
    # the sector has no track spacing
    _pick(panel.pattern, "sector")
    assert not any(
        w.isEnabled() for w in (panel.spacing_mode, panel.side_overlap, panel.spacing_m, panel.pod)
    )
    _pick(panel.pattern, "creeping-line")
    assert panel.spacing_mode.isEnabled() and panel.pod.isEnabled()
    # the IAMSAR searches take no photos (the camera streams): no front overlap to set
    assert not panel.front_overlap.isEnabled()
    _pick(panel.pattern, "survey")
    assert panel.front_overlap.isEnabled()


def test_the_creeping_line_flies_the_side_overlap_set(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow
) -> None:
    """The GUI's creeping line dropped the side overlap (70 % whatever was set); the plan's own
    figures are shown in the fields the pilot did not set."""
    from missions.camera import get_camera

    panel = window.plan_panel
    with qtbot.waitSignal(panel.areaLoaded, timeout=20_000):
        panel.load_area(SAR_AREA)
    qtbot.waitUntil(lambda: panel.camera.count() > 0, timeout=10_000)
    _pick(panel.camera, "mavic3t-thermal")
    _pick(panel.pattern, "creeping-line")
    _pick(panel.spacing_mode, "overlap")
    panel.alt_m.setValue(70.0)
    panel.side_overlap.setValue(40.0)
    panel.drones.setValue(2)
    panel.spacing_m.setValue(1.0)  # disabled; the plan's figure replaces it
    with qtbot.waitSignal(panel.planReady, timeout=120_000) as blocker:
        panel.plan_button.click()
    want = get_camera("mavic3t-thermal").line_spacing_m(70.0, 40.0)
    assert blocker.args[0].metrics["spacing_m"] == pytest.approx(want, abs=1e-3)
    assert panel.spacing_m.value() == pytest.approx(want, abs=0.006)
