"""Editing the plan on the map: waypoints, launch points, the area and its holes, undo/redo,
live re-validation through the guard, and the altitude profile over a DEM.

Real main window offscreen, the real planner and validator; the pilot's gestures are real mouse
events on the map. Screenshots go to the test's folder.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from PyQt5.QtCore import QEvent, QPoint, QPointF, Qt
from PyQt5.QtGui import QMouseEvent
from PyQt5.QtWidgets import QApplication
from rasterio.transform import from_origin

from dronekit_plzen.geo import lonlat_to_utm
from dronekit_plzen.i18n import set_language
from gui.mainwindow import MainWindow

REPO = Path(__file__).resolve().parents[2]
SAR_AREA = REPO / "dronekit_plzen" / "demo" / "data" / "sar_area_bolevec.geojson"


@pytest.fixture
def planned(qtbot, tmp_path: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    """The window with the Bolevec area planned as a thermal survey for two drones."""
    set_language("en")
    win = MainWindow(tmp_path / "flights.sqlite")
    qtbot.addWidget(win)
    win.resize(1500, 950)
    win.show()
    panel = win.plan_panel
    with qtbot.waitSignal(panel.areaLoaded, timeout=20_000):
        panel.load_area(SAR_AREA)
    qtbot.waitUntil(lambda: panel.camera.count() > 0, timeout=10_000)
    panel.camera.setCurrentIndex(panel.camera.findData("mavic3t-thermal"))
    panel.alt_m.setValue(100.0)
    panel.drones.setValue(2)
    with qtbot.waitSignal(panel.planReady, timeout=120_000):
        panel.plan_button.click()
    yield win
    win.fly_panel.shutdown()


def _screen(win: MainWindow, lon: float, lat: float) -> QPoint:
    return win.map.mapFromScene(QPointF(*win.map.projection.point_to_scene(lon, lat)))


def _drag(win: MainWindow, qtbot, start: QPoint, end: QPoint) -> None:  # type: ignore[no-untyped-def]
    vp = win.map.viewport()
    qtbot.mousePress(vp, Qt.LeftButton, pos=start)
    for k in range(1, 6):
        p = start + (end - start) * (k / 5)
        ev = QMouseEvent(QEvent.MouseMove, QPointF(p), Qt.NoButton, Qt.LeftButton, Qt.NoModifier)
        QApplication.sendEvent(vp, ev)
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=end)


def _edited(qtbot, win: MainWindow, action: Any) -> Any:  # type: ignore[no-untyped-def]
    """Run ``action`` and wait for the edited plan, validated again."""
    with qtbot.waitSignal(win.map_tools.editor.planEdited, timeout=30_000) as blocker:
        action()
    return blocker.args[0]


def test_drag_insert_delete_waypoints_with_undo_and_revalidation(
    qtbot, planned: MainWindow
) -> None:  # type: ignore[no-untyped-def]
    win = planned
    tools, editor = win.map_tools, win.map_tools.editor
    tools.edit_action.setChecked(True)
    # the selected mission's waypoints get handles (a survey has hundreds); pick another one
    assert {h.key[:2] for h in win.map.handles("waypoints")} == {(0, 0)}
    tools.profile.choice.setCurrentIndex(tools.profile.choice.count() - 1)
    handles = win.map.handles("waypoints")
    assert {h.key[0] for h in handles} == {1}
    lon0, lat0 = win.map.projection.point_to_lonlat(handles[3].pos().x(), handles[3].pos().y())
    win.map.focus_on(lon0, lat0, max_mpp=0.5)
    start = win.map.mapFromScene(handles[3].pos())
    key = win.map.itemAt(start).key  # the handle the pilot grabs (the topmost there)
    d, s, i = key
    before = editor.state.drones[d][s].items[i]
    # drag the waypoint 60 px east with the mouse: the plan is validated again
    view = _edited(qtbot, win, lambda: _drag(win, qtbot, start, start + QPoint(60, 0)))
    moved = editor.state.drones[d][s].items[i]
    assert moved.lon_deg > before.lon_deg + 1e-4 and moved.lat_deg == pytest.approx(
        before.lat_deg, abs=2e-5
    )
    assert view.sorties[d][s].mission.items[i].lon_deg == moved.lon_deg  # what the fly panel gets
    assert view.validated and view.sorties[d][s].report is not None
    assert "clearance" not in view.sorties[d][s].mission.metadata or view.sorties[d][s].cleared
    assert win.fly_panel is not None and win.plan_panel.plan_view is view
    # undo puts it back (and validates again), redo moves it again
    _edited(qtbot, win, tools.undo_action.trigger)
    assert editor.state.drones[d][s].items[i].lon_deg == before.lon_deg
    _edited(qtbot, win, tools.redo_action.trigger)
    assert editor.state.drones[d][s].items[i].lon_deg == moved.lon_deg
    # insert: double-click in the middle of a leg
    n_before = len(editor.state.drones[d][s].items)
    items = editor.state.drones[d][s].items
    a = items[i]
    b = next(it for it in items[i + 1 :] if it.command == 16 and it.has_position)
    mid_ll = ((a.lon_deg + b.lon_deg) / 2, (a.lat_deg + b.lat_deg) / 2)
    win.map.focus_on(*mid_ll, max_mpp=0.5)  # close enough to tell the leg from its neighbours
    mid = _screen(win, *mid_ll)
    _edited(qtbot, win, lambda: qtbot.mouseDClick(win.map.viewport(), Qt.LeftButton, pos=mid))
    assert len(editor.state.drones[d][s].items) == n_before + 1
    # delete: right-click on a waypoint handle
    h = next(h for h in win.map.handles("waypoints") if h.key == key)
    pos = win.map.mapFromScene(h.pos())
    _edited(qtbot, win, lambda: qtbot.mouseClick(win.map.viewport(), Qt.RightButton, pos=pos))
    assert len(editor.state.drones[d][s].items) == n_before
    assert editor.undo_stack.count() == 3  # move, insert, delete (the undone step was redone)


def test_a_waypoint_dragged_beyond_vlos_fails_validation_live(
    qtbot, planned: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Moving a waypoint far out breaks the VLOS limit: the guard says so at once."""
    win = planned
    win.plan_panel.max_distance_m = 2000.0
    editor = win.map_tools.editor
    win.map_tools.edit_action.setChecked(True)
    key = win.map.handles("waypoints")[2].key  # drone 1's first sortie
    d, s, i = key
    it = editor.state.drones[d][s].items[i]
    view = _edited(
        qtbot,
        win,
        lambda: win.map.handleEvent.emit("moved", "waypoints", key, it.lon_deg + 0.05, it.lat_deg),
    )
    assert any("max_distance" in v.rule for v in view.violations)
    assert not view.sorties[d][s].cleared  # no clearance: it cannot be uploaded
    assert win.plan_panel.validation_label.text().startswith("Validation FAILED")
    assert win.plan_panel.override_button.isEnabled()


def test_launch_points_per_drone_draggable_with_distinct_labels(qtbot, planned: MainWindow) -> None:  # type: ignore[no-untyped-def]
    win = planned
    editor = win.map_tools.editor
    win.map_tools.edit_action.setChecked(True)
    homes = win.map.handles("homes")
    assert [h.key for h in homes] == [0, 1]
    # both drones start at one point: their H labels are not drawn on top of each other
    labels = [it for it in win.map.layer_items("homes")]
    boxes = [c for m in labels for c in m.childItems()]
    assert [b.childItems()[0].text() for b in boxes] == ["H1", "H2"]
    assert boxes[0].pos().y() != boxes[1].pos().y()
    h2 = homes[1]
    start = win.map.mapFromScene(h2.pos())
    old = editor.state.drones[1][0].home
    view = _edited(qtbot, win, lambda: _drag(win, qtbot, start, start + QPoint(0, 40)))
    new = editor.state.drones[1][0].home
    assert new[1] < old[1] - 1e-5 and new[2] == old[2]  # moved south, same altitude
    assert editor.state.drones[0][0].home == editor.state.drones[0][0].home  # H1 stayed
    assert view.homes[0] != view.homes[1]
    take_off = [it for it in view.sorties[1][0].mission.items if it.command == 22]
    assert all(abs(it.lat_deg - new[1]) < 1e-9 for it in take_off if it.has_position)


def test_draw_area_with_hole_new_plan_and_undo(qtbot, planned: MainWindow) -> None:  # type: ignore[no-untyped-def]
    win = planned
    editor, panel = win.map_tools.editor, win.plan_panel
    corners = [(13.388, 49.796), (13.404, 49.7945), (13.4105, 49.799), (13.387, 49.803)]
    win.map.fit_all()
    editor.new_plan()
    assert panel.area is None and win.map.layer_items("area") == []
    assert not panel.plan_button.isEnabled()
    editor.start_drawing("area")
    for c in corners:
        qtbot.mouseClick(win.map.viewport(), Qt.LeftButton, pos=_screen(win, *c))
    assert len(win.map.layer_items("draft")) >= 4
    qtbot.mouseDClick(win.map.viewport(), Qt.LeftButton, pos=_screen(win, *corners[-1]))
    assert panel.area is not None and panel.plan_button.isEnabled()
    assert len(editor.state.area.exterior.coords) - 1 >= 4
    assert "edited on the map" in panel.area_label.text()
    hole = [(13.397, 49.7985), (13.400, 49.7985), (13.400, 49.800)]
    editor.start_drawing("hole")
    for c in hole:
        editor.map_clicked(*c)
    editor.finish_drawing()
    assert len(editor.state.area.interiors) == 1
    assert panel.area.geom_lonlat.interiors  # the planner gets the hole too
    # move a corner with the mouse; delete one of the hole's corners (the hole goes)
    win.map_tools.edit_action.setChecked(True)
    h = win.map.handles("area")[0]
    start = win.map.mapFromScene(h.pos())
    _drag(win, qtbot, start, start + QPoint(-30, 0))
    assert editor.state.area.exterior.coords[0][0] < corners[0][0]
    hole_handle = next(h for h in win.map.handles("area") if h.key[1] == 1)
    win.map.handleEvent.emit("delete", "area", hole_handle.key, 0.0, 0.0)
    assert not editor.state.area.interiors
    # undo back through: hole back, corner back, hole gone, area gone
    for _k in range(3):
        win.map_tools.undo_action.trigger()
    assert editor.state.area is not None and not editor.state.area.interiors
    win.map_tools.undo_action.trigger()
    assert editor.state.area is None and panel.area is None
    # an outline cannot lose its third corner: refused with a message, nothing changes
    editor.set_area(__import__("shapely.geometry", fromlist=["Polygon"]).Polygon(corners[:3]))
    messages: list[str] = []
    editor.statusMessage.connect(messages.append)
    win.map.handleEvent.emit("delete", "area", (0, 0, 0), 0.0, 0.0)
    assert messages and "three corners" in messages[-1]
    assert len(editor.state.area.exterior.coords) == 4


def _dem(path: Path, lon: float, lat: float) -> None:
    """A 4 × 4 km DTM rising 60 m from west to east around lon/lat."""
    e, n = lonlat_to_utm([lon], [lat], 32633)
    cols = rows = 200
    xx = np.tile(np.arange(cols, dtype=np.float32), (rows, 1))
    z = 350.0 + 60.0 * xx / cols
    t = from_origin(float(e[0]) - 2000, float(n[0]) + 2000, 20.0, 20.0)
    with rasterio.open(
        path, "w", driver="GTiff", width=cols, height=rows, count=1, dtype="float32",
        crs="EPSG:32633", transform=t,
    ) as ds:  # fmt: skip
        ds.write(z[None])


def test_profile_over_the_dem_and_pilot_screenshots(
    qtbot, planned: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    win = planned
    panel, tools = win.plan_panel, win.map_tools
    c = panel.area.geom_lonlat.centroid
    dem = tmp_path / "dtm.tif"
    _dem(dem, c.x, c.y)
    panel.dem_path = dem
    assert panel.dem_label.text() == "dtm.tif"
    with qtbot.waitSignal(panel.planReady, timeout=120_000):
        panel.plan_button.click()
    tools.profile_dock.show()
    tools.profile_dock.raise_()
    prof = tools.profile.selected_profile()
    assert prof is not None and prof.has_dem
    assert tools.profile.choice.count() >= 2  # a mission per drone (and sortie)
    ground = prof.ground_amsl_m[np.isfinite(prof.ground_amsl_m)]
    assert ground.min() > 349.0 and ground.max() < 411.0  # the DEM's 350..410 m
    assert prof.alt_amsl_m.max() > ground.max()
    # the checks that ran are listed; with a DEM the terrain is among them
    assert "terrain clearance" in panel.validation.checks.text()
    tools.profile.choice.setCurrentIndex(1)
    shot = tools.profile.grab()
    shot.save(str(tmp_path / "profile.png"))
    img = shot.toImage()
    brown = sum(
        1
        for x in range(0, img.width(), 4)
        for y in range(0, img.height(), 4)
        if (q := img.pixelColor(x, y)).red() > 140 and 110 < q.green() < 150 and q.blue() < 140
    )
    assert brown > 50  # the ground is drawn
    tools.edit_action.setChecked(True)
    win.map.fit_all()
    window_shot = win.grab()
    window_shot.save(str(tmp_path / "editing.png"))
    assert not window_shot.isNull()
