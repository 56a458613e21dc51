"""Small helpers: PyQt5's optional return values, a check box whose text wraps, a scroll
area that scrolls up and down only, a combo box as narrow as a few characters."""

from __future__ import annotations

from typing import TypeVar

from PyQt5.QtCore import QSize, Qt
from PyQt5.QtGui import QMouseEvent
from PyQt5.QtWidgets import QCheckBox, QComboBox, QLabel, QScrollArea

T = TypeVar("T")


def must(obj: T | None) -> T:
    """``obj``, asserting Qt returned one (menus, headers, viewports always exist here)."""
    if obj is None:
        raise RuntimeError("Qt returned no object where one always exists")
    return obj


class BoxLabel(QLabel):
    """A check box's text beside it, wrapped (a QCheckBox's own text never wraps: the longest
    crew checklist item held the vehicle-in-focus dock 100 px wider than its 400 px, the
    basemap's "download missing tiles" the layer dock); a click on it ticks the box, as a
    click on a check box's own text does."""

    def __init__(self, box: QCheckBox, text: str = "") -> None:
        super().__init__(text)
        self.box = box
        self.setWordWrap(True)
        self.setBuddy(box)

    def mouseReleaseEvent(self, ev: QMouseEvent | None) -> None:
        if ev is not None and ev.button() == Qt.MouseButton.LeftButton and self.box.isEnabled():
            self.box.toggle()
        super().mouseReleaseEvent(ev)


class UpDownScrollArea(QScrollArea):
    """A scroll area that scrolls up and down only, and is never narrower than its widget
    needs: the planning panel's rows (Czech: 585 px) had been cut off at the right edge of its
    534 px dock at 1366 × 768, the layer switcher's in its dock, with no way to see them."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        inner = self.widget()
        if inner is None:
            return hint
        bar = must(self.verticalScrollBar()).sizeHint().width()
        width = inner.minimumSizeHint().width() + bar + 2 * self.frameWidth()
        return QSize(max(hint.width(), width), hint.height())


class CompactComboBox(QComboBox):
    """A combo box as wide as ``chars`` characters (the rest of a longer choice is elided in
    the box) whose open list shows every choice whole: sized to its longest choice, the fly
    panel's fleet preset had held the panel wider than its dock on a 1366 px field laptop."""

    def __init__(self, chars: int = 18) -> None:
        super().__init__()
        self.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(chars)

    def showPopup(self) -> None:
        view = must(self.view())
        bar = must(view.verticalScrollBar()).sizeHint().width()
        view.setMinimumWidth(max(self.width(), view.sizeHintForColumn(0) + bar + 8))
        super().showPopup()
