"""The map canvas and its projection, on real widgets offscreen."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PyQt5.QtCore import QEvent, QPoint, QPointF, Qt
from PyQt5.QtGui import QColor, QImage, QMouseEvent, QPainter
from PyQt5.QtWidgets import QApplication
from shapely.geometry import Polygon

from dronekit_plzen.geo import lonlat_to_sjtsk, transform
from gui.mainwindow import cursor_text
from gui.mapcanvas import MapCanvas, drone_colour
from gui.models import ZoneView
from gui.projection import MapProjection, format_distance, nice_scale_length_m

OUTER = [
    (13.388, 49.796),
    (13.404, 49.7945),
    (13.4105, 49.799),
    (13.409, 49.8045),
    (13.387, 49.803),
]
HOLE = [(13.3975, 49.8), (13.4005, 49.7998), (13.401, 49.8012), (13.3985, 49.8018)]


def test_projection_is_web_mercator_everywhere() -> None:
    proj = MapProjection()
    lon = np.array([13.3776, 13.40, 12.9, 149.13, -70.0])
    lat = np.array([49.7475, 49.80, 49.5, -35.28, 60.0])
    x, y = proj.to_scene(lon, lat)
    e, n = transform(lon, lat, 4326, 3857)  # pyproj's EPSG:3857, the tiles' grid
    assert np.allclose(x, e, atol=1e-3) and np.allclose(y, -n, atol=1e-3)  # north up, y down
    lon2, lat2 = proj.to_lonlat(x, y)
    assert np.allclose(lon2, lon, atol=1e-9) and np.allclose(lat2, lat, atol=1e-9)
    # one projection for Plzeň, Ostrava (UTM 34) and Canberra: nothing is drawn rotated
    assert {
        MapProjection.for_lonlat(*p).epsg for p in [(13.4, 49.7), (18.3, 49.8), (149.1, -35.3)]
    } == {3857}
    assert proj.ground_scale(60.0) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("mpp", "expected"), [(1.0, 100.0), (0.1, 10.0), (3.0, 200.0), (10.0, 1000.0), (0.004, 0.2)]
)
def test_scale_bar_length_is_a_round_number_that_fits(mpp: float, expected: float) -> None:
    length = nice_scale_length_m(mpp, target_px=120)
    assert length == pytest.approx(expected)
    assert length / mpp <= 120


def test_format_distance() -> None:
    assert format_distance(850) == "850 m"
    assert format_distance(2000) == "2 km"
    assert format_distance(1500) == "1.5 km"
    assert format_distance(0.5) == "50 cm"


def test_cursor_text_shows_wgs84_and_sjtsk() -> None:
    text = cursor_text(13.3776, 49.7475)
    e, n = lonlat_to_sjtsk([13.3776], [49.7475])
    assert "49.747500° N" in text and "13.377600° E" in text
    assert f"S-JTSK {e[0]:.1f}, {n[0]:.1f}" in text
    assert -830_000 < e[0] < -820_000 and -1_075_000 < n[0] < -1_065_000  # Plzeň in Krovak


def _render(canvas: MapCanvas) -> QImage:
    img = QImage(canvas.viewport().size(), QImage.Format_ARGB32)
    img.fill(QColor("white"))
    painter = QPainter(img)
    canvas.viewport().render(painter)
    painter.end()
    return img


def test_area_with_hole_is_drawn_as_a_hole(qtbot) -> None:  # type: ignore[no-untyped-def]
    canvas = MapCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(800, 600)
    canvas.show()
    area = Polygon(OUTER, [HOLE])
    canvas.show_area(area)
    canvas.fit_all()
    items = canvas.layer_items("area")
    assert len(items) == 1
    path = items[0].path()
    proj = canvas.projection
    # a point of the pond (hole) is outside the filled path; a point of the field is inside
    hx, hy = proj.point_to_scene(13.399, 49.8008)
    fx, fy = proj.point_to_scene(13.392, 49.7985)
    assert not path.contains(QPointF(hx, hy))
    assert path.contains(QPointF(fx, fy))
    # the scene extent matches the projected polygon to the metre
    e, n = transform([p[0] for p in OUTER], [p[1] for p in OUTER], 4326, 3857)
    rect = items[0].sceneBoundingRect()
    assert rect.left() == pytest.approx(e.min(), abs=1.0)
    assert rect.right() == pytest.approx(e.max(), abs=1.0)
    assert rect.top() == pytest.approx(-n.max(), abs=1.0)
    # rendered: the hole's centre shows the background, the field shows the area's green fill
    img = _render(canvas)
    hole_px = canvas.mapFromScene(QPointF(hx, hy))
    field_px = canvas.mapFromScene(QPointF(fx, fy))
    background = canvas.backgroundBrush().color()
    assert QColor(img.pixel(hole_px)).name() == background.name()
    assert QColor(img.pixel(field_px)).name() != background.name()


def test_plan_zones_vehicles_and_tracks(qtbot) -> None:  # type: ignore[no-untyped-def]
    canvas = MapCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(800, 600)
    paths = [
        [(13.39, 49.797), (13.40, 49.797), (13.40, 49.798)],
        [(13.39, 49.80), (13.405, 49.80)],
    ]
    fp = Polygon([(13.39, 49.797), (13.391, 49.797), (13.391, 49.7975), (13.39, 49.7975)])
    canvas.show_plan(paths, [fp], [(13.389, 49.796), (13.389, 49.801)])
    assert len(canvas.layer_items("paths")) == 2
    colours = {it.pen().color().name() for it in canvas.layer_items("paths")}
    assert colours == {drone_colour(0).name(), drone_colour(1).name()}
    assert len(canvas.layer_items("footprints")) == 1
    assert len(canvas.layer_items("homes")) == 2
    zones = [
        ZoneView("LKLN", "prohibited", Polygon([(13.27, 49.67), (13.30, 49.67), (13.30, 49.69)])),
        ZoneView(
            "park", "req_authorisation", Polygon([(13.38, 49.74), (13.39, 49.74), (13.39, 49.75)])
        ),
    ]
    canvas.show_zones(zones)
    zone_fill = [it.brush().color().name() for it in canvas.layer_items("zones")]
    assert zone_fill == ["#d62728", "#ff7f0e"]  # prohibited red, authorisation orange
    canvas.update_vehicle(1, 13.395, 49.799, 90.0, "1 AUTO.MISSION")
    canvas.update_vehicle(1, 13.396, 49.799, 95.0, "1 AUTO.MISSION")
    arrow = canvas.layer_items("vehicles")[0]
    assert arrow.rotation() == 95.0
    lon, lat = canvas.vehicle_position(1)  # type: ignore[misc]
    assert lon == pytest.approx(13.396, abs=1e-7) and lat == pytest.approx(49.799, abs=1e-7)
    assert canvas.track_length(1) == 2
    canvas.clear_layer("vehicles")
    assert canvas.layer_items("vehicles") == []


def test_zoom_pan_and_cursor_signal(qtbot) -> None:  # type: ignore[no-untyped-def]
    canvas = MapCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(800, 600)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.center_on_lonlat(13.3776, 49.7475)
    lon, lat = canvas.view_center_lonlat()
    assert lon == pytest.approx(13.3776, abs=1e-3) and lat == pytest.approx(49.7475, abs=1e-3)
    before = canvas.metres_per_pixel()
    canvas.zoom_by(2.0)
    assert canvas.metres_per_pixel() == pytest.approx(before / 2.0)
    with qtbot.waitSignal(canvas.cursorMoved) as blocker:
        qtbot.mouseMove(canvas.viewport(), QPoint(400, 300))
        qtbot.mouseMove(canvas.viewport(), QPoint(420, 310))
    mlon, mlat = blocker.args
    assert 13.3 < mlon < 13.45 and 49.7 < mlat < 49.8
    # drag with the left button pans the map west→east: the centre moves west
    c0 = canvas.view_center_lonlat()
    qtbot.mousePress(canvas.viewport(), Qt.LeftButton, pos=QPoint(400, 300))
    for x in (420, 460, 500):  # QTest's mouseMove carries no buttons: send real drag events
        drag = QMouseEvent(
            QEvent.MouseMove, QPointF(x, 300), Qt.NoButton, Qt.LeftButton, Qt.NoModifier
        )
        QApplication.sendEvent(canvas.viewport(), drag)
    qtbot.mouseRelease(canvas.viewport(), Qt.LeftButton, pos=QPoint(500, 300))
    c1 = canvas.view_center_lonlat()
    assert c1[0] < c0[0]


def test_layers_can_be_hidden(qtbot) -> None:  # type: ignore[no-untyped-def]
    canvas = MapCanvas()
    qtbot.addWidget(canvas)
    fp = Polygon([(13.39, 49.797), (13.391, 49.797), (13.391, 49.7975), (13.39, 49.7975)])
    canvas.set_layer_visible("footprints", False)
    canvas.show_plan([[(13.39, 49.797), (13.40, 49.797)]], [fp])
    assert not canvas.layer_items("footprints")[0].isVisible()
    assert canvas.layer_items("paths")[0].isVisible()
    canvas.set_layer_visible("footprints", True)
    assert canvas.layer_items("footprints")[0].isVisible()
    canvas.set_layer_visible("tracks", False)
    canvas.update_vehicle(3, 13.39, 49.79, 0.0, "3")
    assert not canvas.layer_items("tracks")[0].isVisible()
    assert canvas.layer_items("vehicles")[0].isVisible()


def _shown_name_boxes(canvas: MapCanvas) -> dict[str, tuple[float, float, float, float]]:
    """The zone names drawn on screen now, as viewport boxes (left, top, right, bottom)."""
    from PyQt5.QtWidgets import QGraphicsSimpleTextItem

    out = {}
    for zone in canvas.layer_items("zones"):
        for child in zone.childItems():
            if isinstance(child, QGraphicsSimpleTextItem) and child.isVisible():
                at = canvas.mapFromScene(child.scenePos())
                r = child.boundingRect()
                # the name is centred on its point (its own transform, in pixels)
                left, top = at.x() - r.width() / 2, at.y() - r.height() / 2
                out[child.text()] = (left, top, left + r.width(), top + r.height())
    return out


def _zoom_to(canvas: MapCanvas, mpp: float) -> None:
    canvas.zoom_by(canvas.metres_per_pixel() / mpp)
    assert canvas.metres_per_pixel() == pytest.approx(mpp, rel=0.01)  # anchored under the mouse


def test_zone_names_show_where_they_fit_and_never_overlap(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Seen on the national geozones: at a country's zoom every name was drawn, hundreds piled
    into a smear over the map. A name now shows only when its zone is drawn as a shape (at least
    the name's height on screen), and never over a name already shown (the larger zone keeps its
    name)."""
    canvas = MapCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(800, 600)
    canvas.show()
    qtbot.waitExposed(canvas)
    d = 0.004  # 445 m north-south; the zones are 1.5 d (430 m) east-west at Plzeň
    zones = [
        ZoneView(
            f"Z{i}{j}",
            "prohibited",
            Polygon(
                [
                    (13.30 + 0.014 * i, 49.70 + 0.009 * j),
                    (13.30 + 0.014 * i + d * 1.5, 49.70 + 0.009 * j),
                    (13.30 + 0.014 * i + d * 1.5, 49.70 + 0.009 * j + d),
                    (13.30 + 0.014 * i, 49.70 + 0.009 * j + d),
                ]
            ),
        )
        for i in range(8)
        for j in range(8)
    ]
    big = Polygon([(13.25, 49.65), (13.45, 49.65), (13.45, 49.80), (13.25, 49.80)])
    twin = Polygon([(13.26, 49.66), (13.44, 49.66), (13.44, 49.79), (13.26, 49.79)])  # smaller
    zones += [ZoneView("CTR PLZEN", "req_authorisation", big), ZoneView("TWIN", "prohibited", twin)]
    canvas.show_zones(zones)
    canvas.center_on_lonlat(13.35, 49.73)

    _zoom_to(canvas, 4000.0)  # the whole country on screen: every zone a dot, no name
    assert _shown_name_boxes(canvas) == {}

    _zoom_to(canvas, 40.0)  # the CTR fits; the small zones (11 px) and the CTR's twin do not
    assert set(_shown_name_boxes(canvas)) == {"CTR PLZEN"}

    _zoom_to(canvas, 4.0)  # 110 px small zones: every one named, no two names overlap
    boxes = _shown_name_boxes(canvas)
    assert {f"Z{i}{j}" for i in range(8) for j in range(8)} <= set(boxes)
    assert "TWIN" not in boxes or "CTR PLZEN" not in boxes
    rects = list(boxes.values())
    for a in range(len(rects)):
        for b in range(a + 1, len(rects)):
            ra, rb = rects[a], rects[b]
            apart = ra[2] <= rb[0] or rb[2] <= ra[0] or ra[3] <= rb[1] or rb[3] <= ra[1]
            assert apart, (list(boxes)[a], list(boxes)[b])
    # a pan keeps the names; each name's zone is under it
    canvas.center_on_lonlat(13.36, 49.72)
    assert set(_shown_name_boxes(canvas)) == set(boxes)
    for z in canvas.layer_items("zones"):
        for child in z.childItems():
            if child.isVisible():
                assert z.contains(child.pos())
