"""Draggable handles for editing: area vertices, waypoints and launch points.

A handle is a screen-sized marker the pilot drags with the left button; the canvas reports a
finished drag, a right click (delete) and a double click through one callback, so nothing here
knows what the handle stands for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt5.QtCore import QPointF, Qt
from PyQt5.QtGui import QBrush, QColor, QPen
from PyQt5.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

#: (event, group, key, scene position): event is "moved", "delete" or "double"
HandleCallback = Callable[[str, str, Any, QPointF], None]


class Handle(QGraphicsEllipseItem):
    """A round (or square, for launch points) handle drawn at a fixed pixel size."""

    def __init__(
        self,
        group: str,
        key: Any,
        colour: QColor,
        callback: HandleCallback,
        *,
        size: float = 10.0,
        square: bool = False,
    ):
        h = size / 2
        super().__init__(-h, -h, size, size)
        self.handle_group = group
        self.key = key
        self.square = square
        self._callback = callback
        self._press: QPointF | None = None
        self.setBrush(QBrush(colour))
        self.setPen(QPen(QColor("white" if not square else "black"), 1.5))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setCursor(Qt.CursorShape.SizeAllCursor)
        buttons = Qt.MouseButtons(Qt.MouseButton.LeftButton)
        buttons |= Qt.MouseButton.RightButton
        self.setAcceptedMouseButtons(buttons)

    def paint(
        self,
        painter: Any,
        option: QStyleOptionGraphicsItem | None,
        widget: QWidget | None = None,
    ) -> None:
        if not self.square:
            super().paint(painter, option, widget)
            return
        painter.setPen(self.pen())
        painter.setBrush(self.brush())
        painter.drawRect(self.rect())

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent | None) -> None:
        if event is None:
            return
        event.accept()
        if event.button() == Qt.MouseButton.RightButton:
            self._callback("delete", self.handle_group, self.key, self.pos())
            return
        self._press = self.pos()
        scene = self.scene()
        if scene is not None and not (event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            scene.clearSelection()
        self.setSelected(True)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent | None) -> None:
        # the handle follows the mouse exactly (Qt's own move of an item that ignores the
        # view's transformation goes astray at map scales)
        if event is not None and self._press is not None:
            self.setPos(event.scenePos())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent | None) -> None:
        if self._press is not None and self.pos() != self._press:
            self._callback("moved", self.handle_group, self.key, self.pos())
        self._press = None

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent | None) -> None:
        if event is not None:
            event.accept()
        self._callback("double", self.handle_group, self.key, self.pos())
