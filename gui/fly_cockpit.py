"""The focused vehicle's cockpit: large instruments, the guided go-to, checklist and video.

The main window docks it beside the map; the instrument strip (and the fleet table) choose the
vehicle in focus. Nothing here talks to the link: it shows what the fly panel polled and emits
the pilot's requests.
"""

from __future__ import annotations

from typing import Any

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QPushButton, QTabWidget, QVBoxLayout, QWidget

from dronekit_plzen.i18n import _
from gui.checklist import ChecklistWidget
from gui.instruments import FocusView, Reading
from gui.video import VideoWidget


class Cockpit(QWidget):
    """Focus view, "Guided go-to here…", and the checklist and video of the focused vehicle."""

    gotoRequested = pyqtSignal(int)  # sysid: the next map click is the target

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        self.focus = FocusView()
        lay.addWidget(self.focus)
        self.goto_button = QPushButton(_("Guided go-to here…"))
        self.goto_button.setToolTip(
            _("Then click the confirmed sighting on the map; the guard checks the target first")
        )
        self.goto_button.setEnabled(False)
        self.goto_button.clicked.connect(self._goto_clicked)
        lay.addWidget(self.goto_button)
        self.tabs = QTabWidget()
        self.checklist = ChecklistWidget()
        self.video = VideoWidget()
        self.tabs.addTab(self.checklist, _("Checklist"))
        self.tabs.addTab(self.video, _("Video"))
        lay.addWidget(self.tabs, 1)

    @property
    def sysid(self) -> int | None:
        return self.focus.sysid

    def show_vehicle(self, sysid: int | None, rows: list[Reading], preflight: Any) -> None:
        """The focused vehicle's readings and pre-flight row (None: no vehicle in focus)."""
        self.focus.show_readings(sysid, rows)
        self.goto_button.setEnabled(sysid is not None)
        self.checklist.show_row(preflight)

    def _goto_clicked(self) -> None:
        if self.focus.sysid is not None:
            self.gotoRequested.emit(self.focus.sysid)

    def retranslate(self) -> None:
        self.goto_button.setText(_("Guided go-to here…"))
        self.goto_button.setToolTip(
            _("Then click the confirmed sighting on the map; the guard checks the target first")
        )
        self.tabs.setTabText(0, _("Checklist"))
        self.tabs.setTabText(1, _("Video"))
        self.checklist.retranslate()
        self.video.retranslate()
