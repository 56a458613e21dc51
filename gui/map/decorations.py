"""What the map paints over itself in screen pixels: the scale bar, the zone key, attribution."""

from __future__ import annotations

from PyQt5.QtCore import QPointF, QRectF
from PyQt5.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen

from dronekit_plzen.i18n import _
from gui.map.items import zone_colour
from gui.projection import format_distance, nice_scale_length_m


def draw_scale_bar(painter: QPainter, metres_per_pixel: float, height: int) -> None:
    """Bottom-left scale bar of a round length (ground metres) and the north arrow."""
    length_m = nice_scale_length_m(metres_per_pixel)
    if length_m <= 0:
        return
    px = length_m / metres_per_pixel
    x0, y0 = 16.0, height - 20.0
    painter.setRenderHint(QPainter.Antialiasing, False)
    painter.fillRect(QRectF(x0 - 6, y0 - 22, px + 60, 30), QColor(255, 255, 255, 200))
    painter.setPen(QPen(QColor("black"), 2))
    painter.drawLine(QPointF(x0, y0), QPointF(x0 + px, y0))
    painter.drawLine(QPointF(x0, y0 - 6), QPointF(x0, y0))
    painter.drawLine(QPointF(x0 + px, y0 - 6), QPointF(x0 + px, y0))
    painter.setFont(QFont("Sans", 9))
    painter.drawText(QPointF(x0, y0 - 8), format_distance(length_m))
    painter.drawText(QPointF(x0 + px + 6, y0 + 4), "N↑")


def draw_zone_legend(painter: QPainter, width: int) -> None:
    """Top-right key of the zone colours."""
    rows = [
        ("prohibited", _("prohibited")),
        ("req_authorisation", _("authorisation required")),
        ("conditional", _("conditional")),
    ]
    box_w = 190.0
    x0 = width - box_w - 10.0
    painter.fillRect(QRectF(x0, 8, box_w, 18 * len(rows) + 8), QColor(255, 255, 255, 210))
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


def draw_attribution(painter: QPainter, text: str, width: int, height: int) -> None:
    """Bottom-right credit of the basemap (the tile providers' terms ask for it)."""
    if not text:
        return
    font = QFont("Sans", 7)
    painter.setFont(font)
    w = QFontMetrics(font).horizontalAdvance(text) + 8
    painter.fillRect(QRectF(width - w, height - 15, w, 15), QColor(255, 255, 255, 190))
    painter.setPen(QPen(QColor("#333333"), 1))
    painter.drawText(QPointF(width - w + 4, height - 4), text)
