"""The fly panel's confirmations: the pre-flight summary before a fleet start, and quitting.

Both are ordinary modal dialogs built from plain rows (:class:`PreflightRow`), so a test drives
the real widgets: it finds the active modal dialog and presses its buttons.
"""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.i18n import _, ngettext
from gui.fly_sorties import COLUMNS, PreflightRow
from gui.qtutil import must

RED = "#c62828"


class PreflightDialog(QDialog):
    """ "Arm and start all": what each vehicle is about to do, confirmed explicitly."""

    def __init__(
        self,
        rows: list[PreflightRow],
        parent: QWidget | None = None,
        crew_open: dict[int, list[str]] | None = None,
        delays_s: dict[int, float] | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("preflightDialog")
        #: per vehicle, the crew's checklist items not ticked (the cockpit's checklist tab)
        self.crew_open = {k: v for k, v in (crew_open or {}).items() if v}
        self.setWindowTitle(_("Arm and start all — pre-flight check"))
        self.rows = rows
        lay = QVBoxLayout(self)
        n = len(rows)
        head = QLabel(
            ngettext(
                "Arm and start the mission on {n} vehicle? Check each line.",
                "Arm and start the missions on {n} vehicles? Check each line.",
                n,
            ).format(n=n)
        )
        head.setWordWrap(True)
        lay.addWidget(head)
        self.table = QTableWidget(n, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(
            [
                _("Vehicle"),
                _("Validation"),
                _("Sortie"),
                _("GPS"),
                _("Battery"),
                _("Link"),
                _("Geofence"),
                _("Ready to arm"),
            ]
        )
        must(self.table.verticalHeader()).setVisible(False)
        header = must(self.table.horizontalHeader())
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setSelectionMode(QTableWidget.NoSelection)
        self._fill(rows)
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        rows_h = sum(self.table.rowHeight(r) for r in range(n))
        self.table.setMaximumHeight(rows_h + must(self.table.horizontalHeader()).height() + 6)
        lay.addWidget(self.table)
        warn_n = sum(1 for r in rows if r.problems)
        self.warning = QLabel(
            ngettext(
                "{n} vehicle is not ready (red): it will probably refuse to arm.",
                "{n} vehicles are not ready (red): they will probably refuse to arm.",
                warn_n,
            ).format(n=warn_n)
            if warn_n
            else _("All vehicles look ready.")
        )
        self.warning.setWordWrap(True)
        if warn_n:
            self.warning.setStyleSheet(f"color: {RED}; font-weight: bold")
        lay.addWidget(self.warning)
        #: the plan's staggered start (a probability search's drones share the launch point)
        later = {k: v for k, v in sorted((delays_s or {}).items()) if v > 0}
        self.stagger_label = QLabel(
            _("Staggered as planned: {starts}.").format(
                starts=", ".join(
                    _("[{sysid}] {t:g} s after the start").format(sysid=k, t=v)
                    for k, v in later.items()
                )
            )
            if later
            else ""
        )
        self.stagger_label.setWordWrap(True)
        if later:
            lay.addWidget(self.stagger_label)
        #: with crew items open, the start needs an explicit tick (the log records it)
        self.crew_label = QLabel(self._crew_text())
        self.crew_label.setWordWrap(True)
        self.crew_box = QCheckBox(_("Start anyway: the crew checklist is not complete (logged)"))
        if self.crew_open:
            self.crew_label.setStyleSheet(f"color: {RED}; font-weight: bold")
            lay.addWidget(self.crew_label)
            lay.addWidget(self.crew_box)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.start_button = must(self.buttons.button(QDialogButtonBox.Ok))
        self.start_button.setText(_("Arm and start"))
        self.start_button.setAutoDefault(False)
        self.start_button.setDefault(False)
        if self.crew_open:
            self.start_button.setEnabled(False)
            self.crew_box.toggled.connect(self.start_button.setEnabled)
        self.cancel_button = must(self.buttons.button(QDialogButtonBox.Cancel))
        self.cancel_button.setText(_("Cancel"))
        self.cancel_button.setDefault(True)  # Enter never launches a fleet by accident
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        width = sum(self.table.columnWidth(c) for c in range(len(COLUMNS))) + 60
        self.resize(max(560, min(width, 1100)), self.sizeHint().height())

    def _crew_text(self) -> str:
        lines = [
            _("[{sysid}] crew checklist open: {items}").format(sysid=k, items="; ".join(v))
            for k, v in sorted(self.crew_open.items())
        ]
        return "\n".join(lines)

    @property
    def crew_override(self) -> bool:
        """Started although crew items were open (ticked by the pilot)."""
        return bool(self.crew_open) and self.crew_box.isChecked()

    def _fill(self, rows: list[PreflightRow]) -> None:
        for r, row in enumerate(rows):
            for c, name in enumerate(COLUMNS):
                item = QTableWidgetItem(str(getattr(row, name)))
                if name in row.problems:
                    item.setForeground(QColor(RED))
                self.table.setItem(r, c, item)

    def update_rows(self, rows: list[PreflightRow]) -> None:
        """Live values while the dialog is open (ready to arm, PreArm messages, GPS…)."""
        by_id = {row.sysid: row for row in rows}
        self.rows = [by_id.get(row.sysid, row) for row in self.rows]
        self._fill(self.rows)
        ready_col = COLUMNS.index("ready")
        self.table.resizeColumnToContents(ready_col)

    def show_prearm(self, sysid: int, text: str) -> None:
        """The firmware's latest PreArm message for ``sysid`` (while arming waits)."""
        ready_col = COLUMNS.index("ready")
        for r, row in enumerate(self.rows):
            if row.sysid == sysid:
                item = QTableWidgetItem(_("no: {why}").format(why=text))
                item.setForeground(QColor(RED))
                self.table.setItem(r, ready_col, item)


class QuitDialog(QMessageBox):
    """Quitting (or disconnecting) with vehicles in the air: return them (the default), leave
    them, or stay."""

    RTL, LEAVE, CANCEL = "rtl", "leave", "cancel"

    def __init__(
        self, sysids: list[int], parent: QWidget | None = None, *, disconnect: bool = False
    ):
        super().__init__(parent)
        self.setObjectName("quitDialog")
        self.setIcon(QMessageBox.Warning)
        self.setWindowTitle(_("Vehicles are airborne"))
        names = ", ".join(str(s) for s in sysids)
        n = len(sysids)
        if disconnect:
            text = ngettext(
                "Vehicle {names} is airborne. Return it to launch before disconnecting?",
                "Vehicles {names} are airborne. Return them to launch before disconnecting?",
                n,
            )
            rtl, leave = _("RTL all and disconnect"), _("Disconnect, leave them flying")
        else:
            text = ngettext(
                "Vehicle {names} is airborne. Return it to launch before quitting?",
                "Vehicles {names} are airborne. Return them to launch before quitting?",
                n,
            )
            rtl, leave = _("RTL all and quit"), _("Quit, leave them flying")
        self.setText(text.format(names=names))
        self.setInformativeText(
            _("Going without RTL leaves them flying with no ground station watching.")
        )
        self.rtl_button = self.addButton(rtl, QMessageBox.AcceptRole)
        self.leave_button = self.addButton(leave, QMessageBox.DestructiveRole)
        self.cancel_button = self.addButton(_("Cancel"), QMessageBox.RejectRole)
        self.setDefaultButton(self.rtl_button)
        self.setEscapeButton(self.cancel_button)

    def choice(self) -> str:
        clicked: QAbstractButton | None = self.clickedButton()
        if clicked is self.rtl_button:
            return self.RTL
        if clicked is self.leave_button:
            return self.LEAVE
        return self.CANCEL
