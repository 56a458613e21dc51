"""The deployment panel: register an IZS deployment and attribute the flights flown for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.i18n import _, ngettext
from gui import backend
from gui.workers import ThreadRunner


def N_(text: str) -> str:
    """Mark ``text`` for translation; it is translated where it is shown."""
    return text


#: organisation and category codes with their labels (translated where shown)
ORGANISATION_LABELS = {
    "HZS": N_("Fire and Rescue Service (HZS)"),
    "PCR": N_("Police of the Czech Republic (PČR)"),
    "ZZS": N_("Emergency Medical Service (ZZS)"),
    "MP": N_("Municipal police"),
    "KRIZ": N_("Crisis management"),
    "OTHER": N_("Other"),
}
CATEGORY_LABELS = {
    "sar": N_("Search and rescue"),
    "fire": N_("Fire"),
    "flood": N_("Flood"),
    "accident": N_("Accident"),
    "exercise": N_("Exercise"),
    "public_event": N_("Public event"),
    "other": N_("Other category"),
}
STATUS_LABELS = {
    "requested": N_("Requested"),
    "accepted": N_("Accepted"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
}


class DeploymentPanel(QWidget):
    """Create deployments in the telemetry database and link recorded flights to them."""

    statusMessage = pyqtSignal(str)
    deploymentCreated = pyqtSignal(object)
    deploymentSelected = pyqtSignal(int)  # flights recorded from now on are attributed to it

    def __init__(self, db_path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.runner = ThreadRunner(self)
        self.current_id: int | None = None
        self.register_problem: str | None = None
        lay = QVBoxLayout(self)

        box = QGroupBox(_("New deployment"))
        form = QFormLayout(box)
        self.organisation = QComboBox()
        self.category = QComboBox()
        try:
            orgs = backend.organisations()
            cats = backend.categories()
        except backend.BackendMissing as exc:
            orgs, cats = dict(ORGANISATION_LABELS), dict(CATEGORY_LABELS)
            self.register_problem = str(exc)
        for code in orgs:
            self.organisation.addItem(_(ORGANISATION_LABELS.get(code, orgs[code])), code)
        for code in cats:
            self.category.addItem(_(CATEGORY_LABELS.get(code, cats[code])), code)
        form.addRow(_("Organisation"), self.organisation)
        form.addRow(_("Category"), self.category)
        self.location = QLineEdit()
        self.location.setPlaceholderText(_("e.g. Bolevec, forest north of the ponds"))
        form.addRow(_("Location"), self.location)
        self.notes = QPlainTextEdit()
        self.notes.setMaximumHeight(70)
        form.addRow(_("Notes"), self.notes)
        self.db_label = QLabel(str(self.db_path))
        self.db_label.setWordWrap(True)
        form.addRow(_("Database"), self.db_label)
        self.register_button = QPushButton(_("Register deployment"))
        self.register_button.clicked.connect(self.register)
        form.addRow(self.register_button)
        lay.addWidget(box)

        lay.addWidget(QLabel(_("Deployments")))
        self.deployments = QListWidget()
        self.deployments.currentItemChanged.connect(self._select)
        lay.addWidget(self.deployments, 1)

        lay.addWidget(QLabel(_("Recorded flights not yet linked")))
        self.flights = QListWidget()
        lay.addWidget(self.flights, 1)
        row = QHBoxLayout()
        self.refresh_button = QPushButton(_("Refresh"))
        self.refresh_button.clicked.connect(self.refresh)
        self.link_button = QPushButton(_("Link checked flights"))
        self.link_button.clicked.connect(self.link_checked)
        row.addWidget(self.refresh_button)
        row.addWidget(self.link_button)
        lay.addLayout(row)
        QTimer.singleShot(0, self._startup)

    def _startup(self) -> None:
        """After the window has connected our signals: report problems, list what is stored."""
        if self.register_problem:
            self.statusMessage.emit(self.register_problem)
            self.register_button.setEnabled(False)
            return
        self.refresh()

    # ------------------------------------------------------------------ actions
    def register(self) -> None:
        location = self.location.text().strip()
        if not location:
            self.statusMessage.emit(_("A deployment needs a location."))
            return
        org = str(self.organisation.currentData())
        cat = str(self.category.currentData())
        notes = self.notes.toPlainText().strip() or None
        db = self.db_path
        self.runner.run(
            lambda: backend.create_deployment(db, org, cat, location, notes),
            self._created,
            self._failed,
        )

    def _created(self, dep: Any) -> None:
        self.current_id = int(dep.id)
        self.deploymentSelected.emit(self.current_id)
        self.statusMessage.emit(
            _("Deployment {id} registered ({org}, {cat}).").format(
                id=dep.id, org=dep.organisation, cat=dep.category
            )
        )
        self.deploymentCreated.emit(dep)
        self.refresh()

    def refresh(self) -> None:
        db = self.db_path
        self.runner.run(
            lambda: (backend.list_deployments(db), backend.unlinked_flights(db)),
            self._refreshed,
            self._failed,
        )

    def _refreshed(self, result: tuple[list[Any], list[dict[str, Any]]]) -> None:
        deps, flights = result
        self.deployments.blockSignals(True)
        self.deployments.clear()
        for d in deps:
            item = QListWidgetItem(
                f"#{d.id} {d.requested_at[:16]} {d.organisation} {d.category} — {d.location} "
                f"[{_(STATUS_LABELS.get(d.status, d.status))}]"
            )
            item.setData(Qt.ItemDataRole.UserRole, d.id)
            self.deployments.addItem(item)
            if d.id == self.current_id:
                self.deployments.setCurrentItem(item)
        self.deployments.blockSignals(False)
        self.flights.clear()
        for f in flights:
            dur = f.get("duration_s") or 0.0
            item = QListWidgetItem(
                f"#{f['id']} {f.get('vehicle', '?')} {str(f.get('start_utc', ''))[:19]} "
                f"{float(dur) / 60:.1f} min"
            )
            item.setData(Qt.ItemDataRole.UserRole, int(f["id"]))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.flights.addItem(item)

    def _select(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is None:
            return
        self.current_id = int(item.data(Qt.ItemDataRole.UserRole))
        self.deploymentSelected.emit(self.current_id)

    def checked_flight_ids(self) -> list[int]:
        out = []
        for i in range(self.flights.count()):
            item = self.flights.item(i)
            if item is not None and item.checkState() == Qt.CheckState.Checked:
                out.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def link_checked(self) -> None:
        if self.current_id is None:
            self.statusMessage.emit(_("Register or select a deployment first."))
            return
        ids = self.checked_flight_ids()
        if not ids:
            self.statusMessage.emit(_("No flights checked."))
            return
        db, dep_id = self.db_path, self.current_id
        self.runner.run(lambda: backend.link_flights(db, dep_id, ids), self._linked, self._failed)

    def _linked(self, n: int) -> None:
        self.statusMessage.emit(
            ngettext(
                "{n} flight linked to deployment {id}.",
                "{n} flights linked to deployment {id}.",
                n,
            ).format(n=n, id=self.current_id)
        )
        self.refresh()

    def _failed(self, message: str) -> None:
        self.statusMessage.emit(_("Error: {message}").format(message=message))
