"""Colours, pens and marker items shared by the map's layers."""

from __future__ import annotations

from PyQt5.QtCore import QPointF, Qt
from PyQt5.QtGui import QBrush, QColor, QFont, QPen, QPolygonF
from PyQt5.QtWidgets import (
    QAbstractGraphicsShapeItem,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPolygonItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
)

#: distinct colours for drones 1..n (colour-blind friendly, Okabe-Ito order)
DRONE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")

#: geozone fill by restriction (ED-269 names, lower-case)
ZONE_COLOURS = {
    "prohibited": "#d62728",
    "req_authorisation": "#ff7f0e",
    "conditional": "#e8c800",
    "no_restriction": "#2ca02c",
}

#: drawing order of the vector layers (bottom first); basemap and rasters lie below them all
LAYERS = (
    "landcover",
    "zones",
    "area",
    "footprints",
    "paths",
    "homes",
    "tracks",
    "violations",
    "sightings",
    "draft",
    "camera",
    "vehicles",
    "edit",
)


#: a probability search's land cover: (line colour, fill or None, line width px, dashed)
FEATURE_STYLES: dict[str, tuple[str, str | None, float, bool]] = {
    "path": ("#6d4c41", None, 1.5, True),
    "road": ("#616161", None, 2.0, False),
    "stream": ("#1e88e5", None, 1.5, False),
    "forest": ("#2e7d32", "#662e7d32", 0.8, False),
    "water": ("#1565c0", "#801e88e5", 1.0, False),
    "cliff": ("#212121", None, 2.5, False),
}


def drone_colour(index: int) -> QColor:
    return QColor(DRONE_COLOURS[index % len(DRONE_COLOURS)])


def zone_colour(restriction: str) -> QColor:
    return QColor(ZONE_COLOURS.get(restriction.lower(), "#1f77b4"))


def cosmetic(
    colour: QColor, width: float = 1.5, style: Qt.PenStyle = Qt.PenStyle.SolidLine
) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)  # width in screen pixels at every zoom
    return pen


def marker_item(colour: QColor, *, square: bool = False, size: float = 12.0) -> QGraphicsItem:
    """A screen-sized marker (it keeps its pixel size at every zoom)."""
    h = size / 2
    shape: QAbstractGraphicsShapeItem
    if square:
        shape = QGraphicsPolygonItem(
            QPolygonF([QPointF(-h, -h), QPointF(h, -h), QPointF(h, h), QPointF(-h, h)])
        )
    else:
        shape = QGraphicsEllipseItem(-h, -h, size, size)
    shape.setPen(QPen(QColor("black"), 1))
    shape.setBrush(QBrush(colour))
    shape.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
    return shape


#: a recorded sighting: a magenta diamond (no drone, zone or finding colour)
SIGHTING_COLOUR = "#c2185b"


def sighting_item(size: float = 18.0) -> QGraphicsItem:
    """A recorded sighting's marker: a screen-sized diamond with a white centre dot."""
    h = size / 2
    diamond = QGraphicsPolygonItem(
        QPolygonF([QPointF(0, -h), QPointF(h, 0), QPointF(0, h), QPointF(-h, 0)])
    )
    diamond.setPen(QPen(QColor("black"), 1.5))
    diamond.setBrush(QBrush(QColor(SIGHTING_COLOUR)))
    diamond.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
    q = h / 3
    dot = QGraphicsEllipseItem(-q / 2, -q / 2, q, q, diamond)
    dot.setPen(QPen(Qt.PenStyle.NoPen))
    dot.setBrush(QBrush(QColor("white")))
    return diamond


def add_label(parent: QGraphicsItem, text: str, dy: float = -7.0) -> QGraphicsSimpleTextItem:
    """A bold label right of a marker on a pale box (a child: it follows and never scales),
    readable on an orthophoto as on a pale map."""
    label = QGraphicsSimpleTextItem(text)
    label.setFont(QFont("Sans", 8, QFont.Bold))
    r = label.boundingRect().adjusted(-2, -1, 2, 1)
    box = QGraphicsRectItem(r, parent)
    box.setBrush(QBrush(QColor(255, 255, 255, 200)))
    box.setPen(QPen(Qt.PenStyle.NoPen))
    box.setPos(8, dy)
    label.setParentItem(box)
    return label
