"""The map canvas: basemap tiles, raster overlays and vector layers on a QGraphicsScene.

The scene is in Web Mercator metres (:mod:`gui.projection`), the tiles' own grid, so a plan is
drawn true wherever it lies. Bottom to top: the basemap (:mod:`gui.map.basemap_layer`, from the
tile cache, offline packs or, when online, the tile servers), local GeoTIFFs (orthophoto, DTM
hillshade, POA heat map), geozones coloured by restriction, the search area with its holes,
each drone's path in its own colour, camera footprints, launch points, validation markers, the
deployment's recorded sightings, live vehicles with their camera footprint (a click on a vehicle
emits :attr:`vehicleClicked`), and the editing handles. Layer data is kept in WGS84 lon/lat and
projected once when drawn. Pan with the left button, zoom with the wheel.
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
    QPolygonF,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PyQt5.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsPolygonItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from dronekit_plzen.basemap.grid import ORIGIN_M
from dronekit_plzen.i18n import _
from gui.map.basemap_layer import BasemapLayer, BasemapSettings
from gui.map.canvas_parts import HandlesMixin, RastersMixin, VehiclesMixin
from gui.map.decorations import draw_attribution, draw_scale_bar, draw_zone_legend
from gui.map.handles import Handle
from gui.map.items import (
    DRONE_COLOURS,
    FEATURE_STYLES,
    LAYERS,
    ZONE_COLOURS,
    add_label,
    cosmetic,
    drone_colour,
    marker_item,
    sighting_item,
    zone_colour,
)
from gui.map.raster import RasterImage
from gui.models import ZoneView
from gui.projection import PLZEN_LONLAT, MapProjection
from gui.qtutil import must

__all__ = ["DRONE_COLOURS", "LAYERS", "ZONE_COLOURS", "MapCanvas", "drone_colour", "zone_colour"]

#: ground metres per pixel the zoom keeps within (a few cm to a country)
MIN_MPP, MAX_MPP = 0.02, 5000.0


class MapCanvas(VehiclesMixin, RastersMixin, HandlesMixin, QGraphicsView):
    """A pannable, zoomable map. Emits :attr:`cursorMoved` (lon, lat) under the mouse."""

    cursorMoved = pyqtSignal(float, float)
    clicked = pyqtSignal(float, float)  # lon, lat of a click (not a drag)
    mapClicked = pyqtSignal(float, float)  # the same, WGS84 lon/lat (for "go to here")
    doubleClicked = pyqtSignal(float, float)
    #: a handle was dragged ("moved"), right-clicked ("delete") or double-clicked ("double")
    handleEvent = pyqtSignal(str, str, object, float, float)
    rastersChanged = pyqtSignal()
    vehicleClicked = pyqtSignal(object)  # the key (system id) of a vehicle icon clicked

    def __init__(
        self,
        parent: QWidget | None = None,
        projection: MapProjection | None = None,
        basemap: BasemapSettings | None = None,
    ):
        super().__init__(parent)
        self.projection = projection or MapProjection()
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.Antialiasing, True)
        self.setRenderHint(QPainter.SmoothPixmapTransform, True)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.BoundingRectViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setBackgroundBrush(QBrush(QColor("#f4f1ea")))
        self.setMouseTracking(True)
        # 360 px: beside the planning panel (Czech) and the vehicle in focus the window still
        # fits a 1366 px field laptop's screen (400 px had made it 1369 px at least)
        self.setMinimumSize(360, 300)
        self._items: dict[str, list[QGraphicsItem]] = {name: [] for name in LAYERS}
        self._vehicles: dict[Any, tuple[QGraphicsPolygonItem, QGraphicsSimpleTextItem]] = {}
        self._tracks: dict[Any, tuple[QGraphicsPathItem, list[tuple[float, float]]]] = {}
        self._camera: dict[Any, QGraphicsPolygonItem] = {}
        self._handles: dict[str, list[Handle]] = {}
        self.rasters: dict[str, tuple[QGraphicsPixmapItem, RasterImage]] = {}
        self._press_pos: QPoint | None = None
        self._hidden: set[str] = set()
        self._zone_labels: list[QGraphicsSimpleTextItem] = []
        # the whole Web Mercator world: the pilot can pan anywhere
        self._scene.setSceneRect(QRectF(-ORIGIN_M, -ORIGIN_M, 2 * ORIGIN_M, 2 * ORIGIN_M))
        self.basemap = BasemapLayer(self, basemap or BasemapSettings.from_env())
        x, y = self.projection.point_to_scene(*PLZEN_LONLAT)
        self.resetTransform()
        self.scale(0.08, 0.08)
        self.centerOn(x, y)

    # ----------------------------------------------------------------- layers
    def layer_items(self, name: str) -> list[QGraphicsItem]:
        """The items currently drawn in layer ``name`` (for tests and tools)."""
        if name == "vehicles":
            return [v[0] for v in self._vehicles.values()]
        if name == "tracks":
            return [t[0] for t in self._tracks.values()]
        if name == "camera":
            return list(self._camera.values())
        if name == "edit":
            return [h for group in self._handles.values() for h in group]
        return list(self._items[name])

    def set_layer_visible(self, name: str, visible: bool) -> None:
        """Show or hide a layer; items drawn later in it follow the setting."""
        if name == "basemap":
            self.basemap.set_visible(visible)
            return
        if visible:
            self._hidden.discard(name)
        else:
            self._hidden.add(name)
        for item in self.layer_items(name):
            item.setVisible(visible)

    def layer_visible(self, name: str) -> bool:
        if name == "basemap":
            return self.basemap.visible
        return name not in self._hidden

    def set_layer_opacity(self, name: str, opacity: float) -> None:
        """Opacity 0..1 of a layer: ``basemap``, a raster's name or a vector layer."""
        if name == "basemap":
            self.basemap.set_opacity(opacity)
        elif name in self.rasters:
            self.rasters[name][0].setOpacity(opacity)
        else:
            for item in self.layer_items(name):
                item.setOpacity(opacity)

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
        if name == "camera":
            for item in self._camera.values():
                self._scene.removeItem(item)
            self._camera.clear()
        if name == "edit":
            for group in list(self._handles):
                self.clear_handles(group)

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
        path.addPolygon(self._ring_polygon([(c[0], c[1]) for c in coords]))
        return path

    def show_area(self, geom: Any) -> None:
        """Draw the search area (a shapely (Multi)Polygon in lon/lat, holes shown as holes)."""
        self.clear_layer("area")
        if geom is None or geom.is_empty:
            return
        item = QGraphicsPathItem(self._geometry_path(geom))
        item.setPen(cosmetic(QColor("#1b5e20"), 2.0))
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
            item.setPen(cosmetic(drone_colour(i), 2.0))
            item.setToolTip(f"drone {i + 1}")
            self._add("paths", item)
        if len(footprints):
            # one item for all footprints (thousands of photos): vectorised projection
            fp_path = QPainterPath()
            rings = [np.asarray(g.exterior.coords, dtype=np.float64) for g in footprints]
            allxy = np.concatenate(rings)
            x, y = self.projection.to_scene(allxy[:, 0], allxy[:, 1])
            start = 0
            for ring in rings:
                n = len(ring)
                fp_path.addPolygon(
                    QPolygonF(
                        [QPointF(a, b) for a, b in zip(x[start : start + n], y[start : start + n])]
                    )
                )
                fp_path.closeSubpath()
                start += n
            fp = QGraphicsPathItem(fp_path)
            fp.setPen(cosmetic(QColor(80, 80, 80, 90), 0.6))
            fp.setToolTip(f"{len(footprints)} photos")
            self._add("footprints", fp)
        self.show_homes(homes)

    def show_homes(self, homes: Sequence[Sequence[float]]) -> None:
        """Launch points H1..Hn in their drones' colours; labels of close points never stack."""
        self.clear_layer("homes")
        placed: list[tuple[float, float]] = []
        for i, home in enumerate(homes):
            x, y = self.projection.point_to_scene(home[0], home[1])
            near = sum(1 for px, py in placed if abs(px - x) < 30 and abs(py - y) < 30)
            placed.append((x, y))
            marker = marker_item(drone_colour(i), square=True)
            marker.setPos(x, y)
            marker.setToolTip(f"H{i + 1}")
            self._add("homes", marker)
            add_label(marker, f"H{i + 1}", dy=-7.0 + 12.0 * near)

    def show_features(self, features: Sequence[tuple[str, Any]], labels: dict[str, str]) -> None:
        """Draw a probability search's land cover ((kind, shapely geometry in lon/lat) each):
        one item per kind, polygons filled (woodland green, water blue), lines in the kind's
        colour (paths dashed); ``labels`` names the kinds in the tooltips."""
        self.clear_layer("landcover")
        by_kind: dict[str, QPainterPath] = {}
        for kind, geom in features:
            path = by_kind.setdefault(kind, QPainterPath())
            path.setFillRule(Qt.FillRule.OddEvenFill)
            parts = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
            for part in parts:
                if part.is_empty:
                    continue
                if part.geom_type == "Polygon":
                    path.addPath(self._geometry_path(part))
                elif part.geom_type in ("LineString", "LinearRing"):
                    path.addPath(self._line_path(list(part.coords)))
                elif part.geom_type == "Point":
                    x, y = self.projection.point_to_scene(part.x, part.y)
                    path.addEllipse(QPointF(x, y), 1.0, 1.0)
        for kind, path in by_kind.items():
            line, fill, width, dashed = FEATURE_STYLES.get(kind, ("#9e9e9e", None, 1.0, False))
            item = QGraphicsPathItem(path)
            style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
            item.setPen(cosmetic(QColor(line), width, style))
            if fill is not None:
                item.setBrush(QBrush(QColor(fill)))
            item.setToolTip(labels.get(kind, kind))
            item.setData(0, kind)
            self._add("landcover", item)

    def show_zones(self, zones: Sequence[ZoneView]) -> None:
        """Draw geozones, filled by restriction (prohibited red, authorisation orange, …), each
        named where its name fits (:meth:`_place_zone_labels`)."""
        self.clear_layer("zones")
        self._zone_labels = []
        for z in zones:
            colour = zone_colour(z.restriction)
            fill = QColor(colour)
            fill.setAlpha(60)
            item = QGraphicsPathItem(self._geometry_path(z.geometry))
            item.setPen(cosmetic(colour, 1.5, Qt.PenStyle.DashLine))
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
                box = label.boundingRect()  # centred on the point, in pixels at every zoom
                label.setTransform(QTransform.fromTranslate(-box.width() / 2, -box.height() / 2))
                self._zone_labels.append(label)
        self._place_zone_labels()

    def _place_zone_labels(self) -> None:
        """Name a zone only where its name can be read at the current zoom: the zone drawn as a
        shape, not a dot (its on-screen box at least the name's height both ways), and the name
        clear of the names already shown, the largest zones first (as GIS labelling avoids
        collisions). At a country's zoom the national geozones' names had piled up into an
        unreadable smear; a zone's tooltip still names it. A pan changes neither test, so only
        a zoom calls this."""
        if not self._zone_labels:
            return
        per_px = abs(self.transform().m11())  # pixels per scene unit
        cell = 128.0  # px: the buckets of the shown names' boxes
        shown: dict[tuple[int, int], list[QRectF]] = {}

        def zone_area(label: QGraphicsSimpleTextItem) -> float:
            r = must(label.parentItem()).boundingRect()
            return -(r.width() * r.height())

        for label in sorted(self._zone_labels, key=zone_area):
            box = label.boundingRect()  # pixels: the name ignores the view's scale
            zone = must(label.parentItem()).boundingRect()
            visible = False
            if min(zone.width(), zone.height()) * per_px >= box.height():
                at = label.scenePos() * per_px  # pixels, up to the view's shift (kept by a pan)
                w, h = box.width(), box.height()
                rect = QRectF(at.x() - w / 2, at.y() - h / 2, w, h)
                keys = [
                    (i, j)
                    for i in range(int(rect.left() // cell), int(rect.right() // cell) + 1)
                    for j in range(int(rect.top() // cell), int(rect.bottom() // cell) + 1)
                ]
                if not any(rect.intersects(o) for k in keys for o in shown.get(k, ())):
                    visible = True
                    for k in keys:
                        shown.setdefault(k, []).append(rect)
            label.setVisible(visible)

    def show_draft(
        self,
        points: Sequence[tuple[float, float, str]],
        line: Sequence[tuple[float, float]] = (),
    ) -> None:
        """Draw what the pilot is placing: datum/launch markers, a centreline or a new ring."""
        self.clear_layer("draft")
        if len(line) >= 2:
            item = QGraphicsPathItem(self._line_path(line))
            item.setPen(cosmetic(QColor("#6a1b9a"), 2.5, Qt.PenStyle.DashDotLine))
            self._add("draft", item)
        for lon, lat, label in points:
            self._add_marker("draft", lon, lat, QColor("#6a1b9a"), label)

    def show_violations(self, points: Sequence[tuple[float, float, str]]) -> None:
        self.clear_layer("violations")
        for lon, lat, text in points:
            self._add_marker("violations", lon, lat, QColor("#c62828"), "!", tooltip=text)

    def show_sightings(self, rows: Sequence[dict[str, Any]]) -> None:
        """Draw recorded sightings (``lat_deg``, ``lon_deg``, optional ``note``, ``at``,
        ``vehicle_sysid``, as the deployment database lists them) as labelled diamonds."""
        self.clear_layer("sightings")
        for r in rows:
            marker = sighting_item()
            marker.setPos(*self.projection.point_to_scene(float(r["lon_deg"]), float(r["lat_deg"])))
            when = str(r.get("at") or "")[11:16]
            tip = [_("sighting")]
            if when:
                tip.append(when + " UTC")
            if r.get("vehicle_sysid") is not None:
                tip.append(_("seen from vehicle {sysid}").format(sysid=r["vehicle_sysid"]))
            if r.get("note"):
                tip.append(str(r["note"]))
            marker.setToolTip(", ".join(tip))
            self._add("sightings", marker)
            add_label(marker, _("sighting"), dy=-9.0)

    def vehicle_at(self, pos: QPoint) -> Any:
        """The key of the vehicle whose icon (or else label) is under viewport ``pos``, or None."""
        hit = set(self.items(pos))
        for part in (0, 1):  # an arrow wins over another vehicle's label lying on it
            for key, entry in self._vehicles.items():
                if entry[part] in hit and entry[part].isVisible():
                    return key
        return None

    def _add_marker(
        self, layer: str, lon: float, lat: float, colour: QColor, label: str, *, tooltip: str = ""
    ) -> None:
        marker = marker_item(colour)
        marker.setPos(*self.projection.point_to_scene(lon, lat))
        marker.setToolTip(tooltip or label)
        self._add(layer, marker)
        add_label(marker, label)

    # ------------------------------------------------------------- navigation
    def center_on_lonlat(self, lon: float, lat: float) -> None:
        self.centerOn(*self.projection.point_to_scene(lon, lat))
        self.basemap.schedule()

    def focus_on(self, lon: float, lat: float, max_mpp: float = 1.0) -> None:
        """Centre on lon/lat, zooming in to at least ``max_mpp`` ground metres per pixel."""
        self.center_on_lonlat(lon, lat)
        mpp = self.metres_per_pixel()
        if mpp > max_mpp:
            self.scale(mpp / max_mpp, mpp / max_mpp)
            self._place_zone_labels()
        self.center_on_lonlat(lon, lat)
        must(self.viewport()).update()

    def has_vehicle(self, key: Any) -> bool:
        """Whether vehicle ``key`` is drawn."""
        return key in self._vehicles

    def shows_lonlat(self, lon: float, lat: float) -> bool:
        """Whether lon/lat lies within the part of the map in view."""
        seen = self.mapToScene(must(self.viewport()).rect()).boundingRect()
        return seen.contains(QPointF(*self.projection.point_to_scene(lon, lat)))

    def view_center_lonlat(self) -> tuple[float, float]:
        c = self.mapToScene(must(self.viewport()).rect().center())
        return self.projection.point_to_lonlat(c.x(), c.y())

    def fit_all(self, margin: float = 0.08) -> None:
        """Zoom to everything drawn (area, plan, zones, vehicles)."""
        rect = QRectF()
        names = ["area", "paths", "footprints", "violations", "sightings", "homes", "draft"]
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
        rect = rect.adjusted(-dx - 20, -dy - 20, dx + 20, dy + 20)  # a point gets 20 m around it
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        mpp = self.metres_per_pixel()
        if mpp < MIN_MPP:
            self.scale(mpp / MIN_MPP, mpp / MIN_MPP)
        self._place_zone_labels()
        self.basemap.schedule()

    def scene_units_per_pixel(self) -> float:
        return 1.0 / max(abs(self.transform().m11()), 1e-12)

    def metres_per_pixel(self) -> float:
        """Ground metres per screen pixel at the centre of the view."""
        _lon, lat = self.view_center_lonlat()
        return self.scene_units_per_pixel() * self.projection.ground_scale(lat)

    def zoom_by(self, factor: float) -> None:
        """Zoom in (factor > 1) or out, within a few cm to 5 km per pixel; from outside that
        range (a view fitted to something huge) any step towards it is allowed."""
        mpp = self.metres_per_pixel()
        new = mpp / factor
        inside = MIN_MPP <= new <= MAX_MPP
        towards = (mpp > MAX_MPP and factor > 1) or (mpp < MIN_MPP and factor < 1)
        if inside or towards:
            self.scale(factor, factor)
            self._place_zone_labels()
            self.basemap.schedule()
            must(self.viewport()).update()

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        if event is None:
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25**steps)

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        super().mousePressEvent(event)
        if event is not None and event.button() == Qt.MouseButton.LeftButton:
            on_handle = isinstance(self.itemAt(event.pos()), Handle)
            self._press_pos = None if on_handle else event.pos()

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        super().mouseReleaseEvent(event)
        if event is None or self._press_pos is None:
            return
        moved = (event.pos() - self._press_pos).manhattanLength()
        self._press_pos = None
        if event.button() == Qt.MouseButton.LeftButton and moved <= 4:
            vehicle = self.vehicle_at(event.pos())
            if vehicle is not None:  # first: a pending map pick still gets the click below
                self.vehicleClicked.emit(vehicle)
            p = self.mapToScene(event.pos())
            lon, lat = self.projection.point_to_lonlat(p.x(), p.y())
            self.clicked.emit(lon, lat)
            self.mapClicked.emit(lon, lat)
        self.basemap.schedule()

    def mouseDoubleClickEvent(self, event: QMouseEvent | None) -> None:
        if event is not None and isinstance(self.itemAt(event.pos()), Handle):
            super().mouseDoubleClickEvent(event)
            return
        if event is not None and event.button() == Qt.MouseButton.LeftButton:
            p = self.mapToScene(event.pos())
            self.doubleClicked.emit(*self.projection.point_to_lonlat(p.x(), p.y()))

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:
        super().mouseMoveEvent(event)
        if event is None:
            return
        p = self.mapToScene(event.pos())
        lon, lat = self.projection.point_to_lonlat(p.x(), p.y())
        self.cursorMoved.emit(lon, lat)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.basemap.schedule()
        must(self.viewport()).update()  # keep the scale bar clean while panning

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self.basemap.schedule()

    # ------------------------------------------------------------- decorations
    def drawForeground(self, painter: QPainter | None, rect: QRectF) -> None:
        if painter is None:
            return
        painter.save()
        painter.resetTransform()
        vp = must(self.viewport())
        draw_scale_bar(painter, self.metres_per_pixel(), vp.height())
        if self._items["zones"] and self.layer_visible("zones"):
            draw_zone_legend(painter, vp.width())
        if self.basemap.visible:
            draw_attribution(painter, self.basemap.attribution, vp.width(), vp.height())
        painter.restore()
