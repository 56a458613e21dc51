"""The fleet table: one row per vehicle (mode, armed, battery, GPS, link, mission, sortie,
ready to arm, signing)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from dronekit_plzen.i18n import _
from gui.fly_sorties import LOW_BATTERY_PCT, SortieProgress, gps_text
from gui.models import VehicleView
from gui.qtutil import must

RED = "#c62828"
BATTERY_COL, LINK_COL, READY_COL, SIGNING_COL = 3, 5, 8, 9


#: the vehicles the fleet table shows without scrolling, at least
VISIBLE_ROWS = 4


class FleetTable(QTableWidget):
    """The vehicles on the link; the first column carries the system id (UserRole)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, 10, parent)
        self.setHorizontalHeaderLabels(
            [
                _("Vehicle"),
                _("Mode"),
                _("Armed"),
                _("Battery"),
                _("GPS"),
                _("Link"),
                _("Mission"),
                _("Sortie"),
                _("Ready"),
                _("Signed"),
            ]
        )
        must(self.verticalHeader()).setVisible(False)
        must(self.horizontalHeader()).setSectionResizeMode(QHeaderView.ResizeToContents)
        self.setSelectionBehavior(QTableWidget.SelectRows)
        self.setSelectionMode(QTableWidget.SingleSelection)
        self.setEditTriggers(QTableWidget.NoEditTriggers)

    def _fit_rows(self, n: int) -> None:
        """Never shorter than its first ``VISIBLE_ROWS`` vehicles (and the sideways scroll
        bar): in the scrolled fly panel a table of two vehicles had shown one."""
        rows = min(max(n, 1), VISIBLE_ROWS)
        row_h = must(self.verticalHeader()).defaultSectionSize()
        head = must(self.horizontalHeader()).sizeHint().height()
        bar = must(self.horizontalScrollBar()).sizeHint().height()
        self.setMinimumHeight(head + rows * row_h + bar + 2 * self.frameWidth())

    def selected_sysid(self) -> int | None:
        model = self.selectionModel()
        rows = model.selectedRows() if model is not None else []
        if rows:
            item = self.item(rows[0].row(), 0)
            if item is not None:
                return int(item.data(Qt.ItemDataRole.UserRole))
        return None

    def fill(
        self,
        views: list[VehicleView],
        progress: Mapping[int, SortieProgress],
        link_ok: Callable[[VehicleView], bool],
        link_text: Callable[[VehicleView], str],
    ) -> None:
        """Show ``views`` (sorted by system id), keeping the selected vehicle selected."""
        selected = self.selected_sysid()
        if len(views) != self.rowCount():
            self._fit_rows(len(views))
        self.setRowCount(len(views))
        for row, v in enumerate(sorted(views, key=lambda v: v.sysid)):
            prog = progress.get(v.sysid)
            count = v.mission_count if v.mission_count is not None else "?"
            cells = [
                str(v.sysid),
                v.mode,
                _("yes") if v.armed else _("no"),
                "—" if v.battery_pct is None else f"{v.battery_pct:.0f} %",
                gps_text(v),
                link_text(v),
                "—" if v.mission_seq is None else f"{v.mission_seq + 1}/{count}",  # item no. from 1
                prog.label() if prog is not None else "—",
                _ready(v),
                _signing(v),
            ]
            low = v.battery_pct is not None and v.battery_pct < LOW_BATTERY_PCT
            red = {
                BATTERY_COL: low,
                LINK_COL: not link_ok(v),
                READY_COL: v.ready_to_arm is False and not v.armed,
            }
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if red.get(col):
                    item.setForeground(QColor(RED))
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, v.sysid)
                if col == READY_COL and v.prearm_text and not v.ready_to_arm:
                    item.setToolTip(v.prearm_text)
                self.setItem(row, col, item)
            if v.sysid == selected:
                self.selectRow(row)


def _ready(v: VehicleView) -> str:
    if v.armed:
        return "—"  # not a question any more (see the Armed column)
    return {True: _("yes"), False: _("no"), None: "—"}[v.ready_to_arm]


def _signing(v: VehicleView) -> str:
    return {True: _("yes"), False: _("no"), None: "—"}[v.signed]
