"""The map and the deployment, the map and the focused vehicle, on the real main window offscreen:
recorded sightings are drawn as labelled markers, and a click on a vehicle's icon focuses it."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from typing import Any

from PyQt5.QtCore import QPointF, Qt
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import QGraphicsSimpleTextItem

from gui.mainwindow import MainWindow
from gui.map.items import SIGHTING_COLOUR

PLZEN = (13.3776, 49.7475)  # lon, lat


def _labels(item: Any) -> list[str]:
    """The texts of a marker's labels (a label is a text on a box, a child of the marker)."""
    return [
        t.text()
        for box in item.childItems()
        for t in box.childItems()
        if isinstance(t, QGraphicsSimpleTextItem)
    ]


def _register(qtbot, window: MainWindow, location: str) -> int:  # type: ignore[no-untyped-def]
    dep = window.deploy_panel
    dep.location.setText(location)
    with (
        qtbot.waitSignal(dep.sightingsShown, timeout=10_000),  # selected, its (no) sightings
        qtbot.waitSignal(dep.deploymentCreated, timeout=10_000) as created,
    ):
        dep.register_button.click()
    return int(created.args[0].id)


def test_recorded_sightings_are_drawn_for_the_selected_deployment(  # type: ignore[no-untyped-def]
    qtbot, main_window: MainWindow
) -> None:
    window, dep = main_window, main_window.deploy_panel
    first = _register(qtbot, window, "Bolevec, rybníky")
    assert window.map.layer_items("sightings") == []
    # what "Guided go-to here…" does once the pilot confirmed: recorded, drawn at once
    target = (PLZEN[0] + 0.001, PLZEN[1] + 0.0005)
    with qtbot.waitSignal(dep.sightingRecorded, timeout=10_000):
        assert dep.record_sighting(target[1], target[0], 2, "osoba, červená bunda")
    qtbot.waitUntil(lambda: len(window.map.layer_items("sightings")) == 1, timeout=10_000)
    marker = window.map.layer_items("sightings")[0]
    lon, lat = window.map.projection.point_to_lonlat(marker.pos().x(), marker.pos().y())
    assert abs(lon - target[0]) < 1e-7 and abs(lat - target[1]) < 1e-7
    assert _labels(marker) == ["sighting"]
    assert "osoba, červená bunda" in marker.toolTip() and "vehicle 2" in marker.toolTip()
    # a distinct symbol: the sighting colour, drawn where the map shows it
    window.map.focus_on(*target, max_mpp=0.5)
    qtbot.wait(50)
    img = window.map.grab().toImage()
    p = window.map.mapFromScene(QPointF(marker.pos()))
    dx = 5  # beside the white centre dot, inside the diamond
    assert QColor(img.pixel(p.x() + dx, p.y())) == QColor(SIGHTING_COLOUR)
    # the label follows the language switched at run time
    window.switch_language("cs")
    qtbot.waitUntil(
        lambda: any(_labels(m) == ["nález"] for m in window.map.layer_items("sightings")),
        timeout=10_000,
    )
    window.switch_language("en")
    # another deployment selected: only its own sightings (none) are shown
    second = _register(qtbot, window, "Lochotín")
    assert second != first and dep.current_id == second
    qtbot.waitUntil(lambda: window.map.layer_items("sightings") == [], timeout=10_000)
    qtbot.wait(200)  # a late answer for the first deployment must not bring its marker back
    assert window.map.layer_items("sightings") == []


def test_a_click_on_a_vehicle_icon_focuses_it(qtbot, main_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window, canvas = main_window, main_window.map
    canvas.focus_on(*PLZEN, max_mpp=0.2)
    # vehicle 2 lies 10 m east of vehicle 1: vehicle 1's label runs over vehicle 2's arrow
    canvas.update_vehicle(1, PLZEN[0], PLZEN[1], 0.0, "1 LOITER 30 m")
    canvas.update_vehicle(2, PLZEN[0] + 0.00014, PLZEN[1], 90.0, "2 MISSION 30 m")
    label_1 = canvas._vehicles[1][1]
    arrow_2 = canvas.layer_items("vehicles")[1]
    assert label_1 in canvas.items(canvas.mapFromScene(arrow_2.pos()))
    window.set_focus(1)
    clicked: list[float] = []
    canvas.mapClicked.connect(lambda lon, _lat: clicked.append(lon))

    def click(sysid: int) -> None:
        arrow = canvas.layer_items("vehicles")[sysid - 1]
        qtbot.mouseClick(canvas.viewport(), Qt.LeftButton, pos=canvas.mapFromScene(arrow.pos()))

    with qtbot.waitSignal(canvas.vehicleClicked) as hit:
        click(2)  # the arrow wins over the other vehicle's label lying on it
    assert hit.args == [2] and window.focused == 2 and window.strip.focused == 2
    click(1)
    assert window.focused == 1
    window.set_focus(2)
    # while a go-to target is being picked, the click is the target, not a change of focus
    window.goto_pick = 2
    click(1)
    assert window.focused == 2 and window.goto_pick is None  # taken as the target (no vehicle 2)
    # a click on the bare map focuses nothing
    before = len(clicked)
    qtbot.mouseClick(canvas.viewport(), Qt.LeftButton, pos=canvas.viewport().rect().center() / 4)
    assert window.focused == 2 and len(clicked) == before + 1
