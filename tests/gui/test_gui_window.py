"""The main window with real panels: area loading, Czech labels, screenshots, deployments."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from dkp_testkit import run_dkp
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor, QImage
from PyQt5.QtWidgets import QAbstractButton, QDockWidget, QLabel, QTabWidget

from dronekit_plzen.i18n import set_language
from gui.mainwindow import MainWindow
from missions.area import load_area

REPO = Path(__file__).resolve().parents[2]
SAR_AREA = REPO / "dronekit_plzen" / "demo" / "data" / "sar_area_bolevec.geojson"


@pytest.fixture
def english() -> Iterator[None]:
    set_language("en")
    yield
    set_language("en")


@pytest.fixture
def window(qtbot, tmp_path: Path, english: None) -> MainWindow:  # type: ignore[no-untyped-def]
    win = MainWindow(tmp_path / "flights.sqlite")
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    return win


def test_loading_an_area_draws_it_and_enables_planning(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    panel = window.plan_panel
    assert not panel.plan_button.isEnabled()
    with qtbot.waitSignal(panel.areaLoaded, timeout=20_000):
        panel.load_area(SAR_AREA)
    qtbot.waitUntil(lambda: len(window.map.layer_items("area")) == 1, timeout=5000)
    assert panel.area_label.text() == SAR_AREA.name
    assert panel.plan_button.isEnabled()
    # the drawn geometry is the reader's, projected: its area matches the planner's area in m²
    path = window.map.layer_items("area")[0].path()
    poly_area = sum(abs(_shoelace(path.toSubpathPolygons()[i])) for i in range(2))
    outer = abs(_shoelace(path.toSubpathPolygons()[0]))
    hole = abs(_shoelace(path.toSubpathPolygons()[1]))
    area = load_area(SAR_AREA)  # the map is Web Mercator: a scene m² is cos²(lat) ground m²
    k = np.cos(np.radians(area.geom_lonlat.centroid.y)) ** 2
    assert (outer - hole) * k == pytest.approx(area.area_m2, rel=2e-3)
    assert poly_area > outer  # two rings drawn: the outline and the pond
    # the view was zoomed to the area: its centre is inside the area's bounds
    lon, lat = window.map.view_center_lonlat()
    assert 13.387 < lon < 13.4105 and 49.7945 < lat < 49.8075
    # the status bar says so
    assert SAR_AREA.name in window.statusBar().currentMessage()


def _shoelace(poly) -> float:  # type: ignore[no-untyped-def]
    pts = [(poly[i].x(), poly[i].y()) for i in range(poly.count())]
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]))


def test_bad_area_file_is_reported_not_raised(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bowtie.geojson"
    bad.write_text(
        '{"type": "Polygon", "coordinates": [[[13.38, 49.79], [13.40, 49.80], '
        "[13.40, 49.79], [13.38, 49.80], [13.38, 49.79]]]}"
    )
    # every message the panel sends the status bar (a late start-up message may replace the
    # error in the bar itself before it is looked at on a loaded machine)
    messages: list[str] = []
    window.plan_panel.statusMessage.connect(messages.append)
    with qtbot.waitSignal(window.plan_panel.statusMessage, timeout=20_000) as blocker:
        window.plan_panel.load_area(bad)
    qtbot.waitUntil(lambda: any("Error" in m for m in messages), timeout=30_000)
    message = next(m for m in messages if "Error" in m)
    assert "bowtie.geojson" in message  # names the file
    assert "intersect" in message.lower()  # and the problem
    assert window.map.layer_items("area") == []
    assert not window.plan_panel.plan_button.isEnabled()
    assert blocker.args


def test_cursor_coordinates_in_status_bar(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.map.cursorMoved.emit(13.3776, 49.7475)
    assert "WGS84 49.747500° N, 13.377600° E" in window.coords.text()
    assert "S-JTSK -8" in window.coords.text()


def _texts(win: MainWindow) -> set[str]:
    out = {b.text() for b in win.findChildren(QAbstractButton)}
    out |= {lbl.text() for lbl in win.findChildren(QLabel)}
    tabs = win.findChild(QTabWidget)
    assert tabs is not None
    out |= {tabs.tabText(i) for i in range(tabs.count())}
    return out


def test_czech_labels(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    set_language("cs")
    try:
        win = MainWindow(tmp_path / "flights.sqlite")
        qtbot.addWidget(win)
        texts = _texts(win)
        texts |= {win.plan_panel.pattern.itemText(i) for i in range(win.plan_panel.pattern.count())}
        texts |= {win.deploy_panel.organisation.itemText(i) for i in range(6)}
    finally:
        set_language("en")
    for expected in (
        "Plánování",
        "Let",
        "Nasazení",
        "Načíst oblast…",
        "Naplánovat",
        "Připojit",
        "Snímkování (pravidelné linie)",
        "Vzlétnout",
        "Návrat na místo startu",
        "Přistát",
        "Zaevidovat nasazení",
        "Policie České republiky (PČR)",
    ):
        assert expected in texts, expected
    assert "Plan" not in texts and "Connect" not in texts


def test_screenshot_cli_renders_a_non_blank_png(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``gui --offscreen-screenshot`` as a user runs it, in its own process: run in the test
    worker's process beside pytest-qt's application it once took the worker down (a native
    crash), and pytest-xdist's loadgroup scheduling then hung the whole run (its issues 1323,
    1378); a crash here is now this test's failure, with the native trace in its stderr."""
    out = tmp_path / "main.png"
    proc, _s = run_dkp(
        [
            *("--db", str(tmp_path / "f.sqlite"), "gui", "--area", str(SAR_AREA)),
            *("--pattern", "survey", "--camera", "mavic3t-thermal", "--alt-m", "100"),
            *("--offscreen-screenshot", str(out)),
        ],
        tmp_path,
        env={"PYTHONFAULTHANDLER": "1", "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 0, proc.stderr
    img = QImage(str(out))
    assert not img.isNull() and img.width() >= 800 and img.height() >= 500
    # non-blank: many distinct colours, and the area's green fill appears on the map half
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 20
    right = [
        QColor(img.pixel(x, y))
        for x in range(img.width() // 2, img.width(), 5)
        for y in range(0, img.height(), 5)
    ]
    greenish = [c for c in right if c.green() > c.red() + 6 and c.green() > c.blue() + 6]
    assert len(greenish) > 300
    # the planned path is drawn in drone 1's blue (#0072B2)
    blue = [c for c in right if c.blue() > 150 and c.red() < 60 and 80 < c.green() < 150]
    assert len(blue) > 50


def test_deployment_registered_and_flight_linked(qtbot, tmp_path: Path, english: None) -> None:  # type: ignore[no-untyped-def]
    from telemetry.store import open_store

    db = tmp_path / "flights.sqlite"
    with open_store(db) as store, store.transaction():
        vid = store.vehicle_id("px4-1", system_id=1)
        fid = store.insert_flight(
            {"vehicle_id": vid, "start_utc": "2026-11-22T10:00:00Z", "duration_s": 600.0}
        )
    win = MainWindow(db)
    qtbot.addWidget(win)
    panel = win.deploy_panel
    panel.organisation.setCurrentIndex(panel.organisation.findData("PCR"))
    panel.category.setCurrentIndex(panel.category.findData("sar"))
    panel.location.setText("Bolevec, les severne od rybniku")
    panel.notes.setPlainText("missing person, 78 years")
    # registered now, the flight of 22 November cannot be its: listed, not checked
    with qtbot.waitSignal(panel.deploymentCreated, timeout=10_000) as created:
        panel.register_button.click()
    qtbot.waitUntil(lambda: panel.flights.count() == 1 and panel.deployments.count() == 1)
    assert panel.checked_flight_ids() == []
    # registered afterwards with its true request time (local time with its zone, as Qt gives)
    from PyQt5.QtCore import QDateTime

    panel.location.setText("Bolevec, les severne od rybniku")
    panel.requested_at.setDateTime(QDateTime.fromString("2026-11-22T09:45:00Z", Qt.ISODate))
    with qtbot.waitSignal(panel.deploymentCreated, timeout=10_000) as created:
        panel.register_button.click()
    dep = created.args[0]
    assert dep.organisation == "PCR" and dep.category == "sar" and dep.status == "requested"
    assert dep.requested_at == "2026-11-22T09:45:00Z"
    qtbot.waitUntil(lambda: panel.deployments.count() == 2 and panel.current_id == dep.id)
    qtbot.waitUntil(lambda: panel.checked_flight_ids() == [fid])
    panel.link_button.click()
    qtbot.waitUntil(lambda: panel.flights.count() == 0, timeout=10_000)
    with open_store(db) as store:
        row = store.query("SELECT deployment_id FROM flights WHERE id = ?", (fid,))[0]
        status = store.query("SELECT status FROM deployments WHERE id = ?", (dep.id,))[0]
    assert row["deployment_id"] == dep.id
    assert status["status"] == "in_progress"
    assert "1 flights linked" in win.statusBar().currentMessage() or panel.deployments.count() == 2


def test_deployment_without_location_is_refused(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    panel = window.deploy_panel
    panel.location.setText("  ")
    with qtbot.waitSignal(panel.statusMessage, timeout=2000) as blocker:
        panel.register_button.click()
    assert "location" in blocker.args[0]
    assert panel.deployments.count() == 0


def _unused(_: object = Qt) -> None:
    """keeps the Qt import (enum namespace) for readers of these tests"""


def test_every_gui_string_has_a_czech_translation() -> None:
    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    po = REPO / "dronekit_plzen" / "locale" / "cs" / "LC_MESSAGES" / "gui.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale="cs")
    translated = {}
    for msg in catalog:
        if not msg.id:
            continue
        key = msg.id[0] if isinstance(msg.id, tuple | list) else msg.id
        strings = msg.string if isinstance(msg.string, tuple | list) else (msg.string,)
        assert all(strings), f"empty Czech translation for {key!r}"
        assert len(strings) in (1, 3), key  # Czech has three plural forms
        translated[key] = strings
    keywords = {"_": None, "N_": None, "ngettext": (1, 2)}
    used = set()
    for src in sorted((REPO / "gui").glob("*.py")):
        for _line, msg, _comments, _ctx in extract_from_file("python", str(src), keywords=keywords):
            used.add(msg[0] if isinstance(msg, tuple) else msg)
    assert used - set(translated) == set()
    assert len(used) > 100
    # placeholders survive translation
    for key, strings in translated.items():
        for s in strings:
            assert sorted(_fields(key)) == sorted(_fields(s)), key


def _fields(text: str) -> list[str]:
    import string

    return [f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f]


def test_sample_zones_drawn_by_restriction(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    from missions.zones import load_zones, sample_zones_path

    path = sample_zones_path("geojson")
    expected = load_zones(path)
    with qtbot.waitSignal(window.plan_panel.zonesLoaded, timeout=10_000):
        window.plan_panel.load_zones(path)
    items = window.map.layer_items("zones")
    assert len(items) == len(expected) > 0
    fills = [it.brush().color().name() for it in items]
    want = {"PROHIBITED": "#d62728", "REQ_AUTHORISATION": "#ff7f0e"}
    for zone, fill in zip(expected, fills):
        if zone.restriction in want:
            assert fill == want[zone.restriction], zone.name
    assert str(len(expected)) in window.plan_panel.zones_label.text()
    assert any("AGL" in it.toolTip() or "AMSL" in it.toolTip() for it in items)


def test_gui_without_a_display_is_a_clear_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")
    }
    proc = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", "--db", str(tmp_path / "f.sqlite"), "gui"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_gui_catalogue_is_not_overridden_by_other_packages() -> None:
    """All catalogues share one table: the GUI must show its own Czech text for its strings."""
    from babel.messages.pofile import read_po

    from dronekit_plzen.i18n import gettext

    po = REPO / "dronekit_plzen" / "locale" / "cs" / "LC_MESSAGES" / "gui.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale="cs")
    set_language("cs")
    try:
        shown = {
            m.id: gettext(m.id) for m in catalog if m.id and not isinstance(m.id, tuple | list)
        }
    finally:
        set_language("en")
    wrong = {k: v for k, v in shown.items() if v != catalog[k].string}
    assert wrong == {}


@pytest.mark.parametrize("lang", ["en", "cs"])
def test_the_window_fits_a_field_laptop_and_scrolls_rather_than_squeezes(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, lang: str
) -> None:
    """Found looking at the cockpit: the window could not be made smaller than 1708 × 983 px
    (the panels' dock forced 780 px, the layers dock 516 px, the fly panel its full height), so
    on a field laptop's 1366 × 768 screen it ran off the screen, and where it was squeezed the
    signing section's rows were drawn over each other. The panels now scroll instead; on a
    large screen the fly panel still starts wide enough for all the fleet table's columns."""
    set_language(lang)
    try:
        win = MainWindow(tmp_path / "flights.sqlite")
        qtbot.addWidget(win)
        win.resize(1920, 1040)
        win.show()
        qtbot.waitExposed(win)
        win.tabs.setCurrentIndex(1)
        table = win.fly_panel.table
        panels = win.findChild(QDockWidget, "panels")
        qtbot.waitUntil(lambda: panels.width() >= 760, timeout=3000)
        # every column of the fleet table is visible without scrolling on a large screen
        header = table.horizontalHeader()
        assert header is not None and header.length() <= table.viewport().width() + 2
        for d in win.flight_docks:  # as when vehicles are on the link
            d.show()
        qtbot.wait(50)
        hint = win.minimumSizeHint()
        assert hint.width() <= 1366 and hint.height() <= 700, hint
        win.resize(1366, 700)
        qtbot.wait(100)
        assert win.width() <= 1366 and win.height() <= 700
        # the signing section keeps its own height (its rows are not drawn over each other)
        box = win.fly_panel.connect_box.signing_box
        assert box.height() >= box.sizeHint().height() - 1
    finally:
        set_language("en")


def test_a_critical_banner_is_brought_into_view_from_another_tab(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow
) -> None:
    """The fly panel's banners are on the Fly tab: a pilot planning the next sortie on the Plan
    tab heard a critical alert's sound but did not see its text. A critical banner now brings
    the Fly tab to the front; a warning or information waits there."""
    from gui.fly_alerts import CRITICAL, INFO, WARNING

    window.tabs.setCurrentIndex(0)
    banners = window.fly_panel.banners
    banners.raise_alert("w", WARNING, "vehicle 1: battery low (25 %)")
    banners.raise_alert("i", INFO, "vehicle 1: Disarmed by landing")
    assert window.tabs.currentIndex() == 0
    banners.raise_alert("link-1", CRITICAL, "vehicle 1: link lost for 5 s")
    assert window.tabs.currentWidget() is window.fly_tab
    qtbot.waitUntil(lambda: banners.banners["link-1"].isVisible(), timeout=2000)


def test_every_reading_of_the_vehicle_in_focus_is_in_view(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """The vehicle-in-focus panel laid its twelve readings out in three columns; at its dock's
    400 px the third (altitude AMSL, heading, battery, mission) was cut off. Two columns now."""
    window.resize(1366, 768)
    for d in window.flight_docks:
        d.show()
        d.raise_()
    qtbot.wait(100)
    focus = window.cockpit.focus
    area = focus.parentWidget()
    while area is not None and not hasattr(area, "viewport"):
        area = area.parentWidget()
    assert area is not None
    right = area.viewport().mapToGlobal(area.viewport().rect().topRight()).x()
    for key, value in focus.values.items():
        edge = value.mapToGlobal(value.rect().topLeft()).x()
        assert edge + 20 < right, (key, edge, right)


def test_the_vehicle_in_focus_dock_needs_no_sideways_scrolling(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """The crew's checklist items are check boxes, whose text never wraps: the longest
    ("Airspace checked: geozones, NOTAMs, authorisation") held the panel at 503 px in its
    400 px dock, behind a sideways scroll bar. Their texts now wrap beside the box, in both
    languages, and a click on a text ticks its box."""
    from PyQt5.QtCore import QPoint, Qt

    window.resize(1366, 768)
    for d in window.flight_docks:
        d.show()
        d.raise_()
    area = window.cockpit.parentWidget()
    while area is not None and not hasattr(area, "horizontalScrollBar"):
        area = area.parentWidget()
    assert area is not None
    try:
        for lang in ("en", "cs"):
            window.switch_language(lang)
            qtbot.wait(100)
            assert area.horizontalScrollBar().maximum() == 0, lang
            assert window.cockpit.minimumSizeHint().width() <= area.viewport().width(), lang
    finally:
        window.switch_language("en")
    check = window.cockpit.checklist
    check.setEnabled(True)
    key, label = next(iter(check.box_labels.items()))
    check.boxes[key].setEnabled(True)
    label.setEnabled(True)
    was = check.boxes[key].isChecked()
    qtbot.mouseClick(label, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert check.boxes[key].isChecked() is not was


@pytest.mark.parametrize("lang", ["en", "cs"])
def test_nothing_is_cut_off_at_the_right_edge_on_a_field_laptop(qtbot, tmp_path, lang: str) -> None:  # type: ignore[no-untyped-def]
    """Panels scroll up and down, not sideways, so whatever is wider than its dock was cut
    off: in Czech at 1366 × 768 the planning panel's height row (altitude and GSD side by
    side, 585 px in a 534 px dock) lost its GSD, and the video's address, palette and button
    (396 px) did not fit the 400 px vehicle-in-focus dock. Each now fits, and an up-and-down
    panel is never narrower than its contents; the window still fits the laptop."""
    from PyQt5.QtWidgets import QScrollArea

    from dronekit_plzen.i18n import set_language
    from gui.mainwindow import MainWindow

    set_language(lang)
    win = MainWindow(tmp_path / "flights.sqlite")
    qtbot.addWidget(win)
    try:
        win.resize(1366, 768)
        win.show()
        qtbot.wait(100)
        # planning: the layer switcher (its source, "download missing tiles", the GeoTIFF
        # kind and button) had been cut off in a 215 px dock behind a sideways scroll bar
        layers = win.map_tools.layers
        area = layers.parentWidget().parentWidget()
        assert isinstance(area, QScrollArea) and area.isVisible()
        assert area.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        assert layers.minimumSizeHint().width() <= area.viewport().width()
        assert win.map.width() >= 300  # the map keeps room
        for d in win.flight_docks:
            d.show()
            d.raise_()
        qtbot.wait(100)
        assert win.minimumSizeHint().width() <= 1366
        checked = 0
        for area in win.findChildren(QScrollArea):
            inner = area.widget()
            if inner is None or not area.isVisible():
                continue
            if area.horizontalScrollBarPolicy() != Qt.ScrollBarPolicy.ScrollBarAlwaysOff:
                continue
            checked += 1
            need, have = inner.minimumSizeHint().width(), area.viewport().width()
            assert need <= have, (type(inner).__name__, need, have)
        assert checked >= 2
    finally:
        win.fly_panel.shutdown()
        win.close()
        set_language("en")


def test_an_overlay_row_keeps_its_opacity_slider_usable(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A GeoTIFF overlay's row in the Layers dock at 1366 × 768: the opacity slider is wide
    enough to drag (its name, slider and remove button on one line had squeezed it to a dot)
    and the remove button stays in view."""
    from PyQt5.QtWidgets import QPushButton, QSlider

    from tests.gui.test_gui_bad_inputs import GOOD_TIF

    window.resize(1366, 768)
    layers = window.map_tools.layers
    layers.add_raster(GOOD_TIF(tmp_path, "ortho.tif"))
    qtbot.waitUntil(lambda: "ortho.tif" in layers.rows, timeout=20_000)
    qtbot.wait(100)
    row = layers.rows["ortho.tif"]
    slider = row.findChild(QSlider)
    assert slider is not None and slider.width() >= 150, slider.width()
    remove = next(b for b in row.findChildren(QPushButton) if b.text() == "✕")
    right = remove.mapTo(layers, remove.rect().topRight()).x()
    assert right <= layers.width(), (right, layers.width())
