"""The map canvas: vector layers in a metric projection on a QGraphicsScene.

No web tiles (the unit flies where there is no internet): the canvas draws the search area with
its holes, the planned path of each drone in its own colour, camera footprints, geozones coloured
by restriction, home/launch points, validation markers, and live vehicles with their heading and
track. Layer data is kept in WGS84 lon/lat and projected once when drawn, so a change of
projection simply redraws everything. Pan with the left mouse button, zoom with the wheel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PyQt5.QtCore import QPoint, QPointF, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import (
    QBrush,
    QColor,
    QFont,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
    QWheelEvent,
)
from PyQt5.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPolygonItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from dronekit_plzen.i18n import _
from gui.models import ZoneView
from gui.projection import PLZEN_LONLAT, MapProjection, format_distance, nice_scale_length_m
from gui.qtutil import must

#: distinct colours for drones 1..n (colour-blind friendly, Okabe-Ito order)
DRONE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")

#: geozone fill by restriction (ED-269 names, lower-case)
ZONE_COLOURS = {
    "prohibited": "#d62728",
    "req_authorisation": "#ff7f0e",
    "conditional": "#e8c800",
    "no_restriction": "#2ca02c",
}

#: drawing order of the layers (bottom first)
LAYERS = (
    "zones",
    "area",
    "footprints",
    "paths",
    "homes",
    "tracks",
    "violations",
    "draft",
    "vehicles",
)


def drone_colour(index: int) -> QColor:
    return QColor(DRONE_COLOURS[index % len(DRONE_COLOURS)])


def zone_colour(restriction: str) -> QColor:
    return QColor(ZONE_COLOURS.get(restriction.lower(), "#1f77b4"))


def _cosmetic(
    colour: QColor, width: float = 1.5, style: Qt.PenStyle = Qt.PenStyle.SolidLine
) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)  # width in screen pixels at every zoom
    return pen


class MapCanvas(QGraphicsView):
    """A pannable, zoomable vector map. Emits :attr:`cursorMoved` (lon, lat) under the mouse."""

    cursorMoved = pyqtSignal(float, float)
    clicked = pyqtSignal(float, float)  # lon, lat of a click (not a drag)

    def __init__(self, parent: QWidget | None = None, projection: MapProjection | None = None):
        super().__init__(parent)
        self.projection = projection or MapProjection()
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.Antialiasing, True)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.BoundingRectViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setBackgroundBrush(QBrush(QColor("#f4f1ea")))
        self.setMouseTracking(True)
        self.setMinimumSize(400, 300)
        self._items: dict[str, list[QGraphicsItem]] = {name: [] for name in LAYERS}
        self._vehicles: dict[Any, tuple[QGraphicsPolygonItem, QGraphicsSimpleTextItem]] = {}
        self._tracks: dict[Any, tuple[QGraphicsPathItem, list[tuple[float, float]]]] = {}
        self._press_pos: QPoint | None = None
        self._hidden: set[str] = set()
        # a generous scene so the user can pan around the data
        x, y = self.projection.point_to_scene(*PLZEN_LONLAT)
        self._scene.setSceneRect(QRectF(x - 50_000, y - 50_000, 100_000, 100_000))
        self.resetTransform()
        self.scale(0.05, 0.05)
        self.centerOn(x, y)

    # ----------------------------------------------------------------- layers
    def layer_items(self, name: str) -> list[QGraphicsItem]:
        """The items currently drawn in layer ``name`` (for tests and tools)."""
        if name == "vehicles":
            return [v[0] for v in self._vehicles.values()]
        if name == "tracks":
            return [t[0] for t in self._tracks.values()]
        return list(self._items[name])

    def set_layer_visible(self, name: str, visible: bool) -> None:
        """Show or hide a layer; items drawn later in it follow the setting."""
        if visible:
            self._hidden.discard(name)
        else:
            self._hidden.add(name)
        for item in self.layer_items(name):
            item.setVisible(visible)

    def layer_visible(self, name: str) -> bool:
        return name not in self._hidden

    def clear_layer(self, name: str) -> None:
        for item in self._items[name]:
            self._scene.removeItem(item)
        self._items[name] = []
        if name == "vehicles":
            for poly, label in self._vehicles.values():
                self._scene.removeItem(poly)
                self._scene.removeItem(label)
            self._vehicles.clear()
        if name == "tracks":
            for path_item, _pts in self._tracks.values():
                self._scene.removeItem(path_item)
            self._tracks.clear()

    def _add(self, layer: str, item: QGraphicsItem) -> QGraphicsItem:
        item.setZValue(LAYERS.index(layer))
        item.setVisible(layer not in self._hidden)
        self._scene.addItem(item)
        self._items[layer].append(item)
        return item

    def _ring_polygon(self, coords: Sequence[Sequence[float]]) -> QPolygonF:
        arr = np.asarray(coords, dtype=np.float64)
        x, y = self.projection.to_scene(arr[:, 0], arr[:, 1])
        return QPolygonF([QPointF(float(a), float(b)) for a, b in zip(x, y)])

    def _geometry_path(self, geom: Any) -> QPainterPath:
        """A QPainterPath of a shapely (Multi)Polygon in lon/lat; holes by odd-even fill."""
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.OddEvenFill)
        polys = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
        for poly in polys:
            if poly.is_empty or poly.geom_type != "Polygon":
                continue
            path.addPolygon(self._ring_polygon(poly.exterior.coords))
            path.closeSubpath()
            for ring in poly.interiors:
                path.addPolygon(self._ring_polygon(ring.coords))
                path.closeSubpath()
        return path

    def _line_path(self, coords: Sequence[Sequence[float]]) -> QPainterPath:
        path = QPainterPath()
        if len(coords) == 0:
            return path
        poly = self._ring_polygon([(c[0], c[1]) for c in coords])
        path.addPolygon(poly)
        return path

    def show_area(self, geom: Any) -> None:
        """Draw the search area (a shapely (Multi)Polygon in lon/lat, holes shown as holes)."""
        self.clear_layer("area")
        item = QGraphicsPathItem(self._geometry_path(geom))
        item.setPen(_cosmetic(QColor("#1b5e20"), 2.0))
        item.setBrush(QBrush(QColor(46, 125, 50, 50)))
        item.setToolTip("area")
        self._add("area", item)

    def show_plan(
        self,
        paths: Sequence[Sequence[Sequence[float]]],
        footprints: Sequence[Any] = (),
        homes: Sequence[Sequence[float]] = (),
    ) -> None:
        """Draw one path per drone (lon/lat vertex lists), camera footprints and launch points."""
        for name in ("paths", "footprints", "homes"):
            self.clear_layer(name)
        for i, coords in enumerate(paths):
            if len(coords) < 2:
                continue
            item = QGraphicsPathItem(self._line_path(coords))
            item.setPen(_cosmetic(drone_colour(i), 2.0))
            item.setToolTip(f"drone {i + 1}")
            self._add("paths", item)
        if len(footprints):
            # one item for all footprints (thousands of photos): vectorised projection
            fp_path = QPainterPath()
            rings = [np.asarray(g.exterior.coords, dtype=np.float64) for g in footprints]
            sizes = [len(r) for r in rings]
            allxy = np.concatenate(rings)
            x, y = self.projection.to_scene(allxy[:, 0], allxy[:, 1])
            start = 0
            for n in sizes:
                fp_path.addPolygon(
                    QPolygonF(
                        [
                            QPointF(float(a), float(b))
                            for a, b in zip(x[start : start + n], y[start : start + n])
                        ]
                    )
                )
                fp_path.closeSubpath()
                start += n
            fp = QGraphicsPathItem(fp_path)
            fp.setPen(_cosmetic(QColor(80, 80, 80, 90), 0.6))
            fp.setToolTip(f"{len(footprints)} photos")
            self._add("footprints", fp)
        for i, home in enumerate(homes):
            self._add_marker("homes", home[0], home[1], drone_colour(i), f"H{i + 1}", square=True)

    def show_zones(self, zones: Sequence[ZoneView]) -> None:
        """Draw geozones, filled by restriction (prohibited red, authorisation orange, …)."""
        self.clear_layer("zones")
        for z in zones:
            colour = zone_colour(z.restriction)
            fill = QColor(colour)
            fill.setAlpha(60)
            item = QGraphicsPathItem(self._geometry_path(z.geometry))
            item.setPen(_cosmetic(colour, 1.5, Qt.PenStyle.DashLine))
            item.setBrush(QBrush(fill))
            item.setToolTip(f"{z.name} ({z.restriction}) {z.limits_text}")
            self._add("zones", item)
            if z.name:
                c = z.geometry.representative_point()
                x, y = self.projection.point_to_scene(c.x, c.y)
                label = QGraphicsSimpleTextItem(z.name, item)  # a child of the zone's shape
                label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
                label.setFont(QFont("Sans", 8))
                label.setBrush(QBrush(colour.darker(150)))
                label.setPos(x, y)

    def show_draft(
        self,
        points: Sequence[tuple[float, float, str]],
        line: Sequence[tuple[float, float]] = (),
    ) -> None:
        """Draw what the pilot is placing: datum/launch markers and a corridor centreline."""
        self.clear_layer("draft")
        if len(line) >= 2:
            item = QGraphicsPathItem(self._line_path(line))
            item.setPen(_cosmetic(QColor("#6a1b9a"), 2.5, Qt.PenStyle.DashDotLine))
            self._add("draft", item)
        for lon, lat, label in points:
            self._add_marker("draft", lon, lat, QColor("#6a1b9a"), label)

    def show_violations(self, points: Sequence[tuple[float, float, str]]) -> None:
        self.clear_layer("violations")
        for lon, lat, text in points:
            self._add_marker("violations", lon, lat, QColor("#c62828"), "!", tooltip=text)

    def _add_marker(
        self,
        layer: str,
        lon: float,
        lat: float,
        colour: QColor,
        label: str,
        *,
        square: bool = False,
        tooltip: str = "",
    ) -> None:
        x, y = self.projection.point_to_scene(lon, lat)
        size = 12.0
        if square:
            marker: QGraphicsItem = QGraphicsPolygonItem(
                QPolygonF(
                    [
                        QPointF(-size / 2, -size / 2),
                        QPointF(size / 2, -size / 2),
                        QPointF(size / 2, size / 2),
                        QPointF(-size / 2, size / 2),
                    ]
                )
            )
        else:
            marker = QGraphicsEllipseItem(-size / 2, -size / 2, size, size)
        marker.setPen(QPen(QColor("black"), 1))  # type: ignore[attr-defined]
        marker.setBrush(QBrush(colour))  # type: ignore[attr-defined]
        marker.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        marker.setPos(x, y)
        marker.setToolTip(tooltip or label)
        self._add(layer, marker)
        text = QGraphicsSimpleTextItem(label, marker)  # a child: follows, never scales
        text.setFont(QFont("Sans", 8, QFont.Bold))
        text.setPos(8, -7)

    # ------------------------------------------------------------- vehicles
    def update_vehicle(
        self, key: Any, lon: float, lat: float, heading_deg: float, label: str
    ) -> None:
        """Move (or create) a vehicle arrow at lon/lat pointing along ``heading_deg``."""
        x, y = self.projection.point_to_scene(lon, lat)
        entry = self._vehicles.get(key)
        if entry is None:
            # vehicle n (system id) gets drone n's colour: the plan's drone i flies on the i-th
            index = key - 1 if isinstance(key, int) and key > 0 else len(self._vehicles)
            colour = drone_colour(index)
            arrow = QGraphicsPolygonItem(
                QPolygonF([QPointF(0, -11), QPointF(7, 8), QPointF(0, 4), QPointF(-7, 8)])
            )
            arrow.setBrush(QBrush(colour))
            arrow.setPen(QPen(QColor("black"), 1))
            arrow.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            arrow.setZValue(LAYERS.index("vehicles"))
            text = QGraphicsSimpleTextItem(label)
            text.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            text.setFont(QFont("Sans", 9, QFont.Bold))
            text.setZValue(LAYERS.index("vehicles"))
            self._scene.addItem(arrow)
            self._scene.addItem(text)
            entry = (arrow, text)
            self._vehicles[key] = entry
        arrow, text = entry
        arrow.setPos(x, y)
        arrow.setRotation(float(heading_deg))  # y points down: clockwise from north
        arrow.setToolTip(label)
        text.setText(label)
        text.setPos(x, y)
        self._add_track_point(key, lon, lat, arrow.brush().color())

    def vehicle_position(self, key: Any) -> tuple[float, float] | None:
        """Lon/lat where vehicle ``key`` is drawn, or ``None``."""
        entry = self._vehicles.get(key)
        if entry is None:
            return None
        pos = entry[0].pos()
        return self.projection.point_to_lonlat(pos.x(), pos.y())

    def track_length(self, key: Any) -> int:
        entry = self._tracks.get(key)
        return 0 if entry is None else len(entry[1])

    def _add_track_point(self, key: Any, lon: float, lat: float, colour: QColor) -> None:
        entry = self._tracks.get(key)
        if entry is None:
            item = QGraphicsPathItem()
            pen_colour = QColor(colour)
            pen_colour.setAlpha(200)
            item.setPen(_cosmetic(pen_colour, 1.5, Qt.PenStyle.DotLine))
            item.setZValue(LAYERS.index("tracks"))
            item.setVisible("tracks" not in self._hidden)
            self._scene.addItem(item)
            entry = (item, [])
            self._tracks[key] = entry
        item, pts = entry
        if pts and pts[-1] == (lon, lat):
            return
        pts.append((lon, lat))
        x, y = self.projection.point_to_scene(lon, lat)
        path = item.path()
        if path.elementCount() == 0:
            path.moveTo(x, y)
        else:
            path.lineTo(x, y)
        item.setPath(path)

    # ------------------------------------------------------------- navigation
    def center_on_lonlat(self, lon: float, lat: float) -> None:
        x, y = self.projection.point_to_scene(lon, lat)
        self.centerOn(x, y)

    def focus_on(self, lon: float, lat: float, max_mpp: float = 1.0) -> None:
        """Centre on lon/lat, zooming in to at least ``max_mpp`` metres per pixel."""
        mpp = self.metres_per_pixel()
        if mpp > max_mpp:
            self.scale(mpp / max_mpp, mpp / max_mpp)
        self.center_on_lonlat(lon, lat)
        must(self.viewport()).update()

    def view_center_lonlat(self) -> tuple[float, float]:
        c = self.mapToScene(must(self.viewport()).rect().center())
        return self.projection.point_to_lonlat(c.x(), c.y())

    def fit_all(self, margin: float = 0.08) -> None:
        """Zoom to everything drawn (area, plan, zones, vehicles)."""
        rect = QRectF()
        names = ["area", "paths", "footprints", "violations", "homes", "draft"]
        if not any(self._items[n] for n in names):
            names.append("zones")  # the zones alone: show them; otherwise they are context
        for name in names:
            for item in self._items[name]:
                if not item.flags() & QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations:
                    rect = rect.united(item.sceneBoundingRect())
                else:
                    rect = rect.united(QRectF(item.pos(), item.pos()).adjusted(-1, -1, 1, 1))
        for arrow, _t in self._vehicles.values():
            rect = rect.united(QRectF(arrow.pos(), arrow.pos()).adjusted(-50, -50, 50, 50))
        if rect.isEmpty():
            return
        dx, dy = rect.width() * margin, rect.height() * margin
        rect = rect.adjusted(-dx, -dy, dx, dy)
        self._scene.setSceneRect(
            self._scene.sceneRect().united(rect.adjusted(-2e4, -2e4, 2e4, 2e4))
        )
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)

    def metres_per_pixel(self) -> float:
        return 1.0 / max(abs(self.transform().m11()), 1e-12)

    def zoom_by(self, factor: float) -> None:
        mpp = self.metres_per_pixel() / factor
        if 0.01 <= mpp <= 2000.0:  # from a few cm to 2 km per pixel
            self.scale(factor, factor)
            must(self.viewport()).update()

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        if event is None:
            return
        steps = event.angleDelta().y() / 120.0
        self.zoom_by(1.25**steps)

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        super().mousePressEvent(event)
        if event is not None and event.button() == Qt.MouseButton.LeftButton:
            self._press_pos = event.pos()

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        super().mouseReleaseEvent(event)
        if event is None or self._press_pos is None:
            return
        moved = (event.pos() - self._press_pos).manhattanLength()
        self._press_pos = None
        if event.button() == Qt.MouseButton.LeftButton and moved <= 4:
            p = self.mapToScene(event.pos())
            lon, lat = self.projection.point_to_lonlat(p.x(), p.y())
            self.clicked.emit(lon, lat)

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:
        super().mouseMoveEvent(event)
        if event is None:
            return
        p = self.mapToScene(event.pos())
        lon, lat = self.projection.point_to_lonlat(p.x(), p.y())
        self.cursorMoved.emit(lon, lat)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        must(self.viewport()).update()  # keep the scale bar clean while panning

    # ------------------------------------------------------------- scale bar
    def drawForeground(self, painter: QPainter | None, rect: QRectF) -> None:
        if painter is None:
            return
        length_m = nice_scale_length_m(self.metres_per_pixel())
        if length_m <= 0:
            return
        px = length_m / self.metres_per_pixel()
        painter.save()
        painter.resetTransform()
        h = must(self.viewport()).height()
        x0, y0 = 16.0, h - 20.0
        painter.setRenderHint(QPainter.Antialiasing, False)
        painter.fillRect(QRectF(x0 - 6, y0 - 22, px + 60, 30), QColor(255, 255, 255, 200))
        pen = QPen(QColor("black"), 2)
        painter.setPen(pen)
        painter.drawLine(QPointF(x0, y0), QPointF(x0 + px, y0))
        painter.drawLine(QPointF(x0, y0 - 6), QPointF(x0, y0))
        painter.drawLine(QPointF(x0 + px, y0 - 6), QPointF(x0 + px, y0))
        painter.setFont(QFont("Sans", 9))
        painter.drawText(QPointF(x0, y0 - 8), format_distance(length_m))
        painter.drawText(QPointF(x0 + px + 6, y0 + 4), "N↑")
        if self._items["zones"] and self.layer_visible("zones"):
            self._draw_zone_legend(painter)
        painter.restore()

    def _draw_zone_legend(self, painter: QPainter) -> None:
        """Top-right key of the zone colours (the painter is in viewport pixels)."""
        rows = [
            ("prohibited", _("prohibited")),
            ("req_authorisation", _("authorisation required")),
            ("conditional", _("conditional")),
        ]
        width = 190.0
        x0 = must(self.viewport()).width() - width - 10.0
        painter.fillRect(QRectF(x0, 8, width, 18 * len(rows) + 8), QColor(255, 255, 255, 210))
        painter.setFont(QFont("Sans", 8))
        for i, (key, label) in enumerate(rows):
            y = 14.0 + 18 * i
            colour = zone_colour(key)
            fill = QColor(colour)
            fill.setAlpha(110)
            painter.fillRect(QRectF(x0 + 6, y, 14, 12), fill)
            painter.setPen(QPen(colour, 1))
            painter.drawRect(QRectF(x0 + 6, y, 14, 12))
            painter.setPen(QPen(QColor("black"), 1))
            painter.drawText(QPointF(x0 + 26, y + 10), label)
