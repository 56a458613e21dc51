"""Parts of :class:`gui.mapcanvas.MapCanvas`: live vehicles, raster overlays, editing handles.

Mixins sharing the canvas' scene, projection and layer bookkeeping (declared below for the type
checker); the canvas composes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PyQt5.QtCore import QPointF, Qt
from PyQt5.QtGui import QBrush, QColor, QFont, QImage, QPixmap, QPolygonF
from PyQt5.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsPolygonItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
)

from gui.map.handles import Handle
from gui.map.items import LAYERS, add_label, cosmetic, drone_colour
from gui.map.raster import RasterImage, render_geotiff
from gui.projection import MapProjection

#: z value of raster overlays (above the basemap's −100 + z, below the vector layers)
RASTER_Z = -50.0


class _CanvasParts:
    projection: MapProjection
    _scene: QGraphicsScene
    _hidden: set[str]
    handleEvent: Any
    rastersChanged: Any

    def _ring_polygon(self, coords: Any) -> QPolygonF:
        raise NotImplementedError


class VehiclesMixin(_CanvasParts):
    """Live vehicles: an arrow with a label, the flown track and the camera footprint."""

    _vehicles: dict[Any, tuple[QGraphicsPolygonItem, QGraphicsSimpleTextItem]]
    _tracks: dict[Any, tuple[QGraphicsPathItem, list[tuple[float, float]]]]
    _camera: dict[Any, QGraphicsPolygonItem]

    def update_vehicle(
        self, key: Any, lon: float, lat: float, heading_deg: float, label: str
    ) -> None:
        """Move (or create) a vehicle arrow at lon/lat pointing along ``heading_deg``."""
        x, y = self.projection.point_to_scene(lon, lat)
        entry = self._vehicles.get(key)
        if entry is None:
            # vehicle n (system id) gets drone n's colour: the plan's drone i flies on the i-th
            index = key - 1 if isinstance(key, int) and key > 0 else len(self._vehicles)
            arrow = QGraphicsPolygonItem(
                QPolygonF([QPointF(0, -11), QPointF(7, 8), QPointF(0, 4), QPointF(-7, 8)])
            )
            arrow.setBrush(QBrush(drone_colour(index)))
            arrow.setPen(cosmetic(QColor("black"), 1))
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

    def set_vehicle_footprint(self, vehicle_id: Any, polygon_lonlat: Any) -> None:
        """Draw (or move) vehicle ``vehicle_id``'s camera footprint: a lon/lat ring (a list of
        (lon, lat) or a shapely Polygon); ``None`` or an empty ring removes it."""
        coords = getattr(getattr(polygon_lonlat, "exterior", None), "coords", polygon_lonlat)
        item = self._camera.get(vehicle_id)
        if coords is None or len(coords) < 3:
            if item is not None:
                self._scene.removeItem(self._camera.pop(vehicle_id))
            return
        poly = self._ring_polygon([(c[0], c[1]) for c in coords])
        if item is None:
            index = vehicle_id - 1 if isinstance(vehicle_id, int) and vehicle_id > 0 else 0
            colour = drone_colour(index)
            fill = QColor(colour)
            fill.setAlpha(55)
            item = QGraphicsPolygonItem()
            item.setPen(cosmetic(colour, 1.5))
            item.setBrush(QBrush(fill))
            item.setZValue(LAYERS.index("camera"))
            item.setVisible("camera" not in self._hidden)
            item.setToolTip(f"{vehicle_id}: camera footprint")
            self._scene.addItem(item)
            self._camera[vehicle_id] = item
        item.setPolygon(poly)

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
            item.setPen(cosmetic(pen_colour, 1.5, Qt.PenStyle.DotLine))
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


class RastersMixin(_CanvasParts):
    """Local GeoTIFFs drawn above the basemap, below the vector layers."""

    rasters: dict[str, tuple[QGraphicsPixmapItem, RasterImage]]

    def add_raster(self, path: Path, kind: str = "auto", opacity: float = 0.8) -> str:
        """Show a local GeoTIFF (orthophoto, DTM hillshade or POA heat map); its layer name."""
        return self.add_raster_image(render_geotiff(Path(path), kind), opacity)

    def add_raster_image(self, image: RasterImage, opacity: float = 0.8) -> str:
        name = Path(image.path).name
        self.remove_raster(name)
        rows, cols = image.rgba.shape[:2]
        qimg = QImage(image.rgba.tobytes(), cols, rows, 4 * cols, QImage.Format_RGBA8888).copy()
        item = QGraphicsPixmapItem(QPixmap.fromImage(qimg))
        west, south, east, north = image.bounds
        item.setTransform(item.transform().fromScale((east - west) / cols, (north - south) / rows))
        item.setPos(west, -north)
        item.setZValue(
            RASTER_Z + len(self.rasters) + (20.0 if image.kind == "heat" else 0.0)
        )  # heat maps above reliefs
        item.setOpacity(opacity)
        item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        item.setToolTip(f"{name} ({image.kind})")
        self._scene.addItem(item)
        self.rasters[name] = (item, image)
        self.rastersChanged.emit()
        return name

    def remove_raster(self, name: str) -> None:
        entry = self.rasters.pop(name, None)
        if entry is not None:
            self._scene.removeItem(entry[0])
            self.rastersChanged.emit()

    def set_raster_visible(self, name: str, visible: bool) -> None:
        if name in self.rasters:
            self.rasters[name][0].setVisible(visible)

    def raster_bounds_lonlat(self, name: str) -> tuple[float, float, float, float]:
        w, s, e, n = self.rasters[name][1].bounds
        lo, la = self.projection.to_lonlat([w, e], [-s, -n])
        return float(lo[0]), float(la[0]), float(lo[1]), float(la[1])


class HandlesMixin(_CanvasParts):
    """Draggable editing handles; their events come out as the canvas' ``handleEvent``."""

    _handles: dict[str, list[Handle]]

    def show_handles(
        self,
        group: str,
        handles: Sequence[tuple[Any, float, float, QColor]],
        *,
        square: bool = False,
    ) -> None:
        """Draggable handles ``(key, lon, lat, colour)``; their events come as handleEvent."""
        self.clear_handles(group)
        made: list[Handle] = []
        for key, lon, lat, colour in handles:
            h = Handle(
                group, key, colour, self._handle_event, square=square, size=12 if square else 9
            )
            x, y = self.projection.point_to_scene(lon, lat)
            h.setPos(x, y)
            h.setZValue(LAYERS.index("edit") + (0.5 if square else 0.0))
            if square:  # launch points: labels of points close together are stacked, not piled
                near = len([o for o in made if abs(o.x() - x) < 30 and abs(o.y() - y) < 30])
                text = str(key) if isinstance(key, str) else f"H{int(key) + 1}"
                add_label(h, text, dy=-7.0 + 12.0 * near)
            self._scene.addItem(h)
            made.append(h)
        self._handles[group] = made

    def clear_handles(self, group: str) -> None:
        for h in self._handles.pop(group, []):
            self._scene.removeItem(h)

    def handles(self, group: str) -> list[Handle]:
        return list(self._handles.get(group, []))

    def _handle_event(self, event: str, group: str, key: Any, pos: QPointF) -> None:
        lon, lat = self.projection.point_to_lonlat(pos.x(), pos.y())
        self.handleEvent.emit(event, group, key, lon, lat)
